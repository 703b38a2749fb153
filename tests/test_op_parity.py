"""The ops against what MMAction2 1.2.0 and mmcv 2.1.0 themselves computed on seeded inputs
(tests/fixtures/mmaction/ops.pt, written by dev/mmaction_fixtures.py in the side venv):
the other op tests check against references re-typed from the published semantics; these
pin those references to the real code."""

from pathlib import Path

import pytest
import torch

import actionkit

FIXTURE = torch.load(Path(__file__).parent / "fixtures" / "mmaction" / "ops.pt", weights_only=False)


def _ids(cases, *keys):
    return ["-".join(f"{k}{c[k]}" for k in keys) for c in cases]


@pytest.mark.parametrize(
    "case", FIXTURE["temporal_shift"], ids=_ids(FIXTURE["temporal_shift"], "shift_div")
)
def test_temporal_shift_equals_mmaction2(case):
    out = actionkit.ops.temporal_shift(case["x"], case["num_segments"], case["shift_div"])
    assert torch.equal(out, case["out"])


@pytest.mark.parametrize(
    "case", FIXTURE["bm_sampling"], ids=_ids(FIXTURE["bm_sampling"], "frames", "samples")
)
def test_bm_sampling_equals_bmn_mask_matmul(case):
    t, s = case["frames"], case["samples"]
    x = case["x"].double()  # float64 here: the differences left are MMAction2's float32 sums
    out = actionkit.ops.bm_sampling(x, num_samples=s, num_samples_per_bin=3).float()
    tol = dict(rtol=1e-6, atol=1e-5)  # float32 sums of up to 100 terms; seen: 3e-6
    torch.testing.assert_close(out[0].sum(-1), case["by_duration"][0], **tol)
    if "out" in case:
        torch.testing.assert_close(out, case["out"], **tol)
    else:
        probe = torch.randn(s, t, t, generator=torch.Generator().manual_seed(case["probe_seed"]))
        projection = (out.double() * probe.double()).sum((2, 3, 4))
        # |projection| ~ 200; one mask weight off by 0.01 moves it by ~0.01; seen: 3e-5
        torch.testing.assert_close(projection.float(), case["projection"], rtol=0, atol=2e-4)


@pytest.mark.parametrize(
    "case", FIXTURE["temporal_soft_nms"], ids=_ids(FIXTURE["temporal_soft_nms"], "top_k")
)
def test_temporal_soft_nms_equals_proposal_utils(case):
    p = case["proposals"]
    dets, keep = actionkit.ops.temporal_soft_nms(
        p[:, :2], p[:, 2], 0.4, 0.5, 0.9, case["top_k"], legacy_top_k=True
    )
    expected = torch.from_numpy(case["out"])
    assert dets.shape == expected.shape == (case["top_k"] + 1, 3)
    torch.testing.assert_close(dets, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(p[keep, :2], dets[:, :2], rtol=0, atol=0)


needs_mmcv = pytest.mark.skipif(
    "mmcv" not in FIXTURE, reason="fixture written without full mmcv (no compiled ops)"
)


@needs_mmcv
@pytest.mark.parametrize(
    "case", FIXTURE.get("soft_nms", []), ids=_ids(FIXTURE.get("soft_nms", []), "method", "offset")
)
def test_soft_nms_equals_mmcv(case):
    dets, keep = actionkit.ops.soft_nms(
        case["boxes"], case["scores"], 0.3, 0.5, 1e-3, case["method"], case["offset"]
    )
    assert torch.equal(keep, case["keep"].long())
    torch.testing.assert_close(dets, case["dets"], rtol=1e-6, atol=1e-7)


@needs_mmcv
@pytest.mark.parametrize(
    "case",
    FIXTURE.get("roi_extractor", []),
    ids=_ids(FIXTURE.get("roi_extractor", []), "temporal_pool"),
)
def test_roi_align3d_equals_single_roi_extractor_3d(case):
    """SingleRoIExtractor3D with mmcv's RoIAlign (stride 16, 7x7, adaptive sampling,
    aligned): temporal mean then RoIAlign, or RoIAlign per frame; boxes partly and fully
    outside the frame and a zero-size box included."""
    feat = case["feat"]
    size = (1 if case["temporal_pool"] else feat.shape[2], 7, 7)
    out = actionkit.ops.roi_align3d(feat, case["rois"], size, spatial_scale=1 / 16)
    torch.testing.assert_close(out, case["out"], rtol=1e-5, atol=1e-6)
