"""Audio feature extraction, actionkit next to MMAction2's two steps.

MMAction2 prepares audio features in two passes over the dataset: ``tools/data/
extract_audio.py`` runs ``ffmpeg -i VIDEO -map 0:a -y OUT.wav`` per video, then
``tools/data/build_audio_features.py`` loads each WAV with librosa (resampled to 16 kHz)
and computes the log-mel spectrogram with lws. actionkit's ``actionkit-data extract-audio``
decodes the soundtrack with PyAV and computes the same features in torch, one pass, no
intermediate files. This benchmark writes synthetic videos (H.264 + a 44.1 kHz AAC
soundtrack, ``--seconds`` long), then times per video: actionkit's ``audio_features`` in
this process, and MMAction2's ffmpeg call + ``read_audio`` + ``audio_to_spectrogram`` in
the side venv (``--mmaction-python``; the tools folder of a MMAction2 checkout,
``--mmaction-tools``, as that script is not in its wheel; it needs librosa 0.9.2 and lws,
see dev/PARITY.md). Medians over the videos, interleaved; one thread each.

    actionkit-bench audio --mmaction-python ../peers/venv/bin/python \\
        --mmaction-tools ../mmaction2/tools/data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ._harness import environment, write_json

WORKER = r"""
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from build_audio_features import AudioTools
tools = AudioTools(fft_size=512, hop_size=256)
for line in sys.stdin:
    video = line.strip()
    wav = video + ".wav"
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-threads", "1", "-i", video, "-map", "0:a",
                    "-y", wav], check=True)
    features = tools.audio_to_spectrogram(tools.read_audio(wav))
    ms = (time.perf_counter() - start) * 1000
    os.remove(wav)
    print(json.dumps({"ms": ms, "rows": int(features.shape[0])}), flush=True)
"""


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    from actionkit.data import synthetic
    from actionkit.data.encode import write_video

    videos = []
    frames = int(seconds * 30)
    for k in range(count):
        name = synthetic.CLASSES[k % len(synthetic.CLASSES)]
        picture = synthetic.render_clip(name, frames, (64, 64), seed=k)
        sound = synthetic.render_sound(name, seconds, 44100, seed=k)
        path = folder / f"v{k}.mp4"
        write_video(path, picture, fps=30, audio=sound, audio_rate=44100)
        videos.append(path)
    return videos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-bench audio", description=__doc__)
    parser.add_argument("--mmaction-python", help="the side venv's python, to time MMAction2")
    parser.add_argument("--mmaction-tools", help="a MMAction2 checkout's tools/data folder")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", default="bench-results/audio.json")
    args = parser.parse_args(argv)
    if bool(args.mmaction_python) != bool(args.mmaction_tools):
        parser.error("--mmaction-python and --mmaction-tools go together")
    if args.mmaction_python and not os.access(args.mmaction_python, os.X_OK):
        parser.error(f"--mmaction-python: {args.mmaction_python} is not an executable")
    if args.mmaction_tools and not Path(args.mmaction_tools, "build_audio_features.py").is_file():
        parser.error(f"--mmaction-tools: {args.mmaction_tools} holds no build_audio_features.py")
    from actionkit.data.audio import audio_features

    torch.set_num_threads(1)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = {"actionkit": [], "mmaction2": []}
    with tempfile.TemporaryDirectory() as tmp:
        videos = make_videos(Path(tmp), args.videos, args.seconds)
        worker = None
        if args.mmaction_python:
            cmd = [args.mmaction_python, "-c", WORKER, args.mmaction_tools]
            worker = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        try:
            for video in [videos[0], *videos]:  # the first once more: a warm-up
                start = time.perf_counter()
                ours = audio_features(video)
                rows["actionkit"].append((time.perf_counter() - start) * 1000)
                if worker is not None:
                    worker.stdin.write(f"{video}\n")
                    worker.stdin.flush()
                    reply = json.loads(worker.stdout.readline())
                    rows["mmaction2"].append(reply["ms"])
                    if abs(reply["rows"] - len(ours)) > 1:
                        raise RuntimeError(f"{video}: {reply['rows']} rows there, {len(ours)} here")
        finally:
            if worker is not None:
                worker.stdin.close()
                worker.wait()
    result = {k: statistics.median(v[1:]) for k, v in rows.items() if v}
    print(f"{args.videos} videos of {args.seconds:g} s (44.1 kHz AAC), ms per video, median:")
    for name, ms in result.items():
        print(f"  {name:10s} {ms:8.1f}")
    if "mmaction2" in result:
        print(f"  actionkit is {result['mmaction2'] / result['actionkit']:.1f}x as fast")
    write_json(args.out, {"environment": environment(torch.device("cpu")), "ms": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
