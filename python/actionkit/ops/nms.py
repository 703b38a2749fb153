"""Non-maximum suppression for boxes and temporal segments, and the temporal IoU."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: the same results as ``torchvision.ops.nms``.

    Boxes are visited by decreasing score (equal scores in input order); a box is dropped
    when its IoU with an already kept box is above ``iou_threshold``.

    Args:
        boxes: ``[K, 4]`` as (x1, y1, x2, y2).
        scores: ``[K]``.
        iou_threshold: boxes overlapping a kept box by more than this are dropped.

    Returns:
        int64 indices of the kept boxes, highest score first.
    """
    if not has_kernel("nms", boxes.device):
        return _reference.nms(boxes, scores, iou_threshold)
    return torch.ops.actionkit.nms(boxes, scores, iou_threshold)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each category: ``torchvision.ops.batched_nms``.

    Args:
        boxes: ``[K, 4]``; scores: ``[K]``; idxs: ``[K]`` category of each box.
        iou_threshold: as in :func:`nms`.

    Returns:
        int64 indices of the kept boxes, highest score first.
    """
    return torch.ops.actionkit.batched_nms(boxes, scores, idxs, iou_threshold)


def temporal_nms(segments: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS of temporal segments ``[K, 2]`` (start, end), with :func:`temporal_iou`.

    Returns:
        int64 indices of the kept segments, highest score first.
    """
    if not has_kernel("temporal_nms", segments.device):
        return _reference.temporal_nms(segments, scores, iou_threshold)
    return torch.ops.actionkit.temporal_nms(segments, scores, iou_threshold)


def temporal_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of segments: MMAction2's ``temporal_iou`` for every pair.

    ``inter = max(min(a1, b1) - max(a0, b0), 0)``, ``union = (a1 - a0) - inter + (b1 - b0)``;
    the IoU is ``inter / union`` (NaN for two empty segments, as in the reference).

    Args:
        a: ``[K, 2]`` (start, end); b: ``[M, 2]``, same dtype and device.

    Returns:
        ``[K, M]``.
    """
    if not has_kernel("temporal_iou", a.device):
        return _reference.temporal_iou(a, b)
    return torch.ops.actionkit.temporal_iou(a, b)


def fake_selection(rows: Tensor, scores: Tensor, width: int, op: str) -> torch.SymInt:
    """Shape checks of a selection op's fake kernel; the number kept (data-dependent)."""
    torch._check(rows.dim() == 2 and rows.shape[1] == width, lambda: f"{op}: rows of {width}")
    torch._check(scores.dim() == 1 and scores.shape[0] == rows.shape[0], lambda: f"{op}: scores")
    torch._check(
        scores.device == rows.device,
        lambda: f"{op}: scores is on {scores.device} but the rows are on {rows.device}",
    )
    return torch.library.get_ctx().new_dynamic_size()


def _fake_keep(rows, scores, width, op):
    return rows.new_empty((fake_selection(rows, scores, width, op),), dtype=torch.long)


@torch.library.register_fake("actionkit::nms")
def _(boxes, scores, iou_threshold):
    return _fake_keep(boxes, scores, 4, "nms")


@torch.library.register_fake("actionkit::temporal_nms")
def _(segments, scores, iou_threshold):
    return _fake_keep(segments, scores, 2, "temporal_nms")


@torch.library.register_fake("actionkit::temporal_iou")
def _(a, b):
    torch._check(a.dim() == 2 and a.shape[1] == 2, lambda: "temporal_iou: a must be [K, 2]")
    torch._check(b.dim() == 2 and b.shape[1] == 2, lambda: "temporal_iou: b must be [M, 2]")
    return a.new_empty((a.shape[0], b.shape[0]))
