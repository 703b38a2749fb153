"""Run configurations: YAML files validated into dataclasses.

A config file holds the sections ``model``, ``data``, ``optim``, ``schedule`` and
``train`` (plus ``work_dir``); anything left out takes the defaults below. ``base:
other.yaml`` (a path relative to the file) loads that file first and merges this one
over it, dictionaries key by key, lists and scalars replaced; one level only, so every
value is at most one file away from where it is used. ``--set key.path=value`` overrides
(values parsed as YAML) apply last. Unknown keys, wrong types and bad transform or
sampler arguments are errors that name the key's path:

>>> cfg = load_config("configs/demo/tsm_synthetic.yaml", ["optim.lr=0.01"])
>>> print(dump_config(cfg))                    # what `actionkit-train --print-config` shows

Samplers and transforms are written as MMAction2 writes its pipelines, a ``type`` and
the class's arguments (``{type: SampleFrames, clip_len: 1, num_clips: 8}``); the classes
are those of ``actionkit.data.sampling`` and ``actionkit.data.transforms``.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError


@dataclass
class ModelConfig:
    name: str = "tsm_r50"  # a registered model (actionkit.models.list_models())
    num_classes: int = 400
    checkpoint: str | None = None  # initial weights: actionkit or MMAction2 .pth
    # initial backbone weights: torchvision/timm/OpenMMLab 2D (inflated for 3D models)
    # or another recognizer's backbone (actionkit.models.pretrained)
    pretrained: str | None = None
    # the checkpoint's classifier rows to keep (a list or a JSON file of one; Kinetics-710
    # -> 400 as MMAction2's UniFormerV2 channel_map); None: a classifier of another size is
    # initialised afresh
    head_classes: list[int] | str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # extra builder arguments
    average_clips: Literal["prob", "score", "none"] = "prob"  # test-time averaging


@dataclass
class SyntheticConfig:
    """Generate the synthetic action dataset (``actionkit.data.synthetic``) under
    ``data.root`` if it is absent; the list files then default to the generated ones."""

    classes: list[str] | None = None  # None: all of synthetic.CLASSES
    videos_per_class: int = 40
    val_per_class: int = 0
    test_per_class: int = 10
    num_frames: int = 32
    size: list[int] = field(default_factory=lambda: [64, 64])
    codec: str = "h264"
    seed: int = 0
    # a soundtrack per video naming its class, and its log-mel features with the lists
    # <split>_audio.txt (what data.kind: audio reads; the default lists then)
    audio: bool = False


@dataclass
class SyntheticFeaturesConfig:
    """Generate synthetic feature sequences with planted action instances
    (``actionkit.data.synthetic_features``, for localization) under ``data.root`` if they
    are absent; the annotation files then default to ``train.json`` / ``val.json`` /
    ``test.json`` and the features to ``features/``."""

    train_videos: int = 160
    val_videos: int = 40
    test_videos: int = 0
    feat_dim: int = 32
    classes: int = 4
    min_length: int = 60  # snippets per video
    max_length: int = 200
    noise: float = 0.5
    seed: int = 0


@dataclass
class SyntheticPoseConfig:
    """Generate the synthetic skeleton set (``actionkit.data.synthetic_pose``: 12 limb-motion
    classes, COCO-17 2D keypoints) as ``data.root/synthetic_pose.pkl`` with splits
    ``train`` and ``test`` if it is absent; the splits' ``ann_file`` defaults to it."""

    train_per_class: int = 60
    test_per_class: int = 10
    seed: int = 0


@dataclass
class SyntheticAVAConfig:
    """Generate the synthetic detection set (``actionkit.data.synthetic_ava``: 1-4 figures a
    video doing six actions, AVA-format annotations and proposals) under ``data.root`` if
    it is absent; each split's ``ann_file`` defaults to ``<split>.csv`` (val: ``test.csv``),
    ``proposal_file`` to ``proposals_<split>.pkl``, ``data_prefix`` to ``videos`` and
    ``data.ava.label_map`` to ``label_map.pbtxt``."""

    train_videos: int = 60
    test_videos: int = 15
    duration: int = 12  # seconds a video: keyframes 901 .. 900 + duration - 1
    fps: float = 8.0
    size: list[int] = field(default_factory=lambda: [144, 192])  # H, W
    box_noise: float = 0.04  # proposals: noise per coordinate, times the box's size
    seed: int = 0


