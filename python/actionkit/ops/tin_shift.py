"""Temporal interlace shift of TIN (Shao et al., "Temporal Interlacing Network", AAAI
2020) as a compiled op, differentiable in the features and the offsets."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def tin_shift(x: Tensor, offset: Tensor) -> Tensor:
    """Move each channel group of each clip by its own, possibly fractional, number of
    frames.

    The ``C`` channels split into ``G = offset.shape[1]`` equal groups; group ``g`` of
    clip ``n`` is moved ``o = offset[n, g]`` frames later in time, reading between frames
    by linear interpolation, with zeros past either end::

        out[n, t, c] = (1 - f) * x[n, t - k, c] + f * x[n, t - k - 1, c],
        k = floor(o),  f = o - k

    At whole offsets this is mmcv's ``tin_shift`` (``out[t + shift] = x[t]``); at
    fractional ones MMAction2's ``linear_sampler`` (its two ``tin_shift`` calls at
    ``floor(o)`` and ``floor(o) + 1`` blended by ``1 - f`` and ``f``), in one pass.
    Gradients flow to ``x`` (the shift by ``-offset``) and to ``offset``
    (``x[t - k - 1] - x[t - k]`` weighted by the incoming gradient, summed over the
    group: what TIN's offset network learns from), to second order. Unlike mmcv's op,
    whose backward repeats its forward instead of shifting back, the gradient here is
    the true adjoint.

    Args:
        x: ``[N, T, C, ...]`` (mmcv's layout is ``[N, T, C, H*W]``), floating point.
        offset: ``[N, G]`` frames per group, floating point (integer tensors are taken as
            whole offsets); ``G`` must divide ``C``.

    Returns:
        A contiguous tensor of ``x``'s shape and dtype.

    Example:
        >>> x = torch.randn(2, 8, 64, 56 * 56)
        >>> offset = torch.tensor([[0.5, -1.25, 2.0, 0.0], [1.0, 0.0, -0.5, 3.5]])
        >>> y = actionkit.ops.tin_shift(x, offset)
    """
    if not offset.dtype.is_floating_point:
        offset = offset.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    if not has_kernel("tin_shift", x.device) or torch.compiler.is_exporting():
        # Exporting (torch.export, ONNX) records gathers and arithmetic, standard ops
        # every runtime has, instead of an actionkit op.
        return _reference.tin_shift(x, offset)
    return torch.ops.actionkit.tin_shift(x, offset)


def _check(x: Tensor, offset: Tensor, arg: str) -> None:
    """The shape checks of the C++ op, for the fake kernels."""
    torch._check(x.dtype.is_floating_point, lambda: f"tin_shift: {arg} must be floating point")
    torch._check(x.dim() >= 3, lambda: f"tin_shift: {arg} must have shape [N, T, C, ...]")
    torch._check(offset.dtype.is_floating_point, lambda: "tin_shift: offset must be floating point")
    torch._check(
        offset.dim() == 2 and offset.shape[0] == x.shape[0] and offset.shape[1] > 0,
        lambda: f"tin_shift: offset must have shape [N, G] with N = {arg}'s first dimension",
    )
    torch._check(
        x.shape[2] % offset.shape[1] == 0,
        lambda: f"tin_shift: the channels of {arg} do not split into G equal groups",
    )


@torch.library.register_fake("actionkit::tin_shift")
def _(x: Tensor, offset: Tensor) -> Tensor:
    _check(x, offset, "x")
    return x.new_empty(x.shape)


@torch.library.register_fake("actionkit::_tin_shift_backward")
def _(grad: Tensor, x: Tensor, offset: Tensor) -> tuple[Tensor, Tensor]:
    _check(grad, offset, "grad")
    return grad.new_empty(grad.shape), offset.new_empty(offset.shape)
