"""Localization through the one Trainer and the CLIs: the synthetic feature set, BMN
training, ``actionkit-test`` writing ActivityNet's proposals JSON with AR@AN, config
checks, and the demo (shortened) learning."""

import json
from pathlib import Path

import numpy as np
import pytest

from actionkit.cli import test as test_cli
from actionkit.cli import train
from actionkit.config import load_config
from actionkit.data import synthetic_features
from actionkit.data.localization import feature_span, load_activitynet
from actionkit.errors import ConfigError
from actionkit.metrics.localization import ar_at_an

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo" / "bmn_synthetic.yaml"
TINY = [
    "model.args={temporal_dim: 16, feat_dim: 8, num_samples: 4, hidden_dim_1d: 8, "
    "hidden_dim_2d: 8, hidden_dim_3d: 8}",
    "data.synthetic_features={train_videos: 8, test_videos: 4, feat_dim: 8, "
    "min_length: 12, max_length: 30}",
    "data.temporal_dim=16",
    "data.batch_size=4",
    "data.num_workers=0",
    "schedule.epochs=2",
    "schedule.milestones=[1]",
    "train.eval_interval=2",
]


def test_synthetic_features_match_their_annotations(tmp_path):
    files = synthetic_features.make_dataset(tmp_path, 6, 0, 2, feat_dim=8, seed=3)
    assert set(files) == {"train", "test"}
    videos = load_activitynet(files["train"])
    assert len(videos) == 6
    for name, info in videos.items():
        lines = (tmp_path / "features" / f"{name}.csv").read_text().splitlines()
        t = len(lines) - 1
        assert lines[0].split(",")[0] == "f0" and len(lines[0].split(",")) == 8
        assert info["feature_frame"] == 16 * t and 0 <= info["duration_frame"] - 16 * t < 32
        assert feature_span(info) == pytest.approx(16 * t / 30.0, rel=1e-4)
        segments = np.array([a["segment"] for a in info["annotations"]])
        assert 1 <= len(segments) <= 3 and (segments[:, 1] > segments[:, 0]).all()
        assert segments.min() >= 0 and segments.max() <= feature_span(info) + 1e-3
        assert (segments[1:, 0] >= segments[:-1, 1]).all()  # in order, not overlapping
    # deterministic given the seed
    again = synthetic_features.make_dataset(tmp_path / "again", 6, 0, 2, feat_dim=8, seed=3)
    assert again["train"].read_text() == files["train"].read_text()


def test_bmn_trains_and_actionkit_test_writes_proposals(tmp_path, capsys):
    overrides = [f"data.root={tmp_path / 'data'}", *TINY]
    work = tmp_path / "w"
    assert train.main([str(DEMO), "--work-dir", str(work), "--set", *overrides]) == 0
    metrics = json.loads((work / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["num_samples"] == 4
    assert {"AR@1", "AR@5", "AR@10", "AR@100", "auc"} <= set(metrics)
    assert "final AR@1" in capsys.readouterr().out
    out = tmp_path / "out"
    args = [str(DEMO), str(work / "best.pth"), "--out", str(out), "--set", *overrides]
    assert test_cli.main(args) == 0
    written = json.loads((out / "proposals.json").read_text())
    assert written["version"] == "VERSION 1.3" and written["external_data"] == {}
    truth = load_activitynet(tmp_path / "data" / "test.json")
    assert set(written["results"]) == {name[2:] for name in truth}  # ids without v_
    for name, info in truth.items():
        found = written["results"][name[2:]]
        assert 1 <= len(found) <= 100
        scores = [p["score"] for p in found]
        assert scores == sorted(scores, reverse=True)
        span = feature_span(info)
        assert all(0 <= p["segment"][0] <= p["segment"][1] <= span + 1e-9 for p in found)
    # the metrics are those of the written file
    ground_truth = {
        n[2:]: np.array([a["segment"] for a in i["annotations"]]) for n, i in truth.items()
    }
    proposals = {
        v: np.array([[*p["segment"], p["score"]] for p in ps])
        for v, ps in written["results"].items()
    }
    again = ar_at_an(ground_truth, proposals)
    tested = json.loads((out / "test_metrics.json").read_text())
    for key, value in again.items():
        assert tested[key] == pytest.approx(value, rel=1e-12)


def test_localization_config_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.best_metric: 'top1' is not a metric of the "
                       r"localization task \(known: AR@1, AR@5, AR@10, AR@100, auc\)"):  # fmt: skip
        load_config(DEMO, ["train.best_metric=top1"])
    with pytest.raises(ConfigError, match=r"data\.kind: 'video' does not fit model 'bmn'"):
        load_config(DEMO, ["data.kind=video"])
    with pytest.raises(ConfigError, match=r"data\.kind: 'features' does not fit model 'tsm_r18'"):
        load_config(ROOT / "configs" / "demo" / "tsm_synthetic.yaml", ["data.kind=features"])


@pytest.mark.slow
def test_the_bmn_demo_learns(tmp_path):
    """The demo config shortened to about 40 s: 96 instead of 200 training videos, 24
    held-out ones, 8 epochs. Measured over seeds 0-2 (data and training, 2026-11-30):
    AR@100 0.893-0.908, AUC 85.5-86.5; after one epoch of the full demo the model scores
    AR@100 about 0.35, AUC about 25."""
    shorter = [
        f"data.root={tmp_path / 'data'}",
        "data.synthetic_features.train_videos=96",
        "data.synthetic_features.test_videos=24",
        "schedule.epochs=8",
        "schedule.milestones=[7]",
        "train.eval_interval=8",
    ]
    assert train.main([str(DEMO), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == 24
    assert metrics["AR@100"] >= 0.8 and metrics["auc"] >= 70, metrics


def test_evaluator_scales_by_the_feature_span_or_as_mmaction2(tmp_path):
    import torch

    import actionkit.models as models
    from actionkit.data.localization import LocalizationDataset
    from actionkit.engine.evaluate import LocalizationEvaluator

    files = synthetic_features.make_dataset(tmp_path, 0, 0, 8, feat_dim=8, seed=5)
    dataset = LocalizationDataset(
        files["test"], tmp_path / "features", temporal_dim=16, test_mode=True
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    found = {}
    for legacy in (False, True):
        torch.manual_seed(0)
        model = models.create("bmn", temporal_dim=16, feat_dim=8, num_samples=4, hidden_dim_1d=8,
                              hidden_dim_2d=8, hidden_dim_3d=8, legacy_scale=legacy)  # fmt: skip
        evaluator = LocalizationEvaluator()
        metrics = evaluator.evaluate(model, loader, torch.device("cpu"))
        assert metrics["num_samples"] == 8
        found[legacy] = evaluator.results()["proposals.json"]["results"]
    ratios = []
    for name, info in dataset.videos.items():
        frames = info["duration_frame"]
        ratios.append((frames // 16 * 16) / info["feature_frame"])
        ratio = ratios[-1]
        ours, theirs = found[False][name[2:]], found[True][name[2:]]
        assert [p["score"] for p in ours] == [p["score"] for p in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert b["segment"] == pytest.approx([v * ratio for v in a["segment"]], rel=1e-12)
    assert 1 in ratios and any(r > 1 for r in ratios)  # the spans differ for some videos
