"""AVA frame-mAP benchmark: :func:`actionkit.metrics.ava_frame_map` next to MMAction2's
``ava_eval`` on an AVA-validation-sized input.

    actionkit-bench ava-eval [--mmaction-python /path/to/peers/venv/bin/python]
                             [--videos 64 --keyframes 200 --classes-per-box 30]
                             [--repeats 3] [--out bench-results/ava_eval.json]

The input is generated (``benchmarks/ava_tables.py``; seeded): about 51k ground-truth
rows and a million detection rows over 80 classes, scores with four decimals as
MMAction2 writes them, a few excluded keyframes. Both sides read the same files from
disk and return the overall and the three group mAPs; each run is the whole call, file
reading included. MMAction2 runs in the side venv (its 32-process pool on however many
cores there are), one fresh process per repeat, alternating with actionkit's runs;
"x mm" is its median over ours. The largest difference of the four numbers is reported
(ties rank in NumPy's unstable order there, in scoring order here: the actionkit module
docstring says why they may differ in the last digits).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from actionkit.metrics.ava import ava_frame_map

from ._harness import environment, write_json
from .ava_tables import make_ava_tables

KEYS = ("overall", "person_movement", "object_manipulation", "person_interaction")
MM_SCRIPT = """
import io, json, sys, time, contextlib
from mmaction.evaluation.functional.ava_utils import ava_eval
d = sys.argv[1]
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    r = ava_eval(d + '/detections.csv', 'mAP', d + '/label_map.pbtxt', d + '/gt.csv',
                 d + '/exclusions.csv', verbose=False)
ms = (time.perf_counter() - start) * 1e3
print(json.dumps({'ms': ms, 'result': {k: float(v) for k, v in r.items()}}))
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="actionkit-bench ava-eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--mmaction-python", help="the side venv's python (dev/PARITY.md)")
    p.add_argument("--videos", type=int, default=64)
    p.add_argument("--keyframes", type=int, default=200, help="per video")
    p.add_argument("--classes-per-box", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="bench-results/ava_eval.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    texts = make_ava_tables(
        seed=0,
        num_videos=args.videos,
        keyframes=args.keyframes,
        classes=tuple(range(1, 81)),
        classes_per_box=args.classes_per_box,
        unique_scores=False,
        excluded=20,
    )
    rows = {k: v.count("\n") for k, v in texts.items()}
    print(f"input: {rows['gt']} ground-truth rows, {rows['detections']} detection rows")
    names = {"gt": "gt.csv", "detections": "detections.csv", "label_map": "label_map.pbtxt",
             "exclusions": "exclusions.csv"}  # fmt: skip
    ours, theirs, mm_result, result = [], [], None, None
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: Path(tmp) / names[k] for k in texts}
        for k, text in texts.items():
            paths[k].write_text(text)
        for _ in range(args.repeats):
            if args.mmaction_python:
                out = subprocess.run([args.mmaction_python, "-c", MM_SCRIPT, tmp],
                                     capture_output=True, text=True, check=True)  # fmt: skip
                reply = json.loads(out.stdout.strip().splitlines()[-1])
                theirs.append(reply["ms"])
                mm_result = reply["result"]
            start = time.perf_counter()
            result = ava_frame_map(paths["gt"], paths["detections"], paths["label_map"],
                                   paths["exclusions"])  # fmt: skip
            ours.append((time.perf_counter() - start) * 1e3)
    med = sorted(ours)[len(ours) // 2]
    print(f"{'':22s}{'ms':>10s}{'x mm':>8s}")
    line = f"{'actionkit':22s}{med:10.0f}"
    record = {"actionkit_ms": ours, "result": {k: result[k] for k in KEYS}, "rows": rows}
    if theirs:
        mm = sorted(theirs)[len(theirs) // 2]
        diff = max(abs(result[k] - mm_result[k]) for k in KEYS)
        print(line + f"{mm / med:8.1f}")
        print(f"{'MMAction2 ava_eval':22s}{mm:10.0f}{1.0:8.1f}")
        print(f"largest difference of the four mAPs: {diff:.2e}")
        record.update(mmaction_ms=theirs, mmaction_result=mm_result, max_abs_diff=diff)
    else:
        print(line)
    write_json(args.out, {"environment": environment(torch.device("cpu")), "ava_eval": record})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
