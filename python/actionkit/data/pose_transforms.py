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
    needs_rng = True

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


# ---- PoseC3D: keypoints in pixels, boxes and heatmaps ---------------------------------
# The keypoint halves of MMAction2's PoseCompact, Resize, RandomResizedCrop, CenterCrop
# and Flip (what its PoseC3D pipelines use; no images are read), then GeneratePoseTarget
# on actionkit.ops.pose_heatmaps and FormatShape("NCTHW_Heatmap"). The NumPy operations
# and their dtypes follow MMAction2's (a crop turns float32 keypoints into float64, as
# there). Random steps draw from the sample's generator (``needs_rng``).

COCO_LEFT_KP = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT_KP = (2, 4, 6, 8, 10, 12, 14, 16)


@dataclass
class PoseCompact:
    """Crops to the box around every non-zero keypoint of the clip, grown by ``padding``
    (and to ``hw_ratio``; past the image only with ``allow_imgpad``); a box narrower or
    lower than ``threshold`` pixels leaves the sample as it is."""

    padding: float = 0.25
    threshold: int = 10
    hw_ratio: float | tuple[float, float] | None = None
    allow_imgpad: bool = True

    def __post_init__(self) -> None:
        if self.padding < 0:
            raise ValueError(f"PoseCompact: padding must be >= 0, got {self.padding}")
        if self.hw_ratio is not None and not isinstance(self.hw_ratio, tuple | list):
            self.hw_ratio = (self.hw_ratio, self.hw_ratio)

    def __call__(self, results: dict) -> dict:
        h, w = results["img_shape"]
        kp = results["keypoint"]
        kp[np.isnan(kp)] = 0.0
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        min_x = np.min(kp_x[kp_x != 0], initial=np.inf)
        min_y = np.min(kp_y[kp_y != 0], initial=np.inf)
        max_x = np.max(kp_x[kp_x != 0], initial=-np.inf)
        max_y = np.max(kp_y[kp_y != 0], initial=-np.inf)
        if max_x - min_x < self.threshold or max_y - min_y < self.threshold:
            return results
        center = ((max_x + min_x) / 2, (max_y + min_y) / 2)
        half_w = (max_x - min_x) / 2 * (1 + self.padding)
        half_h = (max_y - min_y) / 2 * (1 + self.padding)
        if self.hw_ratio is not None:
            half_h = max(self.hw_ratio[0] * half_w, half_h)
            half_w = max(1 / self.hw_ratio[1] * half_h, half_w)
        min_x, max_x = center[0] - half_w, center[0] + half_w
        min_y, max_y = center[1] - half_h, center[1] + half_h
        if not self.allow_imgpad:
            min_x, min_y = int(max(0, min_x)), int(max(0, min_y))
            max_x, max_y = int(min(w, max_x)), int(min(h, max_y))
        else:
            min_x, min_y, max_x, max_y = int(min_x), int(min_y), int(max_x), int(max_y)
        kp_x[kp_x != 0] -= min_x
        kp_y[kp_y != 0] -= min_y
        results["img_shape"] = (max_y - min_y, max_x - min_x)
        return results


@dataclass
class Resize:
    """Scales keypoints to a new image size: ``scale`` a factor or ``(w, h)`` bounds
    (``(-1, 64)``: the short side to 64) with ``keep_ratio``, else exactly ``(w, h)``."""

    scale: float | tuple[int, int]
    keep_ratio: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.scale, float | int):
            self.scale = tuple(self.scale)
            if len(self.scale) != 2:
                raise ValueError(f"Resize: scale must be a factor or (w, h), got {self.scale}")

    def __call__(self, results: dict) -> dict:
        h, w = results["img_shape"]
        if self.keep_ratio:
            from .transforms import rescale_size

            scale = float(self.scale) if isinstance(self.scale, int | float) else self.scale
            new_h, new_w = rescale_size(h, w, scale)
        else:
            new_w, new_h = self.scale
        factor = np.array([new_w / w, new_h / h], dtype=np.float32)
        results["img_shape"] = (new_h, new_w)
        results["keypoint"] = results["keypoint"] * factor
        return results


