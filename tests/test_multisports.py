"""MultiSports evaluation against MMAction2 1.2.0's own code (frameAP, link_tubes, videoAP,
videoAP_all on generated ground truth and detections: dev/mmaction_multisports_fixtures.py)
and against hand-worked cases."""

import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from actionkit.errors import DataError
from actionkit.metrics.multisports import (
    MultiSportsGT,
    detections_from_boxes,
    frame_map,
    link_tubes,
    load_multisports_gt,
    multisports_metrics,
    tube_iou,
    video_map,
    video_map_ranges,
    voc_ap,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "multisports.json"


@pytest.fixture(scope="module")
def recorded():
    data = json.loads(FIXTURE.read_text())
    gt = MultiSportsGT.from_dict(data["inputs"]["gt"], "fixture")
    return data, gt, np.array(data["inputs"]["detections"])


def test_the_fixture_ground_truth_reads_as_the_pickle_holds_it(recorded):
    data, gt, _ = recorded
    assert gt.videos == data["inputs"]["gt"]["test_videos"][0] and len(gt.labels) == 6
    assert sum(len(t) for tubes in gt.tubes.values() for t in tubes.values()) >= 8


@pytest.mark.parametrize("thr", ["0.3", "0.5"])
def test_frame_map_equals_mmaction2(recorded, thr):
    data, gt, dets = recorded
    ours, per_class = frame_map(gt, dets, float(thr))
    assert ours == pytest.approx(data["frame_ap"][thr], abs=1e-9)
    assert "aerobic kick jump" not in per_class  # one of the six left out


def tubes_equal(ours, theirs):
    for label, found in theirs.items():
        mine = ours[int(label)]
        assert len(mine) == len(found), label
        for (v, score, tube), (v2, score2, tube2) in zip(mine, found, strict=True):
            assert v == v2 and score == pytest.approx(score2, rel=1e-12)
            np.testing.assert_array_equal(tube, np.array(tube2, dtype=np.float32))
    assert all(not t for c, t in ours.items() if str(c) not in theirs)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("tubes", {}),
        ("tubes_min5", {"min_length": 5}),
        ("tubes_mmaction2", {"mmaction2_scores": True}),
    ],
)
def test_linked_tubes_equal_mmaction2(recorded, name, kwargs):
    data, gt, dets = recorded
    tubes_equal(link_tubes(gt, dets, **kwargs), data[name])


@pytest.mark.parametrize("name", ["own", "min5", "mmaction2"])
def test_video_map_equals_mmaction2(recorded, name):
    data, gt, dets = recorded
    kwargs = {"own": {}, "min5": {"min_length": 5}, "mmaction2": {"mmaction2_scores": True}}
    tubes = link_tubes(gt, dets, **kwargs[name])
    for thr, theirs in data[f"video_ap_{name}"].items():
        assert video_map(gt, tubes, float(thr))[0] == pytest.approx(theirs, abs=1e-9), thr
    ranges = video_map_ranges(gt, tubes)
    for key, theirs in data[f"video_ap_all_{name}"].items():
        assert ranges[key] == pytest.approx(theirs, abs=5e-5), key  # (theirs: 4 decimals)


def test_the_mmaction2_linking_scores_differ_from_the_detectors(recorded):
    data, gt, dets = recorded
    own = [s for t in link_tubes(gt, dets).values() for _, s, _ in t]
    shipped = [s for t in link_tubes(gt, dets, mmaction2_scores=True).values() for _, s, _ in t]
    assert len(own) == len(shipped) and own != pytest.approx(shipped)


def test_multisports_metrics_keys(recorded):
    data, gt, dets = recorded
    m = multisports_metrics(gt, dets)
    assert set(m) == {
        "frameAP",
        "v_map@0.2",
        "v_map@0.5",
        "v_map_0.05:0.45",
        "v_map_0.10:0.90",
        "v_map_0.50:0.95",
    }
    assert m["frameAP"] == pytest.approx(data["frame_ap"]["0.5"])
    assert m["v_map@0.5"] == pytest.approx(data["video_ap_own"]["0.5"])


