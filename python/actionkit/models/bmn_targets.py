"""BMN's training targets (Lin et al., ICCV 2019) as MMAction2 1.2.0's
``BMN.generate_labels`` makes them, vectorised in torch (MMAction2 loops over anchors
in NumPy per sample):

- the IoU map ``[D, T]``: for the proposal starting at ``s / T`` and lasting ``(d + 1) / T``
  (row ``d``, column ``s``; the proposal may run past the end), its best tIoU with any
  ground-truth segment, computed in float64 and stored as float32;
- start and end targets ``[T]``: for anchor ``t`` (the window ``[(t - 0.5) / T,
  (t + 1.5) / T]``), the largest fraction of it covered by a boundary region of width
  ``3 / T`` around a ground-truth start (end), in float32.

Ground truth is per sample ``[K, 2]`` segments normalised to [0, 1] (start, end).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def as_segments(segments) -> Tensor:
    """One sample's ground truth as a ``[K, 2]`` CPU tensor (``K >= 1``), float64 unless
    given in another floating precision (the targets follow it, as MMAction2's do)."""
    seg = torch.as_tensor(segments).reshape(-1, 2).cpu()
    if not seg.is_floating_point():
        seg = seg.double()
    if len(seg) == 0:
        raise ValueError("every sample needs at least one ground-truth segment")
    return seg


def bmn_targets(gt_segments: Sequence[Tensor], temporal_dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(iou_map [B, D, T], start [B, T], end [B, T])`` float32 for ``B`` samples of
    ``[K, 2]`` normalised segments (``K >= 1``), ``D = T = temporal_dim``."""
    t = temporal_dim
    gap = 1.0 / t
    steps = torch.arange(t, dtype=torch.float64)
    tmin = gap * steps  # proposal starts, as MMAction2's match map: tmin + gap * (d + 1)
    tmax = tmin[None, :] + gap * (steps[:, None] + 1)  # [D, T]
    length = tmax - tmin[None, :]
    anchor_min = gap * (steps - 0.5)  # start/end anchors
    anchor_max = gap * (steps + 1.5)
    pad = 3 * (1.0 / t)
    ious, starts, ends = [], [], []
    for segments in gt_segments:
        seg = as_segments(segments)
        s = seg[:, 0].double()[:, None, None]
        e = seg[:, 1].double()[:, None, None]
        inter = (torch.minimum(tmax, e) - torch.maximum(tmin[None, :], s)).clamp(min=0)
        union = length - inter + e - s
        ious.append((inter / union).float().amax(0))
        # boundary coverage in the segments' precision (float32 or float64), as
        # MMAction2's NumPy arithmetic on its torch ground truth
        a0, a1 = anchor_min.to(seg.dtype), anchor_max.to(seg.dtype)
        anchor_len = (anchor_max - anchor_min).to(seg.dtype)
        boundaries = []
        for edge in (seg[:, 0], seg[:, 1]):
            lo, hi = edge - pad / 2, edge + pad / 2
            cover = (torch.minimum(a1[:, None], hi) - torch.maximum(a0[:, None], lo)).clamp(min=0)
            boundaries.append((cover / anchor_len[:, None]).amax(1).float())
        starts.append(boundaries[0])
        ends.append(boundaries[1])
    return torch.stack(ious), torch.stack(starts), torch.stack(ends)
