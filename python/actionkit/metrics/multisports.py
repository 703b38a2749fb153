"""MultiSports evaluation (Li et al., ICCV 2021): frame-mAP, and video-mAP of action tubes
linked from per-frame detections, as MultiSports' ``evaluate_multisports.py`` defines the
two and MMAction2 1.2.0's ``MultiSportsMetric`` links the tubes (checked against both:
tests/test_multisports.py).

* Ground truth: :func:`load_multisports_gt` reads the dataset's ``multisports_GT.pkl`` (as
  data: numbers, strings and numpy arrays only) into :class:`MultiSportsGT` — the labels,
  the evaluated videos, frames per video, resolutions and per video and class a list of
  tubes ``[n, 5]`` (frame, x1, y1, x2, y2 in pixels, frames numbered from 1).
* Detections: ``[N, 8]`` rows ``video index, frame, label, score, x1, y1, x2, y2``
  (pixels); :func:`detections_from_boxes` makes them from a detector's normalised boxes
  and class scores (each box counted once, for its best class, as MMAction2 does).
* :func:`frame_map`: per class VOC average precision of the boxes at IoU ``thr``
  (each ground-truth box matched once, best score first), averaged over classes.
* :func:`link_tubes`: per video and class, boxes linked frame to frame (per frame the
  10 best after MultiSports' NMS at 0.6, which scales a suppressed box's score by
  ``1 - IoU``; a tube takes the best-scored box overlapping its last one by IoU >= 0.5
  and ends at the first frame without one); tubes scored by their boxes' mean score,
  shorter than ``min_length`` frames or scored under 0.005 dropped.
* :func:`video_map`: per class VOC AP of the tubes at spatio-temporal IoU ``thr`` (the
  temporal IoU of the two frame spans times the mean per-frame box IoU over the shared
  span); :func:`video_map_ranges` the three averages over thresholds MultiSports reports.

Values are percentages, as MultiSports prints them. Equal scores rank in input order
(stable sorts; MultiSports' quicksorts order ties as the numpy build happens to). The six
classes MultiSports leaves out of its evaluation (too few instances: :data:`EXCLUDED`)
are left out here too, and a class without ground truth counts in no mean. One
deliberate difference: MMAction2's linking scores every box with the score of the *last*
detection of the whole set (its ``get_vid_dets`` reads a stale loop variable), so its
tube scores, and the video-mAP ranking built on them, are not the detector's;
``mmaction2_scores=True`` reproduces that to compare with numbers MMAction2 reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

EXCLUDED = frozenset(
    {
        "aerobic kick jump",
        "aerobic off axis jump",
        "aerobic butterfly jump",
        "aerobic balance turn",
        "basketball save",
        "basketball jump ball",
    }
)
NMS_THR, NMS_KEEP, LINK_IOU, MIN_TUBE_SCORE = 0.6, 10, 0.5, 0.005


@dataclass
class MultiSportsGT:
    labels: list[str]
    videos: list[str]  # the evaluated split's videos; detections index this list
    nframes: dict[str, int]
    resolution: dict[str, tuple[int, int]]  # (height, width)
    tubes: dict[str, dict[int, list[np.ndarray]]]  # video -> class -> [n, 5] tubes

    @classmethod
    def from_dict(cls, data: dict, source: str = "<ground truth>", split: str = "test"):
        """From the pickle's mapping: ``labels``, ``{split}_videos`` (a list holding one
        list of names, as MultiSports writes it), ``nframes``, ``resolution``,
        ``gttubes``."""
        key = f"{split}_videos"
        missing = [k for k in ("labels", key, "nframes", "gttubes") if k not in data]
        if missing:
            raise DataError(f"{source}: missing key {missing[0]!r} (a MultiSports GT file?)")
        videos = data[key]
        if len(videos) == 1 and isinstance(videos[0], list | tuple):
            videos = videos[0]  # MultiSports: [[names]]
        labels = [str(x) for x in data["labels"]]
        tubes = {}
        for v in videos:
            if v not in data["nframes"] or v not in data["gttubes"]:
                raise DataError(f"{source}: video {v!r} of {key} has no nframes / gttubes")
            tubes[v] = {}
            for c, found in data["gttubes"][v].items():
                c = int(c)
                if not 0 <= c < len(labels):
                    raise DataError(f"{source}: {v}: class {c} outside the {len(labels)} labels")
                tubes[v][c] = [_tube(t, source, v) for t in found]
        resolution = {v: tuple(int(x) for x in r) for v, r in data.get("resolution", {}).items()}
        nframes = {v: int(data["nframes"][v]) for v in videos}
        return cls(labels, list(videos), nframes, resolution, tubes)


def _tube(t, source: str, video: str) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 5 or len(t) == 0:
        raise DataError(f"{source}: {video}: a tube must be [n, 5] (frame, box), got {t.shape}")
    if np.any(np.diff(t[:, 0]) != 1):
        raise DataError(f"{source}: {video}: a tube's frames must be consecutive")
    return t


def load_multisports_gt(
    path: str | os.PathLike, split: str = "test", trust: bool = False
) -> MultiSportsGT:
    """MultiSports' ground-truth pickle (``multisports_GT.pkl``), read as data
    (``trust=True`` unpickles anything, which can run code)."""
    from ..data.pose import load_pickle

    data = load_pickle(path, trust, what="MultiSports ground-truth")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping, got {type(data).__name__}")
    return MultiSportsGT.from_dict(data, str(path), split)


def detections_from_boxes(gt: MultiSportsGT, video: str, frame: int, boxes, scores) -> np.ndarray:
    """Rows for :func:`frame_map` / :func:`link_tubes` from one frame's detector output:
    ``boxes`` ``[n, 4]`` normalised to [0, 1], ``scores`` ``[n, classes]``; each box
    counted once, for its best class (MMAction2's ``MultiSportsMetric``)."""
    boxes, scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    if video not in gt.resolution:
        raise DataError(f"the ground truth has no resolution for video {video!r}")
    h, w = gt.resolution[video]
    label = scores.argmax(1)
    rows = np.empty((len(boxes), 8))
    rows[:, 0], rows[:, 1], rows[:, 2] = gt.videos.index(video), frame, label
    rows[:, 3] = scores[np.arange(len(boxes)), label]
    rows[:, 4:] = boxes * np.array([w, h, w, h])
    return rows


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of ``boxes`` ``[n, 4]`` with one ``box`` (continuous coordinates, no +1)."""
    lo, hi = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:4], box[2:4])
    inter = np.prod(np.maximum(hi - lo, 0), axis=1)
    area = np.prod(boxes[:, 2:4] - boxes[:, :2], axis=1)
    return inter / (area + np.prod(box[2:4] - box[:2]) - inter)


def tube_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Spatio-temporal IoU of two tubes ``[n, 5]`` (consecutive frames): the temporal IoU
    of their spans (frame numbers as points: ``(end - start)`` lengths) times the mean
    box IoU over the frames both cover."""
    start, end = max(a[0, 0], b[0, 0]), min(a[-1, 0], b[-1, 0])
    if end < start:
        return 0.0
    union = max(a[-1, 0], b[-1, 0]) - min(a[0, 0], b[0, 0])
    sa = a[int(start - a[0, 0]) : int(end - a[0, 0]) + 1]
    sb = b[int(start - b[0, 0]) : int(end - b[0, 0]) + 1]
    lo = np.maximum(sa[:, 1:3], sb[:, 1:3])
    hi = np.minimum(sa[:, 3:5], sb[:, 3:5])
    inter = np.prod(np.maximum(hi - lo, 0), axis=1)
    area_a = np.prod(sa[:, 3:5] - sa[:, 1:3], axis=1)
    area_b = np.prod(sb[:, 3:5] - sb[:, 1:3], axis=1)
    spatial = np.mean(inter / (area_a + area_b - inter))
    if union == 0:  # two one-frame tubes on the same frame
        return float(spatial)
    return float(spatial * (end - start) / union)


def voc_ap(tp: np.ndarray, num_gt: int) -> float:
    """VOC's all-point average precision of a ranked list (``tp``: 1 for a true positive,
    best first) with ``num_gt`` positives: the area under the precision envelope, the
    curve closed at recall 1 with precision 0."""
    tp = np.asarray(tp, dtype=np.float64)
    hits = np.cumsum(tp)
    precision = np.concatenate([[0.0], hits / np.arange(1, len(tp) + 1), [0.0]])
    recall = np.concatenate([[0.0], hits / num_gt, [1.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _check_detections(gt: MultiSportsGT, detections) -> np.ndarray:
    d = np.asarray(detections, dtype=np.float64).reshape(-1, 8)
    if len(d) and not (0 <= d[:, 0].min() and d[:, 0].max() < len(gt.videos)):
        raise DataError(f"detections: a video index outside the {len(gt.videos)} videos")
    if len(d) and not (0 <= d[:, 2].min() and d[:, 2].max() < len(gt.labels)):
        raise DataError(f"detections: a label outside the {len(gt.labels)} classes")
    return d


def _evaluated(gt: MultiSportsGT):
    return [(c, name) for c, name in enumerate(gt.labels) if name not in EXCLUDED]


def frame_map(gt: MultiSportsGT, detections, thr: float = 0.5) -> tuple[float, dict]:
    """Frame-mAP at IoU ``thr`` and the AP of each evaluated class (percent)."""
    d = _check_detections(gt, detections)
    per_class = {}
    for c, name in _evaluated(gt):
        boxes: dict[tuple[int, int], list] = {}
        for iv, v in enumerate(gt.videos):
            for tube in gt.tubes[v].get(c, []):
                for row in tube:
                    boxes.setdefault((iv, int(row[0])), []).append(row[1:5])
        num_gt = sum(len(b) for b in boxes.values())
        if num_gt == 0:
            continue
        truth = {k: np.array(b) for k, b in boxes.items()}
        taken = {k: np.zeros(len(b), bool) for k, b in truth.items()}
        mine = d[d[:, 2] == c]

        def overlaps(j, mine=mine, truth=truth):
            key = (int(mine[j, 0]), int(mine[j, 1]))
            return (key, box_iou(truth[key], mine[j, 4:8])) if key in truth else (None, None)

        tp = _ranked_hits(mine[:, 3], overlaps, taken, thr)
        per_class[name] = 100 * voc_ap(tp, num_gt)
    return _mean(per_class), per_class


def _ranked_hits(scores, overlaps, taken: dict, thr: float) -> np.ndarray:
    """Hits (1) of detections ranked by score, best first (ties in input order): each
    matched to its best-overlapping ground truth (``overlaps(j) -> (key, IoUs)``, key None
    for none), a hit at IoU >= ``thr`` if that ground truth (``taken[key]``) is still free."""
    tp = np.zeros(len(scores))
    for rank, j in enumerate(np.argsort(-np.asarray(scores, float), kind="stable")):
        key, ious = overlaps(j)
        if key is None:
            continue
        best = int(np.argmax(ious))
        if ious[best] >= thr and not taken[key][best]:
            taken[key][best] = True
            tp[rank] = 1
    return tp


def _mean(per_class: dict) -> float:
    return float(np.mean(list(per_class.values()))) if per_class else float("nan")


def _nms(dets: np.ndarray) -> np.ndarray:
    """MultiSports' tubelet NMS for single boxes ``[n, 5]`` (x1, y1, x2, y2, score; areas
    with +1 pixel): best first, each box overlapping a kept one by more than NMS_THR is
    dropped from the search and its score scaled by ``1 - IoU``; all boxes rescored,
    sorted, the best NMS_KEEP returned."""
    if len(dets) == 0:
        return dets
    dets = dets.copy()
    area = (dets[:, 2] - dets[:, 0] + 1) * (dets[:, 3] - dets[:, 1] + 1)
    order = np.argsort(dets[:, 4], kind="stable")[::-1]
    weight = np.ones(len(dets))
    while order.size:
        i, rest = order[0], order[1:]
        lo = np.maximum(dets[rest, :2], dets[i, :2])
        hi = np.minimum(dets[rest, 2:4], dets[i, 2:4])
        inter = np.prod(np.maximum(hi - lo + 1, 0), axis=1)
        iou = inter / (area[rest] + area[i] - inter)
        over = iou > NMS_THR
        weight[rest[over]] = 1 - iou[over]
        order = rest[~over]
    dets[:, 4] *= weight
    return dets[np.argsort(dets[:, 4], kind="stable")[::-1]][:NMS_KEEP]


def link_tubes(
    gt: MultiSportsGT, detections, min_length: int = 15, mmaction2_scores: bool = False
) -> dict[int, list[tuple[str, float, np.ndarray]]]:
    """Per class, the tubes ``(video, score, [n, 6] float32: frame, x1, y1, x2, y2, box
    score)`` linked from the detections of each evaluated video (module doc)."""
    d = _check_detections(gt, detections)
    if mmaction2_scores and len(d):
        d = d.copy()
        d[:, 3] = d[-1, 3]
    found: dict[int, list] = {c: [] for c in range(len(gt.labels))}
    for iv, v in enumerate(gt.videos):
        mine = d[d[:, 0] == iv]
        if not len(mine):
            continue
        n = gt.nframes[v]
        frames = mine[:, 1].astype(int)
        if frames.min() < 1 or frames.max() > n:
            raise DataError(f"detections: {v}: a frame outside 1..{n}")
        for c in range(len(gt.labels)):
            rows = mine[mine[:, 2] == c]
            per_frame = [np.empty((0, 5))] * (n + 1)
            for f in np.unique(rows[:, 1].astype(int)):
                per_frame[f] = rows[rows[:, 1].astype(int) == f][:, [4, 5, 6, 7, 3]]
            for tube in _link(per_frame, n):
                boxes = np.array([box for _, box in tube])
                score = float(np.mean(boxes[:, 4]))
                if score < MIN_TUBE_SCORE or len(tube) < min_length:
                    continue
                out = np.empty((len(tube), 6), dtype=np.float32)
                out[:, 0] = [f for f, _ in tube]
                out[:, 1:] = boxes
                found[c].append((v, score, out))
    return found


def _link(per_frame: list[np.ndarray], n: int) -> list[list]:
    """Tubes (lists of ``(frame, box)``) through frames 1..n of one class."""
    current = [[(1, box)] for box in _nms(per_frame[1])]
    finished = []
    for frame in range(2, n + 1):
        boxes = _nms(per_frame[frame])
        scores = [np.mean([b[4] for _, b in t]) for t in current]
        current = [current[i] for i in np.argsort(-np.array(scores), kind="stable")]
        ended = []
        for k, tube in enumerate(current):
            ious = box_iou(boxes[:, :4], tube[-1][1][:4])
            near = np.nonzero(ious >= LINK_IOU)[0]
            if near.size:
                best = near[np.argmax(boxes[near, 4])]
                tube.append((frame, boxes[best]))
                boxes = np.delete(boxes, best, axis=0)
            else:
                ended.append(k)
        finished += [current[k] for k in reversed(ended)]  # (MultiSports' order)
        current = [t for k, t in enumerate(current) if k not in ended]
        current += [[(frame, box)] for box in boxes]
    return finished + current


def video_map(gt: MultiSportsGT, tubes: dict[int, list], thr: float = 0.5) -> tuple[float, dict]:
    """Video-mAP at spatio-temporal IoU ``thr`` of :func:`link_tubes`' tubes, and each
    evaluated class's AP (percent)."""
    per_class = {}
    for c, name in _evaluated(gt):
        truth = {v: gt.tubes[v][c] for v in gt.videos if gt.tubes[v].get(c)}
        num_gt = sum(len(t) for t in truth.values())
        if num_gt == 0:
            continue
        taken = {v: np.zeros(len(t), bool) for v, t in truth.items()}
        mine = tubes.get(c, [])

        def overlaps(j, mine=mine, truth=truth):
            v, _, tube = mine[j]
            return (v, [tube_iou(g, tube) for g in truth[v]]) if v in truth else (None, None)

        tp = _ranked_hits([s for _, s, _ in mine], overlaps, taken, thr)
        per_class[name] = 100 * voc_ap(tp, num_gt)
    return _mean(per_class), per_class


def video_map_ranges(gt: MultiSportsGT, tubes: dict[int, list]) -> dict[str, float]:
    """MultiSports' three video-mAP averages: over IoU 0.05-0.45, 0.10-0.90 and 0.50-0.95."""
    ranges = {
        "v_map_0.05:0.45": [0.05 + 0.05 * i for i in range(9)],
        "v_map_0.10:0.90": [0.1 + 0.1 * i for i in range(9)],
        "v_map_0.50:0.95": [0.5 + 0.05 * i for i in range(10)],
    }
    return {
        key: float(np.mean([video_map(gt, tubes, t)[0] for t in thrs]))
        for key, thrs in ranges.items()
    }


def multisports_metrics(
    gt: MultiSportsGT,
    detections,
    frame_thr: float = 0.5,
    video_thrs=(0.2, 0.5),
    min_length: int = 15,
    ranges: bool = True,
    mmaction2_scores: bool = False,
) -> dict[str, float]:
    """MMAction2's ``MultiSportsMetric`` defaults: ``frameAP`` at 0.5, ``v_map@0.2`` and
    ``v_map@0.5``, and (``ranges``) the three averages of :func:`video_map_ranges`."""
    result = {"frameAP": frame_map(gt, detections, frame_thr)[0]}
    tubes = link_tubes(gt, detections, min_length, mmaction2_scores)
    for t in video_thrs:
        result[f"v_map@{t}"] = video_map(gt, tubes, t)[0]
    if ranges:
        result.update(video_map_ranges(gt, tubes))
    return result
