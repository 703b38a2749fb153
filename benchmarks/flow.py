"""TV-L1 optical flow: actionkit's compiled op against OpenCV's DualTVL1 (the CPU flow
MMAction2's extraction script uses), same frames, same parameters, in one run.

    actionkit-bench flow [--pairs 8] [--sizes 340x256,171x128] [--threads N] [--repeats 3]
                         [--mmaction-tools DIR]

The frames are a real photograph (matplotlib's sample image) rotated and shifted by a
little more each pair, so the true flow is known: the table gives each side's mean
end-point error against it and the mean distance between the two flows next to the
speed. OpenCV runs pair after pair (its own threads inside each), actionkit takes the
pairs as one batch; both get --threads threads. On a GPU a CUDA row is added.
With ``--mmaction-tools`` (MMAction2's ``tools`` folder, which its wheel lacks) the whole
extraction of a 60-frame 340x256 video (frames and flow JPEGs) is timed too:
``actionkit-data extract-frames --flow tvl1`` against its ``misc/flow_extraction.py
--save-rgb``, with the mean difference of the two flow images in grey levels.
Needs opencv-contrib-python(-headless).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

import actionkit

from ._harness import environment, time_interleaved, timed_step, write_json

HEADER = (
    "| frames | pairs | threads | OpenCV DualTVL1 pairs/s | actionkit pairs/s | speed-up | "
    "EPE OpenCV / actionkit (px) | mean distance (px) |\n|---|---|---|---|---|---|---|---|"
)


def photograph_pairs(pairs: int, height: int, width: int):
    """Grey uint8 frame pairs [N, H, W] x 2 and their true flow [N, 2, H, W]."""
    import cv2
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    scale = max(height / image.shape[0], width / image.shape[1]) * 1.25
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cy, cx = image.shape[0] / 2, image.shape[1] / 2
    y0, x0 = int(cy - height / 2), int(cx - width / 2)
    ys, xs = np.mgrid[y0 : y0 + height, x0 : x0 + width].astype(np.float64)
    a, b, flows = [], [], []
    for i in range(pairs):
        m = cv2.getRotationMatrix2D((cx, cy), 0.5 * i, 1.0)
        m[:, 2] += (1.0 + 0.25 * i, -0.5 - 0.1 * i)
        moved = cv2.warpAffine(image, m, image.shape[::-1], flags=cv2.INTER_CUBIC)
        crop = (slice(y0, y0 + height), slice(x0, x0 + width))
        a.append(image[crop])
        b.append(moved[crop])
        tx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        ty = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        flows.append(np.stack([tx - xs, ty - ys]))
    return np.stack(a), np.stack(b), np.stack(flows).astype(np.float32)


def epe(x: np.ndarray, y: np.ndarray, margin: int = 10) -> float:
    """Mean end-point error away from the borders (what moved out of view)."""
    d = np.sqrt(((x - y) ** 2).sum(1))
    h, w = d.shape[1:]
    return float(d[:, margin : h - margin, margin : w - margin].mean())


def run(args) -> list[dict]:
    import cv2

    rows = []
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        a, b, truth = photograph_pairs(args.pairs, height, width)
        tv = cv2.optflow.DualTVL1OpticalFlow_create()
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        results: dict[str, np.ndarray] = {}

        def opencv(a=a, b=b, tv=tv, results=results):
            results["opencv"] = np.stack([tv.calc(x, y, None) for x, y in zip(a, b, strict=True)])

        def ours(at=at, bt=bt, results=results):
            results["actionkit"] = actionkit.ops.optical_flow_tvl1(at, bt).numpy()

        steps = {
            "opencv": timed_step(opencv, torch.device("cpu")),
            "actionkit": timed_step(ours, torch.device("cpu")),
        }
        if torch.cuda.is_available():
            ac, bc = at.cuda(), bt.cuda()

            def ours_cuda(ac=ac, bc=bc, results=results):
                results["cuda"] = actionkit.ops.optical_flow_tvl1(ac, bc).cpu().numpy()

            steps["cuda"] = timed_step(ours_cuda, torch.device("cuda"))
        ms, _ = time_interleaved(steps, repeats=args.repeats, warmup=1)
        cv_flow = results["opencv"].transpose(0, 3, 1, 2)
        row = {
            "frames": f"{width}x{height}",
            "pairs": args.pairs,
            "threads": args.threads,
            "opencv_pairs_per_s": args.pairs / ms["opencv"] * 1e3,
            "actionkit_pairs_per_s": args.pairs / ms["actionkit"] * 1e3,
            "speedup": ms["opencv"] / ms["actionkit"],
            "epe_opencv": epe(cv_flow, truth),
            "epe_actionkit": epe(results["actionkit"], truth),
            "distance": epe(results["actionkit"], cv_flow, margin=0),
        }
        if "cuda" in ms:
            row["cuda_pairs_per_s"] = args.pairs / ms["cuda"] * 1e3
            row["epe_cuda"] = epe(results["cuda"], truth)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def extraction(tools_dir: str, threads: int) -> dict:
    """The whole extraction of one panning video, ours against MMAction2's script."""
    import os
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from PIL import Image

    from actionkit.data import tools
    from actionkit.data.encode import write_video

    script = Path(tools_dir) / "misc" / "flow_extraction.py"
    if not script.is_file():
        raise SystemExit(f"--mmaction-tools: {script} does not exist")
    with tempfile.TemporaryDirectory() as tmp:
        grey, _, _ = photograph_pairs(1, 400, 480)
        rgb = np.repeat(grey[0][..., None], 3, axis=2)
        frames = np.stack([rgb[40 + t // 3 : 296 + t // 3, 20 + t : 360 + t] for t in range(60)])
        video = Path(tmp) / "pan.mp4"
        write_video(video, frames, fps=30)
        start = time.perf_counter()
        tools.extract_rawframes(video, Path(tmp) / "ours", flow="tvl1")
        ours = time.perf_counter() - start
        cmd = [sys.executable, str(script), "--input", str(video), "--dest",
               str(Path(tmp) / "theirs"), "--save-rgb"]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        theirs = time.perf_counter() - start
        diffs = [
            np.abs(
                np.asarray(Image.open(Path(tmp) / "ours" / f"flow_{c}_{k:05d}.jpg"), np.int32)
                - np.asarray(Image.open(Path(tmp) / "theirs" / f"{c}_{k:05d}.jpg"), np.int32)
            ).mean()
            for k in range(1, 60)
            for c in "xy"
        ]
    return {"frames": 60, "size": "340x256", "actionkit_s": ours, "mmaction2_s": theirs,
            "speedup": theirs / ours, "grey_level_difference": float(np.mean(diffs))}  # fmt: skip


def format_row(r: dict) -> str:
    line = (
        f"| {r['frames']} | {r['pairs']} | {r['threads']} | {r['opencv_pairs_per_s']:.2f} | "
        f"{r['actionkit_pairs_per_s']:.2f} | {r['speedup']:.2f}x | "
        f"{r['epe_opencv']:.4f} / {r['epe_actionkit']:.4f} | {r['distance']:.4f} |"
    )
    if "cuda_pairs_per_s" in r:
        line += f"\n| {r['frames']} (CUDA) | {r['pairs']} | - | - | {r['cuda_pairs_per_s']:.1f} | "
        speedup = r["cuda_pairs_per_s"] / r["opencv_pairs_per_s"]
        line += f"{speedup:.1f}x | - / {r['epe_cuda']:.4f} | - |"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench flow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pairs", type=int, default=8, help="frame pairs per size (8)")
    parser.add_argument("--sizes", default="340x256,171x128", help="WxH,... (340x256,171x128)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (3)")
    parser.add_argument("--out", default="bench-results/flow.json", help="JSON to write")
    parser.add_argument("--mmaction-tools", metavar="DIR", help="MMAction2's tools/ folder")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import cv2

        cv2.optflow.DualTVL1OpticalFlow_create  # noqa: B018
    except (ImportError, AttributeError):
        parser.error("needs OpenCV's contrib modules: pip install opencv-contrib-python-headless")
    print(HEADER)
    import cv2

    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    try:
        rows = run(args)
    finally:  # (a benchmark called in-process leaves the thread counts as it found them)
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    result = {"environment": environment(torch.device("cpu")), "rows": rows}
    if args.mmaction_tools:
        e = extraction(args.mmaction_tools, args.threads)
        result["extraction"] = e
        print(
            f"\nextracting {e['frames']} frames at {e['size']} (frames + TV-L1 flow JPEGs): "
            f"actionkit {e['actionkit_s']:.1f} s, MMAction2's flow_extraction.py "
            f"{e['mmaction2_s']:.1f} s ({e['speedup']:.2f}x); the flow images differ by "
            f"{e['grey_level_difference']:.3f} grey levels on average"
        )
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
