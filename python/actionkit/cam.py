"""Where a recognizer looks: Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++
(Chattopadhay et al., 2018) localization maps for every recognizer of frames — 2D
(TSN, TSM, ...: one map per frame), 3D (I3D, SlowFast, X3D, ...: one per clip, over time
too) and transformers (their tokens laid back on the space-time grid).

>>> from actionkit.apis import init_recognizer
>>> from actionkit.cam import video_cam
>>> model = init_recognizer(None, "work_dirs/tsm_synthetic/best.pth")
>>> result = video_cam(model, "clip.mp4")            # the predicted class's map
>>> result.maps.shape, result.frames.shape          # [N, T, H, W] in [0, 1], uint8 [N, T, H, W, 3]

The arithmetic is MMAction2's ``GradCAM`` (``mmaction/utils/gradcam_utils.py``, after
PySlowFast's): the score is the class's logit averaged over the views (``average_clips
"score"``); a map is built per time step of the target layer, with weights from that
step's gradients; the maps are rectified, resized to the input (trilinear) and scaled to
[0, 1] per sample (2D: over all its frames) or per view (3D). Its parity is tested on
MMAction2's own output. Beyond it: Grad-CAM++ (its closed form with first-order
gradients, as the paper gives it for an exponential of the score), SlowFast's two
pathways together (each pathway's map resized to the input, then summed), and
transformers, where a backbone's ``cam_grid`` says how a block's tokens lie in space-time
and ``cam_layer`` names the default layer (the last block).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UsageError

METHODS = ("gradcam", "gradcam++")


@dataclass
class CamResult:
    """``maps``: float32 ``[N, T, H, W]`` in [0, 1] (N = 1 for a 2D recognizer, whose T
    frames are all the sample's; N = views for a 3D one); ``frames``: uint8
    ``[N, T, H, W, 3]``, the model's input before normalisation (what it saw);
    ``scores``: the logits ``[num_classes]`` averaged over views; ``target``: the class
    the maps explain; ``labels``: class names, if known."""

    maps: Tensor
    frames: Tensor
    scores: Tensor
    target: int
    labels: list[str] | None = None

    @property
    def target_name(self) -> str:
        return self.labels[self.target] if self.labels else str(self.target)


def default_layer(model: nn.Module) -> str:
    """The backbone's last feature map: the backbone's output, or for a transformer the
    layer its ``cam_layer`` names (the last block)."""
    named = getattr(model.backbone, "cam_layer", None)
    if named:
        return f"backbone.{named}"
    from .models.recognizer import ImageRecognizer2D

    if isinstance(model, ImageRecognizer2D):  # torchvision / timm: their forward does not run
        if hasattr(model.backbone, "features"):
            return "backbone.features"
        raise UsageError(
            f"{type(model.backbone).__name__}: give the layer to explain with --target-layer "
            "(a module of its last stage, e.g. backbone.layer4 or backbone.stages.3)"
        )
    return "backbone"


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The module ``name`` of ``model``: dotted (``backbone.layer4.1``) or MMAction2's
    slashes (``backbone/layer4/1/relu``; a residual block's final ``relu`` there is the
    block's output here, so a trailing ``relu`` the block lacks stands for the block)."""
    parts = [p for p in name.replace("/", ".").split(".") if p]
    module = model
    for i, part in enumerate(parts):
        child = module._modules.get(part)
        if child is None and part == "relu" and i == len(parts) - 1:
            return module
        if child is None:
            options = ", ".join(module._modules) or "none"
            raise UsageError(
                f"--target-layer: {name!r}: {type(module).__name__} has no layer {part!r} "
                f"(its layers: {options})"
            )
        module = child
    return module


def _tensors(out) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, Tensor)]
    raise UsageError(f"--target-layer: the layer returns {type(out).__name__}, not tensors")


def _replaced(out, tensors: list[Tensor]):
    """``out`` with its tensors replaced, in order (its other entries kept)."""
    if isinstance(out, Tensor):
        return tensors[0]
    it = iter(tensors)
    return type(out)(next(it) if isinstance(t, Tensor) else t for t in out)


def _as_steps(out, model: nn.Module, inputs: Tensor) -> list[Tensor]:
    """The target layer's output as feature maps per time step, ``[U, tg, C, h, w]`` per
    pathway: U = samples for a 2D recognizer (its frames are the steps), views for a 3D
    one. Token sequences go through the backbone's ``cam_grid`` first."""
    to_grid = getattr(model.backbone, "cam_grid", None)
    if to_grid is not None:
        clip_shape = (inputs.shape[0] * inputs.shape[1], *inputs.shape[2:])
        out = to_grid(out, clip_shape)
    steps = []
    for t in _tensors(out):
        if t.dim() == 4 and inputs.dim() == 5:  # 2D: [B * S, C, h, w]
            steps.append(t.reshape(inputs.shape[0], -1, *t.shape[1:]))
        elif t.dim() == 5 and inputs.dim() == 6:  # 3D: [B * V, C, t, h, w]
            steps.append(t.transpose(1, 2))
        else:
            raise UsageError(
                f"--target-layer: its output {tuple(t.shape)} is not a feature map of the "
                f"{type(model).__name__}'s frames (inputs {tuple(inputs.shape)}); name a "
                "layer of the backbone that keeps space (and time)"
            )
    return steps


