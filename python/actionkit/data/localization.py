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
- :class:`LocalizationDataset`: per video its features ``[C, T]`` and BMN's training
  targets, as MMAction2's ``ActivityNetDataset`` with ``LoadLocalizationFeature``,
  ``GenerateLocalizationLabels`` and ``BMN.generate_labels``.

Time: ground truth is normalised by the span the features cover, ``feature_frame /
duration_frame * duration_second`` (:func:`feature_span`; the whole duration when a
file gives no frame counts), and proposals are scaled back to seconds by the same span
(:func:`proposals_to_seconds`). MMAction2 normalises the same way but scales its
outputs by ``duration_frame // 16 * 16 / duration_frame * duration_second``, which is
another span whenever ``feature_frame`` is not ``duration_frame // 16 * 16`` (in its
own ActivityNet file, 624 vs 640 frames for ``v_--6bJUbfpnQ``): a proposal then lands
off the features it was found in. ``legacy=True`` keeps MMAction2's scaling for
comparing numbers with it.

Bad files raise :class:`~actionkit.errors.DataError` naming the file, the video and the
key or line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

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
    subset: str | None = None,
    skip_unknown: bool = False,
) -> dict[str, dict]:
    """THUMOS14's temporal annotations (``<Class>_val.txt`` / ``<Class>_test.txt``, one
    ``<video> <start> <end>`` per line, seconds; ``Ambiguous_*`` files are skipped) as
    the ActivityNet-style mapping of :func:`load_activitynet`. ``durations``: seconds per
    video (THUMOS ships them in its metadata, not in these files); ``fps`` gives
    ``duration_frame``; ``subset`` (``val`` or ``test``) reads that subset's files only;
    ``skip_unknown`` leaves out the videos ``durations`` lacks instead of raising."""
    root = Path(annotation_dir)
    files = sorted(
        p
        for p in root.glob("*.txt")
        if _THUMOS_FILE.match(p.name) and subset in (None, _THUMOS_FILE.match(p.name)["subset"])
    )
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
            if video not in durations and skip_unknown:
                continue
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


def feature_span(info: dict) -> float:
    """Seconds the feature sequence of a video covers: ``feature_frame / duration_frame
    * duration_second`` when the annotation gives both frame counts, else its
    ``duration_second``."""
    if info.get("feature_frame") and info.get("duration_frame"):
        return float(info["feature_frame"]) / info["duration_frame"] * info["duration_second"]
    return float(info["duration_second"])


def normalized_segments(info: dict) -> np.ndarray:
    """A video's ground truth ``[K, 2]`` (float64) as fractions of :func:`feature_span`,
    clipped to [0, 1] (MMAction2's ``GenerateLocalizationLabels``)."""
    span = feature_span(info)
    seg = np.array([a["segment"] for a in info["annotations"]], dtype=float).reshape(-1, 2)
    return np.clip(seg / span, 0.0, 1.0)


