"""Recognizers: a backbone and a head, and the multi-view averaging of MMAction2's
``average_clips`` (``"score"``, ``"prob"`` or ``None``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..losses import ClassificationLoss


def average_clips(scores: Tensor, batch: int, mode: str | None = "prob") -> Tensor:
    """Averages ``scores: [batch * V, K]`` over the V views of each sample: the mean of
    softmax probabilities (``"prob"``), of raw scores (``"score"``), or none (``None``:
    returns ``[batch, V, K]``)."""
    if mode not in ("prob", "score", None):
        raise ValueError(f"average_clips must be 'prob', 'score' or None, got {mode!r}")
    views = scores.view(batch, -1, scores.shape[-1])
    if mode is None:
        return views
    if mode == "prob":
        views = views.softmax(dim=2)
    return views.mean(dim=1)


def global_pool(x: Tensor) -> Tensor:
    """The average over every axis after the channels: ``[N, C, ...] -> [N, C]``
    (``[N, C]`` as it is: C3D's backbone ends in fc7)."""
    return x.flatten(2).mean(2) if x.dim() > 2 else x


class _Recognizer(nn.Module):
    """What the Trainer asks of a model: ``loss(batch) -> {"loss_...": tensor}`` and
    ``predict(inputs)``; ``task`` names the evaluator that scores its predictions.

    With a ``neck`` (TPN), the backbone returns several stages' outputs, each arranged as
    clips ``[N, C, T, H, W]`` (:meth:`_levels`), the neck fuses them and the head
    classifies the result; a neck with an ``aux_head`` adds its ``aux_loss`` in training.
    """

    task = "classification"

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        average_clips: str | None = "prob",
        neck: nn.Module | None = None,
    ):
        super().__init__()
        self.backbone, self.cls_head, self.average_clips = backbone, head, average_clips
        self.neck = neck
        self.loss_fn = ClassificationLoss()  # the config's settings: engine.builder
        if hasattr(backbone, "layer_index"):  # numbered layers: optim.layer_decay applies
            self.num_layers = backbone.num_layers
            self.layer_index = self._layer_index

    def _layer_index(self, name: str) -> int:
        """The layer of parameter ``name``: the backbone's numbering, the head on top."""
        if name.startswith("backbone."):
            return self.backbone.layer_index(name[len("backbone.") :])
        return self.num_layers + 1

    def loss(self, batch: dict) -> dict[str, Tensor]:
        """The classification loss of ``batch`` (``inputs``, ``label``), and the neck's
        auxiliary loss where it has one."""
        inputs, label = batch["inputs"], batch["label"]
        if getattr(self.neck, "aux_head", None) is None:
            return {"loss_cls": self.loss_fn(self(inputs), label)}
        levels = self._levels(inputs)
        return {
            "loss_cls": self.loss_fn(self.cls_head(self.neck(levels)), label),
            "loss_aux": self.neck.aux_loss(levels, label),
        }

    def _levels(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """The backbone's stage outputs for the neck, one clip per row."""
        raise NotImplementedError

    def _check(self, inputs: Tensor) -> None:
        raise NotImplementedError

    def _pooled(self, inputs: Tensor) -> Tensor:
        """The neck's output averaged over time and space, ``[B * V, C]``."""
        return global_pool(self.neck(self._levels(inputs)))


class Recognizer2D(_Recognizer):
    """Frame-level backbone + head for ``inputs: [B, S, 3, H, W]`` (S = clips x segments
    x crops, as ``FormatShape("NCHW")`` makes them). ``forward`` returns the head's
    logits; ``predict`` averages the views into ``[B, num_classes]``."""

    def _check(self, inputs: Tensor) -> None:
        c = getattr(self.backbone, "in_channels", 3)  # TSN on flow: 2 x clip_len
        if inputs.dim() != 5 or inputs.shape[2] != c:
            raise ValueError(f"inputs must be [B, S, {c}, H, W], got {tuple(inputs.shape)}")

    def forward(self, inputs: Tensor) -> Tensor:
        if self.neck is not None:
            return self.cls_head(self.neck(self._levels(inputs)))
        self._check(inputs)
        return self.cls_head(self.extract(inputs.flatten(0, 1)), inputs.shape[1])

    def extract(self, frames: Tensor) -> Tensor:
        """The backbone's feature maps of ``frames: [N, 3, H, W]``."""
        return self.backbone(frames)

    def _levels(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """``[N * segments, C, h, w]`` per stage -> ``[N, C, segments, h, w]`` (segments:
        the backbone's ``num_segments``, else all S frames of a sample; MMAction2's
        ``fcn_test``)."""
        self._check(inputs)
        segs = getattr(self.backbone, "num_segments", inputs.shape[1])
        if inputs.shape[1] % segs:
            raise ValueError(
                f"inputs have {inputs.shape[1]} frames per sample, not a multiple of the "
                f"backbone's {segs} segments"
            )
        return tuple(
            f.unflatten(0, (-1, segs)).transpose(1, 2) for f in self.backbone(inputs.flatten(0, 1))
        )

    @torch.no_grad()
    def predict(self, inputs: Tensor) -> Tensor:
        scores = self(inputs)
        return average_clips(scores, inputs.shape[0], self.average_clips)

    @torch.no_grad()
    def features(self, inputs: Tensor) -> Tensor:
        """``[B, C]``: the backbone's output averaged over space and over the S frames
        (MMAction2's ``FeatureHead`` with ``average_clips="score"``, what its
        ``clip_feature_extraction.py`` writes; with a neck, its output per clip)."""
        if self.neck is not None:
            feats = self._pooled(inputs)
        else:
            self._check(inputs)
            feats = global_pool(self.extract(inputs.flatten(0, 1)))
        return feats.view(inputs.shape[0], -1, feats.shape[1]).mean(1)


class ImageRecognizer2D(Recognizer2D):
    """A 2D recognizer over an image classifier from torchvision or timm (MMAction2's
    backbone types ``torchvision.NAME`` and ``timm.NAME``): timm's ``forward_features``;
    torchvision's ``features`` where the network has them, else its output with ``fc`` /
    ``classifier`` made identities; feature maps (``layout`` ``"NCHW"`` or ``"NHWC"``)
    and token sequences ``[N, L, C]`` averaged, as MMAction2's ``Recognizer2D`` does for
    such backbones. ``backbone`` is the library's model itself, so checkpoints keep
    MMAction2's (and the library's) keys."""

    def __init__(self, backbone: nn.Module, head: nn.Module, layout: str = "NCHW"):
        super().__init__(backbone, head)
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
        self.layout = layout

    def extract(self, frames: Tensor) -> Tensor:
        net = self.backbone
        if hasattr(net, "forward_features"):  # timm
            x = net.forward_features(frames)
        else:
            x = net.features(frames) if hasattr(net, "features") else net(frames)
        if x.dim() == 4:
            x = x.mean((2, 3) if self.layout == "NCHW" else (1, 2))
        elif x.dim() == 3:
            x = x.mean(1)
        return x.flatten(1)[..., None, None]


class Recognizer3D(_Recognizer):
    """Clip-level backbone + head for ``inputs: [B, V, 3, T, H, W]`` (V = clips x crops,
    as ``FormatShape("NCTHW")`` makes them per sample). ``forward`` returns one row of
    logits per view ``[B * V, num_classes]``; ``predict`` averages them."""

    def _check(self, inputs: Tensor) -> None:
        c = getattr(self.backbone, "in_channels", 3)  # PoseC3D: heatmap channels
        if inputs.dim() != 6 or inputs.shape[2] != c:
            raise ValueError(f"inputs must be [B, V, {c}, T, H, W], got {tuple(inputs.shape)}")

    def forward(self, inputs: Tensor) -> Tensor:
        self._check(inputs)
        feats = self.backbone(inputs.flatten(0, 1))
        return self.cls_head(feats if self.neck is None else self.neck(feats))

    def _levels(self, inputs: Tensor) -> tuple[Tensor, ...]:
        self._check(inputs)
        return self.backbone(inputs.flatten(0, 1))

    @torch.no_grad()
    def predict(self, inputs: Tensor) -> Tensor:
        return average_clips(self(inputs), inputs.shape[0], self.average_clips)

    @torch.no_grad()
    def features(self, inputs: Tensor) -> Tensor:
        """``[B, C]``: the backbone's output averaged over time and space (SlowFast: both
        pathways', slow first, concatenated), then over the V views (MMAction2's
        ``FeatureHead`` with ``average_clips="score"``; with a neck, its output)."""
        if self.neck is not None:
            feats = self._pooled(inputs)
        else:
            self._check(inputs)
            out = self.backbone(inputs.flatten(0, 1))
            parts = out if isinstance(out, tuple) else (out,)
            feats = torch.cat([global_pool(p) for p in parts], 1)
        return feats.view(inputs.shape[0], -1, feats.shape[1]).mean(1)


class RecognizerAudio(Recognizer3D):
    """Spectrogram backbone + head for ``inputs: [B, V, 1, T, F]`` (V clips of T feature
    rows of F mel bands, as ``AudioFeatureDataset`` makes them): one row of logits per
    clip ``[B * V, num_classes]``; ``predict`` averages the clips, ``features`` pools
    over time and frequency (MMAction2's ``RecognizerAudio``). Recognizer3D's, one
    dimension fewer."""

    def _check(self, inputs: Tensor) -> None:
        if inputs.dim() != 5 or inputs.shape[2] != 1:
            raise ValueError(f"inputs must be [B, V, 1, T, F], got {tuple(inputs.shape)}")


def to_channels_last(model: nn.Module) -> nn.Module:
    """Puts every 4-D parameter and buffer in ``channels_last`` and every 5-D one in
    ``channels_last_3d`` memory format, in place (``Module.to(memory_format=...)`` takes
    one format for all, which fails on models that mix 2D and 3D convolutions, like C2D
    or R(2+1)D's stems). Convolutions then produce and keep channels-last activations;
    the input can stay contiguous. Returns ``model``."""
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.dim() in formats:
            tensor.data = tensor.data.contiguous(memory_format=formats[tensor.dim()])
    return model


def reparameterize(model: nn.Module) -> nn.Module:
    """Folds every re-parameterisable block of ``model`` (MobileOne's, for now) into its
    deployed form, in place: one biased convolution per block, equal outputs in eval mode
    (MMAction2's ``tools/convert/reparameterize_model.py``). The model records
    ``deploy=True`` in its builder arguments, so a checkpoint saved from it rebuilds in
    that form. Returns ``model``."""
    blocks = [m for m in model.modules() if hasattr(m, "switch_to_deploy")]
    if not blocks:
        name = getattr(model, "name", type(model).__name__)
        raise ValueError(f"{name} has no re-parameterisable blocks")
    for m in blocks:
        m.switch_to_deploy()
    if isinstance(getattr(model, "builder_args", None), dict):
        model.builder_args["deploy"] = True
    return model
