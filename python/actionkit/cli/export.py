"""``actionkit-export CHECKPOINT --onnx OUT.onnx [--model NAME] [--num-classes N]
[--input-shape V,3,T,H,W]``: a trained model as ONNX (checked in onnxruntime when it is
installed: the logits must match PyTorch's)."""

from __future__ import annotations

import argparse
import sys

import torch

from ..errors import UsageError
from ..models import create
from ..models.checkpoint import num_classes_of, read_state_dict
from ..models.export import export_onnx
from ..models.zoo import TEST_INPUTS
from ._common import add_debug_flag, add_trust_flag, one_line_errors


@one_line_errors("actionkit-export")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-export", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    parser.add_argument("checkpoint")
    parser.add_argument("--onnx", required=True, help="output .onnx file")
    parser.add_argument("--model", help="registered model (default: the checkpoint's 'arch')")
    parser.add_argument("--num-classes", type=int)
    parser.add_argument("--input-shape", help="one sample, e.g. 8,3,224,224 (default: the model's)")
    add_trust_flag(parser)
    args = parser.parse_args(argv)
    trust = args.trust_checkpoint
    state, origin, arch = read_state_dict(args.checkpoint, with_arch=True, trust=trust)
    name = args.model or arch
    if not name:
        parser.error(f"{args.checkpoint} ({origin}) does not name its model: pass --model")
    if not args.input_shape and name not in TEST_INPUTS:
        raise UsageError(f"--input-shape: model {name} has no standard input; give one")
    classes = args.num_classes or num_classes_of(state)
    model = create(name, classes, checkpoint=args.checkpoint, trust_checkpoint=trust).eval()
    shape = (
        tuple(int(s) for s in args.input_shape.split(","))
        if args.input_shape
        else TEST_INPUTS[name]
    )
    example = torch.randn(1, *shape)
    export_onnx(model, example, args.onnx)
    try:
        import onnxruntime
    except ImportError:
        print(f"wrote {args.onnx} (onnxruntime not installed: not checked)")
        return 0
    session = onnxruntime.InferenceSession(args.onnx)
    out = session.run(None, {"inputs": example.numpy()})[0]
    with torch.no_grad():
        ref = model(example).numpy()
    diff = float(abs(out - ref).max())
    print(f"wrote {args.onnx}; onnxruntime vs PyTorch: max |logit diff| {diff:.2e}")
    return 0 if diff <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
