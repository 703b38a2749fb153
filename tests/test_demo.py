"""The README's demo, shortened to about a minute: the same config (TSM-R18 at half width
on the synthetic motion dataset), fewer videos and epochs. Learning must be clearly above
chance (1/14); the full demo's numbers are in the README."""

import json
from pathlib import Path

from actionkit.cli import train

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_learns(tmp_path):
    shorter = [
        f"data.root={tmp_path / 'data'}",
        "data.synthetic.videos_per_class=20",
        "data.synthetic.test_per_class=5",
        "schedule.epochs=20",
        "schedule.warmup_epochs=1",
        "train.eval_interval=20",
    ]
    config = ROOT / "configs" / "demo" / "tsm_synthetic.yaml"
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == 14 * 5
    assert metrics["top1"] >= 0.35, metrics  # chance: 1/14 = 0.07
