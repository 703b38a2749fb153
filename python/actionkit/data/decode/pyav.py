"""PyAV backend: frame-exact random access from a packet index.

Frames are identified by their presentation timestamp, never by counting after a seek.
For sorted requested frames the decoder seeks to the keyframe before the first one,
decodes forward, and seeks again only when the next requested frame lies past the next
keyframe — so each needed GOP is decoded once, and decoding stops after the last
requested frame.

Packets go to the decoder one by one. A packet whose frame nobody asked for and that lies
before the last requested frame is decoded with ``skip_frame = NONREF``: the decoder drops
it if no other frame references it (x264's non-reference B-frames, HEVC's sub-layer
non-reference pictures) and decodes it as usual otherwise, so every frame returned, and
every frame it is predicted from, decodes exactly as in a full decode. Frames after the
last requested one (fed only because the decoder reorders) decode as usual, so the next
call may go on from there: it goes on only when all it asks for lies past what this one
returned, where nothing was dropped. This is on for the codecs where it is tested frame
for frame against a full decode on files that have such frames (``SKIPPING_CODECS``:
H.264, HEVC); others decode every frame — dav1d, for one, drops hidden AV1 frames that a
later shown frame needs (SVT-AV1's), and the VP9 files libvpx writes here have no
unreferenced frames to skip. ``skip_nonref=False`` turns it off (the benchmark's
baseline).
"""

from __future__ import annotations

import numpy as np
import torch

from ._base import (
    Deadline,
    DecodeError,
    IndexedBackend,
    StreamIndex,
    _import_av,
    index_stream,
    open_error,
)

SKIPPING_CODECS = frozenset({"h264", "hevc"})


