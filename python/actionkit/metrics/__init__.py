"""Metrics, one module per task: ``classification`` (top-k, mean class accuracy, mAP,
mmit-mAP), ``localization`` (ActivityNet AR@AN and detection mAP), ``ava`` (AVA
frame-mAP) and ``multisports`` (MultiSports frame-mAP, tube linking, video-mAP). Each
equals MMAction2's on the same predictions (MultiSports: but for one bug of its linking,
see the module)."""

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
from .multisports import load_multisports_gt, multisports_metrics

__all__ = [
    "ar_at_an",
    "ava_frame_map",
    "average_precision_detection",
    "average_recall_at_avg_proposals",
    "detection_map",
    "load_multisports_gt",
    "mean_average_precision",
    "mean_class_accuracy",
    "mmit_mean_average_precision",
    "multisports_metrics",
    "temporal_iou",
    "top_k_accuracy",
]
