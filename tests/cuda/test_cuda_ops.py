"""The CUDA kernels on a GPU, against the CPU kernels and the reference (skipped without a GPU)."""

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

from ..test_roi_align3d import CASES, GRAD_CASES, TOL, case_inputs

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def no_fallback_on_the_gpu(monkeypatch):
    """Every test here must run the CUDA kernels, not the reference fallback (which gives
    the same values and would pass the comparisons)."""
    from actionkit.ops import _dispatch

    monkeypatch.setattr(_dispatch, "_FALLBACKS", _dispatch.Counter())
    yield
    fell_back = {op: n for (op, device), n in _dispatch.fallbacks().items() if device == "cuda"}
    assert not fell_back, f"ran the reference instead of the CUDA kernel: {fell_back}"


def test_cuda_kernels_were_compiled():
    from actionkit.ops import _dispatch

    assert actionkit._extension.build_info["cuda_compiled"]
    assert _dispatch._COMPILED["cpu"] - {"batched_nms"} <= _dispatch._COMPILED["cuda"]
    major, minor = torch.cuda.get_device_capability()
    archs = actionkit._extension.build_info["cuda_archs"].split()
    assert any(float(a) <= major + minor / 10 for a in archs), (archs, major, minor)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(2, 8, 64, 7, 9), (1, 3, 9, 4, 4), (3, 1, 8, 2, 3)])
def test_temporal_shift_equals_cpu(dtype, shape):
    n, t, c, h, w = shape
    x = torch.randn(n * t, c, h, w).to(dtype)
    out = actionkit.ops.temporal_shift(x.cuda(), t)
    assert out.is_cuda
    assert torch.equal(out.cpu(), _reference.temporal_shift(x, t))
    xg = x.cuda().requires_grad_()
    grad = torch.randn_like(xg)
    actionkit.ops.temporal_shift(xg, t).backward(grad)
    xc = x.clone().requires_grad_()
    _reference.temporal_shift(xc, t).backward(grad.cpu())
    assert torch.equal(xg.grad.cpu(), xc.grad)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_tin_shift_equals_cpu(dtype):
    x = torch.randn(4, 8, 64, 7 * 9).to(dtype)
    offset = torch.tensor([[0.5, -1.25, 2.0, 0.0], [3.75, -0.1, 1.0, -8.5]]).repeat(2, 1)
    grad = torch.randn_like(x)
    outs = []
    for device in ("cuda", "cpu"):
        xd = x.to(device).requires_grad_()
        od = offset.to(device).requires_grad_()
        out = actionkit.ops.tin_shift(xd, od)
        out.backward(grad.to(device))
        outs.append([t.detach().cpu().double() for t in (out, xd.grad, od.grad)])
    for gpu, cpu in zip(
        *outs, strict=True
    ):  # the same math: equal up to fma contraction and the sum order
        torch.testing.assert_close(
            gpu,
            cpu,
            rtol=1e-5 if dtype == torch.float32 else None,
            atol=1e-4 if dtype == torch.float32 else None,
        )


def test_tin_shift_gradgradcheck_cuda():
    x = torch.randn(2, 5, 8, 3, dtype=torch.float64, device="cuda", requires_grad=True)
    o = (
        torch.tensor([[0.3, -1.7, 2.2, 0.6], [5.5, -0.25, 1.1, -3.4]], dtype=torch.float64)
        .cuda()
        .requires_grad_()
    )
    assert torch.autograd.gradcheck(actionkit.ops.tin_shift, (x, o))
    assert torch.autograd.gradgradcheck(actionkit.ops.tin_shift, (x, o))
    opcheck(torch.ops.actionkit.tin_shift.default, (x, o))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", list(TOL))