def proposals_to_seconds(
    proposals, info: dict, legacy: bool = False, interval: int = 16
) -> list[dict]:
    """``[K, 3]`` proposals (start, end, score; fractions of the feature span) as the
    ActivityNet result list ``[{"segment": [start_s, end_s], "score"}]``, start clipped at
    0 and end at 1 before scaling. ``legacy``: MMAction2's scale, ``duration_frame //
    interval * interval / duration_frame * duration_second`` (see the module doc)."""
    if legacy:
        if not info.get("duration_frame"):
            raise DataError("legacy scaling needs 'duration_frame' in the annotation")
        frames = info["duration_frame"]
        span = float(frames // interval * interval) / frames * info["duration_second"]
    else:
        span = feature_span(info)
    return [
        {
            "segment": [max(0.0, float(p[0])) * span, min(1.0, float(p[1])) * span],
            "score": float(p[2]),
        }
        for p in np.asarray(proposals, dtype=float).reshape(-1, 3)
    ]


def video_id(name: str) -> str:
    """The id a result file uses: the name without MMAction2's ``v_`` prefix."""
    return name[2:] if name.startswith("v_") else name


class LocalizationDataset(Dataset):
    """Videos of an ActivityNet-style annotation file with their feature sequences
    ``<data_prefix>/<video><feature_ext>`` (CSV or .npy, ``[T, C]``).

    An item is ``{"inputs": [C, T] float32, "index"}`` plus, unless ``test_mode``, the
    model's training targets: ``targets="bmn"``: BMN's ``gt_iou [T, T]``, ``gt_start [T]``,
    ``gt_end [T]`` (:func:`~actionkit.models.bmn_targets.bmn_targets`); ``"tem"``: BSN
    TEM's ``gt_action``, ``gt_start``, ``gt_end`` ``[T]``
    (:func:`~actionkit.models.bsn.tem_targets`, with ``boundary_ratio``).
    ``temporal_dim``: rescale every sequence to this length with :func:`pool_feature`
    (None: take them as stored, which must then all have one length for batching). Every
    feature file must exist, and for training every video needs an annotation: both are
    checked here, naming the files.
    """

    def __init__(
        self,
        ann_file: str | os.PathLike,
        data_prefix: str | os.PathLike = "",
        feature_ext: str = ".csv",
        temporal_dim: int | None = None,
        subset: str | None = None,
        test_mode: bool = False,
        targets: str = "bmn",
        boundary_ratio: float = 0.1,
    ):
        if targets not in ("bmn", "tem"):
            raise ValueError(f"targets must be 'bmn' or 'tem', got {targets!r}")
        self.targets, self.boundary_ratio = targets, boundary_ratio
        if feature_ext not in (".csv", ".npy"):
            raise ValueError(f"feature_ext must be '.csv' or '.npy', got {feature_ext!r}")
        self.ann_file = Path(ann_file)
        self.videos = load_activitynet(self.ann_file, subset)
        if not self.videos:
            raise DataError(
                f"{self.ann_file}: no videos" + (f" in subset {subset!r}" if subset else "")
            )
        self.names = list(self.videos)
        self.prefix, self.feature_ext = Path(data_prefix), feature_ext
        self.temporal_dim, self.test_mode = temporal_dim, test_mode
        missing = [n for n in self.names if not self.feature_path(n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.ann_file}: {len(missing)} of {len(self.names)} videos have no feature "
                f"file, e.g. {self.feature_path(missing[0])}"
            )
        if not test_mode:
            empty = [n for n in self.names if not self.videos[n]["annotations"]]
            if empty:
                raise DataError(
                    f"{self.ann_file}: {len(empty)} videos have no annotation, which training "
                    f"needs (e.g. {empty[0]}); leave them out of the training file"
                )

    def __len__(self) -> int:
        return len(self.names)

    def feature_path(self, name: str) -> Path:
        return self.prefix / f"{name}{self.feature_ext}"

    def features(self, index: int) -> np.ndarray:
        """Video ``index``'s features ``[T, C]``, rescaled to ``temporal_dim`` if set."""
        data = read_features(self.feature_path(self.names[index]))
        if self.temporal_dim is not None and len(data) != self.temporal_dim:
            data = pool_feature(data, self.temporal_dim).astype(np.float32)
        return data

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """Video ``index``; an ``(epoch, index)`` pair (what
        :class:`~actionkit.engine.EpochSampler` yields) is the same item: nothing here
        is random."""
        from ..models.bmn_targets import bmn_targets

        index = index[1] if isinstance(index, tuple) else index
        data = self.features(index)
        item = {"inputs": torch.from_numpy(np.ascontiguousarray(data.T)), "index": index}
        if not self.test_mode:
            segments = torch.from_numpy(normalized_segments(self.videos[self.names[index]]))
            if self.targets == "bmn":
                iou, start, end = bmn_targets([segments], len(data))
                item.update(gt_iou=iou[0], gt_start=start[0], gt_end=end[0])
            else:
                from ..models.bsn import tem_targets

                action, start, end = tem_targets([segments], len(data), self.boundary_ratio)
                item.update(gt_action=action[0], gt_start=start[0], gt_end=end[0])
        return item


class ProposalDataset(Dataset):
    """BSN's proposal evaluation data: per video of an annotation file its PGM output
    ``<pgm_dir>/<video>.npz`` (``proposals [K, 7]``: tmin, tmax, start score, end score,
    score, best tIoU, best overlap; ``features [K, 32]``; written by ``actionkit-data
    pgm``), the best ``top_k`` of them (MMAction2's ``LoadProposals``: 500 to train, 1000
    to test), padded to ``top_k`` so videos batch. An item: ``bsp_features [top_k, 32]``,
    ``reference_iou [top_k]`` (the best tIoU, PEM's target), ``proposals [top_k, 4]``
    (float64), ``valid [top_k]`` and ``index``."""

    def __init__(
        self,
        ann_file: str | os.PathLike,
        pgm_dir: str | os.PathLike,
        top_k: int = 1000,
        subset: str | None = None,
    ):
        self.ann_file, self.pgm_dir, self.top_k = Path(ann_file), Path(pgm_dir), top_k
        self.videos = load_activitynet(self.ann_file, subset)
        self.names = list(self.videos)
        missing = [n for n in self.names if not self.path(n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{self.ann_file}: {len(missing)} of {len(self.names)} videos have no PGM "
                f"output, e.g. {self.path(missing[0])} (actionkit-data pgm writes them)"
            )

    def __len__(self) -> int:
        return len(self.names)

    def path(self, name: str) -> Path:
        return self.pgm_dir / f"{name}.npz"

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        index = index[1] if isinstance(index, tuple) else index
        path = self.path(self.names[index])
        try:
            with np.load(path, allow_pickle=False) as data:
                props, feats = data["proposals"][: self.top_k], data["features"][: self.top_k]
        except (KeyError, ValueError, OSError) as e:
            raise DataError(f"{path}: not a PGM output (proposals, features): {e}") from None
        if props.ndim != 2 or props.shape[1] != 7 or len(feats) != len(props):
            raise DataError(f"{path}: proposals {props.shape} and features {feats.shape} disagree")
        k = len(props)
        pad = self.top_k - k
        bsp = np.pad(feats.astype(np.float32), ((0, pad), (0, 0)))
        return {
            "bsp_features": torch.from_numpy(bsp),
            "reference_iou": torch.from_numpy(np.pad(props[:, 5].astype(np.float32), (0, pad))),
            "proposals": torch.from_numpy(np.pad(props[:, :4], ((0, pad), (0, 0)))),
            "valid": torch.arange(self.top_k) < k,
            "index": index,
        }


def run_pgm(
    tem_results: dict[str, list],
    videos: dict[str, dict],
    out: str | os.PathLike,
    peak_threshold: float = 0.5,
    top_k: int = 1000,
    **bsp_args,
) -> int:
    """BSN's proposal generation over videos: for each video of ``videos`` (an
    annotation mapping) its TEM output from ``tem_results`` (``{video: [T, 3]}``, what
    ``actionkit-test`` writes as ``tem_results.json``) becomes ``out/<video>.npz``
    (:func:`~actionkit.models.bsn.generate_proposals`; tIoU targets from the annotations,
    normalised by the feature span, not clipped, as MMAction2). Returns the count."""
    from ..engine.checkpoint import write_atomically
    from ..models.bsn import generate_proposals

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    missing = [v for v in videos if v not in tem_results]
    if missing:
        raise DataError(f"no TEM result for {len(missing)} videos, e.g. {missing[0]}")
    for name, info in videos.items():
        span = feature_span(info)
        gt = [[a["segment"][0] / span, a["segment"][1] / span] for a in info["annotations"]]
        props, feats = generate_proposals(tem_results[name], gt, peak_threshold, top_k, **bsp_args)

        def write(tmp, props=props, feats=feats):
            with open(tmp, "wb") as f:
                np.savez(f, proposals=props, features=feats)

        write_atomically(out / f"{name}.npz", write)
    return len(videos)
