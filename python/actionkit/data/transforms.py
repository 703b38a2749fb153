"""Transforms on decoded clips, with MMAction2 1.x's semantics and one pixel pass.

A :class:`Clip` carries the decoded uint8 frames ``[T, H, W, 3]`` untouched while the
geometric transforms (``Resize``, ``RandomResizedCrop``, ``MultiScaleCrop``,
``RandomCrop``, ``CenterCrop``, ``ThreeCrop``, ``TenCrop``, ``Flip``) only update
*where* each view of the output comes from: a crop box in frame pixels, an output size
and a flip flag per view (MMAction2's ``lazy=True`` mode, always). ``FormatShape`` then
makes the model input with the fused ``actionkit.ops.preprocess`` op — crop, bilinear
resize, flip, normalize and layout in one pass, on the CPU or the GPU. Composed resizes
and crops resample the frames once instead of once per step (values differ slightly from
resampling twice, as in MMAction2's lazy mode). ``ColorJitter`` needs pixels: it
materializes the views first.

Box samplers take a ``numpy.random.Generator`` (``rng``) so a data loader can make each
sample's randomness reproducible; test-mode transforms draw nothing.

>>> pipeline = Compose([Resize((-1, 256)), RandomResizedCrop(),
...                     Resize((224, 224), keep_ratio=False), Flip(0.5), FormatShape("NCHW")])
>>> x = pipeline(Clip(frames, num_clips=8, clip_len=1), rng)   # float [8, 3, 224, 224]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from ..ops import preprocess
from ..ops.preprocess import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class Clip:
    """Decoded frames and the views to make of them.

    ``frames`` is uint8 ``[num_clips * clip_len, H, W, 3]`` (clip-major, as the samplers
    return indices). ``boxes`` ``[V, 4]`` are crop boxes in frame pixels, one per view
    (one view unless a multi-crop transform ran); ``flips`` a flag per view; ``size`` the
    current ``(h, w)`` of every view; ``label`` rides along (``Flip`` may remap it).

    ``rois`` (detection: actor boxes and proposals) maps names to float64 ``[N, 4]``
    boxes ``x1, y1, x2, y2`` in the current view's pixels; the geometric transforms move
    them as MMAction2 moves ``gt_bboxes`` / ``proposals``: a crop shifts them and clips
    them to ``[0, side - 1]``, a resize scales them, a flip mirrors them about the view's
    width. They ride on single-view clips only.
    """

    frames: Tensor
    num_clips: int = 1
    clip_len: int = 0  # 0: all frames form one clip
    label: object = None
    boxes: Tensor = None
    flips: list[bool] = field(default_factory=list)
    size: tuple[int, int] = None
    rois: dict[str, Tensor] | None = None

    def __post_init__(self):
        if self.frames.dtype != torch.uint8 or self.frames.dim() != 4 or self.frames.shape[3] != 3:
            raise ValueError(
                f"Clip.frames must be uint8 [T, H, W, 3], got {self.frames.dtype} "
                f"{tuple(self.frames.shape)}"
            )
        t, h, w = self.frames.shape[:3]
        if self.clip_len == 0:
            self.clip_len = t // self.num_clips if self.num_clips else 0
        if self.num_clips * self.clip_len != t:
            raise ValueError(
                f"Clip: {t} frames are not num_clips x clip_len = "
                f"{self.num_clips} x {self.clip_len}"
            )
        if self.boxes is None:
            self.boxes = torch.tensor([[0.0, 0.0, float(w), float(h)]], dtype=torch.float64)
            self.flips = [False]
            self.size = (h, w)

    @property
    def frame_size(self) -> tuple[int, int]:
        return tuple(self.frames.shape[1:3])

    def crop(self, x1: float, y1: float, x2: float, y2: float) -> Clip:
        """Crops every view to (x1, y1, x2, y2) in the views' current coordinates."""
        return self.crops([(x1, y1, x2, y2)], flip_copies=False)

    def crops(self, regions: Sequence[tuple], flip_copies: bool = False) -> Clip:
        """Each view becomes one view per region (region-major order); with
        ``flip_copies`` each region is added again mirrored (TenCrop)."""
        h, w = self.size
        if self.rois and (len(regions) != 1 or flip_copies or len(self.flips) != 1):
            raise ValueError("boxes (rois) ride on single-view clips: no multi-crop with them")
        new_boxes, new_flips = [], []
        variants = [False, True] if flip_copies else [False]
        for mirror in variants:
            for x1, y1, x2, y2 in regions:
                if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
                    raise ValueError(f"crop ({x1}, {y1}, {x2}, {y2}) outside the {w}x{h} view")
                for box, flipped in zip(self.boxes.tolist(), self.flips, strict=True):
                    bx1, by1, bx2, by2 = box
                    sx, sy = (bx2 - bx1) / w, (by2 - by1) / h
                    # A flipped view shows the box mirrored: map x back before scaling.
                    cx1, cx2 = (w - x2, w - x1) if flipped else (x1, x2)
                    new_boxes.append([bx1 + cx1 * sx, by1 + y1 * sy, bx1 + cx2 * sx, by1 + y2 * sy])
                    new_flips.append(flipped != mirror)
        boxes = torch.tensor(new_boxes, dtype=torch.float64)
        size = (int(y2 - y1), int(x2 - x1))
        rois = self.rois
        if rois:
            (x1, y1, x2, y2), (ch, cw) = regions[0], size
            shift = torch.tensor([x1, y1, x1, y1], dtype=torch.float64)
            hi = torch.tensor([cw - 1, ch - 1, cw - 1, ch - 1], dtype=torch.float64)
            rois = {k: torch.minimum((v - shift).clamp_(min=0), hi) for k, v in rois.items()}
        return replace(self, boxes=boxes, flips=new_flips, size=size, rois=rois)

    def resized(self, h: int, w: int) -> Clip:
        rois = self.rois
        if rois:
            oh, ow = self.size
            factor = torch.tensor([w / ow, h / oh, w / ow, h / oh], dtype=torch.float64)
            rois = {k: v * factor for k, v in rois.items()}
        return replace(self, size=(int(h), int(w)), rois=rois)

    def flipped(self) -> Clip:
        rois = self.rois
        if rois:
            w = self.size[1]
            rois = {k: torch.stack([w - v[:, 2], v[:, 1], w - v[:, 0], v[:, 3]], 1)
                    for k, v in rois.items()}  # fmt: skip
        return replace(self, flips=[not f for f in self.flips], rois=rois)

    def render(
        self,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        layout: str = "NTCHW",
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """The views as a tensor ``[V * num_clips, C, T, h, w]`` (``NCTHW``) or
        ``[V * num_clips, T, C, h, w]`` (``NTCHW``), view-major, via the fused op."""
        clips = self.frames.view(self.num_clips, self.clip_len, *self.frames.shape[1:])
        outs = []
        for box, flipped in zip(self.boxes, self.flips, strict=True):
            boxes = box.to(torch.float32, copy=True).expand(self.num_clips, 4).to(clips.device)
            flip = torch.full((self.num_clips,), flipped, dtype=torch.bool, device=clips.device)
            outs.append(preprocess(clips, self.size, boxes, flip, mean, std, layout, dtype))
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def materialize(self) -> Clip:
        """Applies the views to the pixels: a Clip whose frames are the (single) view,
        rounded to uint8. Multi-view clips cannot be materialized."""
        if len(self.flips) != 1:
            raise ValueError("materialize() needs a single view; apply multi-crop transforms last")
        out = self.render(layout="NTCHW").round_().clamp_(0, 255).to(torch.uint8)
        frames = out.permute(0, 1, 3, 4, 2).reshape(-1, *self.size, 3).contiguous()
        return Clip(frames, self.num_clips, self.clip_len, self.label, rois=self.rois)


class Compose:
    """Applies transforms in order; each is called as ``t(clip, rng)``."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None):
        rng = _rng(rng)
        for t in self.transforms:
            clip = t(clip, rng)
        return clip

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


def run_transforms(
    transforms: Callable,
    clip: Clip,
    rng: np.random.Generator | None = None,
    size: tuple[int, int] | None = None,
):
    """Runs ``transforms`` (a :class:`Compose` or one transform) and returns ``(output,
    the last Clip)``: the Clip before ``FormatShape`` made the output, with the label and
    boxes (``rois``) as the transforms left them. ``size`` ``(h, w)`` resizes the views
    just before ``FormatShape`` (multigrid training's smaller shapes: the same crops at
    a lower resolution)."""
    rng = _rng(rng)
    steps = transforms.transforms if isinstance(transforms, Compose) else [transforms]
    out, last = clip, clip
    for t in steps:
        if size is not None and isinstance(t, FormatShape) and isinstance(out, Clip):
            out = out.resized(*size)
        out = t(out, rng)
        if isinstance(out, Clip):
            last = out
    return out, last


def apply_transforms(
    transforms: Callable,
    clip: Clip,
    rng: np.random.Generator | None = None,
    size: tuple[int, int] | None = None,
):
    """Runs ``transforms`` (a :class:`Compose` or one transform) and returns ``(output,
    label)``, the label as the last Clip carried it (``Flip`` may remap it); ``size``:
    see :func:`run_transforms`."""
    out, last = run_transforms(transforms, clip, rng, size)
    return out, last.label


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def _pair(size) -> tuple[int, int]:
    """MMAction2's (w, h) convention: an int means a square."""
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f"expected an int or a (w, h) pair, got {size!r}")
    return int(size[0]), int(size[1])


