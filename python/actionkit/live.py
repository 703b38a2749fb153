"""Recognition on a live source (``actionkit-infer --camera``): a V4L2 camera, an RTSP /
HTTP / UDP stream, or anything else FFmpeg opens, read through PyAV.

Two threads share the frames. The reader (the caller's thread) decodes the source at its
own frame rate — a stream read faster than real time (a file served over HTTP) is paced
by its timestamps, as a camera paces itself — keeps the last ``window`` seconds of
frames, and draws on each frame the latest result; a frame that comes later than one
frame period behind its time is not drawn (counted as dropped), so the picture stays
live when drawing or encoding cannot keep up. The recognizer thread classifies the
newest window whenever it is free, through the model's test pipeline, and averages the
last ``average`` results; it runs at whatever rate the model allows and never holds the
reader up. The run ends at the end of the stream or on Ctrl-C, either way with the
output file closed properly and the counts reported.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .data.decode import DecodeError
from .errors import UsageError


@dataclass
class LiveStats:
    """What a live run did: frames decoded, drawn and dropped (not drawn: late), windows
    classified, their mean time, what ended the run (``"end of stream"``, ``"Ctrl-C"``
    or ``"--max-seconds"``), and every result as ``(seconds into the stream, scores)``."""

    frames: int = 0
    drawn: int = 0
    dropped: int = 0
    inferences: int = 0
    inference_seconds: float = 0.0
    ended: str = "end of stream"
    results: list = field(default_factory=list)

    def summary(self) -> str:
        rate = self.inference_seconds / self.inferences if self.inferences else float("nan")
        return (
            f"{self.frames} frames read, {self.drawn} drawn, {self.dropped} dropped (late); "
            f"{self.inferences} windows classified, {rate * 1000:.0f} ms each; ended by "
            f"{self.ended}"
        )


def open_source(source: str, options: dict | None = None):
    """``av.open`` of a camera index (``0`` -> ``/dev/video0`` through V4L2) or a URL /
    path FFmpeg understands; RTSP over TCP unless ``options`` says otherwise."""
    try:
        import av
    except ImportError as e:
        raise ImportError("--camera reads through PyAV: pip install av") from e
    options = dict(options or {})
    kwargs = {}
    if source.isdigit():
        source, kwargs["format"] = f"/dev/video{source}", "v4l2"
    elif source.startswith("rtsp://"):
        options.setdefault("rtsp_transport", "tcp")
    try:
        return av.open(source, options=options, timeout=10.0, **kwargs)
    except (av.error.FFmpegError, OSError) as e:
        raise DecodeError(f"--camera: cannot open {source}: {e}") from e


class _Recognizer(threading.Thread):
    """Classifies the windows it is handed, one at a time, and keeps the mean of the
    last ``average`` results. The reader hands a window only when this thread is idle,
    so windows are never queued (nor copied for nothing)."""

    def __init__(self, model: nn.Module, average: int, fps: float, stats: LiveStats):
        super().__init__(name="actionkit-live-recognizer", daemon=True)
        self.model, self.fps, self.stats = model, fps, stats
        self.recent = collections.deque(maxlen=average)
        self.latest: torch.Tensor | None = None
        self.pending: tuple[float, np.ndarray] | None = None
        self.busy = False
        self.cond = threading.Condition()
        self.stopping = False
        self.error: BaseException | None = None

    def idle(self) -> bool:
        with self.cond:
            return not self.busy and self.pending is None

    def submit(self, when: float, frames: np.ndarray) -> None:
        with self.cond:
            self.pending = (when, frames)
            self.cond.notify()

    def stop(self, finish: bool) -> None:
        """Ends the thread: after the window handed last (``finish``), or at once."""
        with self.cond:
            self.stopping = True
            if not finish:
                self.pending = None
            self.cond.notify()

    def run(self) -> None:
        from .apis import predict_frames

        try:
            while True:
                with self.cond:
                    while self.pending is None and not self.stopping:
                        self.cond.wait()
                    if self.pending is None:
                        return
                    (when, frames), self.pending = self.pending, None
                    self.busy = True
                start = time.perf_counter()
                scores = predict_frames(
                    self.model, lambda i, f=frames: torch.from_numpy(f[i]), len(frames), self.fps
                )
                self.recent.append(scores)
                mean = torch.stack(list(self.recent)).mean(0)
                with self.cond:
                    self.latest, self.busy = mean, False
                    self.stats.inferences += 1
                    self.stats.inference_seconds += time.perf_counter() - start
                    self.stats.results.append((when, mean))
        except BaseException as e:  # raised again in the reader's thread
            with self.cond:
                self.error, self.busy = e, False


def run_live(
    model: nn.Module,
    source: str,
    window: float = 2.0,
    average: int = 1,
    draw: Callable[[np.ndarray, torch.Tensor | None], np.ndarray] | None = None,
    write: Callable[[np.ndarray, float], None] | None = None,
    on_result: Callable[[float, torch.Tensor], None] | None = None,
    max_seconds: float | None = None,
    options: dict | None = None,
) -> LiveStats:
    """Runs recognition on ``source`` (see the module's docstring) until its end, Ctrl-C
    or ``max_seconds`` of stream time. ``draw(frame, scores or None)`` makes the picture
    of a frame and ``write(picture, fps)`` shows or stores it (neither runs for dropped
    frames); ``on_result(seconds, scores)`` hears of each new averaged result, in the
    reader's thread. The last window is classified once more at the end of the stream."""
    if not window > 0 or average < 1:
        raise UsageError(
            f"--window must be positive and --average at least 1, got {window} and {average}"
        )
    import av

    stats = LiveStats()
    container = open_source(source, options)
    if not container.streams.video:
        container.close()
        raise DecodeError(f"--camera: {source} has no video stream")
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.guessed_rate or 30)
    keep = max(1, round(window * fps))
    frames = collections.deque(maxlen=keep)
    recognizer = _Recognizer(model, average, fps, stats)
    recognizer.start()
    reported, started, first, at = 0, None, 0.0, 0.0

    def report() -> torch.Tensor | None:
        nonlocal reported
        with recognizer.cond:
            if recognizer.error is not None:
                raise recognizer.error
            latest, fresh = recognizer.latest, stats.results[reported:]
            reported = len(stats.results)
        for when, scores in fresh:
            if on_result is not None:
                on_result(when, scores)
        return latest

    try:
        for frame in container.decode(stream):
            image = frame.to_ndarray(format="rgb24")
            at = frame.time if frame.time is not None else stats.frames / fps
            stats.frames += 1
            if started is None:
                started, first = time.perf_counter() - at, at
            frames.append(image)
            if len(frames) == keep and recognizer.idle():
                recognizer.submit(at, np.stack(frames))
            latest = report()
            delay = started + at - time.perf_counter()
            if delay > 0:  # faster than real time: wait for the frame's time
                time.sleep(delay)
            if -delay > 1 / fps:  # more than a frame late: not drawn
                stats.dropped += 1
            else:
                if draw is not None and write is not None:
                    write(draw(image, latest), fps)
                stats.drawn += 1
            if max_seconds is not None and at - first >= max_seconds:
                stats.ended = "--max-seconds"
                break
        if frames:  # the stream's end: its last window (all of it, if shorter)
            recognizer.submit(at, np.stack(frames))
    except KeyboardInterrupt:
        stats.ended = "Ctrl-C"
    except av.error.FFmpegError as e:
        raise DecodeError(f"--camera: {source}: {e}") from e
    finally:
        recognizer.stop(finish=stats.ended != "Ctrl-C")
        recognizer.join()
        container.close()
    report()
    return stats
