"""roi_align3d vs the reference, torchvision and hand-worked cases; gradients, opcheck, errors."""

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

try:
    import torchvision
except ImportError:  # the CPU-only CI venv has no matching torchvision
    torchvision = None


def random_rois(k, batches, height, width, scale, tube_frames=None, dtype=torch.float64):
    """Boxes inside, across and outside the frame, including zero-size ones, in input pixels."""
    size_h, size_w = height / scale, width / scale
    x1 = torch.empty(k).uniform_(-0.3, 1.0) * size_w
    y1 = torch.empty(k).uniform_(-0.3, 1.0) * size_h
    x2 = x1 + torch.empty(k).uniform_(0.0, 0.8) * size_w
    y2 = y1 + torch.empty(k).uniform_(0.0, 0.8) * size_h
    if k > 2:
        x2[0], y2[0] = x1[0], y1[0]  # a zero-size box
        x1[1], x2[1] = -3 * size_w, -2 * size_w  # fully outside
    b = torch.randint(0, batches, (k,)).double()
    if tube_frames is None:
        return torch.stack([b, x1, y1, x2, y2], 1).to(dtype)
    t1 = torch.empty(k).uniform_(-1.0, tube_frames)
    t2 = t1 + torch.empty(k).uniform_(0.0, tube_frames)
    return torch.stack([b, t1, x1, y1, t2, x2, y2], 1).to(dtype)


CASES = [  # (features shape, K, output_size, spatial_scale, sampling_ratio, aligned, tube)
    ((2, 3, 8, 12, 10), 6, (1, 7, 7), 0.25, 0, True, False),
    ((2, 3, 8, 12, 10), 6, (8, 7, 7), 0.25, 0, True, False),
    ((2, 3, 8, 12, 10), 6, (3, 4, 5), 0.25, 2, True, False),  # bins that overlap in time
    ((2, 3, 8, 12, 10), 6, (2, 3, 3), 0.5, 0, False, False),
    ((1, 2, 5, 64, 64), 1, (2, 3, 3), 1.0, 0, True, False),  # large map, one RoI: no pre-pooling
    ((2, 3, 6, 9, 11), 5, (3, 4, 4), 0.5, 0, True, True),
    ((2, 3, 6, 9, 11), 5, (2, 3, 2), 0.5, 2, False, True),
]


def case_inputs(case, dtype):
    shape, k, size, scale, ratio, aligned, tube = case
    features = torch.randn(shape, dtype=torch.float64).to(dtype)
    rois = random_rois(k, shape[0], shape[3], shape[4], scale, shape[2] if tube else None)
    return (
        features,
        rois.to(dtype),
        dict(output_size=size, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned),
    )


