"""Data benchmarks: decoding, the fused preprocessing op, and whole training pipelines.

    python -m benchmarks.data preprocess [--device cpu|cuda] [--out FILE]
    python -m benchmarks.data decode [--quick] [--out FILE]
    python -m benchmarks.data pipeline [--out FILE]
    python -m benchmarks.data render FILE.json...     # markdown tables

* ``preprocess``: crop + bilinear resize + flip + normalize + layout of 8 clips x 8 frames
  of 256x340 to 224x224, fused op vs the same steps as separate tensor ops.
* ``decode``: H.264 340x256 and 1920x1080, 10 s at 30 fps, long GOP (250) and intra-only:
  frames/s of a full decode, and ms per clip for TSN 8-segment sparse sampling and for
  32-frame dense clips (frame interval 2) — opening the file included, as a data loader
  does — for each actionkit backend (PyAV also without skipping unreferenced frames) and
  the library used naively, next to the decode floor ``ffmpeg -benchmark -threads 1 -i V
  -f null -``. One decoder thread everywhere.
* ``pipeline``: clips/s of the TSN and SlowFast training pipelines (decode + sample +
  transforms) through a DataLoader with 2 workers, batch 8.

Videos are generated once into ``bench-data/`` (synthetic content, real encodes).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import actionkit
from actionkit.data import encode, synthetic
from actionkit.data import transforms as T
from actionkit.data.decode import VideoReader, available_backends
from actionkit.data.sampling import SampleFrames

from ._harness import environment, time_ms, write_json

DATA = Path("bench-data")


# ------------------------------------------------------------------------- preprocess
def separate_steps(frames, boxes, flips, size, mean, std):
    """The steps one by one, as a pipeline without the fused op does them."""
    out = []
    m = torch.tensor(mean, device=frames.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=frames.device).view(1, 3, 1, 1)
    for b in range(frames.shape[0]):
        x1, y1, x2, y2 = (int(v) for v in boxes[b])
        x = frames[b, :, y1:y2, x1:x2].permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if flips[b]:
            x = x.flip(-1)
        x = (x - m) / s
        out.append(x.permute(1, 0, 2, 3))
    return torch.stack(out).contiguous()


def bench_preprocess(device: torch.device, repeats: int) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (8, 8, 256, 340, 3), dtype=torch.uint8, generator=gen)
    frames = frames.to(device)
    rng = np.random.default_rng(0)
    boxes = torch.tensor(
        [T.RandomResizedCrop().box(256, 340, rng) for _ in range(8)], dtype=torch.float32
    )
    flips = torch.tensor([bool(i % 2) for i in range(8)])
    mean, std = T.IMAGENET_MEAN, T.IMAGENET_STD
    dev_boxes, dev_flips = boxes.to(device), flips.to(device)
    fns = {
        "separate tensor ops": lambda: separate_steps(frames, boxes, flips, (224, 224), mean, std),
        "fused op (float32)": lambda: actionkit.ops.preprocess(
            frames, (224, 224), dev_boxes, dev_flips, mean, std
        ),
        "fused op (bfloat16)": lambda: actionkit.ops.preprocess(
            frames, (224, 224), dev_boxes, dev_flips, mean, std, dtype=torch.bfloat16
        ),
    }
    times = time_ms(fns, device, repeats)
    base = times["separate tensor ops"]
    return [
        {"bench": "preprocess 8x8x256x340 -> 224", "variant": k, "ms": v, "speedup": base / v}
        for k, v in times.items()
    ]


# ---------------------------------------------------------------------------- decode
VIDEOS = {  # name: (height, width, gop)
    "340x256 long GOP": (256, 340, 250),
    "340x256 intra": (256, 340, 1),
    "1920x1080 long GOP": (1080, 1920, 250),
    "1920x1080 intra": (1080, 1920, 1),
}


def make_video(name: str, frames: int = 300) -> Path:
    h, w, gop = VIDEOS[name]
    path = DATA / (name.replace(" ", "_") + ".mp4")
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        # Render at 1/2 size and upscale, 30 frames at a time (a 1080p clip is 1.9 GB).
        small = synthetic.render_clip("move_right", frames, (h // 4 * 2, w // 4 * 2), seed=1)
        big = np.empty((frames, h, w, 3), dtype=np.uint8)
        for s in range(0, frames, 30):
            clip = torch.from_numpy(small[s : s + 30]).permute(0, 3, 1, 2).float()
            up = F.interpolate(clip, size=(h, w), mode="bilinear", align_corners=False)
            big[s : s + 30] = up.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        encode.write_video(path, big, fps=30, codec="h264", gop=gop, crf=20)
    return path


def ffmpeg_floor_ms(path: Path, repeats: int) -> float | None:
    if shutil.which("ffmpeg") is None:
        return None
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-benchmark",
                "-threads",
                "1",
                "-i",
                str(path),
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        times.append(float(re.search(r"rtime=([0-9.]+)s", out).group(1)) * 1e3)
    return float(np.median(times))


def naive_pyav(path: Path, indices: np.ndarray | None):
    """PyAV as most loaders use it: decode from the start, keep the wanted frames."""
    import av

    with av.open(str(path)) as c:
        if indices is None:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        wanted, last, out = set(indices.tolist()), int(indices.max()), {}
        for i, f in enumerate(c.decode(video=0)):
            if i in wanted:
                out[i] = f.to_ndarray(format="rgb24")
            if i >= last:
                break
        return [out[i] for i in indices]


def naive_torchcodec(path: Path, indices: np.ndarray | None):
    from torchcodec.decoders import VideoDecoder

    d = VideoDecoder(str(path))
    if indices is None:
        return [d.get_frames_in_range(s, min(s + 32, len(d))).data for s in range(0, len(d), 32)]
    return d.get_frames_at(indices.tolist()).data


def ours(path: Path, backend: str, indices: np.ndarray | None, **options):
    reader = VideoReader(path, backend=backend, **options)
    if indices is None:
        return [
            reader.get_frames(range(s, min(s + 32, len(reader)))) for s in range(0, len(reader), 32)
        ]
    return reader.get_frames(indices)


def runner(decode, path: Path, lists: list | None, *args, **options):
    """A timed call of ``decode(path, *args, indices, **options)``; every variant walks
    the same sequence of index lists (``None``: a full decode)."""
    state = {"i": 0}

    def run():
        indices = None
        if lists is not None:
            state["i"] += 1
            indices = lists[state["i"] % len(lists)]
        return decode(path, *args, indices, **options)

    return run


def bench_decode(quick: bool, repeats: int) -> list[dict]:
    torch.set_num_threads(1)  # decode workers run one thread (BUILD-NOTES)
    rows = []
    names = list(VIDEOS)[:2] if quick else list(VIDEOS)
    backends = [b for b in ("torchcodec", "pyav") if b in available_backends()]
    rng = np.random.default_rng(0)
    for name in names:
        path = make_video(name)
        n = len(VideoReader(path, backend="pyav"))
        floor = ffmpeg_floor_ms(path, repeats)
        sparse = [SampleFrames(1, 1, 8)(n, 0, rng) for _ in range(repeats + 2)]
        dense = [SampleFrames(32, 2, 1)(n, 0, rng) for _ in range(repeats + 2)]
        for task, lists in (("full decode", None), ("TSN 8 sparse", sparse), ("32 dense", dense)):
            fns = {f"actionkit {b}": runner(ours, path, lists, b) for b in backends}
            if "pyav" in backends and lists is not None:  # every frame decoded: the baseline
                fns["actionkit pyav, no skip"] = runner(
                    ours, path, lists, "pyav", skip_nonref=False
                )
            fns["PyAV naive"] = runner(naive_pyav, path, lists)
            if "torchcodec" in backends:
                fns["torchcodec naive"] = runner(naive_torchcodec, path, lists)
            times = time_ms(fns, torch.device("cpu"), repeats, warmup=1)
            for variant, ms in times.items():
                row = {
                    "bench": f"decode {name}",
                    "task": task,
                    "variant": variant,
                    "ms": ms,
                    "ffmpeg_floor_ms": floor,
                }
                if task == "full decode":
                    row["fps"] = n / ms * 1e3
                if floor:
                    row["vs_floor"] = ms / floor
                rows.append(row)
    return rows


# -------------------------------------------------------------------------- pipeline
def bench_pipeline(batches: int) -> list[dict]:
    from actionkit.data.datasets import VideoDataset, make_loader

    root = DATA / "pipeline"
    if not (root / "train_list.txt").exists():
        synthetic.make_dataset(
            root,
            ["move_left", "move_right", "rotate_cw", "rotate_ccw"],
            videos_per_class=5,
            val_per_class=1,
            num_frames=300,
            size=(256, 340),
            gop=250,
        )
    recipes = {
        "TSN (8 segments, MultiScaleCrop 224)": (
            SampleFrames(1, 1, 8),
            T.Compose(
                [
                    T.Resize((-1, 256)),
                    T.MultiScaleCrop(224, (1, 0.875, 0.75, 0.66)),
                    T.Resize((224, 224), keep_ratio=False),
                    T.Flip(0.5),
                    T.FormatShape("NCHW"),
                ]
            ),
        ),
        "SlowFast (32x2, RandomResizedCrop 224)": (
            SampleFrames(32, 2, 1),
            T.Compose(
                [
                    T.Resize((-1, 256)),
                    T.RandomResizedCrop(),
                    T.Resize((224, 224), keep_ratio=False),
                    T.Flip(0.5),
                    T.FormatShape("NCTHW"),
                ]
            ),
        ),
    }
    rows = []
    for name, (sampler, pipeline) in recipes.items():
        ds = VideoDataset(
            root / "train_list.txt", sampler, pipeline, data_prefix=str(root / "videos")
        )
        loader = make_loader(ds, batch_size=8, num_workers=2)
        it = iter(loader)
        next(it)  # workers up, first batch
        start, clips = time.perf_counter(), 0
        for epoch in range(100):
            ds.set_epoch(epoch)
            for batch in it:
                clips += batch["inputs"].shape[0]
                if clips >= batches * 8:
                    break
            if clips >= batches * 8:
                break
            it = iter(loader)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "bench": "pipeline, DataLoader 2 workers, batch 8",
                "variant": name,
                "clips_per_s": clips / seconds,
                "ms_per_clip": seconds / clips * 1e3,
            }
        )
    return rows


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        facts = "  ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in r.items()
            if k != "bench"
        )
        print(f"{r['bench']:<34} {facts}")


def render(paths: list[str]) -> str:
    """Markdown tables from the JSON files the other commands write."""
    import json

    lines = []
    for path in paths:
        payload = json.loads(Path(path).read_text())
        env = payload["environment"]
        rows = payload["rows"]
        lines.append("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".\n")
        keys = [k for k in rows[0] if k != "bench"]
        for r in rows[1:]:
            keys += [k for k in r if k not in keys and k != "bench"]
        lines.append("| bench | " + " | ".join(keys) + " |")
        lines.append("|---" * (len(keys) + 1) + "|")
        for r in rows:
            cells = [
                f"{r[k]:.3g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys
            ]
            lines.append(f"| {r['bench']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["preprocess", "decode", "pipeline", "render"])
    parser.add_argument("files", nargs="*", help="render: the JSON files to tabulate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.what == "render":
        print(render(args.files))
        return
    if args.what == "preprocess":
        rows = bench_preprocess(device, args.repeats)
    elif args.what == "decode":
        rows = bench_decode(args.quick, args.repeats)
    else:
        rows = bench_pipeline(args.batches)
    print_rows(rows)
    if args.out:
        write_json(args.out, {"environment": environment(device), "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
