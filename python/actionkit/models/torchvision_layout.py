"""torchvision's video checkpoints. Its video ResNets (``r3d_18``, ``mc3_18``,
``r2plus1d_18``) have actionkit models of their own names and parameter names: a file
of theirs needs only ``backbone.`` before each name and its ``fc`` as the classifier.
Its S3D (``s3d``) is a zoo model of that name too (``features.*`` as they are, the
classifier's 1x1x1 convolution as a linear layer). Its MViTv2-S (``mvit_v2_s``) goes into
``mvitv2_s`` and its MViTv1-B (``mvit_v1_b``) into actionkit's ``mvit_v1_b``: the same
networks under other names (``conv_proj``, ``pos_encoding.class_token`` / ``*_pos``,
``attn.project.0``, ``pool_q.pool`` / ``pool_q.norm_act.0``, ``mlp.0`` / ``mlp.3``, the
skip ``project``, ``head.1``). Its video
Swin checkpoints (``torchvision.models.video.swin3d_t/s/b``: their
``state_dict()`` or weight files) renamed to actionkit's (MMAction2's) ``swin3d_*``:
``patch_embed`` as it is, ``features.0, 2, 4, 6`` the four stages' blocks, ``features.1,
3, 5`` the patch mergings, ``mlp.0`` / ``mlp.3`` the MLP's ``fc1`` / ``fc2``, ``norm``
the final norm (``norm3`` here), ``head`` the classifier; the derived
``relative_position_index`` buffers are dropped.
:func:`actionkit.models.checkpoint.read_checkpoint` applies it to files with those keys
(origin ``"torchvision"``); the logits equal torchvision's (tests/test_torchvision_layout.py)."""

from __future__ import annotations

import re

from torch import Tensor

from ..errors import CheckpointError
from .huggingface import rename


def is_torchvision_video_resnet(state: dict) -> bool:
    return "stem.0.weight" in state and any(k.startswith("layer1.0.conv1.0.") for k in state)


def from_torchvision_video_resnet(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith(("stem.", "layer1.", "layer2.", "layer3.", "layer4.")):
            out["backbone." + key] = value
        elif key.startswith("fc."):
            out["cls_head.fc_cls." + key[len("fc.") :]] = value
        else:
            raise CheckpointError(f"{path}: {key} is not a parameter of torchvision's VideoResNet")
    return out


def is_torchvision_mvit(state: dict) -> bool:
    return "conv_proj.weight" in state and "pos_encoding.class_token" in state


_MVIT = [
    (r"^conv_proj\.", "backbone.patch_embed.projection."),
    (r"^pos_encoding\.class_token$", "backbone.cls_token"),
    (r"^pos_encoding\.(spatial|temporal|class)_pos$", r"backbone.pos_embed_\1"),
    (r"^norm\.", "backbone.norm3."),
    (r"^head\.1\.", "cls_head.fc_cls."),
    (r"^blocks\.(\d+)\.attn\.project\.0\.", r"backbone.blocks.\1.attn.proj."),
    (r"^blocks\.(\d+)\.attn\.pool_([qkv])\.pool\.", r"backbone.blocks.\1.attn.pool_\2."),
    (r"^blocks\.(\d+)\.attn\.pool_([qkv])\.norm_act\.0\.", r"backbone.blocks.\1.attn.norm_\2."),
    (r"^blocks\.(\d+)\.mlp\.0\.", r"backbone.blocks.\1.mlp.fc1."),
    (r"^blocks\.(\d+)\.mlp\.3\.", r"backbone.blocks.\1.mlp.fc2."),
    (r"^blocks\.(\d+)\.project\.", r"backbone.blocks.\1.proj."),
    (
        r"^blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.rel_pos_[thw])(\.|$)",
        r"backbone.blocks.\1.\2\3",
    ),
]


def from_torchvision_mvit(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    """MViTv2-S into ``mvitv2_s``, MViTv1-B (its absolute positions: ``spatial_pos``
    ``[h*w, C]``, ``temporal_pos`` ``[t, C]``, ``class_pos`` ``[C]``) into ``mvit_v1_b``."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        name = rename(key, _MVIT, path, "torchvision's MViT")
        if name in ("backbone.cls_token", "backbone.pos_embed_class"):
            value = value.reshape(1, 1, -1)  # [C]
        elif name.startswith("backbone.pos_embed_"):
            value = value[None]  # [L, C]
        out[name] = value
    return out


def is_torchvision_s3d(state: dict) -> bool:
    return "features.0.0.0.weight" in state and "classifier.1.weight" in state


def from_torchvision_s3d(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    """``features.*`` under ``backbone.``, the 1x1x1 classifier convolution as the linear
    ``fc_cls``."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.startswith("features."):
            out["backbone." + key] = value
        elif key == "classifier.1.weight":
            out["cls_head.fc_cls.weight"] = value.flatten(1)  # [K, 1024, 1, 1, 1]
        elif key == "classifier.1.bias":
            out["cls_head.fc_cls.bias"] = value
        else:
            raise CheckpointError(f"{path}: {key} is not a parameter of torchvision's S3D")
    return out


def is_torchvision_swin3d(state: dict) -> bool:
    return "patch_embed.proj.weight" in state and "features.0.0.attn.qkv.weight" in state


def from_torchvision_swin3d(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.endswith("relative_position_index"):
            continue  # derived: the model computes its own
        if key.startswith("patch_embed."):
            name = "backbone." + key
        elif found := re.match(r"^features\.(\d+)\.(.*)$", key):
            index, rest = int(found[1]), found[2]
            if index % 2 == 0:  # a stage's blocks: features.0, 2, 4, 6
                rest = re.sub(r"^(\d+)\.mlp\.0\.", r"\1.mlp.fc1.", rest)
                rest = re.sub(r"^(\d+)\.mlp\.3\.", r"\1.mlp.fc2.", rest)
                name = f"backbone.layers.{index // 2}.blocks.{rest}"
            else:  # the patch merging after stage index // 2
                name = f"backbone.layers.{index // 2}.downsample.{rest}"
        elif key.startswith("norm."):
            name = "backbone.norm3." + key[len("norm.") :]
        elif key.startswith("head."):
            name = "cls_head.fc_cls." + key[len("head.") :]
        else:
            raise CheckpointError(f"{path}: {key} is not a parameter of torchvision's video Swin")
        out[name] = value
    return out