TOL = {  # (atol, rtol) as tight as each dtype's arithmetic allows
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", list(TOL))
def test_matches_reference(case, dtype):
    features, rois, kw = case_inputs(case, dtype)
    out = actionkit.ops.roi_align3d(features, rois, **kw)
    # The reference works in float64 on the same (rounded) inputs.
    ref = _reference.roi_align3d(features.double(), rois.double(), **kw)
    assert out.dtype == dtype and out.shape == ref.shape
    atol, rtol = TOL[dtype]
    torch.testing.assert_close(out.double(), ref, atol=atol, rtol=rtol)


@pytest.mark.skipif(torchvision is None, reason="torchvision not installed")
@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_equals_torchvision_frame_by_frame(aligned, sampling_ratio):
    features = torch.randn(2, 4, 5, 13, 11, dtype=torch.float64)
    rois = random_rois(9, 2, 13, 11, 0.5)
    kw = dict(spatial_scale=0.5, sampling_ratio=sampling_ratio, aligned=aligned)
    per_frame = actionkit.ops.roi_align3d(features, rois, (5, 6, 4), **kw)
    mean = actionkit.ops.roi_align3d(features, rois, (1, 6, 4), **kw)
    for t in range(5):
        expected = torchvision.ops.roi_align(features[:, :, t], rois, (6, 4), **kw)
        torch.testing.assert_close(per_frame[:, :, t], expected, atol=1e-12, rtol=0)
    expected_mean = torchvision.ops.roi_align(features.mean(2), rois, (6, 4), **kw)
    torch.testing.assert_close(mean[:, :, 0], expected_mean, atol=1e-12, rtol=0)


def linear_clip(frames, height, width):
    """f[t, y, x] = 100 t + 10 y + x: bilinear and trilinear interpolation of it is exact."""
    t = torch.arange(frames, dtype=torch.float64).view(-1, 1, 1)
    y = torch.arange(height, dtype=torch.float64).view(1, -1, 1)
    x = torch.arange(width, dtype=torch.float64).view(1, 1, -1)
    return (100 * t + 10 * y + x).expand(frames, height, width).reshape(1, 1, frames, height, width)


def test_hand_worked_box():
    f = linear_clip(2, 4, 4)
    # Box (0,0)-(4,4), aligned: starts at -0.5, 2x2 bins of 2 cells, one sample per bin
    # at -0.5 + 2*p + 1 = 0.5 + 2p in y and x. Temporal mean of 100 t over 2 frames: 50.
    rois = torch.tensor([[0, 0.0, 0.0, 4.0, 4.0]], dtype=torch.float64)
    out = actionkit.ops.roi_align3d(f, rois, (1, 2, 2), sampling_ratio=1)
    expected = torch.tensor([[50 + 5 + 0.5, 50 + 5 + 2.5], [50 + 25 + 0.5, 50 + 25 + 2.5]])
    torch.testing.assert_close(out[0, 0, 0], expected.double(), atol=1e-12, rtol=0)
    # t = T keeps the frames apart: frame 1 adds 100 to frame 0.
    out = actionkit.ops.roi_align3d(f, rois, (2, 2, 2), sampling_ratio=1)
    torch.testing.assert_close(out[0, 0, 1] - out[0, 0, 0], torch.full((2, 2), 100.0).double())


def test_hand_worked_borders():
    f = linear_clip(1, 4, 4)
    # Not aligned, one sample per bin at the box centre. Centre y = x = -0.75 lies in the
    # outer cell: clamped to 0 -> f = 0. Centre -1.5 is more than one cell out -> 0 too,
    # but by dropping the sample. Centre (3.5, 3.5): clamped to the last cell, 33.
    rois = torch.tensor(
        [[0, -1.25, -1.25, -0.25, -0.25], [0, 3.0, 3.0, 4.0, 4.0], [0, 1.0, 2.0, 2.0, 3.0]],
        dtype=torch.float64,
    )
    out = actionkit.ops.roi_align3d(f, rois, 1, sampling_ratio=1, aligned=False)
    torch.testing.assert_close(out.flatten(), torch.tensor([0.0, 33.0, 25 + 1.5]).double())


def test_hand_worked_tube():
    f = linear_clip(4, 4, 4)
    # Tube t in [1, 3) (aligned: [0.5, 2.5)), box (0,0)-(4,4); 1x1x1 bin, one sample at the
    # centre (t, y, x) = (1.5, 1.5, 1.5) -> 150 + 15 + 1.5.
    rois = torch.tensor([[0, 1.0, 0.0, 0.0, 3.0, 4.0, 4.0]], dtype=torch.float64)
    out = actionkit.ops.roi_align3d(f, rois, (1, 1, 1), sampling_ratio=1)
    assert out.item() == pytest.approx(166.5, abs=1e-12)
    # Two temporal bins: centres at t = 0.5 + 0.5 and 0.5 + 1.5 -> 1.0 and 2.0.
    out = actionkit.ops.roi_align3d(f, rois, (2, 1, 1), sampling_ratio=1)
    torch.testing.assert_close(out.flatten(), torch.tensor([116.5, 216.5]).double())
    # temporal_scale maps input frames to feature frames: t in [2, 6) at scale 0.5 is the same.
    rois2 = torch.tensor([[0, 2.0, 0.0, 0.0, 6.0, 4.0, 4.0]], dtype=torch.float64)
    out2 = actionkit.ops.roi_align3d(f, rois2, (2, 1, 1), sampling_ratio=1, temporal_scale=0.5)
    torch.testing.assert_close(out2, out)


def test_empty_inputs():
    features = torch.randn(2, 3, 4, 5, 5)
    out = actionkit.ops.roi_align3d(features, torch.zeros(0, 5), (2, 3, 3))
    assert out.shape == (0, 3, 2, 3, 3)
    rois = torch.tensor([[1, 0.0, 0.0, 3.0, 3.0]])
    assert actionkit.ops.roi_align3d(torch.randn(2, 0, 4, 5, 5), rois, (2, 3, 3)).shape == (
        1,
        0,
        2,
        3,
        3,
    )
    features.requires_grad_()
    actionkit.ops.roi_align3d(features, torch.zeros(0, 7), (2, 3, 3)).sum().backward()
    assert torch.equal(features.grad, torch.zeros_like(features))


def test_non_contiguous_inputs():
    features = torch.randn(2, 6, 3, 9, 8).transpose(1, 2)  # [2, 3, 6, 9, 8] view
    rois_base = torch.cat([random_rois(5, 2, 9, 8, 1.0, dtype=torch.float32), torch.zeros(5, 2)], 1)
    rois = rois_base[:, :5]
    assert not features.is_contiguous() and not rois.is_contiguous()
    out = actionkit.ops.roi_align3d(features, rois, (2, 3, 3))
    ref = actionkit.ops.roi_align3d(features.contiguous(), rois.contiguous(), (2, 3, 3))
    torch.testing.assert_close(out, ref, atol=0, rtol=0)


def test_rois_of_another_dtype_are_accepted():
    features, rois, kw = case_inputs(CASES[0], torch.float32)
    torch.testing.assert_close(
        actionkit.ops.roi_align3d(features, rois.double(), **kw),
        actionkit.ops.roi_align3d(features, rois, **kw),
    )


GRAD_CASES = [  # (features shape, K, output_size, scale, ratio, aligned, tube)
    ((2, 2, 4, 5, 6), 4, (1, 2, 3), 0.5, 0, True, False),
    ((2, 2, 4, 5, 6), 4, (4, 2, 2), 0.5, 2, False, False),
    ((2, 2, 4, 5, 6), 4, (3, 2, 2), 0.5, 0, True, False),
    ((1, 2, 1, 40, 40), 1, (1, 2, 2), 1.0, 0, True, False),
    ((2, 2, 4, 5, 6), 4, (2, 2, 2), 0.5, 0, True, True),
    ((2, 2, 4, 5, 6), 4, (2, 2, 2), 0.5, 1, False, True),
]


@pytest.mark.parametrize("case", GRAD_CASES)
def test_gradcheck(case):
    features, rois, kw = case_inputs(case, torch.float64)
    features.requires_grad_()

    def fn(x):
        return actionkit.ops.roi_align3d(x, rois, **kw)

    assert torch.autograd.gradcheck(fn, (features,))
    assert torch.autograd.gradgradcheck(fn, (features,))


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[5]])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_matches_reference(case, dtype):
    features, rois, kw = case_inputs(case, dtype)
    features.requires_grad_()
    out = actionkit.ops.roi_align3d(features, rois, **kw)
    grad = torch.randn_like(out)
    out.backward(grad)
    x = features.detach().double().requires_grad_()
    _reference.roi_align3d(x, rois.double(), **kw).backward(grad.double())
    assert features.grad.dtype == dtype
    atol, rtol = TOL[dtype]
    torch.testing.assert_close(features.grad.double(), x.grad, atol=atol, rtol=rtol)


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[5]])
def test_opcheck(case):
    features, rois, kw = case_inputs(case, torch.float32)
    size = list(kw["output_size"])
    args = (kw["spatial_scale"], kw["sampling_ratio"], kw["aligned"], 1.0)
    opcheck(torch.ops.actionkit.roi_align3d.default, (features.requires_grad_(), rois, size, *args))
    grad = torch.randn(rois.shape[0], features.shape[1], *size)
    opcheck(
        torch.ops.actionkit._roi_align3d_backward.default,
        (grad, rois, list(features.shape), size, *args),
    )


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    torch._dynamo.reset()

    def head(x, rois):
        return actionkit.ops.roi_align3d(x * 2, rois, (2, 3, 3), spatial_scale=0.5).mean((2, 3, 4))

    compiled = torch.compile(head, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    for k in (3, 5):
        x = torch.randn(2, 4, 6, 8, 8, requires_grad=True)
        rois = random_rois(k, 2, 8, 8, 0.5, dtype=torch.float32)
        out = compiled(x, rois)
        torch.testing.assert_close(out, head(x, rois), atol=0, rtol=0)
        out.sum().backward()
        x_ref = x.detach().clone().requires_grad_()
        head(x_ref, rois).sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad, atol=0, rtol=0)


