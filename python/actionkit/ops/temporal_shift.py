"""Temporal shift of TSM (Lin et al., ICCV 2019) as a compiled op."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def temporal_shift(x: Tensor, num_segments: int, shift_div: int = 8) -> Tensor:
    """Shift part of the channels one frame forward and part one frame back.

    With ``fold = C // shift_div``, channels ``[0, fold)`` take the next frame's values
    (zero at the last frame), channels ``[fold, 2*fold)`` the previous frame's (zero at
    the first frame) and the rest are copied: ``TemporalShift.shift`` of MMAction2 1.x
    and the TSM reference code, in one pass over the data. Unlike the slicing version,
    the zero fill is a true zero even where ``x`` holds inf or NaN.

    Args:
        x: ``[N*T, C, H, W]`` with ``T = num_segments`` (as a 2D backbone sees a clip),
            or ``[N, T, C, H, W]``. Floating point.
        num_segments: T, the frames of each clip; must divide ``x.shape[0]`` for 4-d input
            and equal ``x.shape[1]`` for 5-d input.
        shift_div: the fraction ``1/shift_div`` of channels shifted each way.

    Returns:
        A contiguous tensor of ``x``'s shape.

    Example:
        >>> x = torch.randn(2 * 8, 64, 56, 56)
        >>> y = actionkit.ops.temporal_shift(x, num_segments=8)
    """
    if not has_kernel("temporal_shift", x.device) or torch.compiler.is_exporting():
        # Exporting (torch.export, ONNX) records the slices and concatenation, standard
        # ops every runtime has, instead of an actionkit op.
        return _reference.temporal_shift(x, num_segments, shift_div)
    return torch.ops.actionkit.temporal_shift(x, num_segments, shift_div)


def _dims(x: Tensor, num_segments: int, shift_div: int, arg: str) -> None:
    """The shape checks of the C++ op, for the fake kernels."""
    torch._check(x.dtype.is_floating_point, lambda: f"temporal_shift: {arg} must be floating point")
    torch._check(x.dim() in (4, 5), lambda: f"temporal_shift: {arg} must be 4-d or 5-d")
    torch._check(num_segments > 0, lambda: "temporal_shift: num_segments must be positive")
    torch._check(shift_div > 0, lambda: "temporal_shift: shift_div must be positive")
    if x.dim() == 4:
        torch._check(
            x.shape[0] % num_segments == 0,
            lambda: (
                f"temporal_shift: the first dimension of {arg} is not divisible by num_segments"
            ),
        )
    else:
        torch._check(
            x.shape[1] == num_segments,
            lambda: f"temporal_shift: for a 5-d {arg}, num_segments must equal T",
        )


@torch.library.register_fake("actionkit::temporal_shift")
def _(x: Tensor, num_segments: int, shift_div: int = 8) -> Tensor:
    _dims(x, num_segments, shift_div, "x")
    return x.new_empty(x.shape)


@torch.library.register_fake("actionkit::_temporal_shift_backward")
def _(grad: Tensor, num_segments: int, shift_div: int) -> Tensor:
    _dims(grad, num_segments, shift_div, "grad")
    return grad.new_empty(grad.shape)
