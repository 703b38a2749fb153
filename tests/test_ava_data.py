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


def test_boxes_follow_the_transforms_as_in_mmaction2(fixture):
    # MMAction2's draws (rescaled size, crop, flip) replayed on our transforms: the boxes
    # it made, to float32 rounding
    from actionkit.data.transforms import Clip, Flip, RandomRescale, Resize, rescale_size

    fx, _ = fixture
    assert len(fx["geometry"]) == 12
    for case in fx["geometry"]:
        h, w = case["frame"]
        rois = {"gt_bboxes": case["gt"].double(), "proposals": case["proposals"].double()}
        clip = Clip(torch.zeros(2, h, w, 3, dtype=torch.uint8), 1, 2, rois=rois)
        rh, rw = (int(v) for v in case["rescaled"])
        assert rescale_size(h, w, (-1, min(rh, rw))) == (rh, rw)  # a short side in range
        assert 256 <= min(rh, rw) <= 320
        out = Resize((rw, rh), keep_ratio=False)(clip)
        out = out.crop(*(int(v) for v in case["crop"]))
        if case["flip"]:
            out = Flip(1.0)(out)
        assert out.size == tuple(int(v) for v in case["train_shape"])
        for ours, theirs in (("gt_bboxes", "train_gt"), ("proposals", "train_proposals")):
            torch.testing.assert_close(out.rois[ours].float(), case[theirs], atol=1e-4, rtol=0)
        test = Resize((-1, 256))(clip)
        assert test.size == tuple(int(v) for v in case["test_shape"])
        torch.testing.assert_close(
            test.rois["gt_bboxes"].float(), case["test_gt"], atol=1e-4, rtol=0
        )
    # RandomRescale draws the short side from the whole range, both ends included
    clip = Clip(torch.zeros(1, 240, 320, 3, dtype=torch.uint8))
    rng = np.random.default_rng(0)
    sides = {RandomRescale((256, 260))(clip, rng).size[0] for _ in range(200)}
    assert sides == {256, 257, 258, 259, 260}
    with pytest.raises(ValueError, match="boxes \\(rois\\) ride on single-view clips"):
        from actionkit.data.transforms import ThreeCrop

        ThreeCrop(64)(Clip(torch.zeros(1, 64, 96, 3, dtype=torch.uint8), rois=rois))


