"""Metrics, one module per task: ``classification`` (top-k, mean class accuracy, mAP,
mmit-mAP), ``localization`` (ActivityNet AR@AN and detection mAP) and ``ava`` (AVA
frame-mAP). Each equals MMAction2's on the same predictions."""

from .ava import ava_frame_map
from .classification import (
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
)
from .localization import (
    ar_at_an,
    average_precision_detection,
    average_recall_at_avg_proposals,
    detection_map,
    temporal_iou,
)

__all__ = [
    "ar_at_an",
    "ava_frame_map",
    "average_precision_detection",
    "average_recall_at_avg_proposals",
    "detection_map",
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "temporal_iou",
    "top_k_accuracy",
]
