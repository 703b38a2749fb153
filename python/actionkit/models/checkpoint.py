"""Loading checkpoints: actionkit's own and MMAction2 1.x ``.pth`` files (detected
automatically). actionkit's module names follow MMAction2's, so its state-dict keys load
as they are (its ``data_preprocessor`` buffers are dropped: normalisation belongs to
the data pipeline here)."""

from __future__ import annotations

import logging
import os

import torch
import torch.nn as nn

from .. import serialization
from ..errors import CheckpointError

log = logging.getLogger(__name__)

# The classifier's parameters (X3D's head calls its classifier fc2).
_CLASSIFIER = (
    "cls_head.fc_cls.weight",
    "cls_head.fc_cls.bias",
    "cls_head.fc2.weight",
    "cls_head.fc2.bias",
)


def num_classes_of(state: dict) -> int:
    """The number of classes a state dict's classifier has."""
    for key in ("cls_head.fc_cls.weight", "cls_head.fc2.weight"):
        if key in state:
            return int(state[key].shape[0])
    raise CheckpointError("the checkpoint has no classifier (cls_head.fc_cls or cls_head.fc2)")


def read_state_dict(path: str | os.PathLike, with_arch: bool = False, trust: bool = False):
    """The state dict in ``path`` and its origin (``"actionkit"``, ``"mmaction"`` or
    ``"state_dict"`` for a bare one); with ``with_arch`` also the registered model name an
    actionkit checkpoint records (else None). The file is read as data
    (:func:`actionkit.serialization.load`; ``trust=True`` unpickles anything)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    payload = serialization.load(path, trust=trust)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a checkpoint (a {type(payload).__name__})")
    if "actionkit" in payload and "model" in payload:
        found = payload["model"], "actionkit", payload.get("arch")
    elif "state_dict" in payload:
        state = {
            k: v for k, v in payload["state_dict"].items() if not k.startswith("data_preprocessor.")
        }
        found = state, "mmaction", None
    elif all(isinstance(v, torch.Tensor) for v in payload.values()):
        found = payload, "state_dict", None
    else:
        raise CheckpointError(f"{path}: no state dict inside (keys: {sorted(payload)[:5]})")
    odd = [k for k, v in found[0].items() if not isinstance(v, torch.Tensor)]
    if odd:  # the weights are tensors; placeholders belong to metadata only
        what = f"{odd[0]}: {found[0][odd[0]]!r}"
        raise CheckpointError(f"{path}: the state dict holds non-tensors ({what})")
    return found if with_arch else found[:2]


def load_checkpoint(model: nn.Module, path: str | os.PathLike, trust: bool = False) -> None:
    """Loads ``path`` into ``model``. A classifier of another size (fine-tuning to new
    classes) is left freshly initialised, said in one log line; any other mismatch — a
    checkpoint of another architecture — is a CheckpointError naming both. ``trust``: see
    :func:`read_state_dict`."""
    state, origin, arch = read_state_dict(path, with_arch=True, trust=trust)
    own = model.state_dict()
    name = getattr(model, "name", type(model).__name__)
    if arch is not None and arch != name and hasattr(model, "name"):
        raise CheckpointError(f"{os.fspath(path)} is a checkpoint of {arch}, the model is {name}")
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
        raise CheckpointError(
            f"{os.fspath(path)} ({origin} checkpoint) does not fit model {name}: {detail}"
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
            os.fspath(path),
            old,
            new,
        )
