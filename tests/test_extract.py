"""Clip features for localization: each model's pooled backbone features equal MMAction2's
FeatureHead (fixture from its own code, the model fixtures' weights), the untrimmed clip
sampling equals its UntrimmedSampleFrames, and extraction from a video file (API and
``actionkit-data extract-features``) equals a hand-built reference, resumably."""

from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit.models as models
from actionkit.apis import init_recognizer
from actionkit.cli import data as data_cli
from actionkit.data import synthetic
from actionkit.data.decode import VideoReader
from actionkit.data.localization import read_features
from actionkit.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from actionkit.errors import DataError, UsageError
from actionkit.extract import extract_clip_features, untrimmed_clips

from . import engine_helpers
from .parity_weights import make_input
from .test_models import PARITY, mmaction_checkpoint

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "features.pt"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


@pytest.mark.parametrize("name", ["tsn_r18", "tsm_r18", "i3d_r50", "slowfast_r50", "c3d", "x3d_s"])
def test_features_equal_mmaction2_feature_head(name, fixture, tmp_path):
    case = fixture["models"][name]
    ckpt = mmaction_checkpoint({**case, "mmaction": fixture["mmaction"]}, tmp_path / "mm.pth")
    arch, kwargs = PARITY[name]
    model = models.create(arch, num_classes=7, checkpoint=ckpt, **kwargs).eval()
    got = model.features(make_input(case["input_shape"]))
    expected = case["features"]
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert float(expected.std()) > 1e-3  # features that differ, not a constant


