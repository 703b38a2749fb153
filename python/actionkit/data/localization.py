"""Temporal localization data: annotation files and per-video feature sequences.

- :func:`load_activitynet` reads MMAction2's ActivityNet JSON (``{video: {duration_second,
  duration_frame, annotations: [{segment, label}], feature_frame, fps, rfps}}``) and the
  official ActivityNet 1.3 JSON (``{"database": {id: {duration, subset, annotations}}}``,
  optionally one ``subset``) into the first form.
- :func:`thumos14_to_activitynet` turns THUMOS14's per-class annotation text files
  (``<video> <start> <end>`` per line, one ``<Class>_<subset>.txt`` per class) into it.
- :func:`read_features` reads a feature sequence ``[T, C]`` from CSV (a header row, then
  T rows of C numbers: ActivityNet's released features) or ``.npy``;
  :func:`pool_feature` rescales one to a fixed length as MMAction2's
  ``activitynet_feature_postprocessing.pool_feature`` does (linear interpolation, the mean
  of 3 samples per bin), vectorised.

Bad files raise :class:`~actionkit.errors.DataError` naming the file, the video and the
key or line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ..errors import DataError


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None


def _segment(path: Path, video: str, i: int, item) -> list[float]:
    where = f"{path}: {video}: annotations[{i}]"
    if not isinstance(item, dict) or "segment" not in item or "label" not in item:
        raise DataError(f"{where}: needs 'segment' and 'label', got {item!r}")
    seg = item["segment"]
    if not isinstance(seg, list | tuple) or len(seg) != 2:
        raise DataError(f"{where}.segment: expected [start, end], got {seg!r}")
    try:
        start, end = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        raise DataError(f"{where}.segment: {seg!r} is not two numbers") from None
    if not (np.isfinite(start) and np.isfinite(end)) or end < start:
        raise DataError(f"{where}.segment: {seg!r} must be finite with start <= end")
    return [start, end]


def load_activitynet(path: str | os.PathLike, subset: str | None = None) -> dict[str, dict]:
    """``{video: {"duration_second", "annotations": [{"segment", "label"}], ...}}`` from
    either ActivityNet JSON layout (see the module doc). With the official layout,
    ``subset`` ("training", "validation", "testing") keeps one subset and video ids get
    MMAction2's ``v_`` prefix; the other keys MMAction2's files carry (duration_frame,
    feature_frame, fps, rfps) are kept where present."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such annotation file")
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of videos, got {type(data).__name__}")
    official = "database" in data
    if official:
        data = data["database"]
    out = {}
    for video, info in data.items():
        if not isinstance(info, dict):
            raise DataError(f"{path}: {video}: expected a mapping, got {info!r}")
        if official and subset is not None and info.get("subset") != subset:
            continue
        duration = info.get("duration_second", info.get("duration"))
        if duration is None:
            raise DataError(f"{path}: {video}: no 'duration_second' (or 'duration')")
        annotations = info.get("annotations", [])
        if not isinstance(annotations, list):
            raise DataError(f"{path}: {video}: annotations must be a list")
        entry = {k: v for k, v in info.items() if k not in ("annotations", "duration")}
        entry["duration_second"] = float(duration)
        entry["annotations"] = [
            {"segment": _segment(path, video, i, a), "label": a["label"]}
            for i, a in enumerate(annotations)
        ]
        out[f"v_{video}" if official and not str(video).startswith("v_") else video] = entry
    return out


_THUMOS_FILE = re.compile(r"^(?P<label>.+)_(?P<subset>val|test)\.txt$")


