"""Data: decoding (``decode``), frame sampling (``sampling``), synthetic videos
(``synthetic``); transforms and datasets follow (issue 4)."""

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
