"""Pose pickles from the files skeleton data comes in: NTU RGB+D ``.skeleton`` text files
and per-frame keypoint JSON as pose estimators write it.

NTU RGB+D 60/120 (``actionkit-data ntu``): each ``SsssCcccPpppRrrrAaaa.skeleton`` file
(setup, camera, performer, replication, action) holds, per frame, the Kinect bodies with
25 joints each. As MMAction2's ``gen_ntu_rgbd_raw.py``: bodies are taken by their slot in
the frame (up to 4), the two that move most (the sum over x, y, z of the standard
deviation over their non-zero frames) are kept in that order, keypoints are the joints'
camera-space ``x, y, z`` in metres (3D data: no ``keypoint_score``; pre-normalisation
is the pipeline's ``PreNormalize3D``), the label is the action number - 1, ``img_shape``
is Kinect's colour frame ``(1080, 1920)``. Splits: ``xsub_train`` / ``xsub_val`` (the
published training performers), ``xview_train`` / ``xview_val`` (cameras 2 and 3) for
NTU60, ``xsub_*`` and ``xset_*`` (even setups) for NTU120, as MMAction2's 1.x pickles
name them.

Keypoint JSON (``actionkit-data keypoints``): one video is either a folder of per-frame
files (OpenPose's ``*_keypoints.json``: ``{"people": [{"pose_keypoints_2d": [x, y, c,
...]}]}``, the frame order taken from the number in the file name) or one file holding
all frames: a list of COCO-style results (``{"image_id": frame, "keypoints": [x, y, c,
...], "score"}``), MMPose's ``{"instance_info": [{"frame_id", "instances": [{"keypoints":
[[x, y], ...], "keypoint_scores"}]}]}``, or a list of OpenPose frames. 17 keypoints are
the COCO layout, 18 OpenPose's (COCO-18). As MMAction2's ``ntu_pose_extraction.py``,
people are not tracked: person ``m`` of a frame is its ``m``-th most confident
detection (mean keypoint score), frames with fewer people are zero.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import DataError
from .pose import save_pose_pickle

NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
NTU_TRAIN_SUBJECTS_60 = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
NTU_TRAIN_SUBJECTS_120 = NTU_TRAIN_SUBJECTS_60 | {
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84,
    85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
}  # fmt: skip
NTU_TRAIN_CAMERAS = frozenset((2, 3))
NTU_JOINTS = 25
NTU_KINECT_BODIES = 4  # body slots read per frame
NTU_BODIES = 2  # kept per sample
NTU_IMG_SHAPE = (1080, 1920)
LAYOUTS = {17: "coco", 18: "openpose"}


class _Lines:
    """A text file's lines with their numbers, for errors that name both."""

    def __init__(self, path: Path):
        self.path = path
        self.lines = path.read_text(errors="replace").splitlines()
        self.pos = 0

    def fields(self, what: str, count: int | None = None) -> list[str]:
        if self.pos >= len(self.lines):
            raise DataError(f"{self.path}: ends at line {self.pos} where {what} should follow")
        self.pos += 1
        fields = self.lines[self.pos - 1].split()
        if count is not None and len(fields) < count:
            raise DataError(
                f"{self.path}:{self.pos}: {what}: expected {count} fields, got {len(fields)}"
            )
        return fields

    def integer(self, what: str, low: int = 0) -> int:
        fields = self.fields(what, 1)
        try:
            value = int(fields[0])
        except ValueError:
            raise DataError(
                f"{self.path}:{self.pos}: {what}: {fields[0]!r} is not an integer"
            ) from None
        if value < low:
            raise DataError(f"{self.path}:{self.pos}: {what}: {value} is below {low}")
        return value

    def numbers(self, what: str, count: int) -> np.ndarray:
        fields = self.fields(what, count)
        try:
            values = np.array([float(f) for f in fields[:count]])
        except ValueError as e:
            raise DataError(f"{self.path}:{self.pos}: {what}: {e}") from None
        if not np.isfinite(values).all():
            raise DataError(f"{self.path}:{self.pos}: {what}: holds NaN or inf")
        return values


