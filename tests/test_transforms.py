"""Transforms: MMAction2's box arithmetic (hand-worked), the lazy views rendered by the
fused op against explicit crops/resizes/flips, output layouts and colour jitter."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actionkit.config import ConfigError, build_transform
from actionkit.data import transforms as T
from actionkit.ops import preprocess

NO_NORM = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def frames(t=4, h=256, w=340, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=gen)


def boxes_of(clip):
    return [tuple(round(v, 6) for v in b) for b in clip.boxes.tolist()]


@pytest.mark.parametrize(
    "hw,scale,keep,expected",
    [
        ((256, 340), (-1, 256), True, (256, 340)),
        ((240, 320), (-1, 256), True, (256, 341)),  # 320 * 256 / 240 = 341.33 -> 341
        ((480, 270), (-1, 256), True, (455, 256)),  # portrait: the short side is the width
        ((240, 320), (224, 224), False, (224, 224)),
        ((240, 320), (340, 256), True, (255, 340)),  # both bounds: min(340/320, 256/240)
        ((240, 320), 0.5, True, (120, 160)),
    ],
)
def test_resize_sizes_follow_mmcv_rescale_size(hw, scale, keep, expected):
    clip = T.Clip(frames(1, *hw))
    assert T.Resize(scale, keep_ratio=keep)(clip).size == expected


def test_resize_rejects_an_int_scale():
    with pytest.raises(ValueError, match=r"Resize: scale 256 is an int: write \(-1, 256\) for"):
        T.Resize(256)
    with pytest.raises(ConfigError, match=r"pipeline\[0\]: Resize: scale 256 is an int"):
        build_transform({"type": "Resize", "scale": 256}, "run.yaml: data.train.pipeline[0]")


def test_center_three_and_ten_crop_boxes_hand_worked():
    clip = T.Clip(frames())  # 340 x 256
    assert boxes_of(T.CenterCrop(224)(clip)) == [(58, 16, 282, 240)]
    # ThreeCrop 256 spans the height: step (340 - 256) // 2 = 42 -> x = 0, 84, 42.
    three = T.ThreeCrop(256)(clip)
    assert boxes_of(three) == [(0, 0, 256, 256), (84, 0, 340, 256), (42, 0, 298, 256)]
    assert three.flips == [False] * 3
    # TenCrop 224: steps (116 // 4, 32 // 4) = (29, 8): corners and centre, then mirrored.
    ten = T.TenCrop(224)(clip)
    five = [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16)]
    assert boxes_of(ten) == [(x, y, x + 224, y + 224) for x, y in five] * 2
    assert ten.flips == [False] * 5 + [True] * 5
    with pytest.raises(ValueError, match="must span the width or the height"):
        T.ThreeCrop(224)(clip)


def test_multiscale_crop_draws_exactly_the_mmaction2_candidates():
    # 340 x 256, scales (1, .875, .75, .66): sides 256, 224, 192, 168 (168 -> int(168.96)),
    # width and height at most one scale apart; 5 fixed offsets with steps ((340-w)//4, (256-h)//4).
    crop = T.MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66))
    sides = [256, 224, 192, 168]
    expected = set()
    for i, h in enumerate(sides):
        for j, w in enumerate(sides):
            if abs(i - j) <= 1:
                ws, hs = (340 - w) // 4, (256 - h) // 4
                for x, y in [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]:
                    expected.add((x, y, x + w, y + h))
    rng = np.random.default_rng(0)
    drawn = {crop.box(256, 340, rng) for _ in range(3000)}
    assert drawn == expected


def test_random_resized_crop_ranges_and_fallback():
    rng = np.random.default_rng(0)
    rrc = T.RandomResizedCrop()
    for _ in range(500):
        x1, y1, x2, y2 = rrc.box(256, 340, rng)
        w, h = x2 - x1, y2 - y1
        assert 0 <= x1 < x2 <= 340 and 0 <= y1 < y2 <= 256
        assert 0.08 * 0.999 <= w * h / (256 * 340) <= 1.0
        assert 3 / 4 - 0.05 <= w / h <= 4 / 3 + 0.05  # rounding of w and h
    # Impossible area: every attempt fails, the centred square is the fallback.
    assert T.RandomResizedCrop(area_range=(2.0, 3.0)).box(256, 340, rng) == (42, 0, 298, 256)


def test_random_crop_offsets_as_mmaction2_draws_them():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(2000):
        ((x1, y1, x2, y2),) = boxes_of(T.RandomCrop(112)(T.Clip(frames(1, 128, 171)), rng))
        assert (x2 - x1, y2 - y1) == (112, 112)
        seen.add((x1, y1))
    # randint(0, side - size): x in 0..58, y in 0..15, never the last position
    assert {x for x, _ in seen} == set(range(59)) and {y for _, y in seen} == set(range(16))
    assert boxes_of(T.RandomCrop(200)(T.Clip(frames(1, 128, 171)), rng)) == [(0, 0, 171, 128)]


def test_lazy_views_render_like_explicit_crop_resize_flip():
    x = frames(3, 60, 80)
    clip = T.Compose([T.Resize((-1, 30)), T.CenterCrop(20), T.Flip(1.0)])(T.Clip(x))
    # Resize to 30x40 then centre 20x20 at (10, 5) = frame box (20, 10, 60, 50), mirrored.
    assert boxes_of(clip) == [(20, 10, 60, 50)] and clip.flips == [True] and clip.size == (20, 20)
    out = T.FormatShape("NCTHW", **NO_NORM)(clip)  # [1, 3, T, 20, 20]
    crop = x[:, 10:50, 20:60].permute(0, 3, 1, 2).float()
    expected = F.interpolate(crop, size=(20, 20), mode="bilinear", align_corners=False).flip(-1)
    torch.testing.assert_close(out[0].permute(1, 0, 2, 3), expected, atol=1e-4, rtol=0)


def test_crop_after_flip_is_taken_from_the_mirrored_view():
    x = frames(2, 8, 12)
    clip = T.Flip(1.0)(T.Clip(x))
    clip = clip.crop(0, 1, 4, 7)  # the left 4 columns of the mirrored view
    out = T.FormatShape("NCHW", **NO_NORM)(clip)  # integer boxes at scale 1: exact pixels
    expected = x[:, 1:7, 8:12].flip(2).permute(0, 3, 1, 2).float()
    assert torch.equal(out, expected)


def test_output_layouts_and_view_order():
    x = frames(6, 64, 96)  # 2 clips x 3 frames
    clip = T.ThreeCrop(64)(T.Clip(x, num_clips=2, clip_len=3))
    nchw = T.FormatShape("NCHW", **NO_NORM)(clip)
    ncthw = T.FormatShape("NCTHW", **NO_NORM)(clip)
    assert nchw.shape == (3 * 2 * 3, 3, 64, 64) and ncthw.shape == (3 * 2, 3, 3, 64, 64)
    # View-major: entry 0..5 of NCHW are crop 0 of every frame (clip-major), crop 0 = x 0..64.
    assert torch.equal(nchw[:6], x[:, :, 0:64].permute(0, 3, 1, 2).float())
    assert torch.equal(ncthw[1], x[3:6, :, 0:64].permute(3, 0, 1, 2).float())  # crop 0, clip 1
    assert torch.equal(ncthw[2], x[0:3, :, 32:96].permute(3, 0, 1, 2).float())  # crop 1, clip 0
    normalized = T.FormatShape("NCTHW")(clip)
    mean = torch.tensor(T.IMAGENET_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(T.IMAGENET_STD).view(3, 1, 1, 1)
    torch.testing.assert_close(normalized, (ncthw - mean) / std, atol=1e-5, rtol=0)
    half = T.FormatShape("NCTHW", dtype=torch.bfloat16)(clip)
    assert half.dtype == torch.bfloat16 and torch.equal(half, normalized.to(torch.bfloat16))


def test_flip_ratio_and_label_map():
    rng = np.random.default_rng(0)
    clip = T.Clip(frames(1, 8, 8), label=3)
    flips = [T.Flip(0.5)(clip, rng).flips[0] for _ in range(2000)]
    assert 0.45 < np.mean(flips) < 0.55
    flipped = T.Flip(1.0, flip_label_map={3: 4})(clip, rng)
    assert flipped.label == 4 and flipped.flips == [True]
    assert T.Flip(0.0, flip_label_map={3: 4})(clip, rng).label == 3


def test_color_jitter():
    rng = np.random.default_rng(0)
    x = frames(2, 16, 16)
    clip = T.Clip(x)
    same = T.ColorJitter(0, 0, 0, 0)(clip, rng)
    assert torch.equal(same.frames, x)
    # Brightness alone: frames times one factor per clip.
    jit = T.ColorJitter(brightness=0.4, contrast=0, saturation=0, hue=0)
    out = jit(clip, np.random.default_rng(1)).frames.float()
    ratio = out[x > 50] / x[x > 50].float()
    assert ratio.std() < 0.01 and 0.6 <= ratio.mean() <= 1.4
    # Hue: a third of a turn takes red to green.
    red = torch.zeros(1, 2, 2, 3, dtype=torch.uint8)
    red[..., 0] = 255
    green = T._shift_hue(red.float(), 1 / 3).round().to(torch.uint8)
    assert green[0, 0, 0].tolist() == [0, 255, 0]
    # Jitter after a crop acts on the cropped pixels (the view is materialized).
    cropped = T.ColorJitter(0, 0, 0, 0)(T.CenterCrop(8)(clip), rng)
    assert torch.equal(cropped.frames, x[:, 4:12, 4:12])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Clip.frames must be uint8"):
        T.Clip(torch.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match="not num_clips x clip_len"):
        T.Clip(frames(5, 8, 8), num_clips=2, clip_len=3)
    with pytest.raises(ValueError, match="outside"):
        T.Clip(frames(1, 8, 8)).crop(0, 0, 9, 8)
    with pytest.raises(ValueError, match="input_format"):
        T.FormatShape("NHWC")(T.Clip(frames(1, 8, 8)))
    with pytest.raises(ValueError, match="flip_ratio"):
        T.Flip(1.5)(T.Clip(frames(1, 8, 8)), np.random.default_rng())


def test_pipeline_matches_separate_ops_on_a_real_tsn_recipe():
    # MMAction2's TSN train recipe, lazily: the result is one resample of a frame box.
    x = frames(8, 256, 340)
    rng = np.random.default_rng(3)
    pipeline = T.Compose(
        [
            T.Resize((-1, 256)),
            T.MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66)),
            T.Resize((224, 224), keep_ratio=False),
            T.Flip(0.5),
        ]
    )
    clip = pipeline(T.Clip(x, num_clips=8, clip_len=1), rng)
    out = T.FormatShape("NCHW")(clip)
    assert out.shape == (8, 3, 224, 224)
    box = clip.boxes[0].float().expand(8, 4)
    expected = preprocess(
        x[:, None], (224, 224), box, torch.tensor([clip.flips[0]] * 8), layout="NTCHW"
    )[:, 0]
    assert torch.equal(out, expected)
