"""Which ops have a compiled kernel for which device, for the reference fallback."""

import warnings
from collections import Counter

import torch

from .. import _extension  # noqa: F401  (registers the ops)

# Read once at import: plain data that torch.compile can trace through.
_COMPILED = {
    device: {
        name.split("::", 1)[1]
        for name in torch._C._dispatch_get_all_op_names()
        if name.startswith("actionkit::")
        and torch._C._dispatch_has_kernel_for_dispatch_key(name, key)
    }
    for device, key in (("cpu", "CPU"), ("cuda", "CUDA"))
}
_FALLBACKS: Counter = Counter()  # (op, device type) -> calls that ran the reference


def has_kernel(op: str, device: torch.device) -> bool:
    """True if torch.ops.actionkit.<op> has a compiled kernel for `device`'s type; else the
    caller runs the pure-PyTorch reference, which is counted (:func:`fallbacks`) and said
    in one warning per op and device type.

    Meta and fake tensors count as covered: their kernels are registered in Python.
    """
    if device.type == "meta" or op in _COMPILED.get(device.type, ()):
        return True
    if not torch.compiler.is_compiling():
        key = (op, device.type)
        if not _FALLBACKS[key]:
            warnings.warn(
                f"actionkit.ops.{op}: this build has no {device.type} kernel for it; running "
                "the pure-PyTorch reference instead (same results, slower)",
                stacklevel=3,
            )
        _FALLBACKS[key] += 1
    return False


def fallbacks() -> dict[tuple[str, str], int]:
    """How often each (op, device type) ran the reference fallback in this process."""
    return dict(_FALLBACKS)
