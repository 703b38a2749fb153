"""Models: ``create(name, num_classes=...)``, ``list_models()``, and their parts."""

from . import bmn, bsn, detector, gcn, posec3d, ssn, videomae, zoo  # noqa: F401  (registers them)
from .recognizer import (
    Recognizer2D,
    Recognizer3D,
    RecognizerAudio,
    average_clips,
    reparameterize,
    to_channels_last,
)
from .registry import create, list_models, register_model

__all__ = [
    "Recognizer2D",
    "Recognizer3D",
    "RecognizerAudio",
    "average_clips",
    "create",
    "list_models",
    "register_model",
    "reparameterize",
    "to_channels_last",
]
