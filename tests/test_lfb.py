"""Long-term feature banks (actionkit.models.lfb) against MMAction2 1.2.0's own code
(``FBONonLocal``, ``FBOHead``'s pooling, ``LFB`` sampling: dev/mmaction_fixtures.py lfb),
and the bank's files: written in bounded memory, read through memory maps."""

from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.errors import DataError
from actionkit.models.lfb import (
    FBOHead,
    FBONonLocal,
    FeatureBank,
    FeatureBankWriter,
    convert_mmaction_bank,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "lfb.pt"


@pytest.fixture(scope="module")
def fx():
    return torch.load(FIXTURE, weights_only=True)


def test_the_non_local_operator_equals_mmaction2(fx):
    window, k = fx["window"], fx["k"]
    lt_c, st_c = fx["lt"].shape[1], fx["st"].shape[1]
    fbo = FBONonLocal(st_c, lt_c, 8, 1, window * k, num_non_local_layers=2).eval()
    fbo.load_state_dict(fx["state"])  # MMAction2's names, strictly
    with torch.no_grad():
        out = fbo(fx["st"], fx["lt"])
    torch.testing.assert_close(out, fx["out"], rtol=1e-5, atol=1e-6)
    head = FBOHead(None, "non_local", st_feat_channels=st_c, lt_feat_channels=lt_c,
                   latent_channels=8, num_st_feat=1, num_lt_feat=window * k).eval()  # fmt: skip
    head.fbo.load_state_dict(fx["state"])
    with torch.no_grad():
        both = head(fx["x"], fx["lt"])
    torch.testing.assert_close(both[:, :st_c], fx["st"])  # the pooled short-term feature
    torch.testing.assert_close(both[:, st_c:], fx["out"], rtol=1e-5, atol=1e-6)


def test_avg_and_max_operators():
    lt = torch.randn(2, 4, 6, 1, 1)
    x = torch.randn(2, 3, 2, 4, 4)
    avg, mx = FBOHead(None, "avg"), FBOHead(None, "max")
    torch.testing.assert_close(avg(x, lt)[:, 3:], lt.mean(2, keepdim=True))
    torch.testing.assert_close(mx(x, lt)[:, 3:], lt.amax(2, keepdim=True))
    with pytest.raises(ValueError, match="fbo must be one of"):
        FBOHead(None, "sum")


def test_sampling_equals_mmaction2(fx, tmp_path):
    """Seconds outside the window or without features are zeros, each second's features
    fill its slots (their order is random on both sides: compared as sets)."""
    bank_pkl = tmp_path / "lfb_train.pkl"
    torch.save(fx["bank"], bank_pkl)
    bank = FeatureBank(convert_mmaction_bank([bank_pkl], tmp_path / "bank"), fx["k"], fx["window"])
    assert len(bank) == 2
    k = fx["k"]
    for key, theirs in fx["sampled"].items():
        ours = bank[key]
        assert ours.shape == theirs.shape
        for second in range(fx["window"]):
            a = ours[second * k : (second + 1) * k]
            b = theirs[second * k : (second + 1) * k]
            # float16 on disk (MMAction2's LFBInferHead stores half precision too)
            torch.testing.assert_close(
                a[a.abs().sum(1).argsort()], b[b.abs().sum(1).argsort()], atol=2e-3, rtol=1e-3
            )


def test_more_features_than_slots_are_drawn_at_random(tmp_path):
    with FeatureBankWriter(tmp_path) as w:
        w.add("v,0010", torch.arange(5.0)[:, None].repeat(1, 3))  # 5 boxes in second 10
    bank = FeatureBank(tmp_path, max_num_sampled_feat=2, window_size=1)
    draws = {tuple(bank.sample("v,0010", torch.Generator().manual_seed(s))[:, 0].tolist())
             for s in range(20)}  # fmt: skip
    assert all(len(set(d)) == 2 and set(d) <= {0, 1, 2, 3, 4} for d in draws)
    assert len(draws) > 5


def test_the_writer_spills_and_the_reader_maps(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    with FeatureBankWriter(tmp_path / "bank", buffer_rows=7) as w:  # many spills
        for video in ("a/b", "a_b", "c"):
            for second in range(20):
                feats = rng.normal(size=(int(rng.integers(0, 4)), 6)).astype(np.float32)
                if len(feats):
                    w.add(f"{video},{second:04d}", feats)
                    written[(video, second)] = feats
    assert not (tmp_path / "bank" / "parts").exists()
    bank = FeatureBank(tmp_path / "bank", max_open=1)
    assert len(bank) == 3  # ("a/b" and "a_b" kept apart)
    for (video, second), feats in written.items():
        seconds, rows = bank.features(video)
        assert isinstance(rows, np.memmap) and rows.dtype == np.float16
        got = np.asarray(rows[seconds == second], np.float32)
        np.testing.assert_allclose(got, feats, atol=4e-3, rtol=1e-3)
    assert len(bank._open) == 1
    with pytest.raises(DataError, match="no features of video 'nope'"):
        bank["nope,0001"]
    with pytest.raises(FileNotFoundError, match="not a feature bank"):
        FeatureBank(tmp_path)
