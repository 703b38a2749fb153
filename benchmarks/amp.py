"""CPU bf16 training benchmark: what the Conv3d guard of ``actionkit.amp`` costs.

    actionkit-bench amp [--models i3d_r50,r2plus1d_r34,slowfast_r50,x3d_s]
                        [--isa native,AVX512_CORE_BF16,AVX512_CORE,AVX2]
                        [--frames 8] [--size 112] [--batch 2] [--repeats 5]
                        [--out bench-results/amp.json]

oneDNN picks its kernels by the CPU's instruction set, at most ``ONEDNN_MAX_CPU_ISA``
(read once, at start-up), so each ``--isa`` runs in its own process: on one machine
with AMX this runs the kernels of AMD Zen 4 / Cooper Lake (``AVX512_CORE_BF16``),
Skylake-X to Ice Lake (``AVX512_CORE``) and AVX2-only CPUs; ``native`` sets nothing.
Each process runs ``actionkit.amp``'s probe, then one training step (train mode,
cross-entropy, backward) of each model in three variants, round-robin:

    fp32       no autocast
    bf16-raw   CPU bf16 autocast, every Conv3d through oneDNN's bf16 kernels (what plain
               PyTorch does)
    bf16       CPU bf16 autocast through actionkit: Conv3d in float32 where the probe
               found oneDNN's bf16 weight gradient wrong (the same as bf16-raw elsewhere)

and counts the parameters whose gradient is not finite after each variant's last step.
Times are medians; "x fp32" is a variant's time over fp32's. A process that crashes (the
broken kernel can) is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from actionkit import amp, models
from actionkit.models.zoo import TEST_INPUTS

from ._harness import environment, time_interleaved, write_json

VARIANTS = ("fp32", "bf16-raw", "bf16")
MODELS = ("i3d_r50", "r2plus1d_r34", "slowfast_r50", "x3d_s")
ISAS = ("native", "AVX512_CORE_BF16", "AVX512_CORE", "AVX2")


def input_shape(name: str, batch: int, frames: int | None, size: int) -> tuple[int, ...]:
    clips, c, t, _, _ = TEST_INPUTS[name]
    return (batch, clips, c, frames or t, size, size)


def training_step(model, x, labels, variant: str, mode: str):
    """One step of ``variant`` (``mode``: the Conv3d mode the bf16 variant runs with):
    returns a function that runs it and returns its ms, and one that counts the
    parameters whose last gradient is not finite."""
    grads: dict[str, torch.Tensor] = {}

    def run() -> float:
        amp.set_cpu_bf16_conv3d("native" if variant == "bf16-raw" else mode)
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant != "fp32"):
            logits = model(x)
        F.cross_entropy(logits.float(), labels).backward()
        ms = (time.perf_counter() - start) * 1e3
        grads.update({n: p.grad for n, p in model.named_parameters()})
        return ms

    def nonfinite() -> int:
        return sum(not bool(torch.isfinite(g).all()) for g in grads.values())

    return run, nonfinite


def child(args: argparse.Namespace) -> list[dict]:
    """The benchmark under this process's oneDNN ISA."""
    torch.set_num_threads(args.threads)
    check = amp.cpu_bf16_conv3d()
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
    print(f"[{isa}] {amp.describe(check)}", flush=True)
    rows = []
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = models.create(name, num_classes=10).train()
        shape = input_shape(name, args.batch, args.frames, args.size)
        x = torch.randn(shape)
        labels = torch.arange(args.batch) % 10
        steps = {v: training_step(model, x, labels, v, check.mode) for v in VARIANTS}
        ms, _ = time_interleaved({v: s[0] for v, s in steps.items()}, args.repeats, 2)
        for v in VARIANTS:
            row = {
                "isa": isa,
                "model": name,
                "input": list(shape),
                "variant": v,
                "ms": ms[v],
                "x_fp32": ms[v] / ms["fp32"],
                "nonfinite_params": steps[v][1](),
                "conv3d_mode": check.mode if v == "bf16" else "native",
                "probe": check.reason,
            }
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


