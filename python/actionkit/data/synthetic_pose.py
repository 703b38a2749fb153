"""Synthetic 2D skeletons (COCO-17 keypoints in 640x480 images) of 12 actions defined by
limb motion, written as an MMAction2 pose pickle with ``train`` / ``test`` splits: the
skeleton demo's data, generated, no downloads.

Classes: raise / lower the left arm, raise / lower the right arm, sit down / stand up,
approach / walk apart (two people), wave (right forearm), clap, kick left, kick right.
The four pairs are each other played backwards (the second of a pair is the first's
frames reversed), so their frames have the same distribution and only temporal order
tells them apart. Per sample: body size, position, clip length (40-80 frames), when the
motion starts and how long it takes, joint noise, dropped joints (score 0, position 0, as
pose estimators report them) and detection scores vary. Deterministic given the seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CLASSES = (
    "raise_left_arm", "lower_left_arm", "raise_right_arm", "lower_right_arm",
    "sit_down", "stand_up", "approach", "walk_apart",
    "wave", "clap", "kick_left", "kick_right",
)  # fmt: skip
REVERSED = {"lower_left_arm": "raise_left_arm", "lower_right_arm": "raise_right_arm",
            "stand_up": "sit_down", "walk_apart": "approach"}  # fmt: skip
IMG_SHAPE = (480, 640)
GENERATOR_VERSION = 1


def _ease(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0, 1)
    return u * u * (3 - 2 * u)


def _limb(origin: np.ndarray, angle: np.ndarray, length: float, side: float) -> np.ndarray:
    """Points at ``length`` from ``origin`` along ``angle`` from straight down, turning
    outward on ``side`` (+1 the body's left, image right; -1 the other)."""
    return origin + length * np.stack([side * np.sin(angle), -np.cos(angle)], -1)


def _body(t: int, motion: str, phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One person's 17 keypoints ``[T, 17, 2]`` in body units (hips at 0, y up)."""
    zero = np.zeros(t)
    arm = {1.0: zero + 0.15, -1.0: zero + 0.15}  # shoulder angles, by side
    elbow = {1.0: zero + 0.1, -1.0: zero + 0.1}
    hip = {1.0: zero, -1.0: zero}  # leg angles (forward kick)
    knee = {1.0: zero, -1.0: zero}
    drop = zero.copy()  # hips lowered (sitting)
    if motion in ("raise_left_arm", "raise_right_arm"):
        side = 1.0 if motion == "raise_left_arm" else -1.0
        arm[side] = 0.15 + 2.6 * phase
    elif motion == "sit_down":
        drop = 0.3 * phase
        for side in (1.0, -1.0):
            hip[side] = 1.4 * phase
            knee[side] = 1.4 * phase
    elif motion == "wave":
        arm[-1.0] = zero + 2.3
        elbow[-1.0] = 0.6 + 0.5 * np.sin(2 * np.pi * 3 * phase) * (phase > 0)
    elif motion == "clap":
        swing = 0.5 + 0.5 * np.cos(2 * np.pi * 3 * phase)
        for side in (1.0, -1.0):
            arm[side] = 0.9 + 0.6 * swing * (phase > 0) + 0.6 * (phase == 0)
            elbow[side] = zero + 0.9
    elif motion in ("kick_left", "kick_right"):
        side = 1.0 if motion == "kick_left" else -1.0
        hip[side] = 1.3 * np.sin(np.pi * phase)
        knee[side] = 0.4 * np.sin(np.pi * phase)
    pts = np.zeros((t, 17, 2))
    hips = np.stack([zero, -drop], -1)
    for side, (s_idx, e_idx, w_idx, h_idx, k_idx, a_idx) in {
        1.0: (5, 7, 9, 11, 13, 15),
        -1.0: (6, 8, 10, 12, 14, 16),
    }.items():
        shoulder = hips + [side * 0.18, 0.5]
        pts[:, s_idx] = shoulder
        pts[:, e_idx] = _limb(shoulder, arm[side], 0.28, side)
        pts[:, w_idx] = _limb(pts[:, e_idx], arm[side] + elbow[side], 0.25, side)
        hip_pt = hips + [side * 0.1, 0]
        pts[:, h_idx] = hip_pt
        # legs swing outward (a side kick; sitting: the thighs turn towards the camera's
        # sides, as seen from the front). A GCN shares its weights over joints, so left
        # and right must differ in where they move, not only in which joint moves.
        pts[:, k_idx] = _limb(hip_pt, hip[side], 0.4, side)
        pts[:, a_idx] = _limb(pts[:, k_idx], hip[side] - knee[side], 0.4, side)
    head = hips + [0, 0.68]
    for idx, offset in {
        0: (0, 0),
        1: (0.03, 0.02),
        2: (-0.03, 0.02),
        3: (0.06, 0),
        4: (-0.06, 0),
    }.items():
        pts[:, idx] = head + offset
    return pts + rng.normal(0, 0.004, pts.shape)


def render_sample(label: str | int, seed: int) -> dict:
    """One sample of class ``label`` as a pose-pickle annotation (without ``frame_dir``)."""
    name = CLASSES[label] if isinstance(label, int) else label
    if name not in CLASSES:
        raise ValueError(f"unknown class {name!r} (known: {', '.join(CLASSES)})")
    base = REVERSED.get(name, name)
    rng = np.random.default_rng(seed)
    t = int(rng.integers(40, 81))
    start = rng.uniform(0.05, 0.3) * t
    length = rng.uniform(0.5, 0.65) * t
    phase = _ease((np.arange(t) - start) / length)
    h, w = IMG_SHAPE
    scale = rng.uniform(110, 170)
    people = []
    if base == "approach":
        apart = rng.uniform(1.4, 1.8)
        for side in (-1.0, 1.0):
            body = _body(t, "stand", phase, rng)
            body[..., 0] *= side  # face each other
            body[..., 0] += side * (apart - (apart - 0.45) * phase)[:, None]
            people.append(body)
    else:
        people.append(_body(t, base, phase, rng))
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.6, 0.75) * h
    kp = np.stack(people) * scale * [1, -1] + [cx, cy]  # image y grows downwards
    kp += rng.normal(0, 1.5, kp.shape)
    score = rng.uniform(0.6, 1.0, kp.shape[:3])
    dropped = rng.random(kp.shape[:3]) < 0.03
    kp[dropped] = 0
    score[dropped] = 0
    if name in REVERSED:  # the pair's frames, played backwards
        kp, score = kp[:, ::-1], score[:, ::-1]
    return {
        "total_frames": t,
        "label": CLASSES.index(name),
        "img_shape": IMG_SHAPE,
        "original_shape": IMG_SHAPE,
        "keypoint": np.ascontiguousarray(kp, dtype=np.float32),
        "keypoint_score": np.ascontiguousarray(score, dtype=np.float32),
    }


def make_pose_dataset(
    path: str | os.PathLike, train_per_class: int = 60, test_per_class: int = 10, seed: int = 0
) -> Path:
    """Writes the pose pickle ``path`` with splits ``train`` and ``test``."""
    annotations, splits = [], {"train": [], "test": []}
    for c, name in enumerate(CLASSES):
        for i in range(train_per_class + test_per_class):
            split = "train" if i < train_per_class else "test"
            frame_dir = f"{name}_{i:04d}"
            sample = render_sample(name, seed * 1_000_003 + c * 10_007 + i)
            annotations.append({"frame_dir": frame_dir, **sample})
            splits[split].append(frame_dir)
    from .pose import save_pose_pickle

    return save_pose_pickle(path, annotations, splits)
