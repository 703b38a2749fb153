"""Synthetic feature sequences with planted action instances, for the localization demo
and tests: what a recognizer's snippet features of an untrimmed video look like, with
ground truth known exactly.

Each video is ``T`` snippets (``T`` varies per video) of ``C``-dimensional features: a
background that drifts slowly (a smoothed random walk) plus noise, and 1-3
non-overlapping action instances of varied length (6-50 % of the video). An instance
adds its class's pattern (a random direction, one per class) times an envelope whose
boundaries are sharp (a step) or soft (a linear ramp of 2-6 snippets; the annotation
lies at the middle of the ramp), and changes within the instance too (an amplitude
that wanders). Annotations are MMAction2's ActivityNet JSON: 16 frames per snippet at
30 fps, ``feature_frame = 16 T``, ``duration_frame`` up to 31 frames more (as in the
released ActivityNet features, whose features may stop a snippet short), segments in
seconds.

Features are written as ActivityNet's CSV (a header row, one row per snippet), so the
dataset reads them as it reads the released ones. Everything is deterministic given the
seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..engine.checkpoint import atomic_save_array

# Bumped whenever the same arguments make different data (recorded in synthetic.json).
GENERATOR_VERSION = 1
FPS = 30.0
FRAMES_PER_SNIPPET = 16


def make_video(
    rng: np.random.Generator,
    patterns: np.ndarray,
    length: int,
    labels: list[str],
    noise: float = 0.5,
) -> tuple[np.ndarray, dict]:
    """One video: features ``[length, C]`` float32 and its annotation entry."""
    t, c = length, patterns.shape[1]
    walk = np.cumsum(rng.normal(0.0, 0.08, (t, c)), axis=0)
    kernel = np.ones(9) / 9
    drift = np.stack([np.convolve(walk[:, j], kernel, mode="same") for j in range(c)], 1)
    features = drift + rng.normal(0.0, noise, (t, c))
    count = int(rng.integers(1, 4))
    lengths = rng.uniform(0.06, 0.5, count) * t
    lengths *= min(1.0, 0.85 * t / lengths.sum())  # they fit with gaps
    gaps = rng.dirichlet(np.ones(count + 1)) * (t - lengths.sum())
    annotations = []
    pos = 0.0
    steps = np.arange(t) + 0.5  # snippet centres
    for k in range(count):
        start = pos + gaps[k]
        end = start + lengths[k]
        pos = end
        cls = int(rng.integers(len(patterns)))
        ramp = 0.0 if rng.random() < 0.5 else float(rng.uniform(2, 6))
        if ramp:
            envelope = np.clip(np.minimum(steps - start, end - steps) / ramp + 0.5, 0.0, 1.0)
        else:
            envelope = ((steps >= start) & (steps < end)).astype(float)
        amplitude = rng.uniform(1.2, 2.0) + 0.3 * np.sin(steps / rng.uniform(2, 8))
        features += (envelope * amplitude)[:, None] * patterns[cls][None, :]
        seconds = FRAMES_PER_SNIPPET / FPS
        annotations.append(
            {"segment": [round(start * seconds, 4), round(end * seconds, 4)], "label": labels[cls]}
        )
    feature_frame = t * FRAMES_PER_SNIPPET
    # up to 31 frames more: at times one snippet more than the features cover, as in
    # ActivityNet's released features (where duration_frame // 16 * 16 != feature_frame)
    duration_frame = feature_frame + int(rng.integers(0, 2 * FRAMES_PER_SNIPPET))
    entry = {
        "duration_second": round(duration_frame / FPS, 4),
        "duration_frame": duration_frame,
        "annotations": annotations,
        "feature_frame": feature_frame,
        "fps": FPS,
        "rfps": FPS,
    }
    return features.astype(np.float32), entry


def make_dataset(
    root: str | os.PathLike,
    train_videos: int = 160,
    val_videos: int = 40,
    test_videos: int = 0,
    feat_dim: int = 32,
    classes: int = 4,
    min_length: int = 60,
    max_length: int = 200,
    noise: float = 0.5,
    seed: int = 0,
) -> dict[str, Path]:
    """Writes ``features/v_<split>_<n>.csv`` and ``train.json`` / ``val.json`` /
    ``test.json`` (splits with videos) under ``root``, and ``synthetic.json`` recording
    the arguments. Returns the annotation files by split."""
    root = Path(root)
    (root / "features").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    patterns = rng.normal(0.0, 1.0, (classes, feat_dim))
    patterns *= 1.0 / np.linalg.norm(patterns, axis=1, keepdims=True) * np.sqrt(feat_dim) * 0.5
    labels = [f"action_{k}" for k in range(classes)]
    written = {}
    for split, count in (("train", train_videos), ("val", val_videos), ("test", test_videos)):
        if count == 0:
            continue
        annotations = {}
        for n in range(count):
            length = int(rng.integers(min_length, max_length + 1))
            features, entry = make_video(rng, patterns, length, labels, noise)
            name = f"v_{split}_{n:04d}"
            atomic_save_array(root / "features" / f"{name}.csv", features)
            annotations[name] = entry
        path = root / f"{split}.json"
        path.write_text(json.dumps(annotations, indent=1))
        written[split] = path
    record = {
        "generator": GENERATOR_VERSION,
        "kind": "features",
        "train_videos": train_videos,
        "val_videos": val_videos,
        "test_videos": test_videos,
        "feat_dim": feat_dim,
        "classes": classes,
        "min_length": min_length,
        "max_length": max_length,
        "noise": noise,
        "seed": seed,
    }
    (root / "synthetic.json").write_text(json.dumps(record, indent=1))
    return written
