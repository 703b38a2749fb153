"""Every op falls back to its pure-PyTorch reference where the build has no kernel for the
device — forced here by hiding the CPU kernels — with one warning per op and device and
a count of the calls that took the fallback; the values equal the reference's."""

import warnings

import pytest
import torch

import actionkit
from actionkit.ops import _dispatch, _reference

BOXES = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float)
SCORES = torch.tensor([0.9, 0.8, 0.7])
SEGMENTS = torch.tensor([[0.0, 1.0], [0.1, 1.1], [2.0, 3.0]])
FRAMES = torch.randint(0, 256, (2, 3, 8, 10, 3), dtype=torch.uint8)
# op -> (a call of actionkit.ops, the same through the reference)
CALLS = {
    "temporal_shift": (
        lambda: actionkit.ops.temporal_shift(torch.ones(8, 16, 2, 2).cumsum(1), 4),
        lambda: _reference.temporal_shift(torch.ones(8, 16, 2, 2).cumsum(1), 4),
    ),
    "tin_shift": (
        lambda: actionkit.ops.tin_shift(torch.ones(2, 4, 6, 3).cumsum(1), TIN_OFFSET),
        lambda: _reference.tin_shift(torch.ones(2, 4, 6, 3).cumsum(1), TIN_OFFSET),
    ),
    "roi_align3d": (
        lambda: actionkit.ops.roi_align3d(torch.ones(1, 2, 3, 6, 6).cumsum(4), BOX, (1, 2, 2)),
        lambda: _reference.roi_align3d(torch.ones(1, 2, 3, 6, 6).cumsum(4), BOX, (1, 2, 2)),
    ),
    "graph_aggregate": (
        lambda: actionkit.ops.graph_aggregate(torch.ones(1, 2, 3, 4, 5).cumsum(4), A),
        lambda: _reference.graph_aggregate(torch.ones(1, 2, 3, 4, 5).cumsum(4), A),
    ),
    "bm_sampling": (
        lambda: actionkit.ops.bm_sampling(torch.ones(1, 2, 6).cumsum(2), 4),
        lambda: _reference.bm_sampling(torch.ones(1, 2, 6).cumsum(2), 4),
    ),
    "bm_sampling_sum": (
        lambda: actionkit.ops.bm_sampling_sum(torch.ones(1, 2, 4, 6).cumsum(3)),
        lambda: _reference.bm_sampling_sum(torch.ones(1, 2, 4, 6).cumsum(3)),
    ),
    "nms": (
        lambda: actionkit.ops.nms(BOXES, SCORES, 0.5),
        lambda: _reference.nms(BOXES, SCORES, 0.5),
    ),
    "temporal_nms": (
        lambda: actionkit.ops.temporal_nms(SEGMENTS, SCORES, 0.5),
        lambda: _reference.temporal_nms(SEGMENTS, SCORES, 0.5),
    ),
    "temporal_iou": (
        lambda: actionkit.ops.temporal_iou(SEGMENTS, SEGMENTS),
        lambda: _reference.temporal_iou(SEGMENTS, SEGMENTS),
    ),
    "soft_nms": (
        lambda: actionkit.ops.soft_nms(BOXES, SCORES),
        lambda: _reference.soft_nms(BOXES, SCORES),
    ),
    "temporal_soft_nms": (
        lambda: actionkit.ops.temporal_soft_nms(SEGMENTS, SCORES),
        lambda: _reference.temporal_soft_nms(SEGMENTS, SCORES),
    ),
    "preprocess": (
        lambda: actionkit.ops.preprocess(FRAMES, (4, 4), mean=MEAN, std=STD),
        lambda: _reference.preprocess(
            FRAMES, WHOLE, torch.zeros(2, dtype=torch.bool), [4, 4], MEAN, STD, "NCTHW", None
        ),
    ),
    "pose_heatmaps": (
        lambda: actionkit.ops.pose_heatmaps(KEYPOINTS, size=(8, 9), limbs=[(0, 1)]),
        lambda: _reference.pose_heatmaps(
            KEYPOINTS, torch.ones(1, 1, 2, 2), [8, 9], 0.6, torch.tensor([[0, 1]])
        ),
    ),
    "optical_flow_tvl1": (
        lambda: actionkit.ops.optical_flow_tvl1(GREY[:1], GREY[1:], warps=2, outer_iterations=2),
        lambda: _reference.optical_flow_tvl1(GREY[:1], GREY[1:], warps=2, outer_iterations=2),
    ),
}
GREY = torch.rand(2, 12, 14) * 255
KEYPOINTS = torch.tensor([[2.0, 3.0], [6.0, 5.0], [2.5, 3.0], [6.0, 4.0]]).view(1, 1, 2, 2, 2)
BOX = torch.tensor([[0, 1.0, 1.0, 4.0, 4.0]])
TIN_OFFSET = torch.tensor([[0.5, -1.25, 2.0], [1.0, 0.0, -0.75]])
WHOLE = torch.tensor([[0.0, 0.0, 10.0, 8.0]] * 2)  # (x1, y1, x2, y2) of the 8x10 frames
MEAN, STD = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
A = torch.rand(2, 5, 5)


def test_every_op_with_a_kernel_is_covered():
    assert set(CALLS) == {op for op in _dispatch._COMPILED["cpu"] if not op.startswith("_")} - {
        "batched_nms"  # composite: nms on offset boxes
    }


@pytest.mark.parametrize("op", sorted(CALLS))
def test_falls_back_to_the_reference_with_one_warning(op, monkeypatch):
    call, reference = CALLS[op]
    monkeypatch.setitem(_dispatch._COMPILED, "cpu", set())
    monkeypatch.setattr(_dispatch, "_FALLBACKS", _dispatch.Counter())
    with pytest.warns(UserWarning, match=rf"actionkit.ops.{op}: this build has no cpu kernel"):
        first = call()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per op and device: no second warning
        call()
    assert _dispatch.fallbacks() == {(op, "cpu"): 2}
    expected = reference()
    pairs = zip(*(r if isinstance(r, tuple) else (r,) for r in (first, expected)), strict=True)
    for got, want in pairs:
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_the_compiled_kernels_do_not_fall_back(monkeypatch):
    monkeypatch.setattr(_dispatch, "_FALLBACKS", _dispatch.Counter())
    for call, _ in CALLS.values():
        call()
    assert _dispatch.fallbacks() == {}


def test_a_cuda_build_registers_a_cuda_kernel_for_every_op():
    # Checked without a GPU: a CUDA glue file missing from the build would leave its op
    # to the reference on every GPU, silently but for the warning.
    from actionkit._extension import build_info

    ops = {op for op in _dispatch._COMPILED["cpu"] if op != "batched_nms"}
    expected = ops if build_info["cuda_compiled"] else set()
    assert ops & _dispatch._COMPILED["cuda"] == expected
