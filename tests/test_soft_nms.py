"""soft_nms (mmcv semantics) and temporal_soft_nms (MMAction2 semantics) vs hand-worked
cases and plain-Python references; opcheck, compile, errors. Every test runs twice: on
the CPU kernel, and with each call also run through the CUDA kernels' own source on the
emulated thread block (csrc/actionkit/common/cuda_emulation.h: 256 threads as fibers, a
schedule seed per call), whose results must equal the CPU kernel's to the last bit."""

import itertools
import math
from pathlib import Path

import pytest
import torch
from torch.testing._internal.optests import opcheck

import actionkit
from actionkit.ops import _reference

from .test_nms import random_boxes, random_segments

torch.ops.load_library(Path(actionkit.__file__).parent / "lib" / "libactionkit_cuda_emulation.so")
METHODS = {"naive": 0, "linear": 1, "gaussian": 2}
_seeds = itertools.count()


def _work(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _emulated_too(cpu_soft_nms, cpu_temporal):
    """The public ops, each call also run through the emulated CUDA kernels (a new
    schedule seed each time) and checked equal to the CPU kernel's result."""

    def soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=1e-3,
                 method="linear", offset=0):  # fmt: skip
        dets, keep = cpu_soft_nms(boxes, scores, iou_threshold, sigma, min_score, method, offset)
        torch.ops.actionkit_emu.set_schedule_seed(next(_seeds))
        work = _work(boxes)
        edets, ekeep = torch.ops.actionkit_emu.soft_nms(
            work.contiguous(), scores.to(work.dtype).contiguous(), iou_threshold, sigma,
            min_score, METHODS[method], offset,
        )  # fmt: skip
        assert torch.equal(ekeep, keep) and torch.equal(edets.to(dets.dtype), dets)
        return dets, keep

    def temporal_soft_nms(segments, scores, alpha=0.4, low_threshold=0.5, high_threshold=0.9,
                          top_k=100, legacy_top_k=False):  # fmt: skip
        dets, keep = cpu_temporal(
            segments, scores, alpha, low_threshold, high_threshold, top_k, legacy_top_k
        )
        torch.ops.actionkit_emu.set_schedule_seed(next(_seeds))
        work = _work(segments)
        order = scores.sort(descending=True, stable=True).indices
        edets, ekeep = torch.ops.actionkit_emu.temporal_soft_nms(
            work[order].contiguous(), scores.to(work.dtype)[order].contiguous(), alpha,
            low_threshold, high_threshold, top_k + 1 if legacy_top_k else top_k,
        )  # fmt: skip
        assert torch.equal(order[ekeep], keep) and torch.equal(edets.to(dets.dtype), dets)
        return dets, keep

    return soft_nms, temporal_soft_nms


@pytest.fixture(autouse=True, params=["cpu", "emulated"])
def kernels(request, monkeypatch):
    if request.param == "emulated":
        if request.node.originalname in (
            "test_opcheck_and_compile",
            "test_bad_inputs_name_the_argument",
        ):
            pytest.skip("the op machinery itself (opcheck, compile, errors), not its result")
        soft_nms, temporal = _emulated_too(actionkit.ops.soft_nms, actionkit.ops.temporal_soft_nms)
        monkeypatch.setattr(actionkit.ops, "soft_nms", soft_nms)
        monkeypatch.setattr(actionkit.ops, "temporal_soft_nms", temporal)
    return request.param


# A = (0,0,10,10), B = (0,0,10,5), C = (20,20,30,30), D = (5,0,15,10):
# IoU(A,B) = 50/100 = 0.5, IoU(A,D) = 50/150 = 1/3, IoU(B,D) = 25/125 = 0.2, C apart.
BOXES = torch.tensor(
    [[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30], [5, 0, 15, 10]], dtype=torch.float64
)
SCORES = torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=torch.float64)


def test_linear_hand_worked():
    # A taken; B *= 1 - 0.5 -> 0.4, D *= 1 - 1/3 -> 0.4; C (0.7) next; then B and D tie at
    # 0.4: the first in the current arrangement, B; IoU(B, D) = 0.2 < 0.3 leaves D at 0.4.
    dets, keep = actionkit.ops.soft_nms(BOXES, SCORES, 0.3, method="linear")
    assert keep.tolist() == [0, 2, 1, 3]
    torch.testing.assert_close(dets[:, 4], torch.tensor([0.9, 0.7, 0.4, 0.4], dtype=torch.float64))
    torch.testing.assert_close(dets[:, :4], BOXES[keep])


