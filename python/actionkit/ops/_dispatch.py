"""Which ops have a compiled kernel for which device, for the reference fallback."""

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


def has_kernel(op: str, device: torch.device) -> bool:
    """True if torch.ops.actionkit.<op> has a compiled kernel for `device`'s type.

    Meta and fake tensors count as covered: their kernels are registered in Python.
    """
    if device.type == "meta":
        return True
    return op in _COMPILED.get(device.type, ())
