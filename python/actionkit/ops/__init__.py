"""The Python face of actionkit's compiled ops (torch.ops.actionkit.*)."""

from .graph_aggregate import graph_aggregate
from .roi_align3d import roi_align3d
from .temporal_shift import temporal_shift

__all__ = ["graph_aggregate", "roi_align3d", "temporal_shift"]
