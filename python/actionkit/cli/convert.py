"""``actionkit-convert mmaction|actionkit IN.pth OUT.pth [--model NAME --num-classes N]
[--reparameterize]``: an MMAction2 1.x checkpoint as a plain actionkit checkpoint
(``{"actionkit": version, "model": state_dict}``), written atomically. With ``--model``
the weights are loaded into that registered model first, so a checkpoint that does not
fit fails here, not later. ``--reparameterize`` (an MMAction2 or an ``actionkit-train``
checkpoint) folds the model's re-parameterisable blocks (MobileOne's) into their deployed
form, as MMAction2's ``tools/convert/reparameterize_model.py``: the file records
``deploy: true`` in its model's arguments, so every command rebuilds it deployed."""

from __future__ import annotations

import argparse
import os
import sys

import torch

from .. import __version__
from ..models import reparameterize
from ..models.checkpoint import build_from_checkpoint, num_classes_of, read_checkpoint
from ._common import add_debug_flag, add_trust_flag, one_line_errors


@one_line_errors("actionkit-convert")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-convert", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    parser.add_argument("source", choices=["mmaction", "actionkit"], help="the checkpoint's origin")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--model", help="check against this registered model")
    parser.add_argument("--num-classes", type=int, help="with --model (default: the checkpoint's)")
    parser.add_argument(
        "--reparameterize",
        action="store_true",
        help="fold re-parameterisable blocks (MobileOne) into one convolution each",
    )
    add_trust_flag(parser)
    args = parser.parse_args(argv)
    trust = args.trust_checkpoint
    checkpoint = read_checkpoint(args.input, trust=trust)
    if checkpoint.origin != args.source:
        what = "an MMAction2" if args.source == "mmaction" else "an actionkit"
        parser.error(f"{args.input} is not {what} checkpoint (it is {checkpoint.origin})")
    if args.source == "actionkit" and not args.reparameterize:
        parser.error("an actionkit checkpoint converts only with --reparameterize")
    state, config, arch = checkpoint.state, None, args.model
    if args.model or args.reparameterize:
        model = build_from_checkpoint(checkpoint, args.model, args.num_classes)
        if args.reparameterize:
            reparameterize(model)
        state, arch = model.state_dict(), model.name
        if args.reparameterize:  # the model section a rebuild reads: deploy: true in args
            record = {
                "name": arch,
                "num_classes": num_classes_of(state),
                "args": model.builder_args,
            }
            config = {**(checkpoint.config or {}), "model": {**checkpoint.model_record, **record}}
    tmp = f"{args.output}.tmp{os.getpid()}"
    try:
        payload = {"actionkit": __version__, "model": state}
        if arch:
            payload["arch"] = arch
        if config is not None:
            payload["config"] = config
        if checkpoint.classes is not None:
            payload["classes"] = checkpoint.classes
        torch.save(payload, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.output} ({len(state)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
