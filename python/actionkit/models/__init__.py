"""Models: ``create(name, num_classes=...)``, ``list_models()``, and their parts."""

from . import zoo  # noqa: F401  (registers the models)
from .recognizer import Recognizer2D, Recognizer3D, average_clips
from .registry import create, list_models, register_model

__all__ = [
    "Recognizer2D",
    "Recognizer3D",
    "average_clips",
    "create",
    "list_models",
    "register_model",
]
