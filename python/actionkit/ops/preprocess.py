"""Fused clip preprocessing: crop + bilinear resize + flip + normalize + layout, one pass."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel

# ImageNet statistics in 0-255 units, as MMAction2's configs use them.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def preprocess(
    frames: Tensor,
    size: Sequence[int],
    boxes: Tensor | None = None,
    flip: Tensor | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    layout: str = "NCTHW",
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Turns decoded uint8 clips into model input in one pass over the pixels.

    For each clip ``b``: crop ``boxes[b]``, resize the crop bilinearly to ``size`` (the
    sampling of ``F.interpolate(mode="bilinear", align_corners=False)`` on the crop, no
    antialiasing, like ``cv2.resize`` that MMAction2 uses), mirror it left-right where
    ``flip[b]``, compute ``(v - mean) / std`` per channel, and write the layout the model
    takes — without the intermediate float tensors of doing these steps one by one.

    Args:
        frames: uint8 ``[B, T, H, W, C]`` (decoded RGB frames; CPU or CUDA).
        size: output ``(h, w)``.
        boxes: ``[B, 4]`` crop boxes ``(x1, y1, x2, y2)`` in input pixels (a crop of
            integer pixels ``[x, x + w)`` is ``(x, y, x + w, y + h)``); must lie inside
            the frame. Default: the whole frame.
        flip: bool ``[B]``: mirror these clips. Default: none.
        mean, std: per channel, in the units of the input (0-255).
        layout: ``"NCTHW"`` (``[B, C, T, h, w]``, 3D CNNs) or ``"NTCHW"``
            (``[B, T, C, h, w]``, 2D CNNs that fold T into the batch).
        dtype: output dtype (float32 default; float16/bfloat16 halve the bytes written).

    Example:
        >>> frames = reader.get_frames(indices)[None]          # [1, T, H, W, 3] uint8
        >>> x = actionkit.ops.preprocess(frames, (224, 224))   # [1, 3, T, 224, 224] float
    """
    b, _, h, w = frames.shape[:4] if frames.dim() == 5 else (0, 0, 0, 0)
    if boxes is None:
        boxes = torch.tensor([[0.0, 0.0, float(w), float(h)]], device=frames.device).expand(b, 4)
    if flip is None:
        flip = torch.zeros(b, dtype=torch.bool, device=frames.device)
    size = [int(s) for s in size]
    mean = [float(m) for m in mean]
    std = [float(s) for s in std]
    if not has_kernel("preprocess", frames.device):
        return _reference.preprocess(frames, boxes, flip, size, mean, std, layout, dtype)
    return torch.ops.actionkit.preprocess(frames, boxes, flip, size, mean, std, layout, dtype)


@torch.library.register_fake("actionkit::preprocess")
def _(frames, boxes, flip, size, mean, std, layout="NCTHW", dtype=None):
    torch._check(frames.dtype == torch.uint8, lambda: "preprocess: frames must be uint8")
    torch._check(frames.dim() == 5, lambda: "preprocess: frames must be [B, T, H, W, C]")
    torch._check(layout in ("NCTHW", "NTCHW"), lambda: "preprocess: bad layout")
    b, t, _, _, c = frames.shape
    shape = (b, c, t, size[0], size[1]) if layout == "NCTHW" else (b, t, c, size[0], size[1])
    return frames.new_empty(shape, dtype=dtype or torch.float32)
