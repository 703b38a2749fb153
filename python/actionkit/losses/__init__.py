"""Losses, one module per task: ``classification`` (cross-entropy with label smoothing
and class weights, binary cross-entropy for multi-label) so far."""

from .classification import ClassificationLoss, bce_with_logits, cross_entropy

__all__ = ["ClassificationLoss", "bce_with_logits", "cross_entropy"]
