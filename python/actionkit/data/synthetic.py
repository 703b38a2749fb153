"""Synthetic action videos: real encoded files with list files, for demos and tests.

Each video shows one textured shape on a textured background. The classes differ in:

* **motion**, in pairs that are each other played backwards — ``move_right``/``move_left``,
  ``move_down``/``move_up``, ``rotate_cw``/``rotate_ccw``, ``approach``/``recede``,
  ``appear``/``disappear``. The second class of a pair is rendered by drawing a clip of
  the first and reversing its frames, so both classes have exactly the same distribution
  of frame *sets*: any model that ignores frame order (a per-frame CNN with average
  consensus, TSN) is at chance within each pair, and only temporal modelling can solve them;
* **speed** — ``slow``/``fast``: a shape sliding diagonally at 1x or 3x speed on a
  wrap-around track with a random phase, so every single frame has the same distribution
  (a per-frame classifier is at chance; a model seeing several frames is not);
* **appearance** — ``disc``/``triangle``: shapes the other classes never use (the disc
  plain, everything else striped), moving randomly, so a per-frame model solves them (a
  sanity check that the data is learnable).

With ``audio=True`` each video also has a soundtrack that names its class: beeps of the
class's own tone (220 Hz times 2^(k/3) for class k of ``CLASSES``, a major third apart)
in noise, with a quieter tone of another class as a distractor — what the audio demo
learns from (pictures and sound tell the classes apart independently).

Everything is deterministic given the seed. Encoding goes through PyAV (``pip install av``):
H.264 in .mp4 (``codec="h264"``), VP9 in .webm (``codec="vp9"``, what DALI's CPU decoder
reads), or MJPEG in .avi. ``gop`` sets the keyframe interval (``1`` = intra-only), and
``vfr=True`` writes variable frame-rate timestamps.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tools
from .encode import CODECS, write_video

MOTION_PAIRS = (
    ("move_right", "move_left"),
    ("move_down", "move_up"),
    ("rotate_cw", "rotate_ccw"),
    ("approach", "recede"),
    ("appear", "disappear"),
)
SPEED_CLASSES = ("slow", "fast")
APPEARANCE_CLASSES = ("disc", "triangle")
CLASSES = tuple(c for pair in MOTION_PAIRS for c in pair) + SPEED_CLASSES + APPEARANCE_CLASSES
# Bumped whenever the same arguments render different clips (recorded in synthetic.json,
# so a dataset of an older generator is not taken for the one a config asks for).
GENERATOR_VERSION = 3
_REVERSED = {second: first for first, second in MOTION_PAIRS}


def render_clip(
    label: str | int,
    num_frames: int = 32,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
    masks: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Renders one clip of class ``label`` (name or index into ``CLASSES``) as uint8
    ``[num_frames, H, W, 3]`` RGB, deterministically from ``seed``; with ``masks``, also
    where the shape is, bool ``[num_frames, H, W]`` (its visible pixels: none while an
    ``appear`` clip's shape is fully transparent) — the ground truth a saliency map is
    measured against (``actionkit.cam``)."""
    name = CLASSES[label] if isinstance(label, int) else label
    if name not in CLASSES:
        raise ValueError(f"label must be one of {CLASSES} or an index into them, got {label!r}")
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    h, w = size
    if h < 16 or w < 16:
        raise ValueError(f"size must be at least 16x16, got {size}")
    rng = np.random.default_rng(seed)
    base = _REVERSED.get(name, name)
    shape = name if name in APPEARANCE_CLASSES else "square"
    frames, where = _render(base, shape, num_frames, h, w, rng)
    if name in _REVERSED:
        frames, where = frames[::-1].copy(), where[::-1].copy()
    return (frames, where) if masks else frames


