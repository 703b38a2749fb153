"""bm_sampling vs MMAction2's dense sample mask (rebuilt from the published semantics), a
hand-worked case; the fused sum and Conv3d; gradients, opcheck, compile, errors."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

CASES = [(t, s) for t in (5, 16, 100) for s in (1, 8, 32)]  # (T, num_samples)


@pytest.mark.parametrize("frames, samples", CASES)
def test_matches_dense_mask(frames, samples):
    x = torch.randn(2, 3, frames, dtype=torch.float64)
    out = actionkit.ops.bm_sampling(x, samples, 3, 0.5)
    ref = _reference.bm_sampling(x, samples, 3, 0.5)
    assert out.shape == (2, 3, samples, frames, frames)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("frames, samples", [(16, 8), (100, 32)])
@pytest.mark.parametrize("ratio, per_bin", [(0.0, 1), (1.3, 2), (0.25, 5)])
def test_other_ratios_and_bin_sizes(frames, samples, ratio, per_bin):
    x = torch.randn(1, 2, frames, dtype=torch.float64)
    torch.testing.assert_close(
        actionkit.ops.bm_sampling(x, samples, per_bin, ratio),
        _reference.bm_sampling(x, samples, per_bin, ratio),
        atol=1e-10,
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "dtype, tol", [(torch.float32, 1e-5), (torch.float16, 1e-3), (torch.bfloat16, 1e-2)]
)
def test_reduced_precision(dtype, tol):
    x = torch.randn(2, 3, 16, dtype=torch.float64).to(dtype)
    out = actionkit.ops.bm_sampling(x, 8)
    ref = _reference.bm_sampling(x.double(), 8)
    assert out.dtype == dtype
    torch.testing.assert_close(out.double(), ref, atol=tol * ref.abs().max().item(), rtol=tol)


def test_hand_worked_case():
    # T=3, S=1, P=2, ratio 0.5, x = [1, 10, 100].
    x = torch.tensor([[[1.0, 10.0, 100.0]]], dtype=torch.float64)
    out = actionkit.ops.bm_sampling(x, 1, 2, 0.5)[0, 0, 0]  # [duration, start]
    # (start 0, duration 0): points -0.5 and 0.5. -0.5 truncates to frame 0 with weight
    # 1.5 and its ceil (0) takes -0.5: net 1 on frame 0; 0.5 splits 0.5/0.5 over frames 0, 1.
    # Mean of the two points: 0.75 x0 + 0.25 x1 = 3.25.
    assert out[0, 0].item() == pytest.approx(3.25, abs=1e-12)
    # (start 2, duration 0): points 1.5 and 2.5; 2.5's upper frame 3 is dropped:
    # (0.5 x1 + 0.5 x2 + 0.5 x2) / 2 = 0.25 x1 + 0.5 x2 = 52.5.
    assert out[0, 2].item() == pytest.approx(52.5, abs=1e-12)
    # (start 0, duration 2): points -1.5 and 3.5 both fall outside: 0.
    assert out[2, 0].item() == 0.0
    # (start 1, duration 2) runs past the end: 0.
    assert out[2, 1].item() == 0.0
    # (start 1, duration 1), ratio 0.5: window [0, 3], points 0 and 3 (dropped): x0 / 2.
    assert out[1, 1].item() == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("frames, samples", [(5, 1), (16, 8), (40, 32)])
def test_sum_matches_reference(frames, samples):
    y = torch.randn(2, 3, samples, frames, dtype=torch.float64)
    torch.testing.assert_close(
        actionkit.ops.bm_sampling_sum(y),
        _reference.bm_sampling_sum(y),
        atol=1e-10,
        rtol=1e-10,
    )


def test_bm_conv3d_equals_sampling_then_conv3d():
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    weight = torch.randn(5, 6, 8, 1, 1, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    expected = F.conv3d(_reference.bm_sampling(x, 8), weight, bias).squeeze(2)
    out = actionkit.ops.bm_conv3d(x, weight, bias)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-10)
    x.requires_grad_()
    weight.requires_grad_()
    grads = torch.autograd.grad(actionkit.ops.bm_conv3d(x, weight, bias).sum(), (x, weight))
    want = torch.autograd.grad(
        F.conv3d(_reference.bm_sampling(x, 8), weight, bias).sum(), (x, weight)
    )
    for got, ref in zip(grads, want, strict=True):
        torch.testing.assert_close(got, ref, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("frames, samples, per_bin", [(6, 4, 2), (5, 1, 3)])
def test_gradcheck(frames, samples, per_bin):
    x = torch.randn(2, 2, frames, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 2, samples, frames, dtype=torch.float64, requires_grad=True)
    fx = lambda x: actionkit.ops.bm_sampling(x, samples, per_bin, 0.5)  # noqa: E731
    fy = lambda y: actionkit.ops.bm_sampling_sum(y, per_bin, 0.5)  # noqa: E731
    for fn, inp in ((fx, x), (fy, y)):
        assert torch.autograd.gradcheck(fn, (inp,))
        assert torch.autograd.gradgradcheck(fn, (inp,))


def test_backward_matches_reference():
    x = torch.randn(2, 3, 100, requires_grad=True)
    out = actionkit.ops.bm_sampling(x)
    grad = torch.randn_like(out)
    out.backward(grad)
    xr = x.detach().double().requires_grad_()
    _reference.bm_sampling(xr).backward(grad.double())
    torch.testing.assert_close(x.grad.double(), xr.grad, atol=1e-4, rtol=1e-5)


def test_empty_and_non_contiguous():
    assert actionkit.ops.bm_sampling(torch.randn(0, 3, 7), 4).shape == (0, 3, 4, 7, 7)
    assert actionkit.ops.bm_sampling(torch.randn(2, 0, 7), 4).shape == (2, 0, 4, 7, 7)
    assert actionkit.ops.bm_sampling_sum(torch.randn(2, 0, 4, 7)).shape == (2, 0, 7, 7)
    x = torch.randn(2, 9, 4, dtype=torch.float64).transpose(1, 2)  # [2, 4, 9] view
    assert not x.is_contiguous()
    torch.testing.assert_close(
        actionkit.ops.bm_sampling(x, 8), _reference.bm_sampling(x, 8), atol=1e-12, rtol=0
    )


def test_opcheck():
    x = torch.randn(2, 3, 9, requires_grad=True)
    y = torch.randn(2, 3, 4, 9, requires_grad=True)
    opcheck(torch.ops.actionkit.bm_sampling.default, (x, 4, 3, 0.5))
    opcheck(torch.ops.actionkit.bm_sampling_sum.default, (y, 3, 0.5))
    opcheck(
        torch.ops.actionkit._bm_sampling_backward.default, (torch.randn(2, 3, 4, 9, 9), 4, 3, 0.5)
    )
    opcheck(
        torch.ops.actionkit._bm_sampling_sum_backward.default, (torch.randn(2, 3, 9, 9), 4, 3, 0.5)
    )


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    torch._dynamo.reset()
    weight = torch.randn(4, 3, 8, 1, 1)

    def head(x):
        return (
            actionkit.ops.bm_sampling(x.relu(), 8).sum(2)
            + actionkit.ops.bm_conv3d(x, weight)[:, :1]
        )

    compiled = torch.compile(head, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    for t in (9, 12):
        x = torch.randn(2, 3, t, requires_grad=True)
        out = compiled(x)
        torch.testing.assert_close(out, head(x), atol=1e-5, rtol=1e-5)
        (g,) = torch.autograd.grad(out.sum(), x)
        (expected,) = torch.autograd.grad(head(x).sum(), x)
        torch.testing.assert_close(g, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: actionkit.ops.bm_sampling(torch.zeros(3, 8)), r"x must have shape \[N, C, T\]"),
        (
            lambda: actionkit.ops.bm_sampling(torch.zeros(1, 3, 8, dtype=torch.int32)),
            "x must be a floating-point",
        ),
        (
            lambda: actionkit.ops.bm_sampling(torch.zeros(1, 3, 8), 1, 1),
            "num_samples \\* num_samples_per_bin must be at least 2",
        ),
        (
            lambda: actionkit.ops.bm_sampling(torch.zeros(1, 3, 8), 0),
            "num_samples must be positive",
        ),
        (
            lambda: actionkit.ops.bm_sampling(torch.zeros(1, 3, 8), 4, 0),
            "num_samples_per_bin must be positive",
        ),
        (
            lambda: actionkit.ops.bm_sampling(torch.zeros(1, 3, 8), 4, 3, float("nan")),
            "prop_boundary_ratio must be finite",
        ),
        (
            lambda: actionkit.ops.bm_sampling_sum(torch.zeros(1, 3, 8)),
            r"y must have shape \[N, C, S, T\]",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_bm_conv3d_rejects_a_weight_or_bias_of_other_shapes():
    x = torch.zeros(1, 3, 8)
    with pytest.raises(ValueError, match=r"weight must have shape \[O, C, S, 1, 1\] with C = 3"):
        actionkit.ops.bm_conv3d(x, torch.zeros(4, 5, 8, 1, 1))
    with pytest.raises(ValueError, match=r"got \(4, 3, 8, 3, 3\)"):  # not BMN's (S, 1, 1)
        actionkit.ops.bm_conv3d(x, torch.zeros(4, 3, 8, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \[O\] = \[4\], got \(1,\)"):
        actionkit.ops.bm_conv3d(x, torch.zeros(4, 3, 8, 1, 1), torch.zeros(1))


def loop_mask(frames, samples, per_bin, ratio):
    """The mask point by point, in plain Python floats, as the published loops compute it."""
    import math

    mask = torch.zeros(frames, samples, frames, frames, dtype=torch.float64)
    for start in range(frames):
        for duration in range(frames - start):
            center_len = float(duration) + 1
            tmin = start - center_len * ratio
            tmax = start + duration + center_len * ratio
            step = (tmax - tmin) / (samples * per_bin - 1.0)
            for s in range(samples):
                column = [0.0] * frames
                for j in range(s * per_bin, (s + 1) * per_bin):
                    point = tmin + step * j
                    frac, whole = math.modf(point)
                    if 0 <= int(whole) <= frames - 1:
                        column[int(whole)] += 1 - frac
                    if 0 <= math.ceil(point) <= frames - 1:
                        column[math.ceil(point)] += frac
                for f in range(frames):
                    mask[f, s, duration, start] = 1.0 / per_bin * column[f]
    return mask


@pytest.mark.parametrize(
    "frames, samples, per_bin, ratio", [(5, 1, 3, 0.5), (16, 8, 3, 0.5), (12, 4, 2, 1.3)]
)
def test_vectorised_reference_mask_equals_the_loops(frames, samples, per_bin, ratio):
    torch.testing.assert_close(
        _reference.bm_sample_mask(frames, samples, per_bin, ratio),
        loop_mask(frames, samples, per_bin, ratio),
        atol=1e-15,
        rtol=0,
    )
