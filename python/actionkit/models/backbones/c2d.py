"""C2D (the 2D baseline of "Non-local Neural Networks", as MMAction2's ``C2D``): a 2D
ResNet applied to every frame of a clip, with temporal max-pooling after the first
stage. ``x: [N, 3, T, H, W]`` -> ``[N, 2048, T/2, H/32, W/32]``. With ``non_local``
(per stage, 0/1 flags per block, as ResNetTSM's) a block is followed by a non-local block
over the whole clip (C2D-NL; keys ``layer2.1.block.*``, ``layer2.1.non_local_block.*``)."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from .resnet import ResNet, stage_flags
from .resnet_tsm import NonLocalWrapper


class C2D(ResNet):
    def __init__(self, depth: int = 50, in_channels: int = 3, non_local=None, non_local_cfg=None):
        super().__init__(depth, in_channels)
        del self.maxpool
        # Spatial max-pool without padding (the video-nonlocal-net baseline), and the
        # temporal one after layer1.
        self.maxpool3d_1 = nn.MaxPool3d((1, 3, 3), (1, 2, 2))
        self.maxpool3d_2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        for s, name in enumerate(("layer1", "layer2", "layer3", "layer4")):
            stage = getattr(self, name)
            flags = stage_flags(non_local[s] if non_local else 0, len(stage), f"non_local[{s}]")
            channels = self.out_channels >> (3 - s)  # the stage's output width
            for i, flag in enumerate(flags):
                if flag:  # (the clip's length after the pooling is known at forward time)
                    stage[i] = NonLocalWrapper(stage[i], None, channels, dict(non_local_cfg or {}))

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]

        def to_2d(y: Tensor) -> Tensor:  # [N, C, T, H, W] -> [N*T, C, H, W]
            return y.transpose(1, 2).flatten(0, 1)

        def to_3d(y: Tensor) -> Tensor:  # [N*T, C, H, W] -> [N, C, T, H, W]
            return y.view(n, -1, *y.shape[1:]).transpose(1, 2)

        def stage(blocks: nn.Sequential, y: Tensor) -> Tensor:
            for block in blocks:
                wrapped = isinstance(block, NonLocalWrapper)
                y = block(y, y.shape[0] // n) if wrapped else block(y)
            return y

        x = to_2d(self.maxpool3d_1(to_3d(self.conv1(to_2d(x)))))
        x = to_2d(self.maxpool3d_2(to_3d(stage(self.layer1, x))))
        for blocks in (self.layer2, self.layer3, self.layer4):
            x = stage(blocks, x)
        return to_3d(x)
