"""X3D (Feichtenhofer, CVPR 2020) as MMAction2's ``X3D``: a 2D-stem-free 3D network of
inverted bottlenecks with depthwise 3x3x3 convolutions, squeeze-excitation in every
other block, swish, expanded by width/bottleneck/depth factors. X3D-S and X3D-M share the
network and differ in input (13 x 160 x 160 and 16 x 224 x 224)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d
from .resnet import ConvBN, init_conv_bn


def round_width(width: float, multiplier: float, minimum: int = 8, divisor: int = 8) -> int:
    """Scales a channel count and rounds it to a multiple of ``divisor`` (never below
    ``minimum`` nor below 90% of the scaled width), as X3D's reference does."""
    if not multiplier:
        return int(width)
    width *= multiplier
    out = max(minimum, int(width + divisor / 2) // divisor * divisor)
    return int(out + divisor if out < 0.9 * width else out)


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: float):
        super().__init__()
        mid = round_width(channels, reduction)
        self.fc1 = Conv3d(channels, mid, 1)
        self.fc2 = Conv3d(mid, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = torch.relu(self.fc1(x.mean((2, 3, 4), keepdim=True)))
        return x * torch.sigmoid(self.fc2(s))


class BlockX3D(nn.Module):
    def __init__(self, inplanes, planes, outplanes, spatial_stride=1, downsample=None, se=None):
        super().__init__()
        self.conv1 = ConvBN(inplanes, planes, 1, dims=3)
        self.conv2 = ConvBN(
            planes,
            planes,
            3,
            (1, spatial_stride, spatial_stride),
            1,
            relu=False,
            dims=3,
            groups=planes,
        )
        self.se_module = SEModule(planes, se) if se else None
        self.conv3 = ConvBN(planes, outplanes, 1, relu=False, dims=3)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        if self.se_module is not None:
            out = self.se_module(out)
        out = self.conv3(out * torch.sigmoid(out))  # swish
        return torch.relu_(out + identity)


class _Conv(nn.Module):
    """A bare convolution under ``.conv`` (a ConvModule without norm and activation)."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class X3D(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 432, T, H/32, W/32]`` (for the default factors)."""

    def __init__(
        self,
        gamma_w: float = 1.0,
        gamma_b: float = 2.25,
        gamma_d: float = 2.2,
        se_ratio: float = 1 / 16,
        zero_init_residual: bool = True,
    ):
        super().__init__()
        base = round_width(24, gamma_w)
        blocks = [int(math.ceil(gamma_d * b)) for b in (1, 2, 5, 3)]
        self.conv1_s = _Conv(Conv3d(3, base, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False))
        self.conv1_t = ConvBN(base, base, (5, 1, 1), 1, (2, 0, 0), dims=3, groups=base)
        previous = base
        for i, count in enumerate(blocks):
            out = base * 2**i
            planes = int(out * gamma_b)
            downsample = ConvBN(previous, out, 1, (1, 2, 2), relu=False, dims=3)
            layers = [BlockX3D(previous, planes, out, 2, downsample, se_ratio)]
            layers += [
                BlockX3D(out, planes, out, se=se_ratio if j % 2 == 0 else None)
                for j in range(1, count)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
            previous = out
        self.conv5 = ConvBN(previous, int(previous * gamma_b), 1, dims=3)
        self.out_channels = int(previous * gamma_b)
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BlockX3D):
                    nn.init.zeros_(m.conv3.bn.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1_t(self.conv1_s(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.conv5(x)
