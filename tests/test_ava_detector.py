"""AVA detectors (``actionkit.models.detector``): MMAction2 1.2.0 checkpoint parity
(fixture from its FastRCNN / AVARoIHead with full mmcv's RoIAlign), its assigner's
choices, the RoI features, the loss by hand, and a training step."""

from pathlib import Path

import pytest
import torch

import actionkit.models as models
from actionkit.models.detector import (
    SingleRoIExtractor3D,
    assign_positives,
    box_iou,
    to_rois,
)

from .parity_weights import make_input, make_state

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "ava_models.pt"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


@pytest.mark.parametrize("name", ["ava_slowonly_r50", "ava_slowfast_r50", "ava_acrn_slowfast_r50"])
def test_logits_equal_mmaction2(name, fixture, tmp_path):
    case = fixture["models"][name]
    torch.save({"meta": {}, "state_dict": make_state(case["shapes"])}, tmp_path / "mm.pth")
    model = models.create(name, num_classes=7, checkpoint=tmp_path / "mm.pth").eval()
    with torch.no_grad():
        logits = model(make_input(case["input_shape"]), case["rois"])
    expected = case["logits"]
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max() <= 1e-4 * expected.abs().max()
    assert float(expected.std()) > 0.05


def test_assignment_equals_mmaction2(fixture):
    for case in fixture["assignments"]:
        boxes, labels = assign_positives(case["proposals"], case["gt"], case["labels"],
                                         num_rois=100)  # fmt: skip
        gt_inds = case["gt_inds"]
        want = torch.cat([case["gt"], case["proposals"][gt_inds > 0]])
        torch.testing.assert_close(boxes, want, rtol=0, atol=0)
        want_labels = torch.cat([case["labels"], case["assigned_labels"][gt_inds > 0]])
        torch.testing.assert_close(labels, want_labels, rtol=0, atol=0)
    assert sum(int((c["gt_inds"] > 0).sum()) for c in fixture["assignments"]) > 5


def test_assignment_by_hand():
    gt = torch.tensor([[0.0, 0, 100, 100], [10, 0, 110, 100]])  # IoU 0.818 with each other
    labels = torch.eye(3)[[1, 2]]
    props = torch.tensor([
        [0.0, 0, 100, 100],   # gt 0 exactly
        [2.0, 0, 100, 100],   # IoU 0.98 with gt 0, 0.83 with gt 1
        [5.0, 0, 105, 100],   # IoU 0.905 with both: gt 1's best match (ties: the later gt)
        [0.0, 0, 80, 100],    # IoU 0.8: negative
    ])  # fmt: skip
    iou = torch.tensor(
        [[1.0, 0.98, 9500 / 10500, 0.8], [9 / 11, 9000 / 10800, 9500 / 10500, 7 / 11]]
    )
    torch.testing.assert_close(box_iou(gt, props), iou)
    boxes, got = assign_positives(props, gt, labels, num_rois=10)
    torch.testing.assert_close(boxes, torch.cat([gt, props[:3]]))
    torch.testing.assert_close(got, labels[[0, 1, 0, 0, 1]])
    # more positives than num_rois: a random subset
    boxes, got = assign_positives(props, gt, labels, num_rois=2, generator=torch.Generator())
    assert len(boxes) == 2
    empty, none = assign_positives(props, gt[:0], labels[:0])
    assert empty.shape == (0, 4) and none.shape == (0, 3)


