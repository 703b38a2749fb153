"""AVA data (``actionkit.data.ava``) against MMAction2 1.2.0's ``AVADataset`` and
``SampleAVAFrames`` (fixture from its code on a hand-written CSV and proposal pickle),
and the errors bad files get."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data.ava import (
    SampleAVAFrames,
    keyframe_proposals,
    load_ava_annotations,
    load_ava_proposals,
)
from actionkit.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "ava_data.pt"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    fx = torch.load(FIXTURE, weights_only=True)
    tmp = tmp_path_factory.mktemp("ava")
    (tmp / "ann.csv").write_text(fx["annotations"])
    (tmp / "exc.csv").write_text(fx["excluded"])
    proposals = {k: v.numpy() for k, v in fx["proposals"].items()}
    (tmp / "prop.pkl").write_bytes(pickle.dumps(proposals))
    return fx, tmp


def test_keyframes_and_proposals_equal_mmaction2(fixture):
    fx, tmp = fixture
    proposals = load_ava_proposals(tmp / "prop.pkl")
    for case in fx["cases"]:
        custom = case["custom_classes"]
        keyframes = load_ava_annotations(
            tmp / "ann.csv",
            num_classes=81 if custom is None else len(custom) + 1,
            custom_classes=custom,
            exclusions=tmp / "exc.csv" if case["exclude"] else None,
        )
        assert [k.key for k in keyframes] == [i["img_key"] for i in case["infos"]]
        for got, want in zip(keyframes, case["infos"], strict=True):
            assert (got.video_id, got.timestamp) == (want["video_id"], want["timestamp"])
            np.testing.assert_array_equal(got.boxes, want["gt_bboxes"].numpy())
            assert got.boxes.dtype == np.float64
            np.testing.assert_array_equal(got.labels, want["gt_labels"].numpy())
            assert got.labels.dtype == np.float32
            np.testing.assert_array_equal(got.entity_ids, want["entity_ids"].numpy())
            boxes, scores = keyframe_proposals(proposals, got.key, case["thr"], case["max"])
            np.testing.assert_array_equal(boxes, want["proposals"].numpy())
            if "scores" in want:
                np.testing.assert_array_equal(scores, want["scores"].numpy())
            else:
                assert scores is None


def test_clip_frames_equal_mmaction2_in_legacy_mode(fixture):
    fx, _ = fixture
    assert len(fx["frames"]) == 20
    for case in fx["frames"]:
        clip_len, step, ts = case["clip_len"], case["interval"], case["timestamp"]
        legacy = SampleAVAFrames(clip_len, step, test_mode=True, legacy=True)
        got = legacy(ts, total_frames=27000, start_index=1)
        np.testing.assert_array_equal(got, case["test"].numpy())
        # ours: the keyframe's own frame (0-based 30 * (ts - 900), file number + 1)
        ours = SampleAVAFrames(clip_len, step, test_mode=True)(ts, 27000, start_index=1)
        center = 30 * (ts - 900)
        want = np.clip(center + step * (np.arange(clip_len) - clip_len // 2), 0, 26999) + 1
        np.testing.assert_array_equal(ours, want)
        # training: MMAction2's draws (its global RNG, seeded) lie in our jitter range,
        # and ours cover that range
        jitter = case["train"].numpy() - case["test"].numpy()
        inside = (case["test"].numpy() > 1) & (case["test"].numpy() < 27000)
        assert ((jitter[inside] >= -step // 2) & (jitter[inside] < (step + 1) // 2)).all()
    sampler = SampleAVAFrames(4, 16, legacy=True)
    rng = np.random.default_rng(0)
    base = SampleAVAFrames(4, 16, test_mode=True, legacy=True)(1000, 27000, start_index=1)
    draws = np.stack([sampler(1000, 27000, start_index=1, rng=rng) for _ in range(400)]) - base
    assert draws.min() == -8 and draws.max() == 7


def test_frames_are_clipped_to_the_video():
    sampler = SampleAVAFrames(8, 8, test_mode=True)
    np.testing.assert_array_equal(sampler(902, 100), [28, 36, 44, 52, 60, 68, 76, 84])
    np.testing.assert_array_equal(sampler(903, 100), [58, 66, 74, 82, 90, 98, 99, 99])
    np.testing.assert_array_equal(sampler(900, 100), [0, 0, 0, 0, 0, 8, 16, 24])
    with pytest.raises(ValueError, match="clip_len and frame_interval must be positive"):
        SampleAVAFrames(0)


@pytest.mark.parametrize(
    "row, message",
    [
        ("vidA,0902,0.1,0.2,0.4,0.9,12", r"ann.csv:2: expected 8 fields .*got 7"),
        ("vidA,0902,0.1,0.2,0.4,0.9,walk,0", r"ann.csv:2: timestamp, action_id and person_id"),
        ("vidA,0902,0.1,0.2,1.4,0.9,12,0", r"ann.csv:2: box .* is not inside \[0, 1\]"),
        ("vidA,0902,0.5,0.2,0.4,0.9,12,0", r"ann.csv:2: box .* has x2 < x1"),
        ("vidA,0902,0.1,0.2,0.4,nan,12,0", r"ann.csv:2: box .* is not inside \[0, 1\]"),
        ("vidA,0899,0.1,0.2,0.4,0.9,12,0", r"ann.csv:2: timestamp 899 is outside .*\[900, 1800\]"),
        ("vidA,0902,0.1,0.2,0.4,0.9,81,0", r"ann.csv:2: action id 81 is outside 1..80"),
        ("vidA,0902,0.1,0.2,0.4,0.9,0,0", r"ann.csv:2: action id 0 is outside 1..80"),
    ],
)
def test_bad_annotation_rows_name_file_and_line(tmp_path, row, message):
    (tmp_path / "ann.csv").write_text(f"vidA,0902,0.1,0.2,0.4,0.9,12,0\n{row}\n")
    with pytest.raises(DataError, match=message):
        load_ava_annotations(tmp_path / "ann.csv")


def test_custom_classes_and_proposal_files(tmp_path):
    (tmp_path / "ann.csv").write_text("vidA,0902,0.1,0.2,0.4,0.9,12,0\n")
    with pytest.raises(ValueError, match="num_classes must be len\\(custom_classes\\) \\+ 1 = 3"):
        load_ava_annotations(tmp_path / "ann.csv", num_classes=81, custom_classes=[12, 5])
    with pytest.raises(ValueError, match="0 is not an action id"):
        load_ava_annotations(tmp_path / "ann.csv", num_classes=3, custom_classes=[0, 5])

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"vidA,0902": Evil()}))
    with pytest.raises(DataError, match="refusing to unpickle builtins.print — a proposal file"):
        load_ava_proposals(tmp_path / "evil.pkl")
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps({"vidA,0902": np.zeros((2, 3))}))
    with pytest.raises(DataError, match=r"vidA,0902: expected \[N, 4\] or \[N, 5\] numbers"):
        load_ava_proposals(tmp_path / "bad.pkl")
    (tmp_path / "key.pkl").write_bytes(pickle.dumps({"vidA-0902": np.zeros((2, 5))}))
    with pytest.raises(DataError, match="key 'vidA-0902' is not 'video_id,timestamp'"):
        load_ava_proposals(tmp_path / "key.pkl")
    pixels = {"vidA,0902": np.array([[10.0, 20, 200, 300, 0.99]])}
    with pytest.raises(DataError, match="proposals must be normalised to \\[0, 1\\]"):
        keyframe_proposals(pixels, "vidA,0902")
