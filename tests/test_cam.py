"""Grad-CAM / Grad-CAM++ (actionkit.cam): equal to MMAction2's GradCAM on its own output,
equal to the closed forms of a model whose maps can be worked by hand, the token grids
of the transformers laid out as the backbones lay their tokens, and every family
explained end to end."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from actionkit import models
from actionkit.cam import find_layer, jet, localization_maps
from actionkit.errors import UsageError
from actionkit.models.backbones.transformer import token_map
from actionkit.models.heads.tsn import TSNHead
from actionkit.models.recognizer import Recognizer2D
from tests.parity_weights import make_input
from tests.test_models import mmaction_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"
GRADCAM = torch.load(FIXTURES / "gradcam.pt", weights_only=True)


@pytest.mark.parametrize("case", sorted(GRADCAM["cases"]))
def test_maps_equal_mmaction2_gradcam(case, tmp_path):
    c = GRADCAM["cases"][case]
    fixture = {"shapes": c["shapes"], "mmaction": GRADCAM["mmaction"]}
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    model = models.create(c["model"], num_classes=GRADCAM["num_classes"], checkpoint=ckpt).eval()
    x = make_input(c["input_shape"], seed=2)
    maps, scores, targets = localization_maps(model, x, c["label"], c["layer"])
    torch.testing.assert_close(scores, c["preds"], rtol=0, atol=1e-4)
    expected_target = c["label"] if c["label"] is not None else int(c["preds"].argmax())
    assert targets.tolist() == [expected_target]
    assert c["maps"].flatten(1).std(1).min() > 0.1  # (a flat map would pin nothing)
    assert maps.shape == c["maps"].shape
    # the same arithmetic in the same order: equal to float32 rounding (0.0 measured)
    assert (maps - c["maps"]).abs().max() <= 1e-6, (maps - c["maps"]).abs().max()


def _toy(channels=4, classes=3, seed=0):
    """1x1 conv + ReLU (the target layer) and TSN's head: the score is linear in the
    layer's spatial-temporal mean, so the gradients are the fc weights / (S h w)."""
    torch.manual_seed(seed)
    backbone = nn.Sequential(nn.Conv2d(3, channels, 1), nn.ReLU())
    return Recognizer2D(backbone, TSNHead(classes, channels, dropout=0, init_std=0.5)).eval()


def test_gradcam_is_cam_for_a_linear_head():
    # Grad-CAM of global-average-pooling + fc is Zhou et al.'s CAM: relu(sum_c w_kc A_c)
    model = _toy()
    x = torch.randn(2, 3, 3, 5, 6)
    maps, scores, targets = localization_maps(model, x)
    acts = model.backbone(x.flatten(0, 1)).view(2, 3, 4, 5, 6).double().detach().numpy()
    w = model.cls_head.fc_cls.weight.detach().double().numpy()
    for b in range(2):
        cam = np.maximum(np.einsum("c,schw->shw", w[targets[b]], acts[b]), 0)
        cam = (cam - cam.min()) / (cam.max() - cam.min())
        np.testing.assert_allclose(maps[b].numpy(), cam, rtol=0, atol=2e-6)


def test_gradcam_plus_plus_closed_form_for_a_linear_head():
    # constant gradients g_c = w_kc / (S h w): alpha = 1 / (2 + sum(A) g_c) where g_c != 0,
    # and each step's weight is sum_hw alpha relu(g_c) (Chattopadhay et al., eqs. 10 and 19)
    model = _toy(seed=1)
    x = torch.randn(1, 3, 3, 5, 6)
    target = 2
    maps, _, _ = localization_maps(model, x, target, method="gradcam++")
    acts = model.backbone(x.flatten(0, 1)).double().detach().numpy()  # [S, C, h, w]
    g = model.cls_head.fc_cls.weight.detach().double().numpy()[target] / (3 * 5 * 6)
    sums = acts.sum((2, 3))  # [S, C]
    alpha = 1 / (2 + sums * g)
    weights = 5 * 6 * alpha * np.maximum(g, 0)
    cam = np.maximum(np.einsum("sc,schw->shw", weights, acts), 0)
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    np.testing.assert_allclose(maps[0].numpy(), cam, rtol=0, atol=2e-6)


def test_token_map_orders():
    x = torch.arange(2 * 3 * 2 * 4 * 5, dtype=torch.float32).view(2, 3, 2, 4, 5)  # N C t h w
    thw = x.flatten(2).transpose(1, 2)  # [N, t*h*w, C], time-major
    hwt = x.permute(0, 3, 4, 2, 1).reshape(2, -1, 3)  # patch-major
    assert torch.equal(token_map(thw, (2, 4, 5)), x)
    assert torch.equal(token_map(hwt, (2, 4, 5), "hwt"), x)


def _input_of(module, model, x):
    seen = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


def _output_of(module, model, x):
    seen = []
    handle = module.register_forward_hook(lambda _m, _a, out: seen.append(out))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize(
    "attention", ["timesformer_divst", "timesformer_jointst", "timesformer_spaceonly"]
)
def test_timesformer_tokens_lie_where_its_patches_are(attention):
    # positions zeroed: the tokens entering the first layer are the patch projections, so
    # cam_grid of them must be the projection's feature maps arranged [N, C, T, h, w]
    model = models.create(attention, num_classes=3, num_frames=4, img_size=64).eval()
    backbone = model.backbone
    with torch.no_grad():
        backbone.pos_embed.zero_()
        backbone.cls_token.zero_()
        if hasattr(backbone, "time_embed"):
            backbone.time_embed.zero_()
    x = torch.randn(2, 1, 3, 4, 64, 64)
    tokens = _input_of(backbone.transformer_layers.layers[0], model, x)
    patches = _output_of(backbone.patch_embed.projection, model, x)  # [(N T), C, h, w]
    expected = patches.view(2, 4, *patches.shape[1:]).transpose(1, 2)
    clip_shape = (2, 3, 4, 64, 64)
    if attention == "timesformer_spaceonly":
        assert tokens.shape[0] == 2 * 4  # frame by frame
    torch.testing.assert_close(backbone.cam_grid(tokens, clip_shape), expected)


