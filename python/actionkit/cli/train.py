"""``actionkit-train CONFIG``: trains the model a config describes.

Examples:
    actionkit-train configs/demo/tsm_synthetic.yaml             # the demo: no downloads
    actionkit-train configs/demo/tsm_synthetic.yaml --print-config
    actionkit-train CONFIG --set optim.lr=0.01 data.batch_size=16
    actionkit-train CONFIG --resume                             # go on from WORK_DIR/latest.pth
    torchrun --nproc-per-node 8 -m actionkit.cli.train CONFIG   # one process per GPU

The work dir (default work_dirs/<config name>) receives the checkpoints (epoch_N.pth,
latest.pth, best.pth), log.jsonl, curves.png, tensorboard/ and metrics.json (the final
test metrics). A work dir that holds checkpoints is never overwritten unless --resume or
--overwrite says what to do with it.
"""

from __future__ import annotations

import argparse
import sys

from ..config import dump_config, load_config
from ._common import add_set_flag, add_trust_flag, doc_parser, one_line_errors


def parser() -> argparse.ArgumentParser:
    p = doc_parser("actionkit-train", __doc__)
    p.add_argument("config", help="a YAML config (see configs/)")
    p.add_argument("--work-dir", help="where checkpoints and logs go")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CHECKPOINT",
        help="continue from WORK_DIR/latest.pth, or from CHECKPOINT",
    )
    p.add_argument("--overwrite", action="store_true", help="start over in a used work dir")
    add_set_flag(p)
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    add_trust_flag(p)
    return p


@one_line_errors("actionkit-train")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cfg = load_config(args.config, args.set)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0
    from ..engine import Trainer

    trainer = Trainer(
        cfg, resume=args.resume, overwrite=args.overwrite, trust_checkpoint=args.trust_checkpoint
    )
    result = trainer.fit()
    if trainer.info.is_main:
        skip = ("train_seconds", "num_samples", "epochs", "skipped_steps")
        shown = {k: v for k, v in result.items() if isinstance(v, float) and k not in skip}
        print("final " + " ".join(f"{k} {v:.4f}" for k, v in shown.items()))
        print(f"metrics: {trainer.work_dir / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
