"""Classification heads."""

from .i3d import I3DHead, S3DHead, SlowFastHead, X3DHead
from .tsn import TSMHead, TSNHead

__all__ = ["I3DHead", "S3DHead", "SlowFastHead", "TSMHead", "TSNHead", "X3DHead"]
