"""torchvision's video ResNets (Tran et al., "A Closer Look at Spatiotemporal
Convolutions for Action Recognition", CVPR 2018) with torchvision's parameter names, so
its Kinetics-400 weights load as they are: R3D-18 (3x3x3 convolutions), MC3-18 (3D in
the first stage, 1x3x3 after) and R(2+1)D-18 (each 3x3x3 factorised into 1x3x3 and 3x1x1
with torchvision's mid-width rule). A stem without pooling (3x7x7 at stride 1x2x2;
R(2+1)D's 1x7x7 to 45 channels then 3x1x1), four stages of two basic blocks, strides 2 in
time and space from the second stage on (MC3: space only after the first stage)."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d

KINDS = ("r3d", "mc3", "r2plus1d")


def _bn_relu(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm3d(channels), nn.ReLU(inplace=True)]


def _conv(kind: str, inplanes: int, planes: int, stride: int, mid: int) -> nn.Module:
    """One convolution of a block: 3x3x3, 1x3x3 (``"2d"``) or (2+1)D through ``mid``
    channels."""
    if kind == "3d":
        return Conv3d(inplanes, planes, 3, stride, 1, bias=False)
    if kind == "2d":
        return Conv3d(inplanes, planes, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
    return nn.Sequential(
        Conv3d(inplanes, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        *_bn_relu(mid),
        Conv3d(mid, planes, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
    )


class BasicBlock(nn.Module):
    def __init__(self, kind: str, inplanes: int, planes: int, stride: int):
        super().__init__()
        # (2+1)D: the mid width that keeps a 3x3x3's parameter count, from the block's
        # input and output widths, for both of its convolutions (torchvision's rule)
        mid = (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)
        self.conv1 = nn.Sequential(_conv(kind, inplanes, planes, stride, mid), *_bn_relu(planes))
        self.conv2 = nn.Sequential(_conv(kind, planes, planes, 1, mid), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            ds_stride = (1, stride, stride) if kind == "2d" else (stride, stride, stride)
            self.downsample = nn.Sequential(
                Conv3d(inplanes, planes, 1, ds_stride, bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + skip)


class VideoResNet(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 512, T/8, H/16, W/16]`` (MC3: ``T``)."""

    def __init__(self, kind: str = "r3d", layers=(2, 2, 2, 2)):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "r2plus1d":
            self.stem = nn.Sequential(
                Conv3d(3, 45, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                *_bn_relu(45),
                Conv3d(45, 64, (3, 1, 1), 1, (1, 0, 0), bias=False),
                *_bn_relu(64),
            )
        else:
            self.stem = nn.Sequential(
                Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), *_bn_relu(64)
            )
        convs = {"r3d": ["3d"] * 4, "mc3": ["3d"] + ["2d"] * 3, "r2plus1d": ["2+1d"] * 4}[kind]
        inplanes = 64
        widths = (64, 128, 256, 512)
        for i, (conv, count, planes) in enumerate(zip(convs, layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(conv, inplanes, planes, stride)]
            blocks += [BasicBlock(conv, planes, planes, 1) for _ in range(count - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.out_channels = 512
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
