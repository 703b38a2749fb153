"""TimeSformer (Bertasius et al., "Is Space-Time Attention All You Need for Video
Understanding?", 2021) with MMAction2 1.2.0's parameter names, so its checkpoints load:
divided space-time attention (temporal attention with a zero-initialised ``temporal_fc``,
then spatial attention, then the MLP, each pre-normed), joint space-time attention over
all tokens, or space-only attention per frame with the frames' class tokens averaged."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .transformer import (
    FFN,
    DropPath,
    MultiheadAttention,
    drop_path_rates,
    nearest_indices,
    resize_grid_embed,
    token_map,
    vit_layer_index,
)

ATTENTION_TYPES = ("divided_space_time", "joint_space_time", "space_only")


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, in_channels: int, embed_dims: int):
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        nn.init.kaiming_normal_(self.projection.weight, mode="fan_in", nonlinearity="linear")
        nn.init.zeros_(self.projection.bias)


class _TemporalAttention(nn.Module):
    """Attention over the frames of each patch position; the class token passes by."""

    def __init__(self, dims: int, heads: int, drop_path: float):
        super().__init__()
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        self.attn = MultiheadAttention(dims, heads)
        self.drop_path = DropPath(drop_path)
        self.temporal_fc = nn.Linear(dims, dims)
        nn.init.zeros_(self.temporal_fc.weight)
        nn.init.zeros_(self.temporal_fc.bias)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        cls, tokens = x[:, :1], x[:, 1:]
        batch, count, dims = tokens.shape  # tokens ordered (patch, frame)
        res = self.attn(self.norm(tokens.reshape(-1, frames, dims)))
        res = self.temporal_fc(self.drop_path(res)).reshape(batch, count, dims)
        return torch.cat((cls, tokens + res), 1)


class _SpatialAttention(nn.Module):
    """Attention over the patches of each frame, each frame with a copy of the class
    token; the class token's update is the frames' mean."""

    def __init__(self, dims: int, heads: int, drop_path: float):
        super().__init__()
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        self.attn = MultiheadAttention(dims, heads)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        batch, count, dims = x.shape
        patches = (count - 1) // frames
        tokens = x[:, 1:].reshape(batch, patches, frames, dims).transpose(1, 2)
        cls = x[:, :1].expand(batch, frames, dims).reshape(batch * frames, 1, dims)
        query = torch.cat((cls, tokens.reshape(batch * frames, patches, dims)), 1)
        res = self.drop_path(self.attn(self.norm(query)))
        cls_res = res[:, 0].reshape(batch, frames, dims).mean(1, keepdim=True)
        res = res[:, 1:].reshape(batch, frames, patches, dims).transpose(1, 2)
        return x + torch.cat((cls_res, res.reshape(batch, patches * frames, dims)), 1)


class _NormedFFN(nn.Module):
    def __init__(self, dims: int, drop_path: float):
        super().__init__()
        self.layers = FFN(dims, 4 * dims).layers
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop_path(self.layers(self.norm(x)))


class _DividedLayer(nn.Module):
    def __init__(self, dims: int, heads: int, drop_path: float):
        super().__init__()
        self.attentions = nn.ModuleList(
            [_TemporalAttention(dims, heads, drop_path), _SpatialAttention(dims, heads, drop_path)]
        )
        self.ffns = nn.ModuleList([_NormedFFN(dims, drop_path)])

    def forward(self, x: Tensor, frames: int) -> Tensor:
        x = self.attentions[1](self.attentions[0](x, frames), frames)
        return self.ffns[0](x)


class _AttentionBranch(nn.Module):
    def __init__(self, dims: int, heads: int):
        super().__init__()
        self.attn = MultiheadAttention(dims, heads)


class _Layer(nn.Module):
    """Pre-norm attention and MLP over all tokens (mmcv's ``BaseTransformerLayer`` with
    ``operation_order=('norm', 'self_attn', 'norm', 'ffn')``)."""

    def __init__(self, dims: int, heads: int, drop_path: float):
        super().__init__()
        self.attentions = nn.ModuleList([_AttentionBranch(dims, heads)])
        self.ffns = nn.ModuleList([FFN(dims, 4 * dims)])
        self.norms = nn.ModuleList([nn.LayerNorm(dims, eps=1e-6), nn.LayerNorm(dims, eps=1e-6)])
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        x = x + self.drop_path(self.attentions[0].attn(self.norms[0](x)))
        return x + self.drop_path(self.ffns[0](self.norms[1](x)))


class _LayerSequence(nn.Module):
    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class TimeSformer(nn.Module):
    """``x: [N, 3, T, H, W]`` -> the final class token ``[N, embed_dims]``.

    ``num_frames`` and ``img_size`` fix the sizes of ``time_embed`` and ``pos_embed``;
    other clip sizes resample them with nearest-neighbour interpolation, as the original
    TimeSformer does. ``drop_path_rate`` is MMAction2's fixed 0.1 by default;
    ``with_cp`` recomputes each layer in the backward pass (gradient checkpointing)."""

    def __init__(
        self,
        num_frames: int = 8,
        img_size: int = 224,
        patch_size: int = 16,
        embed_dims: int = 768,
        num_heads: int = 12,
        num_transformer_layers: int = 12,
        in_channels: int = 3,
        dropout_ratio: float = 0.0,
        attention_type: str = "divided_space_time",
        drop_path_rate: float = 0.1,
        with_cp: bool = False,
    ):
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"attention_type must be one of {ATTENTION_TYPES}, got {attention_type!r}"
            )
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        self.num_frames, self.attention_type, self.with_cp = num_frames, attention_type, with_cp
        self.grid = (img_size // patch_size,) * 2
        self.out_channels = embed_dims
        self.patch_embed = _PatchEmbed(patch_size, in_channels, embed_dims)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1] + 1, embed_dims))
        self.drop_after_pos = nn.Dropout(dropout_ratio)
        if attention_type != "space_only":
            self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dims))
            self.drop_after_time = nn.Dropout(dropout_ratio)
        rates = drop_path_rates(drop_path_rate, num_transformer_layers)
        if attention_type == "divided_space_time":
            layers = [_DividedLayer(embed_dims, num_heads, r) for r in rates]
        else:
            layers = [_Layer(embed_dims, num_heads, r) for r in rates]
        self.transformer_layers = _LayerSequence(layers)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    @property
    def num_layers(self) -> int:
        return len(self.transformer_layers.layers)

    def layer_index(self, name: str) -> int:
        """The layer-wise lr decay's numbering (:func:`vit_layer_index`)."""
        return vit_layer_index(name, "transformer_layers.layers", self.num_layers)

    @property
    def cam_layer(self) -> str:
        """Grad-CAM's default layer (``actionkit.cam``): the tokens the last layer reads
        (the class token is the output: the last layer's own patch tokens reach nothing)."""
        return f"transformer_layers.layers.{max(self.num_layers - 2, 0)}"

    def cam_grid(self, out, clip_shape: tuple[int, ...]):
        """A layer's tokens as ``[N, C, T, h, w]`` for a clip of ``clip_shape``: the class
        token dropped, patch-major ``[N, 1 + h * w * T, C]`` (space-only: ``[N * T,
        1 + h * w, C]``, frame by frame)."""
        if not isinstance(out, Tensor) or out.dim() != 3:
            return out
        n, _, frames, height, width = clip_shape
        ph, pw = self.patch_embed.projection.stride
        grid = (frames, height // ph, width // pw)
        if self.attention_type == "space_only":
            return token_map(out[:, 1:].reshape(n, -1, out.shape[-1]), grid, "thw")
        return token_map(out[:, 1:], grid, "hwt")

    def _embeddings(self, grid: tuple[int, int], frames: int) -> tuple[Tensor, Tensor | None]:
        pos = self.pos_embed
        if tuple(grid) != self.grid:
            patches = resize_grid_embed(pos[:, 1:], self.grid, grid, "nearest")
            pos = torch.cat((pos[:, :1], patches), 1)
        if self.attention_type == "space_only":
            return pos, None
        time = self.time_embed
        if frames != time.shape[1]:
            time = time[:, nearest_indices(time.shape[1], frames, time.device)]
        return pos, time

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"TimeSformer takes [N, C, T, H, W] clips, got {tuple(x.shape)}")
        batch, frames = x.shape[0], x.shape[2]
        x = self.patch_embed.projection(x.transpose(1, 2).flatten(0, 1))  # [(N T), C, h, w]
        pos, time = self._embeddings(tuple(x.shape[-2:]), frames)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1) + pos
        x = self.drop_after_pos(x)
        if time is not None:  # tokens become [N, 1 + patches * frames], patch-major
            count, dims = x.shape[1:]
            cls = x.view(batch, frames, count, dims)[:, 0, :1]
            tokens = (
                x[:, 1:].reshape(batch, frames, count - 1, dims).transpose(1, 2) + time[:, None]
            )
            tokens = self.drop_after_time(tokens).reshape(batch, -1, dims)
            x = torch.cat((cls, tokens), 1)
        for layer in self.transformer_layers.layers:
            if self.with_cp and x.requires_grad:
                x = checkpoint(layer, x, frames, use_reentrant=False)
            else:
                x = layer(x, frames)
        if self.attention_type == "space_only":
            x = x.view(batch, frames, *x.shape[1:]).mean(1)
        return self.norm(x)[:, 0]
