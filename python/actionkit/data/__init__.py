"""Data: decoding (``decode``), frame sampling (``sampling``), transforms with the fused
preprocessing op (``transforms``), datasets and the loader factory (``datasets``), the
batch-level DALI loader (``dali_loader``), synthetic action videos (``synthetic``) and
data-preparation tools (``tools``, ``actionkit-data``)."""

from .decode import DecodeError, DecodeTimeout, VideoReader, available_backends
from .sampling import DenseSampleFrames, SampleFrames, UniformSample, UniformSampleFrames

__all__ = [
    "DecodeError",
    "DecodeTimeout",
    "DenseSampleFrames",
    "SampleFrames",
    "UniformSample",
    "UniformSampleFrames",
    "VideoReader",
    "available_backends",
]
