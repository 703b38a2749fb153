"""UniFormer v1 (Li et al., ICLR 2022) with MMAction2 1.2.0's ``UniFormer`` parameter
names: four stages, each opened by a patch embedding (a 3x4x4 convolution with temporal
stride 2, then 1x2x2 ones) with LayerNorm. The first two stages are convolution blocks
(a depthwise 3x3x3 position convolution, BatchNorm, a 1x1x1 / depthwise 5x5x5 / 1x1x1
"local affinity" branch, a 1x1x1 MLP); the last two are self-attention blocks over all
the stage's tokens (the same position convolution, then LayerNorm, attention, MLP).
Heads are 64 channels wide; BatchNorm closes the network."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ...amp import Conv3d
from .transformer import DropPath, Mlp, attend, drop_path_rates, init_linear_trunc_normal

ARCHS = {"small": (3, 4, 8, 3), "base": (5, 8, 20, 7)}  # blocks per stage


class CMlp(nn.Module):
    """:class:`Mlp` as 1x1x1 convolutions on ``[N, C, T, H, W]``."""

    def __init__(self, dims: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1, self.act, self.fc2 = (
            Conv3d(dims, hidden, 1),
            nn.GELU(),
            Conv3d(hidden, dims, 1),
        )
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class CBlock(nn.Module):
    """Convolution block: local token affinity learned by a depthwise 5x5x5 kernel."""

    def __init__(self, dims: int, mlp_ratio: float, drop: float, drop_path: float):
        super().__init__()
        self.pos_embed = Conv3d(dims, dims, 3, padding=1, groups=dims)
        self.norm1 = nn.BatchNorm3d(dims)
        self.conv1 = Conv3d(dims, dims, 1)
        self.attn = Conv3d(dims, dims, 5, padding=2, groups=dims)
        self.conv2 = Conv3d(dims, dims, 1)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.BatchNorm3d(dims)
        self.mlp = CMlp(dims, int(dims * mlp_ratio), drop)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        x = x + self.drop_path(self.conv2(self.attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Attention(nn.Module):
    def __init__(self, dims: int, heads: int, qkv_bias: bool, attn_drop: float, drop: float):
        super().__init__()
        self.heads, self.attn_drop = heads, attn_drop
        self.qkv = nn.Linear(dims, 3 * dims, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        out = attend(self.qkv(x), self.heads, self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(out))


class SABlock(nn.Module):
    """Self-attention block over all ``T x H x W`` tokens of the stage."""

    def __init__(self, dims, heads, mlp_ratio, qkv_bias, drop, attn_drop, drop_path):
        super().__init__()
        self.pos_embed = Conv3d(dims, dims, 3, padding=1, groups=dims)
        self.norm1 = nn.LayerNorm(dims)
        self.attn = Attention(dims, heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = Mlp(dims, int(dims * mlp_ratio), drop)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        b, c, t, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.transpose(1, 2).reshape(b, c, t, h, w)


class PatchEmbed(nn.Module):
    """A strided convolution, then LayerNorm over the channels."""

    def __init__(self, in_channels: int, dims: int, kernel, stride, padding):
        super().__init__()
        self.proj = Conv3d(in_channels, dims, kernel, stride, padding)
        self.norm = nn.LayerNorm(dims)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class UniFormer(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 512, T/2, H/32, W/32]``."""

    def __init__(
        self,
        arch: str = "base",
        in_channels: int = 3,
        embed_dims=(64, 128, 320, 512),
        head_dims: int = 64,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        with_cp: bool = False,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
        depths, self.with_cp = ARCHS[arch], with_cp
        self.patch_embed1 = PatchEmbed(in_channels, embed_dims[0], (3, 4, 4), (2, 4, 4), (1, 0, 0))
        for i in range(1, 4):
            embed = PatchEmbed(embed_dims[i - 1], embed_dims[i], (1, 2, 2), (1, 2, 2), 0)
            setattr(self, f"patch_embed{i + 1}", embed)
        self.pos_drop = nn.Dropout(drop_rate)
        rates, start = drop_path_rates(drop_path_rate, sum(depths)), 0
        for i, (depth, dims) in enumerate(zip(depths, embed_dims, strict=True)):
            paths = rates[start : start + depth]
            if i < 2:
                blocks = [CBlock(dims, mlp_ratio, drop_rate, r) for r in paths]
            else:
                heads = dims // head_dims
                blocks = [
                    SABlock(dims, heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, r)
                    for r in paths
                ]
            setattr(self, f"blocks{i + 1}", nn.ModuleList(blocks))
            start += depth
        self.norm = nn.BatchNorm3d(embed_dims[-1])
        self.out_channels = embed_dims[-1]
        # an image UniFormer's 2D kernels go to the middle time step (models.pretrained)
        self.inflate_centre = True
        init_linear_trunc_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(1, 5):
            x = getattr(self, f"patch_embed{i}")(x)
            if i == 1:
                x = self.pos_drop(x)
            for block in getattr(self, f"blocks{i}"):
                x = (
                    checkpoint(block, x, use_reentrant=False)
                    if self.with_cp and x.requires_grad
                    else block(x)
                )
        return self.norm(x)