def test_roi_align3d_matches_reference(case, dtype):
    features, rois, kw = case_inputs(case, dtype)
    features = features.cuda().requires_grad_()
    out = actionkit.ops.roi_align3d(features, rois.cuda(), **kw)
    ref = _reference.roi_align3d(features.detach().double().cpu(), rois.double(), **kw)
    atol, rtol = TOL[dtype]
    torch.testing.assert_close(out.double().cpu(), ref, atol=atol, rtol=rtol)
    grad = torch.randn_like(out)
    out.backward(grad)
    x = features.detach().double().cpu().requires_grad_()
    _reference.roi_align3d(x, rois.double(), **kw).backward(grad.double().cpu())
    # fp32 atomics accumulate in another order: allow a little more than one rounding.
    torch.testing.assert_close(features.grad.double().cpu(), x.grad, atol=4 * atol, rtol=4 * rtol)


@pytest.mark.parametrize("case", GRAD_CASES)
def test_roi_align3d_gradcheck(case):
    features, rois, kw = case_inputs(case, torch.float64)
    features = features.cuda().requires_grad_()
    rois = rois.cuda()
    assert torch.autograd.gradcheck(lambda x: actionkit.ops.roi_align3d(x, rois, **kw), (features,))


def test_opcheck_cuda():
    x = torch.randn(16, 16, 3, 3, device="cuda", requires_grad=True)
    opcheck(torch.ops.actionkit.temporal_shift.default, (x, 8, 8))
    features, rois, kw = case_inputs(CASES[0], torch.float32)
    size = list(kw["output_size"])
    args = (kw["spatial_scale"], kw["sampling_ratio"], kw["aligned"], 1.0)
    opcheck(
        torch.ops.actionkit.roi_align3d.default,
        (features.cuda().requires_grad_(), rois.cuda(), size, *args),
    )


def test_mixed_devices_are_an_error():
    features = torch.randn(2, 3, 4, 5, 5, device="cuda")
    rois = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0]])
    with pytest.raises(RuntimeError, match="rois is on cpu but features is on cuda"):
        actionkit.ops.roi_align3d(features, rois, (1, 2, 2))


@pytest.mark.parametrize("index", [-1.0, 2.0, 0.5])
def test_bad_batch_indices_are_an_error_on_the_gpu_too(index):
    features = torch.randn(2, 3, 4, 5, 5, device="cuda")
    rois = torch.tensor([[0, 0.0, 0.0, 2.0, 2.0], [index, 0.0, 0.0, 2.0, 2.0]], device="cuda")
    with pytest.raises(RuntimeError, match=rf"rois\[1, 0\] = {index:g} is not a batch index"):
        actionkit.ops.roi_align3d(features, rois, (1, 2, 2))


def test_compile_inductor_cuda():
    torch._dynamo.reset()

    def f(x, rois):
        y = actionkit.ops.temporal_shift(x.flatten(0, 1), 4).view_as(x).transpose(1, 2)
        return actionkit.ops.roi_align3d(y, rois, (1, 3, 3), spatial_scale=0.5)

    x = torch.randn(2, 4, 8, 8, 8, device="cuda")
    rois = torch.tensor([[0, 1.0, 1.0, 9.0, 9.0], [1, 0.0, 2.0, 14.0, 12.0]], device="cuda")
    torch.testing.assert_close(torch.compile(f, fullgraph=True)(x, rois), f(x, rois))


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("dtype", list(TOL))
def test_graph_aggregate_matches_reference(per_sample, dtype):
    from ..test_graph_aggregate import make

    x, A = make((2, 3, 8, 6, 25, per_sample), dtype)
    x, A = x.cuda().requires_grad_(), A.cuda().requires_grad_()
    out = actionkit.ops.graph_aggregate(x, A)
    xr, Ar = x.detach().double().cpu().requires_grad_(), A.detach().double().cpu().requires_grad_()
    ref = _reference.graph_aggregate(xr, Ar)
    atol, rtol = TOL[dtype]
    scale = ref.abs().max().item() if dtype in (torch.float16, torch.bfloat16) else 1.0
    torch.testing.assert_close(out.double().cpu(), ref, atol=atol * scale, rtol=rtol)
    grad = torch.randn_like(out)
    gx, gA = torch.autograd.grad(out, (x, A), grad)
    rx, rA = torch.autograd.grad(ref, (xr, Ar), grad.double().cpu())
    for got, want in ((gx, rx), (gA, rA)):
        s = want.abs().max().item() if dtype in (torch.float16, torch.bfloat16) else 1.0
        torch.testing.assert_close(got.double().cpu(), want, atol=4 * atol * s, rtol=4 * rtol)