def test_roi_features_are_roi_align_of_the_temporal_mean():
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    feat = torch.randn(2, 8, 4, 12, 16, dtype=torch.float64)
    rois = torch.tensor([[0, 8.0, 8, 120, 90], [1, 30, 20, 200, 150], [1, -20, 0, 50, 40]],
                        dtype=torch.float64)  # fmt: skip
    out, pooled = SingleRoIExtractor3D(output_size=8)(feat, rois)
    mean = feat.mean(2)
    want = tv.ops.roi_align(mean, rois, 8, 1 / 16, 0, aligned=True)
    torch.testing.assert_close(out[:, :, 0], want, rtol=1e-12, atol=1e-12)
    assert pooled.shape == (2, 8, 1, 12, 16)
    # SlowFast: two pathways of different lengths, resized to the longer and concatenated
    fast = torch.randn(2, 4, 8, 12, 16, dtype=torch.float64)
    out, pooled = SingleRoIExtractor3D(output_size=8)((feat, fast), rois)
    assert out.shape == (3, 12, 1, 8, 8)
    torch.testing.assert_close(
        out[:, 8:, 0], tv.ops.roi_align(fast.mean(2), rois, 8, 1 / 16, 0, True)
    )
    keep = SingleRoIExtractor3D(output_size=4, with_temporal_pool=False)(feat, rois)[0]
    assert keep.shape == (3, 8, 4, 4, 4)
    torch.testing.assert_close(
        keep[:, :, 2], tv.ops.roi_align(feat[:, :, 2], rois, 4, 1 / 16, 0, True)
    )


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_channels_last_features_give_the_same_actor_features(mode):
    # (the temporal pool of a channels-last tensor takes its own, faster path)
    torch.manual_seed(0)
    feat = torch.randn(2, 16, 4, 12, 16)
    rois = torch.tensor([[0, 8.0, 8, 120, 90], [1, 30, 20, 200, 150]])
    extractor = SingleRoIExtractor3D(output_size=4, temporal_pool_mode=mode, with_global=True)
    want, pooled = extractor(feat, rois)
    last = feat.contiguous(memory_format=torch.channels_last_3d)
    got, got_pooled = extractor(last, rois)
    assert torch.equal(got, want) and torch.equal(got_pooled, pooled)
    reduce = feat.mean if mode == "avg" else feat.amax
    assert torch.equal(pooled, reduce(2, keepdim=True))


def test_tubes_over_the_whole_clip_are_the_boxes_and_shorter_tubes_their_frames():
    """Tube RoIs (batch, t1, x1, y1, t2, x2, y2), times in input frames: a tube over the
    whole clip gives the box's features (temporal mean, or every frame), a tube over
    input frames [16, 32) of 32 (feature frames 2 and 3 of 4) their mean; the detector
    takes both kinds."""
    torch.manual_seed(0)
    feat = torch.randn(2, 8, 4, 12, 16, dtype=torch.float64)
    boxes = torch.tensor([[0, 8.0, 8, 120, 90], [1, 30, 20, 200, 150]], dtype=torch.float64)
    tubes = torch.cat([boxes[:, :1], torch.zeros(2, 1), boxes[:, 1:3],
                       torch.full((2, 1), 32.0), boxes[:, 3:]], 1)  # fmt: skip
    for pool in (True, False):
        extractor = SingleRoIExtractor3D(output_size=4, with_temporal_pool=pool, with_global=True)
        want = extractor(feat, boxes)[0]
        got = extractor(feat, tubes, input_frames=32)[0]
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    short = tubes.clone()
    short[:, 1] = 16  # input frames [16, 32): feature frames 2 and 3 (8 input frames each)
    got = SingleRoIExtractor3D(output_size=4)(feat, short, input_frames=32)[0]
    want = SingleRoIExtractor3D(output_size=4)(feat[:, :, 2:4], boxes)[0]
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="tube RoIs .* need input_frames"):
        SingleRoIExtractor3D()(feat, tubes)
    model = models.create("ava_slowonly_r50", num_classes=5, backbone_args=dict(
        base_channels=8, stage_blocks=(1, 1, 1, 1))).eval()  # fmt: skip
    clip = torch.randn(2, 3, 4, 64, 64)
    small = torch.tensor([[0, 0.0, 8, 8, 4, 40, 60], [1, 0, 0, 0, 4, 64, 64]])
    torch.testing.assert_close(model(clip, small), model(clip, small[:, [0, 2, 3, 5, 6]]))
    with pytest.raises(ValueError, match=r"or tubes \[K, 7\]"):
        model(clip, small[:, :6])


def test_loss_by_hand():
    head = models.create("ava_slowonly_r50", num_classes=4).roi_head.bbox_head
    logits = torch.tensor([[9.0, 1.0, -1.0, 0.5], [3.0, -2.0, 2.0, 0.0], [0.0, 4.0, 4.0, 4.0]])
    labels = torch.tensor([[0.0, 1, 0, 0], [1.0, 0, 1, 1], [1.0, 0, 0, 0]])
    # row 3 has no action once column 0 (background) is dropped: not a positive
    loss = head.loss(logits, labels)
    x, y = logits[:2, 1:], labels[:2, 1:]
    want = (torch.clamp(x, min=0) - x * y + torch.log1p(torch.exp(-x.abs()))).mean()
    torch.testing.assert_close(loss, want)
    head.focal_alpha, head.focal_gamma = 0.25, 2.0
    bce = torch.clamp(x, min=0) - x * y + torch.log1p(torch.exp(-x.abs()))
    torch.testing.assert_close(
        head.loss(logits, labels), (0.25 * (1 - torch.exp(-bce)) ** 2 * bce).mean()
    )


