"""Pieces the video transformers share: attention through
``torch.nn.functional.scaled_dot_product_attention`` (flash / memory-efficient kernels
where the device has them; no ``[tokens, tokens]`` matrix kept for backward on the CPU
either), the two-layer MLP in mmcv's ``FFN`` parameter layout, stochastic depth, and the
position-embedding resampling used when a clip's size differs from the model's."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def token_map(tokens: Tensor, grid: tuple[int, int, int], order: str = "thw") -> Tensor:
    """Tokens ``[N, t * h * w, C]`` laid out in ``order`` (``"thw"``: time-major, as a
    flattened ``[t, h, w]``; ``"hwt"``: patch-major) as a feature map ``[N, C, t, h, w]``
    (what Grad-CAM reads: ``actionkit.cam``)."""
    t, h, w = grid
    sizes = {"t": t, "h": h, "w": w}
    x = tokens.reshape(tokens.shape[0], *(sizes[a] for a in order), tokens.shape[-1])
    return x.permute(0, 4, *(1 + order.index(a) for a in "thw"))


def attend(qkv: Tensor, num_heads: int, dropout: float = 0.0, mask: Tensor | None = None) -> Tensor:
    """Multi-head self-attention of packed projections ``qkv: [B, N, 3C]`` (q, k, v in
    that order along the last axis) -> ``[B, N, C]``, heads merged back. ``mask`` is an
    additive ``[B or 1, heads or 1, N, N]`` bias."""
    batch, tokens, width = qkv.shape
    q, k, v = qkv.view(batch, tokens, 3, num_heads, width // (3 * num_heads)).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
    return out.transpose(1, 2).reshape(batch, tokens, width // 3)


class MultiheadAttention(nn.Module):
    """Self-attention with ``torch.nn.MultiheadAttention``'s parameters (``in_proj_weight``,
    ``in_proj_bias``, ``out_proj``) for batch-first ``[B, N, C]`` input, computed with
    SDPA (what mmcv's ``MultiheadAttention`` wraps in MMAction2's TimeSformer)."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0):
        super().__init__()
        self.num_heads, self.attn_drop = num_heads, attn_drop
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dims))
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        drop = self.attn_drop if self.training else 0.0
        return self.out_proj(attend(qkv, self.num_heads, drop))


class DropPath(nn.Module):
    """Stochastic depth: in training, zeroes a residual branch for a random subset of the
    samples and rescales the rest by ``1 / (1 - p)``; the identity in eval."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class FFN(nn.Module):
    """Linear, GELU, dropout, linear, dropout, in mmcv ``FFN``'s parameter layout
    (``layers.0.0`` and ``layers.1``). Returns the branch only; callers add the residual."""

    def __init__(self, embed_dims: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden), nn.GELU(), nn.Dropout(drop)),
            nn.Linear(hidden, embed_dims),
            nn.Dropout(drop),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class Mlp(nn.Module):
    """Linear, GELU, dropout, linear, dropout with ``fc1`` / ``fc2`` names (Swin, MViT)."""

    def __init__(self, dims: int, hidden: int, drop: float = 0.0, out_dims: int | None = None):
        super().__init__()
        self.fc1, self.act = nn.Linear(dims, hidden), nn.GELU()
        self.fc2 = nn.Linear(hidden, out_dims or dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """The stochastic-depth rule: rates rising linearly from 0 to ``rate`` over the blocks."""
    return [float(r) for r in torch.linspace(0, rate, depth)] if depth > 1 else [0.0] * depth


def nearest_indices(old: int, new: int, device=None) -> Tensor:
    """The source index of each of ``new`` positions resampled from ``old`` the way
    ``F.interpolate(mode="nearest")`` picks them (``floor(i * old / new)``). Gathering
    with them exports exactly; the ONNX exporter's nearest ``Resize`` rounds otherwise."""
    return (
        (torch.arange(new, device=device, dtype=torch.float32) * (old / new))
        .floor()
        .long()
        .clamp(max=old - 1)
    )


def resize_grid_embed(
    embed: Tensor, old: tuple[int, int], new: tuple[int, int], mode: str
) -> Tensor:
    """``embed: [L, old_h * old_w, C]`` (one row of grid positions per leading index)
    resampled to ``[L, new_h * new_w, C]`` as ``F.interpolate(mode=mode)`` does."""
    if tuple(old) == tuple(new):
        return embed
    rows, _, width = embed.shape
    if mode == "nearest":
        grid = embed.reshape(rows, old[0], old[1], width)
        grid = grid[:, nearest_indices(old[0], new[0], embed.device)]
        grid = grid[:, :, nearest_indices(old[1], new[1], embed.device)]
        return grid.reshape(rows, new[0] * new[1], width)
    grid = embed.reshape(rows, old[0], old[1], width).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new), mode=mode, align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(rows, new[0] * new[1], width)


def vit_layer_index(name: str, blocks: str, num_layers: int) -> int:
    """BEiT's layer numbering of a ViT's parameter ``name``: 0 for the patch and position
    embeddings (``pos_embed*``) and class token, ``i + 1`` for block ``i`` (under the module path
    ``blocks``), ``num_layers + 1`` for what follows the blocks."""
    if name.startswith(blocks + "."):
        return int(name[len(blocks) + 1 :].split(".")[0]) + 1
    if name.startswith(("patch_embed.", "pos_embed")) or name in ("cls_token", "time_embed"):
        return 0
    return num_layers + 1


def init_linear_trunc_normal(module: nn.Module, std: float = 0.02) -> None:
    """Truncated-normal linear weights, zero biases, unit LayerNorms (the ViT
    initialisation most of these models use)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
