"""Recognition models: the registry, MMAction2 1.2.0 logit parity from checkpoints,
fine-tuning to other classes, wrong checkpoints, multi-view averaging, smoke tests."""

import copy
import importlib.util
import itertools
import logging
from pathlib import Path

import pytest
import torch

import actionkit.models as models
from actionkit.models import average_clips

from .parity_weights import make_input, make_state

FIXTURES = Path(__file__).parent / "fixtures" / "mmaction"
# the transformers' fixtures: position tables for 64 x 64 frames (4 x 4 patches), 4 frames
SMALL_CLIP = {"img_size": 64, "num_frames": 4}
MVIT_CLIP = {"spatial_size": 64, "temporal_size": 4}  # MViT's relative tables for them
# fixture -> (registered name, builder kwargs)
PARITY = {
    "tsn_r18": ("tsn_r18", {}),
    "tsn_r50": ("tsn_r50", {}),
    "tsn_r101": ("tsn_r101", {}),
    "tsn_torchvision": ("tsn_torchvision", {}),
    "tsn_timm": ("tsn_timm", {}),
    "tsn_resnext101_32x4d": ("tsn_resnext101_32x4d", {}),
    "tsn_mobileone_s4": ("tsn_mobileone_s4", {}),
    "tsn_mobileone_s4_deploy": ("tsn_mobileone_s4", {"deploy": True}),
    "tsm_mobileone_s4": ("tsm_mobileone_s4", {"num_segments": 16, "shift_segments": 8}),
    "tsm_mobileone_s4_deploy": (
        "tsm_mobileone_s4",
        {"num_segments": 16, "shift_segments": 8, "deploy": True},
    ),
    "tsm_r18": ("tsm_r18", {}),
    "tsm_r50": ("tsm_r50", {}),
    "tsm_r50_block": ("tsm_r50", {"shift_place": "block"}),
    "tsm_r101": ("tsm_r101", {}),
    "tsm_mobilenetv2": ("tsm_mobilenetv2", {}),
    "tanet_r50": ("tanet_r50", {}),
    "tin_r50": ("tin_r50", {}),
    "tpn_tsm_r50": ("tpn_tsm_r50", {}),
    "tpn_slowonly_r50": ("tpn_slowonly_r50", {}),
    "tsn_r18_audio": ("tsn_r18_audio", {}),
    "audioonly_r50": ("audioonly_r50", {}),
    "i3d_r50": ("i3d_r50", {}),
    "i3d_nl_dot_product_r50": (
        "i3d_nl_r50",
        {"mode": "dot_product", "non_local": ((0, 0, 0), (0, 1, 0, 0), (0,) * 6, (0, 0, 0))},
    ),
    "i3d_nl_embedded_gaussian_r50": ("i3d_nl_r50", {"mode": "embedded_gaussian"}),
    "i3d_nl_gaussian_r50": ("i3d_nl_r50", {"mode": "gaussian"}),
    "tsm_nl_r50": ("tsm_nl_r50", {}),
    "slowonly_nl_r50": ("slowonly_nl_r50", {}),
    "slowonly_r50": ("slowonly_r50", {}),
    "slowonly_r101": ("slowonly_r101", {}),
    "slowfast_r101_r50": ("slowfast_r101_r50", {}),
    "slowfast_r101_8x8": ("slowfast_r101_8x8", {}),
    "slowfast_r50": ("slowfast_r50", {}),
    "slowfast_r50_8x8": ("slowfast_r50_8x8", {}),
    "c3d": ("c3d", {}),
    "r2plus1d_r34": ("r2plus1d_r34", {}),
    "ircsn_r152": ("ircsn_r152", {}),
    "ipcsn_r152": ("ipcsn_r152", {}),
    "ircsn_r50": ("ircsn_r50", {}),
    "c2d_r50": ("c2d_r50", {}),
    "x3d_s": ("x3d_s", {}),
    "x3d_m": ("x3d_m", {}),
    "posec3d_r50": ("posec3d_r50", {}),
    "timesformer_divst": ("timesformer_divst", SMALL_CLIP),
    "timesformer_jointst": ("timesformer_jointst", SMALL_CLIP),
    "timesformer_spaceonly": ("timesformer_spaceonly", SMALL_CLIP),
    "vit_b16_videomae": ("vit_b16_videomae", SMALL_CLIP),
    "vit_b16_videomae_96": ("vit_b16_videomae", SMALL_CLIP),
    "vit_s16_videomaev2": ("vit_s16_videomaev2", SMALL_CLIP),
    "vit_l16_videomae": ("vit_l16_videomae", SMALL_CLIP),
    "swin3d_t": ("swin3d_t", {}),
    "swin3d_t_small_clip": ("swin3d_t", {}),
    "swin3d_s": ("swin3d_s", {}),
    "swin3d_b": ("swin3d_b", {}),
    "swin3d_l": ("swin3d_l", {}),
    "mvitv2_s": ("mvitv2_s", MVIT_CLIP),
    "mvitv2_s_96": ("mvitv2_s", MVIT_CLIP),
    "mvitv2_b": ("mvitv2_b", MVIT_CLIP),
    "mvitv2_l": ("mvitv2_l", MVIT_CLIP),
    "uniformer_s": ("uniformer_s", {}),
    "uniformer_b": ("uniformer_b", {}),
    "uniformerv2_b16": ("uniformerv2_b16", {"input_resolution": 32}),
    "uniformerv2_b16_lmhra": ("uniformerv2_b16", {"input_resolution": 32, "no_lmhra": False}),
    "uniformerv2_l14": ("uniformerv2_l14", {"input_resolution": 28}),
}
# Over 10 s each; and the transformers' further sizes and clip shapes, whose code the
# family's first fixture runs too (CI runs these in its first venv only, to keep time).
SLOW_PARITY = {
    "slowfast_r101_r50",
    "slowfast_r101_8x8",
    "slowonly_r101",
    "i3d_nl_gaussian_r50",
    "slowonly_nl_r50",
    "vit_l16_videomae",
    "swin3d_b",
    "swin3d_l",
    "mvitv2_l",
    "uniformerv2_l14",
    "uniformerv2_b16_lmhra",
    "tsn_timm",
    *("timesformer_jointst", "timesformer_spaceonly", "vit_b16_videomae_96"),
    *("swin3d_t_small_clip", "swin3d_s", "mvitv2_s_96", "mvitv2_b", "uniformer_b"),
}
# built on another library's image models (optional dependencies): name -> module
NEEDS = {"tsn_torchvision": "torchvision", "tsn_timm": "timm"}
# MMAction2 builds these from one config with another: one fixture serves both.
SAME_NETWORK = {"x3d_m": "x3d_s"}


