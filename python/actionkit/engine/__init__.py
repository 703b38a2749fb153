"""Training and evaluation: :class:`Trainer` (a loop, not a framework) and the pieces it
is made of, usable on their own."""

from .builder import build_dataset, build_loader, build_model, prepare_data
from .evaluate import (
    ClassificationEvaluator,
    build_evaluator,
    classification_metrics,
    predict_split,
)
from .optim import LRSchedule, build_optimizer, param_groups
from .sampler import EpochSampler
from .trainer import LossOf, ModelEMA, Trainer, total_loss

__all__ = [
    "ClassificationEvaluator",
    "EpochSampler",
    "LRSchedule",
    "LossOf",
    "ModelEMA",
    "Trainer",
    "build_dataset",
    "build_evaluator",
    "build_loader",
    "build_model",
    "build_optimizer",
    "classification_metrics",
    "param_groups",
    "predict_split",
    "prepare_data",
    "total_loss",
]
