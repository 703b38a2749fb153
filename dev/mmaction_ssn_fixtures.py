"""Records MMAction2 0.24.1's SSN (which 1.x dropped) for tests/test_ssn.py: the
structured temporal pyramid pooling at training and test time, the head, the loss and
its gradients, the proposal dataset (assignment, regression targets and constants,
proposal and frame sampling with a seeded global NumPy generator, the test layout) and
the THUMOS14 evaluation. Run in a side venv with MMAction2 0.24.1 (dev/PARITY.md, "SSN"):

    /tmp/mm024/bin/python dev/mmaction_ssn_fixtures.py

Writes tests/fixtures/mmaction/ssn.pt."""

import sys
import tempfile
import types
from pathlib import Path

# mmcv 1.x imports torchvision for its model-zoo URLs only; none matches torch 2.13 here
_tv = types.ModuleType("torchvision")
_tv.__path__ = []
_tv.models = types.ModuleType("torchvision.models")
_tv.models.__path__ = []
sys.modules["torchvision"] = _tv
sys.modules["torchvision.models"] = _tv.models

import numpy as np  # noqa: E402
import torch  # noqa: E402

np.int = int  # MMAction2 0.24 predates numpy 1.24, which removed the alias
from mmaction.datasets.ssn_dataset import SSNDataset  # noqa: E402
from mmaction.models.heads.ssn_head import SSNHead, STPPTest, STPPTrain  # noqa: E402
from mmaction.models.losses.ssn_loss import SSNLoss  # noqa: E402
from mmcv import Config  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests/fixtures/mmaction/ssn.pt"
CFG = Config(
    dict(
        train_cfg=dict(
            ssn=dict(
                assigner=dict(
                    positive_iou_threshold=0.7,
                    background_iou_threshold=0.01,
                    incomplete_iou_threshold=0.3,
                    background_coverage_threshold=0.02,
                    incomplete_overlap_threshold=0.01,
                ),
                sampler=dict(
                    num_per_video=8,
                    positive_ratio=1,
                    background_ratio=1,
                    incomplete_ratio=6,
                    add_gt_as_proposals=True,
                ),
                loss_weight=dict(comp_loss_weight=0.1, reg_loss_weight=0.1),
            )
        ),
        test_cfg=dict(
            ssn=dict(
                sampler=dict(test_interval=6, batch_size=16),
                evaluater=dict(top_k=2000, nms=0.2, softmax_before_filter=True, cls_top_k=2),
            )
        ),
    )
)


def tiou(a0, a1, b0, b1):
    inter = max(min(a1, b1) - max(a0, b0), 0)
    return inter / ((a1 - a0) - inter + (b1 - b0))


