"""BMN: MMAction2 1.2.0 checkpoints load and give its three outputs (fixture from its
own code), the fused BM layer included; shapes and bad input."""

from pathlib import Path

import pytest
import torch

import actionkit.models as models

from .parity_weights import make_input, make_state

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "bmn.pt"


def test_bmn_equals_mmaction2_from_its_checkpoint(tmp_path):
    fixture = torch.load(FIXTURE, weights_only=True)
    state = make_state(fixture["shapes"])
    # MMAction2's checkpoints hold its sampling mask (a frozen parameter) and bm_mask
    state["sample_mask"] = torch.zeros(100, 32 * 100 * 100)
    state["bm_mask"] = fixture["bm_mask"]
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "bmn.pth")
    model = models.create("bmn", checkpoint=tmp_path / "bmn.pth").eval()
    torch.testing.assert_close(model.bm_mask, fixture["bm_mask"], rtol=0, atol=0)
    with torch.no_grad():
        confidence, start, end = model(make_input(fixture["input_shape"]))
    for got, name in [(confidence, "confidence"), (start, "start"), (end, "end")]:
        expected = fixture[name]
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # sigmoid outputs near 0.5 that vary by far more than the tolerance
    assert float(confidence.std()) > 0.01 and float(start.std()) > 1e-3


def test_bmn_shapes_and_bad_input():
    model = models.create("bmn", temporal_dim=16, feat_dim=8, hidden_dim_1d=16,
                          hidden_dim_2d=8, hidden_dim_3d=16, num_samples=4).eval()  # fmt: skip
    with torch.no_grad():
        confidence, start, end = model(torch.randn(3, 8, 16))
    assert confidence.shape == (3, 2, 16, 16) and start.shape == end.shape == (3, 16)
    with pytest.raises(ValueError, match=r"BMN takes features \[N, 8, 16\], got \(3, 8, 12\)"):
        model(torch.randn(3, 8, 12))
    with pytest.raises(ValueError, match="multiples of 4"):
        models.create("bmn", feat_dim=10)
