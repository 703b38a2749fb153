"""Metrics, one module per task: ``classification`` (top-k, mean class accuracy, mAP,
mmit-mAP) so far. Each equals MMAction2's on the same predictions."""

from .classification import (
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
)

__all__ = [
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "top_k_accuracy",
]
