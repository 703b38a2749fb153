"""What a new user trips over in the first hour (issue 21), each a regression test: a
checkpoint trained with non-default model arguments works in every tool, repeated
--set accumulates, build-list's class names reach inference, init_recognizer reads a
checkpoint once, ONNX exports take any batch. Decoder errors: tests/test_decode.py."""

import pytest
import torch

import actionkit.models as models
from actionkit import serialization
from actionkit.apis import inference_recognizer, init_recognizer
from actionkit.cli import infer, test, train
from actionkit.config import load_config
from actionkit.data import tools
from actionkit.engine.checkpoint import load_training_checkpoint
from actionkit.errors import ConfigError

from .engine_helpers import make_small_dataset, small_config

CLASSES = ["disc", "move_left", "move_right"]  # build-list: sorted folder names


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One epoch of the small config on lists from `actionkit-data build-list` (kept
    outside the data root), with a non-default model argument given by a repeated --set."""
    tmp = tmp_path_factory.mktemp("first_hour")
    data = make_small_dataset(tmp / "data")
    (data / "classes.txt").unlink()  # only build-list's names: no fallback to the root's
    lists = tmp / "lists"
    lists.mkdir()
    assert tools.build_list(data / "videos", lists / "all.txt") == CLASSES
    config = small_config(tmp, data)
    work = tmp / "work"
    sets = [
        ["--set", "model.args.width=4"],  # half the default width (8)
        ["--set", "schedule.epochs=1"],
        ["--set", f"data.train.ann_file={lists / 'all.txt'}"],
        ["--set", f"data.val.ann_file={lists / 'all.txt'}", f"data.test.ann_file={lists}/all.txt"],
    ]
    assert train.main([str(config), "--work-dir", str(work), *sum(sets, [])]) == 0
    return config, work / "latest.pth", data


def test_repeated_set_accumulates(run):
    _, checkpoint, _ = run
    state = load_training_checkpoint(checkpoint)
    assert state["config"]["schedule"]["epochs"] == 1  # not the config's 3
    assert state["config"]["model"]["args"] == {"width": 4}
    assert state["epoch"] == 1


def test_a_key_set_twice_differently_is_an_error(run, capsys):
    config, _, _ = run
    with pytest.raises(ConfigError, match=r"--set optim.lr is given twice, as 'optim.lr=0.1' and"):
        load_config(config, ["optim.lr=0.1", "schedule.epochs=2", "optim.lr=0.2"])
    assert load_config(config, ["optim.lr=0.1", "optim.lr=0.1"]).optim.lr == 0.1
    assert train.main([str(config), "--print-config", "--set", "optim.lr=1", "--set", "optim.lr=2"])
    assert "--set optim.lr is given twice" in capsys.readouterr().err


def test_build_list_class_names_reach_inference(run, capsys):
    _, checkpoint, data = run
    assert load_training_checkpoint(checkpoint)["classes"] == CLASSES
    video = next((data / "videos" / "move_left").iterdir())
    assert infer.main([str(checkpoint), str(video), "--top-k", "3"]) == 0
    printed = [line.split()[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert sorted(printed) == CLASSES  # names, not "class 0"


def test_class_names_must_match_the_number_of_classes(run, tmp_path):
    from actionkit.engine.builder import class_names

    config, _, data = run
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    cfg = load_config(config, [f"data.classes={names}"])
    with pytest.raises(ConfigError, match="2 class names, but model.num_classes is 3"):
        class_names(cfg)
    names.write_text("jumping jacks\nhigh jump\nlong jump\n")  # one per line, spaces kept
    assert class_names(cfg) == ["jumping jacks", "high jump", "long jump"]


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_every_tool_builds_the_model_the_checkpoint_records(run, tmp_path, capsys):
    config, checkpoint, data = run
    video = next((data / "videos" / "disc").iterdir())
    # the config says width 8 (the default); the checkpoint was trained with width 4
    assert test.main([str(config), str(checkpoint), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    for how in (None, "tiny_nobn", config):
        model = init_recognizer(how, checkpoint)
        assert model.backbone.out_channels == 4
        assert inference_recognizer(model, video).pred_score.shape == (3,)
    model = models.create("tiny_nobn", num_classes=3, checkpoint=checkpoint)
    assert model.builder_args == {"width": 4}
    with pytest.raises(ValueError, match=r"\(it was trained with \{'width': 4\}\)"):
        models.create("tiny_nobn", num_classes=3, checkpoint=checkpoint, width=6)
    pytest.importorskip("onnxruntime")
    from actionkit.cli import export

    out = tmp_path / "m.onnx"
    assert export.main([str(checkpoint), "--onnx", str(out), "--input-shape", "4,3,24,24"]) == 0
    assert "onnxruntime vs PyTorch at batch 1 and 2" in capsys.readouterr().out


def test_init_recognizer_reads_the_checkpoint_once(run, monkeypatch):
    _, checkpoint, _ = run
    calls = []
    load = serialization.load

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(serialization, "load", counting)
    init_recognizer(None, checkpoint)
    init_recognizer("tiny_nobn", checkpoint)
    assert calls == [str(checkpoint)] * 2


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_onnx_takes_any_batch_and_size(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from actionkit.models.export import export_onnx

    model = models.create("tsm_r18", num_classes=5, base_channels=8).eval()
    axes = export_onnx(model, torch.randn(1, 8, 3, 32, 32), tmp_path / "m.onnx")
    assert axes == {0: "batch", 3: "height", 4: "width"}
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for shape in [(1, 8, 3, 32, 32), (3, 8, 3, 32, 32), (2, 8, 3, 48, 64)]:
        x = torch.randn(shape)
        with torch.no_grad():
            expected = model(x).numpy()
        assert abs(session.run(None, {"inputs": x.numpy()})[0] - expected).max() < 1e-4