def test_uniformerv2_tokens_lie_where_its_patches_are():
    model = models.create("uniformerv2_b16", num_classes=3, layers=2).eval()
    backbone = model.backbone
    with torch.no_grad():
        backbone.positional_embedding.zero_()
        backbone.class_embedding.zero_()
    x = torch.randn(1, 1, 3, 4, 224, 224)
    tokens = _input_of(backbone.ln_pre, model, x)
    expected = _output_of(backbone.conv1, model, x)  # [N, C, t, h, w]
    torch.testing.assert_close(backbone.cam_grid(tokens, (1, 3, 4, 224, 224)), expected)


@pytest.mark.parametrize("name", ["vit_b16_videomae", "mvitv2_s"])
def test_token_grids_equal_the_backbones_own_feature_maps(name):
    # their return_feat_map lays the final tokens out in space-time: cam_grid must agree
    kwargs = {"num_frames": 4, "img_size": 64} if "videomae" in name else {}
    model = models.create(name, num_classes=3, **kwargs).eval()
    backbone = model.backbone
    x = torch.randn(1, 3, 4 if kwargs else 8, 64, 64)
    norm = backbone.norm if "videomae" in name else backbone.norm3
    tokens = _output_of(norm, backbone, x)
    backbone.return_feat_map = True
    with torch.no_grad():
        expected = backbone(x)
    if "videomae" in name:
        got = backbone.cam_grid(tokens, tuple(x.shape))
    else:  # a block's output carries its grid: (tokens, (t, h, w))
        got = backbone.cam_grid((tokens, tuple(expected.shape[2:])), tuple(x.shape))
    torch.testing.assert_close(got, expected)


FAMILIES = {
    "tsn_r18": ((2, 8, 3, 64, 64), {}),
    "tsm_r18": ((1, 8, 3, 64, 64), {}),
    "i3d_r50": ((1, 2, 3, 8, 64, 64), {}),
    "slowfast_r50": ((1, 1, 3, 16, 64, 64), {}),
    "x3d_s": ((1, 1, 3, 8, 64, 64), {}),
    "c3d": ((1, 1, 3, 16, 112, 112), {}),
    "swin3d_t": ((1, 1, 3, 8, 64, 64), {}),
    "uniformer_s": ((1, 1, 3, 8, 64, 64), {}),
    "mvitv2_s": ((1, 1, 3, 8, 64, 64), {}),
    "timesformer_divst": ((1, 1, 3, 4, 64, 64), {"num_frames": 4, "img_size": 64}),
    "vit_b16_videomae": ((1, 1, 3, 4, 64, 64), {"num_frames": 4, "img_size": 64}),
}


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_is_explained(name, method):
    shape, kwargs = FAMILIES[name]
    torch.manual_seed(0)
    model = models.create(name, num_classes=5, **kwargs).eval()
    x = torch.randn(shape)
    maps, scores, targets = localization_maps(model, x, method=method)
    views = shape[0] if len(shape) == 5 else shape[0] * shape[1]
    frames = shape[1] if len(shape) == 5 else shape[3]
    assert maps.shape == (views, frames, *shape[-2:])
    assert torch.isfinite(maps).all() and maps.min() >= 0
    # scaled to [0, 1] per sample / view, and not all flat (the gradients reached the layer)
    assert torch.allclose(maps.flatten(1).max(1).values, torch.ones(views), atol=1e-5)
    assert (maps.flatten(1).std(1) > 0.01).all()
    with torch.no_grad():
        logits = model(x)
    expected = logits.view(shape[0], -1, 5).mean(1)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)
    assert targets.tolist() == expected.argmax(1).tolist()
    assert all(p.grad is None for p in model.parameters())  # the model's gradients untouched


def test_bad_layers_and_targets_are_named():
    model = _toy()
    x = torch.randn(1, 3, 3, 5, 6)
    with pytest.raises(UsageError, match=r"'backbone\.9'.*Sequential has no layer '9'"):
        localization_maps(model, x, layer="backbone.9")
    with pytest.raises(UsageError, match="class 7 is not one of the 3"):
        localization_maps(model, x, target=7)
    with pytest.raises(UsageError, match=r"its output \(1, 3\) is not a feature map"):
        localization_maps(model, x, layer="cls_head.fc_cls")
    with pytest.raises(UsageError, match="gradcam, gradcam\\+\\+"):
        localization_maps(model, x, method="cam")
    # MMAction2's names: a residual block's final relu is the block here
    resnet = models.create("tsn_r18", num_classes=3)
    assert find_layer(resnet, "backbone/layer4/1/relu") is resnet.backbone.layer4[1]


def test_jet_colours():
    np.testing.assert_allclose(
        jet(np.array([0.0, 0.5, 1.0])), [[0, 0, 0.5], [0.5, 1, 0.5], [0.5, 0, 0]]
    )
