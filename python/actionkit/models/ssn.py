"""SSN (Zhao et al., "Temporal Action Detection with Structured Segment Networks",
ICCV 2017) with MMAction2 0.24's module and parameter names (``backbone.*``,
``cls_head.activity_fc``, ``cls_head.completeness_fc``, ``cls_head.regressor_fc``), so
its checkpoints load. MMAction2 1.x dropped SSN; 0.24.1 is the reference.

A proposal is seen through 9 snippets: 2 in its *starting* stage (the half proposal
length before it), 5 in its *course* (the proposal) and 2 in its *ending* stage (the half
length after it); :mod:`actionkit.data.ssn` samples them. The **structured temporal
pyramid pooling** (STPP) averages each stage's snippet features over its pyramid parts
(``stpp_stage=(1, 1, 1)``: one part per stage; ``(1, (1, 2), 1)``: the course also as
two halves), divides by the stage's part count, and scales the starting and ending
parts by how much of their span lies inside the video (the proposal's scale factors).
Three classifiers read the pooled features:

- the **activity** classifier (``K + 1`` classes, 0 = background) reads the course's
  mean feature;
- the **completeness** classifier (``K`` scores, one per class) and the **location
  regressor** (``K x 2``: centre shift / proposal length, log length ratio, normalised
  by the training set's mean and std) read the concatenated STPP parts.

At test time the classifiers run once per sampled frame (every ``test_interval`` frames
of the whole video) with the part weights split apart, and each proposal pools those
per-frame scores over its stages' frame ticks (MMAction2's ``STPPTest`` and
``prepare_test_fc``): a video's frames go through the backbone once, whatever the
number of proposals. The pooling here is by prefix sums, one vectorised pass for all
proposals.

Two corners of MMAction2's arithmetic are kept for equal numbers: at test time a part's
scores are not divided by its stage's part count (training divides; the two agree for
the default one part per stage), and a stage or part whose tick span is empty adds
nothing.

The loss (:func:`ssn_loss`): cross-entropy of the activity scores over positive and
background proposals; the completeness hinge loss over positives (target +1) and
incomplete proposals (target -1, online hard example mining: per video only the
``positive / incomplete`` hardest kept), summed and divided by the count kept; the
class-wise smooth-L1 regression of the positives (times 2, as MMAction2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbones.resnet import ResNet
from .registry import register_model

PROPOSAL_POSITIVE, PROPOSAL_INCOMPLETE, PROPOSAL_BACKGROUND = 0, 1, 2


def stage_parts(stage) -> tuple[int, ...]:
    """One stage of ``stpp_stage`` as its pyramid levels: ``1`` -> ``(1,)``, ``(1, 2)``
    stays."""
    if isinstance(stage, int) and not isinstance(stage, bool) and stage > 0:
        return (stage,)
    if isinstance(stage, Sequence) and stage and all(isinstance(p, int) and p > 0 for p in stage):
        return tuple(stage)
    raise ValueError(f"an STPP stage is a positive int or a tuple of them, got {stage!r}")


def _part_ticks(left: float, right: float, parts: int) -> list[int]:
    """Boundaries of ``parts`` equal parts of ``[left, right]``, truncated to ints
    (MMAction2's ``arange(left, right + 1e-5, (right - left) / parts).int()``)."""
    step = (right - left) / parts
    return [int(np.floor(left + i * step + 1e-9)) for i in range(parts + 1)]


class STPP(nn.Module):
    """Training-time pooling: ``x [N * S, C]`` (S = the three stages' snippet counts,
    ``num_segments_list``) and ``scale_factors [N, 2]`` -> ``(course [N, C], stpp [N,
    M * C])``, M = the total part count."""

    def __init__(self, stpp_stage=(1, 1, 1), num_segments_list=(2, 5, 2)):
        super().__init__()
        if len(stpp_stage) != 3 or len(num_segments_list) != 3:
            raise ValueError(
                "stpp_stage and num_segments_list need one entry per stage (starting, course, "
                f"ending), got {stpp_stage!r} and {num_segments_list!r}"
            )
        self.stpp_stage = tuple(stage_parts(s) for s in stpp_stage)
        self.num_segments_list = tuple(int(n) for n in num_segments_list)
        self.multiplier_list = tuple(sum(s) for s in self.stpp_stage)
        self.num_multipliers = sum(self.multiplier_list)
        self.parts = []  # (first snippet, last + 1, stage) per part, in feature order
        first = 0
        for stage, (levels, length) in enumerate(
            zip(self.stpp_stage, self.num_segments_list, strict=True)
        ):
            for parts in levels:
                ticks = _part_ticks(0.0, float(length), parts)
                self.parts += [
                    (first + a, first + b, stage)
                    for a, b in zip(ticks[:-1], ticks[1:], strict=True)
                ]
            first += length
        self.num_segments = first

    def forward(self, x: Tensor, scale_factors: Tensor) -> tuple[Tensor, Tensor]:
        x = x.reshape(-1, self.num_segments, x.shape[-1])
        scale = scale_factors.reshape(-1, 2).to(x.dtype)
        out = []
        for a, b, stage in self.parts:
            part = x[:, a:b].mean(1) / self.multiplier_list[stage]
            if stage != 1:
                part = part * scale[:, 0 if stage == 0 else 1, None]
            out.append(part)
        c0 = self.num_segments_list[0]
        course = x[:, c0 : c0 + self.num_segments_list[1]].mean(1)
        return course, torch.cat(out, 1)


def _stage_spans(ticks: np.ndarray, stpp_stage, num_ticks: int):
    """Per proposal and part: the frame span ``[l, r)`` pooled and the stage it belongs
    to (-1: nothing pooled), MMAction2's ``STPPTest._pyramids_pooling`` index rules."""
    parts_total = sum(sum(s) for s in stpp_stage)
    left = np.zeros((len(ticks), parts_total), dtype=np.int64)
    right = np.zeros_like(left)
    stage_of = np.full_like(left, -1)
    for i, t in enumerate(ticks.tolist()):
        offset = 0
        for stage, levels in enumerate(stpp_stage):
            lo, hi = t[stage], float(max(t[stage] + 1, t[stage + 1]))
            if hi <= 0 or lo >= num_ticks:
                offset += sum(levels)
                continue
            for parts in levels:
                edges = _part_ticks(float(lo), hi, parts)
                for a, b in zip(edges[:-1], edges[1:], strict=True):
                    if b - a >= 1:
                        left[i, offset], right[i, offset], stage_of[i, offset] = a, b, stage
                    offset += 1
    return left, right, stage_of


def _span_means(prefix: Tensor, left: Tensor, right: Tensor) -> Tensor:
    """Means of rows ``[l, r)`` from a prefix sum ``[T + 1, D]`` (``r`` clipped to T)."""
    right = right.clamp(max=prefix.shape[0] - 1)
    count = (right - left).clamp(min=1).to(prefix.dtype)
    return (prefix[right] - prefix[left]) / count[..., None]


def stpp_test_pool(
    scores: Tensor, ticks, scale_factors, stpp_stage, num_classes: int, regression: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Test-time pooling of per-frame scores ``[T, (K + 1) + M K (+ 2 M K)]`` (the split
    classifiers' outputs) over each proposal's frame ticks ``[P, 4]`` (the stage
    boundaries: augmented start, start, end, augmented end, in sampled frames) ->
    ``activity [P, K + 1]``, ``completeness [P, K]``, ``regression [P, 2K]`` or None."""
    num_ticks = scores.shape[0]
    ticks = np.asarray(ticks, dtype=np.int64).reshape(-1, 4)
    scale = torch.as_tensor(np.asarray(scale_factors, dtype=np.float32).reshape(-1, 2))
    scale = scale.to(scores.device, scores.dtype)
    dev = scores.device
    # prefix sums in float64: a long video's sums are large, their differences are not
    prefix = F.pad(scores.cumsum(0, dtype=torch.float64), (0, 0, 1, 0))
    k = num_classes
    m = sum(sum(s) for s in stpp_stage)
    t1 = torch.as_tensor(ticks[:, 1], device=dev)
    t2 = torch.maximum(t1 + 1, torch.as_tensor(ticks[:, 2], device=dev))
    activity = _span_means(prefix[:, : k + 1], t1, t2).to(scores.dtype)
    left, right, stage_of = (
        torch.as_tensor(a, device=dev) for a in _stage_spans(ticks, stpp_stage, num_ticks)
    )
    weight = torch.where(
        stage_of == 0, scale[:, :1], torch.where(stage_of == 2, scale[:, 1:], 1.0)
    ) * (stage_of >= 0)

    def pooled(first: int, length: int) -> Tensor:
        out = prefix.new_zeros(len(ticks), length)
        for part in range(m):
            cols = prefix[:, first + part * length : first + (part + 1) * length]
            out += _span_means(cols, left[:, part], right[:, part]) * weight[:, part, None]
        return out.to(scores.dtype)

    completeness = pooled(k + 1, k)
    reg = pooled(k + 1 + m * k, 2 * k) if regression else None
    return activity, completeness, reg


class SSNHead(nn.Module):
    """MMAction2's ``SSNHead``: ``activity_fc`` (C -> K + 1), ``completeness_fc`` (M C
    -> K) and ``regressor_fc`` (M C -> 2K), normal(0, ``init_std``) weights."""

    def __init__(
        self,
        num_classes: int = 20,
        in_channels: int = 1024,
        stpp_stage=(1, 1, 1),
        num_segments_list=(2, 5, 2),
        dropout_ratio: float = 0.0,
        use_regression: bool = True,
        init_std: float = 0.001,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.use_regression = use_regression
        self.consensus = STPP(stpp_stage, num_segments_list)
        m = self.consensus.num_multipliers
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.activity_fc = nn.Linear(in_channels, num_classes + 1)
        self.completeness_fc = nn.Linear(m * in_channels, num_classes)
        self.regressor_fc = nn.Linear(m * in_channels, 2 * num_classes) if use_regression else None
        for fc in (self.activity_fc, self.completeness_fc, self.regressor_fc):
            if fc is not None:
                nn.init.normal_(fc.weight, 0.0, init_std)
                nn.init.zeros_(fc.bias)

    def forward(self, x: Tensor, scale_factors: Tensor):
        """Training: snippet features ``[N * 9, C]`` -> ``activity [N, K + 1]``,
        ``completeness [N, K]``, ``bbox [N, K, 2]`` (None without regression)."""
        course, stpp = self.consensus(x, scale_factors)
        if self.dropout is not None:
            course, stpp = self.dropout(course), self.dropout(stpp)
        bbox = None
        if self.regressor_fc is not None:
            bbox = self.regressor_fc(stpp).view(-1, self.num_classes, 2)
        return self.activity_fc(course), self.completeness_fc(stpp), bbox

    def split_weights(self) -> tuple[Tensor, Tensor]:
        """The classifiers as one per-frame linear layer (MMAction2's ``test_fc``): rows
        ``[activity (K + 1); completeness per part (M K); regression per part (2 M K)]``,
        the part classifiers' biases divided by M."""
        m = self.consensus.num_multipliers
        c = self.activity_fc.in_features
        weights, biases = [self.activity_fc.weight], [self.activity_fc.bias]
        for fc in (self.completeness_fc, self.regressor_fc):
            if fc is None:
                continue
            out = fc.out_features
            weights.append(fc.weight.view(out, m, c).transpose(0, 1).reshape(m * out, c))
            biases.append(fc.bias.repeat(m) / m)
        return torch.cat(weights), torch.cat(biases)

    def frame_scores(self, x: Tensor) -> Tensor:
        """Per-frame scores ``[T, D]`` of frame features ``[T, C]`` (MMAction2's
        ``test_fc`` outputs)."""
        weight, bias = self.split_weights()
        return F.linear(x, weight, bias)


class SSN(nn.Module):
    """SSN: a 2D ``backbone`` (frames ``[N, 3, H, W]``; its map averaged over space) or
    none (snippet features ``[N, C]`` given: TAG-style precomputed features), dropout
    ``dropout_ratio`` on the features, :class:`SSNHead`. ``reg_norm_consts`` ``[[loc
    mean, size mean], [loc std, size std]]``: the regression targets' normalisation, set
    from the training set (:func:`actionkit.data.ssn.regression_constants`) and kept in
    the checkpoint (MMAction2 passes it with every test sample)."""

    task = "temporal_detection"

    def __init__(
        self,
        backbone: nn.Module | None,
        head: SSNHead,
        dropout_ratio: float = 0.8,
        comp_loss_weight: float = 0.1,
        reg_loss_weight: float = 0.1,
        ohem_ratio: float | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.cls_head = head
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.comp_loss_weight = comp_loss_weight
        self.reg_loss_weight = reg_loss_weight
        self.ohem_ratio = ohem_ratio
        self.register_buffer("reg_norm_consts", torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        self.register_buffer("reg_norm_fitted", torch.tensor(False))

    # MMAction2's checkpoints hold no constants (its dataset passes them at test time)
    checkpoint_optional = ("reg_norm_consts", "reg_norm_fitted")

    def set_regression_constants(self, consts) -> None:
        """Sets the regression targets' ``[[mean loc, mean size], [std loc, std size]]``."""
        self.reg_norm_consts.copy_(torch.as_tensor(np.asarray(consts), dtype=torch.float32))
        self.reg_norm_fitted.fill_(True)

    @property
    def num_classes(self) -> int:
        return self.cls_head.num_classes

    def features(self, x: Tensor) -> Tensor:
        """Per-snippet features ``[N, C]`` of frames ``[N, 3, H, W]`` (or of features
        ``[N, C]`` when there is no backbone)."""
        if self.backbone is not None:
            x = self.backbone(x)
            if x.dim() == 4:  # a 2D CNN's map: averaged over space
                x = x.mean((-2, -1))
        if self.dropout is not None:
            x = self.dropout(x)
        return x

    def forward(self, inputs: Tensor, scale_factors: Tensor):
        """Training outputs of ``inputs [B, P * 9, ...]`` (P proposals of 9 snippets):
        ``activity [B P, K + 1]``, ``completeness [B P, K]``, ``bbox [B P, K, 2]``."""
        x = self.features(inputs.flatten(0, 1))
        return self.cls_head(x, scale_factors)

    def loss(self, batch: dict) -> dict[str, Tensor]:
        activity, completeness, bbox = self(batch["inputs"], batch["proposal_scale_factor"])
        return ssn_loss(
            activity,
            completeness,
            bbox,
            batch["proposal_type"],
            batch["proposal_labels"],
            batch["reg_targets"],
            comp_loss_weight=self.comp_loss_weight,
            reg_loss_weight=self.reg_loss_weight,
            ohem_ratio=self.ohem_ratio,
        )

    @torch.no_grad()
    def frame_scores(self, frames: Tensor, batch_size: int = 16) -> Tensor:
        """Per-frame classifier scores ``[T, D]`` of a video's sampled frames ``[T, ...]``,
        ``batch_size`` frames through the backbone at a time."""
        chunks = [
            self.cls_head.frame_scores(self.features(frames[i : i + batch_size]))
            for i in range(0, frames.shape[0], batch_size)
        ]
        return torch.cat(chunks)

    @torch.no_grad()
    def predict(self, scores: Tensor, ticks, scale_factors) -> dict[str, np.ndarray]:
        """One video's proposals scored from its per-frame scores (:meth:`frame_scores`):
        ``activity [P, K + 1]``, ``completeness [P, K]``, ``bbox [P, K, 2]`` (centre and
        log-length offsets, de-normalised; zeros without regression)."""
        head = self.cls_head
        activity, completeness, reg = stpp_test_pool(
            scores,
            ticks,
            scale_factors,
            head.consensus.stpp_stage,
            head.num_classes,
            head.regressor_fc is not None,
        )
        if reg is None:
            bbox = torch.zeros(activity.shape[0], head.num_classes, 2)
        else:
            consts = self.reg_norm_consts.to(reg)
            bbox = reg.view(-1, head.num_classes, 2) * consts[1] + consts[0]
        return {
            "activity": activity.float().cpu().numpy(),
            "completeness": completeness.float().cpu().numpy(),
            "bbox": bbox.float().cpu().numpy(),
        }


def _hinge_ohem(pred: Tensor, labels: Tensor, sign: float, keep: int, group: int) -> Tensor:
    """Sum over groups of ``group`` proposals of the ``keep`` largest ``max(0, 1 - sign *
    pred[label - 1])`` (MMAction2's ``OHEMHingeLoss``)."""
    score = pred.gather(1, (labels - 1).clamp(min=0)[:, None])[:, 0]
    losses = F.relu(1.0 - sign * score).view(-1, group)
    if keep < group:
        losses = losses.topk(keep, dim=1).values
    return losses.sum()


def ssn_loss(
    activity: Tensor,
    completeness: Tensor,
    bbox: Tensor | None,
    proposal_type: Tensor,
    labels: Tensor,
    reg_targets: Tensor,
    comp_loss_weight: float = 0.1,
    reg_loss_weight: float = 0.1,
    ohem_ratio: float | None = None,
) -> dict[str, Tensor]:
    """MMAction2 0.24's ``SSNLoss``. Every video (row of ``proposal_type [B, P]``) holds
    its positives first, then its incompletes, then its backgrounds (the sampler's
    order); ``ohem_ratio`` defaults to positives / incompletes per video."""
    types = proposal_type.reshape(proposal_type.shape[0], -1)
    positives = int((types[0] == PROPOSAL_POSITIVE).sum())
    incompletes = int((types[0] == PROPOSAL_INCOMPLETE).sum())
    if positives == 0 or incompletes == 0:
        raise ValueError(
            "SSN's loss needs positive and incomplete proposals in every video, got "
            f"{positives} and {incompletes} (the sampler's num_per_video and ratios)"
        )
    ratio = positives / incompletes if ohem_ratio is None else ohem_ratio
    types, labels = types.reshape(-1), labels.reshape(-1)
    act = (types == PROPOSAL_POSITIVE) | (types == PROPOSAL_BACKGROUND)
    losses = {"loss_activity": F.cross_entropy(activity[act], labels[act])}
    comp = (types == PROPOSAL_POSITIVE) | (types == PROPOSAL_INCOMPLETE)
    pred = completeness[comp].view(-1, positives + incompletes, completeness.shape[1])
    lab = labels[comp].view(-1, positives + incompletes)
    kept_incomplete = int(incompletes * ratio)
    pos_loss = _hinge_ohem(
        pred[:, :positives].reshape(-1, pred.shape[2]),
        lab[:, :positives].reshape(-1),
        1.0,
        positives,
        positives,
    )
    inc_loss = _hinge_ohem(
        pred[:, positives:].reshape(-1, pred.shape[2]),
        lab[:, positives:].reshape(-1),
        -1.0,
        kept_incomplete,
        incompletes,
    )
    groups = pred.shape[0]
    count = groups * positives + int(groups * incompletes * ratio)
    losses["loss_completeness"] = (pos_loss + inc_loss) / float(count) * comp_loss_weight
    if bbox is not None:
        pos = types == PROPOSAL_POSITIVE
        cls = (labels[pos] - 1).clamp(min=0)
        chosen = bbox[pos].gather(1, cls[:, None, None].expand(-1, 1, 2))[:, 0]
        target = reg_targets.reshape(-1, 2)[pos].to(chosen.dtype)
        losses["loss_reg"] = F.smooth_l1_loss(chosen, target) * 2.0 * reg_loss_weight
    return losses


def _ssn(
    backbone: nn.Module | None,
    channels: int,
    num_classes: int,
    stpp_stage=(1, 1, 1),
    num_segments_list=(2, 5, 2),
    dropout_ratio: float = 0.8,
    head_dropout: float = 0.0,
    use_regression: bool = True,
    **loss_kwargs,
) -> SSN:
    head = SSNHead(
        num_classes, channels, stpp_stage, num_segments_list, head_dropout, use_regression
    )
    return SSN(backbone, head, dropout_ratio, **loss_kwargs)


@register_model
def ssn_r50(num_classes: int = 20, partial_bn: bool = True, **kwargs) -> SSN:
    """SSN, ResNet-50 on RGB frames, THUMOS14 (``ssn_r50_450e_thumos14_rgb``: one STPP
    part per stage, 2-5-2 snippets, dropout 0.8 on the features, regression)."""
    backbone_args = {k: kwargs.pop(k) for k in ("base_channels", "in_channels") if k in kwargs}
    backbone = ResNet(50, partial_bn=partial_bn, **backbone_args)
    return _ssn(backbone, backbone.out_channels, num_classes, **kwargs)


@register_model
def ssn_features(num_classes: int = 20, feat_dim: int = 400, hidden: int = 0, **kwargs) -> SSN:
    """SSN's head on precomputed snippet features ``[N, feat_dim]``: straight on them, or
    after one ``hidden``-wide linear + ReLU layer."""
    backbone = nn.Sequential(nn.Linear(feat_dim, hidden), nn.ReLU()) if hidden else None
    return _ssn(backbone, hidden or feat_dim, num_classes, **kwargs)


ssn_r50.task = ssn_features.task = "temporal_detection"
