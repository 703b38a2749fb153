"""``actionkit-export CHECKPOINT --serve DIR``: a trained recognizer ready for a model
server — an NVIDIA Triton model repository (the ONNX model, its ``config.pbtxt`` with
dynamic batching) and a TorchServe handler — with the preprocessing written down.

The served model takes the test pipeline's output, ``inputs: float32 [B, views, 3, (T,)
H, W]`` (normalised, as ``FormatShape`` makes it), and returns ``scores: float32 [B,
num_classes]``: the views averaged as the model's ``average_clips`` says (softmax
probabilities by default) — what ``actionkit-infer`` and ``actionkit-test`` report, one
row per request, so a server can batch requests. ``preprocessing.json`` holds the test
pipeline (sampler and transforms, actionkit's config form), the input shape, the class
names; the TorchServe handler (``actionkit/serving_handler.py``) runs that pipeline on
the video bytes of each request with actionkit, a Triton client does the same before
sending ``inputs``.

Layout::

    DIR/NAME/config.pbtxt            Triton: platform onnxruntime_onnx, max_batch_size,
    DIR/NAME/1/model.onnx                    dynamic batching
    DIR/NAME/preprocessing.json      the pipeline, shapes, classes
    DIR/torchserve/actionkit_handler.py, model.onnx (+ model.onnx.data), preprocessing.json
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch import nn

from ..config import to_dict
from .export import export_onnx
from .recognizer import average_clips


class ViewAveragedScores(nn.Module):
    """The recognizer's scores per sample: its output averaged over the views as its
    ``average_clips`` says (``predict``'s arithmetic, in a graph an exporter takes)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return average_clips(self.model(inputs), inputs.shape[0], self.model.average_clips)


def triton_config(name: str, input_shape, num_classes: int, free: dict, max_batch: int) -> str:
    """Triton's ``config.pbtxt`` of the exported model (dims without the batch axis;
    a free axis is -1)."""
    dims = [-1 if i + 1 in free else int(d) for i, d in enumerate(input_shape)]
    return (
        f'name: "{name}"\n'
        'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {max_batch}\n"
        "input [\n"
        f'  {{ name: "inputs" data_type: TYPE_FP32 dims: {dims} }}\n'
        "]\n"
        "output [\n"
        f'  {{ name: "scores" data_type: TYPE_FP32 dims: [ {num_classes} ] }}\n'
        "]\n"
        "dynamic_batching { max_queue_delay_microseconds: 2000 }\n"
    )


def write_model_repository(
    model: nn.Module,
    input_shape: tuple[int, ...],
    out: str | Path,
    name: str,
    test_split,
    classes: list[str] | None,
    max_batch: int = 8,
) -> dict[str, Path]:
    """Exports ``model`` (a recognizer in eval mode) for inputs of one sample
    ``input_shape`` and writes the serving layout (module docstring) under ``out``;
    returns the files written."""
    out = Path(out)
    repo = out / name
    (repo / "1").mkdir(parents=True, exist_ok=True)
    serving = ViewAveragedScores(model).eval()
    example = torch.randn(1, *input_shape)
    onnx_path = repo / "1" / "model.onnx"
    free = export_onnx(serving, example, onnx_path, output_name="scores", axes_of=model)
    num_classes = int(serving(example).shape[-1])
    (repo / "config.pbtxt").write_text(
        triton_config(name, input_shape, num_classes, free, max_batch)
    )
    meta = {
        "model": getattr(model, "name", name),
        "input": {"name": "inputs", "shape": [None, *input_shape], "free_axes": free},
        "output": {
            "name": "scores",
            "shape": [None, num_classes],
            "average_clips": model.average_clips,
        },  # fmt: skip
        "test": to_dict(test_split),
        "classes": classes or [str(i) for i in range(num_classes)],
        "top_k": 5,
    }
    (repo / "preprocessing.json").write_text(json.dumps(meta, indent=1) + "\n")
    handler = out / "torchserve"
    handler.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).parents[1] / "serving_handler.py", handler / "actionkit_handler.py")
    for part in onnx_path.parent.glob("model.onnx*"):  # (and its external weights file)
        shutil.copy(part, handler / part.name)
    shutil.copy(repo / "preprocessing.json", handler / "preprocessing.json")
    return {
        "config": repo / "config.pbtxt",
        "onnx": onnx_path,
        "preprocessing": repo / "preprocessing.json",
        "handler": handler / "actionkit_handler.py",
    }
