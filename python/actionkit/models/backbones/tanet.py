"""TANet (Liu et al., "TAM: Temporal Adaptive Module for Video Recognition", ICCV 2021) as
MMAction2 builds it: a ResNet whose every bottleneck runs a temporal adaptive module after
its first convolution (``TABlock``: keys ``layer1.0.block.conv1.conv.weight``,
``layer1.0.tam.G.0.weight``...).

TAM, per clip and channel: a *local* branch (temporal convolutions over the spatially
pooled features, a sigmoid) re-weights each frame; a *global* branch (two linear layers
over the same pooled time series, a softmax) gives a ``K``-tap temporal kernel with which
the re-weighted features are convolved along time (zero padded). The adaptive convolution
is computed as ``K`` shifted multiply-adds, not as a convolution with ``N x C`` groups."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .resnet import Bottleneck, ResNet


class TAM(nn.Module):
    """``x: [N*T, C, H, W]`` -> the same shape."""

    def __init__(
        self,
        in_channels: int,
        num_segments: int,
        alpha: int = 2,
        adaptive_kernel_size: int = 3,
        beta: int = 4,
        conv1d_kernel_size: int = 3,
        adaptive_convolution_padding: int = 1,
    ):
        super().__init__()
        if 2 * adaptive_convolution_padding != adaptive_kernel_size - 1:
            raise ValueError(
                "TAM keeps the clip length: adaptive_convolution_padding must be "
                f"(adaptive_kernel_size - 1) / 2, got {adaptive_convolution_padding} for "
                f"{adaptive_kernel_size}"
            )
        self.num_segments, self.padding = num_segments, adaptive_convolution_padding
        self.G = nn.Sequential(
            nn.Linear(num_segments, num_segments * alpha, bias=False),
            nn.BatchNorm1d(num_segments * alpha),
            nn.ReLU(inplace=True),
            nn.Linear(num_segments * alpha, adaptive_kernel_size, bias=False),
            nn.Softmax(-1),
        )
        self.L = nn.Sequential(
            nn.Conv1d(
                in_channels,
                in_channels // beta,
                conv1d_kernel_size,
                padding=conv1d_kernel_size // 2,
                bias=False,
            ),
            nn.BatchNorm1d(in_channels // beta),
            nn.ReLU(inplace=True),
            nn.Conv1d(in_channels // beta, in_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        t = self.num_segments
        clip = x.view(nt // t, t, c, h, w).transpose(1, 2)  # [N, C, T, H, W]
        pooled = clip.mean((3, 4))  # [N, C, T]
        kernel = self.G(pooled.reshape(-1, t)).view(nt // t, c, -1)  # [N, C, K]
        local = self.L(pooled)[..., None, None]  # [N, C, T, 1, 1]
        weighted = clip * local
        pad = self.padding
        padded = F.pad(weighted, (0, 0, 0, 0, pad, pad))
        out = sum(
            kernel[:, :, k, None, None, None] * padded[:, :, k : k + t]
            for k in range(kernel.shape[2])
        )
        return out.transpose(1, 2).reshape(nt, c, h, w)


class TABlock(nn.Module):
    """A bottleneck (``block``) with ``tam`` after its first convolution."""

    def __init__(self, block: Bottleneck, num_segments: int, tam_cfg: dict):
        super().__init__()
        self.block = block
        self.tam = TAM(block.conv1.conv.out_channels, num_segments, **tam_cfg)

    def forward(self, x: Tensor) -> Tensor:
        b = self.block
        identity = x if b.downsample is None else b.downsample(x)
        return torch.relu_(b.conv3(b.conv2(self.tam(b.conv1(x)))) + identity)


class TANet(ResNet):
    def __init__(
        self,
        depth: int = 50,
        num_segments: int = 8,
        tam_cfg: dict | None = None,
        in_channels: int = 3,
        base_channels: int = 64,
    ):
        super().__init__(depth, in_channels, base_channels)
        if num_segments < 3:
            raise ValueError(f"TANet needs at least 3 segments, got {num_segments}")
        if not isinstance(self.layer1[0], Bottleneck):
            raise ValueError(f"TANet is built on bottleneck ResNets (50 and deeper), got {depth}")
        self.num_segments = num_segments
        for name in ("layer1", "layer2", "layer3", "layer4"):
            stage = getattr(self, name)
            for i, block in enumerate(stage):
                stage[i] = TABlock(block, num_segments, dict(tam_cfg or {}))