def mmaction_checkpoint(fixture: dict, path: Path) -> Path:
    """An MMAction2-style checkpoint file with the fixture's deterministic weights."""
    state = make_state(fixture["shapes"])
    state["data_preprocessor.mean"] = torch.zeros(3, 1, 1)  # MMAction2 saves these too
    torch.save({"meta": {"mmaction_version": fixture["mmaction"]}, "state_dict": state}, path)
    return path


# The zoo-wide checks of the CPU-torch venv run on these models (one of each kind of
# network and shape logic: 2D with segments, the temporal shift, TIN's interlace, 3D,
# two pathways, X3D, C3D's fixed input, transformers); the others are marked `zoo`,
# which only the CUDA-torch venv runs (README, "Continuous integration").
ZOO_SAMPLE = {
    "tsn_r18", "tsm_r18", "tin_r50", "i3d_r50", "slowfast_r50", "x3d_s", "c3d",
    "timesformer_divst", "vit_s16_videomaev2", "swin3d_t", "mvitv2_s", "uniformer_s",
}  # fmt: skip


def _marks(name: str, slow: set = frozenset(), zoo: bool = False) -> list:
    """slow for the names in ``slow``; ``zoo`` for the names outside ``ZOO_SAMPLE`` when
    ``zoo``; a skip where the library a model is built on is absent (torchvision,
    timm)."""
    marks = [pytest.mark.slow] if name in slow else []
    if zoo and name not in ZOO_SAMPLE:
        marks.append(pytest.mark.zoo)
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        marks.append(pytest.mark.skip(reason=f"needs {NEEDS[name]}"))
    return marks


@pytest.mark.parametrize(
    "fixture_name", [pytest.param(n, marks=_marks(n, SLOW_PARITY, zoo=True)) for n in PARITY]
)
def test_logits_equal_mmaction2(fixture_name, tmp_path):
    fixture_file = SAME_NETWORK.get(fixture_name, fixture_name)
    fixture = torch.load(FIXTURES / f"{fixture_file}.pt", weights_only=True)
    name, kwargs = PARITY[fixture_name]
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    model = models.create(name, num_classes=fixture["num_classes"], checkpoint=ckpt, **kwargs)
    ckpt.unlink()  # (up to 1.4 GB each: the suite's temporary files stay small)
    model.eval()
    with torch.no_grad():
        logits = model(make_input(fixture["input_shape"]))
    expected = fixture["logits"]
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max() <= 1e-4, (logits - expected).abs().max()


def test_trn_logits_equal_mmaction2_on_its_drawn_relations(tmp_path):
    # MMAction2's TRN head draws 3 frame tuples per scale at every forward: the fixture
    # records the draws; on the same tuples the logits are the same
    fixture = torch.load(FIXTURES / "trn_r50.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    model = models.create("trn_r50", num_classes=7, checkpoint=ckpt).eval()
    x = make_input(fixture["input_shape"])
    with torch.no_grad():
        feats = model.backbone(x.flatten(0, 1))
        logits = model.cls_head(feats, x.shape[1], fixture["relations"])
        expected_value = model(x)
    assert (logits - fixture["logits"]).abs().max() <= 1e-4
    # evaluation takes the expectation over the draws: each scale's mean over all its
    # tuples, times the tuples drawn (1 of the one 8-tuple, 3 of the others)
    head = model.cls_head.consensus
    with torch.no_grad():
        h = model.cls_head.fc_cls(feats.mean((2, 3))).view(-1, 8, 256)
        reference = 0
        for scale, fusion in zip(range(8, 1, -1), head.fc_fusion_scales, strict=True):
            tuples = list(itertools.combinations(range(8), scale))
            scores = torch.stack([fusion(h[:, list(t)].flatten(1)) for t in tuples])
            reference = reference + scores.mean(0) * min(3, len(tuples))
    torch.testing.assert_close(expected_value, reference, rtol=1e-5, atol=1e-5)
    # MMAction2's behaviour on request: a draw at every evaluation
    sampled = models.create("trn_r50", num_classes=7, checkpoint=ckpt, sampled_eval=True).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        draws = torch.stack([sampled(x) for _ in range(2)])
    assert not torch.allclose(draws[0], draws[1])


@pytest.mark.parametrize("name", ["tpn_tsm_r50", "tpn_slowonly_r50"])
def test_tpn_training_losses_equal_mmaction2(name, tmp_path):
    # MMAction2's loss() in eval mode (no dropout): the head's cross-entropy and half the
    # auxiliary head's on stage 3; both reach their parameters
    fixture = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    model = models.create(name, num_classes=7, checkpoint=ckpt).eval()
    batch = {"inputs": make_input(fixture["input_shape"]), "label": torch.tensor(fixture["labels"])}
    losses = model.loss(batch)
    assert set(losses) == set(fixture["losses"]) == {"loss_cls", "loss_aux"}
    for key, value in losses.items():
        assert (value - fixture["losses"][key]).abs() <= 1e-5, key
    losses["loss_aux"].backward()
    assert model.neck.aux_head.fc.weight.grad.abs().sum() > 0
    assert model.cls_head.fc_cls.weight.grad is None  # the auxiliary loss skips the head
    # without the auxiliary head: the classification loss alone, the same logits
    plain = models.create(name, num_classes=7, aux_head=False)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if ".aux_head." not in k})
    assert set(plain.eval().loss(batch)) == {"loss_cls"}
    with torch.no_grad():
        assert torch.equal(plain(batch["inputs"]), model(batch["inputs"]))