def _render(base: str, shape: str, t: int, h: int, w: int, rng: np.random.Generator):
    s = min(h, w)
    yy, xx = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    # Background: smooth random blobs in muted colours, fixed for the clip.
    freq = rng.uniform(0.05, 0.2, size=(2, 2))
    phase = rng.uniform(0, 2 * math.pi, size=2)
    bg_level = 0.5 + 0.25 * np.sin(freq[0, 0] * xx + freq[0, 1] * yy + phase[0]) * np.cos(
        freq[1, 0] * xx - freq[1, 1] * yy + phase[1]
    )
    bg_tint = rng.uniform(0.3, 0.7, size=3)
    background = bg_level[..., None] * bg_tint * 255
    colour = rng.uniform(0.6, 1.0, size=3) * 255
    colour[rng.integers(3)] *= 0.3  # saturated: stands out from the background
    stripes = rng.uniform(3, 6)

    # Per-frame centre (cx, cy), half-size r, angle, opacity.
    time = np.linspace(0.0, 1.0, t)
    r = np.full(t, s * rng.uniform(0.14, 0.2))
    angle = np.full(t, rng.uniform(0, 2 * math.pi))
    alpha = np.ones(t)
    margin = r[0] + 1
    cx = np.full(t, rng.uniform(margin, w - margin))
    cy = np.full(t, rng.uniform(margin, h - margin))
    if base == "move_right":
        span = rng.uniform(0.45, 0.6) * (w - 2 * margin)
        x0 = rng.uniform(margin, w - margin - span)
        cx = x0 + span * time
    elif base == "move_down":
        span = rng.uniform(0.45, 0.6) * (h - 2 * margin)
        y0 = rng.uniform(margin, h - margin - span)
        cy = y0 + span * time
    elif base == "rotate_cw":  # image y points down: a growing angle turns clockwise on screen
        # 180-270 degrees in all: under 60 degrees between frames 7 apart (TSN's widest
        # train-time gap at 8 segments of 32 frames), far from the 180-degree symmetry of
        # the striped square, where the direction would become ambiguous
        angle = angle + rng.uniform(1.0, 1.5) * math.pi * time
        r = np.full(t, s * rng.uniform(0.22, 0.28))  # larger: the turn shows at 64 pixels
        margin = r[0] + 1
        cx = np.full(t, rng.uniform(margin, w - margin))
        cy = np.full(t, rng.uniform(margin, h - margin))
    elif base == "approach":
        r0 = s * rng.uniform(0.08, 0.11)
        r = r0 * (1 + rng.uniform(1.2, 1.6) * time)
        cx = np.full(t, rng.uniform(r[-1] + 1, w - r[-1] - 1))
        cy = np.full(t, rng.uniform(r[-1] + 1, h - r[-1] - 1))
    elif base == "appear":
        alpha = np.clip((time - rng.uniform(0.2, 0.4)) / 0.3, 0.0, 1.0)
    elif base in SPEED_CLASSES:
        # A diagonal wrap-around track (no other class moves diagonally) with a uniform
        # random phase: each frame's position is uniform, whatever the speed.
        laps = (1 if base == "slow" else 3) * 0.3
        cx = (rng.uniform(0, w) + laps * w * time) % w
        cy = (rng.uniform(0, h) + laps * h * time) % h
    elif base in APPEARANCE_CLASSES:
        r = np.full(t, s * rng.uniform(0.2, 0.26))  # larger: the shape is what tells them apart
        margin = r[0] + 1
        cx = np.full(t, rng.uniform(margin, w - margin))
        cy = np.full(t, rng.uniform(margin, h - margin))
        step = rng.normal(0, 0.08, size=(2, t)).cumsum(axis=1) * s * time[-1]
        cx = np.clip(cx + step[0], margin, w - margin)
        cy = np.clip(cy + step[1], margin, h - margin)
    else:  # pragma: no cover - CLASSES and the branches above are kept in step
        raise AssertionError(base)

    out = np.empty((t, h, w, 3), dtype=np.uint8)
    where = np.empty((t, h, w), dtype=bool)
    for i in range(t):
        dx, dy = xx - cx[i], yy - cy[i]
        if base in SPEED_CLASSES:  # the track wraps: take the nearest copy of the shape
            dx = (dx + w / 2) % w - w / 2
            dy = (dy + h / 2) % h - h / 2
        c, sn = math.cos(angle[i]), math.sin(angle[i])
        u = (c * dx + sn * dy) / r[i]
        v = (-sn * dx + c * dy) / r[i]
        if shape == "square":
            inside = np.maximum(np.abs(u), np.abs(v)) <= 1
        elif shape == "disc":
            inside = u * u + v * v <= 1
        else:  # triangle pointing along +v
            inside = (v >= -0.8) & (v <= 1) & (np.abs(u) <= 0.6 * (1 - v))
        # the disc is plain; every other shape striped (texture, which a small CNN picks
        # up long before outlines, tells the two appearance classes apart)
        stripe = 0.65 + 0.35 * (np.sin(stripes * math.pi * u) > 0)
        if shape == "disc":
            stripe = np.ones_like(u)
        weight = (alpha[i] * inside)[..., None]
        frame = background * (1 - weight) + (colour * stripe[..., None]) * weight
        out[i] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        where[i] = weight[..., 0] > 0
    return out, where


AUDIO_RATE = 48000  # every codec's container takes it (Opus only allows a few rates)