@dataclass
class AVAConfig:
    """AVA-style detection data (``data.kind: ava``; ``actionkit.data.ava``): each split's
    ``ann_file`` is an annotation CSV, with its ``proposal_file`` (MMAction2's pickle)
    and ``exclusions`` (excluded keyframes); frames come from rawframe folders or
    straight from the videos under ``data.root/data_prefix``."""

    source: Literal["rawframes", "video"] = "rawframes"
    filename_tmpl: str = "img_{:05d}.jpg"  # rawframes: frame files, numbered from 1
    video_template: str = "{video_id}.mp4"  # video: the file of a video id
    label_map: str | None = None  # the classes scored (.pbtxt; relative to root)
    fps: float = 30  # frames per second of the frames / videos
    timestamp_start: int = 900  # the second the frames / videos start at (AVA: 900)
    timestamp_end: int = 1800
    person_det_score_thr: float = 0.9  # proposals kept: score >= min(thr, best)
    num_max_proposals: int = 1000
    custom_classes: list[int] | None = None  # action ids kept (num_classes = len + 1)
    action_thr: float = 0.002  # detections written and scored: score above it
    protocol: Literal["gt_frames", "all_frames"] = "gt_frames"  # frame-mAP protocol
    # AVA's action groups by id (1-14 person movement, 15-63 object manipulation, 64-80
    # person interaction) as metrics too; off for label maps of other data
    category_groups: bool = True
    # false: the label columns are the action ids from 0 (MultiSports), no background
    background_class: bool = True
    # AVA-Kinetics: video ids ending _START_END are Kinetics clips of those seconds
    clip_ids: bool = False
    # ava: frame-mAP against the CSV; multisports: MultiSports' frame-mAP and video-mAP
    # of linked tubes against its ground-truth pickle gt_file (relative to root)
    metric: Literal["ava", "multisports"] = "ava"
    gt_file: str | None = None
    tube_min_length: int = 15  # multisports: linked tubes shorter than this are dropped


@dataclass
class SSNDataConfig:
    """SSN's proposal data (``data.kind: ssn``; ``actionkit.data.ssn``): each split's
    ``ann_file`` is a TAG proposal list; ``source`` features reads
    ``data_prefix/<video><data.feature_ext>`` (snippet features), frames reads frame
    folders (``filename_tmpl``) or, with ``video_ext``, video files through the split's
    pipeline. The assigner, sampler and test values are MMAction2 0.24's THUMOS14 ones."""

    source: Literal["features", "frames"] = "features"
    filename_tmpl: str = "img_{:05d}.jpg"
    video_ext: str = ""  # frames: "" = a frame folder per video, else e.g. ".mp4"
    positive_iou_threshold: float = 0.7
    background_iou_threshold: float = 0.01
    incomplete_iou_threshold: float = 0.3
    background_coverage_threshold: float = 0.02
    incomplete_overlap_threshold: float = 0.01
    num_per_video: int = 8  # proposals per training video: positives, incompletes, bgs
    positive_ratio: float = 1
    incomplete_ratio: float = 6
    background_ratio: float = 1
    add_gt_as_proposals: bool = True
    body_segments: int = 5  # snippets in the proposal; aug_segments before and after it
    aug_segments: list[int] = field(default_factory=lambda: [2, 2])
    aug_ratio: list[float] = field(default_factory=lambda: [0.5, 0.5])
    test_interval: int = 6  # test: every this many frames through the whole video
    test_frames_per_batch: int = 16  # test: frames through the backbone at once
    top_k: int = 2000  # test: (proposal, class) pairs kept per video
    nms: float = 0.2  # test: per-class NMS tIoU
    # synthetic_features: the proposals written beside the generated annotations
    # (multi-scale sliding windows: these fractions of a video, half-overlapping)
    synthetic_scales: list[float] = field(default_factory=lambda: [0.04, 0.08, 0.16, 0.32, 0.64])


@dataclass
class MixConfig:
    """Mixup / CutMix of the training batches (``actionkit.data.mix``; MMAction2's
    ``blending``): the Beta parameters (0 turns one off), CutMix's share when both are on,
    the share of batches blended at all."""

    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    cutmix_prob: float = 0.5
    prob: float = 1.0


