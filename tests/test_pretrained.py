"""Pretrained backbones (``models.create(..., pretrained=PATH)``): torchvision ResNets give
torchvision's features, 2D weights inflated into 3D models give the 2D features on a
clip that does not change in time, MMAction2 1.2.0's own loading and inflation of the
same file give the same tensors, and every other kind of file is loaded or refused."""

import logging
from pathlib import Path

import pytest
import torch

import actionkit.models as models
from actionkit.config import load_config
from actionkit.errors import CheckpointError, ConfigError, UsageError
from actionkit.serialization import UntrustedCheckpointError

from .parity_weights import make_input, make_state, probe

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURES / "pretrained.pt", weights_only=True)


@pytest.fixture(scope="module")
def resnet50_file(fixture, tmp_path_factory) -> Path:
    """A ResNet-50 in torchvision's layout (fc included) with the fixture's weights."""
    path = tmp_path_factory.mktemp("pretrained") / "resnet50_torchvision.pth"
    torch.save(make_state(fixture["shapes"], fixture["seed"]), path)
    return path


def stem_to_layer4(net, x):
    """torchvision ResNet's features before pooling."""
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        x = getattr(net, name)(x)
    return x


def test_torchvision_resnet50_gives_torchvision_features_in_tsn(tmp_path):
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = tv.models.resnet50().eval()
    for m in net.modules():  # statistics and affine parameters that are not 1 and 0
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    torch.save(net.state_dict(), tmp_path / "r50.pth")
    model = models.create("tsn_r50", num_classes=5, pretrained=tmp_path / "r50.pth").eval()
    report = model.pretrained_report
    assert (len(report.loaded), report.inflated, report.initialised, report.mismatched) == (
        265,
        [],
        [],
        [],
    )
    assert report.unused == ["fc.weight", "fc.bias"]
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        expected = net.avgpool(stem_to_layer4(net, x)).flatten(1)
        got = model.backbone(x).mean((2, 3))
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6 * expected.abs().max())


def centre_equals_2d(feat3d, feat2d, t_axis=2):
    """Relative errors of every temporal position of ``feat3d [1, C, T, h, w]`` against
    the 2D features ``[1, C, h, w]``."""
    scale = feat2d.abs().max()
    return [
        float((feat3d.select(t_axis, t) - feat2d).abs().max() / scale)
        for t in range(feat3d.shape[t_axis])
    ]


@pytest.mark.parametrize("name", ["i3d_r50", "slowfast_r50"])
def test_inflated_weights_give_2d_features_on_a_constant_clip(name, resnet50_file):
    # The 2D network: tsn_r50 from the same file (the test above ties it to torchvision).
    net2d = models.create("tsn_r50", num_classes=5, pretrained=resnet50_file).eval()
    net3d = models.create(name, num_classes=5, pretrained=resnet50_file).eval()
    frame = make_input((1, 3, 32, 32), seed=3)
    clip = frame.unsqueeze(2).expand(1, 3, 160, 32, 32).contiguous()
    with torch.no_grad():
        expected = net2d.backbone(frame)
        got = net3d.backbone(clip)
    if name == "slowfast_r50":
        got = got[0]  # the slow pathway: the fast one's lateral inputs have zero weights
    errors = centre_equals_2d(got, expected)
    middle = len(errors) // 2
    # Away from the borders (zero padding in time) the 3D network is the 2D one, to
    # float32 rounding (inflation divides each kernel by its length).
    assert max(errors[middle - 1 : middle + 1]) < 1e-5, errors
    assert errors[0] > 1e-2  # the border differs: the comparison can tell
    report = net3d.pretrained_report
    inflated = {"i3d_r50": 53, "slowfast_r50": 53}[name]  # every 2D convolution
    assert len(report.inflated) == inflated
    if name == "slowfast_r50":
        assert any(k.startswith("slow_path.layer1.0.conv1.") for k in report.inflated)
        assert {k for k in report.initialised} == {
            f"slow_path.{n}_lateral.conv.weight" for n in ("conv1", "layer1", "layer2", "layer3")
        }
        mismatched = {k: (want, have) for k, _, have, want in report.mismatched}
        assert mismatched["fast_path.conv1.conv.weight"] == ((8, 3, 5, 7, 7), (64, 3, 7, 7))
        assert all(k.startswith("fast_path.") for k in mismatched)


