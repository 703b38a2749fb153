"""Tiny models for the engine tests, registered on import (also by train_worker.py in
subprocesses). ``tiny_nobn`` has no batch norm and no dropout, so its gradient over a
batch does not depend on how the batch is split (DDP and accumulation tests)."""

from torch import nn

from actionkit.models import Recognizer2D, list_models, register_model
from actionkit.models.heads.tsn import TSNHead


class TinyBackbone(nn.Sequential):
    def __init__(self, width: int = 8):
        super().__init__(
            nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1), nn.ReLU()
        )
        self.out_channels = width


if "tiny_nobn" not in list_models():

    @register_model
    def tiny_nobn(num_classes: int = 400, width: int = 8) -> Recognizer2D:
        return Recognizer2D(TinyBackbone(width), TSNHead(num_classes, width, dropout=0))
