"""From a :class:`~actionkit.config.Config` to the objects a run needs: the data (the
synthetic set generated if asked and absent), datasets, loaders and the model."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import (
    Config,
    ConfigError,
    SplitConfig,
    SSNDataConfig,
    build_sampler,
    build_transform,
)
from ..data import transforms as T
from ..data.datasets import RawframeDataset, VideoDataset, collate_clips, make_loader
from ..losses import ClassificationLoss
from .dist import SINGLE, DistInfo, barrier
from .sampler import EpochSampler


def prepare_data(cfg: Config, info: DistInfo = SINGLE, log=print) -> None:
    """Generates the synthetic dataset under ``data.root`` when the config asks for one
    (videos, localization features or skeletons) and it is not there yet (process 0
    writes, the others wait); one already there must be the one the config describes."""
    import dataclasses

    data, root = cfg.data, Path(cfg.data.root)
    if data.synthetic_features is not None:
        from ..data import synthetic_features

        syn = dataclasses.asdict(data.synthetic_features)
        wanted = {"generator": synthetic_features.GENERATOR_VERSION, "kind": "features", **syn}
        n = syn["train_videos"] + syn["val_videos"] + syn["test_videos"]
        _generate_once(
            cfg, info, log, wanted, ("synthetic.json", "train.json"),
            f"generating the synthetic localization set: {n} feature sequences in {root}",
            lambda: synthetic_features.make_dataset(root, **syn),
        )  # fmt: skip
        if data.kind == "ssn" and info.is_main and not (root / "train_proposals.txt").exists():
            from ..data.ssn import write_synthetic_proposals

            scales = (data.ssn or SSNDataConfig()).synthetic_scales
            log(f"writing sliding-window proposal lists (TAG format) in {root}")
            write_synthetic_proposals(root, scales)
        barrier(info)
    if data.synthetic_pose is not None:
        from ..data import synthetic_pose

        syn = dataclasses.asdict(data.synthetic_pose)
        wanted = {"generator": synthetic_pose.GENERATOR_VERSION, "kind": "pose", **syn}
        n = len(synthetic_pose.CLASSES) * (syn["train_per_class"] + syn["test_per_class"])

        def make_pose() -> None:
            synthetic_pose.make_pose_dataset(root / "synthetic_pose.pkl", **syn)
            (root / "synthetic.json").write_text(json.dumps(wanted, indent=1))

        _generate_once(
            cfg, info, log, wanted, ("synthetic.json", "synthetic_pose.pkl"),
            f"generating the synthetic skeleton set: {n} samples in {root}", make_pose,
        )  # fmt: skip
    if data.synthetic_ava is not None:
        from ..data import synthetic_ava

        syn = dataclasses.asdict(data.synthetic_ava)
        wanted = {"generator": synthetic_ava.GENERATOR_VERSION, "kind": "ava", **syn}
        n = syn["train_videos"] + syn["test_videos"]
        _generate_once(
            cfg, info, log, wanted, ("synthetic.json", "train.csv"),
            f"generating the synthetic detection set: {n} videos in {root}",
            lambda: synthetic_ava.make_dataset(root, **{**syn, "size": tuple(syn["size"])}),
        )  # fmt: skip
        ava = data.ava
        gt = root / ava.gt_file if ava and ava.metric == "multisports" and ava.gt_file else None
        if gt is not None and not gt.exists() and info.is_main:
            log(f"writing the MultiSports-style ground truth of the test split: {gt}")
            synthetic_ava.write_multisports_gt(root, gt, "test", ava.custom_classes)
        barrier(info)
    if data.synthetic is not None:
        from ..data import synthetic

        syn = data.synthetic
        args = {
            "classes": list(syn.classes or synthetic.CLASSES),
            "videos_per_class": syn.videos_per_class,
            "val_per_class": syn.val_per_class,
            "test_per_class": syn.test_per_class,
            "num_frames": syn.num_frames,
            "size": list(syn.size),
            "codec": syn.codec,
            "seed": syn.seed,
            **({"audio": True} if syn.audio else {}),
            **({"rawframes": True} if data.kind == "rawframes" else {}),
            **({"flow": True} if data.kind == "rawframes" and data.modality == "flow" else {}),
        }
        classes = len(args["classes"])
        _generate_once(
            cfg, info, log, {"generator": synthetic.GENERATOR_VERSION, **args}, ("classes.txt",),
            f"generating the synthetic dataset: {classes * syn.videos_per_class} videos of "
            f"{classes} classes in {root}",
            lambda: synthetic.make_dataset(root, **{**args, "size": tuple(syn.size)}),
        )  # fmt: skip


def _generate_once(cfg: Config, info: DistInfo, log, wanted: dict, markers, message, make) -> None:
    """``make()`` on process 0 unless one of ``markers`` is in ``data.root`` already, in
    which case its recorded settings must be ``wanted``."""
    root = Path(cfg.data.root)
    if any((root / m).exists() for m in markers):
        _check_synthetic(root, wanted, cfg.source)
        return
    if info.is_main:
        log(message)
        make()
    barrier(info)


def _check_synthetic(root: Path, wanted: dict, source: str | None) -> None:
    """A synthetic dataset already in ``root`` must be the one the config describes."""
    record = root / "synthetic.json"
    if not record.exists():
        raise ConfigError(
            f"{source}: data.root: {root} holds a dataset that is not a recorded synthetic "
            "one (no synthetic.json): delete it or choose another data.root"
        )
    made = json.loads(record.read_text())
    differ = [k for k, v in wanted.items() if made.get(k) != v]
    if differ:
        shown = ", ".join(f"{k} {made.get(k)!r} (config: {wanted[k]!r})" for k in differ)
        raise ConfigError(
            f"{source}: data.synthetic: {root} was generated with other settings: {shown}; "
            "delete it or choose another data.root"
        )


def class_names(cfg: Config) -> list[str] | None:
    """The class names in label order: ``data.classes`` (a file), else ``classes.txt``
    beside the train list (where ``actionkit-data build-list`` writes it), else in
    ``data.root``; None if there is none. One name per line (names may hold spaces); a
    file whose count differs from ``model.num_classes`` is a ConfigError. Self-supervised
    pre-training has no classes (None)."""
    from ..models.registry import task_of

    if task_of(cfg.model.name) == "pretraining":
        return None
    root = Path(cfg.data.root)
    if cfg.data.kind == "ava" and not cfg.data.classes:
        return _ava_class_names(cfg)
    if cfg.data.classes:
        path = Path(cfg.data.classes)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise ConfigError(f"{cfg.source}: data.classes: {path} does not exist")
        candidates = [path]
    else:
        candidates = [root / "classes.txt"]
        if cfg.data.train is not None and cfg.data.train.ann_file:
            candidates.insert(0, ann_file(cfg, "train").with_name("classes.txt"))
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != cfg.model.num_classes:
        raise ConfigError(
            f"{path}: {len(names)} class names, but model.num_classes is "
            f"{cfg.model.num_classes} ({cfg.source})"
        )
    return names


def _ava_class_names(cfg: Config) -> list[str] | None:
    """AVA-style data: the label map's names by column (column 0: background; with
    ``custom_classes`` column k is the k-th of them); None without a label map file."""
    from ..metrics.ava import read_label_map

    ava = cfg.data.ava
    if ava is None or not ava.label_map or not (Path(cfg.data.root) / ava.label_map).is_file():
        return None
    names = {c["id"]: c["name"] for c in read_label_map(Path(cfg.data.root) / ava.label_map)}
    ids = ava.custom_classes or range(1, cfg.model.num_classes)
    return ["background"] + [names.get(i, f"action {i}") for i in ids]


def split_config(cfg: Config, split: str) -> SplitConfig | None:
    return getattr(cfg.data, split)


def ann_file(cfg: Config, split: str) -> Path:
    split_cfg = split_config(cfg, split)
    if split_cfg is None:
        raise ConfigError(f"{cfg.source}: data.{split}: the config has no {split} split")
    if split_cfg.ann_file is None:
        if cfg.data.synthetic_features is not None:
            name = f"{split}_proposals.txt" if cfg.data.kind == "ssn" else f"{split}.json"
            return Path(cfg.data.root) / name
        if cfg.data.synthetic_pose is not None:
            return Path(cfg.data.root) / "synthetic_pose.pkl"
        if cfg.data.synthetic is None:
            raise ConfigError(f"{cfg.source}: data.{split}.ann_file: no list file given")
        name = "train_list.txt" if split == "train" else f"{split}_list.txt"
        if cfg.data.kind == "audio":
            name = f"{split}_audio.txt"
        elif cfg.data.kind == "rawframes":
            name = f"{split}_{'flow' if cfg.data.modality == 'flow' else 'rawframes'}.txt"
        return Path(cfg.data.root) / name
    path = Path(split_cfg.ann_file)
    return path if path.is_absolute() else Path(cfg.data.root) / path


def build_pipeline(split_cfg: SplitConfig, where: str) -> T.Compose:
    return T.Compose(
        [
            build_transform(spec, f"{where}.pipeline[{i}]")
            for i, spec in enumerate(split_cfg.pipeline)
        ]
    )


def build_dataset(cfg: Config, split: str, repeats: int = 1):
    """The dataset of ``split``; ``repeats`` (video / rawframe clips) makes each sample
    that many augmented draws of one video (repeated augmentation)."""
    split_cfg = split_config(cfg, split)
    where = f"{cfg.source}: data.{split}"
    path = ann_file(cfg, split)
    if not path.exists():
        raise FileNotFoundError(f"{where}.ann_file: {path} does not exist")
    prefix = split_cfg.data_prefix or cfg.data.data_prefix
    if cfg.data.kind == "features":
        from ..data.localization import LocalizationDataset
        from ..models.registry import task_of

        if not prefix and cfg.data.synthetic_features is not None:
            prefix = "features"
        tem = task_of(cfg.model.name) == "localization_tem"
        return LocalizationDataset(
            path,
            Path(cfg.data.root) / prefix,
            cfg.data.feature_ext,
            cfg.data.temporal_dim,
            test_mode=split != "train",
            targets="tem" if tem else "bmn",
            boundary_ratio=cfg.model.args.get("boundary_ratio", 0.1),
        )
    if cfg.data.kind == "ssn":
        return _ssn_dataset(cfg, split, split_cfg, path, prefix, where)
    if cfg.data.kind == "pose":
        from ..config import build_pose_transform
        from ..data.pose import PoseDataset

        steps = [
            build_pose_transform(spec, f"{where}.pipeline[{i}]")
            for i, spec in enumerate(split_cfg.pipeline)
        ]
        sampler = build_sampler(split_cfg.sampler, f"{where}.sampler")
        return PoseDataset(
            path, sampler, steps, split_cfg.split, cfg.model.num_classes, cfg.train.seed
        )
    if cfg.data.kind == "ava":
        return _ava_dataset(cfg, split, split_cfg, path, prefix, where)
    if cfg.data.kind == "audio":
        from ..data.audio import AudioFeatureDataset

        if not prefix and cfg.data.synthetic is not None:
            prefix = "audio_features"
        return AudioFeatureDataset(
            path,
            build_sampler(split_cfg.sampler, f"{where}.sampler"),
            data_prefix=str(Path(cfg.data.root) / prefix),
            fixed_length=cfg.data.audio_length,
            multi_class=cfg.data.multi_class,
            num_classes=cfg.model.num_classes,
            seed=cfg.train.seed,
        )
    if cfg.data.kind == "proposals":
        from ..data.localization import ProposalDataset

        top_k = cfg.data.train_top_k if split == "train" else cfg.data.test_top_k
        return ProposalDataset(path, Path(cfg.data.root) / prefix, top_k)
    cls = VideoDataset if cfg.data.kind == "video" else RawframeDataset
    if cfg.data.kind == "rawframes":
        options = {"modality": cfg.data.modality}
        if cfg.data.filename_tmpl:  # (else the modality's own)
            options["filename_tmpl"] = cfg.data.filename_tmpl
    else:
        options = {"backend": cfg.data.backend}
    return cls(
        path,
        build_sampler(split_cfg.sampler, f"{where}.sampler"),
        build_pipeline(split_cfg, where),
        data_prefix=str(Path(cfg.data.root) / prefix),
        multi_class=cfg.data.multi_class,
        num_classes=cfg.model.num_classes,
        seed=cfg.train.seed,
        repeats=repeats,
        **options,
    )


def _ssn_dataset(cfg: Config, split: str, split_cfg: SplitConfig, path, prefix, where):
    from ..data.ssn import AssignConfig, SamplerConfig, SSNDataset

    ssn = cfg.data.ssn or SSNDataConfig()
    if not prefix and cfg.data.synthetic_features is not None:
        prefix = "features"
    # (the data section holds the assigner's and the sampler's fields under their names)
    assign, sampler = (
        cls(**{f.name: getattr(ssn, f.name) for f in dataclasses.fields(cls)})
        for cls in (AssignConfig, SamplerConfig)
    )
    frames = ssn.source == "frames"
    return SSNDataset(
        path,
        Path(cfg.data.root) / prefix,
        ssn.source,
        test_mode=split != "train",
        assign=assign,
        sampler=sampler,
        body_segments=ssn.body_segments,
        aug_segments=tuple(ssn.aug_segments),
        aug_ratio=tuple(ssn.aug_ratio),
        test_interval=ssn.test_interval,
        transforms=build_pipeline(split_cfg, where) if frames else None,
        feature_ext=cfg.data.feature_ext,
        video_ext=ssn.video_ext,
        filename_tmpl=ssn.filename_tmpl,
        backend=cfg.data.backend,
        seed=cfg.train.seed,
    )


def _ava_dataset(cfg: Config, split: str, split_cfg: SplitConfig, path, prefix, where):
    from ..config import AVAConfig
    from ..data.ava import AVADataset

    ava, root = cfg.data.ava or AVAConfig(), Path(cfg.data.root)

    def under_root(name: str | None, key: str) -> Path | None:
        if name is None:
            return None
        full = root / name
        if not full.exists():
            raise FileNotFoundError(f"{where}.{key}: {full} does not exist")
        return full

    custom = ava.custom_classes
    return AVADataset(
        path,
        build_sampler(split_cfg.sampler, f"{where}.sampler"),
        build_pipeline(split_cfg, where),
        data_prefix=root / prefix,
        source=ava.source,
        filename_tmpl=ava.filename_tmpl,
        video_template=ava.video_template,
        proposal_file=under_root(split_cfg.proposal_file, "proposal_file"),
        person_det_score_thr=ava.person_det_score_thr,
        num_max_proposals=ava.num_max_proposals,
        exclusions=under_root(split_cfg.exclusions, "exclusions"),
        num_classes=cfg.model.num_classes,
        custom_classes=list(custom) if custom else None,
        fps=ava.fps,
        timestamp_start=ava.timestamp_start,
        timestamp_end=ava.timestamp_end,
        background_class=ava.background_class,
        clip_ids=ava.clip_ids,
        backend=cfg.data.backend,
        seed=cfg.train.seed,
    )


def build_loader(
    cfg: Config, split: str, info: DistInfo = SINGLE, dataset=None, evaluate: bool = False
) -> tuple[DataLoader, EpochSampler]:
    """The loader of ``split`` and its sampler: shuffled and sharded for training;
    sharded in order (padded; gathered results are de-duplicated by index) otherwise, and
    for the train split too with ``evaluate`` (``actionkit-test --split train``)."""
    train = split == "train" and not evaluate
    repeats = cfg.data.repeat_aug if train else 1
    dataset = dataset if dataset is not None else build_dataset(cfg, split, repeats)
    sampler = EpochSampler(
        len(dataset), shuffle=train, seed=cfg.train.seed, rank=info.rank, world_size=info.world_size
    )
    extra = _collate(cfg, train, repeats)
    loader = make_loader(
        dataset,
        batch_size=cfg.data.batch_size if train else cfg.data.test_batch_size,
        shuffle=False,
        num_workers=cfg.data.num_workers,
        drop_last=train,
        sampler=sampler,
        seed=cfg.train.seed,
        **extra,
    )
    return loader, sampler


def _collate(cfg: Config, train: bool, repeats: int) -> dict:
    """The loader's ``collate_fn`` for the config, if not the default one."""
    extra = {}
    if cfg.data.kind == "ssn" and not train:  # whole videos of different lengths
        from ..data.ssn import collate_videos

        extra["collate_fn"] = collate_videos
    if cfg.data.kind == "ava":  # boxes per clip: lists, not stacked
        from ..data.ava import collate_detection

        extra["collate_fn"] = collate_detection
    if repeats > 1:
        extra["collate_fn"] = collate_clips
    if train and cfg.data.mix is not None:
        from ..data.mix import MixupCutmix

        options = dataclasses.asdict(cfg.data.mix)
        extra["collate_fn"] = MixupCutmix(cfg.model.num_classes, seed=cfg.train.seed, **options)
    return extra


