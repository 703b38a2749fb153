"""Running a model over a split and scoring it with the task's metrics.

An evaluator is the task's half of training and testing (the model's ``loss`` is the
other): ``evaluate(model, loader, device, info, amp)`` returns the metrics (a flat dict,
what ``train.best_metric`` picks from) and keeps the predictions for ``results``, what
``actionkit-test`` writes. :func:`build_evaluator` picks one by the model's ``task``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..amp import autocast
from .dist import SINGLE, DistInfo, gather_objects


@torch.no_grad()
def predict_split(
    model: nn.Module,
    loader,
    device: torch.device,
    info: DistInfo = SINGLE,
    amp: str = "none",
    max_batches: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices, scores [N, K], labels)`` over the whole split, gathered from every
    process (duplicates from padding removed), sorted by dataset index. Scores are
    averaged over each sample's views as the model's ``average_clips`` says."""
    model.eval()
    indices, scores, labels = [], [], []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        with autocast(device, amp):
            out = model.predict(batch["inputs"].to(device, non_blocking=True))
        scores.append(out.float().cpu())
        labels.append(batch["label"])
        indices.append(batch["index"])
    local = (torch.cat(indices), torch.cat(scores), torch.cat(labels)) if indices else None
    parts = [p for p in gather_objects(local, info) if p is not None]
    index = torch.cat([p[0] for p in parts]).numpy()
    order = np.unique(index, return_index=True)[1]  # first occurrence of each index
    score = torch.cat([p[1] for p in parts]).numpy()[order]
    label = torch.cat([p[2] for p in parts]).numpy()[order]
    return index[order], score, label


def classification_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    multi_class: bool,
    class_names: list[str] | None = None,
) -> dict:
    """top1 / top5 / mean_class_accuracy and per-class accuracy for single-label data
    (keyed by ``class_names`` when they name every class, else a list); mAP and mmit-mAP
    for multi-label. Fractions in [0, 1]."""
    if multi_class:
        return {
            "mAP": float(M.mean_average_precision(scores, labels)),
            "mmit_mAP": float(M.mmit_mean_average_precision(scores, labels)),
        }
    k = scores.shape[1]
    tops = (1, 5)  # top5 is 1.0 with fewer than 5 classes, as MMAction2 computes it
    accuracy = M.top_k_accuracy(scores, labels, tops)
    out = {f"top{t}": float(a) for t, a in zip(tops, accuracy, strict=True)}
    out["mean_class_accuracy"] = float(M.mean_class_accuracy(scores, labels))
    pred = scores.argmax(1)
    per_class = [
        float((pred[labels == c] == c).mean()) if (labels == c).any() else None for c in range(k)
    ]
    if class_names and len(class_names) == k:
        per_class = dict(zip(class_names, per_class, strict=True))
    out["per_class_accuracy"] = per_class
    out["num_samples"] = int(len(labels))
    return out


def prediction_rows(videos: list[str], labels: list, scores: np.ndarray) -> list[dict]:
    """predictions.json's rows: per sample its name, label, predicted class and top-5
    ``[class, score]`` pairs."""
    rows = []
    for video, label, s in zip(videos, labels, scores, strict=True):
        top = s.argsort()[::-1][:5]
        rows.append(
            {
                "video": video,
                "label": label,
                "pred": int(top[0]),
                "top5": [[int(k), round(float(s[k]), 6)] for k in top],
            }
        )
    return rows


class ClassificationEvaluator:
    """Recognition (videos, skeletons): top-k / mean class accuracy, or mAP for
    multi-label data, and per video its label, prediction and top-5 scores."""

    def __init__(self, multi_class: bool = False, class_names: list[str] | None = None):
        self.multi_class, self.class_names = multi_class, class_names
        self.last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def evaluate(self, model, loader, device, info: DistInfo = SINGLE, amp="none") -> dict:
        self.last = predict_split(model, loader, device, info, amp)
        _, scores, labels = self.last
        return classification_metrics(scores, labels, self.multi_class, self.class_names)

    def results(self, dataset) -> dict[str, object]:
        """``{"predictions.json": [per sample: video, label, pred, top5], "scores.npy":
        float32 [N, K]}`` (every class's score, rows in the order of predictions.json:
        what ``actionkit-test --fuse`` combines) for the last :meth:`evaluate`
        (``dataset`` names the samples)."""
        if self.last is None:
            raise RuntimeError("results() before evaluate()")
        index, scores, labels = self.last
        videos = [dataset.entries[i].path for i in index]
        rows = prediction_rows(videos, [y.tolist() for y in labels], scores)
        return {"predictions.json": rows, "scores.npy": scores.astype(np.float32)}


