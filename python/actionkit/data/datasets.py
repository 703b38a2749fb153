"""Datasets over MMAction2's list files, and a DataLoader factory.

* ``VideoDataset``: lines ``path label [label ...]`` (``data_prefix`` joined in front).
* ``RawframeDataset``: lines ``frame_dir total_frames label [label ...]``; frames named
  ``img_{:05d}.jpg`` from ``start_index=1`` as MMAction2's extraction writes them.

Several labels per line need ``multi_class=True`` and ``num_classes`` (multi-hot float
targets); a single-label dataset returns int64 labels. Each sample is
``{"inputs": Tensor, "label": Tensor, "index": int}`` — ``inputs`` is whatever the
transforms end with (``FormatShape``: ``[views * clips * T, 3, h, w]`` or
``[views * clips, 3, T, h, w]``).

Bad data never passes silently: a malformed list line raises ``ValueError`` naming the
file and line when the dataset is built; a missing, truncated, corrupt or empty video
raises ``DecodeError`` naming the file and its list line when it is loaded — or, with
``skip_invalid=True``, is logged, counted in ``dataset.invalid`` and replaced by another
sample (at most ``max_retries`` in a row). ``check_list`` scans a whole list up front.

Randomness (frame sampling, crops, flips) comes from a generator seeded by
``(seed, epoch, index)``: a sample is the same whichever worker loads it, and a resumed
run sees the same data (call ``set_epoch`` each epoch).
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import gc
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from ..errors import DataError, UsageError
from .decode import DecodeError, VideoReader
from .transforms import Clip, apply_transforms, run_transforms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One line of a list file."""

    path: str
    labels: tuple[int, ...]
    line: int  # 1-based
    total_frames: int | None = None  # rawframe lists give it


def parse_list(
    ann_file: str | os.PathLike, kind: str = "video", data_prefix: str = ""
) -> list[Entry]:
    """Reads an MMAction2 list file (``kind="video"`` or ``"rawframes"``); blank lines are
    skipped, anything else malformed raises ``DataError`` naming the file and line."""
    if kind not in ("video", "rawframes"):
        raise ValueError(f"kind must be 'video' or 'rawframes', got {kind!r}")
    ann_file = os.fspath(ann_file)
    if not os.path.isfile(ann_file):
        raise FileNotFoundError(f"{ann_file}: no such list file")
    entries = []
    need = 2 if kind == "video" else 3
    with open(ann_file) as f:
        for number, raw in enumerate(f, 1):
            parts = raw.split()
            if not parts:
                continue
            where = f"{ann_file}:{number}"
            if len(parts) < need:
                form = "path label" if kind == "video" else "frame_dir total_frames label"
                raise DataError(f"{where}: expected '{form} [label ...]', got {raw.strip()!r}")
            try:
                numbers = [int(p) for p in parts[1:]]
            except ValueError:
                raise DataError(
                    f"{where}: labels and frame counts must be integers, got {raw.strip()!r}"
                ) from None
            if any(n < 0 for n in numbers):
                raise DataError(f"{where}: negative number in {raw.strip()!r}")
            path = os.path.join(data_prefix, parts[0]) if data_prefix else parts[0]
            if kind == "video":
                entries.append(Entry(path, tuple(numbers), number))
            else:
                entries.append(Entry(path, tuple(numbers[1:]), number, numbers[0]))
    if not entries:
        raise DataError(f"{ann_file}: the list is empty")
    return entries


def check_labels(
    entries: list[Entry], ann_file: str, multi_class: bool, num_classes: int | None
) -> None:
    """One label per line unless ``multi_class`` (which needs ``num_classes``), every
    label below ``num_classes``; errors name the list and line."""
    if multi_class and not num_classes:
        raise UsageError("multi_class=True needs num_classes")
    for e in entries:
        if not multi_class and len(e.labels) != 1:
            raise DataError(
                f"{ann_file}:{e.line}: {len(e.labels)} labels on a single-label list "
                "(pass multi_class=True and num_classes)"
            )
        if num_classes and max(e.labels, default=0) >= num_classes:
            raise DataError(
                f"{ann_file}:{e.line}: label {max(e.labels)} >= num_classes {num_classes}"
            )


def label_tensor(entry: Entry, multi_class: bool, num_classes: int | None) -> torch.Tensor:
    """The class index, or with ``multi_class`` the ``[num_classes]`` multi-hot target."""
    if multi_class:
        target = torch.zeros(num_classes)
        target[list(entry.labels)] = 1.0
        return target
    return torch.tensor(entry.labels[0], dtype=torch.long)