@dataclass(frozen=True)
class Resize:
    """MMAction2's ``Resize``. ``scale`` is ``(w, h)``; with ``keep_ratio`` it bounds the
    long and short edges (``(-1, 256)``: short edge 256), sizes rounded half up as
    ``mmcv.rescale_size`` does; a float scales by that factor."""

    scale: float | tuple[int, int]
    keep_ratio: bool = True

    def __post_init__(self):
        if isinstance(self.scale, int):  # ambiguous; MMAction2 rejects it too
            s = self.scale
            raise ValueError(
                f"Resize: scale {s} is an int: write (-1, {s}) for a short edge of {s}, "
                f"({s}, {s}) for {s}x{s}, or {float(s)} for a factor"
            )

    def __call__(self, clip: Clip, rng=None) -> Clip:
        h, w = clip.size
        if isinstance(self.scale, float) and self.scale <= 0:
            raise ValueError(f"Resize: scale must be positive, got {self.scale}")
        if not isinstance(self.scale, float) and not self.keep_ratio:
            sw, sh = _pair(self.scale)
            return clip.resized(sh, sw)
        return clip.resized(*rescale_size(h, w, self.scale))


@dataclass(frozen=True)
class RandomRescale:
    """MMAction2's ``RandomRescale``: the short side to a size drawn uniformly from
    ``scale_range`` (both ends included), the aspect ratio kept (AVA's training
    recipe: ``(256, 320)``)."""

    scale_range: tuple[int, int]

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(
                f"RandomRescale: scale_range must be 0 < lo <= hi, got {self.scale_range}"
            )
        short = int(_rng(rng).integers(lo, hi + 1))
        return clip.resized(*rescale_size(*clip.size, (-1, short)))


