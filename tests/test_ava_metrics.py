"""AVA frame-mAP (``actionkit.metrics.ava``): equal to MMAction2 1.2.0's ``ava_eval`` on
synthetic AVA files (fixture from its code: both protocols, exclusions, custom classes),
hand-worked cases for the matching and tie rules, and the file readers' errors."""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.errors import DataError
from actionkit.metrics.ava import (
    ava_frame_map,
    ava_rows,
    read_ava_csv,
    read_exclusions,
    read_label_map,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "ava_eval.pt"
KEYS = ("overall", "person_movement", "object_manipulation", "person_interaction")
LABELS = [{"id": 1, "name": "bend"}, {"id": 20, "name": "hold"}, {"id": 70, "name": "talk"}]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    fixture = torch.load(FIXTURE, weights_only=True)
    tmp = tmp_path_factory.mktemp("ava")
    paths = {}
    for seed, texts in fixture["texts"].items():
        for name, packed in texts.items():
            paths[seed, name] = tmp / f"{seed}_{name}.csv"
            paths[seed, name].write_text(zlib.decompress(packed).decode())
    return fixture, paths


def test_frame_map_equals_mmaction2(files):
    fixture, paths = files
    assert len(fixture["cases"]) == 8
    for case in fixture["cases"]:
        seed = case["seed"]
        got = ava_frame_map(
            paths[seed, "gt"],
            paths[seed, "detections"],
            paths[seed, "label_map"],
            paths[seed, "exclusions"] if case["exclude"] else None,
            protocol=case["protocol"],
            custom_classes=case["custom_classes"],
        )
        for key in KEYS:
            want = case["result"][key]
            if np.isnan(want):
                assert np.isnan(got[key]), (case, key)
            else:
                assert abs(got[key] - want) <= 1e-12, (case, key, got[key], want)
    # the cases differ from each other: each switch changes the result
    results = [c["result"]["overall"] for c in fixture["cases"]]
    assert len(set(results)) == len(results)


def test_in_memory_tables_equal_the_files(files):
    _, paths = files
    gt = read_ava_csv(paths[0, "gt"], "ground_truth")
    det = read_ava_csv(paths[0, "detections"])
    rows = [
        (v, t, *b, a, s)
        for v, t, b, a, s in zip(
            det.video, det.timestamp, det.boxes, det.action, det.score, strict=True
        )
    ]
    labels = read_label_map(paths[0, "label_map"])
    excluded = read_exclusions(paths[0, "exclusions"])
    a = ava_frame_map(gt, rows, labels, excluded)
    b = ava_frame_map(paths[0, "gt"], paths[0, "detections"], paths[0, "label_map"],
                      paths[0, "exclusions"])  # fmt: skip
    assert all(a[k] == b[k] for k in KEYS)
    assert str(a["per_class"]) == str(b["per_class"])  # (NaN APs: compared as text)
    # the row-by-row reader (quoted fields send files to it) reads the same numbers
    quoted = paths[0, "detections"].with_suffix(".quoted.csv")
    text = paths[0, "detections"].read_text()
    quoted.write_text("".join(f'"{line.split(",", 1)[0]}",{line.split(",", 1)[1]}\n'
                              for line in text.splitlines()))  # fmt: skip
    slow = read_ava_csv(quoted)
    assert (slow.video == det.video).all() and (slow.line == det.line).all()
    np.testing.assert_array_equal(slow.boxes, det.boxes)
    np.testing.assert_array_equal(slow.score, det.score)


def _box(x1, y1, x2, y2):
    return (x1, y1, x2, y2)


def test_matching_by_hand():
    # one keyframe, class 1: ground truth A = [0, 0, .4, .4] and B = [.5, .5, .9, .9].
    # detections by score: d1 on A (IoU 1), d2 on A again (best box taken: FP even though
    # it touches nothing else), d3 on B with IoU 0.12 / 0.16 = 0.75 (TP), d4 far away.
    a, b = _box(0, 0, 0.4, 0.4), _box(0.5, 0.5, 0.9, 0.9)
    gt = ava_rows(["v"] * 2, [902] * 2, [a, b], [1, 1])
    dets = [(a, 0.9), (_box(0, 0, 0.4, 0.38), 0.8), (_box(0.5, 0.5, 0.9, 0.8), 0.7),
            (_box(0.95, 0.95, 1, 1), 0.6)]  # fmt: skip
    det = ava_rows(["v"] * 4, [902] * 4, [d for d, _ in dets], [1] * 4, [s for _, s in dets])
    out = ava_frame_map(gt, det, LABELS)
    # ranked TP, FP, TP, FP: precision 1, 1/2, 2/3, 1/2 at recall 1/2, 1/2, 1, 1;
    # interpolated: 1 up to recall 1/2, then 2/3: AP = 1/2 * 1 + 1/2 * 2/3
    assert out["per_class"][1]["ap"] == pytest.approx(0.5 + 1 / 3, abs=1e-15)
    assert out["per_class"][1] == {"name": "bend", "ap": out["per_class"][1]["ap"],
                                   "num_gt": 2, "num_detections": 4}  # fmt: skip
    assert out["overall"] == out["person_movement"] == out["per_class"][1]["ap"]
    assert np.isnan(out["object_manipulation"]) and np.isnan(out["person_interaction"])
    # IoU exactly 0.5 counts (>=): binary fractions, exact in float32: 0.125 / 0.25
    square = ava_rows(["v"], [902], [_box(0, 0, 0.5, 0.5)], [1])
    half = ava_rows(["v"], [902], [_box(0, 0, 0.5, 0.25)], [1], [0.5])
    assert ava_frame_map(square, half, LABELS)["per_class"][1]["ap"] == 1.0
    below = ava_rows(["v"], [902], [_box(0, 0, 0.5, 0.2499)], [1], [0.5])
    assert ava_frame_map(square, below, LABELS)["per_class"][1]["ap"] == 0.0


def test_protocols_exclusions_and_classes_by_hand():
    a = _box(0.1, 0.1, 0.3, 0.3)
    # ground truth on keyframe 902 (class 1) and 903 (class 20); detections on 902
    # (class 1, right), 904 (class 1, a frame without ground truth) and 902 (class 70:
    # no ground truth at all)
    gt = ava_rows(["v", "v"], [902, 903], [a, a], [1, 20])
    det = ava_rows(["v", "v", "v"], [902, 904, 902], [a, a, a], [1, 1, 70], [0.5, 0.9, 0.4])
    out = ava_frame_map(gt, det, LABELS)  # MMAction2's: frame 904 is not scored
    assert out["per_class"][1]["ap"] == 1.0
    assert np.isnan(out["per_class"][70]["ap"])  # detected, no ground truth: NaN, left out
    assert 20 not in out["per_class"]  # ground truth, never detected: left out, not 0
    assert out["overall"] == 1.0
    every = ava_frame_map(gt, det, LABELS, protocol="all_frames")  # 904's box is an FP
    assert every["per_class"][1]["ap"] == pytest.approx(0.5)  # ranked FP, TP: P = 1/2
    # excluding 902 leaves class 1's ground truth counted (MMAction2 counts the whole
    # file) but nothing to score there
    excluded = ava_frame_map(gt, det, LABELS, exclusions={("v", 902)})
    assert excluded["per_class"] == {}
    assert np.isnan(excluded["overall"])
    # classes outside the label map or custom_classes are dropped from both files
    only_talk = ava_frame_map(gt, det, LABELS, protocol="all_frames", custom_classes=[70])
    assert list(only_talk["per_class"]) == [70]
    assert ava_frame_map(gt, det, LABELS, custom_classes=[70])["per_class"] == {}  # no GT
    with pytest.raises(ValueError, match=r"custom_classes \[5\] are not in the label map"):
        ava_frame_map(gt, det, LABELS, custom_classes=[5])
    with pytest.raises(ValueError, match="protocol must be one of"):
        ava_frame_map(gt, det, LABELS, protocol="pyslowfast")


def test_ties_keep_their_scoring_order():
    # two detections with equal scores, an FP on keyframe 902 and a TP on 903: ties rank
    # in scoring order (keyframes in ground-truth file order), so FP first: AP = 1/2; with
    # the keyframes listed the other way round, TP first: AP = 1
    a, far = _box(0.1, 0.1, 0.3, 0.3), _box(0.6, 0.6, 0.9, 0.9)
    det = ava_rows(["v", "v"], [902, 903], [far, a], [1, 1], [0.5, 0.5])
    gt = ava_rows(["v", "v"], [902, 903], [a, a], [1, 1])
    assert ava_frame_map(gt, det, LABELS)["per_class"][1]["ap"] == pytest.approx(0.5 * 0.5)
    gt_swapped = ava_rows(["v", "v"], [903, 902], [a, a], [1, 1])
    assert ava_frame_map(gt_swapped, det, LABELS)["per_class"][1]["ap"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "text, kind, message",
    [
        ("v,0902,0.1,0.1,0.2,0.2,1,0.5\nv,0902,0.1,0.1,0.2,1,0.5\n", "detections",
         r"det.csv:2: a detection needs a score \(8th field\)"),
        ("v,0902,0.1,0.1,0.2,0.2,1,0.5\nv,902.5,0.1,0.1,0.2,0.2,1,0.5\n", "detections",
         r"det.csv:2: timestamp '902.5' is not a whole second"),
        ("\nv,0902,0.1,0.1,0.2,x,1,0.5\n", "detections",
         r"det.csv:2: box \['0.1', '0.1', '0.2', 'x'\] is not four numbers"),
        ("v,0902,0.1,0.1,0.2,0.2,walk,0.5\n", "detections",
         r"det.csv:1: action id 'walk' is not an integer"),
        ("v,0902,0.1,0.1,0.2,0.2,1,nan\n", "detections",
         r"det.csv:1: NaN or inf in the box or score"),
        ("v,0902,0.1,0.1,0.2,0.2,1,p3\n", "ground_truth",
         r"det.csv:1: person id 'p3' is not a number"),
        ("v,0902,0.1,0.1,0.2,0.2\n", "ground_truth", r"det.csv:1: expected 7 or 8 fields, got 6"),
    ],
)  # fmt: skip
def test_csv_errors_name_file_and_line(tmp_path, text, kind, message):
    path = tmp_path / "det.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_ava_csv(path, kind)


def test_label_map_and_exclusions(tmp_path):
    path = tmp_path / "labels.pbtxt"
    path.write_text('item {\n  name: "bend/bow (at the waist)"\n  id: 1\n'
                    '  label_type: PERSON_MOVEMENT\n}\n'
                    'item {\n  name: "carry/hold (an object)"\n  label_id: 17\n}\n')  # fmt: skip
    assert read_label_map(path) == [
        {"id": 1, "name": "bend/bow (at the waist)"},
        {"id": 17, "name": "carry/hold (an object)"},
    ]
    path.write_text('item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n  id: 1\n}\n')
    with pytest.raises(DataError, match=r"labels.pbtxt:7: id 1 appears twice"):
        read_label_map(path)
    path.write_text("item {\n  id: 3\n}\n")
    with pytest.raises(DataError, match=r"labels.pbtxt:2: id 3 has no name before it"):
        read_label_map(path)
    path.write_text("nothing here\n")
    with pytest.raises(DataError, match="no label map items"):
        read_label_map(path)
    ex = tmp_path / "ex.csv"
    ex.write_text("v1,0902\n\nv2,1000\n")
    assert read_exclusions(ex) == {("v1", 902), ("v2", 1000)}
    ex.write_text("v1,0902,3\n")
    with pytest.raises(DataError, match=r"ex.csv:1: expected video_id,timestamp"):
        read_exclusions(ex)
    with pytest.raises(FileNotFoundError, match="no such AVA CSV"):
        read_ava_csv(tmp_path / "missing.csv")
