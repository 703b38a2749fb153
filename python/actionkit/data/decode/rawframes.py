"""Rawframe folders: one JPEG per frame, named as MMAction2's extraction names them
(``img_00001.jpg``, 1-based). Decoded by libjpeg-turbo through PyTurboJPEG (``pip install
"PyTurboJPEG<2"`` plus the system ``libturbojpeg``), or by Pillow when that is missing.

Optical flow (``modality="flow"``): frame ``k`` is the pair ``flow_x_0000k.jpg`` /
``flow_y_0000k.jpg`` (``filename_tmpl="flow_{}_{:05d}.jpg"``, denseflow's names; MMAction2's
``flow_extraction.py`` writes ``x_0000k.jpg``: ``"{}_{:05d}.jpg"``; grey images quantised
around 128), returned as a three-channel frame ``(x, y,
128)`` so the geometric transforms treat it as any frame; ``FormatShape(flow=True)``
drops the third channel."""

from __future__ import annotations

import os
import re

import numpy as np
import torch

from ...errors import UsageError
from ._base import Deadline, DecodeError


def _turbojpeg():
    try:
        from turbojpeg import TJPF_RGB, TurboJPEG

        return TurboJPEG(), TJPF_RGB
    except (ImportError, OSError, RuntimeError):  # not installed, or no libturbojpeg
        return None


_TURBO = None
_TJPF_GRAY = 6  # turbojpeg's TJPF_GRAY


def _decoder():
    global _TURBO
    if _TURBO is None:
        _TURBO = _turbojpeg() or False
    return _TURBO


def _template_regex(template: str) -> re.Pattern:
    head, sep, tail = template.partition("{")
    if not sep or "}" not in tail:
        raise UsageError(f"filename_tmpl must contain one '{{}}' field, got {template!r}")
    _, tail = tail.split("}", 1)
    return re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")


class RawframeBackend:
    name = "rawframes"

    def __init__(
        self,
        path: str,
        deadline: Deadline,
        filename_tmpl: str = "img_{:05d}.jpg",
        start_index: int = 1,
        fps: float = 30.0,
        use_turbojpeg: bool = True,
        modality: str = "rgb",
    ):
        if modality not in ("rgb", "flow"):
            raise UsageError(f"modality must be 'rgb' or 'flow', got {modality!r}")
        self.path = path
        self.flow = modality == "flow"
        if self.flow:  # the x files name the frames; flow_{}_{:05d}.jpg -> flow_x_{:05d}.jpg
            if filename_tmpl.count("{}") != 1 or filename_tmpl.count("{") != 2:
                raise UsageError(
                    "filename_tmpl for flow must have a '{}' for x / y and a frame number "
                    f"field, e.g. 'flow_{{}}_{{:05d}}.jpg'; got {filename_tmpl!r}"
                )
            self.pair = filename_tmpl
            filename_tmpl = filename_tmpl.replace("{}", "x", 1)
        self.template = filename_tmpl
        self.start_index = start_index
        self._fps = float(fps)
        if not os.path.isdir(path):
            raise DecodeError(f"{path}: not a rawframe folder")
        pattern = _template_regex(filename_tmpl)
        numbers = sorted(int(m.group(1)) for name in os.listdir(path) if (m := pattern.match(name)))
        deadline.check()
        if not numbers:
            raise DecodeError(f"{path}: no frames named like {filename_tmpl!r}")
        if numbers[0] != start_index:
            first = filename_tmpl.format(start_index)
            raise DecodeError(f"{path}: the first frame {first} is missing")
        expected = np.arange(start_index, start_index + len(numbers))
        gaps = np.nonzero(np.asarray(numbers) != expected)[0]
        if gaps.size:
            missing = filename_tmpl.format(int(expected[gaps[0]]))
            raise DecodeError(
                f"{path}: frame {missing} is missing (frames must be numbered without gaps)"
            )
        self._len = len(numbers)
        self._turbo = _decoder() if use_turbojpeg else False
        self.decoder_name = "turbojpeg" if self._turbo else "pillow"

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def duration(self) -> float:
        return self._len / self._fps

    def close(self) -> None:
        pass

    def file(self, index: int) -> str:
        return os.path.join(self.path, self.template.format(index + self.start_index))

    def decode_sorted(self, wanted: np.ndarray, deadline: Deadline) -> torch.Tensor:
        frames = []
        for i in wanted.tolist():
            deadline.check()
            if self.flow:
                k = i + self.start_index
                x, y = (
                    self._read(os.path.join(self.path, self.pair.format(c, k)), True) for c in "xy"
                )
                if x.shape != y.shape:
                    raise DecodeError(f"{self.path}: flow {k}'s x and y images differ in size")
                frames.append(np.stack([x, y, np.full_like(x, 128)], axis=-1))
            else:
                frames.append(self._read(self.file(i)))
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise DecodeError(f"{self.path}: frames differ in size: {sorted(shapes)}")
        return torch.from_numpy(np.stack(frames))

    def _read(self, file: str, grey: bool = False) -> np.ndarray:
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError as e:
            raise DecodeError(f"{file}: cannot read: {e}") from e
        try:
            if self._turbo:
                turbo, rgb = self._turbo
                image = turbo.decode(data, pixel_format=_TJPF_GRAY if grey else rgb)
            else:
                import io

                from PIL import Image

                with Image.open(io.BytesIO(data)) as im:
                    image = np.asarray(im.convert("L" if grey else "RGB"))
        except Exception as e:  # both libraries raise assorted types on corrupt files
            raise DecodeError(f"{file}: not a decodable image: {e}") from e
        if grey:
            return image.reshape(image.shape[:2])
        if image.ndim != 3 or image.shape[2] != 3:
            raise DecodeError(f"{file}: decoded to shape {image.shape}, expected H x W x 3")
        return image