class LocalizationEvaluator:
    """Temporal proposals (BMN, BSN's PEM): per video the model's proposals in seconds
    (``model.predict_proposals(batch)``, scaled by
    :func:`~actionkit.data.localization.proposals_to_seconds`; the model's
    ``legacy_scale`` picks MMAction2's scale), scored by AR@1/5/10/100 and the AR-AN AUC
    against the annotation file's segments (MMAction2's ``ANetMetric``, ``AR@AN``)."""

    METRICS = ("AR@1", "AR@5", "AR@10", "AR@100", "auc")

    def __init__(self, cfg=None, class_names=None, max_avg_proposals: int = 100):
        self.max_avg_proposals = max_avg_proposals  # (class-agnostic: no names)
        self.last: dict[str, list[dict]] | None = None

    @torch.no_grad()
    def evaluate(self, model, loader, device, info: DistInfo = SINGLE, amp="none") -> dict:
        from ..data.localization import proposals_to_seconds, video_id
        from ..metrics.localization import ar_at_an

        model.eval()
        found = []
        for batch in loader:
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            with autocast(device, amp):
                found_here, extra = self.predict(model, batch)
            indices = batch["index"].tolist()
            for n, (index, proposals) in enumerate(zip(indices, found_here, strict=True)):
                found.append((index, proposals.cpu(), None if extra is None else extra[n]))
        parts = [item for part in gather_objects(found, info) for item in part]
        by_index = {i: p for i, p, _ in parts}
        self.extras = {i: e for i, _, e in parts}
        dataset = loader.dataset
        legacy = getattr(model, "legacy_scale", False)
        interval = getattr(model, "feature_extraction_interval", 16)
        self.last = {}
        ground_truth, proposals = {}, {}
        for index in sorted(by_index):
            name = dataset.names[index]
            meta = dataset.videos[name]
            listed = proposals_to_seconds(by_index[index], meta, legacy, interval)
            self.last[video_id(name)] = listed
            proposals[video_id(name)] = np.array(
                [[*p["segment"], p["score"]] for p in listed], dtype=float
            ).reshape(-1, 3)
            ground_truth[video_id(name)] = np.array(
                [a["segment"] for a in meta["annotations"]], dtype=float
            ).reshape(-1, 2)
        metrics = ar_at_an(ground_truth, proposals, self.max_avg_proposals)
        metrics["num_samples"] = len(by_index)
        return metrics

    def predict(self, model, batch) -> tuple[list, list | None]:
        """Per sample the proposals and what :meth:`results` writes besides them (None:
        nothing)."""
        return model.predict_proposals(batch), None

    def results(self, dataset=None) -> dict[str, object]:
        """``{"proposals.json": ActivityNet's result format}`` (``{"version", "results":
        {video id: [{"segment", "score"}]}, "external_data"}``) for the last
        :meth:`evaluate`."""
        if self.last is None:
            raise RuntimeError("results() before evaluate()")
        return {
            "proposals.json": {"version": "VERSION 1.3", "results": self.last, "external_data": {}}
        }


class TEMEvaluator(LocalizationEvaluator):
    """BSN's first stage: scored by the AR@AN of the PGM proposals TEM alone makes
    (``TEM.predict_proposals``), and writing each video's TEM output ``[T, 3]``
    (actionness, start, end) to ``tem_results.json``, the input of ``actionkit-data
    pgm`` (MMAction2 dumps one CSV per video)."""

    def predict(self, model, batch) -> tuple[list, list]:
        out = model(batch["inputs"])  # once: the proposals and the written results
        rows = [o.T.float().cpu().numpy().round(6).tolist() for o in out]
        return model.proposals(out), rows

    def results(self, dataset=None) -> dict[str, object]:
        out = super().results(dataset)
        names = dataset.names if dataset is not None else None
        out["tem_results.json"] = {
            (names[i] if names else str(i)): rows for i, rows in sorted(self.extras.items())
        }
        return out