def test_hand_worked_ap_and_tube_iou():
    # ranked hits 1, 0, 1 of 4 positives: precision 1, 1/2, 2/3 at recall 1/4, 1/4, 2/4;
    # envelope 1 up to 1/4, 2/3 up to 2/4, then 0: AP = 1/4 + 2/3 / 4
    assert voc_ap(np.array([1, 0, 1]), 4) == pytest.approx(0.25 + 2 / 12)
    assert voc_ap(np.zeros(0), 3) == 0.0
    frames = np.arange(1, 11)[:, None]
    a = np.concatenate([frames, np.tile([0, 0, 10, 10], (10, 1))], 1).astype(float)
    b = a[4:].copy()  # frames 5-10, same boxes: temporal (10 - 5) / (10 - 1)
    assert tube_iou(a, b) == pytest.approx(5 / 9)
    b[:, 3] = 20  # twice as wide on the shared frames: box IoU 1/2
    assert tube_iou(a, b) == pytest.approx(5 / 9 / 2)
    assert tube_iou(a[:3], a[5:]) == 0.0


def test_a_perfect_detector_scores_100():
    gt = MultiSportsGT.from_dict(
        {
            "labels": ["a", "b"],
            "test_videos": [["v"]],
            "nframes": {"v": 20},
            "resolution": {"v": (100, 200)},
            "gttubes": {"v": {1: [np.array([[f, 10, 10, 50, 50] for f in range(3, 20)])]}},
        }
    )
    rows = [
        detections_from_boxes(gt, "v", f, [[0.05, 0.1, 0.25, 0.5]], [[0.1, 0.9]])
        for f in range(3, 20)
    ]
    dets = np.concatenate(rows)
    assert dets[0].tolist() == [0, 3, 1, 0.9, 10, 10, 50, 50]
    m = multisports_metrics(gt, dets, ranges=False)
    assert m == {"frameAP": 100.0, "v_map@0.2": 100.0, "v_map@0.5": 100.0}


def test_the_ground_truth_pickle_is_read_as_data(tmp_path):
    good = {
        "labels": ["a"],
        "test_videos": [["v"]],
        "nframes": {"v": 5},
        "resolution": {"v": (10, 10)},
        "gttubes": {"v": {0: [np.array([[1, 0, 0, 5, 5], [2, 0, 0, 5, 5]], np.float32)]}},
    }
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps(good))
    gt = load_multisports_gt(path)
    assert gt.nframes == {"v": 5} and gt.tubes["v"][0][0].shape == (2, 5)

    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path.write_bytes(pickle.dumps({**good, "labels": Payload()}))
    with pytest.raises(DataError, match="refusing to unpickle builtins.print"):
        load_multisports_gt(path)
    path.write_bytes(pickle.dumps({k: v for k, v in good.items() if k != "gttubes"}))
    with pytest.raises(DataError, match="missing key 'gttubes'"):
        load_multisports_gt(path)
    gap = {**good, "gttubes": {"v": {0: [np.array([[1, 0, 0, 5, 5], [3, 0, 0, 5, 5]])]}}}
    path.write_bytes(pickle.dumps(gap))
    with pytest.raises(DataError, match="consecutive"):
        load_multisports_gt(path)


def test_detections_outside_the_ground_truth_are_named(recorded):
    _, gt, dets = recorded
    bad = dets.copy()
    bad[0, 0] = 99
    with pytest.raises(DataError, match="video index"):
        frame_map(gt, bad)
    bad = dets.copy()
    bad[0, 1] = 1000
    with pytest.raises(DataError, match="a frame outside"):
        link_tubes(gt, bad)


def test_equal_scores_rank_in_input_order():
    gt = MultiSportsGT.from_dict(
        {
            "labels": ["a"],
            "test_videos": [["v"]],
            "nframes": {"v": 3},
            "gttubes": {"v": {0: [np.array([[2, 0, 0, 10, 10]])]}},
        }
    )
    miss, hit = [0, 2, 0, 0.5, 50, 50, 60, 60], [0, 2, 0, 0.5, 0, 0, 10, 10]
    assert frame_map(gt, [miss, hit])[0] == 50.0  # the miss ranks first: precision 1/2
    assert frame_map(gt, [hit, miss])[0] == 100.0