@pytest.mark.parametrize(
    "name", ["tsn_r50", "tsm_r50", "c2d_r50", "i3d_r50", "slowonly_r50", "slowfast_r50"]
)
def test_loading_equals_mmaction2(name, fixture, resnet50_file):
    case = fixture["models"][name]
    model = models.create(name, num_classes=5, pretrained=resnet50_file)
    state = model.backbone.state_dict()
    report = model.pretrained_report
    from_file = set(case["from_file"])
    for key, value in case["probes"].items():
        assert probe(key, state[key]) == pytest.approx(value, rel=1e-9, abs=1e-9), key
    taken = set(report.loaded) | set(report.inflated)
    assert taken <= from_file
    # what MMAction2 did not take from the file we did not either (SlowFast's fast
    # pathway keeps BatchNorm's constant init in both: equal without coming from it)
    not_taken = {k for k in state if not k.endswith("num_batches_tracked")} - from_file
    assert not_taken <= set(report.initialised) | {k for k, *_ in report.mismatched}
    assert report.unused == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize(
    "name,added",
    [("tin_r50", ".net1."), ("tsm_nl_r50", ".non_local_block."), ("tanet_r50", ".tam.")],
)
def test_wrapped_blocks_take_the_2d_weights_as_tsm_does(name, added, resnet50_file):
    # TIN's CombineNet(net1, net2) and TSM-NL's NonLocalWrapper(block) are looked through:
    # every ResNet tensor lands where TSM puts it; only the added modules keep their init
    from actionkit.models.pretrained import canonical

    tsm = models.create("tsm_r50", num_classes=5, pretrained=resnet50_file).backbone
    model = models.create(name, num_classes=5, pretrained=resnet50_file)
    report = model.pretrained_report
    reference = {canonical(k): v for k, v in tsm.state_dict().items()}
    for key, value in model.backbone.state_dict().items():
        if added in key:
            assert key in report.initialised or key.endswith("num_batches_tracked"), key
        elif not key.endswith("num_batches_tracked"):
            assert torch.equal(value, reference[canonical(key)]), key
    assert report.unused == ["fc.weight", "fc.bias"] and not report.mismatched
    assert all(added in key for key in report.initialised)


@pytest.mark.parametrize(
    "name,plain", [("tpn_tsm_r50", "tsm_r50"), ("tpn_slowonly_r50", "slowonly_r50")]
)
def test_tpn_backbones_take_the_weights_their_plain_models_take(name, plain, resnet50_file):
    # TPN reads two stages of the same backbone: loaded as the plain model's (MMAction2
    # builds both from torchvision://resnet50); the neck keeps its own init
    model = models.create(name, num_classes=5, pretrained=resnet50_file)
    reference = models.create(plain, num_classes=5, pretrained=resnet50_file).backbone.state_dict()
    state = model.backbone.state_dict()
    assert set(state) == set(reference)
    assert all(torch.equal(value, reference[key]) for key, value in state.items())
    assert model.pretrained_report.unused == ["fc.weight", "fc.bias"]


def test_openmmlab_backbone_and_ddp_prefixes(fixture, resnet50_file, tmp_path):
    tv_state = torch.load(resnet50_file, weights_only=True)
    reference = models.create("i3d_r50", num_classes=5, pretrained=resnet50_file).state_dict()
    # mmpretrain's ResNet: torchvision names under backbone., a head beside it
    state = {f"backbone.{k}": v for k, v in tv_state.items() if not k.startswith("fc.")}
    state["head.fc.weight"] = torch.zeros(1000, 2048)
    torch.save({"meta": {"epoch": 100}, "state_dict": state}, tmp_path / "mmpretrain.pth")
    # a DDP-wrapped bare state dict
    torch.save({f"module.{k}": v for k, v in tv_state.items()}, tmp_path / "ddp.pth")
    for file, unused in [("mmpretrain.pth", ["head.fc.weight"]), ("ddp.pth", None)]:
        model = models.create("i3d_r50", num_classes=5, pretrained=tmp_path / file)
        report = model.pretrained_report
        assert (len(report.loaded), len(report.inflated)) == (212, 53), file
        assert report.unused == (unused or ["fc.weight", "fc.bias"])
        for key, value in model.backbone.state_dict().items():
            assert torch.equal(value, reference[f"backbone.{key}"]), key


