"""Video Swin Transformer (Liu et al., CVPR 2022) with MMAction2 1.2.0's
``SwinTransformer3D`` parameter names: 2x4x4 patches, four stages of windowed attention
(8x7x7 windows; every second block's windows shifted by half a window, with the 3D
attention mask that keeps the wrapped-around parts apart) and a learned relative
position bias per window offset, patch merging between the stages.

The attention runs through ``F.scaled_dot_product_attention`` with the bias and mask as
one additive term. MMAction2's arithmetic is kept where it is unusual: zero-padded
tokens of a partial window take part in the attention of an unshifted window, the
shifted windows' mask is -100 (not -inf), and a window clipped to a smaller clip takes
the first ``N x N`` entries of the full window's relative position index."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ...amp import Conv3d
from .transformer import DropPath, Mlp, drop_path_rates, init_linear_trunc_normal

ARCHS = {  # embed_dims, blocks per stage, heads per stage
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}


def window_sizes(size, window, shift):
    """MMAction2's ``get_window_size``: an axis no longer than the window is one window
    of its own size, unshifted."""
    window, shift = list(window), list(shift)
    for i, n in enumerate(size):
        if n <= window[i]:
            window[i], shift[i] = n, 0
    return tuple(window), tuple(shift)


def partition(x: Tensor, window: tuple[int, int, int]) -> Tensor:
    """``[B, D, H, W, C]`` -> ``[B, windows, wd * wh * ww, C]``."""
    b, d, h, w, c = x.shape
    x = x.view(
        b, d // window[0], window[0], h // window[1], window[1], w // window[2], window[2], c
    )
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b, -1, window[0] * window[1] * window[2], c)


def reverse(windows: Tensor, window: tuple[int, int, int], d: int, h: int, w: int) -> Tensor:
    b, c = windows.shape[0], windows.shape[-1]
    x = windows.view(b, d // window[0], h // window[1], w // window[2], *window, c)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, c)


def shift_mask(size, window, shift, device) -> Tensor:
    """``[windows, N, N]``: 0 between tokens of the same region of the shifted layout,
    -100 between regions (MMAction2's ``compute_mask``)."""
    regions = torch.zeros(1, *size, 1, device=device)
    count = 0
    for d in (slice(-window[0]), slice(-window[0], -shift[0]), slice(-shift[0], None)):
        for h in (slice(-window[1]), slice(-window[1], -shift[1]), slice(-shift[1], None)):
            for w in (slice(-window[2]), slice(-window[2], -shift[2]), slice(-shift[2], None)):
                regions[:, d, h, w] = count
                count += 1
    ids = partition(regions, window)[0, :, :, 0]  # [windows, N]
    return (ids[:, None, :] != ids[:, :, None]).float() * -100.0


class WindowAttention3D(nn.Module):
    def __init__(self, dims: int, window, heads: int, qkv_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.heads, self.window, self.attn_drop = heads, tuple(window), attn_drop
        wd, wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), heads)
        )
        coords = torch.stack(
            torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij")
        ).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        rel = rel + torch.tensor([wd - 1, wh - 1, ww - 1])
        index = rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) + rel[..., 1] * (2 * ww - 1) + rel[..., 2]
        # derived, not learned: MMAction2 saves it, checkpoint_ignore drops it on loading
        self.register_buffer("relative_position_index", index, persistent=False)
        self.qkv = nn.Linear(dims, 3 * dims, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """``x: [B, windows, N, C]``; ``mask: [windows, N, N]`` or None."""
        b, nw, n, c = x.shape
        qkv = self.qkv(x).view(b, nw, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)  # each [B, windows, heads, N, d]
        index = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[index].view(n, n, -1).permute(2, 0, 1)
        # 4-D for the fused kernels and ONNX: windows into the batch ([heads, N, N] bias
        # broadcast), or with a mask windows into the heads ([windows x heads, N, N])
        if mask is None:
            shape = (b * nw, self.heads, n, -1)
        else:
            shape = (b, nw * self.heads, n, -1)
            bias = (bias + mask[:, None]).flatten(0, 1)
        if not torch.compiler.is_exporting():
            # A 4-D bias: PyTorch's CPU flash kernel takes no 3-D mask (SDPA falls back to
            # its math path, every attention matrix materialised). Not when exporting: the
            # exporter then lays the fused kernel's output out otherwise than it traced it.
            bias = bias[None]
        q, k, v = q.reshape(shape), k.reshape(shape), v.reshape(shape)
        drop = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=drop)
        out = out.view(b, nw, self.heads, n, -1).transpose(2, 3)
        return self.proj_drop(self.proj(out.reshape(b, nw, n, c)))


