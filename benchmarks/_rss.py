"""The rise of a process's peak resident set over one call, for the benchmarks and their
side-venv workers alike (no imports beyond the standard library: the workers run in
MMAction2's venv). Linux only: VmHWM is reset to the current RSS through
/proc/self/clear_refs before the call, after glibc has handed the memory it keeps free
back to the kernel (``malloc_trim``): otherwise a step run before would leave its freed
blocks resident and the next step would reuse them unseen."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable


def proc_status(field: str) -> int:
    """A /proc/self/status field in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def peak_rss_rise(fn: Callable[[], object]) -> int | None:
    """Bytes the call needed above the resident set before it (None where unmeasurable)."""
    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        base = proc_status("VmRSS")
        fn()
        return max(proc_status("VmHWM") - base, 0)
    except OSError:
        return None
