"""SSN's proposal data (MMAction2 0.24's ``SSNDataset`` and ``SampleProposalFrames``).

**Proposal files** (:func:`load_proposal_file`): the TAG proposal lists MMAction2 and
the SSN authors ship for THUMOS14, one block per video::

    # 0                       <- index
    video_validation_0000202  <- video id (its frame folder)
    5666                      <- frame count
    1                         <- (multiplies the frame count; 1 in every released file)
    3                         <- ground truth instances, then one line each:
    8 130 185                 <-   label (1..K) start_frame end_frame
    ...
    5                         <- proposals, then one line each:
    8 0.0620 0.0620 790 5671  <-   label best_iou overlap_self start_frame end_frame

Frames are ``[start, end)``. Instances with ``end <= start`` or ``start >= frames`` are
dropped, as MMAction2 does; ends past the video are clipped (coverage is measured before
the clip, as there).

**Assignment** (:func:`split_proposals`): positives have ``best_iou`` above 0.7 (plus
the ground truth itself); *incomplete* proposals overlap an action (``overlap_self``
above 0.01) with ``best_iou`` under 0.3; *background* proposals have ``best_iou`` under
0.01 and cover at least 2 % of the video. A positive's regression target
(:func:`regression_target`) is the centre shift of the best-overlapping instance over
the proposal's length and the log of their length ratio, normalised by the training
set's mean and standard deviation (:func:`regression_constants`).

**Sampling** (:class:`ProposalSampler`): per video 8 proposals, 1 positive, 6 incomplete,
1 background (``num_per_video`` and the ratios), drawn from the video (with replacement
when it has too few; from the whole training set when it has none). Each proposal is
seen through 2 + 5 + 2 snippets (:func:`proposal_snippets`): the starting stage is the
half proposal length before it, the ending stage the half after it, each stage split in
equal intervals with one random frame per interval in training (the interval's middle
in validation); :func:`stage_scale_factors` says how much of the starting and ending
stages lies inside the video.

**Testing** (:func:`test_layout`): frames every ``test_interval`` (6) through the whole
video; each proposal's stage boundaries as indices into those frames (*ticks*), its
relative span and scale factors.

Random draws go through a ``numpy.random.RandomState`` in MMAction2's call order, so a
state seeded as MMAction2's global one draws the same proposals and frames.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

POSITIVE, INCOMPLETE, BACKGROUND = 0, 1, 2


@dataclass
class Instance:
    """A ground truth instance or a proposal: frames ``[start, end)`` of a video of
    ``num_frames`` frames."""

    start: int
    end: int
    num_frames: int
    label: int = -1
    best_iou: float = 0.0
    overlap_self: float = 0.0
    coverage: float = 0.0
    target: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def make(cls, start, end, num_frames, label=-1, best_iou=0.0, overlap_self=0.0):
        # coverage before the end is clipped (MMAction2's SSNInstance)
        return cls(
            start,
            min(end, num_frames),
            num_frames,
            label,
            best_iou,
            overlap_self,
            (end - start) / num_frames,
        )


@dataclass
class ProposalVideo:
    video_id: str
    num_frames: int
    gts: list[Instance] = field(default_factory=list)
    proposals: list[Instance] = field(default_factory=list)


def _ints(path, line_no: int, line: str, count: int, what: str) -> list[str]:
    parts = line.split()
    if len(parts) != count:
        raise DataError(f"{path}:{line_no}: expected {what}, got {line!r}")
    return parts


def load_proposal_file(path: str | os.PathLike) -> list[ProposalVideo]:
    """Parses a TAG proposal list (module docstring) into :class:`ProposalVideo` s."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise DataError(f"{path}: cannot read the proposal file: {e}") from None
    videos = []
    i = 0
    numbered = [(n + 1, s.strip()) for n, s in enumerate(lines)]
    numbered = [(n, s) for n, s in numbered if s]
    while i < len(numbered):
        n, s = numbered[i]
        if not s.startswith("#"):
            raise DataError(f"{path}:{n}: expected a '# <index>' line, got {s!r}")
        block = []
        i += 1
        while i < len(numbered) and not numbered[i][1].startswith("#"):
            block.append(numbered[i])
            i += 1
        videos.append(_parse_block(path, n, block))
    return videos


