"""Every config that names an MMAction2 1.2.0 zoo config restates its recipe: per split the
frame sampler, the transforms with their arguments, the batch size and the normalisation;
the optimizer, its lr (scaled as MMAction2's auto_scale_lr scales it), momentum, weight
decay and gradient clipping; the epochs; and the lr at the start of every epoch after the
warm-up (MMAction2 steps its schedulers once an epoch, actionkit every iteration: the same
curve at epoch starts). The recipes are MMAction2's own, read by
``dev/mmaction_fixtures.py recipes`` through mmengine (tests/fixtures/mmaction/
recipes.json: its param_scheduler stepped epoch by epoch), not re-typed.

Deliberate departures are listed in DEPARTURES, each said in its config's header too."""

import inspect
import json
import math
from pathlib import Path

import pytest

from actionkit.config import load_config
from actionkit.engine.optim import LRSchedule
from actionkit.models.registry import _MODELS

ROOT = Path(__file__).resolve().parents[1]
RECIPES = json.loads((ROOT / "tests/fixtures/mmaction/recipes.json").read_text())["recipes"]
STEMS = {Path(k).stem: k for k in RECIPES}
# MMAction2 wraps some transforms: its name -> ours (its "op" argument names ours)
WRAPPED = {"PytorchVideoWrapper": "op"}
# arguments named otherwise here: transform -> {MMAction2's name: ours (None: no such
# argument here, the behaviour fixed as MMAction2's value has it)}
RENAMED = {
    "RandAugment": {"num_layers": "num_ops"},  # pytorchvideo's name
    "RandomErasing": {"erase_prob": "prob", "mode": None},  # mode "rand": per-pixel noise
}
# (config stem, what) -> why: where a config departs from the recipe it names on purpose
DEPARTURES = {
    ("slowonly_nl_r50_kinetics400", "epochs"): "the 150 epochs of its name and schedule; "
    "MMAction2's file keeps its base's 256 (the lr stays at 1% for the last 106)",
    ("slowonly_nl_r50_8x8_kinetics400", "epochs"): "the same, 8x8",
    ("ircsn_r152_ig65m_bn_kinetics400", "norm_eval"): "BatchNorm trained, as its name says; "
    "MMAction2's file inherits the frozen BatchNorm of its bnfrozen base",
    ("ircsn_r152_ig65m_bn_kinetics400", "bn_frozen"): "the same",
    ("tpn_slowonly_r50_kinetics400", "val"): "validation without MMAction2's random ColorJitter",
    ("tpn_slowonly_r50_imagenet_kinetics400", "val"): "the same",
}
# models whose backbone takes MMAction2's norm_eval / bn_frozen (ResNet3d's)
FREEZABLE_BN = {"ircsn_r152", "ipcsn_r152", "ircsn_r50"}
FC_LR5 = {"cls_head.fc_cls.weight": 5.0, "cls_head.fc_cls.bias": 10.0}
_DEFAULT_SAMPLER = {"clip_len": 1, "frame_interval": 1, "num_clips": 1, "test_mode": False}


def header(path: Path) -> str:
    return "".join(line[1:].strip() for line in path.read_text().splitlines() if line[:1] == "#")


def named_recipe(path: Path) -> str | None:
    """The MMAction2 config a config's header names first (its file stem), if any."""
    text = header(path)
    found = [(text.find(stem), -len(stem), stem) for stem in STEMS if stem in text]
    return STEMS[min(found)[2]] if found else None


CASES = [
    pytest.param(p, named_recipe(p), id=p.stem)
    for p in sorted((ROOT / "configs").rglob("*.yaml"))
    if "_base_" not in p.parts and named_recipe(p)
]


def test_the_recipes_are_found():
    # most of the zoo's configs name their MMAction2 recipe (the rest: torchvision's
    # models, the demos, the actionkit-only ones)
    assert len(CASES) >= 125
    assert named_recipe(ROOT / "configs/recognition/tsm_r50_kinetics400.yaml") == (
        "recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py"
    )


def _sampler(spec: dict | None) -> dict:
    spec = dict(spec or {})
    kind = spec.pop("type", None)
    return {"type": kind, **{k: spec.get(k, v) for k, v in _DEFAULT_SAMPLER.items()}, **spec}


def _steps(pipeline: list[dict]) -> list[dict]:
    out = []
    for step in pipeline:
        step = dict(step)
        if step["type"] in WRAPPED:  # PytorchVideoWrapper(op="RandAugment", ...)
            step["type"] = step.pop(WRAPPED[step["type"]])
        for theirs, ours in RENAMED.get(step["type"], {}).items():
            if theirs in step:
                value = step.pop(theirs)
                if ours is not None:
                    step[ours] = value
        if "flip_label_map" in step:  # (JSON keys are strings)
            step["flip_label_map"] = {int(k): v for k, v in step["flip_label_map"].items()}
        out.append(step)
    return out


def _close(a, b) -> bool:
    return a == b or (
        isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b)
    )


