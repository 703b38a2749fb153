"""Writing videos: uint8 RGB frames to H.264, VP9 or MJPEG files with PyAV, atomically
(the synthetic data, actionkit-data's re-encoding and actionkit-infer's overlays)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

CODECS = {  # codec -> (PyAV encoder, file suffix, pixel format)
    "h264": ("libx264", ".mp4", "yuv420p"),
    "vp9": ("libvpx-vp9", ".webm", "yuv420p"),
    "mjpeg": ("mjpeg", ".avi", "yuvj420p"),
}


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float = 30.0,
    codec: str = "h264",
    gop: int = 12,
    crf: int = 18,
    vfr: bool = False,
    seed: int = 0,
) -> Path:
    """Encodes uint8 RGB ``frames [T, H, W, 3]`` (even H and W) to ``path`` with PyAV.

    ``gop`` is the keyframe interval (1 = every frame a keyframe); B-frames are used by
    H.264 when ``gop > 2``. ``vfr=True`` spaces the timestamps irregularly (between 0.5
    and 1.5 frame periods, drawn from ``seed``) — a variable frame-rate file."""
    try:
        import av
    except ImportError as e:
        raise ImportError("writing videos needs PyAV: pip install av") from e
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"frame height and width must be even for 4:2:0 video, got {h}x{w}")
    encoder, _, pix_fmt = CODECS[codec]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        with av.open(str(tmp), mode="w") as container:
            stream = container.add_stream(encoder, rate=rate)
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            stream.gop_size = gop
            options = {}
            if codec == "h264":
                options = {"crf": str(crf), "preset": "veryfast", "bf": "2" if gop > 2 else "0"}
                options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0"
            elif codec == "vp9":
                options = {"crf": str(crf + 12), "b": "0", "deadline": "realtime", "cpu-used": "8"}
                options.update({"g": str(gop), "keyint_min": str(gop), "lag-in-frames": "0"})
            else:
                options = {"qscale": "2"}
            stream.options = options
            if vfr:
                stream.codec_context.time_base = Fraction(1, 1000)
                stream.time_base = Fraction(1, 1000)
                steps = np.random.default_rng(seed).uniform(0.5, 1.5, size=t) * 1000 / float(rate)
                pts = np.concatenate([[0], np.cumsum(np.maximum(1, np.round(steps))[:-1])])
            for i in range(t):
                frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                if vfr:
                    frame.pts = int(pts[i])
                    frame.time_base = Fraction(1, 1000)
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
