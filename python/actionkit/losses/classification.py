"""Classification losses with MMAction2's semantics: cross-entropy on hard or soft labels
(with label smoothing and class weights) and BCE-with-logits for multi-label."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    label_smoothing: float = 0.0,
    class_weight: Tensor | None = None,
) -> Tensor:
    """``logits: [N, K]``; ``target``: class indices ``[N]`` or probabilities ``[N, K]``.

    Hard labels with ``label_smoothing = eps`` become ``(1 - eps) * one_hot + eps / K``
    (MMAction2's ``label_smooth_eps``). Soft labels: ``-sum(target * w * log_softmax)``
    per sample, averaged over samples — or, with class weights ``w``, divided by
    ``sum(w * target)`` (MMAction2's ``CrossEntropyLoss``)."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be [N, K], got {tuple(logits.shape)}")
    k = logits.shape[1]
    if target.dim() == 1 and label_smoothing:
        target = F.one_hot(target.long(), k).to(logits.dtype)
    if target.dim() == 1:
        return F.cross_entropy(logits, target.long(), weight=class_weight)
    if target.shape != logits.shape:
        raise ValueError(
            f"soft targets must match logits {tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    if label_smoothing:
        target = (1 - label_smoothing) * target + label_smoothing / k
    log_probs = F.log_softmax(logits, dim=1)
    if class_weight is None:
        return -(target * log_probs).sum(1).mean()
    w = class_weight.to(logits.dtype).unsqueeze(0)
    return -(target * log_probs * w).sum() / (w * target).sum()


def bce_with_logits(logits: Tensor, target: Tensor, class_weight: Tensor | None = None) -> Tensor:
    """Multi-label loss: ``logits, target: [N, K]`` (targets 0/1 or soft), the mean of
    ``binary_cross_entropy_with_logits`` weighted per class."""
    if logits.shape != target.shape:
        raise ValueError(
            f"target must match logits {tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), weight=class_weight)


class ClassificationLoss(nn.Module):
    """A recognizer's loss as its config sets it: cross-entropy (``label_smoothing``,
    ``class_weights``) or, with ``multi_class``, BCE-with-logits. Labels of one row per
    sample are repeated for models that give a row per view. Holds no state dict entry
    (the class weights are a non-persistent buffer), so checkpoints do not change."""

    def __init__(
        self,
        multi_class: bool = False,
        label_smoothing: float = 0.0,
        class_weights: list[float] | Tensor | None = None,
    ):
        super().__init__()
        self.multi_class, self.label_smoothing = multi_class, label_smoothing
        weights = None if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        if labels.shape[0] != logits.shape[0]:  # several views per sample
            labels = labels.repeat_interleave(logits.shape[0] // labels.shape[0], 0)
        logits = logits.float()
        if self.multi_class:
            return bce_with_logits(logits, labels.float(), self.class_weights)
        return cross_entropy(logits, labels, self.label_smoothing, self.class_weights)


__all__ = ["ClassificationLoss", "bce_with_logits", "cross_entropy"]