@pytest.mark.parametrize("dtype", list(TOL))
def test_bm_sampling_matches_reference(dtype):
    x = torch.randn(2, 4, 40, dtype=torch.float64).to(dtype)
    xg = x.cuda().requires_grad_()
    out = actionkit.ops.bm_sampling(xg, 32)
    ref = _reference.bm_sampling(x.double(), 32)
    atol, rtol = TOL[dtype]
    scale = ref.abs().max().item()
    torch.testing.assert_close(out.double().cpu(), ref, atol=atol * scale, rtol=rtol)
    grad = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, xg, grad)
    xr = x.double().requires_grad_()
    (rx,) = torch.autograd.grad(_reference.bm_sampling(xr, 32), xr, grad.double().cpu())
    torch.testing.assert_close(
        gx.double().cpu(), rx, atol=4 * atol * rx.abs().max().item(), rtol=4 * rtol
    )
    y = torch.randn(2, 4, 8, 40, device="cuda", dtype=torch.float64)
    torch.testing.assert_close(
        actionkit.ops.bm_sampling_sum(y).cpu(),
        _reference.bm_sampling_sum(y.cpu()),
        atol=1e-10,
        rtol=1e-10,
    )


def test_nms_family_matches_cpu():
    from ..test_nms import random_boxes, random_segments

    boxes, scores = random_boxes(3000), torch.rand(3000)
    keep = actionkit.ops.nms(boxes.cuda(), scores.cuda(), 0.5)
    assert keep.is_cuda and torch.equal(keep.cpu(), actionkit.ops.nms(boxes, scores, 0.5))
    idxs = torch.randint(0, 7, (3000,))
    assert torch.equal(
        actionkit.ops.batched_nms(boxes.cuda(), scores.cuda(), idxs.cuda(), 0.5).cpu(),
        actionkit.ops.batched_nms(boxes, scores, idxs, 0.5),
    )
    segments = random_segments(500)
    assert torch.equal(
        actionkit.ops.temporal_nms(segments.cuda(), scores[:500].cuda(), 0.4).cpu(),
        actionkit.ops.temporal_nms(segments, scores[:500], 0.4),
    )
    torch.testing.assert_close(
        actionkit.ops.temporal_iou(segments.cuda(), segments[:9].cuda()).cpu(),
        actionkit.ops.temporal_iou(segments, segments[:9]),
    )


