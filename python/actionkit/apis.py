"""High-level inference, named as MMAction2's ``mmaction.apis`` so scripts port with an
import change:

>>> from actionkit.apis import init_recognizer, inference_recognizer
>>> model = init_recognizer("configs/demo/tsm_synthetic.yaml", "work_dirs/tsm_synthetic/best.pth")
>>> result = inference_recognizer(model, "demo.mp4")
>>> result.pred_label, result.pred_score.shape        # (3, torch.Size([14]))

``init_recognizer`` takes a config file, a :class:`~actionkit.config.Config`, a registered
model name (with a checkpoint written by ``actionkit-train``, its config; else the test
pipeline is the model's usual single-view one: 8 segments for the 2D models, the zoo's
clip length and frame interval for the 3D ones, centre crop), or ``None`` with a
checkpoint written by ``actionkit-train`` (which carries its config). The model's
architecture and builder arguments are the ones the checkpoint records, as in every tool.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import Config, ModelConfig, SplitConfig, build_sampler, from_dict, load_config
from .data.decode import VideoReader
from .data.transforms import Clip, run_transforms
from .errors import UsageError
from .models.registry import modality_of

# name -> (clip_len, frame_interval, num_clips) of the model's MMAction2 test config
# (one view: inference; actionkit-test uses the config's full multi-view test)
TEST_SAMPLING = {
    "c2d_r50": (8, 8, 1),
    "c2d_nl_r50": (8, 8, 1),
    "i3d_r50": (32, 2, 1),
    "slowonly_r50": (4, 16, 1),
    "slowfast_r50": (32, 2, 1),
    "slowfast_r50_8x8": (32, 2, 1),
    "x3d_s": (13, 6, 1),
    "x3d_m": (16, 5, 1),
    "c3d": (16, 1, 1),
    "r2plus1d_r34": (8, 8, 1),
    "ircsn_r152": (32, 2, 1),
    "ipcsn_r152": (32, 2, 1),
    "ircsn_r50": (32, 2, 1),
    "tsn_torchvision": (1, 1, 3),
    "tsn_timm": (1, 1, 3),
    "tsn_resnext101_32x4d": (1, 1, 3),
}


def default_test_split(name: str) -> SplitConfig:
    """The single-view test pipeline of registered model ``name``: the zoo's input size
    (short side resized to 8/7 of it, then a centre crop) and normalisation."""
    from .models.zoo import NORMALIZATION, TEST_INPUTS

    if name not in TEST_INPUTS:
        raise UsageError(f"no default test pipeline for model {name!r}: pass a config")
    if modality_of(name) == "audio":  # MMAction2's audio test: the rows of 64 frames
        sampler = {"type": "SampleFrames", "clip_len": 64, "num_clips": 1, "test_mode": True}
        return SplitConfig(sampler=sampler, pipeline=[])
    size = TEST_INPUTS[name][-1]
    clip_len, interval, clips = TEST_SAMPLING.get(name, (1, 1, 8))
    mean_std = NORMALIZATION.get(name)
    norm = {"mean": list(mean_std[0]), "std": list(mean_std[1])} if mean_std else {}
    two_d = len(TEST_INPUTS[name]) == 4
    return SplitConfig(
        sampler={
            "type": "SampleFrames",
            "clip_len": clip_len,
            "frame_interval": interval,
            "num_clips": clips,
            "test_mode": True,
        },
        pipeline=[
            {"type": "Resize", "scale": [-1, round(size * 8 / 7)]},
            {"type": "CenterCrop", "crop_size": size},
            {"type": "FormatShape", "input_format": "NCHW" if two_d else "NCTHW", **norm},
        ],
    )


@dataclass
class ActionResult:
    """``pred_score``: class probabilities (or scores, per the model's ``average_clips``)
    ``[num_classes]``; ``pred_label``: the best class; ``labels``: class names if known."""

    pred_score: torch.Tensor
    pred_label: int
    labels: list[str] | None = None

    def top_k(self, k: int = 5) -> list[tuple[str, float]]:
        scores, idx = self.pred_score.topk(min(k, self.pred_score.numel()))
        names = self.labels or [f"class {i}" for i in range(self.pred_score.numel())]
        return [(names[i], float(s)) for s, i in zip(scores, idx.tolist(), strict=True)]


def resolve_config(config, found) -> Config:
    """The config to build from: ``config`` (a Config, a YAML file or a model name) or
    the one the checkpoint ``found`` carries; its model section then comes from
    :func:`~actionkit.models.checkpoint.model_spec`, as in every tool that reads a
    checkpoint."""
    from .models.checkpoint import model_spec

    name = None
    if isinstance(config, Config):
        cfg = dataclasses.replace(config)  # the caller's object stays as it is
    elif config is not None and (str(config).endswith((".yaml", ".yml")) or os.path.isfile(config)):
        cfg = load_config(config)
    elif config is None:
        if found is None:
            raise UsageError("init_recognizer needs a config, a model name or a checkpoint")
        if found.config is None:
            raise UsageError(
                f"{found.path} carries no config (not written by actionkit-train): pass a "
                "config file or a model name"
            )
        cfg = from_dict(Config, found.config, f"{found.path} (its config)")
    else:  # a model name: the checkpoint's config if it has one (the name must agree)
        name = str(config)
        if found is not None and found.config is not None:
            cfg = from_dict(Config, found.config, f"{found.path} (its config)")
        else:
            model = ModelConfig(name=name)
            cfg = dataclasses.replace(Config(), model=model, source=f"model {config}")
    if found is not None:
        fallback = cfg.model if name is None else None
        name, classes, args = model_spec(found, name, fallback=fallback)
        cfg.model = dataclasses.replace(cfg.model, name=name, num_classes=classes, args=args)
        trained = ((found.config or {}).get("data") or {}).get("feats")
        if trained is not None and cfg.data.feats is not None and trained != cfg.data.feats:
            raise UsageError(
                f"{found.path} was trained on the skeleton stream {trained}, the config "
                f"makes {cfg.data.feats}: add --set data.feats={trained}".replace("'", "")
            )
    return cfg


def init_recognizer(
    config: str | os.PathLike | Config | None,
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    trust_checkpoint: bool = False,
) -> nn.Module:
    """The model in eval mode on ``device`` with its weights, and its config and test
    pipeline attached (``model.cfg``, ``model.test_split``). The checkpoint is read once,
    as data; ``trust_checkpoint=True`` lets it unpickle arbitrary objects (code). The
    model is the one the checkpoint records (name and builder arguments), else the
    config's; class names are the checkpoint's, else the config's."""
    from .engine.builder import build_model, class_names
    from .models.checkpoint import load_checkpoint, read_checkpoint

    found = read_checkpoint(checkpoint, trust_checkpoint) if checkpoint is not None else None
    cfg = resolve_config(config, found)
    # the initial weights of training (model.pretrained / model.checkpoint) are not wanted
    model = build_model(cfg, log=lambda _: None, initial_weights=False)
    if found is not None:
        load_checkpoint(model, found)
    model.cfg = cfg
    from .models.registry import task_of

    classifies = task_of(cfg.model.name) == "classification"  # BMN reads features, no frames
    model.test_split = cfg.data.test or (default_test_split(cfg.model.name) if classifies else None)
    labels = found.classes if found is not None else None
    if labels is None and cfg.source != f"model {config}":  # a model name has no data
        labels = class_names(cfg)
    model.labels = labels
    return model.to(device).eval()


def inference_pipeline(model: nn.Module):
    """(sampler, transforms) of the model's test split."""
    from .engine.builder import build_pipeline

    split = model.test_split
    return build_sampler(split.sampler, "test.sampler"), build_pipeline(split, "test")


def pipeline_inputs(
    model: nn.Module, get_frames, total: int, fps: float | None, offset: int = 0
) -> tuple[torch.Tensor, Clip]:
    """The model's input for frames ``offset .. offset + total - 1`` of a video
    (``get_frames(indices) -> uint8 [T, H, W, 3]``) through its test pipeline, and the
    pipeline's last Clip (its views before normalisation: ``Clip.render``)."""
    sampler, transforms = inference_pipeline(model)
    indices = np.asarray(sampler(total, 0, None, fps)) + offset
    frames = get_frames(indices)
    clip_len = getattr(sampler, "clip_len", 1) or 1
    return run_transforms(transforms, Clip(frames, len(indices) // clip_len, clip_len))


@torch.no_grad()
def predict_frames(
    model: nn.Module, get_frames, total: int, fps: float | None, offset: int = 0
) -> torch.Tensor:
    """Scores ``[num_classes]`` of frames ``offset .. offset + total - 1`` of a video
    (``get_frames(indices) -> uint8 [T, H, W, 3]``) through the model's test pipeline."""
    inputs, _ = pipeline_inputs(model, get_frames, total, fps, offset)
    device = next(model.parameters()).device
    return model.predict(inputs.unsqueeze(0).to(device))[0].float().cpu()


def model_inputs(model: nn.Module, video: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """A video's model input through the test pipeline (one sample, no batch axis) and
    its views before normalisation, ``[V * num_clips, clip_len, C, h, w]`` in 0-255."""
    if not Path(video).exists():
        raise FileNotFoundError(f"{video}: no such video")
    with VideoReader(video) as reader:
        inputs, last = pipeline_inputs(model, reader.get_frames, len(reader), reader.fps)
    return inputs, last.render(layout="NTCHW")


def inference_recognizer(
    model: nn.Module, video: str | os.PathLike | np.ndarray, fps: float | None = None
) -> ActionResult:
    """Classifies ``video`` (a file, a rawframe folder, or uint8 frames ``[T, H, W, 3]``)
    with the model's test pipeline; views are averaged as its ``average_clips`` says.
    An audio model classifies the file's soundtrack (:func:`inference_audio`)."""
    if modality_of(model.cfg.model.name) == "audio":
        return inference_audio(model, video)
    if isinstance(video, np.ndarray):
        if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
            raise UsageError(f"video frames must be uint8 [T, H, W, 3], got {video.shape}")

        def frames(indices):
            return torch.from_numpy(np.ascontiguousarray(video[indices]))

        scores = predict_frames(model, frames, len(video), fps)
    else:
        if not Path(video).exists():
            raise FileNotFoundError(f"{video}: no such video")
        with VideoReader(video) as reader:
            scores = predict_frames(model, reader.get_frames, len(reader), reader.fps)
    return ActionResult(scores, int(scores.argmax()), model.labels)


@torch.no_grad()
def inference_audio(model: nn.Module, source: str | os.PathLike) -> ActionResult:
    """Classifies a video's soundtrack with an audio model (``data.kind: audio``): its
    log-mel features (``actionkit.data.audio``; or a ``.npy`` file of them, whose rows
    then stand for the frames) sampled by the model's test sampler."""
    from .data.audio import audio_features, select_features

    path = Path(source) if not isinstance(source, np.ndarray) else None
    if path is None:
        raise UsageError("an audio model classifies a file's soundtrack, not decoded frames")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".npy":
        features = np.load(path, allow_pickle=False).astype(np.float32)
        total = len(features)
    else:
        features = audio_features(path)
        with VideoReader(path, backend="pyav") as reader:
            total = len(reader)
    sampler, _ = inference_pipeline(model)  # (no transforms: rows are cut to length)
    indices = np.asarray(sampler(total, 0, None, None))
    clip_len = getattr(sampler, "clip_len", len(indices)) or len(indices)
    clips = select_features(
        features, indices.reshape(-1, clip_len), total, model.cfg.data.audio_length
    )
    device = next(model.parameters()).device
    inputs = torch.from_numpy(clips)[None, :, None].to(device)
    scores = model.predict(inputs)[0].float().cpu()
    return ActionResult(scores, int(scores.argmax()), model.labels)


@torch.no_grad()
def inference_skeleton(model: nn.Module, sample: dict, seed: int = 0) -> ActionResult:
    """Classifies one skeleton sample (a pose-pickle annotation: ``keypoint``,
    ``keypoint_score``, ``total_frames``, ``img_shape``; see
    :func:`actionkit.data.pose.load_pose_samples`) with the model's test pipeline, its
    views averaged as ``average_clips`` says."""
    from .config import build_pose_transform
    from .data.pose import pose_steps, run_pose_steps

    split = model.test_split
    if split is None or model.cfg.data.kind != "pose":
        raise UsageError(
            f"{model.cfg.model.name}: not a skeleton model's config (data.kind: pose); "
            "inference_recognizer classifies videos"
        )
    pipeline = [
        build_pose_transform(t, f"test.pipeline[{i}]") for i, t in enumerate(split.pipeline)
    ]
    steps = pose_steps(build_sampler(split.sampler, "test.sampler"), pipeline, "test")
    inputs, _ = run_pose_steps(steps, sample, np.random.default_rng([seed, 0, 0]))
    device = next(model.parameters()).device
    scores = model.predict(inputs[None].to(device))[0].float().cpu()
    return ActionResult(scores, int(scores.argmax()), model.labels)


@dataclass
class KeyframeDetections:
    """The actions of the actors at one keyframe: ``boxes [N, 4]`` (normalised x1, y1,
    x2, y2), ``box_scores [N]`` (the person detector's), ``scores [N, num_classes]``
    (sigmoid, softmax for a single-label head; column 0 is the background column of
    AVA's models)."""

    timestamp: int
    boxes: np.ndarray
    box_scores: np.ndarray
    scores: np.ndarray


def keyframe_timestamps(num_frames: int, fps: float, timestamp_start: int = 0) -> list[int]:
    """The whole seconds after the first whose frame is in a video of ``num_frames``
    frames, as timestamps counted from ``timestamp_start`` (AVA's cuts: 900)."""
    return [
        timestamp_start + s for s in range(1, math.ceil(num_frames / fps)) if s * fps < num_frames
    ]


@torch.no_grad()
def inference_detector(
    model: nn.Module,
    video: str | os.PathLike,
    boxes_of,
    timestamps: list[int] | None = None,
    timestamp_start: int | None = None,
) -> list[KeyframeDetections]:
    """Spatio-temporal action detection on a video file: at every keyframe (``timestamps``;
    default: every second, :func:`keyframe_timestamps`), ``boxes_of(timestamp, frame)``
    (``frame``: the keyframe, uint8 ``[H, W, 3]``) gives the actors' normalised boxes
    ``[N, 4]`` and their scores ``[N]`` (a person detector, or a proposals file); the
    model scores their actions on the clip around the keyframe through its test pipeline.
    ``timestamp_start`` is the second the video starts at (default: the config's
    ``data.ava.timestamp_start``); frames per second are the video's."""
    from .config import AVAConfig
    from .data.ava import keyframe_clip

    split, ava = model.test_split, model.cfg.data.ava or AVAConfig()
    if split is None or model.cfg.data.kind != "ava":
        raise UsageError(f"{model.cfg.model.name}: not a detection model's config (data.kind: ava)")
    sampler, transforms = inference_pipeline(model)
    start = ava.timestamp_start if timestamp_start is None else timestamp_start
    device = next(model.parameters()).device
    num_classes = model.cfg.model.num_classes
    out = []
    with VideoReader(video) as reader:
        fps = reader.fps
        if not (fps > 0 and math.isfinite(fps)):
            raise UsageError(f"{video}: the file gives no frame rate: keyframes need one")
        for ts in (
            keyframe_timestamps(len(reader), fps, start) if timestamps is None else timestamps
        ):
            index = int(round(fps * (ts - start)))
            if not 0 <= index < len(reader):
                raise UsageError(
                    f"{video}: timestamp {ts} is frame {index}, outside its {len(reader)} frames "
                    f"(it starts at second {start}, {fps:g} fps)"
                )
            frame = reader.get_frames([index])[0].cpu().numpy()
            boxes, box_scores = boxes_of(ts, frame)
            boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
            box_scores = np.asarray(box_scores, np.float64).reshape(-1)
            scores = np.zeros((0, num_classes), np.float32)
            if len(boxes):
                inputs, rois, _ = keyframe_clip(
                    reader, ts, sampler, transforms, {"boxes": boxes}, fps, start,
                    where=f"{video}: timestamp {ts}",
                )  # fmt: skip
                key = [f"{Path(video).stem},{ts:04d}"]  # (a feature bank's key)
                (scores,) = model.predict(inputs[None].to(device), [rois["boxes"]], key)
                scores = scores.float().cpu().numpy()
            out.append(KeyframeDetections(ts, boxes, box_scores, scores))
    return out
