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
import torch

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
        self._splits = {}  # per video (by object): its split, made once
        for v in videos:
            self._splits[id(v)] = split = self._split(v)
            for kind, found in enumerate(split):
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
        split = self._splits.get(id(video)) or self._split(video)
        for kind, (found, wanted) in enumerate(zip(split, self.counts, strict=True)):
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


def label_segments(segments: np.ndarray, gts: list[Instance], num_frames: int) -> list[Instance]:
    """Proposals from frame segments ``[N, 2]`` with their TAG fields: ``best_iou`` (the
    highest tIoU with a ground truth instance), ``overlap_self`` (the largest fraction of
    the proposal inside one instance) and ``label`` (the best instance's; 0 when it
    overlaps none), as the SSN authors' proposal lists hold them."""
    out = []
    for start, end in np.asarray(segments, dtype=np.int64).reshape(-1, 2).tolist():
        if end <= start:
            continue
        ious = [_tiou(start, end, g.start, g.end) for g in gts]
        best = int(np.argmax(ious)) if gts else -1
        iou = ious[best] if gts else 0.0
        inside = max(
            (max(min(end, g.end) - max(start, g.start), 0) / (end - start) for g in gts),
            default=0.0,
        )
        label = gts[best].label if gts and iou > 0 else 0
        out.append(Instance.make(start, end, num_frames, label, iou, inside))
    return out


def sliding_windows(
    num_frames: int, scales=(0.04, 0.08, 0.16, 0.32, 0.64), overlap: float = 0.5
) -> np.ndarray:
    """Multi-scale sliding-window segments ``[N, 2]`` over a video: windows of each
    ``scale`` x the video's length (at least 2 frames), ``overlap`` of a window shared
    with the next."""
    out = []
    for s in scales:
        length = max(2, int(round(s * num_frames)))
        step = max(1, int(round(length * (1 - overlap))))
        starts = np.arange(0, max(1, num_frames - length + 1), step)
        out.append(np.stack([starts, np.minimum(starts + length, num_frames)], 1))
    return np.unique(np.concatenate(out), axis=0)


def _rngs(seed: int, epoch: int, index: int):
    """The sample's two random streams: MMAction2's (a RandomState: proposals and
    frames) and the transforms' (a Generator)."""
    seq = np.random.SeedSequence([seed, epoch, index])
    a, b = seq.spawn(2)
    return np.random.RandomState(a.generate_state(1)[0]), np.random.default_rng(b)


