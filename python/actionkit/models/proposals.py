"""Post-processing of scored temporal proposals, shared by BMN and BSN's PEM: MMAction2's
``post_processing`` without the scaling to seconds (see
:func:`actionkit.data.localization.proposals_to_seconds`)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops import temporal_soft_nms


def post_process(
    segments: Tensor,
    scores: Tensor,
    alpha: float,
    low_threshold: float,
    high_threshold: float,
    top_k: int,
) -> Tensor:
    """``[M, 3]`` float64 ``(start, end, score)``, best first, at most ``top_k``: soft-NMS
    of ``segments [K, 2]`` with ``scores [K]`` through :func:`actionkit.ops.temporal_soft_nms`
    (a single proposal is kept as it is, as MMAction2 does)."""
    segments, scores = segments.double(), scores.double()
    if len(scores) > 1:
        dets, _ = temporal_soft_nms(segments, scores, alpha, low_threshold, high_threshold, top_k)
    else:
        dets = torch.cat([segments, scores[:, None]], 1)
    order = torch.sort(dets[:, 2], descending=True, stable=True).indices
    return dets[order][:top_k]
