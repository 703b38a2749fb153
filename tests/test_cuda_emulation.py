"""The CUDA kernels' own source, compiled for the CPU through the emulation shim, vs the reference.

Sharing the math header proves the arithmetic; these tests run the .cu files' indexing,
bounds checks, grid-stride loops and atomics too, on sizes that leave the last block
partly idle and on sizes past the grid cap, where each thread loops.
"""

from pathlib import Path

import pytest
import torch

import actionkit
from actionkit.ops import _reference

from .test_roi_align3d import CASES, case_inputs, random_rois

THREADS, MAX_BLOCKS = 256, 4096  # csrc/actionkit/common/cuda_launch.h

# Built with the package by default (CMake option ACTIONKIT_BUILD_EMULATION); a build
# without it fails here rather than skipping, so CI cannot silently lose these tests.
torch.ops.load_library(Path(actionkit.__file__).parent / "lib" / "libactionkit_cuda_emulation.so")


@pytest.mark.parametrize(
    "shape",
    [
        (2, 8, 16, 5, 7),  # 8960 elements: the last of 35 blocks is partly idle
        (1, 3, 9, 1, 1),  # 27 elements: one block, mostly idle
        (3, 1, 8, 2, 3),
        (1, 4, 8, 182, 182),  # > MAX_BLOCKS * THREADS: every thread takes several steps
    ],
)
@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_temporal_shift_kernel(shape, backward, dtype):
    n, t, c, h, w = shape
    x = torch.randn(n * t, c, h, w).to(dtype)
    fold = c // 8
    out = torch.ops.actionkit_emu.temporal_shift(x, n, t, c, fold, backward)
    if backward:  # the gradient of the shift: the reference's vector-Jacobian product
        xr = torch.zeros_like(x, dtype=torch.float64, requires_grad=True)
        _reference.temporal_shift(xr, t).backward(x.double())
        expected = xr.grad.to(dtype)
    else:
        expected = _reference.temporal_shift(x, t)
    assert torch.equal(out, expected)
    if shape[3] == 182:
        assert x.numel() > THREADS * MAX_BLOCKS


