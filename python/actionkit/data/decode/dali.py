"""NVIDIA DALI backend: NVDEC decoding on the GPU (``device="cuda"``, frames stay on the
GPU), or DALI's CPU decoder (VP9, VP8 and MJPEG only).

Frames are requested by index through ``decoders.video(frames=...)`` in DALI's dynamic
(eager) mode; the frame count, timestamps and codec come from a PyAV packet index, so
DALI never has to guess a length from the header. Variable frame-rate files are safe here
(DALI's *reader* hangs on them; the index-based decoder is not affected — the
frame-exactness tests cover a VFR file).
"""

from __future__ import annotations

import io

import numpy as np
import torch

from ._base import (
    Deadline,
    DecodeError,
    IndexedBackend,
    StreamIndex,
    _import_av,
    index_stream,
    validate_stream,
)

CPU_CODECS = ("vp8", "vp9", "mjpeg")


def _import_dali():
    try:
        import nvidia.dali.experimental.dynamic as ndd
    except ImportError as e:
        raise ImportError(
            "the dali backend needs NVIDIA DALI: pip install nvidia-dali-cuda130"
        ) from e
    return ndd


def remux(path: str, deadline: Deadline) -> bytes:
    """The video stream's packets in a fresh container written by PyAV (no decoding).

    DALI 2.4 sizes its buffers from the container header and overflows its heap when the
    header disagrees with the bitstream (a damaged width field crashed the process in our
    fuzz test); FFmpeg corrects the parameters from the stream when it opens a file, and
    the new header carries the corrected values."""
    av = _import_av()
    try:
        with av.open(path) as source:
            stream = source.streams.video[0]
            buffer = io.BytesIO()
            kind = source.format.name.split(",")[0]
            with av.open(buffer, mode="w", format=kind) as target:
                out = target.add_stream_from_template(stream)
                for packet in source.demux(stream):
                    deadline.check()
                    if packet.size == 0:
                        continue
                    packet.stream = out
                    target.mux(packet)
    except (av.error.FFmpegError, ValueError) as e:
        raise DecodeError(f"{path}: cannot read its packets: the file is damaged") from e
    return buffer.getvalue()


class DALIBackend(IndexedBackend):
    name = "dali"

    def __init__(
        self, path: str, deadline: Deadline, num_threads: int = 1, device="cpu", validate=True
    ):
        self.ndd = _import_dali()
        self.path = path
        self.device = torch.device(device)
        self.index: StreamIndex = index_stream(path, deadline)
        if validate:
            # DALI 2.4's decoder corrupts its heap on some damaged files (bad MJPEG data,
            # frames that change size mid-stream) and crashes the process, often hundreds
            # of decodes later (our fuzz test found both): each file is checked once per
            # process with FFmpeg's strict decoder, frame sizes included, first.
            validate_stream(path, deadline)
        if self.device.type == "cpu" and self.index.codec not in CPU_CODECS:
            raise DecodeError(
                f"{path}: DALI's CPU decoder reads {', '.join(CPU_CODECS)}, not "
                f"{self.index.codec}; use a CUDA device or backend='torchcodec'/'pyav'"
            )
        self._encoded = np.frombuffer(remux(path, deadline), dtype=np.uint8)

    def close(self) -> None:
        self._encoded = None

    def decode_sorted(self, wanted: np.ndarray, deadline: Deadline) -> torch.Tensor:
        device = "gpu" if self.device.type == "cuda" else "cpu"
        try:
            out = self.ndd.decoders.video(
                self.ndd.as_tensor(self._encoded), frames=wanted.tolist(), device=device
            )
            frames = out.torch()
        except RuntimeError as e:
            raise DecodeError(
                f"{self.path}: DALI could not decode frames {int(wanted[0])}..{int(wanted[-1])}"
                " (damaged data, or a codec feature its decoder lacks)"
            ) from e
        deadline.check()
        if frames.shape[0] != len(wanted):
            raise DecodeError(
                f"{self.path}: DALI returned {frames.shape[0]} frames for {len(wanted)} requested"
            )
        if self.device.type == "cuda" and frames.device != self.device:
            frames = frames.to(self.device)
        return frames