def test_recognizer_checkpoint_of_another_head(resnet50_file, tmp_path, caplog):
    # A TSN trained on 10 classes (an actionkit checkpoint) into I3D on 5: the backbone
    # is inflated from it, the head stays as initialised.
    tsn = models.create("tsn_r50", num_classes=10, pretrained=resnet50_file)
    torch.save({"actionkit": 1, "arch": "tsn_r50", "model": tsn.state_dict()}, tmp_path / "t.pth")
    torch.manual_seed(0)
    head = models.create("i3d_r50", num_classes=5).cls_head.state_dict()
    torch.manual_seed(0)
    with caplog.at_level(logging.INFO, logger="actionkit"):
        model = models.create("i3d_r50", num_classes=5, pretrained=tmp_path / "t.pth")
    report = model.pretrained_report
    assert (len(report.loaded), len(report.inflated), report.initialised) == (212, 53, [])
    assert report.unused == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
    for key, value in model.cls_head.state_dict().items():
        assert torch.equal(value, head[key]), key
    stem = model.backbone.conv1.conv.weight
    expected = tsn.backbone.conv1.conv.weight.unsqueeze(2).expand_as(stem) / 5
    torch.testing.assert_close(stem, expected, rtol=0, atol=0)
    assert "53 inflated 2D->3D" in caplog.text


def test_files_that_do_not_fit_are_refused(tmp_path, resnet50_file):
    torch.save({"state_dict": {"encoder.blocks.0.weight": torch.zeros(3)}}, tmp_path / "vit.pth")
    with pytest.raises(CheckpointError, match=r"vit\.pth: none of its 1 backbone tensors fits"):
        models.create("i3d_r50", num_classes=5, pretrained=tmp_path / "vit.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        models.create("i3d_r50", num_classes=5, pretrained=tmp_path / "missing.pth")

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "x": Payload()}, tmp_path / "p.pth")
    with pytest.raises(UntrustedCheckpointError):
        models.create("i3d_r50", num_classes=5, pretrained=tmp_path / "p.pth")
    with pytest.raises(UsageError, match="not both"):
        models.create("i3d_r50", pretrained=resnet50_file, checkpoint=resnet50_file)


def test_config_pretrained(tmp_path, resnet50_file):
    from actionkit.engine.builder import build_model

    (tmp_path / "c.yaml").write_text(
        f"model: {{name: tsn_r50, num_classes: 5, pretrained: {resnet50_file}}}\n"
    )
    cfg = load_config(tmp_path / "c.yaml")
    lines = []
    model = build_model(cfg, log=lines.append)
    assert lines[0].startswith(f"pretrained {resnet50_file}: 265 tensors loaded")
    assert model.pretrained_report.loaded
    # the weights that come next (testing, inference, resuming) do not need the file
    cfg.model.pretrained = str(tmp_path / "not-on-this-machine.pth")
    assert not hasattr(build_model(cfg, lines.append, initial_weights=False), "pretrained_report")
    (tmp_path / "both.yaml").write_text(
        f"model: {{name: tsn_r50, pretrained: {resnet50_file}, checkpoint: {resnet50_file}}}\n"
    )
    with pytest.raises(ConfigError, match="model.checkpoint and model.pretrained"):
        load_config(tmp_path / "both.yaml")


def matches_fixture(model, fixture: dict):
    """Asserts that the tensors MMAction2's loading took from the file are the ones
    ``model``'s took, with MMAction2's values; returns the report and the backbone's state."""
    report = model.pretrained_report
    own = model.backbone.state_dict()
    assert set(fixture["from_file"]) == set(report.loaded) | set(report.inflated)
    for key in fixture["from_file"]:
        assert probe(key, own[key]) == pytest.approx(fixture["probes"][key], rel=1e-6), key
    return report, own


