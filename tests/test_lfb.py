"""Long-term feature banks (actionkit.models.lfb) against MMAction2 1.2.0's own code
(``FBONonLocal``, ``FBOHead``'s pooling, ``LFB`` sampling: dev/mmaction_fixtures.py lfb),
and the bank's files: written in bounded memory, read through memory maps."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.errors import DataError
from actionkit.models.lfb import (
    FBOHead,
    FBONonLocal,
    FeatureBank,
    FeatureBankWriter,
    convert_mmaction_bank,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "lfb.pt"


@pytest.fixture(scope="module")
def fx():
    return torch.load(FIXTURE, weights_only=True)


def test_the_non_local_operator_equals_mmaction2(fx):
    window, k = fx["window"], fx["k"]
    lt_c, st_c = fx["lt"].shape[1], fx["st"].shape[1]
    fbo = FBONonLocal(st_c, lt_c, 8, 1, window * k, num_non_local_layers=2).eval()
    fbo.load_state_dict(fx["state"])  # MMAction2's names, strictly
    with torch.no_grad():
        out = fbo(fx["st"], fx["lt"])
    torch.testing.assert_close(out, fx["out"], rtol=1e-5, atol=1e-6)
    head = FBOHead(None, "non_local", st_feat_channels=st_c, lt_feat_channels=lt_c,
                   latent_channels=8, num_st_feat=1, num_lt_feat=window * k).eval()  # fmt: skip
    head.fbo.load_state_dict(fx["state"])
    with torch.no_grad():
        both = head(fx["x"], fx["lt"])
    torch.testing.assert_close(both[:, :st_c], fx["st"])  # the pooled short-term feature
    torch.testing.assert_close(both[:, st_c:], fx["out"], rtol=1e-5, atol=1e-6)


def test_avg_and_max_operators():
    lt = torch.randn(2, 4, 6, 1, 1)
    x = torch.randn(2, 3, 2, 4, 4)
    avg, mx = FBOHead(None, "avg"), FBOHead(None, "max")
    torch.testing.assert_close(avg(x, lt)[:, 3:], lt.mean(2, keepdim=True))
    torch.testing.assert_close(mx(x, lt)[:, 3:], lt.amax(2, keepdim=True))
    with pytest.raises(ValueError, match="fbo must be one of"):
        FBOHead(None, "sum")


def test_sampling_equals_mmaction2(fx, tmp_path):
    """Seconds outside the window or without features are zeros, each second's features
    fill its slots (their order is random on both sides: compared as sets)."""
    bank_pkl = tmp_path / "lfb_train.pkl"
    torch.save(fx["bank"], bank_pkl)
    bank = FeatureBank(convert_mmaction_bank([bank_pkl], tmp_path / "bank"), fx["k"], fx["window"])
    assert len(bank) == 2
    k = fx["k"]
    for key, theirs in fx["sampled"].items():
        ours = bank[key]
        assert ours.shape == theirs.shape
        for second in range(fx["window"]):
            a = ours[second * k : (second + 1) * k]
            b = theirs[second * k : (second + 1) * k]
            # float16 on disk (MMAction2's LFBInferHead stores half precision too)
            torch.testing.assert_close(
                a[a.abs().sum(1).argsort()], b[b.abs().sum(1).argsort()], atol=2e-3, rtol=1e-3
            )


def test_more_features_than_slots_are_drawn_at_random(tmp_path):
    with FeatureBankWriter(tmp_path) as w:
        w.add("v,0010", torch.arange(5.0)[:, None].repeat(1, 3))  # 5 boxes in second 10
    bank = FeatureBank(tmp_path, max_num_sampled_feat=2, window_size=1)
    draws = {tuple(bank.sample("v,0010", torch.Generator().manual_seed(s))[:, 0].tolist())
             for s in range(20)}  # fmt: skip
    assert all(len(set(d)) == 2 and set(d) <= {0, 1, 2, 3, 4} for d in draws)
    assert len(draws) > 5


def test_the_writer_spills_and_the_reader_reads_rows(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    with FeatureBankWriter(tmp_path / "bank", buffer_rows=7) as w:  # many spills
        for video in ("a/b", "a_b", "c"):
            for second in range(20):
                feats = rng.normal(size=(int(rng.integers(0, 4)), 6)).astype(np.float32)
                if len(feats):
                    w.add(f"{video},{second:04d}", feats)
                    written[(video, second)] = feats
    assert not (tmp_path / "bank" / "parts").exists()
    bank = FeatureBank(tmp_path / "bank", max_open=1)
    assert len(bank) == 3  # ("a/b" and "a_b" kept apart)
    for (video, second), feats in written.items():
        seconds, rows = bank.features(video)
        got = rows[np.nonzero(seconds == second)[0][::-1]][::-1].astype(np.float32)
        assert rows[[0]].dtype == np.float16  # (read in any order: reversed here)
        np.testing.assert_allclose(got, feats, atol=4e-3, rtol=1e-3)
    assert len(bank._open) == 1
    with pytest.raises(DataError, match="no features of video 'nope'"):
        bank["nope,0001"]
    with pytest.raises(FileNotFoundError, match="not a feature bank"):
        FeatureBank(tmp_path)
    with FeatureBankWriter(tmp_path / "empty"):  # nothing added: readable, but named
        pass
    with pytest.raises(DataError, match="empty: the feature bank holds no features"):
        FeatureBank(tmp_path / "empty")
    (tmp_path / "empty" / "index.json").write_text("{")
    with pytest.raises(DataError, match="index.json: not a feature bank index"):
        FeatureBank(tmp_path / "empty")


def tiny_detector(bank, fbo="non_local"):
    from actionkit.models import create

    return create(
        "ava_slowonly_r50",
        num_classes=4,
        dropout=0.0,
        backbone_args={"base_channels": 4, "stage_blocks": [1, 1, 1, 1]},
        lfb={"bank": str(bank), "fbo": fbo, "window_size": 4, "max_num_sampled_feat": 2,
             "latent_channels": 8},
    ).eval()  # fmt: skip


def test_a_detector_with_a_bank_scores_through_the_operator(tmp_path):
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 4, 64, 64)
    proposals = [
        torch.tensor([[4.0, 4, 40, 60], [20, 10, 60, 50]]),
        torch.tensor([[0.0, 0, 30, 30]]),
    ]
    keys = ["v,0010", "w,0003"]
    plain = tiny_detector(tmp_path / "unused")
    channels = plain.backbone.out_channels
    # the bank from the detector's own RoI features (MMAction2's LFBInferHead's),
    # seconds around each key, at most 2 features a second (so sampling draws them all)
    feats = plain.roi_features(inputs, proposals)
    assert [f.shape for f in feats] == [(2, channels), (1, channels)]
    with FeatureBankWriter(tmp_path / "bank") as w:
        for key, f in zip(keys, feats, strict=True):
            video, ts = key.split(",")
            for second in range(int(ts) - 2, int(ts) + 2):
                w.add(f"{video},{second:04d}", f * (1 + second % 3))
    model = tiny_detector(tmp_path / "bank")
    model.load_state_dict(plain.state_dict())
    scores = model.predict(inputs, proposals, keys)
    assert [s.shape for s in scores] == [(2, 4), (1, 4)]
    # the same by hand: short-term features, the bank's, the operator, the head
    rois = torch.cat([torch.cat([torch.full((len(p), 1), float(i)), p], 1)
                      for i, p in enumerate(proposals)])  # fmt: skip
    head = model.roi_head
    x, _ = head.bbox_roi_extractor(model.backbone(inputs), rois, 4)
    bank = FeatureBank(tmp_path / "bank", 2, 4)
    lt = torch.stack([bank[keys[int(i)]] for i in rois[:, 0]]).transpose(1, 2)[..., None, None]
    logits = head.bbox_head(head.shared_head(x, lt))
    torch.testing.assert_close(torch.cat(scores), logits.sigmoid(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs the clips' img_keys"):
        model.predict(inputs, proposals)
    assert "roi_head.shared_head.fbo.non_local_layer_2.out_conv.conv.weight" in model.state_dict()
    assert model.roi_head.bbox_head.fc_cls.in_features == channels + 8
    fc = tiny_detector(tmp_path / "bank", "max").roi_head.bbox_head.fc_cls
    assert fc.in_features == 2 * channels  # (the short-term and the bank's maximum)


@pytest.mark.slow
def test_feature_bank_command_on_the_synthetic_set(tmp_path):
    """actionkit-data feature-bank: a bank of every test keyframe's proposals, then a
    detector with that bank (FBO max) trains one epoch and tests."""
    from actionkit.cli import data as data_cli
    from actionkit.cli import train

    demo = Path(__file__).parents[1] / "configs" / "demo" / "ava_synthetic.yaml"
    small = [f"data.root={tmp_path / 'data'}", "data.synthetic_ava={train_videos: 2, "
             "test_videos: 1, duration: 4}", "schedule.epochs=1", "data.num_workers=0",
             "data.batch_size=2"]  # fmt: skip
    assert train.main([str(demo), "--work-dir", str(tmp_path / "w"), "--set", *small]) == 0
    ckpt = str(tmp_path / "w" / "best.pth")
    for split in ("train", "test"):
        args = ["feature-bank", str(demo), ckpt, "--split", split, "--out"]
        assert data_cli.main([*args, str(tmp_path / f"bank_{split}"), "--set", *small]) == 0
    test_bank = FeatureBank(tmp_path / "bank_test")
    assert len(test_bank) == 1 and test_bank.channels == 512  # (the demo's res5)
    seconds, rows = test_bank.features(next(iter(test_bank.videos)))
    assert sorted(set(seconds.tolist())) == [901, 902, 903] and rows.shape[1] == 512
    banks = [str(tmp_path / "bank_train"), str(tmp_path / "bank_test")]
    assert len(FeatureBank(banks)) == 3
    lfb = f"model.args.lfb={{bank: [{banks[0]}, {banks[1]}], fbo: max, window_size: 4}}"
    work = str(tmp_path / "w_lfb")
    assert train.main([str(demo), "--work-dir", work, "--set", *small, lfb]) == 0
    metrics = json.loads((tmp_path / "w_lfb" / "metrics.json").read_text())
    assert 0 <= metrics["mAP"] <= 1 and metrics["num_samples"] == 3
