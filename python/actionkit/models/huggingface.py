"""Hugging Face ``transformers`` checkpoints of the video transformers, renamed to
actionkit's (MMAction2's) parameter names: ``VideoMAEForVideoClassification`` into the
VideoMAE ViTs (``vit_*_videomae*``) and ``TimesformerForVideoClassification`` (divided
space-time attention) into ``timesformer_divst``. A pure renaming, plus two reshapes:
VideoMAE's separate query / key / value matrices become one packed ``qkv`` and
TimeSformer's packed ``qkv`` becomes the ``in_proj`` of its MultiheadAttention.
:func:`actionkit.models.checkpoint.read_checkpoint` applies it to any file whose keys
start with ``videomae.`` or ``timesformer.`` (origin ``"huggingface"``).

VideoMAE's fixed sinusoidal table is not in these files (transformers computes it); the
model keeps its own. ``transformers``' LayerNorm epsilons differ from MMAction2's (1e-12
in the VideoMAE blocks, 1e-5 in its ``fc_norm``; 1e-6 here): logits agree to about 1e-6
of their size (tests/test_huggingface.py)."""

from __future__ import annotations

import re

import torch
from torch import Tensor

from ..errors import CheckpointError

PREFIXES = ("videomae.", "timesformer.")

_VIDEOMAE = [  # (pattern, replacement) over "videomae."-stripped names
    (r"^embeddings\.patch_embeddings\.projection\.", "backbone.patch_embed.projection."),
    (
        r"^encoder\.layer\.(\d+)\.attention\.attention\.(q_bias|v_bias)$",
        r"backbone.blocks.\1.attn.\2",
    ),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"backbone.blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"backbone.blocks.\1.mlp.layers.0.0."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"backbone.blocks.\1.mlp.layers.1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"backbone.blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"backbone.blocks.\1.norm2."),
    (r"^layernorm\.", "backbone.norm."),
]
_TIMESFORMER = [  # over "timesformer."-stripped names
    (r"^embeddings\.cls_token$", "backbone.cls_token"),
    (r"^embeddings\.position_embeddings$", "backbone.pos_embed"),
    (r"^embeddings\.time_embeddings$", "backbone.time_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "backbone.patch_embed.projection."),
    (r"^encoder\.layer\.(\d+)\.temporal_layernorm\.", r"{layer}.attentions.0.norm."),
    (
        r"^encoder\.layer\.(\d+)\.temporal_attention\.attention\.qkv\.",
        r"{layer}.attentions.0.attn.in_proj_",
    ),
    (
        r"^encoder\.layer\.(\d+)\.temporal_attention\.output\.dense\.",
        r"{layer}.attentions.0.attn.out_proj.",
    ),
    (r"^encoder\.layer\.(\d+)\.temporal_dense\.", r"{layer}.attentions.0.temporal_fc."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"{layer}.attentions.1.norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.qkv\.", r"{layer}.attentions.1.attn.in_proj_"),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"{layer}.attentions.1.attn.out_proj."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"{layer}.ffns.0.norm."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"{layer}.ffns.0.layers.0.0."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"{layer}.ffns.0.layers.1."),
    (r"^layernorm\.", "backbone.norm."),
]
_LAYER = r"backbone.transformer_layers.layers.\1"
_HEAD = [(r"^classifier\.", "cls_head.fc_cls."), (r"^fc_norm\.", "backbone.fc_norm.")]


def is_huggingface(state: dict) -> bool:
    return any(k.startswith(PREFIXES) for k in state)


def rename(key: str, rules: list, path: str, what: str = "the models actionkit converts") -> str:
    """``key`` under the first of ``rules`` (``(pattern, replacement)``) that matches it;
    none matching is an error naming the file, the key and ``what`` it should be of."""
    for pattern, replacement in rules:
        name, count = re.subn(pattern, replacement.replace("{layer}", _LAYER), key)
        if count:
            return name
    raise CheckpointError(f"{path}: {key} is not a parameter of {what}")


def from_huggingface(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    """``state`` (a ``transformers`` video classifier's state dict) under actionkit's names."""
    if any(k.startswith("videomae.") for k in state):
        prefix, rules = "videomae.", _VIDEOMAE
    elif any(k.startswith("timesformer.") for k in state):
        prefix, rules = "timesformer.", _TIMESFORMER
    else:
        raise CheckpointError(f"{path}: no videomae.* or timesformer.* keys")
    if prefix == "timesformer." and not any("temporal_attention" in k for k in state):
        raise CheckpointError(
            f"{path}: a TimeSformer without temporal attention (space-only or joint): only "
            "divided space-time attention (timesformer_divst) converts"
        )
    out: dict[str, Tensor] = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        name = key[len(prefix) :] if key.startswith(prefix) else key
        found = re.match(
            r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.weight$", name
        )
        if prefix == "videomae." and found:
            qkv.setdefault(found[1], {})[found[2]] = value
            continue
        rules_here = _HEAD + rules if not key.startswith(prefix) else rules
        out[rename(name, rules_here, path)] = value
    for layer, parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise CheckpointError(f"{path}: layer {layer} lacks one of query / key / value")
        stacked = torch.cat([parts["query"], parts["key"], parts["value"]])
        out[f"backbone.blocks.{layer}.attn.qkv.weight"] = stacked
    return out
