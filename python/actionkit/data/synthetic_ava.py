"""Synthetic AVA-style detection data: videos of 1-4 stick figures doing actions over time,
with AVA-format annotations, person proposals and a label map, for the detection demo
and tests. Everything is deterministic given the seed.

Each video is ``duration`` seconds at ``fps``, starting at second 900 as AVA's cuts do, so
the keyframes are seconds 901 .. 900 + duration - 1 (each with a one-second clip around
it inside the video). The frame is a 2x2 grid of regions; each actor gets its own region
(no occlusion), a body colour of its own (one of four well-separated hues), a size, and
optionally a striped shirt. An actor's actions change at half-seconds only, so the second
around a keyframe shows one set of actions: at every second, one posture from
``stand`` / ``sit`` / ``walk``, optionally one arm action from ``raise_arm`` / ``wave``,
and optionally ``carry`` (a box in the other hand) — multi-label, like AVA's pose,
object and gesture classes.

Two pairs can only be told apart by motion: a standing actor's legs are frozen at a
random phase of the walking stride, so ``stand`` and ``walk`` frames look alike one at a
time (a walker moves and its legs swing); a raised arm is held still at an angle drawn
from the range that a waving arm sweeps (``raise_arm`` vs ``wave``).

Written under ``root``:

- ``videos/<video_id>.mp4`` (H.264, a keyframe every second),
- ``train.csv`` / ``test.csv``: AVA's annotation rows ``video_id, timestamp, x1, y1, x2,
  y2, action_id, person_id`` (boxes normalised, 3 decimals),
- ``proposals_train.pkl`` / ``proposals_test.pkl``: MMAction2's proposal format
  ``{"video_id,timestamp": float32 [N, 5]}``: each actor's box with Gaussian noise
  (``box_noise`` times its width / height per coordinate) and a score in [0.9, 1], and
  in about a third of the keyframes a spurious box scoring under 0.9 (which AVA's
  score threshold drops),
- ``label_map.pbtxt`` (AVA's format; the six actions, ids 1-6) and ``synthetic.json``
  (the arguments).

:func:`write_multisports_gt` adds a MultiSports-style ground truth of a split (its
seconds as frames, each actor's runs of an action as tubes) for the MultiSports metric.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np

from .encode import write_video

ACTIONS = ("stand", "sit", "walk", "raise_arm", "wave", "carry")  # ids 1..6
POSTURES = ("stand", "sit", "walk")
ARMS = (None, "raise_arm", "wave")
# Bumped whenever the same arguments make different data (recorded in synthetic.json).
GENERATOR_VERSION = 1
TIMESTAMP_START = 900
_HUES = np.array([[0.85, 0.2, 0.15], [0.15, 0.35, 0.9], [0.2, 0.75, 0.2], [0.8, 0.25, 0.85]])
_WAVE_HZ, _WAVE_AMPLITUDE = 2.0, 0.5  # radians either side of the arm's centre angle
_ARM_RANGE = (-0.3, 1.0)  # angles from straight up a waving arm sweeps (and a raised one holds)


def _schedule(seconds: int, rng: np.random.Generator) -> list[dict]:
    """An actor's actions for every second 0..seconds (segments of 2-4 seconds, each
    different from the one before)."""
    states: list[dict] = []
    while len(states) <= seconds:
        while True:
            state = {
                "posture": POSTURES[rng.choice(3, p=[0.35, 0.3, 0.35])],
                "arm": ARMS[rng.choice(3, p=[0.4, 0.3, 0.3])],
                "carry": bool(rng.random() < 0.3),
            }
            if not states or state != {k: states[-1][k] for k in state}:
                break
        state["direction"] = float(rng.choice([-1.0, 1.0]))
        state["arm_angle"] = float(rng.uniform(*_ARM_RANGE))  # raise_arm: held here
        state["wave_centre"] = float(rng.uniform(_ARM_RANGE[0] + _WAVE_AMPLITUDE,
                                                 _ARM_RANGE[1] - _WAVE_AMPLITUDE))  # fmt: skip
        state["wave_phase"] = float(rng.uniform(0, 2 * math.pi))
        states += [state] * int(rng.integers(2, 5))
    return states[: seconds + 1]


def _labels(state: dict) -> list[int]:
    out = [ACTIONS.index(state["posture"]) + 1]
    if state["arm"] is not None:
        out.append(ACTIONS.index(state["arm"]) + 1)
    if state["carry"]:
        out.append(ACTIONS.index("carry") + 1)
    return out


def _figure(actor: dict, state: dict, x: float, t: float) -> list[tuple]:
    """The actor's primitives at time ``t`` (seconds) with its feet at ``x``:
    ``("seg", p0, p1, width, colour)``, ``("disc", c, r, colour)``, ``("box", x1, y1, x2,
    y2, colour)`` in pixels."""
    h, fy, body = actor["height"], actor["feet_y"], actor["colour"]
    limb = 0.075 * h
    if state["posture"] == "sit":  # on an invisible stool: thighs forward, shins down
        hip = np.array([x, fy - 0.26 * h])
        knee = hip + [0.2 * h * actor["facing"], 0.0]
        legs = [(hip, knee), (knee, knee + [0.0, 0.26 * h])]
        neck = hip - [0.0, 0.33 * h]
    else:
        phase = actor["stride_phase"]
        if state["posture"] == "walk":
            phase = phase + 2 * math.pi * actor["stride_hz"] * t
        swing = 0.14 * h * math.sin(phase)
        hip = np.array([x, fy - 0.47 * h])
        legs = [(hip, np.array([x + swing, fy])), (hip, np.array([x - swing, fy]))]
        neck = hip - [0.0, 0.33 * h]
    parts = [("seg", p0, p1, limb * 1.2, body) for p0, p1 in legs]
    parts.append(("seg", neck, hip, 0.17 * h, body))
    parts.append(("disc", neck - [0.0, 0.1 * h], 0.1 * h, actor["skin"]))
    shoulder = neck + [0.0, 0.03 * h]
    arm = 0.36 * h
    side = actor["facing"]
    if state["arm"] == "wave":
        angle = state["wave_centre"] + _WAVE_AMPLITUDE * math.sin(
            2 * math.pi * _WAVE_HZ * t + state["wave_phase"]
        )
    elif state["arm"] == "raise_arm":
        angle = state["arm_angle"]
    else:
        angle = math.pi - 0.4  # hanging down, a little out
    hand = shoulder + arm * np.array([side * math.sin(angle), -math.cos(angle)])
    parts.append(("seg", shoulder, hand, limb, body))
    if state["carry"]:  # the other forearm forward, a box in the hand
        hand = shoulder + [-side * 0.2 * h, 0.24 * h]
        parts.append(("seg", shoulder, hand, limb, body))
        bw, bh = 0.22 * h, 0.18 * h
        cx = hand[0] - side * bw * 0.35
        parts.append(("box", cx - bw / 2, hand[1] - bh / 2, cx + bw / 2, hand[1] + bh / 2,
                      actor["box_colour"]))  # fmt: skip
    else:
        hand = shoulder + arm * np.array([-side * math.sin(0.4), math.cos(0.4)])
        parts.append(("seg", shoulder, hand, limb, body))
    return parts


def _extent(parts: list[tuple]) -> np.ndarray:
    """The primitives' bounding box ``[x1, y1, x2, y2]`` in pixels."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for p in parts:
        if p[0] == "seg":
            r = p[3] / 2
            pts = np.stack([p[1], p[2]])
            lo, hi = np.minimum(lo, pts.min(0) - r), np.maximum(hi, pts.max(0) + r)
        elif p[0] == "disc":
            lo, hi = np.minimum(lo, p[1] - p[2]), np.maximum(hi, p[1] + p[2])
        else:
            lo, hi = np.minimum(lo, [p[1], p[2]]), np.maximum(hi, [p[3], p[4]])
    return np.concatenate([lo, hi])


