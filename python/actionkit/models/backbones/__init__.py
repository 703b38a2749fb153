"""Backbones."""

from .resnet import ResNet
from .resnet3d import ResNet3d
from .resnet_tsm import ResNetTSM, TemporalShift

__all__ = ["ResNet", "ResNet3d", "ResNetTSM", "TemporalShift"]