def _parse_block(path: Path, header: int, block: list) -> ProposalVideo:
    def need(k: int, what: str):
        if k >= len(block):
            raise DataError(f"{path}: the video block at line {header} ends before its {what}")
        return block[k]

    try:
        video_id = need(0, "video id")[1]
        n, s = need(1, "frame count")
        num_frames = float(s)
        n, s = need(2, "frame count multiplier")
        num_frames = int(num_frames * float(s))
        n, s = need(3, "ground truth count")
        num_gts = int(s)
        gts = []
        for k in range(4, 4 + num_gts):
            n, s = need(k, f"ground truth line {k - 3}")
            label, start, end = (int(float(x)) for x in _ints(path, n, s, 3, "label start end"))
            if end > start and start < num_frames:
                gts.append(Instance.make(start, end, num_frames, label, 1.0))
        k = 4 + num_gts
        n, s = need(k, "proposal count")
        proposals = []
        for j in range(k + 1, k + 1 + int(s)):
            n, s = need(j, f"proposal line {j - k}")
            parts = _ints(path, n, s, 5, "label best_iou overlap_self start end")
            label, start, end = int(float(parts[0])), int(float(parts[3])), int(float(parts[4]))
            if end > start and start < num_frames:
                proposals.append(
                    Instance.make(start, end, num_frames, label, float(parts[1]), float(parts[2]))
                )
    except ValueError as e:
        raise DataError(f"{path}:{n}: not a number in {s!r}: {e}") from None
    if num_frames <= 0:
        raise DataError(f"{path}: video {video_id!r} has {num_frames} frames")
    return ProposalVideo(video_id, num_frames, gts, proposals)


def write_proposal_file(path: str | os.PathLike, videos: list[ProposalVideo]) -> None:
    """Writes :class:`ProposalVideo` s in the TAG format (:func:`load_proposal_file`)."""
    out = []
    for i, v in enumerate(videos):
        out += [f"# {i}", v.video_id, str(v.num_frames), "1", str(len(v.gts))]
        out += [f"{g.label} {g.start} {g.end}" for g in v.gts]
        out.append(str(len(v.proposals)))
        out += [
            f"{p.label} {p.best_iou:.4f} {p.overlap_self:.4f} {p.start} {p.end}"
            for p in v.proposals
        ]
    Path(path).write_text("\n".join(out) + "\n")