class _ClipDataset(Dataset):
    kind = "video"

    def __init__(
        self,
        ann_file: str | os.PathLike,
        sampler: Callable,
        transforms: Callable | None = None,
        data_prefix: str = "",
        multi_class: bool = False,
        num_classes: int | None = None,
        skip_invalid: bool = False,
        max_retries: int = 10,
        backend: str = "auto",
        decode_timeout: float | None = 60.0,
        start_index: int = 0,
        seed: int = 0,
        repeats: int = 1,
        **reader_options,
    ):
        if repeats < 1:
            raise UsageError(f"repeats must be >= 1, got {repeats}")
        self.repeats = repeats
        self.ann_file = os.fspath(ann_file)
        self.entries = parse_list(ann_file, self.kind, data_prefix)
        self.sampler = sampler
        self.transforms = transforms
        self.multi_class = multi_class
        self.num_classes = num_classes
        check_labels(self.entries, self.ann_file, multi_class, num_classes)
        self.skip_invalid = skip_invalid
        self.max_retries = max_retries
        self.backend = backend
        self.decode_timeout = decode_timeout
        self.start_index = start_index
        self.seed = seed
        self.epoch = 0
        self.reader_options = reader_options
        self.invalid: Counter[str] = Counter()  # path -> failures, in this process

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def label_of(self, entry: Entry) -> torch.Tensor:
        return label_tensor(entry, self.multi_class, self.num_classes)

    def open(self, entry: Entry) -> VideoReader:
        return VideoReader(
            entry.path, backend=self.backend, timeout=self.decode_timeout, **self.reader_options
        )

    def _read(self, index: int, rng: np.random.Generator) -> tuple[Entry, np.ndarray, Clip]:
        """Entry ``index``'s sampled frame indices and its frames as a Clip."""
        entry = self.entries[index]
        try:
            with self.open(entry) as reader:
                total = len(reader)
                fps = reader.fps
                indices = np.asarray(
                    self.sampler(total, self.start_index, rng, fps), dtype=np.int64
                )
                frames = reader.get_frames(indices - self.start_index)
        except (DecodeError, FileNotFoundError) as e:
            raise DecodeError(f"{e} (list {self.ann_file}, line {entry.line})") from e
        clip_len = getattr(self.sampler, "clip_len", len(indices)) or len(indices)
        clip = Clip(frames, len(indices) // clip_len, clip_len, label=entry.labels[0])
        return entry, indices, clip

    def browse(self, index: int, epoch: int = 0) -> dict:
        """What sample ``index`` of ``epoch`` is made of, drawn as training draws it (the
        same random stream: ``dataset[(epoch, index)]`` is these views normalised):
        ``frames`` uint8 ``[N, H, W, 3]`` (the sampled source frames, as decoded),
        ``indices`` (their frame numbers), ``views`` float ``[V, N, C, h, w]`` in 0-255
        (each view's N frames as the pipeline outputs them, before normalisation),
        ``label``, ``path`` and ``line`` (of the list file)."""
        rng = np.random.default_rng([self.seed, epoch, index])
        entry, indices, clip = self._read(index, rng)
        if self.transforms is None:
            raise UsageError(f"{self.ann_file}: the dataset has no pipeline to browse")
        _, last = run_transforms(self.transforms, clip, rng)
        views = last.render(layout="NTCHW")
        return {
            "frames": clip.frames,
            "indices": indices,
            "views": views.reshape(len(last.flips), -1, *views.shape[2:]),
            "label": last.label,
            "path": entry.path,
            "line": entry.line,
        }

    def load(self, index: int, rng: np.random.Generator, size: tuple[int, int] | None = None):
        entry, _, clip = self._read(index, rng)
        frames = clip.frames
        if self.transforms is None:
            return frames, self.label_of(entry)
        out, label = apply_transforms(self.transforms, clip, rng, size)
        if isinstance(out, Clip):
            raise TypeError("the transforms must end with FormatShape (they returned a Clip)")
        if self.multi_class:
            return out, self.label_of(entry)
        return out, torch.tensor(label, dtype=torch.long)  # Flip may have remapped it

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """Sample ``index`` of the current epoch, or of ``epoch`` for an ``(epoch,
        index)`` pair (what ``actionkit.engine.EpochSampler`` yields)."""
        return load_with_retries(self, index)


def load_with_retries(dataset, index: int | tuple[int, int]) -> dict:
    """``dataset.load(i, rng)`` for sample ``index`` (or an ``(epoch, index)`` pair) with
    its own random stream; with ``dataset.skip_invalid``, a sample that raises
    ``DecodeError`` is counted in ``dataset.invalid``, logged, and replaced by a random
    other, up to ``dataset.max_retries`` times in a row. ``dataset.repeats > 1`` stacks
    that many draws of the sample (repeated augmentation)."""
    size = None  # (epoch, index, (h, w)): multigrid's output size for this batch
    if isinstance(index, tuple) and len(index) == 3:
        epoch, index, size = index
    else:
        epoch, index = index if isinstance(index, tuple) else (dataset.epoch, index)
    rng = np.random.default_rng([dataset.seed, epoch, index])
    load = dataset.load if size is None else functools.partial(dataset.load, size=tuple(size))
    repeats = getattr(dataset, "repeats", 1)
    attempt = index
    for tries in range(dataset.max_retries + 1):
        try:
            inputs, label = load(attempt, rng)
            if repeats > 1:  # repeated augmentation: more draws from the same rng
                more = [load(attempt, rng) for _ in range(repeats - 1)]
                inputs = torch.stack([inputs, *(m[0] for m in more)])
                label = torch.stack([label, *(m[1] for m in more)])
                return {"inputs": inputs, "label": label, "index": attempt, "repeats": True}
            return {"inputs": inputs, "label": label, "index": attempt}
        except DecodeError as e:
            if not dataset.skip_invalid:
                raise
            dataset.invalid[dataset.entries[attempt].path] += 1
            log.warning("skipping invalid sample (%d so far): %s", sum(dataset.invalid.values()), e)
            if tries == dataset.max_retries:
                raise DecodeError(
                    f"{dataset.max_retries + 1} invalid samples in a row, the last: {e}"
                ) from e
            attempt = int(rng.integers(len(dataset)))
    raise AssertionError("unreachable")


class VideoDataset(_ClipDataset):
    """Videos from a list of ``path label [label ...]`` lines (see the module docs)."""

    kind = "video"


class RawframeDataset(_ClipDataset):
    """Rawframe folders from a list of ``frame_dir total_frames label [label ...]`` lines.

    The folder must hold at least the listed ``total_frames`` frames (a folder with fewer
    is reported as invalid: MMAction2 would read past its end). ``modality="flow"`` reads
    optical flow: frame k is the pair ``flow_x_0000k.jpg`` / ``flow_y_0000k.jpg`` (as
    ``actionkit-data extract-frames --flow tvl1`` and denseflow write them; MMAction2's
    ``flow_extraction.py`` writes ``x_00001.jpg``: ``filename_tmpl="{}_{:05d}.jpg"``),
    as the frame ``(x, y, 128)``; the pipeline ends with ``FormatShape(flow=True)``."""

    kind = "rawframes"

    def __init__(
        self, ann_file, sampler, transforms=None, start_index: int = 1, modality="rgb", **kwargs
    ):
        kwargs.setdefault("backend", "rawframes")
        kwargs.setdefault(
            "filename_tmpl", "flow_{}_{:05d}.jpg" if modality == "flow" else "img_{:05d}.jpg"
        )
        if modality != "rgb":
            kwargs["modality"] = modality
        super().__init__(ann_file, sampler, transforms, start_index=start_index, **kwargs)
        self.reader_options["start_index"] = start_index

    def open(self, entry: Entry) -> VideoReader:
        reader = super().open(entry)
        if len(reader) < entry.total_frames:
            raise DecodeError(
                f"{entry.path}: the list says {entry.total_frames} frames, the folder has "
                f"{len(reader)}"
            )
        return _FirstFrames(reader, entry.total_frames)


class _FirstFrames:
    """A reader limited to the frame count a rawframe list gives."""

    def __init__(self, reader: VideoReader, count: int):
        self.reader, self.count = reader, count

    def __len__(self) -> int:
        return self.count

    @property
    def fps(self) -> float:
        return self.reader.fps

    def get_frames(self, indices):
        return self.reader.get_frames(indices)

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> _FirstFrames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def collate_clips(samples: list[dict]) -> dict:
    """``default_collate``, with the draws of repeated augmentation (samples marked
    ``repeats``: inputs ``[n, ...]``) laid out as ``n`` consecutive samples each."""
    batch = default_collate(samples)
    if batch.pop("repeats", None) is None:
        return batch
    n = batch["inputs"].shape[1]
    batch["index"] = batch["index"][:, None].expand(-1, n)
    for key in ("inputs", "label", "index"):
        batch[key] = batch[key].flatten(0, 1)
    return batch


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool = True,
    num_workers: int = 2,
    drop_last: bool | None = None,
    pin_memory: bool | None = None,
    timeout: float | None = None,
    seed: int = 0,
    **kwargs,
) -> DataLoader:
    """A DataLoader with the settings video loading wants: persistent workers with a
    prefetch of 2 batches each, one torch thread per worker (decoders spin otherwise),
    pinned memory when CUDA is present, ``drop_last`` when shuffling (training), and a
    ``timeout`` (default: the dataset's decode time limit + 60 s) so a decoder stuck
    inside native code fails the run with an error instead of hanging it."""
    if timeout is None:
        limit = getattr(dataset, "decode_timeout", None)
        timeout = 0 if num_workers == 0 or limit is None else limit + 60
    generator = torch.Generator().manual_seed(seed)
    return VideoLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=shuffle if drop_last is None else drop_last,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=2 if num_workers > 0 else None,
        timeout=timeout,
        worker_init_fn=_worker_init,
        generator=generator,
        **kwargs,
    )


