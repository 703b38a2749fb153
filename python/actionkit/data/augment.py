"""The transformers' training augmentations, one random draw per clip so every frame of
a clip changes alike:

- :class:`RandAugment`: RandAugment (Cubuk et al. 2020) as timm's
  ``rand-m{M}-n{N}-mstd{S}-inc1`` defines it, the policy VideoMAE fine-tunes with
  (MMAction2's MViT configs use pytorchvideo's close relative): ``num_ops`` operations
  drawn with replacement from fifteen, each applied with probability ``prob`` at a
  magnitude drawn around ``magnitude`` (of 10) with std ``magnitude_std``; the
  "increasing" variants, where a higher magnitude always means a stronger change.
  The pixel operations follow PIL's ``ImageOps`` / ``ImageEnhance`` definitions, the
  geometric ones PIL's affine ``transform`` (bilinear, filled with ``fill``).
- :class:`RandomErasing`: one rectangle (the same in every frame: timm's ``cube``
  erasing) filled with per-pixel random values.

Both work on pixels, so they materialize the clip's geometric views first (put them after
the crops and resizes, before ``FormatShape``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .transforms import Clip, _rng

# ---- the operations: x is float [T, H, W, 3] in 0..255 (whole numbers), one per clip


def _gray(x: Tensor) -> Tensor:
    """PIL's ``convert("L")``: (299 R + 587 G + 114 B) / 1000, rounded."""
    return torch.floor((x[..., 0] * 299 + x[..., 1] * 587 + x[..., 2] * 114) / 1000 + 0.5)


def _blend(degenerate: Tensor, x: Tensor, factor: float) -> Tensor:
    """PIL's ``Image.blend`` as ``ImageEnhance`` uses it, clipped to 0..255."""
    return (degenerate + factor * (x - degenerate)).clamp(0, 255).floor()


def auto_contrast(x: Tensor, _: float = 0.0) -> Tensor:
    """Each frame's channels stretched to 0..255 (PIL ``autocontrast``, no cutoff)."""
    lo = x.amin(dim=(1, 2), keepdim=True)
    hi = x.amax(dim=(1, 2), keepdim=True)
    scale = 255 / (hi - lo).clamp(min=1)
    out = ((x - lo) * scale).floor().clamp(0, 255)
    return torch.where(hi > lo, out, x)


