"""torchvision's video models' checkpoints load into actionkit's with torchvision's
logits: its Video Swin (``swin3d_t/s/b``, on a clip of whole windows and on one of
partial, padded and clipped windows), MViTv2-S, MViTv1-B, S3D and video ResNets, built
here by torchvision with seeded random weights."""

import pytest
import torch

import actionkit.models as models
from actionkit.models.checkpoint import read_checkpoint

video = pytest.importorskip("torchvision.models.video")
CLASSES = 5  # of every model built here


def away_from_init(model: torch.nn.Module) -> torch.nn.Module:
    """Norm weights and biases, position tables and BatchNorm statistics moved off their
    identity initialisation (zeros and ones would hide a misplaced tensor)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.1)
            elif "rel_pos" in name or "pos_encoding" in name:
                p.normal_(0, 0.1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def assert_loads_with_equal_logits(theirs, name: str, x: torch.Tensor, tmp_path, tv_name=None):
    """``theirs``'s state dict saved as torchvision saves it loads into actionkit's
    ``name`` (read as origin "torchvision") with logits equal to within 1e-5 relative."""
    path = tmp_path / f"{tv_name or name}.pth"
    torch.save(theirs.state_dict(), path)
    assert read_checkpoint(path).origin == "torchvision"
    ours = models.create(name, num_classes=CLASSES, checkpoint=path).eval()
    path.unlink()
    with torch.no_grad():
        expected = theirs.eval()(x)
        logits = ours(x[:, None])
    assert (logits - expected).abs().max() <= 1e-5 * expected.abs().max()
    return ours


@pytest.mark.slow  # (these run where torchvision is: the CUDA-torch venv in CI)
@pytest.mark.parametrize("shape", [(1, 3, 16, 64, 64), (2, 3, 4, 48, 80)])
def test_swin3d_t_logits_equal_torchvisions(shape, tmp_path):
    torch.manual_seed(0)
    theirs = away_from_init(video.swin3d_t(num_classes=CLASSES))
    assert_loads_with_equal_logits(theirs, "swin3d_t", torch.randn(shape), tmp_path)


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
    theirs = away_from_init(getattr(video, name)(num_classes=CLASSES))
    assert_loads_with_equal_logits(theirs, name, torch.randn(2, 3, 8, 48, 64), tmp_path)


@pytest.mark.slow
def test_mvit_v2_s_logits_equal_torchvisions(tmp_path):
    # at its input size, the only one torchvision's MViT runs
    torch.manual_seed(0)
    theirs = away_from_init(video.mvit_v2_s(num_classes=CLASSES))
    x = torch.randn(1, 3, 16, 224, 224)
    assert_loads_with_equal_logits(theirs, "mvitv2_s", x, tmp_path, "mvit_v2_s")


def test_mvit_v1_b_logits_equal_torchvisions(tmp_path):
    # absolute positions (spatial + temporal + class tables), the width doubled in the
    # MLP a block before each scale, q pooled only where a scale starts
    torch.manual_seed(0)
    theirs = away_from_init(video.mvit_v1_b(num_classes=CLASSES))
    x = torch.randn(2, 3, 16, 224, 224)
    ours = assert_loads_with_equal_logits(theirs, "mvit_v1_b", x, tmp_path)
    with pytest.raises(ValueError, match=r"tables are for 16 x 224 x 224 clips .* gives 4 x 40"):
        ours(torch.randn(1, 1, 3, 8, 160, 160))


@pytest.mark.parametrize("shape", [(1, 3, 16, 224, 224), (1, 3, 24, 256, 288)])
def test_s3d_logits_equal_torchvisions(shape, tmp_path):
    # 224: its 2 x 7 x 7 pool covers the whole map; larger: pools slide over it (2 x 2 x 3
    # windows of a 3 x 8 x 9 map here), their mean is the score
    torch.manual_seed(0)
    theirs = away_from_init(video.s3d(num_classes=CLASSES))
    assert_loads_with_equal_logits(theirs, "s3d", torch.randn(shape), tmp_path)
