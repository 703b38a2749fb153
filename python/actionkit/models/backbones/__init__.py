"""Backbones."""

from .c3d import C3D
from .resnet import ResNet
from .resnet3d import ResNet3d, ResNet3dSlowFast
from .resnet_tsm import ResNetTSM, TemporalShift

__all__ = ["C3D", "ResNet", "ResNet3d", "ResNet3dSlowFast", "ResNetTSM", "TemporalShift"]
