"""actionkit.ops.optical_flow_tvl1 against OpenCV 5's DualTVL1 (opencv-contrib, a test
dependency), the pure-PyTorch reference, the CUDA source run by the host emulation, and
motion whose flow is known (a translated and a rotated photograph)."""

from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit
from actionkit.ops import _reference, optical_flow_tvl1, rgb_to_grey

torch.ops.load_library(Path(actionkit.__file__).parent / "lib" / "libactionkit_cuda_emulation.so")
cv2 = pytest.importorskip("cv2")
DEFAULTS = dict(
    tau=0.25, lambd=0.15, theta=0.3, scales=5, warps=5, epsilon=0.01, inner_iterations=30,
    outer_iterations=10, scale_step=0.8, median_filtering=5,
)  # fmt: skip


def photo() -> np.ndarray:
    """A real photograph (matplotlib's sample image of Grace Hopper), uint8 RGB."""
    cbook = pytest.importorskip("matplotlib.cbook")
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), 1), cv2.COLOR_BGR2RGB)


def moved(image: np.ndarray, angle: float, shift: tuple[float, float], size=(128, 160)):
    """A crop of `image` and the same crop after rotating the image by `angle` degrees
    about the crop's centre and shifting it by `shift`, with the true flow [2, H, W]."""
    h, w = size
    cy, cx = image.shape[0] / 2, image.shape[1] / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[:, 2] += shift
    b = cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_CUBIC)
    y0, x0 = int(cy - h / 2), int(cx - w / 2)
    ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float64)
    tx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    ty = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    flow = np.stack([tx - xs, ty - ys])
    crop = (slice(y0, y0 + h), slice(x0, x0 + w))
    return image[crop], b[crop], flow


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def opencv(a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
    p = {**DEFAULTS, **kw}
    tv = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p["tau"], lambda_=p["lambd"], theta=p["theta"], nscales=p["scales"],
        warps=p["warps"], epsilon=p["epsilon"], innnerIterations=p["inner_iterations"],
        outerIterations=p["outer_iterations"], scaleStep=p["scale_step"],
        medianFiltering=p["median_filtering"],
    )  # fmt: skip
    return tv.calc(a, b, None).transpose(2, 0, 1)


