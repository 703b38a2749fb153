"""Training benchmark: seconds per iteration, split into data (waiting for the loader)
and compute (forward, backward, optimizer step), as MMAction2's benchmark table reports.

    actionkit-bench train [CONFIG ...] [--iters 20] [--warmup 3] [--set KEY=VALUE ...]

Each config (default: the two synthetic demos) trains for ``warmup + iters`` iterations
of one epoch in a temporary work dir with the real pipeline (decoding, transforms, the
DataLoader workers the config asks for), no evaluation; the medians of the measured
iterations are reported. The synthetic data set is generated first if the config asks
for it (not timed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from ._harness import bar_chart, environment, write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["configs/demo/tsm_synthetic.yaml", "configs/demo/tsn_synthetic.yaml"]


def bench_config(path: str, iters: int, warmup: int, overrides: list[str]) -> dict:
    from actionkit.config import load_config
    from actionkit.engine import Trainer

    with tempfile.TemporaryDirectory() as work:
        sets = [
            *overrides,
            f"work_dir={work}",
            "schedule.epochs=1",
            "schedule.policy=constant",  # (a multistep config's milestones lie past epoch 1)
            "schedule.milestones=[]",
            f"train.max_iters_per_epoch={iters + warmup}",
            "train.log_interval=1",
            "data.val=null",
            "data.test=null",
        ]
        cfg = load_config(path, sets)
        trainer = Trainer(cfg)
        if trainer.iters_per_epoch < iters + warmup:
            raise ValueError(
                f"{path}: only {trainer.iters_per_epoch} iterations in an epoch, "
                f"{iters + warmup} asked for"
            )
        trainer.fit()
        log = [json.loads(line) for line in (Path(work) / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "step_time" in r][warmup:]
    data = statistics.median(r["data_time"] for r in steps)
    compute = statistics.median(r["step_time"] for r in steps)
    batch = cfg.data.batch_size
    return {
        "config": path,
        "model": cfg.model.name,
        "batch": batch,
        "workers": cfg.data.num_workers,
        "amp": cfg.train.amp,
        "data_s_iter": data,
        "compute_s_iter": compute,
        "s_iter": data + compute,
        "clips_s": batch / (data + compute),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="actionkit-bench train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("configs", nargs="*", default=DEFAULT, help="YAML configs")
    parser.add_argument("--iters", type=int, default=20, help="measured iterations")
    parser.add_argument("--warmup", type=int, default=3, help="iterations not measured")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="bench-results/train.json")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error("--iters must be >= 1 and --warmup >= 0")
    rows = []
    for path in args.configs:
        if not Path(path).is_file() and (ROOT / path).is_file():
            path = str(ROOT / path)  # the defaults, from a source checkout
        rows.append(bench_config(path, args.iters, args.warmup, args.set))
    print(
        f"\n{'config':<40}{'model':<12}{'batch':>6}{'data s/it':>11}{'compute s/it':>14}"
        f"{'s/it':>8}{'clips/s':>9}"
    )
    for r in rows:
        print(
            f"{Path(r['config']).name:<40}{r['model']:<12}{r['batch']:>6}"
            f"{r['data_s_iter']:>11.3f}{r['compute_s_iter']:>14.3f}{r['s_iter']:>8.3f}"
            f"{r['clips_s']:>9.1f}"
        )
    write_json(args.out, {"environment": environment(torch.device("cpu")), "rows": rows})
    chart = bar_chart(
        Path(args.out).with_suffix(".png"),
        [f"{Path(r['config']).stem}" for r in rows],
        {"data": [r["data_s_iter"] for r in rows], "compute": [r["compute_s_iter"] for r in rows]},
        "seconds per iteration",
    )
    print(f"wrote {args.out}" + (f" and {chart}" if chart else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