def _weights(grads: Tensor, acts: Tensor, method: str) -> Tensor:
    """Channel weights ``[U, tg, C]`` of each time step."""
    if method == "gradcam":
        return grads.mean((-2, -1))
    # Grad-CAM++ (eq. 19 of the paper with S = exp(score)): alpha = g^2 / (2 g^2 + sum(A) g^3)
    g2 = grads * grads
    denom = 2 * g2 + acts.sum((-2, -1), keepdim=True) * g2 * grads
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, 1), 0)
    return (alpha * grads.clamp(min=0)).sum((-2, -1))


def localization_maps(
    model: nn.Module,
    inputs: Tensor,
    target: int | Tensor | None = None,
    layer: str | None = None,
    method: str = "gradcam",
    delta: float = 1e-20,
) -> tuple[Tensor, Tensor, Tensor]:
    """Grad-CAM maps of a recognizer's ``inputs`` (``[B, S, 3, H, W]`` for a 2D one,
    ``[B, V, C, T, H, W]`` for a 3D one): ``(maps, scores, targets)`` with maps float32
    ``[B, S, H, W]`` (2D) or ``[B * V, T, H, W]`` (3D) in [0, 1], the logits ``[B, K]``
    averaged over views, and the explained class of each sample (``target``: a class
    index or one per sample; default the highest score). ``layer``: a module name
    (:func:`find_layer`; default :func:`default_layer`). The model's own gradients are
    not touched (``torch.autograd.grad``)."""
    if method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if inputs.dim() not in (5, 6):
        raise UsageError(
            f"Grad-CAM needs a recognizer of frames: inputs [B, S, 3, H, W] or "
            f"[B, V, C, T, H, W], got {tuple(inputs.shape)}"
        )
    module = find_layer(model, layer or default_layer(model))
    seen = []
    handle = module.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.enable_grad():
            logits = model(inputs)
    finally:
        handle.remove()
    if not seen:
        raise UsageError(f"--target-layer: {layer or default_layer(model)} did not run")
    out = seen[-1]  # (a layer called more than once: its last call, as MMAction2's hook)
    batch = inputs.shape[0]
    scores = logits.float().view(batch, -1, logits.shape[-1]).mean(1)
    if target is None:
        targets = scores.argmax(1)
    else:
        targets = torch.as_tensor(target, device=scores.device).long().expand(batch)
        if int(targets.min()) < 0 or int(targets.max()) >= scores.shape[1]:
            raise UsageError(f"--target: class {target} is not one of the {scores.shape[1]}")
    acts = _tensors(out)
    grads = torch.autograd.grad(scores.gather(1, targets[:, None]).sum(), acts, allow_unused=True)
    if any(g is None for g in grads):
        raise UsageError(f"--target-layer: the score does not depend on {layer}")
    size = (inputs.shape[1] if inputs.dim() == 5 else inputs.shape[-3], *inputs.shape[-2:])
    total = 0
    for a, g in zip(
        _as_steps(_replaced(out, [a.detach() for a in acts]), model, inputs),
        _as_steps(_replaced(out, list(grads)), model, inputs),
        strict=True,
    ):
        a, g = a.float(), g.float()
        cam = (_weights(g, a, method)[..., None, None] * a).sum(2).relu()  # [U, tg, h, w]
        total = total + F.interpolate(cam[:, None], size, mode="trilinear", align_corners=False)
    maps = total[:, 0]
    low = maps.flatten(1).min(1).values.view(-1, 1, 1, 1)
    high = maps.flatten(1).max(1).values.view(-1, 1, 1, 1)
    return (maps - low) / (high - low + delta), scores.detach(), targets


def video_cam(
    model: nn.Module,
    video: str | os.PathLike,
    target: int | None = None,
    layer: str | None = None,
    method: str = "gradcam",
) -> CamResult:
    """Grad-CAM of one video (a file or a rawframe folder) through the model's test
    pipeline (``init_recognizer``'s ``model.test_split``): every view it makes."""
    from .apis import model_inputs

    inputs, views = model_inputs(model, video)
    device = next(model.parameters()).device
    maps, scores, targets = localization_maps(
        model, inputs.unsqueeze(0).to(device), target, layer, method
    )
    frames = views.permute(0, 1, 3, 4, 2)  # [V * clips, clip_len, h, w, C]
    if frames.shape[-1] != 3:
        raise UsageError("Grad-CAM pictures need RGB frames; this model reads other inputs")
    frames = frames.reshape(maps.shape[0], -1, *frames.shape[2:])
    frames = frames.round().clamp(0, 255).to(torch.uint8)
    return CamResult(maps.cpu(), frames.cpu(), scores[0].cpu(), int(targets[0]), model.labels)


def jet(values: np.ndarray) -> np.ndarray:
    """The "jet" colour map (blue, cyan, yellow, red) of values in [0, 1]: float RGB in
    [0, 1], ``[..., 3]`` (the usual piecewise-linear form; no matplotlib needed)."""
    x = 4 * np.clip(values, 0, 1)[..., None]
    return np.clip(1.5 - np.abs(x - np.array([3.0, 2.0, 1.0])), 0, 1)


def blend(frames: Tensor, maps: Tensor, alpha: float = 0.5) -> np.ndarray:
    """The maps as a heat map (:func:`jet`) over the frames: uint8 ``[..., H, W, 3]``
    (``alpha`` of the heat map, ``1 - alpha`` of the frame)."""
    heat = jet(maps.numpy()) * 255
    out = alpha * heat + (1 - alpha) * frames.numpy().astype(np.float64)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
