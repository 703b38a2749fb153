"""AVA frame-mAP@0.5 as MMAction2 1.2.0's ``ava_eval`` computes it, vectorised (no
process pool, no per-frame Python loop), and the AVA files it reads.

Files (https://research.google.com/ava/download.html):

- box CSVs: ``video_id, timestamp, x1, y1, x2, y2, action_id[, score]`` (ground truth
  has a person id in place of the score; it is not read), boxes normalised to [0, 1];
- the label map (``.pbtxt``: ``item { name: "..." id: N }``, ``label_id:`` also read);
- excluded timestamps (``video_id, timestamp``).

:func:`ava_frame_map` scores detections per keyframe (``video_id,timestamp``) and class:
each detection, highest score first, takes the ground-truth box of its class it
overlaps most if the IoU is at least 0.5 and no earlier detection took it (a detection
whose best box is taken is a false positive: VOC's rule); the VOC-interpolated average
precision per class, and means over all classes and over AVA's three groups (person
movement: ids <= 14; object manipulation: 15-63; person interaction: >= 64). As in
MMAction2:

- classes outside the label map (or ``custom_classes``) are dropped from both files;
- a class gets an AP when it has a detection in a scored frame, NaN (left out of the
  means) when it has no ground truth; a class with ground truth and no detection gets
  none (left out of the means, not counted as 0);
- the ground-truth count of a class is taken over the whole ground-truth file
  (excluded frames included);
- ``protocol="gt_frames"`` (MMAction2's ``AVAMetric``): only keyframes with ground
  truth are scored, detections elsewhere are ignored; ``protocol="all_frames"``
  (MMAction2's ``ignore_empty_frames=False``, the ActivityNet / PySlowFast evaluator's
  rule, mmaction2#1268): every keyframe with detections is scored, and detections on
  frames without ground truth are false positives.

One difference: equal scores. MMAction2 ranks a class's detections with NumPy's unstable
``argsort``, so the order of tied scores (common: its CSVs keep 4 decimals) depends on
the sort algorithm NumPy picks for the CPU. Here ties keep their order of scoring
(keyframes in file order, each keyframe's detections by descending score, file order
among equals), on every machine; without ties the two are equal (to 1e-12 on fixtures
from MMAction2's code).
"""

from __future__ import annotations

import csv
import gc
import itertools
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

PROTOCOLS = ("gt_frames", "all_frames")
GROUPS = {
    "person_movement": lambda i: i <= 14,
    "object_manipulation": lambda i: 14 < i < 64,
    "person_interaction": lambda i: i >= 64,
}


@dataclass
class AVABoxes:
    """Rows of an AVA box CSV as columns: ``video [N]`` (str), ``timestamp [N]`` (int
    seconds), ``boxes [N, 4]`` float64 ``x1, y1, x2, y2`` (normalised), ``action [N]``
    (int), ``score [N]`` float64 (1 where the file has none), ``line [N]`` (1-based line
    numbers, for errors) and ``source`` (the file)."""

    video: np.ndarray
    timestamp: np.ndarray
    boxes: np.ndarray
    action: np.ndarray
    score: np.ndarray
    line: np.ndarray
    source: str = "<rows>"

    def __len__(self) -> int:
        return len(self.action)

    def select(self, keep: np.ndarray) -> AVABoxes:
        return AVABoxes(
            self.video[keep],
            self.timestamp[keep],
            self.boxes[keep],
            self.action[keep],
            self.score[keep],
            self.line[keep],
            self.source,
        )


KINDS = ("detections", "ground_truth")


