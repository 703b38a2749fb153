"""RandAugment and RandomErasing (actionkit.data.augment): each operation against PIL's
definition frame by frame (PIL's fixed-point rounding: within 1 grey level for the pixel
operations), one draw per clip, and the config names."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from actionkit.config import build_transform
from actionkit.data import augment as A
from actionkit.data.transforms import Clip, Compose

RNG = np.random.default_rng(0)
# three frames: noise, a smooth gradient with a bright patch, a low-contrast one
_yy, _xx = np.mgrid[0:18, 0:22]
FRAMES = np.stack(
    [
        RNG.integers(0, 256, (18, 22, 3)),
        np.stack([_xx * 10, _yy * 12, (_xx + _yy) * 5], -1) % 256,
        60 + RNG.integers(0, 40, (18, 22, 3)),
    ]
).astype(np.uint8)
FRAMES[1, 4:9, 5:12] = 250


def _ours(op, *args):
    return op(torch.from_numpy(FRAMES).float(), *args).numpy()


def _pil(fn):
    return np.stack([np.asarray(fn(Image.fromarray(f))) for f in FRAMES]).astype(np.float64)


@pytest.mark.parametrize(
    "op,args,pil",
    [
        (A.auto_contrast, (), ImageOps.autocontrast),
        (A.equalize, (), ImageOps.equalize),
        (A.invert, (), ImageOps.invert),
        (A.posterize, (2,), lambda im: ImageOps.posterize(im, 2)),
        (A.posterize, (1,), lambda im: ImageOps.posterize(im, 1)),
        (A.solarize, (100,), lambda im: ImageOps.solarize(im, 100)),
        (A.color, (1.7,), lambda im: ImageEnhance.Color(im).enhance(1.7)),
        (A.color, (0.2,), lambda im: ImageEnhance.Color(im).enhance(0.2)),
        (A.contrast, (1.6,), lambda im: ImageEnhance.Contrast(im).enhance(1.6)),
        (A.contrast, (0.4,), lambda im: ImageEnhance.Contrast(im).enhance(0.4)),
        (A.brightness, (1.5,), lambda im: ImageEnhance.Brightness(im).enhance(1.5)),
        (A.brightness, (0.3,), lambda im: ImageEnhance.Brightness(im).enhance(0.3)),
        (A.sharpness, (1.8,), lambda im: ImageEnhance.Sharpness(im).enhance(1.8)),
        (A.sharpness, (0.1,), lambda im: ImageEnhance.Sharpness(im).enhance(0.1)),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_pixel_operations_equal_pil(op, args, pil):
    ours, ref = _ours(op, *args), _pil(pil)
    assert np.abs(ours - ref).max() <= 1, np.abs(ours - ref).max()
    assert (ours != ref).mean() < 0.05  # off by one at a few values only


def test_solarize_add_by_hand():
    x = torch.tensor([[[[0.0, 100.0, 127.0]], [[128.0, 200.0, 250.0]]]])  # [1, 2, 1, 3]
    out = A.solarize_add(x, 60)
    assert out.flatten().tolist() == [60, 160, 187, 128, 200, 250]


def _pil_affine(matrix):
    return lambda im, fill: im.transform(
        im.size, Image.AFFINE, matrix, Image.BILINEAR, fillcolor=fill
    )


@pytest.mark.parametrize(
    "op,value,pil",
    [
        (A.rotate, 20.0, lambda im, f: im.rotate(20.0, Image.BILINEAR, fillcolor=f)),
        (A.rotate, -30.0, lambda im, f: im.rotate(-30.0, Image.BILINEAR, fillcolor=f)),
        (A.shear_x, 0.2, _pil_affine((1, 0.2, 0, 0, 1, 0))),
        (A.shear_y, -0.25, _pil_affine((1, 0, 0, -0.25, 1, 0))),
        (A.translate_x, 0.3, _pil_affine((1, 0, 0.3 * 22, 0, 1, 0))),
        (A.translate_y, -0.2, _pil_affine((1, 0, 0, 0, 1, -0.2 * 18))),
    ],
)
def test_geometric_operations_equal_pil_inside_the_frame(op, value, pil):
    fill = (124, 116, 104)
    ours, ref = _ours(op, value, fill), _pil(lambda im: pil(im, fill))
    # PIL samples the fill outright where a bilinear footprint leaves the frame; we blend
    # by the footprint's share: compare where both are well inside or well outside
    inside = _ours(op, value, (0, 0, 0)) != _ours(op, value, (255, 255, 255))
    core = ~inside.any(-1)
    # one pixel off the border between inside and fill
    core = core & ~np.roll(~core, 1, 1) & ~np.roll(~core, -1, 1)
    core = core & ~np.roll(~core, 1, 2) & ~np.roll(~core, -1, 2)
    diff = np.abs(ours - ref)[core]
    assert core.mean() > 0.3 and diff.max() <= 1, (diff.max(), diff.mean())


def _clip(frames: np.ndarray) -> Clip:
    return Clip(torch.from_numpy(frames.copy()))


def test_randaugment_changes_every_frame_alike():
    same = np.repeat(FRAMES[1:2], 4, axis=0)
    seen = set()
    for seed in range(30):
        out = A.RandAugment(magnitude=9, num_ops=2, prob=1.0)(
            _clip(same), np.random.default_rng(seed)
        )
        frames = out.frames.numpy()
        assert (frames == frames[:1]).all()  # one draw for the clip
        seen.add(frames[0].tobytes())
    assert len(seen) > 20  # and another draw per clip
    again = A.RandAugment()(_clip(FRAMES), np.random.default_rng(3)).frames
    assert torch.equal(again, A.RandAugment()(_clip(FRAMES), np.random.default_rng(3)).frames)
    untouched = A.RandAugment(prob=0.0)(_clip(FRAMES), np.random.default_rng(0)).frames
    assert np.array_equal(untouched.numpy(), FRAMES)


def test_random_erasing_erases_one_box_in_every_frame():
    erase = A.RandomErasing(prob=1.0)
    frames = np.full((3, 40, 50, 3), 7, np.uint8)
    for seed in range(10):
        out = erase(_clip(frames), np.random.default_rng(seed)).frames.numpy()
        changed = (out != 7).any(-1).any(0)
        ys, xs = np.nonzero(changed)
        if len(ys) == 0:  # (10 failed tries: nothing erased)
            continue
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        assert 0.02 * 2000 * 0.5 <= box <= 2000 / 3 * 1.2
        region = out[:, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert not (region[0] == region[1]).all()  # fresh noise per frame, same box
        outside = np.ones((40, 50), bool)
        outside[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = False
        assert (out[:, outside] == 7).all()
    assert np.array_equal(A.RandomErasing(prob=0.0)(_clip(frames)).frames.numpy(), frames)


def test_config_names_build_them():
    assert isinstance(
        build_transform({"type": "RandAugment", "magnitude": 7, "num_ops": 4}), A.RandAugment
    )
    assert isinstance(build_transform({"type": "RandomErasing", "prob": 0.25}), A.RandomErasing)
    with pytest.raises(ValueError, match="RandAugment: magnitude must be in"):
        A.RandAugment(magnitude=12)(_clip(FRAMES))


CONFIGS = sorted((Path(__file__).parents[1] / "configs" / "recognition").glob("*.yaml"))


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if "RandAugment" in p.read_text()], ids=lambda p: p.stem
)
def test_configs_randaugment_where_the_recipe_puts_it_runs_through(path):
    # where MMAction2's Kinetics recipes, VideoMAE and PySlowFast apply it: on the resized
    # frames, before the random resized crop (the lazy resize is rendered for it, then
    # cropped); MMAction2's MViT Something-Something V2 recipes apply it to the crop,
    # after its resize (test_recipes holds each config to its recipe's order)
    from actionkit.config import load_config

    steps = load_config(path).data.train.pipeline
    types = [s["type"] for s in steps]
    crop = types.index("RandomResizedCrop")
    assert types.index("RandAugment") in (crop - 1, crop + 2)
    frames = np.random.default_rng(0).integers(0, 256, (4, 120, 160, 3), dtype=np.uint8)
    pipeline = Compose([build_transform(s) for s in steps])
    out = pipeline(_clip(frames), np.random.default_rng(1))
    crop = [s["scale"] for s in steps if s["type"] == "Resize"][-1]
    assert tuple(out.shape[-3:]) == (4, *crop) and torch.isfinite(out).all()
