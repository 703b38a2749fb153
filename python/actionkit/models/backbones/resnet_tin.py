"""ResNet with TIN's temporal interlace (Shao et al., "Temporal Interlacing Network",
AAAI 2020), as MMAction2's ``ResNetTIN``: before the first convolution of every residual
branch, the first ``C / shift_div`` channels of each frame are moved in time by learned
fractional offsets (two per clip, each used forward and backward: four channel groups)
and scaled by learned per-frame weights; the shift is :func:`actionkit.ops.tin_shift`,
the offsets and weights learn through its gradient. Module names follow MMAction2's
state-dict keys (``layer1.0.conv1.conv.net1.offset_net.fc1.weight``, the convolution
under ``...conv1.conv.net2``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ...ops import tin_shift
from .resnet import ResNet


class OffsetNet(nn.Module):
    """Pooled descriptors ``[B, C', T]`` -> two offsets per clip in (-2, 2): a 3-tap
    temporal convolution to one channel, two linear layers over time."""

    def __init__(self, in_channels: int, groups: int, num_segments: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, 1, 3, padding=1)
        self.fc1 = nn.Linear(num_segments, num_segments)
        self.fc2 = nn.Linear(num_segments, groups)
        nn.init.constant_(self.fc2.bias, 0.5108)  # MMAction2's start: offsets of 0.5

    def forward(self, x: Tensor) -> Tensor:
        x = self.fc2(torch.relu(self.fc1(self.conv(x).flatten(1))))
        return 4 * (torch.sigmoid(x) - 0.5)


class WeightNet(nn.Module):
    """Pooled descriptors ``[B, C', T]`` -> per-frame weights ``[B, T, groups]`` in (0, 2),
    1 at the start (zero bias)."""

    def __init__(self, in_channels: int, groups: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, groups, 3, padding=1)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return 2 * torch.sigmoid(self.conv(x)).transpose(1, 2)


class TemporalInterlace(nn.Module):
    """``x: [B*T, C, H, W]``: the first ``C // shift_div`` channels shifted and weighted,
    the rest passed through."""

    groups = 2  # offsets per clip (MMAction2's deform_groups); used as +o and -o

    def __init__(self, in_channels: int, num_segments: int = 8, shift_div: int = 4):
        super().__init__()
        self.num_segments, self.shift_div = num_segments, shift_div
        folds = in_channels // shift_div
        if folds % (2 * self.groups):
            raise ValueError(
                f"TIN needs in_channels // shift_div divisible by {2 * self.groups}, got "
                f"{in_channels} // {shift_div} = {folds}"
            )
        self.offset_net = OffsetNet(folds, self.groups, num_segments)
        self.weight_net = WeightNet(folds, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        t = self.num_segments
        folds = c // self.shift_div
        descriptor = x[:, :folds].reshape(nt // t, t, folds, h, w)
        pooled = descriptor.mean((3, 4)).transpose(1, 2)  # [B, folds, T]
        offset = self.offset_net(pooled)  # [B, 2]
        weight = self.weight_net(pooled)  # [B, T, 2]
        shifted = tin_shift(descriptor, torch.cat((offset, -offset), 1))
        # group g of the four gets weight g % 2: [w0, w1, w0, w1], each over folds / 4
        weight = weight.repeat(1, 1, 2).repeat_interleave(folds // (2 * self.groups), 2)
        shifted = shifted * weight[..., None, None].to(shifted.dtype)
        return torch.cat((shifted.reshape(nt, folds, h, w), x[:, folds:]), 1)


class CombineNet(nn.Module):
    """``net1`` (the interlace) then ``net2`` (the block's first convolution)."""

    def __init__(self, net1: nn.Module, net2: nn.Module):
        super().__init__()
        self.net1, self.net2 = net1, net2

    def forward(self, x: Tensor) -> Tensor:
        return self.net2(self.net1(x))


class ResNetTIN(ResNet):
    def __init__(
        self,
        depth: int = 50,
        num_segments: int = 8,
        shift_div: int = 4,
        in_channels: int = 3,
        base_channels: int = 64,
    ):
        super().__init__(depth, in_channels, base_channels)
        self.num_segments, self.shift_div = num_segments, shift_div
        for name in ("layer1", "layer2", "layer3", "layer4"):
            for block in getattr(self, name):
                interlace = TemporalInterlace(block.conv1.conv.in_channels, num_segments, shift_div)
                block.conv1.conv = CombineNet(interlace, block.conv1.conv)