STACKS_SIGNAL = signal.SIGUSR1


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)  # what DataLoader does too; kept explicit for custom loaders
    # SIGUSR1 prints the worker's Python stacks to fd 2 (VideoLoader sends it on a stall)
    faulthandler.register(STACKS_SIGNAL, file=2, all_threads=True)


class VideoLoader(DataLoader):
    """``make_loader``'s DataLoader: when no batch arrives within ``timeout``, it asks each
    worker for its Python stacks (printed to stderr: where a stuck worker is) before
    raising, instead of a bare "DataLoader timed out"."""

    def __iter__(self):
        starts_workers = self.num_workers > 0 and (
            not self.persistent_workers or self._iterator is None
        )
        if not starts_workers:
            return _WatchedIterator(super().__iter__(), self.timeout)
        # The workers are forks of this process: whatever garbage it holds would be
        # collected in each of them, running finalizers of objects whose threads exist only
        # here (an unclosed decoder's frame pool, waited for forever). Freeze this process's
        # objects out of the workers' collections (Python's gc.freeze advice for fork; it
        # also keeps copy-on-write pages shared); this process collects them as usual.
        # (No gc.collect() first: a full collection a loader, 0.2 s at 300k objects.)
        gc.freeze()
        try:
            return _WatchedIterator(super().__iter__(), self.timeout)
        finally:
            gc.unfreeze()


