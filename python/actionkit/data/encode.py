"""Writing videos: uint8 RGB frames to H.264, VP9 or MJPEG files with PyAV, atomically
(the synthetic data, actionkit-data's re-encoding and actionkit-infer's overlays)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import UsageError

CODECS = {  # codec -> (PyAV encoder, file suffix, pixel format)
    "h264": ("libx264", ".mp4", "yuv420p"),
    "vp9": ("libvpx-vp9", ".webm", "yuv420p"),
    "mjpeg": ("mjpeg", ".avi", "yuvj420p"),
}
AUDIO_CODECS = {  # video codec -> the audio encoder of its container
    "h264": "aac",
    "vp9": "libopus",
    "mjpeg": "pcm_s16le",
}


class VideoWriter:
    """Encodes uint8 RGB frames ``[T, H, W, 3]`` (even H and W) to ``path`` with PyAV as
    they come, so memory stays bounded however long the video; the file appears under its
    name only when :meth:`close` finishes (a temporary name until then, removed on error).

    ``gop`` is the keyframe interval (1 = every frame a keyframe); B-frames are used by
    H.264 when ``gop > 2``. ``vfr=True`` spaces the timestamps irregularly (between 0.5
    and 1.5 frame periods, drawn from ``seed``) — a variable frame-rate file.
    ``audio_rate`` adds a mono audio track at that sample rate (AAC in .mp4, Opus in
    .webm — 48000, 24000, 16000, 12000 or 8000 Hz —, PCM in .avi), whose float samples
    in [-1, 1] :meth:`write_audio` takes.

    Use as a context manager: ``with VideoWriter(path, fps=25) as out: out.write(chunk)``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float = 30.0,
        codec: str = "h264",
        gop: int = 12,
        crf: int = 18,
        vfr: bool = False,
        seed: int = 0,
        audio_rate: int | None = None,
    ):
        try:
            import av
        except ImportError as e:
            raise ImportError("writing videos needs PyAV: pip install av") from e
        if codec not in CODECS:
            raise UsageError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
        if not fps > 0:
            raise UsageError(f"fps must be positive, got {fps}")
        self.av, self.codec, self.gop, self.crf = av, codec, gop, crf
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}{self.path.suffix}")
        self.container = av.open(str(self.tmp), mode="w")
        self.stream = None
        self.audio_rate, self.audio_stream, self.audio_samples = audio_rate, None, 0
        self.rng = np.random.default_rng(seed) if vfr else None
        self.pts = 0
        self.count = 0

    def _open_stream(self, h: int, w: int) -> None:
        if h % 2 or w % 2:
            raise ValueError(f"frame height and width must be even for 4:2:0 video, got {h}x{w}")
        encoder, _, pix_fmt = CODECS[self.codec]
        stream = self.container.add_stream(encoder, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.gop_size = self.gop
        gop, crf = self.gop, self.crf
        if self.codec == "h264":
            options = {"crf": str(crf), "preset": "veryfast", "bf": "2" if gop > 2 else "0"}
            options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0"
        elif self.codec == "vp9":
            options = {"crf": str(crf + 12), "b": "0", "deadline": "realtime", "cpu-used": "8"}
            options.update({"g": str(gop), "keyint_min": str(gop), "lag-in-frames": "0"})
        else:
            options = {"qscale": "2"}
        stream.options = options
        if self.rng is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
            stream.time_base = Fraction(1, 1000)
        self.stream = stream
        if self.audio_rate:  # (every stream exists before the first packet is written)
            audio = self.container.add_stream(AUDIO_CODECS[self.codec], rate=self.audio_rate)
            audio.layout = "mono"
            self.audio_stream = audio

    def write_audio(self, samples: np.ndarray) -> None:
        """Appends mono float samples in [-1, 1] to the audio track (after the first
        :meth:`write` of frames, which creates the streams)."""
        if self.audio_stream is None:
            raise ValueError("write_audio: no audio track (audio_rate) or no frames written yet")
        samples = np.clip(np.asarray(samples, dtype=np.float32).reshape(1, -1), -1, 1)
        frame = self.av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate, frame.pts = self.audio_rate, self.audio_samples
        frame.time_base = Fraction(1, self.audio_rate)
        self.audio_samples += samples.shape[1]
        for packet in self.audio_stream.encode(frame):
            self.container.mux(packet)

    def write(self, frames: np.ndarray) -> None:
        """Appends uint8 ``[T, H, W, 3]`` frames (every call the same H and W)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}"
            )
        if self.stream is None:
            self._open_stream(*frames.shape[1:3])
        elif frames.shape[1:3] != (self.stream.height, self.stream.width):
            raise ValueError(
                f"frames of {frames.shape[1]}x{frames.shape[2]} after "
                f"{self.stream.height}x{self.stream.width} ones"
            )
        for image in frames:
            frame = self.av.VideoFrame.from_ndarray(image, format="rgb24")
            if self.rng is not None:
                frame.pts, frame.time_base = self.pts, Fraction(1, 1000)
                step = self.rng.uniform(0.5, 1.5) * 1000 / float(self.rate)
                self.pts += int(max(1, np.round(step)))
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.count += 1

    def close(self) -> Path:
        """Flushes the encoder and moves the file to its name."""
        if self.stream is None:
            self.abort()
            raise ValueError(f"{self.path}: no frames were written")
        for stream in (self.stream, self.audio_stream):
            for packet in stream.encode() if stream is not None else ():
                self.container.mux(packet)
        self.container.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drops the partial file."""
        self.container.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float = 30.0,
    codec: str = "h264",
    gop: int = 12,
    crf: int = 18,
    vfr: bool = False,
    seed: int = 0,
    audio: np.ndarray | None = None,
    audio_rate: int = 44100,
) -> Path:
    """Encodes uint8 RGB ``frames [T, H, W, 3]`` (even H and W) to ``path``, with mono
    float ``audio`` samples at ``audio_rate`` as its soundtrack if given: one call of
    :class:`VideoWriter` (see it for the arguments; it checks the frames)."""
    rate = audio_rate if audio is not None else None
    with VideoWriter(path, fps, codec, gop, crf, vfr, seed, audio_rate=rate) as out:
        out.write(frames)
        if audio is not None:
            out.write_audio(audio)
    return Path(path)
