"""Skeleton transforms with MMAction2 1.2.0's semantics (equal on fixtures from its own
code). Each takes and returns a sample dict (``keypoint [M, T, V, C]``, optional
``keypoint_score [M, T, V]``, ``total_frames``, ``img_shape``), as MMAction2's do, so
its pipelines read the same:

>>> pipeline = [PreNormalize2D(), GenSkeFeat("coco", ["j"]),
...             SampleFrames(UniformSampleFrames(100)), PoseDecode(), FormatGCNInput(2)]

- :class:`PreNormalize2D`: pixels to [-1, 1] of the image;
- :class:`PreNormalize3D`: drop empty frames, centre on the main body's spine (or last
  joint), rotate the spine to z and the shoulders to x (NTU);
- :class:`GenSkeFeat`: the joint (``j``), bone (``b``) and motion (``jm``, ``bm``)
  streams, concatenated on channels (2D keypoints carry their score as a channel);
- :class:`SampleFrames` wraps a frame sampler (``UniformSampleFrames``; test mode draws
  from its own seeded generator, where MMAction2 reseeds NumPy's global one);
- :class:`PoseDecode`: the sampled frames; :class:`FormatGCNInput`: persons padded with
  zeros (or the first one looped) or cut to ``num_person``, clips first:
  ``[num_clips, M, T, V, C]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BONES = {
    "nturgb+d": ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20),
                 (9, 8), (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0),
                 (17, 16), (18, 17), (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)),
    "openpose": ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8),
                 (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
    "coco": ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7),
             (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
}  # fmt: skip


@dataclass
class PreNormalize2D:
    img_shape: tuple[int, int] = (1080, 1920)  # when the sample gives none

    def __call__(self, results: dict) -> dict:
        h, w = results.get("img_shape", self.img_shape)
        kp = results["keypoint"]
        kp[..., 0] = (kp[..., 0] - w / 2) / (w / 2)
        kp[..., 1] = (kp[..., 1] - h / 2) / (h / 2)
        return results


def _angle(v1: np.ndarray, v2: np.ndarray) -> float:
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0.0
    u1, u2 = v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)
    return float(np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0)))


def _rotation(axis: np.ndarray, theta: float) -> np.ndarray:
    """Counterclockwise rotation about ``axis`` by ``theta`` (Euler-Rodrigues)."""
    if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis) / np.sqrt(np.dot(axis, axis))
    a = np.cos(theta / 2.0)
    b, c, d = -axis * np.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    )


@dataclass
class PreNormalize3D:
    zaxis: list[int] = field(default_factory=lambda: [0, 1])
    xaxis: list[int] = field(default_factory=lambda: [8, 4])
    align_spine: bool = True
    align_shoulder: bool = True
    align_center: bool = True

    def __call__(self, results: dict) -> dict:
        skeleton = results["keypoint"]
        m, t = skeleton.shape[:2]
        if skeleton.sum() == 0:
            return results
        if m not in (1, 2):
            raise ValueError(f"PreNormalize3D handles 1 or 2 persons, got {m}")
        present = ~np.all(np.isclose(skeleton, 0), axis=(2, 3))  # [M, T]
        frames = np.flatnonzero(present[0])
        if m == 2 and present[0].sum() < present[1].sum():  # the longer-present body first
            skeleton = skeleton[:, np.flatnonzero(present[1])][[1, 0]]
        else:
            skeleton = skeleton[:, frames]
        center = None
        if self.align_center:
            center = skeleton[0, 0, 1 if skeleton.shape[2] == 25 else -1].copy()
            mask = ((skeleton != 0).sum(-1) > 0)[..., None]
            skeleton = (skeleton - center) * mask
        for flag, (j0, j1), target in (
            (self.align_spine, self.zaxis, [0, 0, 1]),
            (self.align_shoulder, self.xaxis, [1, 0, 0]),
        ):
            if flag:
                v = skeleton[0, 0, j1] - skeleton[0, 0, j0]
                if target[0] == 1:  # shoulders: right minus left, as MMAction2
                    v = skeleton[0, 0, j0] - skeleton[0, 0, j1]
                matrix = _rotation(np.cross(v, target), _angle(v, target))
                skeleton = np.einsum("abcd,kd->abck", skeleton, matrix)
        results["keypoint"] = skeleton
        results["total_frames"] = skeleton.shape[1]
        results["body_center"] = center
        return results


def joint_to_bone(keypoint: np.ndarray, dataset: str) -> np.ndarray:
    """Bones: each joint minus its parent (2D with score: the mean score of the two)."""
    bone = np.zeros(keypoint.shape, dtype=np.float32)
    c = keypoint.shape[-1]
    for v1, v2 in BONES[dataset]:
        bone[..., v1, :] = keypoint[..., v1, :] - keypoint[..., v2, :]
        if c == 3 and dataset in ("openpose", "coco"):
            bone[..., v1, 2] = (keypoint[..., v1, 2] + keypoint[..., v2, 2]) / 2
    return bone


def to_motion(data: np.ndarray, dataset: str) -> np.ndarray:
    """Motion: frame-to-frame differences (the last frame 0; 2D score: the mean)."""
    motion = np.zeros_like(data)
    t = data.shape[1]
    motion[:, : t - 1] = np.diff(data, axis=1)
    if data.shape[-1] == 3 and dataset in ("openpose", "coco"):
        motion[:, : t - 1, :, 2] = (data[:, : t - 1, :, 2] + data[:, 1:, :, 2]) / 2
    return motion


@dataclass
class GenSkeFeat:
    dataset: str = "nturgb+d"
    feats: list[str] = field(default_factory=lambda: ["j"])
    axis: int = -1

    def __post_init__(self) -> None:
        if self.dataset not in BONES:
            raise ValueError(
                f"GenSkeFeat: dataset must be one of {list(BONES)}, got {self.dataset!r}"
            )
        bad = [f for f in self.feats if f not in ("j", "b", "jm", "bm")]
        if bad or not self.feats:
            raise ValueError(f"GenSkeFeat: feats are j, b, jm, bm, got {self.feats}")

    def __call__(self, results: dict) -> dict:
        if "keypoint_score" in results:
            if self.dataset == "nturgb+d" or results["keypoint"].shape[-1] != 2:
                raise ValueError("keypoint_score goes with 2D keypoints of coco / openpose")
            score = results.pop("keypoint_score")
            results["keypoint"] = np.concatenate([results["keypoint"], score[..., None]], -1)
        joints = results.pop("keypoint")
        streams = {"j": joints}
        if "b" in self.feats or "bm" in self.feats:
            streams["b"] = joint_to_bone(joints, self.dataset)
        if "jm" in self.feats:
            streams["jm"] = to_motion(joints, self.dataset)
        if "bm" in self.feats:
            streams["bm"] = to_motion(streams["b"], self.dataset)
        results["keypoint"] = np.concatenate([streams[f] for f in self.feats], axis=self.axis)
        return results


@dataclass
class SampleFrames:
    """Runs a frame sampler (``UniformSampleFrames``) on the sample: ``frame_inds``,
    ``clip_len``, ``num_clips``."""

    sampler: object

    def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
        results["frame_inds"] = self.sampler(results["total_frames"], 0, rng)
        results["clip_len"] = self.sampler.clip_len
        results["num_clips"] = getattr(self.sampler, "num_clips", 1)
        return results


@dataclass
class PoseDecode:
    def __call__(self, results: dict) -> dict:
        inds = results.get("frame_inds")
        if inds is None:
            inds = np.arange(results["keypoint"].shape[1])
        inds = np.squeeze(inds) + results.get("offset", 0)
        if "keypoint_score" in results:
            results["keypoint_score"] = results["keypoint_score"][:, inds].astype(np.float32)
        results["keypoint"] = results["keypoint"][:, inds].astype(np.float32)
        return results


@dataclass
class FormatGCNInput:
    num_person: int = 2
    mode: str = "zero"  # or "loop": a single person repeated

    def __call__(self, results: dict) -> dict:
        kp = results["keypoint"]
        if "keypoint_score" in results:
            kp = np.concatenate((kp, results["keypoint_score"][..., None]), axis=-1)
        m = kp.shape[0]
        if m < self.num_person:
            pad = np.zeros((self.num_person - m, *kp.shape[1:]), dtype=kp.dtype)
            kp = np.concatenate((kp, pad), axis=0)
            if self.mode == "loop" and m == 1:
                kp[1:] = kp[0]
        elif m > self.num_person:
            kp = kp[: self.num_person]
        m, t, v, c = kp.shape
        nc = results.get("num_clips", 1)
        if t % nc:
            raise ValueError(f"FormatGCNInput: {t} frames do not split into {nc} clips")
        results["keypoint"] = np.ascontiguousarray(
            kp.reshape(m, nc, t // nc, v, c).transpose(1, 0, 2, 3, 4)
        )
        return results
