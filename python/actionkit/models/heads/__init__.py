"""Classification heads."""

from .tsn import TSMHead, TSNHead

__all__ = ["TSMHead", "TSNHead"]
