"""Reading ``.pth`` files as data, never as code.

Every checkpoint a user hands actionkit is read with ``torch.load(weights_only=True)``.
Two kinds of objects beyond tensors are let through, neither of which runs code:
numpy arrays, scalars and dtypes (RNG states, OpenMMLab metadata) as real numpy
objects, and the classes of OpenMMLab's own packages that its checkpoints keep in
``meta`` / ``message_hub`` (mmengine's ``HistoryBuffer``, ...) as inert placeholders
that only hold their arguments. A file that names anything else — ``os.system`` in a
``__reduce__`` payload — is refused with :class:`UntrustedCheckpointError`. Unpickling
arbitrary objects takes an explicit ``trust=True`` (``trust_checkpoint=True``,
``--trust-checkpoint``), with a warning.
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError

log = logging.getLogger("actionkit")

# Packages whose classes OpenMMLab checkpoints hold outside their weights.
PLACEHOLDER_PACKAGES = ("mmengine.", "mmcv.", "mmaction.", "mmdet.", "mmpose.", "numpy.")
TRUST_HINT = (
    "pass trust_checkpoint=True (--trust-checkpoint on the command line) only if you trust "
    "where the file came from: unpickling can run any code it holds"
)


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint whose pickle names code to call rather than data to read."""


class Placeholder:
    """Stands for an object of a class a checkpoint names but actionkit does not import:
    keeps the arguments and state it was built with, does nothing else."""

    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<placeholder for {self.qualname}>"


def _numpy_globals() -> dict[str, Any]:
    """numpy's reconstruction functions under the names numpy 1.x and 2.x pickle them by."""
    core = np._core if hasattr(np, "_core") else np.core
    found: dict[str, Any] = {"numpy.dtype": np.dtype, "numpy.ndarray": np.ndarray}
    for prefix in ("numpy.core.multiarray", "numpy._core.multiarray"):
        found[f"{prefix}._reconstruct"] = core.multiarray._reconstruct
        found[f"{prefix}.scalar"] = core.multiarray.scalar
    for name in dir(np.dtypes):  # dtype classes (numpy >= 1.25 names them in pickles)
        cls = getattr(np.dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            found[f"numpy.dtypes.{name}"] = cls
    return found


def _placeholder(qualname: str) -> type:
    return type(qualname.rsplit(".", 1)[-1], (Placeholder,), {"qualname": qualname})


def load(path: str | os.PathLike, trust: bool = False, placeholders: bool = True) -> Any:
    """The object in the checkpoint file ``path``, on the CPU, read as data (see the
    module docstring). ``placeholders=False`` refuses OpenMMLab classes too (for files
    actionkit wrote itself). Raises :class:`UntrustedCheckpointError` naming the file,
    the code it names and the opt-in."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):  # tensors only by the format's design: nothing to trust
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise CheckpointError(
                f"{path}: reading .safetensors files needs the safetensors package "
                "(pip install 'actionkit[hf]')"
            ) from None
        try:
            return load_file(path, device="cpu")
        except Exception as e:  # SafetensorError: a header or size that does not parse
            raise CheckpointError(f"{path}: not a safetensors file ({e})") from None
    if trust:
        warnings.warn(
            f"{path}: loaded with trust_checkpoint=True, which runs any code the file holds",
            stacklevel=2,
        )
        return torch.load(path, map_location="cpu", weights_only=False)
    numpy_globals = _numpy_globals()
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (RuntimeError, ValueError, pickle.UnpicklingError):
        unsafe = []  # not a zip checkpoint: torch.load below names what it refuses
    allowed = [(numpy_globals[n], n) for n in unsafe if n in numpy_globals]
    if allowed:  # a dtype is built as an instance of its class, which the file never names
        allowed += [(v, n) for n, v in numpy_globals.items() if n.startswith("numpy.dtypes.")]
    others = [n for n in unsafe if n not in numpy_globals]
    refused = [n for n in others if not (placeholders and n.startswith(PLACEHOLDER_PACKAGES))]
    if refused:
        raise UntrustedCheckpointError(
            f"{path}: refusing to unpickle {', '.join(refused[:3])}"
            f"{' and more' if len(refused) > 3 else ''} — a checkpoint holds data, and this "
            f"one names code to call; {TRUST_HINT}"
        )
    allowed += [(_placeholder(n), n) for n in others]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e).strip()
        if "Weights only load failed" not in text:
            raise CheckpointError(f"{path}: not a checkpoint ({text[:200]})") from None
        detail = next((line for line in text.splitlines() if "GLOBAL" in line), "")
        raise UntrustedCheckpointError(
            f"{path}: refused: a checkpoint holds data, and this one holds objects that are "
            f"not{' (' + detail.strip()[:150] + ')' if detail else ''}; {TRUST_HINT}"
        ) from None
    except (KeyError, IndexError, EOFError, RuntimeError) as e:  # not a pickle at all
        raise CheckpointError(f"{path}: not a checkpoint ({type(e).__name__}: {e})") from None