class TemporalDetectionEvaluator:
    """Temporal action detection (SSN on a TAG proposal list): each video's frames every
    ``test_interval`` through the model once (``model.frame_scores``), its proposals
    pooled from them (``model.predict``), then MMAction2 0.24's post-processing and the
    THUMOS14 mAP at tIoU 0.1-0.9 (:func:`~actionkit.metrics.localization.ssn_detections`,
    :func:`~actionkit.metrics.localization.thumos14_map`); ``average_mAP`` is the mean
    over 0.1-0.7. The regression is de-normalised by the model's constants (set from the
    training list when it trained here; for a checkpoint without them, e.g. MMAction2's,
    computed from ``data.train``'s list if the config has one, else from the evaluated
    list as MMAction2 does)."""

    METRICS = (
        *(f"mAP@{t:.2f}" for t in np.arange(0.1, 1.0, 0.1)),
        "average_mAP",
    )

    def __init__(self, cfg=None, class_names=None):
        from ..config import SSNDataConfig

        self.cfg = cfg
        self.ssn = (cfg.data.ssn if cfg is not None else None) or SSNDataConfig()
        self.class_names = class_names
        self.last: dict | None = None

    def _constants(self, model, dataset, log=print) -> None:
        if bool(model.reg_norm_fitted):
            return
        from ..data.ssn import load_proposal_file, regression_constants

        source = dataset.ann_file
        if self.cfg is not None and self.cfg.data.train is not None:
            from .builder import ann_file

            train = ann_file(self.cfg, "train")
            source = train if train.exists() else source
        videos = [v for v in load_proposal_file(source) if v.gts]
        consts = regression_constants(videos, dataset.assign)
        model.set_regression_constants(consts)
        log(f"SSN regression constants from {source}: mean {consts[0]}, std {consts[1]}")

    @torch.no_grad()
    def evaluate(self, model, loader, device, info: DistInfo = SINGLE, amp="none") -> dict:
        from ..metrics.localization import ssn_detections, thumos14_map

        model.eval()
        dataset = loader.dataset
        self._constants(model, dataset)
        found = []
        for batch in loader:
            for sample in batch:
                with autocast(device, amp):
                    scores = model.frame_scores(
                        sample["inputs"].to(device), self.ssn.test_frames_per_batch
                    )
                out = model.predict(scores.float(), sample["ticks"], sample["scale_factors"])
                out["relative"] = sample["relative"].numpy()
                found.append((int(sample["index"]), out))
        parts = {i: r for part in gather_objects(found, info) for i, r in part}
        results = {dataset.names[i]: r for i, r in sorted(parts.items())}
        regression = model.cls_head.regressor_fc is not None
        dets = ssn_detections(results, self.ssn.top_k, regression, self.ssn.nms)
        gt = dataset.ground_truth()
        metrics = thumos14_map({v: gt[v] for v in results}, dets, model.num_classes)
        out = {k: v for k, v in metrics.items() if k.startswith("mAP@")}
        out["average_mAP"] = float(
            np.mean([out[f"mAP@{t:.2f}"] for t in np.arange(0.1, 0.75, 0.1)])
        )
        out["num_samples"] = len(results)
        frames = {v.video_id: v.num_frames for v in dataset.videos}
        names = self.class_names
        self.last = {
            video: [
                {
                    "segment": [round(s * frames[video], 2), round(e * frames[video], 2)],
                    "relative": [round(float(s), 6), round(float(e), 6)],
                    "label": names[int(c)] if names and int(c) < len(names) else int(c),
                    "score": round(float(score), 6),
                }
                for s, e, c, score in rows[np.argsort(-rows[:, 3], kind="stable")]
            ]
            for video, rows in dets.items()
        }
        return out

    def results(self, dataset=None) -> dict[str, object]:
        """``{"detections.json": {video: [{"segment" (frames of the list), "relative",
        "label", "score"}]}}`` for the last :meth:`evaluate`, best first."""
        if self.last is None:
            raise RuntimeError("results() before evaluate()")
        return {"detections.json": self.last}


