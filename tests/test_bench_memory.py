"""The benchmarks' CPU peak memory (benchmarks/_rss.py): the rise of the peak resident
set over a call, also when an earlier call freed memory the allocator kept."""

import sys

import pytest
import torch

from benchmarks._rss import peak_rss_rise

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self is Linux's")

MIB = 2**20


def step() -> None:
    x = torch.ones(64 * MIB // 4)  # 64 MiB, touched
    y = x * 2  # another 64 MiB while x lives
    del x, y


def test_peak_rss_rise_sees_a_steps_memory_after_earlier_steps():
    for _ in range(3):  # the first call and the ones that could reuse its freed blocks
        rise = peak_rss_rise(step)
        if rise is None:
            pytest.skip("/proc/self/clear_refs is not writable here")
        assert 120 * MIB <= rise <= 160 * MIB, rise / MIB
