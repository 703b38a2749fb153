"""The synthetic AVA-style detection data (actionkit.data.synthetic_ava): files in AVA's
formats that the AVA readers take, labels that mean what they say (motion where the
action moves, none where it is still), proposals that find the actors."""

import numpy as np
import pytest

from actionkit.data import synthetic_ava as syn
from actionkit.data.ava import keyframe_proposals, load_ava_annotations, load_ava_proposals
from actionkit.data.decode import VideoReader
from actionkit.metrics.ava import read_label_map


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ava_synthetic")
    files = syn.make_dataset(root, train_videos=3, test_videos=2, duration=5, seed=3)
    return root, files


def test_files_read_as_ava(dataset):
    root, files = dataset
    assert set(files) == {"train", "test"}
    assert [c["name"] for c in read_label_map(root / "label_map.pbtxt")] == list(syn.ACTIONS)
    for split, videos in (("train", 3), ("test", 2)):
        keyframes = load_ava_annotations(files[split], num_classes=7)
        # every keyframe 901..904 of every video, in order, 1-4 actors each
        assert [k.key for k in keyframes] == [
            f"{split}_{v:04d},{ts:04d}" for v in range(videos) for ts in range(901, 905)
        ]
        proposals = load_ava_proposals(root / f"proposals_{split}.pkl")
        assert set(proposals) == {k.key for k in keyframes}
        for k in keyframes:
            assert 1 <= len(k.boxes) <= 4
            labels = k.labels[:, 1:].astype(bool)
            assert (labels[:, :3].sum(1) == 1).all()  # one posture
            assert (labels[:, 3:5].sum(1) <= 1).all()  # at most one arm action
            assert np.array_equal(k.entity_ids, np.arange(len(k.boxes)))
            # the score threshold keeps one noisy box per actor, each on its actor
            boxes, scores = keyframe_proposals(proposals, k.key, 0.9, 1000)
            assert len(boxes) == len(k.boxes) and (scores >= 0.9).all()
            iou = box_iou(boxes.astype(np.float64), k.boxes)
            assert (iou.diagonal() >= 0.5).all() and (iou.diagonal() == iou.max(0)).all()
        with VideoReader(root / "videos" / f"{split}_0000.mp4") as reader:
            assert len(reader) == 5 * 8 and reader.get_frames([0]).shape == (1, 144, 192, 3)


def test_deterministic(dataset, tmp_path):
    root, _ = dataset
    again = syn.make_dataset(tmp_path, train_videos=3, test_videos=2, duration=5, seed=3)
    for split in ("train", "test"):
        assert again[split].read_text() == (root / f"{split}.csv").read_text()
        assert (tmp_path / f"proposals_{split}.pkl").read_bytes() == (
            root / f"proposals_{split}.pkl"
        ).read_bytes()


@pytest.mark.parametrize("seed", range(6))
def test_labels_say_what_moves(seed):
    """Within the second around a keyframe, an actor's pixels change exactly when it walks
    or waves (rendered frames, before coding): stand, sit, raise_arm and carry are still."""
    fps = 8
    frames, keyframes = syn.render_video(6, (144, 192), fps, seed)
    frames = frames.astype(np.int16)
    h, w = frames.shape[1:3]
    checked = 0
    for second, actors in keyframes.items():
        clip = frames[second * fps - fps // 2 : second * fps + fps // 2]
        for box, labels in actors:
            x1, y1, x2, y2 = (box * [w, h, w, h]).round().astype(int)
            # its own region of the 2x2 grid holds the actor wherever it goes
            col, row = int(box[[0, 2]].mean() * 2), int(box[[1, 3]].mean() * 2)
            region = clip[:, row * h // 2 : (row + 1) * h // 2, col * w // 2 : (col + 1) * w // 2]
            moves = bool(np.abs(np.diff(region, axis=0)).max() > 0)
            names = {syn.ACTIONS[a - 1] for a in labels}
            assert moves == bool(names & {"walk", "wave"}), (second, names)
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
            checked += 1
    assert checked >= 5


def test_motion_only_pairs_look_alike_in_one_frame():
    """A standing actor's legs hold a phase of the walking stride and a raised arm an
    angle a waving arm sweeps: one frame cannot tell the pairs apart."""
    rng = np.random.default_rng(0)
    actor = {"height": 50.0, "feet_y": 70.0, "colour": np.ones(3), "skin": np.ones(3),
             "box_colour": np.ones(3), "facing": 1.0, "stride_hz": 1.8}  # fmt: skip
    state = {"carry": False, "wave_centre": 0.35, "wave_phase": 0.0, "direction": 1.0}
    for _ in range(20):
        actor["stride_phase"] = rng.uniform(0, 2 * np.pi)
        t = rng.uniform(0, 10)
        walk = syn._figure(actor, {**state, "posture": "walk", "arm": None}, 40.0, t)
        # the standing actor whose frozen phase is the walker's phase at t
        actor_still = {**actor, "stride_phase": actor["stride_phase"] + 2 * np.pi * 1.8 * t}
        stand = syn._figure(actor_still, {**state, "posture": "stand", "arm": None}, 40.0, 0.3)
        assert np.allclose(syn._extent(walk), syn._extent(stand))
        wave = syn._figure(actor, {**state, "posture": "stand", "arm": "wave"}, 40.0, t)
        angle = 0.35 + 0.5 * np.sin(2 * np.pi * 2.0 * t)
        assert syn._ARM_RANGE[0] <= angle <= syn._ARM_RANGE[1]
        held = {**state, "posture": "stand", "arm": "raise_arm", "arm_angle": angle}
        raised = syn._figure(actor, held, 40.0, 5.0)
        assert np.allclose(wave[4][2], raised[4][2])  # the same hand position


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="duration"):
        syn.make_dataset(tmp_path, duration=1)
    with pytest.raises(ValueError, match="size"):
        syn.make_dataset(tmp_path, size=(63, 64))
    with pytest.raises(ValueError, match="fps"):
        syn.make_dataset(tmp_path, fps=7.5)
