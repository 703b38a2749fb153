"""``actionkit-infer --task detection`` and ``apis.inference_detector``: a detector trained
for a few steps on a tiny synthetic AVA set scores a raw video's keyframes exactly as
``actionkit-test`` scores the same keyframes; boxes from a proposal pickle, a CSV or
torchvision's Faster R-CNN (random weights: plumbing)."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.apis import inference_detector, init_recognizer, keyframe_timestamps
from actionkit.cli import infer, train
from actionkit.cli import test as test_cli
from actionkit.data.ava import keyframe_proposals, load_ava_proposals, read_box_csv
from actionkit.data.decode import VideoReader
from actionkit.errors import CheckpointError, DataError, UsageError

DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo" / "ava_synthetic.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The demo config on 2 + 1 videos of 4 s, one epoch of 3 steps."""
    tmp = tmp_path_factory.mktemp("ava_infer")
    shorter = [
        f"data.root={tmp / 'data'}",
        "data.synthetic_ava={train_videos: 2, test_videos: 1, duration: 4}",
        "schedule.epochs=1",
        "data.batch_size=2",
        "data.num_workers=0",
    ]
    assert train.main([str(DEMO), "--work-dir", str(tmp / "w"), "--set", *shorter]) == 0
    out = tmp / "test"
    args = [str(DEMO), str(tmp / "w" / "best.pth"), "--out", str(out), "--set", *shorter]
    assert test_cli.main(args) == 0
    return tmp, (out / "detections.csv").read_text().splitlines()


def test_keyframe_timestamps():
    assert keyframe_timestamps(32, 8.0, 900) == [901, 902, 903]
    assert keyframe_timestamps(33, 8.0) == [1, 2, 3, 4]
    assert keyframe_timestamps(300, 29.97) == list(range(1, 11))


def test_checkpoint_names_the_label_map_classes(trained):
    tmp, _ = trained
    model = init_recognizer(None, tmp / "w" / "best.pth")
    assert model.labels == ["background", "stand", "sit", "walk", "raise_arm", "wave", "carry"]


def test_infer_with_proposals_equals_the_test_command(trained, tmp_path, capsys):
    tmp, tested = trained
    video = tmp / "data" / "videos" / "test_0000.mp4"
    ckpt = str(tmp / "w" / "best.pth")
    proposals = str(tmp / "data" / "proposals_test.pkl")
    out = tmp_path / "overlay.mp4"
    args = ["--task", "detection", ckpt, str(video), "--proposals", proposals, "--out", str(out)]
    assert infer.main(args) == 0
    rows = (tmp_path / "test_0000_detections.csv").read_text().splitlines()
    # the same keyframes, proposals, clips and pipeline as actionkit-test: the same rows
    assert sorted(rows) == sorted(r for r in tested if r.startswith("test_0000,"))
    assert len(rows) == 6 * sum(  # every action of every kept proposal (action_thr 0.002)
        len(keyframe_proposals(load_ava_proposals(proposals), f"test_0000,{ts:04d}")[0])
        for ts in (901, 902, 903)
    )
    printed = capsys.readouterr().out
    assert "   901s  actor 1 [" in printed and "wrote" in printed
    with VideoReader(out) as reader:  # upscaled to a 256-pixel short side
        assert len(reader) == 32 and reader.get_frames([0]).shape == (1, 256, 342, 3)


def test_infer_with_a_box_csv(trained, tmp_path):
    tmp, _ = trained
    video = tmp / "data" / "videos" / "test_0000.mp4"
    boxes = tmp_path / "people.csv"
    # the ground-truth boxes as a person detector's CSV (7 fields), one keyframe left out
    with open(tmp / "data" / "test.csv") as f:
        gt = {(r[1], tuple(r[2:6])) for r in csv.reader(f) if r[0] == "test_0000"}
    gt = sorted(g for g in gt if g[0] != "0902")
    boxes.write_text("".join(f"test_0000,{ts},{','.join(b)},0.97\n" for ts, b in gt))
    table = read_box_csv(boxes)
    assert sorted(table) == ["test_0000,0901", "test_0000,0903"]
    model = init_recognizer(None, tmp / "w" / "best.pth")

    def boxes_of(ts, frame):
        assert frame.shape == (144, 192, 3) and frame.dtype == np.uint8
        key = f"test_0000,{ts:04d}"
        return (table[key][:, :4], table[key][:, 4]) if key in table else (np.zeros((0, 4)), [])

    found = inference_detector(model, video, boxes_of)
    assert [k.timestamp for k in found] == [901, 902, 903]
    assert found[1].scores.shape == (0, 7)  # no boxes at 902: nothing scored
    for k in found[::2]:
        assert np.allclose(k.boxes, table[f"test_0000,{k.timestamp:04d}"][:, :4])
        assert k.scores.shape == (len(k.boxes), 7) and ((k.scores > 0) & (k.scores < 1)).all()
    out = tmp_path / "csv_run"
    args = ["--task", "detection", str(tmp / "w" / "best.pth"), str(video), "--proposals",
            str(boxes), "--csv", str(out / "d.csv")]  # fmt: skip
    assert infer.main(args) == 0
    rows = [r.split(",") for r in (out / "d.csv").read_text().splitlines()]
    assert {r[1] for r in rows} == {"0901", "0903"} and len(rows) == 6 * len(gt)


