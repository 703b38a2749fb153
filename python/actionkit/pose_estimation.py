"""Keypoints from a raw video for the skeleton models: torchvision's Keypoint R-CNN
(``keypointrcnn_resnet50_fpn``, COCO-17) on every frame, with weights from a file the
user gives (nothing is downloaded), turned into a pose-pickle sample that
:func:`actionkit.apis.inference_skeleton` classifies.

Per frame, the people detected with a box score of at least ``det_score`` are kept,
ordered by their mean keypoint score (as ``actionkit-data keypoints`` orders
pose-estimator output); a frame without anyone gets zeros (score 0), as a missing
detection does in MMAction2's pickles. Keypoint R-CNN scores a keypoint with the logit of
its heatmap peak; the sample's ``keypoint_score`` is its sigmoid, in ``(0, 1)`` like the
heatmap peaks of the HRNet keypoints MMAction2's 2D skeleton models are trained on.

>>> from actionkit.pose_estimation import KeypointRCNN, estimate_video_poses
>>> estimator = KeypointRCNN("keypointrcnn_resnet50_fpn_coco-fc266e95.pth")
>>> sample = estimate_video_poses("clip.mp4", estimator)   # keypoint [M, T, 17, 2], ...

Person boxes for the detection models (``actionkit-infer --task detection``): torchvision's
Faster R-CNN (``fasterrcnn_resnet50_fpn``, COCO's 91 classes, person = 1), the same way
(:class:`PersonDetector`).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from .errors import CheckpointError, DataError, UsageError

NUM_KEYPOINTS = 17  # COCO


class _TorchvisionDetector:
    """torchvision's detection model ``NAME`` (built with ``OPTIONS``, no downloads) with
    the state dict in ``weights`` (torchvision's released file, or a checkpoint holding
    it; read as data unless ``trust``), which must fit it exactly; ``min_size`` /
    ``max_size`` are its input resize (torchvision's defaults 800 / 1333), ``det_score``
    the least box score kept."""

    NAME: str
    OPTIONS: dict

    def __init__(
        self,
        weights: str | os.PathLike,
        device: str | torch.device = "cpu",
        det_score: float = 0.9,
        min_size: int = 800,
        max_size: int = 1333,
        trust: bool = False,
    ):
        from .models.checkpoint import read_state_dict

        if not 0.0 <= det_score <= 1.0:
            raise UsageError(f"det_score must be in [0, 1], got {det_score}")
        try:
            import torchvision.models.detection as detection
        except ImportError as e:
            raise UsageError(
                f"{self.NAME} needs torchvision: pip install 'actionkit[pose]' (a torchvision "
                "built for your torch)"
            ) from e
        state, _ = read_state_dict(weights, trust=trust)
        model = getattr(detection, self.NAME)(
            weights=None, weights_backbone=None, min_size=min_size, max_size=max_size,
            box_score_thresh=det_score, **self.OPTIONS,
        )  # fmt: skip
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{os.fspath(weights)}: not {self.NAME} weights "
                f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
            )
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.det_score = det_score


def _images(frames, device) -> list[torch.Tensor]:
    frames = torch.as_tensor(frames)
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise UsageError(
            f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}"
        )
    return [f.permute(2, 0, 1).to(device, torch.float32) / 255 for f in frames]


class KeypointRCNN(_TorchvisionDetector):
    """torchvision's ``keypointrcnn_resnet50_fpn`` (2 classes, 17 keypoints; the arguments
    are :class:`_TorchvisionDetector`'s). Calling it on ``[T, H, W, 3]`` uint8 frames
    gives, per frame, ``(keypoints [P, 17, 2], scores [P, 17])`` of the people with a box
    score ``>= det_score``."""

    NAME, OPTIONS = "keypointrcnn_resnet50_fpn", {"num_classes": 2, "num_keypoints": NUM_KEYPOINTS}

    @torch.no_grad()
    def __call__(self, frames: np.ndarray | torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        people = []
        for out in self.model(_images(frames, self.device)):
            keep = (out["labels"] == 1) & (out["scores"] >= self.det_score)
            kp = out["keypoints"][keep][..., :2].float().cpu().numpy()
            score = torch.sigmoid(out["keypoints_scores"][keep].float()).cpu().numpy()
            people.append((kp.astype(np.float32), score.astype(np.float32)))
        return people


class PersonDetector(_TorchvisionDetector):
    """torchvision's ``fasterrcnn_resnet50_fpn`` (COCO, 91 classes; the arguments are
    :class:`_TorchvisionDetector`'s). Calling it on ``[T, H, W, 3]`` uint8 frames gives,
    per frame, ``(boxes [P, 4] in pixels x1, y1, x2, y2, scores [P])`` of the persons
    (label 1) with a score ``>= det_score``, best first."""

    NAME, OPTIONS = "fasterrcnn_resnet50_fpn", {"num_classes": 91}

    @torch.no_grad()
    def __call__(self, frames: np.ndarray | torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        people = []
        for out in self.model(_images(frames, self.device)):
            keep = (out["labels"] == 1) & (out["scores"] >= self.det_score)
            scores = out["scores"][keep].float().cpu().numpy()
            order = np.argsort(-scores, kind="stable")
            boxes = out["boxes"][keep].float().cpu().numpy()[order]
            people.append((boxes.astype(np.float32), scores[order].astype(np.float32)))
        return people


def estimate_video_poses(
    video: str | os.PathLike,
    estimator,
    batch: int = 4,
    max_person: int | None = None,
    stride: int = 1,
) -> dict:
    """A pose-pickle sample of ``video``: ``estimator`` (a :class:`KeypointRCNN`, or any
    callable from ``[T, H, W, 3]`` uint8 frames to per-frame ``(keypoints [P, V, 2],
    scores [P, V])``) on every ``stride``-th frame (frames 0, stride, 2 stride, ...: the
    sample has ``ceil(T / stride)`` frames), ``batch`` frames at a time; ``max_person``
    keeps that many most confident people per frame (all by default)."""
    from .data.decode import VideoReader
    from .data.pose_convert import stack_people

    if stride < 1 or batch < 1:
        raise UsageError(f"stride and batch must be at least 1, got {stride} and {batch}")
    reader = VideoReader(os.fspath(video))
    total = len(reader)
    if total == 0:
        raise DataError(f"{video}: no frames")
    wanted = np.arange(0, total, stride)
    frames_people = []
    shape = None
    for start in range(0, len(wanted), batch):
        frames = reader.get_frames(wanted[start : start + batch]).cpu().numpy()
        shape = frames.shape[1:3]
        for kp, score in estimator(frames):
            frames_people.append(list(zip(kp, score, strict=True)))
    if not any(frames_people):
        threshold = getattr(estimator, "det_score", None)
        which = "" if threshold is None else f" with a box score >= {threshold}"
        raise DataError(f"{video}: no person detected{which} in any of its {total} frames")
    sample = stack_people(os.fspath(video), frames_people, max_person)
    sample.pop("layout")
    h, w = (int(s) for s in shape)
    return {
        "frame_dir": os.path.splitext(os.path.basename(os.fspath(video)))[0],
        "img_shape": (h, w),
        "original_shape": (h, w),
        **sample,
    }
