"""S3D (Xie et al., "Rethinking Spatiotemporal Feature Learning", ECCV 2018) with
torchvision's parameter names (``torchvision.models.video.s3d``), so its Kinetics-400
weights load as they are: Inception-v1 with every 3D convolution k x k x k separated into
1 x k x k then k x 1 x 1 (each with BatchNorm and ReLU), 3D max pools between the stages.
``features.N`` numbers the modules as torchvision does; each convolution unit is
(convolution, BatchNorm, ReLU) at indices 0, 1, 2. BatchNorm eps and momentum 1e-3.
The head (:class:`actionkit.models.heads.i3d.S3DHead`) pools as torchvision's does."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d

# Inception blocks: input width, branch 0 width, branch 1 (mid, out), branch 2 (mid, out),
# branch 3 (pooled) width: those of Inception-v1 (GoogLeNet's 3a-5b)
INCEPTION = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def unit(inplanes: int, planes: int, kernel=1, stride=1, padding=0) -> nn.Sequential:
    """Convolution (no bias), BatchNorm, ReLU."""
    return nn.Sequential(
        Conv3d(inplanes, planes, kernel, stride, padding, bias=False),
        nn.BatchNorm3d(planes, eps=1e-3, momentum=1e-3),
        nn.ReLU(inplace=True),
    )


def separable(inplanes: int, planes: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """k x k x k as 1 x k x k (spatial stride) then k x 1 x 1 (temporal stride)."""
    return nn.Sequential(
        unit(inplanes, planes, (1, kernel, kernel), (1, stride, stride), (0, padding, padding)),
        unit(planes, planes, (kernel, 1, 1), (stride, 1, 1), (padding, 0, 0)),
    )


class SepInception(nn.Module):
    def __init__(self, inplanes, b0, b1_mid, b1, b2_mid, b2, b3):
        super().__init__()
        self.branch0 = unit(inplanes, b0)
        self.branch1 = nn.Sequential(unit(inplanes, b1_mid), separable(b1_mid, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(unit(inplanes, b2_mid), separable(b2_mid, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), unit(inplanes, b3))
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.branch0, self.branch1, self.branch2, self.branch3)
        return torch.cat([branch(x) for branch in branches], 1)


class S3D(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 1024, T/8, H/32, W/32]``."""

    def __init__(self):
        super().__init__()

        def pool(kernel, stride, padding):
            return nn.MaxPool3d(kernel, stride, padding)

        blocks = {name: SepInception(*widths) for name, widths in INCEPTION.items()}
        self.features = nn.Sequential(
            separable(3, 64, 7, 2, 3),
            pool((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            unit(64, 64),
            separable(64, 192, 3, 1, 1),
            pool((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            blocks["3a"],
            blocks["3b"],
            pool(3, 2, 1),
            *(blocks[name] for name in ("4a", "4b", "4c", "4d", "4e")),
            pool(2, 2, 0),
            blocks["5a"],
            blocks["5b"],
        )
        self.out_channels = blocks["5b"].out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)
