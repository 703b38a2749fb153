"""Temporal action localization metrics with the ActivityNet definitions, as MMAction2
1.2.0 computes them (``ANetMetric``'s AR@AN and ``ActivityNetLocalization``'s mAP):

- :func:`average_recall_at_avg_proposals`: recall at 10 tIoU thresholds (0.5:0.05:0.95)
  against the average number of proposals per video (AN); each video keeps the same
  fraction of its score-sorted proposals, so the average is AN. AR@1/5/10/100 and the
  area under the AR-AN curve (AUC, in percent).
- :func:`detection_map`: per class and tIoU, predictions in descending score order each
  take the unmatched ground truth instance they overlap most (at least the threshold),
  VOC-interpolated average precision; mAP per tIoU and its mean.

Segments are ``[start, end]`` in any unit (seconds in ActivityNet's files). The tIoU is
computed in float32 as MMAction2 does, so thresholds compare the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def temporal_iou(candidates: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """tIoU of segments ``candidates [M, 2]`` with ``targets [N, 2]``: ``[N, M]`` float32
    (MMAction2's ``pairwise_temporal_iou`` arithmetic: float32 operands, the ratio in
    float64, stored as float32)."""
    c = np.asarray(candidates)
    t = np.asarray(targets)
    if c.ndim != 2 or t.ndim != 2 or c.shape[1] < 2 or t.shape[1] < 2:
        raise ValueError(f"segments must be [M, 2] and [N, 2], got {c.shape} and {t.shape}")
    c0, c1 = c[None, :, 0], c[None, :, 1]
    t0, t1 = t[:, None, 0], t[:, None, 1]
    inter = (np.minimum(c1, t1) - np.maximum(c0, t0)).clip(0)
    union = (t1 - t0) + (c1 - c0) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return (inter.astype(float) / union).astype(np.float32)


def average_recall_at_avg_proposals(
    ground_truth: Mapping[str, np.ndarray],
    proposals: Mapping[str, np.ndarray],
    total_num_proposals: int,
    max_avg_proposals: float | None = None,
    tiou_thresholds: Sequence[float] = TIOU_THRESHOLDS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(recall [T, 100], average_recall [100], proposals_per_video [100], auc)``.

    ``ground_truth``: per video ``[N, 2+]`` segments; ``proposals``: per video ``[M, 3]``
    (start, end, score); ``total_num_proposals``: all proposals given (the AN scale);
    ``max_avg_proposals``: the largest AN (100 for ActivityNet). A video without an
    entry in ``proposals`` counts as one with none (MMAction2 raises a KeyError)."""
    thresholds = np.asarray(tiou_thresholds, dtype=float)
    videos = list(ground_truth)
    if not videos:
        raise ValueError("ground_truth holds no video")
    if not max_avg_proposals:
        max_avg_proposals = float(total_num_proposals) / len(videos)
    ratio = max_avg_proposals * float(len(videos)) / total_num_proposals
    ious, retrieved = [], 0
    for video in videos:
        gt = np.asarray(ground_truth[video], dtype=np.float32)
        gt = gt.reshape(len(gt), -1)[:, :2] if gt.size else np.zeros((0, 2), np.float32)
        found = np.asarray(proposals.get(video, np.zeros((0, 3))), dtype=float).reshape(-1, 3)
        if len(found) == 0:
            ious.append(np.zeros((len(gt), 0), dtype=np.float32))
            continue
        ranked = found[found[:, 2].argsort()[::-1], :2].astype(np.float32)
        keep = min(int(len(ranked) * ratio), len(ranked))
        retrieved += keep
        ious.append(temporal_iou(ranked[:keep], gt))
    if retrieved == 0:
        raise ValueError("no proposal is retrieved: AR@AN is undefined")
    fractions = np.arange(1, 101) / 100.0 * (max_avg_proposals * float(len(videos)) / retrieved)
    positives = sum(iou.shape[0] for iou in ious)
    recall = np.empty((len(thresholds), len(fractions)))
    for r, threshold in enumerate(thresholds):
        matches = np.zeros(len(fractions))
        for iou in ious:
            m = iou.shape[1]
            if m == 0 or iou.shape[0] == 0:
                continue
            hit = iou >= threshold
            # the rank of each instance's first matching proposal (m: none)
            first = np.where(hit.any(1), hit.argmax(1), m)
            counts = np.minimum((m * fractions).astype(np.int32), m)
            matches += (first[None, :] < counts[:, None]).sum(1)
        recall[r] = matches / positives
    average = recall.mean(0)
    per_video = fractions * (float(retrieved) / len(videos))
    trapezoid = getattr(np, "trapezoid", None) or np.trapz
    auc = 100.0 * float(trapezoid(average, per_video)) / per_video[-1]
    return recall, average, per_video, auc