def thumos14_to_activitynet(
    annotation_dir: str | os.PathLike,
    durations: dict[str, float],
    fps: float = 30.0,
) -> dict[str, dict]:
    """THUMOS14's temporal annotations (``<Class>_val.txt`` / ``<Class>_test.txt``, one
    ``<video> <start> <end>`` per line, seconds; ``Ambiguous_*`` files are skipped) as
    the ActivityNet-style mapping of :func:`load_activitynet`. ``durations``: seconds per
    video (THUMOS ships them in its metadata, not in these files); ``fps`` gives
    ``duration_frame``."""
    root = Path(annotation_dir)
    files = sorted(p for p in root.glob("*.txt") if _THUMOS_FILE.match(p.name))
    if not files:
        raise DataError(f"{root}: no <Class>_val.txt / <Class>_test.txt annotation files")
    out: dict[str, dict] = {}
    for file in files:
        label = _THUMOS_FILE.match(file.name)["label"]
        if label == "Ambiguous":
            continue
        for n, line in enumerate(file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                video, start, end = parts[0], float(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                raise DataError(
                    f"{file}, line {n}: expected '<video> <start> <end>', got {line!r}"
                ) from None
            if end < start:
                raise DataError(f"{file}, line {n}: end {end} is before start {start}")
            if video not in durations:
                raise DataError(f"{file}, line {n}: no duration given for video {video}")
            entry = out.setdefault(
                video,
                {
                    "duration_second": float(durations[video]),
                    "duration_frame": int(round(durations[video] * fps)),
                    "fps": fps,
                    "annotations": [],
                },
            )
            entry["annotations"].append({"segment": [start, end], "label": label})
    return out


def read_features(path: str | os.PathLike) -> np.ndarray:
    """A feature sequence ``[T, C]`` (float32) from ``.csv`` (a header row, then T rows
    of C comma-separated numbers) or ``.npy``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such feature file")
    if path.suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise DataError(f"{path}: not a plain .npy array: {e}") from None
    elif path.suffix == ".csv":
        lines = path.read_text().splitlines()
        if len(lines) < 2:
            raise DataError(f"{path}: expected a header row and at least one row of features")
        width = len(lines[0].split(","))
        rows = []
        for n, line in enumerate(lines[1:], 2):
            values = line.split(",")
            if len(values) != width:
                raise DataError(f"{path}, line {n}: {len(values)} values, the header has {width}")
            try:
                rows.append([float(v) for v in values])
            except ValueError:
                raise DataError(f"{path}, line {n}: not all numbers: {line[:80]!r}") from None
        data = np.asarray(rows)
    else:
        raise DataError(f"{path}: features must be .csv or .npy")
    if data.ndim != 2 or data.shape[0] == 0:
        raise DataError(f"{path}: expected features [T, C] with T >= 1, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise DataError(f"{path}: the features hold NaN or inf")
    return data.astype(np.float32)


def pool_feature(
    data: np.ndarray, num_proposals: int = 100, num_sample_bins: int = 3, pool_type="mean"
) -> np.ndarray:
    """``data [T, C]`` rescaled to ``[num_proposals, C]``: bin ``k`` is the mean (or max)
    of ``num_sample_bins`` linear interpolations at ``eps + (k + i / bins) * step``,
    ``step = (T - 1 - 2 eps) / num_proposals``, ``eps = 1e-4`` (MMAction2's
    ``pool_feature``; a single-row input is repeated)."""
    data = np.asarray(data)
    if data.ndim != 2 or len(data) == 0:
        raise ValueError(f"features must be [T, C] with T >= 1, got {data.shape}")
    if pool_type not in ("mean", "max"):
        raise ValueError(f"pool_type must be 'mean' or 'max', got {pool_type!r}")
    if len(data) == 1:
        return np.repeat(data, num_proposals, axis=0)
    eps = 1e-4
    start, end = eps, len(data) - 1 - eps
    step = (end - start) / num_proposals
    # the bin starts as MMAction2 accumulates them (ptr += step), for the same rounding
    starts = np.empty(num_proposals)
    ptr = start
    for k in range(num_proposals):
        starts[k] = ptr
        ptr += step
    x = starts[:, None] + np.arange(num_sample_bins)[None, :] / num_sample_bins * step
    lo = np.clip(np.floor(x).astype(np.int64), 0, len(data) - 2)
    w = (x - lo)[..., None]
    y = data[lo] + w * (data[lo + 1] - data[lo])  # scipy's interp1d: y0 + (x - x0) * slope
    return y.mean(1) if pool_type == "mean" else y.max(1)
