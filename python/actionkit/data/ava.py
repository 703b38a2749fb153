"""AVA spatio-temporal action detection data, with MMAction2 1.2.0's semantics
(``AVADataset``, ``SampleAVAFrames``): the annotation CSV as keyframes with their
actors, person proposals, and the frames of the clip around a keyframe.

- **Annotations** (``video_id, timestamp, x1, y1, x2, y2, action_id, person_id``, boxes
  normalised to [0, 1]): the rows of one keyframe with the same box are one actor with a
  multi-hot label row ``[num_classes]`` (index = action id; column 0 unused, as
  MMAction2's 81 columns for AVA's 80 actions) and the person id of its first row;
  keyframes and actors in order of first appearance. ``custom_classes`` keeps the rows
  of those action ids, renumbered 1..len (``num_classes = len + 1``). A row with the
  wrong number of fields, a non-number, an action id outside ``1..num_classes - 1``, a
  timestamp outside ``[timestamp_start, timestamp_end]`` or a box outside [0, 1] (or with
  x2 < x1, y2 < y1) raises naming the file and line.
- **Proposals**: MMAction2's pickle ``{"video_id,timestamp": [N, 4 or 5]}`` (normalised
  boxes, optional score), read as data (no code runs; ``trust=True`` to unpickle
  anything). Per keyframe (:func:`keyframe_proposals`): the boxes scoring at least
  ``min(score_thr, best score)``, at most ``max_proposals``; ``[[0, 0, 1, 1]]`` with
  score 1 where a keyframe has none.
- **Frames** (:class:`SampleAVAFrames`): ``clip_len`` frames ``frame_interval`` apart
  around the keyframe's frame ``fps * (timestamp - timestamp_start)`` (0-based: AVA's
  frames are extracted from second ``timestamp_start`` = 900 on), training adding a
  jitter in ``[-interval // 2, (interval + 1) // 2)`` per frame, clipped to the video.
  MMAction2 adds ``start_index`` to that centre and then again to the indices, so with
  AVA's 1-based frame files it reads one frame after the keyframe's;
  ``legacy=True`` does the same, for comparing numbers with it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import DataError
from ..metrics.ava import read_exclusions
from .pose import load_pickle


@dataclass
class AVAKeyframe:
    """One annotated keyframe: ``boxes [K, 4]`` (x1, y1, x2, y2 normalised, float64 as
    read), ``labels [K, num_classes]`` float32 multi-hot, ``entity_ids [K]``; ``lines``
    the CSV lines of each actor's first row."""

    video_id: str
    timestamp: int
    boxes: np.ndarray
    labels: np.ndarray
    entity_ids: np.ndarray
    lines: list[int] = field(default_factory=list)
    timestamp_start: int | None = None  # an AVA-Kinetics clip's first second (else None)

    @property
    def key(self) -> str:
        """MMAction2's ``img_key``: ``"video_id,%04d"``."""
        return f"{self.video_id},{self.timestamp:04d}"

    @property
    def proposal_key(self) -> str:
        """The key of its proposals: an AVA-Kinetics clip's are under its source video's
        id (the clip id without ``_START_END``)."""
        if self.timestamp_start is None:
            return self.key
        return f"{self.video_id.rsplit('_', 2)[0]},{self.timestamp:04d}"


def clip_span(video_id: str) -> tuple[int, int] | None:
    """The seconds ``(start, end)`` of an AVA-Kinetics clip id (a Kinetics video's id and
    ``_START_END``, e.g. ``o3lCwWyyc_s_000012_000022``); None for an AVA video's 11-letter
    id or an id without them (MMAction2's ``AVAKineticsDataset.get_timestamp``)."""
    parts = video_id.split("_")
    if len(video_id) == 11 or len(parts) < 3 or not (parts[-2].isdigit() and parts[-1].isdigit()):
        return None
    return int(parts[-2]), int(parts[-1])


