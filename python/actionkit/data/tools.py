"""Data preparation as MMAction2's tools do it: resize videos (short side 256, dense
keyframes), extract rawframes, build list files. Encoding goes through PyAV."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import DataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v")


def extract_rawframes(
    video: str | os.PathLike,
    out_dir: str | os.PathLike,
    template: str = "img_{:05d}.jpg",
    quality: int = 95,
) -> int:
    """Decodes every frame of ``video`` to JPEGs ``out_dir/img_00001.jpg``... (1-based, as
    MMAction2's extraction names them) and returns the number of frames."""
    from PIL import Image

    from .decode import VideoReader

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = VideoReader(video, backend="pyav")
    for start in range(0, len(reader), 64):  # bounded memory on long videos
        chunk = reader.get_frames(range(start, min(start + 64, len(reader)))).numpy()
        for i, frame in enumerate(chunk, start + 1):
            Image.fromarray(frame).save(out_dir / template.format(i), quality=quality)
    return len(reader)


def trim_video(
    reader, dst: str | os.PathLike, start: float, end: float, fps: float | None = None
) -> int:
    """Writes the frames of an open ``VideoReader`` whose times (index / fps) lie in
    ``[start, end)`` seconds to ``dst`` as H.264 (what ``ffmpeg -i SRC -ss START -t
    DURATION`` keeps, re-encoded), a chunk at a time (memory independent of the span);
    with ``fps``, at that rate instead: output frame k shows the source frame nearest
    ``start + k / fps`` (``ffmpeg -r``). Returns the frames written; an empty span is an
    error, and a failed write leaves no file."""
    from .encode import VideoWriter

    rate = reader.fps if reader.fps > 0 else 30.0
    if fps is None:
        first = max(0, math.ceil(start * rate - 1e-6))
        indices = np.arange(first, min(len(reader), math.ceil(end * rate - 1e-6)))
    else:
        times = start + np.arange(math.ceil((end - start) * fps - 1e-6)) / fps
        indices = np.floor(times * rate + 0.5).astype(np.int64)
        indices = indices[indices < len(reader)]
    if not len(indices):
        raise DataError(f"{dst}: no frame in [{start}, {end}) s of a {len(reader)}-frame video")
    out_rate = float(Fraction(fps or rate).limit_denominator(1001))
    with VideoWriter(dst, fps=out_rate, codec="h264") as out:
        for i in range(0, len(indices), 64):
            chunk = reader.get_frames(indices[i : i + 64]).numpy()
            h, w = chunk.shape[1:3]
            out.write(np.ascontiguousarray(chunk[:, : h - h % 2, : w - w % 2]))
    return len(indices)


def resize_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    short_side: int = 256,
    gop: int = 16,
    crf: int = 18,
) -> tuple[int, int, int]:
    """Re-encodes ``src`` as H.264 with the short side scaled to ``short_side`` (even
    sizes, aspect kept) and a keyframe every ``gop`` frames, so sparse sampling seeks
    cheaply. Returns ``(frames, height, width)``. Written to a temporary name first."""
    from .decode import VideoReader
    from .encode import write_video

    reader = VideoReader(src, backend="pyav", size=short_side)
    n = len(reader)
    frames = []
    for start in range(0, n, 64):
        frames.append(reader.get_frames(range(start, min(start + 64, n))).numpy())
    clip = np.concatenate(frames)
    h, w = clip.shape[1:3]
    clip = clip[:, : h - h % 2, : w - w % 2]
    fps = float(Fraction(reader.fps).limit_denominator(1001)) if reader.fps > 0 else 30.0
    write_video(dst, clip, fps=fps, codec="h264", gop=gop, crf=crf)
    return clip.shape[0], clip.shape[1], clip.shape[2]


def build_list(root: str | os.PathLike, out: str | os.PathLike, kind: str = "video") -> list[str]:
    """Writes a list file for ``root/<class>/<item>``: ``path label`` for videos, or
    ``frame_dir total_frames label`` for rawframe folders; classes are the sorted
    subfolder names (returned, and written to ``classes.txt`` beside ``out``). Paths
    are relative to ``root`` (use it as ``data_prefix``)."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root}: no class folders")
    lines = []
    for label, name in enumerate(classes):
        for item in sorted((root / name).iterdir()):
            rel = f"{name}/{item.name}"
            if kind == "video" and item.is_file() and item.suffix.lower() in VIDEO_SUFFIXES:
                lines.append(f"{rel} {label}")
            elif kind == "rawframes" and item.is_dir():
                count = sum(1 for f in item.iterdir() if f.name.startswith("img_"))
                lines.append(f"{rel} {count} {label}")
    out = Path(out)
    out.write_text("".join(line + "\n" for line in lines))
    out.with_name("classes.txt").write_text("".join(c + "\n" for c in classes))
    return classes
