"""Late fusion of test runs (``actionkit-test --fuse``) against MMAction2's
report_accuracy.py arithmetic (tests/fixtures/mmaction/fusion.pt, written by
dev/mmaction_fixtures.py in the side venv)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.cli import test as test_cli
from actionkit.engine.evaluate import fuse_predictions, prediction_rows, write_results
from actionkit.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "fusion.pt"


def write_run(folder: Path, scores: np.ndarray, labels: np.ndarray, names=None) -> Path:
    names = names or [f"sample_{i}" for i in range(len(labels))]
    rows = prediction_rows(names, [int(y) for y in labels], scores)
    write_results({"predictions.json": rows, "scores.npy": scores.astype(np.float32)}, folder)
    return folder / "predictions.json"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE)


@pytest.mark.parametrize("case", [0, 1])
def test_fuse_equals_mmaction(tmp_path, fixture, case):
    want = fixture["cases"][case]
    labels = fixture["labels"].numpy()
    runs = [
        write_run(tmp_path / f"run{i}", s.numpy(), labels) for i, s in enumerate(fixture["streams"])
    ]
    metrics, results = fuse_predictions(runs, fixture["weights"], softmax=want["softmax"])
    fused = want["fused"].numpy()
    # the runs store float32 scores: the sums agree to float32 rounding of the inputs
    np.testing.assert_allclose(results["scores.npy"], fused, rtol=2e-6, atol=2e-6)
    assert metrics["top1"] == pytest.approx(want["top_k"][0], abs=1e-12)
    assert metrics["top5"] == pytest.approx(want["top_k"][1], abs=1e-12)
    assert metrics["mean_class_accuracy"] == pytest.approx(want["mean_class"], abs=1e-12)
    assert [r["pred"] for r in results["predictions.json"]] == list(fused.argmax(1))


def test_fuse_cli_writes_the_fused_run(tmp_path, fixture, capsys):
    labels = fixture["labels"].numpy()
    runs = [
        write_run(tmp_path / f"run{i}", s.numpy(), labels) for i, s in enumerate(fixture["streams"])
    ]
    out = tmp_path / "fused"
    args = ["--fuse", *map(str, runs), "--weights", "2", "1", "0.5", "--softmax", "--out", str(out)]
    assert test_cli.main(args) == 0
    assert "fused 3 runs: top1 0.0750" in capsys.readouterr().out
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert metrics["weights"] == [2.0, 1.0, 0.5] and metrics["softmax"] is True
    np.testing.assert_allclose(
        np.load(out / "scores.npy"), fixture["cases"][1]["fused"].numpy(), rtol=2e-6, atol=2e-6
    )
    # a run's folder works as well as its predictions.json; the fused run fuses again
    assert (
        test_cli.main(
            ["--fuse", str(tmp_path / "run0"), str(out), "--out", str(tmp_path / "again")]
        )
        == 0
    )


def test_fuse_matches_samples_across_modalities(tmp_path):
    # an RGB run names videos, an audio run their feature files: one sample is the file's
    # name without its suffix, wherever its folder
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2])
    rgb_names = [f"data/videos/c{k}/clip_{k}.mp4" for k in range(3)]
    audio_names = [f"data/audio_features/c{k}/clip_{k}.npy" for k in range(3)]
    rgb, audio = rng.random((3, 3)), rng.random((3, 3))
    a = write_run(tmp_path / "rgb", rgb, labels, rgb_names)
    b = write_run(tmp_path / "audio", audio, labels, audio_names)
    metrics, results = fuse_predictions([a, b], [1.0, 2.0])
    np.testing.assert_allclose(results["scores.npy"], rgb + 2 * audio, rtol=1e-6)
    assert [r["video"] for r in results["predictions.json"]] == rgb_names
    other = write_run(tmp_path / "other", audio, labels, [*audio_names[:2], "x/clip_9.npy"])
    with pytest.raises(DataError, match="sample 2 is 'x/clip_9.npy'"):
        fuse_predictions([a, other])


def test_fuse_refuses_runs_that_disagree(tmp_path):
    rng = np.random.default_rng(0)
    a = write_run(tmp_path / "a", rng.random((4, 3)), np.array([0, 1, 2, 0]))
    b = write_run(tmp_path / "b", rng.random((4, 3)), np.array([0, 1, 2, 1]))
    with pytest.raises(DataError, match=r"b/predictions.json: sample 3 is 'sample_3' \(label 1\)"):
        fuse_predictions([a, b])
    c = write_run(tmp_path / "c", rng.random((4, 5)), np.array([0, 1, 2, 0]))
    with pytest.raises(DataError, match="5 classes"):
        fuse_predictions([a, c])
    with pytest.raises(ValueError, match="--weights: 1 weights for 2 runs"):
        fuse_predictions([a, a], [1.0])
    (tmp_path / "d").mkdir()
    with pytest.raises(FileNotFoundError, match="d/predictions.json: no such file"):
        fuse_predictions([a, tmp_path / "d"])
    with pytest.raises(SystemExit):
        test_cli.main(["cfg.yaml", "--fuse", str(a)])  # a config with --fuse is refused