def test_image_swin_inflates_into_video_swin_as_mmaction2_does(tmp_path):
    # MMAction2's SwinTransformer3D.inflate_weights on the same seeded image Swin-T (the
    # Swin release layout, {"model": state}; one table from a 12x12 window, resized):
    # every tensor the file determines equals MMAction2's
    fixture = torch.load(FIXTURES / "swin_pretrained.pt", weights_only=True)
    path = tmp_path / "swin_tiny_patch4_window7_224.pth"
    state = make_state(fixture["shapes"], fixture["seed"])
    state["layers.0.blocks.1.attn_mask"] = torch.zeros(64, 49, 49)  # as the releases hold
    torch.save({"model": state}, path)
    model = models.create("swin3d_t", num_classes=4, pretrained=str(path))
    report, own = matches_fixture(model, fixture)
    assert report.inflated == ["patch_embed.proj.weight"] and not report.mismatched
    assert "layers.0.blocks.1.attn_mask" in report.unused


def test_image_uniformer_inflates_to_the_middle_frame_as_mmaction2_does(tmp_path):
    # MMAction2's UniFormer._load_pretrained on the same seeded image UniFormer-S: every
    # 2D kernel (the 3x4x4 patch kernel, the 3x3x3 / 5x5x5 depthwise ones, the 1x1x1
    # ones) on the middle time step, zeros elsewhere; all tensors from the file
    fixture = torch.load(FIXTURES / "uniformer_pretrained.pt", weights_only=True)
    path = tmp_path / "uniformer_small_in1k.pth"
    torch.save(make_state(fixture["shapes"], fixture["seed"]), path)
    model = models.create("uniformer_s", num_classes=4, pretrained=str(path))
    report, own = matches_fixture(model, fixture)
    assert "patch_embed1.proj.weight" in report.inflated and not report.mismatched
    assert report.unused == ["head.weight", "head.bias"] and not report.initialised
    kernel = own["blocks1.0.attn.weight"]  # [64, 1, 5, 5, 5]
    assert kernel[:, :, 2].abs().sum() > 0 and kernel[:, :, [0, 1, 3, 4]].abs().sum() == 0


@pytest.mark.parametrize("layout", ["image tower", "whole CLIP"])
def test_clip_image_tower_loads_into_uniformerv2_as_mmaction2_loads_it(tmp_path, layout):
    # MMAction2's UniFormerV2._load_pretrained of the same seeded CLIP ViT-B/16 image tower:
    # the patch kernel to the middle (only) time step, the CLIP blocks as they are; the
    # global UniBlocks keep their initialisation. A whole CLIP state dict (open_clip's
    # layout) gives its "visual." tower; the text tower's same-named blocks are left aside.
    fixture = torch.load(FIXTURES / "uniformerv2_pretrained.pt", weights_only=True)
    state = make_state(fixture["shapes"], fixture["seed"])
    if layout == "whole CLIP":
        state = {f"visual.{k}": v for k, v in state.items()}
        state["transformer.resblocks.0.ln_1.weight"] = torch.ones(512)  # the text tower's
        state["token_embedding.weight"] = torch.zeros(49408, 8)
    path = tmp_path / "clip.pth"
    torch.save(state, path)
    model = models.create("uniformerv2_b16", num_classes=4, pretrained=str(path))
    report, own = matches_fixture(model, fixture)
    assert report.inflated == ["conv1.weight"] and not report.mismatched
    assert {"ln_post.weight", "proj"} <= set(report.unused)
    if layout == "whole CLIP":
        assert {"token_embedding.weight", "transformer.resblocks.0.ln_1.weight"} <= set(
            report.unused
        )
    global_blocks = ("transformer.dpe.", "transformer.dec.", "transformer.temporal_cls_token")
    global_blocks += ("transformer.norm.", "transformer.balance")
    assert report.initialised and all(k.startswith(global_blocks) for k in report.initialised)


def test_image_vit_goes_into_divided_timesformer_as_mmaction2_puts_it(tmp_path):
    # MMAction2's TimeSformer.init_weights on the same seeded ViT-B/16 in its
    # vit_base_patch16_224.pth layout: norms renamed, the image attention in both
    # attentions of every layer; temporal_fc and time_embed left as initialised
    fixture = torch.load(FIXTURES / "timesformer_pretrained.pt", weights_only=True)
    path = tmp_path / "vit_base_patch16_224.pth"
    torch.save(make_state(fixture["shapes"], fixture["seed"]), path)
    model = models.create("timesformer_divst", num_classes=4, pretrained=str(path))
    path.unlink()
    report, own = matches_fixture(model, fixture)
    assert not report.mismatched and not report.unused
    left = [k for k in own if "temporal_fc" in k] + ["time_embed"]
    assert sorted(report.initialised) == sorted(left)
    layer = "transformer_layers.layers.3.attentions.{}.attn.in_proj_weight"
    assert torch.equal(own[layer.format(0)], own[layer.format(1)])