def test_untrimmed_clips_equal_mmaction2(fixture):
    for case in fixture["untrimmed"]:
        total, clip_len, stride, interval = case["args"]
        got = untrimmed_clips(total, clip_len, stride, interval)
        assert got.shape[1] == clip_len
        np.testing.assert_array_equal(got.reshape(-1), case["frame_inds"].numpy())
    # shorter than half a stride: one clip around the middle (MMAction2 fails)
    np.testing.assert_array_equal(untrimmed_clips(5, 4, 16), [[0, 1, 2, 3]])
    with pytest.raises(UsageError, match="stride must be at least 1"):
        untrimmed_clips(10, 4, 0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny 2D recognizer (its config's test pipeline: FormatShape alone) and a video."""
    root = tmp_path_factory.mktemp("extract")
    data = engine_helpers.make_small_dataset(root / "data")
    config = engine_helpers.small_config(root, data)
    torch.manual_seed(0)
    state = models.create("tiny_nobn", num_classes=3).state_dict()
    torch.save(state, root / "tiny.pth")
    video = root / "long.mp4"
    frames = np.concatenate([synthetic.render_clip(c, 20, (32, 32), seed=c) for c in range(3)])
    from actionkit.data.encode import write_video

    write_video(video, frames, fps=30)
    return root, config, video


def _reference(model, video, clip_len, stride):
    with VideoReader(video) as reader:
        frames = reader.get_frames(np.arange(len(reader))).float()
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    x = ((frames - mean) / std).permute(0, 3, 1, 2)
    rows = []
    with torch.no_grad():
        for idx in untrimmed_clips(len(frames), clip_len, stride):
            rows.append(model.backbone(x[idx]).mean((2, 3)).mean(0))
    return torch.stack(rows).numpy()


def test_extract_clip_features_equal_a_reference(tiny):
    root, config, video = tiny
    model = init_recognizer(config, root / "tiny.pth")
    got = extract_clip_features(model, video, clip_len=4, stride=8, batch_size=3)
    assert got.shape == (len(untrimmed_clips(60, 4, 8)), 8) == (7, 8)  # centres 4, 12, ..., 52
    np.testing.assert_allclose(got, _reference(model, video, 4, 8), rtol=1e-5, atol=1e-6)


def test_extract_features_cli_writes_resumes_and_checks(tiny, tmp_path, capsys):
    root, config, video = tiny
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{video} 3\n\n")
    args = [str(listing), "--checkpoint", str(root / "tiny.pth"), "--config", str(config),
            "--out", str(tmp_path / "feats"), "--clip-len", "4", "--stride", "8"]  # fmt: skip
    assert data_cli.main(["extract-features", *args]) == 0
    written = tmp_path / "feats" / "long.csv"
    model = init_recognizer(config, root / "tiny.pth")
    np.testing.assert_allclose(
        read_features(written), _reference(model, video, 4, 8), rtol=1e-5, atol=1e-5
    )
    assert "wrote 1 feature files" in capsys.readouterr().out
    before = written.stat().st_mtime_ns
    assert data_cli.main(["extract-features", *args]) == 0  # resumes: nothing to do
    assert written.stat().st_mtime_ns == before
    out = capsys.readouterr().out
    assert "wrote 0 feature files" in out and "(1 already there, skipped)" in out
    listing.write_text(f"{video}\n{video}\n")
    with pytest.raises(DataError, match=r"line 2: long is also on line 1"):
        data_cli.read_video_list(listing)
    listing.write_text(f"{tmp_path / 'nope.mp4'}\n")
    assert data_cli.main(["extract-features", *args]) == 1
    assert "1 listed videos do not exist, e.g. " in capsys.readouterr().err


def test_tsm_features_need_its_segment_count(tiny):
    _, _, video = tiny
    model = models.create("tsm_r18", num_classes=3, base_channels=8).eval()
    model.test_split = None
    with pytest.raises(UsageError, match="this TSM shifts across 8 segments"):
        extract_clip_features(model, video, clip_len=16)


def test_actionkit_infer_localization_end_to_end(tiny, tmp_path, capsys):
    import json

    from actionkit import __version__
    from actionkit.cli import infer
    from actionkit.data.localization import pool_feature, proposals_to_seconds

    root, config, video = tiny
    torch.manual_seed(1)
    bmn_args = {"temporal_dim": 16, "feat_dim": 8, "num_samples": 4, "hidden_dim_1d": 8,
                "hidden_dim_2d": 8, "hidden_dim_3d": 8}  # fmt: skip
    bmn = models.create("bmn", **bmn_args).eval()
    record = {"model": {"name": "bmn", "args": bmn_args}}  # what actionkit-train records
    payload = {"actionkit": __version__, "arch": "bmn", "model": bmn.state_dict(), "config": record}
    torch.save(payload, tmp_path / "bmn.pth")
    out = tmp_path / "out"
    checkpoint = str(tmp_path / "bmn.pth")
    args = ["--task", "localization", str(video), "--checkpoint", checkpoint,
            "--features-checkpoint", str(root / "tiny.pth"), "--features-config", str(config),
            "--clip-len", "4", "--clip-stride", "8", "--out", str(out / "x"),
            "--top-k", "3"]  # fmt: skip
    assert infer.main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    written = json.loads((out / "long_proposals.json").read_text())
    assert (out / "long_proposals.png").stat().st_size > 0
    # the reference: features by hand, rescaled, BMN, proposals scaled by 7 clips x 8 frames
    extractor = init_recognizer(config, root / "tiny.pth")
    feats = _reference(extractor, video, 4, 8)
    pooled = torch.from_numpy(pool_feature(feats, 16).astype(np.float32).T)[None]
    with torch.no_grad():
        found = bmn.proposals(bmn(pooled))[0]
    info = {"duration_second": 2.0, "duration_frame": 60, "feature_frame": 56}
    expected = proposals_to_seconds(found, info)
    got = written["results"]["long"]
    assert len(got) == len(expected) > 1
    for g, e in zip(got, expected, strict=True):
        assert g["score"] == pytest.approx(e["score"], rel=1e-4)
        assert g["segment"] == pytest.approx(e["segment"], rel=1e-6, abs=1e-6)
    assert max(p["segment"][1] for p in got) <= 56 / 30 + 1e-9
    for line, p in zip(printed[-3:], got[:3], strict=True):
        assert line.split() == [
            f"{p['segment'][0]:.2f}s",
            "-",
            f"{p['segment'][1]:.2f}s",
            f"{p['score']:.4f}",
        ]
    # a recognizer whose features do not fit the localizer
    bad = ["--task", "localization", str(video), "--checkpoint", checkpoint,
           "--features-model", "tsn_r18",
           "--features-checkpoint", str(tmp_path / "tsn.pth")]  # fmt: skip
    torch.save(models.create("tsn_r18", num_classes=3).state_dict(), tmp_path / "tsn.pth")
    assert infer.main(bad) == 1
    assert "the features have 512 channels, the localizer takes 8" in capsys.readouterr().err
    assert infer.main([str(video)]) == 1
    assert "no checkpoint: give CHECKPOINT VIDEO or --checkpoint" in capsys.readouterr().err
