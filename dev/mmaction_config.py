"""Drafts an actionkit config from a MMAction2 1.2.0 zoo config's recipe (as
``dev/mmaction_fixtures.py recipes`` recorded it in tests/fixtures/mmaction/recipes.json):
the splits' samplers and transforms, the batch size, the optimizer, clipping and the
schedule, in actionkit's terms. The header (what the recipe is, the initial weights) and
anything the recipe cannot say (the model's registered name and arguments, the data
layout) come from the arguments; tests/test_recipes.py then checks the result.

    python dev/mmaction_config.py \\
        recognition/slowonly/slowonly_r50_8xb16-8x8x1-256e_kinetics400-rgb.py \\
        --model slowonly_r50 --base ../_base_/kinetics400.yaml --header "..." > configs/...yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGENET = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])


def flow(value) -> str:
    """YAML flow style, as the configs write it."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0] != "type")  # type first
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def schedule(specs: list[dict], epochs: int, lr: float) -> dict:
    """MMAction2's param_scheduler as actionkit's schedule: a LinearLR warmup, then
    MultiStepLR (milestones counted from its begin) or CosineAnnealingLR."""
    out = {"epochs": epochs}
    for spec in specs:
        kind = spec["type"]
        if kind == "LinearLR":
            out["warmup_epochs"] = spec.get("end", 0) - spec.get("begin", 0)
            out["warmup_factor"] = spec.get("start_factor", 1 / 3)
        elif kind == "MultiStepLR":
            out["policy"] = "multistep"
            out["milestones"] = [spec.get("begin", 0) + m for m in spec["milestones"]]
            if spec.get("gamma", 0.1) != 0.1:
                out["gamma"] = spec["gamma"]
        elif kind == "CosineAnnealingLR":
            out["policy"] = "cosine"
            if spec.get("eta_min"):
                out["min_lr_factor"] = spec["eta_min"] / lr
            elif spec.get("eta_min_ratio"):
                out["min_lr_factor"] = spec["eta_min_ratio"]
        else:
            raise SystemExit(f"unmapped scheduler {kind}: write the schedule by hand")
    order = ("epochs", "policy", "milestones", "gamma", "warmup_epochs", "warmup_factor")
    return {k: out[k] for k in order if k in out} | {k: v for k, v in out.items() if k not in order}


def draft(name: str, model: str, args: dict, base: str, header: str, batch_gpus: int = 8) -> str:
    recipes = json.loads((ROOT / "tests/fixtures/mmaction/recipes.json").read_text())["recipes"]
    recipe = recipes[name]
    lines = [f"# {line}" if line else "#" for line in header.strip().splitlines()]
    lines.append(f"base: {base}")
    model_line = {"name": model, **({"args": args} if args else {})}
    lines.append(f"model: {flow(model_line)}")
    mean, std = recipe["mean_std"]
    norm = {} if [mean, std] == list(IMAGENET) or mean is None else {"mean": mean, "std": std}
    lines.append("data:")
    lines.append(f"  batch_size: {recipe['splits']['train']['batch_size']}")
    for split in ("train", "val", "test"):
        part = recipe["splits"].get(split)
        if part is None:
            continue
        lines.append(f"  {split}:")
        lines.append(f"    sampler: {flow(part['sampler'])}")
        lines.append("    pipeline:")
        for step in part["pipeline"]:
            if step["type"] == "FormatShape":
                step = {**step, **norm}
            if "flip_label_map" in step:
                step["flip_label_map"] = {int(k): v for k, v in step["flip_label_map"].items()}
            lines.append(f"      - {flow(step)}")
    optimizer = dict(recipe["optimizer"])
    kind = optimizer.pop("type").lower()
    lr = optimizer.pop("lr")
    scale = recipe.get("auto_scale_lr") or {}
    if scale.get("enable"):
        lr *= batch_gpus * recipe["splits"]["train"]["batch_size"] / scale["base_batch_size"]
    optim = {"type": kind, "lr": lr, **optimizer}
    if recipe["clip_grad"]:
        optim["clip_grad"] = recipe["clip_grad"]["max_norm"]
    if (recipe["paramwise_cfg"] or {}).get("fc_lr5"):  # TSM's: the classifier at 5x / 10x
        optim["lr_mult"] = {"cls_head.fc_cls.weight": 5, "cls_head.fc_cls.bias": 10}
    lines.append(f"optim: {flow(optim)}")
    lines.append(f"schedule: {flow(schedule(recipe['param_scheduler'], recipe['epochs'], lr))}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the recipe: its path under MMAction2's configs/")
    parser.add_argument("--model", required=True)
    parser.add_argument("--args", default="{}", help="builder arguments, JSON")
    parser.add_argument("--base", required=True)
    parser.add_argument("--header", required=True)
    args = parser.parse_args()
    sys.stdout.write(draft(args.name, args.model, json.loads(args.args), args.base, args.header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