def test_tpn_tsm_groups_frames_by_its_segments_and_stages_are_the_backbones():
    # 2 views x 8 segments per sample: each view a clip of its own (MMAction2's fcn_test)
    torch.manual_seed(0)
    model = models.create("tpn_tsm_r50", num_classes=3).eval()
    x = torch.randn(1, 16, 3, 32, 32)
    with torch.no_grad():
        both = model(x)
        each = torch.cat([model(x[:, :8]), model(x[:, 8:])])
        # (a batch of 16 frames and two of 8 may take other kernels: equal to rounding)
        predicted = model.predict(x)
    torch.testing.assert_close(predicted, average_clips(each, 1), rtol=0, atol=1e-6)
    with torch.no_grad():
        # the stages the neck reads are the plain backbone's layer3 and layer4
        levels = model._levels(x[:, :8])
        backbone = model.backbone
        frames = backbone.maxpool(backbone.conv1(x[0, :8]))
        layer3 = backbone.layer3(backbone.layer2(backbone.layer1(frames)))
        layer4 = backbone.layer4(layer3)
    torch.testing.assert_close(both, each, rtol=0, atol=1e-6)
    assert torch.equal(levels[0], layer3.unflatten(0, (1, 8)).transpose(1, 2))
    assert torch.equal(levels[1], layer4.unflatten(0, (1, 8)).transpose(1, 2))
    with pytest.raises(ValueError, match="out_indices must be increasing"):
        models.create("tpn_tsm_r50", num_classes=3, out_indices=(3, 2))
    with pytest.raises(
        ValueError, match="12 frames per sample, not a multiple of the backbone's 8"
    ):
        model(x[:, :12])
    # features: the neck's output per clip, averaged over the views
    with torch.no_grad():
        feats = model.features(x)
        per_view = [model.features(x[:, :8]), model.features(x[:, 8:])]
    assert feats.shape == (1, 2048)
    torch.testing.assert_close(feats, (per_view[0] + per_view[1]) / 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["embedded_gaussian", "gaussian", "dot_product"])
def test_non_local_block_equals_its_matrix_form_and_starts_as_identity(mode):
    from actionkit.models.backbones.non_local import NonLocal3d

    torch.manual_seed(0)
    block = NonLocal3d(16, sub_sample=True, use_scale=True, mode=mode).double().eval()
    x = torch.randn(2, 16, 3, 4, 6, dtype=torch.float64)
    assert torch.equal(block(x), x)  # conv_out's BatchNorm starts at zero
    torch.nn.init.normal_(block.conv_out.bn.weight)
    # the [THW, THW] pairwise matrix, as mmcv forms it
    flat = x.flatten(2).transpose(1, 2)
    g = block.g(x).flatten(2).transpose(1, 2)
    if mode == "gaussian":
        pairwise = (flat @ block.phi(x).flatten(2)).softmax(-1)
    else:
        pairwise = block.theta(x).flatten(2).transpose(1, 2) @ block.phi(x).flatten(2)
        if mode == "embedded_gaussian":
            pairwise = (pairwise / 8**0.5).softmax(-1)
        else:
            pairwise = pairwise / pairwise.shape[-1]
    y = (pairwise @ g).transpose(1, 2).reshape(2, 8, 3, 4, 6)
    torch.testing.assert_close(block(x), x + block.conv_out(y), rtol=1e-12, atol=1e-12)


def test_c2d_nl_is_c2d_with_non_local_blocks_over_the_clip():
    # MMAction2 has no C2D-NL to hold it to: it is C2D (parity-checked) with I3D-NL's
    # non-local blocks (parity-checked there). Zero-initialised, each block passes its
    # input on, so the logits are C2D's on the same weights; trained, the blocks mix the
    # clip's time steps: the last output step sees the first frame, which in C2D only
    # reaches the first step (the temporal pooling pairs frames 2j, 2j+1).
    torch.manual_seed(0)
    plain = models.create("c2d_r50", num_classes=3).eval()
    nl = models.create("c2d_nl_r50", num_classes=3).eval()
    theirs = plain.state_dict()
    ours = {k: theirs[k.replace(".block.", ".")] for k in nl.state_dict() if "non_local" not in k}
    missing = nl.load_state_dict(ours, strict=False).missing_keys
    assert len({k.split(".non_local_block.")[0] for k in missing}) == 5  # res3: 2, res4: 3
    x = torch.randn(1, 3, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(nl(x[:, None]), plain(x[:, None]), rtol=0, atol=0)
        for m in nl.modules():
            if hasattr(m, "conv_out"):
                torch.nn.init.normal_(m.conv_out.bn.weight, std=0.5)
        y = x.clone()
        y[:, :, 0] += 1.0  # the first frame only
        for net, reaches in ((plain, False), (nl, True)):
            a, b = net.backbone(x), net.backbone(y)
            assert a.shape[2] == 4
            assert torch.equal(a[:, :, 1:], b[:, :, 1:]) != reaches


def test_norm_eval_and_bn_frozen_keep_batchnorm_as_loaded():
    # MMAction2's CSN fine-tuning: statistics (norm_eval) and scale/shift (bn_frozen) stay
    model = models.create("ircsn_r50", num_classes=3, norm_eval=True, bn_frozen=True).train()
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert norms and not any(m.training for m in norms)
    assert not any(p.requires_grad for m in norms for p in m.parameters())
    before = [m.running_mean.clone() for m in norms]
    model(torch.randn(1, 1, 3, 8, 32, 32)).sum().backward()
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, norms, strict=True))
    plain = models.create("ircsn_r50", num_classes=3).train()
    assert all(m.training for m in plain.modules() if isinstance(m, torch.nn.BatchNorm3d))


