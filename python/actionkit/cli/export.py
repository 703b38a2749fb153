"""``actionkit-export CHECKPOINT --onnx OUT.onnx [--model NAME] [--num-classes N]
[--input-shape V,3,T,H,W] [--static]``: a trained model as ONNX, for any batch size (and
any clip length and frame size where the model allows), checked in onnxruntime when it
is installed: the logits at two batch sizes must match PyTorch's.

``actionkit-export CHECKPOINT --serve DIR [--name NAME] [--max-batch 8]``: a model server's
layout instead (``actionkit.models.serving``): an NVIDIA Triton model repository
(DIR/NAME/1/model.onnx, DIR/NAME/config.pbtxt with dynamic batching) whose model returns
the view-averaged scores [B, num_classes], DIR/NAME/preprocessing.json (the test
pipeline, shapes, class names), and a TorchServe handler in DIR/torchserve/.

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


def serve(args, checkpoint, model, shape) -> int:
    from ..apis import init_recognizer
    from ..models.serving import write_model_repository

    if args.max_batch < 1:
        raise UsageError(f"--max-batch must be at least 1, got {args.max_batch}")
    if args.static:
        raise UsageError("--static goes with --onnx: a served model takes any batch")
    found = init_recognizer(args.model, args.checkpoint, trust_checkpoint=args.trust_checkpoint)
    if found.test_split is None:
        raise UsageError(f"{args.checkpoint}: --serve is for recognizers of video frames")
    name = args.name or model.name
    files = write_model_repository(
        model, shape, args.serve, name, found.test_split, found.labels, args.max_batch
    )
    for what, path in files.items():
        print(f"wrote {path} ({what})")
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime not installed: the served model was not checked")
        return 0
    from ..models.serving import ViewAveragedScores

    session = onnxruntime.InferenceSession(str(files["onnx"]))
    x = torch.randn(2, *shape)
    out = session.run(None, {"inputs": x.numpy()})[0]
    with torch.no_grad():
        worst = float(abs(out - ViewAveragedScores(model)(x).numpy()).max())
    print(f"onnxruntime vs PyTorch at batch 2: max |score diff| {worst:.2e}")
    return 0 if worst <= 1e-4 else 1


@one_line_errors("actionkit-export")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-export", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    parser.add_argument("checkpoint")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--onnx", help="output .onnx file")
    out.add_argument("--serve", metavar="DIR", help="a Triton / TorchServe layout in DIR")
    parser.add_argument("--name", help="--serve: the model's name (default: its registry name)")
    parser.add_argument("--max-batch", type=int, default=8, help="--serve: Triton's batch cap")
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
    if args.serve:
        return serve(args, checkpoint, model, shape)
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
