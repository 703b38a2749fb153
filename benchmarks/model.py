"""Model benchmark: forward and forward+backward throughput of the recognition zoo.

    actionkit-bench model [--models tsm_r50,i3d_r50] [--variants eager,compile]
                          [--mmaction-python /path/to/peers/venv/bin/python]
                          [--batch 1] [--repeats 5] [--out bench-results/model.json]

Each model runs at its standard test input (``actionkit.models.zoo.TEST_INPUTS``: one
clip of 8 segments at 224x224 for TSN/TSM, 32x224x224 for I3D, SlowFast and CSN, ...;
the skeleton models at MMAction2's NTU60 2D inputs: 2 people x 100 frames x 17 joints
for the GCNs, 17 x 48 x 56 x 56 heatmaps for PoseC3D) in
four variants: eager, channels-last (``models.to_channels_last``: ``channels_last_3d``
for 3D convolutions), and both through ``torch.compile``. "fwd" is eval mode under
``no_grad``; "fwd+bwd" is train mode, cross-entropy, backward. With
``--mmaction-python`` (the side venv of dev/PARITY.md) MMAction2 1.2.0 builds the same
architecture from its zoo config in a second process, its random weights are loaded into
actionkit through the checkpoint converter (so both run the same weights; the largest
logit difference is reported), and its steps are timed interleaved with actionkit's,
round-robin, so that drift of a shared machine affects both alike. Times are medians;
"x mm" is MMAction2's time over the variant's. "peak" is the rise of each process's peak
resident set over one more step after the timed ones (activations, gradients and
temporaries; the weights were resident before; freed memory is handed back to the
kernel first, so the step cannot reuse it unseen: ``benchmarks/_rss.py``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from actionkit import models
from actionkit.models.checkpoint import num_classes_of
from actionkit.models.zoo import SKELETON_INPUTS, TEST_INPUTS

from ._harness import SideProcess, bar_chart, environment, time_interleaved, write_json
from ._rss import peak_rss_rise

VARIANTS = ("eager", "channels_last", "compile", "compile+channels_last")
MODES = ("fwd", "fwd+bwd")
WORKER = Path(__file__).with_name("mmaction_worker.py")


INPUTS = {**TEST_INPUTS, **SKELETON_INPUTS}


def input_shape(name: str, batch: int, size: int | None = None) -> tuple[int, ...]:
    """The model's standard test input for ``batch`` clips (``size`` overrides H and W)."""
    # 2D: [segments, 3, H, W] -> [B, segments, 3, H, W]; 3D: [1 clip, 3, T, H, W] -> [B, ...]
    full = (batch, *INPUTS[name])
    if size is not None and name not in ("stgcn", "stgcnpp", "agcn", "ctrgcn"):
        full = (*full[:-2], size, size)
    return full


def _step(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, mode: str) -> None:
    if mode == "fwd":
        with torch.no_grad():
            model(x)
    else:
        F.cross_entropy(model(x), labels).backward()
        for p in model.parameters():
            p.grad = None


def actionkit_step(
    model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, variant: str, mode: str
) -> Callable[[], float]:
    """A function running one step of ``model`` as ``variant`` and returning its ms."""
    model = copy.deepcopy(model).train(mode != "fwd")
    if "channels_last" in variant:
        models.to_channels_last(model)
    if "compile" in variant:
        model = torch.compile(model)

    def run() -> float:
        start = time.perf_counter()
        _step(model, x, labels, mode)
        return (time.perf_counter() - start) * 1e3

    return run


def bench_model(
    name: str,
    variants: list[str],
    batch: int,
    size: int | None,
    repeats: int,
    warmup: int,
    worker: SideProcess | None,
) -> list[dict]:
    torch.manual_seed(0)
    shape = input_shape(name, batch, size)
    x = torch.randn(shape)
    facts: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if worker is not None:
            torch.save(x, f"{tmp}/input.pt")
            reply = worker.ask(
                cmd="build", name=name, input=f"{tmp}/input.pt", weights=f"{tmp}/mm.pth"
            )
            worker.versions = f"{reply['mmaction']} (torch {reply['torch']})"
        if worker is not None and reply.get("absent"):  # no MMAction2 model of this name
            worker, model = None, models.create(name)
        elif worker is not None:
            model = models.create(name, reply["num_classes"], checkpoint=f"{tmp}/mm.pth")
            with torch.no_grad():
                ours = model.eval()(x)
            theirs = torch.load(reply["logits"])
            facts["max_abs_diff"] = float((ours - theirs).abs().max())
            facts["logit_scale"] = float(theirs.abs().max())
        else:
            model = models.create(name)
    num_classes = num_classes_of(model.state_dict())
    labels = torch.arange(batch) % num_classes
    rows = []
    for mode in MODES:
        fns = {v: actionkit_step(model, x, labels, v, mode) for v in variants}
        if worker is not None:
            worker_mode = "fwd" if mode == "fwd" else "fwdbwd"
            fns["mmaction2"] = lambda m=worker_mode: worker.ask(cmd="step", mode=m)["ms"]
        ms, first = time_interleaved(fns, repeats, warmup)
        peaks = {v: peak_rss_rise(fns[v]) for v in variants}  # one more step each
        if worker is not None:
            peaks["mmaction2"] = worker.ask(cmd="peak", mode=worker_mode)["bytes"]
        for variant, t in ms.items():
            row = {
                "model": name,
                "input": list(shape),
                "mode": mode,
                "variant": variant,
                "ms": t,
                "clips_s": batch * 1e3 / t,
            }
            if "compile" in variant:
                row["first_call_s"] = first[variant] / 1e3
            if "mmaction2" in ms:
                row["x_mm"] = ms["mmaction2"] / t
            if peaks.get(variant) is not None:
                row["peak_bytes"] = peaks[variant]
            rows.append(row | facts)
        print_rows(rows[-len(ms) :])
    torch._dynamo.reset()
    return rows


