"""BMN's training and inference around the network, against MMAction2 1.2.0 fixtures
made by its own code: the loss (same random draws), the ActivityNet dataset's features
and targets, and ``predict``'s proposals in seconds."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit.models as models
from actionkit.data.localization import (
    LocalizationDataset,
    feature_span,
    normalized_segments,
    proposals_to_seconds,
)
from actionkit.errors import DataError
from actionkit.losses.localization import BMNLoss, pem_reg_loss
from actionkit.models.bmn_targets import bmn_targets

from .parity_weights import make_input, make_state

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"


def _bm_mask(t: int) -> torch.Tensor:
    d = torch.arange(t)
    return (d[:, None] + d[None, :] < t).float()


@pytest.mark.parametrize("case", range(3))
def test_bmn_loss_equals_mmaction2_with_the_same_draws(case):
    c = torch.load(FIXTURES / "bmn_loss.pt", weights_only=True)["cases"][case]
    t = c["temporal_dim"]
    iou, start, end = bmn_targets(c["segments"], t)
    torch.manual_seed(c["seed"])
    losses = BMNLoss()(c["pred_bm"], c["pred_start"], c["pred_end"], iou, start, end, _bm_mask(t))
    got = torch.stack(
        [
            sum(losses.values()),
            losses["loss_tem"],
            losses["loss_pem_reg"] / 10,
            losses["loss_pem_cls"],
        ]
    )
    torch.testing.assert_close(got, c["losses"], rtol=2e-6, atol=0)
    # the draws matter: other draws give another regression term
    torch.manual_seed(c["seed"] + 100)
    other = BMNLoss()(c["pred_bm"], c["pred_start"], c["pred_end"], iou, start, end, _bm_mask(t))
    assert abs(float(other["loss_pem_reg"]) / 10 - float(c["losses"][2])) > 1e-5


def test_pem_reg_loss_hand_worked_and_without_high_cells():
    # one high cell (0.8), one middle cell (0.5), no low cell. Middle band: r = 1/1,
    # rand * in_band > 0 keeps the middle cell. Low band: r = 1/0 = inf, and 0 > -inf
    # draws *every* cell (MMAction2's arithmetic, kept): weights [[2, 2], [1, 1]]
    gt = torch.tensor([[[0.8, 0.5], [0.0, 0.0]]])
    pred = torch.tensor([[[0.6, 0.1], [0.3, 0.9]]])
    mask = torch.ones(1, 2, 2)
    torch.manual_seed(0)
    loss = pem_reg_loss(pred, gt, mask)
    squared = (2 * 0.6 - 2 * 0.8) ** 2 + (2 * 0.1 - 2 * 0.5) ** 2 + 0.3**2 + 0.9**2
    assert float(loss) == pytest.approx(0.5 * squared / 6, rel=1e-6)
    # no cell above 0.7: MMAction2 divides 0 by 0; we give 0
    loss = pem_reg_loss(pred, torch.full((1, 2, 2), 0.5), mask)
    assert float(loss) == 0.0


def test_bmn_loss_trains_the_model_and_has_gradients():
    model = models.create("bmn", temporal_dim=16, feat_dim=8, hidden_dim_1d=16,
                          hidden_dim_2d=8, hidden_dim_3d=16, num_samples=4)  # fmt: skip
    iou, start, end = bmn_targets([torch.tensor([[0.2, 0.6]]), torch.tensor([[0.1, 0.3]])], 16)
    batch = {"inputs": torch.randn(2, 8, 16), "gt_iou": iou, "gt_start": start, "gt_end": end}
    losses = model.loss(batch)
    assert set(losses) == {"loss_tem", "loss_pem_reg", "loss_pem_cls"}
    sum(losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_activitynet_dataset_equals_mmaction2(tmp_path):
    fixture = torch.load(FIXTURES / "activitynet_dataset.pt", weights_only=True)
    (tmp_path / "anno.json").write_text(fixture["annotations"])
    for video, text in fixture["csv"].items():
        (tmp_path / f"{video}.csv").write_text(text)
    dataset = LocalizationDataset(tmp_path / "anno.json", tmp_path)
    assert len(dataset) == len(fixture["cases"])
    for i, case in enumerate(fixture["cases"]):
        assert dataset.names[i] == case["video"]
        item = dataset[i]
        torch.testing.assert_close(item["inputs"], case["inputs"], rtol=0, atol=0)
        segments = normalized_segments(dataset.videos[case["video"]])
        torch.testing.assert_close(torch.from_numpy(segments), case["gt_bbox"], rtol=0, atol=0)
        for key, name in [("gt_iou", "iou"), ("gt_start", "start"), ("gt_end", "end")]:
            torch.testing.assert_close(item[key], case[name], rtol=0, atol=0)
    test_items = LocalizationDataset(tmp_path / "anno.json", tmp_path, test_mode=True)[0]
    assert set(test_items) == {"inputs", "index"}


def test_localization_dataset_rescales_and_checks_its_files(tmp_path):
    ann = {"v_a": {"duration_second": 10.0, "annotations": [{"segment": [1, 4], "label": "x"}]},
           "v_b": {"duration_second": 5.0, "annotations": []}}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(ann))
    np.save(tmp_path / "v_a.npy", np.random.default_rng(0).standard_normal((37, 8)))
    with pytest.raises(
        FileNotFoundError, match=r"1 of 2 videos have no feature file, e\.g\. .*v_b\.npy"
    ):
        LocalizationDataset(tmp_path / "a.json", tmp_path, ".npy")
    np.save(tmp_path / "v_b.npy", np.zeros((20, 8)))
    with pytest.raises(DataError, match="1 videos have no annotation.*v_b"):
        LocalizationDataset(tmp_path / "a.json", tmp_path, ".npy")
    dataset = LocalizationDataset(
        tmp_path / "a.json", tmp_path, ".npy", temporal_dim=16, test_mode=True
    )
    assert dataset[0]["inputs"].shape == (8, 16) and dataset[1]["inputs"].shape == (8, 16)
    assert feature_span(ann["v_a"]) == 10.0


def test_bmn_proposals_equal_mmaction2_predict():
    fixture = torch.load(FIXTURES / "bmn_predict.pt", weights_only=True)
    model = models.create("bmn", temporal_dim=32, num_samples=8, feat_dim=16, hidden_dim_1d=16,
                          hidden_dim_2d=8, hidden_dim_3d=16).eval()  # fmt: skip
    model.load_state_dict(make_state(fixture["shapes"]), strict=False)
    with torch.no_grad():
        outputs = model(make_input(fixture["input_shape"]))
    for got, name in zip(outputs, ("confidence", "start", "end"), strict=True):
        torch.testing.assert_close(got, fixture[name], rtol=1e-5, atol=1e-6)
    proposals = model.proposals(outputs)
    for n, (info, expected) in enumerate(zip(fixture["infos"], fixture["proposals"], strict=True)):
        got = proposals_to_seconds(proposals[n], info, legacy=True)
        assert len(got) == len(expected) == 100
        for g, e in zip(got, expected, strict=True):
            assert g["score"] == pytest.approx(e["score"], rel=1e-5)
            assert g["segment"] == pytest.approx(e["segment"], rel=1e-9, abs=1e-9)
        # our default scales by the span the features cover: feature_frame, not
        # duration_frame // 16 * 16
        ours = proposals_to_seconds(proposals[n], info)
        scale = info["feature_frame"] / (info["duration_frame"] // 16 * 16)
        assert ours[0]["segment"][1] == pytest.approx(expected[0]["segment"][1] * scale, rel=1e-9)