@dataclass
class SplitConfig:
    ann_file: str | None = None  # a list file; relative paths are under data.root
    data_prefix: str | None = None  # default: data.data_prefix
    split: str | None = None  # pose: the split of the pickle (e.g. xsub_train)
    proposal_file: str | None = None  # ava: person proposals (relative to root)
    exclusions: str | None = None  # ava: excluded keyframes CSV (relative to root)
    sampler: dict[str, Any] = field(  # default: TSN's 8 segments
        default_factory=lambda: {"type": "SampleFrames", "clip_len": 1, "num_clips": 8}
    )
    pipeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DataConfig:
    # video / rawframes: lists of clips (recognition); features: ActivityNet-style JSON
    # annotations and per-video feature files (BMN, BSN's TEM); proposals: the same
    # annotations and per-video PGM outputs in data_prefix (BSN's PEM); pose: a pose
    # pickle per split (ann_file; with `split:` one file holding named splits)
    # ava: AVA-style annotation CSVs per split with proposals (see AVAConfig)
    # audio: lists of log-mel feature files (path total_frames label; actionkit-data
    # extract-audio writes them), the sampler drawing from the video's frames
    # ssn: TAG proposal lists per split with snippet features or frames (see SSNDataConfig)
    kind: Literal["video", "rawframes", "features", "proposals", "pose", "ava", "audio", "ssn"] = (
        "video"
    )
    root: str = "data"  # list files and data_prefix are relative to it
    data_prefix: str = ""  # video paths in the lists are relative to root/data_prefix
    # rawframes: the frame files in each folder, numbered from 1; None: the modality's,
    # img_{:05d}.jpg or flow_{}_{:05d}.jpg (the {} being x or y). Something-Something V1
    # ships {:05d}.jpg
    filename_tmpl: str | None = None
    # rawframes: rgb, or flow (flow_x/flow_y_00001.jpg pairs: actionkit-data extract-frames
    # --flow tvl1; the pipeline ends with FormatShape flow: true or input_format NCHW_Flow)
    modality: Literal["rgb", "flow"] = "rgb"
    synthetic: SyntheticConfig | None = None
    synthetic_features: SyntheticFeaturesConfig | None = None
    synthetic_pose: SyntheticPoseConfig | None = None
    synthetic_ava: SyntheticAVAConfig | None = None
    ava: AVAConfig | None = None
    ssn: SSNDataConfig | None = None
    feature_ext: Literal[".csv", ".npy"] = ".csv"  # features: <data_prefix>/<video><ext>
    # audio: feature rows per clip, cut or zero-padded (MMAction2's AudioFeatureSelector)
    audio_length: int = 128
    temporal_dim: int | None = None  # features: rescale each sequence to this length
    train_top_k: int = 500  # proposals: the best PGM proposals per video, training
    test_top_k: int = 1000  # proposals: ... and evaluating
    train: SplitConfig = field(default_factory=SplitConfig)
    val: SplitConfig | None = None  # evaluated every train.eval_interval epochs
    test: SplitConfig | None = None  # actionkit-test and the end of training
    batch_size: int = 8  # per process
    test_batch_size: int = 1
    num_workers: int = 2
    backend: str = "auto"
    multi_class: bool = False
    # class names, one per line in label order (relative paths under root); default:
    # classes.txt beside the train list (actionkit-data build-list writes it), else in root
    classes: str | None = None
    # pose: the skeleton stream(s) every split's GenSkeFeat makes (j, b, jm, bm): one
    # config trains each stream (--set data.feats=[b]); 3 input channels per stream
    feats: list[str] | None = None
    mix: MixConfig | None = None  # Mixup / CutMix of the training batches (recognition)
    # repeated augmentation (VideoMAE's num_sample): each training video gives this many
    # differently augmented clips per batch (batch_size videos, batch_size x N clips)
    repeat_aug: int = 1


@dataclass
class OptimConfig:
    type: Literal["sgd", "adamw", "adam"] = "sgd"  # adam: L2 decay; adamw: decoupled
    # the lr (MMAction2's configs give it for 8 GPUs x batch_size; scale it linearly for
    # another total batch: batch_size x processes x accumulate)
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 1e-4
    decay_norm_and_bias: bool = False  # weight decay on norm weights and biases too
    lr_mult: dict[str, float] = field(default_factory=dict)  # module prefix -> lr factor
    # parameter names (shell patterns: backbone.pos_embed, *.q_bias) without weight decay
    no_decay: list[str] = field(default_factory=list)
    # layer-wise lr decay (BEiT / VideoMAE fine-tuning): the lr of layer i of a model with
    # L numbered layers is multiplied by layer_decay ** (L + 1 - i); the head's by 1
    layer_decay: float | None = None
    clip_grad: float | None = None  # max total L2 norm of the gradients
    accumulate: int = 1  # optimizer step every N iterations