class DetectionEvaluator:
    """Spatio-temporal action detection (AVA): each keyframe's proposals scored by
    ``model.predict``, boxes back to normalised coordinates (the test pipeline may resize,
    not crop or flip), every class scoring above ``data.ava.action_thr`` written as an
    AVA detection row (MMAction2's ``AVAMetric``: four decimals), and the rows scored by
    :func:`actionkit.metrics.ava_frame_map` against the split's annotation CSV
    (``data.ava.label_map``'s classes, else all; the split's exclusions; the
    ``data.ava.protocol``): ``mAP``, and AVA's three action groups with
    ``data.ava.category_groups``. With ``data.ava.metric: multisports`` each box counts
    for its best class and :func:`actionkit.metrics.multisports.multisports_metrics`
    scores the boxes and the tubes linked from them against ``data.ava.gt_file``
    (``frameAP``, ``v_map@0.2``, ``v_map@0.5`` and the three threshold ranges); with
    ``data.ava.background_class`` column 0 is left out (the ground truth's class c is
    column c + 1)."""

    METRICS = ("mAP", "person_movement", "object_manipulation", "person_interaction")
    MULTISPORTS = ("frameAP", "v_map@0.2", "v_map@0.5")

    def __init__(self, cfg, class_names=None):
        from ..config import AVAConfig

        self.cfg, self.ava = cfg, cfg.data.ava or AVAConfig()
        self.class_names = class_names
        self.csv: str | None = None

    def label_map(self, num_classes: int) -> list[dict] | str:
        if self.ava.label_map:
            return str(Path(self.cfg.data.root) / self.ava.label_map)
        ids = self.ava.custom_classes or list(range(1, num_classes))
        names = self.class_names
        return [{"id": i, "name": names[k + 1] if names else f"action {i}"}
                for k, i in enumerate(ids)]  # fmt: skip

    @torch.no_grad()
    def evaluate(self, model, loader, device, info: DistInfo = SINGLE, amp="none") -> dict:
        from ..metrics.ava import ava_frame_map, detection_rows, parse_ava_csv

        if self.ava.metric == "multisports":
            return self._multisports(model, loader, device, info, amp)
        rows = []
        ids = self.ava.custom_classes
        for key, norm, score in _keyframe_scores(model, loader, device, amp):
            video, ts = key.rsplit(",", 1)
            found = detection_rows(video, ts, norm.tolist(), score, self.ava.action_thr, ids)
            rows += [(key, row) for row in found]
        parts = [r for part in gather_objects(rows, info) for r in part]
        parts.sort(key=lambda r: r[0])  # keyframes in key order, rows as predicted
        self.csv = "".join(r for _, r in dict.fromkeys(parts))
        dataset = loader.dataset
        detections = parse_ava_csv(self.csv, "detections.csv")
        result = ava_frame_map(dataset.ann_file, detections, self.label_map(model_classes(model)),
                               dataset.exclusions, self.ava.protocol, ids)  # fmt: skip
        metrics = {"mAP": result["overall"]}
        if self.ava.category_groups:
            metrics.update({k: result[k] for k in self.METRICS[1:]})
        metrics["num_samples"] = len(dataset)
        metrics["num_detections"] = self.csv.count("\n")
        return metrics

    def _multisports(self, model, loader, device, info: DistInfo, amp) -> dict:
        from ..errors import ConfigError
        from ..metrics.multisports import (
            detections_from_boxes,
            load_multisports_gt,
            multisports_metrics,
        )

        if self.ava.gt_file is None:
            raise ConfigError(
                f"{self.cfg.source}: data.ava.metric multisports needs data.ava.gt_file (the "
                "ground-truth pickle)"
            )
        first = int(self.ava.background_class)  # a background column: class c is column c+1
        gt = load_multisports_gt(Path(self.cfg.data.root) / self.ava.gt_file)
        classes = model_classes(model) - first
        if classes != len(gt.labels):
            raise ConfigError(
                f"{self.cfg.source}: the model scores {classes} classes"
                f"{' (after the background column)' if first else ''}, data.ava.gt_file "
                f"{self.ava.gt_file} has {len(gt.labels)}"
            )
        found = list(_keyframe_scores(model, loader, device, amp))
        by_key = {k: (b, s) for part in gather_objects(found, info) for k, b, s in part}
        rows, lines = [], []
        for key in sorted(by_key):
            boxes, scores = by_key[key]
            video, ts = key.rsplit(",", 1)
            name = video if video in gt.videos else os.path.splitext(video)[0]
            if name not in gt.videos:
                raise ConfigError(
                    f"{self.cfg.source}: video {video!r} is not among the evaluated videos "
                    f"of data.ava.gt_file {self.ava.gt_file}"
                )
            found_rows = detections_from_boxes(gt, name, int(ts), boxes, scores[:, first:])
            rows.append(found_rows)
            for (x1, y1, x2, y2), r in zip(boxes, found_rows, strict=True):
                lines.append(f"{video},{ts},{x1:.4f},{y1:.4f},{x2:.4f},{y2:.4f},"
                             f"{int(r[2])},{r[3]:.4f}\n")  # fmt: skip
        self.csv = "".join(lines)
        dets = np.concatenate(rows) if rows else np.zeros((0, 8))
        metrics = multisports_metrics(gt, dets, min_length=self.ava.tube_min_length)
        metrics["num_samples"] = len(loader.dataset)
        metrics["num_detections"] = len(lines)
        return metrics

    def results(self, dataset=None) -> dict[str, object]:
        """``{"detections.csv": the AVA-format rows}`` of the last :meth:`evaluate`
        (MultiSports: each box once, with its best class)."""
        if self.csv is None:
            raise RuntimeError("results() before evaluate()")
        return {"detections.csv": self.csv}


