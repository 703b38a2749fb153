"""MViTv2 (Li et al., CVPR 2022) with MMAction2 1.2.0's ``MViT`` parameter names: a
3x7x7 / 2x4x4 convolutional patch embedding and a class token, then blocks of pooling
attention in four scales. Every block pools q, k and v with depthwise 3x3x3 convolutions
(q at stride 1x2x2 where a scale starts, k and v at the adaptive stride: 1x8x8 at the
first scale, halved at each next one) followed by LayerNorm; the attention adds
decomposed relative positions (a learned table per axis, read with the query: ``q .
R_t + q . R_h + q . R_w``) and the pooled query back (residual pooling). Where a scale
starts the width and the heads double, the skip path is projected and max-pooled.

The attention runs through ``F.scaled_dot_product_attention`` with the relative
positions as an additive bias (zero on the class token's row and column). The relative
tables are sized for the clip the model is built for; another size reads them as
MMAction2 does (linear resampling, coordinates scaled to the longer of q and k)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ...amp import Conv3d
from .transformer import (
    DropPath,
    Mlp,
    drop_path_rates,
    init_linear_trunc_normal,
    token_map,
    vit_layer_index,
)

ARCHS = {  # embed_dims, blocks, heads of the first scale, blocks where a scale starts
    "tiny": (96, 10, 1, (1, 3, 8)),
    "small": (96, 16, 1, (1, 3, 14)),
    "base": (96, 24, 1, (2, 5, 21)),
    "large": (144, 48, 2, (2, 8, 44)),
}


def pool_tokens(
    x: Tensor, pool: nn.Module, size: tuple[int, int, int], norm: nn.Module | None = None
) -> tuple[Tensor, tuple[int, int, int]]:
    """``x: [B, heads, 1 + t*h*w, C]`` (class token first): the grid tokens pooled as
    a ``[B * heads, C, t, h, w]`` volume, the class token passed through, then ``norm``
    on all of them. Returns the tokens and the pooled grid's size."""
    b, heads, _, c = x.shape
    cls, grid = x[:, :, :1], x[:, :, 1:]
    grid = pool(grid.reshape(b * heads, *size, c).permute(0, 4, 1, 2, 3))
    out_size = tuple(grid.shape[2:])
    grid = grid.reshape(b, heads, c, -1).transpose(2, 3)
    x = torch.cat((cls, grid), 2)
    return (norm(x) if norm is not None else x), out_size


def relative_table(table: Tensor, q: int, k: int) -> Tensor:
    """``[q, k, C]``: the table's entry for each query / key offset along one axis.

    The table is resampled linearly to ``2 max(q, k) - 1`` entries when it has another
    length; where q and k differ, the shorter axis's coordinates are stretched to the
    longer one's (MMAction2's ``resize_decomposed_rel_pos``, its float32 arithmetic)."""
    length = 2 * max(q, k) - 1
    if table.shape[0] != length:
        table = F.interpolate(table.t()[None], size=length, mode="linear")[0].t()
    q_ratio, k_ratio = max(k / q, 1.0), max(q / k, 1.0)
    q_coords = torch.arange(q, device=table.device)[:, None] * q_ratio
    k_coords = torch.arange(k, device=table.device)[None, :] * k_ratio
    return table[((q_coords - k_coords) + (k - 1) * k_ratio).long()]


