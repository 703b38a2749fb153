"""The model registry: plain builder functions registered by name (timm's idea)."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable

import torch.nn as nn

from ..errors import UsageError

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Registers ``fn`` under its function name (``@register_model def tsn_r50(...)``)."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"a model named {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def task_of(name: str) -> str:
    """The task of registered model ``name``: its builder's ``task`` attribute, else
    ``"classification"`` (what picks the evaluator and the metrics a config may name)."""
    return getattr(_MODELS[name], "task", "classification")


def modality_of(name: str) -> str:
    """What registered model ``name`` reads: its builder's ``modality`` attribute
    (``"audio"``: log-mel spectrograms), else ``"rgb"`` (frames, or what its task reads)."""
    return getattr(_MODELS[name], "modality", "rgb")


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def create(
    name: str,
    num_classes: int = 400,
    checkpoint: str | None = None,
    trust_checkpoint: bool = False,
    pretrained: str | None = None,
    head_classes: list[int] | str | None = None,
    **kwargs,
) -> nn.Module:
    """Builds the registered model ``name`` with ``num_classes`` outputs.

    ``checkpoint`` loads a whole model: an actionkit or MMAction2 1.x ``.pth`` file (see
    ``models.checkpoint``; a classifier of another size is left initialised, or with
    ``head_classes`` — indices or a JSON file of them — those of its rows kept); builder
    arguments an ``actionkit-train`` checkpoint records (``base_channels=32``) apply
    unless ``kwargs`` give others.
    ``pretrained`` initialises the backbone only, from a torchvision / timm / OpenMMLab
    backbone or a recognizer of another head, inflating 2D weights for 3D models (see
    ``models.pretrained``); ``model.pretrained_report`` says what it loaded. Files are
    read as data; ``trust_checkpoint=True`` lets them unpickle arbitrary objects (code)."""
    if name not in _MODELS:
        close = fnmatch.filter(_MODELS, f"*{name.split('_')[0]}*")
        hint = f" (similar: {', '.join(sorted(close))})" if close else ""
        raise UsageError(f"unknown model {name!r}{hint}; list_models() names them all")
    if checkpoint is not None and pretrained is not None:
        raise UsageError(
            "give checkpoint (the whole model) or pretrained (its backbone), not both: "
            "the checkpoint would overwrite the pretrained backbone"
        )
    found = None
    if checkpoint is not None:
        from .checkpoint import model_spec, read_checkpoint

        found = read_checkpoint(checkpoint, trust=trust_checkpoint)
        # the builder arguments the checkpoint was trained with, under the ones given
        kwargs = model_spec(found, name, num_classes, kwargs)[2]
    model = _MODELS[name](num_classes=num_classes, **kwargs)
    model.name, model.builder_args = name, dict(kwargs)
    if found is not None:
        from .checkpoint import load_checkpoint

        load_checkpoint(model, found, head_classes=head_classes)
    elif head_classes is not None:
        raise UsageError("head_classes selects rows of a checkpoint's classifier: give checkpoint")
    if pretrained is not None:
        from .pretrained import load_pretrained

        model.pretrained_report = load_pretrained(model, pretrained, trust=trust_checkpoint)
        report = model.pretrained_report
        level = logging.WARNING if report.mismatched else logging.INFO
        logging.getLogger("actionkit").log(level, "%s", report.summary())
    return model
