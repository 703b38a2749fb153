"""Skeleton annotations: MMAction2 1.x pose pickles, read as data.

A pose pickle is ``{"split": {name: [frame_dir, ...]}, "annotations": [sample, ...]}``
(or the bare list of samples of MMAction2 0.x), each sample ``{"frame_dir", "total_frames",
"label", "img_shape", "original_shape", "keypoint": float [M, T, V, C],
"keypoint_score": [M, T, V]}`` (3D skeletons: ``C = 3`` and no scores).

Pickles can run code; these are read with an unpickler that builds only plain data
(dicts, lists, tuples, strings, numbers) and numpy arrays, and refuses anything else
naming it (``trust=True`` lifts that, for files from a source you trust).
:func:`load_pose_annotations` validates every sample and raises
:class:`~actionkit.errors.DataError` naming the file, the sample and the key.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..serialization import _numpy_globals

REQUIRED = ("frame_dir", "total_frames", "label", "keypoint")
log = logging.getLogger(__name__)


class _Refused(pickle.UnpicklingError):
    """A global the data unpickler does not build."""


class _DataUnpickler(pickle.Unpickler):
    """Builds plain data and numpy arrays; any other global is refused."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str):
        qualname = f"{module}.{name}"
        if qualname in self.allowed:
            return self.allowed[qualname]
        raise _Refused(qualname)


