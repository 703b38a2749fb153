"""Loading checkpoints: actionkit's own and MMAction2 1.x ``.pth`` files (detected
automatically). actionkit's module names follow MMAction2's, so its state-dict keys load
as they are (its ``data_preprocessor`` buffers are dropped: normalisation belongs to
the data pipeline here)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.nn as nn

from .. import serialization
from ..errors import CheckpointError, UsageError

log = logging.getLogger(__name__)

# The classifier's parameters (X3D's head calls its classifier fc2, GCNHead fc).
_CLASSIFIER = (
    "cls_head.fc_cls.weight",
    "cls_head.fc_cls.bias",
    "cls_head.fc2.weight",
    "cls_head.fc2.bias",
    "cls_head.fc.weight",
    "cls_head.fc.bias",
)


def num_classes_of(state: dict) -> int:
    """The number of classes a state dict's classifier has."""
    for key in _CLASSIFIER[::2]:
        if key in state:
            return int(state[key].shape[0])
    raise CheckpointError(
        "the checkpoint has no classifier (cls_head.fc_cls, cls_head.fc2 or cls_head.fc)"
    )


@dataclass
class Checkpoint:
    """A checkpoint file, read once: its weights and what it records about them (an
    ``actionkit-train`` checkpoint carries its model's name, its training config and its
    class names; an MMAction2 or bare file only weights)."""

    path: str
    state: dict[str, torch.Tensor]
    origin: str  # "actionkit", "mmaction", "huggingface", "torchvision" or "state_dict"
    arch: str | None = None
    config: dict | None = None
    classes: list[str] | None = None

    @property
    def model_record(self) -> dict:
        """The ``model`` section of the config it was trained with ({} if none)."""
        return dict((self.config or {}).get("model") or {})


