"""actionkit-export --serve: the Triton model repository (ONNX model returning the
view-averaged scores, config.pbtxt with dynamic batching), the preprocessing record and
the TorchServe handler, each checked by loading what was written: onnxruntime from the
repository layout, the handler called as TorchServe calls it."""

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from actionkit.apis import inference_recognizer, init_recognizer, model_inputs
from actionkit.cli import export, train

from .engine_helpers import make_small_dataset, small_config
from .test_cli_engine import one_line_error

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    data = make_small_dataset(tmp / "data")
    assert train.main([str(small_config(tmp, data)), "--work-dir", str(tmp / "w")]) == 0
    ckpt = tmp / "w" / "latest.pth"
    args = [str(ckpt), "--serve", str(tmp / "repo"), "--input-shape", "4,3,32,32"]
    assert export.main([*args, "--name", "tiny", "--max-batch", "4"]) == 0
    return ckpt, data, tmp / "repo"


def test_triton_repository(served):
    ckpt, data, repo = served
    config = (repo / "tiny" / "config.pbtxt").read_text()
    assert 'name: "tiny"' in config and 'platform: "onnxruntime_onnx"' in config
    assert "max_batch_size: 4" in config and "dynamic_batching" in config
    # one sample's input, batch axis left to Triton; height and width free
    assert 'name: "inputs" data_type: TYPE_FP32 dims: [4, 3, -1, -1]' in config
    assert 'name: "scores" data_type: TYPE_FP32 dims: [ 3 ]' in config
    meta = json.loads((repo / "tiny" / "preprocessing.json").read_text())
    assert meta["classes"] == ["move_right", "move_left", "disc"]
    assert meta["test"]["sampler"]["num_clips"] == 4
    # the model as Triton would load it: equal to actionkit's own inference
    session = ort.InferenceSession(str(repo / "tiny" / "1" / "model.onnx"))
    model = init_recognizer(None, ckpt)
    videos = sorted((data / "videos").rglob("*.mp4"))[:3]
    batch = torch.stack([model_inputs(model, v)[0] for v in videos]).numpy()
    scores = session.run(["scores"], {"inputs": batch})[0]
    for row, video in zip(scores, videos, strict=True):
        expected = inference_recognizer(model, video).pred_score.numpy()
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-5)


def test_torchserve_handler(served):
    ckpt, data, repo = served
    spec = importlib.util.spec_from_file_location(
        "actionkit_handler", repo / "torchserve" / "actionkit_handler.py"
    )
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    context = SimpleNamespace(system_properties={"model_dir": str(repo / "torchserve")})
    videos = sorted((data / "videos").rglob("*.mp4"))[-2:]
    answers = handler.handle([{"body": v.read_bytes()} for v in videos], context)
    model = init_recognizer(None, ckpt)
    assert len(answers) == 2
    for answer, video in zip(answers, videos, strict=True):
        expected = inference_recognizer(model, video)
        assert list(answer) == [name for name, _ in expected.top_k(3)]  # best first
        for name, score in answer.items():
            k = model.labels.index(name)
            assert score == pytest.approx(float(expected.pred_score[k]), abs=1e-5)
    assert handler.handle(None, context) is None  # TorchServe's warm-up call


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--static"], "--static goes with --onnx"),
        (["--max-batch", "0"], "--max-batch must be at least 1"),
    ],
)
def test_bad_serve_options(served, tmp_path, capsys, extra, message):
    ckpt, _, _ = served
    args = [str(ckpt), "--serve", str(tmp_path / "r"), "--input-shape", "4,3,32,32", *extra]
    assert export.main(args) == 1
    assert message in one_line_error(capsys, "actionkit-export")
