"""BMN's loss (Lin et al., ICCV 2019) with MMAction2 1.2.0's ``BMNLoss`` semantics:

``loss = tem + 10 * pem_reg + pem_cls`` where

- ``tem``: the binary logistic regression loss of the start and of the end scores
  (targets above 0.5 are positives; positives weighted ``ratio / 2``, negatives
  ``ratio / (2 (ratio - 1))``, ``ratio = entries / positives`` clipped to [1.05, 21]);
- ``pem_reg``: half the mean squared error of the IoU (regression) map over the cells
  with IoU > 0.7, plus a random draw of the 0.3-0.7 cells and of the (0, 0.3] cells in
  the valid region, each kept with probability ``#high / #cells of its band``
  (two ``torch.rand_like`` draws, in that order: seed the global generator to reproduce
  MMAction2's numbers);
- ``pem_cls``: the weighted binary log loss of the classification map, positives IoU >
  0.9 against the valid negatives.

Two corners of MMAction2's arithmetic, kept for equal numbers: the band draw compares
``rand * in_band > 1 - ratio``, so when a band holds fewer cells than the high band
(``ratio > 1``, or an empty band: ``ratio = inf``) *every* cell of the map, masked
ones included, is drawn; and the IoU map is multiplied by the valid mask before the
bands are formed. Where MMAction2 divides
by zero (no cell is weighted: no ground truth reaches IoU 0.7) the regression term is
0 here instead of NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _balanced_log_loss(
    score: Tensor, positive: Tensor, negative: Tensor, ratio: Tensor, eps: float
) -> Tensor:
    """Per element ``ratio / 2 * log(score)`` on positives plus ``ratio / (2 (ratio - 1))
    * log(1 - score)`` on negatives: BSN/BMN's class balance (``ratio`` = entries /
    positives, clipped), kept on the device (no host sync)."""
    coef_0 = 0.5 * ratio / (ratio - 1)
    coef_1 = 0.5 * ratio
    return coef_1 * positive * torch.log(score + eps) + coef_0 * negative * torch.log(
        1.0 - score + eps
    )


def binary_logistic_regression_loss(
    score: Tensor,
    label: Tensor,
    threshold: float = 0.5,
    ratio_range: tuple[float, float] = (1.05, 21.0),
    eps: float = 1e-5,
) -> Tensor:
    """BSN/BMN's class-balanced binary log loss of probabilities ``score`` against soft
    ``label`` (positives: ``label > threshold``), over all elements."""
    label = label.reshape(-1).to(score.device)
    score = score.reshape(-1)
    positive = (label > threshold).to(score.dtype)
    ratio = (label.numel() / positive.sum().clamp(min=1)).clamp(*ratio_range)
    return -_balanced_log_loss(score, positive, 1.0 - positive, ratio, eps).mean()


def _band_draw(in_band: Tensor, ratio: Tensor) -> Tensor:
    """MMAction2's sub-sampling: ``rand * in_band > 1 - ratio`` (see the module doc)."""
    return (in_band * torch.rand_like(in_band) > 1.0 - ratio).to(in_band.dtype)


def pem_reg_loss(
    pred: Tensor, gt_iou: Tensor, mask: Tensor, high: float = 0.7, low: float = 0.3
) -> Tensor:
    """The regression term on ``[N, D, T]`` maps (``gt_iou`` already masked)."""
    h = (gt_iou > high).to(pred.dtype)
    m = ((gt_iou <= high) & (gt_iou > low)).to(pred.dtype)
    lo = ((gt_iou <= low) & (gt_iou > 0.0)).to(pred.dtype) * mask
    num_h = h.sum()
    weights = h + _band_draw(m, num_h / m.sum()) + _band_draw(lo, num_h / lo.sum())
    total = weights.sum()
    squared = (pred * weights - gt_iou * weights).square().sum()
    return torch.where(total > 0, 0.5 * squared / total.clamp(min=1), squared * 0)


def pem_cls_loss(
    pred: Tensor,
    gt_iou: Tensor,
    mask: Tensor,
    threshold: float = 0.9,
    ratio_range: tuple[float, float] = (1.05, 21.0),
    eps: float = 1e-5,
) -> Tensor:
    """The classification term: positives IoU > ``threshold``, negatives the other
    valid cells, balanced as the binary logistic regression loss."""
    positive = (gt_iou > threshold).to(pred.dtype)
    negative = (gt_iou <= threshold).to(pred.dtype) * mask
    num_positive = positive.sum().clamp(min=1)
    entries = num_positive + negative.sum()
    ratio = (entries / num_positive).clamp(ratio_range[0], ratio_range[1])
    return -_balanced_log_loss(pred, positive, negative, ratio, eps).sum() / entries


class BMNLoss(nn.Module):
    """``forward(confidence [N, 2, D, T], start, end, gt_iou, gt_start, gt_end, bm_mask)``
    returns ``{"loss_tem", "loss_pem_reg", "loss_pem_cls"}`` already weighted (their sum
    is MMAction2's ``loss``; the Trainer adds them up)."""

    def __init__(self, weight_tem: float = 1.0, weight_pem_reg: float = 10.0, weight_pem_cls=1.0):
        super().__init__()
        self.weight_tem, self.weight_pem_reg = weight_tem, weight_pem_reg
        self.weight_pem_cls = weight_pem_cls

    def forward(
        self,
        confidence: Tensor,
        start: Tensor,
        end: Tensor,
        gt_iou: Tensor,
        gt_start: Tensor,
        gt_end: Tensor,
        bm_mask: Tensor,
    ) -> dict[str, Tensor]:
        confidence, start, end = confidence.float(), start.float(), end.float()
        gt_iou = gt_iou * bm_mask
        reg = pem_reg_loss(confidence[:, 0].contiguous(), gt_iou, bm_mask)
        cls = pem_cls_loss(confidence[:, 1].contiguous(), gt_iou, bm_mask)
        tem = binary_logistic_regression_loss(start, gt_start) + binary_logistic_regression_loss(
            end, gt_end
        )
        return {
            "loss_tem": self.weight_tem * tem,
            "loss_pem_reg": self.weight_pem_reg * reg,
            "loss_pem_cls": self.weight_pem_cls * cls,
        }
