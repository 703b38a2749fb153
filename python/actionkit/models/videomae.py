"""VideoMAE pre-training (Tong et al., "VideoMAE: Masked Autoencoders are Data-Efficient
Learners for Self-Supervised Video Pre-Training", NeurIPS 2022).

Tube masking hides the same ``mask_ratio`` of the patch positions in every tubelet of a
clip (90% by default); the ViT encoder (:class:`~.backbones.vit_mae.VisionTransformer`,
the network the VideoMAE recognizers fine-tune) sees only the visible tokens; a narrow
decoder gets them back with a learned mask token at every hidden position (sinusoidal
positions at its own width) and predicts each hidden tubelet's pixels, normalised per
patch and colour channel; the loss is the mean squared error over the hidden tubelets
only (``normalize_target=False``: the plain pixels in [0, 1], VideoMAE's other option).
The encoder is ``backbone``: a checkpoint of this model initialises a VideoMAE
recognizer with ``model.pretrained=PATH`` (its ``backbone.*``; the decoder is reported
unused)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..ops.preprocess import IMAGENET_MEAN, IMAGENET_STD
from .backbones.transformer import init_linear_trunc_normal
from .backbones.vit_mae import Block, VisionTransformer, sinusoid_encoding
from .registry import register_model


def tube_mask(batch: int, grid: tuple[int, int, int], ratio: float, generator=None, device=None):
    """``[batch, t * h * w]`` booleans, True where hidden: per sample, ``round(ratio * h *
    w)`` of the ``h * w`` patch positions drawn at random, hidden in all ``t`` tubelets."""
    t, h, w = grid
    hidden = int(round(ratio * h * w))
    if not 0 < hidden < h * w:
        raise ValueError(f"mask_ratio {ratio} hides {hidden} of {h * w} patch positions")
    if generator is not None:  # (a CPU generator: drawn there, then moved)
        noise = torch.rand(batch, h * w, generator=generator).to(device)
    else:
        noise = torch.rand(batch, h * w, device=device)
    order = noise.argsort(1)
    spatial = torch.zeros(batch, h * w, dtype=torch.bool, device=device)
    spatial.scatter_(1, order[:, :hidden], True)
    return spatial[:, None, :].expand(batch, t, h * w).reshape(batch, t * h * w)


def patch_targets(
    clips: Tensor,
    tubelet: int,
    patch: int,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    eps=1e-6,
    normalize: bool = True,
) -> Tensor:
    """``clips: [N, 3, T, H, W]`` normalised as the pipeline does (``mean`` / ``std`` in
    0-255 units) -> ``[N, tubelets, tubelet * patch * patch * 3]``: the pixels back in
    [0, 1], laid out ``(t, y, x, channel)``; with ``normalize`` each tubelet's values
    normalised per colour channel (mean 0, unbiased std 1, plus ``eps``): VideoMAE's
    ``normlize_target``, its default."""
    n, c, t, h, w = clips.shape
    mean = clips.new_tensor(mean).view(1, c, 1, 1, 1) / 255
    std = clips.new_tensor(std).view(1, c, 1, 1, 1) / 255
    pixels = clips * std + mean
    tubes = pixels.reshape(n, c, t // tubelet, tubelet, h // patch, patch, w // patch, patch)
    tubes = tubes.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(n, -1, tubelet * patch * patch, c)
    if normalize:
        tubes = (tubes - tubes.mean(2, keepdim=True)) / (tubes.var(2, keepdim=True).sqrt() + eps)
    return tubes.flatten(2)


class VideoMAEPretrainer(nn.Module):
    """The encoder (``backbone``), ``encoder_to_decoder``, ``mask_token``, the decoder
    blocks, ``decoder_norm`` and ``head``. ``inputs: [B, V, 3, T, H, W]`` (the views of a
    sample are pre-trained on as separate clips); labels are not used."""

    task = "pretraining"

    def __init__(
        self,
        encoder: VisionTransformer,
        decoder_dims: int = 384,
        decoder_depth: int = 4,
        decoder_heads: int = 6,
        mask_ratio: float = 0.9,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        normalize_target: bool = True,
    ):
        super().__init__()
        if encoder.fc_norm is not None:
            raise ValueError("the encoder must end in its norm (use_mean_pooling=False)")
        self.backbone, self.mask_ratio = encoder, mask_ratio
        self.mean, self.std, self.normalize_target = tuple(mean), tuple(std), normalize_target
        self.encoder_to_decoder = nn.Linear(encoder.embed_dims, decoder_dims, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dims))
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dims, decoder_heads) for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dims, eps=1e-6)
        out = 3 * encoder.tubelet_size * encoder.patch_size**2
        self.head = nn.Linear(decoder_dims, out)
        init_linear_trunc_normal(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.decoder_dims = decoder_dims
        # the decoder's positions for the encoder's own grid, made once (not a weight)
        count = encoder.grid[0] * encoder.grid[1] * encoder.grid[2]
        self.register_buffer(
            "decoder_pos", sinusoid_encoding(count, decoder_dims), persistent=False
        )

    def forward(self, clips: Tensor, mask: Tensor) -> Tensor:
        """``clips: [N, 3, T, H, W]``, ``mask: [N, tubelets]`` (True: hidden, the same
        count per clip) -> the predicted pixels of the hidden tubelets,
        ``[N, hidden, 3 * tubelet * patch * patch]``, in token order."""
        tokens, grid = self.backbone.embed(clips)
        n, count, dims = tokens.shape
        visible = tokens[~mask].reshape(n, -1, dims)
        x = self.encoder_to_decoder(self.backbone.forward_tokens(visible))
        pos = self.decoder_pos
        if pos.shape[1] != count:  # another frame size
            pos = sinusoid_encoding(count, self.decoder_dims)
        pos = pos.to(x).expand(n, -1, -1)
        hidden_pos = pos[mask].reshape(n, -1, self.decoder_dims)
        x = torch.cat(
            (x + pos[~mask].reshape(n, -1, self.decoder_dims), self.mask_token + hidden_pos), 1
        )
        for block in self.decoder_blocks:
            x = block(x)
        return self.head(self.decoder_norm(x[:, -hidden_pos.shape[1] :]))

    def _clips(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 6:
            raise ValueError(f"inputs must be [B, V, 3, T, H, W], got {tuple(inputs.shape)}")
        return inputs.flatten(0, 1)

    def reconstruction_loss(self, inputs: Tensor, generator=None) -> Tensor:
        """The mean squared error of the hidden tubelets' normalised pixels, with fresh
        tube masks (from ``generator`` if given)."""
        clips = self._clips(inputs)
        grid = (
            clips.shape[2] // self.backbone.tubelet_size,
            clips.shape[3] // self.backbone.patch_size,
            clips.shape[4] // self.backbone.patch_size,
        )
        mask = tube_mask(clips.shape[0], grid, self.mask_ratio, generator, clips.device)
        target = patch_targets(
            clips.float(),
            self.backbone.tubelet_size,
            self.backbone.patch_size,
            self.mean,
            self.std,
            normalize=self.normalize_target,
        )
        target = target[mask].reshape(clips.shape[0], -1, target.shape[-1])
        return F.mse_loss(self(clips, mask).float(), target)

    def loss(self, batch: dict) -> dict[str, Tensor]:
        return {"loss_recon": self.reconstruction_loss(batch["inputs"])}


def _pretrainer(sizes: tuple[int, int, int, int, int], **kwargs) -> VideoMAEPretrainer:
    """``sizes``: encoder width, blocks and heads, decoder width and heads."""
    width, blocks, heads, decoder_width, decoder_heads = sizes
    kwargs.pop("num_classes", None)  # (no classifier)
    decoder = dict(decoder_dims=decoder_width, decoder_heads=decoder_heads)
    names = ("decoder_dims", "decoder_heads", "decoder_depth", "mask_ratio", "mean", "std")
    for key in (*names, "normalize_target"):
        if key in kwargs:
            decoder[key] = kwargs.pop(key)
    options = dict(embed_dims=width, depth=blocks, num_heads=heads, use_mean_pooling=False)
    return VideoMAEPretrainer(VisionTransformer(**{**options, **kwargs}), **decoder)


@register_model
def videomae_pretrain_vit_s16(**kwargs) -> VideoMAEPretrainer:
    """VideoMAE pre-training of ViT-S/16 (``vit_s16_videomaev2``'s encoder): a decoder
    192 wide, 4 blocks of 3 heads, 90% tube masking, 16 x 224 x 224 clips."""
    return _pretrainer((384, 12, 6, 192, 3), **kwargs)


@register_model
def videomae_pretrain_vit_b16(**kwargs) -> VideoMAEPretrainer:
    """VideoMAE pre-training of ViT-B/16 (``vit_b16_videomae``'s encoder): a decoder 384
    wide, 4 blocks of 6 heads, 90% tube masking."""
    return _pretrainer((768, 12, 12, 384, 6), **kwargs)


@register_model
def videomae_pretrain_vit_l16(**kwargs) -> VideoMAEPretrainer:
    """VideoMAE pre-training of ViT-L/16 (``vit_l16_videomae``'s encoder): a decoder 512
    wide, 4 blocks of 8 heads, 90% tube masking."""
    return _pretrainer((1024, 24, 16, 512, 8), **kwargs)


for _builder in (videomae_pretrain_vit_s16, videomae_pretrain_vit_b16, videomae_pretrain_vit_l16):
    _builder.task = "pretraining"  # picks the evaluator (reconstruction loss on val)
