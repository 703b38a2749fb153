"""MobileNetV2 (Sandler et al., CVPR 2018) as MMAction2 (and mmcls / mmpretrain) build it,
with their state-dict names (``conv1.conv``, ``layer2.1.conv.0.conv``, ``conv2.bn``...), and
TSM's MobileNetV2: the temporal shift before the expanding 1x1 convolution of every
inverted residual block with a skip connection (``layer2.1.conv.0.net.conv``), as MMAction2's
``MobileNetV2TSM``. An ImageNet MobileNetV2 of mmpretrain (``mmcls://mobilenet_v2``) loads
as it is through ``pretrained=``."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from .resnet import init_conv_bn
from .resnet_tsm import TemporalShift

# expand ratio, channels, blocks, stride of the first block: the seven stages
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
STAGES += ((6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8, min_ratio: float = 0.9) -> int:
    """The channel count rounded to a multiple of ``divisor``, never below 90% of it."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < min_ratio * value else rounded


class ConvBNReLU6(nn.Module):
    """Conv (no bias) + BatchNorm (+ ReLU6): mmcv's ConvModule names ``conv``, ``bn``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride=1, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers = [ConvBNReLU6(cin, hidden, 1)] if expand_ratio != 1 else []
        layers += [
            ConvBNReLU6(hidden, hidden, 3, stride, groups=hidden),
            ConvBNReLU6(hidden, cout, 1, act=False),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """Frames ``[N, 3, H, W]`` -> ``[N, 1280, H/32, W/32]`` (the width times
    ``widen_factor``; the last convolution's 1280 only grows)."""

    def __init__(self, widen_factor: float = 1.0, in_channels: int = 3):
        super().__init__()
        width = make_divisible(32 * widen_factor)
        self.conv1 = ConvBNReLU6(in_channels, width, 3, 2)
        for i, (expand, channels, blocks, stride) in enumerate(STAGES):
            out = make_divisible(channels * widen_factor)
            stage = []
            for b in range(blocks):
                stage.append(InvertedResidual(width, out, stride if b == 0 else 1, expand))
                width = out
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.out_channels = int(1280 * widen_factor) if widen_factor > 1 else 1280
        self.conv2 = ConvBNReLU6(width, self.out_channels, 1)
        init_conv_bn(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        for i in range(len(STAGES)):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.conv2(x)


class MobileNetV2TSM(MobileNetV2):
    def __init__(
        self, num_segments: int = 8, shift_div: int = 8, widen_factor: float = 1.0, **kwargs
    ):
        super().__init__(widen_factor, **kwargs)
        self.num_segments, self.shift_div = num_segments, shift_div
        for m in self.modules():
            if isinstance(m, InvertedResidual) and len(m.conv) == 3 and m.use_res_connect:
                m.conv[0] = TemporalShift(m.conv[0], num_segments, shift_div)