@pytest.mark.parametrize("method", ["linear", "gaussian", "naive"])
def test_soft_nms_on_the_gpu_equals_cpu(method):
    from ..test_nms import random_boxes, random_segments

    boxes, scores = random_boxes(1000, torch.float64), torch.rand(1000, dtype=torch.float64)
    dets, keep = actionkit.ops.soft_nms(boxes.cuda(), scores.cuda(), method=method)
    assert dets.is_cuda and keep.is_cuda
    cpu_dets, cpu_keep = actionkit.ops.soft_nms(boxes, scores, method=method)
    assert torch.equal(keep.cpu(), cpu_keep)
    torch.testing.assert_close(dets.cpu(), cpu_dets, atol=1e-12, rtol=1e-12)
    segments = random_segments(1000, torch.float64) / 130
    gd, gk = actionkit.ops.temporal_soft_nms(segments.cuda(), scores.cuda())
    cd, ck = actionkit.ops.temporal_soft_nms(segments, scores)
    assert torch.equal(gk.cpu(), ck)
    torch.testing.assert_close(gd.cpu(), cd, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("layout", ["NCTHW", "NTCHW"])
def test_preprocess_equals_cpu(dtype, layout):
    gen = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (4, 8, 120, 160, 3), dtype=torch.uint8, generator=gen)
    boxes = torch.tensor(
        [[0.0, 0.0, 160.0, 120.0], [10, 5, 130, 115], [40.5, 20.25, 100, 80], [0, 0, 1, 1]]
    )
    flip = torch.tensor([False, True, True, False])
    cpu = actionkit.ops.preprocess(frames, (112, 112), boxes, flip, layout=layout, dtype=dtype)
    gpu = actionkit.ops.preprocess(
        frames.cuda(), (112, 112), boxes.cuda(), flip.cuda(), layout=layout, dtype=dtype
    )
    assert gpu.is_cuda and gpu.dtype == dtype
    # Same float math; fused multiply-adds on the GPU may round the last bit differently.
    torch.testing.assert_close(
        gpu.cpu().float(), cpu.float(), atol=1e-5, rtol=1e-2 if dtype != torch.float32 else 0
    )
    opcheck(
        torch.ops.actionkit.preprocess.default,
        (frames.cuda(), boxes.cuda(), flip.cuda(), [32, 32], [0.0] * 3, [1.0] * 3, layout, None),
    )


def test_optical_flow_tvl1_equals_cpu():
    """The same per-pixel math and steps; FMA contraction on the GPU rounds differently, and
    TV-L1 amplifies rounding in flat regions, so the bound is on the mean and the 99th
    percentile of the distance, with the true motion recovered."""
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 1, 140, 180, generator=gen) * 255
    texture = torch.nn.functional.avg_pool2d(noise, 7, 1, 3)[0, 0]
    shifts = [(2, -1), (-1, 3), (0, 0), (1, 1)]
    a = torch.stack([texture[10:130, 10:170] for _ in shifts])
    b = torch.stack([texture[10 - dy : 130 - dy, 10 - dx : 170 - dx] for dx, dy in shifts])
    cpu = actionkit.ops.optical_flow_tvl1(a, b)
    gpu = actionkit.ops.optical_flow_tvl1(a.cuda(), b.cuda())
    assert gpu.is_cuda and gpu.shape == (4, 2, 120, 160)
    distance = (gpu.cpu() - cpu).norm(dim=1)
    assert distance.mean() < 1e-2 and distance.flatten().quantile(0.99) < 0.1
    for i, (dx, dy) in enumerate(shifts):
        mean = gpu[i, :, 8:-8, 8:-8].mean((1, 2)).cpu()
        torch.testing.assert_close(
            mean, torch.tensor([dx, dy], dtype=torch.float), atol=0.05, rtol=0
        )
    # pairs do not mix on the GPU either (the error sums' atomic adds come in any order: a
    # stopping decision at the threshold could flip), and the early stop holds
    alone = actionkit.ops.optical_flow_tvl1(a[1:2].cuda(), b[1:2].cuda())
    assert (alone - gpu[1:2]).norm(dim=1).mean() < 1e-3
    stopped = actionkit.ops.optical_flow_tvl1(a.cuda(), b.cuda(), epsilon=1e3)
    once = actionkit.ops.optical_flow_tvl1(
        a.cuda(), b.cuda(), epsilon=0.0, inner_iterations=1, outer_iterations=1
    )
    torch.testing.assert_close(stopped, once, atol=0, rtol=0)
    opcheck(
        torch.ops.actionkit.optical_flow_tvl1.default,
        (a[:2, :32, :40].contiguous().cuda(), b[:2, :32, :40].contiguous().cuda()),
        dict(warps=1, outer_iterations=1),
    )
