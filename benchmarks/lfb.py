"""Long-term feature banks on disk: memory and speed of writing and sampling a bank of one
long video (``actionkit.models.lfb``).

    actionkit-bench lfb [--hours 1,10] [--boxes 5] [--channels 2048] [--out FILE]

For each length, in a fresh process: a bank of ``hours`` x 3600 seconds x ``boxes`` RoI
features of ``channels`` (random, float16 on disk, as MMAction2's half-precision banks)
written through ``FeatureBankWriter``, then 500 windows (MMAction2's 60 s x 5 features)
sampled across it. Reports the seconds and the rise of the peak resident set of each step
(``_rss.peak_rss_rise``): a bank that lived in RAM would rise with its length.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._rss import peak_rss_rise


def _one(hours: float, boxes: int, channels: int) -> dict:
    import torch

    from actionkit.models.lfb import FeatureBank, FeatureBankWriter

    seconds = int(hours * 3600)
    out: dict[str, float | int | None] = {"hours": hours, "seconds": seconds}
    with tempfile.TemporaryDirectory() as root:
        generator = torch.Generator().manual_seed(0)

        def write() -> None:
            with FeatureBankWriter(root) as w:
                for s in range(seconds):
                    w.add(f"long,{s:04d}", torch.randn(boxes, channels, generator=generator))

        start = time.perf_counter()
        out["write_rss_rise"] = peak_rss_rise(write)
        out["write_s"] = time.perf_counter() - start
        out["disk_bytes"] = sum(p.stat().st_size for p in Path(root).iterdir())
        bank = FeatureBank(root)
        keys = [f"long,{s:04d}" for s in range(30, seconds - 30, max(1, (seconds - 60) // 500))]

        def sample() -> None:
            for key in keys:
                bank[key]

        start = time.perf_counter()
        out["sample_rss_rise"] = peak_rss_rise(sample)
        out["sample_ms_per_window"] = (time.perf_counter() - start) / len(keys) * 1000
    return out


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        "actionkit-bench lfb", description=__doc__, formatter_class=raw
    )
    parser.add_argument("--hours", default="1,10", help="bank lengths in hours (1,10)")
    parser.add_argument("--boxes", type=int, default=5, help="features a second (5)")
    parser.add_argument("--channels", type=int, default=2048, help="feature width (2048)")
    parser.add_argument("--out", default="bench-results/lfb.json", help="JSON to write")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # (the child process)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.one is not None:
        print(json.dumps(_one(args.one, args.boxes, args.channels)))
        return 0
    from ._harness import environment, write_json

    rows = []
    for hours in (float(h) for h in args.hours.split(",")):
        cmd = [sys.executable, "-m", __name__, "--one", str(hours), "--boxes",
               str(args.boxes), "--channels", str(args.channels)]  # fmt: skip
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                              text=True).stdout.splitlines()[-1]))  # fmt: skip
    print(
        "| hours | bank on disk | write s | write RSS rise | sample ms/window | sample RSS rise |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        mib = {k: "n/a" if r[k] is None else f"{r[k] / 2**20:.0f} MiB"
               for k in ("write_rss_rise", "sample_rss_rise", "disk_bytes")}  # fmt: skip
        print(f"| {r['hours']:g} | {mib['disk_bytes']} | {r['write_s']:.1f} | "
              f"{mib['write_rss_rise']} | {r['sample_ms_per_window']:.2f} | "
              f"{mib['sample_rss_rise']} |")  # fmt: skip
    import torch

    write_json(args.out, {"environment": environment(torch.device("cpu")), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