@pytest.mark.parametrize("name", ["timesformer_divst", "timesformer_spaceonly"])
def test_timm_vit_gives_timms_features_on_one_frame_clips(name, tmp_path):
    # timm's own ViT-B/16 (2 blocks, 64 x 64; dev/timm_fixtures.py) on images, and
    # TimeSformer initialised from its state dict on one-frame clips of them: the same
    # features (divided: the temporal attention over one frame is added through the
    # zero temporal_fc, the spatial one is the image attention)
    fixture = torch.load(FIXTURES.parent / "timm" / "vit_b16.pt", weights_only=True)
    path = tmp_path / "vit_base_patch16_224.augreg_in21k.pth"
    torch.save(make_state(fixture["shapes"]), path)
    options = dict(img_size=64, num_frames=1, num_transformer_layers=2)
    model = models.create(name, num_classes=3, pretrained=str(path), **options).eval()
    report = model.pretrained_report
    assert not report.mismatched and report.unused == ["head.weight", "head.bias"]
    with torch.no_grad():
        features = model.backbone(make_input(fixture["input_shape"])[:, :, None])
    expected = fixture["features"]
    assert (features - expected).abs().max() <= 1e-5 * expected.abs().max()


def _all_but_the_classifier_loads(tmp_path, name: str, backbone: dict, width: int) -> dict:
    """``backbone`` (``backbone.*`` keys) saved as an mmpretrain ImageNet classifier (with
    ``head.fc``) and given to ``name`` as ``pretrained=``: every backbone tensor loads, the
    classifier is the one thing unused. Returns the model's backbone state."""
    state = {**backbone, "head.fc.weight": torch.randn(1000, width)}
    torch.save({"state_dict": state, "meta": {}}, tmp_path / "imagenet.pth")
    model = models.create(name, num_classes=3, pretrained=tmp_path / "imagenet.pth")
    report = model.pretrained_report
    assert not report.initialised and not report.mismatched and report.unused == ["head.fc.weight"]
    return model.backbone.state_dict()


def test_mmpretrain_mobilenet_v2_loads_into_tsm_mobilenetv2(tmp_path):
    # mmpretrain's ImageNet MobileNetV2 (MMAction2's mmcls://mobilenet_v2): backbone.* in
    # the same names, the shift wrappers (.net) looked through
    from actionkit.models.backbones import MobileNetV2

    torch.manual_seed(0)
    image = MobileNetV2()
    for m in image.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight)
            torch.nn.init.normal_(m.running_mean)
    state = {f"backbone.{k}": v for k, v in image.state_dict().items()}
    ours = _all_but_the_classifier_loads(tmp_path, "tsm_mobilenetv2", state, 1280)
    shifted = [k for k in ours if ".net." in k]
    assert len(shifted) == 10 * 6  # 10 blocks with a skip connection, conv + 5 BN tensors
    for key, value in image.state_dict().items():
        wrapped = key.replace(".conv.0.", ".conv.0.net.")
        assert torch.equal(ours[wrapped if wrapped in ours else key], value), key


def test_mmpretrain_mobileone_loads_into_tsm_mobileone(tmp_path):
    # mmpretrain's ImageNet MobileOne-S4 (backbone.* in MMAction2's TSN-MobileOne names:
    # the fixture's, from mmpretrain's own module) into TSM's MobileOne: every block's
    # shift wrapper (.net) looked through, the classifier left aside
    fixture = torch.load(FIXTURES / "tsn_mobileone_s4.pt", weights_only=True)
    state = {k: v for k, v in make_state(fixture["shapes"]).items() if k.startswith("backbone.")}
    ours = _all_but_the_classifier_loads(tmp_path, "tsm_mobileone_s4", state, 2048)
    assert all(".net." in k for k in ours)  # stage0 and every block of the four stages
    for key, value in state.items():
        if key.startswith("backbone."):
            parts = key[len("backbone.") :].split(".")
            at = 1 if parts[0] == "stage0" else 2  # stage0.net.*, stageN.i.net.*
            assert torch.equal(ours[".".join(parts[:at] + ["net"] + parts[at:])], value), key
