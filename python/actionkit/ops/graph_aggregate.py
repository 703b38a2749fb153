"""Graph aggregation of ST-GCN / AGCN (the einsum of MMAction2's ``unit_gcn``) as a compiled op."""

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def graph_aggregate(x: Tensor, A: Tensor) -> Tensor:
    """Aggregate joint features over the subsets of a skeleton graph.

    ``out[n, c, t, w] = sum_k sum_v x[n, k, c, t, v] * A[k, v, w]``: the step MMAction2's
    ``unit_gcn`` computes with ``einsum('nkctv,kvw->nctw')``, in one pass over ``x`` and
    without the permuted copy of ``x`` that einsum makes. Differentiable in ``x`` and ``A``
    (learnable graphs of AGCN and of ST-GCN's edge importance).

    Args:
        x: ``[N, K, C, T, V]``: K subsets (adjacency partitions), C channels, T frames,
            V joints; floating point.
        A: ``[K, V, V]``, or ``[N, K, V, V]`` for a graph per sample (AAGCN); same dtype
            and device as ``x``.

    Returns:
        ``[N, C, T, V]``.

    Example:
        >>> x = torch.randn(16, 3, 64, 100, 25)
        >>> A = torch.rand(3, 25, 25)
        >>> actionkit.ops.graph_aggregate(x, A).shape
        torch.Size([16, 64, 100, 25])
    """
    if not has_kernel("graph_aggregate", x.device) or torch.compiler.is_exporting():
        return _reference.graph_aggregate(x, A)  # exports as standard ops
    return torch.ops.actionkit.graph_aggregate(x, A)


def _check(x_like: Tensor, A: Tensor, batches, subsets, joints) -> None:
    torch._check(
        A.dtype == x_like.dtype,
        lambda: f"graph_aggregate: A has dtype {A.dtype} but x has {x_like.dtype}",
    )
    torch._check(
        A.device == x_like.device,
        lambda: f"graph_aggregate: A is on {A.device} but x is on {x_like.device}",
    )
    torch._check(
        tuple(A.shape) in ((subsets, joints, joints), (batches, subsets, joints, joints)),
        lambda: "graph_aggregate: A must have shape [K, V, V] or [N, K, V, V]",
    )


@torch.library.register_fake("actionkit::graph_aggregate")
def _(x, A):
    torch._check(x.dim() == 5, lambda: "graph_aggregate: x must have shape [N, K, C, T, V]")
    torch._check(x.dtype.is_floating_point, lambda: "graph_aggregate: x must be floating point")
    n, k, c, t, v = x.shape
    _check(x, A, n, k, v)
    return x.new_empty((n, c, t, v))


@torch.library.register_fake("actionkit::_graph_aggregate_backward_x")
def _(grad, A):
    torch._check(grad.dim() == 4 and A.dim() in (3, 4), lambda: "graph_aggregate backward: shapes")
    n, c, t, v = grad.shape
    return grad.new_empty((n, A.shape[-3], c, t, v))


@torch.library.register_fake("actionkit::_graph_aggregate_backward_a")
def _(grad, x, per_sample):
    n, k, _, _, v = x.shape
    return x.new_empty((n, k, v, v) if per_sample else (k, v, v))
