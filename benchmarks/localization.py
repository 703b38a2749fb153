"""Localization benchmark: BMN's forward and forward+backward (its loss included) and
peak memory, and BSN's proposal generation (PGM), next to MMAction2's in the same run.

    actionkit-bench localization [--mmaction-python /path/to/peers/venv/bin/python]
                                 [--batch 2] [--temporal-dims 100,400] [--feat-dim 400]
                                 [--repeats 5] [--out bench-results/localization.json]

The model is the 400x100 ActivityNet configuration (hidden sizes 256/128/512, 32 samples
per proposal, 3 per bin) at each temporal length T. actionkit's BM layer is
``ops.bm_conv3d`` (the ``[N, C, 32, T, T]`` tensor never exists); MMAction2's multiplies
by its ``T x 32*T*T`` sampling mask (a frozen parameter: 128 MiB at T = 100, 8 GiB at T
= 400) and runs a Conv3d. With ``--mmaction-python`` (the side venv of dev/PARITY.md)
MMAction2 builds its BMN in a second process (only at T = 100: its mask at 400 takes
minutes of Python loops to build and 8 GiB to hold; the table gives its size), its
random weights are loaded into actionkit through the checkpoint loader (so both run the
same weights; the largest output difference is reported), and the steps are timed
interleaved, round-robin. Times are medians; peak memory is the rise of each process's
peak resident set over one step (glibc's free memory handed back to the kernel first:
``benchmarks/_rss.py``).

PGM: ``--pgm-videos`` videos of TEM results (T = 100, smoothed random curves with peaks,
written as MMAction2's TEM CSVs) through actionkit's ``generate_proposals`` (reading the
same CSVs) and MMAction2's ``generate_candidate_proposals`` + proposal CSVs +
``generate_bsp_feature`` (top 1000), both in one process (MMAction2's tool spreads
videos over worker processes; so could ours).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

from actionkit import models
from actionkit.models.bmn_targets import bmn_targets

from ._harness import (
    SideProcess,
    environment,
    mib,
    peak_memory,
    time_interleaved,
    timed_step,
    write_json,
)

WORKER = Path(__file__).with_name("mmaction_bmn_worker.py")
MODES = ("fwd", "fwd+bwd")


def gt_segments(batch: int) -> list[torch.Tensor]:
    """One ground-truth segment per sample (what the MMAction2 worker uses too)."""
    return [torch.tensor([[0.1 + 0.1 * i, 0.6]]) for i in range(batch)]


def actionkit_step(model: torch.nn.Module, x: torch.Tensor, mode: str):
    iou, start, end = bmn_targets(gt_segments(x.shape[0]), model.tscale)
    batch = {"inputs": x, "gt_iou": iou, "gt_start": start, "gt_end": end}

    def run() -> None:
        if mode == "fwd":
            model.eval()
            with torch.no_grad():
                model(x)
        else:
            model.train()
            sum(model.loss(batch).values()).backward()
            model.zero_grad(set_to_none=True)

    return run


def bench(t: int, feat_dim: int, batch: int, repeats: int, warmup: int, worker) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, feat_dim, t, generator=gen)
    rows = []
    reply = None
    with tempfile.TemporaryDirectory() as tmp:
        if worker is not None and t == 100:
            torch.save(x, Path(tmp) / "x.pt")
            reply = worker.ask(
                cmd="build",
                temporal_dim=t,
                feat_dim=feat_dim,
                input=str(Path(tmp) / "x.pt"),
                weights=str(Path(tmp) / "mm.pth"),
            )
            model = models.create("bmn", temporal_dim=t, feat_dim=feat_dim,
                                  checkpoint=Path(tmp) / "mm.pth")  # fmt: skip
            theirs = torch.load(reply["outputs"], weights_only=True)
            with torch.no_grad():
                ours = model.eval()(x)
            diff = max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))
        else:
            model = models.create("bmn", temporal_dim=t, feat_dim=feat_dim)
            diff = None
    ours_bytes = sum(v.numel() * v.element_size() for v in model.state_dict().values())
    mask_bytes = t * 32 * t * t * 4  # MMAction2's sampling mask, float32
    for mode in MODES:
        steps = {"actionkit": timed_step(actionkit_step(model, x, mode), torch.device("cpu"))}
        wire = "fwd" if mode == "fwd" else "fwdbwd"
        if reply is not None:
            steps["mmaction2"] = lambda wire=wire: worker.ask(cmd="step", mode=wire)["ms"]
        times, _ = time_interleaved(steps, repeats, warmup)
        peak = peak_memory(actionkit_step(model, x, mode), torch.device("cpu"))
        row = {
            "T": t,
            "batch": batch,
            "mode": mode,
            "actionkit_ms": times["actionkit"],
            "actionkit_peak_bytes": peak,
            "actionkit_model_bytes": ours_bytes,
            "mmaction2_mask_bytes": mask_bytes,
        }
        if reply is not None:
            row.update(
                mmaction2_ms=times["mmaction2"],
                mmaction2_peak_bytes=worker.ask(cmd="peak", mode=wire)["bytes"],
                mmaction2_model_bytes=reply["model_bytes"],
                speedup=times["mmaction2"] / times["actionkit"],
                max_output_diff=diff,
            )
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


def bench_pgm(videos: int, worker) -> dict:
    import json
    import time

    import numpy as np

    from actionkit.models.bsn import generate_proposals

    rng = np.random.default_rng(0)
    kernel = np.ones(5) / 5
    infos = []
    with tempfile.TemporaryDirectory() as tmp:
        tem_dir, out = Path(tmp) / "tem", Path(tmp) / "out"
        tem_dir.mkdir()
        out.mkdir()
        for v in range(videos):
            curves = [np.convolve(rng.random(104) ** 3, kernel, mode="valid") for _ in range(3)]
            anchors = np.arange(100) / 100
            rows = np.stack([*curves, anchors, anchors + 0.01], 1)
            np.savetxt(tem_dir / f"v_{v}.csv", rows, header="action,start,end,tmin,tmax",
                       delimiter=",", comments="")  # fmt: skip
            start = float(rng.uniform(0, 20))
            segment = {"segment": [start, start + 10.0], "label": "a"}
            infos.append({"video_name": f"v_{v}", "duration_second": 40.0, "duration_frame": 1200,
                          "feature_frame": 1200, "annotations": [segment]})  # fmt: skip
        (Path(tmp) / "infos.json").write_text(json.dumps(infos))
        began = time.perf_counter()
        total = 0
        for info in infos:
            tem = np.loadtxt(tem_dir / f"{info['video_name']}.csv", dtype=np.float32,
                             delimiter=",", skiprows=1)  # fmt: skip
            seg = info["annotations"][0]["segment"]
            props, _ = generate_proposals(tem[:, :3], [[seg[0] / 40.0, seg[1] / 40.0]])
            total += len(props)
        ours = (time.perf_counter() - began) * 1e3
        row = {"videos": videos, "actionkit_ms": ours, "actionkit_proposals_kept": total}
        if worker is not None:
            reply = worker.ask(cmd="pgm", tem_dir=str(tem_dir), infos=str(Path(tmp) / "infos.json"),
                               out=str(out))  # fmt: skip
            row.update(mmaction2_ms=reply["ms"], mmaction2_proposals=reply["proposals"],
                       speedup=reply["ms"] / ours)  # fmt: skip
    shown = f" | MMAction2 {row['mmaction2_ms']:.0f} ms ({row['speedup']:.1f}x)" if worker else ""
    print(f"PGM, {videos} videos: actionkit {ours:.0f} ms{shown}", flush=True)
    return row


HEADER = (
    "| T | mode | actionkit ms | MMAction2 ms | x faster | actionkit peak | MMAction2 peak "
    "| model (ours / MMAction2) |\n|---|---|---|---|---|---|---|---|"
)


def format_row(r: dict) -> str:
    mm = r.get("mmaction2_ms")
    theirs = r.get("mmaction2_model_bytes")
    mm_ms = f"{mm:.0f}" if mm else "-"
    speedup = f"{r['speedup']:.2f}x" if mm else "-"
    model = mib(theirs) if theirs else mib(r["mmaction2_mask_bytes"]) + " (its mask alone)"
    return (
        f"| {r['T']} | {r['mode']} | {r['actionkit_ms']:.0f} | {mm_ms} | {speedup} | "
        f"{mib(r['actionkit_peak_bytes'])} | {mib(r.get('mmaction2_peak_bytes'))} | "
        f"{mib(r['actionkit_model_bytes'])} / {model} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench localization",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mmaction-python", help="the side venv's python, to time MMAction2")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--temporal-dims", default="100,400", help="comma-separated T values")
    parser.add_argument("--feat-dim", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--pgm-videos", type=int, default=50, help="0: no PGM benchmark")
    parser.add_argument("--out", default="bench-results/localization.json")
    args = parser.parse_args(argv)
    if args.mmaction_python and not os.access(args.mmaction_python, os.X_OK):
        parser.error(f"--mmaction-python: {args.mmaction_python} is not an executable")
    dims = [int(v) for v in args.temporal_dims.split(",")]
    torch.set_num_threads(args.threads)
    worker = None
    if args.mmaction_python:
        env = dict(os.environ, ACTIONKIT_BENCH_THREADS=str(args.threads))
        worker = SideProcess(args.mmaction_python, WORKER, env=env, name="MMAction2 worker")
    env = environment(torch.device("cpu"))
    rows: list[dict] = []
    print(HEADER)
    try:
        for t in dims:
            rows += bench(t, args.feat_dim, args.batch, args.repeats, args.warmup, worker)
            write_json(args.out, {"environment": env, "rows": rows})
        pgm = bench_pgm(args.pgm_videos, worker) if args.pgm_videos else None
        write_json(args.out, {"environment": env, "rows": rows, "pgm": pgm})
    finally:
        if worker is not None:
            worker.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