def rescale_size(h: int, w: int, scale) -> tuple[int, int]:
    """mmcv's ``rescale_size``: ``(new_h, new_w)`` for a factor, or the largest size
    within ``(w, h)`` bounds keeping the aspect ratio (``(-1, 256)``: short side 256)."""
    if isinstance(scale, float):
        return int(h * scale + 0.5), int(w * scale + 0.5)
    sw, sh = _pair(scale)
    long_edge, short_edge = max(sw, sh), min(sw, sh)
    if short_edge == -1:
        long_edge, short_edge = math.inf, long_edge
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


@dataclass(frozen=True)
class RandomResizedCrop:
    """MMAction2's ``RandomResizedCrop``: up to 10 tries of an area fraction in
    ``area_range`` and a log-uniform aspect ratio; else a centred square."""

    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    max_attempts: int = 10

    def box(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        lo, hi = np.log(self.aspect_ratio_range[0]), np.log(self.aspect_ratio_range[1])
        ratios = np.exp(rng.uniform(lo, hi, size=self.max_attempts))
        areas = rng.uniform(*self.area_range, size=self.max_attempts) * h * w
        crop_w = np.round(np.sqrt(areas * ratios)).astype(np.int64)
        crop_h = np.round(np.sqrt(areas / ratios)).astype(np.int64)
        for cw, ch in zip(crop_w, crop_h, strict=True):
            if 0 < ch <= h and 0 < cw <= w:
                x = int(rng.integers(0, w - cw + 1))
                y = int(rng.integers(0, h - ch + 1))
                return x, y, x + int(cw), y + int(ch)
        side = min(h, w)
        x, y = (w - side) // 2, (h - side) // 2
        return x, y, x + side, y + side

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        return clip.crop(*self.box(*clip.size, _rng(rng)))


@dataclass(frozen=True)
class MultiScaleCrop:
    """MMAction2's ``MultiScaleCrop`` (TSN's corner cropping): a crop side from
    ``scales`` x the short edge for width and height (their scale indices at most
    ``max_wh_scale_gap`` apart), snapped to ``input_size`` within 3 pixels, placed at one
    of 5 (or 13) fixed offsets or anywhere with ``random_crop``. Follow it with
    ``Resize((w, h), keep_ratio=False)`` as MMAction2's configs do."""

    input_size: int | tuple[int, int]
    scales: tuple[float, ...] = (1,)
    max_wh_scale_gap: int = 1
    random_crop: bool = False
    num_fixed_crops: int = 5

    def box(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        if self.num_fixed_crops not in (5, 13):
            raise ValueError(
                f"MultiScaleCrop: num_fixed_crops must be 5 or 13, got {self.num_fixed_crops}"
            )
        base = min(h, w)
        sides = [int(base * s) for s in self.scales]
        candidates = [
            [sw, sh]
            for i, sh in enumerate(sides)
            for j, sw in enumerate(sides)
            if abs(i - j) <= self.max_wh_scale_gap
        ]
        crop = list(candidates[rng.integers(len(candidates))])
        target = _pair(self.input_size)
        for i in range(2):
            if abs(crop[i] - target[i]) < 3:
                crop[i] = target[i]
        cw, ch = min(crop[0], w), min(crop[1], h)
        if self.random_crop:
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        else:
            ws, hs = (w - cw) // 4, (h - ch) // 4
            offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
            if self.num_fixed_crops == 13:
                offsets += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0)]
                offsets += [(ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
            x, y = offsets[rng.integers(len(offsets))]
        return x, y, x + cw, y + ch

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        return clip.crop(*self.box(*clip.size, _rng(rng)))


@dataclass(frozen=True)
class CenterCrop:
    """MMAction2's ``CenterCrop``: ``crop_size`` (int or ``(w, h)``) at the centre,
    offsets rounded down."""

    crop_size: int | tuple[int, int]

    def __call__(self, clip: Clip, rng=None) -> Clip:
        h, w = clip.size
        cw, ch = _pair(self.crop_size)
        cw, ch = min(cw, w), min(ch, h)
        x, y = (w - cw) // 2, (h - ch) // 2
        return clip.crop(x, y, x + cw, y + ch)


@dataclass(frozen=True)
class RandomCrop:
    """MMAction2's ``RandomCrop``: a ``size`` x ``size`` square at a random position, the
    offsets drawn from ``[0, side - size)`` as MMAction2 draws them (so the last position
    never comes up); a side not larger than ``size`` is kept whole."""

    size: int

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        h, w = clip.size
        rng = _rng(rng)
        y = int(rng.integers(0, h - self.size)) if h > self.size else 0
        x = int(rng.integers(0, w - self.size)) if w > self.size else 0
        return clip.crop(x, y, x + min(self.size, w), y + min(self.size, h))


@dataclass(frozen=True)
class ThreeCrop:
    """MMAction2's ``ThreeCrop``: three crops along the long side (one edge, the other
    edge, the centre, in that order); the crop must span the short side."""

    crop_size: int | tuple[int, int]

    def __call__(self, clip: Clip, rng=None) -> Clip:
        h, w = clip.size
        cw, ch = _pair(self.crop_size)
        if ch == h:
            step = (w - cw) // 2
            offsets = [(0, 0), (2 * step, 0), (step, 0)]
        elif cw == w:
            step = (h - ch) // 2
            offsets = [(0, 0), (0, 2 * step), (0, step)]
        else:
            raise ValueError(
                f"ThreeCrop: crop {cw}x{ch} must span the width or the height of the {w}x{h} view"
            )
        return clip.crops([(x, y, x + cw, y + ch) for x, y in offsets])


@dataclass(frozen=True)
class TenCrop:
    """MMAction2's ``TenCrop``: four corners and the centre, then the same five mirrored."""

    crop_size: int | tuple[int, int]

    def __call__(self, clip: Clip, rng=None) -> Clip:
        h, w = clip.size
        cw, ch = _pair(self.crop_size)
        ws, hs = (w - cw) // 4, (h - ch) // 4
        offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        return clip.crops([(x, y, x + cw, y + ch) for x, y in offsets], flip_copies=True)


@dataclass(frozen=True)
class Flip:
    """MMAction2's ``Flip`` (horizontal): mirrors with probability ``flip_ratio`` and
    maps the label through ``flip_label_map`` when it does (for direction-sensitive
    classes, e.g. "swiping left" <-> "swiping right" in Something-Something)."""

    flip_ratio: float = 0.5
    flip_label_map: Mapping[int, int] | None = None

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        rng = _rng(rng)
        if not 0 <= self.flip_ratio <= 1:
            raise ValueError(f"Flip: flip_ratio must be in [0, 1], got {self.flip_ratio}")
        if rng.random() >= self.flip_ratio:
            return clip
        clip = clip.flipped()
        if self.flip_label_map is not None and clip.label is not None:
            clip = replace(clip, label=self.flip_label_map.get(clip.label, clip.label))
        return clip


@dataclass(frozen=True)
class ColorJitter:
    """Random brightness, contrast, saturation and hue, one draw per clip, applied in a
    random order (torchvision's ``ColorJitter`` semantics, on uint8 frames).
    Materializes the geometric views first."""

    brightness: float = 0.5
    contrast: float = 0.5
    saturation: float = 0.5
    hue: float = 0.1

    def __call__(self, clip: Clip, rng: np.random.Generator | None = None) -> Clip:
        rng = _rng(rng)
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"ColorJitter: hue must be in [0, 0.5], got {self.hue}")
        clip = clip.materialize()
        x = clip.frames.float()
        for i in rng.permutation(4):
            if i == 0 and self.brightness:
                x = x * rng.uniform(max(0, 1 - self.brightness), 1 + self.brightness)
            elif i == 1 and self.contrast:
                f = rng.uniform(max(0, 1 - self.contrast), 1 + self.contrast)
                mean = _gray(x.clamp(0, 255).round()).mean(dim=(1, 2), keepdim=True)[..., None]
                x = f * x + (1 - f) * mean
            elif i == 2 and self.saturation:
                f = rng.uniform(max(0, 1 - self.saturation), 1 + self.saturation)
                x = f * x + (1 - f) * _gray(x)[..., None]
            elif i == 3 and self.hue:
                x = _shift_hue(x.clamp(0, 255), rng.uniform(-self.hue, self.hue))
            x = x.clamp(0, 255)
        frames = x.round().to(torch.uint8)
        return Clip(frames, clip.num_clips, clip.clip_len, clip.label)


def _gray(x: Tensor) -> Tensor:
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _shift_hue(x: Tensor, shift: float) -> Tensor:
    """Rotates the hue of RGB values in [0, 255] by ``shift`` turns (HSV round trip)."""
    r, g, b = x.unbind(-1)
    maxc, _ = x.max(-1)
    minc, _ = x.min(-1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(
        maxc == r,
        ((g - b) / safe) % 6,
        torch.where(maxc == g, (b - r) / safe + 2, (r - g) / safe + 4),
    )
    h = torch.where(delta > 0, h / 6, torch.zeros_like(h))
    h = (h + shift) % 1.0
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), maxc * 0)
    v = maxc
    k = lambda n: (n + h * 6) % 6  # noqa: E731
    f = lambda n: v - v * s * torch.clamp(torch.minimum(k(n), 4 - k(n)), 0, 1)  # noqa: E731
    return torch.stack([f(5), f(3), f(1)], -1)


