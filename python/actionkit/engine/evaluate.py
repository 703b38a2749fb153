"""Running a model over a split and scoring it with the task's metrics."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..amp import autocast
from .dist import SINGLE, DistInfo, gather_objects


@torch.no_grad()
def predict_split(
    model: nn.Module,
    loader,
    device: torch.device,
    info: DistInfo = SINGLE,
    amp: str = "none",
    max_batches: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices, scores [N, K], labels)`` over the whole split, gathered from every
    process (duplicates from padding removed), sorted by dataset index. Scores are
    averaged over each sample's views as the model's ``average_clips`` says."""
    model.eval()
    indices, scores, labels = [], [], []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        with autocast(device, amp):
            out = model.predict(batch["inputs"].to(device, non_blocking=True))
        scores.append(out.float().cpu())
        labels.append(batch["label"])
        indices.append(batch["index"])
    local = (torch.cat(indices), torch.cat(scores), torch.cat(labels)) if indices else None
    parts = [p for p in gather_objects(local, info) if p is not None]
    index = torch.cat([p[0] for p in parts]).numpy()
    order = np.unique(index, return_index=True)[1]  # first occurrence of each index
    score = torch.cat([p[1] for p in parts]).numpy()[order]
    label = torch.cat([p[2] for p in parts]).numpy()[order]
    return index[order], score, label


def classification_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    multi_class: bool,
    class_names: list[str] | None = None,
) -> dict:
    """top1 / top5 / mean_class_accuracy and per-class accuracy for single-label data
    (keyed by ``class_names`` when they name every class, else a list); mAP and mmit-mAP
    for multi-label. Fractions in [0, 1]."""
    if multi_class:
        return {
            "mAP": float(M.mean_average_precision(scores, labels)),
            "mmit_mAP": float(M.mmit_mean_average_precision(scores, labels)),
        }
    k = scores.shape[1]
    tops = (1, 5)  # top5 is 1.0 with fewer than 5 classes, as MMAction2 computes it
    accuracy = M.top_k_accuracy(scores, labels, tops)
    out = {f"top{t}": float(a) for t, a in zip(tops, accuracy, strict=True)}
    out["mean_class_accuracy"] = float(M.mean_class_accuracy(scores, labels))
    pred = scores.argmax(1)
    per_class = [
        float((pred[labels == c] == c).mean()) if (labels == c).any() else None for c in range(k)
    ]
    if class_names and len(class_names) == k:
        per_class = dict(zip(class_names, per_class, strict=True))
    out["per_class_accuracy"] = per_class
    out["num_samples"] = int(len(labels))
    return out
