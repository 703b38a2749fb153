"""``actionkit-plot``: several runs' curves from their log.jsonl, errors that name the file
and the key."""

import json
from pathlib import Path

import pytest

from actionkit.cli import plot


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("actionkit-plot: error: ") and len(err.splitlines()) == 1, err
    return err


def _log(folder, losses, top1):
    folder.mkdir(parents=True)
    lines = [{"epoch": 1, "iter": i + 1, "iteration": i + 1, "loss": v, "lr": 0.1}
             for i, v in enumerate(losses)]  # fmt: skip
    lines += [{"epoch": e + 1, "split": "val", "top1": v, "num_samples": 6}
              for e, v in enumerate(top1)]  # fmt: skip
    lines.append({"epoch": 2, "split": "test", "top1": 0.5, "mAP": 0.25})
    (folder / "log.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return folder


def test_reads_the_records_a_run_writes(tmp_path):
    run = _log(tmp_path / "a", [2.0, 1.5, 1.0], [0.3, 0.6])
    train, evals = plot.read_log(run, "val")
    assert [r["loss"] for r in train] == [2.0, 1.5, 1.0]
    assert [r["top1"] for r in evals] == [0.3, 0.6] and plot.metric_keys(evals) == ["top1"]
    assert plot.metric_keys(plot.read_log(run, "test")[1]) == ["top1", "mAP"]


def test_draws_every_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a = _log(tmp_path / "a", [2.0, 1.5, 1.0], [0.3, 0.6])
    b = _log(tmp_path / "b", [2.2, 1.1, 0.9], [0.4, 0.7])
    out = tmp_path / "figs" / "compare.png"
    assert plot.main([str(a), str(b), "--out", str(out)]) == 0
    assert "loss, top1 for 2 runs" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.main([str(a), str(b / "log.jsonl"), "--keys", "lr", "mAP", "--split", "test",
                      "--out", str(out)]) == 0  # fmt: skip
    assert "lr, mAP for 2 runs" in capsys.readouterr().out


def test_errors_name_the_file_and_the_key(tmp_path, capsys):
    a = _log(tmp_path / "a", [2.0], [0.3])
    assert plot.main([str(a), str(tmp_path / "none")]) == 1
    assert "none: no such run folder or log.jsonl" in one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    assert plot.main([str(a), str(tmp_path / "empty")]) == 1
    assert "empty/log.jsonl: no such file" in one_line_error(capsys)
    assert plot.main([str(a), "--keys", "top5"]) == 1
    err = one_line_error(capsys)
    assert "--keys top5: not in the runs' logs" in err and "top1" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "log.jsonl").write_text('{"loss": 1}\n{oops\n')
    assert plot.main([str(tmp_path / "bad")]) == 1
    assert "bad/log.jsonl, line 2: not a JSON record" in one_line_error(capsys)


def test_runs_of_the_same_name_are_told_apart():
    runs = [Path("exp1/tsm"), Path("exp2/tsm"), Path("exp2/tsn")]
    assert plot.run_labels(runs) == {runs[0]: "exp1/tsm", runs[1]: "exp2/tsm", runs[2]: "tsn"}
