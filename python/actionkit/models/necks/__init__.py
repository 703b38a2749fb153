"""Necks: modules between a backbone's stage outputs and a head."""

from .tpn import TPN

__all__ = ["TPN"]