def read_ntu_skeleton(path: str | os.PathLike) -> np.ndarray:
    """The joints of an NTU RGB+D ``.skeleton`` file, ``[4, T, 25, 3]`` float64 by body
    slot (absent bodies are zero). Malformed files raise naming the line and field."""
    src = _Lines(Path(path))
    frames = src.integer("the frame count", 1)
    data = np.zeros((NTU_KINECT_BODIES, frames, NTU_JOINTS, 3))
    for t in range(frames):
        bodies = src.integer(f"frame {t + 1}: the body count")
        for m in range(bodies):
            src.fields(f"frame {t + 1}, body {m + 1}: the body info (id, edges, ...)", 10)
            joints = src.integer(f"frame {t + 1}, body {m + 1}: the joint count", 1)
            if joints != NTU_JOINTS:
                raise DataError(
                    f"{src.path}:{src.pos}: frame {t + 1}, body {m + 1}: {joints} joints "
                    f"(NTU RGB+D bodies have {NTU_JOINTS})"
                )
            for j in range(joints):
                # x y z depthX depthY colorX colorY orientation(4) trackingState
                xyz = src.numbers(f"frame {t + 1}, body {m + 1}, joint {j + 1}", 12)[:3]
                if m < NTU_KINECT_BODIES:
                    data[m, t, j] = xyz
    rest = [line for line in src.lines[src.pos :] if line.strip()]
    if rest:
        raise DataError(
            f"{src.path}:{src.pos + 1}: text after the last of the {frames} frames "
            "(a wrong frame, body or joint count above?)"
        )
    return data


def ntu_keep_bodies(data: np.ndarray, keep: int = NTU_BODIES) -> np.ndarray:
    """The ``keep`` bodies of ``data [M, T, V, 3]`` that move most, most first: the sum
    over coordinates of the standard deviation over the frames where the body is present
    (MMAction2's ``get_nonzero_std``; a body never present scores 0)."""
    energy = np.zeros(len(data))
    for m, body in enumerate(data):
        present = body[body.sum(axis=(1, 2)) != 0]
        if len(present):
            energy[m] = sum(present[..., c].std() for c in range(3))
    order = np.argsort(energy, kind="stable")[::-1][:keep]
    return data[order]


def ntu_name_fields(name: str) -> dict[str, int]:
    """``{"setup", "camera", "subject", "replication", "action"}`` from an NTU sample
    name such as ``S001C002P003R002A013``."""
    match = NTU_NAME.search(name)
    if not match:
        raise DataError(f"{name}: not an NTU RGB+D sample name (SsssCcccPpppRrrrAaaa)")
    keys = ("setup", "camera", "subject", "replication", "action")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def ntu_splits(names: Iterable[str], dataset: str) -> dict[str, list[str]]:
    """The published NTU benchmarks' splits of sample ``names``: ``xsub`` and ``xview``
    (NTU60) or ``xsub`` and ``xset`` (NTU120), each ``_train`` and ``_val``."""
    if dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"dataset: {dataset!r} is not ntu60 or ntu120")
    subjects = NTU_TRAIN_SUBJECTS_60 if dataset == "ntu60" else NTU_TRAIN_SUBJECTS_120
    rules = {"xsub": lambda f: f["subject"] in subjects}
    if dataset == "ntu60":
        rules["xview"] = lambda f: f["camera"] in NTU_TRAIN_CAMERAS
    else:
        rules["xset"] = lambda f: f["setup"] % 2 == 0
    splits = {f"{b}_{part}": [] for b in rules for part in ("train", "val")}
    for name in names:
        fields = ntu_name_fields(name)
        for bench, is_train in rules.items():
            splits[f"{bench}_{'train' if is_train(fields) else 'val'}"].append(name)
    return splits


