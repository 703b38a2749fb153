"""MobileOne (Vasu et al., CVPR 2023) as mmpretrain builds it, with its state-dict names
(``stage0``, ``stage3.11.branch_conv_list.0.conv``, ``.branch_scale.norm``,
``.branch_norm``, ``.se.conv1.conv``; deployed: ``.branch_reparam``), and TSM's MobileOne
as MMAction2's ``MobileOneTSM``: the temporal shift before every block (``stage2.3.net``).

A training-time block adds ``num_convs`` conv+BN branches of its kernel, a 1x1 conv+BN
branch (kernels above 1) and a BN-only identity branch (same width, stride 1), then an
optional squeeze-excitation and ReLU. :meth:`MobileOneBlock.reparameterize` folds the
branches into the one biased convolution of the deployed block (``deploy=True`` builds
that form directly, as MMAction2's ``*_deploy`` configs do)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .mobilenet_v2 import make_divisible
from .resnet import ConvModule, init_conv_bn
from .resnet_tsm import TemporalShift

# blocks, width factor, conv branches, squeeze-excited blocks (the last ones) per stage
ARCHS = {
    "s0": ((2, 8, 10, 1), (0.75, 1.0, 1.0, 2.0), (4, 4, 4, 4), (0, 0, 0, 0)),
    "s1": ((2, 8, 10, 1), (1.5, 1.5, 2.0, 2.5), (1, 1, 1, 1), (0, 0, 0, 0)),
    "s2": ((2, 8, 10, 1), (1.5, 2.0, 2.5, 4.0), (1, 1, 1, 1), (0, 0, 0, 0)),
    "s3": ((2, 8, 10, 1), (2.0, 2.5, 3.0, 4.0), (1, 1, 1, 1), (0, 0, 0, 0)),
    "s4": ((2, 8, 10, 1), (3.0, 3.5, 3.5, 4.0), (1, 1, 1, 1), (0, 0, 5, 1)),
}


class SqueezeExcite(nn.Module):
    """Global average, 1x1 conv down to ``make_divisible(C / 16)``, ReLU, 1x1 conv back,
    sigmoid, times the input (mmpretrain's ``SELayer``: biased ``conv1.conv``,
    ``conv2.conv``)."""

    def __init__(self, channels: int, ratio: int = 16):
        super().__init__()
        squeeze = make_divisible(channels // ratio, 8)
        self.conv1 = ConvModule(nn.Conv2d(channels, squeeze, 1))
        self.conv2 = ConvModule(nn.Conv2d(squeeze, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        w = torch.relu(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * torch.sigmoid(self.conv2(w))


class _SubsampledConv1x1(nn.Conv2d):
    """A 1x1 convolution of stride ``step`` as every ``step``-th pixel through a 1x1 of
    stride 1: the same output, and not oneDNN's strided 1x1 weight gradient, which
    corrupts the heap on channels-last inputs of fewer than 16 channels (MobileOne's stem
    branch on RGB, from 112 x 112 on; torch 2.13.0 and 2.14.1; torch.compile's layout
    optimisation makes convolutions channels-last by itself: README, known issues)."""

    def __init__(self, cin: int, cout: int, step: int, groups: int):
        super().__init__(cin, cout, 1, groups=groups, bias=False)
        self.step = step

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x[:, :, :: self.step, :: self.step])


def _conv_norm(cin, cout, kernel, stride, padding, groups) -> nn.Sequential:
    if kernel == 1 and stride > 1 and padding == 0:
        conv = _SubsampledConv1x1(cin, cout, stride, groups)
    else:
        conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
    return nn.Sequential(OrderedDict(conv=conv, norm=nn.BatchNorm2d(cout)))


def _fold(weight: Tensor, norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """A bias-free convolution followed by ``norm`` (inference statistics) as one
    convolution's weight and bias."""
    scale = norm.weight / (norm.running_var + norm.eps).sqrt()
    return weight * scale.reshape(-1, 1, 1, 1), norm.bias - norm.running_mean * scale


