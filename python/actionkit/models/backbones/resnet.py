"""2D ResNet as MMAction2 1.x builds it (module names match its state-dict keys:
``conv1.conv``, ``conv1.bn``, ``layer1.0.conv1.conv``, ``layer1.0.downsample.conv``...)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d


def init_conv_bn(module: nn.Module) -> None:
    """MMAction2's init without pretrained weights: Kaiming normal (fan_out) for every
    convolution in ``module``, ones and zeros for every BatchNorm."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def stage_flags(value, blocks: int, name: str) -> tuple:
    """A stage's per-block option: an int for every block, or one 0/1 flag per block."""
    flags = tuple(value) if isinstance(value, Sequence) else (value,) * blocks
    if len(flags) != blocks:
        raise ValueError(f"{name} needs {blocks} flags, got {flags}")
    return flags


def check_out_indices(out_indices: Sequence[int] | None, stages: int) -> tuple | None:
    """``out_indices`` as a tuple of stage numbers (0-based, increasing), or None."""
    if out_indices is None:
        return None
    indices = tuple(out_indices)
    if (
        not indices
        or list(indices) != sorted(set(indices))
        or not 0 <= indices[0] <= indices[-1] < stages
    ):
        raise ValueError(
            f"out_indices must be increasing stage numbers from 0 to {stages - 1}, "
            f"got {out_indices}"
        )
    return indices


def run_stages(net: nn.Module, x: Tensor, stages: int, out_indices, pool2=None):
    """Runs ``x`` through ``net.layer1``, ``net.layer2``, ...: the last stage's output,
    or with ``out_indices`` (see :func:`check_out_indices`) the outputs of those stages,
    a tuple (the stages after the last one asked for are not run). ``pool2``: applied to
    the first stage's output (I3D's temporal pooling)."""
    outs = []
    for i in range(stages if out_indices is None else out_indices[-1] + 1):
        x = getattr(net, f"layer{i + 1}")(x)
        if i == 0 and pool2 is not None:
            x = pool2(x)
        if out_indices is not None and i in out_indices:
            outs.append(x)
    return x if out_indices is None else tuple(outs)


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm (+ ReLU): MMAction2's ``ConvModule`` layout."""

    def __init__(
        self,
        cin,
        cout,
        kernel,
        stride=1,
        padding=0,
        dilation=1,
        relu=True,
        dims=2,
        groups=1,
        eps=1e-5,
    ):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else Conv3d
        bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
        self.conv = conv(cin, cout, kernel, stride, padding, dilation, groups, bias=False)
        self.bn = bn(cout, eps=eps)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return torch.relu_(x) if self.relu else x


class ConvModule(nn.Module):
    """A convolution module (``conv``), then BatchNorm over ``norm`` channels (``bn``)
    if given, then ReLU if ``relu``: MMAction2's ``ConvModule`` around any convolution
    (ConvBN is the common case of a plain convolution with BN)."""

    def __init__(self, conv: nn.Module, norm: int | None = None, relu: bool = False):
        super().__init__()
        self.conv = conv
        if norm is not None:
            self.bn = nn.BatchNorm2d(norm) if conv_dims(conv) == 2 else nn.BatchNorm3d(norm)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if hasattr(self, "bn"):
            x = self.bn(x)
        return torch.relu_(x) if self.relu else x


def conv_dims(conv: nn.Module) -> int:
    """2 or 3: the dimensions of ``conv`` (its first convolution's)."""
    first = next(m for m in conv.modules() if isinstance(m, nn.Conv2d | nn.Conv3d))
    return 2 if isinstance(first, nn.Conv2d) else 3


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = ConvBN(inplanes, planes, 3, stride, 1)
        self.conv2 = ConvBN(planes, planes, 3, 1, 1, relu=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv2(self.conv1(x)) + identity)


class Bottleneck(nn.Module):
    """The "pytorch" style: the stride sits on the 3x3 convolution."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = ConvBN(inplanes, planes, 1)
        self.conv2 = ConvBN(planes, planes, 3, stride, 1)
        self.conv3 = ConvBN(planes, planes * self.expansion, 1, relu=False)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)


ARCHS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """ResNet-18/34/50/101/152 for frames ``x: [N, 3, H, W]`` -> ``[N, C, H/32, W/32]``
    (C = 512 for 18/34, 2048 otherwise; ``base_channels`` scales every width, 64 is the
    standard ResNet). ``out_indices`` (0-based stages, MMAction2's option): the outputs
    of those stages as a tuple instead (TPN's input)."""

    def __init__(
        self,
        depth: int = 50,
        in_channels: int = 3,
        base_channels: int = 64,
        partial_bn: bool = False,
        out_indices: Sequence[int] | None = None,
    ):
        super().__init__()
        if depth not in ARCHS:
            raise ValueError(f"ResNet depth must be one of {sorted(ARCHS)}, got {depth}")
        if base_channels < 1:
            raise ValueError(f"base_channels must be positive, got {base_channels}")
        block, counts = ARCHS[depth]
        self.depth = depth
        self.in_channels = in_channels
        self.conv1 = ConvBN(in_channels, base_channels, 7, 2, 3)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = base_channels
        for i, count in enumerate(counts):
            planes = base_channels * 2**i
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or inplanes != planes * block.expansion:
                downsample = ConvBN(inplanes, planes * block.expansion, 1, stride, relu=False)
            layers = [block(inplanes, planes, stride, downsample)]
            inplanes = planes * block.expansion
            layers += [block(inplanes, planes) for _ in range(count - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = inplanes
        self.out_indices = check_out_indices(out_indices, len(counts))
        self.reset_parameters()
        # TSN's partial BN (MMAction2's partial_bn): every BatchNorm but the first keeps
        # its statistics and affine parameters fixed in training
        self.partial_bn = partial_bn
        if partial_bn:
            for bn in self._frozen_norms():
                bn.weight.requires_grad_(False)
                bn.bias.requires_grad_(False)

    def _frozen_norms(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)][1:]

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.partial_bn:
            for bn in self._frozen_norms():
                bn.eval()
        return self

    def reset_parameters(self) -> None:
        init_conv_bn(self)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        return run_stages(self, self.maxpool(self.conv1(x)), 4, self.out_indices)