class SSNDataset:
    """SSN's samples from a TAG proposal list (:func:`load_proposal_file`).

    ``source="features"``: ``<data_prefix>/<video><feature_ext>`` holds the video's
    snippet features ``[T, C]`` (CSV or ``.npy``); frame ``f`` of the list reads row
    ``f * T // num_frames`` (the identity when the list counts snippets).
    ``source="frames"``: ``<data_prefix>/<video>`` is a frame folder
    (``filename_tmpl``, numbered from ``start_index``) or, with ``video_ext``, a video
    file; the frames go through ``transforms`` (ending with ``FormatShape``).

    Training samples (``test_mode=False``; videos without ground truth are left out):
    ``inputs`` ``[P * 9, ...]`` (P = ``num_per_video`` proposals), ``proposal_scale_factor``
    ``[P, 2]``, ``proposal_type`` / ``proposal_labels`` ``[P]``, ``reg_targets`` ``[P, 2]``
    (normalised by ``reg_norm_consts``, by default the list's own). Test samples: the
    video's frames every ``test_interval`` (``inputs [T, ...]``) and its proposals'
    ``ticks``, ``scale_factors`` and ``relative`` spans (:func:`test_layout`)."""

    def __init__(
        self,
        ann_file: str | os.PathLike,
        data_prefix: str | os.PathLike,
        source: str = "features",
        test_mode: bool = False,
        assign: AssignConfig | None = None,
        sampler: SamplerConfig | None = None,
        body_segments: int = 5,
        aug_segments=(2, 2),
        aug_ratio=(0.5, 0.5),
        test_interval: int = 6,
        transforms=None,
        feature_ext: str = ".csv",
        video_ext: str = "",
        filename_tmpl: str = "img_{:05d}.jpg",
        start_index: int = 1,
        backend: str = "auto",
        reg_norm_consts: np.ndarray | None = None,
        seed: int = 0,
    ):
        if source not in ("features", "frames"):
            raise ValueError(f"source must be 'features' or 'frames', got {source!r}")
        if source == "frames" and transforms is None:
            raise ValueError("source 'frames' needs transforms (ending with FormatShape)")
        self.ann_file, self.data_prefix = Path(ann_file), Path(data_prefix)
        self.source, self.test_mode = source, test_mode
        self.assign, self.sampler_cfg = assign or AssignConfig(), sampler or SamplerConfig()
        self.body_segments, self.aug_segments = body_segments, tuple(aug_segments)
        self.aug_ratio = tuple(aug_ratio) if not np.isscalar(aug_ratio) else (aug_ratio,) * 2
        self.test_interval, self.transforms = test_interval, transforms
        self.feature_ext, self.video_ext = feature_ext, video_ext
        self.reader_options = {"filename_tmpl": filename_tmpl, "start_index": start_index}
        self.backend, self.seed, self.epoch = backend, seed, 0
        videos = load_proposal_file(self.ann_file)
        self.all_videos = videos
        self.videos = videos if test_mode else [v for v in videos if v.gts]
        if not self.videos:
            raise DataError(f"{self.ann_file}: no video with ground truth to train on")
        self.names = [v.video_id for v in self.videos]
        self.reg_norm_consts = (
            np.asarray(reg_norm_consts, dtype=float)
            if reg_norm_consts is not None
            else (None if test_mode else regression_constants(self.videos, self.assign))
        )
        self.proposal_sampler = (
            None if test_mode else ProposalSampler(self.videos, self.assign, self.sampler_cfg)
        )

    def __len__(self) -> int:
        return len(self.videos)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _source(self, video: ProposalVideo) -> Path:
        path = (
            self.data_prefix
            / f"{video.video_id}{self.feature_ext if self.source == 'features' else self.video_ext}"
        )
        if not path.exists():
            raise DataError(f"{self.ann_file}: video {video.video_id!r}: {path} does not exist")
        return path

    def _inputs(self, video: ProposalVideo, frames: np.ndarray, rng: np.random.Generator):
        path = self._source(video)
        if self.source == "features":
            from .localization import read_features

            feats = read_features(path)
            rows = np.minimum(frames * len(feats) // video.num_frames, len(feats) - 1)
            return torch.from_numpy(np.ascontiguousarray(feats[rows], dtype=np.float32))
        from .decode import VideoReader
        from .transforms import Clip, apply_transforms

        options = self.reader_options if path.is_dir() else {}
        with VideoReader(
            path, backend="rawframes" if path.is_dir() else self.backend, **options
        ) as reader:
            if len(reader) < video.num_frames:
                raise DataError(
                    f"{self.ann_file}: video {video.video_id!r} lists {video.num_frames} "
                    f"frames, {path} has {len(reader)}"
                )
            pixels = reader.get_frames(frames)
        out, _ = apply_transforms(self.transforms, Clip(pixels, len(frames), 1), rng)
        return out

    def __getitem__(self, index) -> dict:
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        video = self.videos[index]
        legacy, rng = _rngs(self.seed, epoch, index)
        if self.test_mode:
            layout = test_layout(video, self.test_interval, self.aug_ratio)
            return {
                "inputs": self._inputs(video, layout["frames"], rng),
                "ticks": torch.from_numpy(layout["ticks"].astype(np.int64)),
                "scale_factors": torch.from_numpy(layout["scale_factors"]),
                "relative": torch.from_numpy(layout["relative"]),
                "index": index,
            }
        drawn = self.proposal_sampler.sample(video, legacy)
        starts = [
            proposal_snippets(
                p,
                video.num_frames,
                True,
                legacy,
                self.body_segments,
                self.aug_segments,
                self.aug_ratio,
            )
            for p, _ in drawn
        ]
        frames = snippet_frames(np.concatenate(starts), video.num_frames)
        mean, std = self.reg_norm_consts
        targets = [
            (np.asarray(p.target) - mean) / std if kind == POSITIVE else p.target
            for p, kind in drawn
        ]
        return {
            "inputs": self._inputs(video, frames, rng),
            "proposal_scale_factor": torch.tensor(
                [stage_scale_factors(p, video.num_frames, self.aug_ratio) for p, _ in drawn],
                dtype=torch.float32,
            ),
            "proposal_type": torch.tensor([kind for _, kind in drawn]),
            "proposal_labels": torch.tensor(
                [p.label if kind != BACKGROUND else 0 for p, kind in drawn]
            ),
            "reg_targets": torch.tensor(np.asarray(targets, dtype=np.float32)),
            "index": index,
        }

    def ground_truth(self) -> dict[str, list[tuple[float, float, int]]]:
        """Per video its instances as ``(start, end, class)``: spans over the frame count,
        classes 0-based (what :func:`~actionkit.metrics.localization.thumos14_map`
        takes)."""
        return {
            v.video_id: [(g.start / v.num_frames, g.end / v.num_frames, g.label - 1) for g in v.gts]
            for v in self.videos
        }


def collate_videos(samples: list[dict]) -> list[dict]:
    """Test batches of whole videos (of different lengths): a list, not stacked."""
    return samples


def write_synthetic_proposals(root: str | os.PathLike, scales=(0.04, 0.08, 0.16, 0.32, 0.64)):
    """TAG proposal lists ``<split>_proposals.txt`` for the synthetic localization set
    under ``root`` (:mod:`actionkit.data.synthetic_features`): frames are snippets (one
    feature row each), classes numbered from 1 in ``classes.txt`` order (written here),
    proposals the video's :func:`sliding_windows`."""
    import json

    from .localization import load_activitynet
    from .synthetic_features import FRAMES_PER_SNIPPET

    root = Path(root)
    splits = {
        s: root / f"{s}.json" for s in ("train", "val", "test") if (root / f"{s}.json").exists()
    }
    names = sorted(
        {
            a["label"]
            for path in splits.values()
            for v in json.loads(path.read_text()).values()
            for a in v["annotations"]
        }
    )
    (root / "classes.txt").write_text("".join(f"{n}\n" for n in names))
    for split, path in splits.items():
        videos = []
        for name, info in load_activitynet(path).items():
            rows = int(info["feature_frame"]) // FRAMES_PER_SNIPPET
            per_row = FRAMES_PER_SNIPPET / float(info["fps"])  # seconds per snippet
            gts = []
            for a in info["annotations"]:
                start = int(round(a["segment"][0] / per_row))
                end = min(rows, int(round(a["segment"][1] / per_row)))
                if end > start:
                    gts.append(Instance.make(start, end, rows, names.index(a["label"]) + 1, 1.0))
            proposals = label_segments(sliding_windows(rows, scales), gts, rows)
            videos.append(ProposalVideo(name, rows, gts, proposals))
        write_proposal_file(root / f"{split}_proposals.txt", videos)


def proposal_list_from_activitynet(
    ann_file: str | os.PathLike,
    proposals_file: str | os.PathLike,
    classes: list[str] | None = None,
    top_k: int = 1000,
) -> tuple[list[ProposalVideo], list[str]]:
    """TAG proposal lists from temporal proposals in ActivityNet's result format (what
    ``actionkit-test`` on a BMN or BSN config writes: ``{"results": {video: [{"segment":
    [start, end], "score"}]}}``, seconds) and the videos' ActivityNet-style annotations
    (:func:`~actionkit.data.localization.load_activitynet`): frames are the video's
    (``duration_frame`` over ``duration_second``), each video keeps its ``top_k``
    best-scored proposals, labelled against the ground truth (:func:`label_segments`).
    Classes number from 1 in ``classes`` order (default: the annotations' labels,
    sorted). Returns the videos and the class names."""
    import json

    from .localization import load_activitynet, video_id

    videos = load_activitynet(ann_file)
    path = Path(proposals_file)
    try:
        results = json.loads(path.read_text())["results"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not an ActivityNet result file with 'results': {e}") from None
    by_id = {video_id(k): v for k, v in results.items()}
    names = classes or sorted({a["label"] for v in videos.values() for a in v["annotations"]})
    out = []
    for name, info in videos.items():
        frames = int(
            info.get("duration_frame") or round(info["duration_second"] * info.get("fps", 30))
        )
        per_second = frames / float(info["duration_second"])
        gts = []
        for a in info["annotations"]:
            if a["label"] not in names:
                raise DataError(
                    f"{ann_file}: video {name}: label {a['label']!r} is not among the classes"
                )
            start, end = (int(round(t * per_second)) for t in a["segment"])
            end = min(end, frames)
            if end > start:
                gts.append(Instance.make(start, end, frames, names.index(a["label"]) + 1, 1.0))
        found = by_id.get(video_id(name))
        if found is None:
            raise DataError(f"{path}: no proposals for video {name!r} of {ann_file}")
        ranked = sorted(found, key=lambda p: -float(p["score"]))[:top_k]
        segs = np.array([p["segment"] for p in ranked], dtype=float).reshape(-1, 2) * per_second
        segs = np.clip(np.round(segs), 0, frames).astype(np.int64)
        out.append(ProposalVideo(name, frames, gts, label_segments(segs, gts, frames)))
    return out, names
