"""Detection benchmark: the AVA detectors' forward and forward+backward, and the RoI
stage alone, next to MMAction2's FastRCNN.

    actionkit-bench detection [--mmaction-python /path/to/peers/venv/bin/python]
                              [--models ava_slowonly_r50] [--batch 2] [--rois 4]
                              [--size 256] [--repeats 5] [--out bench-results/detection.json]

Each model at its AVA input (``--batch`` clips of ``--size`` x ``--size``: 4 frames for
SlowOnly 4x16, 32 for SlowFast) with ``--rois`` actor boxes per clip, eager and in
channels-last memory format. "fwd" is eval mode
under ``no_grad``; "fwd+bwd" train mode with a binary cross-entropy over the boxes'
classes (background column left out) and backward, the same computation on both
sides (the proposal assignment is not timed). "roi" is the RoI feature extractor alone
on the backbone's features (actionkit: ``ops.roi_align3d``; MMAction2:
``SingleRoIExtractor3D`` with mmcv's RoIAlign). With ``--mmaction-python`` (mmdet and
full mmcv in the side venv, dev/PARITY.md) MMAction2 builds the model from its config,
actionkit loads its random weights (the largest logit difference is reported), and the
steps run interleaved round-robin; "x mm" is MMAction2's median over ours.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

import actionkit.models as models
from actionkit.models.recognizer import to_channels_last

from ._harness import SideProcess, environment, time_interleaved, write_json

WORKER = Path(__file__).with_name("mmaction_det_worker.py")
CONFIGS = {  # MMAction2's config (under its .mim/configs/detection) and input frames
    "ava_slowonly_r50": (
        "slowonly/slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb.py",
        4,
    ),
    "ava_slowfast_r50": (
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb.py",
        32,
    ),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="actionkit-bench detection", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--mmaction-python")
    p.add_argument("--models", default="ava_slowonly_r50")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--rois", type=int, default=4, help="actor boxes per clip")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--variants", default="eager,channels_last",
                   help="actionkit's: eager, channels_last (models.to_channels_last)")  # fmt: skip
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", default="bench-results/detection.json")
    return p


def make_inputs(batch: int, frames: int, size: int, rois: int, classes: int = 81) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, frames, size, size, generator=gen)
    xy = torch.rand(batch * rois, 2, generator=gen) * size * 0.6
    wh = torch.rand(batch * rois, 2, generator=gen) * size * 0.3 + size * 0.1
    index = torch.arange(batch).repeat_interleave(rois)[:, None].float()
    labels = (torch.rand(batch * rois, classes, generator=gen) > 0.9).float()
    return {"x": x, "rois": torch.cat([index, xy, xy + wh], 1), "labels": labels}


def steps(model, data: dict) -> dict:
    def fwd() -> float:
        import time

        model.eval()
        start = time.perf_counter()
        with torch.no_grad():
            model(data["x"], data["rois"])
        return (time.perf_counter() - start) * 1e3

    def fwd_bwd() -> float:
        import time

        model.train()
        start = time.perf_counter()
        logits = model(data["x"], data["rois"])
        F.binary_cross_entropy_with_logits(logits[:, 1:], data["labels"][:, 1:]).backward()
        model.zero_grad(set_to_none=True)
        return (time.perf_counter() - start) * 1e3

    with torch.no_grad():
        feats = model.eval().backbone(data["x"])

    def roi() -> float:
        import time

        start = time.perf_counter()
        with torch.no_grad():
            model.roi_head.bbox_roi_extractor(feats, data["rois"])
        return (time.perf_counter() - start) * 1e3

    return {"fwd": fwd, "fwd+bwd": fwd_bwd, "roi": roi}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = args.models.split(",")
    for name in names:
        if name not in CONFIGS:
            raise SystemExit(f"--models: {name!r} is not one of {sorted(CONFIGS)}")
    env = environment(torch.device("cpu"))
    record, table = {}, []
    worker = None
    if args.mmaction_python:
        worker = SideProcess(args.mmaction_python, WORKER, name="MMAction2 detection worker")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                config, frames = CONFIGS[name]
                data = make_inputs(args.batch, frames, args.size, args.rois)
                torch.save(data, f"{tmp}/inputs.pt")
                diff = None
                if worker is not None:
                    reply = worker.ask(cmd="build", config=config, inputs=f"{tmp}/inputs.pt",
                                       weights=f"{tmp}/mm.pth")  # fmt: skip
                    env["mmaction2"] = reply["mmaction"]
                    model = models.create(name, num_classes=81, checkpoint=f"{tmp}/mm.pth")
                    with torch.no_grad():
                        logits = model.eval()(data["x"], data["rois"])
                    diff = float((logits - torch.tensor(reply["logits"])).abs().max())
                else:
                    model = models.create(name, num_classes=81)
                fns = {}
                for variant in args.variants.split(","):
                    if variant not in ("eager", "channels_last"):
                        raise SystemExit(f"--variants: unknown variant {variant!r}")
                    net = copy.deepcopy(model)
                    if variant == "channels_last":
                        to_channels_last(net)
                    for mode, fn in steps(net, data).items():
                        fns[(mode, variant)] = fn
                if worker is not None:
                    for mode in ("fwd", "fwd+bwd"):
                        fns[(mode, "mmaction2")] = lambda m=mode: worker.ask(cmd="step", mode=m)[
                            "ms"
                        ]
                    fns[("roi", "mmaction2")] = lambda: worker.ask(cmd="roi")["ms"]
                ms, _ = time_interleaved(fns, args.repeats, args.warmup)
                record[name] = {f"{m} {side}": v for (m, side), v in ms.items()}
                record[name]["max_abs_logit_diff"] = diff
                for mode in ("fwd", "fwd+bwd", "roi"):
                    for variant in args.variants.split(","):
                        ours, theirs = ms[(mode, variant)], ms.get((mode, "mmaction2"))
                        table.append((name, f"{mode} {variant}", ours, theirs))
                if diff is not None:
                    print(f"{name}: largest logit difference from MMAction2's {diff:.2e}")
    finally:
        if worker is not None:
            worker.close()
    print(f"{'model':20s}{'mode':24s}{'actionkit ms':>14s}{'MMAction2 ms':>14s}{'x mm':>8s}")
    for name, mode, ours, theirs in table:
        extra = f"{theirs:14.1f}{theirs / ours:8.2f}" if theirs is not None else ""
        print(f"{name:20s}{mode:24s}{ours:14.1f}{extra}")
    write_json(args.out, {"environment": env, "detection": record})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
