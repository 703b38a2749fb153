"""Clip features of untrimmed videos from any zoo recognizer: what temporal localization
(BMN, BSN) is trained on, as MMAction2's ``tools/misc/clip_feature_extraction.py
--long-video-mode`` makes them.

A video of ``N`` frames gives one feature per clip: clips are centred every ``stride``
frames (at ``stride // 2``, ``stride // 2 + stride``, ... below ``N``), each
``clip_len`` frames ``frame_interval`` apart around its centre, clipped to the video
(MMAction2's ``UntrimmedSampleFrames``; a video of at most ``stride // 2`` frames gets
one clip around its middle, where MMAction2 fails). A clip goes through the model's test pipeline
(resize, centre crop, normalisation; for a 2D model each of its frames is a segment)
and the model's :meth:`features` (the backbone's output averaged over time and space,
before the classifier: MMAction2's ``FeatureHead``). The result is ``[num_clips, C]``,
the layout of ActivityNet's released feature CSVs.

>>> from actionkit.apis import init_recognizer
>>> from actionkit.extract import extract_clip_features
>>> model = init_recognizer("tsn_r50", "tsn_r50_kinetics400.pth")
>>> feats = extract_clip_features(model, "long.mp4", clip_len=16, stride=16)   # [N // 16, 2048]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import UsageError


def untrimmed_clips(
    total_frames: int, clip_len: int, stride: int, frame_interval: int = 1
) -> np.ndarray:
    """Frame indices ``[num_clips, clip_len]`` (0-based) of MMAction2's
    ``UntrimmedSampleFrames(clip_len, clip_interval=stride, frame_interval)``."""
    for name, value in (
        ("clip_len", clip_len),
        ("stride", stride),
        ("frame_interval", frame_interval),
    ):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, got {value}")
    if total_frames < 1:
        raise UsageError(f"the video has no frames ({total_frames})")
    centres = np.arange(stride // 2, total_frames, stride)
    if len(centres) == 0:  # shorter than half a stride: one clip in the middle
        centres = np.array([total_frames // 2])  # (MMAction2 fails on such a video)
    offsets = np.arange(
        -(clip_len // 2) * frame_interval,
        frame_interval * (clip_len - clip_len // 2),
        frame_interval,
    )
    return np.clip(centres[:, None] + offsets[None, :], 0, total_frames - 1)


def feature_frames(total_frames: int, num_clips: int, stride: int) -> int:
    """The frames the features of a video cover (its ``feature_frame``): ``num_clips *
    stride``, at most the video's length."""
    return min(total_frames, num_clips * stride)


def _check_model(model: nn.Module, clip_len: int) -> None:
    if not hasattr(model, "features"):
        raise UsageError(f"{type(model).__name__} has no features(): use a recognizer")
    segments = getattr(getattr(model, "backbone", None), "num_segments", None)
    if segments is not None and segments != clip_len:
        raise UsageError(
            f"--clip-len {clip_len}: this TSM shifts across {segments} segments; a 2D "
            f"model takes each frame of a clip as a segment, so the clip length must be {segments}"
        )


@torch.no_grad()
def extract_clip_features(
    model: nn.Module,
    video: str | os.PathLike,
    clip_len: int = 16,
    stride: int = 16,
    frame_interval: int = 1,
    batch_size: int = 8,
) -> np.ndarray:
    """``[num_clips, C]`` float32 features of ``video`` (a file or a rawframe folder)
    through ``model`` (from :func:`~actionkit.apis.init_recognizer`: its test pipeline's
    transforms are used; its sampler is replaced by the clips above). Frames are decoded
    a batch of clips at a time, so memory does not grow with the video."""
    from .apis import inference_pipeline
    from .data.decode import VideoReader
    from .data.transforms import Clip, apply_transforms

    _check_model(model, clip_len)
    _, transforms = inference_pipeline(model)
    device = next(model.parameters()).device
    out = []
    with VideoReader(video) as reader:
        clips = untrimmed_clips(len(reader), clip_len, stride, frame_interval)
        for first in range(0, len(clips), batch_size):
            chunk = clips[first : first + batch_size]
            wanted = np.unique(chunk)
            frames = reader.get_frames(wanted)
            where = np.searchsorted(wanted, chunk)
            inputs = [
                apply_transforms(transforms, Clip(frames[torch.from_numpy(rows)], 1, clip_len))[0]
                for rows in where
            ]
            batch = torch.stack(inputs).to(device)
            out.append(model.features(batch).float().cpu())
    return torch.cat(out).numpy()


def extract_to_folder(
    model: nn.Module,
    videos: Iterable[tuple[str, Path]],
    out: str | os.PathLike,
    clip_len: int = 16,
    stride: int = 16,
    frame_interval: int = 1,
    batch_size: int = 8,
    ext: str = ".csv",
    progress: bool = True,
) -> dict[str, int]:
    """Features of every ``(name, path)`` as ``out/<name><ext>``; files already there are
    skipped (a rerun resumes). Returns ``{"written": n, "skipped": m}``. A video that
    cannot be decoded stops the run with an error naming it (the files written stay)."""
    from tqdm import tqdm

    from .engine.checkpoint import atomic_save_array

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos = list(videos)
    counts = {"written": 0, "skipped": 0}
    for name, path in tqdm(videos, desc="features", unit="video", disable=not progress):
        target = out / f"{name}{ext}"
        if target.exists():
            counts["skipped"] += 1
            continue
        feats = extract_clip_features(model, path, clip_len, stride, frame_interval, batch_size)
        atomic_save_array(target, feats)
        counts["written"] += 1
    return counts


@torch.no_grad()
def video_proposals(
    model: nn.Module,
    extractor: nn.Module,
    video: str | os.PathLike,
    clip_len: int = 16,
    stride: int = 16,
    frame_interval: int = 1,
) -> tuple[list[dict], float]:
    """Temporal action proposals of a raw video: ``extractor``'s clip features, rescaled
    to the localizer's length (:func:`~actionkit.data.localization.pool_feature`),
    ``model`` (BMN) and its post-processing. Returns ``([{"segment": [start_s, end_s],
    "score"}, ...] best first, the video's duration in seconds)``; the features cover
    ``num_clips * stride`` frames, the span proposals are scaled by."""
    from .data.decode import VideoReader
    from .data.localization import pool_feature, proposals_to_seconds

    with VideoReader(video) as reader:
        total, fps = len(reader), reader.fps
    if not (fps > 0 and np.isfinite(fps)):  # no timestamps: count seconds at 30 fps
        fps = 30.0
    feats = extract_clip_features(extractor, video, clip_len, stride, frame_interval)
    if feats.shape[1] != model.feat_dim:
        raise UsageError(
            f"the features have {feats.shape[1]} channels, the localizer takes "
            f"{model.feat_dim}: use the recognizer it was trained on"
        )
    num_clips = len(feats)
    if num_clips != model.tscale:
        feats = pool_feature(feats, model.tscale).astype(np.float32)
    device = next(model.parameters()).device
    outputs = model(torch.from_numpy(np.ascontiguousarray(feats.T))[None].to(device))
    info = {
        "duration_second": total / fps,
        "duration_frame": total,
        "feature_frame": feature_frames(total, num_clips, stride),
    }
    listed = proposals_to_seconds(
        model.proposals(outputs)[0], info, model.legacy_scale, model.feature_extraction_interval
    )
    return listed, total / fps
