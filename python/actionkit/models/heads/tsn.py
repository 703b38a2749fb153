"""TSN's and TSM's classification heads (MMAction2's ``TSNHead`` / ``TSMHead``)."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor


class TSNHead(nn.Module):
    """Average-pools each segment's features, averages the segments (consensus), then
    dropout and a linear classifier: ``x: [N*S, C, h, w]`` -> ``[N, num_classes]``."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.4, init_std=0.01):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.init_std = init_std
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.fc_cls.weight, 0, self.init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def forward(self, x: Tensor, num_segs: int) -> Tensor:
        x = x.mean((2, 3))  # [N*S, C]
        x = x.view(-1, num_segs, x.shape[1]).mean(1)
        return self.fc_cls(self.dropout(x))


class TSMHead(TSNHead):
    """Classifies every segment, then averages the scores over ``num_segments``:
    ``x: [N*S, C, h, w]`` -> ``[N*S/num_segments, num_classes]`` (one row per clip)."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        dropout: float = 0.5,
        init_std: float = 0.001,
    ):
        super().__init__(num_classes, in_channels, dropout, init_std)
        self.num_segments = num_segments

    def forward(self, x: Tensor, num_segs: int) -> Tensor:
        scores = self.fc_cls(self.dropout(x.mean((2, 3))))
        return scores.view(-1, self.num_segments, scores.shape[1]).mean(1)