def test_training_step_and_predict():
    torch.manual_seed(0)
    model = models.create("ava_slowonly_r50", num_classes=5, dropout=0.0).train()
    inputs = torch.randn(2, 3, 4, 64, 64)
    gt = [torch.tensor([[4.0, 4, 40, 60]]), torch.tensor([[10.0, 8, 50, 50], [0, 0, 30, 20]])]
    gt_labels = [torch.eye(5)[[1]], torch.eye(5)[[2, 4]]]
    proposals = [
        torch.tensor([[4.0, 5, 40, 60], [30, 30, 60, 60]]),
        torch.tensor([[0.0, 0, 64, 64]]),
    ]
    batch = {"inputs": inputs, "gt_bboxes": gt, "gt_labels": gt_labels, "proposals": proposals}
    loss = model.loss(batch)["loss_action_cls"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0
    model.eval()
    scores = model.predict(inputs, proposals)
    assert [s.shape for s in scores] == [(2, 5), (1, 5)]
    assert all(((s > 0) & (s < 1)).all() for s in scores)
    torch.testing.assert_close(to_rois(proposals)[:, 0], torch.tensor([0.0, 0, 1]))
    with pytest.raises(ValueError, match=r"rois must be \[K, 5\]"):
        model(inputs, proposals[0])


def _tiny_ava(root: Path) -> None:
    """Two 2-second videos as rawframes (30 fps from second 900), their annotations
    (keyframes 900 and 901), proposals and a label map."""
    import pickle

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for video in ("vidA", "vidB"):
        (root / "rawframes" / video).mkdir(parents=True)
        for i in range(60):
            frame = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(frame).save(root / "rawframes" / video / f"img_{i + 1:05d}.jpg")
    rows = []
    for video in ("vidA", "vidB"):
        for ts in (900, 901):
            key = f"{video},{ts:04d}"
            rows += [f"{key},0.1,0.1,0.5,0.9,1,0", f"{key},0.1,0.1,0.5,0.9,3,0",
                     f"{key},0.5,0.2,0.9,0.8,2,1"]  # fmt: skip
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    (root / "val.csv").write_text("\n".join(rows[:6]) + "\n")
    (root / "excluded.csv").write_text("vidA,0901\n")
    proposals = {f"{v},{t:04d}": np.array([[0.1, 0.1, 0.5, 0.9, 0.99], [0.5, 0.2, 0.9, 0.8, 0.95],
                                            [0.0, 0.0, 0.3, 0.3, 0.5]])
                 for v in ("vidA", "vidB") for t in (900, 901)}  # fmt: skip
    (root / "proposals.pkl").write_bytes(pickle.dumps(proposals))
    (root / "labels.pbtxt").write_text(
        "".join(f'item {{\n  name: "act {i}"\n  id: {i}\n}}\n' for i in (1, 2, 3))
    )


def test_train_and_test_commands_on_a_tiny_ava_set(tmp_path):
    import json

    from actionkit.cli import test as test_cli
    from actionkit.cli import train

    _tiny_ava(tmp_path / "ava")
    config = tmp_path / "ava.yaml"
    config.write_text(f"""
model: {{name: ava_slowonly_r50, num_classes: 4, args: {{dropout: 0.0}}}}
data:
  kind: ava
  root: {tmp_path / "ava"}
  data_prefix: rawframes
  ava: {{label_map: labels.pbtxt, action_thr: 0.0}}
  train:
    ann_file: train.csv
    proposal_file: proposals.pkl
    sampler: {{type: SampleAVAFrames, clip_len: 4, frame_interval: 4}}
    pipeline:
      - {{type: RandomRescale, scale_range: [64, 72]}}
      - {{type: RandomCrop, size: 64}}
      - {{type: Flip, flip_ratio: 0.5}}
      - {{type: FormatShape, input_format: NCTHW}}
  val:
    ann_file: val.csv
    exclusions: excluded.csv
    proposal_file: proposals.pkl
    sampler: {{type: SampleAVAFrames, clip_len: 4, frame_interval: 4, test_mode: true}}
    pipeline:
      - {{type: Resize, scale: [-1, 64]}}
      - {{type: FormatShape, input_format: NCTHW}}
  batch_size: 2
  test_batch_size: 1
  num_workers: 0
optim: {{type: sgd, lr: 0.01, clip_grad: 40}}
schedule: {{epochs: 1}}
train: {{best_metric: mAP}}
""")
    assert train.main([str(config), "--work-dir", str(tmp_path / "w")]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert set(metrics) >= {"mAP", "person_movement", "num_samples", "num_detections"}
    assert metrics["num_samples"] == 1  # vidA,0900 (vidA,0901 is excluded)
    out = tmp_path / "out"
    args = [str(config), str(tmp_path / "w" / "best.pth"), "--split", "val", "--out", str(out)]
    assert test_cli.main(args) == 0
    rows = (out / "detections.csv").read_text().splitlines()
    # the proposals kept (score >= 0.9: two), every class (action_thr 0): 2 x 3 rows
    assert len(rows) == 6 == metrics["num_detections"]
    video, ts, *box, action, score = rows[0].split(",")
    assert video == "vidA" and len(box) == 4 and action in {"1", "2", "3"} and 0 < float(score) < 1


def test_zoo_config_and_kind_checks(tmp_path):
    from actionkit.config import ConfigError, load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "detection" / "ava_slowonly_r50_4x16_ava21.yaml")
    assert cfg.data.kind == "ava" and cfg.model.name == "ava_slowonly_r50"
    assert cfg.data.train.sampler == {
        "type": "SampleAVAFrames",
        "clip_len": 4,
        "frame_interval": 16,
    }
    assert cfg.data.test.ann_file == cfg.data.val.ann_file == "annotations/ava_val_v2.1.csv"
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.clip_grad) == (0.2, 1e-5, 40)
    assert cfg.schedule.milestones == [10, 15] and cfg.schedule.epochs == 20
    path = root / "configs" / "detection" / "ava_slowonly_r50_4x16_ava21.yaml"
    with pytest.raises(
        ConfigError, match="data.kind: 'video' does not fit model 'ava_slowonly_r50'"
    ):
        load_config(path, ["data.kind=video"])
    with pytest.raises(
        ConfigError, match="train.best_metric: 'top1' is not a metric of the detection"
    ):
        load_config(path, ["train.best_metric=top1"])
    with pytest.raises(ConfigError, match="data.kind: 'ava' does not fit model 'tsn_r50'"):
        load_config(path, ["model.name=tsn_r50", "train.best_metric=top1"])


