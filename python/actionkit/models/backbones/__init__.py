"""Backbones."""

from .resnet import ResNet
from .resnet3d import ResNet3d, ResNet3dSlowFast
from .resnet_tsm import ResNetTSM, TemporalShift

__all__ = ["ResNet", "ResNet3d", "ResNet3dSlowFast", "ResNetTSM", "TemporalShift"]