@dataclass
class ScheduleConfig:
    epochs: int = 50
    policy: Literal["cosine", "multistep", "constant"] = "cosine"
    warmup_epochs: float = 0.0  # linear warmup, per iteration
    warmup_factor: float = 0.1  # the lr at the start of the warmup, as a fraction
    milestones: list[int] = field(default_factory=list)  # multistep: epochs
    gamma: float = 0.1  # multistep: factor at each milestone
    min_lr_factor: float = 0.0  # cosine: the final lr, as a fraction


@dataclass
class PreciseBNConfig:
    """PreciseBN before each evaluation (``actionkit.engine.precise_bn``): every
    BatchNorm layer's running statistics recomputed from ``num_iters`` training batches,
    every ``interval`` evaluations (MMAction2's ``PreciseBNHook`` defaults)."""

    num_iters: int = 200
    interval: int = 1


@dataclass
class MultigridConfig:
    """Multigrid training (``actionkit.engine.multigrid``; Wu et al. 2020, PySlowFast's
    schedule): mini-batch shapes varied on long and short cycles, the epochs of the
    multistep schedule times ``epoch_factor``, the lr scaled with the batch."""

    long_cycle: bool = True
    short_cycle: bool = True
    # (frames, side) factors of the long cycle's shapes, the full shape last
    long_cycle_factors: list[list[float]] = field(
        default_factory=lambda: [[0.25, 0.5**0.5], [0.5, 0.5**0.5], [0.5, 1.0], [1.0, 1.0]]
    )
    short_cycle_factors: list[float] = field(default_factory=lambda: [0.5, 0.5**0.5])
    epoch_factor: float = 1.5
    # BatchNorm statistics over this many clips: a stretch with k times the batch per
    # process uses sub-batch BatchNorm in k groups (PySlowFast's BN_BASE_SIZE); 0: off
    bn_base_size: int = 8


@dataclass
class TrainConfig:
    seed: int = 0
    device: str = "auto"  # auto: cuda:LOCAL_RANK when CUDA is available, else cpu
    amp: Literal["none", "bf16", "fp16"] = "none"
    max_skipped_steps: int = 10  # optimizer steps skipped in a row (non-finite gradients)
    label_smoothing: float = 0.0
    class_weights: list[float] | None = None
    eval_interval: int = 1  # epochs
    checkpoint_interval: int = 1  # epochs
    keep_last: int = 2  # epoch checkpoints kept besides the best
    checkpoint_iters: int | None = None  # also every N iterations (only the newest kept)
    best_metric: str = "top1"
    ema: float | None = None  # EMA decay of the weights (evaluated and saved when set)
    precise_bn: PreciseBNConfig | None = None  # BatchNorm statistics recomputed before eval
    multigrid: MultigridConfig | None = None  # varying batch, clip length and crop size
    sync_bn: bool = False  # SyncBatchNorm when distributed (CUDA)
    channels_last: bool = False
    compile: bool = False
    log_interval: int = 10  # iterations between log lines
    max_iters_per_epoch: int | None = None  # cut epochs short (quick runs, benchmarks)


@dataclass
class Config:
    work_dir: str | None = None  # default: work_dirs/<config file name>
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str | None = None  # the file it came from (set by load_config)


# ---------------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike, overrides: list[str] = ()) -> Config:
    """Reads ``path`` (with its ``base``), applies ``key.path=value`` overrides,
    validates, and returns the :class:`Config`."""
    path = Path(path)
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    if base is not None:
        base_path = path.parent / base
        base_raw = _read_yaml(base_path)
        if "base" in base_raw:
            raise ConfigError(f"{base_path}: base: a base file cannot have a base (one level)")
        raw = _merge(base_raw, raw)
    given: dict[str, tuple[str, Any]] = {}
    for item in overrides:
        key, value = _override(raw, item)
        if key in given and given[key][1] != value:
            raise ConfigError(
                f"--set {key} is given twice, as {given[key][0]!r} and {item!r}: keep one"
            )
        given[key] = item, value
    raw.setdefault("source", str(path))
    cfg = from_dict(Config, raw, str(path))
    if cfg.work_dir is None:
        cfg.work_dir = str(Path("work_dirs") / path.stem)
    _apply_feats(cfg, str(path))
    _apply_synthetic_ava(cfg, str(path))
    validate(cfg, str(path))
    return cfg


