"""Metrics against MMAction2 1.2.0 (fixtures from dev/mmaction_fixtures.py) and
hand-worked cases; losses against their definitions."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from actionkit import losses, metrics

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "metrics.pt"


@pytest.mark.parametrize("case", range(3))
def test_metrics_equal_mmaction2(case):
    c = torch.load(FIXTURE, weights_only=True)["cases"][case]
    scores, labels, multi = c["scores"].numpy(), c["labels"].numpy(), c["multi"].numpy()
    assert metrics.top_k_accuracy(scores, labels, (1, 3, 5)) == pytest.approx(c["top_k"], abs=1e-12)
    assert metrics.mean_class_accuracy(scores, labels) == pytest.approx(c["mean_class"], abs=1e-12)
    assert metrics.mean_average_precision(scores, multi) == pytest.approx(c["map"], abs=1e-12)
    assert metrics.mmit_mean_average_precision(scores, multi) == pytest.approx(
        c["mmit_map"], abs=1e-12
    )


def test_hand_worked_accuracy():
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = torch.tensor([1, 1, 0])
    # Predictions 1, 0, 1: one of three right; both right within the top 2.
    assert metrics.top_k_accuracy(scores, labels, (1, 2)) == pytest.approx([1 / 3, 1.0])
    # Class 0: its one sample is wrong (0); class 1: one of two right (0.5).
    assert metrics.mean_class_accuracy(scores, labels) == pytest.approx(0.25)
    # Class 2 is only ever predicted: it counts with accuracy 0 (MMAction2's definition).
    scores3 = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert metrics.mean_class_accuracy(scores3, torch.tensor([1, 1])) == pytest.approx(0.25)


def test_hand_worked_average_precision():
    # One class, scores 0.9 (pos), 0.8 (neg), 0.3 (pos): precision 1 at recall 1/2, 2/3 at 1.
    scores = torch.tensor([[0.9], [0.8], [0.3]])
    truth = torch.tensor([[1], [0], [1]])
    assert metrics.mean_average_precision(scores, truth) == pytest.approx(0.5 + (2 / 3) * 0.5)
    # Per sample (mmit): sample 0 ranks its positive first (AP 1), sample 1 second (AP 1/2).
    s = torch.tensor([[0.9, 0.1], [0.9, 0.1]])
    t = torch.tensor([[1, 0], [0, 1]])
    assert metrics.mmit_mean_average_precision(s, t) == pytest.approx(0.75)


def test_cross_entropy_hard_soft_smoothing_weights():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, dtype=torch.float64, generator=gen)
    labels = torch.tensor([0, 1, 2, 3, 1, 0])
    torch.testing.assert_close(
        losses.cross_entropy(logits, labels), F.cross_entropy(logits, labels)
    )
    one_hot = F.one_hot(labels, 4).double()
    torch.testing.assert_close(
        losses.cross_entropy(logits, one_hot), F.cross_entropy(logits, labels)
    )
    eps = 0.1
    smooth = losses.cross_entropy(logits, labels, label_smoothing=eps)
    expected = -((one_hot * (1 - eps) + eps / 4) * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(smooth, expected)
    torch.testing.assert_close(smooth, F.cross_entropy(logits, labels, label_smoothing=eps))
    w = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(
        losses.cross_entropy(logits, labels, class_weight=w),
        F.cross_entropy(logits, labels, weight=w),
    )
    # Soft targets with weights: normalised by sum(w * target), which for one-hot targets
    # is torch's weighted mean.
    torch.testing.assert_close(
        losses.cross_entropy(logits, one_hot, class_weight=w),
        F.cross_entropy(logits, labels, weight=w),
    )
    with pytest.raises(ValueError, match="soft targets must match"):
        losses.cross_entropy(logits, one_hot[:, :3])


def test_bce_with_logits():
    logits = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    target = torch.tensor([[1, 0]])
    # -log(sigmoid(0)) = log 2; -log(1 - sigmoid(2)) = log(1 + e^2); mean of the two.
    expected = (torch.log(torch.tensor(2.0)) + torch.log1p(torch.exp(torch.tensor(2.0)))) / 2
    torch.testing.assert_close(losses.bce_with_logits(logits, target), expected.double())
