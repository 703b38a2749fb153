"""SSN against MMAction2 0.24.1's own code (tests/fixtures/mmaction/ssn.pt, written by
dev/mmaction_ssn_fixtures.py in a side venv): the structured temporal pyramid pooling,
the head at training and test time, the loss and its gradients, the proposal dataset
(drawn with the same seeded NumPy generator) and the THUMOS14 evaluation; plus
hand-worked cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data import ssn as data
from actionkit.errors import DataError
from actionkit.metrics.localization import ssn_detections, thumos14_map
from actionkit.models import ssn

FIXTURE = Path(__file__).parent / "fixtures/mmaction/ssn.pt"
STAGES = {"111": (1, 1, 1), "1121": (1, (1, 2), 1)}


@pytest.fixture(scope="module")
def ref():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def videos(ref, tmp_path_factory):
    path = tmp_path_factory.mktemp("ssn") / "proposals.txt"
    path.write_text(ref["proposal_file"])
    return data.load_proposal_file(path)


def _head(ref, name):
    head = ssn.SSNHead(3, 6, STAGES[name])
    head.load_state_dict(ref[f"head_train_{name}"]["state"])
    return head.eval()


@pytest.mark.parametrize("name", STAGES)
def test_stpp_and_head_training_outputs_equal_mmaction2(ref, name):
    r = ref[f"stpp_train_{name}"]
    course, feat = ssn.STPP(STAGES[name])(r["x"], r["scale"])
    torch.testing.assert_close(course, r["course"], rtol=0, atol=1e-6)
    torch.testing.assert_close(feat, r["stpp"], rtol=0, atol=1e-6)
    act, comp, bbox = _head(ref, name)(r["x"], r["scale"])
    h = ref[f"head_train_{name}"]
    for ours, theirs in ((act, h["activity"]), (comp, h["completeness"]), (bbox, h["bbox"])):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", STAGES)
def test_test_time_pooling_equals_mmaction2(ref, name):
    h = ref[f"head_test_{name}"]
    head = _head(ref, name)
    scores = head.frame_scores(h["frames"])
    torch.testing.assert_close(scores, h["scores"], rtol=1e-5, atol=1e-5)
    act, comp, reg = ssn.stpp_test_pool(
        scores, h["ticks"], h["scale"], head.consensus.stpp_stage, 3, True
    )
    torch.testing.assert_close(act, h["activity"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(comp, h["completeness"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(reg, h["reg"], rtol=1e-5, atol=1e-5)


def test_test_time_pooling_by_hand():
    """Per-frame scores 0..9 (one class, one part per stage, no regression): the
    activity is the course's mean, the completeness the three stages' means (stage
    scale factors on the first and last), a stage outside the frames adds nothing."""
    k = 1
    scores = torch.zeros(10, (k + 1) + 3 * k)
    scores[:, 0] = torch.arange(10.0)
    scores[:, 2:] = torch.arange(10.0)[:, None] * torch.tensor([1.0, 10.0, 100.0])
    act, comp, reg = ssn.stpp_test_pool(
        scores,
        [[1, 3, 6, 8], [9, 10, 10, 10]],
        [[0.5, 2.0], [1.0, 1.0]],
        ((1,), (1,), (1,)),
        k,
        False,
    )
    assert reg is None
    # course [3, 6): mean 4; starting [1, 3) mean 1.5 * 0.5; ending [6, 8) mean 6.5 * 100 * 2
    torch.testing.assert_close(act[0, 0], torch.tensor(4.0))
    torch.testing.assert_close(comp[0, 0], torch.tensor(1.5 * 0.5 + 4.0 * 10 + 6.5 * 100 * 2))
    # second: starting [9, 10) -> 9; course starts at 10 >= 10 frames: skipped; ending too
    torch.testing.assert_close(comp[1, 0], torch.tensor(9.0))


def test_loss_and_gradients_equal_mmaction2(ref):
    r = ref["loss"]
    act = r["activity"].clone().requires_grad_()
    comp = r["completeness"].clone().requires_grad_()
    bbox = r["bbox"].clone().requires_grad_()
    losses = ssn.ssn_loss(act, comp, bbox, r["types"], r["labels"], r["reg_targets"])
    assert set(losses) == set(r["losses"])
    for key, value in r["losses"].items():
        torch.testing.assert_close(
            losses[key], value.reshape(losses[key].shape), rtol=1e-6, atol=1e-7
        )
    sum(losses.values()).backward()
    for ours, key in ((act, "activity"), (comp, "completeness"), (bbox, "bbox")):
        torch.testing.assert_close(ours.grad, r["grads"][key], rtol=1e-6, atol=1e-7)


def test_loss_needs_positives_and_incompletes():
    types = torch.tensor([[0, 2, 2]])
    with pytest.raises(ValueError, match="positive and incomplete"):
        ssn.ssn_loss(
            torch.zeros(3, 3),
            torch.zeros(3, 2),
            None,
            types,
            torch.zeros(1, 3, dtype=torch.long),
            torch.zeros(1, 3, 2),
        )


def test_proposal_file_parsing(videos):
    assert [v.video_id for v in videos] == [f"video_{i}" for i in range(6)]
    for v in videos:
        # the proposal past the end is clipped; the one starting past it and the
        # empty one are dropped
        assert all(0 <= p.start < p.end <= v.num_frames for p in v.proposals + v.gts)
        last = v.proposals[-1]
        assert last.end == v.num_frames and last.coverage == pytest.approx(55 / v.num_frames)


def test_bad_proposal_files_name_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# 0\nvid\n100\n1\n1\n1 10\n0\n")
    with pytest.raises(DataError, match=r"bad.txt:6: expected label start end"):
        data.load_proposal_file(path)
    path.write_text("# 0\nvid\n100\n1\n2\n1 10 20\n")
    with pytest.raises(DataError, match="ends before its ground truth line 2"):
        data.load_proposal_file(path)
    path.write_text("vid\n100\n")
    with pytest.raises(DataError, match=r"bad.txt:1: expected a '# <index>' line"):
        data.load_proposal_file(path)


def test_pools_and_regression_constants_equal_mmaction2(ref, videos):
    assign, sampler_cfg = data.AssignConfig(), data.SamplerConfig()
    sampler = data.ProposalSampler(videos, assign, sampler_cfg)
    assert [len(p) for p in sampler.pools] == ref["pools"]
    consts = data.regression_constants(videos, assign)
    np.testing.assert_allclose(consts, ref["reg_norm_consts"].numpy(), rtol=1e-12, atol=1e-15)


def _draw(videos, sampler, consts, idx, rng, train=True):
    v = videos[idx]
    drawn = sampler.sample(v, rng)
    starts = [data.proposal_snippets(p, v.num_frames, train, rng) for p, _ in drawn]
    return v, drawn, np.concatenate(starts)


def test_training_draws_equal_mmaction2(ref, videos):
    """The same seed draws the same proposals, frames, targets and scale factors."""
    assign = data.AssignConfig()
    sampler = data.ProposalSampler(videos, assign, data.SamplerConfig())
    consts = data.regression_constants(videos, assign)
    for r in ref["train"]:
        rng = np.random.RandomState(r["seed"])
        v, drawn, starts = _draw(videos, sampler, consts, r["idx"], rng)
        assert [[v.video_id, p.start, p.end, kind] for p, kind in drawn] == r["proposals"]
        np.testing.assert_array_equal(
            data.snippet_frames(starts, v.num_frames), r["frame_inds"].numpy() - 1
        )
        scale = [data.stage_scale_factors(p, v.num_frames) for p, _ in drawn]
        np.testing.assert_allclose(np.float32(scale), r["scale"].numpy(), rtol=0, atol=0)
        labels = [p.label if kind != data.BACKGROUND else 0 for p, kind in drawn]
        assert labels == r["labels"].tolist()
        targets = [
            (np.asarray(p.target) - consts[0]) / consts[1] if kind == data.POSITIVE else p.target
            for p, kind in drawn
        ]
        np.testing.assert_allclose(
            np.float32(targets), r["reg_targets"].numpy(), rtol=1e-6, atol=1e-6
        )


def test_validation_frames_equal_mmaction2(ref, videos):
    sampler = data.ProposalSampler(videos, data.AssignConfig(), data.SamplerConfig())
    for r in ref["val"]:
        rng = np.random.RandomState(r["idx"])
        v, drawn, starts = _draw(videos, sampler, None, r["idx"], rng, train=False)
        assert [[v.video_id, p.start, p.end, kind] for p, kind in drawn] == r["proposals"]
        np.testing.assert_array_equal(
            data.snippet_frames(starts, v.num_frames), r["frame_inds"].numpy() - 1
        )


def test_test_layout_equals_mmaction2(ref, videos):
    for v, r in zip(videos, ref["test"], strict=True):
        layout = data.test_layout(v)
        np.testing.assert_array_equal(layout["frames"], r["frame_inds"].numpy() - 1)
        np.testing.assert_array_equal(layout["relative"], r["relative"].numpy())
        np.testing.assert_array_equal(layout["ticks"], r["ticks"].numpy())
        np.testing.assert_array_equal(layout["scale_factors"], r["scale"].numpy())


def _results(ref, videos):
    return {
        v.video_id: {
            "relative": r["relative_proposal_list"].numpy(),
            "activity": r["activity_scores"].numpy(),
            "completeness": r["completeness_scores"].numpy(),
            "bbox": r["bbox_preds"].numpy(),
        }
        for v, r in zip(videos, ref["eval_inputs"], strict=True)
    }


@pytest.mark.parametrize("top_k", [2000, 5])
def test_detections_before_regression_equal_mmaction2(ref, videos, top_k):
    dets = ssn_detections(_results(ref, videos), top_k=top_k, regression=False, nms_threshold=1.0)
    theirs = ref[f"detections_top{top_k}"]
    for video, rows in dets.items():
        for c in range(3):
            mine = rows[rows[:, 2] == c]
            other = theirs[c].get(video)
            if other is None:
                assert len(mine) == 0
                continue
            other = other.numpy()
            mine = mine[np.argsort(mine[:, 3])]
            other = other[np.argsort(other[:, 2])]
            np.testing.assert_allclose(mine[:, [0, 1, 3]], other[:, :3], rtol=1e-6, atol=1e-7)


def test_thumos14_map_equals_mmaction2(ref, videos):
    dets = ssn_detections(_results(ref, videos))
    gt = {
        v.video_id: [(g.start / v.num_frames, g.end / v.num_frames, g.label - 1) for g in v.gts]
        for v in videos
    }
    got = thumos14_map(gt, dets, 3)
    for key, value in ref["eval_map"].items():
        # MMAction2 accumulates precision and recall in float32
        assert got[key] == pytest.approx(value, rel=1e-6), key


def test_thumos14_map_by_hand():
    """One class, two ground truth segments, three detections (best first: a hit, a
    miss, a hit at tIoU 0.5): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP 5/6
    at tIoU <= 0.5, 1/2 above."""
    gt = {"a": [(0.0, 0.2, 0), (0.5, 0.7, 0)]}
    dets = {"a": np.array([[0.0, 0.2, 0, 0.9], [0.3, 0.4, 0, 0.8], [0.5, 0.8, 0, 0.7]])}
    got = thumos14_map(gt, dets, 2)
    assert got["classes_with_gt"] == [0]
    assert got["mAP@0.50"] == pytest.approx(5 / 6)
    assert got["mAP@0.70"] == pytest.approx(1 / 2)


def test_model_shapes_and_denormalised_regression():
    torch.manual_seed(0)
    model = ssn.ssn_features(num_classes=4, feat_dim=8, dropout_ratio=0.0).eval()
    model.reg_norm_consts.copy_(torch.tensor([[0.1, -0.2], [2.0, 3.0]]))
    act, comp, bbox = model(torch.randn(2, 8 * 9, 8), torch.ones(2, 8, 2))
    assert act.shape == (16, 5) and comp.shape == (16, 4) and bbox.shape == (16, 4, 2)
    scores = model.frame_scores(torch.randn(30, 8))
    out = model.predict(scores, [[0, 2, 10, 14], [10, 12, 20, 25]], [[1.0, 1.0], [1.0, 0.5]])
    _, _, reg = ssn.stpp_test_pool(
        scores,
        [[0, 2, 10, 14], [10, 12, 20, 25]],
        [[1.0, 1.0], [1.0, 0.5]],
        ((1,), (1,), (1,)),
        4,
        True,
    )
    np.testing.assert_allclose(
        out["bbox"],
        (reg.view(-1, 4, 2) * torch.tensor([2.0, 3.0]) + torch.tensor([0.1, -0.2])).numpy(),
        rtol=1e-6,
    )
