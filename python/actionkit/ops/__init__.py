"""The Python face of actionkit's compiled ops (torch.ops.actionkit.*)."""

from .bm_sampling import bm_conv3d, bm_sampling, bm_sampling_sum
from .graph_aggregate import graph_aggregate
from .roi_align3d import roi_align3d
from .temporal_shift import temporal_shift

__all__ = [
    "bm_conv3d",
    "bm_sampling",
    "bm_sampling_sum",
    "graph_aggregate",
    "roi_align3d",
    "temporal_shift",
]