def _draw(frame: np.ndarray, parts: list[tuple], stripes: float | None) -> None:
    """Draws the primitives into ``frame`` (float ``[H, W, 3]``), anti-aliased, in the
    window of their extent."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = _extent(parts)
    x1, y1 = max(int(x1) - 1, 0), max(int(y1) - 1, 0)
    x2, y2 = min(int(math.ceil(x2)) + 2, w), min(int(math.ceil(y2)) + 2, h)
    if x2 <= x1 or y2 <= y1:
        return
    yy, xx = np.meshgrid(np.arange(y1, y2) + 0.5, np.arange(x1, x2) + 0.5, indexing="ij")
    window = frame[y1:y2, x1:x2]
    for p in parts:
        if p[0] == "seg":
            p0, p1 = p[1], p[2]
            d = p1 - p0
            u = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
            dist = np.hypot(xx - p0[0] - u * d[0], yy - p0[1] - u * d[1])
            cover = np.clip(p[3] / 2 - dist + 0.5, 0, 1)
            colour = p[4]
        elif p[0] == "disc":
            cover = np.clip(p[2] - np.hypot(xx - p[1][0], yy - p[1][1]) + 0.5, 0, 1)
            colour = p[3]
        else:
            cover = np.clip(np.minimum(np.minimum(xx - p[1], p[3] - xx),
                                       np.minimum(yy - p[2], p[4] - yy)) + 0.5, 0, 1)  # fmt: skip
            colour = p[5]
        shade = 1.0
        if stripes is not None and p[0] == "seg":  # a striped shirt: horizontal bands
            shade = (0.7 + 0.3 * (np.sin(yy * stripes) > 0))[..., None]
        window[:] = window * (1 - cover[..., None]) + colour * shade * cover[..., None]


def render_video(seconds: int, size: tuple[int, int], fps: float, seed: int):
    """One video: uint8 frames ``[seconds * fps, H, W, 3]`` and, per keyframe second
    ``1 .. seconds - 1``, the actors' ``(box [4] normalised, action ids)``."""
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    freq = rng.uniform(0.03, 0.12, size=(2, 2))
    phase = rng.uniform(0, 2 * math.pi, size=2)
    level = 0.55 + 0.2 * np.sin(freq[0, 0] * xx + freq[0, 1] * yy + phase[0]) * np.cos(
        freq[1, 0] * xx - freq[1, 1] * yy + phase[1]
    )
    background = level[..., None] * rng.uniform(0.5, 0.65, size=3) * 255  # greyish
    count = int(rng.integers(1, 5))
    regions = rng.permutation(4)[:count]
    hues = rng.permutation(4)
    rw, rh = w / 2, h / 2
    actors = []
    for k, region in enumerate(regions):
        height = rh * rng.uniform(0.62, 0.86)
        half = 0.35 * height  # room for the arms and the box either side of the feet
        x0, x1 = (region % 2) * rw + half, (region % 2 + 1) * rw - half
        actors.append({
            "height": height,
            "feet_y": (region // 2 + 1) * rh - rng.uniform(1, 0.12 * rh),
            "x_range": (x0, x1),
            "x": rng.uniform(x0, x1),
            "speed": rng.uniform(0.25, 0.4) * height,  # pixels a second
            "colour": _HUES[hues[k]] * rng.uniform(0.7, 1.0) * 255,
            "skin": np.array([0.95, 0.8, 0.65]) * rng.uniform(0.7, 1.0) * 255,
            "box_colour": np.array([0.95, 0.85, 0.2]) * rng.uniform(0.6, 1.0) * 255,
            "stripes": rng.uniform(0.6, 1.2) if rng.random() < 0.5 else None,
            "facing": float(rng.choice([-1.0, 1.0])),
            "stride_phase": rng.uniform(0, 2 * math.pi),
            "stride_hz": rng.uniform(1.5, 2.0),
            "states": _schedule(seconds, rng),
        })  # fmt: skip
    frames = np.empty((int(round(seconds * fps)), h, w, 3), np.uint8)
    keyframes: dict[int, list] = {s: [] for s in range(1, seconds)}
    for i in range(len(frames)):
        t = i / fps
        second = int(math.floor(t + 0.5))  # actions change at half-seconds
        frame = background.copy()
        for actor in actors:
            state = actor["states"][second]
            if state["posture"] == "walk":  # move, turning back at the region's sides
                x = actor["x"] + state["direction"] * actor["speed"] / fps
                lo, hi = actor["x_range"]
                if not lo <= x <= hi:
                    state["direction"] *= -1
                    x = min(max(x, lo), hi)
                actor["x"] = x
            parts = _figure(actor, state, actor["x"], t)
            _draw(frame, parts, actor["stripes"])
            if i == int(round(second * fps)) and second in keyframes:
                box = np.clip(_extent(parts), 0, [w, h, w, h]) / [w, h, w, h]
                keyframes[second].append((box, _labels(state)))
        frames[i] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return frames, keyframes


def _proposals(actors: list, rng: np.random.Generator, box_noise: float) -> np.ndarray:
    rows = []
    for box, _ in actors:
        size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        noisy = np.clip(box + rng.normal(0, box_noise, 4) * size, 0, 1)
        noisy[2:] = np.maximum(noisy[2:], noisy[:2] + 0.01)
        rows.append([*np.clip(noisy, 0, 1), rng.uniform(0.9, 1.0)])
    if rng.random() < 0.35:  # a spurious detection under the score threshold
        x, y = rng.uniform(0, 0.8, 2)
        rows.append([x, y, x + rng.uniform(0.1, 0.2), y + rng.uniform(0.15, 0.3),
                     rng.uniform(0.3, 0.85)])  # fmt: skip
    return np.asarray(rows, np.float32)


def make_dataset(
    root: str | os.PathLike,
    train_videos: int = 60,
    test_videos: int = 15,
    duration: int = 12,
    fps: float = 8.0,
    size: tuple[int, int] = (144, 192),
    box_noise: float = 0.04,
    seed: int = 0,
) -> dict[str, Path]:
    """Writes the dataset described in the module's docstring under ``root``; returns the
    annotation CSV of each split."""
    if duration < 2 or train_videos < 1 or test_videos < 0:
        raise ValueError(
            f"need duration >= 2, train_videos >= 1 and test_videos >= 0, got {duration}, "
            f"{train_videos} and {test_videos}"
        )
    h, w = size
    if h < 64 or w < 64 or h % 2 or w % 2:
        raise ValueError(f"size must be even and at least 64x64, got {size}")
    if fps != int(fps) or fps < 2:
        raise ValueError(f"fps must be a whole number >= 2, got {fps}")
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split, count in (("train", train_videos), ("test", test_videos)):
        if count == 0:
            continue
        rows, proposals = [], {}
        for n in range(count):
            video_id = f"{split}_{n:04d}"
            frames, keyframes = render_video(duration, (h, w), fps, int(rng.integers(2**31)))
            write_video(root / "videos" / f"{video_id}.mp4", frames, fps=fps, gop=int(fps))
            for second, actors in keyframes.items():
                timestamp = TIMESTAMP_START + second
                for person, (box, labels) in enumerate(actors):
                    coords = ",".join(f"{v:.3f}" for v in box)
                    rows += [f"{video_id},{timestamp:04d},{coords},{a},{person}" for a in labels]
                proposals[f"{video_id},{timestamp:04d}"] = _proposals(actors, rng, box_noise)
        path = root / f"{split}.csv"
        path.write_text("".join(r + "\n" for r in rows))
        with open(root / f"proposals_{split}.pkl", "wb") as f:
            pickle.dump(proposals, f)
        written[split] = path
    (root / "label_map.pbtxt").write_text(
        "".join(f'item {{\n  name: "{a}"\n  id: {i}\n}}\n' for i, a in enumerate(ACTIONS, 1))
    )
    record = {
        "generator": GENERATOR_VERSION,
        "kind": "ava",
        "train_videos": train_videos,
        "test_videos": test_videos,
        "duration": duration,
        "fps": fps,
        "size": list(size),
        "box_noise": box_noise,
        "seed": seed,
    }
    (root / "synthetic.json").write_text(json.dumps(record, indent=1))
    return written


def write_multisports_gt(
    root: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "test",
    action_ids: list[int] | None = None,
) -> Path:
    """MultiSports' ground-truth pickle for a split of the set under ``root``: its seconds
    as frames (``nframes`` = 900 + duration), the classes ``action_ids`` (default all
    six) in that order, and per video and class the tubes of each actor's consecutive
    seconds doing the action (boxes in pixels); the resolution from ``synthetic.json``."""
    from .ava import load_ava_annotations

    root = Path(root)
    record = json.loads((root / "synthetic.json").read_text())
    h, w = record["size"]
    ids = list(action_ids or range(1, len(ACTIONS) + 1))
    runs: dict[str, dict[tuple[int, int], list]] = {}
    for kf in load_ava_annotations(root / f"{split}.csv", len(ACTIONS) + 1):
        found = runs.setdefault(kf.video_id, {})
        for box, labels, person in zip(kf.boxes, kf.labels, kf.entity_ids, strict=True):
            for label, action in enumerate(ids):
                if not labels[action]:
                    continue
                row = [kf.timestamp, *(box * [w, h, w, h])]
                tubes = found.setdefault((int(person), label), [])
                if tubes and tubes[-1][-1][0] == kf.timestamp - 1:
                    tubes[-1].append(row)
                else:
                    tubes.append([row])
    videos = sorted(runs)
    gttubes: dict[str, dict[int, list]] = {v: {} for v in videos}
    for v in videos:
        for (_, label), tubes in sorted(runs[v].items()):
            gttubes[v].setdefault(label, []).extend(np.array(t, np.float32) for t in tubes)
    gt = {
        "labels": [ACTIONS[a - 1] for a in ids],
        "test_videos": [videos],
        "nframes": {v: TIMESTAMP_START + record["duration"] for v in videos},
        "resolution": {v: (h, w) for v in videos},
        "gttubes": gttubes,
    }
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(gt, f)
    os.replace(tmp, out)
    return out