HEADER = (
    f"{'model':<22}{'mode':<9}{'variant':<23}{'ms':>9}{'clips/s':>9}{'x mm':>7}{'peak MiB':>10}"
)


def mib(row: dict) -> str:
    return f"{row['peak_bytes'] / 2**20:.0f}" if "peak_bytes" in row else "-"


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        ratio = f"{r['x_mm']:.2f}" if "x_mm" in r else "-"
        print(
            f"{r['model']:<22}{r['mode']:<9}{r['variant']:<23}{r['ms']:>9.1f}"
            f"{r['clips_s']:>9.2f}{ratio:>7}{mib(r):>10}",
            flush=True,
        )


def render(path: str) -> str:
    """A markdown table of a JSON file this benchmark wrote."""
    payload = json.loads(Path(path).read_text())
    env = ", ".join(f"{k} {v}" for k, v in payload["environment"].items())
    lines = [
        f"Environment: {env}.\n",
        "| model | input | mode | variant | ms | clips/s | x MMAction2 | peak MiB "
        "| max abs logit diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["rows"]:
        ratio = f"{r['x_mm']:.2f}" if "x_mm" in r else "-"
        diff = f"{r['max_abs_diff']:.1e}" if "max_abs_diff" in r else "-"
        shape = "x".join(str(s) for s in r["input"])
        lines.append(
            f"| {r['model']} | {shape} | {r['mode']} | {r['variant']} | {r['ms']:.0f} | "
            f"{r['clips_s']:.2f} | {ratio} | {mib(r)} | {diff} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--models", help="comma-separated registered names (default: the zoo)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, from {VARIANTS}"
    )
    parser.add_argument("--mmaction-python", help="the side venv's python, to time MMAction2")
    parser.add_argument("--batch", type=int, default=1, help="clips per step (default 1)")
    parser.add_argument("--size", type=int, help="override H and W (smoke runs)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", default="bench-results/model.json", help="JSON to write")
    parser.add_argument("--render", metavar="JSON", help="print a markdown table and exit")
    args = parser.parse_args(argv)
    if args.render:
        print(render(args.render))
        return 0
    names = args.models.split(",") if args.models else list(INPUTS)
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(INPUTS)}")
    variants = args.variants.split(",")
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        parser.error(f"--variants: unknown {', '.join(bad)}; known: {', '.join(VARIANTS)}")
    if args.mmaction_python and not os.access(args.mmaction_python, os.X_OK):
        parser.error(f"--mmaction-python: {args.mmaction_python} is not an executable")
    torch.set_num_threads(args.threads)
    worker = None
    if args.mmaction_python:
        env = dict(os.environ, ACTIONKIT_BENCH_THREADS=str(args.threads))
        worker = SideProcess(args.mmaction_python, WORKER, env=env, name="MMAction2 worker")
    env = environment(torch.device("cpu"))
    rows: list[dict] = []
    print(HEADER)
    try:
        for name in names:
            rows += bench_model(
                name, variants, args.batch, args.size, args.repeats, args.warmup, worker
            )
            # written after every model, so a long run that is stopped keeps its rows
            write_json(args.out, {"environment": env, "rows": rows})
            if worker is not None and worker.versions:
                env["mmaction2"] = worker.versions
    finally:
        if worker is not None:
            worker.close()
    write_json(args.out, {"environment": env, "rows": rows})
    chart = bar_chart(
        Path(args.out).with_suffix(".png"),
        [f"{r['model']} {r['mode']} {r['variant']}" for r in rows],
        {"clips/s": [r["clips_s"] for r in rows]},
        "clips per second",
    )
    print(f"wrote {args.out}" + (f" and {chart}" if chart else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
