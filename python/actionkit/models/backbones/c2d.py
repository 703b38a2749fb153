"""C2D (the 2D baseline of "Non-local Neural Networks", as MMAction2's ``C2D``): a 2D
ResNet applied to every frame of a clip, with temporal max-pooling after the first
stage. ``x: [N, 3, T, H, W]`` -> ``[N, 2048, T/2, H/32, W/32]``."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from .resnet import ResNet


class C2D(ResNet):
    def __init__(self, depth: int = 50, in_channels: int = 3):
        super().__init__(depth, in_channels)
        del self.maxpool
        # Spatial max-pool without padding (the video-nonlocal-net baseline), and the
        # temporal one after layer1.
        self.maxpool3d_1 = nn.MaxPool3d((1, 3, 3), (1, 2, 2))
        self.maxpool3d_2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]

        def to_2d(y: Tensor) -> Tensor:  # [N, C, T, H, W] -> [N*T, C, H, W]
            return y.transpose(1, 2).flatten(0, 1)

        def to_3d(y: Tensor) -> Tensor:  # [N*T, C, H, W] -> [N, C, T, H, W]
            return y.view(n, -1, *y.shape[1:]).transpose(1, 2)

        x = to_2d(self.maxpool3d_1(to_3d(self.conv1(to_2d(x)))))
        x = to_2d(self.maxpool3d_2(to_3d(self.layer1(x))))
        return to_3d(self.layer4(self.layer3(self.layer2(x))))
