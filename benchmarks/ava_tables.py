"""Synthetic AVA evaluation inputs (ground-truth CSV, detections CSV, label map,
exclusions) as text, from NumPy alone: the frame-mAP fixtures (written in MMAction2's
side venv, which loads this file by path) and ``actionkit-bench ava-eval`` use them.

Each keyframe holds 0 to ``max_people`` people with 1-3 actions; each person is detected
once or twice (jittered boxes, so overlaps spread around the 0.5 threshold) with scores
for a handful of classes (its own ones higher on average), and some keyframes have
boxes where nobody is (also frames without ground truth: what the two protocols treat
differently). A class of the label map never detected, a detected class with no ground
truth and rows of a class outside the label map are included.
"""

from __future__ import annotations

import numpy as np

FIRST_TIMESTAMP = 902  # AVA's keyframes run from 902 to 1798


def _jitter(rng, box, scale):
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    dx, dy = rng.normal(0, scale, 2) * (w, h)
    dw, dh = np.exp(rng.normal(0, scale, 2))
    cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
    w, h = w * dw, h * dh
    return np.clip([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 0, 1)


def make_ava_tables(
    seed: int = 0,
    num_videos: int = 8,
    keyframes: int = 20,
    classes: tuple[int, ...] = (1, 5, 11, 14, 17, 30, 59, 64, 74, 80),
    max_people: int = 4,
    classes_per_box: int = 5,
    unique_scores: bool = True,
    excluded: int = 3,
) -> dict[str, str]:
    """``{"gt", "detections", "label_map", "exclusions"}`` CSV / pbtxt texts.

    ``classes`` are the label map's ids; the last one is never detected, and id 99 (not
    in the map) appears in both files. ``unique_scores``: every score distinct (six
    decimals; no ties); else four decimals as MMAction2 writes them (many ties)."""
    rng = np.random.default_rng(seed)
    classes = list(classes)
    never_detected, no_gt = classes[-1], classes[-2]
    gt_rows, det_rows, det_scores, frames_with_gt = [], [], [], []
    for v in range(num_videos):
        video = f"v{seed:02d}{v:08d}"
        for k in range(keyframes):
            ts = FIRST_TIMESTAMP + k
            people = int(rng.integers(0, max_people + 1))
            if people:
                frames_with_gt.append((video, ts))
            for person in range(people):
                x1, y1 = rng.uniform(0, 0.7, 2)
                w, h = rng.uniform(0.1, 0.3, 2)
                box = np.array([x1, y1, min(x1 + w, 1), min(y1 + h, 1)])
                box = np.round(box, 3)
                pool = [c for c in classes if c != no_gt] + [99]
                actions = rng.choice(pool, int(rng.integers(1, 4)), replace=False)
                for a in actions:
                    gt_rows.append((video, ts, *box, int(a), person))
                for _ in range(1 + int(rng.random() < 0.3)):  # sometimes a duplicate
                    det = _jitter(rng, box, 0.12)
                    others = [c for c in classes + [99] if c != never_detected]
                    shown = set(rng.choice(others, classes_per_box, replace=False).tolist())
                    shown |= {int(a) for a in actions if a != never_detected and rng.random() < 0.8}
                    for c in sorted(shown):
                        mean = 0.6 if c in actions else 0.25
                        det_rows.append((video, ts, *det, c))
                        det_scores.append(float(np.clip(rng.normal(mean, 0.2), 0.001, 0.999)))
            for _ in range(int(rng.poisson(0.6))):  # a box where nobody is
                x1, y1 = rng.uniform(0, 0.8, 2)
                det = np.array([x1, y1, x1 + 0.15, y1 + 0.2])
                for c in rng.choice(classes[:-1], 2, replace=False):
                    det_rows.append((video, ts, *det, int(c)))
                    det_scores.append(float(rng.uniform(0.001, 0.6)))
    det_scores = np.array(det_scores)
    if unique_scores:  # distinct six-decimal values in the scores' order
        order = np.argsort(det_scores, kind="stable")
        ranks = np.empty(len(order), np.int64)
        ranks[order] = np.arange(len(order))
        spread = rng.choice(999_000, len(order), replace=False)
        spread.sort()
        det_scores = (1000 + spread[ranks]) / 1e6
        fmt = "{:.6f}"
    else:
        fmt = "{:.4f}"
    # a zero-area box in both files (MMAction2's IoU is NaN there)
    video = f"v{seed:02d}{0:08d}"
    gt_rows.append((video, FIRST_TIMESTAMP, 0.5, 0.5, 0.5, 0.5, classes[0], 9))
    det_rows.append((video, FIRST_TIMESTAMP, 0.5, 0.5, 0.5, 0.5, classes[0]))
    det_scores = np.append(det_scores, 0.9876)
    gt = "".join(
        f"{v},{t:04d},{x1:.3f},{y1:.3f},{x2:.3f},{y2:.3f},{a},{p}\n"
        for v, t, x1, y1, x2, y2, a, p in gt_rows
    )
    order = rng.permutation(len(det_rows))  # detections in no particular order
    dets = "".join(
        f"{det_rows[i][0]},{det_rows[i][1]:04d},"
        + ",".join(f"{x:.4f}" for x in det_rows[i][2:6])
        + f",{det_rows[i][6]},"
        + fmt.format(det_scores[i])
        + "\n"
        for i in order
    )
    label_map = "".join(f'item {{\n  name: "action {c}"\n  id: {c}\n}}\n' for c in classes)
    picks = rng.choice(len(frames_with_gt), min(excluded, len(frames_with_gt)), replace=False)
    exclusions = "".join(
        f"{frames_with_gt[i][0]},{frames_with_gt[i][1]:04d}\n" for i in sorted(picks)
    )
    exclusions += f"v{seed:02d}99999999,0902\n"  # a keyframe in neither file
    return {"gt": gt, "detections": dets, "label_map": label_map, "exclusions": exclusions}
