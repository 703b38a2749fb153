"""Render benchmarks/RESULTS.md from the JSON of a default run and a --retain-memory run.

python -m benchmarks.ops --out bench-results/ops-default.json
python -m benchmarks.ops --retain-memory --out bench-results/ops-retain.json
python -m benchmarks.results bench-results/ops-default.json bench-results/ops-retain.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEADER = """# Benchmark results

`python -m benchmarks.ops` (glibc's default allocator) and `python -m benchmarks.ops
--retain-memory` (glibc keeps freed memory, as jemalloc, tcmalloc and PyTorch's CUDA
allocator do; with glibc's default every tensor over 32 MiB is a fresh mapping whose
pages fault on first touch, a cost each variant pays per byte it writes), rendered by
`python -m benchmarks.results`. Environment: {env}.

Medians of interleaved repeats on a shared machine: compare ratios within a run, not
times across runs. "x base" is the baseline's time divided by the variant's (the first
baseline named in `benchmarks/ops.py` for each op: MMAction2's way, or a plain loop).
Peak MiB is the rise of resident memory during one call (default run only; 0 where glibc
served it from memory already resident).

| op | shape | out | mode | variant | ms | peak MiB | x base | ms (retain) | x base (retain) |
|---|---|---|---|---|---|---|---|---|---|
"""


def _key(row: dict) -> tuple:
    return (
        row["op"],
        tuple(row["shape"]),
        tuple(row.get("output", [])),
        row["mode"],
        row["variant"],
    )


def render(default: dict, retain: dict | None) -> str:
    env = default["environment"]
    env_text = ", ".join(f"{k} {v}" for k, v in env.items() if k != "allocator")
    by_key = {_key(r): r for r in retain["rows"]} if retain else {}
    lines = [HEADER.format(env=env_text).rstrip("\n")]
    for r in default["rows"]:
        other = by_key.get(_key(r))
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.0f}"
        retain_cols = (
            f"{other['ms']:.2f} | {other['speedup_vs_mmaction2']:.2f}x" if other else "- | -"
        )
        lines.append(
            f"| {r['op']} | {'x'.join(map(str, r['shape']))} | "
            f"{'x'.join(map(str, r.get('output', []))) or '-'} | {r['mode']} | {r['variant']} | "
            f"{r['ms']:.2f} | {peak} | {r['speedup_vs_mmaction2']:.2f}x | {retain_cols} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        sys.exit("usage: python -m benchmarks.results DEFAULT.json [RETAIN.json]")
    default = json.loads(Path(args[0]).read_text())
    retain = json.loads(Path(args[1]).read_text()) if len(args) == 2 else None
    out = Path(__file__).with_name("RESULTS.md")
    out.write_text(render(default, retain))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
