"""``actionkit-info [env]``: versions, compiled CUDA architectures and optional backends
(paste it into a bug report). ``actionkit-info model NAME... | --all``: what models cost:
parameters, FLOPs of one forward pass (a multiply-add = 2 FLOPs; MMAction2's
``get_flops.py`` prints multiply-adds, half this) and the activations one training step
keeps for backward, at each model's standard single-view input or ``--input``.

Examples:
    actionkit-info
    actionkit-info model tsm_r50 slowfast_r50
    actionkit-info model tsn_r50 --input 1,25,3,224,224 --json
    actionkit-info model --all --markdown > zoo_costs.md
"""

from __future__ import annotations

import json
import sys

from ..errors import UsageError
from ._common import doc_parser, one_line_errors


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--input {text!r}: expected sizes such as 1,8,3,224,224") from None
    if not shape or min(shape) < 1:
        raise UsageError(f"--input {text!r}: sizes must be positive")
    return shape


def _row(cost) -> list[str]:
    return [
        cost.name,
        "x".join(map(str, cost.input_shape)),
        f"{cost.params / 1e6:.2f}",
        f"{cost.flops / 1e9:.1f}",
        f"{cost.features_flops / 1e9:.1f}",
        f"{cost.activation_bytes / 2**20:.0f}",
    ]


HEADER = ["model", "input", "params (M)", "GFLOPs", "without head", "activations (MiB)"]


@one_line_errors("actionkit-info")
def main(argv: list[str] | None = None) -> int:
    p = doc_parser("actionkit-info", __doc__)
    p.add_argument("what", nargs="?", choices=["env", "model"], default="env")
    p.add_argument("names", nargs="*", metavar="NAME", help="registered models (with model)")
    p.add_argument("--all", action="store_true", help="every zoo model with a standard input")
    p.add_argument("--input", help="input shape, e.g. 1,8,3,224,224 (one model)")
    p.add_argument("--num-classes", type=int, default=400)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per model")
    out.add_argument("--markdown", action="store_true", help="a markdown table")
    args = p.parse_args(argv)
    if args.what == "env":
        if args.names or args.all or args.input:
            p.error("env takes no model names or options")
        from ..info import info

        print(info())
        return 0
    from ..models.zoo import SKELETON_INPUTS, TEST_INPUTS

    names = list(args.names)
    if args.all:
        names += [n for n in (*TEST_INPUTS, *SKELETON_INPUTS) if n not in names]
    if not names:
        p.error("model: give registered model names or --all")
    if args.input and len(names) > 1:
        p.error("--input sets the shape of one model")
    shape = _shape(args.input) if args.input else None
    from ..info.model import model_cost

    if args.markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
    elif not args.json:
        print(f"{HEADER[0]:<24}{HEADER[1]:<22}" + "".join(f"{h:>19}" for h in HEADER[2:]))
    for name in names:
        cost = model_cost(name, shape, args.num_classes)
        row = _row(cost)
        if args.json:
            print(json.dumps(cost.as_dict()))
        elif args.markdown:
            print("| " + " | ".join(row) + " |")
        else:
            print(f"{row[0]:<24}{row[1]:<22}" + "".join(f"{v:>19}" for v in row[2:]))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
