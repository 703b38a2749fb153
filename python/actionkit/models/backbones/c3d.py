"""C3D (Tran et al., ICCV 2015) as MMAction2's ``C3D``: eight 3x3x3 convolutions with
bias and ReLU, five max-pools, two 4096-wide fully connected layers. Its input is fixed by
``fc6``: ``[N, 3, 16, 112, 112]`` -> ``[N, 4096]``."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d


class _Conv(nn.Module):
    """Conv3d 3x3x3 + ReLU under ``.conv`` (MMAction2's ConvModule without a norm)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = Conv3d(cin, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu_(self.conv(x))


class C3D(nn.Module):
    cam_layer = "conv5b"  # Grad-CAM's default (actionkit.cam): the output ends in fc7

    def __init__(self, dropout: float = 0.5, init_std: float = 0.005, out_dim: int = 8192):
        super().__init__()
        self.conv1a = _Conv(3, 64)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2a = _Conv(64, 128)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv3a, self.conv3b = _Conv(128, 256), _Conv(256, 256)
        self.pool3 = nn.MaxPool3d(2, 2)
        self.conv4a, self.conv4b = _Conv(256, 512), _Conv(512, 512)
        self.pool4 = nn.MaxPool3d(2, 2)
        self.conv5a, self.conv5b = _Conv(512, 512), _Conv(512, 512)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(out_dim, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = 4096
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, init_std)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.conv1a(x))
        x = self.pool2(self.conv2a(x))
        x = self.pool3(self.conv3b(self.conv3a(x)))
        x = self.pool4(self.conv4b(self.conv4a(x)))
        x = self.pool5(self.conv5b(self.conv5a(x))).flatten(1)
        x = self.dropout(torch.relu_(self.fc6(x)))
        return torch.relu_(self.fc7(x))