class MobileOneBlock(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        num_convs: int,
        stride: int = 1,
        groups: int = 1,
        se: bool = False,
        deploy: bool = False,
    ):
        super().__init__()
        self.cin, self.cout, self.kernel = cin, cout, kernel
        self.stride, self.groups = stride, groups
        self.se = SqueezeExcite(cout) if se else nn.Identity()
        self.deploy = deploy
        pad = kernel // 2
        if deploy:
            self.branch_reparam = nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups)
            return
        if num_convs < 1:
            raise ValueError(f"a MobileOne block needs at least one conv branch, got {num_convs}")
        self.branch_norm = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.branch_scale = _conv_norm(cin, cout, 1, stride, 0, groups) if kernel > 1 else None
        self.branch_conv_list = nn.ModuleList(
            _conv_norm(cin, cout, kernel, stride, pad, groups) for _ in range(num_convs)
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.deploy:
            out = self.branch_reparam(x)
        else:  # (sums in place: no branch's backward needs the sum)
            out = self.branch_conv_list[0](x)
            for branch in self.branch_conv_list[1:]:
                out += branch(x)
            if self.branch_scale is not None:
                out += self.branch_scale(x)
            if self.branch_norm is not None:
                out += self.branch_norm(x)
        return torch.relu_(self.se(out))

    @torch.no_grad()
    def reparameterize(self) -> tuple[Tensor, Tensor]:
        """The weight and bias of the one convolution equal to the block's branches
        (BatchNorm with its running statistics)."""
        weight, bias = 0, 0
        for branch in self.branch_conv_list:
            w, b = _fold(branch.conv.weight, branch.norm)
            weight, bias = weight + w, bias + b
        if self.branch_scale is not None:  # the 1x1 kernel at the centre
            w, b = _fold(self.branch_scale.conv.weight, self.branch_scale.norm)
            pad = self.kernel // 2
            weight, bias = weight + F.pad(w, [pad] * 4), bias + b
        if self.branch_norm is not None:  # the identity: 1 at each channel's own centre
            per_group = self.cin // self.groups
            identity = self.branch_norm.weight.new_zeros(
                self.cin, per_group, self.kernel, self.kernel
            )
            channels = torch.arange(self.cin)
            identity[channels, channels % per_group, self.kernel // 2, self.kernel // 2] = 1
            w, b = _fold(identity, self.branch_norm)
            weight, bias = weight + w, bias + b
        return weight, bias

    def switch_to_deploy(self) -> None:
        """Replaces the branches by the one convolution (:meth:`reparameterize`)."""
        if self.deploy:
            return
        weight, bias = self.reparameterize()
        conv = nn.Conv2d(
            self.cin, self.cout, self.kernel, self.stride, self.kernel // 2, groups=self.groups
        )
        conv = conv.to(weight.device, weight.dtype)
        conv.weight.data.copy_(weight)
        conv.bias.data.copy_(bias)
        del self.branch_conv_list, self.branch_scale, self.branch_norm
        self.branch_reparam = conv
        self.deploy = True


class MobileOne(nn.Module):
    """MobileOne ``arch`` (s0-s4) for frames ``[N, 3, H, W]`` -> ``[N, C, H/32, W/32]``
    (C = 2048 for s4). Each stage's first block halves the size; a block is a depthwise
    3x3 MobileOne block then a pointwise 1x1 one. With ``num_segments``, every block
    (``stage0`` and each block of the four stages) shifts its input in time first
    (TSM; ``shift_div`` as ResNetTSM's)."""

    def __init__(
        self,
        arch: str = "s4",
        deploy: bool = False,
        num_segments: int | None = None,
        shift_div: int = 8,
        in_channels: int = 3,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"MobileOne arch must be one of {sorted(ARCHS)}, got {arch!r}")
        counts, factors, branches, se_counts = ARCHS[arch]
        self.arch, self.num_segments, self.shift_div = arch, num_segments, shift_div
        width = min(64, int(64 * factors[0]))
        self.stage0 = self._shifted(MobileOneBlock(in_channels, width, 3, 1, 2, deploy=deploy))
        for i, count in enumerate(counts):
            planes = int(64 * 2**i * factors[i])
            blocks = []
            for j in range(count):
                se = j >= count - se_counts[i]
                stride = 2 if j == 0 else 1
                depthwise = MobileOneBlock(width, width, 3, branches[i], stride, width, se, deploy)
                pointwise = MobileOneBlock(width, planes, 1, branches[i], 1, 1, se, deploy)
                blocks += [self._shifted(depthwise), self._shifted(pointwise)]
                width = planes
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
        self.out_channels = width
        init_conv_bn(self)

    def _shifted(self, block: nn.Module) -> nn.Module:
        if self.num_segments is None:
            return block
        return TemporalShift(block, self.num_segments, self.shift_div)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stage0(x)
        for i in range(4):
            x = getattr(self, f"stage{i + 1}")(x)
        return x

    def switch_to_deploy(self) -> None:
        """Every block into its deployed form (MMAction2's / mmpretrain's method name):
        equal outputs in eval mode, one convolution per block."""
        for m in [m for m in self.modules() if isinstance(m, MobileOneBlock)]:
            m.switch_to_deploy()