def _apply_feats(cfg: Config, path: str) -> None:
    """Sets ``data.feats`` as the ``feats`` of every split's GenSkeFeat step; the model's
    ``in_channels`` must fit the streams the pipelines make (3 per stream)."""
    feats = cfg.data.feats
    if feats is not None and cfg.data.kind != "pose":
        raise ConfigError(f"{path}: data.feats: only pose data has skeleton streams")
    steps = [
        spec
        for split in ("train", "val", "test")
        for spec in (getattr(cfg.data, split).pipeline if getattr(cfg.data, split) else [])
        if isinstance(spec, dict) and spec.get("type") == "GenSkeFeat"
    ]
    if feats is not None:
        if not steps:
            raise ConfigError(f"{path}: data.feats: no GenSkeFeat step in the pipelines to set")
        for spec in steps:
            spec["feats"] = list(feats)
    channels = cfg.model.args.get("in_channels", 3)
    for spec in steps:
        made = 3 * len(spec.get("feats", ["j"]))
        if made != channels:
            where = "data.feats" if feats is not None else "GenSkeFeat"
            raise ConfigError(
                f"{path}: {where}: {spec.get('feats', ['j'])} make {made} input channels, "
                f"model.args.in_channels is {channels}: set it to {made}"
            )


def _apply_synthetic_ava(cfg: Config, path: str) -> None:
    """With ``data.synthetic_ava``, fills in what the config leaves out: the files the
    generator writes and the way its videos are read (see :class:`SyntheticAVAConfig`)."""
    syn, data = cfg.data.synthetic_ava, cfg.data
    if syn is None:
        return
    if data.kind != "ava":
        raise ConfigError(f"{path}: data.synthetic_ava: needs data.kind: ava, not {data.kind}")
    data.ava = data.ava or AVAConfig(source="video", fps=syn.fps, category_groups=False)
    if data.ava.source != "video" or data.ava.fps != syn.fps or data.ava.timestamp_start != 900:
        raise ConfigError(
            f"{path}: data.ava: the synthetic videos are read with source: video, fps: "
            f"{syn.fps:g} and timestamp_start: 900, not {data.ava.source}, "
            f"{data.ava.fps:g} and {data.ava.timestamp_start}"
        )
    data.ava.label_map = data.ava.label_map or "label_map.pbtxt"
    data.data_prefix = data.data_prefix or "videos"
    for split in ("train", "val", "test"):
        split_cfg = getattr(data, split)
        if split_cfg is not None:
            made = "train" if split == "train" else "test"
            split_cfg.ann_file = split_cfg.ann_file or f"{made}.csv"
            split_cfg.proposal_file = split_cfg.proposal_file or f"proposals_{made}.pkl"


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections, not a {type(raw).__name__}")
    return raw


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _override(raw: dict, item: str) -> tuple[str, Any]:
    """Applies ``key.path=value`` to ``raw``; returns the key path and the value."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML: {e}") from None
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is not a section")
        node = child
    node[parts[-1]] = value
    return key, value


# ------------------------------------------------------------------------- validation


def from_dict(cls: type, data: Any, path: str) -> Any:
    """Builds dataclass ``cls`` from a mapping, checking keys and types; errors name
    ``path`` (the file, then the key path)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{_join(path, unknown[0])}: unknown key (known here: {', '.join(names)})"
        )
    return cls(**{k: _convert(hints[k], v, _join(path, k)) for k, v in data.items()})


