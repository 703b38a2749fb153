"""ResNet with TSM's temporal shift (Lin et al., ICCV 2019), as MMAction2's ``ResNetTSM``:
``blockres`` shifts the input of each residual branch (every second block when layer3
has 23 or more, as ResNet-101), ``block`` shifts each block's input."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ...ops import temporal_shift
from .non_local import NonLocal3d
from .resnet import ResNet, stage_flags


class TemporalShift(nn.Module):
    """Shifts ``x: [N*T, C, H, W]`` along T, then applies ``net`` (key ``<name>.net``)."""

    def __init__(self, net: nn.Module, num_segments: int, shift_div: int = 8):
        super().__init__()
        self.net, self.num_segments, self.shift_div = net, num_segments, shift_div

    def forward(self, x: Tensor) -> Tensor:
        return self.net(temporal_shift(x, self.num_segments, self.shift_div))


class NonLocalWrapper(nn.Module):
    """``block`` then a :class:`NonLocal3d` over the clip's segments (MMAction2's
    ``NL3DWrapper``: keys ``<name>.block.*``, ``<name>.non_local_block.*``). ``segments``
    (the frames per clip) is fixed, or None: then each call gives it (C2D's, whose clip
    length is the input's)."""

    def __init__(self, block: nn.Module, num_segments: int | None, channels: int, cfg: dict):
        super().__init__()
        self.block, self.num_segments = block, num_segments
        self.non_local_block = NonLocal3d(channels, **cfg)

    def forward(self, x: Tensor, segments: int | None = None) -> Tensor:
        x = self.block(x)
        nt, c, h, w = x.shape
        t = self.num_segments if segments is None else segments
        clip = x.view(nt // t, t, c, h, w).transpose(1, 2)
        return self.non_local_block(clip).transpose(1, 2).reshape(nt, c, h, w)


class ResNetTSM(ResNet):
    """``non_local``: per stage, 0/1 flags per block: 1 wraps the (shifted) block in a
    :class:`NonLocalWrapper` with ``non_local_cfg`` (TSM-NL)."""

    def __init__(
        self,
        depth: int = 50,
        num_segments: int = 8,
        shift_div: int = 8,
        shift_place: str = "blockres",
        in_channels: int = 3,
        base_channels: int = 64,
        non_local=None,
        non_local_cfg: dict | None = None,
        out_indices=None,
    ):
        super().__init__(depth, in_channels, base_channels, out_indices=out_indices)
        if shift_place not in ("blockres", "block"):
            raise ValueError(f"shift_place must be 'blockres' or 'block', got {shift_place!r}")
        self.num_segments, self.shift_div, self.shift_place = num_segments, shift_div, shift_place
        every = 2 if len(self.layer3) >= 23 else 1
        for name in ("layer1", "layer2", "layer3", "layer4"):
            stage = getattr(self, name)
            for i, block in enumerate(stage):
                if shift_place == "block":
                    stage[i] = TemporalShift(block, num_segments, shift_div)
                elif i % every == 0:
                    block.conv1.conv = TemporalShift(block.conv1.conv, num_segments, shift_div)
        for s, name in enumerate(("layer1", "layer2", "layer3", "layer4")):
            stage = getattr(self, name)
            flags = stage_flags(non_local[s] if non_local else 0, len(stage), f"non_local[{s}]")
            channels = self.out_channels >> (3 - s)  # the stage's output width
            for i, flag in enumerate(flags):
                if flag:
                    stage[i] = NonLocalWrapper(
                        stage[i], num_segments, channels, dict(non_local_cfg or {})
                    )
