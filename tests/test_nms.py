"""nms, batched_nms, temporal_nms and temporal_iou vs torchvision, MMAction2's formula and
hand-worked cases; opcheck, compile, errors."""

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

try:
    import torchvision
except ImportError:
    torchvision = None


def random_boxes(k, dtype=torch.float32):
    xy = torch.rand(k, 2) * 100
    wh = torch.rand(k, 2) * 40 + 1
    return torch.cat([xy, xy + wh], 1).to(dtype)


def random_segments(k, dtype=torch.float32):
    start = torch.rand(k) * 100
    return torch.stack([start, start + torch.rand(k) * 30 + 0.5], 1).to(dtype)


@pytest.mark.parametrize("k", [1, 7, 64, 65, 300])  # one bitmask word, exactly one, just over
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nms_matches_reference(k, threshold, dtype):
    boxes, scores = random_boxes(k, dtype), torch.rand(k, dtype=dtype)
    keep = actionkit.ops.nms(boxes, scores, threshold)
    assert keep.dtype == torch.long
    assert torch.equal(keep, _reference.nms(boxes, scores, threshold))


@pytest.mark.skipif(torchvision is None, reason="torchvision not installed")
@pytest.mark.parametrize("k", [10, 500])
def test_nms_equals_torchvision(k):
    boxes, scores = random_boxes(k), torch.rand(k)
    assert torch.equal(
        actionkit.ops.nms(boxes, scores, 0.5), torchvision.ops.nms(boxes, scores, 0.5)
    )
    idxs = torch.randint(0, 5, (k,))
    assert torch.equal(
        actionkit.ops.batched_nms(boxes, scores, idxs, 0.5),
        torchvision.ops.batched_nms(boxes, scores, idxs, 0.5),
    )


def test_nms_hand_worked():
    boxes = torch.tensor(
        [[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 5], [21, 20, 31, 30]]
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.5])
    # IoU(0, 1) = 81 / 119 = 0.68; IoU(0, 3) = 50 / 100 = 0.5; IoU(2, 4) = 90 / 110 = 0.82.
    # Order 3, 0, 1, 2, 4: 3 kept; 0 overlaps 3 by 0.5 (not above 0.5): kept; 1 overlaps 0
    # by 0.68: dropped; 2 kept; 4 overlaps 2: dropped.
    assert actionkit.ops.nms(boxes, scores, 0.5).tolist() == [3, 0, 2]
    assert actionkit.ops.nms(boxes, scores, 0.45).tolist() == [3, 1, 2]
    # Category 1 for box 1: it no longer competes with box 0.
    idxs = torch.tensor([0, 1, 0, 0, 0])
    assert actionkit.ops.batched_nms(boxes, scores, idxs, 0.5).tolist() == [3, 0, 1, 2]


def test_equal_scores_keep_input_order():
    boxes = torch.tensor([[0.0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 1, 1]])
    assert actionkit.ops.nms(boxes, torch.ones(3), 0.5).tolist() == [0, 1]


def test_temporal_iou_matches_mmaction2_formula():
    a, b = random_segments(13, torch.float64), random_segments(9, torch.float64)
    torch.testing.assert_close(
        actionkit.ops.temporal_iou(a, b), _reference.temporal_iou(a, b), atol=1e-15, rtol=0
    )
    seg = torch.tensor([[0.0, 10.0]])
    others = torch.tensor([[5.0, 15.0], [10.0, 20.0], [2.0, 4.0], [-5.0, 20.0]])
    expected = [5 / 15, 0.0, 2 / 10, 10 / 25]
    assert actionkit.ops.temporal_iou(seg, others).flatten().tolist() == pytest.approx(
        expected, abs=1e-7
    )
    half = actionkit.ops.temporal_iou(seg.half(), others.half())
    assert half.dtype == torch.float16


@pytest.mark.parametrize("k", [5, 64, 200])
def test_temporal_nms_matches_reference(k):
    segments, scores = random_segments(k), torch.rand(k)
    assert torch.equal(
        actionkit.ops.temporal_nms(segments, scores, 0.4),
        _reference.temporal_nms(segments, scores, 0.4),
    )


