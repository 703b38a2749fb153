"""Initialising a backbone from pretrained weights, 2D into 3D where needed.

``models.create(name, pretrained=PATH)`` (config: ``model.pretrained``) reads ``PATH`` as
data and copies into the model's backbone whatever fits, from any of:

- a torchvision ResNet state dict (``torchvision.models.resnet50().state_dict()``:
  ``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``, ``layer1.0.downsample.0/1``...;
  timm's and mmpretrain's ResNets use the same names), the ``fc`` dropped;
- a backbone checkpoint in actionkit's / MMAction2's layout, bare or under ``backbone.``
  (OpenMMLab checkpoints), a DDP ``module.`` prefix removed;
- a whole recognizer checkpoint (actionkit or MMAction2 1.x) with another head: its
  ``backbone.*`` is used, the rest is reported as unused;
- a CLIP state dict (OpenAI's names, as open_clip saves them) for UniFormerV2: its
  ``visual.*`` image tower (or the image tower alone, as MMAction2's CLIP files hold it);
- an image ViT for TimeSformer: MMAction2's ``vit_base_patch16_224.pth`` or a timm ViT
  state dict (``blocks.i.attn.qkv``...), the image attention copied into both of divided
  space-time attention's attentions as MMAction2 does.

2D weights go into 3D models as MMAction2 1.2.0's ``inflate_weights`` puts them: a 2D
kernel ``[O, I, kh, kw]`` becomes ``[O, I, kt, kh, kw]`` repeated over ``kt`` and divided
by ``kt`` (so a clip that does not change in time gives the 2D network's features away
from the clip's temporal borders); BatchNorm parameters and statistics are copied.
UniFormer and UniFormerV2 (``inflate_centre`` on their backbones) put the 2D kernel on
the middle time step and zeros elsewhere, as MMAction2's ``_load_pretrained`` does. In
the pathways of SlowFast, a convolution whose input is widened by the lateral
connections gets the 2D kernel on its first input channels and zeros on the lateral
ones; the lateral convolutions themselves keep their initialisation; the fast pathway
(1/8 of the channels) cannot take ImageNet weights and is reported as mismatched
(MMAction2 raises there). TSN, TSM and C2D are 2D networks and load the 2D weights as
they are (TSM's shift wrappers, ``.net``, TIN's, ``.net2``, and TSM-NL's, ``.block``,
are looked through).

The :class:`PretrainedReport` says what was copied, what was inflated, what the file
had nothing for (left as initialised), what had the wrong shape (by name, with both
shapes) and which of the file's tensors nothing took.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..errors import CheckpointError

log = logging.getLogger("actionkit")

# torchvision ResNet names -> actionkit/MMAction2 ConvModule names (MMAction2's
# `_load_torchvision_checkpoint` mapping, read the other way round).
_TORCHVISION = [
    (re.compile(r"^conv1\.(weight|bias)$"), r"conv1.conv.\1"),
    (re.compile(r"^bn1\.(\w+)$"), r"conv1.bn.\1"),
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d+)\.(weight|bias)$"), r"\1.conv\2.conv.\3"),
    (re.compile(r"^(layer\d+\.\d+)\.bn(\d+)\.(\w+)$"), r"\1.conv\2.bn.\3"),
    (re.compile(r"^(layer\d+\.\d+)\.downsample\.0\.(weight|bias)$"), r"\1.downsample.conv.\2"),
    (re.compile(r"^(layer\d+\.\d+)\.downsample\.1\.(\w+)$"), r"\1.downsample.bn.\2"),
]
# TSM's TemporalShift(net), TIN's CombineNet(interlace, net2) and the non-local
# NonLocalWrapper(block) wrappers
_WRAPPER = re.compile(r"\.(net2?|block)(?=\.)")


@dataclass
class PretrainedReport:
    """What :func:`load_pretrained` did, key by key (keys are the backbone's own)."""

    path: str
    loaded: list[str] = field(default_factory=list)  # copied as they are
    inflated: list[str] = field(default_factory=list)  # 2D kernels made 3D
    initialised: list[str] = field(default_factory=list)  # nothing in the file for them
    mismatched: list[tuple[str, str, tuple, tuple]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # the file's tensors nothing took

    def summary(self) -> str:
        lines = [
            f"pretrained {self.path}: {len(self.loaded)} tensors loaded, "
            f"{len(self.inflated)} inflated 2D->3D, {len(self.initialised)} left as "
            f"initialised, {len(self.mismatched)} of another shape, "
            f"{len(self.unused)} of the file unused"
        ]
        for key, source, have, want in self.mismatched[:12]:
            lines.append(f"  shape mismatch: {key} {list(want)} <- {source} {list(have)}")
        if len(self.mismatched) > 12:
            lines.append(f"  ... {len(self.mismatched) - 12} more of another shape")
        if self.initialised:
            lines.append(f"  initialised: {_names(self.initialised)}")
        if self.unused:
            lines.append(f"  unused: {_names(self.unused)}")
        return "\n".join(lines)


def _names(keys: list[str], limit: int = 12) -> str:
    more = f" ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def canonical(key: str) -> str:
    """A backbone key in actionkit's layout, wrappers removed."""
    for pattern, repl in _TORCHVISION:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return _WRAPPER.sub("", key)


def _backbone_state(path: str, trust: bool):
    """The file's backbone tensors under canonical names, their names in the file, and
    the file's keys left aside (its head, torchvision's fc)."""
    from .checkpoint import read_state_dict

    state, _ = read_state_dict(path, trust=trust)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    aside: list[str] = []
    if any(k.startswith("visual.") for k in state):  # a whole CLIP: its image tower
        aside = [k for k in state if not k.startswith("visual.")]
        state = {k[len("visual.") :]: v for k, v in state.items() if k.startswith("visual.")}
    elif any(k.startswith("backbone.") for k in state):
        aside = [k for k in state if not k.startswith("backbone.")]
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    found: dict[str, torch.Tensor] = {}
    names: dict[str, str] = {}
    for key, value in state.items():
        if key.startswith("fc."):  # torchvision's / timm's classifier
            aside.append(key)
            continue
        name = canonical(key)
        if name in found:
            raise CheckpointError(f"{path}: {names[name]} and {key} are the same weight")
        found[name], names[name] = value, key
    return found, names, aside


def _swin_2d(backbone: nn.Module, source: dict, names: dict, aside: list) -> None:
    """An image Swin's weights made fit for Video Swin, as MMAction2's
    ``SwinTransformer3D.inflate_weights`` makes them: its final ``norm`` is ``norm3``;
    each relative position bias table (resized bicubically when the image window differs
    from the video window's height and width) is repeated over the ``2 wd - 1`` temporal
    offsets; the derived ``relative_position_index`` / ``attn_mask`` buffers are set
    aside. (The patch embedding's kernel is inflated like any 2D kernel.)"""
    from .backbones.swin import SwinTransformer3D

    if not isinstance(backbone, SwinTransformer3D):
        return
    if "norm.weight" in source and "norm3.weight" not in source:
        for part in ("weight", "bias"):
            source[f"norm3.{part}"], names[f"norm3.{part}"] = (
                source.pop(f"norm.{part}"),
                f"norm.{part}",
            )
    own = backbone.state_dict()
    for key in list(source):
        if key.endswith(("relative_position_index", "attn_mask")):
            aside.append(names.pop(key))
            del source[key]
        elif key.endswith("relative_position_bias_table") and key in own:
            table, target = source[key], own[key]
            if table.shape == target.shape or table.shape[1] != target.shape[1]:
                continue  # (a 3D table, or another head count: reported as mismatched)
            wd, wh, ww = backbone.layers[0].window
            side = int(round(table.shape[0] ** 0.5))
            if table.shape[0] != (2 * wh - 1) * (2 * ww - 1) and side * side == table.shape[0]:
                grid = table.T.reshape(1, -1, side, side)
                grid = torch.nn.functional.interpolate(
                    grid, size=(2 * wh - 1, 2 * ww - 1), mode="bicubic"
                )
                table = grid.reshape(table.shape[1], -1).T
            source[key] = table.repeat(2 * wd - 1, 1)


# timm's ViT names -> MMAction2's image ViT layout (TimeSformer's space-only names); the
# last rule keeps every other name (MMAction2's file, already in that layout)
_TIMM_VIT = [
    (r"^patch_embed\.proj\.", "patch_embed.projection."),
    (r"^blocks\.(\d+)\.norm1\.", r"transformer_layers.layers.\1.norms.0."),
    (r"^blocks\.(\d+)\.norm2\.", r"transformer_layers.layers.\1.norms.1."),
    (
        r"^blocks\.(\d+)\.attn\.qkv\.(weight|bias)$",
        r"transformer_layers.layers.\1.attentions.0.attn.in_proj_\2",
    ),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"transformer_layers.layers.\1.attentions.0.attn.out_proj."),
    (r"^blocks\.(\d+)\.mlp\.fc1\.", r"transformer_layers.layers.\1.ffns.0.layers.0.0."),
    (r"^blocks\.(\d+)\.mlp\.fc2\.", r"transformer_layers.layers.\1.ffns.0.layers.1."),
    (r"^", ""),
]


def _timesformer_2d(backbone: nn.Module, source: dict, names: dict, aside: list) -> None:
    """An image ViT made fit for TimeSformer. timm's names (``blocks.i.attn.qkv``,
    ``norm1``, ``mlp.fc1``, ``patch_embed.proj``; its ``head`` set aside) become those of
    MMAction2's ``vit_base_patch16_224.pth`` (the space-only model's); for divided
    space-time attention, as MMAction2's ``TimeSformer.init_weights`` does, ``norms.0`` /
    ``norms.1`` become the first attention's / the FFN's norm and every tensor of the
    first attention (the temporal one there) is copied into the second (the spatial one);
    ``temporal_fc`` and ``time_embed`` keep their initialisation (zeros)."""
    from .backbones.timesformer import TimeSformer
    from .huggingface import rename

    if not isinstance(backbone, TimeSformer):
        return
    for key in list(source):
        if key.startswith("head."):  # timm's classifier
            aside.append(names.pop(key))
            del source[key]
        elif (new := rename(key, _TIMM_VIT, names[key])) != key:
            source[new], names[new] = source.pop(key), names.pop(key)
    if backbone.attention_type != "divided_space_time" or any(
        ".attentions.1." in k for k in source
    ):
        return
    for key in list(source):
        new = key.replace(".norms.0.", ".attentions.0.norm.").replace(".norms.1.", ".ffns.0.norm.")
        if new != key:
            source[new], names[new] = source.pop(key), names.pop(key)
    for key in [k for k in source if ".attentions.0." in k]:
        copy = key.replace(".attentions.0.", ".attentions.1.")
        source[copy], names[copy] = source[key], names[key]


def _pathways(backbone: nn.Module) -> list[str]:
    """Prefixes (``"slow_path."``) of SlowFast pathways in ``backbone``."""
    from .backbones.resnet3d import ResNet3dPathway

    return [f"{n}." for n, m in backbone.named_modules() if isinstance(m, ResNet3dPathway)]


def _fit(
    own: torch.Tensor, src: torch.Tensor, pathway: bool, centre: bool = False
) -> tuple[str, torch.Tensor | None]:
    """How ``src`` goes into ``own``: ("loaded" | "inflated" | "mismatched", value).
    ``centre``: a 2D kernel goes to the middle time step, zeros elsewhere (UniFormer)."""
    if src.shape == own.shape:
        return "loaded", src
    if own.dim() == 5 and src.dim() == 4 and src.shape[2:] == own.shape[3:]:
        out_ok = src.shape[0] == own.shape[0]
        if out_ok and src.shape[1] < own.shape[1] and pathway:  # lateral inputs: zeros
            pad = src.new_zeros(src.shape[0], own.shape[1] - src.shape[1], *src.shape[2:])
            src = torch.cat((src, pad), 1)
        if out_ok and src.shape[1] == own.shape[1]:
            kt = own.shape[2]
            if centre:
                value = torch.zeros_like(own)
                value[:, :, kt // 2] = src
                return "inflated", value
            return "inflated", src.unsqueeze(2).expand_as(own) / kt
    return "mismatched", None


@torch.no_grad()
def load_pretrained(
    model: nn.Module, path: str | os.PathLike, trust: bool = False
) -> PretrainedReport:
    """Initialises ``model.backbone`` (or ``model`` itself if it has none) from ``path``
    (see the module's doc) and returns the report. A file none of whose tensors fits is
    a :class:`CheckpointError`; partial fits are reported, not refused (SlowFast's fast
    pathway, say). ``trust``: see :func:`actionkit.serialization.load`."""
    path = os.fspath(path)
    backbone = getattr(model, "backbone", model)
    source, source_names, aside = _backbone_state(path, trust)
    _swin_2d(backbone, source, source_names, aside)
    _timesformer_2d(backbone, source, source_names, aside)
    report = PretrainedReport(path)
    pathways = _pathways(backbone)
    centre = getattr(backbone, "inflate_centre", False)
    used: set[str] = set()
    own_state = backbone.state_dict()
    for key, own in own_state.items():
        if key.endswith("num_batches_tracked"):  # bookkeeping: momentum is not None here
            continue
        name = canonical(key)
        prefix = next((p for p in pathways if name.startswith(p)), None)
        candidates = [name]
        if prefix is not None and "_lateral." not in name:  # a pathway from a 2D network
            candidates.append(name[len(prefix) :])
        match = next((c for c in candidates if c in source), None)
        if match is None:
            report.initialised.append(key)
            continue
        src = source[match]
        used.add(match)
        how, value = _fit(own, src, prefix is not None, centre)
        if how == "mismatched":
            report.mismatched.append((key, source_names[match], tuple(src.shape), tuple(own.shape)))
            continue
        own.copy_(value)
        (report.loaded if how == "loaded" else report.inflated).append(key)
    unused = [n for n in source if n not in used and not n.endswith("num_batches_tracked")]
    report.unused = aside + [source_names[n] for n in unused]
    if not report.loaded and not report.inflated:
        example = next(iter(source_names.values()), "none")
        raise CheckpointError(
            f"{path}: none of its {len(source)} backbone tensors fits the backbone of "
            f"{getattr(model, 'name', type(model).__name__)} (its first key: {example}; "
            f"the model's: {next(iter(own_state), 'none')})"
        )
    return report