def _boxes_from_rows(rows: Iterable[Sequence], source: str, kind: str) -> AVABoxes:
    """Rows of 7 or 8 fields (video, timestamp, x1, y1, x2, y2, action[, score]) as
    :class:`AVABoxes`. Detections need the score; ground truth may have a person id
    there, kept in ``score`` (MMAction2 reads it as one and orders a keyframe's boxes by
    it, which decides between equal overlaps)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    eighth = "score" if kind == "detections" else "person id"
    video, ts, boxes, action, score, lines = [], [], [], [], [], []
    for n, row in enumerate(rows, 1):
        if not row or (len(row) == 1 and not str(row[0]).strip()):
            continue  # a blank line
        where = f"{source}:{n}"
        if len(row) not in (7, 8):
            raise DataError(f"{where}: expected 7 or 8 fields, got {len(row)}: {list(row)!r}")
        if kind == "detections" and len(row) == 7:
            raise DataError(f"{where}: a detection needs a score (8th field)")
        try:
            t = int(row[1])
        except ValueError:
            raise DataError(f"{where}: timestamp {row[1]!r} is not a whole second") from None
        try:
            box = [float(v) for v in row[2:6]]
        except ValueError:
            raise DataError(f"{where}: box {list(row[2:6])!r} is not four numbers") from None
        try:
            a = int(row[6])
        except ValueError:
            raise DataError(f"{where}: action id {row[6]!r} is not an integer") from None
        s = 1.0
        if len(row) == 8:
            try:
                s = float(row[7])
            except ValueError:
                raise DataError(f"{where}: {eighth} {row[7]!r} is not a number") from None
        if not all(np.isfinite(box)) or not np.isfinite(s):
            raise DataError(f"{where}: NaN or inf in the box or {eighth}")
        video.append(str(row[0]))
        ts.append(t)
        boxes.append(box)
        action.append(a)
        score.append(s)
        lines.append(n)
    return AVABoxes(
        np.array(video, dtype=str),
        np.array(ts, dtype=np.int64),
        np.array(boxes, dtype=np.float64).reshape(-1, 4),
        np.array(action, dtype=np.int64),
        np.array(score, dtype=np.float64),
        np.array(lines, dtype=np.int64),
        source,
    )


def read_ava_csv(path: str | os.PathLike, kind: str = "detections") -> AVABoxes:
    """An AVA box CSV: ``kind="detections"`` (the 8th field, the score, is required) or
    ``"ground_truth"`` (an 8th field is the person id). A malformed row raises naming the
    file, line and field."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such AVA CSV")
    with open(path, newline="") as f:
        return parse_ava_csv(f.read(), path, kind)


def parse_ava_csv(text: str, source: str = "<text>", kind: str = "detections") -> AVABoxes:
    """The rows of an AVA box CSV held in ``text`` (see :func:`read_ava_csv`; ``source``
    names it in errors)."""
    fast = _parse_plain(text, source, kind)
    if fast is not None:
        return fast
    return _boxes_from_rows(csv.reader(text.splitlines()), source, kind)