@pytest.mark.parametrize("case", range(3))
def test_single_label_detection_loss_equals_mmaction2(recorded, case):
    import torch

    from actionkit.models.detector import BBoxHeadAVA

    c = recorded[0]["single_label_losses"][case]
    labels = torch.tensor(c["labels"])
    head = BBoxHeadAVA(
        16, labels.shape[1], background_class=c["background_class"], multilabel=False,
        focal_gamma=c["focal_gamma"], focal_alpha=c["focal_alpha"],
    )  # fmt: skip
    padded = torch.cat([labels, torch.zeros(c["negatives"], labels.shape[1])])
    loss = head.loss(torch.tensor(c["logits"]), padded)
    assert float(loss) == pytest.approx(c["loss"], rel=1e-6)


def test_a_single_label_head_scores_with_a_softmax():
    import torch

    from actionkit.models.detector import BBoxHeadAVA

    logits = torch.tensor([[1.0, 2.0, -1.0]])
    single = BBoxHeadAVA(4, 3, background_class=False, multilabel=False).scores(logits)
    torch.testing.assert_close(single, logits.softmax(-1))
    torch.testing.assert_close(BBoxHeadAVA(4, 3).scores(logits), logits.sigmoid())


def test_annotations_without_a_background_class_start_at_0(tmp_path):
    from actionkit.data.ava import load_ava_annotations

    csv = tmp_path / "a.csv"
    csv.write_text("v.mp4,3,0.1,0.1,0.5,0.5,0,0\nv.mp4,3,0.1,0.1,0.5,0.5,2,0\n")
    (frame,) = load_ava_annotations(csv, 3, timestamp_start=1, background_class=False)
    assert frame.labels.tolist() == [[1, 0, 1]]
    with pytest.raises(DataError, match=r"action id 0 is outside 1..2"):
        load_ava_annotations(csv, 3, timestamp_start=1)
    csv.write_text("v.mp4,3,0.1,0.1,0.5,0.5,3,0\n")
    with pytest.raises(DataError, match=r"action id 3 is outside 0..2 .*no background"):
        load_ava_annotations(csv, 3, timestamp_start=1, background_class=False)


MULTISPORTS_DEMO = Path(__file__).parents[1] / "configs" / "demo" / "multisports_synthetic.yaml"
SYNTHETIC = "data.synthetic_ava={train_videos: 2, test_videos: 1, duration: 5}"
WH = np.array([192, 144, 192, 144])  # the synthetic videos' width and height


def synthetic_multisports(root: Path) -> None:
    """The synthetic detection set (2 + 1 videos of 5 s) and the MultiSports-style ground
    truth of its test split: the postures (one an actor every second; action ids 1-3, so
    class c is column c + 1)."""
    from actionkit.data import synthetic_ava

    synthetic_ava.make_dataset(root, train_videos=2, test_videos=1, duration=5)
    synthetic_ava.write_multisports_gt(root, root / "gt.pkl", "test", [1, 2, 3])


def test_the_detection_evaluator_scores_multisports(tmp_path):
    """An oracle that scores each actor's posture 1 on its proposal gets what the metric
    gives those proposals directly: the evaluator's keys, frames, boxes and classes line
    up."""
    import torch

    from actionkit.config import load_config
    from actionkit.data.ava import keyframe_proposals
    from actionkit.engine.builder import build_loader
    from actionkit.engine.evaluate import DetectionEvaluator

    root = tmp_path / "data"
    synthetic_multisports(root)
    overrides = [f"data.root={root}", SYNTHETIC, "data.num_workers=0"]
    overrides += ["data.ava.gt_file=gt.pkl", "data.ava.tube_min_length=1"]
    cfg = load_config(MULTISPORTS_DEMO, overrides)
    loader, _ = build_loader(cfg, "test", evaluate=True)

    class Oracle:
        roi_head = SimpleNamespace(bbox_head=SimpleNamespace(fc_cls=torch.nn.Linear(1, 4)))

        def eval(self):
            pass

        def predict(self, inputs, proposals, img_keys):
            out = []
            for labels in self.batch["gt_labels"]:
                first = torch.zeros_like(labels)
                first[torch.arange(len(labels)), (labels > 0).float().argmax(1)] = 1
                out.append(first)
            return out

    oracle = Oracle()

    class Feed:
        dataset = loader.dataset

        def __iter__(self):
            for batch in loader:
                oracle.batch = batch
                yield batch

    metrics = DetectionEvaluator(cfg).evaluate(oracle, Feed(), torch.device("cpu"))
    gt = load_multisports_gt(root / "gt.pkl")
    ds, rows = loader.dataset, []
    for kf in sorted(ds.keyframes, key=lambda kf: kf.key):  # (the evaluator's order: ties)
        boxes, _ = keyframe_proposals(ds.proposals, kf.key, ds.person_det_score_thr,
                                      ds.num_max_proposals, ds.proposal_file)  # fmt: skip
        assert len(boxes) == len(kf.labels)  # (one noisy proposal an actor, in their order)
        for box, labels in zip(boxes, kf.labels, strict=True):
            label = np.flatnonzero(labels)[0] - 1  # (column 0: the background)
            rows.append([gt.videos.index(kf.video_id), kf.timestamp, label, 1.0, *(box * WH)])
    expected = multisports_metrics(gt, np.array(rows), min_length=1)
    assert metrics["frameAP"] > 90  # (noisy proposals: a few under IoU 0.5)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert metrics["num_detections"] == len(rows) and metrics["num_samples"] == 4


