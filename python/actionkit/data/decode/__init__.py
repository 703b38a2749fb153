"""Video decoding behind one interface: ``VideoReader(path, backend="auto")``.

>>> reader = VideoReader("clip.mp4")
>>> len(reader), reader.fps, reader.duration
>>> frames = reader.get_frames([0, 8, 16, 8])      # uint8 [4, H, W, 3], RGB

Backends (each an optional extra; ``available_backends()`` lists what is installed):

============  =====================================  ===========================
``backend``   decodes                                device
============  =====================================  ===========================
torchcodec    any FFmpeg codec                        CPU (``cuda``: NVDEC)
pyav          any FFmpeg codec                        CPU
dali          H.264/HEVC/AV1/VP9... on the GPU;       CUDA (frames stay there);
              VP9/VP8/MJPEG on the CPU                CPU
rawframes     a folder of ``img_00001.jpg``...        CPU
============  =====================================  ===========================

``"auto"`` takes a rawframe folder for a directory, and otherwise the fastest installed
backend for the device: on CUDA DALI, then torchcodec, then PyAV (its frames moved to
the GPU); on the CPU torchcodec, then PyAV.

Every backend is frame-exact for any index list (unsorted, repeated): frame ``i`` is the
``i``-th frame in presentation order, as one sequential decode yields them. Frame counts
come from the stream's packets, never from the container header. Each requested frame is
decoded once; each ``get_frames`` call runs under ``timeout`` seconds (checked between
frames and packets; a native call that never returns is caught by the DataLoader's
``timeout``, which ``actionkit.data.datasets.make_loader`` sets). Colour conversion is
each library's own: torchcodec, PyAV and FFmpeg agree exactly on the files we test, while
DALI differs from them by about 1-4/255 on average (chroma upsampling).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import torch

from ...errors import UsageError
from ._base import Deadline, DecodeError, DecodeTimeout, check_indices, resize_frames

__all__ = ["DecodeError", "DecodeTimeout", "VideoReader", "available_backends"]

BACKENDS = ("torchcodec", "pyav", "dali", "rawframes")


_LOADS: dict[str, bool] = {}


def _loads(module: str) -> bool:
    """Whether ``module`` imports (torchcodec, say, is installed but cannot load without
    FFmpeg's shared libraries or with a torch it was not built for). Cached."""
    if module not in _LOADS:
        try:
            if importlib.util.find_spec(module.split(".")[0]) is None:
                _LOADS[module] = False
            else:
                importlib.import_module(module)
                _LOADS[module] = True
        except Exception:  # any failure to load means: not available
            _LOADS[module] = False
    return _LOADS[module]


_MODULES = {  # backend -> the modules it needs
    "torchcodec": ("torchcodec.decoders",),
    "pyav": ("av",),
    "dali": ("av", "nvidia.dali.experimental.dynamic"),
    "rawframes": (),  # Pillow or PyTurboJPEG, checked when a folder is read
}


def _usable(backend: str) -> bool:
    return all(_loads(m) for m in _MODULES[backend])


def available_backends() -> list[str]:
    """The backends whose libraries are installed and load (imports them)."""
    return [b for b in BACKENDS if _usable(b)]


def _auto(path: str, device: torch.device) -> str:
    if os.path.isdir(path):
        return "rawframes"
    order = ("dali", "torchcodec", "pyav") if device.type == "cuda" else ("torchcodec", "pyav")
    for name in order:
        if _usable(name):
            return name
    raise ImportError(
        "no video decoder is installed: pip install av (PyAV) or torchcodec; see the README"
    )


class VideoReader:
    """Random access to the frames of one video file (or rawframe folder).

    Args:
        path: the video file, or a folder of frames for ``backend="rawframes"``.
        backend: ``"auto"``, ``"torchcodec"``, ``"pyav"``, ``"dali"`` or ``"rawframes"``.
        device: where ``get_frames`` returns frames; ``"cuda"`` decodes on the GPU with
            DALI or torchcodec (other backends decode on the CPU and copy).
        size: optional output size: ``(h, w)``, or an int for the short side (keeps the
            aspect ratio). Bilinear with antialiasing, on uint8.
        timeout: seconds each call (opening, ``get_frames``) may take; ``None`` for no limit.
        num_threads: decoder threads (1 suits DataLoader workers).
        **options: backend options (rawframes: ``filename_tmpl``, ``start_index``, ``fps``).

    Raises ``FileNotFoundError`` for a missing path and :class:`DecodeError` (naming the
    file) for anything that cannot be opened or decoded.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        backend: str = "auto",
        device: str | torch.device = "cpu",
        size: int | tuple[int, int] | None = None,
        timeout: float | None = 60.0,
        num_threads: int = 1,
        **options,
    ):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.path}: no such file or folder")
        self.device = torch.device(device)
        if backend == "auto":
            backend = _auto(self.path, self.device)
        if backend not in BACKENDS:
            raise UsageError(f"backend must be 'auto' or one of {BACKENDS}, got {backend!r}")
        self.size = size
        self.timeout = timeout
        deadline = Deadline(self.path, timeout)
        if backend == "pyav":
            from .pyav import PyAVBackend

            self._impl = PyAVBackend(self.path, deadline, num_threads, **options)
        elif backend == "torchcodec":
            from .torchcodec import TorchCodecBackend

            self._impl = TorchCodecBackend(self.path, deadline, num_threads, self.device, **options)
        elif backend == "dali":
            from .dali import DALIBackend

            self._impl = DALIBackend(self.path, deadline, num_threads, self.device, **options)
        else:
            from .rawframes import RawframeBackend

            self._impl = RawframeBackend(self.path, deadline, **options)
        self.backend = backend

    def __len__(self) -> int:
        return len(self._impl)

    @property
    def fps(self) -> float:
        """Average frames per second (frames / duration, from the timestamps)."""
        return self._impl.fps

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return self._impl.duration

    def get_frames(self, indices) -> torch.Tensor:
        """Frames at ``indices`` (any order, repeats allowed): uint8 ``[K, H, W, 3]`` RGB
        on ``device``. Each distinct frame is decoded once."""
        wanted = check_indices(indices, len(self), self.path)
        if wanted.size == 0:  # [0, H, W, 3]: the frame size from one decoded frame
            if len(self) == 0:
                return torch.zeros(0, 0, 0, 3, dtype=torch.uint8, device=self.device)
            wanted = np.zeros(1, dtype=np.int64)
            return self.get_frames(wanted)[:0]
        unique, inverse = np.unique(wanted, return_inverse=True)
        frames = self._impl.decode_sorted(unique, Deadline(self.path, self.timeout))
        if frames.device != self.device:
            frames = frames.to(self.device, non_blocking=True)
        if len(unique) != len(wanted) or not np.array_equal(unique, wanted):
            frames = frames[torch.from_numpy(inverse.reshape(-1)).to(frames.device)]
        return resize_frames(frames, self.size)

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"VideoReader({self.path!r}, backend={self.backend!r}, frames={len(self)}, "
            f"fps={self.fps:.3f})"
        )
