"""ResNeXt (Xie et al., CVPR 2017) as mmcls / mmpretrain build it, with their state-dict
names, which are torchvision's too (``conv1``, ``bn1``, ``layer1.0.conv2``,
``layer1.0.downsample.0`` / ``.1``): MMAction2's TSN with ``mmcls.ResNeXt`` saves its
backbone under these names, and torchvision's / mmpretrain's ImageNet ResNeXt files load
through ``pretrained=`` as they are. A bottleneck's grouped 3x3 convolution is
``groups * width_per_group * planes / 64`` wide (``planes`` = 64, 128, 256, 512 for the
four stages); the stride sits on it ("pytorch" style)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from .resnet import ARCHS, init_conv_bn, run_stages


class ResNeXtBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, groups: int, width: int):
        super().__init__()
        mid = groups * width * planes // 64
        self.conv1 = nn.Conv2d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.downsample = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * self.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu_(self.bn1(self.conv1(x)))
        out = torch.relu_(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu_(out + (x if self.downsample is None else self.downsample(x)))


class ResNeXt(nn.Module):
    """ResNeXt-50/101/152 for frames ``[N, 3, H, W]`` -> ``[N, 2048, H/32, W/32]``
    (``groups`` x ``width_per_group``: 32 x 4 is ResNeXt-101 32x4d)."""

    def __init__(
        self, depth: int = 101, groups: int = 32, width_per_group: int = 4, in_channels: int = 3
    ):
        super().__init__()
        if depth not in ARCHS or depth < 50:
            raise ValueError(f"ResNeXt depth must be 50, 101 or 152, got {depth}")
        if groups < 1 or width_per_group < 1:
            raise ValueError(
                f"groups and width_per_group must be positive, got {groups}, {width_per_group}"
            )
        self.depth, self.groups, self.width_per_group = depth, groups, width_per_group
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, count in enumerate(ARCHS[depth][1]):
            planes = 64 * 2**i
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(ResNeXtBottleneck(inplanes, planes, stride, groups, width_per_group))
                inplanes = planes * ResNeXtBottleneck.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = inplanes
        init_conv_bn(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(torch.relu_(self.bn1(self.conv1(x))))
        return run_stages(self, x, 4, None)
