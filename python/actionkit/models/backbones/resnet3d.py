"""3D ResNets as MMAction2 1.x builds them (``ResNet3d``, ``ResNet3dSlowOnly``): I3D's
inflated bottlenecks (a 3x1x1 first convolution where ``inflate`` says so) and SlowOnly.
Module names match MMAction2's state-dict keys."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from .resnet import ConvBN


class Bottleneck3d(nn.Module):
    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        downsample: nn.Module | None = None,
        inflate: bool = True,
    ):
        super().__init__()
        k1, p1 = ((3, 1, 1), (1, 0, 0)) if inflate else ((1, 1, 1), (0, 0, 0))
        self.conv1 = ConvBN(inplanes, planes, k1, 1, p1, dims=3)
        self.conv2 = ConvBN(
            planes,
            planes,
            (1, 3, 3),
            (temporal_stride, spatial_stride, spatial_stride),
            (0, 1, 1),
            dims=3,
        )
        self.conv3 = ConvBN(planes, planes * 4, 1, relu=False, dims=3)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)


STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ResNet3d(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 2048, T', H/32, W/32]``.

    Args:
        depth: 50, 101 or 152.
        conv1_kernel: the stem's kernel (I3D ``(5, 7, 7)``, SlowOnly ``(1, 7, 7)``).
        conv1_stride_t, pool1_stride_t: temporal strides of the stem and its max-pool.
        inflate: per stage, an int or a 0/1 flag per block: 1 makes the block's first
            convolution 3x1x1.
        with_pool2: a temporal max-pool (2x1x1) after the first stage (I3D).
        spatial_strides, temporal_strides: per stage.
        zero_init_residual: start each block's last BatchNorm at zero (MMAction2's default).
    """

    def __init__(
        self,
        depth: int = 50,
        conv1_kernel: Sequence[int] = (3, 7, 7),
        conv1_stride_t: int = 1,
        pool1_stride_t: int = 1,
        inflate: Sequence = (1, 1, 1, 1),
        with_pool2: bool = True,
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 1, 1),
        zero_init_residual: bool = True,
        in_channels: int = 3,
        base_channels: int = 64,
    ):
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"ResNet3d depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        self.with_pool2 = with_pool2
        kernel = tuple(conv1_kernel)
        self.conv1 = ConvBN(
            in_channels,
            base_channels,
            kernel,
            (conv1_stride_t, 2, 2),
            tuple((k - 1) // 2 for k in kernel),
            dims=3,
        )
        self.maxpool = nn.MaxPool3d((1, 3, 3), (pool1_stride_t, 2, 2), (0, 1, 1))
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        inplanes = base_channels
        for i, blocks in enumerate(STAGE_BLOCKS[depth]):
            planes = base_channels * 2**i
            flags = inflate[i] if isinstance(inflate[i], Sequence) else (inflate[i],) * blocks
            if len(flags) != blocks:
                raise ValueError(f"inflate[{i}] needs {blocks} flags, got {flags}")
            s, t = spatial_strides[i], temporal_strides[i]
            downsample = None
            if s != 1 or inplanes != planes * 4:  # not the temporal stride: as MMAction2
                downsample = ConvBN(inplanes, planes * 4, 1, (t, s, s), relu=False, dims=3)
            layers = [Bottleneck3d(inplanes, planes, s, t, downsample, flags[0] == 1)]
            inplanes = planes * 4
            layers += [Bottleneck3d(inplanes, planes, inflate=f == 1) for f in flags[1:]]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = inplanes
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    nn.init.zeros_(m.conv3.bn.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.layer1(x)
        if self.with_pool2:
            x = self.pool2(x)
        return self.layer4(self.layer3(self.layer2(x)))
