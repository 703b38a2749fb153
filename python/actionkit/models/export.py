"""Export to ONNX and ``torch.export``. The compiled ops record their pure-PyTorch form
while exporting (the temporal shift as slices and a concatenation), so the graphs hold
standard ops only and run in onnxruntime, TensorRT and friends."""

from __future__ import annotations

import os

import torch
import torch.nn as nn


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | os.PathLike) -> None:
    """Writes ``model`` (put in eval mode) as ONNX for inputs shaped like ``example``
    (``[B, views, 3, (T,) H, W]``; shapes are static: export once per batch size).
    Needs ``onnx`` and ``onnxscript`` (``pip install "actionkit[export]"``)."""
    model.eval()
    torch.onnx.export(
        model,
        (example,),
        os.fspath(path),
        dynamo=True,
        input_names=["inputs"],
        output_names=["logits"],
        verbose=False,
    )


def export_program(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export.export`` of ``model`` in eval mode (standard ATen ops only)."""
    model.eval()
    return torch.export.export(model, (example,))
