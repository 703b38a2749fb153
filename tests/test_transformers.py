"""The video transformers' parts: attention through SDPA against the materialised
formula, position tables against MMAction2 and ``F.interpolate``, stochastic depth,
gradient checkpointing, TimeSformer's zero-initialised temporal branch and VideoMAE's
encoder on a subset of its tokens. Logit parity with MMAction2 is in test_models.py."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from actionkit import models
from actionkit.models.backbones.mvit import relative_table
from actionkit.models.backbones.timesformer import TimeSformer
from actionkit.models.backbones.transformer import (
    DropPath,
    MultiheadAttention,
    attend,
    nearest_indices,
    resize_grid_embed,
)
from actionkit.models.backbones.vit_mae import VisionTransformer, sinusoid_encoding

from .parity_weights import probe

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"


def test_attention_equals_the_materialised_formula():
    torch.manual_seed(0)
    qkv = torch.randn(2, 9, 3 * 12, dtype=torch.float64)
    q, k, v = qkv.view(2, 9, 3, 3, 4).permute(2, 0, 3, 1, 4)  # 3 heads of 4
    weights = (q @ k.transpose(-1, -2) / 2.0).softmax(-1)  # scale 1 / sqrt(4)
    expected = (weights @ v).transpose(1, 2).reshape(2, 9, 12)
    torch.testing.assert_close(attend(qkv, 3), expected, rtol=1e-12, atol=1e-12)


def test_multihead_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = MultiheadAttention(16, 4).double()
    ref = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    ref.load_state_dict(ours.state_dict())  # the same parameter names
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x, x, x, need_weights=False)[0])


@pytest.mark.parametrize(
    "old,new", [((14, 14), (2, 2)), ((14, 14), (20, 9)), ((4, 4), (6, 6)), ((7, 5), (3, 11))]
)
@pytest.mark.parametrize("mode", ["nearest", "bicubic"])
def test_grid_embeddings_resample_as_interpolate(old, new, mode):
    embed = torch.randn(3, old[0] * old[1], 5)
    grid = embed.reshape(3, *old, 5).permute(0, 3, 1, 2)
    options = {} if mode == "nearest" else {"align_corners": False}
    ref = F.interpolate(grid, size=new, mode=mode, **options).permute(0, 2, 3, 1).reshape(3, -1, 5)
    out = resize_grid_embed(embed, old, new, mode)
    assert torch.equal(out, ref) if mode == "nearest" else torch.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("old,new", [(8, 4), (8, 16), (8, 5), (3, 7), (224, 97)])
def test_nearest_indices_pick_what_interpolate_picks(old, new):
    line = torch.arange(float(old))[None, None]
    expected = F.interpolate(line, size=new, mode="nearest")[0, 0].long()
    assert torch.equal(nearest_indices(old, new), expected)


def test_videomae_sinusoid_table_equals_mmaction2():
    fixture = torch.load(FIXTURES / "transformers.pt", weights_only=True)
    assert torch.equal(sinusoid_encoding(7, 6), fixture["sinusoid_small"])
    for case in fixture["sinusoid"]:
        table = sinusoid_encoding(case["positions"], case["dims"])
        assert probe("pos_embed", table) == pytest.approx(case["probe"], rel=1e-12)
    # by hand: position p, channels 2i / 2i+1 = sin / cos(p / 10000^(2i / d))
    table = sinusoid_encoding(3, 4)[0].double()
    angle = 2 / 10000 ** (2 / 4)
    expected = [math.sin(2), math.cos(2), math.sin(angle), math.cos(angle)]
    assert table[2].tolist() == pytest.approx(expected, abs=1e-7)


def test_drop_path_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = DropPath(0.25)
    x = torch.ones(4000, 3, 5)
    out = drop(x)
    per_sample = out.flatten(1)
    kept = per_sample[:, 0] != 0
    assert torch.equal(per_sample[kept], torch.full_like(per_sample[kept], 1 / 0.75))
    assert torch.equal(per_sample[~kept], torch.zeros_like(per_sample[~kept]))
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    assert torch.equal(drop.eval()(x), x)


def test_timesformer_temporal_branch_starts_as_the_identity():
    # temporal_fc is zero-initialised (the paper's recipe for starting from a ViT): the
    # temporal attention adds nothing until it is trained
    torch.manual_seed(0)
    backbone = TimeSformer(
        num_frames=4, img_size=32, embed_dims=32, num_heads=2, num_transformer_layers=1
    )
    temporal = backbone.transformer_layers.layers[0].attentions[0]
    x = torch.randn(2, 1 + 4 * 4, 32)
    assert torch.equal(temporal(x, 4), x)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("timesformer_divst", {"num_transformer_layers": 2}),
        ("vit_s16_videomaev2", {"depth": 2}),
        (
            "mvitv2_s",
            {"arch": dict(embed_dims=32, num_layers=2, num_heads=1, downscale_indices=[1])},
        ),
    ],
)
def test_gradient_checkpointing_gives_the_same_gradients(name, kwargs):
    torch.manual_seed(0)
    plain = models.create(name, num_classes=3, **kwargs)
    cp = models.create(name, num_classes=3, with_cp=True, **kwargs)
    cp.load_state_dict(plain.state_dict())
    frames = 16 if name.startswith("vit") else 4
    x = torch.randn(1, 2, 3, frames, 32, 32)
    for model in (plain, cp):
        model.eval()  # no dropout / drop path: the two runs draw nothing
        model(x).logsumexp(1).sum().backward()
    for (n, a), b in zip(plain.named_parameters(), cp.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7, msg=n)


def test_mvit_relative_tables_read_by_offset():
    # entry (i, j) is the table's row for the offset i - j (+ k - 1, so rows start at 0);
    # the shorter axis's coordinates stretch to the longer's: 2 i - j + 3 for q = 2, k = 4,
    # i - 2 j + 2 for q = 4, k = 2
    table = torch.arange(7.0)[:, None]
    q3 = relative_table(table[:5], 3, 3)[..., 0]
    assert q3.tolist() == [[2, 1, 0], [3, 2, 1], [4, 3, 2]]
    assert relative_table(table, 2, 4)[..., 0].tolist() == [[3, 2, 1, 0], [5, 4, 3, 2]]
    assert relative_table(table, 4, 2)[..., 0].tolist() == [[2, 0], [3, 1], [4, 2], [5, 3]]
    # a table of another length is resampled linearly first (align_corners=False)
    short = torch.tensor([[0.0], [4.0], [8.0]])  # 3 rows for q = k = 4, which needs 7
    ref = F.interpolate(short.t()[None], size=7, mode="linear")[0].t()
    assert torch.equal(relative_table(short, 4, 4), relative_table(ref, 4, 4))
    assert relative_table(short, 4, 4)[0, 0, 0] == ref[3, 0] == 4.0


def test_videomae_encoder_on_a_subset_of_tokens():
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=32, num_frames=4, embed_dims=24, depth=2, num_heads=2).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    tokens, grid = vit.embed(x)
    assert grid == (2, 2, 2) and tokens.shape == (2, 8, 24)
    keep = torch.tensor([0, 3, 5])
    with torch.no_grad():
        part = vit.forward_tokens(tokens[:, keep])
        # attention is permutation-equivariant: the subset's result is the encoder run on
        # the subset alone, whatever positions it holds
        again = vit.forward_tokens(tokens[:, keep.flip(0)])
        assert torch.allclose(part, again.flip(1), atol=1e-6)
        feat_map = VisionTransformer(
            img_size=32, num_frames=4, embed_dims=24, depth=2, num_heads=2, return_feat_map=True
        )
        feat_map.load_state_dict(vit.state_dict())
        assert feat_map.eval()(x).shape == (2, 24, 2, 2, 2)


def test_videomae_rejects_another_clip_length():
    model = models.create("vit_s16_videomaev2", num_classes=3, depth=1)
    with pytest.raises(ValueError, match="embeds 16 frames .8 tubelets., got 8"):
        model(torch.randn(1, 1, 3, 8, 32, 32))


def test_videomae_v2_base_is_the_videomae_base_network():
    v1 = models.create("vit_b16_videomae", num_classes=3)
    v2 = models.create("vit_b16_videomaev2", num_classes=3)
    assert {k: v.shape for k, v in v1.state_dict().items()} == {
        k: v.shape for k, v in v2.state_dict().items()
    }


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("swin3d_t", {}, (1, 1, 3, 4, 64, 64)),  # shifted (masked) and unshifted windows
        ("mvitv2_s", {"spatial_size": 32, "temporal_size": 4}, (1, 1, 3, 4, 32, 32)),
        ("timesformer_divst", {"num_transformer_layers": 1}, (1, 1, 3, 4, 64, 64)),
    ],
)
def test_inference_attention_takes_the_fused_cpu_kernel(name, kwargs, shape):
    # SDPA's CPU flash kernel, not its math path (which materialises every attention
    # matrix): a 3-D attn_mask, for one, sends SDPA to the math path (Swin's bias did)
    model = models.create(name, num_classes=3, **kwargs).eval()
    with torch.profiler.profile() as prof, torch.no_grad():
        model(torch.randn(shape))
    kernels = {e.name for e in prof.events() if "scaled_dot_product" in e.name}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in kernels
    assert "aten::_scaled_dot_product_attention_math" not in kernels
