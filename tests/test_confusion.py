"""``actionkit-test --confusion-matrix``: the matrix against MMAction2's
``confusion_matrix`` (tests/fixtures/mmaction/confusion.pt, dev/mmaction_fixtures.py
confusion), its CSV and figure."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.cli import test as test_cli
from actionkit.engine.evaluate import (
    confusion_matrix,
    prediction_rows,
    write_confusion_matrix,
    write_results,
)
from actionkit.errors import UsageError

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "confusion.pt"


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_equals_mmaction2(normalize):
    # seeded labels and predictions where class 6 never occurs and class 3 is never
    # predicted: the empty row and column stay 0 when normalised
    fx = torch.load(FIXTURE, weights_only=True)
    ours = confusion_matrix(fx["labels"], fx["preds"], fx["num_classes"], normalize)
    theirs = fx[str(normalize)].numpy()
    if normalize is None:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_confusion_matrix_by_hand():
    # 3 classes: class 0 twice right, once taken for 2; class 1 once taken for 0
    counts = confusion_matrix([0, 0, 0, 1], [0, 0, 2, 0], 3)
    np.testing.assert_array_equal(counts, [[2, 0, 1], [1, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="labels outside 0..2"):
        confusion_matrix([3], [0], 3)


def _run(folder: Path, labels, scores, names=None) -> Path:
    rows = prediction_rows(names or [f"v{i}.mp4" for i in range(len(labels))], labels, scores)
    write_results({"predictions.json": rows, "scores.npy": scores.astype(np.float32)}, folder)
    return folder / "predictions.json"


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_cli_writes_the_matrix_of_the_fused_run(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = [0, 0, 1, 2, 2, 2]
    a, b = rng.random((6, 3)), rng.random((6, 3))
    runs = [_run(tmp_path / "a", labels, a), _run(tmp_path / "b", labels, b)]
    out = tmp_path / "fused"
    args = ["--fuse", *map(str, runs), "--confusion-matrix", "--out", str(out)]
    assert test_cli.main(args) == 0
    assert "confusion_matrix.csv" in capsys.readouterr().out
    table = _read_csv(out / "confusion_matrix.csv")
    expected = confusion_matrix(labels, (a + b).argmax(1), 3)
    assert table[0] == ["true \\ predicted", "0", "1", "2"]
    assert [[int(v) for v in row[1:]] for row in table[1:]] == expected.tolist()
    assert sum(int(v) for row in table[1:] for v in row[1:]) == len(labels)
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_names_label_the_rows_and_columns(tmp_path):
    labels = [0, 1, 1]
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    rows = prediction_rows(["x.mp4", "y.mp4", "z.mp4"], labels, scores)
    results = {"predictions.json": rows, "scores.npy": scores}
    written = write_confusion_matrix(results, tmp_path, ["walk, slowly", 'say "hi"'])
    assert written[0] == tmp_path / "confusion_matrix.csv"
    table = _read_csv(tmp_path / "confusion_matrix.csv")  # quoted where it must be
    assert table == [
        ["true \\ predicted", "walk, slowly", 'say "hi"'],
        ["walk, slowly", "1", "0"],
        ['say "hi"', "1", "1"],
    ]
    multi = {"predictions.json": [{**rows[0], "label": [0, 1]}], "scores.npy": scores[:1]}
    with pytest.raises(UsageError, match="multi-label"):
        write_confusion_matrix(multi, tmp_path / "multi")
    assert not (tmp_path / "multi").exists()
