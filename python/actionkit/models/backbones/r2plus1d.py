"""R(2+1)D (Tran et al., CVPR 2018) as MMAction2's ``ResNet2Plus1d``: a 3D ResNet whose
every convolution is factorised into a spatial 1 x k x k and a temporal t x 1 x 1 one,
with as many middle channels as keep the parameter count of the full t x k x k kernel."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d
from .resnet import init_conv_bn

EPS = 1e-3  # MMAction2's config for R(2+1)D uses BatchNorm eps 1e-3


class Conv2Plus1d(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel: Sequence[int], stride=(1, 1, 1), padding=(0, 0, 0)
    ):
        super().__init__()
        t, h, w = kernel
        mid = int(3 * (cin * cout * h * w) / (cin * h * w + 3 * cout))
        self.conv_s = Conv3d(
            cin, mid, (1, h, w), (1, stride[1], stride[2]), (0, padding[1], padding[2]), bias=False
        )
        # MMAction2 builds this norm with its own default (BN3d, eps 1e-5), not the config's.
        self.bn_s = nn.BatchNorm3d(mid)
        self.conv_t = Conv3d(
            mid, cout, (t, 1, 1), (stride[0], 1, 1), (padding[0], 0, 0), bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_t(torch.relu_(self.bn_s(self.conv_s(x))))


class ConvBN2Plus1d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=(1, 1, 1), padding=(0, 0, 0), relu=True):
        super().__init__()
        self.conv = Conv2Plus1d(cin, cout, kernel, stride, padding)
        self.bn = nn.BatchNorm3d(cout, eps=EPS)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return torch.relu_(x) if self.relu else x


class BasicBlock2Plus1d(nn.Module):
    """Two factorised 3x3x3 convolutions; the stride sits on the first."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, spatial_stride=1, temporal_stride=1, downsample=None
    ):
        super().__init__()
        stride = (temporal_stride, spatial_stride, spatial_stride)
        self.conv1 = ConvBN2Plus1d(inplanes, planes, (3, 3, 3), stride, (1, 1, 1))
        self.conv2 = ConvBN2Plus1d(planes, planes, (3, 3, 3), (1, 1, 1), (1, 1, 1), relu=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv2(self.conv1(x)) + identity)


class ResNet2Plus1d(nn.Module):
    """R(2+1)D-34: ``x: [N, 3, T, H, W]`` -> ``[N, 512, T/8, H/32, W/32]`` (temporal
    stride 2 in stages 2-4)."""

    def __init__(
        self, stage_blocks=(3, 4, 6, 3), spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2)
    ):
        super().__init__()
        self.conv1 = ConvBN2Plus1d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3))
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        inplanes = 64
        for i, blocks in enumerate(stage_blocks):
            planes = 64 * 2**i
            s, t = spatial_strides[i], temporal_strides[i]
            downsample = None
            if s != 1 or inplanes != planes:
                downsample = ConvBN2Plus1d(inplanes, planes, (1, 1, 1), (t, s, s), relu=False)
            layers = [BasicBlock2Plus1d(inplanes, planes, s, t, downsample)]
            layers += [BasicBlock2Plus1d(planes, planes) for _ in range(blocks - 1)]
            inplanes = planes
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = inplanes
        init_conv_bn(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