def _tiou(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(min(a1, b1) - max(a0, b0), 0.0)
    return inter / ((a1 - a0) - inter + (b1 - b0))


def regression_target(proposal: Instance, gts: list[Instance]) -> tuple[float, float]:
    """Centre shift over the proposal's length and log length ratio to the ground truth
    instance of highest tIoU (the first of equals)."""
    ious = [_tiou(proposal.start, proposal.end, g.start, g.end) for g in gts]
    best = gts[int(np.argmax(ious))]
    size = proposal.end - proposal.start
    centre = (proposal.start + proposal.end - 1) / 2
    gt_centre = (best.start + best.end - 1) / 2
    return ((gt_centre - centre) / size, math.log((best.end - best.start) / size))


@dataclass
class AssignConfig:
    """MMAction2's ``train_cfg.ssn.assigner`` (THUMOS14 values)."""

    positive_iou_threshold: float = 0.7
    background_iou_threshold: float = 0.01
    incomplete_iou_threshold: float = 0.3
    background_coverage_threshold: float = 0.02
    incomplete_overlap_threshold: float = 0.01


def positives_of(video: ProposalVideo, threshold: float, with_gt: bool = True) -> list[Instance]:
    """Proposals with ``best_iou > threshold`` (then the ground truth, ``with_gt``), each
    with its regression target set."""
    found = [p for p in video.proposals if p.best_iou > threshold]
    if with_gt:
        found += video.gts
    for p in found:
        p.target = regression_target(p, video.gts)
    return found


def negatives_of(video: ProposalVideo, cfg: AssignConfig) -> tuple[list, list]:
    """``(incompletes, backgrounds)`` of a video's proposals (an incomplete one is never
    also background)."""
    incompletes, backgrounds = [], []
    for p in video.proposals:
        if (
            p.best_iou < cfg.incomplete_iou_threshold
            and p.overlap_self > cfg.incomplete_overlap_threshold
        ):
            incompletes.append(p)
        elif (
            p.best_iou < cfg.background_iou_threshold
            and p.coverage > cfg.background_coverage_threshold
        ):
            backgrounds.append(p)
    return incompletes, backgrounds


def regression_constants(videos: list[ProposalVideo], cfg: AssignConfig) -> np.ndarray:
    """``[[mean loc, mean size], [std loc, std size]]`` of the positives' regression
    targets over ``videos`` (ground truth itself not counted)."""
    targets = [
        p.target
        for v in videos
        if v.gts
        for p in positives_of(v, cfg.positive_iou_threshold, with_gt=False)
    ]
    if not targets:
        raise DataError(
            "no proposal reaches the positive tIoU threshold "
            f"({cfg.positive_iou_threshold}) in the training set: SSN's regression has "
            "nothing to normalise by"
        )
    t = np.asarray(targets, dtype=float)
    return np.stack([t.mean(0), t.std(0)])


@dataclass
class SamplerConfig:
    """MMAction2's ``train_cfg.ssn.sampler``."""

    num_per_video: int = 8
    positive_ratio: float = 1
    background_ratio: float = 1
    incomplete_ratio: float = 6
    add_gt_as_proposals: bool = True

    def counts(self) -> tuple[int, int, int]:
        """``(positives, incompletes, backgrounds)`` per video."""
        total = self.positive_ratio + self.background_ratio + self.incomplete_ratio
        pos = int(self.num_per_video * (self.positive_ratio / total))
        bg = int(self.num_per_video * (self.background_ratio / total))
        return pos, self.num_per_video - pos - bg, bg


class ProposalSampler:
    """Draws each training video's proposals (video-centric, MMAction2's default): its
    pools of positives, incompletes and backgrounds, falling back to the whole set's
    pool of a kind the video lacks."""

    def __init__(self, videos: list[ProposalVideo], assign: AssignConfig, sampler: SamplerConfig):
        self.assign, self.sampler = assign, sampler
        self.counts = sampler.counts()
        self.pools: list[list] = [[], [], []]
        for v in videos:
            for kind, found in enumerate(self._split(v)):
                self.pools[kind] += [(v.video_id, p) for p in found]

    def _split(self, video: ProposalVideo) -> tuple[list, list, list]:
        pos = positives_of(
            video, self.assign.positive_iou_threshold, self.sampler.add_gt_as_proposals
        )
        inc, bg = negatives_of(video, self.assign)
        return pos, inc, bg

    def sample(
        self, video: ProposalVideo, rng: np.random.RandomState
    ) -> list[tuple[Instance, int]]:
        """``[(proposal, kind)]``: positives, then incompletes, then backgrounds."""
        out = []
        for kind, (found, wanted) in enumerate(zip(self._split(video), self.counts, strict=True)):
            if found:
                idx = rng.choice(len(found), wanted, replace=len(found) < wanted)
                out += [(found[i], kind) for i in idx]
            else:
                pool = self.pools[kind]
                if len(pool) < wanted:
                    name = ("positive", "incomplete", "background")[kind]
                    raise DataError(
                        f"video {video.video_id!r} has no {name} proposal and the whole set "
                        f"has {len(pool)}, fewer than the {wanted} per video wanted"
                    )
                idx = rng.choice(len(pool), wanted, replace=False)
                out += [(pool[i][1], kind) for i in idx]
        return out


def stage_scale_factors(
    p: Instance, num_frames: int, aug_ratio=(0.5, 0.5), clip_len: int = 1, interval: int = 1
) -> tuple[float, float]:
    """How much of the starting and ending stages lies in the video (1 = all of it;
    MMAction2's ``SSNDataset._get_stage``, +1 frame included)."""
    span = clip_len * interval
    duration = p.end - p.start
    first = max(0, p.start - int(duration * aug_ratio[0]))
    last = min(num_frames - span + 1, p.end - 1 + int(duration * aug_ratio[1]))
    start_len = p.start - first - span
    end_len = (last - p.end + 1) - span
    return (
        (start_len + span + 1) / (duration * aug_ratio[0]),
        (end_len + span + 1) / (duration * aug_ratio[1]),
    )


def _offsets(length: int, segments: int, train: bool, rng) -> np.ndarray:
    if train:
        step = (length + 1) // segments
        if step > 0:
            return np.arange(segments) * step + rng.randint(step, size=segments)
        return np.zeros(segments, dtype=np.int64)
    if length >= segments:
        step = length / float(segments)
        return (np.arange(segments) * step + step / 2.0).astype(np.int64)
    return np.zeros(segments, dtype=np.int64)


def proposal_snippets(
    p: Instance,
    num_frames: int,
    train: bool,
    rng: np.random.RandomState | None = None,
    body_segments: int = 5,
    aug_segments=(2, 2),
    aug_ratio=(0.5, 0.5),
    clip_len: int = 1,
    interval: int = 1,
) -> np.ndarray:
    """The first frame of each of the proposal's snippets (starting, course, ending
    stages), 0-based and wrapped into the video (MMAction2's ``SampleProposalFrames``
    ``_get_proposal_clips``, ``train`` or ``val`` mode)."""
    span = clip_len * interval
    duration = p.end - p.start
    if duration <= 0:
        raise DataError(f"a proposal of no length: frames [{p.start}, {p.end})")
    first = max(0, p.start - int(duration * aug_ratio[0]))
    last = min(num_frames - span + 1, p.end - 1 + int(duration * aug_ratio[1]))
    starting = _offsets(p.start - first - span, aug_segments[0], train, rng) + first
    course = _offsets(duration - span, body_segments, train, rng) + p.start
    ending = _offsets((last - p.end + 1) - span, aug_segments[1], train, rng) + p.end
    return np.concatenate([starting, course, ending])


def snippet_frames(starts: np.ndarray, num_frames: int, clip_len: int = 1, interval: int = 1):
    """Frame indices of snippets starting at ``starts``: ``clip_len`` frames
    ``interval`` apart each, wrapped into the video."""
    inds = starts[:, None] + np.arange(clip_len)[None, :] * interval
    return np.mod(inds.reshape(-1), num_frames)


def test_frames(num_frames: int, test_interval: int = 6, clip_len: int = 1, interval: int = 1):
    """The frames sampled at test time: every ``test_interval`` from 0 (snippet starts)."""
    return np.arange(0, num_frames - clip_len * interval, test_interval, dtype=np.int64)


def test_layout(
    video: ProposalVideo,
    test_interval: int = 6,
    aug_ratio=(0.5, 0.5),
    clip_len: int = 1,
    interval: int = 1,
) -> dict[str, np.ndarray]:
    """Per proposal: ``relative`` ``[P, 2]`` (start, end over the frame count), ``ticks``
    ``[P, 4]`` (the stage boundaries in sampled frames), ``scale_factors`` ``[P, 2]``;
    and ``frames`` (the sampled frames). A video without proposals gets one covering it."""
    n = video.num_frames
    frames = test_frames(n, test_interval, clip_len, interval)
    proposals = video.proposals or [Instance.make(0, n - 1, n)]
    rel, ticks, scales = [], [], []
    for p in proposals:
        a, b = p.start / n, p.end / n
        length = b - a
        before, after = length * aug_ratio[0], length * aug_ratio[1]
        lo, hi = max(0.0, a - before), min(1.0, b + after)
        rel.append((a, b))
        ticks.append((np.array((lo, a, b, hi)) * len(frames)).astype(np.int32))
        scales.append(((a - lo) / before, (hi - b) / after))
    return {
        "frames": frames,
        "relative": np.asarray(rel, dtype=np.float32),
        "ticks": np.asarray(ticks, dtype=np.int32),
        "scale_factors": np.asarray(scales, dtype=np.float32),
    }