def equalize(x: Tensor, _: float = 0.0) -> Tensor:
    """Histogram equalisation of each frame's channels (PIL ``equalize``)."""
    t, h, w, c = x.shape
    flat = x.permute(0, 3, 1, 2).reshape(t * c, h * w).long()
    hist = torch.zeros(t * c, 256, dtype=torch.long).scatter_add_(1, flat, torch.ones_like(flat))
    last = hist.shape[1] - 1 - torch.flip(hist > 0, [1]).int().argmax(1)  # last non-empty bin
    step = (hist.sum(1) - hist.gather(1, last[:, None])[:, 0]) // 255
    before = torch.cumsum(hist, 1) - hist  # pixels below each value
    lut = ((step[:, None] // 2 + before) // step.clamp(min=1)[:, None]).clamp(max=255)
    out = lut.gather(1, flat).float().view(t, c, h, w).permute(0, 2, 3, 1)
    return torch.where((step > 0).view(t, 1, 1, c), out, x)


def invert(x: Tensor, _: float = 0.0) -> Tensor:
    return 255 - x


def posterize(x: Tensor, bits: float) -> Tensor:
    """Keeps the ``bits`` high bits of each value (at least 1: PIL refuses 0, which the
    increasing variant asks for at magnitude 10 exactly)."""
    keep = 256 - 2 ** (8 - max(int(bits), 1))
    return (x.long() & keep).float()


def solarize(x: Tensor, threshold: float) -> Tensor:
    return torch.where(x < threshold, x, 255 - x)


def solarize_add(x: Tensor, add: float, threshold: float = 128) -> Tensor:
    return torch.where(x < threshold, (x + add).clamp(max=255), x)


def color(x: Tensor, factor: float) -> Tensor:
    return _blend(_gray(x)[..., None].expand_as(x), x, factor)


def contrast(x: Tensor, factor: float) -> Tensor:
    mean = torch.floor(_gray(x).mean(dim=(1, 2), keepdim=True) + 0.5)[..., None]
    return _blend(mean.expand_as(x), x, factor)


def brightness(x: Tensor, factor: float) -> Tensor:
    return _blend(torch.zeros_like(x), x, factor)


def sharpness(x: Tensor, factor: float) -> Tensor:
    """Blended with PIL's SMOOTH filter (centre 5, neighbours 1, / 13); borders kept."""
    kernel = torch.ones(3, 1, 3, 3, dtype=x.dtype)
    kernel[:, :, 1, 1] = 5
    planes = x.permute(0, 3, 1, 2)
    smooth = torch.floor(F.conv2d(planes, kernel, groups=3) / 13 + 0.5)
    degenerate = planes.clone()
    degenerate[:, :, 1:-1, 1:-1] = smooth
    return _blend(degenerate.permute(0, 2, 3, 1), x, factor)


def affine(x: Tensor, matrix: tuple[float, ...], fill=(128, 128, 128)) -> Tensor:
    """PIL's ``transform(AFFINE, (a, b, c, d, e, f))``: output pixel ``(x, y)`` (pixel
    coordinates, centres at +0.5) takes the input at ``(a x + b y + c, d x + e y + f)``,
    bilinear; outside the frame ``fill``."""
    t, h, w, _ = x.shape
    a, b, c, d, e, f = matrix
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    sx, sy = a * xs + b * ys + c, d * xs + e * ys + f
    grid = torch.stack((sx / w * 2 - 1, sy / h * 2 - 1), -1).to(x.dtype)
    planes = torch.cat((x.permute(0, 3, 1, 2), torch.ones(t, 1, h, w, dtype=x.dtype)), 1)
    out = F.grid_sample(planes, grid.expand(t, h, w, 2), "bilinear", "zeros", align_corners=False)
    inside = out[:, 3:]  # how much of each output pixel came from inside the frame
    background = x.new_tensor(fill).view(1, 3, 1, 1)
    out = out[:, :3] + (1 - inside) * background
    return out.permute(0, 2, 3, 1).round().clamp(0, 255)


def rotate(x: Tensor, degrees: float, fill=(128, 128, 128)) -> Tensor:
    """Counter-clockwise about the centre, as PIL's ``rotate``."""
    h, w = x.shape[1:3]
    angle = -math.radians(degrees)
    cx, cy = w / 2, h / 2
    a, b = math.cos(angle), math.sin(angle)
    matrix = (a, b, cx - a * cx - b * cy, -b, a, cy + b * cx - a * cy)
    return affine(x, matrix, fill)


def shear_x(x: Tensor, level: float, fill=(128, 128, 128)) -> Tensor:
    return affine(x, (1, level, 0, 0, 1, 0), fill)


def shear_y(x: Tensor, level: float, fill=(128, 128, 128)) -> Tensor:
    return affine(x, (1, 0, 0, level, 1, 0), fill)


def translate_x(x: Tensor, fraction: float, fill=(128, 128, 128)) -> Tensor:
    return affine(x, (1, 0, fraction * x.shape[2], 0, 1, 0), fill)


def translate_y(x: Tensor, fraction: float, fill=(128, 128, 128)) -> Tensor:
    return affine(x, (1, 0, 0, 0, 1, fraction * x.shape[1]), fill)


def _signed(value: float, rng: np.random.Generator) -> float:
    return -value if rng.random() < 0.5 else value


# name -> (operation, its argument from the magnitude m in [0, 10] (and a sign draw),
# whether it is geometric (takes the fill)); timm's _RAND_INCREASING_TRANSFORMS
OPS = {
    "AutoContrast": (auto_contrast, lambda m, rng: 0.0, False),
    "Equalize": (equalize, lambda m, rng: 0.0, False),
    "Invert": (invert, lambda m, rng: 0.0, False),
    "Rotate": (rotate, lambda m, rng: _signed(m / 10 * 30, rng), True),
    "PosterizeIncreasing": (posterize, lambda m, rng: 4 - int(m / 10 * 4), False),
    "SolarizeIncreasing": (solarize, lambda m, rng: 256 - int(m / 10 * 256), False),
    "SolarizeAdd": (solarize_add, lambda m, rng: int(m / 10 * 110), False),
    "ColorIncreasing": (color, lambda m, rng: 1 + _signed(m / 10 * 0.9, rng), False),
    "ContrastIncreasing": (contrast, lambda m, rng: 1 + _signed(m / 10 * 0.9, rng), False),
    "BrightnessIncreasing": (brightness, lambda m, rng: 1 + _signed(m / 10 * 0.9, rng), False),
    "SharpnessIncreasing": (sharpness, lambda m, rng: 1 + _signed(m / 10 * 0.9, rng), False),
    "ShearX": (shear_x, lambda m, rng: _signed(m / 10 * 0.3, rng), True),
    "ShearY": (shear_y, lambda m, rng: _signed(m / 10 * 0.3, rng), True),
    "TranslateXRel": (translate_x, lambda m, rng: _signed(m / 10 * 0.45, rng), True),
    "TranslateYRel": (translate_y, lambda m, rng: _signed(m / 10 * 0.45, rng), True),
}


@dataclass(frozen=True)
class RandAugment:
    """``num_ops`` operations of :data:`OPS` (drawn with replacement), each applied with
    ``prob`` at a magnitude ``N(magnitude, magnitude_std)`` clipped to [0, 10]; the same
    draws for every frame of the clip. VideoMAE's setting is ``magnitude=7, num_ops=4,
    magnitude_std=0.5``; ``fill`` is its ImageNet mean in 0..255."""

    magnitude: float = 7.0
    num_ops: int = 4
    magnitude_std: float = 0.5
    prob: float = 0.5
    fill: tuple[int, int, int] = (124, 116, 104)

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        rng = _rng(rng)
        if not 0 <= self.magnitude <= 10 or self.num_ops < 0:
            raise ValueError(
                f"RandAugment: magnitude must be in [0, 10] and num_ops >= 0, got "
                f"{self.magnitude} and {self.num_ops}"
            )
        clip = clip.materialize()
        x = clip.frames.float()
        names = list(OPS)
        for i in rng.integers(len(names), size=self.num_ops):
            if rng.random() >= self.prob:
                continue
            magnitude = self.magnitude
            if self.magnitude_std > 0:
                magnitude = float(np.clip(rng.normal(magnitude, self.magnitude_std), 0, 10))
            op, argument, geometric = OPS[names[i]]
            value = argument(magnitude, rng)
            x = op(x, value, tuple(self.fill)) if geometric else op(x, value)
        return Clip(x.to(torch.uint8), clip.num_clips, clip.clip_len, clip.label)


@dataclass(frozen=True)
class RandomErasing:
    """With probability ``prob``, one rectangle of ``area`` (a fraction of the frame,
    drawn uniformly) and log-uniform aspect ratio in ``ratio`` — the same rectangle in
    every frame — filled with random values: per pixel normal around the ImageNet mean
    with its std (timm's ``mode="pixel"`` in normalised units), clipped to 0..255. Up to
    10 tries to fit the rectangle in the frame, else nothing is erased."""

    prob: float = 0.25
    area: tuple[float, float] = (0.02, 1 / 3)
    ratio: tuple[float, float] = (0.3, 1 / 0.3)
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        rng = _rng(rng)
        if rng.random() >= self.prob:
            return clip
        clip = clip.materialize()
        t, h, w, _ = clip.frames.shape
        for _ in range(10):
            target = rng.uniform(*self.area) * h * w
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            eh, ew = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < eh < h and 0 < ew < w:
                y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
                noise = rng.standard_normal((t, eh, ew, 3)) * self.std + np.array(self.mean)
                frames = clip.frames.clone()
                frames[:, y : y + eh, x : x + ew] = torch.from_numpy(
                    noise.round().clip(0, 255).astype(np.uint8)
                )
                return Clip(frames, clip.num_clips, clip.clip_len, clip.label)
        return clip
