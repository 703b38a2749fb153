"""Checkpoints are data, never code: a file with a ``__reduce__`` payload is refused by
every entry point that reads a user's checkpoint (the payload never runs), OpenMMLab
metadata loads as inert placeholders, and ``trust_checkpoint`` is the one way through."""

import sys
import types

import numpy as np
import pytest
import torch

from actionkit import models, serialization
from actionkit.apis import init_recognizer
from actionkit.models.checkpoint import read_state_dict

from .engine_helpers import make_small_dataset, small_config


class Payload:
    """Unpickling it creates ``marker`` (``open``): code run by a checkpoint."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def evil(tmp_path):
    """A plausible tsn_r18 checkpoint whose pickle also opens ``marker`` for writing."""
    marker = tmp_path / "marker"
    state = models.create("tsn_r18", num_classes=3).state_dict()
    path = tmp_path / "evil.pth"
    payload = {"actionkit": "0.1.0", "arch": "tsn_r18", "model": state, "x": Payload(marker)}
    torch.save(payload, path)
    assert not marker.exists()
    return path, marker


REFUSED = r"evil.pth: refusing to unpickle io.open .*trust_checkpoint=True \(--trust-che"


def test_every_python_entry_point_refuses_code(evil):
    path, marker = evil
    calls = [
        lambda: serialization.load(path),
        lambda: read_state_dict(path),
        lambda: models.create("tsn_r18", num_classes=3, checkpoint=path),
        lambda: init_recognizer("tsn_r18", path),
        lambda: init_recognizer(None, path),
    ]
    for call in calls:
        with pytest.raises(serialization.UntrustedCheckpointError, match=REFUSED):
            call()
    assert not marker.exists()


@pytest.mark.parametrize("tool", ["infer", "test", "export", "convert"])
def test_every_tool_refuses_code(evil, tool, tmp_path, capsys):
    import importlib

    path, marker = evil
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    config = tmp_path / "c.yaml"
    config.write_text("model: {name: tsn_r18, num_classes: 3}\n")
    argv = {
        "infer": [str(path), str(video), "--model", "tsn_r18"],
        "test": [str(config), str(path)],
        "export": [str(path), "--onnx", str(tmp_path / "m.onnx")],
        "convert": ["mmaction", str(path), str(tmp_path / "out.pth")],
    }[tool]
    main = importlib.import_module(f"actionkit.cli.{tool}").main
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "evil.pth: refusing to unpickle io.open" in err and "--trust-checkpoint" in err
    assert not marker.exists()


def test_trainer_resume_refuses_code(evil, tmp_path):
    from actionkit.config import load_config
    from actionkit.engine import Trainer

    path, marker = evil
    data = make_small_dataset(tmp_path / "data")
    cfg = load_config(small_config(tmp_path, data), [f"work_dir={tmp_path / 'w'}"])
    with pytest.raises(serialization.UntrustedCheckpointError, match=REFUSED):
        Trainer(cfg, resume=path)
    assert not marker.exists()


def test_trust_is_the_only_way_through(evil):
    path, marker = evil
    with pytest.warns(UserWarning, match=r"evil.pth: loaded with trust_checkpoint=True"):
        state, origin = read_state_dict(path, trust=True)
    assert origin == "actionkit" and marker.exists()  # the payload ran: the test is real


def _fake_module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def test_openmmlab_meta_loads_as_inert_placeholders(tmp_path, monkeypatch):
    # mmengine's message hub keeps HistoryBuffer objects with numpy arrays in them; its
    # classes are not installed here, so the file names a class nobody can import.
    class HistoryBuffer:
        def __init__(self):
            self._log_history = np.arange(3.0)
            self._count_history = np.ones(3)

    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    for name, attrs in [
        ("mmengine", {}),
        ("mmengine.logging", {}),
        ("mmengine.logging.history_buffer", {"HistoryBuffer": HistoryBuffer}),
    ]:
        monkeypatch.setitem(sys.modules, name, _fake_module(name, **attrs))
    state = models.create("tsn_r18", num_classes=3).state_dict()
    payload = {
        "meta": {"mmengine_version": "0.10.7", "seed": np.int64(0), "cfg": "model = ..."},
        "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()}},
        "state_dict": {f"{k}": v for k, v in state.items()},
    }
    path = tmp_path / "mm.pth"
    torch.save(payload, path)
    monkeypatch.delitem(sys.modules, "mmengine.logging.history_buffer")

    loaded = serialization.load(path)
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buffer, serialization.Placeholder)
    assert repr(buffer) == "<placeholder for mmengine.logging.history_buffer.HistoryBuffer>"
    np.testing.assert_array_equal(buffer.state["_log_history"], np.arange(3.0))  # real numpy
    model = models.create("tsn_r18", num_classes=3, checkpoint=path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    # ... but not as weights, nor in a file actionkit wrote itself
    monkeypatch.setitem(sys.modules, "mmengine.logging.history_buffer", _fake_module(
        "mmengine.logging.history_buffer", HistoryBuffer=HistoryBuffer))  # fmt: skip
    payload["state_dict"]["cls_head.fc_cls.weight"] = HistoryBuffer()
    torch.save(payload, path)
    monkeypatch.delitem(sys.modules, "mmengine.logging.history_buffer")
    with pytest.raises(ValueError, match=r"mm.pth: the state dict holds non-tensors \(cls_head"):
        read_state_dict(path)
    with pytest.raises(serialization.UntrustedCheckpointError, match=r"mmengine.logging"):
        serialization.load(path, placeholders=False)


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.pth: not a checkpoint"):
        read_state_dict(path)