def load_pickle(path: str | os.PathLike, trust: bool = False, what: str = "pose"):
    """The object in the pickle ``path``, built from data types and numpy arrays only
    (``trust=True``: any object, which can run code); ``what`` names the kind of file in
    errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file")
    data = path.read_bytes()
    if trust:
        return pickle.loads(data)  # noqa: S301  (the caller's explicit opt-in)
    try:
        return _DataUnpickler(io.BytesIO(data)).load()
    except _Refused as e:
        raise DataError(
            f"{path}: refusing to unpickle {e} — a {what} file holds data, and this one names "
            "other objects; pass trust=True only if you trust where the file came from: "
            "unpickling can run any code it holds"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as e:
        raise DataError(f"{path}: not a {what} pickle ({type(e).__name__}: {e})") from None


def _check_sample(
    path: Path, i: int, sample, num_classes: int | None, need_label: bool = True
) -> dict:
    if not isinstance(sample, dict):
        raise DataError(
            f"{path}: annotations[{i}]: expected a mapping, got {type(sample).__name__}"
        )
    name = sample.get("frame_dir", f"annotations[{i}]")
    where = f"{path}: sample {name!r}"
    missing = [k for k in REQUIRED if k not in sample and (need_label or k != "label")]
    if missing:
        raise DataError(f"{where}: missing key {missing[0]!r}")
    kp = np.asarray(sample["keypoint"])
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3) or not np.issubdtype(kp.dtype, np.number):
        raise DataError(f"{where}: keypoint must be numbers [M, T, V, 2 or 3], got {kp.shape}")
    m, t, v, _ = kp.shape
    if m == 0 or t == 0 or v == 0:
        raise DataError(f"{where}: keypoint has an empty axis, shape {kp.shape}")
    if not np.isfinite(kp).all():
        raise DataError(f"{where}: keypoint holds NaN or inf")
    total = sample["total_frames"]
    if not isinstance(total, int | np.integer) or total != t:
        raise DataError(f"{where}: total_frames {total!r} disagrees with keypoint's {t} frames")
    if "keypoint_score" in sample:
        score = np.asarray(sample["keypoint_score"])
        if score.shape != (m, t, v):
            raise DataError(
                f"{where}: keypoint_score has shape {score.shape}, keypoint {kp.shape} "
                f"wants {(m, t, v)}"
            )
        if not np.isfinite(score).all():
            raise DataError(f"{where}: keypoint_score holds NaN or inf")
    if "label" not in sample:
        return sample
    label = sample["label"]
    if not isinstance(label, int | np.integer) or label < 0:
        raise DataError(f"{where}: label must be an integer >= 0, got {label!r}")
    if num_classes is not None and label >= num_classes:
        raise DataError(f"{where}: label {label} is out of range for {num_classes} classes")
    return sample


def load_pose_annotations(
    path: str | os.PathLike,
    split: str | None = None,
    num_classes: int | None = None,
    trust: bool = False,
    skipped: list[tuple[str, str]] | None = None,
) -> list[dict]:
    """The validated samples of a pose pickle, those of ``split`` only when given (a
    name in its ``split`` mapping; names of unknown samples are an error). A bad sample
    raises :class:`DataError`, unless a ``skipped`` list is given: then it is left out
    and ``(sample, reason)`` appended to it."""
    path = Path(path)
    data = load_pickle(path, trust)
    if isinstance(data, list):
        if split is not None:
            raise DataError(f"{path}: a list of samples has no splits (asked for {split!r})")
        samples = data
    elif isinstance(data, dict) and "annotations" in data:
        samples = data["annotations"]
        if split is not None:
            splits = data.get("split") or {}
            if split not in splits:
                raise DataError(
                    f"{path}: no split {split!r} (known: {', '.join(map(str, splits))})"
                )
            wanted = set(splits[split])
            found = {s.get("frame_dir") for s in samples if isinstance(s, dict)}
            unknown = sorted(map(str, wanted - found))
            if unknown:
                raise DataError(
                    f"{path}: split {split!r} names {len(unknown)} samples that are not in "
                    f"annotations, e.g. {unknown[0]!r}"
                )
            samples = [s for s in samples if s.get("frame_dir") in wanted]
    else:
        raise DataError(
            f"{path}: expected {{'split', 'annotations'}} or a list of samples, got "
            f"{type(data).__name__}"
        )
    valid = []
    for i, sample in enumerate(samples):
        try:
            valid.append(_check_sample(path, i, sample, num_classes))
        except DataError as e:
            if skipped is None:
                raise
            name = sample.get("frame_dir", f"annotations[{i}]") if isinstance(sample, dict) else i
            skipped.append((str(name), str(e)))
    return valid


def pose_steps(sampler, pipeline: list, where: str) -> list:
    """The pipeline with the frame sampler run right before its ``PoseDecode`` (where
    MMAction2's pipelines put it); a ``GeneratePoseTarget`` needs a ``FormatShape`` after
    it."""
    from .pose_transforms import PoseDecode, SampleFrames

    steps = list(pipeline)
    at = next((i for i, t in enumerate(steps) if isinstance(t, PoseDecode)), None)
    if at is None:
        raise DataError(f"{where}: the pipeline needs a PoseDecode (where frames are taken)")
    steps.insert(at, SampleFrames(sampler))
    names = [type(t).__name__ for t in steps]
    if (
        "GeneratePoseTarget" in names
        and "FormatShape" not in names[names.index("GeneratePoseTarget") :]
    ):
        raise DataError(f"{where}: the pipeline needs a FormatShape after GeneratePoseTarget")
    return steps


def run_pose_steps(
    steps: list, sample: dict, rng: np.random.Generator
) -> tuple[torch.Tensor, int | None]:
    """A sample (copied) through the steps: the model input (heatmaps for PoseC3D when
    the pipeline makes them, else the keypoints for GCNs) and the label (a ``Flip`` with
    ``flip_label_map`` may change it)."""
    results = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in sample.items()}
    for step in steps:
        results = step(results, rng) if getattr(step, "needs_rng", False) else step(results)
    label = int(results["label"]) if "label" in results else None
    if "imgs" in results:
        return torch.as_tensor(results["imgs"], dtype=torch.float32).contiguous(), label
    kp = np.ascontiguousarray(results["keypoint"], dtype=np.float32)
    return torch.from_numpy(kp), label


def load_pose_samples(
    path: str | os.PathLike, img_shape: tuple[int, int] | None = None, trust: bool = False
) -> list[dict]:
    """What ``actionkit-infer`` classifies: every sample of a pose pickle (labels not
    needed), or one video's keypoint JSON (a file, or a folder of per-frame OpenPose
    files) in an ``img_shape`` ``(H, W)`` frame, which JSON does not record."""
    path = Path(path)
    if path.suffix.lower() in (".pkl", ".pickle"):
        data = load_pickle(path, trust)
        samples = data["annotations"] if isinstance(data, dict) and "annotations" in data else data
        if not isinstance(samples, list) or not samples:
            raise DataError(f"{path}: no samples (expected a pose pickle)")
        return [_check_sample(path, i, s, None, need_label=False) for i, s in enumerate(samples)]
    from .pose_convert import read_keypoint_json

    if img_shape is None:
        raise DataError(
            f"{path}: keypoint JSON does not record the frame size: give it (--img-shape H W)"
        )
    sample = read_keypoint_json(path)
    sample.pop("layout")
    return [{"frame_dir": path.stem, "img_shape": tuple(img_shape), **sample}]


class _Entry:
    """What the classification evaluator names a sample by."""

    def __init__(self, path: str):
        self.path = path


class PoseDataset(Dataset):
    """Samples of a pose pickle through a skeleton pipeline
    (:mod:`actionkit.data.pose_transforms`), ``{"inputs", "label", "index"}``: inputs
    ``[num_clips, M, T, V, C]`` float32 keypoints (GCNs), or ``[crops * clips, K, T, H,
    W]`` heatmaps when the pipeline makes them (PoseC3D). ``skip_invalid``: bad samples
    are left out, logged and counted in ``invalid`` (else the first one raises).

    ``sampler`` (``UniformSampleFrames``) runs right before the pipeline's
    ``PoseDecode``, where MMAction2's pipelines put it. Randomness comes from a generator
    per (seed, epoch, index), so a sample is the same in every worker layout (an
    ``(epoch, index)`` pair, what :class:`~actionkit.engine.EpochSampler` yields, picks
    the epoch)."""

    def __init__(
        self,
        ann_file: str | os.PathLike,
        sampler,
        pipeline: list,
        split: str | None = None,
        num_classes: int | None = None,
        seed: int = 0,
        trust: bool = False,
        skip_invalid: bool = False,
    ):
        skipped: list[tuple[str, str]] | None = [] if skip_invalid else None
        self.samples = load_pose_annotations(ann_file, split, num_classes, trust, skipped)
        # as the video datasets: skipped samples are logged and counted, never silent
        self.invalid = Counter(name for name, _ in skipped or [])
        for _, reason in skipped or []:
            log.warning("skipping invalid sample: %s", reason)
        if not self.samples:
            raise DataError(f"{ann_file}: no samples" + (f" in split {split!r}" if split else ""))
        steps = pose_steps(sampler, pipeline, str(ann_file))
        self.steps, self.seed, self.epoch = steps, seed, 0
        self.entries = [_Entry(str(s["frame_dir"])) for s in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        inputs, label = run_pose_steps(self.steps, self.samples[index], rng)
        return {"inputs": inputs, "label": label, "index": index}


def save_pose_pickle(
    path: str | os.PathLike, annotations: list[dict], splits: dict[str, list[str]]
) -> Path:
    """Writes ``{"split": splits, "annotations": annotations}`` as MMAction2 1.x pose
    pickles are, atomically (a failed write leaves no partial file)."""
    from ..engine.checkpoint import write_atomically

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"split": splits, "annotations": annotations}

    def write(tmp):
        with open(tmp, "wb") as f:
            pickle.dump(payload, f, protocol=4)

    write_atomically(path, write)
    return path
