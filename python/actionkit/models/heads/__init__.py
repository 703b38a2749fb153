"""Classification heads."""

from .i3d import I3DHead, S3DHead, SlowFastHead, X3DHead
from .trn import TRNHead
from .tsn import TSMHead, TSNHead

__all__ = ["I3DHead", "S3DHead", "SlowFastHead", "TRNHead", "TSMHead", "TSNHead", "X3DHead"]
