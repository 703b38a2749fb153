"""Fuzz: corrupted videos (truncated, bytes flipped, header zeroed) through every backend.
Each decode must raise DecodeError naming the file or return valid frames; no crash, no
hang, no memory growth over 1000 decodes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actionkit.data import encode, synthetic

from ._installed import installed

pytest.importorskip("av")

ITERATIONS = 1000


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_corrupt_videos_raise_or_decode_without_crash_hang_or_leak(tmp_path):
    sources = []
    for i, (codec, suffix) in enumerate([("h264", ".mp4"), ("vp9", ".webm"), ("mjpeg", ".avi")]):
        frames = synthetic.render_clip(i, 24, (32, 48), seed=i)
        sources.append(str(encode.write_video(tmp_path / f"src{suffix}", frames, codec=codec)))
    # DALI runs in its own process: its decoder shares no state with the others.
    runs = [["pyav"] + (["torchcodec"] if installed("torchcodec") else [])]
    if installed("nvidia.dali"):
        runs.append(["dali"])
    for backends in runs:
        report = fuzz(sources, backends, tmp_path)
        assert report["unexpected"] == [], backends
        counts = report["counts"]
        assert counts["frames"] + counts["errors"] == ITERATIONS
        assert counts["frames"] > 0 and counts["errors"] > 0  # corruption bites, not always
        first, last = report["rss_mb"]
        assert last - first < 64, f"{backends}: RSS grew from {first:.0f} MB to {last:.0f} MB"


def fuzz(sources, backends, tmp_path):
    worker = Path(__file__).with_name("fuzz_decode_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            str(worker),
            ",".join(sources),
            ",".join(backends),
            str(ITERATIONS),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    last = "\n".join(result.stderr.splitlines()[-5:])
    assert result.returncode == 0, f"{backends}: worker died ({result.returncode}) at\n{last}"
    return json.loads(result.stdout.strip().splitlines()[-1])
