"""Localization metrics against MMAction2 1.2.0's own numbers (fixture
tests/fixtures/mmaction/localization_metrics.pt, written by dev/mmaction_fixtures.py in
the side venv) and hand-worked cases."""

from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.metrics import localization as L

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "localization_metrics.pt"


@pytest.fixture(scope="module")
def cases():
    return torch.load(FIXTURE, weights_only=True)


def test_ar_at_an_equals_mmaction2(cases):
    gt = {v: np.array([[s, e] for s, e, _ in items]) for v, items in cases["gt"].items()}
    proposals = {v: p.numpy() for v, p in cases["proposals"].items()}
    assert len(proposals["video007"]) == 0  # a video without proposals
    total = sum(len(p) for p in proposals.values())
    for case in cases["ar"]:
        recall, average, per_video, auc = L.average_recall_at_avg_proposals(
            gt, proposals, total, case["max_avg_proposals"]
        )
        np.testing.assert_array_equal(recall, case["recall"].numpy())
        np.testing.assert_array_equal(average, case["average_recall"].numpy())
        np.testing.assert_allclose(per_video, case["proposals_per_video"].numpy(), rtol=1e-15)
        assert auc == pytest.approx(case["auc"], rel=1e-12)
        assert 0.05 < average[-1] < 1  # the fixture is not a degenerate case
    scores = L.ar_at_an(gt, proposals)
    first = cases["ar"][0]
    assert scores["AR@100"] == pytest.approx(float(first["recall"][:, 99].mean()), rel=1e-12)
    assert scores["auc"] == pytest.approx(first["auc"], rel=1e-12)


def test_detection_map_equals_mmaction2(cases):
    result = L.detection_map(cases["gt"], cases["detections"])
    expected = cases["map"]
    assert result["classes"] == expected["classes"]
    np.testing.assert_allclose(result["ap"], expected["ap"].numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result["mAP"], expected["mAP"].numpy(), rtol=1e-12)
    assert result["average_mAP"] == pytest.approx(expected["average_mAP"], rel=1e-12)
    assert 0.01 < result["average_mAP"] < 1


def test_hand_worked_cases():
    # tIoU: [0, 10] vs [5, 15] -> 5 / 15
    iou = L.temporal_iou(np.array([[0.0, 10.0]]), np.array([[5.0, 15.0], [20.0, 30.0]]))
    np.testing.assert_allclose(iou[:, 0], [1 / 3, 0.0], rtol=1e-7)
    # one instance, two detections: the first (higher score) matches at tIoU 0.5 only
    gt = [("a", 0.0, 10.0)]
    preds = [("a", 5.0, 15.0, 0.5), ("a", 0.0, 9.0, 0.9)]  # tIoU 1/3 and 0.9
    ap = L.average_precision_detection(gt, preds, [0.5, 0.95])
    np.testing.assert_allclose(ap, [1.0, 0.0])
    # a second detection of a matched instance is a false positive
    preds = [("a", 0.0, 10.0, 0.9), ("a", 0.0, 10.0, 0.8), ("b", 0.0, 1.0, 0.7)]
    np.testing.assert_allclose(L.average_precision_detection(gt, preds, [0.5]), [1.0])
    with pytest.raises(ValueError, match="label 'z' is not in the ground truth"):
        L.detection_map({"a": [(0, 1, "x")]}, {"a": [(0, 1, "z", 0.5)]})
