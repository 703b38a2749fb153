"""``actionkit-cam CHECKPOINT VIDEO --out cam.gif``: where a recognizer looks — Grad-CAM
(or Grad-CAM++) heat maps of the class it predicts, or of a class you name, over the
frames its test pipeline feeds it.

Examples:
    actionkit-cam work_dirs/tsm_synthetic/best.pth clip.mp4 --out cam.gif
    actionkit-cam best.pth clip.mp4 --out cam.mp4 --target move_left --method gradcam++
    actionkit-cam mmaction_i3d.pth clip.mp4 --model i3d_r50 --target-layer backbone.layer3
    actionkit-cam best.pth clip.mp4 --out cam.gif --save-maps maps.npy

Each output frame is a frame the model saw (after the test pipeline's crops) next to the
same frame under the heat map (blue: no weight, red: the most). For a 2D recognizer
(TSN, TSM) a frame per segment, maps scaled over the sample; for a 3D one (I3D,
SlowFast, X3D, transformers) every frame of every view, scaled per view. --target takes
a class name or index (default: the prediction). --target-layer names the layer to
explain (default: the backbone's last feature map; a transformer's last block input),
with dots or MMAction2's slashes (backbone/layer4/1/relu). --save-maps writes the maps
as float32 [views, T, H, W] in [0, 1].
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ._common import add_trust_flag, doc_parser, one_line_errors

SUFFIXES = (".gif", ".mp4", ".mkv", ".webm")


def parser() -> argparse.ArgumentParser:
    p = doc_parser("actionkit-cam", __doc__)
    p.add_argument("checkpoint", help="actionkit or MMAction2 .pth")
    p.add_argument("video", help="a video file or a rawframe folder")
    p.add_argument("--out", help="the heat-map video (.gif, .mp4, .mkv or .webm)")
    p.add_argument("--save-maps", help="the maps as .npy, float32 [views, T, H, W]")
    p.add_argument("--target", help="the class to explain: name or index (default: predicted)")
    p.add_argument("--target-layer", help="the layer to explain (default: the last feature map)")
    p.add_argument("--method", choices=["gradcam", "gradcam++"], default="gradcam")
    p.add_argument("--alpha", type=float, default=0.5, help="the heat map's opacity")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second of --out")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", help="the YAML config the model was trained with")
    source.add_argument("--model", help="a registered model name (zoo test pipeline)")
    p.add_argument("--labels", help="class names, one per line")
    p.add_argument("--device", default="cpu")
    add_trust_flag(p)
    return p


def class_index(target: str | None, labels: list[str] | None, num_classes: int) -> int | None:
    """``--target`` as a class index: a name of ``labels`` or a number."""
    if target is None:
        return None
    if labels and target in labels:
        return labels.index(target)
    if target.lstrip("-").isdigit():
        return int(target)  # (range checked with the scores)
    known = f": one of {', '.join(labels)}" if labels else " (the model has no class names)"
    raise UsageError(f"--target: {target!r} is neither a class index nor a class name{known}")


def frames_out(result, alpha: float) -> list[np.ndarray]:
    """The output frames: each model frame beside its heat map, captioned."""
    from ..cam import blend
    from .infer import draw

    heat = blend(result.frames, result.maps, alpha)
    views, steps = result.maps.shape[:2]
    score = float(result.scores.softmax(0)[result.target])
    out = []
    for v in range(views):
        for t in range(steps):
            pair = np.concatenate((result.frames[v, t].numpy(), heat[v, t]), 1)
            where = f"view {v + 1}/{views}, " if views > 1 else ""
            lines = [f"{result.target_name} ({score:.2f})", f"{where}frame {t + 1}/{steps}"]
            out.append(draw(pair[None], lines)[0])
    return out


@one_line_errors("actionkit-cam")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.out and not args.save_maps:
        raise UsageError("nothing to write: give --out (a video) and/or --save-maps (.npy)")
    if args.out and Path(args.out).suffix.lower() not in SUFFIXES:
        raise UsageError(f"--out: {args.out} must end in {', '.join(SUFFIXES)}")
    if not 0 <= args.alpha <= 1:
        raise UsageError(f"--alpha must lie in [0, 1], got {args.alpha}")
    if not args.fps > 0:
        raise UsageError(f"--fps must be positive, got {args.fps}")
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint")
    if not Path(args.video).exists():
        raise FileNotFoundError(f"{args.video}: no such video")
    from ..apis import init_recognizer
    from ..cam import video_cam
    from ..models.checkpoint import num_classes_of
    from ..models.registry import modality_of, task_of
    from .infer import read_labels, save_gif

    model = init_recognizer(
        args.config or args.model, args.checkpoint, args.device, args.trust_checkpoint
    )
    num_classes = num_classes_of(model.state_dict())
    if args.labels:
        model.labels = read_labels(args.labels, num_classes)
    name = model.cfg.model.name
    reads = model.cfg.data.kind if modality_of(name) == "rgb" else modality_of(name)
    if reads not in ("video", "rawframes") or task_of(name) != "classification":
        raise UsageError(
            f"{args.checkpoint}: actionkit-cam explains recognizers of video frames; "
            f"{name} reads {reads} data"
        )
    target = class_index(args.target, model.labels, num_classes)
    result = video_cam(model, args.video, target, args.target_layer, args.method)
    print(
        f"{args.video}: {args.method} of {result.target_name} "
        f"({result.maps.shape[0]} view(s) of {result.maps.shape[1]} frames)"
    )
    if args.save_maps:
        Path(args.save_maps).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.save_maps, result.maps.numpy())
        print(f"wrote {args.save_maps}")
    if args.out:
        out = Path(args.out)
        frames = frames_out(result, args.alpha)
        if out.suffix.lower() == ".gif":
            save_gif(out, frames, args.fps)
        else:
            from ..data.encode import write_video

            out.parent.mkdir(parents=True, exist_ok=True)
            write_video(out, np.stack(frames), fps=args.fps, codec="h264")
        print(f"wrote {out} ({len(frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