def _ava_frames(t: int = 60, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame i is grey 4 i: which frame was decoded can be read back from its pixels."""
    return np.repeat((4 * np.arange(t)).astype(np.uint8), h * w * 3).reshape(t, h, w, 3)


@pytest.mark.parametrize("source", ["rawframes", "video"])
def test_dataset_reads_the_clip_around_each_keyframe(tmp_path, source):
    from PIL import Image

    from actionkit.data.ava import AVADataset, collate_detection
    from actionkit.data.encode import write_video
    from actionkit.data.transforms import Compose, FormatShape, Resize

    frames = _ava_frames()
    if source == "rawframes":
        (tmp_path / "vidA").mkdir()
        for i, f in enumerate(frames):
            Image.fromarray(f).save(tmp_path / "vidA" / f"img_{i + 1:05d}.jpg", quality=95)
    else:
        write_video(tmp_path / "vidA.mp4", frames, fps=30)
    # 2 seconds from second 900: keyframes 901, 900 (and 902, past the last frame)
    (tmp_path / "ann.csv").write_text(
        "vidA,0901,0.25,0.25,0.75,1.0,12,0\nvidA,0901,0.0,0.0,0.5,0.5,80,1\n"
        "vidA,0900,0.1,0.1,0.2,0.2,5,0\nvidA,0902,0.1,0.1,0.2,0.2,5,0\n"
    )
    proposals = {"vidA,0901": np.array([[0.25, 0.25, 0.75, 1.0, 0.95], [0, 0, 1, 1, 0.2]])}
    (tmp_path / "prop.pkl").write_bytes(pickle.dumps(proposals))
    pipeline = Compose([Resize((-1, 96)), FormatShape("NCTHW", mean=(0, 0, 0), std=(1, 1, 1))])
    dataset = AVADataset(tmp_path / "ann.csv", SampleAVAFrames(4, 8, test_mode=True), pipeline,
                         tmp_path, source=source, proposal_file=tmp_path / "prop.pkl")  # fmt: skip
    assert len(dataset) == 3
    item = dataset[0]
    assert item["inputs"].shape == (3, 4, 96, 128) and item["img_shape"] == (96, 128)
    # keyframe 901 is frame 30 (0-based): frames 14, 22, 30, 38, grey 56, 88, 120, 152
    # (a frame off, as MMAction2 reads them, would be 4 grey levels off)
    grey = item["inputs"].mean((0, 2, 3))
    torch.testing.assert_close(grey, torch.tensor([56.0, 88, 120, 152]), atol=2, rtol=0)
    # boxes in the input's pixels (x2 after the 2x resize: 0.75 * 64 * 2 = 96)
    torch.testing.assert_close(
        item["gt_bboxes"], torch.tensor([[32.0, 24, 96, 96], [0, 0, 64, 48]])
    )
    torch.testing.assert_close(item["proposals"], torch.tensor([[32.0, 24, 96, 96]]))
    torch.testing.assert_close(item["scores"], torch.tensor([0.95]))
    assert item["gt_labels"].shape == (2, 81) and item["gt_labels"][1, 80] == 1
    second = dataset[1]  # no proposals for this keyframe: the whole frame, score 1
    torch.testing.assert_close(second["proposals"], torch.tensor([[0.0, 0, 128, 96]]))
    # keyframe 900 is frame 0: frames -16, -8, 0, 8 clipped to the video
    grey = second["inputs"].mean((0, 2, 3))
    torch.testing.assert_close(grey, torch.tensor([0.0, 0, 0, 32]), atol=2, rtol=0)
    batch = collate_detection([item, second])
    assert batch["inputs"].shape == (2, 3, 4, 96, 128) and len(batch["gt_bboxes"]) == 2
    with pytest.raises(DataError, match=r"ann.csv:4: vidA,0902: the keyframe is frame 60 .* 60 fr"):
        dataset[2]
    missing = AVADataset(tmp_path / "ann.csv", SampleAVAFrames(4, 8, test_mode=True), pipeline,
                         tmp_path / "nowhere", source=source)  # fmt: skip
    with pytest.raises(FileNotFoundError, match=r"ann.csv:1: vidA,0901: no such"):
        missing[0]


def test_ava_kinetics_clips_equal_mmaction2(tmp_path):
    """AVA videos and Kinetics clips (ids ending _START_END) in one CSV, against MMAction2
    1.2.0's AVAKineticsDataset: each clip's own seconds, its proposals under the source
    video's id."""
    fx = torch.load(FIXTURE.with_name("ava_kinetics_data.pt"), weights_only=True)
    (tmp_path / "ann.csv").write_text(fx["annotations"])
    proposals = {k: v.numpy() for k, v in fx["proposals"].items()}
    keyframes = load_ava_annotations(tmp_path / "ann.csv", clip_ids=True)
    assert [k.key for k in keyframes] == [i["img_key"] for i in fx["infos"]]
    for got, want in zip(keyframes, fx["infos"], strict=True):
        start = 900 if got.timestamp_start is None else got.timestamp_start
        assert start == want["timestamp_start"]
        np.testing.assert_array_equal(got.boxes, want["gt_bboxes"].numpy())
        np.testing.assert_array_equal(got.labels, want["gt_labels"].numpy())
        np.testing.assert_array_equal(got.entity_ids, want["entity_ids"].numpy())
        boxes, scores = keyframe_proposals(proposals, got.proposal_key)
        np.testing.assert_array_equal(boxes, want["proposals"].numpy())
        np.testing.assert_array_equal(scores, want["scores"].numpy())
    # without clip_ids a clip's seconds are a 15-minute AVA video's: refused by name
    with pytest.raises(DataError, match=r"ann.csv:3: timestamp 15 is outside the video"):
        load_ava_annotations(tmp_path / "ann.csv")
    (tmp_path / "bad.csv").write_text("abcdefghijk_000012_000022,0025,0,0,1,1,1,-1\n")
    with pytest.raises(DataError, match=r"timestamp 25 is outside the clip's .* \[12, 22\]"):
        load_ava_annotations(tmp_path / "bad.csv", clip_ids=True)


def test_a_kinetics_clip_is_read_from_its_own_first_second(tmp_path):
    from PIL import Image

    from actionkit.data.ava import AVADataset
    from actionkit.data.transforms import Compose, FormatShape

    clip = tmp_path / "abcdefghijk_000012_000022"
    clip.mkdir()
    for k in range(1, 301):  # 10 s at 30 fps from second 12, grey level = file number % 256
        Image.fromarray(np.full((16, 16, 3), k % 256, np.uint8)).save(clip / f"img_{k:05d}.jpg")
    (tmp_path / "ann.csv").write_text(
        "abcdefghijk_000012_000022,0015,0,0,1,1,1,-1\nabcdefghijk_000012_000022,0018,0,0,1,1,1,-1\n"
    )
    pipeline = Compose([FormatShape("NCTHW", mean=(0, 0, 0), std=(1, 1, 1))])
    dataset = AVADataset(tmp_path / "ann.csv", SampleAVAFrames(1, 1, test_mode=True), pipeline,
                         tmp_path, clip_ids=True)  # fmt: skip
    # second 15 is 3 s into the clip: frame 90 (0-based), the file img_00091
    greys = [float(dataset[i]["inputs"].mean()) for i in range(2)]
    assert greys == pytest.approx([91, 181], abs=1)
