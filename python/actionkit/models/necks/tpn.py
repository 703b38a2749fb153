"""TPN, the temporal pyramid network neck (Yang et al., CVPR 2020), as MMAction2 1.2.0
builds it (module names match its state-dict keys: ``neck.level_fusion_1...``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...amp import Conv3d
from ..backbones.resnet import ConvBN, ConvModule


def _conv(cin: int, cout: int, kernel, padding=0, groups: int = 1) -> ConvModule:
    """A convolution without bias, norm or activation: MMAction2's ``ConvModule`` with
    ``norm_cfg=None, act_cfg=None`` (its weight at ``conv.weight``)."""
    return ConvModule(Conv3d(cin, cout, kernel, 1, padding, groups=groups, bias=False))


def _max_pool(scale) -> nn.Module:
    """Max-pooling by ``scale`` (an int or a (t, h, w) triple), the last window partial
    (``ceil_mode``); the identity at scale 1."""
    scale = (scale,) * 3 if isinstance(scale, int) else tuple(scale)
    if scale == (1, 1, 1):
        return nn.Identity()
    return nn.MaxPool3d(scale, scale, 0, ceil_mode=True)


class DownSample(nn.Module):
    """A convolution and a max-pool, the pool first when ``pool_first``."""

    def __init__(self, conv: nn.Module, scale, pool_first: bool):
        super().__init__()
        self.conv, self.pool, self.pool_first = conv, _max_pool(scale), pool_first

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.pool(x)) if self.pool_first else self.pool(self.conv(x))


class LevelFusion(nn.Module):
    """Each level pooled and projected (grouped 1x1x1 convolution, BN, ReLU), the levels
    concatenated and fused by a 1x1x1 convolution (BN, ReLU)."""

    def __init__(
        self, in_channels: Sequence[int], mid_channels: Sequence[int], out_channels, scales
    ):
        super().__init__()
        self.downsamples = nn.ModuleList(
            DownSample(ConvBN(cin, mid, 1, dims=3, groups=32), scale, pool_first=True)
            for cin, mid, scale in zip(in_channels, mid_channels, scales, strict=True)
        )
        self.fusion_conv = ConvBN(sum(mid_channels), out_channels, 1, dims=3)

    def forward(self, levels: Sequence[Tensor]) -> Tensor:
        return self.fusion_conv(
            torch.cat([d(x) for d, x in zip(self.downsamples, levels, strict=True)], 1)
        )


class SpatialModulation(nn.Module):
    """Brings every level to the top level's width and size: per level, log2(out / in)
    stride-2 1x3x3 convolutions (BN, ReLU), each doubling the width (none for the top)."""

    def __init__(self, in_channels: Sequence[int], out_channels: int):
        super().__init__()
        self.spatial_modulation = nn.ModuleList()
        for cin in in_channels:
            steps = (out_channels // cin).bit_length() - 1  # int(log2(out / in))
            self.spatial_modulation.append(
                nn.ModuleList(
                    ConvBN(cin << k, cin << (k + 1), (1, 3, 3), (1, 2, 2), (0, 1, 1), dims=3)
                    for k in range(max(steps, 0))
                )
            )

    def forward(self, levels: Sequence[Tensor]) -> list[Tensor]:
        outs = []
        for ops, x in zip(self.spatial_modulation, levels, strict=True):
            for op in ops:
                x = op(x)
            outs.append(x)
        return outs


class TemporalModulation(nn.Module):
    """A grouped 3x1x1 convolution, then temporal max-pooling by ``scale``."""

    def __init__(self, in_channels: int, out_channels: int, scale: int):
        super().__init__()
        self.conv = _conv(in_channels, out_channels, (3, 1, 1), (1, 0, 0), groups=32)
        self.pool = _max_pool((scale, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x))


class AuxHead(nn.Module):
    """The auxiliary classifier on the next-to-top level (training only): a stride-2 1x3x3
    convolution doubling the width (BN, ReLU), global average pool, dropout 0.5, linear.
    ``loss_weight`` scales its cross-entropy."""

    def __init__(self, in_channels: int, num_classes: int, loss_weight: float = 0.5):
        super().__init__()
        self.conv = ConvBN(in_channels, in_channels * 2, (1, 3, 3), (1, 2, 2), (0, 1, 1), dims=3)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(in_channels * 2, num_classes)
        self.loss_weight = loss_weight

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.conv(x).mean((2, 3, 4))))


class TPN(nn.Module):
    """``levels``: the backbone's stage outputs ``[N, C_i, T, H_i, W_i]`` (bottom first) ->
    ``[N, 2048, ceil(T / temporal_scale), H_top, W_top]`` (the top level's size).

    Each level is brought to the top level's width and size (spatial modulation),
    projected to ``out_channels`` and pooled in time (temporal modulation, one rate per
    level); a top-down pass adds each level's upsampled upper neighbour, a bottom-up
    pass adds each level's downsampled (3x1x1 convolution) lower neighbour, on the
    top-down result (``flow_type="cascade"``) or on the modulated levels
    (``"parallel"``); each pass is fused across levels (:class:`LevelFusion`) and the two
    results are concatenated and fused to 2048 channels.

    Args:
        in_channels: the levels' widths (ResNet-50 stages 3 and 4: ``(1024, 2048)``).
        out_channels: the width of the modulated levels.
        spatial_channels: the width spatial modulation brings every level to.
        temporal_scales: per level, the temporal pooling of its modulation.
        upsample_scale, downsample_scale: the top-down and bottom-up resampling.
        fusion_channels, fusion_scales: :class:`LevelFusion`'s per-level widths and
            pooling; ``fusion_out``: its output width.
        aux_classes: classes of the auxiliary head on ``levels[-2]`` (None: none);
            ``aux_weight``: its loss weight.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (1024, 2048),
        out_channels: int = 1024,
        spatial_channels: int = 2048,
        temporal_scales: Sequence[int] = (8, 8),
        upsample_scale: Sequence[int] = (1, 1, 1),
        downsample_scale: Sequence[int] = (1, 1, 1),
        fusion_channels: Sequence[int] = (1024, 1024),
        fusion_out: int = 2048,
        fusion_scales: Sequence = ((1, 1, 1), (1, 1, 1)),
        aux_classes: int | None = None,
        aux_weight: float = 0.5,
        flow_type: str = "cascade",
    ):
        super().__init__()
        if flow_type not in ("cascade", "parallel"):
            raise ValueError(f"flow_type must be 'cascade' or 'parallel', got {flow_type!r}")
        levels = len(in_channels)
        if len(temporal_scales) != levels or len(fusion_channels) != levels:
            raise ValueError(
                f"temporal_scales and fusion_channels need one entry per level "
                f"({levels}), got {temporal_scales} and {fusion_channels}"
            )
        self.in_channels, self.flow_type = tuple(in_channels), flow_type
        self.upsample_scale = tuple(upsample_scale)
        self.spatial_modulation = SpatialModulation(in_channels, spatial_channels)
        self.temporal_modulation_ops = nn.ModuleList(
            TemporalModulation(in_channels[-1], out_channels, s) for s in temporal_scales
        )
        self.downsample_ops = nn.ModuleList(
            DownSample(
                _conv(out_channels, out_channels, (3, 1, 1), (1, 0, 0)),
                downsample_scale,
                pool_first=False,
            )
            for _ in range(levels - 1)
        )
        fusion = ((out_channels,) * levels, fusion_channels, fusion_out, fusion_scales)
        self.level_fusion_1 = LevelFusion(*fusion)
        self.level_fusion_2 = LevelFusion(*fusion)
        self.pyramid_fusion = ConvBN(fusion_out * 2, 2048, 1, dims=3)
        self.aux_head = (
            None if aux_classes is None else AuxHead(in_channels[-2], aux_classes, aux_weight)
        )
        self.out_channels = 2048
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """MMAction2's init: Xavier uniform convolutions, BatchNorm at ones and zeros, the
        auxiliary classifier N(0, 0.01)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.aux_head is not None:
            nn.init.normal_(self.aux_head.fc.weight, 0, 0.01)
            nn.init.zeros_(self.aux_head.fc.bias)

    def _upsample(self, x: Tensor) -> Tensor:
        if self.upsample_scale == (1, 1, 1):
            return x
        return F.interpolate(x, scale_factor=self.upsample_scale, mode="nearest")

    def forward(self, levels: Sequence[Tensor]) -> Tensor:
        if len(levels) != len(self.in_channels):
            raise ValueError(f"TPN takes {len(self.in_channels)} levels, got {len(levels)}")
        levels = self.spatial_modulation(levels)
        modulated = [op(x) for op, x in zip(self.temporal_modulation_ops, levels, strict=True)]
        outs = list(modulated)
        for i in range(len(outs) - 1, 0, -1):  # top-down
            outs[i - 1] = outs[i - 1] + self._upsample(outs[i])
        top_down = self.level_fusion_1(outs)
        if self.flow_type == "parallel":
            outs = list(modulated)
        for i, down in enumerate(self.downsample_ops):  # bottom-up
            outs[i + 1] = outs[i + 1] + down(outs[i])
        bottom_up = self.level_fusion_2(outs)
        return self.pyramid_fusion(torch.cat([top_down, bottom_up], 1))

    def aux_loss(self, levels: Sequence[Tensor], label: Tensor) -> Tensor:
        """The auxiliary head's weighted cross-entropy on ``levels[-2]`` (``label``: class
        indices or per-class probabilities, as mixing makes them)."""
        return self.aux_head.loss_weight * F.cross_entropy(self.aux_head(levels[-2]), label)