def proposal_file(path: Path, seed: int = 0) -> None:
    """Videos with 1-3 actions and proposals around them (near copies, partial overlaps,
    background), plus corner cases: an end past the video, a start past it, an empty
    proposal."""
    rng = np.random.default_rng(seed)
    lines = []
    for v in range(6):
        n = int(rng.integers(300, 900))
        gts = []
        for _ in range(int(rng.integers(1, 4))):
            s = int(rng.integers(0, n - 80))
            gts.append((int(rng.integers(1, 4)), s, s + int(rng.integers(20, 80))))
        props = []
        for _, s, e in gts:
            d = e - s
            for _ in range(3):  # near copies: positives
                props.append(
                    (
                        s + int(rng.integers(-d // 10, d // 10 + 1)),
                        e + int(rng.integers(-d // 10, d // 10 + 1)),
                    )
                )
            for _ in range(4):  # parts of the action: incomplete
                a = s + int(rng.integers(0, d // 2))
                props.append((a, a + max(2, int(rng.integers(d // 8, d // 3)))))
        for _ in range(4):  # anywhere: mostly background
            a = int(rng.integers(0, n - 60))
            props.append((a, a + int(rng.integers(20, 60))))
        props.append((n - 30, n + 25))  # past the end
        rows = []
        for a, b in props:
            ious = [tiou(a, b, g[1], g[2]) for g in gts]
            k = int(np.argmax(ious))
            over = max(max(min(b, g[2]) - max(a, g[1]), 0) / (b - a) for g in gts)
            rows.append(f"{gts[k][0]} {max(ious):.4f} {over:.4f} {a} {b}")
        rows.append(f"1 0.0000 0.0000 {n + 5} {n + 40}")  # starts past the video: dropped
        rows.append("2 0.0000 0.0000 50 50")  # empty: dropped
        lines += [f"# {v}", f"video_{v}", str(n), "1", str(len(gts))]
        lines += [f"{g[0]} {g[1]} {g[2]}" for g in gts]
        lines += [str(len(rows))] + rows
    path.write_text("\n".join(lines) + "\n")


def stpp(out: dict) -> None:
    torch.manual_seed(0)
    for name, stage in (("111", (1, 1, 1)), ("1121", (1, (1, 2), 1))):
        x = torch.randn(3 * 9, 6)
        scale = torch.rand(3, 2) + 0.5
        course, feat = STPPTrain(stage, (2, 5, 2))(x, scale)
        out[f"stpp_train_{name}"] = dict(x=x, scale=scale, course=course, stpp=feat)
        head = SSNHead(
            dropout_ratio=0.0,
            in_channels=6,
            num_classes=3,
            consensus=dict(type="STPPTrain", stpp_stage=stage, num_segments_list=(2, 5, 2)),
        )
        head.init_weights()
        for p in head.parameters():
            torch.nn.init.normal_(p, 0.0, 0.5)
        act, comp, bbox = head((x, scale))
        out[f"head_train_{name}"] = dict(
            state=head.state_dict(), activity=act, completeness=comp, bbox=bbox
        )
        head.prepare_test_fc(head.consensus.num_multipliers)
        test = STPPTest(3, True, stage)
        frames = torch.randn(40, 6)
        ticks = torch.tensor(
            [
                [0, 3, 9, 12],
                [5, 8, 20, 26],
                [30, 33, 39, 40],
                [0, 0, 2, 5],
                [38, 39, 40, 40],
                [10, 10, 10, 11],
            ],
            dtype=torch.int32,
        )
        scales = torch.rand(len(ticks), 2) + 0.2
        scores = head.test_fc(frames)
        act, comp, reg = test(scores, ticks, scales)
        out[f"head_test_{name}"] = dict(
            frames=frames,
            ticks=ticks,
            scale=scales,
            scores=scores,
            activity=act,
            completeness=comp,
            reg=reg,
        )


def loss(out: dict) -> None:
    torch.manual_seed(1)
    videos, k = 3, 4
    types_ = torch.tensor([0] + [1] * 6 + [2]).repeat(videos, 1)
    labels = torch.randint(1, k + 1, (videos, 8))
    labels[:, 7] = 0
    act = torch.randn(videos * 8, k + 1, requires_grad=True)
    comp = torch.randn(videos * 8, k, requires_grad=True)
    bbox = torch.randn(videos * 8, k, 2, requires_grad=True)
    reg = torch.randn(videos, 8, 2)
    losses = SSNLoss()(act, comp, bbox, types_, labels, reg, CFG.train_cfg)
    sum(losses.values()).backward()
    out["loss"] = dict(
        activity=act.detach(),
        completeness=comp.detach(),
        bbox=bbox.detach(),
        types=types_,
        labels=labels,
        reg_targets=reg,
        losses={k: v.detach() for k, v in losses.items()},
        grads=dict(activity=act.grad, completeness=comp.grad, bbox=bbox.grad),
    )


def dataset(out: dict, tmp: Path) -> None:
    ann = tmp / "proposals.txt"
    proposal_file(ann)
    out["proposal_file"] = ann.read_text()
    common = dict(
        ann_file=str(ann),
        data_prefix=str(tmp),
        train_cfg=CFG.train_cfg,
        test_cfg=CFG.test_cfg,
        body_segments=5,
        aug_segments=(2, 2),
        aug_ratio=0.5,
    )
    sample = dict(
        type="SampleProposalFrames", clip_len=1, body_segments=5, aug_segments=(2, 2), aug_ratio=0.5
    )
    train = SSNDataset(pipeline=[sample], test_mode=False, **common)
    out["reg_norm_consts"] = torch.tensor(np.asarray(train.reg_norm_consts, dtype=np.float64))
    out["pools"] = [
        len(train.positive_pool),
        len(train.incomplete_pool),
        len(train.background_pool),
    ]
    drawn = []
    for seed in range(4):
        for idx in range(len(train)):
            np.random.seed(seed * 100 + idx)
            r = train.prepare_train_frames(idx)
            drawn.append(
                dict(
                    seed=seed * 100 + idx,
                    idx=idx,
                    proposals=[
                        [p[0][0], int(p[0][1].start_frame), int(p[0][1].end_frame), int(p[1])]
                        for p in r["out_proposals"]
                    ],
                    frame_inds=torch.from_numpy(np.asarray(r["frame_inds"], dtype=np.int64)),
                    reg_targets=torch.from_numpy(r["reg_targets"]),
                    scale=torch.from_numpy(r["proposal_scale_factor"]),
                    labels=torch.from_numpy(r["proposal_labels"].astype(np.int64)),
                    types=torch.from_numpy(r["proposal_type"].astype(np.int64)),
                )
            )
    out["train"] = drawn
    val = SSNDataset(pipeline=[dict(sample, mode="val")], test_mode=False, **common)
    out["val"] = []
    for idx in range(len(val)):
        np.random.seed(idx)
        r = val.prepare_train_frames(idx)
        out["val"].append(
            dict(
                idx=idx,
                proposals=[
                    [p[0][0], int(p[0][1].start_frame), int(p[0][1].end_frame), int(p[1])]
                    for p in r["out_proposals"]
                ],
                frame_inds=torch.from_numpy(np.asarray(r["frame_inds"], dtype=np.int64)),
            )
        )
    test = SSNDataset(pipeline=[dict(sample, mode="test")], test_mode=True, **common)
    out["test"] = []
    results = []
    rng = np.random.default_rng(5)
    k = 3
    for idx in range(len(test)):
        r = test.prepare_test_frames(idx)
        p = len(r["relative_proposal_list"])
        out["test"].append(
            dict(
                video=test.video_infos[idx]["video_id"],
                frame_inds=torch.from_numpy(np.asarray(r["frame_inds"], dtype=np.int64)),
                relative=torch.from_numpy(r["relative_proposal_list"]),
                ticks=torch.from_numpy(r["proposal_tick_list"].astype(np.int64)),
                scale=torch.from_numpy(r["scale_factor_list"]),
            )
        )
        results.append(
            dict(
                relative_proposal_list=r["relative_proposal_list"],
                activity_scores=rng.normal(0, 2, (p, k + 1)).astype(np.float32),
                completeness_scores=rng.normal(0, 1, (p, k)).astype(np.float32),
                bbox_preds=rng.normal(0, 0.2, (p, k, 2)).astype(np.float32),
            )
        )
    out["eval_inputs"] = [
        {key: torch.from_numpy(np.asarray(v)) for key, v in r.items()} for r in results
    ]
    out["eval_map"] = {k: float(v) for k, v in test.evaluate(results).items()}
    for top_k in (2000, 5):
        dets = test.results_to_detections(results, top_k=top_k)
        out[f"detections_top{top_k}"] = [
            {video: torch.from_numpy(np.asarray(v, dtype=np.float64)) for video, v in d.items()}
            for d in dets
        ]


def checkpoint_layout(out: dict) -> None:
    """The parameter names and shapes of the THUMOS14 recipe's whole model."""
    from mmaction.models import build_localizer

    model = build_localizer(
        dict(
            type="SSN",
            backbone=dict(
                type="ResNet", pretrained=None, depth=50, norm_eval=False, partial_bn=True
            ),
            spatial_type="avg",
            dropout_ratio=0.8,
            loss_cls=dict(type="SSNLoss"),
            cls_head=dict(
                type="SSNHead",
                dropout_ratio=0.0,
                in_channels=2048,
                num_classes=20,
                consensus=dict(type="STPPTrain", stpp_stage=(1, 1, 1), num_segments_list=(2, 5, 2)),
                use_regression=True,
            ),
            train_cfg=CFG.train_cfg,
        )
    )
    out["checkpoint_layout"] = {k: list(v.shape) for k, v in model.state_dict().items()}


def main() -> None:
    out: dict = {}
    checkpoint_layout(out)
    stpp(out)
    loss(out)
    with tempfile.TemporaryDirectory() as tmp:
        dataset(out, Path(tmp))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, OUT)
    print("wrote", OUT, "mAP", out["eval_map"])


if __name__ == "__main__":
    main()
