"""graph_aggregate vs the einsum reference and a hand-worked graph; gradients, opcheck, errors."""

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

SHAPES = [  # (N, K, C, T, V, per-sample A)
    (2, 3, 4, 5, 25, False),  # NTU skeleton, ST-GCN's spatial partition
    (3, 1, 2, 3, 7, False),
    (2, 3, 3, 4, 18, True),  # AAGCN: a graph per sample (OpenPose, 18 joints)
]
TOL = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
}


def make(shape, dtype=torch.float64):
    n, k, c, t, v, per_sample = shape
    x = torch.randn(n, k, c, t, v, dtype=torch.float64).to(dtype)
    A = torch.rand((n, k, v, v) if per_sample else (k, v, v), dtype=torch.float64).to(dtype)
    return x, A


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", list(TOL))
def test_matches_reference(shape, dtype):
    x, A = make(shape, dtype)
    out = actionkit.ops.graph_aggregate(x, A)
    ref = _reference.graph_aggregate(x.double(), A.double())
    atol, rtol = TOL[dtype]
    assert out.dtype == dtype
    # 16-bit inputs: the sum over K*V products is accumulated in float, rounded once.
    scale = ref.abs().max().item() if dtype in (torch.float16, torch.bfloat16) else 1.0
    torch.testing.assert_close(out.double(), ref, atol=atol * scale, rtol=rtol)


def test_hand_worked_graph():
    # Three joints in a chain 0-1-2, one subset, A = adjacency with self loops, x[.., v] = 10^v.
    A = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    x = torch.tensor([1.0, 10.0, 100.0]).view(1, 1, 1, 1, 3)
    out = actionkit.ops.graph_aggregate(x, A.unsqueeze(0))
    assert out.flatten().tolist() == [11.0, 111.0, 110.0]


@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck(shape):
    x, A = make(shape)
    x.requires_grad_()
    A.requires_grad_()
    assert torch.autograd.gradcheck(actionkit.ops.graph_aggregate, (x, A))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_matches_reference(shape, dtype):
    x, A = make(shape, dtype)
    x.requires_grad_()
    A.requires_grad_()
    out = actionkit.ops.graph_aggregate(x, A)
    grad = torch.randn_like(out)
    gx, gA = torch.autograd.grad(out, (x, A), grad)
    xr, Ar = x.detach().double().requires_grad_(), A.detach().double().requires_grad_()
    rx, rA = torch.autograd.grad(_reference.graph_aggregate(xr, Ar), (xr, Ar), grad.double())
    atol, rtol = TOL[dtype]
    for got, want in ((gx, rx), (gA, rA)):
        scale = want.abs().max().item() if dtype == torch.bfloat16 else 1.0
        torch.testing.assert_close(got.double(), want, atol=atol * scale, rtol=rtol)


def test_fixed_graph_gets_no_gradient_work():
    x, A = make(SHAPES[0])
    x.requires_grad_()
    out = actionkit.ops.graph_aggregate(x, A)
    out.sum().backward()
    assert A.grad is None and x.grad is not None


def test_empty_and_non_contiguous():
    x, A = make((2, 3, 0, 5, 7, False))
    assert actionkit.ops.graph_aggregate(x, A).shape == (2, 0, 5, 7)
    base = torch.randn(2, 5, 4, 3, 7, dtype=torch.float64)
    x = base.permute(0, 3, 2, 1, 4)  # [2, 3, 4, 5, 7], not contiguous
    A = torch.rand(3, 7, 7, dtype=torch.float64).transpose(1, 2)
    torch.testing.assert_close(
        actionkit.ops.graph_aggregate(x, A), _reference.graph_aggregate(x, A), atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_opcheck(shape):
    x, A = make(shape, torch.float32)
    opcheck(torch.ops.actionkit.graph_aggregate.default, (x.requires_grad_(), A.requires_grad_()))
    grad = torch.randn(x.shape[0], x.shape[2], x.shape[3], x.shape[4])
    opcheck(torch.ops.actionkit._graph_aggregate_backward_x.default, (grad, A.detach()))
    opcheck(
        torch.ops.actionkit._graph_aggregate_backward_a.default,
        (grad, x.detach(), shape[-1]),
    )


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    torch._dynamo.reset()

    def gcn(x, A):
        return actionkit.ops.graph_aggregate(x * 2, A.softmax(-1)).relu()

    compiled = torch.compile(gcn, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    for t in (5, 7):
        x = torch.randn(2, 3, 4, t, 6, requires_grad=True)
        A = torch.rand(3, 6, 6, requires_grad=True)
        out = compiled(x, A)
        torch.testing.assert_close(out, gcn(x, A), atol=0, rtol=0)
        grads = torch.autograd.grad(out.sum(), (x, A))
        expected = torch.autograd.grad(gcn(x, A).sum(), (x, A))
        for got, want in zip(grads, expected, strict=True):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


X = torch.zeros(2, 3, 4, 5, 6)
A = torch.zeros(3, 6, 6)


@pytest.mark.parametrize(
    "x, a, match",
    [
        (X.long(), A.long(), "x must be a floating-point tensor"),
        (X[0], A, r"x must have shape \[N, K, C, T, V\]"),
        (X, A.double(), "A has dtype Double but x has Float"),
        (X, A[:2], r"A must have shape \[K, V, V\] = \[3, 6, 6\] or \[N, K, V, V\]"),
        (X, torch.zeros(3, 3, 6, 6), r"A must have shape"),
        (X, A.to("meta"), "A is on meta but x is on cpu"),
    ],
)
def test_bad_inputs_name_the_argument(x, a, match):
    with pytest.raises(RuntimeError, match=match):
        actionkit.ops.graph_aggregate(x, a)
