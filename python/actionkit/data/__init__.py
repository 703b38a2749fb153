"""Data: frame sampling (decoders, transforms and datasets follow, issue 4)."""

from .sampling import DenseSampleFrames, SampleFrames, UniformSample, UniformSampleFrames

__all__ = ["DenseSampleFrames", "SampleFrames", "UniformSample", "UniformSampleFrames"]
