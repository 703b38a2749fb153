"""tin_shift (TIN's temporal interlace shift) against the pure-PyTorch reference, a
hand-worked case and mmcv's own test data; gradients (float64 gradcheck and
gradgradcheck at default tolerances, the adjoint identity), dtypes, opcheck, compile,
export, errors."""

from pathlib import Path

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

FIXTURE = Path(__file__).parent / "fixtures" / "mmcv" / "tin_shift.pt"
SHAPES = [  # (N, T, C, inner...), G
    ((2, 8, 16, 10), 4),
    ((1, 3, 6, 2, 3), 2),  # 5-d, three frames
    ((3, 1, 4, 5), 1),  # one frame: every shift leaves the clip
    ((2, 5, 8), 8),  # no inner dimensions; one channel per group
]


def offsets(n: int, groups: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    """Fractional offsets in (-T, T)-ish, none within 0.1 of a whole number (gradcheck's
    finite differences must not straddle the kinks at whole offsets)."""
    gen = torch.Generator().manual_seed(seed)
    whole = torch.randint(-3, 3, (n, groups), generator=gen)
    return (whole + 0.1 + 0.8 * torch.rand(n, groups, generator=gen, dtype=torch.float64)).to(dtype)


@pytest.mark.parametrize("shape,groups", SHAPES)
def test_matches_reference(shape, groups):
    x = torch.randn(shape, dtype=torch.float64)
    o = offsets(shape[0], groups)
    o[0, 0] = 2.0  # a whole offset
    if shape[0] > 1:
        o[1, -1] = -7.5  # beyond the clip
    torch.testing.assert_close(actionkit.ops.tin_shift(x, o), _reference.tin_shift(x, o))


def test_hand_worked_case():
    # one clip, 4 frames, 2 groups of one channel, one position
    x = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]]])[..., None]
    o = torch.tensor([[0.25, -1.5]])
    out = actionkit.ops.tin_shift(x, o)[0, :, :, 0]
    # channel 0 moved a quarter frame later: out[t] = 0.75 x[t] + 0.25 x[t - 1]
    torch.testing.assert_close(out[:, 0], torch.tensor([0.75, 1.75, 2.75, 3.75]))
    # channel 1 moved 1.5 frames earlier: k = -2, f = 0.5: 0.5 x[t + 2] + 0.5 x[t + 1]
    torch.testing.assert_close(out[:, 1], torch.tensor([25.0, 35.0, 20.0, 0.0]))


def test_equals_mmcv_tin_shift_on_its_own_test_data():
    # mmcv's kernels are CUDA-only; its test file holds the outputs they produced for
    # whole shifts (rounded to 5 significant digits), written here by dev/mmcv_fixtures.py
    fixture = torch.load(FIXTURE, weights_only=True)
    x = fixture["input"]
    for case in fixture["cases"]:
        out = actionkit.ops.tin_shift(x, case["shift"])  # an int32 tensor, as mmcv takes
        torch.testing.assert_close(out, case["output"], atol=1e-5, rtol=0)
        # mmcv's input gradient under an all-ones upstream gradient is its forward shift
        # of ones (its backward moves the gradient the same way as the data); the true
        # gradient moves it back, and the two differ wherever a shift is not zero
        ones = torch.ones_like(x)
        assert torch.equal(actionkit.ops.tin_shift(ones, case["shift"]), case["grad"])
        xr = x.clone().requires_grad_()
        actionkit.ops.tin_shift(xr, case["shift"]).sum().backward()
        assert torch.equal(xr.grad, actionkit.ops.tin_shift(ones, -case["shift"]))
        assert not torch.equal(xr.grad, case["grad"])


def test_mmaction_linear_sampler_composition():
    # MMAction2's linear_sampler: tin_shift at floor(o) and floor(o) + 1, blended by the
    # fractional part, per group; here with the whole-offset op as its tin_shift
    x = torch.randn(2, 8, 12, 7, dtype=torch.float64)
    o = offsets(2, 4)
    k = o.floor()
    w = (o - k)[:, None, :, None].repeat_interleave(3, 2)
    expected = (1 - w) * actionkit.ops.tin_shift(x, k) + w * actionkit.ops.tin_shift(x, k + 1)
    torch.testing.assert_close(actionkit.ops.tin_shift(x, o), expected, rtol=0, atol=1e-15)


def test_whole_offsets_copy_exactly_and_zero_fill_is_zero_even_for_inf():
    x = torch.randn(1, 4, 2, 3)
    x[0, 3] = float("inf")
    out = actionkit.ops.tin_shift(x, torch.tensor([[1.0, -2.0]]))
    assert torch.equal(out[0, 1:, 0], x[0, :3, 0]) and torch.equal(out[0, 0, 0], torch.zeros(3))
    assert torch.equal(out[0, :2, 1], x[0, 2:, 1]) and torch.equal(out[0, 2:, 1], torch.zeros(2, 3))
    assert not out.isnan().any()


def test_non_finite_offset_gives_nan_in_its_group_only():
    x = torch.randn(1, 3, 4, 2)
    out = actionkit.ops.tin_shift(x, torch.tensor([[float("nan"), 0.5]]))
    assert out[0, :, :2].isnan().all()
    torch.testing.assert_close(
        out[0, :, 2:], _reference.tin_shift(x, torch.tensor([[0.0, 0.5]]))[0, :, 2:]
    )