def load_ava_annotations(
    ann_file: str | os.PathLike,
    num_classes: int = 81,
    custom_classes: list[int] | None = None,
    exclusions=None,
    timestamp_start: int = 900,
    timestamp_end: int = 1800,
    background_class: bool = True,
    clip_ids: bool = False,
) -> list[AVAKeyframe]:
    """The keyframes of an AVA annotation CSV (see the module's docstring);
    ``exclusions`` (a path or ``{(video_id, timestamp)}``) leaves keyframes out.
    ``background_class=False``: action ids from 0 (MultiSports'), column = id.
    ``clip_ids=True`` (AVA-Kinetics): a video id ending ``_START_END`` is a clip of those
    seconds (:func:`clip_span`), its timestamps checked against them."""
    path = os.fspath(ann_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such AVA annotation file")
    if custom_classes is not None:
        if 0 in custom_classes:
            raise ValueError("custom_classes: 0 is not an action id (AVA's ids start at 1)")
        if num_classes != len(custom_classes) + 1:
            raise ValueError(
                f"num_classes must be len(custom_classes) + 1 = {len(custom_classes) + 1} "
                f"with custom_classes, got {num_classes}"
            )
    if isinstance(exclusions, str | os.PathLike):
        exclusions = read_exclusions(exclusions)
    excluded = {(str(v), int(t)) for v, t in (exclusions or ())}
    by_key: dict[tuple[str, int], list] = {}
    first = 1 if background_class else 0  # the lowest action id
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            where = f"{path}:{n}"
            if len(row) != 8:
                raise DataError(
                    f"{where}: expected 8 fields (video_id, timestamp, x1, y1, x2, y2, "
                    f"action_id, person_id), got {len(row)}"
                )
            try:
                ts, action, person = int(row[1]), int(row[6]), int(row[7])
            except ValueError:
                raise DataError(
                    f"{where}: timestamp, action_id and person_id must be integers, got "
                    f"{row[1]!r}, {row[6]!r}, {row[7]!r}"
                ) from None
            try:
                box = np.array([float(v) for v in row[2:6]])
            except ValueError:
                raise DataError(f"{where}: box {row[2:6]!r} is not four numbers") from None
            if not np.isfinite(box).all() or box.min() < 0 or box.max() > 1:
                raise DataError(f"{where}: box {row[2:6]!r} is not inside [0, 1]")
            if box[2] < box[0] or box[3] < box[1]:
                raise DataError(f"{where}: box {row[2:6]!r} has x2 < x1 or y2 < y1")
            span = clip_span(row[0]) if clip_ids else None
            first_ts, last_ts = span or (timestamp_start, timestamp_end)
            if not first_ts <= ts <= last_ts:
                raise DataError(
                    f"{where}: timestamp {ts} is outside the "
                    f"{'clip' if span else 'video'}'s annotated span [{first_ts}, {last_ts}]"
                )
            if custom_classes is not None:
                if action not in custom_classes:
                    continue
                action = custom_classes.index(action) + 1
            elif not first <= action < num_classes:
                raise DataError(
                    f"{where}: action id {action} is outside {first}.."
                    f"{num_classes - 1} (num_classes {num_classes}"
                    f"{'' if background_class else ', no background class'})"
                )
            by_key.setdefault((row[0], ts), []).append((box, action, person, n))
    keyframes = []
    for (video, ts), records in by_key.items():
        if (video, ts) in excluded:
            continue
        actors: list[list] = []  # [box, labels, person, line]
        for box, action, person, n in records:
            for actor in actors:
                if np.array_equal(actor[0], box):
                    actor[1].append(action)
                    break
            else:
                actors.append([box, [action], person, n])
        labels = np.zeros((len(actors), num_classes), np.float32)
        for i, actor in enumerate(actors):
            labels[i, actor[1]] = 1.0
        keyframes.append(
            AVAKeyframe(
                video,
                ts,
                np.stack([a[0] for a in actors]),
                labels,
                np.array([a[2] for a in actors], np.int64),
                [a[3] for a in actors],
                (clip_span(video) or (None,))[0] if clip_ids else None,
            )
        )
    return keyframes


def load_ava_proposals(path: str | os.PathLike, trust: bool = False) -> dict[str, np.ndarray]:
    """MMAction2's proposal pickle as ``{"video_id,timestamp": float [N, 4 or 5]}``, read as
    data; a key or array of another form raises naming the file and key. A ``.csv`` is
    read by :func:`read_box_csv`."""
    if os.fspath(path).lower().endswith(".csv"):
        return read_box_csv(path)
    data = load_pickle(path, trust, what="proposal")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a dict of 'video_id,timestamp' -> [N, 5] boxes")
    out = {}
    for key, boxes in data.items():
        if not isinstance(key, str) or key.count(",") != 1:
            raise DataError(f"{path}: key {key!r} is not 'video_id,timestamp'")
        arr = np.asarray(boxes)
        if arr.ndim != 2 or arr.shape[1] not in (4, 5) or not np.issubdtype(arr.dtype, np.number):
            raise DataError(
                f"{path}: {key}: expected [N, 4] or [N, 5] numbers, got "
                f"{arr.dtype} {tuple(arr.shape)}"
            )
        if not np.isfinite(arr).all():
            raise DataError(f"{path}: {key}: NaN or inf in the proposals")
        out[key] = arr
    return out


def read_box_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Person boxes from a CSV as :func:`load_ava_proposals` gives them: rows
    ``video_id, timestamp, x1, y1, x2, y2[, score]`` (a person detector's output), or
    AVA's detection rows ``..., action_id, score`` (a box repeated per action is one
    box, with its best score); boxes normalised to [0, 1]. A malformed row raises
    naming the file and line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such proposal file")
    found: dict[str, dict[tuple, float]] = {}
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) not in (6, 7, 8):
                raise DataError(
                    f"{path}:{n}: expected video_id, timestamp, x1, y1, x2, y2[, score] or AVA's "
                    f"8 fields, got {len(row)}"
                )
            try:
                ts = int(row[1])
                box = tuple(float(v) for v in row[2:6])
                score = float(row[-1]) if len(row) > 6 else 1.0
            except ValueError:
                raise DataError(f"{path}:{n}: not a number in {','.join(row)!r}") from None
            if not all(0 <= v <= 1 for v in box) or box[2] < box[0] or box[3] < box[1]:
                raise DataError(f"{path}:{n}: box {box} is not x1 <= x2, y1 <= y2 in [0, 1]")
            boxes = found.setdefault(f"{row[0].strip()},{ts:04d}", {})
            boxes[box] = max(score, boxes.get(box, -np.inf))
    if not found:
        raise DataError(f"{path}: no boxes")
    return {
        key: np.array([[*box, score] for box, score in boxes.items()], np.float32)
        for key, boxes in found.items()
    }


