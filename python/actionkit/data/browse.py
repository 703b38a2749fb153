"""Pictures of what a data pipeline feeds a model (``actionkit-data browse``): for each
sample, the source frames the sampler picked, as decoded, and every view the pipeline
makes of them (crops, flips, resizes; before normalisation), from
``_ClipDataset.browse``."""

from __future__ import annotations

import numpy as np
import torch

CAPTION = 14  # pixels of a caption line


def _fit(frame: np.ndarray, height: int) -> np.ndarray:
    """``frame`` resized to ``height`` rows, its aspect kept."""
    from PIL import Image

    h, w = frame.shape[:2]
    size = (max(1, round(w * height / h)), height)
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


def _uint8(views) -> np.ndarray:
    """Views ``[V, N, C, h, w]`` in 0-255 as uint8 ``[V, N, h, w, 3]``."""
    if views.shape[2] != 3:
        raise ValueError(f"browse draws RGB views; these have {views.shape[2]} channels")
    return views.round().clamp(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()


def _stack(images: list[np.ndarray], axis: int, gap: int) -> np.ndarray:
    """Images side by side (``axis`` 1) or one under another (0), ``gap`` dark pixels
    apart, aligned at the top left."""
    size = [max(i.shape[a] for i in images) for a in (0, 1)]
    size[axis] = sum(i.shape[axis] for i in images) + gap * (len(images) - 1)
    out = np.full((*size, 3), 32, np.uint8)
    at = 0
    for image in images:
        h, w = image.shape[:2]
        if axis == 1:
            out[:h, at : at + w] = image
        else:
            out[at : at + h, :w] = image
        at += image.shape[axis] + gap
    return out


def _row(images: list[np.ndarray], gap: int = 2) -> np.ndarray:
    return _stack(images, 1, gap)


def _column(images: list[np.ndarray], gap: int = 2) -> np.ndarray:
    return _stack(images, 0, gap)


def _caption(text: str, width: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (max(width, 8), CAPTION), (32, 32, 32))
    ImageDraw.Draw(image).text((2, 1), text, fill=(255, 255, 0))
    return np.asarray(image)


def caption_of(sample: dict, names: list[str] | None) -> str:
    label = sample["label"]
    name = names[label] if names and isinstance(label, int) and 0 <= label < len(names) else label
    return f"#{sample['index']} {name}"


def positions(count: int, most: int) -> np.ndarray:
    """Up to ``most`` of ``count`` frame positions, evenly spread, first and last kept."""
    return np.unique(np.linspace(0, count - 1, min(count, most)).round().astype(int))


def sheet(samples: list[dict], names: list[str] | None, most: int = 8, height: int = 96):
    """One picture: per sample a caption, a row of its source frames and a row per view,
    frames at the same (up to ``most``) positions in every row; uint8 ``[H, W, 3]``."""
    blocks = []
    for s in samples:
        views = _uint8(s["views"])
        keep = positions(views.shape[1], most)
        source = _row([_fit(np.asarray(s["frames"][k]), height) for k in keep])
        rows = [source] + [_row([_fit(v[k], height) for k in keep]) for v in views]
        body = _column(rows)
        text = f"{caption_of(s, names)}: source frames, then {views.shape[0]} view(s)"
        blocks.append(_column([_caption(text, body.shape[1]), body]))
    return _column(blocks, gap=6)


def animation(samples: list[dict], names: list[str] | None, height: int = 96):
    """Frames of an animation: at step t, a tile per sample (a grid, as square as can be)
    with its source frame t beside every view's frame t; uint8 ``[H, W, 3]`` each."""
    steps = max(s["views"].shape[1] for s in samples)
    columns = int(np.ceil(np.sqrt(len(samples))))
    views = [_uint8(s["views"]) for s in samples]
    out = []
    for t in range(steps):
        tiles = []
        for s, v in zip(samples, views, strict=True):
            k = min(t, v.shape[1] - 1)
            body = _row(
                [_fit(np.asarray(s["frames"][k]), height)] + [_fit(x[k], height) for x in v]
            )
            tiles.append(
                _column([_caption(f"{caption_of(s, names)} {k + 1}", body.shape[1]), body])
            )
        rows = [_row(tiles[i : i + columns], gap=6) for i in range(0, len(tiles), columns)]
        out.append(_column(rows, gap=6))
    return out
