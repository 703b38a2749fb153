"""A TorchServe handler for a model exported by ``actionkit-export --serve``: it reads
``model.onnx`` and ``preprocessing.json`` from the model's directory, turns each request
(the bytes of a video file) into the model's input with actionkit's own test pipeline,
runs onnxruntime on the batch, and answers each request with its top classes.

``actionkit-export --serve DIR`` copies this file to ``DIR/torchserve/``; package it with

    torch-model-archiver --model-name NAME --version 1 --handler actionkit_handler.py \\
        --extra-files model.onnx,model.onnx.data,preprocessing.json --export-path model_store

(TorchServe calls the module-level :func:`handle`). The serving environment needs
``actionkit`` (for decoding and the pipeline) and ``onnxruntime``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np


class ActionkitHandler:
    """initialize(context) once, then handle(requests, context) per batch."""

    def __init__(self):
        self.initialized = False

    def initialize(self, context) -> None:
        import onnxruntime

        from actionkit.config import SplitConfig, build_sampler, from_dict
        from actionkit.engine.builder import build_pipeline

        folder = Path(context.system_properties["model_dir"])
        self.meta = json.loads((folder / "preprocessing.json").read_text())
        split = from_dict(SplitConfig, self.meta["test"], "preprocessing.json: test")
        self.sampler = build_sampler(split.sampler, "test.sampler")
        self.transforms = build_pipeline(split, "test")
        self.classes = self.meta["classes"]
        self.top_k = int(self.meta.get("top_k", 5))
        self.session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
        self.initialized = True

    def _inputs(self, video: bytes) -> np.ndarray:
        from actionkit.data.decode import VideoReader
        from actionkit.data.transforms import Clip, apply_transforms

        suffix = self.meta.get("suffix", ".mp4")
        with tempfile.NamedTemporaryFile(suffix=suffix) as f:
            f.write(video)
            f.flush()
            with VideoReader(f.name) as reader:
                indices = np.asarray(self.sampler(len(reader), 0, None, reader.fps))
                frames = reader.get_frames(indices)
        clip_len = getattr(self.sampler, "clip_len", 1) or 1
        inputs, _ = apply_transforms(
            self.transforms, Clip(frames, len(indices) // clip_len, clip_len)
        )
        return inputs.numpy()

    def preprocess(self, requests: list[dict]) -> np.ndarray:
        videos = []
        for request in requests:
            body = request.get("data") or request.get("body")
            if isinstance(body, str):  # (a path, for local use)
                body = Path(body).read_bytes()
            if not isinstance(body, bytes | bytearray):
                raise ValueError("each request's body must be the bytes of a video file")
            videos.append(self._inputs(bytes(body)))
        return np.stack(videos).astype(np.float32)

    def inference(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"inputs": batch})[0]

    def postprocess(self, scores: np.ndarray) -> list[dict]:
        out = []
        for row in scores:
            order = np.argsort(row)[::-1][: self.top_k]
            out.append({self.classes[i]: round(float(row[i]), 6) for i in order})
        return out

    def handle(self, requests: list[dict], context) -> list[dict]:
        return self.postprocess(self.inference(self.preprocess(requests)))


_service = ActionkitHandler()


def handle(data, context):
    """TorchServe's entry point."""
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)


if __name__ == "__main__":  # local check: python actionkit_handler.py MODEL_DIR VIDEO...
    import sys
    from types import SimpleNamespace

    ctx = SimpleNamespace(system_properties={"model_dir": sys.argv[1]})
    print(json.dumps(handle([{"body": v} for v in sys.argv[2:]], ctx), indent=1))
