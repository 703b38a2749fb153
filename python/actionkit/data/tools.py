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


FLOW_TEMPLATE = "flow_{}_{:05d}.jpg"  # flow_x_00001.jpg: denseflow's names (build_rawframes.py)
_MARKER = ".actionkit-frames.json"  # written last: the folder is complete


def flow_to_image(flow, bound: float = 20.0):
    """Flow [..., H, W] in pixels -> uint8 grey levels as MMAction2's ``flow_to_img``
    (``tools/misc/flow_extraction.py``): clipped to +-bound, mapped linearly onto 0..255,
    truncated (so 0 px is 127). Reading it back: ``v / 255 * 2 bound - bound``."""
    import torch

    scale = 255 / float(2 * bound)
    return ((flow.clamp(-bound, bound) + bound) * scale).to(torch.uint8)


def extract_rawframes(
    video: str | os.PathLike,
    out_dir: str | os.PathLike,
    template: str = "img_{:05d}.jpg",
    quality: int = 95,
    *,
    rgb: bool = True,
    flow: str | None = None,
    bound: float = 20.0,
    flow_format: str = "jpg",
    device: str = "cpu",
    chunk: int = 32,
    resume: bool = False,
    progress: bool = False,
) -> int:
    """Decodes every frame of ``video`` to JPEGs ``out_dir/img_00001.jpg``... (1-based, as
    MMAction2's extraction names them) and returns the number of frames.

    With ``flow="tvl1"`` the same pass computes TV-L1 optical flow
    (:func:`actionkit.ops.optical_flow_tvl1`, on ``device``) between consecutive frames'
    grey images: flow ``k`` is the motion from frame ``k`` to ``k + 1``, so a video of N
    frames has N - 1 flows, always (both come from the same decoded frames). Written as
    ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` quantised by :func:`flow_to_image`
    (denseflow's names, as MMAction2's build_rawframes.py makes them), or with
    ``flow_format="npy"`` as one float16 ``flow.npy`` [N - 1, 2, H, W] (not quantised;
    written as it goes, memory-mapped to read). ``rgb=False`` leaves out the JPEG frames.
    Frames are decoded ``chunk`` at a time (memory bounded on long videos), the flows of
    a chunk computed as one batch.

    A folder is complete when its marker file is written (last); with ``resume`` a
    complete folder made with the same settings is left as it is."""
    import json

    import torch
    from PIL import Image

    from ..ops import optical_flow_tvl1, rgb_to_grey
    from .decode import VideoReader

    if flow not in (None, "tvl1"):
        raise ValueError(f"flow: the only method is 'tvl1', got {flow!r}")
    if flow_format not in ("jpg", "npy"):
        raise ValueError(f"flow_format: 'jpg' or 'npy', got {flow_format!r}")
    if not rgb and flow is None:
        raise ValueError("nothing to extract: rgb=False and no flow")
    out_dir = Path(out_dir)
    settings = {"rgb": rgb, "flow": flow, "bound": bound if flow else None}
    if flow:
        settings["flow_format"] = flow_format
    marker = out_dir / _MARKER
    if resume and marker.exists():
        done = json.loads(marker.read_text())
        if all(done.get(k) == v for k, v in settings.items()):
            return done["frames"]
    marker.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    reader = VideoReader(video, backend="pyav")
    n = len(reader)
    stored = None  # the float16 flow file, made once the frame size is known
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=Path(video).name, unit="frame", leave=False)
    previous = None  # the last grey frame of the chunk before
    for start in range(0, n, chunk):
        frames = reader.get_frames(range(start, min(start + chunk, n)))
        if rgb:
            for i, frame in enumerate(frames.numpy(), start + 1):
                Image.fromarray(frame).save(out_dir / template.format(i), quality=quality)
        if flow:
            grey = rgb_to_grey(frames).to(device)
            if previous is not None:
                grey = torch.cat([previous, grey])
            first = start if previous is None else start - 1  # frame index of grey[0]
            previous = grey[-1:]
            if len(grey) > 1:
                uv = optical_flow_tvl1(grey[:-1], grey[1:]).cpu()
                if flow_format == "npy":
                    if stored is None:
                        stored = np.lib.format.open_memmap(
                            out_dir / "flow.npy", mode="w+", dtype=np.float16,
                            shape=(n - 1, 2, *uv.shape[2:]),
                        )  # fmt: skip
                    stored[first : first + len(uv)] = uv.numpy().astype(np.float16)
                else:
                    for k, (x, y) in enumerate(flow_to_image(uv, bound).numpy(), first + 1):
                        Image.fromarray(x).save(
                            out_dir / FLOW_TEMPLATE.format("x", k), quality=quality
                        )
                        Image.fromarray(y).save(
                            out_dir / FLOW_TEMPLATE.format("y", k), quality=quality
                        )
        if bar is not None:
            bar.update(len(frames))
    if bar is not None:
        bar.close()
    if stored is not None:
        stored.flush()
        del stored
    flows = max(n - 1, 0) if flow else None
    marker.write_text(json.dumps({**settings, "frames": n, "flows": flows}) + "\n")
    return n


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