def build_multigrid(cfg: Config):
    """The multigrid plan of a config with ``train.multigrid``: the base shape from the
    train split (batch, its sampler's clip length and spacing, the side its pipeline
    outputs) and the multistep schedule."""
    from ..data.transforms import Clip, FormatShape
    from . import multigrid as mg

    mcfg, where = cfg.train.multigrid, f"{cfg.source}: train.multigrid"
    if cfg.data.kind not in ("video", "rawframes"):
        raise ConfigError(f"{where}: for clips of video (data.kind video or rawframes)")
    if cfg.schedule.policy != "multistep":
        raise ConfigError(f"{where}: needs schedule.policy multistep (a long cycle per step)")
    if cfg.optim.accumulate != 1 or cfg.data.repeat_aug != 1:
        raise ConfigError(f"{where}: not with optim.accumulate or data.repeat_aug")
    mg.check_milestones(cfg.schedule.milestones, cfg.schedule.epochs)
    spec = cfg.data.train.sampler or {}
    frames, interval = int(spec.get("clip_len", 1)), int(spec.get("frame_interval", 1))
    for t, _ in mcfg.long_cycle_factors if mcfg.long_cycle else []:
        if round(frames * t) < 1 or frames % round(frames * t):
            raise ConfigError(
                f"{where}: long cycle frames factor {t} of the sampler's clip_len {frames} "
                "is not a whole divisor of it"
            )
    # the side the train pipeline puts out, from a stand-in clip through its steps
    clip, rng = Clip(torch.zeros(frames, 256, 340, 3, dtype=torch.uint8)), np.random.default_rng(0)
    for step in build_pipeline(cfg.data.train, where).transforms:
        if isinstance(step, FormatShape):
            break
        clip = step(clip, rng)
    return mg.Multigrid(
        cfg.data.batch_size, frames, interval, clip.size, cfg.schedule.milestones,
        cfg.schedule.epochs, cfg.schedule.gamma, cfg.schedule.warmup_epochs,
        cfg.schedule.warmup_factor, mcfg.long_cycle, mcfg.short_cycle,
        mcfg.long_cycle_factors, mcfg.short_cycle_factors, mcfg.epoch_factor,
    )  # fmt: skip