def keyframe_proposals(
    proposals: dict[str, np.ndarray],
    key: str,
    score_thr: float = 0.9,
    max_proposals: int = 1000,
    source: str = "proposals",
) -> tuple[np.ndarray, np.ndarray | None]:
    """The proposals MMAction2's ``AVADataset`` keeps for ``key``: ``(boxes [N, 4],
    scores [N] or None)``, the boxes normalised (see the module's docstring)."""
    if not 0 <= score_thr <= 1:
        raise ValueError(f"score_thr must be in [0, 1], got {score_thr}")
    if key not in proposals:
        return np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([1.0])
    arr = proposals[key]
    scores = None
    if arr.shape[1] == 5:
        thr = min(score_thr, arr[:, 4].max())
        arr = arr[arr[:, 4] >= thr]
        scores = arr[:max_proposals, 4]
    boxes = arr[:max_proposals, :4]
    if boxes.size and (boxes.min() < 0 or boxes.max() > 1):
        raise DataError(
            f"{source}: {key}: proposals must be normalised to [0, 1], got values in "
            f"[{boxes.min():g}, {boxes.max():g}]"
        )
    return boxes, scores


@dataclass(frozen=True)
class SampleAVAFrames:
    """The frames of the clip around a keyframe (see the module's docstring):
    ``sampler(timestamp, total_frames, fps=30, timestamp_start=900, start_index=0,
    rng=None)`` -> int64 ``[clip_len]`` frame numbers (``start_index`` added, as the
    other samplers return them); ``rng`` draws the training jitter."""

    clip_len: int
    frame_interval: int = 2
    test_mode: bool = False
    legacy: bool = False

    def __post_init__(self):
        if self.clip_len < 1 or self.frame_interval < 1:
            raise ValueError(
                f"clip_len and frame_interval must be positive, got {self.clip_len}, "
                f"{self.frame_interval}"
            )

    def __call__(
        self,
        timestamp: int,
        total_frames: int,
        fps: float = 30,
        timestamp_start: int = 900,
        start_index: int = 0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        if total_frames < 1:
            raise ValueError(f"total_frames must be positive, got {total_frames}")
        center = int(round(fps * (timestamp - timestamp_start)))
        if self.legacy:
            center += start_index
        step = self.frame_interval
        first = center - (self.clip_len // 2) * step
        inds = first + step * np.arange(self.clip_len)
        if not self.test_mode:
            rng = np.random.default_rng() if rng is None else rng
            inds = inds + rng.integers(-step // 2, (step + 1) // 2, size=self.clip_len)
        return np.clip(inds, 0, total_frames - 1).astype(np.int64) + start_index


class AVADataset(torch.utils.data.Dataset):
    """AVA keyframes as detection samples, from rawframe folders or straight from videos.

    Each item: ``inputs`` float ``[3, T, H, W]`` (the transforms' ``FormatShape("NCTHW")``
    output, one view), ``gt_bboxes`` float32 ``[K, 4]`` and ``proposals`` ``[N, 4]`` in
    the input's pixels, ``gt_labels`` float32 ``[K, num_classes]`` multi-hot,
    ``scores`` ``[N]`` (ones where the proposal file has none), ``img_key``, ``index``.

    Args:
        ann_file: the annotation CSV (:func:`load_ava_annotations`; ``num_classes``,
            ``custom_classes``, ``exclusions``, ``timestamp_start``, ``timestamp_end``
            as there).
        sampler: a :class:`SampleAVAFrames`.
        transforms: clip transforms ending with ``FormatShape("NCTHW")``.
        data_prefix: the folder of the frame folders or videos.
        source: ``"rawframes"`` (``data_prefix/video_id/`` + ``filename_tmpl``, frame
            files numbered from ``start_index``, 1 for AVA's) or ``"video"``
            (``data_prefix/`` + ``video_template``, e.g. AVA's 15-minute cuts: the clip
            around each keyframe is decoded from the video, no frames extracted).
        proposal_file: MMAction2's proposal pickle (:func:`load_ava_proposals`), kept per
            keyframe by ``person_det_score_thr`` and ``num_max_proposals``; without one
            the ground-truth boxes are the proposals.
        fps: frames per second of the frames (AVA's: 30).
        background_class: ``False`` for label columns that are the action ids from 0
            (MultiSports': ``fps=1``, ``timestamp_start=1``, every annotated frame a
            keyframe).
        clip_ids: AVA-Kinetics: a video id ending ``_START_END`` names a clip of those
            seconds (its frames from second START, its proposals under the id without
            them); AVA's own ids as usual.
    """

    def __init__(
        self,
        ann_file: str | os.PathLike,
        sampler: SampleAVAFrames,
        transforms,
        data_prefix: str | os.PathLike = "",
        source: str = "rawframes",
        filename_tmpl: str = "img_{:05d}.jpg",
        video_template: str = "{video_id}.mp4",
        start_index: int | None = None,
        proposal_file: str | os.PathLike | None = None,
        person_det_score_thr: float = 0.9,
        num_max_proposals: int = 1000,
        exclusions=None,
        num_classes: int = 81,
        custom_classes: list[int] | None = None,
        fps: float = 30,
        timestamp_start: int = 900,
        timestamp_end: int = 1800,
        background_class: bool = True,
        clip_ids: bool = False,
        backend: str = "auto",
        seed: int = 0,
        trust: bool = False,
    ):
        if source not in ("rawframes", "video"):
            raise ValueError(f"source must be 'rawframes' or 'video', got {source!r}")
        if not 0 <= person_det_score_thr <= 1:
            raise ValueError(f"person_det_score_thr must be in [0, 1], got {person_det_score_thr}")
        self.ann_file = os.fspath(ann_file)
        self.exclusions = exclusions  # (the evaluation leaves them out too)
        self.custom_classes = custom_classes
        self.keyframes = load_ava_annotations(
            ann_file, num_classes, custom_classes, exclusions, timestamp_start, timestamp_end,
            background_class, clip_ids,
        )  # fmt: skip
        self.sampler, self.transforms = sampler, transforms
        self.data_prefix, self.source = os.fspath(data_prefix), source
        self.filename_tmpl, self.video_template = filename_tmpl, video_template
        self.start_index = (
            (1 if source == "rawframes" else 0) if start_index is None else start_index
        )
        self.proposal_file = None if proposal_file is None else os.fspath(proposal_file)
        self.proposals = None if proposal_file is None else load_ava_proposals(proposal_file, trust)
        self.person_det_score_thr, self.num_max_proposals = person_det_score_thr, num_max_proposals
        self.num_classes, self.fps = num_classes, fps
        self.timestamp_start = timestamp_start
        self.backend, self.seed, self.epoch = backend, seed, 0

    def __len__(self) -> int:
        return len(self.keyframes)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def path_of(self, keyframe: AVAKeyframe) -> str:
        if self.source == "rawframes":
            return os.path.join(self.data_prefix, keyframe.video_id)
        return os.path.join(
            self.data_prefix, self.video_template.format(video_id=keyframe.video_id)
        )

    def open(self, keyframe: AVAKeyframe):
        from .decode import VideoReader

        path = self.path_of(keyframe)
        where = f"{self.ann_file}:{keyframe.lines[0]}"
        if not os.path.exists(path):
            raise FileNotFoundError(f"{where}: {keyframe.key}: no such {self.source}: {path}")
        if self.source == "rawframes":
            return VideoReader(path, backend="rawframes", filename_tmpl=self.filename_tmpl,
                               start_index=self.start_index)  # fmt: skip
        return VideoReader(path, backend=self.backend)

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        keyframe = self.keyframes[index]
        boxes = {"gt_bboxes": keyframe.boxes}
        if self.proposals is None:
            scores = None
            boxes["proposals"] = keyframe.boxes
        else:
            boxes["proposals"], scores = keyframe_proposals(
                self.proposals, keyframe.proposal_key, self.person_det_score_thr,
                self.num_max_proposals, self.proposal_file,
            )  # fmt: skip
        with self.open(keyframe) as reader:
            inputs, rois, shape = keyframe_clip(
                reader, keyframe.timestamp, self.sampler, self.transforms, boxes, self.fps,
                self.timestamp_start if keyframe.timestamp_start is None
                else keyframe.timestamp_start, self.start_index, rng,
                f"{self.ann_file}:{keyframe.lines[0]}: {keyframe.key}: the keyframe",
            )  # fmt: skip
        return {
            "inputs": inputs,
            "gt_bboxes": rois["gt_bboxes"],
            "gt_labels": torch.from_numpy(keyframe.labels),
            "proposals": rois["proposals"],
            "scores": torch.ones(len(rois["proposals"]))
            if scores is None
            else torch.from_numpy(scores).float(),
            "img_key": keyframe.key,
            "img_shape": shape,
            "index": index,
        }


def keyframe_clip(
    reader,
    timestamp: int,
    sampler: SampleAVAFrames,
    transforms,
    boxes: dict[str, np.ndarray],
    fps: float = 30,
    timestamp_start: int = 900,
    start_index: int = 0,
    rng: np.random.Generator | None = None,
    where: str = "the keyframe",
) -> tuple[torch.Tensor, dict[str, torch.Tensor], tuple[int, int]]:
    """The model input of the keyframe at ``timestamp`` of an open video ``reader``: the
    sampler's frames through ``transforms`` (ending with ``FormatShape("NCTHW")``) as
    float ``[3, T, H, W]``, the boxes of each entry of ``boxes`` (normalised ``[N, 4]``)
    in the input's pixels (float32, through the crops, resizes and flips), and the
    input's ``(H, W)``."""
    from .transforms import Clip, run_transforms

    total = len(reader)
    frame = fps * (timestamp - timestamp_start)
    if not 0 <= frame < total:
        raise DataError(
            f"{where} is frame {frame:g} of {getattr(reader, 'path', 'the video')}, which has "
            f"{total} frames (timestamp_start {timestamp_start}, fps {fps})"
        )
    inds = sampler(timestamp, total, fps, timestamp_start, start_index, rng)
    frames = reader.get_frames(inds - start_index)
    h, w = frames.shape[1:3]
    scale = np.array([w, h, w, h])
    # MMAction2's RawFrameDecode: boxes to pixels, then float32
    rois = {k: torch.from_numpy((np.asarray(v) * scale).astype(np.float32)).double()
            for k, v in boxes.items()}  # fmt: skip
    inputs, last = run_transforms(transforms, Clip(frames, 1, len(inds), rois=rois), rng)
    if isinstance(inputs, Clip):
        raise TypeError("the transforms must end with FormatShape (they returned a Clip)")
    return (
        inputs[0] if inputs.dim() == 5 else inputs,
        {k: v.float() for k, v in last.rois.items()},
        tuple(last.size),
    )


def collate_detection(batch: list[dict]) -> dict:
    """Stacks the clips; the per-clip boxes, labels and keys stay lists."""
    out = {"inputs": torch.stack([b["inputs"] for b in batch])}
    for key in ("gt_bboxes", "gt_labels", "proposals", "scores", "img_key", "img_shape", "index"):
        out[key] = [b[key] for b in batch]
    return out
