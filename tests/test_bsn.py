"""BSN's three stages against MMAction2 1.2.0 (fixtures from its own code): TEM's outputs,
targets and loss, PEM's outputs and loss, and the PGM stage (candidate proposals with
their tIoU / overlap, boundary-sensitive features) as its tools compute them."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit.models as models
from actionkit.data.localization import feature_span
from actionkit.models.bsn import bsp_features, candidate_proposals, tem_targets

from .parity_weights import make_input, make_state

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "bsn.pt"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


def test_tem_outputs_targets_and_loss_equal_mmaction2(fixture):
    model = models.create("bsn_tem", temporal_dim=100, tem_feat_dim=16, tem_hidden_dim=32,
                          conv3_ratio=1).eval()  # fmt: skip
    model.load_state_dict(make_state(fixture["tem_shapes"]))
    x = make_input(fixture["tem_input_shape"])
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(out, fixture["tem_out"], rtol=1e-5, atol=1e-6)
    assert float(out.std()) > 0.05
    targets = tem_targets(fixture["segments"], 100, 0.1)
    for got, expected in zip(targets, fixture["tem_labels"], strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    model.ratios = (1.0, 1.0, 0.01)  # MMAction2's default conv3_ratio, what its loss ran
    action, start, end = targets
    batch = {"inputs": x, "gt_action": action, "gt_start": start, "gt_end": end}
    with torch.no_grad():
        losses = model.loss(batch)
    for key in ("loss_action", "loss_start", "loss_end"):
        torch.testing.assert_close(losses[key], fixture["tem_losses"][key], rtol=1e-6, atol=0)


def test_pem_outputs_and_loss(fixture):
    model = models.create("bsn_pem", pem_hidden_dim=64).eval()
    model.load_state_dict(make_state(fixture["pem_shapes"]))
    bsp = make_input((40, 32), seed=3)
    with torch.no_grad():
        out = model(bsp)
    torch.testing.assert_close(out, fixture["pem_out"], rtol=1e-5, atol=1e-7)
    batch = {"bsp_features": bsp, "reference_iou": fixture["pem_reference"]}
    model.legacy_loss = True
    torch.manual_seed(11)
    with torch.no_grad():
        legacy = model.loss(batch)["loss_iou"]
    torch.testing.assert_close(legacy, fixture["pem_loss"], rtol=1e-6, atol=0)
    # ours weights each proposal: the high band, then draws of the middle and low bands
    model.legacy_loss = False
    torch.manual_seed(11)
    with torch.no_grad():
        ours = model.loss(batch)["loss_iou"]
    ref, pred = fixture["pem_reference"], out.reshape(-1)
    high = (ref > 0.6).float()
    middle = ((ref <= 0.6) & (ref > 0.2)).float()
    low = (ref <= 0.2).float()
    torch.manual_seed(11)
    w = high.clone()
    for band, ratio in ((middle, 1.0), (low, 2.0)):
        r = min(ratio * float(high.sum()) / float(band.sum()), 1.0)
        w += ((torch.rand(40) * band) > 1 - r).float()
    per = torch.nn.functional.smooth_l1_loss(pred, ref, reduction="none")
    torch.testing.assert_close(ours, (per * w).sum() / w.sum(), rtol=1e-6, atol=0)
    assert abs(float(ours) - float(legacy)) > 1e-4


def test_pgm_candidates_and_bsp_features_equal_mmaction2(fixture):
    infos = {i["video_name"]: i for i in json.loads(fixture["infos"])}
    for name, tem in fixture["tem_results"].items():
        info = infos[name]
        span = feature_span(info)
        gt = [[a["segment"][0] / span, a["segment"][1] / span] for a in info["annotations"]]
        got = candidate_proposals(tem[:, 1], tem[:, 2], 0.5, gt)
        expected = fixture["proposals"][name]
        assert got.shape == expected.shape and len(got) > 100
        # rows in the same order, except where MMAction2's unstable sort reorders ties
        assert torch.equal(got[:, 4], expected[:, 4])
        values, counts = torch.unique(got[:, 4], return_counts=True)
        ties = torch.isin(got[:, 4], values[counts > 1])
        torch.testing.assert_close(got[~ties], expected[~ties], rtol=0, atol=1e-15)

        def canonical(m):
            return m[torch.argsort(m[:, 0] * 10 + m[:, 1], stable=True)]

        torch.testing.assert_close(canonical(got), canonical(expected), rtol=0, atol=1e-15)
        # the features from the proposals as MMAction2 reads them back (float32 CSV)
        for top_k, feats in fixture["features"].items():
            loaded = expected[:top_k, :2].float()
            ours = bsp_features(tem[:, 0], loaded)
            torch.testing.assert_close(ours, feats[name], rtol=0, atol=1e-12)
            assert float(feats[name].std()) > 0.01


def test_bsn_bad_input():
    with pytest.raises(ValueError, match=r"TEM takes features \[N, 400, T\]"):
        models.create("bsn_tem")(torch.zeros(1, 3, 100))
    with pytest.raises(ValueError, match="at least one ground-truth segment"):
        tem_targets([torch.zeros(0, 2)], 10)


def test_bsn_three_stages_through_the_clis(tmp_path, capsys):
    """TEM training, its results for both splits, PGM, PEM training and its proposals,
    on a tiny synthetic set (the demo configs shortened)."""
    from actionkit.cli import data as data_cli
    from actionkit.cli import test as test_cli
    from actionkit.cli import train

    configs = Path(__file__).resolve().parents[1] / "configs" / "demo"
    root = tmp_path / "data"
    common = [f"data.root={root}", "data.num_workers=0", "train.eval_interval=2"]
    tem = [*common, "model.args={temporal_dim: 16, tem_feat_dim: 8, tem_hidden_dim: 16}",
           "data.synthetic_features={train_videos: 8, test_videos: 4, feat_dim: 8, "
           "min_length: 12, max_length: 30}", "data.temporal_dim=16", "data.batch_size=4",
           "schedule.epochs=2", "schedule.milestones=[1]"]  # fmt: skip
    w = tmp_path / "tem"
    assert (
        train.main([str(configs / "bsn_synthetic_tem.yaml"), "--work-dir", str(w), "--set", *tem])
        == 0
    )
    assert {"AR@100", "auc"} <= set(json.loads((w / "metrics.json").read_text()))
    for split in ("train", "test"):
        args = [str(configs / "bsn_synthetic_tem.yaml"), str(w / "best.pth"), "--split", split,
                "--out", str(w / split), "--set", *tem]  # fmt: skip
        assert test_cli.main(args) == 0
        results = json.loads((w / split / "tem_results.json").read_text())
        assert len(results) == (8 if split == "train" else 4)
        assert all(len(rows) == 16 and len(rows[0]) == 3 for rows in results.values())
        ann = root / f"{split}.json"
        assert (
            data_cli.main(["pgm", str(w / split / "tem_results.json"), str(ann), str(root / "pgm")])
            == 0
        )
    with np.load(root / "pgm" / "v_train_0000.npz", allow_pickle=False) as pgm:
        assert pgm["proposals"].shape[1] == 7 and pgm["features"].shape == (
            len(pgm["proposals"]),
            32,
        )
        assert (pgm["proposals"][:, 5] > 0).any()  # tIoU with the annotations
    pem = [*common, "schedule.epochs=2", "schedule.milestones=[1]", "data.batch_size=4",
           "data.train_top_k=50", "data.test_top_k=100"]  # fmt: skip
    w = tmp_path / "pem"
    assert (
        train.main([str(configs / "bsn_synthetic_pem.yaml"), "--work-dir", str(w), "--set", *pem])
        == 0
    )
    args = [str(configs / "bsn_synthetic_pem.yaml"), str(w / "best.pth"), "--out", str(w / "out"),
            "--set", *pem]  # fmt: skip
    assert test_cli.main(args) == 0
    written = json.loads((w / "out" / "proposals.json").read_text())["results"]
    assert len(written) == 4 and all(1 <= len(p) <= 100 for p in written.values())
    assert "test: AR@1" in capsys.readouterr().out
