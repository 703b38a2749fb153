"""``actionkit-test CONFIG CHECKPOINT``: the config's test (multi-clip / multi-crop as
its ``data.test`` sampler and pipeline say), writing predictions and metrics as JSON.

Examples:
    actionkit-test configs/demo/tsm_synthetic.yaml work_dirs/tsm_synthetic/best.pth
    actionkit-test CONFIG mmaction_checkpoint.pth --out results/     # MMAction2 weights too
    actionkit-test CONFIG CKPT --split val --set data.test_batch_size=4
    torchrun --nproc-per-node 8 -m actionkit.cli.test CONFIG CKPT    # sharded, gathered
    actionkit-test --fuse run_j/predictions.json run_b/predictions.json --weights 2 1 --out fused/

Writes OUT/predictions.json (per video: path, label, predicted label, top-5 scores),
OUT/scores.npy (every class's score, [N, K] float32, rows as in predictions.json) and
OUT/test_metrics.json (top1, top5, mean_class_accuracy, per-class accuracy); OUT defaults
to the folder of the checkpoint. ``--confusion-matrix`` adds OUT/confusion_matrix.csv (counts,
rows the true classes, columns the predicted ones, by class name) and
OUT/confusion_matrix.png (each row as fractions of its class; needs matplotlib).
``--dump FILE.npy`` also writes the scores there (MMAction2's ``--dump``: the
view-averaged scores of every sample, float32 [N, K], rows as in predictions.json).

``--fuse`` combines finished runs instead (late fusion, as MMAction2's
``report_accuracy.py``): the runs' scores.npy, softmax-ed first with ``--softmax``,
weighted by ``--weights`` (default 1 each) and summed; it writes the same three files for
the fused scores (OUT defaults to the current folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import load_config
from ..errors import UsageError
from ._common import add_set_flag, add_trust_flag, doc_parser, one_line_errors


def parser() -> argparse.ArgumentParser:
    p = doc_parser("actionkit-test", __doc__)
    p.add_argument("config", nargs="?", help="the YAML config the model was trained with")
    p.add_argument("checkpoint", nargs="?", help="actionkit or MMAction2 .pth")
    p.add_argument(
        "--split",
        choices=["test", "val", "train"],
        default="test",
        help="train: e.g. BSN's TEM results of the training videos, for PGM",
    )
    p.add_argument("--out", help="folder for the JSON files (default: the checkpoint's)")
    p.add_argument(
        "--confusion-matrix",
        action="store_true",
        help="also write confusion_matrix.csv and .png (classification)",
    )
    p.add_argument("--dump", metavar="FILE.npy", help="also write the raw scores to FILE.npy")
    add_set_flag(p)
    add_trust_flag(p)
    fuse = p.add_argument_group("late fusion of finished runs (no config or checkpoint)")
    fuse.add_argument(
        "--fuse", nargs="+", metavar="PREDICTIONS", help="runs' predictions.json (or folders)"
    )
    fuse.add_argument("--weights", nargs="+", type=float, help="one per run (default 1 each)")
    fuse.add_argument("--softmax", action="store_true", help="softmax each run's scores first")
    return p


def dump(results: dict, path: str | None) -> list[Path]:
    """``--dump``: the score matrix at ``path`` too (written atomically)."""
    if path is None:
        return []
    from ..engine.checkpoint import atomic_save_array

    if "scores.npy" not in results:
        raise UsageError("--dump: this task's results have no score matrix (scores.npy)")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_array(Path(path), results["scores.npy"])
    return [Path(path)]


def _fuse(args) -> int:
    from ..engine.checkpoint import atomic_write_json
    from ..engine.evaluate import fuse_predictions, write_confusion_matrix, write_results

    metrics, results = fuse_predictions(args.fuse, args.weights, args.softmax)
    out = Path(args.out or ".")
    written = write_results(results, out) + dump(results, args.dump)
    if args.confusion_matrix:
        written += write_confusion_matrix(results, out)
    weights = args.weights or [1.0] * len(args.fuse)
    result = {"fused": list(args.fuse), "weights": weights, "softmax": args.softmax, **metrics}
    atomic_write_json(out / "test_metrics.json", result, indent=1)
    shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
    print(f"fused {len(args.fuse)} runs: {shown} ({metrics['num_samples']} samples)")
    print(f"wrote {', '.join(map(str, [*written, out / 'test_metrics.json']))}")
    return 0


@one_line_errors("actionkit-test")
def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.dump is not None and not args.dump.endswith(".npy"):
        p.error(f"--dump: {args.dump} must end in .npy (the scores as a NumPy array)")
    if args.fuse:
        if args.config or args.checkpoint or args.set:
            p.error("--fuse combines finished runs: give no config, checkpoint or --set")
        return _fuse(args)
    if args.weights or args.softmax:
        p.error("--weights and --softmax go with --fuse")
    if not args.checkpoint:
        p.error("the following arguments are required: config, checkpoint (or --fuse)")
    cfg = load_config(args.config, args.set)
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint")
    from ..apis import resolve_config
    from ..engine import builder
    from ..engine.checkpoint import atomic_write_json
    from ..engine.dist import destroy, init_distributed
    from ..engine.evaluate import build_evaluator, write_confusion_matrix, write_results
    from ..models.checkpoint import load_checkpoint, read_checkpoint
    from ..models.registry import task_of

    checkpoint = read_checkpoint(args.checkpoint, trust=args.trust_checkpoint)
    # the model the checkpoint records (name, builder arguments), else the config's
    cfg = resolve_config(cfg, checkpoint)
    if args.confusion_matrix and task_of(cfg.model.name) != "classification":
        p.error(f"--confusion-matrix is for classification; {cfg.model.name} is not a classifier")
    info, device = init_distributed(cfg.train.device)
    model = builder.build_model(cfg, lambda _: None, initial_weights=False)
    load_checkpoint(model, checkpoint)
    model.to(device)
    dataset = builder.build_dataset(cfg, args.split)
    loader, _ = builder.build_loader(cfg, args.split, info, dataset, evaluate=True)
    evaluator = build_evaluator(cfg, model, builder.class_names(cfg) or checkpoint.classes)
    metrics = evaluator.evaluate(model, loader, device, info, cfg.train.amp)
    destroy(info)
    if not info.is_main:
        return 0
    result = {"split": args.split, "checkpoint": str(args.checkpoint), **metrics}
    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    results = evaluator.results(dataset)
    written = write_results(results, out) + dump(results, args.dump)
    if args.confusion_matrix:
        names = builder.class_names(cfg) or checkpoint.classes
        written += write_confusion_matrix(results, out, names)
    atomic_write_json(out / "test_metrics.json", result, indent=1)
    shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
    print(f"{args.split}: {shown} ({metrics.get('num_samples', len(dataset))} samples)")
    print(f"wrote {', '.join(map(str, [*written, out / 'test_metrics.json']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
