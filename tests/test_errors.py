"""Errors that tell the truth: the tools print actionkit's own errors (the user's input)
as one line and let every other exception (a bug) keep its traceback; --debug shows
tracebacks always."""

import pytest

from actionkit import errors
from actionkit.cli import export, train
from actionkit.config import ConfigError
from actionkit.data.decode import DecodeError
from actionkit.serialization import UntrustedCheckpointError


def test_each_error_is_also_the_builtin_it_was():
    assert issubclass(ConfigError, errors.ActionkitError) and issubclass(ConfigError, ValueError)
    assert issubclass(DecodeError, errors.ActionkitError) and issubclass(DecodeError, RuntimeError)
    assert issubclass(UntrustedCheckpointError, errors.CheckpointError)
    assert issubclass(errors.DivergenceError, FloatingPointError)
    for cls in (errors.DataError, errors.CheckpointError, errors.UsageError):
        assert issubclass(cls, errors.ActionkitError) and issubclass(cls, ValueError)


def test_user_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, capsys, monkeypatch):
    assert train.main([str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert "missing.yaml" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lrr: 0.1}\n")
    assert train.main([str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("actionkit-train: error: ") and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="optim.lrr: unknown key"):
        train.main([str(bad), "--debug"])  # --debug: the traceback, for bug reports

    def bug(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr("actionkit.cli.train.load_config", bug)
    with pytest.raises(ValueError, match="an internal invariant broke"):
        train.main([str(bad)])  # a plain ValueError is a bug: not turned into a user error


def test_export_without_a_standard_input_names_the_option(tmp_path, capsys):
    # (tiny_nobn, registered by the engine tests' helpers, has no entry in models.zoo)
    import torch

    from actionkit import models

    from .engine_helpers import small_config  # noqa: F401  (registers tiny_nobn)

    path = tmp_path / "m.pth"
    torch.save({"state_dict": models.create("tiny_nobn", 3).state_dict()}, path)
    argv = [str(path), "--onnx", str(tmp_path / "m.onnx"), "--model", "tiny_nobn"]
    assert export.main(argv) == 1  # was a bare KeyError 'tiny_nobn'
    err = capsys.readouterr().err
    assert "--input-shape: model tiny_nobn has no standard input" in err