HEADER = f"{'isa':<18}{'model':<14}{'variant':<10}{'ms':>9}{'x fp32':>8}{'non-finite':>12}"


def format_row(r: dict) -> str:
    return (
        f"{r['isa']:<18}{r['model']:<14}{r['variant']:<10}{r['ms']:>9.1f}"
        f"{r['x_fp32']:>8.2f}{r['nonfinite_params']:>12}"
    )


def render(path: str) -> str:
    """Markdown tables of a JSON file this benchmark wrote: one per ISA, a row per model."""
    payload = json.loads(Path(path).read_text())
    env = ", ".join(f"{k} {v}" for k, v in payload["environment"].items())
    lines = [f"Environment: {env}."]
    by_isa: dict[str, list[dict]] = {}
    for r in payload["rows"]:
        by_isa.setdefault(r["isa"], []).append(r)
    for isa, rows in by_isa.items():
        cap = "unset" if isa == "native" else isa
        if "failed" in rows[0]:
            lines.append(f"\n`ONEDNN_MAX_CPU_ISA` {cap}: {rows[0]['failed']}")
            continue
        lines += [
            f"\n`ONEDNN_MAX_CPU_ISA` {cap}; probe: {rows[0]['probe']} (Conv3d mode: "
            f"{next(r['conv3d_mode'] for r in rows if r['variant'] == 'bf16')})\n",
            "| model | input | fp32 ms | bf16-raw ms (x fp32) | non-finite grads | "
            "bf16 actionkit ms (x fp32) | non-finite grads |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in dict.fromkeys(r["model"] for r in rows):
            v = {r["variant"]: r for r in rows if r["model"] == name}
            shape = "x".join(str(s) for s in v["fp32"]["input"])
            cells = [f"{v['fp32']['ms']:.0f}"]
            for variant in ("bf16-raw", "bf16"):
                r = v[variant]
                cells += [f"{r['ms']:.0f} ({r['x_fp32']:.2f})", str(r["nonfinite_params"])]
            lines.append(f"| {name} | {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench amp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names")
    parser.add_argument("--isa", default=",".join(ISAS), help="comma-separated oneDNN caps")
    parser.add_argument("--frames", type=int, help="frames per clip (default: the model's)")
    parser.add_argument("--size", type=int, default=112, help="height and width (112)")
    parser.add_argument("--batch", type=int, default=2, help="clips per step (2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", default="bench-results/amp.json", help="JSON to write")
    parser.add_argument("--render", metavar="JSON", help="print a markdown table and exit")
    parser.add_argument("--child", metavar="JSON", help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.render:
        print(render(args.render))
        return 0
    known = [n for n, shape in TEST_INPUTS.items() if len(shape) == 5]  # the 3D models
    unknown = [n for n in args.models.split(",") if n not in known]
    if unknown:
        parser.error(f"--models: not a 3D model: {', '.join(unknown)}; known: {', '.join(known)}")
    if args.child:
        write_json(args.child, child(args))
        return 0
    rows: list[dict] = []
    print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        for isa in args.isa.split(","):
            env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
            if isa != "native":
                env["ONEDNN_MAX_CPU_ISA"] = isa
            out = Path(tmp) / f"{isa}.json"
            cmd = [sys.executable, "-m", __spec__.name, *argv, "--child", str(out)]
            done = subprocess.run(cmd, env=env)
            if done.returncode != 0:
                code = done.returncode
                how = f"crashed (signal {-code})" if code < 0 else f"failed (exit status {code})"
                rows.append({"isa": isa, "failed": how})
                print(f"{isa:<18}{how}", flush=True)
            else:
                rows += json.loads(out.read_text())
    write_json(args.out, {"environment": environment(torch.device("cpu")), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
