"""Optimizers with parameter groups and per-iteration learning-rate schedules."""

from __future__ import annotations

import fnmatch
import math

import torch
from torch import nn

from ..config import OptimConfig, ScheduleConfig
from ..errors import ConfigError

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _layer_decay(model: nn.Module, decay: float | None):
    """name -> the layer-wise lr factor (1 for all without ``decay``). The model numbers
    its layers: ``model.layer_index(name)`` in ``0 .. model.num_layers + 1`` (0: the
    embeddings; the head: ``num_layers + 1``)."""
    if decay is None:
        return lambda name: 1.0
    if not 0 < decay <= 1:
        raise ConfigError(f"optim.layer_decay must be in (0, 1], got {decay}")
    if not hasattr(model, "layer_index"):
        raise ConfigError(
            f"optim.layer_decay: {type(model).__name__} does not number its layers "
            "(the ViT-style transformers do)"
        )
    top = model.num_layers + 1
    return lambda name: decay ** (top - model.layer_index(name))


def param_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """One group per (lr multiplier, decay or not). Norm weights and all biases get no
    weight decay unless ``decay_norm_and_bias``, nor do the parameters ``no_decay``
    names (shell patterns); ``lr_mult`` maps a module-name prefix (``cls_head``,
    ``backbone.layer1``) to a factor on the lr (the longest prefix wins), and
    ``layer_decay`` multiplies it by the layer-wise factor of :func:`_layer_decay`."""
    no_decay: set[int] = set()
    if not cfg.decay_norm_and_bias:
        for module in model.modules():
            for name, p in module.named_parameters(recurse=False):
                if isinstance(module, _NORMS) or name == "bias":
                    no_decay.add(id(p))
    unused, unmatched = set(cfg.lr_mult), set(cfg.no_decay)
    layer_factor = _layer_decay(model, cfg.layer_decay)
    groups: dict[tuple[float, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        prefixes = [k for k in cfg.lr_mult if name == k or name.startswith(k + ".")]
        mult = (cfg.lr_mult[max(prefixes, key=len)] if prefixes else 1.0) * layer_factor(name)
        unused -= set(prefixes)
        named = {pattern for pattern in cfg.no_decay if fnmatch.fnmatchcase(name, pattern)}
        unmatched -= named
        decay = id(p) not in no_decay and not named
        groups.setdefault((mult, decay), []).append(p)
    if unused:
        raise ConfigError(f"optim.lr_mult: no parameters under {', '.join(sorted(unused))}")
    if unmatched:
        raise ConfigError(f"optim.no_decay: no parameter matches {', '.join(sorted(unmatched))}")
    return [
        {
            "params": params,
            "lr": cfg.lr * mult,
            "lr_mult": mult,
            "weight_decay": cfg.weight_decay if decay else 0.0,
        }
        for (mult, decay), params in groups.items()
    ]


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg)
    if cfg.type == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.type == "adam":  # L2 weight decay added to the gradient (BMN's recipe)
        return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.betas))
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))


class LRSchedule:
    """The lr factor as a pure function of the iteration: linear warmup from
    ``warmup_factor``, then cosine to ``min_lr_factor``, multistep or constant. Being a
    function of the iteration alone, it resumes exactly with nothing to save."""

    def __init__(self, cfg: ScheduleConfig, iters_per_epoch: int):
        self.cfg = cfg
        self.iters_per_epoch = iters_per_epoch
        self.total = cfg.epochs * iters_per_epoch
        self.warmup = round(cfg.warmup_epochs * iters_per_epoch)

    def factor(self, it: int) -> float:
        cfg = self.cfg
        if cfg.policy == "cosine":
            span = max(self.total - self.warmup, 1)
            progress = min(max(it - self.warmup, 0) / span, 1.0)
            main = cfg.min_lr_factor + (1 - cfg.min_lr_factor) * 0.5 * (
                1 + math.cos(math.pi * progress)
            )
        elif cfg.policy == "multistep":
            passed = sum(it >= m * self.iters_per_epoch for m in cfg.milestones)
            main = cfg.gamma**passed
        else:
            main = 1.0
        if it < self.warmup:
            main *= cfg.warmup_factor + (1 - cfg.warmup_factor) * it / self.warmup
        return main

    def apply(self, optimizer: torch.optim.Optimizer, base_lr: float, it: int) -> float:
        """Sets every group's lr for iteration ``it``; returns the base group's."""
        return set_lr(optimizer, base_lr, self.factor(it))


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, factor: float) -> float:
    """Every group's lr to ``base_lr x its lr_mult x factor``; returns the base group's."""
    for group in optimizer.param_groups:
        group["lr"] = base_lr * group.get("lr_mult", 1.0) * factor
    return base_lr * factor