class MultiScaleAttention(nn.Module):
    """``pool_q=False``: q is not pooled (MViTv1's blocks within a scale); ``rel_pos=False``:
    no relative position tables (MViTv1 adds absolute positions to its input)."""

    def __init__(
        self,
        in_dims: int,
        out_dims: int,
        heads: int,
        qkv_bias: bool,
        kernel,
        stride_q,
        stride_kv,
        input_size: tuple[int, int, int],
        residual_pooling: bool = True,
        pool_q: bool = True,
        rel_pos: bool = True,
    ):
        super().__init__()
        self.heads, self.out_dims, self.residual_pooling = heads, out_dims, residual_pooling
        head_dims = out_dims // heads
        self.qkv = nn.Linear(in_dims, 3 * out_dims, bias=qkv_bias)
        self.proj = nn.Linear(out_dims, out_dims)
        padding = [n // 2 for n in kernel]

        def pooling(stride):
            conv = Conv3d(
                head_dims, head_dims, kernel, stride, padding, groups=head_dims, bias=False
            )
            return conv, nn.LayerNorm(head_dims, eps=1e-6)

        self.pool_q, self.norm_q = pooling(stride_q) if pool_q else (None, None)
        self.pool_k, self.norm_k = pooling(stride_kv)
        self.pool_v, self.norm_v = pooling(stride_kv)
        self.rel_pos = rel_pos
        if rel_pos:  # tables sized as MMAction2 sizes them (from the nominal, square input)
            side = input_size[1]
            spatial = 2 * max(side // stride_q[1], side // stride_kv[1]) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(spatial, head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(spatial, head_dims))
            self.rel_pos_t = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dims))
            for table in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
                nn.init.trunc_normal_(table, std=0.02)

    def position_bias(self, q: Tensor, q_size, k_size) -> Tensor:
        """``[B, heads, 1 + Lq, 1 + Lk]``: ``q_i . (R_t + R_h + R_w)[offset(i, j)]`` between
        grid tokens, zero on the class token's row and column."""
        b, heads, _, c = q.shape
        grid = q[:, :, 1:].reshape(b, heads, *q_size, c)
        rel = [
            relative_table(table, nq, nk)
            for table, nq, nk in zip(
                (self.rel_pos_t, self.rel_pos_h, self.rel_pos_w), q_size, k_size, strict=True
            )
        ]
        t = torch.einsum("bnthwc,tkc->bnthwk", grid, rel[0])
        h = torch.einsum("bnthwc,hkc->bnthwk", grid, rel[1])
        w = torch.einsum("bnthwc,wkc->bnthwk", grid, rel[2])
        bias = t[..., :, None, None] + h[..., None, :, None] + w[..., None, None, :]
        lq, lk = q_size[0] * q_size[1] * q_size[2], k_size[0] * k_size[1] * k_size[2]
        return F.pad(bias.reshape(b, heads, lq, lk), (1, 0, 1, 0))

    def forward(self, x: Tensor, size: tuple[int, int, int]) -> tuple[Tensor, tuple]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, q_size = (
            pool_tokens(q, self.pool_q, size, self.norm_q) if self.pool_q is not None else (q, size)
        )
        k, k_size = pool_tokens(k, self.pool_k, size, self.norm_k)
        v, _ = pool_tokens(v, self.pool_v, size, self.norm_v)
        bias = self.position_bias(q, q_size, k_size).to(q.dtype) if self.rel_pos else None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        if self.residual_pooling:  # the pooled query added back, class token excepted
            out = torch.cat((out[:, :, :1], out[:, :, 1:] + q[:, :, 1:]), 2)
        return self.proj(out.transpose(1, 2).reshape(b, -1, self.out_dims)), q_size


