"""actionkit.ops.pose_heatmaps against MMAction2 1.2.0's GeneratePoseTarget
(tests/fixtures/mmaction/pose_target.pt, written by dev/mmaction_fixtures.py in the side
venv), the pure-PyTorch reference, and the CUDA kernel's source run on the host."""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit
from actionkit.ops import _reference, pose_heatmaps
from actionkit.ops.pose_heatmaps import COCO_LIMBS

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "pose_target.pt"
torch.ops.load_library(Path(actionkit.__file__).parent / "lib" / "libactionkit_cuda_emulation.so")
# float32 Gaussians of values <= 1: MMAction2's NumPy exp and ours differ in the last bits
ATOL = 2e-7


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE)


def unpack(case) -> np.ndarray:
    return np.frombuffer(zlib.decompress(case["imgs_zlib"]), np.float32).reshape(case["shape"])


def op_args(fixture, case):
    """The op's arguments for a fixture case (no double: that is the transform's)."""
    args = case["args"]
    scaling = args.get("scaling", 1.0)
    h, w = case["img_shape"]
    size = (int(h * scaling + 0.5), int(w * scaling + 0.5))
    kp = fixture["keypoint"][None] * scaling
    scores = fixture["keypoint_score"][None] if args.get("use_score", True) else None
    with_kp, with_limb = args.get("with_kp", True), args.get("with_limb", False)
    limbs = COCO_LIMBS if with_limb else None
    return kp, scores, size, args.get("sigma", 0.6), limbs, with_kp, with_kp and with_limb


CASES = ["kp", "limb", "both", "no_score", "sigma", "scaling"]


@pytest.mark.parametrize("name", CASES)
def test_equals_mmaction(fixture, name):
    case = next(c for c in fixture["cases"] if c["name"] == name)
    kp, scores, size, sigma, limbs, with_kp, merge = op_args(fixture, case)
    out = pose_heatmaps(kp, scores, size, sigma, limbs, with_kp, legacy_merge=merge)
    want = unpack(case)  # [T, C, H, W]
    got = out[0].permute(1, 0, 2, 3).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)
    assert (got > 0).sum() == (want > 0).sum()  # the same windows
    # the fixture exercises what it should: maps, clipping at the border, limbs
    assert want.max() > 0.5 and (want > 0).mean() > 0.005


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("mirror", [False, True])
def test_reference_and_cuda_source_agree(fixture, name, mirror):
    case = next(c for c in fixture["cases"] if c["name"] == name)
    kp, scores, size, sigma, limbs, with_kp, merge = op_args(fixture, case)
    scores = torch.ones(kp.shape[:-1]) if scores is None else scores
    limbs_t = torch.tensor(limbs or [], dtype=torch.long).reshape(-1, 2)
    channels = (17 if with_kp else 0) + len(limbs_t)
    order = torch.randperm(channels, generator=torch.Generator().manual_seed(1)) if mirror else None
    out = pose_heatmaps(kp, scores, size, sigma, limbs, with_kp, merge, flip_order=order)
    ref = _reference.pose_heatmaps(kp, scores, size, sigma, limbs_t, with_kp, merge, 1e-4, order)
    emu = torch.ops.actionkit_emu.pose_heatmaps(
        kp, scores, size, sigma, limbs_t, with_kp, merge, 1e-4, order
    )
    torch.testing.assert_close(ref, out, rtol=0, atol=ATOL)
    torch.testing.assert_close(emu, out, rtol=0, atol=ATOL)
    if mirror:  # the mirrored half is the first half's pixels, exactly
        assert out.shape[0] == 2
        assert torch.equal(out[1], out[0][order].flip(-1))


def test_limbs_append_after_the_keypoints(fixture):
    kp, scores = fixture["keypoint"][None], fixture["keypoint_score"][None]
    both = pose_heatmaps(kp, scores, (56, 56), limbs=COCO_LIMBS)
    assert both.shape == (1, 34, 2, 56, 56)
    kp_only = pose_heatmaps(kp, scores, (56, 56))
    limb_only = pose_heatmaps(kp, scores, (56, 56), limbs=COCO_LIMBS, with_kp=False)
    assert torch.equal(both[:, :17], kp_only) and torch.equal(both[:, 17:], limb_only)
    merged = pose_heatmaps(kp, scores, (56, 56), limbs=COCO_LIMBS, legacy_merge=True)
    assert torch.equal(merged[:, :17], torch.maximum(kp_only, limb_only))
    assert not merged[:, 17:].any()  # MMAction2 leaves them empty


