"""Backbones."""

from .c2d import C2D
from .c3d import C3D
from .mobilenet_v2 import MobileNetV2, MobileNetV2TSM
from .mobileone import MobileOne
from .mvit import MViT, MViTv1
from .r2plus1d import ResNet2Plus1d
from .resnet import ResNet
from .resnet3d import ResNet3d, ResNet3dSlowFast
from .resnet_audio import ResNetAudio
from .resnet_tin import ResNetTIN, TemporalInterlace
from .resnet_tsm import ResNetTSM, TemporalShift
from .resnext import ResNeXt
from .s3d import S3D
from .swin import SwinTransformer3D
from .tanet import TANet
from .timesformer import TimeSformer
from .uniformer import UniFormer
from .uniformerv2 import UniFormerV2
from .video_resnet import VideoResNet
from .vit_mae import VisionTransformer
from .x3d import X3D

__all__ = [
    "C2D",
    "C3D",
    "MobileNetV2",
    "MobileNetV2TSM",
    "MobileOne",
    "MViT",
    "MViTv1",
    "ResNet",
    "ResNet2Plus1d",
    "ResNet3d",
    "ResNet3dSlowFast",
    "ResNetAudio",
    "ResNetTIN",
    "ResNetTSM",
    "ResNeXt",
    "S3D",
    "SwinTransformer3D",
    "TANet",
    "TemporalInterlace",
    "TemporalShift",
    "TimeSformer",
    "UniFormer",
    "UniFormerV2",
    "VideoResNet",
    "VisionTransformer",
    "X3D",
]
