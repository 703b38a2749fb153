"""Spatio-temporal action detection (AVA) as MMAction2 1.2.0's ``FastRCNN`` with its
``AVARoIHead``: a clip backbone, actor features from :func:`actionkit.ops.roi_align3d`
(``SingleRoIExtractor3D``), an optional shared head (ACRN) and ``BBoxHeadAVA``;
MMAction2's module and parameter names, so its AVA checkpoints load.

- ``model(inputs [B, 3, T, H, W], rois [K, 5])`` -> logits ``[K, num_classes]`` for the
  boxes ``(batch index, x1, y1, x2, y2)`` in input pixels; ``rois [K, 7]`` are tubes
  ``(batch index, t1, x1, y1, t2, x2, y2)``, times in input frames (see
  :class:`SingleRoIExtractor3D`).
- ``model.loss(batch)`` (a :func:`actionkit.data.ava.collate_detection` batch): the
  ground-truth boxes join the proposals, each proposal overlapping a ground-truth box
  by IoU >= 0.9 (or being its best match, at >= 0.9) takes its labels (MMAction2's
  ``MaxIoUAssignerAVA``), at most ``num_rois`` positives per clip are drawn (its
  ``RandomSampler(32, pos_fraction=1, add_gt_as_proposals=True)``), and the loss is the
  (focal) binary cross-entropy over the positives' classes, column 0 (background)
  left out. MMAction2 also samples negatives, then drops them from the loss: they are
  not computed here. A single-label head (``multilabel=False``, MultiSports') takes the
  softmax cross-entropy against the label rows made distributions instead.
- ``model.predict(inputs, proposals)``: sigmoid (single-label: softmax) scores
  ``[N_i, num_classes]`` per clip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import roi_align3d
from .backbones.resnet import ConvBN
from .backbones.resnet3d import ResNet3d, ResNet3dSlowFast
from .lfb import FBOHead, LazyFeatureBank
from .registry import register_model


def _temporal_pool(x: Tensor, mode: str) -> Tensor:
    """``[N, C, T, H, W]`` -> ``[N, C, 1, H, W]`` (mean or max over time). A channels-last
    tensor is reduced as the ``[N, T, H, W, C]`` it is in memory: PyTorch's reduction
    over dim 2 of that layout takes 15.7 ms on AVA's [2, 2048, 4, 16, 16], this 1 ms."""
    if (
        x.dim() == 5
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last_3d)
    ):
        y = x.permute(0, 2, 3, 4, 1)  # a contiguous [N, T, H, W, C]
        y = y.mean(1) if mode == "avg" else y.amax(1)
        return y.permute(0, 3, 1, 2).unsqueeze(2)
    return x.mean(2, keepdim=True) if mode == "avg" else x.amax(2, keepdim=True)


class SingleRoIExtractor3D(nn.Module):
    """Actor features ``[K, C, t, s, s]`` from clip features ``[N, C, T, H, W]`` (or a
    tuple, SlowFast's pathways: resized to the longest T, nearest, and concatenated on
    channels): the temporal mean (or max) then RoIAlign (aligned, adaptive sampling)
    at ``1 / featmap_stride``; without the temporal pool every frame is aligned
    (``t = T``); ``with_global`` appends the frame's features average-pooled to ``s x s``.

    Beyond MMAction2, true tubes: ``rois [K, 7]`` = (batch index, t1, x1, y1, t2, x2, y2),
    times in input frames (``input_frames`` of them; the features' frames span the same
    time), are aligned trilinearly over their own temporal extent
    (:func:`actionkit.ops.roi_align3d`'s tubes): averaged to one bin with the temporal
    pool, else ``T`` bins over the tube. A tube over the whole clip gives the box's
    features exactly."""

    def __init__(
        self,
        output_size: int = 8,
        featmap_stride: int = 16,
        sampling_ratio: int = 0,
        aligned: bool = True,
        with_temporal_pool: bool = True,
        temporal_pool_mode: str = "avg",
        with_global: bool = False,
    ):
        super().__init__()
        if temporal_pool_mode not in ("avg", "max"):
            raise ValueError(f"temporal_pool_mode must be avg or max, got {temporal_pool_mode!r}")
        self.output_size, self.spatial_scale = output_size, 1.0 / featmap_stride
        self.sampling_ratio, self.aligned = sampling_ratio, aligned
        self.with_temporal_pool, self.temporal_pool_mode = with_temporal_pool, temporal_pool_mode
        self.with_global = with_global

    def forward(
        self, feat: Tensor | tuple[Tensor, ...], rois: Tensor, input_frames: int | None = None
    ) -> tuple[Tensor, Tensor]:
        feats = feat if isinstance(feat, tuple | list) else (feat,)
        if len(feats) >= 2:
            t = max(x.shape[2] for x in feats)
            feats = [F.interpolate(x, (t, *feats[0].shape[3:])) for x in feats]
        if rois.shape[1] == 7:
            if input_frames is None:
                raise ValueError("tube RoIs [K, 7] need input_frames (their time unit)")
            x = torch.cat(list(feats), 1)
            s, frames = self.output_size, x.shape[2]
            out = roi_align3d(
                x, rois.to(x.dtype), (1 if self.with_temporal_pool else frames, s, s),
                self.spatial_scale, self.sampling_ratio, self.aligned, frames / input_frames,
            )  # fmt: skip
            return self._add_global(out, x, rois), x
        if self.with_temporal_pool:
            feats = [_temporal_pool(x, self.temporal_pool_mode) for x in feats]
        x = torch.cat(list(feats), 1)
        s = self.output_size
        out = roi_align3d(x, rois.to(x.dtype), (x.shape[2], s, s), self.spatial_scale,
                          self.sampling_ratio, self.aligned)  # fmt: skip
        return self._add_global(out, x, rois), x

    def _add_global(self, out: Tensor, x: Tensor, rois: Tensor) -> Tensor:
        if not self.with_global:
            return out
        s = self.output_size
        glob = F.adaptive_avg_pool3d(x, (out.shape[2], s, s))[rois[:, 0].long()]
        return torch.cat([out, glob], 1)


