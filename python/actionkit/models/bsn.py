"""BSN (Lin et al., "BSN: Boundary Sensitive Network for Temporal Action Proposal
Generation", ECCV 2018) in its three stages, with MMAction2 1.2.0's module and parameter
names, so its TEM and PEM checkpoints load:

- **TEM** (``bsn_tem``): three 1D convolutions giving per position the actionness,
  start and end probabilities ``[N, 3, T]``; trained with the binary logistic regression
  loss on :func:`tem_targets` (MMAction2's ``TEM.generate_labels``).
- **PGM**: :func:`candidate_proposals` pairs every start with every later end among the
  boundary candidates (a peak of the start (end) scores or above ``peak_threshold`` times
  their maximum, the first and last positions always) and scores a pair by the product of
  its boundary scores; :func:`bsp_features` samples the actionness curve around and
  inside each proposal into its 32-value boundary-sensitive feature. MMAction2 loops over
  proposals in Python inside worker processes (``bsn_utils``); here both are a few tensor
  operations per video, equal to its outputs on fixtures.
- **PEM** (``bsn_pem``): a two-layer MLP scoring a proposal's feature; its loss is the
  smooth L1 distance to the proposal's best tIoU, over the proposals above
  ``pem_high_temporal_iou_threshold`` plus random draws of the middle and low bands at
  ``pem_u_ratio_m`` / ``pem_u_ratio_l`` times as many.

MMAction2's PEM loss averages the smooth L1 loss over *all* proposals before weighting
(``F.smooth_l1_loss`` reduces to a scalar, so ``sum(loss * w) / sum(w)`` is that mean):
its sampling has no effect. Ours weights each proposal as the paper and the original code
intend; ``legacy_loss=True`` gives MMAction2's value.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses.localization import binary_logistic_regression_loss
from .bmn_targets import as_segments
from .proposals import post_process
from .registry import register_model


def _anchor_iop(a0: Tensor, a1: Tensor, b0: Tensor, b1: Tensor, length: Tensor) -> Tensor:
    """``[A, K]``: the overlap of anchor ``a`` with box ``k`` over the anchor's length."""
    inter = (torch.minimum(a1[:, None], b1[None]) - torch.maximum(a0[:, None], b0[None])).clamp(0)
    return inter / length[:, None]


def tem_targets(gt_segments, temporal_dim: int, boundary_ratio: float = 0.1):
    """``(action, start, end)`` float32 ``[B, T]`` for ``B`` samples of ``[K, 2]``
    normalised segments, as MMAction2's ``TEM.generate_labels``: for anchor ``t`` (the
    window ``[t / T, (t + 1) / T]``) the largest fraction of it covered by a ground-truth
    segment, by a start region, by an end region (regions ``max(1 / T, boundary_ratio *
    length)`` wide around each boundary). Computed in the segments' precision."""
    gap = 1.0 / temporal_dim
    steps = torch.arange(temporal_dim, dtype=torch.float64)
    amin, amax = gap * steps, gap * (steps + 1)
    outs = ([], [], [])
    for segments in gt_segments:
        seg = as_segments(segments)
        a0, a1 = amin.to(seg.dtype), amax.to(seg.dtype)
        length = (amax - amin).to(seg.dtype)
        t0, t1 = seg[:, 0], seg[:, 1]
        pad = torch.clamp(boundary_ratio * (t1 - t0), min=1.0 / temporal_dim)
        boxes = ((t0, t1), (t0 - pad / 2, t0 + pad / 2), (t1 - pad / 2, t1 + pad / 2))
        for out, (b0, b1) in zip(outs, boxes, strict=True):
            out.append(_anchor_iop(a0, a1, b0, b1, length).amax(1).float())
    return tuple(torch.stack(o) for o in outs)