class SwinTransformerBlock3D(nn.Module):
    def __init__(self, dims, heads, window, shift, mlp_ratio=4.0, drop=0.0, drop_path=0.0):
        super().__init__()
        self.window, self.shift = tuple(window), tuple(shift)
        self.norm1 = nn.LayerNorm(dims)
        self.attn = WindowAttention3D(dims, window, heads, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = Mlp(dims, int(dims * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)

    def _attention(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, d, h, w, c = x.shape
        window, shift = window_sizes((d, h, w), self.window, self.shift)
        x = self.norm1(x)
        pads = [(n_win - n % n_win) % n_win for n, n_win in zip((d, h, w), window, strict=True)]
        x = F.pad(x, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        dp, hp, wp = x.shape[1:4]
        shifted = any(s > 0 for s in shift)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        out = self.attn(partition(x, window), mask if shifted else None)
        x = reverse(out, window, dp, hp, wp)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :d, :h, :w]

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.drop_path(self._attention(x, mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhoods concatenated (4C), normalised and projected to 2C."""

    def __init__(self, dims: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dims, 2 * dims, bias=False)
        self.norm = nn.LayerNorm(4 * dims)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:4]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = (x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2])
        return self.reduction(self.norm(torch.cat(parts, -1)))


class BasicLayer(nn.Module):
    def __init__(
        self, dims, depth, heads, window, mlp_ratio, drop, drop_paths, downsample, with_cp
    ):
        super().__init__()
        self.window, self.with_cp = tuple(window), with_cp
        self.shift = tuple(n // 2 for n in window)
        self.blocks = nn.ModuleList(
            SwinTransformerBlock3D(
                dims, heads, window, (0, 0, 0) if i % 2 == 0 else self.shift, mlp_ratio, drop, rate
            )
            for i, rate in enumerate(drop_paths)
        )
        self.downsample = PatchMerging(dims) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, D, H, W]`` -> ``[B, D, H, W, C]`` (before the patch merging)."""
        d, h, w = x.shape[2:]
        window, shift = window_sizes((d, h, w), self.window, self.shift)
        padded = [-(-n // n_win) * n_win for n, n_win in zip((d, h, w), window, strict=True)]
        mask = shift_mask(padded, window, shift, x.device) if any(shift) else None
        x = x.permute(0, 2, 3, 4, 1)
        for block in self.blocks:
            if self.with_cp and x.requires_grad:
                x = checkpoint(block, x, mask, use_reentrant=False)
            else:
                x = block(x, mask)
        return x


class PatchEmbed3D(nn.Module):
    def __init__(self, patch, in_channels: int, dims: int, norm: bool = True):
        super().__init__()
        self.patch = tuple(patch)
        self.proj = Conv3d(in_channels, dims, self.patch, stride=self.patch)
        self.norm = nn.LayerNorm(dims) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        d, h, w = x.shape[2:]
        pd, ph, pw = self.patch
        x = F.pad(x, (0, (pw - w % pw) % pw, 0, (ph - h % ph) % ph, 0, (pd - d % pd) % pd))
        x = self.proj(x)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x


class SwinTransformer3D(nn.Module):
    """``x: [N, 3, T, H, W]`` -> the last stage's normalised features ``[N, 8C, T/2,
    H/32, W/32]`` (C = 96 for tiny and small, 128 base, 192 large)."""

    def __init__(
        self,
        arch: str = "tiny",
        patch_size=(2, 4, 4),
        in_channels: int = 3,
        window_size=(8, 7, 7),
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        patch_norm: bool = True,
        with_cp: bool = False,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
        dims, depths, heads = ARCHS[arch]
        self.patch_embed = PatchEmbed3D(patch_size, in_channels, dims, patch_norm)
        self.pos_drop = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, sum(depths))
        layers, start = [], 0
        for i, (depth, head) in enumerate(zip(depths, heads, strict=True)):
            last = i == len(depths) - 1
            width = dims * 2**i
            paths = rates[start : start + depth]
            layers.append(
                BasicLayer(
                    width, depth, head, window_size, mlp_ratio, drop_rate, paths, not last, with_cp
                )
            )
            start += depth
        self.layers = nn.ModuleList(layers)
        self.out_channels = dims * 2 ** (len(depths) - 1)
        self.norm3 = nn.LayerNorm(self.out_channels)
        # exports fix T, H, W: the window clipping, padding and shifted-window masks are
        # computed in Python from the clip's size
        self.fixed_size = True
        init_linear_trunc_normal(self)

    @property
    def derived_buffers(self) -> list[str]:
        """State-dict keys MMAction2 saves that are derived here (relative indices)."""
        return [
            f"layers.{i}.blocks.{j}.attn.relative_position_index"
            for i, layer in enumerate(self.layers)
            for j in range(len(layer.blocks))
        ]

    def forward(self, x: Tensor) -> Tensor:
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x)  # [B, D, H, W, C]
            if layer.downsample is not None:
                x = layer.downsample(x).permute(0, 4, 1, 2, 3)
        return self.norm3(x).permute(0, 4, 1, 2, 3)
