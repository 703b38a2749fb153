"""SSN against MMAction2 0.24.1's own code (tests/fixtures/mmaction/ssn.pt, written by
dev/mmaction_ssn_fixtures.py in a side venv): the structured temporal pyramid pooling,
the head at training and test time, the loss and its gradients, the proposal dataset
(drawn with the same seeded NumPy generator) and the THUMOS14 evaluation; plus
hand-worked cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data import ssn as data
from actionkit.errors import DataError
from actionkit.metrics.localization import ssn_detections, thumos14_map
from actionkit.models import ssn

FIXTURE = Path(__file__).parent / "fixtures/mmaction/ssn.pt"
STAGES = {"111": (1, 1, 1), "1121": (1, (1, 2), 1)}


@pytest.fixture(scope="module")
def ref():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def videos(ref, tmp_path_factory):
    path = tmp_path_factory.mktemp("ssn") / "proposals.txt"
    path.write_text(ref["proposal_file"])
    return data.load_proposal_file(path)


def _head(ref, name):
    head = ssn.SSNHead(3, 6, STAGES[name])
    head.load_state_dict(ref[f"head_train_{name}"]["state"])
    return head.eval()


@pytest.mark.parametrize("name", STAGES)
def test_stpp_and_head_training_outputs_equal_mmaction2(ref, name):
    r = ref[f"stpp_train_{name}"]
    course, feat = ssn.STPP(STAGES[name])(r["x"], r["scale"])
    torch.testing.assert_close(course, r["course"], rtol=0, atol=1e-6)
    torch.testing.assert_close(feat, r["stpp"], rtol=0, atol=1e-6)
    act, comp, bbox = _head(ref, name)(r["x"], r["scale"])
    h = ref[f"head_train_{name}"]
    for ours, theirs in ((act, h["activity"]), (comp, h["completeness"]), (bbox, h["bbox"])):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", STAGES)
def test_test_time_pooling_equals_mmaction2(ref, name):
    h = ref[f"head_test_{name}"]
    head = _head(ref, name)
    scores = head.frame_scores(h["frames"])
    torch.testing.assert_close(scores, h["scores"], rtol=1e-5, atol=1e-5)
    act, comp, reg = ssn.stpp_test_pool(
        scores, h["ticks"], h["scale"], head.consensus.stpp_stage, 3, True
    )
    torch.testing.assert_close(act, h["activity"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(comp, h["completeness"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(reg, h["reg"], rtol=1e-5, atol=1e-5)


def test_test_time_pooling_by_hand():
    """Per-frame scores 0..9 (one class, one part per stage, no regression): the
    activity is the course's mean, the completeness the three stages' means (stage
    scale factors on the first and last), a stage outside the frames adds nothing."""
    k = 1
    scores = torch.zeros(10, (k + 1) + 3 * k)
    scores[:, 0] = torch.arange(10.0)
    scores[:, 2:] = torch.arange(10.0)[:, None] * torch.tensor([1.0, 10.0, 100.0])
    act, comp, reg = ssn.stpp_test_pool(
        scores,
        [[1, 3, 6, 8], [9, 10, 10, 10]],
        [[0.5, 2.0], [1.0, 1.0]],
        ((1,), (1,), (1,)),
        k,
        False,
    )
    assert reg is None
    # course [3, 6): mean 4; starting [1, 3) mean 1.5 * 0.5; ending [6, 8) mean 6.5 * 100 * 2
    torch.testing.assert_close(act[0, 0], torch.tensor(4.0))
    torch.testing.assert_close(comp[0, 0], torch.tensor(1.5 * 0.5 + 4.0 * 10 + 6.5 * 100 * 2))
    # second: starting [9, 10) -> 9; course starts at 10 >= 10 frames: skipped; ending too
    torch.testing.assert_close(comp[1, 0], torch.tensor(9.0))


def test_loss_and_gradients_equal_mmaction2(ref):
    r = ref["loss"]
    act = r["activity"].clone().requires_grad_()
    comp = r["completeness"].clone().requires_grad_()
    bbox = r["bbox"].clone().requires_grad_()
    losses = ssn.ssn_loss(act, comp, bbox, r["types"], r["labels"], r["reg_targets"])
    assert set(losses) == set(r["losses"])
    for key, value in r["losses"].items():
        torch.testing.assert_close(
            losses[key], value.reshape(losses[key].shape), rtol=1e-6, atol=1e-7
        )
    sum(losses.values()).backward()
    for ours, key in ((act, "activity"), (comp, "completeness"), (bbox, "bbox")):
        torch.testing.assert_close(ours.grad, r["grads"][key], rtol=1e-6, atol=1e-7)


def test_loss_needs_positives_and_incompletes():
    types = torch.tensor([[0, 2, 2]])
    with pytest.raises(ValueError, match="positive and incomplete"):
        ssn.ssn_loss(
            torch.zeros(3, 3),
            torch.zeros(3, 2),
            None,
            types,
            torch.zeros(1, 3, dtype=torch.long),
            torch.zeros(1, 3, 2),
        )


def test_proposal_file_parsing(videos):
    assert [v.video_id for v in videos] == [f"video_{i}" for i in range(6)]
    for v in videos:
        # the proposal past the end is clipped; the one starting past it and the
        # empty one are dropped
        assert all(0 <= p.start < p.end <= v.num_frames for p in v.proposals + v.gts)
        last = v.proposals[-1]
        assert last.end == v.num_frames and last.coverage == pytest.approx(55 / v.num_frames)


def test_bad_proposal_files_name_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# 0\nvid\n100\n1\n1\n1 10\n0\n")
    with pytest.raises(DataError, match=r"bad.txt:6: expected label start end"):
        data.load_proposal_file(path)
    path.write_text("# 0\nvid\n100\n1\n2\n1 10 20\n")
    with pytest.raises(DataError, match="ends before its ground truth line 2"):
        data.load_proposal_file(path)
    path.write_text("vid\n100\n")
    with pytest.raises(DataError, match=r"bad.txt:1: expected a '# <index>' line"):
        data.load_proposal_file(path)


def test_pools_and_regression_constants_equal_mmaction2(ref, videos):
    assign, sampler_cfg = data.AssignConfig(), data.SamplerConfig()
    sampler = data.ProposalSampler(videos, assign, sampler_cfg)
    assert [len(p) for p in sampler.pools] == ref["pools"]
    consts = data.regression_constants(videos, assign)
    np.testing.assert_allclose(consts, ref["reg_norm_consts"].numpy(), rtol=1e-12, atol=1e-15)


def _draw(videos, sampler, consts, idx, rng, train=True):
    v = videos[idx]
    drawn = sampler.sample(v, rng)
    starts = [data.proposal_snippets(p, v.num_frames, train, rng) for p, _ in drawn]
    return v, drawn, np.concatenate(starts)


def test_training_draws_equal_mmaction2(ref, videos):
    """The same seed draws the same proposals, frames, targets and scale factors."""
    assign = data.AssignConfig()
    sampler = data.ProposalSampler(videos, assign, data.SamplerConfig())
    consts = data.regression_constants(videos, assign)
    for r in ref["train"]:
        rng = np.random.RandomState(r["seed"])
        v, drawn, starts = _draw(videos, sampler, consts, r["idx"], rng)
        assert [[v.video_id, p.start, p.end, kind] for p, kind in drawn] == r["proposals"]
        np.testing.assert_array_equal(
            data.snippet_frames(starts, v.num_frames), r["frame_inds"].numpy() - 1
        )
        scale = [data.stage_scale_factors(p, v.num_frames) for p, _ in drawn]
        np.testing.assert_allclose(np.float32(scale), r["scale"].numpy(), rtol=0, atol=0)
        labels = [p.label if kind != data.BACKGROUND else 0 for p, kind in drawn]
        assert labels == r["labels"].tolist()
        targets = [
            (np.asarray(p.target) - consts[0]) / consts[1] if kind == data.POSITIVE else p.target
            for p, kind in drawn
        ]
        np.testing.assert_allclose(
            np.float32(targets), r["reg_targets"].numpy(), rtol=1e-6, atol=1e-6
        )


def test_validation_frames_equal_mmaction2(ref, videos):
    sampler = data.ProposalSampler(videos, data.AssignConfig(), data.SamplerConfig())
    for r in ref["val"]:
        rng = np.random.RandomState(r["idx"])
        v, drawn, starts = _draw(videos, sampler, None, r["idx"], rng, train=False)
        assert [[v.video_id, p.start, p.end, kind] for p, kind in drawn] == r["proposals"]
        np.testing.assert_array_equal(
            data.snippet_frames(starts, v.num_frames), r["frame_inds"].numpy() - 1
        )


def test_test_layout_equals_mmaction2(ref, videos):
    for v, r in zip(videos, ref["test"], strict=True):
        layout = data.test_layout(v)
        np.testing.assert_array_equal(layout["frames"], r["frame_inds"].numpy() - 1)
        np.testing.assert_array_equal(layout["relative"], r["relative"].numpy())
        np.testing.assert_array_equal(layout["ticks"], r["ticks"].numpy())
        np.testing.assert_array_equal(layout["scale_factors"], r["scale"].numpy())


def _results(ref, videos):
    return {
        v.video_id: {
            "relative": r["relative_proposal_list"].numpy(),
            "activity": r["activity_scores"].numpy(),
            "completeness": r["completeness_scores"].numpy(),
            "bbox": r["bbox_preds"].numpy(),
        }
        for v, r in zip(videos, ref["eval_inputs"], strict=True)
    }


@pytest.mark.parametrize("top_k", [2000, 5])
def test_detections_before_regression_equal_mmaction2(ref, videos, top_k):
    dets = ssn_detections(_results(ref, videos), top_k=top_k, regression=False, nms_threshold=1.0)
    theirs = ref[f"detections_top{top_k}"]
    for video, rows in dets.items():
        for c in range(3):
            mine = rows[rows[:, 2] == c]
            other = theirs[c].get(video)
            if other is None:
                assert len(mine) == 0
                continue
            other = other.numpy()
            mine = mine[np.argsort(mine[:, 3])]
            other = other[np.argsort(other[:, 2])]
            np.testing.assert_allclose(mine[:, [0, 1, 3]], other[:, :3], rtol=1e-6, atol=1e-7)


def test_thumos14_map_equals_mmaction2(ref, videos):
    dets = ssn_detections(_results(ref, videos))
    gt = {
        v.video_id: [(g.start / v.num_frames, g.end / v.num_frames, g.label - 1) for g in v.gts]
        for v in videos
    }
    got = thumos14_map(gt, dets, 3)
    for key, value in ref["eval_map"].items():
        # MMAction2 accumulates precision and recall in float32
        assert got[key] == pytest.approx(value, rel=1e-6), key


def test_thumos14_map_by_hand():
    """One class, two ground truth segments, three detections (best first: a hit, a
    miss, a hit at tIoU 0.5): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP 5/6
    at tIoU <= 0.5, 1/2 above."""
    gt = {"a": [(0.0, 0.2, 0), (0.5, 0.7, 0)]}
    dets = {"a": np.array([[0.0, 0.2, 0, 0.9], [0.3, 0.4, 0, 0.8], [0.5, 0.8, 0, 0.7]])}
    got = thumos14_map(gt, dets, 2)
    assert got["classes_with_gt"] == [0]
    assert got["mAP@0.50"] == pytest.approx(5 / 6)
    assert got["mAP@0.70"] == pytest.approx(1 / 2)


def test_model_shapes_and_denormalised_regression():
    torch.manual_seed(0)
    model = ssn.ssn_features(num_classes=4, feat_dim=8, dropout_ratio=0.0).eval()
    model.reg_norm_consts.copy_(torch.tensor([[0.1, -0.2], [2.0, 3.0]]))
    act, comp, bbox = model(torch.randn(2, 8 * 9, 8), torch.ones(2, 8, 2))
    assert act.shape == (16, 5) and comp.shape == (16, 4) and bbox.shape == (16, 4, 2)
    scores = model.frame_scores(torch.randn(30, 8))
    out = model.predict(scores, [[0, 2, 10, 14], [10, 12, 20, 25]], [[1.0, 1.0], [1.0, 0.5]])
    _, _, reg = ssn.stpp_test_pool(
        scores,
        [[0, 2, 10, 14], [10, 12, 20, 25]],
        [[1.0, 1.0], [1.0, 0.5]],
        ((1,), (1,), (1,)),
        4,
        True,
    )
    np.testing.assert_allclose(
        out["bbox"],
        (reg.view(-1, 4, 2) * torch.tensor([2.0, 3.0]) + torch.tensor([0.1, -0.2])).numpy(),
        rtol=1e-6,
    )


@pytest.mark.slow
def test_the_synthetic_demo_learns(tmp_path):
    """configs/demo/ssn_synthetic.yaml, shortened (80 training videos, 5 epochs): the
    held-out mAP@0.5 after training against the same model untrained, scored by the same
    evaluator on the same proposals (the full demo: 0.81 against 0.01)."""
    from actionkit.cli import train
    from actionkit.config import load_config
    from actionkit.engine import builder
    from actionkit.engine.evaluate import build_evaluator

    config = Path(__file__).parents[1] / "configs/demo/ssn_synthetic.yaml"
    shorter = [
        f"data.root={tmp_path / 'data'}",
        "data.synthetic_features.train_videos=80",
        "data.synthetic_features.test_videos=30",
        "schedule.epochs=5",
        "schedule.milestones=[4]",
        "train.eval_interval=5",
    ]
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    lines = (tmp_path / "w/log.jsonl").read_text().splitlines()
    trained = [json.loads(x) for x in lines if '"split": "test"' in x][-1]["mAP@0.50"]
    cfg = load_config(config, shorter)
    builder.seed_everything(0)
    model = builder.build_model(cfg, lambda *a: None, False)
    loader, _ = builder.build_loader(cfg, "test")
    evaluator = build_evaluator(cfg, model, builder.class_names(cfg))
    untrained = evaluator.evaluate(model, loader, torch.device("cpu"))["mAP@0.50"]
    assert trained >= 0.5 and untrained <= 0.1, (trained, untrained)
    # the sampled proposal lists are TAG files the loader reads back
    videos = data.load_proposal_file(tmp_path / "data/train_proposals.txt")
    assert len(videos) == 80 and all(v.gts and v.proposals for v in videos)


def _write_list(tmp_path, num_frames=120):
    gts = [
        data.Instance.make(20, 50, num_frames, 1, 1.0),
        data.Instance.make(70, 100, num_frames, 2, 1.0),
    ]
    segs = np.concatenate(
        [data.sliding_windows(num_frames, (0.1, 0.25, 0.5)), [[21, 49], [69, 101]]]
    )
    video = data.ProposalVideo("vid", num_frames, gts, data.label_segments(segs, gts, num_frames))
    path = tmp_path / "list.txt"
    data.write_proposal_file(path, [video])
    return path


def test_label_segments_and_the_written_list_round_trip(tmp_path):
    path = _write_list(tmp_path)
    (video,) = data.load_proposal_file(path)
    by_span = {(p.start, p.end): p for p in video.proposals}
    near = by_span[(21, 49)]  # inside instance 1: tIoU 28/30, all of it inside
    assert near.label == 1 and near.best_iou == pytest.approx(28 / 30, abs=1e-4)
    assert near.overlap_self == 1.0
    wide = by_span[(69, 101)]  # around instance 2: tIoU 30/32, 30/32 of it inside
    assert wide.label == 2 and wide.best_iou == pytest.approx(30 / 32, abs=1e-4)
    assert wide.overlap_self == pytest.approx(30 / 32, abs=1e-4)
    assert all(p.label == 0 for p in video.proposals if p.best_iou == 0)


def test_feature_dataset_samples(tmp_path):
    """Training samples: 8 proposals of 9 snippets, rows of the features at the drawn
    frames (a list counting video frames reads row f * T // frames); the same (epoch,
    index) draws the same sample, another epoch another one."""
    path = _write_list(tmp_path)
    feats = np.arange(60, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    np.save(tmp_path / "vid.npy", feats)  # 60 rows for 120 frames: one row per 2 frames
    ds = data.SSNDataset(path, tmp_path, "features", feature_ext=".npy")
    s = ds[(0, 0)]
    assert s["inputs"].shape == (72, 3) and s["proposal_scale_factor"].shape == (8, 2)
    assert s["proposal_type"].tolist() == [0] + [1] * 6 + [2]
    assert s["proposal_labels"][7] == 0 and s["proposal_labels"][0] in (1, 2)
    assert torch.equal(ds[(0, 0)]["inputs"], s["inputs"])
    assert not torch.equal(ds[(1, 0)]["inputs"], s["inputs"])
    # rows are frames // 2: every row index is a frame a proposal's stages can reach
    assert (s["inputs"][:, 0] == s["inputs"][:, 0].round()).all() and s["inputs"].max() < 60
    # a positive's target is normalised by the list's constants
    consts = ds.reg_norm_consts
    assert consts.shape == (2, 2)
    test = data.SSNDataset(
        path, tmp_path, "features", test_mode=True, test_interval=4, feature_ext=".npy"
    )
    t = test[0]
    layout = data.test_layout(test.videos[0], 4)
    assert t["inputs"].shape == (len(layout["frames"]), 3)
    np.testing.assert_array_equal(t["inputs"][:, 0].numpy(), layout["frames"] // 2)
    assert test.ground_truth() == {"vid": [(20 / 120, 50 / 120, 0), (70 / 120, 100 / 120, 1)]}


def test_frame_dataset_reads_a_video_through_the_pipeline(tmp_path):
    """``source="frames"``: a video file's frames at the drawn indices, through the
    transforms; each frame's grey level is its index, so the mean of a view tells which
    frame it is."""
    from actionkit.data import transforms as T
    from actionkit.data.encode import write_video

    path = _write_list(tmp_path)
    frames = np.repeat(np.arange(120, dtype=np.uint8)[:, None, None, None] * 2, 32, 1)
    write_video(tmp_path / "vid.mp4", np.repeat(np.repeat(frames, 32, 2), 3, 3), crf=0)
    pipeline = T.Compose([T.CenterCrop(16), T.FormatShape("NCHW", mean=[0, 0, 0], std=[1, 1, 1])])
    ds = data.SSNDataset(
        path, tmp_path, "frames", transforms=pipeline, video_ext=".mp4", backend="pyav"
    )
    s = ds[(0, 0)]
    assert s["inputs"].shape == (72, 3, 16, 16)
    level = s["inputs"].mean((1, 2, 3)) / 2  # the frame index of each snippet
    legacy, _ = data._rngs(0, 0, 0)
    drawn = ds.proposal_sampler.sample(ds.videos[0], legacy)
    starts = np.concatenate([data.proposal_snippets(p, 120, True, legacy) for p, _ in drawn])
    np.testing.assert_allclose(level.numpy(), data.snippet_frames(starts, 120), atol=0.6)
    with pytest.raises(DataError, match="vid.avi does not exist"):
        data.SSNDataset(path, tmp_path, "frames", transforms=pipeline, video_ext=".avi")[0]


def test_frames_config_trains_and_tests_through_the_cli(tmp_path):
    """A tiny ResNet SSN on a video's frames (data.ssn.source frames, the split's
    pipeline): one epoch through actionkit-train, then actionkit-test on its checkpoint
    writes the THUMOS14 metrics and the detections."""
    from actionkit.cli import test as test_cli
    from actionkit.cli import train
    from actionkit.data.encode import write_video

    _write_list(tmp_path)
    rng = np.random.default_rng(0)
    write_video(tmp_path / "vid.mp4", rng.integers(0, 255, (120, 32, 48, 3), dtype=np.uint8))
    pipeline = (
        "[{type: Resize, scale: [-1, 32]}, {type: CenterCrop, crop_size: 32}, "
        "{type: FormatShape, input_format: NCHW}]"
    )
    (tmp_path / "c.yaml").write_text(
        f"""
