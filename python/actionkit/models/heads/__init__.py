"""Classification heads."""

from .i3d import I3DHead
from .tsn import TSMHead, TSNHead

__all__ = ["I3DHead", "TSMHead", "TSNHead"]
