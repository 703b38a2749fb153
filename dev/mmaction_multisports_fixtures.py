"""Records MMAction2 1.2.0's MultiSports evaluation (``mmaction.evaluation.functional.
multisports_utils``: frameAP, link_tubes, videoAP, videoAP_all) on generated ground truth
and detections, for tests/test_multisports.py. Run in the MMAction2 side venv
(dev/PARITY.md):

    /tmp/peersvenv/bin/python dev/mmaction_multisports_fixtures.py

Writes tests/fixtures/mmaction/multisports.json: the inputs (ground truth as the
MultiSports pickle holds it, with lists for arrays; detections ``[video index, frame,
label, score, x1, y1, x2, y2]`` in pixels) and MMAction2's outputs. ``link_tubes`` is
recorded twice: as MMAction2 ships it (every linked box scored by the *last* detection's
score: its ``get_vid_dets`` reads the loop variable of an earlier loop) and with each box's
own score (that one function replaced here, the rest MMAction2's). Also its
``BBoxHeadAVA.loss_and_target`` with ``multilabel=False`` (MultiSports' single-label
softmax loss), with and without the background column and focal terms (mmdet, which the
module imports for a type only, stubbed)."""

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from mmaction.evaluation.functional import multisports_utils as ms

OUT = Path(__file__).resolve().parents[1] / "tests/fixtures/mmaction/multisports.json"
LABELS = [
    "aerobic push up",
    "basketball dribble",
    "aerobic kick jump",  # one of the six MultiSports does not evaluate
    "football pass",
    "volleyball spike",
    "gym turn",
]


def make_inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    videos = [f"sport/v_{i:02d}" for i in range(5)]
    nframes = {v: int(rng.integers(30, 60)) for v in videos}
    resolution = {v: (720, 1280) for v in videos}
    gttubes = {}
    for v in videos:
        tubes = defaultdict(list)
        for _ in range(int(rng.integers(1, 4))):
            label = int(rng.integers(0, len(LABELS)))
            length = int(rng.integers(15, nframes[v] + 1))
            start = int(rng.integers(1, nframes[v] - length + 2))
            frames = np.arange(start, start + length)
            centre = rng.uniform(200, 1000, 2) + np.cumsum(rng.normal(0, 6, (length, 2)), 0)
            size = rng.uniform(80, 300, 2)
            boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
            tubes[label].append(np.concatenate([frames[:, None], boxes], 1).astype(np.float32))
        gttubes[v] = dict(tubes)
    # two tubes of one class side by side over the same frames (they end together)
    videos.append("sport/v_pair")
    nframes["sport/v_pair"], resolution["sport/v_pair"] = 40, (720, 1280)
    frames = np.arange(5, 31)[:, None]
    pair = [np.tile([x, 300, x + 150, 600], (len(frames), 1)) for x in (100, 700)]
    gttubes["sport/v_pair"] = {1: [np.concatenate([frames, p], 1).astype(np.float32) for p in pair]}
    dets = []
    for iv, v in enumerate(videos):
        for label, tubes in gttubes[v].items():
            for tube in tubes:
                for row in tube:
                    # a few misses (which end a linked tube), some duplicates
                    for _ in range(int(rng.choice([0] + [1] * 25 + [2] * 3))):
                        box = row[1:] + rng.normal(0, 4 if rng.random() < 0.9 else 30, 4)
                        guess = label if rng.random() < 0.9 else int(rng.integers(len(LABELS)))
                        dets.append([iv, row[0], guess, rng.uniform(0.2, 1), *box])
        for _ in range(8):  # clusters of small boxes: more than NMS keeps, IoUs near 0.6
            cx, cy = rng.uniform(50, 1200), rng.uniform(50, 650)
            label = int(rng.integers(len(LABELS)))
            first = int(rng.integers(1, nframes[v] - 6))
            for frame in range(first, first + int(rng.integers(1, 7))):
                for _ in range(14):
                    x, y = cx + rng.uniform(-3, 3), cy + rng.uniform(-3, 3)
                    w, h = rng.uniform(8, 14, 2)
                    dets.append([iv, frame, label, rng.uniform(0, 1), x, y, x + w, y + h])
        for _ in range(40):  # false positives
            x, y = rng.uniform(0, 1100), rng.uniform(0, 500)
            w, h = rng.uniform(40, 200, 2)
            frame = int(rng.integers(1, nframes[v] + 1))
            label = int(rng.integers(len(LABELS)))
            dets.append([iv, frame, label, rng.uniform(0, 0.7), x, y, x + w, y + h])
    detections = np.array(dets, dtype=np.float64)
    detections[:, 4:] = detections[:, 4:].round(2)  # (a smaller file)
    detections[:, 3] = detections[:, 3].round(9)
    # No two scores equal: numpy's sorts order ties by its build (AVX-512 sorts differ)
    assert len(np.unique(detections[:, 3])) == len(detections)
    gt = {
        "labels": LABELS,
        "test_videos": [videos],
        "nframes": nframes,
        "resolution": resolution,
        "gttubes": gttubes,
    }
    return gt, detections