def ar_at_an(
    ground_truth: Mapping[str, np.ndarray],
    proposals: Mapping[str, np.ndarray],
    max_avg_proposals: int = 100,
    an: Sequence[int] = (1, 5, 10, 100),
) -> dict[str, float]:
    """``{"AR@1": ..., "AR@100": ..., "auc": ...}`` as MMAction2's ``ANetMetric``
    (``metric_type="AR@AN"``) reports them (recall as a fraction, AUC in percent)."""
    total = sum(len(np.asarray(p).reshape(-1, 3)) for p in proposals.values())
    _, average, _, auc = average_recall_at_avg_proposals(
        ground_truth, proposals, total, max_avg_proposals
    )
    out = {f"AR@{k}": float(np.mean(average[k - 1])) for k in an if k <= len(average)}
    out["auc"] = float(auc)
    return out


def _interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2011 interpolated average precision (MMAction2's
    ``interpolated_precision_recall``)."""
    p = np.concatenate([[0.0], precision, [0.0]])
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.where(r[1:] != r[:-1])[0] + 1
    return float(np.sum((r[idx] - r[idx - 1]) * p[idx]))


def average_precision_detection(
    ground_truth: Sequence[tuple[str, float, float]],
    predictions: Sequence[tuple[str, float, float, float]],
    tiou_thresholds: Sequence[float] = TIOU_THRESHOLDS,
) -> np.ndarray:
    """AP per tIoU threshold of one class: ``ground_truth`` as ``(video, start, end)``,
    ``predictions`` as ``(video, start, end, score)``. Predictions are taken in
    descending score order (ties: in the given order); each matches the highest-tIoU
    ground truth instance of its video not yet matched at that threshold."""
    thresholds = np.asarray(tiou_thresholds, dtype=float)
    ap = np.zeros(len(thresholds))
    if len(predictions) == 0:
        return ap
    by_video: dict[str, list[int]] = {}
    for i, (video, *_rest) in enumerate(ground_truth):
        by_video.setdefault(video, []).append(i)
    segments = np.array([[s, e] for _, s, e in ground_truth], dtype=float).reshape(-1, 2)
    order = sorted(range(len(predictions)), key=lambda i: -predictions[i][3])  # stable
    tp = np.zeros((len(thresholds), len(order)))
    fp = np.zeros((len(thresholds), len(order)))
    taken = np.zeros((len(thresholds), len(ground_truth)), dtype=bool)
    for rank, i in enumerate(order):
        video, start, end, _ = predictions[i]
        members = by_video.get(video)
        if not members:
            fp[:, rank] = 1
            continue
        iou = temporal_iou(np.array([[start, end]], dtype=float), segments[members])[:, 0]
        ranked = iou.argsort()[::-1]
        for t, threshold in enumerate(thresholds):
            for j in ranked:
                if iou[j] < threshold:
                    break
                if not taken[t, members[j]]:
                    taken[t, members[j]] = True
                    tp[t, rank] = 1
                    break
            if tp[t, rank] == 0:
                fp[t, rank] = 1
    tp_sum, fp_sum = np.cumsum(tp, 1), np.cumsum(fp, 1)
    recall = tp_sum / float(len(ground_truth))
    precision = tp_sum / (tp_sum + fp_sum)
    return np.array([_interpolated_ap(precision[t], recall[t]) for t in range(len(thresholds))])


def detection_map(
    ground_truth: Mapping[str, Sequence[tuple[float, float, str]]],
    predictions: Mapping[str, Sequence[tuple[float, float, str, float]]],
    tiou_thresholds: Sequence[float] = TIOU_THRESHOLDS,
) -> dict:
    """ActivityNet detection mAP. ``ground_truth``: per video ``(start, end, label)``;
    ``predictions``: per video ``(start, end, label, score)``. Classes are the labels of
    the ground truth (a prediction of another label is refused). Returns ``{"ap": [T, C],
    "mAP": [T], "average_mAP": float, "classes": [...]}``."""
    classes: dict[str, int] = {}
    gt: list[list] = []
    for video, items in ground_truth.items():
        for start, end, label in items:
            if label not in classes:
                classes[label] = len(classes)
                gt.append([])
            gt[classes[label]].append((video, float(start), float(end)))
    pred: list[list] = [[] for _ in classes]
    for video, items in predictions.items():
        for start, end, label, score in items:
            if label not in classes:
                raise ValueError(
                    f"prediction for {video}: label {label!r} is not in the ground truth"
                )
            pred[classes[label]].append((video, float(start), float(end), float(score)))
    ap = np.zeros((len(tiou_thresholds), len(classes)))
    for c in range(len(classes)):
        ap[:, c] = average_precision_detection(gt[c], pred[c], tiou_thresholds)
    per_tiou = ap.mean(1)
    return {
        "ap": ap,
        "mAP": per_tiou,
        "average_mAP": float(per_tiou.mean()),
        "classes": list(classes),
    }


# MMAction2 0.24's THUMOS14 thresholds for SSN (np.arange: 0.1, 0.2, 0.30000000000000004, ...)
THUMOS14_TIOU = np.arange(0.1, 1.0, 0.1)


def ssn_detections(
    results: Mapping[str, Mapping[str, np.ndarray]],
    top_k: int = 2000,
    regression: bool = True,
    nms_threshold: float = 0.2,
) -> dict[str, np.ndarray]:
    """SSN's detections from its proposal scores, as MMAction2 0.24's ``SSNDataset``
    (``results_to_detections``, ``perform_regression``, ``temporal_nms``).

    ``results``: per video ``relative [P, 2]`` (start, end over the video's length),
    ``activity [P, K + 1]``, ``completeness [P, K]``, ``bbox [P, K, 2]`` (centre and
    log-length offsets). A (proposal, class) pair scores ``softmax(activity[1:])[k] *
    exp(completeness[k])``; the ``top_k`` best pairs of a video are kept (all when
    ``top_k <= 0``), moved by their class's regression (clipped to [0, 1]), and
    suppressed per class by greedy NMS at tIoU > ``nms_threshold``.
    Returns per video ``[n, 4]``: start, end, class (0-based), score."""
    import torch

    from ..ops import temporal_nms

    out = {}
    for video, r in results.items():
        rel = np.asarray(r["relative"], dtype=float).reshape(-1, 2)
        act = np.asarray(r["activity"], dtype=float)[:, 1:]
        act = np.exp(act - act.max(1, keepdims=True))
        scores = act / act.sum(1, keepdims=True) * np.exp(np.asarray(r["completeness"], float))
        k = scores.shape[1]
        bbox = np.asarray(r["bbox"], dtype=float).reshape(len(rel), k, 2)
        flat = scores.ravel()
        keep = np.argsort(flat)[-top_k:] if top_k > 0 else np.arange(flat.size)
        prop, cls = keep // k, keep % k
        seg = rel[prop]
        if regression:
            centre = seg.mean(1) + (seg[:, 1] - seg[:, 0]) * bbox[prop, cls, 0]
            length = (seg[:, 1] - seg[:, 0]) * np.exp(bbox[prop, cls, 1])
            seg = np.clip(np.stack([centre - length / 2, centre + length / 2], 1), 0, 1)
        rows = []
        for c in np.unique(cls):
            mine = np.flatnonzero(cls == c)
            kept = temporal_nms(
                torch.from_numpy(seg[mine]), torch.from_numpy(flat[keep[mine]]), nms_threshold
            ).numpy()
            sel = mine[kept]
            rows.append(np.column_stack([seg[sel], np.full(len(sel), c), flat[keep[sel]]]))
        out[video] = np.concatenate(rows) if rows else np.zeros((0, 4))
    return out


def thumos14_map(
    ground_truth: Mapping[str, Sequence[tuple[float, float, int]]],
    detections: Mapping[str, np.ndarray],
    num_classes: int,
    tiou_thresholds: Sequence[float] = THUMOS14_TIOU,
) -> dict:
    """THUMOS14 detection mAP as MMAction2 0.24's SSN evaluation: per class the VOC
    average precision of :func:`average_precision_detection`, averaged over the classes
    with ground truth (MMAction2's mean turns NaN when a class has none). ``ground_truth``:
    per video ``(start, end, class)``; ``detections``: per video ``[n, 4]`` (start, end,
    class, score; :func:`ssn_detections`). Returns ``{"ap": [T, K], "mAP@0.10": ...,
    "classes_with_gt": [...]}``."""
    gt: list[list] = [[] for _ in range(num_classes)]
    for video, items in ground_truth.items():
        for start, end, c in items:
            if not 0 <= int(c) < num_classes:
                raise ValueError(
                    f"ground truth of {video}: class {c} is not in 0..{num_classes - 1}"
                )
            gt[int(c)].append((video, float(start), float(end)))
    pred: list[list] = [[] for _ in range(num_classes)]
    for video, rows in detections.items():
        for start, end, c, score in np.asarray(rows, dtype=float).reshape(-1, 4):
            pred[int(c)].append((video, start, end, score))
    ap = np.zeros((len(tiou_thresholds), num_classes))
    with_gt = [c for c in range(num_classes) if gt[c]]
    for c in with_gt:
        ap[:, c] = average_precision_detection(gt[c], pred[c], tiou_thresholds)
    out = {"ap": ap, "classes_with_gt": with_gt}
    mean = ap[:, with_gt].mean(1) if with_gt else np.zeros(len(tiou_thresholds))
    for t, value in zip(tiou_thresholds, mean, strict=True):
        out[f"mAP@{t:.2f}"] = float(value)
    return out