@pytest.mark.parametrize("shape,groups", SHAPES)
def test_gradcheck_and_gradgradcheck(shape, groups):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    o = offsets(shape[0], groups).requires_grad_()
    assert torch.autograd.gradcheck(actionkit.ops.tin_shift, (x, o))
    assert torch.autograd.gradgradcheck(actionkit.ops.tin_shift, (x, o))


def test_gradients_equal_the_references():
    x = torch.randn(2, 6, 8, 5, dtype=torch.float64, requires_grad=True)
    o = offsets(2, 4).requires_grad_()
    o.data[0, 1] = 1.0  # a whole offset: both sides take the derivative from above
    grad = torch.randn(2, 6, 8, 5, dtype=torch.float64)
    ours = torch.autograd.grad(actionkit.ops.tin_shift(x, o), (x, o), grad)
    ref = torch.autograd.grad(_reference.tin_shift(x, o), (x, o), grad)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)


def test_input_gradient_is_the_adjoint():
    # <tin_shift(x, o), y> == <x, tin_shift(y, -o)>: the backward shifts back
    x, y = torch.randn(2, 2, 7, 6, 4, dtype=torch.float64)
    o = offsets(2, 3)
    lhs = (actionkit.ops.tin_shift(x, o) * y).sum()
    rhs = (x * actionkit.ops.tin_shift(y, -o)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_reduced_precision_follows_float64(dtype):
    x = torch.randn(2, 8, 16, 9)
    o = offsets(2, 4, torch.float32)
    grad = torch.randn_like(x)
    xr, orr = x.to(dtype).clone().requires_grad_(), o.clone().requires_grad_()
    out = actionkit.ops.tin_shift(xr, orr)
    out.backward(grad.to(dtype))
    xd, od = x.double().requires_grad_(), o.double().requires_grad_()
    ref = _reference.tin_shift(xd, od)
    ref.backward(grad.double())
    eps = torch.finfo(dtype).eps
    assert out.dtype == dtype and orr.grad.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, rtol=2 * eps, atol=4 * eps)
    torch.testing.assert_close(xr.grad.double(), xd.grad, rtol=2 * eps, atol=4 * eps)
    # the offset gradient sums 8 * 4 * 9 products of the rounded inputs
    torch.testing.assert_close(orr.grad.double(), od.grad, rtol=0, atol=300 * eps)


def test_offsets_may_be_another_dtype_than_x():
    x = torch.randn(1, 4, 4, 3, dtype=torch.float64)
    o = torch.tensor([[0.5, -1.25]], dtype=torch.float32, requires_grad=True)
    out = actionkit.ops.tin_shift(x, o)
    assert out.dtype == torch.float64
    out.sum().backward()
    assert o.grad.dtype == torch.float32


def test_non_contiguous_inputs():
    x = torch.randn(2, 16, 6, 5).transpose(1, 2)  # [N, T=6, C=16, 5], strided
    o = offsets(4, 2, torch.float32).t()  # [2, 4], strided
    torch.testing.assert_close(actionkit.ops.tin_shift(x, o), _reference.tin_shift(x, o))


def test_opcheck():
    x = torch.randn(2, 4, 8, 6, dtype=torch.float64, requires_grad=True)
    o = offsets(2, 4).requires_grad_()
    opcheck(torch.ops.actionkit.tin_shift.default, (x, o))
    grad = torch.randn(2, 4, 8, 6, dtype=torch.float64)
    opcheck(torch.ops.actionkit._tin_shift_backward.default, (grad, x.detach(), o.detach()))


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    def step(x, o):
        return actionkit.ops.tin_shift(x.relu(), o.tanh() * 2).sum()

    x = torch.randn(2, 8, 8, 6, requires_grad=True)
    o = torch.randn(2, 4, requires_grad=True)
    compiled = torch.compile(step, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    eager = torch.autograd.grad(step(x, o), (x, o))
    ours = torch.autograd.grad(compiled(x, o), (x, o))
    for a, b in zip(ours, eager, strict=True):
        torch.testing.assert_close(a, b)


def test_export_records_standard_ops():
    class Shift(torch.nn.Module):
        def forward(self, x, o):
            return actionkit.ops.tin_shift(x, o)

    x, o = torch.randn(2, 4, 8, 3), offsets(2, 2, torch.float32)
    program = torch.export.export(Shift(), (x, o))
    assert not [n for n in program.graph.nodes if "actionkit" in str(n.target)]
    torch.testing.assert_close(program.module()(x, o), actionkit.ops.tin_shift(x, o))


@pytest.mark.parametrize(
    "x,offset,match",
    [
        (torch.ones(2, 4, 8, dtype=torch.int64), torch.zeros(2, 2), "x must be a floating"),
        (torch.ones(2, 4), torch.zeros(2, 2), r"\[N, T, C, \.\.\.\]"),
        (torch.ones(2, 4, 8, 3), torch.zeros(3, 2), r"offset must have shape \[N, G\]"),
        (torch.ones(2, 4, 8, 3), torch.zeros(2), r"offset must have shape \[N, G\]"),
        (torch.ones(2, 4, 8, 3), torch.zeros(2, 3), "do not split into 3 equal groups"),
    ],
)
def test_bad_inputs_name_the_argument(x, offset, match):
    with pytest.raises(RuntimeError, match=match):
        torch.ops.actionkit.tin_shift(x, offset)