def ours(a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
    return optical_flow_tvl1(torch.from_numpy(a), torch.from_numpy(b), **kw).numpy()


def texture(h=96, w=128, seed=0) -> np.ndarray:
    """A smooth random grey texture (float 0..255)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (h, w)).astype(np.float32)
    t = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return ((t - t.min()) / (t.max() - t.min()) * 255).astype(np.float32)


def test_rgb_to_grey_equals_opencv():
    rgb = torch.randint(0, 256, (3, 17, 19, 3), dtype=torch.uint8)
    want = np.stack([grey(f) for f in rgb.numpy()])
    assert torch.equal(rgb_to_grey(rgb), torch.from_numpy(want).float())


def assert_like_opencv(a: np.ndarray, b: np.ndarray, **kw) -> None:
    """Our flow is as close to OpenCV's as OpenCV's own is to itself when its input moves
    by a relative 1e-6 (float input, which it scales by 255): TV-L1 amplifies rounding in
    flat regions, so the bound is that sensitivity, measured on the same frames."""
    want, got = opencv(a, b, **kw), ours(a, b, **kw)
    nudged = opencv(a.astype(np.float32) / 255 * (1 + 1e-6), b.astype(np.float32) / 255, **kw)

    def epe(x, y):
        return np.sqrt(((x - y) ** 2).sum(0))

    ours_cv, cv_cv = epe(got, want), epe(nudged, want)
    print(f"{kw}: mean EPE to OpenCV {ours_cv.mean():.2e} (OpenCV nudged: {cv_cv.mean():.2e})")
    assert ours_cv.mean() <= 2 * cv_cv.mean() + 1e-5
    assert np.percentile(ours_cv, 99) <= 2 * np.percentile(cv_cv, 99) + 1e-4


@pytest.mark.parametrize(
    "kw",
    [
        {},
        dict(scales=3, warps=2, median_filtering=3, scale_step=0.5),
        dict(epsilon=0.0, outer_iterations=3, inner_iterations=10, median_filtering=0),
        dict(tau=0.2, lambd=0.3, theta=0.5, warps=3),
    ],
    ids=["defaults", "coarse", "no-stop", "weights"],
)
def test_equals_opencv_on_a_photograph(kw):
    a, b, _ = moved(photo(), angle=2.0, shift=(1.7, -0.8))
    assert_like_opencv(grey(a), grey(b), **kw)


def test_equals_opencv_step_by_step():
    """Each piece alone (one level, one warp, one iteration; then more of each) agrees with
    OpenCV to float rounding."""
    a, b, _ = moved(photo(), angle=2.0, shift=(1.7, -0.8))
    a, b = grey(a), grey(b)
    few = dict(scales=1, warps=1, inner_iterations=1, outer_iterations=1, median_filtering=0)
    np.testing.assert_array_equal(ours(a, b, **few), opencv(a, b, **few))  # measured: equal
    for more, atol in (
        (dict(inner_iterations=30, epsilon=0.0), 1e-5),  # measured: 1.4e-6
        (dict(warps=2, epsilon=0.0), 1e-4),  # the bicubic warp (1.7e-5)
        (dict(scales=2, epsilon=0.0), 4e-4),  # the pyramid and the flow's upsampling (8e-5)
        (dict(inner_iterations=30, outer_iterations=3, median_filtering=5, epsilon=0.0), 1e-5),
    ):
        kw = {**few, **more}
        np.testing.assert_allclose(ours(a, b, **kw), opencv(a, b, **kw), rtol=0, atol=atol)


def test_equals_opencv_on_a_texture_and_small_frames():
    t = texture(136, 168)
    shifted = cv2.warpAffine(t, np.float32([[1, 0, 2.3], [0, 1, -1.4]]), t.shape[::-1])
    a, b = (x[20:-20, 20:-20].round().astype(np.uint8) for x in (t, shifted))
    assert_like_opencv(a, b)
    # small frames: 18 x 24 has one level (the next would be under 16 pixels), 24 x 30 two
    for h, w in ((18, 24), (24, 30)):
        assert_like_opencv(a[40 : 40 + h, 50 : 50 + w].copy(), b[40 : 40 + h, 50 : 50 + w].copy())
    for h, w in ((5, 1), (1, 7), (2, 2)):  # degenerate sizes give a finite flow
        assert np.isfinite(ours(a[:h, :w].copy(), b[:h, :w].copy())).all()


def test_ground_truth_motion():
    """End-point error against the true flow of a moved photograph, next to OpenCV's."""
    image = photo()
    # (rotation in degrees, shift, EPE bound); measured: 0.019 and 0.046 px
    for angle, shift, limit in ((0.0, (2.5, -1.5), 0.03), (3.0, (1.0, 0.5), 0.07)):
        a, b, flow = moved(image, angle, shift)
        a, b = grey(a), grey(b)
        inner = (slice(None), slice(10, -10), slice(10, -10))  # away from what moved out
        epe = np.sqrt(((ours(a, b) - flow)[inner] ** 2).sum(0)).mean()
        epe_cv = np.sqrt(((opencv(a, b) - flow)[inner] ** 2).sum(0)).mean()
        print(f"angle {angle}, shift {shift}: EPE {epe:.4f} px (OpenCV {epe_cv:.4f})")
        assert epe < limit and abs(epe - epe_cv) < 0.003


def frames(n=3, h=36, w=44):
    """n grey pairs with different motions (float 0..255)."""
    t = torch.from_numpy(texture(h + 10, w + 10, seed=3))
    shifts = [(2, -1), (-1, 3), (0, 0), (1, 1)]
    a = torch.stack([t[5 : 5 + h, 5 : 5 + w] for _ in range(n)])
    b = torch.stack(
        [t[5 - dy : 5 - dy + h, 5 - dx : 5 - dx + w] for dx, dy in shifts[:n]]
    )  # b(x + dx, y + dy) = a(x, y)
    return a.contiguous(), b.contiguous()


def test_recovers_integer_shifts_and_batch_pairs_do_not_mix():
    a, b = frames()
    flow = optical_flow_tvl1(a, b)
    for i, (dx, dy) in enumerate([(2, -1), (-1, 3), (0, 0)]):
        mean = flow[i, :, 6:-6, 6:-6].mean((1, 2))
        torch.testing.assert_close(
            mean, torch.tensor([dx, dy], dtype=torch.float), atol=0.05, rtol=0
        )
        assert torch.equal(optical_flow_tvl1(a[i], b[i]), flow[i])  # unbatched, alone


@pytest.mark.parametrize(
    "kw",
    [dict(epsilon=0.0), dict(scales=3, warps=2, median_filtering=3, scale_step=0.6, epsilon=0.0)],
)
def test_equals_reference(kw):
    a, b = frames()
    got = optical_flow_tvl1(a, b, **kw)
    want = _reference.optical_flow_tvl1(a, b, **kw)
    # the same steps in float32; sums and products in another order (measured: 2e-4)
    torch.testing.assert_close(got, want, atol=2e-3, rtol=0)
    assert (got - want).abs().mean() < 1e-5


def test_stopping():
    """A pair stops its warp's iterations once its flow changes by at most epsilon^2 per
    pixel: with a huge epsilon every warp does one iteration."""
    a, b = frames(2)
    stopped = optical_flow_tvl1(a, b, epsilon=1e3)
    once = optical_flow_tvl1(a, b, epsilon=0.0, inner_iterations=1, outer_iterations=1)
    assert torch.equal(stopped, once)
    assert not torch.equal(optical_flow_tvl1(a, b), once)


@pytest.mark.parametrize(
    "kw",
    [
        dict(scales=2, warps=2, inner_iterations=4, outer_iterations=2),
        dict(scales=2, warps=1, inner_iterations=3, outer_iterations=2, median_filtering=3),
        dict(scales=1, warps=2, inner_iterations=30, outer_iterations=3, epsilon=0.05),
    ],
)
def test_cuda_source_in_emulation_equals_cpu(kw):
    a, b = frames(2, 20, 24)
    args = {**DEFAULTS, **kw}
    emu = torch.ops.actionkit_emu.optical_flow_tvl1(a, b, **args)
    cpu = optical_flow_tvl1(a, b, **kw)
    # one math; the error sums are added in another order (a stopping decision could flip)
    torch.testing.assert_close(emu, cpu, atol=1e-5, rtol=0)


def test_cuda_source_stops_early_in_emulation():
    a, b = frames(2, 20, 24)
    emu = torch.ops.actionkit_emu.optical_flow_tvl1(a, b, **{**DEFAULTS, "epsilon": 1e3})
    assert torch.equal(emu, optical_flow_tvl1(a, b, epsilon=1e3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a: optical_flow_tvl1(a, a[:, :-1]), "differ in shape"),
        (lambda a: optical_flow_tvl1(a[..., None].expand(-1, -1, -1, 3), a[..., None]), "differ"),
        (lambda a: optical_flow_tvl1(a[None], a[None]), r"grey \[N, H, W\]"),
        (lambda a: optical_flow_tvl1(a, a, tau=0), "tau must be positive"),
        (lambda a: optical_flow_tvl1(a, a, scales=0), "scales must be >= 1"),
        (lambda a: optical_flow_tvl1(a, a, scale_step=1.0), r"scale_step must be in \(0, 1\)"),
        (lambda a: optical_flow_tvl1(a, a, median_filtering=7), "median_filtering must be"),
        (lambda a: optical_flow_tvl1(a, a, inner_iterations=0), "inner_iterations and outer"),
        (lambda a: rgb_to_grey(a), "must end in 3 channels"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        call(torch.zeros(2, 20, 24))


def test_opcheck():
    a, b = frames(2, 18, 20)
    torch.library.opcheck(
        torch.ops.actionkit.optical_flow_tvl1.default, (a, b), dict(warps=1, outer_iterations=1)
    )