@pytest.mark.slow
def test_train_and_test_with_the_multisports_metric(tmp_path):
    """The plumbing, through configs/demo/multisports_synthetic.yaml (its ground truth
    written on first use): a detector trained one epoch, evaluated by MultiSports' metric."""
    from actionkit.cli import test as test_cli
    from actionkit.cli import train

    config = str(MULTISPORTS_DEMO)
    args = [f"data.root={tmp_path / 'data'}", SYNTHETIC, "schedule.epochs=1"]
    args += ["data.batch_size=2", "data.num_workers=0"]
    assert train.main([config, "--work-dir", str(tmp_path / "w"), "--set", *args]) == 0
    assert load_multisports_gt(tmp_path / "data" / "multisports_gt.pkl").labels == [
        "stand",
        "sit",
        "walk",
    ]
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert {"frameAP", "v_map@0.2", "v_map@0.5", "v_map_0.50:0.95"} <= set(metrics)
    assert 0 <= metrics["frameAP"] <= 100
    out = tmp_path / "test"
    checkpoint = str(tmp_path / "w" / "best.pth")
    assert test_cli.main([config, checkpoint, "--out", str(out), "--set", *args]) == 0
    csv = (out / "detections.csv").read_text().splitlines()
    assert len(csv) == metrics["num_detections"] and csv[0].count(",") == 7
    assert {int(line.split(",")[6]) for line in csv} <= {0, 1, 2}
    # a ground truth of other classes than the model's is refused, naming both
    six = ["--set", *args, "data.ava.gt_file=six.pkl"]
    from actionkit.data import synthetic_ava

    synthetic_ava.write_multisports_gt(tmp_path / "data", tmp_path / "data" / "six.pkl")
    assert test_cli.main([config, checkpoint, *six]) == 1


def test_the_synthetic_ground_truth_follows_the_annotations(tmp_path):
    from actionkit.data import synthetic_ava
    from actionkit.data.ava import load_ava_annotations

    synthetic_ava.make_dataset(tmp_path, train_videos=1, test_videos=2, duration=6)
    out = synthetic_ava.write_multisports_gt(tmp_path, tmp_path / "gt.pkl", "test", [1, 2, 3])
    gt = load_multisports_gt(out)
    assert gt.labels == ["stand", "sit", "walk"] and len(gt.videos) == 2
    assert gt.nframes == {v: 906 for v in gt.videos} and gt.resolution[gt.videos[0]] == (144, 192)
    rows = {(v, int(r[0]), c, *np.round(r[1:], 3)) for v in gt.videos
            for c, tubes in gt.tubes[v].items() for t in tubes for r in t}  # fmt: skip
    expected = set()
    for kf in load_ava_annotations(tmp_path / "test.csv", 7):
        for box, labels in zip(kf.boxes, kf.labels, strict=True):
            posture = int(np.flatnonzero(labels[1:4])[0])  # exactly one a second
            expected.add((kf.video_id, kf.timestamp, posture, *np.round(box * WH, 3)))
    assert rows == expected
    for v in gt.videos:  # tubes: runs of consecutive seconds
        for tubes in gt.tubes[v].values():
            assert all(np.all(np.diff(t[:, 0]) == 1) for t in tubes)