def _read_ignore_list(path: str | os.PathLike | None) -> set[str]:
    if path is None:
        return set()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the list of samples to leave out)")
    return {Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()}


def convert_ntu(
    src: str | os.PathLike,
    out: str | os.PathLike,
    dataset: str | None = None,
    ignore: str | os.PathLike | None = None,
    skip_invalid: bool = False,
    progress: bool = False,
) -> dict:
    """Converts the ``.skeleton`` files under ``src`` to the pose pickle ``out``.

    ``dataset``: ``ntu60`` or ``ntu120`` (default: ntu120 when a file's setup or action
    number lies past NTU60's 17 / 60). ``ignore``: a file naming samples to leave out,
    one per line (the published ``NTU_RGBD_samples_with_missing_skeletons.txt``).
    A malformed file or one without any body is an error naming it, unless
    ``skip_invalid``: then it is left out and reported. Returns ``{"samples", "skipped":
    [(name, reason)], "ignored", "dataset"}``.
    """
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such folder (the NTU RGB+D .skeleton files)")
    files = sorted(src.rglob("*.skeleton"))
    if not files:
        raise DataError(f"{src}: no .skeleton files under it")
    for f in files:
        ntu_name_fields(f.stem)  # every name is checked before the long part starts
    if dataset is None:
        fields = [ntu_name_fields(f.stem) for f in files]
        dataset = "ntu120" if any(x["setup"] > 17 or x["action"] > 60 for x in fields) else "ntu60"
    elif dataset not in ("ntu60", "ntu120"):
        raise ValueError(f"dataset: {dataset!r} is not ntu60 or ntu120")
    skip = _read_ignore_list(ignore)
    annotations, skipped, ignored = [], [], 0
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ntu", unit="file", file=sys.stderr)
    for f in iterator:
        if f.stem in skip:
            ignored += 1
            continue
        fields = ntu_name_fields(f.stem)
        if dataset == "ntu60" and fields["action"] > 60:
            raise DataError(f"{f}: action {fields['action']} is not an NTU60 action (1-60)")
        try:
            data = read_ntu_skeleton(f)
            if not data.any():
                raise DataError(f"{f}: no body in any frame")
        except DataError as e:
            if not skip_invalid:
                raise DataError(f"{e} (--skip-invalid leaves such files out)") from None
            skipped.append((f.stem, str(e)))
            continue
        kept = ntu_keep_bodies(data)
        annotations.append(
            {
                "frame_dir": f.stem,
                "label": fields["action"] - 1,
                "img_shape": NTU_IMG_SHAPE,
                "original_shape": NTU_IMG_SHAPE,
                "total_frames": kept.shape[1],
                "keypoint": kept.astype(np.float32),
            }
        )
    if not annotations:
        raise DataError(f"{src}: no sample left to write")
    splits = ntu_splits((a["frame_dir"] for a in annotations), dataset)
    save_pose_pickle(out, annotations, splits)
    return {
        "samples": len(annotations),
        "skipped": skipped,
        "ignored": ignored,
        "dataset": dataset,
    }


# ---- keypoint JSON ------------------------------------------------------------------


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None