def test_hand_worked_values():
    # one keypoint at (10, 12) with score 0.5, sigma 1: exp(-d^2 / 2) * 0.5 inside the
    # window [int(10 - 3), int(10 + 3)] x [int(12 - 3), int(12 + 3)]
    kp = torch.tensor([10.0, 12.0]).view(1, 1, 1, 1, 2)
    out = pose_heatmaps(kp, torch.tensor([0.5]).view(1, 1, 1, 1), (20, 20), sigma=1.0)[0, 0, 0]
    assert out[12, 10] == 0.5
    assert out[12, 11].item() == pytest.approx(0.5 * np.exp(-0.5), rel=1e-6)
    assert out[14, 12].item() == pytest.approx(0.5 * np.exp(-4.0), rel=1e-6)
    assert out[12, 13] > 0 and out[12, 14] == 0 and out[9, 10] > 0 and out[8, 10] == 0
    # a limb from (2, 5) to (12, 5): on the segment the value is the lower score, beyond its
    # end the distance is to the end point
    kp = torch.tensor([[2.0, 5.0], [12.0, 5.0]]).view(1, 1, 1, 2, 2)
    sc = torch.tensor([0.9, 0.7]).view(1, 1, 1, 2)
    limb = pose_heatmaps(kp, sc, (10, 20), sigma=1.0, limbs=[(0, 1)], with_kp=False)[0, 0, 0]
    assert limb[5, 2:13].tolist() == pytest.approx([0.7] * 11)
    assert limb[6, 7].item() == pytest.approx(0.7 * np.exp(-0.5), rel=1e-6)
    assert limb[5, 14].item() == pytest.approx(0.7 * np.exp(-2.0), rel=1e-6)
    # people: the max; scores below eps and NaN keypoints: left out
    kp = torch.tensor([[5.0, 5.0], [5.0, 6.0], [float("nan"), 1.0]]).view(1, 3, 1, 1, 2)
    sc = torch.tensor([0.3, 0.6, 1.0]).view(1, 3, 1, 1)
    out = pose_heatmaps(kp, sc, (10, 10), sigma=1.0)[0, 0, 0]
    assert out[6, 5] == pytest.approx(0.6) and out[5, 5].item() == pytest.approx(
        max(0.3, 0.6 * np.exp(-0.5)), rel=1e-6
    )
    sc[0, 1] = 5e-5
    assert pose_heatmaps(kp, sc, (10, 10), sigma=1.0)[0, 0, 0, 5, 5] == pytest.approx(0.3)


def test_batch_and_cuda_source_on_bigger_sizes():
    # the PoseC3D sample size, several samples: CPU kernel, host-run CUDA kernel, reference
    gen = torch.Generator().manual_seed(3)
    kp = torch.rand(3, 2, 5, 17, 2, generator=gen) * 64
    sc = torch.rand(3, 2, 5, 17, generator=gen)
    limbs = torch.tensor(COCO_LIMBS)
    out = pose_heatmaps(kp, sc, (56, 64), limbs=limbs)
    emu = torch.ops.actionkit_emu.pose_heatmaps(
        kp, sc, [56, 64], 0.6, limbs, True, False, 1e-4, None
    )
    ref = _reference.pose_heatmaps(kp, sc, (56, 64), 0.6, limbs)
    torch.testing.assert_close(emu, out, rtol=0, atol=ATOL)
    torch.testing.assert_close(ref, out, rtol=0, atol=ATOL)
    for i in range(3):  # each sample alone gives its own slice
        assert torch.equal(
            pose_heatmaps(kp[i : i + 1], sc[i : i + 1], (56, 64), limbs=limbs), out[i : i + 1]
        )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda kp: pose_heatmaps(kp[..., :1]), r"keypoints must have shape \[N, M, T, V, 2\]"),
        (lambda kp: pose_heatmaps(kp, torch.ones(1, 2, 3)), r"scores must be float32 \[N, M"),
        (lambda kp: pose_heatmaps(kp, size=(0, 5)), "size must be two positive integers"),
        (lambda kp: pose_heatmaps(kp, sigma=0), "sigma must be positive"),
        (lambda kp: pose_heatmaps(kp, limbs=[(0, 17)]), r"limbs\[0\] = \(0, 17\) names a keypoint"),
        (lambda kp: pose_heatmaps(kp, with_kp=False), "nothing to draw"),
        (lambda kp: pose_heatmaps(kp, flip_order=[0, 1]), r"flip_order must be .* \[C\] = \[17\]"),
        (lambda kp: pose_heatmaps(kp, flip_order=[17] * 17), r"flip_order\[0\] = 17 is not a"),
    ],
)  # fmt: skip
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(torch.rand(1, 2, 3, 17, 2))


def test_opcheck():
    kp = torch.rand(1, 2, 3, 17, 2) * 20
    args = (kp, torch.rand(1, 2, 3, 17), [20, 24], 0.6, torch.tensor(COCO_LIMBS), True, False, 1e-4)
    torch.library.opcheck(torch.ops.actionkit.pose_heatmaps.default, args)
