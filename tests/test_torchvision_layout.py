"""torchvision's video models' checkpoints load into actionkit's with torchvision's
logits: its Video Swin (``swin3d_t/s/b``, on a clip of whole windows and on one of
partial, padded and clipped windows), MViTv2-S and video ResNets, built here by
torchvision with seeded random weights."""

import pytest
import torch

import actionkit.models as models
from actionkit.models.checkpoint import read_checkpoint

video = pytest.importorskip("torchvision.models.video")


@pytest.mark.slow  # (these run where torchvision is: the CUDA-torch venv in CI)
@pytest.mark.parametrize("shape", [(1, 3, 16, 64, 64), (2, 3, 4, 48, 80)])
def test_swin3d_t_logits_equal_torchvisions(shape, tmp_path):
    torch.manual_seed(0)
    theirs = video.swin3d_t(num_classes=5).eval()
    with torch.no_grad():  # LayerNorms and biases away from their identity initialisation
        for name, p in theirs.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.1)
    torch.save(theirs.state_dict(), tmp_path / "swin3d_t.pth")
    assert read_checkpoint(tmp_path / "swin3d_t.pth").origin == "torchvision"
    ours = models.create("swin3d_t", num_classes=5, checkpoint=tmp_path / "swin3d_t.pth").eval()
    (tmp_path / "swin3d_t.pth").unlink()
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.no_grad():
        expected = theirs(x)
        logits = ours(x[:, None])
    assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_swin3d_b_layout_converts():  # the larger sizes: the same names, more blocks
    theirs = video.swin3d_b(num_classes=3).state_dict()
    from actionkit.models.torchvision_layout import from_torchvision_swin3d

    converted = from_torchvision_swin3d(theirs, "swin3d_b.pth")
    own = models.create("swin3d_b", num_classes=3).state_dict()
    assert {k: tuple(v.shape) for k, v in converted.items()} == {
        k: tuple(v.shape) for k, v in own.items()
    }


@pytest.mark.parametrize("name", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_video_resnets_logits_equal_torchvisions(name, tmp_path):
    torch.manual_seed(0)
    theirs = getattr(video, name)(num_classes=5).eval()
    with torch.no_grad():  # BatchNorm statistics away from the identity
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.normal_(1, 0.1)
                m.bias.normal_(0, 0.1)
    torch.save(theirs.state_dict(), tmp_path / f"{name}.pth")
    assert read_checkpoint(tmp_path / f"{name}.pth").origin == "torchvision"
    ours = models.create(name, num_classes=5, checkpoint=tmp_path / f"{name}.pth").eval()
    (tmp_path / f"{name}.pth").unlink()
    x = torch.randn(2, 3, 8, 48, 64)
    with torch.no_grad():
        expected = theirs(x)
        logits = ours(x[:, None])
    assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()


@pytest.mark.slow
def test_mvit_v2_s_logits_equal_torchvisions(tmp_path):
    # at its input size, the only one torchvision's MViT runs
    torch.manual_seed(0)
    theirs = video.mvit_v2_s(num_classes=5).eval()
    with torch.no_grad():  # LayerNorms, biases and the tables away from their initialisation
        for name, p in theirs.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.1)
            elif "rel_pos" in name:
                p.normal_(0, 0.1)
    torch.save(theirs.state_dict(), tmp_path / "mvit_v2_s.pth")
    assert read_checkpoint(tmp_path / "mvit_v2_s.pth").origin == "torchvision"
    ours = models.create("mvitv2_s", num_classes=5, checkpoint=tmp_path / "mvit_v2_s.pth").eval()
    (tmp_path / "mvit_v2_s.pth").unlink()
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.no_grad():
        expected = theirs(x)
        logits = ours(x[:, None])
    assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()