def test_box_csv_formats_and_errors(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text(
        "v,0902,0.1,0.2,0.3,0.4,12,0.5\n"  # AVA detection rows: one box per action...
        "v,0902,0.1,0.2,0.3,0.4,80,0.75\n"  # ...kept once, with its best score
        "v,902,0.5,0.5,0.6,0.7\n"
        "\n"
        "w,0903,0,0,1,1,0.3\n"
    )
    table = read_box_csv(path)
    assert set(table) == {"v,0902", "w,0903"}
    assert np.array_equal(table["v,0902"], np.float32([[0.1, 0.2, 0.3, 0.4, 0.75],
                                                       [0.5, 0.5, 0.6, 0.7, 1.0]]))  # fmt: skip
    assert np.array_equal(load_ava_proposals(path)["w,0903"], np.float32([[0, 0, 1, 1, 0.3]]))
    for text, message in [
        ("v,0902,0.1,0.2,0.3\n", r"b.csv:1: expected video_id, timestamp"),
        ("v,0902,0.1,0.2,0.3,0.4\nv,x,0.1,0.2,0.3,0.4\n", r"b.csv:2: not a number"),
        ("v,0902,0.5,0.2,0.3,0.4\n", r"b.csv:1: box .* is not x1 <= x2"),
        ("v,0902,0.1,0.2,0.3,1.5\n", r"b.csv:1: box .* in \[0, 1\]"),
        ("\n", r"b.csv: no boxes"),
    ]:
        path.write_text(text)
        with pytest.raises(DataError, match=message):
            read_box_csv(path)


def test_infer_with_faster_rcnn_random_weights(trained, tmp_path):
    tv = pytest.importorskip("torchvision")
    from actionkit.pose_estimation import PersonDetector

    torch.manual_seed(0)
    detector = tv.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91
    )
    with torch.no_grad():  # random weights that find "persons" (class 1) everywhere
        detector.roi_heads.box_predictor.cls_score.bias[1] = 10.0
    weights = tmp_path / "frcnn.pth"
    torch.save(detector.state_dict(), weights)
    frame = np.random.default_rng(0).integers(0, 256, (2, 96, 128, 3), dtype=np.uint8)
    found = PersonDetector(weights, det_score=0.0, min_size=96, max_size=128)(frame)
    assert len(found) == 2
    for boxes, scores in found:
        assert len(boxes) > 0 and boxes.shape == (len(scores), 4) and (np.diff(scores) <= 0).all()
        assert (boxes[:, 2:] >= boxes[:, :2]).all() and boxes.max() <= 128
    tmp, _ = trained
    video = tmp / "data" / "videos" / "test_0000.mp4"
    args = ["--task", "detection", str(tmp / "w" / "best.pth"), str(video), "--det-weights",
            str(weights), "--det-score", "0", "--det-min-size", "96", "--csv",
            str(tmp_path / "d.csv"), "--out", str(tmp_path / "o.gif")]  # fmt: skip
    assert infer.main(args) == 0
    rows = [r.split(",") for r in (tmp_path / "d.csv").read_text().splitlines()]
    assert rows and {r[0] for r in rows} == {"test_0000"}
    assert {r[1] for r in rows} <= {"0901", "0902", "0903"}
    assert all(0 <= float(v) <= 1 for r in rows for v in r[2:6])
    from PIL import Image

    with Image.open(tmp_path / "o.gif") as gif:  # (identical frames in a row are merged)
        assert 1 < gif.n_frames <= 32 and gif.size == (342, 256)
    torch.save({"not.a.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="bad.pth: not fasterrcnn_resnet50_fpn weights"):
        PersonDetector(tmp_path / "bad.pth")


def test_infer_detection_usage_errors(trained, capsys):
    tmp, _ = trained
    video = str(tmp / "data" / "videos" / "test_0000.mp4")
    ckpt = str(tmp / "w" / "best.pth")
    base = ["--task", "detection", ckpt, video]
    proposals = str(tmp / "data" / "proposals_train.pkl")
    for extra, message in [
        ([], "give the actors' boxes, either --proposals FILE"),
        (["--proposals", proposals, "--det-weights", ckpt], "either --proposals FILE"),
        (["--proposals", proposals], "has no boxes of video 'test_0000'"),
        (["--proposals", proposals, "--window", "2"], "--window: a detection model scores"),
        (["--proposals", proposals, "--out", "x.avi"], "--out: x.avi must end in .mp4 or .gif"),
    ]:
        assert infer.main([*base, *extra]) == 1
        assert message in capsys.readouterr().err
    model = init_recognizer(None, ckpt)
    with pytest.raises(UsageError, match="timestamp 950 is frame 400, outside its 32 frames"):
        inference_detector(model, video, lambda ts, f: ([], []), timestamps=[950])
