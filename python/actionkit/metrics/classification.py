"""Recognition metrics with MMAction2 1.2's definitions (``evaluation/functional``):
top-k accuracy, mean class accuracy, mean average precision (per class) and mmit-mAP
(per sample) for multi-label. Inputs are arrays or tensors; results are floats."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def top_k_accuracy(scores, labels, topk: Sequence[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each k.
    ``scores: [N, K]``, ``labels: [N]``."""
    scores, labels = _np(scores), _np(labels).reshape(-1, 1)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"scores must be [N, K] for N = {labels.shape[0]} labels, got {scores.shape}"
        )
    results = []
    for k in topk:
        best = np.argsort(scores, axis=1)[:, -k:][:, ::-1]
        results.append(float(np.logical_or.reduce(best == labels, axis=1).mean()))
    return results


def mean_class_accuracy(scores, labels) -> float:
    """The mean over classes of per-class accuracy. As MMAction2 computes it, the classes
    are those present among the labels *or the predictions*; a class only predicted counts
    with accuracy 0."""
    pred, labels = _np(scores).argmax(axis=1), _np(labels).astype(np.int64)
    classes = np.unique(np.concatenate([pred, labels]))
    accuracies = []
    for c in classes:
        real = labels == c
        accuracies.append(float((pred[real] == c).mean()) if real.any() else 0.0)
    return float(np.mean(accuracies))


def _precision_recall(score: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at each distinct threshold, descending score, with the
    (recall 0, precision 1) end point (scikit-learn's convention, as MMAction2's copy)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score, truth = score[order], truth[order]
    cuts = np.r_[np.where(np.diff(score))[0], truth.size - 1]
    tps = np.cumsum(truth)[cuts]
    fps = 1 + cuts - tps
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / (tps + fps)
        recall = tps / tps[-1]
    precision[np.isnan(precision)] = 0
    last = tps.searchsorted(tps[-1])
    keep = slice(last, None, -1)
    return np.r_[precision[keep], 1], np.r_[recall[keep], 0]


def _average_precision(score: np.ndarray, truth: np.ndarray) -> float:
    precision, recall = _precision_recall(score, truth)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def mean_average_precision(scores, labels) -> float:
    """Multi-label mAP: the mean over classes of average precision (classes without a
    positive give NaN and are left out). ``scores, labels: [N, K]`` (labels 0/1)."""
    scores, labels = _np(scores).astype(np.float64), _np(labels).astype(np.float64)
    aps = [_average_precision(s, t) for s, t in zip(scores.T, labels.T, strict=True)]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def mmit_mean_average_precision(scores, labels) -> float:
    """Multi-Moments-in-Time mAP: average precision per *sample* over its classes, averaged."""
    scores, labels = _np(scores).astype(np.float64), _np(labels).astype(np.float64)
    return float(np.mean([_average_precision(s, t) for s, t in zip(scores, labels, strict=True)]))


__all__ = [
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "top_k_accuracy",
]
