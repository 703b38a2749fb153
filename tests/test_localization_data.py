"""Temporal localization data: annotation files in each published layout (hand-written
fixtures), feature files, and MMAction2's pool_feature (fixture from its own code)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data import localization as L
from actionkit.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "localization_data.pt"


def test_pool_feature_equals_mmaction2():
    for case in torch.load(FIXTURE, weights_only=True)["pool_feature"]:
        out = L.pool_feature(case["data"].numpy(), case["num"], pool_type=case["pool"])
        np.testing.assert_allclose(out, case["out"].numpy(), rtol=1e-12, atol=1e-12)


def test_pool_feature_by_hand():
    # a linear ramp stays a ramp: bin k is the mean of 3 samples of it
    data = np.arange(11, dtype=float)[:, None]  # T=11: positions 0..10
    out = L.pool_feature(data, 5)
    eps, step = 1e-4, (10 - 2e-4) / 5
    expected = [eps + (k + 1 / 3) * step for k in range(5)]  # mean of k, k+1/3, k+2/3 steps
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-12)
    np.testing.assert_array_equal(L.pool_feature(np.ones((1, 3)), 4), np.ones((4, 3)))


def test_activitynet_layouts(tmp_path):
    mm = {
        "v_abc": {
            "duration_second": 20.5, "duration_frame": 615, "feature_frame": 608, "fps": 30.0,
            "rfps": 30.0, "annotations": [{"segment": [1.5, 7.0], "label": "Long jump"}],
        }
    }  # fmt: skip
    (tmp_path / "mm.json").write_text(json.dumps(mm))
    assert L.load_activitynet(tmp_path / "mm.json") == mm
    official = {
        "version": "VERSION 1.3",
        "database": {
            "abc": {"duration": 20.5, "subset": "validation", "resolution": "640x360",
                    "annotations": [{"segment": [1.5, 7.0], "label": "Long jump"}]},
            "xyz": {"duration": 10.0, "subset": "training", "annotations": []},
        },
    }  # fmt: skip
    (tmp_path / "anet.json").write_text(json.dumps(official))
    found = L.load_activitynet(tmp_path / "anet.json", subset="validation")
    assert list(found) == ["v_abc"]
    assert found["v_abc"]["duration_second"] == 20.5
    assert found["v_abc"]["annotations"] == mm["v_abc"]["annotations"]
    assert len(L.load_activitynet(tmp_path / "anet.json")) == 2
    bad = {"v_q": {"duration_second": 5, "annotations": [{"segment": [3, 1], "label": "x"}]}}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"bad.json: v_q: annotations\[0\].segment: \[3, 1\]"):
        L.load_activitynet(tmp_path / "bad.json")
    (tmp_path / "nodur.json").write_text(json.dumps({"v_q": {"annotations": []}}))
    with pytest.raises(DataError, match="nodur.json: v_q: no 'duration_second'"):
        L.load_activitynet(tmp_path / "nodur.json")


def test_thumos14_annotations(tmp_path):
    (tmp_path / "BaseballPitch_val.txt").write_text(
        "video_validation_0000051 67.5 75.9\nvideo_validation_0000051 85.9 90.6\n"
    )
    (tmp_path / "HighJump_val.txt").write_text("video_validation_0000052 1.0 2.5\n")
    (tmp_path / "Ambiguous_val.txt").write_text("video_validation_0000051 1 2\n")
    durations = {"video_validation_0000051": 169.8, "video_validation_0000052": 30.0}
    out = L.thumos14_to_activitynet(tmp_path, durations)
    assert out["video_validation_0000051"]["annotations"] == [
        {"segment": [67.5, 75.9], "label": "BaseballPitch"},
        {"segment": [85.9, 90.6], "label": "BaseballPitch"},
    ]
    assert out["video_validation_0000052"]["duration_frame"] == 900
    (tmp_path / "HighJump_val.txt").write_text("video_validation_0000052 1.0\n")
    with pytest.raises(DataError, match=r"HighJump_val.txt, line 1: expected '<video> <start>"):
        L.thumos14_to_activitynet(tmp_path, durations)


def test_feature_files_and_the_cli(tmp_path, capsys):
    from actionkit.cli.data import main

    src = tmp_path / "src"
    src.mkdir()
    data = np.random.default_rng(0).standard_normal((37, 6)).astype(np.float32)
    np.save(src / "v_a.npy", data)
    header = ",".join(f"f{i}" for i in range(6))
    rows = "\n".join(",".join(f"{x:.9g}" for x in row) for row in data)
    (src / "v_b.csv").write_text(f"{header}\n{rows}\n")
    np.testing.assert_array_equal(L.read_features(src / "v_a.npy"), data)
    np.testing.assert_array_equal(L.read_features(src / "v_b.csv"), data)
    assert main(["features", str(src), str(tmp_path / "out"), "--rescale", "16"]) == 0
    assert "wrote 2 feature files of 16 steps" in capsys.readouterr().out
    for name in ("v_a", "v_b"):
        pooled = L.read_features(tmp_path / "out" / f"{name}.csv")
        np.testing.assert_allclose(pooled, L.pool_feature(data, 16), rtol=1e-5, atol=1e-6)
    (src / "v_c.csv").write_text(f"{header}\n1,2,3\n")
    assert main(["features", str(src), str(tmp_path / "out2"), "--rescale", "16"]) == 1
    assert "v_c.csv, line 2: 3 values, the header has 6" in capsys.readouterr().err