def _join(path: str, key: str) -> str:
    return f"{path}: {key}" if ":" not in path else f"{path}.{key}"


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, path)
            except ConfigError as e:
                errors.append(e)
        raise (
            errors[-1]
            if len(options) == 1
            else ConfigError(
                f"{path}: {_show(value)} is none of {', '.join(_name(o) for o in options)}"
            )
        )
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {_show(value)}")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_show(value)}")
        return {str(k): _convert(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # PyYAML reads YAML 1.1, where 1e-4 (no dot) is a string, not a number
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool) and (
        not isinstance(value, tp) or (tp is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{path}: expected {tp.__name__}, got {_show(value)}")
    return value


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def validate(cfg: Config, path: str) -> None:
    """Checks what types cannot: that samplers and transforms exist and take the given
    arguments, and that numbers are in range."""
    from .models import list_models

    if cfg.model.name not in list_models():
        raise ConfigError(
            f"{path}: model.name: unknown model {cfg.model.name!r} "
            "(actionkit.models.list_models() names them)"
        )
    for split in ("train", "val", "test"):
        split_cfg = getattr(cfg.data, split)
        if split_cfg is None:
            continue
        build_sampler(split_cfg.sampler, f"{path}: data.{split}.sampler")
        if cfg.data.kind == "audio" and split_cfg.pipeline:
            raise ConfigError(
                f"{path}: data.{split}.pipeline: audio features take no transforms (each "
                "clip's rows are cut or padded to data.audio_length)"
            )
        build = build_pose_transform if cfg.data.kind == "pose" else build_transform
        for i, spec in enumerate(split_cfg.pipeline):
            build(spec, f"{path}: data.{split}.pipeline[{i}]")
    checks = {
        "model.num_classes": cfg.model.num_classes >= 1,
        "data.batch_size": cfg.data.batch_size >= 1,
        "data.audio_length": cfg.data.audio_length >= 1,
        "data.test_batch_size": cfg.data.test_batch_size >= 1,
        "data.num_workers": cfg.data.num_workers >= 0,
        "optim.lr": cfg.optim.lr > 0,
        "optim.accumulate": cfg.optim.accumulate >= 1,
        "schedule.epochs": cfg.schedule.epochs >= 1,
        "schedule.warmup_epochs": cfg.schedule.warmup_epochs >= 0,
        "train.eval_interval": cfg.train.eval_interval >= 1,
        "train.checkpoint_interval": cfg.train.checkpoint_interval >= 1,
        "train.keep_last": cfg.train.keep_last >= 1,
        "train.max_skipped_steps": cfg.train.max_skipped_steps >= 1,
    }
    for key, ok in checks.items():
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(cfg, section), name)
            raise ConfigError(f"{path}: {key}: {value!r} is out of range")
    if cfg.model.checkpoint and cfg.model.pretrained:
        raise ConfigError(
            f"{path}: model.checkpoint and model.pretrained are both set: the checkpoint "
            "(the whole model) would overwrite the pretrained backbone; keep one"
        )
    if cfg.model.head_classes is not None and not cfg.model.checkpoint:
        raise ConfigError(
            f"{path}: model.head_classes selects rows of model.checkpoint's classifier; "
            "set model.checkpoint"
        )
    if cfg.train.ema is not None and not 0 < cfg.train.ema < 1:
        raise ConfigError(f"{path}: train.ema: the decay must be in (0, 1), got {cfg.train.ema}")
    pbn = cfg.train.precise_bn
    if pbn is not None and (pbn.num_iters < 1 or pbn.interval < 1):
        raise ConfigError(
            f"{path}: train.precise_bn: num_iters and interval must be at least 1, got "
            f"{pbn.num_iters} and {pbn.interval}"
        )
    if cfg.schedule.policy == "multistep" and not cfg.schedule.milestones:
        raise ConfigError(f"{path}: schedule.milestones: multistep needs milestones")
    late = [m for m in cfg.schedule.milestones if not 0 < m < cfg.schedule.epochs]
    if late:
        raise ConfigError(
            f"{path}: schedule.milestones: {late[0]} is not within the run's "
            f"{cfg.schedule.epochs} epochs (a milestone m takes effect after m epochs)"
        )
    if not 0 <= cfg.train.label_smoothing < 1:
        raise ConfigError(
            f"{path}: train.label_smoothing: {cfg.train.label_smoothing} is not in [0, 1)"
        )
    clips = cfg.data.kind in ("video", "rawframes")
    if cfg.data.repeat_aug < 1 or (cfg.data.repeat_aug > 1 and not clips):
        raise ConfigError(
            f"{path}: data.repeat_aug: {cfg.data.repeat_aug} (a count >= 1; above 1 for video "
            f"or rawframes clips, not {cfg.data.kind})"
        )
    mix = cfg.data.mix
    if mix is not None:
        if not clips or cfg.data.multi_class:
            raise ConfigError(
                f"{path}: data.mix: Mixup / CutMix blend single-label clips (data.kind video "
                f"or rawframes), not {'multi-label ' if cfg.data.multi_class else ''}"
                f"{cfg.data.kind} data"
            )
        try:
            from .data.mix import MixupCutmix

            MixupCutmix(cfg.model.num_classes, **dataclasses.asdict(mix))
        except ValueError as e:
            raise ConfigError(f"{path}: data.mix: {e}") from None
    weights = cfg.train.class_weights
    if weights is not None and (len(weights) != cfg.model.num_classes or min(weights) < 0):
        raise ConfigError(
            f"{path}: train.class_weights: expected {cfg.model.num_classes} weights >= 0 "
            f"(model.num_classes), got {len(weights)}: {_show(weights)}"
        )
    from .models.registry import modality_of, task_of

    task = task_of(cfg.model.name)
    if task == "classification":
        known = (
            ("mAP", "mmit_mAP") if cfg.data.multi_class else ("top1", "top5", "mean_class_accuracy")
        )
        what = f"this {'multi-label' if cfg.data.multi_class else 'single-label'} data"
    else:
        from .engine.evaluate import METRICS, DetectionEvaluator

        known, what = METRICS.get(task, (cfg.train.best_metric,)), f"the {task} task"
        if task == "detection" and cfg.data.ava and cfg.data.ava.metric == "multisports":
            known, what = DetectionEvaluator.MULTISPORTS, "the MultiSports metric"
    if cfg.train.best_metric not in known:
        raise ConfigError(
            f"{path}: train.best_metric: {cfg.train.best_metric!r} is not a metric of "
            f"{what} (known: {', '.join(known)})"
        )
    kinds = {
        "localization": "features",
        "localization_tem": "features",
        "detection": "ava",
        "temporal_detection": "ssn",
    }
    wanted = {**kinds, "localization_pem": "proposals"}.get(task)
    if modality_of(cfg.model.name) == "audio":
        wanted = "audio"
    others = ("features", "proposals", "ava", "audio", "ssn")
    if cfg.data.kind != wanted if wanted else cfg.data.kind in others:
        raise ConfigError(
            f"{path}: data.kind: {cfg.data.kind!r} does not fit model {cfg.model.name!r} "
            f"({task}: data.kind {wanted or 'video, rawframes or pose'!r})"
        )


def _build(kind: str, module: types.ModuleType, names: tuple[str, ...], spec: Any, path: str):
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"{path}: a {kind} is a mapping with a 'type', got {_show(spec)}")
    kwargs = dict(spec)
    name = kwargs.pop("type")
    if name not in names:
        raise ConfigError(f"{path}.type: unknown {kind} {name!r} (known: {', '.join(names)})")
    cls = getattr(module, name)
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{path}: {name}: {e}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        text = str(e) if str(e).startswith(f"{name}: ") else f"{name}: {e}"
        raise ConfigError(f"{path}: {text}") from None


SAMPLERS = (
    "SampleFrames",
    "DenseSampleFrames",
    "UniformSample",
    "UniformSampleFrames",
    "SampleAVAFrames",
)
TRANSFORMS = (
    "Resize",
    "RandomRescale",
    "RandomResizedCrop",
    "MultiScaleCrop",
    "RandomCrop",
    "CenterCrop",
    "ThreeCrop",
    "TenCrop",
    "Flip",
    "ColorJitter",
    "RandAugment",
    "RandomErasing",
    "FormatShape",
)
AUGMENTS = ("RandAugment", "RandomErasing")  # (in data.augment)


def build_sampler(spec: dict, path: str = "sampler"):
    from .data import sampling

    return _build("sampler", sampling, SAMPLERS, spec, path)


def build_transform(spec: dict, path: str = "transform"):
    from .data import augment, transforms

    module = augment if isinstance(spec, dict) and spec.get("type") in AUGMENTS else transforms
    return _build("transform", module, TRANSFORMS, spec, path)


POSE_TRANSFORMS = (
    "PreNormalize2D",
    "PreNormalize3D",
    "GenSkeFeat",
    "PoseDecode",
    "FormatGCNInput",
    "PoseCompact",
    "Resize",
    "RandomResizedCrop",
    "CenterCrop",
    "Flip",
    "GeneratePoseTarget",
    "FormatShape",
)


def build_pose_transform(spec: dict, path: str = "transform"):
    from .data import pose_transforms

    return _build("skeleton transform", pose_transforms, POSE_TRANSFORMS, spec, path)


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML (loadable again)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)