class PyAVBackend(IndexedBackend):
    name = "pyav"

    def __init__(
        self, path: str, deadline: Deadline, num_threads: int = 1, skip_nonref: bool = True
    ):
        self.av = _import_av()
        self.path = path
        self.index: StreamIndex = index_stream(path, deadline)
        self.num_threads = num_threads
        self._skip = _Skip(skip_nonref and self.index.codec in SKIPPING_CODECS)
        # PyAV >= 17 converts colour on a pool of one swscale thread per CPU unless told:
        # threads in every worker, and a pool that a forked DataLoader worker cannot free
        # (it waits for threads that exist only in the parent: a worker hung on it in CI)
        major = int(self.av.__version__.split(".")[0])
        self._rgb = {"format": "rgb24", **({"threads": num_threads} if major >= 17 else {})}
        self._pts_to_frame = {int(p): i for i, p in enumerate(self.index.pts)}
        self._container = None
        # The live decode: an iterator over decoded frames and the index of the last frame
        # it gave, so a call asking for later frames of the same GOP goes on without seeking.
        self._frames = None
        self._position = -1
        self.frames_decoded = 0  # frames the decoder produced (tests check GOPs decode once)

    def _open(self):
        if self._container is None:
            try:
                self._container = self.av.open(self.path)
            except (self.av.error.FFmpegError, OSError) as e:
                raise open_error(self.path) from e
            stream = self._container.streams.video[0]
            stream.thread_count = self.num_threads
            if self.num_threads > 1:
                stream.thread_type = "AUTO"  # frame threading; slices do nothing for x264
        return self._container

    def close(self) -> None:
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def decode_sorted(self, wanted: np.ndarray, deadline: Deadline) -> torch.Tensor:
        """Decodes the unique, ascending frame indices ``wanted``: uint8 [K, H, W, 3]."""
        out = _Frames(len(wanted), self.path)
        try:
            self._decode_into(wanted, out, deadline)
        except self.av.error.FFmpegError as e:
            self.close()
            raise DecodeError(
                f"{self.path}: decoding frames {int(wanted[0])}..{int(wanted[-1])} failed: "
                "the stream is damaged or truncated there"
            ) from e
        return torch.from_numpy(out.array)

    def _decode_into(self, wanted: np.ndarray, out: _Frames, deadline: Deadline) -> None:
        container = self._open()
        stream = container.streams.video[0]
        index = self.index
        self._skip.wanted_pts = {int(p) for p in index.pts[wanted]}
        self._skip.last_pts = int(index.pts[wanted[-1]])
        i = 0
        while i < len(wanted):
            target = int(wanted[i])
            key = index.keyframe_before(target)
            fresh = self._frames is not None and self._position < 0  # just seeked
            if self._frames is None or not (fresh or key <= self._position < target):
                self._seek(container, stream, key)
            i = self._run(wanted, i, out, deadline)

    def _seek(self, container, stream, key: int) -> None:
        container.seek(int(self.index.pts[key]), stream=stream, backward=True, any_frame=False)
        self._frames = _decode(container, stream, self._skip)
        self._position = -1
        self._key = key

    @property
    def skip_nonref(self) -> bool:
        return self._skip.enabled

    def _run(self, wanted, i, out, deadline) -> int:
        """Decodes forward, filling ``out`` from position ``i`` of ``wanted``; returns the
        position reached when the next wanted frame is better reached by seeking."""
        index = self.index
        first = self._position < 0
        for frame in self._frames:
            deadline.check()
            self.frames_decoded += 1
            if frame.pts is None:
                continue
            got = self._pts_to_frame.get(int(frame.pts))
            if got is None:
                continue
            if first and got > wanted[i] and self._key > 0:
                # The demuxer landed after the frame we need: start from the keyframe before.
                self._seek(
                    self._container,
                    self._container.streams.video[0],
                    index.keyframe_before(self._key - 1),
                )
                return i
            first = False
            self._position = got
            if got < wanted[i]:
                continue
            if got > wanted[i]:
                raise DecodeError(
                    f"{self.path}: the decoder skipped frame {int(wanted[i])} (pts "
                    f"{int(index.pts[wanted[i]])}); the stream is damaged"
                )
            out.put(i, frame.to_ndarray(**self._rgb))
            i += 1
            if i == len(wanted):
                return i
            # Seek again only when the next wanted frame lies past the next keyframe.
            if index.keyframe_before(int(wanted[i])) > got:
                self._frames = None
                return i
        self._frames = None
        raise DecodeError(
            f"{self.path}: the stream ended before frame {int(wanted[i])} of {len(index)} "
            "(truncated or corrupt file)"
        )


class _Skip:
    """What the live decode may skip: set by each call, read by ``_decode`` (which holds
    this and not the backend, so a reader dropped unclosed is freed at once, not left in
    a reference cycle for a garbage collection, possibly in a forked worker)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.wanted_pts: set[int] = set()  # the current call's frames
        self.last_pts = -(2**63)  # ... the last of them


def _decode(container, stream, skip: _Skip):
    """``container.decode(stream)``, packet by packet, the ones before the current call's
    last frame that it does not ask for marked skippable (the module's doc)."""
    context = stream.codec_context
    skipping = None  # the decoder's setting, changed only when it must change
    for packet in container.demux(stream):
        if skip.enabled:
            stamp = packet.pts
            skippable = (
                stamp is not None and stamp < skip.last_pts and int(stamp) not in skip.wanted_pts
            )
            if skippable != skipping:
                context.skip_frame = "NONREF" if skippable else "DEFAULT"
                skipping = skippable
        yield from context.decode(packet)


class _Frames:
    """The output batch, allocated at the first frame's size and filled in place (no list
    of frames and second copy for stacking)."""

    def __init__(self, count: int, path: str):
        self.count, self.path, self.array = count, path, None

    def put(self, i: int, frame: np.ndarray) -> None:
        if self.array is None:
            self.array = np.empty((self.count, *frame.shape), dtype=np.uint8)
        elif frame.shape != self.array.shape[1:]:
            raise DecodeError(
                f"{self.path}: frame sizes change within the stream: {frame.shape} after "
                f"{self.array.shape[1:]}"
            )
        self.array[i] = frame
