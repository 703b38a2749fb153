"""``actionkit-export CHECKPOINT --onnx OUT.onnx [--model NAME] [--num-classes N]
[--input-shape V,3,T,H,W] [--static]``: a trained model as ONNX, for any batch size (and
any clip length and frame size where the model allows), checked in onnxruntime when it
is installed: the logits at two batch sizes must match PyTorch's.

The model is the one the checkpoint records (an ``actionkit-train`` checkpoint carries
its model's name and builder arguments; ``--model`` names it for files that do not)."""

from __future__ import annotations

import argparse
import sys

import torch

from ..errors import UsageError
from ..models.checkpoint import build_from_checkpoint, read_checkpoint
from ..models.export import FIXED_INPUT, export_onnx
from ..models.zoo import TEST_INPUTS
from ._common import add_debug_flag, add_trust_flag, one_line_errors


@one_line_errors("actionkit-export")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-export", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    parser.add_argument("checkpoint")
    parser.add_argument("--onnx", required=True, help="output .onnx file")
    parser.add_argument("--model", help="registered model (default: the checkpoint's)")
    parser.add_argument("--num-classes", type=int)
    parser.add_argument("--input-shape", help="one sample, e.g. 8,3,224,224 (default: the model's)")
    parser.add_argument("--static", action="store_true", help="fix every input axis (batch too)")
    add_trust_flag(parser)
    args = parser.parse_args(argv)
    checkpoint = read_checkpoint(args.checkpoint, trust=args.trust_checkpoint)
    model = build_from_checkpoint(checkpoint, args.model, args.num_classes).eval()
    name = model.name
    if args.input_shape:
        try:
            shape = tuple(int(s) for s in args.input_shape.split(","))
        except ValueError:
            raise UsageError(
                f"--input-shape: {args.input_shape!r} is not numbers like 8,3,224,224"
            ) from None
    elif name in TEST_INPUTS:
        shape = TEST_INPUTS[name]
    else:
        raise UsageError(f"--input-shape: model {name} has no standard input; give one")
    example = torch.randn(1, *shape)
    axes = export_onnx(model, example, args.onnx, dynamic=not args.static)
    free = ", ".join(axes.values()) or "none (--static)"
    fixed = f"; {name}: {FIXED_INPUT[name]}" if name in FIXED_INPUT and axes else ""
    try:
        import onnxruntime
    except ImportError:
        print(
            f"wrote {args.onnx} (free axes: {free}{fixed}; onnxruntime not installed: not checked)"
        )
        return 0
    session = onnxruntime.InferenceSession(args.onnx)
    worst = 0.0
    for batch in (1, 2) if axes else (1,):
        x = torch.randn(batch, *shape)
        out = session.run(None, {"inputs": x.numpy()})[0]
        with torch.no_grad():
            worst = max(worst, float(abs(out - model(x).numpy()).max()))
    sizes = "batch 1 and 2" if axes else "batch 1"
    print(
        f"wrote {args.onnx} (free axes: {free}{fixed}); onnxruntime vs PyTorch at {sizes}: "
        f"max |logit diff| {worst:.2e}"
    )
    return 0 if worst <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