def _crop(results: dict, left: int, top: int, right: int, bottom: int) -> dict:
    results["keypoint"] = results["keypoint"] - np.array([left, top])
    results["img_shape"] = (bottom - top, right - left)
    return results


@dataclass
class RandomResizedCrop:
    """A random box of ``area_range`` of the image area and ``aspect_ratio_range``
    (10 tries, then the centred square), keypoints moved into it."""

    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    needs_rng = True

    def __post_init__(self) -> None:
        lo, hi = self.area_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"RandomResizedCrop: area_range must be in (0, 1], got {lo, hi}")
        if not 0 < self.aspect_ratio_range[0] <= self.aspect_ratio_range[1]:
            raise ValueError(f"RandomResizedCrop: bad aspect_ratio_range {self.aspect_ratio_range}")

    def __call__(self, results: dict, rng: np.random.Generator) -> dict:
        from .transforms import RandomResizedCrop as ClipCrop  # the same box sampling

        box = ClipCrop(tuple(self.area_range), tuple(self.aspect_ratio_range)).box(
            *results["img_shape"], rng
        )
        return _crop(results, *box)


@dataclass
class CenterCrop:
    crop_size: int | tuple[int, int]

    def __call__(self, results: dict) -> dict:
        h, w = results["img_shape"]
        cw, ch = (
            (self.crop_size, self.crop_size)
            if isinstance(self.crop_size, int)
            else tuple(self.crop_size)
        )
        left, top = (w - cw) // 2, (h - ch) // 2
        return _crop(results, left, top, left + cw, top + ch)


@dataclass
class Flip:
    """Mirrors the keypoints left-right with probability ``flip_ratio`` (x -> W - x for
    non-zero x) and swaps the ``left_kp`` / ``right_kp`` pairs (the left wrist becomes the
    right one); a flipped sample's label goes through ``flip_label_map`` (raise the left
    arm becomes raise the right arm), as MMAction2's."""

    flip_ratio: float = 0.5
    left_kp: tuple[int, ...] | None = None
    right_kp: tuple[int, ...] | None = None
    flip_label_map: dict[int, int] | None = None  # labels of left/right-specific classes
    needs_rng = True

    def __post_init__(self) -> None:
        if (self.left_kp is None) != (self.right_kp is None) or (
            self.left_kp is not None and len(self.left_kp) != len(self.right_kp)
        ):
            raise ValueError("Flip: left_kp and right_kp must be given together, pairwise")

    def __call__(self, results: dict, rng: np.random.Generator) -> dict:
        results["flip"] = bool(rng.random() < self.flip_ratio)
        if not results["flip"]:
            return results
        if self.flip_label_map is not None and "label" in results:
            results["label"] = self.flip_label_map.get(results["label"], results["label"])
        kp = results["keypoint"]
        kp_x = kp[..., 0]
        kp_x[kp_x != 0] = results["img_shape"][1] - kp_x[kp_x != 0]
        order = list(range(kp.shape[2]))
        for left, right in zip(self.left_kp or (), self.right_kp or (), strict=True):
            order[left], order[right] = right, left
        results["keypoint"] = kp[:, :, order]
        if "keypoint_score" in results:
            results["keypoint_score"] = results["keypoint_score"][:, :, order]
        return results