def _keyframe_scores(model, loader, device, amp):
    """``(img_key, boxes [N, 4] normalised (numpy), scores [N, classes] (numpy))`` of each
    keyframe: its proposals scored by ``model.predict`` (the test pipeline may resize, not
    crop or flip, so the boxes go back to normalised coordinates by the input's size)."""
    model.eval()
    for batch in loader:
        with autocast(device, amp):
            scores = model.predict(batch["inputs"].to(device), batch["proposals"],
                                   batch["img_key"])  # fmt: skip
        per_clip = zip(batch["img_key"], batch["proposals"], batch["img_shape"], scores,
                       strict=True)  # fmt: skip
        for key, boxes, (h, w), score in per_clip:
            norm = boxes / torch.tensor([w, h, w, h], dtype=boxes.dtype)
            yield key, norm.numpy(), score.float().cpu().numpy()


def model_classes(model) -> int:
    head = model.roi_head.bbox_head.fc_cls
    return (head[-1] if isinstance(head, nn.Sequential) else head).out_features


class ReconstructionEvaluator:
    """Self-supervised pre-training (VideoMAE): the model's reconstruction loss averaged
    over the split, each batch with the same masks in every evaluation (a generator
    seeded by the batch's first sample index), so epochs compare. Lower is better."""

    METRICS = ("recon_loss",)

    def __init__(self, cfg=None, class_names=None):
        self.last: float | None = None

    @torch.no_grad()
    def evaluate(self, model, loader, device, info: DistInfo = SINGLE, amp="none") -> dict:
        model.eval()
        local = []
        for batch in loader:
            generator = torch.Generator().manual_seed(int(batch["index"][0]))
            with autocast(device, amp):
                inputs = batch["inputs"].to(device, non_blocking=True)
                loss = model.reconstruction_loss(inputs, generator)
            local.append((batch["index"].tolist(), float(loss), len(batch["index"])))
        seen, total, count = set(), 0.0, 0
        for part in gather_objects(local, info):  # a padded batch repeating one, once
            for index, loss, n in part:
                if index[0] not in seen:
                    seen.add(index[0])
                    total, count = total + loss * n, count + n
        self.last = total / max(count, 1)
        return {"recon_loss": round(self.last, 6)}

    def results(self, dataset=None) -> dict[str, object]:
        return {}


# metrics where a lower value is better (the Trainer's best checkpoint)
LOWER_IS_BETTER = {"recon_loss"}

