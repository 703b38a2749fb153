"""Non-local blocks (Wang et al., "Non-local Neural Networks", CVPR 2018) as mmcv's
``NonLocal3d`` (MMAction2's I3D-NL, TSM-NL and SlowOnly-NL), with its state-dict names:
``g``, ``theta``, ``phi`` (1x1x1 convolutions with bias, each followed by a 1x2x2 max-pool
with ``sub_sample``: ``g.0.conv``), ``conv_out`` (a 1x1x1 convolution and BatchNorm,
zero-initialised so the block starts as the identity).

``y = f(theta(x), phi(x)) g(x)``, ``out = x + conv_out(y)`` over all ``T x H x W``
positions, with ``f``:

* ``embedded_gaussian``: softmax of the dot products (scaled by ``1/sqrt(C')`` with
  ``use_scale``), computed by ``scaled_dot_product_attention`` (fused kernels where the
  device has them; no ``[THW, THW]`` matrix kept for the backward);
* ``gaussian``: the same on ``x`` itself (no theta / phi convolutions), unscaled;
* ``dot_product``: the dot products divided by the number of key positions. This is
  linear in the keys, so ``y = theta (phi^T g) / L``: no ``[THW, THW]`` matrix at all,
  the same values up to the order of the sums.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...amp import Conv3d
from .resnet import ConvBN

MODES = ("embedded_gaussian", "gaussian", "dot_product")


class _Conv(nn.Module):
    """A 1x1x1 convolution with bias under ``.conv`` (mmcv's ConvModule without norm)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = Conv3d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class NonLocal3d(nn.Module):
    """``x: [N, C, T, H, W]`` -> the same shape."""

    def __init__(
        self,
        in_channels: int,
        reduction: int = 2,
        use_scale: bool = True,
        sub_sample: bool = False,
        mode: str = "embedded_gaussian",
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"non-local mode must be one of {MODES}, got {mode!r}")
        self.in_channels, self.mode, self.use_scale = in_channels, mode, use_scale
        self.inter_channels = max(in_channels // reduction, 1)
        pool = [nn.MaxPool3d((1, 2, 2))] if sub_sample else []

        def pooled(module: nn.Module) -> nn.Module:
            return nn.Sequential(module, *pool) if sub_sample else module

        self.g = pooled(_Conv(in_channels, self.inter_channels))
        self.conv_out = ConvBN(self.inter_channels, in_channels, 1, relu=False, dims=3)
        if mode != "gaussian":
            self.theta = _Conv(in_channels, self.inter_channels)
            self.phi = pooled(_Conv(in_channels, self.inter_channels))
        else:
            self.phi = pool[0] if sub_sample else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """mmcv's init: normal(0, 0.01) projections with zero biases, ``conv_out``'s
        BatchNorm at zero (the block starts as the identity). (Networks that initialise
        every convolution and BatchNorm of their own call this after.)"""
        for m in self.modules():
            if isinstance(m, _Conv):
                nn.init.normal_(m.conv.weight, 0, 0.01)
                nn.init.zeros_(m.conv.bias)
        nn.init.zeros_(self.conv_out.bn.weight)
        nn.init.zeros_(self.conv_out.bn.bias)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        value = self.g(x).flatten(2).transpose(1, 2)  # [N, Lk, C']
        if self.mode == "gaussian":
            query, key = x.flatten(2).transpose(1, 2), self.phi(x).flatten(2).transpose(1, 2)
        else:
            query = self.theta(x).flatten(2).transpose(1, 2)  # [N, Lq, C']
            key = self.phi(x).flatten(2).transpose(1, 2)  # [N, Lk, C']
        if self.mode == "dot_product":
            y = query @ (key.transpose(1, 2) @ value) / key.shape[1]
        else:
            scale = self.inter_channels**-0.5 if self.mode != "gaussian" and self.use_scale else 1.0
            y = F.scaled_dot_product_attention(
                query[:, None], key[:, None], value[:, None], scale=scale
            )[:, 0]
        y = y.transpose(1, 2).reshape(n, self.inter_channels, *x.shape[2:])
        return x + self.conv_out(y)