def test_partial_bn_freezes_every_batchnorm_but_the_first():
    model = models.create("trn_r50", num_classes=3).train()
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms[0].training and norms[0].weight.requires_grad
    assert not any(m.training or m.weight.requires_grad for m in norms[1:])
    before = norms[1].running_mean.clone()
    model(torch.randn(1, 8, 3, 32, 32)).sum().backward()
    assert torch.equal(norms[1].running_mean, before) and norms[1].weight.grad is None
    assert norms[0].weight.grad is not None


def test_finetuning_reinitialises_only_the_classifier(tmp_path, caplog):
    fixture = torch.load(FIXTURES / "tsn_r18.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    with caplog.at_level(logging.WARNING):
        model = models.create("tsn_r18", num_classes=5, checkpoint=ckpt)
    assert "except the classifier (the checkpoint has 7 classes, the model 5)" in caplog.text
    loaded = make_state(fixture["shapes"])
    own = model.state_dict()
    assert torch.equal(
        own["backbone.layer4.1.conv2.conv.weight"], loaded["backbone.layer4.1.conv2.conv.weight"]
    )
    assert own["cls_head.fc_cls.weight"].shape == (5, 512)


def test_head_classes_keep_rows_of_the_checkpoints_classifier(tmp_path):
    # fine-tuning to a subset of the checkpoint's classes (Kinetics-710 -> 400, as
    # MMAction2's UniFormerV2 channel maps): those logits, in the order given
    fixture = torch.load(FIXTURES / "tsn_r18.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    x = make_input(fixture["input_shape"])
    (tmp_path / "map.json").write_text("[5, 0, 2]")
    for classes in ([5, 0, 2], str(tmp_path / "map.json")):
        model = models.create("tsn_r18", num_classes=3, checkpoint=ckpt, head_classes=classes)
        with torch.no_grad():
            logits = model.eval()(x)
        assert (logits - fixture["logits"][:, [5, 0, 2]]).abs().max() <= 1e-4
    from actionkit.errors import CheckpointError, UsageError

    with pytest.raises(CheckpointError, match="head_classes: index 7 is outside its 7 classes"):
        models.create("tsn_r18", num_classes=2, checkpoint=ckpt, head_classes=[1, 7])
    with pytest.raises(CheckpointError, match="head_classes names 2 classes, the model has 3"):
        models.create("tsn_r18", num_classes=3, checkpoint=ckpt, head_classes=[1, 2])
    with pytest.raises(CheckpointError, match="an index appears twice"):
        models.create("tsn_r18", num_classes=2, checkpoint=ckpt, head_classes=[1, 1])
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(UsageError, match="bad.json must hold a list of class indices"):
        models.create(
            "tsn_r18", num_classes=1, checkpoint=ckpt, head_classes=str(tmp_path / "bad.json")
        )
    with pytest.raises(UsageError, match="give checkpoint"):
        models.create("tsn_r18", num_classes=2, head_classes=[0, 1])


def test_a_checkpoint_of_another_architecture_is_an_error(tmp_path):
    fixture = torch.load(FIXTURES / "tsn_r18.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "r18.pth")
    with pytest.raises(
        ValueError, match=r"r18.pth \(mmaction checkpoint\) does not fit model tsn_r50"
    ):
        models.create("tsn_r50", num_classes=7, checkpoint=ckpt)


def test_actionkit_checkpoints_round_trip(tmp_path):
    model = models.create("tsn_r18", num_classes=3).eval()
    torch.save({"actionkit": "0.1.0", "model": model.state_dict()}, tmp_path / "ak.pth")
    again = models.create("tsn_r18", num_classes=3, checkpoint=tmp_path / "ak.pth").eval()
    x = torch.randn(1, 2, 3, 32, 32)
    assert torch.equal(model(x), again(x))


def test_average_clips_as_mmaction2_defines_it():
    scores = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 1.0]])
    torch.testing.assert_close(
        average_clips(scores, 2, "score"), torch.tensor([[0.5, 1.0], [2.0, 1.0]])
    )
    probs = scores.softmax(1)
    torch.testing.assert_close(
        average_clips(scores, 2, "prob"), torch.stack([probs[:2].mean(0), probs[2:].mean(0)])
    )
    assert average_clips(scores, 2, None).shape == (2, 2, 2)
    with pytest.raises(ValueError, match="average_clips must be"):
        average_clips(scores, 2, "max")