@pytest.mark.parametrize(
    "shape,groups",
    [
        ((2, 8, 16, 35), 4),  # 8960 elements: the last of 35 blocks is partly idle
        ((1, 3, 6, 1), 2),
        ((1, 4, 8, 33124), 2),  # > MAX_BLOCKS * THREADS: every thread takes several steps
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tin_shift_kernels(shape, groups, dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    offset = torch.rand(shape[0], groups, generator=gen, dtype=torch.float64) * 8 - 4
    offset[0, 0] = 1.0  # a whole offset
    for sign in (1.0, -1.0):  # the forward and the adjoint (the input gradient)
        out = torch.ops.actionkit_emu.tin_shift(x.to(dtype), offset, sign)
        expected = _reference.tin_shift(x, sign * offset)
        tol = 0 if dtype == torch.float64 else 1e-6
        torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)
    terms = torch.ops.actionkit_emu.tin_shift_offset_terms(grad, x, offset)
    o = offset.clone().requires_grad_()
    (expected,) = torch.autograd.grad(_reference.tin_shift(x, o), o, grad)
    sums = terms.reshape(shape[0], shape[1], groups, -1).sum((1, 3))
    torch.testing.assert_close(sums, expected, rtol=1e-12, atol=1e-12)
    if shape[3] == 33124:
        assert x.numel() > THREADS * MAX_BLOCKS


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_roi_align3d_kernels(case, dtype):
    features, rois, kw = case_inputs(case, dtype)
    args = (list(kw["output_size"]), kw["spatial_scale"], kw["sampling_ratio"], kw["aligned"], 1.0)
    out = torch.ops.actionkit_emu.roi_align3d(features, rois, *args)
    ref = _reference.roi_align3d(features.double(), rois.double(), **kw)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out.double(), ref, atol=tol, rtol=tol)

    grad = torch.randn_like(out)
    grad_features = torch.ops.actionkit_emu.roi_align3d_backward(
        grad, rois, list(features.shape), *args
    )
    x = features.detach().double().requires_grad_()
    _reference.roi_align3d(x, rois.double(), **kw).backward(grad.double())
    torch.testing.assert_close(grad_features.double(), x.grad, atol=tol, rtol=tol)


def test_roi_align3d_many_rois_loop_in_threads():
    # 2800 RoIs x 4 channels x 2x7x7 bins > MAX_BLOCKS * THREADS outputs. Compared with
    # the CPU kernel (itself checked against the reference) to keep the test fast.
    features = torch.randn(2, 4, 3, 10, 10, dtype=torch.float64)
    rois = random_rois(2800, 2, 10, 10, 1.0)
    out = torch.ops.actionkit_emu.roi_align3d(features, rois, [2, 7, 7], 1.0, 0, True, 1.0)
    assert out.numel() > THREADS * MAX_BLOCKS
    expected = actionkit.ops.roi_align3d(features, rois, (2, 7, 7))
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("frames, samples", [(5, 1), (16, 8), (13, 32)])
@pytest.mark.parametrize("sum_form", [False, True])
def test_bm_sampling_kernels(frames, samples, sum_form):
    shape = (2, 3, samples, frames) if sum_form else (2, 3, frames)
    x = torch.randn(shape, dtype=torch.float64)
    emu = torch.ops.actionkit_emu
    if sum_form:
        ref_fn = _reference.bm_sampling_sum
    else:

        def ref_fn(v):
            return _reference.bm_sampling(v, samples)

    out = emu.bm_sampling(x, samples, 3, 0.5, sum_form)
    torch.testing.assert_close(out, ref_fn(x), atol=1e-10, rtol=1e-10)
    grad = torch.randn_like(out)
    gin = emu.bm_sampling_backward(grad, samples, 3, 0.5, sum_form)
    xr = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(ref_fn(xr), xr, grad)
    torch.testing.assert_close(gin, expected, atol=1e-10, rtol=1e-10)


def test_bm_sampling_kernel_loops_in_threads():
    # 2 x 11 x 32 x 60 x 60 outputs > MAX_BLOCKS * THREADS; float32 against the CPU kernel.
    x = torch.randn(2, 11, 60)
    out = torch.ops.actionkit_emu.bm_sampling(x, 32, 3, 0.5, False)
    assert out.numel() > THREADS * MAX_BLOCKS
    torch.testing.assert_close(out, actionkit.ops.bm_sampling(x), atol=1e-5, rtol=1e-5)


# torchvision's tiling: a block of 64 threads per (column tile, row tile), the column
# tile in shared memory; 63/64/65 straddle a tile, 1500 makes 24 x 24 tiles, the last
# partly empty. Two schedules of the block's threads each.
@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("k", [1, 63, 64, 65, 200, 1500])
@pytest.mark.parametrize("dims", [1, 2])
def test_nms_mask_kernel(k, dims, seed):
    from .test_nms import random_boxes, random_segments

    torch.ops.actionkit_emu.set_schedule_seed(seed)
    rows = (random_boxes if dims == 2 else random_segments)(k, torch.float64)
    iou = (_reference.box_iou if dims == 2 else _reference.temporal_iou)(rows, rows)
    words = torch.ops.actionkit_emu.nms_mask(rows, dims, 0.3)
    assert words.shape == (k, (k + 63) // 64)
    bits = torch.stack([(words >> b) & 1 for b in range(64)], -1).flatten(1)[:, :k].bool()
    expected = (iou > 0.3) & torch.ones(k, k, dtype=torch.bool).triu(1)
    assert torch.equal(bits, expected)


def test_temporal_iou_kernel():
    from .test_nms import random_segments

    a, b = random_segments(300, torch.float64), random_segments(7, torch.float64)
    out = torch.ops.actionkit_emu.temporal_iou(a, b)
    torch.testing.assert_close(out, _reference.temporal_iou(a, b), atol=1e-15, rtol=0)


@pytest.mark.parametrize("method", [0, 1, 2])  # naive, linear, gaussian
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_nms_kernel(method, dtype):
    from .test_nms import random_boxes

    boxes, scores = random_boxes(300, dtype), torch.rand(300, dtype=dtype)
    dets, keep = torch.ops.actionkit_emu.soft_nms(boxes, scores, 0.3, 0.5, 1e-3, method, 0)
    name = ["naive", "linear", "gaussian"][method]
    # The CPU op runs the same routine in the same precision: equal to the last bit.
    cpu_dets, cpu_keep = actionkit.ops.soft_nms(boxes, scores, 0.3, 0.5, 1e-3, name)
    assert torch.equal(keep, cpu_keep) and torch.equal(dets, cpu_dets)


def test_temporal_soft_nms_kernel():
    from .test_nms import random_segments

    segments, scores = (
        random_segments(500, torch.float64) / 130,
        torch.rand(500, dtype=torch.float64),
    )
    order = scores.sort(descending=True, stable=True).indices
    dets, keep = torch.ops.actionkit_emu.temporal_soft_nms(
        segments[order], scores[order], 0.4, 0.5, 0.9, 100
    )
    ref_dets, ref_keep = _reference.temporal_soft_nms(segments, scores)
    assert torch.equal(order[keep], ref_keep)
    torch.testing.assert_close(dets, ref_dets, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize(
    "b,t,size",
    [
        (3, 4, (15, 22)),  # 3960 pixels: the last block partly idle
        (1, 1, (1, 1)),
        (1, 2, (768, 700)),  # > MAX_BLOCKS * THREADS pixels: every thread loops
    ],
)
@pytest.mark.parametrize("layout", ["NCTHW", "NTCHW"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_preprocess_kernel(b, t, size, layout, dtype):
    gen = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (b, t, 21, 30, 3), dtype=torch.uint8, generator=gen)
    boxes = torch.tensor([[1.0, 2.0, 29.0, 20.0], [0.0, 0.0, 30.0, 21.0], [3.5, 1.25, 17.0, 9.5]])
    flip = torch.tensor([True, False, True])
    args = (frames, boxes[:b], flip[:b], list(size), [120.0, 110.0, 100.0], [50.0, 60.0, 70.0])
    out = torch.ops.actionkit_emu.preprocess(*args, layout, dtype)
    expected = torch.ops.actionkit.preprocess(*args, layout, dtype)
    # Same math in the same order; the CPU kernel's AVX2 clone may fuse multiply-adds,
    # so the last bit of a float32 can differ (values are about +-3).
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)  # 1/2000 grey level
