"""Whether the compiled library has a kernel for a device, for the reference fallback."""

import torch

from .. import _extension  # noqa: F401  (registers the ops)


def has_kernel(op: str, device: torch.device) -> bool:
    """True if torch.ops.actionkit.<op> has a compiled kernel for `device`'s type.

    Meta and fake tensors count as covered: their kernels are registered in Python.
    """
    if device.type == "meta":
        return True
    key = {"cpu": "CPU", "cuda": "CUDA"}.get(device.type)
    return key is not None and torch._C._dispatch_has_kernel_for_dispatch_key(f"actionkit::{op}", key)
