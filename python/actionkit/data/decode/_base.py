"""What every decoding backend shares: errors, the time limit, index checks, the
stream index (frame timestamps and keyframes read from the packets, not the container's
metadata) and resizing."""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import ActionkitError


class DecodeError(ActionkitError, RuntimeError):
    """A video could not be opened or decoded; the message names the file and the reason."""


class DecodeTimeout(DecodeError):
    """A decode ran past its time limit."""


# The first bytes of container formats, to name what a file that will not open is.
_MAGIC = [
    (4, b"ftyp", "MP4/MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"RIFF", "AVI"),
    (0, b"FLV", "FLV"),
    (0, b"\x00\x00\x01\xba", "MPEG-PS"),
    (0, b"\x47", "MPEG-TS"),
    (0, b"OggS", "Ogg"),
]
_NOT_VIDEO = [
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF8", "a GIF image"),
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"%PDF", "a PDF document"),
]


def _container_kind(head: bytes, table) -> str | None:
    return next((name for at, magic, name in table if head[at : at + len(magic)] == magic), None)


def diagnose(path: str) -> str:
    """Why ``path`` cannot be opened as a video, in words a user can act on: empty, not a
    video (and what it is, where its first bytes say), truncated, no video stream, a
    codec this FFmpeg lacks, or undecodable data. Backends put this in their
    :class:`DecodeError` and keep their own message as its cause (``--debug`` shows it)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size == 0:
        return "the file is empty (0 bytes)"
    other = _container_kind(head, _NOT_VIDEO)
    if other:
        return f"not a video: the file is {other}"
    kind = _container_kind(head, _MAGIC)
    try:
        av = _import_av()
    except ImportError:  # no PyAV to look closer: what the first bytes say
        if kind is None:
            return "not a video file (no container format recognised in its first bytes)"
        return f"a damaged or truncated {kind} file"
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        if kind == "MP4/MOV":
            return (
                "a truncated or damaged MP4/MOV file: its index (the moov atom) is missing "
                "or unreadable, as when a recording or a copy stops early"
            )
        if kind is None:
            return "not a video file (no container format FFmpeg knows)"
        return f"a damaged or truncated {kind} file"
    with container:
        if not container.streams.video:
            return "the file holds no video stream"
        stream = container.streams.video[0]
        codec = getattr(stream.codec_context, "name", None) if stream.codec_context else None
        if not codec:
            tag = getattr(stream, "codec_tag", "") or "unknown"
            return f"its video codec ({tag}) is not one this FFmpeg can decode"
        try:
            next(container.decode(stream))
        except StopIteration:
            return f"the {codec} video stream has no frames"
        except (av.error.FFmpegError, OSError):
            return f"the {codec} video stream is damaged: its first frame cannot be decoded"
    return "the decoder refused a file that FFmpeg opens (--debug shows the decoder's message)"


def open_error(path: str) -> DecodeError:
    """The error for a file a backend could not open (raise it ``from`` the backend's)."""
    return DecodeError(f"{path}: cannot open: {diagnose(path)}")


class Deadline:
    """A time limit checked between frames and packets (native decoders cannot be
    interrupted mid-call; the DataLoader's ``timeout`` guards those, see ``datasets``)."""

    def __init__(self, path: str, seconds: float | None):
        self.path = path
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise DecodeTimeout(
                f"{self.path}: decoding ran past its time limit of {self.seconds} s"
            )


@dataclass(frozen=True)
class StreamIndex:
    """Presentation timestamps (stream time base, ascending: frame ``i`` is the ``i``-th
    frame shown) and which frames are keyframes, from one pass over the packets."""

    pts: np.ndarray  # int64 [N], sorted
    keyframes: np.ndarray  # int64 frame indices of keyframes, sorted
    time_base: float
    codec: str = ""

    def __len__(self) -> int:
        return len(self.pts)

    def keyframe_before(self, index: int) -> int:
        """The last keyframe at or before frame ``index`` (0 if none is marked)."""
        k = bisect.bisect_right(self.keyframes, index) - 1
        return int(self.keyframes[k]) if k >= 0 else 0

    @property
    def duration(self) -> float:
        if len(self.pts) < 2:
            return 0.0
        # Last timestamp plus one average frame period.
        span = float(self.pts[-1] - self.pts[0])
        return span * self.time_base * len(self.pts) / (len(self.pts) - 1)

    @property
    def fps(self) -> float:
        duration = self.duration
        return len(self.pts) / duration if duration > 0 else 0.0

    @property
    def is_vfr(self) -> bool:
        """True when frame intervals differ by more than one tick (a variable frame rate)."""
        if len(self.pts) < 3:
            return False
        steps = np.diff(self.pts)
        return int(steps.max() - steps.min()) > 1


class IndexedBackend:
    """Frame count, fps and duration of a backend that holds a packet ``index``."""

    index: StreamIndex

    def __len__(self) -> int:
        return len(self.index)

    @property
    def fps(self) -> float:
        return self.index.fps

    @property
    def duration(self) -> float:
        return self.index.duration


def index_stream(path: str, deadline: Deadline) -> StreamIndex:
    """Reads the packets of the first video stream (no decoding) with PyAV and returns
    their timestamps in presentation order."""
    av = _import_av()
    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise open_error(path) from e
    with container:
        if not container.streams.video:
            raise DecodeError(f"{path}: cannot open: the file holds no video stream")
        stream = container.streams.video[0]
        pts, keys, order = [], [], 0
        try:
            for packet in container.demux(stream):
                deadline.check()
                if packet.size == 0:  # the flush packet at the end
                    continue
                if getattr(packet, "is_discard", False):  # before an edit list's start:
                    continue  # decoded as a reference, never shown (FFmpeg drops it)
                stamp = packet.pts if packet.pts is not None else packet.dts
                pts.append(order if stamp is None else stamp)
                keys.append(packet.is_keyframe)
                order += 1
        except av.error.FFmpegError as e:
            raise DecodeError(
                f"{path}: the video stream is damaged after {len(pts)} packets (truncated "
                "or corrupt data)"
            ) from e
        time_base = float(stream.time_base) if stream.time_base else 1.0
        if stream.codec_context is None:
            raise DecodeError(f"{path}: unknown or damaged video codec")
        codec = stream.codec_context.name
    if not pts:
        raise DecodeError(f"{path}: the video stream has no frames")
    pts = np.asarray(pts, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    sorted_pts = pts[order]
    if np.any(np.diff(sorted_pts) == 0):
        raise DecodeError(f"{path}: two packets share a timestamp; cannot index frames exactly")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    keyframes = np.sort(rank[np.asarray(keys, dtype=bool)])
    return StreamIndex(sorted_pts, keyframes, time_base, codec)


_VALIDATED: dict[tuple[str, int, int], bool] = {}


def validate_stream(path: str, deadline: Deadline) -> None:
    """Decodes every packet once with PyAV's strict error detection (no colour
    conversion) and raises DecodeError naming the file on the first damaged packet or a
    frame whose size differs from the stream's. Results are cached per (path, size,
    mtime) for the life of the process."""
    av = _import_av()
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key in _VALIDATED:
        return
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.options = {"err_detect": "explode"}
            size = (stream.codec_context.width, stream.codec_context.height)
            for packet in container.demux(stream):
                deadline.check()
                for frame in packet.decode():
                    if (frame.width, frame.height) != size:
                        raise DecodeError(
                            f"{path}: damaged stream: a {frame.width}x{frame.height} frame in "
                            f"a {size[0]}x{size[1]} stream"
                        )
    except (av.error.FFmpegError, IndexError, ValueError) as e:
        raise DecodeError(
            f"{path}: damaged stream: FFmpeg's strict decoder rejects its data"
        ) from e
    _VALIDATED[key] = True


def _import_av():
    try:
        import av
    except ImportError as e:
        raise ImportError("this backend needs PyAV: pip install av") from e
    return av


def check_indices(indices, num_frames: int, path: str) -> np.ndarray:
    """Frame indices as int64 [K]; every one must lie in [0, num_frames)."""
    if isinstance(indices, torch.Tensor):
        indices = indices.cpu().numpy()
    array = np.asarray(indices if not isinstance(indices, range) else list(indices))
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"indices must be a 1-D sequence of integers, got {array.dtype} {array.shape}"
        )
    bad = array[(array < 0) | (array >= num_frames)]
    if bad.size:
        raise IndexError(
            f"{path}: frame index {int(bad[0])} is out of range for a video of {num_frames} frames"
        )
    return array.astype(np.int64)


def resize_frames(frames: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of uint8 [T, H, W, 3] to ``size`` = (h, w), or to a short side of
    ``size`` (int) keeping the aspect ratio (rounded to the nearest pixel)."""
    if size is None or frames.shape[0] == 0:
        return frames
    h, w = frames.shape[1:3]
    if isinstance(size, int):
        if h <= w:
            size = (size, max(1, round(w * size / h)))
        else:
            size = (max(1, round(h * size / w)), size)
    size = tuple(int(s) for s in size)
    if size == (h, w):
        return frames
    x = frames.permute(0, 3, 1, 2)  # a channels-last view: torch's fast uint8 path
    y = torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True)
    return y.permute(0, 2, 3, 1).contiguous()