class MultiScaleBlock(nn.Module):
    """MViTv2's block (``proj_after_attn``): the attention maps ``in_dims`` to ``out_dims``
    and the skip is projected around it. MViTv1's: the attention keeps ``in_dims``, the MLP
    maps to ``out_dims`` and the skip around the MLP is the projected ``norm2`` output."""

    def __init__(
        self,
        in_dims: int,
        out_dims: int,
        heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_path: float,
        kernel,
        stride_q,
        stride_kv,
        input_size: tuple[int, int, int],
        residual_pooling: bool = True,
        proj_after_attn: bool = True,
        pool_q: bool = True,
        rel_pos: bool = True,
    ):
        super().__init__()
        self.proj_after_attn = proj_after_attn
        attn_dims = out_dims if proj_after_attn else in_dims
        self.norm1 = nn.LayerNorm(in_dims, eps=1e-6)
        self.attn = MultiScaleAttention(
            in_dims,
            attn_dims,
            heads,
            qkv_bias,
            kernel,
            stride_q,
            stride_kv,
            input_size,
            residual_pooling,
            pool_q,
            rel_pos,
        )
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(attn_dims, eps=1e-6)
        self.mlp = Mlp(attn_dims, int(attn_dims * mlp_ratio), out_dims=out_dims)
        self.proj = nn.Linear(in_dims, out_dims) if in_dims != out_dims else None
        if any(s > 1 for s in stride_q):
            skip_kernel = [s + 1 if s > 1 else s for s in stride_q]
            self.pool_skip = nn.MaxPool3d(skip_kernel, stride_q, [n // 2 for n in skip_kernel])
            self.out_size = tuple(n // s for n, s in zip(input_size, stride_q, strict=True))
        else:
            self.pool_skip, self.out_size = None, tuple(input_size)

    def forward(self, x: Tensor, size: tuple[int, int, int]) -> tuple[Tensor, tuple]:
        normed = self.norm1(x)
        branch, out_size = self.attn(normed, size)
        project = self.proj is not None
        skip = self.proj(normed) if project and self.proj_after_attn else x
        if self.pool_skip is not None:
            skip = pool_tokens(skip[:, None], self.pool_skip, size)[0][:, 0]
        x = skip + self.drop_path(branch)
        normed = self.norm2(x)
        skip = self.proj(normed) if project and not self.proj_after_attn else x
        return skip + self.drop_path(self.mlp(normed)), out_size


class MViT(nn.Module):
    """``x: [N, 3, T, H, W]`` -> the normalised class token ``[N, 8C]`` (C = 96 for
    tiny / small / base, 144 for large), or with ``return_feat_map`` the last scale's
    grid tokens ``[N, 8C, T/2, H/32, W/32]``.

    ``spatial_size`` (square) and ``temporal_size`` size the relative position tables,
    as MMAction2's arguments of those names do."""

    def __init__(
        self,
        arch: str | dict = "base",
        spatial_size: int = 224,
        temporal_size: int = 16,
        in_channels: int = 3,
        drop_path_rate: float = 0.0,
        pool_kernel=(3, 3, 3),
        adaptive_kv_stride=(1, 8, 8),
        residual_pooling: bool = True,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        patch_kernel=(3, 7, 7),
        patch_stride=(2, 4, 4),
        patch_padding=(1, 3, 3),
        return_feat_map: bool = False,
        with_cp: bool = False,
    ):
        super().__init__()
        width, depth, heads, downscale = self._arch(arch)
        self.return_feat_map, self.with_cp = return_feat_map, with_cp
        self.patch_embed = nn.Module()
        self.patch_embed.projection = Conv3d(
            in_channels, width, patch_kernel, patch_stride, patch_padding
        )
        size = tuple(
            (n + 2 * p - k) // s + 1
            for n, k, s, p in zip(
                (temporal_size, spatial_size, spatial_size),
                patch_kernel,
                patch_stride,
                patch_padding,
                strict=True,
            )
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        rates = drop_path_rates(drop_path_rate, depth)
        stride_kv, blocks = tuple(adaptive_kv_stride), []
        for i in range(depth):
            in_dims, stride_q = width, (1, 1, 1)
            if i in downscale:  # a new scale: half the grid, twice the width and heads
                heads, width, stride_q = heads * 2, width * 2, (1, 2, 2)
                stride_kv = tuple(max(s // 2, 1) for s in stride_kv)
            block = MultiScaleBlock(
                in_dims,
                width,
                heads,
                mlp_ratio,
                qkv_bias,
                rates[i],
                pool_kernel,
                stride_q,
                stride_kv,
                size,
                residual_pooling,
            )
            blocks.append(block)
            size = block.out_size
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = width
        self.norm3 = nn.LayerNorm(width, eps=1e-6)  # MMAction2's name: the norm of scale 3
        # exports fix T, H, W: the relative tables are read for the clip's grid in Python
        self.fixed_size = True
        self._init_weights()

    @staticmethod
    def _arch(arch) -> tuple:
        """A named architecture, or MMAction2's custom form: a dict of ``embed_dims``,
        ``num_layers``, ``num_heads`` and ``downscale_indices``."""
        if isinstance(arch, dict):
            keys = ("embed_dims", "num_layers", "num_heads", "downscale_indices")
            if set(arch) != set(keys):
                raise ValueError(f"a custom MViT arch needs exactly the keys {keys}, got {arch}")
            return tuple(arch[k] for k in keys)
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {sorted(ARCHS)} or a dict, got {arch!r}")
        return ARCHS[arch]

    def _init_weights(self) -> None:
        """MMAction2's: truncated-normal (0.02) linear and conv weights, linear biases and
        LayerNorm biases 0.02, LayerNorm weights 1 (the tables are set in the attention)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv3d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.constant_(m.bias, 0.02)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.constant_(m.bias, 0.02)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def layer_index(self, name: str) -> int:
        """The layer-wise lr decay's numbering (:func:`vit_layer_index`)."""
        return vit_layer_index(name, "blocks", self.num_layers)

    @property
    def cam_layer(self) -> str:
        """Grad-CAM's default layer (``actionkit.cam``): the tokens the last block reads
        (the class token is the output: the last block's own patch tokens reach nothing)."""
        return f"blocks.{max(self.num_layers - 2, 0)}"

    def cam_grid(self, out, clip_shape: tuple[int, ...]):
        """A block's output ``(tokens [N, 1 + t * h * w, C], (t, h, w))`` as
        ``[N, C, t, h, w]`` (the class token dropped)."""
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], Tensor):
            return token_map(out[0][:, 1:], out[1])
        return out

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"MViT takes [N, C, T, H, W] clips, got {tuple(x.shape)}")
        x = self.patch_embed.projection(x)
        size = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1)
        return self._blocks_and_norm(self.add_positions(x, size), size)

    def add_positions(self, x: Tensor, size: tuple[int, int, int]) -> Tensor:
        return x  # MViTv2: relative positions, in the attention

    def _blocks_and_norm(self, x: Tensor, size: tuple[int, int, int]) -> Tensor:
        for block in self.blocks:
            if self.with_cp and x.requires_grad:
                x, size = checkpoint(block, x, size, use_reentrant=False)
            else:
                x, size = block(x, size)
        x = self.norm3(x)
        if self.return_feat_map:
            return x[:, 1:].transpose(1, 2).reshape(x.shape[0], -1, *size)
        return x[:, 0]


class MViTv1(MViT):
    """MViTv1-B (Fan et al., ICCV 2021) as torchvision's ``mvit_v1_b`` builds it (its
    PyTorchVideo port): 16 blocks; absolute positions (a spatial table, a temporal table
    and the class token's, summed: ``pos_embed_spatial`` / ``pos_embed_temporal`` /
    ``pos_embed_class``, PySlowFast's names) added to the embedded clip; no relative
    positions, no residual pooling. Where a scale starts (blocks 1, 3, 14) q is pooled at
    1x2x2 and the heads double; the width doubles one block earlier, in the MLP (blocks
    0, 2, 13). k and v are pooled in every block (3x3x3; stride 1x8x8 halved at each scale
    down to 1x1x1); q only where a scale starts.

    The position tables fix the clip: ``temporal_size`` x ``spatial_size`` x ``spatial_size``
    (16 x 224 x 224 for torchvision's weights); another size is an error, as in torchvision.
    Initialised as torchvision initialises it."""

    def __init__(
        self,
        spatial_size: int = 224,
        temporal_size: int = 16,
        in_channels: int = 3,
        drop_path_rate: float = 0.0,
        embed_dims: int = 96,
        depth: int = 16,
        scales=(1, 3, 14),
        mlp_ratio: float = 4.0,
        return_feat_map: bool = False,
        with_cp: bool = False,
    ):
        nn.Module.__init__(self)
        self.return_feat_map, self.with_cp = return_feat_map, with_cp
        self.patch_embed = nn.Module()
        self.patch_embed.projection = Conv3d(
            in_channels, embed_dims, (3, 7, 7), (2, 4, 4), (1, 3, 3)
        )
        size = (temporal_size // 2, spatial_size // 4, spatial_size // 4)
        self.grid, self.clip = size, (temporal_size, spatial_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed_spatial = nn.Parameter(torch.zeros(1, size[1] * size[2], embed_dims))
        self.pos_embed_temporal = nn.Parameter(torch.zeros(1, size[0], embed_dims))
        self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, embed_dims))
        rates = drop_path_rates(drop_path_rate, depth)
        width, heads, stride_kv, blocks = embed_dims, 1, (1, 8, 8), []
        for i in range(depth):
            pooled = i in scales
            if pooled:
                heads, stride_kv = heads * 2, tuple(max(s // 2, 1) for s in stride_kv)
            out_dims = width * 2 if i + 1 in scales else width
            block = MultiScaleBlock(
                width,
                out_dims,
                heads,
                mlp_ratio,
                True,
                rates[i],
                (3, 3, 3),
                (1, 2, 2) if pooled else (1, 1, 1),
                stride_kv,
                size,
                residual_pooling=False,
                proj_after_attn=False,
                pool_q=pooled,
                rel_pos=False,
            )
            blocks.append(block)
            size, width = block.out_size, out_dims
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = width
        self.norm3 = nn.LayerNorm(width, eps=1e-6)
        self.fixed_size = True
        init_linear_trunc_normal(self)
        for table in self.parameters(recurse=False):  # token and positions
            nn.init.trunc_normal_(table, std=0.02)

    def add_positions(self, x: Tensor, size: tuple[int, int, int]) -> Tensor:
        if tuple(size) != self.grid:
            t, side = self.clip
            raise ValueError(
                f"MViTv1's position tables are for {t} x {side} x {side} clips (a grid of "
                f"{' x '.join(map(str, self.grid))} patches); this clip gives "
                f"{' x '.join(map(str, size))} (build it with temporal_size / spatial_size)"
            )
        grid = self.pos_embed_temporal[:, :, None] + self.pos_embed_spatial[:, None]
        return x + torch.cat((self.pos_embed_class, grid.flatten(1, 2)), 1)