def _parse_plain(text: str, source: str, kind: str) -> AVABoxes | None:
    """The common case at C speed: no quotes, every row with the same number of fields,
    all numbers where numbers belong (NumPy parses them in one call). None when anything
    is unusual: the row-by-row reader then reads the file and names what is wrong."""
    if '"' in text:
        return None
    lines = text.splitlines()
    keep = None
    if lines.count(""):  # blank lines (other odd lines fail below and go row by row)
        keep = [i for i, line in enumerate(lines) if line]
        lines = [lines[i] for i in keep]
    if not lines:
        return _boxes_from_rows([], source, kind)
    gc_was_on = gc.isenabled()
    gc.disable()  # a million small lists: the collector would walk them again and again
    try:
        parts = [line.split(",", 1) for line in lines]
        rest = [p[1] for p in parts]
    except IndexError:  # a line without a comma
        return None
    finally:
        if gc_was_on:
            gc.enable()
    commas = set(map(str.count, rest, itertools.repeat(",", len(rest))))
    if len(commas) != 1:
        return None  # rows with different numbers of fields
    fields = commas.pop() + 2
    if fields not in ((8,) if kind == "detections" else (7, 8)):
        return None
    joined = ",".join(rest)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = np.fromstring(joined, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if values.size != len(rest) * (fields - 1):
        return None
    values = values.reshape(len(rest), fields - 1)
    stamps, actions = values[:, 0], values[:, 5]
    if not np.isfinite(values).all():
        return None
    if (stamps != np.round(stamps)).any() or (actions != np.round(actions)).any():
        return None
    return AVABoxes(
        np.array([p[0] for p in parts], dtype=str),
        stamps.astype(np.int64),
        np.ascontiguousarray(values[:, 1:5]),
        actions.astype(np.int64),
        values[:, 6].copy() if fields == 8 else np.ones(len(rest)),
        np.arange(1, len(lines) + 1) if keep is None else np.asarray(keep, np.int64) + 1,
        source,
    )


_FIELD = re.compile(r"^\s*(name|display_name|id|label_id|label_type)\s*:\s*(.*?)\s*$")


def detection_rows(
    video: str,
    timestamp: str,
    boxes,
    scores: np.ndarray,
    threshold: float,
    action_ids: Sequence[int] | None = None,
) -> list[str]:
    """AVA detection CSV rows (``video,timestamp,x1,y1,x2,y2,action,score``, four decimals
    as MMAction2's ``AVAMetric`` writes them) of one keyframe: normalised ``boxes [N, 4]``,
    and for every class column ``c >= 1`` of ``scores [N, C]`` (0 is the background) each
    box scoring above ``threshold``, class by class; the action id is
    ``action_ids[c - 1]`` (``custom_classes``), else ``c``."""
    rows = []
    for c in range(1, scores.shape[1]):
        action = action_ids[c - 1] if action_ids else c
        for i in np.flatnonzero(scores[:, c] > threshold):
            box = ",".join(f"{float(v):.4f}" for v in boxes[i])
            rows.append(f"{video},{timestamp},{box},{action},{scores[i, c]:.4f}\n")
    return rows


def read_label_map(path: str | os.PathLike) -> list[dict]:
    """AVA's label map (``.pbtxt``): ``[{"id": int, "name": str}, ...]`` in file order
    (``id`` or ``label_id``; ``name`` with its quotes removed). An id without a name, a
    duplicate id or a non-integer id raises naming the line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such label map")
    items, name, seen = [], None, set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = _FIELD.match(line)
            if m is None:
                continue
            key, value = m.groups()
            if key == "name":
                name = value.strip('"')
            elif key in ("id", "label_id"):
                try:
                    class_id = int(value)
                except ValueError:
                    raise DataError(f"{path}:{n}: id {value!r} is not an integer") from None
                if name is None:
                    raise DataError(f"{path}:{n}: id {class_id} has no name before it")
                if class_id in seen:
                    raise DataError(f"{path}:{n}: id {class_id} appears twice")
                seen.add(class_id)
                items.append({"id": class_id, "name": name})
                name = None
    if not items:
        raise DataError(f"{path}: no label map items (name: ... id: ...)")
    return items


def read_exclusions(path: str | os.PathLike) -> set[tuple[str, int]]:
    """Excluded keyframes ``{(video_id, timestamp)}`` from a ``video_id,timestamp`` CSV."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such exclusions file")
    out = set()
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row:
                continue
            if len(row) != 2:
                raise DataError(f"{path}:{n}: expected video_id,timestamp, got {row!r}")
            try:
                out.add((row[0], int(row[1])))
            except ValueError:
                raise DataError(f"{path}:{n}: timestamp {row[1]!r} is not an integer") from None
    return out


def _as_boxes(table, kind: str) -> AVABoxes:
    if isinstance(table, AVABoxes):
        return table
    if isinstance(table, str | os.PathLike):
        return read_ava_csv(table, kind)
    return _boxes_from_rows(table, f"<{kind} rows>", kind)


def _first_of_groups(group: np.ndarray) -> np.ndarray:
    """Start of every run of equal values in ``group`` (sorted), as indices."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.r_[True, group[1:] != group[:-1]])


def _mmaction_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of paired float32 boxes ``[y1, x1, y2, x2]`` with MMAction2's ``np_box_ops``
    arithmetic: float32 sides, float64 intersection, float32 areas; NaN for an empty
    union."""
    h = np.maximum(0.0, (np.minimum(det[:, 2], gt[:, 2]) - np.maximum(det[:, 0], gt[:, 0])))
    w = np.maximum(0.0, (np.minimum(det[:, 3], gt[:, 3]) - np.maximum(det[:, 1], gt[:, 1])))
    inter = h.astype(np.float64) * w.astype(np.float64)
    area_d = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    union = (area_d + area_g) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def _voc_ap(tp: np.ndarray, num_gt: int) -> float:
    """Average precision of detections ranked best first (``tp`` bool), VOC style."""
    if num_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    cum_tp = np.cumsum(tp)
    precision = cum_tp / np.arange(1, len(tp) + 1)
    recall = cum_tp / num_gt
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[idx] - recall[idx - 1]) * precision[idx]))


