"""BMN's training targets equal MMAction2 1.2.0's ``BMN.generate_labels`` (fixture from
its own code) and a hand-worked case."""

from pathlib import Path

import pytest
import torch

from actionkit.models.bmn_targets import bmn_targets

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "bmn_targets.pt"


def test_bmn_targets_equal_mmaction2():
    for case in torch.load(FIXTURE, weights_only=True)["cases"]:
        iou, start, end = bmn_targets(case["segments"], case["temporal_dim"])
        torch.testing.assert_close(iou, case["iou"], rtol=0, atol=0)
        torch.testing.assert_close(start, case["start"], rtol=0, atol=0)
        torch.testing.assert_close(end, case["end"], rtol=0, atol=0)
        assert iou.max() > 0.5 and start.max() > 0.5  # not a degenerate case


def test_bmn_targets_by_hand():
    # T = 4; ground truth [0.25, 0.75]: the proposal starting at 1/4 lasting 2/4 is it
    iou, start, end = bmn_targets([torch.tensor([[0.25, 0.75]])], 4)
    assert iou[0, 1, 1] == 1.0  # row: duration (d + 1) / 4, column: start s / 4
    assert iou[0, 0, 1] == pytest.approx(0.5)  # [0.25, 0.5] inside [0.25, 0.75]
    # start anchor 1 is [0.125, 0.625]; the start region [0.25 -+ 0.375] covers
    # [0.125, 0.625] entirely -> 1
    assert start[0, 1] == 1.0 and end[0, 0] == 0.0
    with pytest.raises(ValueError, match="at least one ground-truth segment"):
        bmn_targets([torch.zeros(0, 2)], 4)