EVALUATORS = {
    "classification": ClassificationEvaluator,
    "detection": DetectionEvaluator,
    "localization": LocalizationEvaluator,
    "localization_tem": TEMEvaluator,
    "localization_pem": LocalizationEvaluator,
    "pretraining": ReconstructionEvaluator,
    "temporal_detection": TemporalDetectionEvaluator,
}
METRICS = {task: LocalizationEvaluator.METRICS for task in EVALUATORS if task != "classification"}
METRICS["detection"] = DetectionEvaluator.METRICS
METRICS["pretraining"] = ReconstructionEvaluator.METRICS
METRICS["temporal_detection"] = TemporalDetectionEvaluator.METRICS


def build_evaluator(cfg, model, class_names: list[str] | None = None):
    """The evaluator of ``model.task`` (``"classification"`` when it names none); the
    other tasks' evaluators are built as ``EVALUATORS[task](cfg, class_names)``."""
    task = getattr(model, "task", "classification")
    if task not in EVALUATORS:
        raise ValueError(f"no evaluator for task {task!r} (known: {sorted(EVALUATORS)})")
    if task == "classification":
        return ClassificationEvaluator(cfg.data.multi_class, class_names)
    return EVALUATORS[task](cfg, class_names)


def write_results(results: dict[str, object], out: str | os.PathLike) -> list[Path]:
    """Each of an evaluator's result files under ``out``, written atomically: arrays as
    ``.npy``, text as it is, the rest as JSON."""
    from .checkpoint import atomic_save_array, atomic_write_json, write_atomically

    paths = []
    for name, payload in results.items():
        if isinstance(payload, str):  # a text file (AVA detections CSV)
            Path(out).mkdir(parents=True, exist_ok=True)
            write_atomically(Path(out) / name, lambda tmp, text=payload: Path(tmp).write_text(text))
        elif isinstance(payload, np.ndarray):
            Path(out).mkdir(parents=True, exist_ok=True)
            atomic_save_array(Path(out) / name, payload)
        else:
            atomic_write_json(Path(out) / name, payload, indent=1)
        paths.append(Path(out) / name)
    return paths


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sample_name(path: str) -> str:
    """The sample a prediction row is of, whatever its modality: the file or folder name
    without its suffix."""
    return Path(path).stem


def fuse_predictions(
    paths: list[str | os.PathLike],
    weights: list[float] | None = None,
    softmax: bool = False,
) -> tuple[dict, dict[str, object]]:
    """Late fusion of test runs (e.g. the joint, bone and motion streams of a skeleton
    model), as MMAction2's ``report_accuracy.py``: per run the scores of every class
    (``scores.npy`` beside each ``predictions.json``; a run's folder works too),
    softmax-ed first when ``softmax``, summed with ``weights`` (default 1 each), scored
    against the labels. The runs must list the same samples in the same order with the
    same labels (a sample is its file's name without the suffix: an RGB run of
    ``a/clip.mp4`` fuses with an audio run of ``b/clip.npy``). Returns ``(metrics,
    results)`` (``results`` as an evaluator's)."""
    from ..errors import DataError

    if not paths:
        raise ValueError("fuse: no runs given")
    weights = [1.0] * len(paths) if weights is None else list(weights)
    if len(weights) != len(paths):
        raise ValueError(f"--weights: {len(weights)} weights for {len(paths)} runs")
    fused, first = None, None
    for path, weight in zip(paths, weights, strict=True):
        path = Path(path)
        pred_file = path / "predictions.json" if path.is_dir() else path
        score_file = pred_file.with_name("scores.npy")
        for f in (pred_file, score_file):
            if not f.is_file():
                raise FileNotFoundError(f"{f}: no such file (actionkit-test writes it)")
        try:
            preds = json.loads(pred_file.read_text())
        except json.JSONDecodeError as e:
            raise DataError(f"{pred_file}: not valid JSON: {e}") from None
        scores = np.load(score_file, allow_pickle=False)
        if scores.ndim != 2 or len(scores) != len(preds):
            raise DataError(
                f"{score_file}: scores {scores.shape} do not match the {len(preds)} samples of "
                f"{pred_file}"
            )
        if first is None:
            first = (pred_file, preds, scores.shape[1])
        else:
            ref_file, ref, k = first
            if scores.shape[1] != k:
                raise DataError(
                    f"{score_file}: {scores.shape[1]} classes, {ref_file}'s run has {k}"
                )
            for i, (a, b) in enumerate(zip(ref, preds, strict=True)):
                # one video in two modalities: clip.mp4, frames in clip/, clip.npy audio
                if (_sample_name(a["video"]), a["label"]) != (_sample_name(b["video"]), b["label"]):
                    raise DataError(
                        f"{pred_file}: sample {i} is {b['video']!r} (label {b['label']}), "
                        f"{ref_file} has {a['video']!r} (label {a['label']}) there: fuse runs "
                        "of the same split"
                    )
        scores = _softmax(scores.astype(np.float64)) if softmax else scores.astype(np.float64)
        fused = weight * scores if fused is None else fused + weight * scores
    _, preds, _ = first
    multi = isinstance(preds[0]["label"], list)
    labels = np.array([p["label"] for p in preds])
    metrics = classification_metrics(fused, labels, multi)
    rows = prediction_rows([p["video"] for p in preds], [p["label"] for p in preds], fused)
    return metrics, {"predictions.json": rows, "scores.npy": fused.astype(np.float32)}