def test_gaussian_hand_worked():
    # Every overlap decays: B *= exp(-0.25/0.5), D *= exp(-(1/9)/0.5), then D *= exp(-0.04/0.5).
    dets, keep = actionkit.ops.soft_nms(BOXES, SCORES, 0.3, sigma=0.5, method="gaussian")
    assert keep.tolist() == [0, 2, 1, 3]
    expected = [0.9, 0.7, 0.8 * math.exp(-0.5), 0.6 * math.exp(-2 / 9) * math.exp(-0.08)]
    torch.testing.assert_close(dets[:, 4], torch.tensor(expected, dtype=torch.float64))


def test_naive_hand_worked():
    # B (IoU 0.5) and D (1/3) reach 0 and leave; C remains.
    dets, keep = actionkit.ops.soft_nms(BOXES, SCORES, 0.3, method="naive")
    assert keep.tolist() == [0, 2]
    assert dets[:, 4].tolist() == [0.9, 0.7]


def test_min_score_and_offset():
    # With offset 1 the areas grow by a pixel per side: IoU(A, B) = 66/121.
    dets, _ = actionkit.ops.soft_nms(BOXES, SCORES, 0.3, method="linear", offset=1)
    assert dets[2, 4].item() == pytest.approx(0.8 * (1 - 66 / 121), abs=1e-12) or dets[
        3, 4
    ].item() == pytest.approx(0.8 * (1 - 66 / 121), abs=1e-12)
    # A min_score above 0.4 drops both decayed boxes.
    _, keep = actionkit.ops.soft_nms(BOXES, SCORES, 0.3, min_score=0.45, method="linear")
    assert keep.tolist() == [0, 2]


@pytest.mark.parametrize(
    "method, dtype",
    [
        ("linear", torch.float64),
        ("gaussian", torch.float64),
        ("naive", torch.float64),
        # Decays round differently in float32 and float64, which can reorder near-ties;
        # naive only drops, so float32 must agree exactly too.
        ("naive", torch.float32),
    ],
)
@pytest.mark.parametrize("k", [1, 50, 400])
def test_soft_nms_matches_reference(method, dtype, k):
    boxes, scores = random_boxes(k, dtype), torch.rand(k, dtype=dtype)
    dets, keep = actionkit.ops.soft_nms(boxes, scores, 0.3, 0.5, 1e-3, method)
    ref_dets, ref_keep = _reference.soft_nms(boxes, scores, 0.3, 0.5, 1e-3, method)
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(dets, ref_dets, atol=1e-12, rtol=1e-12)


def test_temporal_hand_worked():
    # P1 overlaps P0 by 0.35/0.45 = 7/9 > 0.5 + 0.4 * 0.4 (P0's width): decayed by
    # exp(-(7/9)^2 / 0.4), below P2, which goes second.
    segments = torch.tensor([[0.0, 0.4], [0.05, 0.45], [0.6, 0.9]], dtype=torch.float64)
    scores = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64)
    dets, keep = actionkit.ops.temporal_soft_nms(segments, scores)
    assert keep.tolist() == [0, 2, 1]
    expected = [0.9, 0.7, 0.8 * math.exp(-((7 / 9) ** 2) / 0.4)]
    torch.testing.assert_close(dets[:, 2], torch.tensor(expected, dtype=torch.float64))
    # Without enough overlap nothing decays: P1 = (0.1, 0.5) overlaps by 0.6 < 0.66.
    segments[1] = torch.tensor([0.1, 0.5], dtype=torch.float64)
    dets, keep = actionkit.ops.temporal_soft_nms(segments, scores)
    assert keep.tolist() == [0, 1, 2] and dets[:, 2].tolist() == [0.9, 0.8, 0.7]


def test_temporal_top_k_and_the_legacy_flag():
    segments, scores = random_segments(30, torch.float64) / 130, torch.rand(30, dtype=torch.float64)
    assert len(actionkit.ops.temporal_soft_nms(segments, scores, top_k=5)[1]) == 5
    # MMAction2 returns one more than top_k; the flag reproduces it.
    assert (
        len(actionkit.ops.temporal_soft_nms(segments, scores, top_k=5, legacy_top_k=True)[1]) == 6
    )


@pytest.mark.parametrize("k", [1, 100, 1000])
@pytest.mark.parametrize("legacy", [False, True])
def test_temporal_matches_reference(k, legacy):
    segments, scores = random_segments(k, torch.float64) / 130, torch.rand(k, dtype=torch.float64)
    dets, keep = actionkit.ops.temporal_soft_nms(segments, scores, top_k=100, legacy_top_k=legacy)
    ref_dets, ref_keep = _reference.temporal_soft_nms(
        segments, scores, top_k=100, legacy_top_k=legacy
    )
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(dets, ref_dets, atol=1e-12, rtol=1e-12)


