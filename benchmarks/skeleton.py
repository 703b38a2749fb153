"""Skeleton benchmark: PoseC3D's heatmaps and the skeleton data pipelines, per sample.

    actionkit-bench skeleton [--mmaction-python /path/to/peers/venv/bin/python]
                             [--repeats 10] [--out bench-results/skeleton.json]

One NTU-sized 2D sample (2 people, 300 frames, 17 COCO keypoints in a 1080x1920 frame,
seeded), one thread on each side (``torch.set_num_threads(1)``; NumPy is one thread):

* ``heatmaps_56``: GeneratePoseTarget on a decoded PoseC3D training clip, 2 people x 48
  frames -> 17 x 48 x 56 x 56 (actionkit: :func:`actionkit.ops.pose_heatmaps`);
* ``heatmaps_64_double``: the test-time 64x64 maps with the mirrored copy;
* ``gcn_test``: the NTU60 2D GCN test pipeline (PreNormalize2D, joint stream, 10 clips of
  100 frames, PoseDecode, FormatGCNInput);
* ``posec3d_train`` / ``posec3d_test``: PoseC3D's NTU60 keypoint pipelines (48 frames;
  the test one 10 clips with mirrored copies), as configs/skeleton/posec3d_*.yaml.

With ``--mmaction-python`` MMAction2 1.2.0 runs the same cases from its own transforms in
a second process, steps interleaved round-robin; "x mm" is its median ms over ours.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actionkit.data.pose_transforms import (
    COCO_LEFT_KP,
    COCO_RIGHT_KP,
    CenterCrop,
    FormatGCNInput,
    FormatShape,
    GeneratePoseTarget,
    GenSkeFeat,
    PoseCompact,
    PoseDecode,
    PreNormalize2D,
    RandomResizedCrop,
    Resize,
    SampleFrames,
)
from actionkit.data.sampling import UniformSampleFrames

from ._harness import SideProcess, environment, time_interleaved, write_json

WORKER = Path(__file__).with_name("mmaction_pose_worker.py")


def make_sample(seed: int = 0) -> dict[str, np.ndarray]:
    """Two people walking about a 1080x1920 frame for 300 frames, and a 48-frame clip of
    them in 56x56 heatmap pixels."""
    rng = np.random.default_rng(seed)
    t = np.arange(300)[None, :, None, None]
    centre = (
        np.array([[[[700.0, 500.0]]], [[[1200.0, 560.0]]]])
        + np.stack([30 * np.sin(t / 40.0), 10 * np.cos(t / 25.0)], -1)[..., 0, :]
    )
    body = rng.normal(0, 90, (2, 1, 17, 2))
    keypoint = (centre + body + rng.normal(0, 3, (2, 300, 17, 2))).astype(np.float32)
    score = rng.uniform(0.3, 1.0, (2, 300, 17)).astype(np.float32)
    heat = (rng.random((2, 1, 17, 2)) * 40 + 8 + rng.normal(0, 1, (2, 48, 17, 2))).astype(
        np.float32
    )
    return {
        "keypoint": keypoint,
        "keypoint_score": score,
        "heat_keypoint": heat,
        "heat_score": rng.uniform(0.3, 1.0, (2, 48, 17)).astype(np.float32),
    }


def pipelines() -> dict[str, tuple[list, dict]]:
    def sample(*args, **kwargs):
        return SampleFrames(UniformSampleFrames(*args, **kwargs))

    double = GeneratePoseTarget(double=True, left_kp=COCO_LEFT_KP, right_kp=COCO_RIGHT_KP)
    return {
        "heatmaps_56": ([GeneratePoseTarget()], {"img_shape": (56, 56)}),
        "heatmaps_64_double": ([double], {"img_shape": (64, 64)}),
        "gcn_test": (
            [PreNormalize2D(), GenSkeFeat("coco", ["j"]), sample(100, 10, test_mode=True),
             PoseDecode(), FormatGCNInput(2)],
            {},
        ),
        "posec3d_train": (
            [sample(48), PoseDecode(), PoseCompact(hw_ratio=1.0), Resize((-1, 64)),
             RandomResizedCrop((0.56, 1.0)), Resize((56, 56), keep_ratio=False),
             GeneratePoseTarget(), FormatShape()],
            {},
        ),
        "posec3d_test": (
            [sample(48, 10, test_mode=True), PoseDecode(), PoseCompact(hw_ratio=1.0),
             Resize((-1, 64)), CenterCrop(64), double, FormatShape()],
            {},
        ),
    }  # fmt: skip


def actionkit_step(name: str, steps: list, extra: dict, sample: dict):
    rng = np.random.default_rng(0)

    def run() -> float:
        if name.startswith("heatmaps"):
            results = {"keypoint": sample["heat_keypoint"].copy(),
                       "keypoint_score": sample["heat_score"].copy()}  # fmt: skip
        else:
            results = {
                "keypoint": sample["keypoint"].copy(),
                "keypoint_score": sample["keypoint_score"].copy(),
                "total_frames": int(sample["keypoint"].shape[1]),
                "img_shape": (1080, 1920),
            }
        results.update(copy.deepcopy(extra))
        start = time.perf_counter()
        for step in steps:
            results = step(results, rng) if getattr(step, "needs_rng", False) else step(results)
        return (time.perf_counter() - start) * 1e3

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench skeleton",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mmaction-python", help="the side venv's python, to time MMAction2")
    parser.add_argument("--cases", help="comma-separated (default: all)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default="bench-results/skeleton.json")
    args = parser.parse_args(argv)
    if args.mmaction_python and not os.access(args.mmaction_python, os.X_OK):
        parser.error(f"--mmaction-python: {args.mmaction_python} is not an executable")
    torch.set_num_threads(1)
    cases = pipelines()
    names = args.cases.split(",") if args.cases else list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)}; known: {', '.join(cases)}")
    sample = make_sample()
    env = environment(torch.device("cpu"))
    env["threads"] = 1
    worker = None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.mmaction_python:
            np.savez(f"{tmp}/sample.npz", **sample)
            worker = SideProcess(args.mmaction_python, WORKER, name="MMAction2 pose worker")
            env["mmaction2"] = worker.ask(cmd="load", sample=f"{tmp}/sample.npz")["mmaction"]
        try:
            print(f"{'case':<22}{'actionkit ms':>14}{'MMAction2 ms':>14}{'x mm':>8}")
            for name in names:
                steps, extra = cases[name]
                fns = {"actionkit": actionkit_step(name, steps, extra, sample)}
                if worker is not None:
                    fns["mmaction2"] = lambda n=name: worker.ask(cmd="step", case=n)["ms"]
                ms, _ = time_interleaved(fns, args.repeats, args.warmup)
                row = {"case": name, "actionkit_ms": ms["actionkit"]}
                if "mmaction2" in ms:
                    row |= {
                        "mmaction2_ms": ms["mmaction2"],
                        "x_mm": ms["mmaction2"] / ms["actionkit"],
                    }
                rows.append(row)
                mm = f"{row['mmaction2_ms']:.2f}" if "mmaction2_ms" in row else "-"
                ratio = f"{row['x_mm']:.1f}" if "x_mm" in row else "-"
                print(f"{name:<22}{row['actionkit_ms']:>14.2f}{mm:>14}{ratio:>8}", flush=True)
        finally:
            if worker is not None:
                worker.close()
    write_json(args.out, {"environment": env, "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
