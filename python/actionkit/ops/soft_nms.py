"""Soft-NMS for boxes (mmcv's semantics) and temporal proposals (MMAction2's), CPU and GPU."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel
from .nms import fake_selection


def soft_nms(
    boxes: Tensor,
    scores: Tensor,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    method: str = "linear",
    offset: int = 0,
) -> tuple[Tensor, Tensor]:
    """Soft-NMS with the semantics of mmcv's ``soft_nms`` (what MMAction2 and MMDetection use).

    Repeatedly takes the box with the highest current score and decays the others by their
    IoU ``o`` with it: ``"linear"`` multiplies by ``1 - o`` when ``o >= iou_threshold``,
    ``"gaussian"`` by ``exp(-o**2 / sigma)`` always, ``"naive"`` drops boxes with
    ``o >= iou_threshold``. A box whose score falls below ``min_score`` when the others
    are decayed leaves (the first box taken stays whatever its score, as in mmcv). Runs
    on the tensors' device, GPU included (mmcv copies to the CPU).

    Args:
        boxes: ``[K, 4]`` as (x1, y1, x2, y2).
        scores: ``[K]``.
        iou_threshold, sigma, min_score, method: as above.
        offset: 0, or 1 for the legacy "+1" box area convention.

    Returns:
        ``(dets [M, 5], keep [M])``: kept boxes with their decayed scores, in the order
        taken, and their indices into ``boxes``.
    """
    if not has_kernel("soft_nms", boxes.device):
        return _reference.soft_nms(boxes, scores, iou_threshold, sigma, min_score, method, offset)
    return torch.ops.actionkit.soft_nms(
        boxes, scores, iou_threshold, sigma, min_score, method, offset
    )


def temporal_soft_nms(
    segments: Tensor,
    scores: Tensor,
    alpha: float = 0.4,
    low_threshold: float = 0.5,
    high_threshold: float = 0.9,
    top_k: int = 100,
    legacy_top_k: bool = False,
) -> tuple[Tensor, Tensor]:
    """Soft-NMS of temporal proposals: MMAction2's ``proposal_utils.soft_nms`` (BMN/BSN).

    Repeatedly takes the proposal with the highest current score; another proposal is
    decayed by ``exp(-o**2 / alpha)`` only when its IoU ``o`` with the one taken exceeds
    ``low_threshold + (high_threshold - low_threshold) * width`` (width of the proposal
    taken, so wide proposals suppress less).

    MMAction2's loop stops once it holds *more* than ``top_k`` proposals, returning
    ``top_k + 1``; ``legacy_top_k=True`` reproduces that, the default returns at most
    ``top_k``. Proposals with equal scores are taken in input order (MMAction2's order
    for ties depends on numpy's unstable argsort).

    Args:
        segments: ``[K, 2]`` (start, end), usually normalised to [0, 1].
        scores: ``[K]``.

    Returns:
        ``(dets [M, 3] = (start, end, score), keep [M])`` in the order taken.
    """
    if not has_kernel("temporal_soft_nms", segments.device):
        return _reference.temporal_soft_nms(
            segments, scores, alpha, low_threshold, high_threshold, top_k, legacy_top_k
        )
    return torch.ops.actionkit.temporal_soft_nms(
        segments, scores, alpha, low_threshold, high_threshold, top_k, legacy_top_k
    )


def _fake(rows, scores, width, op):
    kept = fake_selection(rows, scores, width, op)
    return rows.new_empty((kept, width + 1)), rows.new_empty((kept,), dtype=torch.long)


@torch.library.register_fake("actionkit::soft_nms")
def _(boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=1e-3, method="linear", offset=0):
    return _fake(boxes, scores, 4, "soft_nms")


@torch.library.register_fake("actionkit::temporal_soft_nms")
def _(
    segments,
    scores,
    alpha=0.4,
    low_threshold=0.5,
    high_threshold=0.9,
    top_k=100,
    legacy_top_k=False,
):
    return _fake(segments, scores, 2, "temporal_soft_nms")
