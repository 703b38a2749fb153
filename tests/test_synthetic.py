"""The synthetic action videos: deterministic, labelled, decodable, and the motion classes
really differ only in motion."""

import numpy as np
import pytest

from actionkit.data import encode, synthetic
from actionkit.data.decode import VideoReader

pytest.importorskip("av")


def moving_mask(frames):
    """Pixels that differ from the clip's per-pixel median (the static background)."""
    background = np.median(frames.astype(np.float32), axis=0)
    return np.abs(frames.astype(np.float32) - background).sum(-1) > 40


def centroids(frames):
    mask = moving_mask(frames)
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    area = mask.sum((1, 2))
    return (
        (mask * xs).sum((1, 2)) / np.maximum(area, 1),
        (mask * ys).sum((1, 2)) / np.maximum(area, 1),
        area,
    )


def test_deterministic_and_seeded():
    a = synthetic.render_clip("move_right", 16, (48, 64), seed=3)
    assert a.shape == (16, 48, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, synthetic.render_clip("move_right", 16, (48, 64), seed=3))
    assert not np.array_equal(a, synthetic.render_clip("move_right", 16, (48, 64), seed=4))
    np.testing.assert_array_equal(a, synthetic.render_clip(0, 16, (48, 64), seed=3))


@pytest.mark.parametrize("first,second", synthetic.MOTION_PAIRS)
def test_motion_pairs_are_the_same_frames_in_reverse_order(first, second):
    # Same seed: the second class's clip is the first class's clip played backwards, so
    # the two classes have identical distributions of frame sets.
    for seed in range(3):
        a = synthetic.render_clip(first, 12, (32, 32), seed)
        b = synthetic.render_clip(second, 12, (32, 32), seed)
        np.testing.assert_array_equal(b, a[::-1])


@pytest.mark.parametrize("seed", range(4))
def test_the_motion_is_what_the_label_says(seed):
    x, _, _ = centroids(synthetic.render_clip("move_right", 16, (64, 64), seed))
    assert x[-1] - x[0] > 6 and np.all(np.diff(x) > -1)
    _, y, _ = centroids(synthetic.render_clip("move_up", 16, (64, 64), seed))
    assert y[0] - y[-1] > 6
    _, _, area = centroids(synthetic.render_clip("approach", 16, (64, 64), seed))
    assert area[-1] > 1.4 * area[0]
    frames = synthetic.render_clip("appear", 16, (64, 64), seed).astype(np.int16)
    assert np.array_equal(frames[0], frames[1])  # nothing there yet: the bare background
    assert (np.abs(frames[-1] - frames[0]).sum(-1) > 40).sum() > 50  # then a shape


def test_bad_arguments():
    with pytest.raises(ValueError, match="label must be one of"):
        synthetic.render_clip("jump")
    with pytest.raises(ValueError, match="num_frames"):
        synthetic.render_clip("slow", 1)
    with pytest.raises(ValueError, match="even"):
        encode.write_video("/tmp/x.mp4", np.zeros((2, 15, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="codec must be"):
        encode.write_video("/tmp/x.mp4", np.zeros((2, 16, 16, 3), np.uint8), codec="h265")
    with pytest.raises(ValueError, match="unknown"):
        synthetic.make_dataset("/tmp/unused", classes=["jump"])


def test_make_dataset_writes_decodable_labelled_videos_and_rawframes(tmp_path):
    classes = ["move_left", "move_right", "disc"]
    data = synthetic.make_dataset(
        tmp_path,
        classes,
        videos_per_class=3,
        val_per_class=1,
        num_frames=10,
        size=(32, 48),
        rawframes=True,
    )
    assert data.classes == tuple(classes)
    assert (tmp_path / "classes.txt").read_text().split() == classes
    train = [line.split() for line in data.train_list.read_text().splitlines()]
    val = [line.split() for line in data.val_list.read_text().splitlines()]
    assert len(train) == 6 and len(val) == 3
    assert sorted(int(label) for _, label in val) == [0, 1, 2]
    for rel, label in train + val:
        assert rel.startswith(classes[int(label)] + "/")
        reader = VideoReader(tmp_path / "videos" / rel, backend="pyav")
        assert len(reader) == 10 and reader.get_frames([9]).shape == (1, 32, 48, 3)
    raw = [line.split() for line in (tmp_path / "train_rawframes.txt").read_text().splitlines()]
    assert len(raw) == 6
    for folder, count, _ in raw:
        assert int(count) == 10 and len(VideoReader(tmp_path / "rawframes" / folder)) == 10
    # Deterministic: a second run writes the same frames.
    again = synthetic.make_dataset(
        tmp_path / "again",
        classes,
        videos_per_class=3,
        val_per_class=1,
        num_frames=10,
        size=(32, 48),
    )
    rel = train[0][0]
    a = VideoReader(tmp_path / "videos" / rel, backend="pyav").get_frames(range(10))
    b = VideoReader(again.root / "videos" / rel, backend="pyav").get_frames(range(10))
    assert np.array_equal(a.numpy(), b.numpy())


def test_index_clip_frames_say_which_they_are_after_lossy_coding(tmp_path):
    clip = synthetic.index_clip(300)
    assert [synthetic.frame_index(f) for f in clip] == list(range(300))
    # H.264 with B-frames, a 250-frame GOP and a high crf: still every frame identified
    path = encode.write_video(tmp_path / "i.mp4", clip, gop=250, crf=28)
    reader = VideoReader(path, backend="pyav")
    indices = np.random.default_rng(0).integers(0, 300, size=40)
    assert [synthetic.frame_index(f) for f in reader.get_frames(indices).numpy()] == list(indices)
    with pytest.raises(ValueError, match="index_clip: up to 4096 frames of width >= 96"):
        synthetic.index_clip(10, (64, 64))


@pytest.mark.parametrize("name", ["move_left", "appear", "fast", "disc"])
def test_masks_are_where_the_shape_is(name):
    frames, masks = synthetic.render_clip(name, 12, (40, 48), seed=5, masks=True)
    assert masks.shape == (12, 40, 48) and masks.dtype == bool
    assert np.array_equal(frames, synthetic.render_clip(name, 12, (40, 48), seed=5))
    # outside the mask every frame shows the clip's fixed background: one value per pixel
    outside = ~masks
    background = np.zeros((40, 48, 3), np.int64)
    seen = np.zeros((40, 48), bool)
    for frame, out in zip(frames, outside, strict=True):
        first = out & ~seen
        background[first] = frame[first]
        seen |= out
        assert np.array_equal(frame[out], background[out])
    # inside it the shape covers the background: most of its pixels differ
    covered = masks & seen
    assert covered.sum() > 0
    changed = np.stack([(f != background).any(-1) for f in frames])
    assert changed[covered].mean() > 0.9
    if name == "appear":
        assert not masks[0].any() and masks[-1].any()  # invisible, then there


def test_masks_of_a_reversed_class_are_reversed():
    _, forward = synthetic.render_clip("move_right", 10, seed=3, masks=True)
    _, backward = synthetic.render_clip("move_left", 10, seed=3, masks=True)
    assert np.array_equal(forward[::-1], backward)
