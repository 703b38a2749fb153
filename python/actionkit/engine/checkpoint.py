"""Training checkpoints: written atomically, the last K kept, the best linked.

A checkpoint is an actionkit checkpoint (``{"actionkit", "arch", "model"}``, what
``actionkit.models.create(name, checkpoint=...)`` loads) plus the training state: the
optimizer, the grad scaler, the EMA weights, the position (epoch and iteration within
it), every process's RNG states, the best metric so far and the config. ``latest.pth`` is
a symlink to the newest; ``best.pth`` a hard link to the best epoch's file.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from .. import serialization

EPOCH = re.compile(r"epoch_(\d+)\.pth$")
ITER = re.compile(r"iter_(\d+)\.pth$")


def write_atomically(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it over ``path``:
    readers see the old file or the new one, and a failed write leaves nothing behind."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save(payload: dict, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, rename over
    ``path``, fsync the folder: a crash leaves the old file or the new one, never half."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())

    write_atomically(path, write)
    _fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike, payload, indent: int = 2) -> None:
    """``payload`` as JSON at ``path`` (its folder made if needed), through a temporary
    file renamed over it: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, indent=indent) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


def atomic_save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """``array`` [T, C] as ``.npy`` or as ``.csv`` (a header row ``f0,f1,...``, then T rows,
    as ActivityNet's feature files) through a temporary file renamed over ``path``."""
    path = Path(path)

    def write(tmp: Path) -> None:
        if path.suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, array)
        else:
            header = ",".join(f"f{i}" for i in range(array.shape[1]))
            np.savetxt(tmp, array, delimiter=",", header=header, comments="", fmt="%.6g")

    write_atomically(path, write)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _relink(name: str, target: Path, hard: bool) -> None:
    """Points ``target.parent / name`` at ``target`` atomically."""
    link = target.parent / name
    tmp = target.parent / f".{name}.tmp{os.getpid()}"
    tmp.unlink(missing_ok=True)
    if hard:
        os.link(target, tmp)
    else:
        os.symlink(target.name, tmp)
    os.replace(tmp, link)
    _fsync_dir(target.parent)


def save_training_checkpoint(
    work_dir: Path, payload: dict, name: str, keep_last: int, best: bool = False
) -> Path:
    """Writes ``name`` (``epoch_0003.pth`` or ``iter_00001200.pth``), points
    ``latest.pth`` at it, links ``best.pth`` to it when ``best``, and removes epoch
    checkpoints beyond the newest ``keep_last`` and iteration checkpoints but the newest
    (all of them after an epoch checkpoint)."""
    path = work_dir / name
    atomic_save(payload, path)
    _relink("latest.pth", path, hard=False)
    if best:
        _relink("best.pth", path, hard=True)
    epochs = sorted(p for p in work_dir.iterdir() if EPOCH.match(p.name))
    iters = sorted(p for p in work_dir.iterdir() if ITER.match(p.name))
    # an epoch checkpoint supersedes the iteration checkpoints before it
    stale_iters = iters if EPOCH.match(name) else iters[:-1]
    for old in epochs[:-keep_last] + stale_iters:
        if old != path:
            old.unlink()
    return path


def existing_checkpoints(work_dir: Path) -> list[Path]:
    if not work_dir.is_dir():
        return []
    names = ("latest.pth", "best.pth")
    return sorted(
        p
        for p in work_dir.iterdir()
        if EPOCH.match(p.name) or ITER.match(p.name) or p.name in names
    )


def rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_training_checkpoint(path: Path, trust: bool = False) -> dict:
    """A checkpoint ``actionkit-train`` wrote, read as data: tensors, plain Python values
    and the numpy arrays of the RNG states (``trust=True`` unpickles anything)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    return serialization.load(path, trust=trust, placeholders=False)
