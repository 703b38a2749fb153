#!/usr/bin/env python3
"""Reproduction for PyTorch/oneDNN: wrong Conv3d weight gradient under CPU bf16 autocast.

Standalone (needs only torch). For each case, a Conv3d without bias runs forward under
``torch.autocast("cpu", dtype=torch.bfloat16)`` and backward with a random bf16 output
gradient; its weight gradient is compared with float64 arithmetic on the same
bf16-rounded input, weight and output gradient. bf16 rounding of the result alone gives
a relative error of about 0.002. Each case runs in its own process, because some shapes
crash it (heap corruption, SIGSEGV).

    python dev/onednn_bf16_conv3d.py                      # this CPU as oneDNN sees it
    python dev/onednn_bf16_conv3d.py --isa AVX512_CORE_BF16,AVX512_CORE,AVX2,DEFAULT

``--isa`` sets ``ONEDNN_MAX_CPU_ISA`` per run (oneDNN reads it once at start-up): on an
AMX machine (Sapphire Rapids) ``AVX512_CORE_BF16`` selects the kernels that AMD Zen 4 and
Cooper Lake use, ``AVX512_CORE`` those of Skylake-X to Ice Lake. Prints a markdown report
(versions, CPU flags, one row per case) to paste into an issue.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys

# (label, channels in, channels out, kernel, input [T, H, W], memory format, oneDNN on,
#  groups: 1 unless given)
CASES = [
    ("the first report", 144, 256, (3, 1, 1), (2, 4, 4), "contiguous", True),
    ("same, oneDNN off", 144, 256, (3, 1, 1), (2, 4, 4), "contiguous", False),
    ("same, channels_last_3d", 144, 256, (3, 1, 1), (2, 4, 4), "channels_last_3d", True),
    ("T < kernel", 64, 64, (3, 1, 1), (2, 4, 4), "contiguous", True),
    ("T < kernel", 64, 64, (3, 3, 3), (2, 4, 4), "contiguous", True),
    ("T < kernel", 64, 64, (5, 1, 1), (3, 4, 4), "contiguous", True),
    ("T < kernel", 64, 64, (2, 1, 1), (1, 4, 4), "contiguous", True),
    ("T < kernel (crashes)", 64, 64, (7, 3, 3), (4, 7, 7), "contiguous", True),
    ("control: T = kernel", 64, 64, (3, 1, 1), (3, 4, 4), "contiguous", True),
    ("control: T > kernel", 64, 64, (3, 3, 3), (8, 4, 4), "contiguous", True),
    ("control: T = 1, kernel 3", 64, 64, (3, 1, 1), (1, 4, 4), "contiguous", True),
    ("depthwise (CSN), T < kernel", 64, 64, (3, 3, 3), (2, 4, 4), "contiguous", True, 64),
    ("same, channels_last_3d", 64, 64, (3, 3, 3), (2, 4, 4), "channels_last_3d", True, 64),
    (
        "control: depthwise, channels_last_3d, T = 4",
        64,
        64,
        (3, 3, 3),
        (4, 4, 4),
        "channels_last_3d",
        True,
        64,
    ),
]
SEEDS = range(6)

CASE = r"""
import json, sys, torch
cin, cout, kernel, size, fmt, onednn, groups, seeds = json.loads(sys.argv[1])
pad = [k // 2 for k in kernel]
nonfinite, worst = 0, 0.0
for seed in seeds:
    torch.manual_seed(seed)
    conv = torch.nn.Conv3d(cin, cout, kernel, padding=pad, groups=groups, bias=False)
    x = torch.randn(2, cin, *size)
    if fmt == "channels_last_3d":
        conv = conv.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    with torch.backends.mkldnn.flags(enabled=onednn):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = conv(x)
        dy = torch.randn(y.shape).bfloat16()
        y.backward(dy)
    got = conv.weight.grad.double()
    ref = torch.ops.aten.convolution_backward(
        dy.double(), x.bfloat16().double(), conv.weight.detach().bfloat16().double(), None,
        [1, 1, 1], pad, [1, 1, 1], False, [0, 0, 0], groups, [False, True, False])[1]
    if not torch.isfinite(got).all():
        nonfinite += 1
    else:
        worst = max(worst, ((got - ref).norm() / ref.norm()).item())
print(json.dumps({"nonfinite": nonfinite, "max_rel_error": worst}))
"""

VERSIONS = r"""
import json, torch
show = torch.__config__.show()
found = [line.strip() for line in show.splitlines() if "MKL-DNN" in line or "oneDNN" in line]
print(json.dumps({"torch": torch.__version__, "onednn": found[0] if found else "?",
                  "threads": torch.get_num_threads(),
                  "cpu_capability": torch.backends.cpu.get_cpu_capability()}))
"""


def cpu_facts() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    wanted = re.compile(r"^(avx2|avx512\w*|amx\w*)$")
    return model, [f for f in flags if wanted.match(f)]


def run(code: str, args: list[str], env: dict[str, str]) -> tuple[dict | None, str]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
        tail = done.stderr.strip().splitlines()[-1:] or [""]
        return None, f"crashed ({how}) {tail[0][:60]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def report(isa: str) -> list[str]:
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "DEFAULT":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    versions, _ = run(VERSIONS, [], env)
    lines = [
        f"\n### ONEDNN_MAX_CPU_ISA={isa if isa != 'DEFAULT' else '(unset)'}\n",
        f"torch {versions['torch']}, {versions['onednn']}, {versions['threads']} threads, "
        f"ATen CPU capability {versions['cpu_capability']}\n",
        "| case | C_in -> C_out | kernel | input T x H x W | format | oneDNN | "
        f"seeds non-finite (of {len(SEEDS)}) | max rel. error of the finite ones |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, cin, cout, kernel, size, fmt, onednn, *groups in CASES:
        arg = json.dumps([cin, cout, kernel, size, fmt, onednn, *(groups or [1]), list(SEEDS)])
        result, failure = run(CASE, [arg], env)
        shape = "x".join(map(str, kernel)), "x".join(map(str, size))
        head = f"| {label} | {cin} -> {cout} | {shape[0]} | {shape[1]} | {fmt} | {onednn} |"
        if result is None:
            lines.append(f"{head} {failure} | |")
        else:
            finite = result["nonfinite"] < len(SEEDS)
            err = f"{result['max_rel_error']:.3g}" if finite else "-"
            lines.append(f"{head} {result['nonfinite']} | {err} |")
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--isa", default="DEFAULT", help="comma-separated ONEDNN_MAX_CPU_ISA")
    args = parser.parse_args()
    model, flags = cpu_facts()
    out = [
        "## Conv3d weight gradient under CPU bf16 autocast (oneDNN)\n",
        f"CPU: {model}; flags: {' '.join(flags) or '-'}; Python {platform.python_version()}",
    ]
    for isa in args.isa.split(","):
        out += report(isa)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