def test_registry():
    assert {"tsn_r18", "tsn_r50", "tsn_r101", "tsm_r50"} <= set(models.list_models())
    assert models.list_models("tsm*") == [
        "tsm_mobilenetv2",
        "tsm_mobileone_s4",
        "tsm_nl_r50",
        "tsm_r101",
        "tsm_r18",
        "tsm_r50",
    ]
    with pytest.raises(ValueError, match="unknown model 'tsn_r34'.*similar: .*tsn_r101"):
        models.create("tsn_r34")


def _random_norm_statistics(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.running_mean, m.weight, m.bias):
                t.data.copy_(torch.randn(t.shape, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


@pytest.mark.parametrize("name", ["tsn_mobileone_s4", "tsm_mobileone_s4"])
def test_mobileone_reparameterized_equals_its_branches(name):
    # The deployed form (one biased convolution per block) computes what the branches
    # (conv+BN, 1x1 conv+BN, BN identity) compute in eval mode. MobileOne-S4: 14.95M
    # parameters with a 1000-class classifier in training form, 14.84M deployed
    # (mmpretrain's model zoo).
    model = models.create(name, num_classes=1000).eval()
    assert sum(p.numel() for p in model.parameters()) == 14_951_248
    _random_norm_statistics(model)
    x = torch.randn(1, 8, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        deployed = models.reparameterize(copy.deepcopy(model))
        out = deployed(x)
    assert sum(p.numel() for p in deployed.parameters()) == 14_838_352
    assert not any(".branch_conv_list." in k for k in deployed.state_dict())
    assert deployed.builder_args == {"deploy": True}
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="tsn_r18 has no re-parameterisable blocks"):
        models.reparameterize(models.create("tsn_r18", num_classes=2))


def test_mobileone_stem_trains_in_channels_last():
    # The stem's strided 1x1 branch (3 -> 64 channels) subsamples, then convolves at
    # stride 1: what a stride-2 1x1 convolution computes, forward and backward, without
    # oneDNN's strided 1x1 weight gradient, which corrupted the heap on channels-last
    # RGB input of 112 x 112 and more (this test crashed the process then).
    from actionkit.models.backbones import MobileOne

    stem = MobileOne("s4").stage0.train()
    branch = stem.branch_scale.conv
    x = torch.randn(4, 3, 112, 112)
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        stem.zero_grad()
        stem.to(memory_format=layout)
        stem(x.contiguous(memory_format=layout)).square().mean().backward()
        grads.append(branch.weight.grad.clone())
    reference = torch.nn.functional.conv2d(x.requires_grad_(), branch.weight.detach(), stride=2)
    torch.testing.assert_close(branch(x), reference)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)


def test_convert_reparameterizes_mmaction_and_actionkit_checkpoints(tmp_path, capsys):
    # actionkit-convert --reparameterize: MMAction2's trained TSN-MobileOne (the fixture's
    # weights) deployed keeps MMAction2's logits; an actionkit-train checkpoint keeps its
    # config and gains deploy: true, so it rebuilds deployed with its other arguments.
    from actionkit.cli.convert import main

    fixture = torch.load(FIXTURES / "tsn_mobileone_s4.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    out = tmp_path / "deployed.pth"
    assert main(["mmaction", str(ckpt), str(out), "--reparameterize"]) == 1
    assert "does not name its model" in capsys.readouterr().err and not out.exists()
    assert (
        main(["mmaction", str(ckpt), str(out), "--model", "tsn_mobileone_s4", "--reparameterize"])
        == 0
    )
    payload = torch.load(out, weights_only=True)
    assert payload["config"]["model"]["args"] == {"deploy": True}
    model = models.create("tsn_mobileone_s4", num_classes=7, checkpoint=out).eval()
    assert model.backbone.stage1[0].deploy
    with torch.no_grad():
        logits = model(make_input(fixture["input_shape"]))
    assert (logits - fixture["logits"]).abs().max() <= 1e-4

    fixture = torch.load(FIXTURES / "tsm_mobileone_s4.pt", weights_only=True)
    trained = {"num_segments": 16, "shift_segments": 8}
    model = models.create("tsm_mobileone_s4", num_classes=7, **trained)
    model.load_state_dict(make_state(fixture["shapes"]))
    config = {"model": {"name": "tsm_mobileone_s4", "args": trained}, "data": {"num_workers": 0}}
    payload = {"actionkit": "0.1", "arch": "tsm_mobileone_s4", "model": model.state_dict()}
    torch.save({**payload, "config": config, "classes": list("abcdefg")}, tmp_path / "ak.pth")
    with pytest.raises(SystemExit):
        main(["mmaction", str(tmp_path / "ak.pth"), str(out)])
    assert "is not an MMAction2 checkpoint (it is actionkit)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["actionkit", str(tmp_path / "ak.pth"), str(out)])  # nothing to do
    assert "converts only with --reparameterize" in capsys.readouterr().err
    assert main(["actionkit", str(tmp_path / "ak.pth"), str(out), "--reparameterize"]) == 0
    payload = torch.load(out, weights_only=True)
    assert payload["classes"] == list("abcdefg") and payload["config"]["data"] == config["data"]
    deployed = models.create("tsm_mobileone_s4", num_classes=7, checkpoint=out).eval()
    assert deployed.builder_args == {**trained, "deploy": True}
    with torch.no_grad():
        logits = deployed(make_input(fixture["input_shape"]))
    assert (logits - fixture["logits"]).abs().max() <= 1e-4


def test_resnext_is_torchvisions_layout_and_arithmetic(tmp_path):
    # mmcls's ResNeXt-101 32x4d (MMAction2's TSN backbone) has torchvision's names and
    # bottleneck widths: torchvision's ResNet-101 with 32 groups of 4 loads through
    # pretrained= tensor for tensor and computes the same features. 44.18M parameters
    # with a 1000-class classifier (mmcls's model zoo).
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    theirs = torchvision.models.resnet101(groups=32, width_per_group=4).eval()
    _random_norm_statistics(theirs)
    path = tmp_path / "resnext.pth"
    torch.save(theirs.state_dict(), path)
    model = models.create("tsn_resnext101_32x4d", num_classes=1000, pretrained=path).eval()
    assert sum(p.numel() for p in model.parameters()) == 44_177_704
    report = model.pretrained_report
    assert (
        not report.initialised
        and not report.mismatched
        and report.unused == ["fc.weight", "fc.bias"]
    )
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        mine = model.backbone(x).mean((2, 3))
        theirs.fc = torch.nn.Identity()
        torch.testing.assert_close(mine, theirs(x), rtol=1e-5, atol=1e-5)


def test_tsm_shift_placement():
    blockres = models.create("tsm_r50", num_classes=2)
    block = models.create("tsm_r50", num_classes=2, shift_place="block")
    keys = set(blockres.state_dict())
    assert "backbone.layer1.0.conv1.conv.net.weight" in keys  # shift inside the branch
    assert "backbone.layer1.0.net.conv1.conv.weight" in set(block.state_dict())
    # ResNet-50 without its fc has 23,508,032 parameters (torchvision's 25,557,032 minus
    # 2048 * 1000 + 1000); the shift adds none; the head 2048 * 2 + 2.
    assert sum(p.numel() for p in blockres.parameters()) == 23_508_032 + 2048 * 2 + 2


SMOKE_INPUTS = {  # name -> (input shape, output rows)
    "tsn_r18": ((2, 8, 3, 32, 32), 2),
    "tsn_torchvision": ((2, 3, 3, 32, 32), 2),
    "tsn_timm": ((2, 3, 3, 32, 32), 2),
    "tsn_resnext101_32x4d": ((2, 3, 3, 32, 32), 2),
    "tsn_mobileone_s4": ((2, 4, 3, 32, 32), 2),
    "tsm_mobileone_s4": ((2, 8, 3, 32, 32), 2),
    "tsm_r18": ((2, 8, 3, 32, 32), 2),
    "tsm_r50": ((2, 8, 3, 32, 32), 2),
    "tin_r50": ((2, 8, 3, 32, 32), 2),
    "trn_r50": ((2, 8, 3, 32, 32), 2),
    "tsm_nl_r50": ((2, 8, 3, 32, 32), 2),
    "tsm_mobilenetv2": ((2, 8, 3, 32, 32), 2),
    "tanet_r50": ((2, 8, 3, 32, 32), 2),
    "tpn_tsm_r50": ((2, 8, 3, 32, 32), 2),
    "tpn_slowonly_r50": ((1, 2, 3, 8, 32, 32), 2),
    "tsn_r18_audio": ((2, 1, 1, 64, 40), 2),
    "audioonly_r50": ((1, 2, 1, 32, 40), 2),
    "i3d_nl_r50": ((2, 1, 3, 8, 32, 32), 2),
    "slowonly_nl_r50": ((1, 2, 3, 4, 32, 32), 2),
    "i3d_r50": ((2, 1, 3, 8, 32, 32), 2),
    "slowonly_r50": ((1, 2, 3, 4, 32, 32), 2),
    "slowfast_r50": ((1, 1, 3, 16, 32, 32), 1),
    "slowfast_r50_8x8": ((1, 1, 3, 16, 32, 32), 1),
    "c3d": ((1, 1, 3, 16, 112, 112), 1),
    "r2plus1d_r34": ((2, 1, 3, 8, 32, 32), 2),
    "ircsn_r152": ((2, 1, 3, 8, 32, 32), 2),
    "ipcsn_r152": ((2, 1, 3, 8, 32, 32), 2),
    "c2d_r50": ((1, 2, 3, 4, 32, 32), 2),
    "c2d_nl_r50": ((1, 2, 3, 4, 32, 32), 2),
    "x3d_s": ((2, 1, 3, 4, 32, 32), 2),
    "x3d_m": ((2, 1, 3, 4, 32, 32), 2),
    "timesformer_divst": ((1, 2, 3, 4, 32, 32), 2),
    "timesformer_jointst": ((1, 2, 3, 4, 32, 32), 2),
    "timesformer_spaceonly": ((1, 2, 3, 4, 32, 32), 2),
    "vit_b16_videomae": ((1, 1, 3, 16, 32, 32), 1),
    "vit_l16_videomae": ((1, 1, 3, 16, 32, 32), 1),
    "vit_s16_videomaev2": ((1, 1, 3, 16, 32, 32), 1),
    "vit_b16_videomaev2": ((1, 1, 3, 16, 32, 32), 1),
    "swin3d_t": ((1, 2, 3, 4, 32, 32), 2),
    "mvitv2_s": ((1, 2, 3, 4, 32, 32), 2),
    "uniformer_s": ((1, 2, 3, 4, 32, 32), 2),
    "uniformerv2_b16": ((1, 2, 3, 4, 32, 32), 2),
    "r3d_18": ((2, 1, 3, 8, 32, 32), 2),
    "mc3_18": ((2, 1, 3, 8, 32, 32), 2),
    "r2plus1d_18": ((2, 1, 3, 8, 32, 32), 2),
    "mvit_v1_b": ((1, 2, 3, 4, 32, 32), 2),
    "s3d": ((2, 1, 3, 8, 32, 32), 2),
}


# The transformers' smoke, autocast and export tests run 2 of their blocks (identical
# blocks repeated: the same code and graph, a sixth to a twelfth of the time; MViT one
# block per scale); the parity test above runs them at full depth.
SHALLOW = {
    # Swin-T for 32 x 32 frames, one block a stage, 4 x 4 windows
    "tsn_timm": {
        "arch": "swin_tiny_patch4_window7_224",
        "img_size": 32,
        "window_size": 4,
        "depths": (1, 1, 1, 1),
    },
    **{n: {"num_transformer_layers": 2} for n in SMOKE_INPUTS if n.startswith("timesformer")},
    **{n: {"depth": 2} for n in SMOKE_INPUTS if n.startswith("vit_")},
    # MViT: one block per scale (a downscaling block each but the first)
    "mvitv2_s": {
        "arch": dict(embed_dims=96, num_layers=4, num_heads=1, downscale_indices=[1, 2, 3])
    },
    # MViTv1: one block per scale, the width doubled in each but the last (tables for 4 x 32)
    "mvit_v1_b": {"spatial_size": 32, "temporal_size": 4, "depth": 4, "scales": (1, 2, 3)},
    # UniFormerV2: 3 CLIP blocks with the local UniBlocks, 2 global ones, 32 x 32 frames
    "uniformerv2_b16": {
        "input_resolution": 32,
        "return_list": [1, 2],
        "mlp_dropout": [0.5, 0.5],
        "no_lmhra": False,
        "layers": 3,
    },
}


# Export inputs where the smoke input is too short for a dynamic clip length (I3D: 8
# frames reach a temporal size of 1, which torch.export specialises).
EXPORT_INPUTS = {"i3d_r50": (1, 3, 32, 32, 32)}
# Exported with dynamic axes in the zoo-wide test: one model of each kind of shape logic
# (2D with segments, with the temporal shift, with TIN's interlace, 3D, two pathways,
# resampled position embeddings, a fixed clip length); the others statically, as a
# dynamic export costs 3-4x a static one (torch.export's symbolic shapes: tsm_r50
# 46 s vs 13 s). Dynamic shapes go through the same export code for every model.
DYNAMIC_EXPORT = {
    "tsn_r18",
    "tsm_r18",
    "tin_r50",
    "i3d_r50",
    "slowfast_r50",
    "timesformer_divst",
    "vit_s16_videomaev2",
    "swin3d_t",
}


def test_every_registered_model_has_a_smoke_test():
    from actionkit.models.zoo import TEST_INPUTS

    # (the engine tests register a tiny model of their own; the zoo is TEST_INPUTS)
    assert set(TEST_INPUTS) <= set(models.list_models())
    # (the larger Swins and MViTs are the small ones' code with more blocks: their parity
    # tests run them)
    larger = {"tsn_r50", "tsn_r101", "swin3d_s", "swin3d_b", "swin3d_l", "mvitv2_b", "mvitv2_l"}
    larger |= {"uniformer_b", "uniformerv2_l14", "uniformerv2_l14_336", "slowonly_r101"}
    larger |= {"slowfast_r101_r50", "slowfast_r101_8x8", "tsm_r101", "ircsn_r50"}
    assert set(TEST_INPUTS) <= set(SMOKE_INPUTS) | larger


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n, zoo=True)) for n in SMOKE_INPUTS])
def test_smoke_forward_backward_compile(name):
    # Every model compiles Recognizer*.forward anew: start from an empty dynamo cache so
    # the models do not share its recompilation limit.
    torch._dynamo.reset()
    model = models.create(name, num_classes=4, **SHALLOW.get(name, {}))
    shape, rows = SMOKE_INPUTS[name]
    x = torch.randn(shape)
    out = model(x)
    assert out.shape == (rows, 4) and torch.isfinite(out).all()
    if getattr(model.neck, "aux_head", None) is not None:  # TPN: its auxiliary loss too
        labels = torch.arange(rows) % 4
        out = torch.stack(list(model.loss({"inputs": x, "label": labels}).values()))
    out.sum().backward()
    # (every trained parameter: TRN's partial BN fixes all BatchNorms but the first)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    assert model.predict(x).sum(1).sub(1).abs().max() < 1e-5  # probabilities


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_marks(n, zoo=True)) for n in sorted(SMOKE_INPUTS)]
)
def test_channels_last_and_bf16_autocast(name):
    # Same logits in channels-last memory format (the same arithmetic, other loops: float
    # rounding only); under bfloat16 autocast within bfloat16's precision (8 bits of
    # mantissa, errors growing over the depth: 5% of the logits' norm).
    torch.manual_seed(0)
    model = models.create(name, num_classes=5, **SHALLOW.get(name, {})).eval()
    x = torch.randn(SMOKE_INPUTS[name][0])
    with torch.no_grad():
        ref = model(x)
        fast = models.to_channels_last(copy.deepcopy(model))
        assert any(
            p.dim() >= 4 and not p.is_contiguous() for p in fast.parameters()
        )  # really converted
        torch.testing.assert_close(fast(x), ref, rtol=1e-4, atol=1e-5 * ref.abs().max().item())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = fast(x)
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).norm() <= 0.05 * ref.norm()
    # and a bf16 training step gives finite gradients in both memory formats, on every CPU:
    # where oneDNN's bf16 Conv3d weight gradient is broken (tests/test_amp.py), the zoo's
    # actionkit.amp.Conv3d layers train in float32
    for m in (model, fast):
        m.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            m(x).float().logsumexp(1).sum().backward()
        bad = [
            n
            for n, p in m.named_parameters()
            # (TPN's auxiliary head is trained through loss(): the smoke test checks it)
            if p.grad is not None and not torch.isfinite(p.grad).all()
        ]
        assert not bad, f"non-finite gradients in {bad}"


