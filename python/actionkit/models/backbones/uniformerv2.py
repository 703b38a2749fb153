"""UniFormerV2 (Li et al., ICCV 2023) with MMAction2 1.2.0's ``UniFormerV2`` parameter
names: a CLIP image ViT run on every frame (its ``conv1`` as a 1 x p x p Conv3d, class
embedding, position table, ``ln_pre``, ``transformer.resblocks`` with QuickGELU MLPs),
optionally with local UniBlocks (``lmhra1`` / ``lmhra2``: a BatchNorm, 1x1x1 down
projection, depthwise temporal 3x1x1 convolution and zero-initialised 1x1x1 up projection
on the frame tokens, before the attention and the MLP); and global UniBlocks: after each
of the last blocks (``return_list``) the frame tokens get a depthwise 3x3x3 position
convolution (``dpe``) and a learned video token attends to all of them (``dec``, a
cross-attention block). The video token and the frames' mean class token are blended by
a learned sigmoid weight (``balance``) and normalised: ``[N, n_dim]``.

Attention (self and cross) runs through ``F.scaled_dot_product_attention``. The clip
length is read from the input (MMAction2 fixes it to ``t_size``); the frame size is the
one the position table was made for."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from ...amp import Conv3d
from .transformer import (
    DropPath,
    MultiheadAttention,
    drop_path_rates,
    init_linear_trunc_normal,
    token_map,
)

ARCHS = {  # patch, width, blocks, heads; the global blocks follow the last four
    "b16": (16, 768, 12, 12),
    "l14": (14, 1024, 24, 16),
}


class QuickGELU(nn.Module):
    """CLIP's GELU approximation, ``x * sigmoid(1.702 x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


def _mlp(dims: int, hidden: int, dropout: float | None = None) -> nn.Sequential:
    """``c_fc``, QuickGELU, (dropout), ``c_proj``: CLIP's names."""
    layers = {"c_fc": nn.Linear(dims, hidden), "gelu": QuickGELU()}
    if dropout is not None:
        layers["dropout"] = nn.Dropout(dropout)
    layers["c_proj"] = nn.Linear(hidden, dims)
    return nn.Sequential(OrderedDict(layers))