def test_empty_and_non_contiguous():
    assert actionkit.ops.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    assert actionkit.ops.temporal_nms(torch.zeros(0, 2), torch.zeros(0), 0.5).shape == (0,)
    assert actionkit.ops.batched_nms(
        torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5
    ).shape == (0,)
    assert actionkit.ops.temporal_iou(torch.zeros(0, 2), torch.zeros(3, 2)).shape == (0, 3)
    boxes = random_boxes(50).t().contiguous().t()  # column-major
    scores = torch.rand(100)[::2]
    assert not boxes.is_contiguous() and not scores.is_contiguous()
    assert torch.equal(actionkit.ops.nms(boxes, scores, 0.5), _reference.nms(boxes, scores, 0.5))


def test_opcheck():
    boxes, scores = random_boxes(20), torch.rand(20)
    opcheck(
        torch.ops.actionkit.nms.default,
        (boxes, scores, 0.5),
        test_utils=("test_schema", "test_faketensor"),
    )
    opcheck(
        torch.ops.actionkit.temporal_nms.default,
        (random_segments(20), scores, 0.5),
        test_utils=("test_schema", "test_faketensor"),
    )
    opcheck(torch.ops.actionkit.temporal_iou.default, (random_segments(4), random_segments(6)))


def test_compile_fullgraph_with_dynamic_output():
    torch._dynamo.reset()
    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    try:

        def top(boxes, scores):
            keep = actionkit.ops.nms(boxes, scores, 0.5)
            return boxes[keep], scores[keep]

        compiled = torch.compile(top, fullgraph=True, backend="aot_eager")
        boxes, scores = random_boxes(40), torch.rand(40)
        for got, want in zip(compiled(boxes, scores), top(boxes, scores), strict=True):
            assert torch.equal(got, want)
        ious = torch.compile(actionkit.ops.temporal_iou, fullgraph=True, backend="aot_eager")
        a, b = random_segments(5), random_segments(7)
        assert torch.equal(ious(a, b), actionkit.ops.temporal_iou(a, b))
    finally:
        torch._dynamo.config.capture_dynamic_output_shape_ops = False


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: actionkit.ops.nms(torch.zeros(3, 5), torch.zeros(3), 0.5),
            r"nms: boxes must have shape \[K, 4\]",
        ),
        (
            lambda: actionkit.ops.nms(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3), 0.5),
            "boxes must be a floating-point",
        ),
        (
            lambda: actionkit.ops.nms(torch.zeros(3, 4), torch.zeros(2), 0.5),
            r"scores must have shape \[K\] = \[3\]",
        ),
        (
            lambda: actionkit.ops.nms(torch.zeros(3, 4), torch.zeros(3, device="meta"), 0.5),
            "scores",
        ),
        (
            lambda: actionkit.ops.temporal_nms(torch.zeros(3, 4), torch.zeros(3), 0.5),
            r"temporal_nms: segments must have shape \[K, 2\]",
        ),
        (
            lambda: actionkit.ops.temporal_iou(torch.zeros(3, 2), torch.zeros(3, 2).double()),
            "a has dtype Float but b has Double",
        ),
        (
            lambda: actionkit.ops.batched_nms(
                torch.zeros(3, 4), torch.zeros(3), torch.zeros(2), 0.5
            ),
            r"idxs must have shape \[K\] = \[3\]",
        ),
        (
            lambda: actionkit.ops.batched_nms(
                torch.zeros(3, 4), torch.zeros(3), torch.tensor([0.0, 0.5, 1.0]), 0.5
            ),
            r"batched_nms: idxs must hold integer category indices, got dtype Float",
        ),
        (
            lambda: actionkit.ops.batched_nms(
                torch.zeros(3, 4),
                torch.zeros(3),
                torch.zeros(3, dtype=torch.long, device="meta"),
                0.5,
            ),
            r"batched_nms: idxs is on meta but boxes are on cpu",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()
