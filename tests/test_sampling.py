"""Frame sampling: MMAction2 1.x's test-mode indices worked by hand from its published
arithmetic, train-mode ranges and distributions, and argument errors."""

import numpy as np
import pytest

from actionkit.data import DenseSampleFrames, SampleFrames, UniformSample, UniformSampleFrames


def test_tsn_test_mode_segments():
    # 8 one-frame clips over 100 frames: the middle of each 12.5-frame stretch, truncated:
    # 6.25, 18.75, 31.25, ...
    assert SampleFrames(1, 1, 8, test_mode=True)(100).tolist() == [6, 18, 31, 43, 56, 68, 81, 93]


def test_tsm_twice_sample():
    # The middles, then the stretch starts 0, 12.5, 25, 37.5, ... (truncated).
    expected = [6, 18, 31, 43, 56, 68, 81, 93, 0, 12, 25, 37, 50, 62, 75, 87]
    assert SampleFrames(1, 1, 8, twice_sample=True, test_mode=True)(100).tolist() == expected
    # Truncation happens after start_index is added (rawframes count from 1): 7.25 -> 7.
    assert SampleFrames(1, 1, 8, test_mode=True)(100, start_index=1)[0] == 7


def test_3d_twice_sample_wraps_like_the_reference():
    # 4-frame clips, 2 clips doubled to 4, spaced by max_offset / (num_clips - 1) = 36:
    # offsets 0, 36, 72, 108 -> the last two wrap around 40 frames.
    inds = SampleFrames(4, 1, 2, twice_sample=True, test_mode=True)(40).reshape(4, 4)
    assert inds[:, 0].tolist() == [0, 36, 72 % 40, 108 % 40]
    with pytest.raises(ValueError, match="twice_sample needs num_clips > 1"):
        SampleFrames(4, 1, 1, twice_sample=True, test_mode=True)


def test_uniform_sample():
    # 8 stretches of 99/8 = 12.375 frames starting at round(12.375 i); test mode, 2 clips:
    # the frames int(12.375/3) = 4 and int(2 * 12.375/3) = 8 into each.
    starts = [0, 12, 25, 37, 50, 62, 74, 87]
    inds = UniformSample(8, num_clips=2, test_mode=True)(100)
    assert inds.tolist() == [s + 4 for s in starts] + [s + 8 for s in starts]
    train = UniformSample(8)(100, rng=np.random.default_rng(5))
    ends = [12, 25, 37, 50, 62, 74, 87, 99]
    assert all(s <= i <= e for s, i, e in zip(starts, train.tolist(), ends, strict=True))


def test_slowfast_ten_clip_test():
    # 32 frames every 2 span 63; 300 frames leave 237 to spread over 9 gaps of 26.33.
    inds = SampleFrames(32, 2, 10, test_mode=True)(300).reshape(10, 32)
    assert inds[:, 0].tolist() == [0, 26, 53, 79, 105, 132, 158, 184, 211, 237]
    assert (np.diff(inds, axis=1) == 2).all()


def test_single_clip_test_is_centred_and_start_index_added():
    # span 8 in 20 frames: offset (20 - 8) // 2 = 6; rawframes count from 1.
    assert SampleFrames(8, 1, 1, test_mode=True)(20, start_index=1).tolist() == list(range(7, 15))


def test_out_of_bound_options():
    # 8 frames every 8 need 57 frames; 20 are there: loop wraps, repeat_last holds 16.
    loop = SampleFrames(8, 8, 1, test_mode=True)(20)
    assert loop.tolist() == [0, 8, 16, 4, 12, 0, 8, 16]
    repeat = SampleFrames(8, 8, 1, test_mode=True, out_of_bound_opt="repeat_last")(20)
    assert repeat.tolist() == [0, 8, 16, 16, 16, 16, 16, 16]


def test_train_mode_one_frame_per_segment():
    rng = np.random.default_rng(0)
    sampler = SampleFrames(1, 1, 8)
    seen = np.zeros((8, 12), dtype=int)
    for _ in range(2000):
        inds = sampler(100, rng=rng)
        # avg interval (100 - 1 + 1) // 8 = 12: clip k starts in [12k, 12k + 12).
        assert ((inds >= np.arange(8) * 12) & (inds < np.arange(8) * 12 + 12)).all()
        seen[np.arange(8), inds - np.arange(8) * 12] += 1
    assert (seen > 100).all()  # every offset drawn, roughly uniformly (expected 167)


def test_train_mode_short_videos():
    rng = np.random.default_rng(1)
    # 6 frames, 8 segments: avg interval 0 -> offsets round(k * 6 / 8).
    assert SampleFrames(1, 1, 8)(6, rng=rng).tolist() == [0, 1, 2, 2, 3, 4, 4, 5]
    # clip longer than the video: all clips start at 0, then loop.
    assert SampleFrames(8, 2, 2)(5, rng=rng).tolist() == [0, 2, 4, 1, 3, 0, 2, 4] * 2
    # more frames than num_clips and span, but fewer than num_clips stretches: sorted draws.
    inds = SampleFrames(4, 1, 8)(10, rng=rng).reshape(8, 4)
    assert (np.diff(inds[:, 0]) >= 0).all() and (inds[:, 0] <= 6).all()


