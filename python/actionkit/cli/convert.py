"""``actionkit-convert mmaction IN.pth OUT.pth [--model NAME --num-classes N]``: an
MMAction2 1.x checkpoint as a plain actionkit checkpoint (``{"actionkit": version,
"model": state_dict}``), written atomically. With ``--model`` the weights are loaded into
that registered model first, so a checkpoint that does not fit fails here, not later."""

from __future__ import annotations

import argparse
import os
import sys

import torch

from .. import __version__
from ..models.checkpoint import build_from_checkpoint, read_checkpoint
from ._common import add_debug_flag, add_trust_flag, one_line_errors


@one_line_errors("actionkit-convert")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-convert", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    parser.add_argument("source", choices=["mmaction"], help="the checkpoint's origin")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--model", help="check against this registered model")
    parser.add_argument("--num-classes", type=int, help="with --model (default: the checkpoint's)")
    add_trust_flag(parser)
    args = parser.parse_args(argv)
    trust = args.trust_checkpoint
    checkpoint = read_checkpoint(args.input, trust=trust)
    if checkpoint.origin != "mmaction":
        parser.error(f"{args.input} is not an MMAction2 checkpoint (it is {checkpoint.origin})")
    state = checkpoint.state
    if args.model:
        state = build_from_checkpoint(checkpoint, args.model, args.num_classes).state_dict()
    tmp = f"{args.output}.tmp{os.getpid()}"
    try:
        payload = {"actionkit": __version__, "model": state}
        if args.model:
            payload["arch"] = args.model
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