def test_empty_and_non_contiguous():
    dets, keep = actionkit.ops.soft_nms(torch.zeros(0, 4), torch.zeros(0))
    assert dets.shape == (0, 5) and keep.shape == (0,)
    dets, keep = actionkit.ops.temporal_soft_nms(torch.zeros(0, 2), torch.zeros(0))
    assert dets.shape == (0, 3) and keep.shape == (0,)
    boxes = random_boxes(60, torch.float64).t().contiguous().t()
    scores = torch.rand(120, dtype=torch.float64)[::2]
    assert torch.equal(
        actionkit.ops.soft_nms(boxes, scores)[1], _reference.soft_nms(boxes, scores)[1]
    )


def test_opcheck_and_compile():
    boxes, scores = random_boxes(30), torch.rand(30)
    utils = ("test_schema", "test_faketensor")
    opcheck(
        torch.ops.actionkit.soft_nms.default,
        (boxes, scores, 0.3, 0.5, 1e-3, "gaussian", 0),
        test_utils=utils,
    )
    opcheck(
        torch.ops.actionkit.temporal_soft_nms.default,
        (random_segments(30) / 130, scores, 0.4, 0.5, 0.9, 10, False),
        test_utils=utils,
    )
    torch._dynamo.reset()
    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    try:
        compiled = torch.compile(
            lambda b, s: actionkit.ops.soft_nms(b, s)[0], fullgraph=True, backend="aot_eager"
        )
        assert torch.equal(compiled(boxes, scores), actionkit.ops.soft_nms(boxes, scores)[0])
    finally:
        torch._dynamo.config.capture_dynamic_output_shape_ops = False


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: actionkit.ops.soft_nms(torch.zeros(3, 4), torch.zeros(3), method="hard"),
            'method must be "linear", "gaussian" or "naive", got "hard"',
        ),
        (
            lambda: actionkit.ops.soft_nms(torch.zeros(3, 5), torch.zeros(3)),
            r"soft_nms: boxes must have shape \[K, 4\]",
        ),
        (
            lambda: actionkit.ops.soft_nms(torch.zeros(3, 4), torch.zeros(4)),
            r"scores must be a floating-point tensor of shape \[K\] = \[3\]",
        ),
        (
            lambda: actionkit.ops.soft_nms(
                torch.zeros(3, 4), torch.zeros(3), sigma=0.0, method="gaussian"
            ),
            "sigma must be positive",
        ),
        (
            lambda: actionkit.ops.soft_nms(torch.zeros(3, 4), torch.zeros(3), offset=2),
            "offset must be 0 or 1",
        ),
        (
            lambda: actionkit.ops.temporal_soft_nms(torch.zeros(3, 3), torch.zeros(3)),
            r"segments must have shape \[K, 2\]",
        ),
        (
            lambda: actionkit.ops.temporal_soft_nms(torch.zeros(3, 2), torch.zeros(3), alpha=0.0),
            "alpha must be positive",
        ),
        (
            lambda: actionkit.ops.temporal_soft_nms(torch.zeros(3, 2), torch.zeros(3), top_k=-1),
            "top_k must be non-negative",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_inputs_are_left_untouched():
    boxes = random_boxes(40, torch.float64).t().contiguous().t()  # its transpose is contiguous
    scores = torch.rand(40, dtype=torch.float64)
    before = boxes.clone(), scores.clone()
    actionkit.ops.soft_nms(boxes, scores)
    actionkit.ops.temporal_soft_nms(boxes[:, :2].sort(1).values, scores)
    assert torch.equal(boxes, before[0]) and torch.equal(scores, before[1])


@pytest.mark.parametrize("method", ["naive", "linear"])
def test_ties_and_many_removals_keep_the_reference_arrangement(method):
    """Which of two equal scores goes first depends on the arrangement that earlier removals
    (last box moved into the hole) left; with scores on a 0.1 grid and a high min_score,
    most steps remove boxes and many ties remain, so any other order of moves shows."""
    gen = torch.Generator().manual_seed(4)
    xy = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 200
    boxes = torch.cat(
        [xy, xy + 10 + torch.rand(300, 2, generator=gen, dtype=torch.float64) * 60], 1
    )
    scores = torch.randint(1, 10, (300,), generator=gen).double() / 10
    dets, keep = actionkit.ops.soft_nms(boxes, scores, 0.2, 0.5, 0.35, method)
    ref_dets, ref_keep = _reference.soft_nms(boxes, scores, 0.2, 0.5, 0.35, method)
    assert 20 < len(keep) < 250  # many removals, not all
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(dets, ref_dets, atol=1e-12, rtol=1e-12)