def build_multigrid_loader(cfg: Config, shapes, info: DistInfo = SINGLE):
    """The training loader of one multigrid stretch: the dataset sampling the long
    cycle's frames, batches in the turn of ``shapes`` (``CycleBatches``)."""
    from .multigrid import CycleBatches

    long = shapes[-1]
    stretch = copy.deepcopy(cfg)
    sampler_spec = dict(stretch.data.train.sampler or {})
    sampler_spec.update(clip_len=long.frames, frame_interval=long.interval)
    stretch.data.train.sampler = sampler_spec
    dataset = build_dataset(stretch, "train")
    sampler = EpochSampler(
        len(dataset), shuffle=True, seed=cfg.train.seed, rank=info.rank, world_size=info.world_size
    )
    batches = CycleBatches(sampler, shapes)
    loader = make_loader(
        dataset, batch_size=1, shuffle=False, drop_last=False, num_workers=cfg.data.num_workers,
        batch_sampler=batches, seed=cfg.train.seed, **_collate(cfg, True, 1),
    )  # fmt: skip
    return loader, batches


def build_model(
    cfg: Config, log=print, trust_checkpoint: bool = False, initial_weights: bool = True
) -> nn.Module:
    """The config's model, initialised from ``model.pretrained`` (its backbone) or
    ``model.checkpoint`` (all of it) when ``initial_weights`` (training from scratch;
    not when the weights come next anyway: resuming, testing, inference). Files are read
    as data unless ``trust_checkpoint``."""
    from .. import models

    model = models.create(cfg.model.name, num_classes=cfg.model.num_classes, **cfg.model.args)
    model.average_clips = None if cfg.model.average_clips == "none" else cfg.model.average_clips
    if isinstance(getattr(model, "loss_fn", None), ClassificationLoss):  # the config's loss
        weights = cfg.train.class_weights
        model.loss_fn = ClassificationLoss(
            cfg.data.multi_class, cfg.train.label_smoothing, weights or None
        )
    if initial_weights and cfg.model.pretrained:
        from ..models.pretrained import load_pretrained

        model.pretrained_report = load_pretrained(model, cfg.model.pretrained, trust_checkpoint)
        log(model.pretrained_report.summary())
    if initial_weights and cfg.model.checkpoint:
        from ..models.checkpoint import load_checkpoint

        load_checkpoint(
            model, cfg.model.checkpoint, trust_checkpoint, head_classes=cfg.model.head_classes
        )
        log(f"initial weights: {cfg.model.checkpoint}")
    return model


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
