"""Timing and peak-memory measurement shared by the benchmarks.

Times are medians over repeats after warm-up. CPU peak memory is the rise of the
process's peak resident set (VmHWM, reset through /proc/self/clear_refs) over the
resident set before the call, glibc's free memory trimmed first (``_rss.py``); on CUDA it
is torch's peak allocation over the baseline.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch

from actionkit._plot import pyplot
from actionkit.engine.checkpoint import atomic_write_json as write_json  # noqa: F401

from ._rss import peak_rss_rise


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(fn: Callable[[], object], device: torch.device) -> int | None:
    """Bytes the call needs above what was resident before it (None where unmeasurable)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    return peak_rss_rise(fn)  # (glibc's free memory handed back first: any allocator setting)


def time_ms(
    fns: dict[str, Callable[[], object]], device: torch.device, repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median wall time of each fn() in milliseconds, the variants interleaved round-robin
    so that drift of a shared, noisy machine affects them alike (at least one warm-up)."""
    steps = {name: timed_step(fn, device) for name, fn in fns.items()}
    return time_interleaved(steps, repeats, max(warmup, 1))[0]


def time_interleaved(
    fns: dict[str, Callable[[], float]], repeats: int, warmup: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median ms of step functions that time themselves (each returns its own ms: a step
    run in another process reports the time of the step alone, not of the pipe), run
    round-robin; also each first call's ms (the compile time of a compiled variant)."""
    first = {name: fn() for name, fn in fns.items()}
    for _ in range(warmup - 1):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(fn())
    return {n: statistics.median(t) for n, t in times.items()}, first


def timed_step(fn: Callable[[], object], device: torch.device) -> Callable[[], float]:
    """fn as a step function for time_interleaved."""

    def step() -> float:
        start = time.perf_counter()
        fn()
        _sync(device)
        return (time.perf_counter() - start) * 1e3

    return step


class SideProcess:
    """A peer's side of a benchmark (MMAction2, mmcv): a worker script run by another
    venv's python (dev/PARITY.md), driven over a pipe. It reads one JSON command per
    line and answers one JSON line starting with MARK; other output is log noise."""

    MARK = "@@actionkit "

    def __init__(
        self,
        python: str,
        script: str | Path,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        name: str = "worker",
    ):
        self.name = name
        self.versions = ""
        self.proc = subprocess.Popen(
            [python, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, **cmd) -> dict:
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it has exited; what it printed last may say why
        for line in self.proc.stdout:
            if line.startswith(self.MARK):
                reply = json.loads(line[len(self.MARK) :])
                if "error" in reply:
                    raise RuntimeError(f"{self.name}: {reply['error']}")
                return reply
        raise RuntimeError(f"{self.name} exited (status {self.proc.wait()})")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait()


# glibc hands blocks above 32 MiB back to the kernel on free, so every large tensor
# is a fresh mapping whose first touch page-faults; caching allocators (jemalloc,
# tcmalloc, PyTorch's CUDA allocator) do not. These settings make glibc keep and reuse
# freed memory, taking that cost, which is the same for every variant, out of the ratios.
RETAIN_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**62)}


def retaining_memory() -> bool:
    return all(os.environ.get(k) == v for k, v in RETAIN_ENV.items())


# actionkit's CPU kernels advise outputs of 32 MiB and more as transparent huge pages
# (one page fault per 2 MiB); this setting turns that off.
NO_HUGE_PAGES_ENV = {"ACTIONKIT_HUGE_PAGES": "0"}


def transparent_huge_pages() -> str:
    """The kernel's THP mode ("always", "madvise", "never"), "-" where unknown."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        return text.split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "-"


def environment(device: torch.device) -> dict[str, object]:
    import actionkit

    env = {
        "actionkit": actionkit.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "allocator": "glibc, freed memory retained" if retaining_memory() else "glibc default",
        "huge_page_advice": "off" if os.environ.get("ACTIONKIT_HUGE_PAGES") == "0" else "on",
        "transparent_hugepage": transparent_huge_pages(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.0f}"


def bar_chart(path: str | Path, labels: list[str], series: dict[str, list[float]], unit: str):
    """A horizontal bar chart (stacked when several series) as PNG; None without
    matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.2))
    left = [0.0] * len(labels)
    for name, values in series.items():
        ax.barh(labels, values, left=left, label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)
