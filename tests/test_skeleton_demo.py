"""The skeleton demos, shortened: the same configs on fewer generated samples and epochs,
asserting learning far above chance (1/12 = 8%)."""

import json
from pathlib import Path

import pytest

from actionkit.cli import train

DEMOS = Path(__file__).resolve().parents[1] / "configs" / "demo"


@pytest.mark.slow
def test_the_stgcn_demo_learns(tmp_path):
    """ST-GCN demo config with 24 training samples a class (of 60) and 8 epochs (of 20),
    about 40 s. Measured TOP1_STGCN."""
    shorter = [
        f"data.root={tmp_path / 'data'}",
        "data.synthetic_pose={train_per_class: 24, test_per_class: 10}",
        "schedule.epochs=8",
        "train.eval_interval=8",
    ]
    config = DEMOS / "stgcn_synthetic.yaml"
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == 120
    assert metrics["top1"] >= 0.6, metrics


@pytest.mark.slow
def test_the_posec3d_demo_learns(tmp_path):
    """PoseC3D demo config with 24 training samples a class (of 60) and 4 epochs (of 8),
    about a minute. Measured TOP1_POSEC3D."""
    shorter = [
        f"data.root={tmp_path / 'data'}",
        "data.synthetic_pose={train_per_class: 24, test_per_class: 10}",
        "schedule.epochs=4",
        "train.eval_interval=4",
    ]
    config = DEMOS / "posec3d_synthetic.yaml"
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == 120
    assert metrics["top1"] >= 0.5, metrics
