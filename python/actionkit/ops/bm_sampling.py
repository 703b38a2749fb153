"""BMN's Boundary-Matching layer as a compiled op, without the dense sampling mask."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def bm_sampling(
    x: Tensor, num_samples: int = 32, num_samples_per_bin: int = 3, prop_boundary_ratio: float = 0.5
) -> Tensor:
    """Sample every (start, duration) proposal of a feature sequence: BMN's BM layer.

    Equal to MMAction2's ``BMN._boundary_matching_layer``, ``matmul(x, sample_mask)`` with
    the mask of ``_get_interp1d_mask`` (including its handling of points just outside
    ``[0, T-1]`` and of proposals that run past the end, which are zero), but computing
    each output from the two to ``2 * num_samples_per_bin`` frames it reads: the dense
    mask (T * S * T * T floats: 128 MB at T=100, S=32; 8 GB at T=400) is never built.

    Args:
        x: ``[N, C, T]`` features; floating point.
        num_samples: S, samples per proposal.
        num_samples_per_bin: P, points averaged into each sample; ``S * P >= 2``.
        prop_boundary_ratio: how far, in proposal lengths, the window extends past each end.

    Returns:
        ``[N, C, S, T, T]`` indexed (sample, duration, start): proposal ``[start,
        start + duration]``.

    Example:
        >>> x = torch.randn(4, 256, 100)
        >>> actionkit.ops.bm_sampling(x).shape
        torch.Size([4, 256, 32, 100, 100])
    """
    if not has_kernel("bm_sampling", x.device):
        return _reference.bm_sampling(x, num_samples, num_samples_per_bin, prop_boundary_ratio)
    return torch.ops.actionkit.bm_sampling(x, num_samples, num_samples_per_bin, prop_boundary_ratio)


def bm_sampling_sum(
    y: Tensor, num_samples_per_bin: int = 3, prop_boundary_ratio: float = 0.5
) -> Tensor:
    """``sum_s bm_sampling(y[:, :, s])[:, :, s]``: the sampling with the sum over samples fused.

    Args:
        y: ``[N, C, S, T]``: one sequence per sample s.
        num_samples_per_bin: as in :func:`bm_sampling`.
        prop_boundary_ratio: as in :func:`bm_sampling`.

    Returns:
        ``[N, C, T, T]`` indexed (duration, start).
    """
    if not has_kernel("bm_sampling_sum", y.device):
        return _reference.bm_sampling_sum(y, num_samples_per_bin, prop_boundary_ratio)
    return torch.ops.actionkit.bm_sampling_sum(y, num_samples_per_bin, prop_boundary_ratio)


def bm_conv3d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    num_samples_per_bin: int = 3,
    prop_boundary_ratio: float = 0.5,
) -> Tensor:
    """BMN's BM layer followed by its ``Conv3d(C, O, kernel_size=(S, 1, 1))``, fused.

    Equals ``conv3d(bm_sampling(x, S, ...), weight, bias).squeeze(2)`` but contracts the
    channels first (``y = W x``, ``[N, O, S, T]``) and then samples with the sum over S
    fused, so the ``[N, C, S, T, T]`` tensor (1.3 GB for 4 clips at C=256, T=100) never
    exists and the work drops from ``O*C*S*T*T`` to ``O*C*S*T + O*S*T*T*2P`` per clip.

    Args:
        x: ``[N, C, T]``.
        weight: ``[O, C, S, 1, 1]``, the Conv3d's weight (``[O, C, S]`` also accepted).
        bias: ``[O]`` or None.

    Returns:
        ``[N, O, T, T]`` indexed (duration, start).
    """
    w = weight.flatten(2) if weight.dim() == 5 and weight.shape[3:] == (1, 1) else weight
    if w.dim() != 3 or w.shape[1] != x.shape[1]:
        raise ValueError(
            f"bm_conv3d: weight must have shape [O, C, S, 1, 1] with C = {x.shape[1]}, "
            f"got {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (w.shape[0],):
        raise ValueError(
            f"bm_conv3d: bias must have shape [O] = [{w.shape[0]}], got {tuple(bias.shape)}"
        )
    y = torch.einsum("ocs,nct->nost", w, x)
    out = bm_sampling_sum(y, num_samples_per_bin, prop_boundary_ratio)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _check_params(num_samples, per_bin):
    torch._check(num_samples >= 1 and per_bin >= 1, lambda: "bm_sampling: positive sizes")
    torch._check(num_samples * per_bin >= 2, lambda: "bm_sampling: S * P must be at least 2")


@torch.library.register_fake("actionkit::bm_sampling")
def _(x, num_samples=32, num_samples_per_bin=3, prop_boundary_ratio=0.5):
    torch._check(x.dim() == 3, lambda: "bm_sampling: x must have shape [N, C, T]")
    _check_params(num_samples, num_samples_per_bin)
    n, c, t = x.shape
    return x.new_empty((n, c, num_samples, t, t))


@torch.library.register_fake("actionkit::_bm_sampling_backward")
def _(grad, num_samples, num_samples_per_bin, prop_boundary_ratio):
    n, c, _, t, _ = grad.shape
    return grad.new_empty((n, c, t))


@torch.library.register_fake("actionkit::bm_sampling_sum")
def _(y, num_samples_per_bin=3, prop_boundary_ratio=0.5):
    torch._check(y.dim() == 4, lambda: "bm_sampling_sum: y must have shape [N, C, S, T]")
    _check_params(y.shape[2], num_samples_per_bin)
    n, c, _, t = y.shape
    return y.new_empty((n, c, t, t))


@torch.library.register_fake("actionkit::_bm_sampling_sum_backward")
def _(grad, num_samples, num_samples_per_bin, prop_boundary_ratio):
    n, c, t, _ = grad.shape
    return grad.new_empty((n, c, num_samples, t))
