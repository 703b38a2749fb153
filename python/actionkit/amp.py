"""Mixed precision: the autocast context of training and evaluation, and the guard against
a oneDNN bug that corrupts Conv3d weight gradients under CPU bfloat16 autocast.

On x86 CPUs whose oneDNN runs its AVX-512 bf16 convolution kernels (AVX512-BF16 without
AMX, e.g. AMD Zen 4, Intel Cooper Lake; plain AVX-512, e.g. Skylake-X to Ice Lake),
torch 2.13/2.14's bf16 ``Conv3d`` weight gradient is wrong when a layer's input is
shorter in time than its kernel (``T=2`` under a 3-tap kernel, as in the late stages of
I3D, R(2+1)D and SlowFast): NaN/inf, or finite values off by 100%; some shapes crash
the process. Forward and input gradient are right. So, once per process, a child
process (a crash there costs nothing here) runs the kernel on such shapes and compares
it with a float64 reference; where it is wrong, :class:`Conv3d` runs in float32 while
training under CPU bf16 autocast (everything else stays bf16). ``dev/onednn_bf16_conv3d.py``
is the upstream-ready reproduction; the README's "Known issues" has the measurements.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .errors import UsageError

logger = logging.getLogger("actionkit")

ENV = "ACTIONKIT_CPU_BF16_CONV3D"  # auto (probe), fp32 or native
TOLERANCE = 0.05  # relative error of the probe's weight gradient (bf16 rounding: ~0.3%)


def autocast(device: torch.device, amp: str):
    """The autocast context for ``train.amp`` (``"none"``, ``"bf16"`` or ``"fp16"``)."""
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


@dataclass(frozen=True)
class Conv3dCheck:
    """What :class:`Conv3d` does when it trains under CPU bf16 autocast, and why.

    ``mode``: ``"native"`` (oneDNN's bf16 kernels) or ``"fp32"`` (the workaround) in the
    default memory format; ``mode_channels_last``: the same for ``channels_last_3d``
    (oneDNN runs other kernels there; default: ``mode``).
    ``broken``: the probe found the bf16 weight gradient wrong (``None``: not probed).
    ``max_rel_error``: the probe's worst relative error (``inf`` for non-finite values).
    """

    mode: str
    broken: bool | None
    reason: str
    max_rel_error: float | None = None
    seconds: float = 0.0
    mode_channels_last: str | None = None

    def __post_init__(self):
        if self.mode_channels_last is None:
            object.__setattr__(self, "mode_channels_last", self.mode)


_check: Conv3dCheck | None = None

# Run in a child process, in both memory formats: inputs shorter in time than the kernel,
# one per kernel size, and a depthwise one (CSN's); the broken kernels get each wrong.
_PROBE = r"""
import json, sys, torch
torch.set_num_threads(int(sys.argv[1]))
CASES = [((3, 1, 1), 2, 1), ((3, 3, 3), 2, 1), ((5, 1, 1), 3, 1), ((2, 1, 1), 1, 1),
         ((3, 3, 3), 2, 64)]  # (kernel, frames, groups)
results = {}
for fmt in ("contiguous", "channels_last"):
    worst, nonfinite, cases = 0.0, 0, 0
    for kernel, t, groups in CASES:
        for seed in (0, 1):
            cases += 1
            torch.manual_seed(seed)
            pad = tuple(k // 2 for k in kernel)
            conv = torch.nn.Conv3d(64, 64, kernel, padding=pad, groups=groups, bias=False)
            x = torch.randn(2, 64, t, 4, 4)
            if fmt == "channels_last":
                conv = conv.to(memory_format=torch.channels_last_3d)
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = conv(x)
            dy = torch.randn(y.shape).bfloat16()
            y.backward(dy)
            got = conv.weight.grad.double()
            ref = torch.ops.aten.convolution_backward(
                dy.double(), x.bfloat16().double(), conv.weight.detach().bfloat16().double(),
                None, [1, 1, 1], list(pad), [1, 1, 1], False, [0, 0, 0], groups,
                [False, True, False],
            )[1]
            if not torch.isfinite(got).all():
                nonfinite += 1
                worst = float("inf")
            else:
                worst = max(worst, ((got - ref).norm() / ref.norm()).item())
    results[fmt] = {"max_rel_error": worst, "nonfinite": nonfinite, "cases": cases}
print(json.dumps(results))
"""


def probe_cpu_bf16_conv3d() -> Conv3dCheck:
    """Runs oneDNN's bf16 Conv3d weight gradient on the shapes it gets wrong where it is
    broken, in a child process, against a float64 reference. Not cached: see
    :func:`cpu_bf16_conv3d`."""
    start = time.perf_counter()
    cmd = [sys.executable, "-c", _PROBE, str(torch.get_num_threads())]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Conv3dCheck("fp32", None, f"the probe could not run ({e}): float32 to be safe")
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        how = (
            f"died of signal {-done.returncode}"
            if done.returncode < 0
            else f"failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}"
        )
        broken = done.returncode < 0  # a crash in the kernel is the bug; other errors are not
        return Conv3dCheck("fp32", broken if broken else None, f"the probe {how}", None, seconds)
    try:
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return Conv3dCheck("fp32", None, f"the probe said {done.stdout[-200:]!r}", None, seconds)
    modes, findings = {}, []
    for fmt, result in results.items():
        err, bad = result["max_rel_error"], result["nonfinite"]
        wrong = bad or err > TOLERANCE
        modes[fmt] = "fp32" if wrong else "native"
        what = f"{bad} of {result['cases']} cases non-finite" if bad else f"error {err:.2g}"
        where = {"contiguous": "the default memory format", "channels_last": "channels-last"}
        findings.append(f"{'wrong' if wrong else 'right'} in {where[fmt]} ({what})")
    worst = max(r["max_rel_error"] for r in results.values())
    broken = "fp32" in modes.values()
    reason = "oneDNN's bf16 weight gradient is " + ", ".join(findings)
    return Conv3dCheck(modes["contiguous"], broken, reason, worst, seconds, modes["channels_last"])


def cpu_bf16_conv3d() -> Conv3dCheck:
    """How :class:`Conv3d` trains under CPU bf16 autocast in this process, decided once:
    by ``ACTIONKIT_CPU_BF16_CONV3D`` (``fp32`` or ``native``) when set, else by the probe
    (about 2 s, in a child process). Logged once on the ``actionkit`` logger."""
    global _check
    if _check is None:
        choice = os.environ.get(ENV, "auto")
        if choice not in ("auto", "fp32", "native"):
            raise UsageError(f"{ENV}={choice!r}: expected auto, fp32 or native")
        if choice == "auto":
            _check = probe_cpu_bf16_conv3d()
        else:
            _check = Conv3dCheck(choice, None, f"{ENV}={choice}")
        logger.info(describe(_check))
    return _check


def set_cpu_bf16_conv3d(mode: str | None) -> Conv3dCheck | None:
    """Sets the mode (``"fp32"`` or ``"native"``) for this process without probing, or
    with ``None`` forgets the decision (the next use decides again). Returns the previous
    decision. For tests and for users who know their machine."""
    global _check
    if mode not in (None, "fp32", "native"):
        raise ValueError(f"mode: expected 'fp32', 'native' or None, got {mode!r}")
    previous = _check
    _check = None if mode is None else Conv3dCheck(mode, None, "set_cpu_bf16_conv3d")
    return previous


def describe(check: Conv3dCheck) -> str:
    """One log line: what Conv3d does under CPU bf16 autocast and why."""
    formats = {check.mode, check.mode_channels_last}
    if formats == {"native"}:
        action = "Conv3d trains in bf16 (oneDNN)"
    elif formats == {"fp32"}:
        action = "Conv3d layers that train run in float32, the rest in bf16"
    else:
        fp32 = "channels-last" if check.mode_channels_last == "fp32" else "default-format"
        action = f"{fp32} Conv3d layers that train run in float32, the rest in bf16"
    took = f", probed in {check.seconds:.1f} s" if check.seconds else ""
    return f"CPU bf16 autocast: {action}: {check.reason}{took}"


def _needs_fp32(x: Tensor, weight: Tensor) -> bool:
    if not (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and torch.is_grad_enabled()
        and weight.requires_grad
    ):
        return False
    if _check is None and torch.compiler.is_compiling():
        return True  # no probe inside a traced graph: the safe choice (Trainer probes first)
    check = cpu_bf16_conv3d()
    cl = torch.channels_last_3d
    if x.is_contiguous(memory_format=cl) and not x.is_contiguous():
        return check.mode_channels_last == "fp32"
    return check.mode == "fp32"


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` (same arguments, parameters and state dict) that trains correctly
    under CPU bf16 autocast on every CPU: where :func:`cpu_bf16_conv3d` finds oneDNN's
    bf16 weight gradient wrong, it computes in float32 while its weight needs a gradient
    (its output is then float32). Inference, GPUs and other precisions are unchanged.
    Use it in place of ``nn.Conv3d`` in models of your own."""

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if _needs_fp32(input, weight):
            with torch.autocast("cpu", enabled=False):
                bias = None if bias is None else bias.float()
                return super()._conv_forward(input.float(), weight.float(), bias)
        return super()._conv_forward(input, weight, bias)