class BBoxHeadAVA(nn.Module):
    """MMAction2's ``BBoxHeadAVA``: dropout (before pooling by default), temporal
    average (or max) and spatial max (or average) pooling, then ``fc_cls`` (linear, or
    an MLP with ``mlp_head``); ``focal_alpha`` / ``focal_gamma`` shape the loss;
    ``multilabel=False`` scores with a softmax (one action per actor)."""

    def __init__(
        self,
        in_channels: int = 2048,
        num_classes: int = 81,
        dropout_ratio: float = 0.0,
        dropout_before_pool: bool = True,
        temporal_pool_type: str = "avg",
        spatial_pool_type: str = "max",
        mlp_head: bool = False,
        background_class: bool = True,
        focal_alpha: float = 1.0,
        focal_gamma: float = 0.0,
        multilabel: bool = True,
    ):
        super().__init__()
        for name, value in (("temporal", temporal_pool_type), ("spatial", spatial_pool_type)):
            if value not in ("avg", "max"):
                raise ValueError(f"{name}_pool_type must be avg or max, got {value!r}")
        self.temporal_pool_type, self.spatial_pool_type = temporal_pool_type, spatial_pool_type
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else None
        self.dropout_before_pool = dropout_before_pool
        if mlp_head:
            self.fc_cls = nn.Sequential(
                nn.Linear(in_channels, in_channels), nn.ReLU(), nn.Linear(in_channels, num_classes)
            )
        else:
            self.fc_cls = nn.Linear(in_channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        self.num_classes, self.background_class = num_classes, background_class
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.multilabel = multilabel

    def forward(self, x: Tensor) -> Tensor:
        if self.dropout is not None and self.dropout_before_pool:
            x = self.dropout(x)
        x = x.mean(2) if self.temporal_pool_type == "avg" else x.amax(2)
        x = x.amax((2, 3)) if self.spatial_pool_type == "max" else x.mean((2, 3))
        if self.dropout is not None and not self.dropout_before_pool:
            x = self.dropout(x)
        return self.fc_cls(x)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The (focal) binary cross-entropy of positive RoIs' logits and multi-hot labels,
        averaged over RoIs and classes; column 0 left out with ``background_class``.
        Single-label: the softmax cross-entropy against each label row (divided by its
        sum with ``background_class``, as MMAction2 does), averaged over RoIs."""
        if self.background_class:
            logits, labels = logits[:, 1:], labels[:, 1:]
        keep = labels.sum(1) > 0
        logits, labels = logits[keep], labels[keep].to(logits.dtype)
        if self.multilabel:
            loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        else:
            if self.background_class:
                labels = labels / labels.sum(1, keepdim=True)
            loss = F.cross_entropy(logits, labels, reduction="none")
        if self.focal_alpha != 1.0 or self.focal_gamma != 0.0:
            loss = self.focal_alpha * (1 - torch.exp(-loss)) ** self.focal_gamma * loss
        return loss.mean()

    def scores(self, logits: Tensor) -> Tensor:
        """Per-class scores from logits: sigmoid, or softmax for a single-label head."""
        logits = logits.float()
        return torch.sigmoid(logits) if self.multilabel else logits.softmax(-1)


class ACRNHead(nn.Module):
    """ACRN's actor-context relation (Sun et al., ECCV 2018; MMAction2's ``ACRNHead``): each
    actor's max-pooled feature tiled over the clip's feature map, concatenated with it,
    then a 1x1x1 and ``num_convs`` 1x3x3 Conv-BN-ReLU: ``[K, out, t, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, num_convs: int = 1):
        super().__init__()
        self.conv1 = ConvBN(in_channels, out_channels, 1, dims=3)
        self.conv2 = ConvBN(out_channels, out_channels, (1, 3, 3), (1, stride, stride),
                            (0, 1, 1), dims=3)  # fmt: skip
        self.convs = nn.ModuleList(
            ConvBN(out_channels, out_channels, (1, 3, 3), 1, (0, 1, 1), dims=3)
            for _ in range(num_convs - 1)
        )

    def forward(self, x: Tensor, feat: Tensor, rois: Tensor) -> Tensor:
        h, w = feat.shape[-2:]
        tiled = x.amax((2, 3, 4), keepdim=True).expand(-1, -1, feat.shape[2], h, w)
        x = self.conv2(self.conv1(torch.cat([tiled, feat[rois[:, 0].long()]], 1)))
        for conv in self.convs:
            x = conv(x)
        return x


