"""BMN (Lin et al., "BMN: Boundary-Matching Network for Temporal Action Proposal
Generation", ICCV 2019) with MMAction2 1.2.0's module and parameter names, so its
checkpoints load. The boundary-matching layer and the Conv3d after it are one call to
:func:`actionkit.ops.bm_conv3d`: the ``[N, C, S, T, T]`` tensor MMAction2 builds (and
its ``T x S*T*T`` sampling mask, 128 MB at T=100) never exists.

``model(features [N, C, T])`` returns ``(confidence_map [N, 2, T, T], start [N, T],
end [N, T])`` as MMAction2's ``mode="tensor"``: the map is indexed (duration, start),
channel 0 the regression (IoU) score and channel 1 the classification one.
``model.loss(batch)`` is MMAction2's BMN loss on the targets
:class:`~actionkit.data.localization.LocalizationDataset` makes;
``model.proposals(outputs)`` turns outputs into scored proposals as MMAction2's
``predict`` does (candidates from boundary peaks, soft-NMS through
:func:`actionkit.ops.temporal_soft_nms`), in units of the feature sequence's span
(:func:`actionkit.data.localization.proposals_to_seconds` converts).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses.localization import BMNLoss
from ..ops import bm_conv3d
from .proposals import post_process
from .registry import register_model


class BMN(nn.Module):
    """Args as MMAction2's ``BMN``: ``temporal_dim`` (T), ``boundary_ratio``,
    ``num_samples`` (S), ``num_samples_per_bin``, ``feat_dim`` (C), the soft-NMS and
    post-processing settings, ``feature_extraction_interval`` and the hidden sizes.
    ``legacy_scale``: scale proposals to seconds as MMAction2 does (by ``duration_frame
    // feature_extraction_interval * feature_extraction_interval``) instead of by the
    span the features cover (see :mod:`actionkit.data.localization`)."""

    task = "localization"
    # MMAction2 keeps its sampling mask as a frozen parameter: in its checkpoints, not here
    checkpoint_ignore = ("sample_mask",)

    def __init__(
        self,
        temporal_dim: int = 100,
        boundary_ratio: float = 0.5,
        num_samples: int = 32,
        num_samples_per_bin: int = 3,
        feat_dim: int = 400,
        soft_nms_alpha: float = 0.4,
        soft_nms_low_threshold: float = 0.5,
        soft_nms_high_threshold: float = 0.9,
        post_process_top_k: int = 100,
        feature_extraction_interval: int = 16,
        hidden_dim_1d: int = 256,
        hidden_dim_2d: int = 128,
        hidden_dim_3d: int = 512,
        legacy_scale: bool = False,
    ):
        super().__init__()
        if feat_dim % 4 or hidden_dim_1d % 4:
            raise ValueError(
                f"feat_dim ({feat_dim}) and hidden_dim_1d ({hidden_dim_1d}) must be multiples "
                "of 4 (BMN's grouped convolutions)"
            )
        self.tscale, self.boundary_ratio = temporal_dim, boundary_ratio
        self.num_samples, self.num_samples_per_bin = num_samples, num_samples_per_bin
        self.feat_dim = feat_dim
        self.soft_nms_alpha = soft_nms_alpha
        self.soft_nms_low_threshold = soft_nms_low_threshold
        self.soft_nms_high_threshold = soft_nms_high_threshold
        self.post_process_top_k = post_process_top_k
        self.feature_extraction_interval = feature_extraction_interval
        self.legacy_scale = legacy_scale
        h1, h2, h3 = hidden_dim_1d, hidden_dim_2d, hidden_dim_3d

        def conv1d(cin, cout, groups=4):
            return [nn.Conv1d(cin, cout, 3, padding=1, groups=groups), nn.ReLU(inplace=True)]

        self.x_1d_b = nn.Sequential(*conv1d(feat_dim, h1), *conv1d(h1, h1))
        self.x_1d_s = nn.Sequential(*conv1d(h1, h1), nn.Conv1d(h1, 1, 1), nn.Sigmoid())
        self.x_1d_e = nn.Sequential(*conv1d(h1, h1), nn.Conv1d(h1, 1, 1), nn.Sigmoid())
        self.x_1d_p = nn.Sequential(*conv1d(h1, h1, groups=1))
        # the weights of MMAction2's Conv3d(h1, h3, (S, 1, 1)) after the BM layer
        self.x_3d_p = nn.Sequential(nn.Conv3d(h1, h3, (num_samples, 1, 1)), nn.ReLU(inplace=True))
        self.loss_fn = BMNLoss()
        self.x_2d_p = nn.Sequential(
            nn.Conv2d(h3, h2, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, h2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, h2, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, 2, 1),
            nn.Sigmoid(),
        )
        # valid (duration, start) cells: the proposal ends inside the video
        d = torch.arange(temporal_dim)
        self.register_buffer("bm_mask", (d[:, None] + d[None, :] < temporal_dim).float())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if x.dim() != 3 or x.shape[1] != self.feat_dim or x.shape[2] != self.tscale:
            raise ValueError(
                f"BMN takes features [N, {self.feat_dim}, {self.tscale}], got {tuple(x.shape)}"
            )
        base = self.x_1d_b(x)
        start = self.x_1d_s(base).squeeze(1)
        end = self.x_1d_e(base).squeeze(1)
        conv = self.x_3d_p[0]
        bm = bm_conv3d(
            self.x_1d_p(base), conv.weight, conv.bias, self.num_samples_per_bin, self.boundary_ratio
        )
        confidence = self.x_2d_p(torch.relu(bm))
        return confidence, start, end

    def loss(self, batch: dict) -> dict[str, Tensor]:
        """BMN's loss terms (weighted; their sum is the loss) for ``batch["inputs"]``
        against ``gt_iou [N, D, T]``, ``gt_start`` and ``gt_end [N, T]``."""
        confidence, start, end = self(batch["inputs"])
        return self.loss_fn(
            confidence,
            start,
            end,
            batch["gt_iou"],
            batch["gt_start"],
            batch["gt_end"],
            self.bm_mask,
        )

    @torch.no_grad()
    def proposals(self, outputs: tuple[Tensor, Tensor, Tensor]) -> list[Tensor]:
        """Per sample ``[K, 3]`` float64 proposals ``(start, end, score)`` in [0, 1] of
        the feature span, best first, at most ``post_process_top_k``: MMAction2's
        candidates (start at a peak of the start scores or above half their maximum, the
        first position always; likewise ends, the last always; ending before ``T``),
        scored ``start * end * cls * reg``, then soft-NMS."""
        confidence, start, end = (o.float().cpu() for o in outputs)
        t = self.tscale
        d, s = torch.meshgrid(torch.arange(t), torch.arange(t), indexing="ij")
        e = s + d + 1
        valid = e < t
        results = []
        for n in range(start.shape[0]):
            starts = _boundaries(start[n], first=True)
            ends = _boundaries(end[n], first=False)
            keep = valid & starts[s] & ends[e.clamp(max=t - 1)]
            dd, ss, ee = d[keep], s[keep], e[keep]  # duration-major, as MMAction2's loops
            conf = confidence[n]
            # float32 products in MMAction2's order: start * end * cls * reg
            score = start[n][ss] * end[n][ee] * conf[1, dd, ss] * conf[0, dd, ss]
            segments = torch.stack([ss, ee], 1).double() / t
            results.append(
                post_process(
                    segments,
                    score,
                    self.soft_nms_alpha,
                    self.soft_nms_low_threshold,
                    self.soft_nms_high_threshold,
                    self.post_process_top_k,
                )
            )
        return results

    def predict_proposals(self, batch: dict) -> list[Tensor]:
        """What the localization evaluator asks: :meth:`proposals` of the batch's inputs."""
        return self.proposals(self(batch["inputs"]))


def _boundaries(scores: Tensor, first: bool) -> Tensor:
    """MMAction2's candidate boundaries: inner positions at a strict local peak or above
    half the maximum, plus the first position (starts) or the last one (ends)."""
    t = len(scores)
    inner = scores[1:-1]
    peak = (inner > scores[2:]) & (inner > scores[:-2])
    chosen = torch.zeros(t, dtype=torch.bool, device=scores.device)
    chosen[1:-1] = peak | (inner > 0.5 * scores.max())
    chosen[0 if first else -1] = True
    return chosen


@register_model
def bmn(num_classes: int | None = None, **kwargs) -> BMN:
    """BMN, ActivityNet 400x100 (``bmn_2xb8-400x100-9e_activitynet-feature``: TSN features,
    400 channels, T = 100); ``feat_dim=2048`` for the SlowOnly-K700 features. Takes no
    classes (``num_classes`` is ignored)."""
    return BMN(**kwargs)


bmn.task = "localization"