def confusion_matrix(labels, preds, num_classes: int, normalize: str | None = None) -> np.ndarray:
    """``[K, K]``: row ``i``, column ``j`` counts the samples of class ``i`` predicted as
    ``j`` (MMAction2's ``confusion_matrix``); ``normalize`` ``"true"`` divides each row by
    its sum, ``"pred"`` each column, ``"all"`` the whole (an empty row or column stays 0)."""
    labels, preds = np.asarray(labels, np.int64), np.asarray(preds, np.int64)
    for name, values in (("labels", labels), ("preds", preds)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"confusion matrix: {name} outside 0..{num_classes - 1}")
    counts = np.bincount(labels * num_classes + preds, minlength=num_classes**2)
    counts = counts.reshape(num_classes, num_classes)
    return counts if normalize is None else _normalized(counts, normalize)


def _normalized(counts: np.ndarray, normalize: str) -> np.ndarray:
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    total = counts.sum(axis=axis, keepdims=axis is not None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(counts / total)


def write_confusion_matrix(
    results: dict[str, object], out: str | os.PathLike, class_names: list[str] | None = None
) -> list[Path]:
    """``confusion_matrix.csv`` (counts; a header row of the predicted classes, each row
    led by its true class) and, where matplotlib is installed, ``confusion_matrix.png``
    (each row as fractions of the class's samples) for a classification run's results
    (an evaluator's or :func:`fuse_predictions`'s). Written atomically."""
    import csv
    import io

    from ..errors import UsageError
    from .checkpoint import write_atomically

    rows, scores = results.get("predictions.json"), results.get("scores.npy")
    if not isinstance(scores, np.ndarray) or not rows:
        raise UsageError("a confusion matrix needs a classification run's predictions")
    if isinstance(rows[0]["label"], list):
        raise UsageError("a confusion matrix needs one label per sample (this run is multi-label)")
    k = scores.shape[1]
    names = (
        list(class_names) if class_names and len(class_names) == k else [str(i) for i in range(k)]
    )
    counts = confusion_matrix([r["label"] for r in rows], [r["pred"] for r in rows], k)
    fractions = _normalized(counts, "true")  # (the figure's colours)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, counts, strict=True):
        writer.writerow([name, *row.tolist()])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "confusion_matrix.csv"
    write_atomically(csv_path, lambda tmp: Path(tmp).write_text(text.getvalue()))
    written = [csv_path]
    from .._plot import pyplot

    plt = pyplot("confusion_matrix.png")
    if plt is not None:
        side = min(4 + 0.3 * k, 40)
        fig, ax = plt.subplots(figsize=(side, side))
        ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
        ticks = range(k) if k <= 60 else []
        ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90)
        ax.set_yticks(ticks, [names[i] for i in ticks])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if k <= 30:  # the counts in the cells
            for i in range(k):
                for j in range(k):
                    if counts[i, j]:
                        colour = "white" if fractions[i, j] > 0.5 else "black"
                        ax.text(j, i, counts[i, j], ha="center", va="center", color=colour)
        fig.tight_layout()
        png_path = out / "confusion_matrix.png"
        write_atomically(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
        plt.close(fig)
        written.append(png_path)
    return written