def _person(where: str, flat, scores=None) -> tuple[np.ndarray, np.ndarray]:
    """``(xy [V, 2], score [V])`` from ``[x, y, c] * V`` (or ``[[x, y], ...]`` and scores)."""
    try:
        arr = np.asarray(flat, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: keypoints are not numbers") from None
    if scores is not None:
        try:
            score = np.asarray(scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(f"{where}: keypoint_scores are not numbers") from None
        if arr.ndim != 2 or arr.shape[1] < 2 or len(score) != len(arr):
            raise DataError(
                f"{where}: keypoints {arr.shape} and keypoint_scores {score.shape} disagree "
                "(expected [[x, y], ...] and one score per keypoint)"
            )
        xy = arr[:, :2]
    else:
        if arr.ndim != 1 or arr.size % 3:
            raise DataError(
                f"{where}: keypoints must be a flat [x, y, score, ...] list, got {arr.size} numbers"
            )
        xy, score = arr.reshape(-1, 3)[:, :2], arr.reshape(-1, 3)[:, 2]
    if len(xy) not in LAYOUTS:
        raise DataError(
            f"{where}: {len(xy)} keypoints; 17 (COCO) or 18 (OpenPose COCO-18) are read "
            "(OpenPose's BODY_25: run it with --model_pose COCO)"
        )
    if not (np.isfinite(xy).all() and np.isfinite(score).all()):
        raise DataError(f"{where}: keypoints hold NaN or inf")
    return xy, score


def _frames_of(path: Path, data) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per frame, the people ``(xy, score)`` of one all-frames JSON document."""
    if isinstance(data, dict) and "instance_info" in data:  # MMPose's inferencer
        entries = data["instance_info"]
        by_frame: dict[int, list] = {}
        for i, entry in enumerate(entries):
            where = f"{path}: instance_info[{i}]"
            if not isinstance(entry, dict) or "instances" not in entry:
                raise DataError(f"{where}: missing key 'instances'")
            frame = entry.get("frame_id", i)
            people = []
            for k, inst in enumerate(entry["instances"]):
                for key in ("keypoints", "keypoint_scores"):
                    if key not in inst:
                        raise DataError(f"{where}.instances[{k}]: missing key {key!r}")
                people.append(
                    _person(f"{where}.instances[{k}]", inst["keypoints"], inst["keypoint_scores"])
                )
            by_frame[int(frame)] = people
        return [by_frame[k] for k in sorted(by_frame)]
    if isinstance(data, list) and data and isinstance(data[0], dict) and "people" in data[0]:
        return [_openpose_people(f"{path}: [{i}]", frame) for i, frame in enumerate(data)]
    if isinstance(data, list):  # COCO results: one entry per detection
        by_frame = {}
        for i, det in enumerate(data):
            where = f"{path}: [{i}]"
            if not isinstance(det, dict):
                raise DataError(f"{where}: expected a detection mapping")
            for key in ("image_id", "keypoints"):
                if key not in det:
                    raise DataError(f"{where}: missing key {key!r}")
            by_frame.setdefault(det["image_id"], []).append(_person(where, det["keypoints"]))
        try:
            return [by_frame[k] for k in sorted(by_frame)]
        except TypeError:
            raise DataError(f"{path}: image_id values cannot be ordered") from None
    raise DataError(
        f"{path}: not a keypoint JSON this reads (a list of COCO results, MMPose's "
        "instance_info, or OpenPose frames with 'people')"
    )


def _openpose_people(where: str, frame) -> list[tuple[np.ndarray, np.ndarray]]:
    if not isinstance(frame, dict) or "people" not in frame:
        raise DataError(f"{where}: missing key 'people'")
    people = []
    for k, person in enumerate(frame["people"]):
        if "pose_keypoints_2d" not in person:
            raise DataError(f"{where}: people[{k}]: missing key 'pose_keypoints_2d'")
        people.append(_person(f"{where}: people[{k}]", person["pose_keypoints_2d"]))
    return people


def _frame_number(path: Path) -> int:
    numbers = re.findall(r"\d+", path.stem)
    if not numbers:
        raise DataError(f"{path}: no frame number in the file name")
    return int(numbers[-1])


def read_keypoint_json(path: str | os.PathLike, max_person: int | None = None) -> dict:
    """The keypoints of one video: ``{"keypoint": float32 [M, T, V, 2], "keypoint_score":
    [M, T, V], "total_frames": T, "layout": "coco" | "openpose"}`` from a folder of
    per-frame OpenPose files or one all-frames JSON file (see the module's docstring).
    ``max_person`` keeps that many most confident people per frame."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=_frame_number)
        if not files:
            raise DataError(f"{path}: no .json files in this folder")
        frames = [_openpose_people(str(f), _load_json(f)) for f in files]
    elif path.is_file():
        frames = _frames_of(path, _load_json(path))
    else:
        raise FileNotFoundError(f"{path}: no such keypoint file or folder")
    if not frames:
        raise DataError(f"{path}: no frames")
    return stack_people(str(path), frames, max_person)


def stack_people(where: str, frames: list, max_person: int | None = None) -> dict:
    """Per-frame people ``[(keypoints [V, 2], scores [V]), ...]`` as one sample's arrays
    (see :func:`read_keypoint_json`): the most confident (mean score) first in each frame,
    zeros where a frame has fewer people; ``where`` names the source in errors."""
    sizes = {len(xy) for people in frames for xy, _ in people}
    if len(sizes) > 1:
        raise DataError(f"{where}: people with different keypoint counts {sorted(sizes)}")
    if not sizes:
        raise DataError(f"{where}: no person in any of its {len(frames)} frames")
    v = sizes.pop()
    m = max(len(p) for p in frames)
    if max_person is not None:
        m = min(m, max_person)
    kp = np.zeros((m, len(frames), v, 2), np.float32)
    score = np.zeros((m, len(frames), v), np.float32)
    for t, people in enumerate(frames):
        order = sorted(range(len(people)), key=lambda i: -people[i][1].mean())[:m]
        for slot, i in enumerate(order):
            kp[slot, t], score[slot, t] = people[i]
    return {
        "keypoint": kp,
        "keypoint_score": score,
        "total_frames": len(frames),
        "layout": LAYOUTS[v],
    }


def convert_keypoint_json(
    list_file: str | os.PathLike,
    out: str | os.PathLike,
    img_shape: tuple[int, int],
    root: str | os.PathLike = "",
    max_person: int | None = None,
) -> dict:
    """Converts the videos a list file names to the pose pickle ``out``.

    Each line of ``list_file`` is ``PATH LABEL [SPLIT]``: a keypoint JSON file or folder
    of per-frame files (under ``root``), its integer label and the split it belongs to
    (default ``all``). ``img_shape`` ``(H, W)`` is the frames' size (the JSON formats do
    not record it; ``PreNormalize2D`` needs it). Returns ``{"samples", "splits",
    "layout"}``."""
    list_file = Path(list_file)
    if not list_file.is_file():
        raise FileNotFoundError(f"{list_file}: no such list file")
    h, w = img_shape
    if h <= 0 or w <= 0:
        raise ValueError(f"img_shape: {img_shape} must be positive (height, width)")
    annotations, splits, layouts, names = [], {}, set(), set()
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{list_file}:{n}"
        if len(fields) not in (2, 3):
            raise DataError(f"{where}: expected 'PATH LABEL [SPLIT]', got {len(fields)} fields")
        try:
            label = int(fields[1])
        except ValueError:
            raise DataError(f"{where}: label {fields[1]!r} is not an integer") from None
        if label < 0:
            raise DataError(f"{where}: label {label} is negative")
        path = Path(root) / fields[0]
        try:
            sample = read_keypoint_json(path, max_person)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{where}: {e}") from None
        layouts.add(sample.pop("layout"))
        name = Path(fields[0]).with_suffix("").as_posix()
        if name in names:
            raise DataError(f"{where}: {name!r} is listed twice")
        names.add(name)
        annotations.append(
            {"frame_dir": name, "label": label, "img_shape": (h, w), "original_shape": (h, w)}
            | sample
        )
        splits.setdefault(fields[2] if len(fields) == 3 else "all", []).append(name)
    if not annotations:
        raise DataError(f"{list_file}: lists no videos")
    if len(layouts) > 1:
        raise DataError(f"{list_file}: mixes keypoint layouts {sorted(layouts)}")
    save_pose_pickle(out, annotations, splits)
    return {
        "samples": len(annotations),
        "splits": {k: len(v) for k, v in splits.items()},
        "layout": layouts.pop(),
    }
