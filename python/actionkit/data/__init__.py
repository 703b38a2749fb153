"""Data: frame sampling (decoders, transforms and datasets follow, issue 4)."""

from .sampling import DenseSampleFrames, SampleFrames, UniformSampleFrames

__all__ = ["DenseSampleFrames", "SampleFrames", "UniformSampleFrames"]