class TEM(nn.Module):
    """MMAction2's ``TEM``: ``forward(features [N, C, T]) -> [N, 3, T]`` (actionness,
    start, end), ``loss(batch)`` on ``gt_action`` / ``gt_start`` / ``gt_end``."""

    task = "localization_tem"

    def __init__(
        self,
        temporal_dim: int = 100,
        boundary_ratio: float = 0.1,
        tem_feat_dim: int = 400,
        tem_hidden_dim: int = 512,
        tem_match_threshold: float = 0.5,
        loss_weight: float = 2.0,
        output_dim: int = 3,
        conv1_ratio: float = 1.0,
        conv2_ratio: float = 1.0,
        conv3_ratio: float = 0.01,
    ):
        super().__init__()
        self.temporal_dim, self.boundary_ratio = temporal_dim, boundary_ratio
        self.feat_dim, self.match_threshold = tem_feat_dim, tem_match_threshold
        self.loss_weight = loss_weight
        self.ratios = (conv1_ratio, conv2_ratio, conv3_ratio)
        self.conv1 = nn.Conv1d(tem_feat_dim, tem_hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv1d(tem_hidden_dim, tem_hidden_dim, 3, padding=1)
        self.conv3 = nn.Conv1d(tem_hidden_dim, output_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != self.feat_dim:
            raise ValueError(f"TEM takes features [N, {self.feat_dim}, T], got {tuple(x.shape)}")
        r1, r2, r3 = self.ratios
        x = F.relu(r1 * self.conv1(x))
        x = F.relu(r2 * self.conv2(x))
        return torch.sigmoid(r3 * self.conv3(x))

    @torch.no_grad()
    def proposals(self, out: Tensor, peak_threshold: float = 0.5, top_k: int = 100):
        """From TEM outputs ``[N, 3, T]``, PGM's candidates of each video scored by TEM
        alone (``start * end``), the best ``top_k`` as ``[K, 3]`` (start, end, score):
        what the TEM stage is evaluated by (BSN's proposals before PEM re-scores them)."""
        out = out.float().cpu()
        return [candidate_proposals(o[1], o[2], peak_threshold)[:top_k, [0, 1, 4]] for o in out]

    def predict_proposals(self, batch: dict) -> list[Tensor]:
        return self.proposals(self(batch["inputs"]))

    def loss(self, batch: dict) -> dict[str, Tensor]:
        out = self(batch["inputs"]).float()
        t = self.match_threshold
        return {
            "loss_action": self.loss_weight
            * binary_logistic_regression_loss(out[:, 0], batch["gt_action"], t),
            "loss_start": binary_logistic_regression_loss(out[:, 1], batch["gt_start"], t),
            "loss_end": binary_logistic_regression_loss(out[:, 2], batch["gt_end"], t),
        }


class PEM(nn.Module):
    """MMAction2's ``PEM``: ``forward(bsp_features [..., 32]) -> [..., 1]`` confidence."""

    task = "localization_pem"

    def __init__(
        self,
        pem_feat_dim: int = 32,
        pem_hidden_dim: int = 256,
        pem_u_ratio_m: float = 1.0,
        pem_u_ratio_l: float = 2.0,
        pem_high_temporal_iou_threshold: float = 0.6,
        pem_low_temporal_iou_threshold: float = 0.2,
        soft_nms_alpha: float = 0.75,
        soft_nms_low_threshold: float = 0.65,
        soft_nms_high_threshold: float = 0.9,
        post_process_top_k: int = 100,
        feature_extraction_interval: int = 16,
        fc1_ratio: float = 0.1,
        fc2_ratio: float = 0.1,
        output_dim: int = 1,
        legacy_loss: bool = False,
    ):
        super().__init__()
        self.feat_dim = pem_feat_dim
        self.u_ratio_m, self.u_ratio_l = pem_u_ratio_m, pem_u_ratio_l
        self.high, self.low = pem_high_temporal_iou_threshold, pem_low_temporal_iou_threshold
        self.soft_nms_alpha = soft_nms_alpha
        self.soft_nms_low_threshold = soft_nms_low_threshold
        self.soft_nms_high_threshold = soft_nms_high_threshold
        self.post_process_top_k = post_process_top_k
        self.feature_extraction_interval = feature_extraction_interval
        self.fc1_ratio, self.fc2_ratio = fc1_ratio, fc2_ratio
        self.legacy_loss = legacy_loss
        self.fc1 = nn.Linear(pem_feat_dim, pem_hidden_dim)
        self.fc2 = nn.Linear(pem_hidden_dim, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.feat_dim:
            raise ValueError(f"PEM takes features [..., {self.feat_dim}], got {tuple(x.shape)}")
        x = F.relu(self.fc1_ratio * self.fc1(x))
        return torch.sigmoid(self.fc2_ratio * self.fc2(x))

    @torch.no_grad()
    def predict_proposals(self, batch: dict) -> list[Tensor]:
        """Per video ``[K, 3]`` (start, end, score): each PGM proposal scored ``confidence
        * start score * end score``, then soft-NMS (MMAction2's ``PEM.predict``)."""
        conf = self(batch["bsp_features"]).squeeze(-1).double().cpu()
        props, valid = batch["proposals"].double().cpu(), batch["valid"].cpu()
        results = []
        for n in range(len(conf)):
            p, c = props[n][valid[n]], conf[n][valid[n]]
            results.append(
                post_process(
                    p[:, :2],
                    c * p[:, 2] * p[:, 3],
                    self.soft_nms_alpha,
                    self.soft_nms_low_threshold,
                    self.soft_nms_high_threshold,
                    self.post_process_top_k,
                )
            )
        return results

    def loss(self, batch: dict) -> dict[str, Tensor]:
        """Smooth L1 of the confidence against ``batch["reference_iou"]`` over the high
        band and draws of the others (two ``torch.rand`` draws, middle then low, as
        MMAction2 makes them); ``batch["valid"]``, when given, masks padding."""
        pred = self(batch["bsp_features"]).reshape(-1).float()
        ref = batch["reference_iou"].reshape(-1).to(pred)
        valid = batch.get("valid")
        valid = torch.ones_like(ref) if valid is None else valid.reshape(-1).to(pred)
        high = (ref > self.high).to(pred) * valid
        middle = ((ref <= self.high) & (ref > self.low)).to(pred) * valid
        low = (ref <= self.low).to(pred) * valid
        num_h = high.sum()
        weights = high
        for band, ratio in ((middle, self.u_ratio_m), (low, self.u_ratio_l)):
            r = torch.clamp(ratio * num_h / band.sum(), max=1.0)
            weights = weights + (torch.rand(len(ref), device=ref.device) * band > 1.0 - r).to(pred)
        if self.legacy_loss:  # MMAction2: the mean over all proposals (see the module doc)
            per = F.smooth_l1_loss(pred, ref, reduction="none")
            return {"loss_iou": (per * valid).sum() / valid.sum().clamp(min=1)}
        per = F.smooth_l1_loss(pred, ref, reduction="none")
        total = weights.sum()
        return {"loss_iou": (per * weights).sum() / total.clamp(min=1)}


def _candidates(scores: Tensor, threshold: float) -> Tensor:
    """Boundary candidates: inner strict local peaks or scores above ``threshold`` times
    the maximum, plus the first and the last position."""
    inner = scores[1:-1]
    chosen = torch.ones(len(scores), dtype=torch.bool)
    chosen[1:-1] = ((inner > scores[2:]) & (inner > scores[:-2])) | (
        inner > threshold * scores.max()
    )
    return chosen


def candidate_proposals(
    start: Tensor, end: Tensor, peak_threshold: float = 0.5, gt_segments=None
) -> Tensor:
    """PGM's proposals for one video from TEM's start and end scores ``[T]``: every pair
    of a start candidate before an end candidate (positions at the anchors' centres
    ``(t + 0.5) / T``), scored ``start * end``, best first (ties in MMAction2's generation
    order: by end, then start). ``[K, 5]`` float64 ``(tmin, tmax, tmin_score, tmax_score,
    score)``, or ``[K, 7]`` with ``gt_segments`` (``[G, 2]`` normalised, not clipped): the
    best tIoU and the best overlap over the proposal's length (MMAction2's ``match_iou``,
    ``match_ioa``)."""
    start, end = torch.as_tensor(start).cpu(), torch.as_tensor(end).cpu()
    t = len(start)
    gap = 1.0 / t
    centres = gap / 2 + gap * torch.arange(t, dtype=torch.float64)
    s_idx = _candidates(start, peak_threshold).nonzero()[:, 0]
    e_idx = _candidates(end, peak_threshold).nonzero()[:, 0]
    ee, ss = torch.meshgrid(e_idx, s_idx, indexing="ij")  # end-major, as MMAction2's loops
    keep = centres[ss] < centres[ee]
    ss, ee = ss[keep], ee[keep]
    tmin_score, tmax_score = start[ss].double(), end[ee].double()
    props = torch.stack(
        [centres[ss], centres[ee], tmin_score, tmax_score, tmin_score * tmax_score], 1
    )
    props = props[torch.sort(props[:, 4], descending=True, stable=True).indices]
    if gt_segments is None:
        return props
    gt = torch.as_tensor(gt_segments, dtype=torch.float64).reshape(-1, 2)
    p0, p1 = props[:, :1], props[:, 1:2]
    inter = (torch.minimum(p1, gt[None, :, 1]) - torch.maximum(p0, gt[None, :, 0])).clamp(min=0)
    length = p1 - p0
    union = length - inter + gt[None, :, 1] - gt[None, :, 0]
    iou = (inter / union).amax(1)
    ioa = (inter / length).amax(1)
    return torch.cat([props, iou[:, None], ioa[:, None]], 1)


def bsp_features(
    action: Tensor,
    proposals: Tensor,
    boundary_ratio: float = 0.2,
    num_sample_start: int = 8,
    num_sample_end: int = 8,
    num_sample_action: int = 16,
    num_sample_interp: int = 3,
) -> Tensor:
    """Boundary-sensitive proposal features ``[K, action + start + end]`` (float64) of
    ``proposals [K, 2+]`` (tmin, tmax, normalised) from one video's actionness ``[T]``,
    as MMAction2's ``generate_bsp_feature``: the actionness curve (anchor centres, zero
    padded by ``T / 4 + 10`` anchors on both sides) is linearly interpolated at
    ``n * interp + 1`` points spanning each region (the proposal's start region
    ``tmin -/+ boundary_ratio * length``, its end region, the proposal itself), and each
    of the ``n`` values is the mean of ``interp + 1`` neighbouring points."""
    action = torch.as_tensor(action).cpu().double()
    props = torch.as_tensor(proposals).cpu()
    t = len(action)
    extend = int(t / 4 + 10)
    # the time points as MMAction2 builds them: its gap is a float32 (tmax - tmin of a row
    # of its TEM results CSV), the padding after the last anchor counts from its end, 1
    gap = float(np.float32(1.0) / np.float32(t))
    i = torch.arange(extend, dtype=torch.float64)
    xp = torch.cat(
        [
            -gap / 2 - (extend - 1 - i) * gap,
            gap / 2 + torch.arange(t, dtype=torch.float64) * gap,
            gap / 2 + 1.0 + i * gap,
        ]
    )
    fp = torch.cat([action.new_zeros(extend), action, action.new_zeros(extend)])
    tlen = (props[:, 1] - props[:, 0]).double()  # in the proposals' precision, as MMAction2
    tmin, tmax = props[:, 0].double(), props[:, 1].double()
    start = (tmin - tlen * boundary_ratio, tmin + tlen * boundary_ratio)
    end = (tmax - tlen * boundary_ratio, tmax + tlen * boundary_ratio)
    regions = [
        (tmin, tlen, num_sample_action),
        (start[0], start[1] - start[0], num_sample_start),
        (end[0], end[1] - end[0], num_sample_end),
    ]
    parts = []
    for lo, width, n in regions:
        step = width / (n - 1)
        i = torch.arange(n * num_sample_interp + 1, dtype=torch.float64)
        x = lo[:, None] - step[:, None] / 2 + (step / num_sample_interp)[:, None] * i[None]
        y = _interp(x, xp, fp)
        # value k: the mean of points k * interp .. (k + 1) * interp (interp + 1 of them)
        windows = y.unfold(1, num_sample_interp + 1, num_sample_interp)
        parts.append(windows.mean(2))
    return torch.cat(parts, 1)


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """``np.interp(x, xp, fp)`` for increasing ``xp``: linear inside, the end values
    outside."""
    j = torch.searchsorted(xp, x, right=True).clamp(1, len(xp) - 1) - 1
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    y = slope * (x - xp[j]) + fp[j]
    y = torch.where(x <= xp[0], fp[0], y)
    return torch.where(x >= xp[-1], fp[-1], y)


def generate_proposals(
    tem_result,
    gt_segments=None,
    peak_threshold: float = 0.5,
    top_k: int = 1000,
    **bsp_args,
) -> tuple[np.ndarray, np.ndarray]:
    """The PGM stage for one video: from its TEM output ``[T, 3]`` (actionness, start,
    end) the ``top_k`` best :func:`candidate_proposals` ``[K, 7]`` (float64; tIoU and
    overlap columns 0 without ``gt_segments``) and their :func:`bsp_features` ``[K, 32]``
    (float32)."""
    tem = torch.as_tensor(np.asarray(tem_result, dtype=np.float32))
    if tem.dim() != 2 or tem.shape[1] < 3:
        raise ValueError(f"a TEM result is [T, 3] (action, start, end), got {tuple(tem.shape)}")
    gt = None if gt_segments is None or len(gt_segments) == 0 else gt_segments
    props = candidate_proposals(tem[:, 1], tem[:, 2], peak_threshold, gt)[:top_k]
    if gt is None:
        props = torch.cat([props, props.new_zeros(len(props), 2)], 1)
    feats = bsp_features(tem[:, 0], props[:, :2], **bsp_args)
    return props.numpy(), feats.float().numpy()


@register_model
def bsn_tem(num_classes: int | None = None, **kwargs) -> TEM:
    """BSN's temporal evaluation module, ActivityNet 400x100 (MMAction2's
    ``bsn_tem_1xb16-400x100-20e``; ``tem_feat_dim=2048`` for SlowOnly-K700 features).
    Takes no classes."""
    return TEM(**kwargs)


@register_model
def bsn_pem(num_classes: int | None = None, **kwargs) -> PEM:
    """BSN's proposal evaluation module (MMAction2's ``bsn_pem``). Takes no classes."""
    return PEM(**kwargs)


bsn_tem.task = TEM.task
bsn_pem.task = PEM.task
