"""TRN's relation heads (Zhou et al., "Temporal Relational Reasoning in Videos", ECCV
2018), as MMAction2's ``TRNHead``: each segment's pooled features are projected to
``hidden_dim`` (``fc_cls``); the relation module classifies ordered tuples of segments.

``TRNMultiScale`` (the default) sums, over the scales ``S = T, T-1, ..., 2``, an MLP's
scores of ``S``-frame tuples (frames in temporal order): the one ``T``-tuple, and at each
smaller scale ``min(3, C(T, S))`` tuples drawn at random. MMAction2 draws them at every
forward, evaluation included, so its test scores vary from run to run; here training
draws them (from torch's generator, as dropout does) and evaluation takes their
expectation, each scale's mean over *all* its tuples times the number drawn: the same
scores on average, without the noise. ``sampled_eval=True`` draws at test time too
(MMAction2's behaviour; ``trn_r50(sampled_eval=True)``, in a config
``model.args.sampled_eval: true``); ``relations=`` fixes the tuples (what the parity test does)."""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn
from torch import Tensor


def _fusion(in_features: int, bottleneck: int, num_classes: int) -> nn.Sequential:
    # indices 1 and 3 are MMAction2's state-dict names (``...fc_fusion_scales.0.1.weight``)
    return nn.Sequential(
        nn.ReLU(), nn.Linear(in_features, bottleneck), nn.ReLU(), nn.Linear(bottleneck, num_classes)
    )


class RelationModule(nn.Module):
    """TRN's single-scale relation: one MLP over all ``T`` segments in order."""

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int):
        super().__init__()
        self.classifier = _fusion(num_segments * hidden_dim, 512, num_classes)

    def forward(self, x: Tensor, relations=None) -> Tensor:
        return self.classifier(x.flatten(1))


class RelationModuleMultiScale(nn.Module):
    """``x: [N, T, hidden]`` -> ``[N, num_classes]``; ``fc_fusion_scales[i]`` is the MLP of
    scale ``T - i``."""

    max_subsample = 3

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int):
        super().__init__()
        if num_segments < 2:
            raise ValueError(f"TRNMultiScale needs at least 2 segments, got {num_segments}")
        self.scales = list(range(num_segments, 1, -1))
        self.draws = []
        for i, scale in enumerate(self.scales):
            # the scale's frame tuples, [C(T, S), S] in itertools.combinations order
            tuples = torch.tensor(list(itertools.combinations(range(num_segments), scale)))
            self.register_buffer(f"tuples{i}", tuples, persistent=False)
            self.draws.append(min(self.max_subsample, len(tuples)))
        self.fc_fusion_scales = nn.ModuleList(
            _fusion(s * hidden_dim, 256, num_classes) for s in self.scales
        )
        self.sampled_eval = False  # draw in evaluation too (TRNHead's option)

    def forward(self, x: Tensor, relations: list[list[int]] | None = None) -> Tensor:
        """``relations``: per scale the indices into its tuples (``itertools.combinations``
        order) to sum; default: drawn in training, the expectation in evaluation."""
        out = 0
        for i, fusion in enumerate(self.fc_fusion_scales):
            tuples = getattr(self, f"tuples{i}")
            if relations is not None:
                tuples = tuples[relations[i]]
            elif i > 0 and (self.training or self.sampled_eval):
                draw = torch.randperm(len(tuples), device=tuples.device)[: self.draws[i]]
                tuples = tuples[draw]
            elif i > 0:  # the expectation of the sum of draws[i] random tuples
                out = out + fusion(x[:, tuples].flatten(2)).mean(1) * self.draws[i]
                continue
            out = out + fusion(x[:, tuples].flatten(2)).sum(1)
        return out


class TRNHead(nn.Module):
    """``x: [N*T, C, h, w]`` -> ``[N, num_classes]``: average pooling, dropout, ``fc_cls``
    to ``hidden_dim`` per segment, then the relation module (``consensus``)."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        relation_type: str = "TRNMultiScale",
        hidden_dim: int = 256,
        dropout: float = 0.8,
        init_std: float = 0.001,
        sampled_eval: bool = False,
    ):
        super().__init__()
        if relation_type == "TRN":
            module = RelationModule
        elif relation_type == "TRNMultiScale":
            module = RelationModuleMultiScale
        else:
            raise ValueError(
                f"relation_type must be 'TRN' or 'TRNMultiScale', got {relation_type!r}"
            )
        self.num_segments = num_segments
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc_cls = nn.Linear(in_channels, hidden_dim)
        self.consensus = module(hidden_dim, num_segments, num_classes)
        self.consensus.sampled_eval = sampled_eval
        nn.init.normal_(self.fc_cls.weight, 0, init_std)
        nn.init.zeros_(self.fc_cls.bias)

    def forward(self, x: Tensor, num_segs: int, relations=None) -> Tensor:
        x = self.fc_cls(self.dropout(x.mean((2, 3))))
        return self.consensus(x.view(-1, self.num_segments, x.shape[1]), relations)
