"""The Python face of actionkit's compiled ops (torch.ops.actionkit.*)."""

from .bm_sampling import bm_conv3d, bm_sampling, bm_sampling_sum
from .graph_aggregate import graph_aggregate
from .nms import batched_nms, nms, temporal_iou, temporal_nms
from .optical_flow import optical_flow_tvl1, rgb_to_grey
from .pose_heatmaps import pose_heatmaps
from .preprocess import preprocess
from .roi_align3d import roi_align3d
from .soft_nms import soft_nms, temporal_soft_nms
from .temporal_shift import temporal_shift
from .tin_shift import tin_shift

__all__ = [
    "bm_conv3d",
    "bm_sampling",
    "bm_sampling_sum",
    "batched_nms",
    "graph_aggregate",
    "nms",
    "optical_flow_tvl1",
    "pose_heatmaps",
    "preprocess",
    "rgb_to_grey",
    "roi_align3d",
    "soft_nms",
    "temporal_iou",
    "temporal_nms",
    "temporal_shift",
    "temporal_soft_nms",
    "tin_shift",
]