@pytest.mark.parametrize("path,name", CASES)
def test_config_restates_mmaction2s_recipe(path, name):
    recipe = RECIPES[name]
    cfg = load_config(path)
    stem, problems = path.stem, []

    def check(what: str, ours, theirs):
        if (stem, what.split(" ")[0]) not in DEPARTURES and not _close(ours, theirs):
            problems.append(f"{what}: ours {ours!r}, MMAction2's {theirs!r}")

    # the head's dropout and the segments, as the builder gets them (its defaults, then
    # the config's arguments)
    builder = inspect.signature(_MODELS[cfg.model.name]).parameters
    given = {k: p.default for k, p in builder.items() if p.default is not p.empty}
    given.update(cfg.model.args)
    trains = recipe["epochs"] is not None  # (a test-only config: dropout does nothing there)
    if trains and recipe["dropout"] is not None and "dropout" in given:
        check("dropout", given["dropout"], recipe["dropout"])
    if trains and recipe["norm_eval"] is not None and cfg.model.name in FREEZABLE_BN:
        check("norm_eval", given.get("norm_eval", False), recipe["norm_eval"])
        check("bn_frozen", given.get("bn_frozen", False), recipe["bn_frozen"])
    if recipe["num_segments"] is not None and "num_segments" in given:
        # (the recipe's is the backbone's: the frames shifted together, where a model
        # takes those apart from the head's segments, as TSM-MobileOne's shift_segments)
        segments = given.get("shift_segments") or given["num_segments"]
        check("num_segments", segments, recipe["num_segments"])
    splits = recipe["splits"]
    repeat = splits.get("train", {}).get("repeat", 1)
    if recipe["epochs"] is not None:  # (test-only configs train nowhere)
        check("epochs", cfg.schedule.epochs, recipe["epochs"] * repeat)
        optimizer = recipe["optimizer"]
        check("optimizer", cfg.optim.type, optimizer["type"].lower())
        lr = optimizer["lr"]
        scale = recipe["auto_scale_lr"] or {}
        if scale.get("enable"):  # the lr given is for base_batch_size; ours for 8 GPUs
            lr *= 8 * cfg.data.batch_size / scale["base_batch_size"]
        check("lr", cfg.optim.lr, lr)
        check("weight_decay", cfg.optim.weight_decay, optimizer.get("weight_decay", 0.0))
        if cfg.optim.type == "sgd":
            check("momentum", cfg.optim.momentum, optimizer.get("momentum", 0.0))
            check("nesterov", cfg.optim.nesterov, optimizer.get("nesterov", False))
        check("clip_grad", cfg.optim.clip_grad, (recipe["clip_grad"] or {}).get("max_norm"))
        # TSM's fc_lr5: the classifier's weight at 5x the lr, its bias at 10x
        fc_lr5 = (recipe["paramwise_cfg"] or {}).get("fc_lr5", False)
        mults = {k: v for k, v in cfg.optim.lr_mult.items() if k.startswith("cls_head.")}
        check("fc_lr5", mults, FC_LR5 if fc_lr5 else {})
        curve = recipe["lr_by_epoch"]
        if curve:
            schedule, per_epoch = LRSchedule(cfg.schedule, 1000), 1000
            warm = math.ceil(max(cfg.schedule.warmup_epochs, 1))
            for epoch in range(warm, cfg.schedule.epochs):
                theirs = curve[epoch // repeat] if epoch // repeat < len(curve) else curve[-1]
                ours = schedule.factor(epoch * per_epoch)
                if not math.isclose(ours, theirs, rel_tol=2e-3, abs_tol=1e-9):
                    check(f"lr at epoch {epoch}", round(ours, 6), theirs)
                    break
    if cfg.data.kind == "audio":  # the sampler over the video's frames, the rows per clip
        for split in ("train", "val", "test"):
            ours, theirs = getattr(cfg.data, split), splits.get(split)
            if ours is None or theirs is None:
                continue
            check(f"{split} sampler", _sampler(ours.sampler), _sampler(theirs["sampler"]))
            selector = [t for t in theirs["pipeline"] if t["type"] == "AudioFeatureSelector"]
            check(
                f"{split} audio_length", cfg.data.audio_length, selector[0].get("fixed_length", 128)
            )
        check("batch_size", cfg.data.batch_size, splits["train"]["batch_size"])
    if cfg.data.kind in ("video", "rawframes"):
        mean, std = recipe["mean_std"]
        for split in ("train", "val", "test"):
            ours, theirs = getattr(cfg.data, split), splits.get(split)
            if ours is None or theirs is None or theirs["sampler"] is None:
                continue
            check(f"{split} sampler", _sampler(ours.sampler), _sampler(theirs["sampler"]))
            steps = _steps(theirs["pipeline"])
            check(
                f"{split} transforms",
                [t["type"] for t in ours.pipeline],
                [t["type"] for t in steps],
            )
            for mine, step in zip(ours.pipeline, steps, strict=False):
                args = {k: v for k, v in step.items() if k != "type"}
                if step["type"] == "FormatShape" and mean is not None:
                    args.update(mean=mean, std=std)  # MMAction2's data_preprocessor
                    mine = {
                        "mean": [123.675, 116.28, 103.53],
                        "std": [58.395, 57.12, 57.375],
                        **mine,
                    }
                mine = {k: v for k, v in mine.items() if k != "type"}
                if step["type"] == "FormatShape" and cfg.data.modality == "flow":
                    # ours: FormatShape flow (NCHW_Flow: TSN's stacked flows) with a mean and
                    # std per flow channel (x, y); MMAction2's: NCHW or NCTHW with the
                    # dataset's modality Flow, the pair repeated per stacked flow
                    mine.pop("flow", None)
                    if mine["input_format"] == "NCHW_Flow":
                        mine["input_format"] = "NCHW"
                    for key in ("mean", "std"):
                        pair = args[key][:2]
                        if args[key] == pair * (len(args[key]) // 2):
                            args[key] = pair
                check(f"{split} {step['type']}", mine, args)
            if split == "train":
                check("batch_size", cfg.data.batch_size, theirs["batch_size"])
    assert not problems, f"{path.name} vs MMAction2's {name}:\n  " + "\n  ".join(problems)


def test_departures_are_said_in_their_headers():
    for (stem, _), why in DEPARTURES.items():
        path = next((ROOT / "configs").rglob(f"{stem}.yaml"))
        assert "MMAction2" in header(path), (stem, why)
