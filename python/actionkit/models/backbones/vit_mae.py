"""The plain video ViT of VideoMAE / VideoMAE V2 (Tong et al. 2022, Wang et al. 2023)
with MMAction2 1.2.0's ``VisionTransformer`` parameter names: tubelet patches (a
``tubelet x patch x patch`` Conv3d), fixed sinusoidal positions, blocks with q/v biases
(no k bias), mean pooling and ``fc_norm``. ``forward_tokens`` runs the encoder on a
subset of the tokens, what VideoMAE pre-training feeds it."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ...amp import Conv3d
from .transformer import (
    FFN,
    DropPath,
    attend,
    drop_path_rates,
    init_linear_trunc_normal,
    resize_grid_embed,
    token_map,
    vit_layer_index,
)


def sinusoid_encoding(positions: int, dims: int) -> Tensor:
    """``[1, positions, dims]``: the sine / cosine table of "Attention Is All You Need"
    (sin on even, cos on odd channels), computed in float64 then rounded to float32."""
    channel = torch.arange(dims, dtype=torch.float64)
    rate = torch.pow(10000.0, -(channel - channel % 2) / dims)
    table = torch.arange(positions, dtype=torch.float64)[:, None] * rate
    table[:, 0::2] = table[:, 0::2].sin()
    table[:, 1::2] = table[:, 1::2].cos()
    return table.float()[None]


class _PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dims: int, tubelet: int, patch: int):
        super().__init__()
        size = (tubelet, patch, patch)
        self.projection = Conv3d(in_channels, dims, size, stride=size)


class Attention(nn.Module):
    """Self-attention with learned q and v biases and a zero k bias (BEiT / VideoMAE)."""

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0):
        super().__init__()
        self.num_heads, self.attn_drop = num_heads, attn_drop
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dims))
            self.v_bias = nn.Parameter(torch.zeros(dims))
        self.qkv = nn.Linear(dims, 3 * dims, bias=False)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x: Tensor) -> Tensor:
        bias = None
        if hasattr(self, "q_bias"):
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        return self.proj(attend(qkv, self.num_heads, self.attn_drop if self.training else 0.0))


class Block(nn.Module):
    """Pre-norm attention and MLP; with ``init_values > 0`` each branch is scaled by a
    learned per-channel ``gamma`` (LayerScale)."""

    def __init__(
        self,
        dims: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=1e-6)
        self.attn = Attention(dims, num_heads, qkv_bias, attn_drop)
        self.norm2 = nn.LayerNorm(dims, eps=1e-6)
        self.mlp = FFN(dims, int(dims * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)
        if init_values > 0:
            self.gamma_1 = nn.Parameter(torch.full((dims,), float(init_values)))
            self.gamma_2 = nn.Parameter(torch.full((dims,), float(init_values)))

    def forward(self, x: Tensor) -> Tensor:
        if hasattr(self, "gamma_1"):
            x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
            return x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, embed_dims]`` (mean of the tokens, ``fc_norm``),
    or ``[N, embed_dims, T / tubelet, H / patch, W / patch]`` with ``return_feat_map``.

    ``img_size`` and ``num_frames`` size the position table; a clip of another spatial
    size resamples it bicubically per time step, as MMAction2 does."""

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dims: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        init_values: float = 0.0,
        use_learnable_pos_emb: bool = False,
        num_frames: int = 16,
        tubelet_size: int = 2,
        use_mean_pooling: bool = True,
        return_feat_map: bool = False,
        with_cp: bool = False,
    ):
        super().__init__()
        if img_size % patch_size or num_frames % tubelet_size:
            raise ValueError(
                f"img_size {img_size} / num_frames {num_frames} must be multiples of "
                f"patch_size {patch_size} / tubelet_size {tubelet_size}"
            )
        self.embed_dims, self.patch_size, self.tubelet_size = embed_dims, patch_size, tubelet_size
        self.grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        self.return_feat_map, self.with_cp = return_feat_map, with_cp
        self.fixed_frames = num_frames  # clips of other lengths have no position table
        self.out_channels = embed_dims
        self.patch_embed = _PatchEmbed(in_channels, embed_dims, tubelet_size, patch_size)
        count = self.grid[0] * self.grid[1] * self.grid[2]
        if use_learnable_pos_emb:
            self.pos_embed = nn.Parameter(torch.zeros(1, count, embed_dims))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.register_buffer("pos_embed", sinusoid_encoding(count, embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.ModuleList(
            Block(
                embed_dims,
                num_heads,
                mlp_ratio,
                qkv_bias,
                drop_rate,
                attn_drop_rate,
                r,
                init_values,
            )
            for r in rates
        )
        if use_mean_pooling:
            self.norm, self.fc_norm = nn.Identity(), nn.LayerNorm(embed_dims, eps=1e-6)
        else:
            self.norm, self.fc_norm = nn.LayerNorm(embed_dims, eps=1e-6), None
        init_linear_trunc_normal(self)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def layer_index(self, name: str) -> int:
        """The layer-wise lr decay's numbering (:func:`vit_layer_index`)."""
        return vit_layer_index(name, "blocks", self.num_layers)

    @property
    def cam_layer(self) -> str:
        """Grad-CAM's default layer (``actionkit.cam``): the last block."""
        return f"blocks.{self.num_layers - 1}"

    def cam_grid(self, out, clip_shape: tuple[int, ...]):
        """A block's tokens ``[N, t * h * w, C]`` as ``[N, C, t, h, w]``."""
        if not isinstance(out, Tensor) or out.dim() != 3:
            return out
        _, _, frames, height, width = clip_shape
        p = self.patch_size
        return token_map(out, (frames // self.tubelet_size, height // p, width // p))

    def position_embedding(self, grid: tuple[int, int, int]) -> Tensor:
        """``[1, t * h * w, C]`` for a token grid ``(t, h, w)``."""
        if grid[0] != self.grid[0]:
            raise ValueError(
                f"this model embeds {self.grid[0] * self.tubelet_size} frames "
                f"({self.grid[0]} tubelets), got {grid[0] * self.tubelet_size}"
            )
        pos = self.pos_embed.reshape(self.grid[0], self.grid[1] * self.grid[2], -1)
        return resize_grid_embed(pos, self.grid[1:], grid[1:], "bicubic").reshape(
            1, -1, self.embed_dims
        )

    def embed(self, x: Tensor) -> tuple[Tensor, tuple[int, int, int]]:
        """Patch tokens with positions, ``[N, t * h * w, C]``, and their grid."""
        if x.dim() != 5:
            raise ValueError(f"VisionTransformer takes [N, C, T, H, W] clips, got {tuple(x.shape)}")
        x = self.patch_embed.projection(x)
        grid = tuple(x.shape[2:])
        return x.flatten(2).transpose(1, 2) + self.position_embedding(grid), grid

    def forward_tokens(self, x: Tensor) -> Tensor:
        """The blocks and final norm on tokens ``[N, L, C]`` (any subset of positions)."""
        x = self.pos_drop(x)
        for block in self.blocks:
            x = (
                checkpoint(block, x, use_reentrant=False)
                if self.with_cp and x.requires_grad
                else block(x)
            )
        return self.norm(x)

    def forward(self, x: Tensor) -> Tensor:
        tokens, grid = self.embed(x)
        x = self.forward_tokens(tokens)
        if self.return_feat_map:
            return x.transpose(1, 2).reshape(x.shape[0], -1, *grid)
        if self.fc_norm is not None:
            return self.fc_norm(x.mean(1))
        return x[:, 0]
