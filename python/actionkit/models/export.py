"""Export to ONNX and ``torch.export``. The compiled ops record their pure-PyTorch form
while exporting (the temporal shift as slices and a concatenation), so the graphs hold
standard ops only and run in onnxruntime, TensorRT and friends.

ONNX files take any batch size, and any clip length and frame size where the model
allows (every zoo model but C3D, :data:`FIXED_INPUT`; the VideoMAE ViTs, whose
position table fixes the clip length: a backbone's ``fixed_frames``; Video Swin, whose
shifted-window masks are computed for one clip size: a backbone's ``fixed_size``); the
number of views per sample (TSN/TSM segments x crops, 3D clips x crops) stays the
exported one: TSM's shift needs its segments together."""

from __future__ import annotations

import os

import torch
import torch.nn as nn

# Models whose layers fix the input size beyond the batch: name -> why.
FIXED_INPUT = {
    "c3d": "its fc6 takes the flattened features of exactly a 16 x 112 x 112 clip",
}


def dynamic_axes(model: nn.Module, example: torch.Tensor) -> dict[int, str]:
    """The axes of ``example`` (``[B, V, 3, (T,) H, W]``; skeletons ``[B, clips, M, T, V,
    C]``: batch and frames) an export leaves free."""
    axes = {0: "batch"}
    if getattr(model, "skeleton", False):
        return axes | {3: "time"}
    backbone = getattr(model, "backbone", None)
    if getattr(model, "name", None) not in FIXED_INPUT and not getattr(backbone, "fixed_size", 0):
        names = ("time", "height", "width") if example.dim() == 6 else ("height", "width")
        axes |= {example.dim() - len(names) + i: n for i, n in enumerate(names)}
        if getattr(backbone, "fixed_frames", None):
            axes.pop(example.dim() - 3)
    return axes


def export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike,
    dynamic: bool = True,
    output_name: str = "logits",
    axes_of: nn.Module | None = None,
    optimize: bool = True,
) -> dict[int, str]:
    """Writes ``model`` (put in eval mode) as ONNX for inputs shaped like ``example``
    (``[B, views, 3, (T,) H, W]``) and returns the axes left free (:func:`dynamic_axes`
    of ``axes_of``, default the model; none with ``dynamic=False``). ``optimize``: the
    exporter's graph optimisation (constant folding, fusing; on for what users deploy,
    off where only the ops' translation matters: 2-4x faster to export; models with a
    Conv3d need it: torch 2.14's unoptimised Conv3d node has a bias onnxruntime refuses).
    Needs ``onnx`` and ``onnxscript`` (``pip install "actionkit[export]"``)."""
    model.eval()
    axes = dynamic_axes(axes_of or model, example) if dynamic else {}
    if axes and example.shape[0] == 1:  # a batch of one would be traced as a constant
        example = example.expand(2, *example.shape[1:])
    shapes = ({i: torch.export.Dim.DYNAMIC for i in axes},) if axes else None
    torch.onnx.export(
        model,
        (example,),
        os.fspath(path),
        dynamo=True,
        input_names=["inputs"],
        output_names=[output_name],
        dynamic_shapes=shapes,
        optimize=optimize,
        verbose=False,
    )
    return axes


def export_program(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export.export`` of ``model`` in eval mode (standard ATen ops only)."""
    model.eval()
    return torch.export.export(model, (example,))