F = torch.zeros(2, 3, 4, 5, 5)
R = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]])


@pytest.mark.parametrize(
    "features, rois, size, kw, match",
    [
        (F.long(), R, (1, 2, 2), {}, "features must be a floating-point tensor"),
        (F[0], R, (1, 2, 2), {}, r"features must have shape \[N, C, T, H, W\]"),
        (F, R.long(), (1, 2, 2), {}, "rois must be a floating-point tensor"),
        (F, R[:, :4], (1, 2, 2), {}, r"rois must have shape \[K, 5\]"),
        (F, R[0], (1, 2, 2), {}, r"rois must have shape \[K, 5\]"),
        (F, R.to("meta"), (1, 2, 2), {}, "rois is on meta but features is on cpu"),
        (
            F,
            torch.tensor([[2, 0.0, 0.0, 2.0, 2.0]]),
            (1, 2, 2),
            {},
            r"rois\[0, 0\] = 2 is not a batch index",
        ),
        (F, R, (0, 2, 2), {}, "output_size must be positive"),
        (F, R, (1, 2, 2), {"spatial_scale": 0.0}, "spatial_scale must be positive"),
        (F, R, (1, 2, 2), {"temporal_scale": -1.0}, "temporal_scale must be positive"),
    ],
)
def test_bad_inputs_name_the_argument(features, rois, size, kw, match):
    with pytest.raises(RuntimeError, match=match):
        actionkit.ops.roi_align3d(features, rois, size, **kw)


def test_bad_output_size_in_python():
    with pytest.raises(ValueError, match="output_size must be an int"):
        actionkit.ops.roi_align3d(F, R, (1, 2, 2, 2))