@pytest.mark.parametrize(
    "config, clip_len, head_in, extra",
    [
        ("ava_slowonly_r50_4x16_ava21", 4, 2048, {}),
        ("ava_slowfast_r50_4x16_ava21", 32, 2304, {}),
        ("ava_slowfast_r50_context_4x16_ava21", 32, 4608, {}),
        ("ava_slowfast_r50_8x8_ava21", 32, 2304, {"lr": 0.1, "batch_size": 8}),
        ("ava_slowfast_r50_8x8_cosine_ava22", 32, 2304, {"lr": 0.075, "epochs": 10}),
        (
            "ava_acrn_slowfast_r50_8x8_cosine_ava21",
            32,
            2304,
            {"lr": 0.1, "batch_size": 8, "epochs": 10},
        ),
    ],
)
def test_detection_configs_build_their_models(config, clip_len, head_in, extra):
    """Every config of configs/detection loads, samples as its MMAction2 config, and builds
    its model with the head width that config has."""
    from actionkit.config import load_config
    from actionkit.engine.builder import build_model

    cfg = load_config(
        Path(__file__).resolve().parents[1] / "configs" / "detection" / f"{config}.yaml"
    )
    for split in (cfg.data.train, cfg.data.val, cfg.data.test):
        assert split.sampler["clip_len"] == clip_len and split.sampler["type"] == "SampleAVAFrames"
    assert cfg.data.test.sampler["test_mode"] and not cfg.data.train.sampler.get("test_mode")
    version = "2.2" if "ava22" in config else "2.1"
    assert cfg.data.val.ann_file == f"annotations/ava_val_v{version}.csv"
    assert (cfg.optim.lr, cfg.data.batch_size, cfg.schedule.epochs) == (
        extra.get("lr", 0.2), extra.get("batch_size", {"2.2": 6}.get(version, 16)),
        extra.get("epochs", 20),
    )  # fmt: skip
    model = build_model(cfg, log=lambda _: None, initial_weights=False)
    assert model.roi_head.bbox_head.fc_cls.in_features == head_in
    assert model.roi_head.bbox_head.fc_cls.out_features == 81
