"""Hugging Face ``transformers`` checkpoints: VideoMAE and TimeSformer video classifiers
load into actionkit's models with the logits ``transformers`` computes (fixtures made by
its own code, dev/hf_fixtures.py: a transformers-layout state dict of seeded weights)."""

from pathlib import Path

import pytest
import torch

import actionkit.models as models
from actionkit.errors import CheckpointError
from actionkit.models.checkpoint import read_checkpoint

from .parity_weights import make_input, make_state

FIXTURES = Path(__file__).parent / "fixtures" / "hf"
# fixture -> (registered name, builder kwargs matching its config)
CASES = {
    "videomae_base": ("vit_b16_videomae", {"img_size": 64, "num_frames": 4, "depth": 4}),
    "timesformer_base": (
        "timesformer_divst",
        {"img_size": 64, "num_frames": 4, "num_transformer_layers": 4},
    ),
}


def hf_file(fixture: dict, path: Path) -> Path:
    torch.save(make_state(fixture["shapes"]), path)  # what save_pretrained's .bin holds
    return path


@pytest.mark.parametrize("fixture_name", list(CASES))
def test_logits_equal_transformers(fixture_name, tmp_path):
    fixture = torch.load(FIXTURES / f"{fixture_name}.pt", weights_only=True)
    path = hf_file(fixture, tmp_path / "pytorch_model.bin")
    assert read_checkpoint(path).origin == "huggingface"
    name, kwargs = CASES[fixture_name]
    model = models.create(name, num_classes=fixture["num_classes"], checkpoint=path, **kwargs)
    path.unlink()
    with torch.no_grad():
        logits = model.eval()(make_input(fixture["input_shape"])[:, None])  # one view each
    expected = fixture["logits"]
    # (transformers' LayerNorm epsilons differ: 1e-12 / 1e-5 against 1e-6 for VideoMAE)
    assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_other_transformers_models_are_named_errors(tmp_path):
    fixture = torch.load(FIXTURES / "timesformer_base.pt", weights_only=True)
    state = make_state(fixture["shapes"])
    state["timesformer.encoder.layer.0.extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "odd.bin")
    with pytest.raises(CheckpointError, match="encoder.layer.0.extra.weight is not a parameter"):
        read_checkpoint(tmp_path / "odd.bin")
    joint = {k: v for k, v in make_state(fixture["shapes"]).items() if "temporal" not in k}
    torch.save(joint, tmp_path / "joint.bin")
    with pytest.raises(CheckpointError, match="only divided space-time attention"):
        read_checkpoint(tmp_path / "joint.bin")


def test_safetensors_files_load_as_data(tmp_path):
    # what the Hugging Face hub serves most: model.safetensors (tensors only, no pickle)
    safetensors = pytest.importorskip("safetensors.torch")
    fixture = torch.load(FIXTURES / "videomae_base.pt", weights_only=True)
    path = tmp_path / "model.safetensors"
    safetensors.save_file(make_state(fixture["shapes"]), str(path))
    found = read_checkpoint(path)
    assert found.origin == "huggingface" and "backbone.blocks.3.attn.qkv.weight" in found.state
    name, kwargs = CASES["videomae_base"]
    model = models.create(name, num_classes=7, checkpoint=path, **kwargs).eval()
    with torch.no_grad():
        logits = model(make_input(fixture["input_shape"])[:, None])
    assert (logits - fixture["logits"]).abs().max() <= 1e-5 * fixture["logits"].abs().max()
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="bad.safetensors: not a safetensors file"):
        read_checkpoint(tmp_path / "bad.safetensors")