def ava_frame_map(
    gt,
    detections,
    label_map,
    exclusions=None,
    protocol: str = "gt_frames",
    custom_classes: Sequence[int] | None = None,
    iou_threshold: float = 0.5,
) -> dict:
    """Frame-mAP of AVA-format detections (see the module's docstring for the rules).

    Args:
        gt: the ground-truth CSV (a path), :class:`AVABoxes`, or rows
            ``(video, timestamp, x1, y1, x2, y2, action[, person])``.
        detections: the detections CSV, :class:`AVABoxes`, or rows
            ``(video, timestamp, x1, y1, x2, y2, action, score)``.
        label_map: the label map (a path or ``[{"id", "name"}, ...]``): the classes
            scored (AVA's 60-class evaluation map keeps the other 20 out).
        exclusions: excluded keyframes (a path or ``{(video, timestamp)}``), or None.
        protocol: ``"gt_frames"`` (MMAction2's) or ``"all_frames"`` (ActivityNet's).
        custom_classes: score only these class ids (a subset of the label map's).

    Returns:
        ``{"overall", "person_movement", "object_manipulation", "person_interaction"}``
        (NaN where no class counts) and ``"per_class"``: ``{id: {"name", "ap",
        "num_gt", "num_detections"}}`` for every class that got an AP.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    categories = read_label_map(label_map) if isinstance(label_map, str | os.PathLike) else [
        {"id": int(c["id"]), "name": str(c["name"])} for c in label_map
    ]  # fmt: skip
    names = {c["id"]: c["name"] for c in categories}
    whitelist = set(names)
    if custom_classes is not None:
        unknown = sorted(set(custom_classes) - whitelist)
        if unknown:
            raise ValueError(f"custom_classes {unknown} are not in the label map")
        whitelist = set(custom_classes)
    if isinstance(exclusions, str | os.PathLike):
        exclusions = read_exclusions(exclusions)
    excluded = {(str(v), int(t)) for v, t in (exclusions or ())}
    g = _as_boxes(gt, "ground_truth")
    d = _as_boxes(detections, "detections")
    if whitelist:  # MMAction2: an empty whitelist keeps everything
        for_g, for_d = np.isin(g.action, sorted(whitelist)), np.isin(d.action, sorted(whitelist))
        g = g if for_g.all() else g.select(for_g)
        d = d if for_d.all() else d.select(for_d)

    # keyframes as integers: (video, timestamp) -> id, numbered in order of first
    # appearance (ground truth first): the order MMAction2's dicts keep
    # (video ids numbered by a dict: hashing beats sorting a million strings)
    row_videos = np.concatenate([g.video, d.video]).tolist()
    videos = list(dict.fromkeys(row_videos))
    index = {v: i for i, v in enumerate(videos)}
    vid = np.fromiter(map(index.__getitem__, row_videos), np.int64, len(row_videos))
    span = int(max(g.timestamp.max(initial=0), d.timestamp.max(initial=0))) + 1
    lo = int(min(g.timestamp.min(initial=0), d.timestamp.min(initial=0)))
    stamps = np.concatenate([g.timestamp, d.timestamp])
    raw = vid.astype(np.int64) * (span - lo + 1) + (stamps - lo)
    uniq, first, frame = np.unique(raw, return_index=True, return_inverse=True)
    frame_g, frame_d = frame[: len(g)], frame[len(g) :]
    is_excluded = np.zeros(len(uniq), bool)
    if excluded:
        key_of = {(videos[vid[i]], int(stamps[i])): f for f, i in enumerate(first)}
        for key in excluded:
            f = key_of.get(key)
            if f is not None:
                is_excluded[f] = True

    has_gt = np.zeros(len(uniq), bool)
    has_gt[frame_g] = True
    if protocol == "gt_frames":
        scored = has_gt & ~is_excluded
        rank_of = _appearance_rank(frame_g, len(uniq))
    else:
        scored = np.zeros(len(uniq), bool)
        scored[frame_d] = True
        scored &= ~is_excluded
        rank_of = _appearance_rank(frame_d, len(uniq))

    num_gt = dict(zip(*np.unique(g.action, return_counts=True), strict=True))
    sel = np.flatnonzero(scored[frame_d])
    # scoring order: by class, keyframe (first appearance), descending score, file order
    # (two stable sorts: the score, then class and keyframe as one integer)
    by_score = np.argsort(-d.score[sel], kind="stable")
    sel = sel[by_score]
    outer = d.action[sel] * (len(uniq) + 1) + rank_of[frame_d[sel]]
    rows = sel[np.argsort(outer, kind="stable")]  # detections, in scoring order
    d_frame, d_score, d_action = frame_d[rows], d.score[rows], d.action[rows]

    # ground truth of scored keyframes, grouped by (class, keyframe), within a group by
    # descending person id (MMAction2 sorts by the 8th field), then file order
    keep_g = scored[frame_g]
    g_frame, g_action = frame_g[keep_g], g.action[keep_g]
    g_boxes = g.boxes[keep_g][:, [1, 0, 3, 2]].astype(np.float32)
    g_group = g_action.astype(np.int64) * len(uniq) + g_frame
    g_order = np.lexsort((-g.score[keep_g], g_group))  # stable: file order among equals
    g_group, g_boxes = g_group[g_order], g_boxes[g_order]
    d_group = d_action.astype(np.int64) * len(uniq) + d_frame
    start = np.searchsorted(g_group, d_group, "left")
    count = np.searchsorted(g_group, d_group, "right") - start

    # every (detection, ground truth of its group) pair; the best one per detection
    # (first of the largest IoU; NaN ranks highest, as np.argmax has it)
    pair_det = np.repeat(np.arange(len(d_group)), count)
    offsets = np.arange(len(pair_det)) - np.repeat(np.cumsum(count) - count, count)
    pair_gt = np.repeat(start, count) + offsets
    # boxes as MMAction2 holds them: float32 y1 x1 y2 x2
    pair_boxes = d.boxes[rows[pair_det]][:, [1, 0, 3, 2]].astype(np.float32)
    iou = _mmaction_iou(pair_boxes, g_boxes[pair_gt])
    rank = np.where(np.isnan(iou), np.inf, iou)
    best = np.full(len(d_group), -1, np.int64)
    best_iou = np.full(len(d_group), np.nan)
    if len(pair_det):
        starts = _first_of_groups(pair_det)
        top = np.maximum.reduceat(rank, starts)
        hit = np.flatnonzero(rank == np.repeat(top, np.diff(np.r_[starts, len(pair_det)])))
        dets, first_hit = np.unique(pair_det[hit], return_index=True)
        best[dets] = pair_gt[hit[first_hit]]
        best_iou[dets] = iou[hit[first_hit]]
    with np.errstate(invalid="ignore"):
        qualified = best_iou >= iou_threshold
    # a ground-truth box goes to the first qualified detection of its group
    tp = np.zeros(len(d_group), bool)
    q = np.flatnonzero(qualified)
    _, first_claim = np.unique(best[q], return_index=True)
    tp[q[first_claim]] = True

    per_class = {}
    bounds = _first_of_groups(d_action)
    for s, e in zip(bounds, np.r_[bounds[1:], len(d_action)].astype(np.int64)[: len(bounds)],
                    strict=True):  # fmt: skip
        k = int(d_action[s])
        scores = d_score[s:e].astype(np.float32)
        ranked = np.argsort(-scores, kind="stable")
        n = int(num_gt.get(k, 0))
        per_class[k] = {
            "name": names.get(k, str(k)),
            "ap": _voc_ap(tp[s:e][ranked], n),
            "num_gt": n,
            "num_detections": int(e - s),
        }
    out = {"overall": _nanmean([c["ap"] for c in per_class.values()])}
    for group, member in GROUPS.items():
        out[group] = _nanmean([c["ap"] for k, c in per_class.items() if member(k)])
    out["per_class"] = per_class
    return out


def _appearance_rank(frames: np.ndarray, n: int) -> np.ndarray:
    """Rank of each keyframe id by its first appearance in ``frames`` (others last)."""
    uniq, first = np.unique(frames, return_index=True)
    rank = np.full(n, n, np.int64)
    rank[uniq[np.argsort(first, kind="stable")]] = np.arange(len(uniq))
    return rank


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def ava_rows(
    video: Sequence[str],
    timestamp: Sequence[int],
    boxes,
    action: Sequence[int],
    score: Sequence[float] | None = None,
) -> AVABoxes:
    """:class:`AVABoxes` from columns (``boxes [N, 4]`` x1, y1, x2, y2 normalised)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    n = len(boxes)
    return AVABoxes(
        np.asarray(video, dtype=str),
        np.asarray(timestamp, np.int64),
        boxes,
        np.asarray(action, np.int64),
        np.ones(n) if score is None else np.asarray(score, np.float64),
        np.arange(1, n + 1),
    )


__all__ = [
    "AVABoxes",
    "PROTOCOLS",
    "ava_frame_map",
    "ava_rows",
    "parse_ava_csv",
    "read_ava_csv",
    "read_exclusions",
    "read_label_map",
]