class _WatchedIterator:
    def __init__(self, iterator, timeout: float):
        self.iterator, self.timeout = iterator, timeout

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.iterator)

    def __next__(self):
        try:
            return next(self.iterator)
        except RuntimeError as err:
            if "timed out" not in str(err):
                raise
            workers = [w.pid for w in getattr(self.iterator, "_workers", []) if w.is_alive()]
            for pid in workers:  # one at a time: they share the parent's stderr
                print(f"DataLoader worker {pid}, stalled:", file=sys.stderr, flush=True)
                with contextlib.suppress(OSError):
                    os.kill(pid, STACKS_SIGNAL)
                time.sleep(0.5)  # let it write
            raise RuntimeError(
                f"no batch from the DataLoader workers (pids {workers}) in {self.timeout} s; "
                "their Python stacks are printed to stderr above (a decoder stuck in native "
                "code shows as the line that called it)"
            ) from err


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    reason: str


def check_list(
    ann_file: str | os.PathLike,
    kind: str = "video",
    data_prefix: str = "",
    backend: str = "auto",
    decode: bool = True,
    timeout: float | None = 60.0,
    **reader_options,
) -> tuple[int, list[Problem]]:
    """Scans every entry of a list: opens it, counts its frames and (``decode=True``)
    decodes its first, middle and last frame. Returns ``(entries, problems)``; a list
    that cannot be parsed raises ``ValueError`` naming the line."""
    entries = parse_list(ann_file, kind, data_prefix)
    problems = []
    if kind == "rawframes":
        backend = "rawframes"
        reader_options.setdefault("start_index", 1)
    for e in entries:
        try:
            reader = VideoReader(e.path, backend=backend, timeout=timeout, **reader_options)
            n = len(reader)
            if e.total_frames is not None and n < e.total_frames:
                raise DecodeError(f"{e.path}: the list says {e.total_frames} frames, found {n}")
            if decode:
                reader.get_frames([0, n // 2, n - 1])
            reader.close()
        except (DecodeError, FileNotFoundError, OSError) as err:
            problems.append(Problem(e.line, e.path, str(err)))
    return len(entries), problems