class RoIHead(nn.Module):
    """``bbox_roi_extractor`` (no parameters), optional ``shared_head``, ``bbox_head``:
    MMAction2's ``AVARoIHead`` layout."""

    def __init__(self, extractor: SingleRoIExtractor3D, head: BBoxHeadAVA, shared=None):
        super().__init__()
        self.bbox_roi_extractor, self.bbox_head = extractor, head
        self.shared_head = shared

    def forward(self, feat, rois: Tensor, input_frames: int | None = None, img_keys=None) -> Tensor:
        roi_feats, global_feat = self.bbox_roi_extractor(feat, rois, input_frames)
        if isinstance(self.shared_head, FBOHead):  # a long-term feature bank
            if img_keys is None:
                raise ValueError("a detector with a feature bank needs the clips' img_keys")
            lt_feat = self.shared_head.sample(list(img_keys), rois[:, 0])
            roi_feats = self.shared_head(roi_feats, lt_feat)
        elif self.shared_head is not None:
            roi_feats = self.shared_head(roi_feats, global_feat, rois)
        return self.bbox_head(roi_feats)


def box_iou(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    """IoU ``[len(a), len(b)]`` of ``x1, y1, x2, y2`` boxes, mmdet's ``bbox_overlaps``
    (no +1 on sides; the union at least ``eps``)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (area_a[:, None] + area_b[None] - inter).clamp(min=eps)
    return inter / union


def assign_positives(
    proposals: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    pos_iou_thr: float = 0.9,
    min_pos_iou: float = 0.9,
    num_rois: int = 32,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """The positive RoIs of one clip and their multi-hot labels: the ground-truth boxes
    (added as proposals) and the proposals whose best IoU with a ground-truth box is at
    least ``pos_iou_thr``, or that are a box's best match (all ties; a later box wins a
    proposal two boxes match best) at least ``min_pos_iou`` — MMAction2's
    ``MaxIoUAssignerAVA``; more than ``num_rois`` are subsampled at random (its
    ``RandomSampler``)."""
    if len(gt_boxes) == 0:
        return proposals[:0], gt_labels.new_zeros((0, gt_labels.shape[1]))
    assigned = torch.zeros(len(proposals), dtype=torch.long, device=proposals.device)
    if len(proposals):
        overlaps = box_iou(gt_boxes, proposals)  # [K, N]
        best, best_gt = overlaps.max(0)
        pos = best >= pos_iou_thr
        assigned[pos] = best_gt[pos] + 1
        gt_best = overlaps.max(1).values
        for i in range(len(gt_boxes)):
            if gt_best[i] >= min_pos_iou:
                assigned[overlaps[i] == gt_best[i]] = i + 1
    boxes = torch.cat([gt_boxes, proposals[assigned > 0]])
    labels = torch.cat([gt_labels, gt_labels[assigned[assigned > 0] - 1]])
    if len(boxes) > num_rois:
        keep = torch.randperm(len(boxes), generator=generator)[:num_rois].to(boxes.device)
        boxes, labels = boxes[keep], labels[keep]
    return boxes, labels


def to_rois(boxes: list[Tensor]) -> Tensor:
    """Per-clip boxes ``[N_i, 4]`` as one ``[sum N_i, 5]`` tensor with the clip index."""
    return torch.cat(
        [torch.cat([b.new_full((len(b), 1), i), b[:, :4]], 1) for i, b in enumerate(boxes)]
    )


class AVADetector(nn.Module):
    """A clip backbone and an :class:`RoIHead` (see the module's docstring)."""

    task = "detection"

    def __init__(self, backbone: nn.Module, roi_head: RoIHead, num_rois: int = 32,
                 pos_iou_thr: float = 0.9, min_pos_iou: float = 0.9):  # fmt: skip
        super().__init__()
        self.backbone, self.roi_head = backbone, roi_head
        self.num_rois, self.pos_iou_thr, self.min_pos_iou = num_rois, pos_iou_thr, min_pos_iou

    def forward(self, inputs: Tensor, rois: Tensor, img_keys=None) -> Tensor:
        """Logits of the ``rois``; ``img_keys`` (``"video_id,timestamp"`` of each clip)
        only for a detector with a long-term feature bank."""
        if inputs.dim() != 5 or inputs.shape[1] != 3:
            raise ValueError(f"inputs must be [B, 3, T, H, W], got {tuple(inputs.shape)}")
        if rois.dim() != 2 or rois.shape[1] not in (5, 7):
            raise ValueError(
                "rois must be [K, 5] (batch index, x1, y1, x2, y2) or tubes [K, 7] (batch "
                f"index, t1, x1, y1, t2, x2, y2), got {tuple(rois.shape)}"
            )
        return self.roi_head(self.backbone(inputs), rois, inputs.shape[2], img_keys)

    @torch.no_grad()
    def roi_features(self, inputs: Tensor, proposals: list[Tensor]) -> list[Tensor]:
        """The RoI features a long-term feature bank stores (MMAction2's
        ``LFBInferHead``): each proposal's extracted feature, temporal mean and spatial
        max, ``[N_i, C]`` per clip."""
        rois = to_rois(proposals).to(inputs.device)
        feats, _ = self.roi_head.bbox_roi_extractor(self.backbone(inputs), rois, inputs.shape[2])
        pooled = feats.mean(2).amax((2, 3))
        return list(pooled.split([len(p) for p in proposals]))

    def loss(self, batch: dict, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        boxes, labels = [], []
        for props, gt, gt_labels in zip(batch["proposals"], batch["gt_bboxes"],
                                        batch["gt_labels"], strict=True):  # fmt: skip
            b, lab = assign_positives(props, gt, gt_labels, self.pos_iou_thr,
                                      self.min_pos_iou, self.num_rois, generator)  # fmt: skip
            boxes.append(b)
            labels.append(lab)
        rois = to_rois(boxes).to(batch["inputs"].device)
        logits = self(batch["inputs"], rois, batch.get("img_key"))
        target = torch.cat(labels).to(logits.device)
        return {"loss_action_cls": self.roi_head.bbox_head.loss(logits, target)}

    @torch.no_grad()
    def predict(self, inputs: Tensor, proposals: list[Tensor], img_keys=None) -> list[Tensor]:
        """Scores ``[N_i, num_classes]`` (sigmoid, or softmax for a single-label head)
        for each clip's proposals (pixels); ``img_keys`` as :meth:`forward` takes them."""
        rois = to_rois(proposals).to(inputs.device)
        scores = self.roi_head.bbox_head.scores(self(inputs, rois, img_keys))
        return list(scores.split([len(p) for p in proposals]))


def _detector(backbone, in_channels, num_classes, dropout, acrn=False, lfb=None, **head_args):
    extractor_keys = ("output_size", "with_temporal_pool", "temporal_pool_mode", "with_global")
    extractor = {k: head_args.pop(k) for k in extractor_keys if k in head_args}
    extractor.setdefault("output_size", 8)
    if extractor.get("with_global"):
        in_channels *= 2
    shared = ACRNHead(2 * in_channels, in_channels) if acrn else None
    if lfb is not None:
        shared, added = _fbo_head(in_channels, **lfb)
        in_channels += added
    head = BBoxHeadAVA(in_channels, num_classes, dropout, **head_args)
    return AVADetector(backbone, RoIHead(SingleRoIExtractor3D(**extractor), head, shared))


def _fbo_head(
    channels: int,
    bank: str | list[str],
    fbo: str = "non_local",
    window_size: int = 60,
    max_num_sampled_feat: int = 5,
    lfb_channels: int | None = None,
    latent_channels: int = 512,
    **fbo_args,
) -> tuple[FBOHead, int]:
    """MMAction2's ``FBOHead`` for ``lfb={...}`` in a detector's arguments (its LFB
    configs' defaults): the bank's folder or folders (opened on first use), the operator,
    and the channels it adds to ``BBoxHeadAVA``'s input."""
    lt_channels = lfb_channels or channels
    if fbo == "non_local":
        fbo_args = dict(st_feat_channels=channels, lt_feat_channels=lt_channels,
                        latent_channels=latent_channels, num_st_feat=1,
                        num_lt_feat=window_size * max_num_sampled_feat, **fbo_args)  # fmt: skip
    head = FBOHead(LazyFeatureBank(bank, max_num_sampled_feat, window_size), fbo, **fbo_args)
    return head, latent_channels if fbo == "non_local" else lt_channels


@register_model
def ava_slowonly_r50(
    num_classes: int = 81, dropout: float = 0.5, backbone_args: dict | None = None, **kwargs
) -> AVADetector:
    """SlowOnly-R50 on AVA (``slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21``
    and its 8x8 sibling: the same network, 4 or 8 input frames): res5 at stride 1
    (features at 1/16), 8x8 RoIAlign of the temporal mean, ``BBoxHeadAVA``.
    ``backbone_args`` change the :class:`ResNet3d` (the synthetic demo's is a small one:
    ``base_channels``, ``stage_blocks``, ``inflate``, ``conv1_kernel``); ``lfb={"bank":
    FOLDER, "fbo": "non_local" | "avg" | "max", ...}`` adds a long-term feature bank
    (:mod:`actionkit.models.lfb`); the other keyword arguments go to the RoI extractor and
    ``BBoxHeadAVA``."""
    options = dict(conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False,
                   spatial_strides=(1, 2, 2, 1))  # fmt: skip
    backbone = ResNet3d(50, **{**options, **(backbone_args or {})})
    return _detector(backbone, backbone.out_channels, num_classes, dropout, **kwargs)


@register_model
def ava_slowfast_r50(num_classes: int = 81, dropout: float = 0.5, **kwargs) -> AVADetector:
    """SlowFast-R50 4x16 on AVA (``slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e``):
    32 frames, both pathways at stride 16, their features concatenated (2304 channels)."""
    backbone = ResNet3dSlowFast(resample_rate=8, speed_ratio=8, spatial_strides=(1, 2, 2, 1))
    return _detector(backbone, backbone.out_channels, num_classes, dropout, **kwargs)


@register_model
def ava_slowfast_r50_8x8(num_classes: int = 81, dropout: float = 0.5, **kwargs) -> AVADetector:
    """SlowFast-R50 8x8 on AVA (``slowfast_kinetics400-pretrained-r50_8xb6-8x8x1-cosine-10e``):
    slow every 4th of 32 frames, lateral kernels 7x1x1."""
    backbone = ResNet3dSlowFast(resample_rate=4, speed_ratio=4, fusion_kernel=7,
                                spatial_strides=(1, 2, 2, 1))  # fmt: skip
    return _detector(backbone, backbone.out_channels, num_classes, dropout, **kwargs)


@register_model
def ava_acrn_slowfast_r50(num_classes: int = 81, dropout: float = 0.5, **kwargs) -> AVADetector:
    """ACRN on SlowFast-R50 8x8 (``slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-
    cosine-10e_ava21``): an ``ACRNHead`` (4608 -> 2304) between the RoI features and
    ``BBoxHeadAVA``."""
    backbone = ResNet3dSlowFast(resample_rate=4, speed_ratio=4, fusion_kernel=7,
                                spatial_strides=(1, 2, 2, 1))  # fmt: skip
    return _detector(backbone, backbone.out_channels, num_classes, dropout, acrn=True, **kwargs)


for _builder in (ava_slowonly_r50, ava_slowfast_r50, ava_slowfast_r50_8x8, ava_acrn_slowfast_r50):
    _builder.task = "detection"  # picks the evaluator and data.kind "ava"
