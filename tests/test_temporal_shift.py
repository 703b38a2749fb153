"""temporal_shift against the reference, hand-worked cases, gradients, opcheck, compile, errors."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

SHAPES = [  # (N, T, C, H, W)
    (2, 8, 16, 5, 7),
    (1, 3, 9, 4, 4),  # C not divisible by shift_div
    (3, 1, 8, 2, 3),  # one frame: both shifted folds become zero
    (2, 4, 5, 3, 3),  # C < shift_div: fold 0, a plain copy
]
TOL = {  # exact data movement: equal to the last bit in every dtype
    torch.float64: 0,
    torch.float32: 0,
    torch.bfloat16: 0,
    torch.float16: 0,
}


def mmaction_shift(x, num_segments, shift_div=8):
    """MMAction2 1.x TemporalShift.shift (slicing + cat), re-typed from its published semantics."""
    n, c, h, w = x.shape
    x = x.view(-1, num_segments, c, h * w)
    fold = c // shift_div
    left, mid, right = x[:, :, :fold], x[:, :, fold : 2 * fold], x[:, :, 2 * fold :]
    left = torch.cat((left[:, 1:], torch.zeros_like(left[:, :1])), 1)
    mid = torch.cat((torch.zeros_like(mid[:, :1]), mid[:, :-1]), 1)
    return torch.cat((left, mid, right), 2).view(n, c, h, w)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", list(TOL))
def test_matches_reference(shape, dtype):
    n, t, c, h, w = shape
    x = torch.randn(n * t, c, h, w).to(dtype)
    out = actionkit.ops.temporal_shift(x, t)
    torch.testing.assert_close(out, _reference.temporal_shift(x, t), atol=TOL[dtype], rtol=0)
    torch.testing.assert_close(out, mmaction_shift(x, t), atol=0, rtol=0)


def test_hand_worked_case():
    # N=1, T=3, C=4, shift_div=4 -> fold 1: channel 0 from t+1, channel 1 from t-1.
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4, 1, 1)  # x[t, c] = 4t + c
    expected = torch.tensor(
        [[4, 0, 2, 3], [8, 1, 6, 7], [0, 5, 10, 11]], dtype=torch.float32
    ).reshape(3, 4, 1, 1)
    assert torch.equal(actionkit.ops.temporal_shift(x, 3, shift_div=4), expected)


def test_five_d_input_equals_four_d():
    x = torch.randn(2, 8, 16, 3, 3)
    out5 = actionkit.ops.temporal_shift(x, 8)
    out4 = actionkit.ops.temporal_shift(x.reshape(16, 16, 3, 3), 8)
    assert out5.shape == x.shape
    assert torch.equal(out5.reshape(16, 16, 3, 3), out4)


def test_zero_fill_is_zero_even_for_inf():
    # The slicing version computes its zeros as x - x, which turns inf into NaN.
    x = torch.full((2, 8, 1, 1), float("inf"))
    out = actionkit.ops.temporal_shift(x, 2)
    assert out[1, 0].item() == 0.0  # channel 0 of the last frame: past the end
    assert out[0, 1].item() == 0.0  # channel 1 of the first frame: before the start
    assert torch.isinf(out[0, 0]).all() and torch.isinf(out[1, 2:]).all()


def test_non_contiguous_input():
    base = torch.randn(8, 3, 16, 6)
    x = base.permute(0, 2, 3, 1)  # [8, 16, 6, 3], channels-last style strides
    assert not x.is_contiguous()
    torch.testing.assert_close(
        actionkit.ops.temporal_shift(x, 4),
        _reference.temporal_shift(x.contiguous(), 4),
        rtol=0,
        atol=0,
    )


def test_empty_inputs():
    for shape in [(0, 16, 4, 4), (8, 0, 4, 4), (8, 16, 0, 4)]:
        x = torch.randn(shape)
        out = actionkit.ops.temporal_shift(x, 4)
        assert out.shape == x.shape


@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck(shape):
    n, t, c, h, w = shape
    x = torch.randn(n * t, c, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: actionkit.ops.temporal_shift(x, t), (x,))
    assert torch.autograd.gradgradcheck(lambda x: actionkit.ops.temporal_shift(x, t), (x,))


def test_backward_is_the_opposite_shift():
    x = torch.randn(16, 16, 3, 3, requires_grad=True)
    g = torch.randn(16, 16, 3, 3)
    actionkit.ops.temporal_shift(x, 8).backward(g)
    x_ref = x.detach().clone().requires_grad_()
    _reference.temporal_shift(x_ref, 8).backward(g)
    assert torch.equal(x.grad, x_ref.grad)


@pytest.mark.parametrize("shape", [(16, 16, 3, 3), (2, 8, 16, 3, 3)])
def test_opcheck(shape):
    x = torch.randn(shape, requires_grad=True)
    opcheck(torch.ops.actionkit.temporal_shift.default, (x, 8, 8))
    opcheck(torch.ops.actionkit._temporal_shift_backward.default, (x.detach(), 8, 4))


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    torch._dynamo.reset()

    def block(x):
        return actionkit.ops.temporal_shift(x.relu(), 4) * 2

    compiled = torch.compile(block, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    for n in (2, 3):
        x = torch.randn(n * 4, 16, 5, 5, requires_grad=True)
        out = compiled(x)
        torch.testing.assert_close(out, block(x), rtol=0, atol=0)
        out.sum().backward()
        x_ref = x.detach().clone().requires_grad_()
        block(x_ref).sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=0)


@pytest.mark.parametrize(
    "x, num_segments, shift_div, match",
    [
        (torch.zeros(8, 16, 2, 2, dtype=torch.int64), 8, 8, "x must be a floating-point tensor"),
        (torch.zeros(8, 16, 2), 8, 8, r"x must have shape \[N\*T, C, H, W\]"),
        (
            torch.zeros(12, 16, 2, 2),
            8,
            8,
            r"first dimension of x \(N\*T = 12\) is not divisible by num_segments \(8\)",
        ),
        (torch.zeros(2, 4, 16, 2, 2), 8, 8, "num_segments must equal T = 4"),
        (torch.zeros(8, 16, 2, 2), 0, 8, "num_segments must be positive"),
        (torch.zeros(8, 16, 2, 2), 8, 0, "shift_div must be positive"),
    ],
)
def test_bad_inputs_name_the_argument(x, num_segments, shift_div, match):
    with pytest.raises(RuntimeError, match=match):
        actionkit.ops.temporal_shift(x, num_segments, shift_div)


@pytest.mark.parametrize("huge_pages", ["1", "0"])
def test_large_outputs_with_and_without_huge_page_advice(huge_pages):
    """Outputs of 32 MiB and more are advised as huge-page memory before the kernel writes
    them (ACTIONKIT_HUGE_PAGES=0 turns that off; the switch is read once per process, so
    each setting runs in a child). Rows of 7 * 7 * 2 bytes also take the copy's tail loop."""

    code = textwrap.dedent(
        """
        import torch, actionkit
        from actionkit.ops import _reference
        def huge_kib():
            with open("/proc/self/smaps_rollup") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("AnonHugePages:"))
        x = torch.randn(64, 1024, 16, 16, requires_grad=True)  # 64 MiB
        before = huge_kib()
        out = actionkit.ops.temporal_shift(x, 8)
        print(huge_kib() - before)
        assert torch.equal(out, _reference.temporal_shift(x.detach(), 8))
        grad = torch.randn_like(out)
        out.backward(grad)
        ref = x.detach().clone().requires_grad_()
        _reference.temporal_shift(ref, 8).backward(grad)
        assert torch.equal(x.grad, ref.grad)
        h = torch.randn(64, 1536, 7, 7).half()  # 9.4 MiB: below the advice threshold
        assert torch.equal(actionkit.ops.temporal_shift(h, 8), _reference.temporal_shift(h, 8))
        print("ok")
        """
    )
    env = {**os.environ, "ACTIONKIT_HUGE_PAGES": huge_pages}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.split()[-1] == "ok", done.stderr
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    mode = thp.read_text().split("[")[1].split("]")[0] if thp.exists() else "never"
    if mode == "madvise":  # huge pages exactly where advised: at least 60 of the 64 MiB
        huge_kib = int(done.stdout.split()[0])
        assert huge_kib >= 60 * 1024 if huge_pages == "1" else huge_kib == 0, huge_kib
