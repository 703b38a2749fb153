"""Render benchmarks/RESULTS.md from the JSON of op-benchmark runs under three settings.

python -m benchmarks.ops --out bench-results/ops-default.json
python -m benchmarks.ops --no-huge-pages --out bench-results/ops-nohuge.json
python -m benchmarks.ops --retain-memory --out bench-results/ops-retain.json
python -m benchmarks.results bench-results/ops-default.json \\
    [--no-huge-pages bench-results/ops-nohuge.json] [--retain bench-results/ops-retain.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HEADER = """# Benchmark results

`python -m benchmarks.ops` (glibc's default allocator), rendered by `python -m
benchmarks.results`. With glibc's default every tensor over 32 MiB is a fresh mapping
whose pages fault on first touch, a cost each variant pays per byte it writes.
actionkit's CPU kernels advise such outputs as transparent huge pages (one fault per
2 MiB instead of per 4 KiB), so the "default" columns are what a user gets. Two more
runs separate that from the kernels themselves: "no huge pages" (`--no-huge-pages`,
i.e. `ACTIONKIT_HUGE_PAGES=0`: every variant pays the same 4 KiB faults) and "retain"
(`--retain-memory`: glibc keeps and reuses freed memory, as jemalloc, tcmalloc and
PyTorch's CUDA allocator do, so nobody pays page faults). Environment: {env}.

Medians of interleaved repeats on a shared machine: compare ratios within a run, not
times across runs. "x base" is the baseline's time divided by the variant's (the first
baseline named in `benchmarks/ops.py` for each op: MMAction2's way, or a plain loop).
Peak MiB is the rise of resident memory during one call in the default run (0 where glibc
served it from memory already resident).

"""

RUNS = ("default", "no huge pages", "retain")


def _key(row: dict) -> tuple:
    return (
        row["op"],
        tuple(row["shape"]),
        tuple(row.get("output", [])),
        row["mode"],
        row["variant"],
    )


def render(runs: dict[str, dict]) -> str:
    """Markdown for the runs present, keyed by the names in RUNS ("default" required)."""
    default = runs["default"]
    env = default["environment"]
    skip = ("allocator", "huge_page_advice")
    env_text = ", ".join(f"{k} {v}" for k, v in env.items() if k not in skip)
    names = [n for n in RUNS if n in runs]
    others = {n: {_key(r): r for r in runs[n]["rows"]} for n in names[1:]}
    head = "| op | shape | out | mode | variant | ms | peak MiB | x base |"
    head += "".join(f" ms ({n}) | x base ({n}) |" for n in names[1:])
    lines = [HEADER.format(env=env_text).rstrip("\n"), "", head]
    lines.append("|" + "---|" * (8 + 2 * len(names[1:])))
    for r in default["rows"]:
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.0f}"
        cells = [
            r["op"],
            "x".join(map(str, r["shape"])),
            "x".join(map(str, r.get("output", []))) or "-",
            r["mode"],
            r["variant"],
            f"{r['ms']:.2f}",
            peak,
            f"{r['speedup_vs_mmaction2']:.2f}x",
        ]
        for n in names[1:]:
            other = others[n].get(_key(r))
            cells += (
                [f"{other['ms']:.2f}", f"{other['speedup_vs_mmaction2']:.2f}x"]
                if other
                else ["-", "-"]
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("default", help="JSON of the default run")
    parser.add_argument("--no-huge-pages", help="JSON of a --no-huge-pages run")
    parser.add_argument("--retain", help="JSON of a --retain-memory run")
    args = parser.parse_args(argv)
    paths = {"default": args.default, "no huge pages": args.no_huge_pages, "retain": args.retain}
    runs = {name: json.loads(Path(p).read_text()) for name, p in paths.items() if p}
    out = Path(__file__).with_name("RESULTS.md")
    out.write_text(render(runs))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
