"""The 3D head (MMAction2's ``I3DHead``): global average pool, dropout, linear."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class I3DHead(nn.Module):
    """``x: [N, C, t, h, w]`` (averaged; or ``[N, C, h, w]``: MMAction2's
    ``TSNAudioHead``) or ``[N, C]`` -> ``[N, num_classes]``."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.5, init_std=0.01):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc_cls.weight, 0, init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() > 2:  # C3D's features arrive flat: no pooling (spatial_type=None)
            x = x.mean(tuple(range(2, x.dim())))
        return self.fc_cls(self.dropout(x))


class SlowFastHead(I3DHead):
    """Pools both pathways, concatenates (fast first, as MMAction2), dropout, linear:
    ``(slow, fast)`` -> ``[N, num_classes]``."""

    def forward(self, x: tuple[Tensor, Tensor]) -> Tensor:
        slow, fast = x
        return self.fc_cls(self.dropout(torch.cat((fast.mean((2, 3, 4)), slow.mean((2, 3, 4))), 1)))


class X3DHead(nn.Module):
    """X3D's head: global average pool, a 2048-wide linear layer (no bias) with ReLU,
    dropout, the classifier."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.5, init_std=0.01):
        super().__init__()
        self.fc1 = nn.Linear(in_channels, 2048, bias=False)
        self.fc2 = nn.Linear(2048, num_classes)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        nn.init.normal_(self.fc1.weight, 0, init_std)
        nn.init.normal_(self.fc2.weight, 0, init_std)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.dropout(torch.relu(self.fc1(x.mean((2, 3, 4))))))


class S3DHead(I3DHead):
    """torchvision's S3D head: average pools of 2 x 7 x 7 at stride 1 (each side clipped
    to the feature map's: torchvision's fails on smaller maps), their mean, dropout,
    linear (torchvision's 1x1x1 convolution applied before the mean, which it commutes
    with)."""

    def forward(self, x: Tensor) -> Tensor:
        kernel = [min(k, n) for k, n in zip((2, 7, 7), x.shape[2:], strict=True)]
        x = F.avg_pool3d(x, kernel, stride=1).mean((2, 3, 4))
        return self.fc_cls(self.dropout(x))