@dataclass
class GeneratePoseTarget:
    """Pseudo heatmaps ``heatmaps``, a float32 tensor ``[crops, C, T, H, W]``, of the
    keypoints (``with_kp``) and limbs (``with_limb``, pairs ``skeletons``) in an
    ``img_shape`` image (``scaling`` it), through :func:`actionkit.ops.pose_heatmaps`
    (equal to MMAction2's). ``double`` adds the left-right mirrored maps (channels of
    left and right keypoints, or limbs, swapped) as a second crop, as its test pipelines
    do; MMAction2 keeps ``imgs [crops * T, C, H, W]``, which :class:`FormatShape` turns
    into the same model input as ours.

    With both keypoints and limbs, the limbs are channels after the keypoints;
    ``legacy_merge=True`` max-merges limb ``l`` into channel ``l`` as MMAction2 does."""

    sigma: float = 0.6
    use_score: bool = True
    with_kp: bool = True
    with_limb: bool = False
    skeletons: tuple = None  # default: COCO_LIMBS
    double: bool = False
    left_kp: tuple[int, ...] = COCO_LEFT_KP
    right_kp: tuple[int, ...] = COCO_RIGHT_KP
    left_limb: tuple[int, ...] = (0, 2, 4, 5, 6, 10, 11, 12)
    right_limb: tuple[int, ...] = (1, 3, 7, 8, 9, 13, 14, 15)
    scaling: float = 1.0
    legacy_merge: bool = False

    def __post_init__(self) -> None:
        from ..ops.pose_heatmaps import COCO_LIMBS

        if not (self.with_kp or self.with_limb):
            raise ValueError("GeneratePoseTarget: with_kp or with_limb must be on")
        if self.skeletons is None:
            self.skeletons = COCO_LIMBS
        self.skeletons = tuple(tuple(pair) for pair in self.skeletons)

    def _swap(self, v: int) -> np.ndarray:
        """Channel order of the mirrored maps: left and right keypoints swapped, and
        limbs (MMAction2 swaps only the keypoints when both are on: its limbs are merged
        into them)."""
        limbs = len(self.skeletons) if self.with_limb else 0
        order = np.arange((v if self.with_kp else 0) + limbs)
        pairs = list(zip(self.left_kp, self.right_kp, strict=True)) if self.with_kp else []
        if self.with_limb and not (self.with_kp and self.legacy_merge):
            offset = v if self.with_kp else 0
            pairs += [
                (offset + a, offset + b)
                for a, b in zip(self.left_limb, self.right_limb, strict=True)
            ]
        for a, b in pairs:
            order[a], order[b] = b, a
        return order

    def __call__(self, results: dict) -> dict:
        import torch

        from ..ops import pose_heatmaps

        kp = np.asarray(results["keypoint"], dtype=np.float32)
        if kp.shape[-1] != 2:
            raise ValueError(f"GeneratePoseTarget: 2D keypoints expected, got {kp.shape}")
        h, w = results["img_shape"]
        h, w = int(h * self.scaling + 0.5), int(w * self.scaling + 0.5)
        kp = kp * np.float32(self.scaling)
        score = results.get("keypoint_score")
        if score is None or not self.use_score:
            score = np.ones(kp.shape[:-1], dtype=np.float32)
        # [crops, C, T, H, W]: the maps, and their mirror image drawn in the same pass
        results["heatmaps"] = pose_heatmaps(
            torch.from_numpy(np.ascontiguousarray(kp))[None],
            torch.from_numpy(np.ascontiguousarray(score, dtype=np.float32))[None],
            (h, w),
            self.sigma,
            self.skeletons if self.with_limb else None,
            self.with_kp,
            self.legacy_merge,
            flip_order=self._swap(kp.shape[2]) if self.double else None,
        )
        return results


@dataclass
class FormatShape:
    """``heatmaps [crops, C, clips * T, H, W]`` -> ``imgs [crops * clips, C, T, H, W]``
    (``NCTHW_Heatmap``, PoseC3D's input per sample; one copy, none for one clip)."""

    input_format: str = "NCTHW_Heatmap"

    def __post_init__(self) -> None:
        if self.input_format != "NCTHW_Heatmap":
            raise ValueError(
                f"FormatShape: skeleton pipelines make NCTHW_Heatmap, got {self.input_format!r}"
            )

    def __call__(self, results: dict) -> dict:
        heat = results.pop("heatmaps")
        crops, c, t, h, w = heat.shape
        clips, clip_len = results.get("num_clips", 1), results["clip_len"]
        if clips * clip_len != t:
            raise ValueError(f"FormatShape: {t} frames are not {clips} clips of {clip_len}")
        if clips > 1:
            heat = heat.view(crops, c, clips, clip_len, h, w).transpose(1, 2)
        results["imgs"] = heat.reshape(crops * clips, c, clip_len, h, w)
        return results