def test_keep_tail_frames_and_jitter_stay_in_range():
    rng = np.random.default_rng(2)
    for _ in range(200):
        inds = SampleFrames(4, 4, 3, keep_tail_frames=True, temporal_jitter=True)(64, rng=rng)
        assert ((inds >= 0) & (inds < 64)).all()


def test_dense_sample_frames():
    # 300 frames, range 64: 237 start positions; 10 evenly spread starts in test mode.
    inds = DenseSampleFrames(8, 8, 1, test_mode=True)(300).reshape(10, 8)
    assert inds[:, 0].tolist() == np.linspace(0, 236, 10, dtype=int).tolist()
    assert (np.diff(inds, axis=1) == 8).all()
    rng = np.random.default_rng(3)
    starts = {int(DenseSampleFrames(8, 8, 1)(300, rng=rng)[0]) for _ in range(3000)}
    assert min(starts) == 0 and max(starts) == 235  # [0, sample_position - 1), as the reference


def test_uniform_sample_frames_test_mode_is_deterministic_and_stratified():
    sampler = UniformSampleFrames(8, num_clips=2, test_mode=True)
    inds = sampler(100).reshape(2, 8)
    assert np.array_equal(inds, sampler(100).reshape(2, 8))
    # Clip k draws from stretch [k * 100 // 8, (k + 1) * 100 // 8).
    lo = np.array([k * 100 // 8 for k in range(8)])
    hi = np.array([(k + 1) * 100 // 8 for k in range(8)])
    assert ((inds >= lo) & (inds < hi)).all()
    # The reference seeds numpy's legacy generator with 255 and draws randint(sizes) once per clip.
    rs = np.random.RandomState(255)
    expected = np.concatenate([lo + rs.randint(hi - lo) for _ in range(2)])
    assert inds.reshape(-1).tolist() == expected.tolist()


def test_uniform_sample_frames_short_and_repeat():
    # 10 frames for 8: 2 extra steps over 9 gaps, strictly increasing, in range.
    inds = UniformSampleFrames(8)(10, rng=np.random.default_rng(4))
    assert (np.diff(inds) >= 1).all() and inds.max() <= 9
    # 5 frames for 8, test mode: starts [0] then loop.
    assert UniformSampleFrames(8, test_mode=True)(5).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    # repeat_frame, test mode: stretch i is [round(i/2), round((i+1)/2)] with halves rounded
    # to even (0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4); the middle of each is taken.
    sampler = UniformSampleFrames(8, test_mode=True, out_of_bound_opt="repeat_frame")
    assert sampler(5).tolist() == [0, 0, 1, 2, 2, 2, 3, 4]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SampleFrames(0), "clip_len must be a positive integer"),
        (
            lambda: SampleFrames(8, out_of_bound_opt="wrap"),
            'out_of_bound_opt must be "loop" or "repeat_last"',
        ),
        (lambda: UniformSampleFrames(8, num_clips=2), "num_clips must be 1 in train mode"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_empty_video_is_an_error():
    with pytest.raises(ValueError, match="total_frames must be positive, got 0"):
        SampleFrames(8)(0)


def test_target_fps_hand_worked():
    # 300 frames at 30 fps resampled to 15 fps: a clip of 8 x 2 frames at 15 fps covers
    # 32 source frames; 8 evenly spaced of them: linspace(0, 31, 8) truncated.
    steps = [0, 4, 8, 13, 17, 22, 26, 31]
    one = SampleFrames(8, 2, 1, test_mode=True, target_fps=15)
    assert one(300, 0, fps=30).tolist() == [134 + s for s in steps]  # max_offset 268 // 2
    three = SampleFrames(8, 2, 3, test_mode=True, target_fps=15)
    # Offsets floor(268 / 2) apart, not rounded: PySlowFast's alignment.
    assert three(300, 0, fps=30).tolist() == [o + s for o in (0, 134, 268) for s in steps]
    # Without an fps the ratio is 1: 16 source frames, linspace(0, 15, 8) truncated.
    assert one(300, 0).tolist() == [142 + s for s in [0, 2, 4, 6, 8, 10, 12, 15]]
    assert one(300, 1, fps=30).tolist() == [135 + s for s in steps]  # start_index added


def test_target_fps_train_mode_draws_offsets_over_the_resampled_span():
    sampler = SampleFrames(8, 2, 1, target_fps=15)
    rng = np.random.default_rng(0)
    firsts = [sampler(300, 0, rng, fps=30)[0] for _ in range(3000)]
    # avg_interval = 300 - 32 + 1 = 269: offsets uniform on [0, 269).
    assert min(firsts) == 0 and max(firsts) == 268
    assert np.diff(sampler(300, 0, rng, fps=30)).tolist() == [4, 4, 5, 4, 5, 4, 5]
    with pytest.raises(ValueError, match="target_fps must be positive"):
        SampleFrames(8, target_fps=0)
