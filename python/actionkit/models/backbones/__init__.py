"""Backbones."""

from .resnet import ResNet
from .resnet_tsm import ResNetTSM, TemporalShift

__all__ = ["ResNet", "ResNetTSM", "TemporalShift"]