def own_scores(self):
    """``Dataset.get_vid_dets`` with each box's own score."""
    per_video = defaultdict(list)
    for det in self.frm_alldets:
        per_video[self.video_list[int(det[0])]].append(det)
    self.vid_det = {}
    for name, rows in per_video.items():
        table = {
            f: {c: np.empty((0, 5)) for c in range(len(self.labels))}
            for f in range(1, self.nframes[name] + 1)
        }
        for det in rows:
            f, c = int(det[1]), int(det[2])
            table[f][c] = np.concatenate([table[f][c], np.array([[*det[-4:], det[3]]])])
        self.vid_det[name] = table
    return self.vid_det


def tubes_json(tubes):
    return {
        str(label): [[v, float(score), tube.tolist()] for v, score, tube in found]
        for label, found in tubes.items()
    }


def single_label_losses() -> list:
    import sys
    import types

    import torch
    from mmengine.config import ConfigDict

    for name in ("mmdet", "mmdet.models", "mmdet.models.task_modules"):
        sys.modules.setdefault(name, types.ModuleType(name))
    samplers = types.ModuleType("mmdet.models.task_modules.samplers")
    samplers.SamplingResult = object
    sys.modules["mmdet.models.task_modules.samplers"] = samplers
    from mmaction.models.roi_heads.bbox_heads.bbox_head import BBoxHeadAVA

    torch.manual_seed(0)
    cases = []
    for background, gamma, alpha in ((False, 0.0, 1.0), (True, 0.0, 1.0), (False, 2.0, 0.5)):
        classes = 6
        head = BBoxHeadAVA(background_class=background, num_classes=classes, multilabel=False,
                           focal_gamma=gamma, focal_alpha=alpha, topk=())  # fmt: skip
        labels = torch.zeros(7, classes)
        for i, c in enumerate([0, 2, 5, 3, 3, 1, 4]):
            labels[i, c] = 1
        if background:
            labels[1, 4] = 1  # two actions of one actor: made a distribution
            labels[0] = 0  # (background only: no loss)
            labels[0, 0] = 1
        negatives = 3
        result = types.SimpleNamespace(pos_priors=torch.zeros(7, 4),
                                       neg_priors=torch.zeros(negatives, 4),
                                       pos_gt_labels=labels)  # fmt: skip
        logits = torch.randn(7 + negatives, classes)
        loss = head.loss_and_target(logits, None, [result], ConfigDict(pos_weight=1.0))
        cases.append({
            "background_class": background, "focal_gamma": gamma, "focal_alpha": alpha,
            "logits": logits.tolist(), "labels": labels.tolist(), "negatives": negatives,
            "loss": float(loss["loss_bbox"]["loss_action_cls"]),
        })  # fmt: skip
    return cases


def main() -> None:
    gt, detections = make_inputs()
    out = {"inputs": {"detections": detections.tolist()}}
    gt_json = dict(gt)
    gt_json["gttubes"] = {
        v: {str(c): [t.tolist() for t in ts] for c, ts in tubes.items()}
        for v, tubes in gt["gttubes"].items()
    }
    out["inputs"]["gt"] = gt_json
    out["frame_ap"] = {str(t): ms.frameAP(gt, detections, t, False) for t in (0.3, 0.5)}
    shipped = ms.link_tubes(gt, detections.copy(), len_thre=15)
    ms.Dataset.get_vid_dets = own_scores
    fixed = ms.link_tubes(gt, detections.copy(), len_thre=15)
    short = ms.link_tubes(gt, detections.copy(), len_thre=5)
    out["tubes_mmaction2"] = tubes_json(shipped)
    out["tubes"] = tubes_json(fixed)
    out["tubes_min5"] = tubes_json(short)
    for name, tubes in (("mmaction2", shipped), ("own", fixed), ("min5", short)):
        out[f"video_ap_{name}"] = {
            str(t): ms.videoAP(gt, tubes, t, False) for t in (0.1, 0.2, 0.5, 0.75)
        }
        out[f"video_ap_all_{name}"] = ms.videoAP_all(gt, tubes)
    out["single_label_losses"] = single_label_losses()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out))
    print(OUT, {k: v for k, v in out.items() if k.startswith(("frame", "video"))})


if __name__ == "__main__":
    main()
