"""ResNetAudio, the backbone of MMAction2's audio-only recognizer (Xiao et al.,
"Audiovisual SlowFast Networks", 2020): 2D convolutions over log-mel spectrograms
``[N, 1, T, F]``, some factorised into a time and a frequency convolution. Module names
match MMAction2 1.2.0's state-dict keys (``conv1.conv.conv_1.conv``, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from .resnet import ConvBN, ConvModule, init_conv_bn, stage_flags


class ConvAudio(nn.Module):
    """A ``k x 1`` (time) and a ``1 x k`` (frequency) convolution, each with BatchNorm
    and ReLU, summed (``op="sum"``) or concatenated along the channels (``"concat"``,
    twice ``cout`` channels out)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, op: str = "concat"):
        super().__init__()
        if op not in ("concat", "sum"):
            raise ValueError(f"op must be 'concat' or 'sum', got {op!r}")
        self.op = op
        self.conv_1 = ConvBN(cin, cout, (kernel, 1), stride, (kernel // 2, 0))
        self.conv_2 = ConvBN(cin, cout, (1, kernel), stride, (0, kernel // 2))

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.conv_1(x), self.conv_2(x)
        return a + b if self.op == "sum" else torch.cat([a, b], 1)


class Bottleneck2dAudio(nn.Module):
    """1x1 (BN, ReLU); 3x3 at ``stride`` — factorised into :class:`ConvAudio` (concat)
    when ``factorize`` — with no norm or activation after it; 1x1 to ``4 * planes``
    (BN); the residual; ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride=1, downsample=None, factorize=True):
        super().__init__()
        self.conv1 = ConvBN(inplanes, planes, 1)
        if factorize:
            self.conv2 = ConvModule(ConvAudio(planes, planes, 3, stride))
        else:
            self.conv2 = ConvModule(nn.Conv2d(planes, planes, 3, stride, 1, bias=False))
        mid = 2 * planes if factorize else planes
        self.conv3 = ConvBN(mid, planes * self.expansion, 1, relu=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)


STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ResNetAudio(nn.Module):
    """``x: [N, 1, T, F]`` -> ``[N, 32 * base_channels, T / 8, F / 8]`` (1024 channels
    at the default width): a 9x9 stem factorised into time and frequency convolutions
    (summed, then BN and ReLU; stride 1), then bottleneck stages at strides
    ``strides``, the 3x3 convolutions factorised in the stages ``factorize`` marks.

    Args:
        depth: 50, 101 or 152.
        factorize: per stage, an int for every block or a 0/1 flag per block.
        zero_init_residual: each block's last BatchNorm starts at zero (MMAction2's default).
    """

    def __init__(
        self,
        depth: int = 50,
        in_channels: int = 1,
        base_channels: int = 32,
        strides: Sequence[int] = (1, 2, 2, 2),
        conv1_kernel: int = 9,
        factorize: Sequence = (1, 1, 0, 0),
        zero_init_residual: bool = True,
    ):
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(
                f"ResNetAudio depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}"
            )
        self.in_channels = in_channels
        stem = ConvAudio(in_channels, base_channels, conv1_kernel, op="sum")
        self.conv1 = ConvModule(stem, norm=base_channels, relu=True)
        inplanes = base_channels
        for i, blocks in enumerate(STAGE_BLOCKS[depth]):
            planes = base_channels * 2**i
            flags = stage_flags(factorize[i], blocks, f"factorize[{i}]")
            downsample = None
            if strides[i] != 1 or inplanes != planes * 4:
                downsample = ConvBN(inplanes, planes * 4, 1, strides[i], relu=False)
            layers = [Bottleneck2dAudio(inplanes, planes, strides[i], downsample, flags[0] == 1)]
            inplanes = planes * 4
            layers += [Bottleneck2dAudio(inplanes, planes, factorize=f == 1) for f in flags[1:]]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = inplanes
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck2dAudio):
                    nn.init.zeros_(m.conv3.bn.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