@pytest.mark.parametrize("name,slow_t", [("slowfast_r50", 4), ("slowfast_r50_8x8", 8)])
def test_slowfast_pathway_shapes(name, slow_t):
    backbone = models.create(name, num_classes=2).backbone.eval()
    with torch.no_grad():
        slow, fast = backbone(torch.randn(1, 3, 32, 32, 32))
    # Slow: every tau-th frame, 2048 channels; fast: all 32 frames, 2048 / 8 channels.
    assert slow.shape == (1, 2048, slow_t, 1, 1) and fast.shape == (1, 256, 32, 1, 1)
    # Stage inputs of the slow pathway widened by the lateral fusion (2 * C_fast).
    assert backbone.slow_path.layer1[0].conv1.conv.in_channels == 64 + 16
    assert backbone.slow_path.layer4[0].conv1.conv.in_channels == 1024 + 256


def test_convert_cli(tmp_path, capsys):
    from actionkit.cli.convert import main

    fixture = torch.load(FIXTURES / "tsn_r18.pt", weights_only=True)
    ckpt = mmaction_checkpoint(fixture, tmp_path / "mm.pth")
    out = tmp_path / "ak.pth"
    assert main(["mmaction", str(ckpt), str(out), "--model", "tsn_r18"]) == 0
    assert "wrote" in capsys.readouterr().out
    payload = torch.load(out, weights_only=True)
    assert set(payload) == {"actionkit", "model", "arch"} and payload["arch"] == "tsn_r18"
    model = models.create("tsn_r18", num_classes=7, checkpoint=out).eval()
    with torch.no_grad():
        logits = model(make_input(fixture["input_shape"]))
    assert (logits - fixture["logits"]).abs().max() <= 1e-4
    assert main(["mmaction", str(ckpt), str(tmp_path / "bad.pth"), "--model", "tsn_r50"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("actionkit-convert: error: ") and "does not fit model tsn_r50" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.pth").exists()
    assert main(["mmaction", str(tmp_path / "missing.pth"), str(out)]) == 1
    assert "missing.pth: no such checkpoint" in capsys.readouterr().err


@pytest.mark.slow  # about 3 minutes for the zoo
@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in sorted(SMOKE_INPUTS)])
def test_onnx_export_runs_in_onnxruntime(name, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from actionkit.models.export import FIXED_INPUT, export_onnx, export_program

    model = models.create(name, num_classes=5, **SHALLOW.get(name, {})).eval()
    shape = (1, *EXPORT_INPUTS.get(name, SMOKE_INPUTS[name][0][1:]))
    dynamic = name in DYNAMIC_EXPORT
    # the static 2D exports without the exporter's graph optimisation (what they check is
    # the ops' translation; 2-4x faster); the dynamic ones as actionkit-export makes them,
    # and the 3D ones too (the unoptimised graph of a Conv3d without bias gives its Conv
    # node a bias onnxruntime refuses: torch 2.14's exporter)
    optimize = dynamic or any(isinstance(m, torch.nn.Conv3d) for m in model.modules())
    path = tmp_path / "m.onnx"
    axes = export_onnx(model, torch.randn(shape), path, dynamic=dynamic, optimize=optimize)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    # any batch; any clip length and frame size but where the model fixes them
    tries = [shape, (3, *shape[1:])] if dynamic else [shape]
    other = (*shape[:-3], 2 * shape[-3], shape[-2] + 16, shape[-1] + 16)
    if len(shape) == 5:  # [B, segments, 3, H, W]
        other = (*shape[:-2], shape[-2] + 16, shape[-1] + 32)
    fixed_frames = getattr(model.backbone, "fixed_frames", None)
    if fixed_frames:  # a clip length the model fixes stays as it is
        other = (*other[:-3], shape[-3], *other[-2:])
    fixed_size = getattr(model.backbone, "fixed_size", False)
    if dynamic:  # batch, (T,) H, W
        free = 1 if name in FIXED_INPUT or fixed_size else len(shape) - 2 - bool(fixed_frames)
        assert len(axes) == free
    if dynamic and name not in FIXED_INPUT and not fixed_size:
        tries.append(other)
    for size in tries:
        x = torch.randn(size)
        out = session.run(None, {"inputs": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x)
        assert abs(out - ref.numpy()).max() < 1e-4, size
    x = torch.randn(shape)
    ops = {n.target for n in export_program(model, x).graph.nodes if n.op == "call_function"}
    assert not any("actionkit" in str(op) for op in ops)  # standard ops only


def test_export_cli(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from actionkit.cli.export import main

    model = models.create("tsn_r18", num_classes=3)  # (its export: 5 s; tsm_r50's: 60 s)
    ckpt = tmp_path / "tsm.pth"
    torch.save({"actionkit": "0.1.0", "model": model.state_dict(), "arch": "tsn_r18"}, ckpt)
    assert (
        main([str(ckpt), "--onnx", str(tmp_path / "tsm.onnx"), "--input-shape", "8,3,32,32"]) == 0
    )
    assert "onnxruntime vs PyTorch" in capsys.readouterr().out
    # bad input: one line naming the file or the mismatch, exit status 1
    assert main([str(tmp_path / "none.pth"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("actionkit-export: error: ") and "none.pth: no such checkpoint" in err
    args = [str(ckpt), "--model", "tsn_r50", "--onnx", str(tmp_path / "y.onnx")]
    assert main(args) == 1
    assert "is a checkpoint of tsn_r18, the model is tsn_r50" in capsys.readouterr().err
    assert not (tmp_path / "y.onnx").exists()
