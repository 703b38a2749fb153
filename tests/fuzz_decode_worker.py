"""Fuzz worker, run by test_decode_fuzz.py in a child process (so a crash or hang is a
test failure, not a dead test run): decodes corrupted copies of real videos with every
backend and prints a JSON summary."""

import json
import os
import sys
import time

import numpy as np
import torch

from actionkit.data.decode import DecodeError, VideoReader


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def corrupt(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    kind = ["truncate", "flip", "zero_header", "flip_many"][rng.integers(4)]
    buf = bytearray(data)
    if kind == "truncate":
        buf = buf[: rng.integers(0, len(buf))]
    elif kind == "zero_header":
        n = min(len(buf), int(rng.integers(16, 1024)))
        buf[:n] = bytes(n)
    else:
        count = 4 if kind == "flip" else 64
        for pos in rng.integers(0, len(buf), size=count):
            buf[pos] ^= int(rng.integers(1, 256))
    return kind, bytes(buf)


def main(
    sources: list[str], backends: list[str], iterations: int, out_dir: str, seed: int = 0
) -> None:
    rng = np.random.default_rng(seed)
    blobs = {s: open(s, "rb").read() for s in sources}
    counts = {"frames": 0, "errors": 0}
    unexpected = []
    rss = []
    slowest = 0.0
    for it in range(iterations):
        source = sources[it % len(sources)]
        backend = backends[(it // len(sources)) % len(backends)]
        kind, data = corrupt(blobs[source], rng)
        path = os.path.join(out_dir, f"fuzz{os.path.splitext(source)[1]}")
        with open(path, "wb") as f:
            f.write(data)
        start = time.monotonic()
        print(f"fuzz {it}: {backend} {kind} {path}", file=sys.stderr, flush=True)
        try:
            reader = VideoReader(path, backend=backend, timeout=20)
            n = len(reader)
            indices = rng.integers(0, n, size=6)
            frames = reader.get_frames(indices)
            assert frames.dtype == torch.uint8 and frames.shape[0] == 6
            assert frames.ndim == 4 and frames.shape[3] == 3
            reader.close()
            counts["frames"] += 1
        except DecodeError as e:
            if path not in str(e):
                unexpected.append(f"{backend} {kind}: error does not name the file: {e}")
            counts["errors"] += 1
        except Exception as e:  # anything else is a finding
            unexpected.append(f"{backend} {kind}: {type(e).__name__}: {e}"[:300])
        slowest = max(slowest, time.monotonic() - start)
        if it == iterations // 10 or it == iterations - 1:
            rss.append(rss_mb())
    print(
        json.dumps(
            {"counts": counts, "unexpected": unexpected, "rss_mb": rss, "slowest_s": slowest}
        )
    )


if __name__ == "__main__":
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    main(sys.argv[1].split(","), sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4], seed)
