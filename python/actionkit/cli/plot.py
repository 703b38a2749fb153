"""``actionkit-plot WORK_DIR [WORK_DIR ...] [--keys loss top1 ...] [--out compare.png]``:
the curves of several training runs side by side, read from each run's ``log.jsonl``.

One panel per key, one line per run (labelled by its folder). Training keys (``loss``,
``lr``, ``data_time``, ``step_time``) are drawn over iterations; evaluation metrics
(``top1``, ``mean_class_accuracy``, ``mAP``, ``AR@100``...) over epochs, per split
(``--split val`` by default; ``test`` for the runs that test at the end). Without
``--keys``: the loss and every metric the runs have in common.

Examples:
    actionkit-plot work_dirs/tsm_a work_dirs/tsm_b
    actionkit-plot work_dirs/* --keys loss lr top1 --out runs.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import DataError, UsageError
from ._common import doc_parser, one_line_errors

TRAIN_KEYS = ("loss", "lr", "data_time", "step_time")
_NOT_METRICS = {"epoch", "iteration", "iter", "split", "num_samples"}


def read_log(work_dir: Path, split: str) -> tuple[list[dict], list[dict]]:
    """The run's training records and its ``split`` evaluation records."""
    if not work_dir.exists():
        raise FileNotFoundError(f"{work_dir}: no such run folder or log.jsonl")
    path = work_dir / "log.jsonl" if work_dir.is_dir() else work_dir
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (actionkit-train writes it)")
    train, evals = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}, line {n}: not a JSON record ({e.msg})") from None
        if record.get("split") == split:
            evals.append(record)
        elif "split" not in record and "loss" in record:
            train.append(record)
    return train, evals


def metric_keys(evals: list[dict]) -> list[str]:
    keys: list[str] = []
    for record in evals:
        for k, v in record.items():
            if k not in _NOT_METRICS and isinstance(v, int | float) and k not in keys:
                keys.append(k)
    return keys


def run_labels(runs: list[Path]) -> dict[Path, str]:
    """Each run's legend label: its folder's name, or its path where two names are alike."""
    names = [run.name for run in runs]
    return {run: run.name if names.count(run.name) == 1 else str(run) for run in runs}


@one_line_errors("actionkit-plot")
def main(argv: list[str] | None = None) -> int:
    p = doc_parser("actionkit-plot", __doc__)
    p.add_argument("runs", nargs="+", metavar="WORK_DIR", help="run folders (or log.jsonl files)")
    p.add_argument("--keys", nargs="+", help="what to draw (default: loss and shared metrics)")
    p.add_argument("--split", default="val", help="the evaluation records to draw (default val)")
    p.add_argument("--out", default="compare.png", help="the figure (default compare.png)")
    args = p.parse_args(argv)
    runs = {Path(r): read_log(Path(r), args.split) for r in args.runs}
    labels = run_labels(list(runs))
    available = set(TRAIN_KEYS) | {k for _, evals in runs.values() for k in metric_keys(evals)}
    if args.keys:
        keys = list(args.keys)
        unknown = [k for k in keys if k not in available]
        if unknown:
            raise UsageError(
                f"--keys {' '.join(unknown)}: not in the runs' logs (they have: "
                f"{', '.join(sorted(available))})"
            )
    else:
        shared = [set(metric_keys(evals)) for _, evals in runs.values()]
        common = set.intersection(*shared) if shared else set()
        first = metric_keys(next(iter(runs.values()))[1])
        keys = ["loss", *[k for k in first if k in common]]
    from .._plot import pyplot

    plt = pyplot()
    if plt is None:
        raise UsageError("actionkit-plot draws with matplotlib: pip install matplotlib")
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        over = "iteration" if key in TRAIN_KEYS else "epoch"
        for run, (train, evals) in runs.items():
            rows = [r for r in (train if key in TRAIN_KEYS else evals) if key in r]
            if rows:
                style = "-" if over == "iteration" else "o-"
                ax.plot([r[over] for r in rows], [r[key] for r in rows], style, label=labels[run])
        title = key if key in TRAIN_KEYS else f"{args.split} {key}"
        ax.set(title=title, xlabel=over)
        ax.legend()
    fig.tight_layout()
    out = Path(args.out)
    if out.parent:
        out.parent.mkdir(parents=True, exist_ok=True)
    from ..engine.checkpoint import write_atomically

    write_atomically(out, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    plt.close(fig)
    print(f"wrote {out} ({', '.join(keys)} for {len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
