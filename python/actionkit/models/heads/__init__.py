"""Classification heads."""

from .i3d import I3DHead, SlowFastHead
from .tsn import TSMHead, TSNHead

__all__ = ["I3DHead", "SlowFastHead", "TSMHead", "TSNHead"]