@dataclass(frozen=True)
class FormatShape:
    """Makes the model input with the fused op (normalize + layout included).

    ``input_format``: ``"NCHW"`` — ``[V * num_clips * clip_len, 3, h, w]`` for 2D CNNs
    (TSN, TSM); ``"NCTHW"`` — ``[V * num_clips, 3, clip_len, h, w]`` for 3D CNNs; views
    (crops) outermost, as MMAction2 orders them. ``mean``/``std`` in 0-255 units
    (default: ImageNet's; for flow 128 and 128); ``device`` runs the op there
    (``"cuda"``: the frames are copied once as uint8); ``dtype`` the output dtype.

    ``flow=True`` (or ``input_format="NCHW_Flow"``, MMAction2's name) for optical flow
    frames ``(x, y, 128)`` (``RawframeDataset(modality="flow")``): two channels, ``mean``
    and ``std`` per channel; a mirrored view's x flow is inverted (``255 - v`` before
    normalising, MMAction2's ``Flip`` for flow); ``"NCHW"`` stacks each clip's
    ``clip_len`` flows into ``2 * clip_len`` channels ``(x1, y1, x2, y2, ...)`` —
    ``[V * num_clips, 2 * clip_len, h, w]``, TSN's flow input — and ``"NCTHW"`` gives
    ``[V * num_clips, 2, clip_len, h, w]``."""

    input_format: str = "NCTHW"
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    device: str | torch.device | None = None
    dtype: torch.dtype | None = None
    flow: bool = False

    def __call__(self, clip: Clip, rng=None) -> Tensor:
        fmt = "NCHW" if self.input_format == "NCHW_Flow" else self.input_format
        if fmt not in ("NCHW", "NCTHW"):
            raise ValueError(
                "FormatShape: input_format must be NCHW, NCTHW or NCHW_Flow, got "
                f"{self.input_format!r}"
            )
        if self.device is not None:
            clip = replace(clip, frames=clip.frames.to(self.device, non_blocking=True))
        if self.flow or self.input_format == "NCHW_Flow":
            return self._flow(clip, fmt)
        mean = IMAGENET_MEAN if self.mean is None else self.mean
        std = IMAGENET_STD if self.std is None else self.std
        if fmt == "NCTHW":
            return clip.render(mean, std, "NCTHW", self.dtype)
        out = clip.render(mean, std, "NTCHW", self.dtype)
        return out.reshape(-1, *out.shape[2:])

    def _flow(self, clip: Clip, fmt: str) -> Tensor:
        mean = (128.0, 128.0) if self.mean is None else tuple(self.mean)
        std = (128.0, 128.0) if self.std is None else tuple(self.std)
        if len(mean) != 2 or len(std) != 2:
            raise ValueError(
                f"FormatShape: flow takes two mean and std values (x, y), got {mean} and {std}"
            )
        out = clip.render((*mean, 0.0), (*std, 1.0), "NTCHW", self.dtype)[:, :, :2]
        flipped = torch.tensor(clip.flips, device=out.device).repeat_interleave(clip.num_clips)
        if flipped.any():  # x' = ((255 - v) - m) / s = (255 - 2 m) / s - x
            x = out[flipped, :, 0]
            out[flipped, :, 0] = (255 - 2 * mean[0]) / std[0] - x
        if fmt == "NCTHW":
            return out.transpose(1, 2).contiguous()
        return out.reshape(out.shape[0], -1, *out.shape[3:])
