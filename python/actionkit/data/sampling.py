"""Which frames to decode: index arithmetic, separate from decoding, so every backend
gets the same indices. Same results as MMAction2 1.x's samplers for the same arguments
in test mode, and draws from the same distributions in train mode.

Every sampler is a small frozen dataclass called as ``sampler(total_frames, start_index,
rng, fps)`` and returns int64 indices ``[num_clips * clip_len]`` (clip-major). ``rng`` is a
``numpy.random.Generator`` for train-mode randomness (a fresh one by default); ``fps`` (the
video's average frame rate) matters only to ``SampleFrames(target_fps=...)``. The
reference is MMAction2 1.2's ``loading.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")


def _check_total(total_frames: int) -> None:
    if total_frames < 1:
        raise ValueError(f"total_frames must be positive, got {total_frames} (an empty video?)")


@dataclass(frozen=True)
class SampleFrames:
    """Clips of ``clip_len`` frames ``frame_interval`` apart (MMAction2's ``SampleFrames``).

    Train mode splits the video into ``num_clips`` equal stretches and starts one clip
    at a random offset in each (TSN's segments with ``clip_len=1``); test mode spreads
    the clips evenly (``twice_sample`` adds the clips shifted by half a stretch, TSM's
    test). Indices past the end wrap around (``out_of_bound_opt="loop"``) or repeat the
    clip's last valid frame (``"repeat_last"``).

    Args:
        clip_len: frames per clip.
        frame_interval: step between the frames of a clip.
        num_clips: clips per video.
        temporal_jitter: add a random 0..frame_interval-1 to every index (train).
        twice_sample: in test mode, sample 2 * num_clips clips.
        out_of_bound_opt: "loop" or "repeat_last".
        test_mode: deterministic, evenly spread clips.
        keep_tail_frames: train-mode offsets from continuous stretches that reach the end.
        target_fps: resample time to this frame rate (PySlowFast's test alignment, as
            MMAction2 1.2): a clip covers ``clip_len * frame_interval`` frames at
            ``target_fps``, i.e. that many times ``fps / target_fps`` source frames, and
            takes ``clip_len`` evenly spaced frames of them (``fps`` is passed per call;
            without it the ratio is 1).
    """

    clip_len: int
    frame_interval: int = 1
    num_clips: int = 1
    temporal_jitter: bool = False
    twice_sample: bool = False
    out_of_bound_opt: str = "loop"
    test_mode: bool = False
    keep_tail_frames: bool = False
    target_fps: float | None = None

    def __post_init__(self) -> None:
        _check_positive(
            clip_len=self.clip_len, frame_interval=self.frame_interval, num_clips=self.num_clips
        )
        if self.out_of_bound_opt not in ("loop", "repeat_last"):
            raise ValueError(
                f'out_of_bound_opt must be "loop" or "repeat_last", got {self.out_of_bound_opt!r}'
            )
        if self.target_fps is not None and not self.target_fps > 0:
            raise ValueError(f"target_fps must be positive, got {self.target_fps}")
        if self.twice_sample and self.clip_len > 1 and self.num_clips == 1:
            raise ValueError(
                "twice_sample needs num_clips > 1 for clips of more than one frame "
                "(MMAction2 spaces the clips by max_offset / (num_clips - 1))"
            )

    def span(self, fps_ratio: float = 1.0) -> float:
        """Source frames a clip covers (MMAction2's ``ori_clip_len``; fractional with
        ``target_fps``)."""
        if self.target_fps is not None:
            return max(1.0, self.clip_len * self.frame_interval * fps_ratio)
        if self.test_mode:
            return (self.clip_len - 1) * self.frame_interval + 1
        return self.clip_len * self.frame_interval

    def train_offsets(
        self, total: int, rng: np.random.Generator, span: float | None = None
    ) -> np.ndarray:
        span = self.span() if span is None else span
        if self.keep_tail_frames:
            avg = (total - span + 1) / float(self.num_clips)
            if total > span - 1:
                base = np.arange(self.num_clips) * avg
                return (base + rng.uniform(0, avg, self.num_clips)).astype(np.int64)
            return np.zeros(self.num_clips, dtype=np.int64)
        avg = (total - span + 1) // self.num_clips
        if avg > 0:
            return np.arange(self.num_clips) * avg + rng.integers(int(avg), size=self.num_clips)
        if total > max(self.num_clips, span):
            return np.sort(rng.integers(int(total - span + 1), size=self.num_clips))
        if avg == 0:
            ratio = (total - span + 1.0) / self.num_clips
            return np.around(np.arange(self.num_clips) * ratio)
        return np.zeros(self.num_clips, dtype=np.int64)

    def test_offsets(self, total: int, span: float | None = None) -> np.ndarray:
        span = self.span() if span is None else span
        if self.clip_len == 1:  # 2D models: the middle frame of each of num_clips stretches
            stretch = total / float(self.num_clips)
            base = np.arange(self.num_clips) * stretch
            offsets = base + stretch / 2.0  # fractional: truncated after wrapping, as MMAction2
            return np.concatenate([offsets, base]) if self.twice_sample else offsets
        clips = self.num_clips * (2 if self.twice_sample else 1)
        max_offset = max(total - span, 0)
        if clips > 1:
            # Spaced by max_offset / (num_clips - 1) even when twice_sample doubles the clips
            # (the second half then wraps around), and rounded half to even (floored with
            # target_fps, after PySlowFast): as MMAction2 1.2.
            if self.target_fps is not None:
                return np.arange(clips) * np.floor(max_offset / float(self.num_clips - 1))
            step = max_offset / float(self.num_clips - 1)
            return np.round(np.arange(clips) * step)
        return np.array([max_offset // 2])

    def offsets(
        self, total: int, rng: np.random.Generator, span: float | None = None
    ) -> np.ndarray:
        if self.test_mode:
            return self.test_offsets(total, span)
        return self.train_offsets(total, rng, span)

    def __call__(
        self,
        total_frames: int,
        start_index: int = 0,
        rng: np.random.Generator | None = None,
        fps: float | None = None,
    ) -> np.ndarray:
        """Frame indices ``[num_clips * clip_len]`` (clip-major) for a video of
        ``total_frames`` frames at ``fps`` (used by ``target_fps`` only)."""
        _check_total(total_frames)
        rng = np.random.default_rng() if rng is None else rng
        ratio = fps / self.target_fps if self.target_fps is not None and fps else 1.0
        span = self.span(ratio)
        offsets = self.offsets(total_frames, rng, span)
        if self.target_fps:
            steps = np.linspace(0, span - 1, self.clip_len).astype(np.int32)
        else:
            steps = np.arange(self.clip_len) * self.frame_interval
        inds = offsets[:, None] + steps[None, :]
        if self.temporal_jitter:
            inds = inds + rng.integers(self.frame_interval, size=inds.shape)
        if self.out_of_bound_opt == "loop":
            inds = np.mod(inds, total_frames)
        else:
            inside = inds < total_frames
            last = np.max(np.where(inside, inds, 0), axis=1, keepdims=True)
            inds = np.where(inside, inds, last)
        # Fractional offsets (2D test, target_fps) are truncated after adding start_index,
        # as the reference does.
        return (inds.reshape(-1) + start_index).astype(np.int64)


@dataclass(frozen=True)
class DenseSampleFrames(SampleFrames):
    """Clips packed into a ``sample_range`` window (MMAction2's ``DenseSampleFrames``).

    Train mode places the window at a random start; test mode at
    ``num_sample_positions`` evenly spread starts (num_sample_positions * num_clips clips).
    """

    sample_range: int = 64
    num_sample_positions: int = 10

    def _positions(self, total: int) -> tuple[int, np.ndarray]:
        sample_position = max(1, 1 + total - self.sample_range)
        base = np.arange(self.num_clips) * (self.sample_range // self.num_clips)
        return sample_position, base

    def train_offsets(self, total: int, rng: np.random.Generator, span=None) -> np.ndarray:
        sample_position, base = self._positions(total)
        # The reference draws from [0, sample_position - 1): the last start is never used.
        start = 0 if sample_position == 1 else int(rng.integers(0, sample_position - 1))
        return (base + start) % total

    def test_offsets(self, total: int, span=None) -> np.ndarray:
        sample_position, base = self._positions(total)
        starts = np.linspace(0, sample_position - 1, num=self.num_sample_positions, dtype=int)
        return np.concatenate([(base + s) % total for s in starts]).astype(np.int64)


@dataclass(frozen=True)
class UniformSample:
    """One frame from each of ``clip_len`` equal stretches (MMAction2's ``UniformSample``,
    the Something-Something/TSM sampler after PySlowFast): random within each stretch in
    train mode; in test mode clip k takes the frame ``(k + 1) / (num_clips + 1)`` of the way
    into each stretch.
    """

    clip_len: int
    num_clips: int = 1
    test_mode: bool = False

    def __post_init__(self) -> None:
        _check_positive(clip_len=self.clip_len, num_clips=self.num_clips)

    def __call__(
        self,
        total_frames: int,
        start_index: int = 0,
        rng: np.random.Generator | None = None,
        fps: float | None = None,  # unused: the same call as SampleFrames
    ) -> np.ndarray:
        _check_total(total_frames)
        rng = np.random.default_rng() if rng is None else rng
        size = float(total_frames - 1) / self.clip_len
        starts = [int(np.round(size * i)) for i in range(self.clip_len)]
        if self.test_mode:
            step = size / (self.num_clips + 1)
            inds = [s + int(step * (k + 1)) for k in range(self.num_clips) for s in starts]
        else:
            ends = [int(np.round(size * (i + 1))) for i in range(self.clip_len)]
            inds = [int(rng.integers(s, e + 1)) for s, e in zip(starts, ends, strict=True)]
        return np.array(inds, dtype=np.int64) + start_index


@dataclass(frozen=True)
class UniformSampleFrames:
    """One frame from each of ``clip_len`` equal stretches (MMAction2's
    ``UniformSampleFrames``, used for skeletons).

    Test mode reproduces the reference exactly: it draws from a
    ``numpy.random.RandomState(seed)`` in the same order. ``out_of_bound_opt="repeat_frame"``
    repeats frames of videos shorter than clip_len instead of looping (one clip only).
    """

    clip_len: int
    num_clips: int = 1
    test_mode: bool = False
    seed: int = 255
    out_of_bound_opt: str = "loop"

    def __post_init__(self) -> None:
        _check_positive(clip_len=self.clip_len, num_clips=self.num_clips)
        if self.out_of_bound_opt not in ("loop", "repeat_frame"):
            raise ValueError(
                f'out_of_bound_opt must be "loop" or "repeat_frame", got {self.out_of_bound_opt!r}'
            )
        if (not self.test_mode or self.out_of_bound_opt == "repeat_frame") and self.num_clips != 1:
            raise ValueError("num_clips must be 1 in train mode and with repeat_frame")

    def _one_clip(self, total: int, rs) -> np.ndarray:
        n = self.clip_len
        if n <= total < 2 * n:
            # Spread total - n extra steps over the n + 1 gaps.
            extra = rs.choice(n + 1, total - n, replace=False)
            offset = np.zeros(n + 1, dtype=np.int64)
            offset[extra] = 1
            return np.arange(n) + np.cumsum(offset)[:-1]
        bounds = np.array([i * total // n for i in range(n + 1)])
        return bounds[:n] + rs.randint(np.diff(bounds))

    def _loop(self, total: int, rng: np.random.Generator) -> np.ndarray:
        n = self.clip_len
        if self.test_mode:
            rs = np.random.RandomState(self.seed)
            if total < n:
                starts = (
                    list(range(self.num_clips))
                    if total < self.num_clips
                    else [i * total // self.num_clips for i in range(self.num_clips)]
                )
                return np.concatenate([np.arange(s, s + n) for s in starts])
            return np.concatenate([self._one_clip(total, rs) for _ in range(self.num_clips)])
        if total < n:
            start = int(rng.integers(0, total))
            return np.arange(start, start + n)
        return self._one_clip(total, np.random.RandomState(rng.integers(2**31)))

    def _repeat(self, total: int, rng: np.random.Generator) -> np.ndarray:
        size = float(total - 1) / self.clip_len
        inds = []
        for i in range(self.clip_len):
            start, end = int(np.round(size * i)), int(np.round(size * (i + 1)))
            inds.append((start + end) // 2 if self.test_mode else int(rng.integers(start, end + 1)))
        return np.array(inds)

    def __call__(
        self,
        total_frames: int,
        start_index: int = 0,
        rng: np.random.Generator | None = None,
        fps: float | None = None,  # unused: the same call as SampleFrames
    ) -> np.ndarray:
        _check_total(total_frames)
        rng = np.random.default_rng() if rng is None else rng
        if self.out_of_bound_opt == "loop":
            inds = np.mod(self._loop(total_frames, rng), total_frames)
        else:
            inds = self._repeat(total_frames, rng)
        return inds.astype(np.int64) + start_index


def __getattr__(name: str):
    if name == "SampleAVAFrames":  # lives with the AVA data (a keyframe, not a video)
        from .ava import SampleAVAFrames

        return SampleAVAFrames
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