class LocalMHRA(nn.Module):
    """``[N, C, T, H, W]`` -> the same: temporal relation aggregation on a reduced width,
    zero at initialisation (the up projection starts at zero)."""

    def __init__(self, dims: int, reduction: float = 1.5, kernel: int = 3):
        super().__init__()
        hidden = int(dims // reduction)
        self.pos_embed = nn.Sequential(
            nn.BatchNorm3d(dims),
            Conv3d(dims, hidden, 1),
            Conv3d(hidden, hidden, (kernel, 1, 1), padding=(kernel // 2, 0, 0), groups=hidden),
            Conv3d(hidden, dims, 1),
        )
        nn.init.zeros_(self.pos_embed[3].weight)
        nn.init.zeros_(self.pos_embed[3].bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.pos_embed(x)


class ResidualAttentionBlock(nn.Module):
    """A CLIP block on ``[N * T, 1 + H * W, C]`` frame tokens, with local UniBlocks
    unless ``no_lmhra``."""

    def __init__(self, dims, heads, drop_path, reduction, no_lmhra, double_lmhra):
        super().__init__()
        self.drop_path = DropPath(drop_path)
        if not no_lmhra:
            self.lmhra1 = LocalMHRA(dims, reduction)
            if double_lmhra:
                self.lmhra2 = LocalMHRA(dims, reduction)
        self.attn = MultiheadAttention(dims, heads)
        self.ln_1 = nn.LayerNorm(dims)
        self.mlp = _mlp(dims, 4 * dims)
        self.ln_2 = nn.LayerNorm(dims)

    def _local(self, x: Tensor, module: nn.Module, grid: tuple[int, int, int]) -> Tensor:
        t, h, w = grid
        frames, tokens, c = x.shape
        feats = x[:, 1:].reshape(frames // t, t, h, w, c).permute(0, 4, 1, 2, 3)
        feats = feats + self.drop_path(module(feats))
        feats = feats.permute(0, 2, 3, 4, 1).reshape(frames, tokens - 1, c)
        return torch.cat((x[:, :1], feats), 1)

    def forward(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        if hasattr(self, "lmhra1"):
            x = self._local(x, self.lmhra1, grid)
        x = x + self.drop_path(self.attn(self.ln_1(x)))
        if hasattr(self, "lmhra2"):
            x = self._local(x, self.lmhra2, grid)
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class Extractor(nn.Module):
    """Global UniBlock: the video token ``x: [N, 1, C]`` attends to the clip's tokens
    ``y: [N, L, C]`` (``ln_3`` on them), then an MLP; both branches start at zero."""

    def __init__(self, dims: int, heads: int, mlp_factor: float, dropout: float, drop_path):
        super().__init__()
        self.drop_path = DropPath(drop_path)
        self.attn = MultiheadAttention(dims, heads)
        self.ln_1 = nn.LayerNorm(dims)
        self.mlp = _mlp(dims, round(mlp_factor * dims), dropout)
        self.ln_2 = nn.LayerNorm(dims)
        self.ln_3 = nn.LayerNorm(dims)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.xavier_uniform_(self.mlp.c_fc.weight)
        nn.init.zeros_(self.mlp.c_proj.weight)
        nn.init.zeros_(self.mlp.c_proj.bias)

    def attention(self, x: Tensor, y: Tensor) -> Tensor:
        n, c = x.shape[0], x.shape[-1]
        heads = self.attn.num_heads
        weight, bias = self.attn.in_proj_weight, self.attn.in_proj_bias
        q = F.linear(x, weight[:c], bias[:c]).view(n, -1, heads, c // heads).transpose(1, 2)
        kv = F.linear(y, weight[c:], bias[c:]).view(n, -1, 2, heads, c // heads)
        k, v = kv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.attn.out_proj(out.transpose(1, 2).reshape(n, -1, c))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = x + self.drop_path(self.attention(self.ln_1(x), self.ln_3(y)))
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class Transformer(nn.Module):
    def __init__(
        self,
        width,
        layers,
        heads,
        backbone_drop_path_rate,
        reduction,
        no_lmhra,
        double_lmhra,
        return_list,
        n_dim,
        n_head,
        mlp_factor,
        drop_path_rate,
        mlp_dropout,
        with_cp,
    ):
        super().__init__()
        self.return_list, self.with_cp = list(return_list), with_cp
        rates = drop_path_rates(backbone_drop_path_rate, layers)
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, r, reduction, no_lmhra, double_lmhra)
            for r in rates
        )
        count = len(self.return_list)
        self.temporal_cls_token = nn.Parameter(torch.zeros(1, 1, n_dim))
        self.dpe = nn.ModuleList(
            Conv3d(n_dim, n_dim, 3, padding=1, groups=n_dim) for _ in range(count)
        )
        for conv in self.dpe:
            nn.init.zeros_(conv.bias)
        rates = drop_path_rates(drop_path_rate, count)
        self.dec = nn.ModuleList(
            Extractor(n_dim, n_head, mlp_factor, mlp_dropout[i], rates[i]) for i in range(count)
        )
        self.norm = nn.LayerNorm(n_dim)
        self.balance = nn.Parameter(torch.zeros(n_dim))

    def forward(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """``x: [N * T, 1 + H * W, C]`` -> ``[N, C]``."""
        t, h, w = grid
        frames, tokens, c = x.shape
        n = frames // t
        video = self.temporal_cls_token.expand(n, -1, -1)
        for i, block in enumerate(self.resblocks):
            if self.with_cp and x.requires_grad:
                x = checkpoint(block, x, grid, use_reentrant=False)
            else:
                x = block(x, grid)
            if i in self.return_list:
                j = self.return_list.index(i)
                clip = x.view(n, t, tokens, c)
                feats = clip[:, :, 1:].permute(0, 3, 1, 2).reshape(n, c, t, h, w)
                feats = self.dpe[j](feats).flatten(3).permute(0, 2, 3, 1)  # [N, T, HW, C]
                clip = torch.cat((clip[:, :, :1], clip[:, :, 1:] + feats), 2)
                video = self.dec[j](video, clip.reshape(n, t * tokens, c))
        weight = torch.sigmoid(self.balance)
        frame_cls = x.view(n, t, tokens, c)[:, :, 0].mean(1)
        return self.norm((1 - weight) * video[:, 0] + weight * frame_cls)


class UniFormerV2(nn.Module):
    """``x: [N, 3, T, H, W]`` (``H = W = input_resolution``) -> ``[N, width]``.

    ``return_list``: the CLIP blocks after which a global UniBlock reads the tokens (the
    last four by default), ``mlp_dropout`` one rate per global block."""

    def __init__(
        self,
        arch: str = "b16",
        input_resolution: int = 224,
        layers: int | None = None,
        in_channels: int = 3,
        backbone_drop_path_rate: float = 0.0,
        kernel_size: int = 3,
        dw_reduction: float = 1.5,
        temporal_downsample: bool = False,
        no_lmhra: bool = True,
        double_lmhra: bool = True,
        return_list=None,
        n_head: int | None = None,
        mlp_factor: float = 4.0,
        drop_path_rate: float = 0.0,
        mlp_dropout=(0.5, 0.5, 0.5, 0.5),
        with_cp: bool = False,
    ):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
        patch, width, depth, heads = ARCHS[arch]
        layers = layers or depth  # (fewer CLIP blocks: the tests' shallow models)
        if input_resolution % patch:
            raise ValueError(f"input_resolution {input_resolution} is not a multiple of {patch}")
        return_list = list(range(layers - 4, layers)) if return_list is None else return_list
        if len(mlp_dropout) != len(return_list):
            raise ValueError(f"mlp_dropout needs one rate per global block ({len(return_list)})")
        self.input_resolution = input_resolution
        if temporal_downsample:
            kernel, stride = (kernel_size, patch, patch), (2, patch, patch)
            padding = ((kernel_size - 1) // 2, 0, 0)
        else:
            kernel, stride, padding = (1, patch, patch), (1, patch, patch), 0
        self.conv1 = Conv3d(in_channels, width, kernel, stride, padding, bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        side = input_resolution // patch
        self.positional_embedding = nn.Parameter(scale * torch.randn(side * side + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(
            width,
            layers,
            heads,
            backbone_drop_path_rate,
            dw_reduction,
            no_lmhra,
            double_lmhra,
            return_list,
            width,
            n_head or heads,
            mlp_factor,
            drop_path_rate,
            mlp_dropout,
            with_cp,
        )
        # (the global blocks keep their zero-initialised outputs: they start as the identity)
        init_linear_trunc_normal(self.transformer.resblocks)
        self.out_channels = width
        # the position table fixes H and W; a CLIP ViT's 2D patch kernel goes to the middle
        # time step (models.pretrained), as MMAction2 inflates it
        self.fixed_size, self.inflate_centre = True, True

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[-1] != self.input_resolution or x.shape[-2] != x.shape[-1]:
            side = self.input_resolution
            raise ValueError(
                f"UniFormerV2 takes [N, C, T, {side}, {side}] clips (its position table), "
                f"got {tuple(x.shape)}"
            )
        x = self.conv1(x)
        n, c, t, h, w = x.shape
        x = x.permute(0, 2, 3, 4, 1).reshape(n * t, h * w, c)
        cls = self.class_embedding.to(x.dtype).expand(n * t, 1, c)
        x = torch.cat((cls, x), 1) + self.positional_embedding.to(x.dtype)
        return self.transformer(self.ln_pre(x), (t, h, w))

    @property
    def cam_layer(self) -> str:
        """Grad-CAM's default layer (``actionkit.cam``): the tokens the last CLIP block
        reads (they reach the score through its class tokens as well as through the
        global blocks, which start as zeros)."""
        return f"transformer.resblocks.{max(len(self.transformer.resblocks) - 2, 0)}"

    def cam_grid(self, out, clip_shape: tuple[int, ...]):
        """A CLIP block's tokens ``[N * t, 1 + h * w, C]`` (frame by frame) as
        ``[N, C, t, h, w]`` (the class tokens dropped)."""
        if not isinstance(out, Tensor) or out.dim() != 3:
            return out
        n = clip_shape[0]
        side = self.input_resolution // self.conv1.stride[-1]
        tokens = out[:, 1:].reshape(n, -1, out.shape[-1])
        return token_map(tokens, (out.shape[0] // n, side, side))