model: {{name: ssn_r50, num_classes: 2, args: {{base_channels: 4, dropout_ratio: 0.5}}}}
data:
  kind: ssn
  root: {tmp_path}
  ssn: {{source: frames, video_ext: .mp4, test_interval: 10}}
  train: {{ann_file: list.txt, pipeline: {pipeline}}}
  test: {{ann_file: list.txt, pipeline: {pipeline}}}
  batch_size: 1
  num_workers: 0
schedule: {{epochs: 1}}
train: {{best_metric: mAP@0.50}}
"""
    )
    assert train.main([str(tmp_path / "c.yaml"), "--work-dir", str(tmp_path / "w")]) == 0
    out = tmp_path / "out"
    args = [str(tmp_path / "c.yaml"), str(tmp_path / "w/latest.pth"), "--out", str(out)]
    assert test_cli.main(args) == 0
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert 0.0 <= metrics["mAP@0.50"] <= 1.0 and metrics["num_samples"] == 1
    detections = json.loads((out / "detections.json").read_text())["vid"]
    assert detections and {"segment", "relative", "label", "score"} <= set(detections[0])
    scores = [d["score"] for d in detections]
    assert scores == sorted(scores, reverse=True)


def test_bmn_proposals_become_a_tag_list(tmp_path, capsys):
    """``actionkit-data ssn-proposals``: proposals in seconds (ActivityNet's result format,
    as actionkit-test writes for BMN / BSN) become frames of the video, ranked and cut to
    --top-k, labelled against the ground truth."""
    from actionkit.cli import data as data_cli

    ann = {
        "v_a": {"duration_second": 10.0, "duration_frame": 300, "fps": 30.0,
                "annotations": [{"segment": [2.0, 4.0], "label": "jump"}]},
        "v_b": {"duration_second": 5.0, "duration_frame": 125, "fps": 25.0,
                "annotations": [{"segment": [1.0, 3.0], "label": "run"}]},
    }  # fmt: skip
    results = {
        "a": [{"segment": [2.0, 4.0], "score": 0.9}, {"segment": [6.0, 9.0], "score": 0.5},
              {"segment": [0.0, 1.0], "score": 0.1}],
        "b": [{"segment": [1.2, 3.0], "score": 0.7}],
    }  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    (tmp_path / "p.json").write_text(json.dumps({"results": results}))
    out = tmp_path / "list.txt"
    args = ["ssn-proposals", str(tmp_path / "ann.json"), str(tmp_path / "p.json"), str(out)]
    assert data_cli.main([*args, "--top-k", "2"]) == 0
    assert (tmp_path / "classes.txt").read_text() == "jump\nrun\n"
    a, b = data.load_proposal_file(out)
    assert (a.num_frames, [(g.start, g.end, g.label) for g in a.gts]) == (300, [(60, 120, 1)])
    assert [(p.start, p.end, p.label, p.best_iou) for p in a.proposals] == [
        (60, 120, 1, 1.0),
        (180, 270, 0, 0.0),
    ]
    assert [(g.start, g.end, g.label) for g in b.gts] == [(25, 75, 2)]
    (p,) = b.proposals
    assert (p.start, p.end, p.label) == (30, 75, 2) and p.best_iou == pytest.approx(0.9)
    (tmp_path / "p.json").write_text(json.dumps({"results": {"a": []}}))
    with pytest.raises(DataError, match="no proposals for video 'v_b'"):
        data.proposal_list_from_activitynet(tmp_path / "ann.json", tmp_path / "p.json")


def test_mmaction2_ssn_checkpoints_load(ref, tmp_path):
    """MMAction2 0.24's THUMOS14 SSN has ssn_r50's parameter names and shapes, one for
    one; a checkpoint in its layout loads (its file carries no regression constants:
    the model keeps its own, marked unset)."""
    model = ssn.ssn_r50(num_classes=20)
    ours = {k: list(v.shape) for k, v in model.state_dict().items() if not k.startswith("reg_norm")}
    theirs = ref["checkpoint_layout"]
    # (MMAction2's BatchNorms count batches too; ours as well)
    assert ours == theirs
    from actionkit.models.checkpoint import load_checkpoint

    torch.manual_seed(0)
    state = {k: torch.randn(v) if v else torch.tensor(3) for k, v in theirs.items()}
    torch.save({"state_dict": state, "meta": {"epoch": 1}}, tmp_path / "ssn.pth")
    load_checkpoint(model, tmp_path / "ssn.pth")
    key = "cls_head.completeness_fc.weight"
    assert torch.equal(model.state_dict()[key], state[key])
    assert not bool(model.reg_norm_fitted)