def class_tone(label: str | int) -> float:
    """The frequency (Hz) of class ``label``'s tone: 220 * 2^(k/3), k its index in
    ``CLASSES`` (220 Hz to 4.4 kHz, within the features' 125-7600 Hz mel range)."""
    k = CLASSES.index(label) if isinstance(label, str) else label
    return 220.0 * 2 ** (k / 3)


def render_sound(
    label: str | int, seconds: float, rate: int = AUDIO_RATE, seed: int = 0
) -> np.ndarray:
    """float32 mono samples in [-1, 1]: 3-6 beeps of the class's tone (random lengths,
    gaps, loudness and phase) over white noise, and a steady tone of a random other
    class at a third of the beeps' loudness; deterministic from ``seed``."""
    k = CLASSES.index(label) if isinstance(label, str) else label
    rng = np.random.default_rng([seed, 7])  # (its own stream: the pictures stay as they were)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    envelope = np.zeros(n)
    for _ in range(rng.integers(3, 7)):
        start, length = rng.uniform(0, 0.8) * seconds, rng.uniform(0.1, 0.3) * seconds
        envelope[(t >= start) & (t < start + length)] = 1.0
    loud = rng.uniform(0.15, 0.3)
    other = (k + rng.integers(1, len(CLASSES))) % len(CLASSES)
    sound = loud * envelope * np.sin(2 * np.pi * class_tone(k) * t + rng.uniform(0, 2 * np.pi))
    sound += loud / 3 * np.sin(2 * np.pi * class_tone(other) * t + rng.uniform(0, 2 * np.pi))
    sound += rng.uniform(0.02, 0.08) * rng.standard_normal(n)
    return np.clip(sound, -1, 1).astype(np.float32)


@dataclass(frozen=True)
class SyntheticDataset:
    """What :func:`make_dataset` wrote: the root folder, the list files and the classes."""

    root: Path
    train_list: Path
    val_list: Path
    classes: tuple[str, ...]
    test_list: Path | None = None  # with test_per_class > 0


INDEX_BITS = 12  # an index clip numbers up to 4096 frames


