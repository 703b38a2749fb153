"""torchcodec backend (CPU, or NVDEC with ``device="cuda"``).

Opened in ``seek_mode="exact"``: torchcodec scans the packets once, so frame counts and
timestamps come from the stream, not the header, and ``get_frames_at`` is frame-exact.
"""

from __future__ import annotations

import numpy as np
import torch

from ._base import Deadline, DecodeError, open_error

# Requested frames are decoded this many at a time, with the time limit checked between.
_CHUNK = 64


class TorchCodecBackend:
    name = "torchcodec"

    def __init__(self, path: str, deadline: Deadline, num_threads: int = 1, device="cpu"):
        try:
            from torchcodec.decoders import VideoDecoder
        except ImportError as e:
            raise ImportError(
                "the torchcodec backend needs torchcodec built for your torch (see the README)"
            ) from e
        self.path = path
        try:
            self.decoder = VideoDecoder(
                path,
                dimension_order="NHWC",
                num_ffmpeg_threads=num_threads,
                device=str(device),
                seek_mode="exact",
            )
        except (RuntimeError, ValueError) as e:
            raise open_error(path) from e
        deadline.check()
        meta = self.decoder.metadata
        self._len = int(meta.num_frames or 0)
        if self._len == 0:
            raise DecodeError(f"{path}: the video stream has no frames")
        begin = meta.begin_stream_seconds or 0.0
        self._duration = float((meta.end_stream_seconds or 0.0) - begin)
        self._fps = float(meta.average_fps or 0.0)

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def duration(self) -> float:
        return self._duration

    def close(self) -> None:
        self.decoder = None

    def decode_sorted(self, wanted: np.ndarray, deadline: Deadline) -> torch.Tensor:
        parts = []
        for start in range(0, len(wanted), _CHUNK):
            deadline.check()
            chunk = wanted[start : start + _CHUNK].tolist()
            try:
                parts.append(self.decoder.get_frames_at(chunk).data)
            except (RuntimeError, IndexError, ValueError) as e:
                raise DecodeError(
                    f"{self.path}: decoding frames {chunk[0]}..{chunk[-1]} failed: the "
                    "stream is damaged or truncated there"
                ) from e
        deadline.check()
        return torch.cat(parts) if len(parts) > 1 else parts[0]