def read_checkpoint(path: str | os.PathLike, trust: bool = False) -> Checkpoint:
    """Reads ``path`` as data (:func:`actionkit.serialization.load`; ``trust=True``
    unpickles anything). MMAction2's ``data_preprocessor`` buffers are dropped."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    payload = serialization.load(path, trust=trust)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a checkpoint (a {type(payload).__name__})")
    if "actionkit" in payload and "model" in payload:
        config = payload.get("config")
        found = Checkpoint(
            path,
            payload["model"],
            "actionkit",
            payload.get("arch"),
            config if isinstance(config, dict) else None,
            payload.get("classes"),
        )
    elif "state_dict" in payload:
        state = {
            k: v for k, v in payload["state_dict"].items() if not k.startswith("data_preprocessor.")
        }
        found = Checkpoint(path, state, "mmaction")
    elif all(isinstance(v, torch.Tensor) for v in payload.values()):
        found = Checkpoint(path, payload, "state_dict")
    elif isinstance(payload.get("model"), dict) and all(
        isinstance(v, torch.Tensor) for v in payload["model"].values()
    ):  # a bare state dict under "model" (the Swin / DeiT releases' layout)
        found = Checkpoint(path, payload["model"], "state_dict")
    else:
        raise CheckpointError(f"{path}: no state dict inside (keys: {sorted(payload)[:5]})")
    if found.origin == "state_dict":
        from . import torchvision_layout as tv
        from .huggingface import from_huggingface, is_huggingface

        if is_huggingface(found.state):  # transformers' VideoMAE / TimeSformer classifiers
            found = Checkpoint(path, from_huggingface(found.state, path), "huggingface")
        elif tv.is_torchvision_swin3d(found.state):  # torchvision.models.video.swin3d_*
            found = Checkpoint(path, tv.from_torchvision_swin3d(found.state, path), "torchvision")
        elif tv.is_torchvision_mvit(found.state):  # torchvision's mvit_v2_s, mvit_v1_b
            found = Checkpoint(path, tv.from_torchvision_mvit(found.state, path), "torchvision")
        elif tv.is_torchvision_video_resnet(found.state):  # r3d_18, mc3_18, r2plus1d_18
            state = tv.from_torchvision_video_resnet(found.state, path)
            found = Checkpoint(path, state, "torchvision")
        elif tv.is_torchvision_s3d(found.state):  # torchvision.models.video.s3d
            found = Checkpoint(path, tv.from_torchvision_s3d(found.state, path), "torchvision")
    odd = [k for k, v in found.state.items() if not isinstance(v, torch.Tensor)]
    if odd:  # the weights are tensors; placeholders belong to metadata only
        what = f"{odd[0]}: {found.state[odd[0]]!r}"
        raise CheckpointError(f"{path}: the state dict holds non-tensors ({what})")
    return found


def read_state_dict(path: str | os.PathLike, with_arch: bool = False, trust: bool = False):
    """The state dict in ``path`` and its origin (``"actionkit"``, ``"mmaction"``,
    ``"huggingface"``, ``"torchvision"`` or ``"state_dict"``); with ``with_arch`` also the
    model name it records (else None)."""
    found = read_checkpoint(path, trust)
    return (found.state, found.origin, found.arch) if with_arch else (found.state, found.origin)


def model_spec(
    checkpoint: Checkpoint,
    name: str | None = None,
    num_classes: int | None = None,
    args: dict | None = None,
    fallback=None,
) -> tuple[str, int, dict]:
    """The model that holds ``checkpoint``'s weights, as ``(name, num_classes, args)`` for
    :func:`actionkit.models.create`: every command and API that builds a model for a
    checkpoint asks here, so they cannot disagree.

    The name is ``name`` if given, else the one the checkpoint records (its training
    config's ``model.name`` or ``arch``), else ``fallback.name`` (a config's
    ``model`` section, for files that record nothing: MMAction2's); a name that
    disagrees with the record is an error naming both. The builder arguments are the
    recorded ones (``base_channels: 32`` for the demo's half-width TSM) under ``args``;
    ``num_classes`` defaults to the classifier's size (for models without one, BMN, to
    the recorded or the fallback's)."""
    record = checkpoint.model_record
    recorded = record.get("name") or checkpoint.arch
    for given, what in (
        (name, "the model"),
        (getattr(fallback, "name", None), "the config's model"),
    ):
        if given and recorded and given != recorded:
            raise CheckpointError(
                f"{checkpoint.path} is a checkpoint of {recorded}, {what} is {given}"
            )
    chosen = name or recorded or getattr(fallback, "name", None)
    if not chosen:
        raise UsageError(
            f"{checkpoint.path} ({checkpoint.origin} checkpoint) does not name its model: "
            "give the model's registered name"
        )
    if record.get("name") == chosen:
        merged = dict(record.get("args") or {})
    elif not recorded and fallback is not None:
        merged = dict(getattr(fallback, "args", None) or {})
    else:
        merged = {}
    merged.update(args or {})
    from .registry import task_of

    if not num_classes and task_of(chosen) != "classification":  # no classifier to size
        num_classes = record.get("num_classes") or getattr(fallback, "num_classes", None) or 1
    return chosen, num_classes or num_classes_of(checkpoint.state), merged


def build_from_checkpoint(
    checkpoint: Checkpoint,
    name: str | None = None,
    num_classes: int | None = None,
    args: dict | None = None,
    fallback=None,
) -> nn.Module:
    """The model :func:`model_spec` names for ``checkpoint``, with its weights loaded."""
    from .registry import create

    name, classes, args = model_spec(checkpoint, name, num_classes, args, fallback)
    model = create(name, classes, **args)
    load_checkpoint(model, checkpoint)
    return model


def head_class_indices(classes: list[int] | str | os.PathLike) -> list[int]:
    """``classes``: a list of class indices, or a JSON file holding one (MMAction2's
    UniFormerV2 ``channel_map`` files, e.g. ``k710_channel_map/map_k400.json``)."""
    if isinstance(classes, (str, os.PathLike)):
        import json

        try:
            with open(classes, encoding="utf-8") as f:
                loaded = json.load(f)
        except OSError as e:
            raise UsageError(f"head_classes: cannot read {classes}: {e.strerror}") from None
        except ValueError as e:
            raise UsageError(f"head_classes: {classes} is not JSON ({e})") from None
        where, classes = f"{classes}", loaded
    else:
        where = "head_classes"
    if not isinstance(classes, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in classes
    ):
        raise UsageError(f"head_classes: {where} must hold a list of class indices")
    return classes


def select_head_classes(state: dict, classes: list[int], path) -> None:
    """Keeps the rows ``classes`` of ``state``'s classifier, in that order (fine-tuning
    to a subset of the checkpoint's classes: Kinetics-710 -> 400)."""
    total = num_classes_of(state)
    bad = [i for i in classes if not 0 <= i < total]
    if bad:
        raise CheckpointError(
            f"{path}: head_classes: index {bad[0]} is outside its {total} classes"
        )
    if len(set(classes)) != len(classes):
        raise CheckpointError(f"{path}: head_classes: an index appears twice")
    for key in _CLASSIFIER:
        if key in state:
            state[key] = state[key][classes]


def load_checkpoint(
    model: nn.Module,
    path: str | os.PathLike | Checkpoint,
    trust: bool = False,
    head_classes: list[int] | str | None = None,
) -> None:
    """Loads ``path`` (a file, or a :class:`Checkpoint` already read) into ``model``. A
    classifier of another size (fine-tuning to new classes) is left freshly initialised,
    said in one log line; any other mismatch — a checkpoint of another architecture or
    other builder arguments — is a CheckpointError naming both. ``head_classes`` (a list
    of indices or a JSON file of one) keeps those rows of the checkpoint's classifier
    instead, as many as the model has classes. ``trust``: see :func:`read_checkpoint`."""
    found = path if isinstance(path, Checkpoint) else read_checkpoint(path, trust)
    state, origin, arch, path = dict(found.state), found.origin, found.arch, found.path
    for key in getattr(model, "checkpoint_ignore", ()):  # kept by MMAction2, derived here
        state.pop(key, None)
    if head_classes is not None:
        classes = head_class_indices(head_classes)
        if len(classes) != num_classes_of(model.state_dict()):
            raise CheckpointError(
                f"{path}: head_classes names {len(classes)} classes, the model has "
                f"{num_classes_of(model.state_dict())}"
            )
        select_head_classes(state, classes, path)
    own = model.state_dict()
    name = getattr(model, "name", type(model).__name__)
    if arch is not None and arch != name and hasattr(model, "name"):
        raise CheckpointError(f"{path} is a checkpoint of {arch}, the model is {name}")
    for key in getattr(model, "checkpoint_optional", ()):  # derived: the model keeps its own
        state.setdefault(key, own[key])
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    reinit = [k for k in wrong if k in _CLASSIFIER]
    wrong = [k for k in wrong if k not in _CLASSIFIER]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label} {len(keys)} (e.g. {keys[0]})"
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("different shapes", wrong),
            )
            if keys
        )
        trained = found.model_record.get("args")
        hint = f" (it was trained with {trained})" if trained else ""
        raise CheckpointError(
            f"{path} ({origin} checkpoint{hint}) does not fit model {name}"
            f"{_args_of(model)}: {detail}"
        )
    classes = (num_classes_of(state), num_classes_of(own)) if reinit else None
    for k in reinit:
        state.pop(k)
    model.load_state_dict(state, strict=not reinit)
    if reinit:
        old, new = classes
        log.warning(
            "%s: loaded all weights except the classifier (the checkpoint has %s classes, "
            "the model %s); the classifier is freshly initialised",
            path,
            old,
            new,
        )


def _args_of(model: nn.Module) -> str:
    args = getattr(model, "builder_args", None)
    return f" (built with {args})" if args else ""