def index_clip(num_frames: int, size: tuple[int, int] = (64, 192)) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` frames that say which they are: frame ``i`` shows ``i`` in
    binary as ``INDEX_BITS`` full-height stripes, white for 1, black for 0, least
    significant first — blocks large enough to survive lossy coding, so a decoder's frame
    can be identified exactly (:func:`frame_index`) where its colours differ."""
    h, w = size
    if not 0 < num_frames <= 2**INDEX_BITS or w < 8 * INDEX_BITS or h < 8:
        raise ValueError(
            f"index_clip: up to {2**INDEX_BITS} frames of width >= {8 * INDEX_BITS} and height "
            f">= 8, got {num_frames} frames of {h}x{w}"
        )
    stripe = w // INDEX_BITS
    bits = (np.arange(num_frames)[:, None] >> np.arange(INDEX_BITS)) & 1  # [T, bits]
    row = np.repeat(bits * 255, stripe, axis=1)  # [T, bits * stripe]
    out = np.zeros((num_frames, h, w, 3), np.uint8)
    out[:, :, : row.shape[1]] = row[:, None, :, None].astype(np.uint8)
    return out


def frame_index(frame) -> int:
    """The index an :func:`index_clip` frame ``[H, W, 3]`` shows (the middle half of each
    stripe, thresholded at mid-grey)."""
    frame = np.asarray(frame, dtype=np.float32)
    h, w = frame.shape[:2]
    stripe = w // INDEX_BITS
    value = 0
    for bit in range(INDEX_BITS):
        block = frame[
            h // 4 : 3 * h // 4, bit * stripe + stripe // 4 : (bit + 1) * stripe - stripe // 4
        ]
        value |= int(block.mean() > 127.5) << bit
    return value


def clip_seed(seed: int, name: str, index: int) -> int:
    """The seed :func:`make_dataset` renders video ``index`` of class ``name`` with."""
    return seed * 1_000_003 + CLASSES.index(name) * 10_007 + index


def make_dataset(
    root: str | os.PathLike,
    classes: Sequence[str] = CLASSES,
    videos_per_class: int = 8,
    val_per_class: int = 2,
    test_per_class: int = 0,
    num_frames: int = 32,
    size: tuple[int, int] = (64, 64),
    fps: float = 30.0,
    codec: str = "h264",
    gop: int = 12,
    seed: int = 0,
    rawframes: bool = False,
    audio: bool = False,
    flow: bool = False,
) -> SyntheticDataset:
    """Writes a labelled dataset under ``root``: ``videos/<class>/<class>_<i>.<ext>``, and
    MMAction2-style list files ``train_list.txt`` / ``val_list.txt`` (``path label`` with
    paths relative to ``root/videos``) plus ``classes.txt`` and ``synthetic.json`` (these
    arguments). With ``rawframes=True`` it also
    extracts each video's decoded frames to ``rawframes/<class>/<class>_<i>/img_00001.jpg``
    and writes ``train_rawframes.txt`` / ``val_rawframes.txt`` (``dir total_frames label``);
    ``flow=True`` adds TV-L1 flow there (``flow_x/flow_y_00001.jpg``, one fewer than the
    frames) and the lists ``<split>_flow.txt`` (``dir flows label``).
    With ``test_per_class`` the last videos of each class form a third split, ``test``
    (``test_list.txt``); the ``val_per_class`` before them are ``val``.
    With ``audio=True`` every video has a soundtrack (:func:`render_sound`) and its
    log-mel features are written as ``audio_features/<class>/<class>_<i>.npy`` with lists
    ``<split>_audio.txt`` (``path total_frames label``; ``actionkit.data.audio``)."""
    classes = tuple(classes)
    unknown = [c for c in classes if c not in CLASSES]
    if unknown or not classes:
        raise ValueError(f"classes must be a non-empty subset of {CLASSES}, got unknown {unknown}")
    held_out = val_per_class + test_per_class
    if min(val_per_class, test_per_class) < 0 or not held_out < videos_per_class:
        raise ValueError(
            "need 0 <= val_per_class, test_per_class and val_per_class + test_per_class < "
            f"videos_per_class, got {val_per_class}, {test_per_class} and {videos_per_class}"
        )
    root = Path(root)
    suffix = CODECS[codec][1] if codec in CODECS else ""
    splits = ("train", "val", "test") if test_per_class else ("train", "val")
    lines = {split: [] for split in splits}
    raw_lines = {split: [] for split in splits}
    flow_lines = {split: [] for split in splits}
    for label, name in enumerate(classes):
        for i in range(videos_per_class):
            frames = render_clip(name, num_frames, size, clip_seed(seed, name, i))
            rel = f"{name}/{name}_{i:04d}{suffix}"
            sound = (
                render_sound(name, num_frames / fps, seed=clip_seed(seed, name, i))
                if audio
                else None
            )
            write_video(
                root / "videos" / rel, frames, fps=fps, codec=codec, gop=gop, audio=sound,
                audio_rate=AUDIO_RATE,
            )  # fmt: skip
            split = (
                "test"
                if i >= videos_per_class - test_per_class
                else "val"
                if i >= videos_per_class - held_out
                else "train"
            )
            lines[split].append(f"{rel} {label}")
            if rawframes or flow:
                count = tools.extract_rawframes(
                    root / "videos" / rel, root / "rawframes" / rel[: -len(suffix)],
                    flow="tvl1" if flow else None,
                )  # fmt: skip
                if flow:
                    flow_lines[split].append(f"{rel[: -len(suffix)]} {count - 1} {label}")
                raw_lines[split].append(f"{rel[: -len(suffix)]} {count} {label}")
    for split, entries in lines.items():
        (root / f"{split}_list.txt").write_text("".join(e + "\n" for e in entries))
        if rawframes or flow:
            (root / f"{split}_rawframes.txt").write_text(
                "".join(e + "\n" for e in raw_lines[split])
            )
        if flow:
            (root / f"{split}_flow.txt").write_text("".join(e + "\n" for e in flow_lines[split]))
    if audio:
        from .audio import extract_audio_list

        for split in splits:
            if not lines[split]:  # (val_per_class=0: an empty list, as the video one)
                (root / f"{split}_audio.txt").write_text("")
                continue
            extract_audio_list(
                root / f"{split}_list.txt",
                root / "audio_features",
                root / f"{split}_audio.txt",
                data_prefix=root / "videos",
            )
    (root / "classes.txt").write_text("".join(c + "\n" for c in classes))
    settings = {
        "generator": GENERATOR_VERSION,
        "classes": list(classes),
        "videos_per_class": videos_per_class,
        "val_per_class": val_per_class,
        "test_per_class": test_per_class,
        "num_frames": num_frames,
        "size": list(size),
        "fps": fps,
        "codec": codec,
        "gop": gop,
        "seed": seed,
        **({"audio": True} if audio else {}),
        **({"rawframes": True} if rawframes or flow else {}),
        **({"flow": True} if flow else {}),
    }
    (root / "synthetic.json").write_text(json.dumps(settings, indent=1) + "\n")
    test_list = root / "test_list.txt" if test_per_class else None
    return SyntheticDataset(
        root, root / "train_list.txt", root / "val_list.txt", classes, test_list
    )
