"""Writes MMAction2 1.2.0 parity fixtures to tests/fixtures/mmaction/ (run it with the
side venv's python, see dev/PARITY.md; never imported by actionkit):

    /path/to/peers/venv/bin/python dev/mmaction_fixtures.py [NAME ...]

For each model: MMAction2 builds it from its zoo config (no pretrained weights), loads
deterministic weights from tests/parity_weights.py, and records the raw head logits
``model(x, mode="tensor", stage="head")`` in eval mode for a seeded input. The fixture
holds key names, shapes, the input shape and the logits — a few KB — and the test
rebuilds the weights.
"""

import contextlib
import os
import sys
import zlib
from pathlib import Path

import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import mmaction  # noqa: E402
from mmaction.registry import MODELS  # noqa: E402
from mmaction.utils import register_all_modules  # noqa: E402
from parity_weights import make_input, make_state, probe  # noqa: E402

CONFIGS = Path(mmaction.__file__).parent / ".mim" / "configs" / "recognition"


def _whole_tin_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """mmcv's ``tin_shift`` (CUDA kernels only) for MMAction2's TIN on the CPU, written
    from its published semantics and loop by loop: ``x [N, T, C, HW]``, int ``shift
    [N, G]``; channel group g of sample n moves ``shift[n, g]`` frames later
    (``out[t + s] = x[t]``), zeros where nothing lands. (actionkit's op equals mmcv's
    outputs on mmcv's own test data: tests/test_tin_shift.py.)"""
    n, t, c, _ = x.shape
    groups = shift.shape[1]
    size = c // groups
    out = torch.zeros_like(x)
    for i in range(n):
        for g in range(groups):
            s = int(shift[i, g])
            for j in range(t):
                if 0 <= j + s < t:
                    out[i, j + s, g * size : (g + 1) * size] = x[i, j, g * size : (g + 1) * size]
    return out


@contextlib.contextmanager
def _recorded_choices():
    """Seeds numpy's global generator and records what ``np.random.choice`` returns
    (TRN's relation draws) as lists."""
    import numpy as np

    np.random.seed(0)
    choice, drawn = np.random.choice, []

    def recording(*args, **kwargs):
        out = choice(*args, **kwargs)
        drawn.append([int(i) for i in out])
        return out

    np.random.choice = recording
    try:
        yield drawn
    finally:
        np.random.choice = choice


def _install_tin_shift() -> None:
    """MMAction2's linear_sampler imports ``mmcv.ops.tin_shift`` when called: give it the
    loop above (mmcv-lite has no ops; full mmcv has no CPU kernel for this one)."""
    import types

    try:
        import mmcv.ops as ops
    except ImportError:
        ops = sys.modules["mmcv.ops"] = types.ModuleType("mmcv.ops")
    ops.tin_shift = _whole_tin_shift


# name -> (config, input shape, overrides)
TSN_R50 = "tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py"
TSM_R50 = "tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py"
TIMESFORMER = "timesformer/timesformer_%s_8xb8-8x32x1-15e_kinetics400-rgb.py"
VIDEOMAE = "videomae/vit-%s-p16_videomae-k400-pre_16x4x1_kinetics-400.py"
VIDEOMAEV2 = "videomaev2/vit-%s-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py"
SMALL_CLIP = {"img_size": 64, "num_frames": 4}
SWIN = "swin/swin-%s-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py"
SWIN_B = SWIN % "base"
MVIT = "mvit/mvit-%s.py"
MVIT_S = MVIT % "small-p244_32xb16-16x4x1-200e_kinetics400-rgb"
MVIT_CLIP = {"spatial_size": 64, "temporal_size": 4}
UNIFORMER = "uniformer/uniformer-%s_imagenet1k-pre_16x4x1_kinetics400-rgb.py"
UNIFORMERV2 = "uniformerv2/uniformerv2-%s_clip-kinetics710-pre_%s_kinetics400-rgb.py"
NL_ONE_BLOCK = ((0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 0, 0, 0), (0, 0, 0))
I3D_NL = "i3d/i3d_imagenet-pretrained-r50-nl-%s_8xb8-32x2x1-100e_kinetics400-rgb.py"
# name -> (config, input shape, backbone overrides, head overrides)
MODELS_TO_FIX = {
    # PoseC3D: one architecture for keypoint and limb heatmaps (17 channels each)
    "posec3d_r50": (
        "../skeleton/posec3d/slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint.py",
        (1, 2, 17, 8, 32, 32),
        {},
        {},
    ),
    "tsn_r18": (TSN_R50, (2, 8, 3, 64, 64), {"depth": 18}, {"in_channels": 512}),
    "tsn_r50": (TSN_R50, (2, 8, 3, 64, 64), {}, {}),
    "tsn_r101": (
        "tsn/tsn_imagenet-pretrained-r101_8xb32-1x1x8-100e_kinetics400-rgb.py",
        (1, 3, 3, 64, 64),
        {},
        {},
    ),
    "tsm_r18": (TSM_R50, (1, 8, 3, 64, 64), {"depth": 18}, {"in_channels": 512}),
    "tsm_r50": (TSM_R50, (2, 16, 3, 64, 64), {}, {}),
    "tsm_mobilenetv2": (
        "tsm/tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    "tanet_r50": (
        "tanet/tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb.py",
        (2, 8, 3, 64, 64),
        {},
        {},
    ),
    # TSN over torchvision's DenseNet-161 (MMAction2's custom backbones; a side venv with
    # torchvision: torch 2.14.1 + torchvision 0.29.1, dev/PARITY.md)
    "tsn_torchvision": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e_kinetics400-rgb.py",
        (1, 3, 3, 64, 64),
        {},
        {},
    ),
    # TSN over timm's Swin-B (channels-last features; timm 1.0.31 in that venv)
    "tsn_timm": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-swin-transformer_8xb32-1x1x3-100e_kinetics400-rgb.py",
        (1, 2, 3, 224, 224),
        {},
        {},
    ),
    # TSN over mmcls's ResNeXt-101 32x4d (built as mmpretrain.ResNeXt: mmcls's successor,
    # the same module and names; mmcls 1.x does not install beside MMAction2 1.2.0) and
    # mmpretrain's MobileOne-S4, training and deployed forms; TSM's MobileOne (16 segments
    # in the head, the backbone's shift left at 8 as MMAction2's config has it). mmpretrain
    # 1.2.0 in the torch 2.14.1 + torchvision side venv (dev/PARITY.md).
    "tsn_resnext101_32x4d": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_kinetics400-rgb.py",
        (1, 3, 3, 64, 64),
        {},
        {},
    ),
    "tsn_mobileone_s4": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    "tsn_mobileone_s4_deploy": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-mobileone-s4_deploy_8xb32-1x1x8-100e_kinetics400-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    "tsm_mobileone_s4": (
        "tsm/tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb.py",
        (1, 16, 3, 64, 64),
        {},
        {},
    ),
    "tsm_mobileone_s4_deploy": (
        "tsm/tsm_imagenet-pretrained-mobileone-s4_deploy_8xb16-1x1x16-50e_kinetics400-rgb.py",
        (1, 16, 3, 64, 64),
        {},
        {},
    ),
    "tsm_r50_block": (TSM_R50, (1, 8, 3, 64, 64), {"shift_place": "block"}, {}),
    # R101: 23 blocks in res4, the shift in every other one
    "tsm_r101": (
        "tsm/tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    # its offsets come out fractional from the seeded weights: the interpolating shift
    # the multi-scale relation head draws its frame tuples with np.random.choice at every
    # forward: the draws are recorded with the logits ("relations")
    "trn_r50": (
        "trn/trn_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv1-rgb.py",
        (2, 8, 3, 64, 64),
        {},
        {},
    ),
    # audio: log-mel spectrogram clips [N, V, 1, T, 80] (the configs' 128 rows)
    "tsn_r18_audio": (
        "../recognition_audio/resnet/tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature.py",
        (2, 1, 1, 64, 40),
        {},
        {},
    ),
    "audioonly_r50": (
        "../recognition_audio/audioonly/audioonly_r50_8xb160-64x1x1-100e_kinetics400-audio-feature.py",
        (1, 2, 1, 32, 40),
        {},
        {},
    ),
    # TPN: the neck on stages 3 and 4; these fixtures also hold the training losses in
    # eval mode (loss_cls, and loss_aux of the auxiliary head) for labels LOSS_LABELS
    "tpn_tsm_r50": (
        "tpn/tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb.py",
        (2, 8, 3, 64, 64),
        {},
        {},
    ),
    "tpn_slowonly_r50": (
        "tpn/tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb.py",
        (2, 1, 3, 8, 64, 64),
        {},
        {},
    ),
    "tin_r50": (
        "tin/tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv1-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    # non-local blocks: I3D-NL in each of mmcv's modes, TSM-NL, SlowOnly-NL (scaled). The
    # dot products are not normalised: through five blocks the seeded weights grow them
    # past float64's range, so that fixture keeps one block (the others keep all five)
    **{
        f"i3d_nl_{mode}_r50": (
            I3D_NL % mode.replace("_", "-"),
            (1, 1, 3, 8, 64, 64),
            {"non_local": NL_ONE_BLOCK} if mode == "dot_product" else {},
            {},
        )
        for mode in ("dot_product", "embedded_gaussian", "gaussian")
    },
    "tsm_nl_r50": (
        "tsm/tsm_imagenet-pretrained-r50-nl-embedded-gaussian_8xb16-1x1x8-50e_kinetics400-rgb.py",
        (1, 8, 3, 64, 64),
        {},
        {},
    ),
    "slowonly_nl_r50": (
        "slowonly/slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_kinetics400-rgb.py",
        (1, 1, 3, 4, 64, 64),
        {},
        {},
    ),
    "i3d_r50": (
        "i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py",
        (2, 1, 3, 8, 64, 64),
        {},
        {},
    ),
    "slowfast_r50": (
        "slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py",
        (1, 2, 3, 16, 64, 64),
        {},
        {},
    ),
    "slowfast_r50_8x8": (
        "slowfast/slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb.py",
        (1, 1, 3, 16, 64, 64),
        {},
        {},
    ),
    "c3d": (
        "c3d/c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb.py",
        (1, 1, 3, 16, 112, 112),
        {},
        {},
    ),
    "r2plus1d_r34": (
        "r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py",
        (1, 1, 3, 8, 64, 64),
        {},
        {},
    ),
    "ircsn_r152": ("csn/ircsn_r152_32x2x1-180e_kinetics400-rgb.py", (1, 1, 3, 8, 32, 32), {}, {}),
    "ipcsn_r152": ("csn/ipcsn_r152_32x2x1-180e_kinetics400-rgb.py", (1, 1, 3, 8, 32, 32), {}, {}),
    "ircsn_r50": (
        "csn/ircsn_ig65m-pretrained-r50-bnfrozen_8xb12-32x2x1-58e_kinetics400-rgb.py",
        (1, 1, 3, 8, 64, 64),
        {},
        {},
    ),
    "c2d_r50": (
        "c2d/c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb.py",
        (1, 2, 3, 4, 64, 64),
        {},
        {},
    ),
    "x3d_s": ("x3d/x3d_s_13x6x1_facebook-kinetics400-rgb.py", (1, 1, 3, 4, 64, 64), {}, {}),
    "slowfast_r101_r50": (
        "slowfast/slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb.py",
        (1, 1, 3, 16, 64, 64),
        {},
        {},
    ),
    "slowfast_r101_8x8": (
        "slowfast/slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb.py",
        (1, 1, 3, 16, 64, 64),
        {},
        {},
    ),
    "slowonly_r101": (
        "slowonly/slowonly_r101_8xb16-8x8x1-196e_kinetics400-rgb.py",
        (1, 1, 3, 8, 64, 64),
        {},
        {},
    ),
    "slowonly_r50": (
        "slowonly/slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e_kinetics400-rgb.py",
        (1, 2, 3, 4, 64, 64),
        {},
        {},
    ),
    # Transformers at their full width and depth on small clips: 64 x 64 frames are 4 x 4
    # patches (the position tables sized for them), 4 frames.
    "timesformer_divst": (TIMESFORMER % "divST", (1, 2, 3, 4, 64, 64), SMALL_CLIP, {}),
    "timesformer_jointst": (TIMESFORMER % "jointST", (2, 1, 3, 4, 64, 64), SMALL_CLIP, {}),
    "timesformer_spaceonly": (TIMESFORMER % "spaceOnly", (1, 2, 3, 4, 64, 64), SMALL_CLIP, {}),
    "vit_b16_videomae": (VIDEOMAE % "base", (1, 2, 3, 4, 64, 64), SMALL_CLIP, {}),
    # a 96 x 96 clip on tables for 64 x 64: the position embedding resampled bicubically
    "vit_b16_videomae_96": (VIDEOMAE % "base", (1, 1, 3, 4, 96, 96), SMALL_CLIP, {}),
    "vit_l16_videomae": (VIDEOMAE % "large", (1, 1, 3, 4, 64, 64), SMALL_CLIP, {}),
    "vit_s16_videomaev2": (VIDEOMAEV2 % "small", (1, 2, 3, 4, 64, 64), SMALL_CLIP, {}),
    # 16 frames of 64 x 64: 8 x 16 x 16 tokens, full 8 x 7 x 7 windows (shifted ones and
    # zero-padded partial ones); then 4 frames of 48 x 80: windows clipped in time
    "swin3d_t": (SWIN % "tiny", (1, 2, 3, 16, 64, 64), {}, {}),
    "swin3d_t_small_clip": (SWIN % "tiny", (1, 1, 3, 4, 48, 80), {}, {}),
    "swin3d_s": (SWIN % "small", (1, 1, 3, 16, 64, 64), {}, {}),
    "swin3d_b": (SWIN_B, (1, 1, 3, 16, 64, 64), {}, {}),
    "swin3d_l": (
        "swin/swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py",
        (1, 1, 3, 16, 64, 64),
        {},
        {},
    ),
    # relative tables for 4 x 64 x 64 clips (a 2 x 16 x 16 grid: k and v pooled to 2 x 2
    # at every scale); then 8 x 96 x 96 on the same tables: the tables resampled, odd
    # grids (24 -> 12 -> 6 -> 3; k and v 3 x 3) and q / k of different lengths
    "mvitv2_s": (MVIT_S, (1, 2, 3, 4, 64, 64), MVIT_CLIP, {}),
    "mvitv2_s_96": (MVIT_S, (1, 1, 3, 8, 96, 96), MVIT_CLIP, {}),
    "mvitv2_b": (MVIT % "base-p244_32x3x1_kinetics400-rgb", (1, 1, 3, 4, 64, 64), MVIT_CLIP, {}),
    "mvitv2_l": (MVIT % "large-p244_40x3x1_kinetics400-rgb", (1, 1, 3, 4, 64, 64), MVIT_CLIP, {}),
    # 8 x 96 x 96: stages of 4 x 24 x 24 ... 4 x 3 x 3 (attention over 144 and 36 tokens)
    "uniformer_s": (UNIFORMER % "small", (1, 2, 3, 8, 96, 96), {}, {}),
    "uniformer_b": (UNIFORMER % "base", (1, 1, 3, 8, 96, 96), {}, {}),
    # position tables for 2 x 2 patches (32 x 32 frames at p16, 28 x 28 at p14), 4 frames
    # (MMAction2 fixes the clip length to t_size); then B/16 with the local UniBlocks,
    # which no MMAction2 config turns on
    "uniformerv2_b16": (
        UNIFORMERV2 % ("base-p16-res224", "8xb32-u8"),
        (1, 2, 3, 4, 32, 32),
        {"input_resolution": 32, "t_size": 4},
        {"channel_map": None},
    ),
    "uniformerv2_b16_lmhra": (
        UNIFORMERV2 % ("base-p16-res224", "8xb32-u8"),
        (1, 1, 3, 4, 32, 32),
        {"input_resolution": 32, "t_size": 4, "no_lmhra": False},
        {"channel_map": None},
    ),
    "uniformerv2_l14": (
        UNIFORMERV2 % ("large-p14-res224", "u8"),
        (1, 1, 3, 4, 28, 28),
        {"input_resolution": 28, "t_size": 4},
        {},
    ),
}
NUM_CLASSES = 7
LOSS_LABELS = [3, 5]


def build(config: str, backbone: dict, head: dict):
    cfg = Config.fromfile(CONFIGS / config)
    model_cfg = cfg.model
    if str(model_cfg.backbone.type).startswith("torchvision."):
        model_cfg.backbone.pop("pretrained", None)  # (True: a download; gone in torchvision 0.17)
    elif str(model_cfg.backbone.type).startswith("timm."):
        model_cfg.backbone.pretrained = False  # (True: a download)
    elif str(model_cfg.backbone.type).startswith(("mmcls.", "mmpretrain.", "MobileOneTSM")):
        model_cfg.backbone.pop("init_cfg", None)  # (a download; no `pretrained` argument)
        model_cfg.backbone.type = model_cfg.backbone.type.replace("mmcls.", "mmpretrain.")
        if model_cfg.backbone.type == "MobileOneTSM":
            model_cfg.backbone.pretrained2d = False
    else:
        model_cfg.backbone.pretrained = None
    if model_cfg.backbone.type in (
        "ResNetTSM",
        "ResNetTIN",
        "MobileNetV2TSM",
        "ResNet3d",
        "ResNet3dSlowOnly",
    ):
        model_cfg.backbone.pretrained2d = False
    if (model_cfg.backbone.get("norm_cfg") or {}).get("type") == "SyncBN":
        model_cfg.backbone.norm_cfg.type = "BN3d"  # one CPU process: same arithmetic
    if model_cfg.backbone.type == "ResNet3dSlowFast":
        model_cfg.backbone.slow_pathway.pretrained2d = False
        model_cfg.backbone.fast_pathway.pretrained2d = False
    model_cfg.backbone.update(backbone)
    model_cfg.cls_head.update(head, num_classes=NUM_CLASSES)
    if (model_cfg.get("neck") or {}).get("aux_head_cfg"):
        model_cfg.neck.aux_head_cfg.out_channels = NUM_CLASSES
    return MODELS.build(model_cfg)


def eval_losses(model, x: torch.Tensor) -> dict:
    """``model.loss`` in eval mode (no dropout, BatchNorm's running statistics) for the
    labels LOSS_LABELS: its ``loss...`` entries."""
    from mmaction.structures import ActionDataSample

    samples = [ActionDataSample().set_gt_label(label) for label in LOSS_LABELS]
    with torch.no_grad():
        losses = model(x, samples, mode="loss")
    return {k: v for k, v in losses.items() if k.startswith("loss")}


# pipeline steps that read files (decoders): not part of a recipe's arithmetic
_LOADERS = {
    "DecordInit", "DecordDecode", "PyAVInit", "PyAVDecode", "OpenCVInit", "OpenCVDecode",
    "RawFrameDecode", "PackActionInputs", "LoadAudioFeature", "FormatAudioShape",
    "PackLocalizationInputs", "LoadLocalizationFeature",
}  # fmt: skip


def _plain(value):
    """Config values as JSON: tuples as lists, ConfigDicts as dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _lr_by_epoch(cfg, epochs: int) -> list[float]:
    """The lr factor at the start of every epoch under the config's param_scheduler
    (mmengine's schedulers stepped once an epoch, as its runner does for by_epoch ones)."""
    import mmengine.optim.scheduler  # noqa: F401  (registers them)
    from mmengine.registry import PARAM_SCHEDULERS

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    specs = cfg.get("param_scheduler") or []
    specs = specs if isinstance(specs, list) else [specs]
    if any(not s.get("by_epoch", True) or s.get("convert_to_iter_based") for s in specs):
        return []  # per-iteration schedules: not compared epoch by epoch
    schedulers = [PARAM_SCHEDULERS.build({**dict(s), "optimizer": opt}) for s in specs]
    out = []
    for _ in range(epochs):
        out.append(round(opt.param_groups[0]["lr"], 9))
        for s in schedulers:
            s.step()
    return out


def recipe_cases() -> dict:
    """Every MMAction2 1.2.0 zoo config's recipe, what actionkit's configs that name one
    must restate (tests/test_recipes.py): per split the sampler, the pipeline (loaders
    dropped) and the batch size; the optimizer; gradient clipping; the epochs; and the lr
    factor at the start of each epoch under its param_scheduler."""
    root = CONFIGS.parent
    recipes = {}
    for path in sorted(root.rglob("*.py")):
        rel = str(path.relative_to(root))
        if "_base_" in rel or not rel.startswith(
            ("recognition", "skeleton", "detection", "localization")
        ):
            continue
        try:
            cfg = Config.fromfile(path)
        except Exception as e:  # (a config whose imports need what the wheel lacks)
            print("skipped", rel, type(e).__name__, e)
            continue
        recipe = {"splits": {}}
        for split in ("train", "val", "test"):
            loader = cfg.get(f"{split}_dataloader")
            if not loader:
                continue
            if isinstance(loader, tuple):  # (a stray comma in the config)
                loader = loader[0]
            dataset, repeat = loader.dataset, 1
            while "dataset" in dataset or "datasets" in dataset:  # wrappers: the first
                repeat *= dataset.get("times", 1)  # RepeatDataset
                dataset = dataset.get("dataset") or dataset.datasets[0]
            steps = [dict(t) for t in dataset.get("pipeline", []) if t["type"] not in _LOADERS]
            samplers = ("SampleFrames", "UniformSample", "UniformSampleFrames")
            sampler = next((t for t in steps if t["type"].endswith(samplers)), None)
            recipe["splits"][split] = {
                "batch_size": loader.get("batch_size"),
                "repeat": repeat,
                "sampler": _plain(sampler),
                "pipeline": _plain([t for t in steps if t is not sampler]),
            }
        optim = cfg.get("optim_wrapper") or {}
        recipe["optimizer"] = _plain(optim.get("optimizer"))
        recipe["clip_grad"] = _plain(optim.get("clip_grad"))
        recipe["paramwise_cfg"] = _plain(optim.get("paramwise_cfg"))
        train_cfg = cfg.get("train_cfg") or {}
        epochs = train_cfg.get("max_epochs")
        recipe["epochs"] = epochs
        recipe["lr_by_epoch"] = _lr_by_epoch(cfg, epochs) if epochs else []
        schedulers = cfg.get("param_scheduler") or []
        recipe["param_scheduler"] = _plain(
            schedulers if isinstance(schedulers, list) else [schedulers]
        )
        model = cfg.get("model") or {}
        head = model.get("cls_head") or {}
        recipe["num_classes"] = head.get("num_classes")
        backbone = model.get("backbone") or {}
        recipe["pretrained"] = _plain(backbone.get("pretrained"))
        recipe["dropout"] = head.get("dropout_ratio")
        recipe["norm_eval"] = backbone.get("norm_eval", False)
        recipe["bn_frozen"] = backbone.get("bn_frozen", False)
        recipe["num_segments"] = backbone.get("num_segments", head.get("num_segments"))
        pre = model.get("data_preprocessor") or {}
        recipe["mean_std"] = _plain([pre.get("mean"), pre.get("std")])
        recipe["auto_scale_lr"] = _plain(cfg.get("auto_scale_lr"))
        recipes[rel] = recipe
    print(len(recipes), "recipes")
    return {"mmaction": mmaction.__version__, "recipes": recipes}


def confusion_cases() -> dict:
    """Seeded labels and predictions (a class never predicted, one never present) and
    MMAction2's ``confusion_matrix`` of them, counts and normalised each way."""
    import numpy as np
    from mmaction.evaluation.functional import confusion_matrix

    rng = np.random.default_rng(11)
    labels = rng.integers(0, 6, 60)  # class 6 of 7 never occurs
    preds = np.where(rng.random(60) < 0.6, labels, rng.integers(0, 7, 60))
    preds[preds == 3] = 4  # class 3 never predicted
    out = {"labels": labels.tolist(), "preds": preds.tolist(), "num_classes": 7}
    for normalize in (None, "true", "pred", "all"):
        # (its matrix covers the classes that occur in either list: 0-6 here)
        out[str(normalize)] = torch.from_numpy(confusion_matrix(preds, labels, normalize))
    return out


def metric_cases() -> dict:
    """Seeded random predictions (with ties) and MMAction2's functional metrics on them."""
    import numpy as np
    from mmaction.evaluation.functional import (
        mean_average_precision,
        mean_class_accuracy,
        mmit_mean_average_precision,
        top_k_accuracy,
    )

    rng = np.random.default_rng(5)
    cases = []
    for n, k in [(50, 10), (200, 30), (7, 5)]:
        scores = rng.standard_normal((n, k)).round(1)  # rounding makes ties
        labels = rng.integers(0, k - 1, size=n)  # class k-1 only ever predicted
        multi = (rng.random((n, k)) < 0.3).astype(np.int64)
        multi[:, 0] = 0  # a class without positives
        multi[0] = 0
        multi[0, 1] = 1  # every sample has a positive (mmit-mAP needs one)
        multi[multi.sum(1) == 0, 2] = 1
        cases.append(
            {
                "scores": torch.from_numpy(scores),
                "labels": torch.from_numpy(labels),
                "multi": torch.from_numpy(multi),
                "top_k": [float(v) for v in top_k_accuracy(list(scores), list(labels), (1, 3, 5))],
                "mean_class": float(mean_class_accuracy(list(scores), list(labels))),
                "map": float(mean_average_precision(list(scores), list(multi))),
                "mmit_map": float(mmit_mean_average_precision(list(scores), list(multi))),
            }
        )
    return {"mmaction": mmaction.__version__, "cases": cases}


def op_cases() -> dict:
    """What MMAction2 1.2.0 (and, where full mmcv is installed, mmcv's compiled ops) compute
    for the ops actionkit re-implements, on seeded inputs: the TSM shift, BMN's sample-mask
    matmul, temporal soft-NMS, the AVA RoI extractor and mmcv's soft_nms."""
    import numpy as np
    from mmaction.models.backbones.resnet_tsm import TemporalShift
    from mmaction.models.localizers import BMN
    from mmaction.models.localizers.utils.proposal_utils import soft_nms as temporal_soft_nms

    gen = torch.Generator().manual_seed(11)
    cases: dict = {"mmaction": mmaction.__version__}
    x = torch.randn(16, 24, 3, 5, generator=gen)  # N=2 clips of T=8
    cases["temporal_shift"] = [
        {"x": x, "num_segments": 8, "shift_div": d, "out": TemporalShift.shift(x, 8, d)}
        for d in (8, 3)
    ]

    bmn = []
    for t, s in [(5, 1), (16, 8), (40, 32), (100, 32)]:
        model = BMN(t, 0.5, s, 3, 4, 0.4, 0.5, 0.9, 100)
        f = torch.randn(1, 2, t, generator=gen)
        with torch.no_grad():  # BMN.forward's sampling step, as it is written there
            y = torch.matmul(f, model.sample_mask).reshape(1, 2, s, t, t)
        case = {"frames": t, "samples": s, "x": f, "by_duration": y.sum(4)}
        if t <= 16:
            case["out"] = y
        else:  # a random projection per channel pins every mask entry in a few bytes
            probe = torch.randn(s, t, t, generator=torch.Generator().manual_seed(t))
            case |= {"probe_seed": t, "projection": (y * probe).sum((2, 3, 4))}
        bmn.append(case)
    cases["bm_sampling"] = bmn

    rng = np.random.default_rng(3)
    tsn = []
    for k, top_k in [(60, 20), (400, 100)]:
        start = rng.random(k) * 0.8
        proposals = np.stack([start, start + rng.random(k) * 0.4, rng.random(k)], 1)
        out = temporal_soft_nms(proposals.copy(), 0.4, 0.5, 0.9, top_k)
        tsn.append({"proposals": torch.from_numpy(proposals), "top_k": top_k, "out": out})
    cases["temporal_soft_nms"] = tsn

    try:
        import mmcv
        from mmaction.models.roi_heads.roi_extractors import SingleRoIExtractor3D
        from mmcv.ops import soft_nms
    except ImportError:  # mmcv-lite: no compiled ops
        return cases
    cases["mmcv"] = mmcv.__version__
    xy = torch.rand(200, 2, generator=gen) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=gen) * 40], 1)
    scores = torch.rand(200, generator=gen)
    cases["soft_nms"] = []
    for method in ("linear", "gaussian", "naive"):
        for offset in (0, 1):
            dets, keep = soft_nms(boxes, scores, 0.3, 0.5, 1e-3, method, offset)
            cases["soft_nms"].append(
                {
                    "boxes": boxes,
                    "scores": scores,
                    "method": method,
                    "offset": offset,
                    "dets": dets,
                    "keep": keep,
                }
            )
    feat = torch.randn(2, 4, 4, 16, 16, generator=gen)
    xy = torch.rand(6, 2, generator=gen) * 200 - 20  # some boxes leave the frame
    rois = torch.cat(
        [
            torch.tensor([0, 1, 1, 0, 1, 0.0])[:, None],
            xy,
            xy + torch.rand(6, 2, generator=gen) * 120,
        ],
        1,
    )
    rois[5, 3:] = rois[5, 1:3]  # a zero-size box
    cases["roi_extractor"] = []
    for pool in (True, False):
        extractor = SingleRoIExtractor3D(output_size=7, with_temporal_pool=pool)
        out, _ = extractor(feat, rois)
        cases["roi_extractor"].append(
            {"feat": feat, "rois": rois, "temporal_pool": pool, "out": out}
        )
    return cases


# name -> (config, where `pretrained` goes) for the inflation fixture
PRETRAINED = {
    "tsn_r50": (TSN_R50, "backbone"),
    "tsm_r50": (TSM_R50, "backbone"),
    "c2d_r50": ("c2d/c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb.py", "backbone"),
    "i3d_r50": (MODELS_TO_FIX["i3d_r50"][0], "backbone"),
    "slowonly_r50": (MODELS_TO_FIX["slowonly_r50"][0], "backbone"),
    # the fast pathway cannot take ImageNet weights (MMAction2 raises in expand_as)
    "slowfast_r50": (MODELS_TO_FIX["slowfast_r50"][0], "backbone.slow_pathway"),
}


def pretrained_cases() -> dict:
    """MMAction2's own loading of a torchvision-layout ResNet-50 (seeded weights from
    tests/parity_weights.py) into each model's backbone: ``_load_torchvision_checkpoint``
    for TSN/C2D, ``load_original_weights`` for TSM, ``inflate_weights`` for I3D /
    SlowOnly / SlowFast's slow pathway. Per backbone key: whether the file determined it
    (equal after two builds under different seeds) and a probe of its value."""
    import tempfile

    from mmaction.models.backbones import ResNet

    shapes = []
    for key, value in ResNet(depth=50).state_dict().items():
        module, param = key.rsplit(".", 1)
        parent, leaf = module.rsplit(".", 1)  # parent: the ConvModule's name
        if "downsample" in parent:
            name = f"{parent}.{'0' if leaf == 'conv' else '1'}"
        else:
            name = parent if leaf == "conv" else parent.replace("conv", "bn")
        shapes.append((f"{name}.{param}", tuple(value.shape)))
    shapes += [("fc.weight", (1000, 2048)), ("fc.bias", (1000,))]
    seed = 7
    cases = {"mmaction": mmaction.__version__, "shapes": shapes, "seed": seed, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50_torchvision.pth")
        torch.save(make_state(shapes, seed), path)
        for name, (config, where) in PRETRAINED.items():
            states = []
            for build_seed in (1, 2):
                torch.manual_seed(build_seed)
                cfg = Config.fromfile(CONFIGS / config).model
                cfg.backbone.pretrained = None
                if cfg.backbone.type == "ResNet3dSlowFast":
                    cfg.backbone.fast_pathway.pretrained = None
                target = cfg
                for part in where.split("."):
                    target = target[part]
                target.pretrained = path
                if (cfg.backbone.get("norm_cfg") or {}).get("type") == "SyncBN":
                    cfg.backbone.norm_cfg.type = "BN3d"
                cfg.cls_head.num_classes = NUM_CLASSES
                model = MODELS.build(cfg)
                model.backbone.init_weights()
                states.append(model.backbone.state_dict())
            first, second = states
            from_file = [
                k
                for k, v in first.items()
                if not k.endswith("num_batches_tracked") and torch.equal(v, second[k])
            ]
            probes = {k: probe(k, v) for k, v in first.items() if k in from_file}
            cases["models"][name] = {"config": config, "from_file": from_file, "probes": probes}
            print(name, f"{len(from_file)} of {len(first)} tensors from the file")
    return cases


def built_from_file(name: str, shapes: list, seed: int, save, build, in_file=None) -> dict:
    """Writes seeded weights of ``shapes`` to a file (``save(state, dir) -> path``), builds
    a backbone from it twice under different seeds (``build(path)``, then its
    ``init_weights``): the tensors equal in both came from the file (``in_file``: the
    keys to consider). Returns the fixture: those keys and a probe of each value."""
    import tempfile

    cases = {"mmaction": mmaction.__version__, "shapes": shapes, "seed": seed}
    with tempfile.TemporaryDirectory() as tmp:
        path = save(make_state(shapes, seed), tmp)
        states = []
        for build_seed in (1, 2):
            torch.manual_seed(build_seed)
            backbone = build(path)
            backbone.init_weights()
            states.append(backbone.state_dict())
    first, second = states
    keep = in_file or (lambda k: not k.endswith(("num_batches_tracked", "relative_position_index")))
    from_file = [k for k, v in first.items() if keep(k) and torch.equal(v, second[k])]
    cases["from_file"] = from_file
    cases["probes"] = {k: probe(k, first[k]) for k in from_file}
    print(name, f"{len(from_file)} of {len(first)} tensors from the file")
    return cases


def saved_as(filename: str, wrap=None):
    """``save`` for :func:`built_from_file`: the state (under ``wrap`` if given) in
    ``dir/filename``."""

    def save(state: dict, tmp: str) -> str:
        path = os.path.join(tmp, filename)
        torch.save({wrap: state} if wrap else state, path)
        return path

    return save


def uniformer_pretrained_cases() -> dict:
    """MMAction2's ``UniFormer._load_pretrained`` (its ImageNet-1k inflation, the 2D kernel
    on the middle time step) of a seeded image UniFormer-S (the 2D network's names; its
    ``head``): per backbone key whether the file determined it and a probe of its value."""
    from mmaction.models.backbones import UniFormer
    from mmaction.models.backbones import uniformer as module

    small = dict(depth=[3, 4, 8, 3], embed_dim=[64, 128, 320, 512], head_dim=64)
    shapes = []
    for key, value in UniFormer(**small, pretrained2d=False).state_dict().items():
        shape = tuple(value.shape)
        if len(shape) == 5:  # the image network's Conv2d kernels
            shape = shape[:2] + shape[3:]
        shapes.append((key, shape))
    shapes += [("head.weight", (1000, 512)), ("head.bias", (1000,))]

    def build(path):
        module._MODELS["uniformer_small_in1k"] = path  # a URL there: no downloads here
        return UniFormer(**small, pretrained="uniformer_small_in1k", pretrained2d=True)

    save = saved_as("uniformer_small_in1k.pth")
    return built_from_file("uniformer_pretrained", shapes, 9, save, build)


def uniformerv2_pretrained_cases() -> dict:
    """MMAction2's ``UniFormerV2._load_pretrained`` of a seeded CLIP ViT-B/16 image tower
    (OpenAI's names: ``conv1`` a Conv2d, ``ln_post`` and ``proj`` unused) into the K400
    config's backbone: per backbone key whether the file determined it and a probe."""
    from mmaction.models.backbones import UniFormerV2
    from mmaction.models.backbones import uniformerv2 as module

    options = dict(no_lmhra=True, double_lmhra=True, clip_pretrained=True, pretrained="ViT-B/16")
    shapes = []
    for key, value in UniFormerV2(**{**options, "clip_pretrained": False}).state_dict().items():
        if key.startswith("transformer.resblocks.") or key in (
            "class_embedding",
            "positional_embedding",
            "ln_pre.weight",
            "ln_pre.bias",
        ):
            shapes.append((key, tuple(value.shape)))
        elif key == "conv1.weight":
            shapes.append((key, (768, 3, 16, 16)))
    shapes += [("ln_post.weight", (768,)), ("ln_post.bias", (768,)), ("proj", (768, 512))]

    def build(path):
        module._MODELS["ViT-B/16"] = path  # a URL there: no downloads here
        return UniFormerV2(**options)

    # (the global blocks' constant initialisations are equal in both builds too)
    in_file = {k for k, _ in shapes}.__contains__
    save = saved_as("vit-base-p16-res224_clip-rgb.pth")
    return built_from_file("uniformerv2_pretrained", shapes, 10, save, build, in_file)


def swin_pretrained_cases() -> dict:
    """MMAction2's ``SwinTransformer3D.inflate_weights`` on a seeded image Swin-T in the
    Swin release layout (``{"model": state}``; one table from a 12x12 window, to be
    resized): per backbone key whether the file determined it and a probe of its value."""
    from mmaction.models.backbones import SwinTransformer3D

    shapes = []
    for key, value in SwinTransformer3D(arch="tiny").state_dict().items():
        if key.endswith("relative_position_index"):
            continue
        shape = tuple(value.shape)
        if key == "patch_embed.proj.weight":
            shape = shape[:2] + shape[3:]
        elif key.endswith("relative_position_bias_table"):
            side = 23 if key.startswith("layers.0.blocks.0.") else 13
            shape = (side * side, shape[1])
        shapes.append((key.replace("norm3.", "norm."), shape))

    def build(path):
        return SwinTransformer3D(arch="tiny", pretrained=path, pretrained2d=True)

    save = saved_as("swin_tiny_patch4_window7_224.pth", wrap="model")
    return built_from_file("swin_pretrained", shapes, 8, save, build)


def timesformer_pretrained_cases() -> dict:
    """MMAction2's ``TimeSformer.init_weights`` (divided space-time) from a seeded image
    ViT-B/16 in the layout of its ``vit_base_patch16_224.pth`` (the space-only model's
    names: ``norms.0`` / ``norms.1``): the norms renamed, the attention copied into the
    second attention of each layer; ``temporal_fc`` keeps its zero initialisation (not
    counted as from the file). Per backbone key whether the file determined it and a probe."""
    from mmaction.models.backbones import TimeSformer

    image = TimeSformer(num_frames=8, img_size=224, patch_size=16, attention_type="space_only")
    shapes = [(k, tuple(v.shape)) for k, v in image.state_dict().items()]

    def build(path):
        return TimeSformer(num_frames=8, img_size=224, patch_size=16, pretrained=path)

    save = saved_as("vit_base_patch16_224.pth")
    in_file = lambda k: "temporal_fc" not in k and k != "time_embed"  # noqa: E731  (zeros)
    return built_from_file("timesformer_pretrained", shapes, 11, save, build, in_file)


def localization_metric_cases() -> dict:
    """MMAction2's AR@AN (``average_recall_at_avg_proposals``, as ``ANetMetric`` calls
    it) and ActivityNet detection mAP (``ActivityNetLocalization`` on JSON files) on
    seeded ground truth, proposals and detections."""
    import json
    import tempfile

    import numpy as np
    from mmaction.evaluation.functional import average_recall_at_avg_proposals
    from mmaction.evaluation.functional.eval_detection import ActivityNetLocalization

    rng = np.random.default_rng(17)
    labels = [f"action_{k}" for k in range(5)]
    gt, proposals, detections = {}, {}, {}
    for v in range(40):
        video = f"video{v:03d}"
        length = float(rng.uniform(30, 200))
        n = int(rng.integers(1, 5))
        start = rng.uniform(0, length * 0.8, n)
        end = np.minimum(start + rng.uniform(2, length * 0.4, n), length)
        gt[video] = [
            (float(s), float(e), labels[int(rng.integers(0, 5))])
            for s, e in zip(start, end, strict=True)
        ]
        m = 0 if v == 7 else int(rng.integers(5, 150))
        ps = rng.uniform(0, length, m)
        pe = np.minimum(ps + rng.uniform(0.5, length * 0.5, m), length)
        # proposals near the ground truth too, so recall is not near zero
        near = np.array([[s + rng.normal(0, 2), e + rng.normal(0, 2)] for s, e, _ in gt[video]])
        segs = np.concatenate([np.stack([ps, pe], 1), near]) if m else near[:0]
        proposals[video] = np.concatenate([segs, rng.random((len(segs), 1))], 1)
        # detections: the near segments with their true label (most of them), then
        # random segments with random labels
        detections[video] = [
            (float(s), float(e), lab if rng.random() < 0.8 else labels[0], float(rng.random()))
            for (s, e), (_, _, lab) in zip(near, gt[video], strict=True)
        ] + [
            (float(s), float(e), labels[int(rng.integers(0, 5))], float(rng.random()))
            for s, e in segs[: int(rng.integers(0, m + 1))]
        ]
    arrays = {v: np.array([[s, e] for s, e, _ in items]) for v, items in gt.items()}
    total = sum(len(p) for p in proposals.values())
    ar_cases = []
    for max_avg in (100, None, 10):
        recall, average, per_video, auc = average_recall_at_avg_proposals(
            arrays, proposals, total, max_avg_proposals=max_avg,
            temporal_iou_thresholds=np.linspace(0.5, 0.95, 10),
        )  # fmt: skip
        ar_cases.append(
            {"max_avg_proposals": max_avg, "recall": recall, "average_recall": average,
             "proposals_per_video": per_video, "auc": float(auc)}
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        gt_file, pred_file = os.path.join(tmp, "gt.json"), os.path.join(tmp, "pred.json")
        with open(gt_file, "w") as f:  # MMAction2 strips a two-letter prefix ("v_")
            annotations = {
                f"v_{v}": {"annotations": [{"segment": [s, e], "label": c} for s, e, c in items]}
                for v, items in gt.items()
            }
            json.dump(annotations, f)
        with open(pred_file, "w") as f:
            json.dump(
                {"results": {v: [{"segment": [s, e], "label": lab, "score": sc}
                                 for s, e, lab, sc in items] for v, items in detections.items()}},
                f,
            )  # fmt: skip
        evaluator = ActivityNetLocalization(gt_file, pred_file)
        mean_ap, average_map = evaluator.evaluate()
        classes = list(evaluator.activity_index)
        ap = evaluator.ap
    return {
        "mmaction": mmaction.__version__,
        "gt": gt,
        "proposals": {v: torch.from_numpy(p) for v, p in proposals.items()},
        "detections": detections,
        "ar": [
            {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in c.items()}
            for c in ar_cases
        ],  # fmt: skip
        "map": {
            "ap": torch.from_numpy(ap),
            "mAP": torch.from_numpy(mean_ap),
            "average_mAP": float(average_map),
            "classes": classes,
        },  # fmt: skip
    }


def localization_data_cases() -> dict:
    """MMAction2's ``pool_feature`` (tools/data/activitynet/activitynet_feature_
    postprocessing.py, shipped in the wheel's .mim folder) on seeded feature sequences."""
    import importlib.util

    import numpy as np

    tool = Path(mmaction.__file__).parent / ".mim/tools/data/activitynet"
    spec = importlib.util.spec_from_file_location(
        "anet_post", tool / "activitynet_feature_postprocessing.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(23)
    cases = []
    for t, num, pool in [(1, 100, "mean"), (7, 100, "mean"), (250, 100, "mean"), (40, 16, "max")]:
        data = rng.standard_normal((t, 4))
        out = module.pool_feature(data, num_proposals=num, pool_type=pool)
        cases.append(
            {"data": torch.from_numpy(data), "num": num, "pool": pool, "out": torch.from_numpy(out)}
        )
    return {"mmaction": mmaction.__version__, "pool_feature": cases}


def bmn_target_cases() -> dict:
    """``BMN.generate_labels`` (MMAction2 1.2.0) on seeded ground truth, T = 16 and 100,
    including segments at the video's edges and one of zero length."""
    from mmaction.models.localizers import BMN

    gen = torch.Generator().manual_seed(29)
    cases = []
    for t, batch in [(16, 3), (100, 2)]:
        model = BMN(t, 0.5, 8, 3, 16, 0.4, 0.5, 0.9, 100)
        segments = _random_segments(gen, batch)
        iou, start, end = model.generate_labels(segments)
        cases.append(
            {"temporal_dim": t, "segments": segments, "iou": iou, "start": start, "end": end}
        )
    return {"mmaction": mmaction.__version__, "cases": cases}


def _random_segments(gen: torch.Generator, batch: int) -> list:
    """Per sample 1-4 normalised segments; the first sample also gets segments at the
    video's edges and one of zero length."""
    segments = []
    for b in range(batch):
        k = int(torch.randint(1, 5, (1,), generator=gen))
        start = torch.rand(k, generator=gen) * 0.9
        seg = torch.stack(
            [start, torch.clamp(start + torch.rand(k, generator=gen) * 0.5, max=1)], 1
        )
        if b == 0:
            seg = torch.cat([seg, torch.tensor([[0.0, 0.2], [0.95, 1.0], [0.5, 0.5]])])
        segments.append(seg)
    return segments


def bmn_loss_cases() -> dict:
    """MMAction2's ``BMNLoss`` on seeded predictions and ``generate_labels`` targets; the
    random sub-sampling of regression cells draws after ``torch.manual_seed(seed)``."""
    from mmaction.models.localizers import BMN
    from mmaction.models.losses import BMNLoss

    gen = torch.Generator().manual_seed(31)
    cases = []
    for t, batch, seed in [(16, 3, 5), (100, 1, 6), (32, 4, 7)]:
        model = BMN(t, 0.5, 8, 3, 16, 0.4, 0.5, 0.9, 100)
        segments = _random_segments(gen, batch)
        iou, start, end = model.generate_labels(segments)
        pred_bm = torch.rand(batch, 2, t, t, generator=gen)
        pred_start = torch.rand(batch, t, generator=gen)
        pred_end = torch.rand(batch, t, generator=gen)
        torch.manual_seed(seed)
        losses = BMNLoss()(pred_bm, pred_start, pred_end, iou, start, end, model.bm_mask)
        cases.append(
            {
                "temporal_dim": t,
                "segments": segments,
                "pred_bm": pred_bm,
                "pred_start": pred_start,
                "pred_end": pred_end,
                "seed": seed,
                "losses": torch.stack(losses),  # loss, tem, pem_reg, pem_cls
            }
        )
    return {"mmaction": mmaction.__version__, "cases": cases}


def bmn_predict_cases() -> dict:
    """MMAction2's ``BMN.predict`` (candidates, soft-NMS, scaling to seconds) of a small
    BMN on seeded weights, for videos with different duration/feature frame counts."""
    from mmaction.models.localizers import BMN
    from mmaction.structures import ActionDataSample

    t, feat = 32, 16
    model = BMN(t, 0.5, 8, 3, feat, 0.4, 0.5, 0.9, 100, 16, hidden_dim_1d=16,
                hidden_dim_2d=8, hidden_dim_3d=16).eval()  # fmt: skip
    skip = ("sample_mask", "bm_mask")
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items() if k not in skip]
    model.load_state_dict(make_state(shapes), strict=False)
    x = make_input((3, feat, t))
    infos = [
        {
            "video_name": "v_a",
            "duration_second": 211.53,
            "duration_frame": 6337,
            "feature_frame": 6336,
        },
        {
            "video_name": "v_b",
            "duration_second": 26.75,
            "duration_frame": 647,
            "feature_frame": 624,
        },
        {"video_name": "v_c", "duration_second": 9.5, "duration_frame": 285, "feature_frame": 272},
    ]
    outputs = []
    with torch.no_grad():
        confidence, start, end = model(list(x), None, mode="tensor")
        for i, info in enumerate(infos):
            sample = ActionDataSample()
            sample.set_metainfo(info)
            found = model([x[i]], [sample], mode="predict")[0]["proposal_list"]
            outputs.append(
                [
                    {"score": float(p["score"]), "segment": [float(v) for v in p["segment"]]}
                    for p in found
                ]
            )
    return {
        "mmaction": mmaction.__version__,
        "shapes": shapes,
        "input_shape": (3, feat, t),
        "infos": infos,
        "confidence": confidence,
        "start": start,
        "end": end,
        "proposals": outputs,
    }


def activitynet_dataset_cases() -> dict:
    """MMAction2's ``ActivityNetDataset`` with BMN's training pipeline
    (LoadLocalizationFeature, GenerateLocalizationLabels, PackLocalizationInputs) and
    ``BMN.generate_labels`` on a small annotation file and CSV features written here."""
    import json
    import tempfile

    import numpy as np
    from mmaction.datasets import ActivityNetDataset
    from mmaction.models.localizers import BMN

    rng = np.random.default_rng(37)
    t = 16
    annotations = {
        "v_one": {
            "duration_second": 30.2, "duration_frame": 906, "feature_frame": 896, "fps": 30.0,
            "rfps": 30.0, "annotations": [{"segment": [1.5, 12.25], "label": "Jump"},
                                          {"segment": [20.0, 31.0], "label": "Run"}],
        },
        "v_two": {
            "duration_second": 12.0, "duration_frame": 300, "feature_frame": 288, "fps": 25.0,
            "rfps": 25.0, "annotations": [{"segment": [-0.5, 3.3], "label": "Jump"}],
        },
    }  # fmt: skip
    features = {v: rng.standard_normal((t, 8)).astype(np.float32) for v in annotations}
    pipeline = [
        {"type": "LoadLocalizationFeature"},
        {"type": "GenerateLocalizationLabels"},
        {"type": "PackLocalizationInputs", "keys": ("gt_bbox",), "meta_keys": ("video_name",)},
    ]
    model = BMN(t, 0.5, 8, 3, 8, 0.4, 0.5, 0.9, 100)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        ann = Path(tmp) / "anno.json"
        ann.write_text(json.dumps(annotations))
        csv_text = {}
        for video, data in features.items():
            lines = [",".join(f"f{i}" for i in range(data.shape[1]))]
            lines += [",".join(repr(float(v)) for v in row) for row in data]
            csv_text[video] = "\n".join(lines) + "\n"
            (Path(tmp) / f"{video}.csv").write_text(csv_text[video])
        dataset = ActivityNetDataset(str(ann), pipeline, data_prefix={"video": tmp})
        for i in range(len(dataset)):
            item = dataset[i]
            gt = item["data_samples"].gt_instances["gt_bbox"]
            iou, start, end = model.generate_labels([gt])
            cases.append(
                {
                    "video": item["data_samples"].metainfo["video_name"],
                    "inputs": item["inputs"],
                    "gt_bbox": gt,
                    "iou": iou[0],
                    "start": start[0],
                    "end": end[0],
                }
            )
    return {
        "mmaction": mmaction.__version__,
        "annotations": json.dumps(annotations),
        "csv": csv_text,
        "temporal_dim": t,
        "cases": cases,
    }


def feature_cases() -> dict:
    """Clip features as MMAction2's ``clip_feature_extraction.py`` takes them: the zoo
    model with its head replaced by ``FeatureHead`` (spatial and temporal average, the
    views averaged by ``average_clips="score"``), on the seeded weights of the model
    fixtures (the classifier's keys left out)."""
    out = {"mmaction": mmaction.__version__, "models": {}}
    names = {"tsn_r18": None, "tsm_r18": "tsm", "i3d_r50": None, "slowfast_r50": "slowfast",
             "c3d": None, "x3d_s": None}  # fmt: skip
    for name, backbone_name in names.items():
        config, shape, backbone, head = MODELS_TO_FIX[name]
        full = build(config, backbone, head)
        shapes = [(k, tuple(v.shape)) for k, v in full.state_dict().items()]
        cfg = Config.fromfile(CONFIGS / config)
        model = build(config, backbone, head)
        feature_head = {"type": "FeatureHead", "spatial_type": "avg", "temporal_type": "avg",
                        "backbone_name": backbone_name, "average_clips": "score"}  # fmt: skip
        if backbone_name == "tsm":
            feature_head["num_segments"] = cfg.model.backbone.get("num_segments", 8)
        model.cls_head = MODELS.build(feature_head)
        model.load_state_dict(make_state(shapes), strict=False)
        model.eval()
        x = make_input(shape)
        with torch.no_grad():
            feats = model.extract_feat(x, test_mode=True)[0]
            pooled = model.cls_head(feats, num_segs=x.shape[1] if x.dim() == 5 else None)
            pooled = model.cls_head.average_clip(pooled, num_segs=pooled.shape[0] // shape[0])
        out["models"][name] = {"shapes": shapes, "input_shape": shape, "features": pooled}
        print("features", name, tuple(pooled.shape))
    from mmaction.datasets.transforms import UntrimmedSampleFrames

    out["untrimmed"] = []
    for total, clip_len, interval, frame_interval in [
        (100, 16, 16, 1), (37, 8, 5, 2), (9, 16, 16, 1), (250, 1, 16, 1), (64, 5, 8, 3),
    ]:  # fmt: skip
        sampled = UntrimmedSampleFrames(clip_len, interval, frame_interval)(
            {"total_frames": total, "start_index": 0}
        )
        out["untrimmed"].append(
            {"args": (total, clip_len, interval, frame_interval),
             "frame_inds": torch.from_numpy(sampled["frame_inds"].astype("int64"))}
        )  # fmt: skip
    return out


def bsn_cases() -> dict:
    """MMAction2's BSN: TEM (tensor outputs, ``generate_labels``, loss) and PEM (outputs,
    loss under a seed) on seeded weights, and the PGM stage as its tools run it
    (``generate_candidate_proposals`` on TEM results written as ANetMetric's CSV, the
    proposals written as ``bsn_proposal_generation.py`` does, then
    ``generate_bsp_feature``)."""
    import json
    import tempfile

    import numpy as np
    from mmaction.models.localizers import PEM, TEM
    from mmaction.models.localizers.utils import generate_bsp_feature, generate_candidate_proposals
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    t = 100
    tem = TEM(t, 0.1, 16, 32, 0.5).eval()
    tem_shapes = [(k, tuple(v.shape)) for k, v in tem.state_dict().items()]
    tem.load_state_dict(make_state(tem_shapes))
    x = make_input((3, 16, t))
    # conv3_ratio 1 (the default 0.01 keeps every output near 0.5): outputs that differ
    wide = TEM(t, 0.1, 16, 32, 0.5, conv3_ratio=1).eval()
    wide.load_state_dict(tem.state_dict())
    with torch.no_grad():
        tem_out = wide(x, None, mode="tensor")
    gen = torch.Generator().manual_seed(41)
    segments = [s.double() for s in _random_segments(gen, 3)]
    labels = tem.generate_labels(segments)
    samples = []
    for seg in segments:
        sample = ActionDataSample()
        sample.gt_instances = InstanceData(gt_bbox=seg)
        samples.append(sample)
    with torch.no_grad():
        tem_losses = tem(x, samples, mode="loss")
    pem = PEM(32, 64, 1, 2, 0.6, 0.2, 0.75, 0.65, 0.9, 100).eval()
    pem_shapes = [(k, tuple(v.shape)) for k, v in pem.state_dict().items()]
    pem.load_state_dict(make_state(pem_shapes))
    bsp = make_input((40, 32), seed=3)
    reference = torch.rand(40, generator=gen)
    pem_sample = ActionDataSample()
    pem_sample.gt_instances = InstanceData(bsp_feature=bsp, reference_temporal_iou=reference)
    torch.manual_seed(11)
    with torch.no_grad():
        pem_out = pem(list(bsp), None, mode="tensor")
        pem_loss = pem(list(bsp), [pem_sample], mode="loss")["temporal_iou_loss"]
    infos = [
        {"video_name": "v_a", "duration_second": 30.2, "duration_frame": 906, "feature_frame": 896,
         "annotations": [{"segment": [1.5, 12.25], "label": "x"},
                         {"segment": [20.0, 29.0], "label": "y"}]},
        {"video_name": "v_b", "duration_second": 12.0, "duration_frame": 300, "feature_frame": 288,
         "annotations": [{"segment": [0.5, 3.3], "label": "x"}]},
    ]  # fmt: skip
    # PGM on TEM results with peaks (smoothed noise), T = 60, as ANetMetric writes them
    tp = 60
    rng = np.random.default_rng(43)
    tem_results, proposals, features = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tem_dir, prop_dir = Path(tmp) / "tem", Path(tmp) / "prop"
        tem_dir.mkdir()
        prop_dir.mkdir()
        kernel = np.ones(5) / 5
        for info in infos:
            curves = [np.convolve(rng.random(tp + 4) ** 3, kernel, mode="valid") for _ in range(3)]
            anchors = np.arange(tp) / tp
            result = np.stack([*curves, anchors, anchors + 1 / tp], axis=1).astype(np.float32)
            np.savetxt(tem_dir / f"{info['video_name']}.csv", result,
                       header="action,start,end,tmin,tmax", delimiter=",", comments="")  # fmt: skip
            tem_results[info["video_name"]] = torch.from_numpy(result)
        made = generate_candidate_proposals([0, 1], infos, str(tem_dir), tp, 0.5)
        for name, props in made.items():
            np.savetxt(prop_dir / f"{name}.csv", props,
                       header="tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa",
                       delimiter=",", comments="")  # fmt: skip
            proposals[name] = torch.from_numpy(props)
        for top_k in (200, 30):
            feats = generate_bsp_feature([0, 1], infos, str(tem_dir), str(prop_dir), top_k=top_k)
            features[top_k] = {k: torch.from_numpy(v) for k, v in feats.items()}
    return {
        "mmaction": mmaction.__version__,
        "tem_shapes": tem_shapes,
        "tem_input_shape": (3, 16, t),
        "tem_out": tem_out,
        "segments": segments,
        "tem_labels": list(labels),
        "tem_losses": {k: v for k, v in tem_losses.items()},
        "pem_shapes": pem_shapes,
        "pem_out": pem_out,
        "pem_reference": reference,
        "pem_loss": pem_loss,
        "infos": json.dumps(infos),
        "tem_results": tem_results,
        "proposals": proposals,
        "features": features,
    }


SKELETON = Path(mmaction.__file__).parent / ".mim" / "configs" / "skeleton"
# name -> (config, input shape [B, clips, M, T, V, C], backbone overrides)
GCN_MODELS = {
    "stgcn_coco": ("stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
                   (2, 1, 2, 24, 17, 3), {}),
    "stgcn_ntu": ("stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py",
                  (1, 2, 2, 20, 25, 3), {}),
    "stgcnpp_coco": ("stgcnpp/stgcnpp_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
                     (2, 1, 2, 24, 17, 3), {}),
    "agcn_coco": ("2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
                  (2, 1, 2, 24, 17, 3), {}),
    "aagcn_coco": ("2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
                   (2, 1, 2, 24, 17, 3), {"gcn_attention": True}),
    "agcn_ntu": ("2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py",
                 (1, 1, 2, 20, 25, 3), {}),
}  # fmt: skip


def _gcn_case(config: Path, shape: tuple, backbone: dict) -> dict:
    """A GCN recognizer of ``config`` on seeded weights (the graph buffers ``A`` kept as
    built): raw head logits ``model(x, mode="tensor", stage="head")`` in eval mode."""
    cfg = Config.fromfile(config).model
    cfg.backbone.update(backbone)
    cfg.cls_head.num_classes = NUM_CLASSES
    model = MODELS.build(cfg).eval()
    own = model.state_dict()
    shapes = [(k, tuple(v.shape)) for k, v in own.items()]
    state = make_state(shapes)
    params = dict(model.named_parameters())
    learned_graphs = cfg.backbone.type in ("AAGCN", "CTRGCN")
    # graph buffers built from the layout, and AAGCN's / CTR-GCN's learned graphs (random
    # ones make the activations explode): kept as built
    graph_keys = [k for k in own if (k.endswith(".A") or k == "backbone.A")
                  and (k not in params or learned_graphs)]  # fmt: skip
    for key in graph_keys:
        state[key] = own[key]
    # AAGCN and CTR-GCN sum K subsets over all joints (AAGCN adds its attention, y * s + y,
    # in every block): damp the subset convs and the data-dependent graph so logits stay O(1)
    scales = {}
    if cfg.backbone.type == "AAGCN":
        scales = {".alpha": 0.02, **{f"conv_d.{k}.weight": 0.25 for k in range(3)}}
    elif cfg.backbone.type == "CTRGCN":
        scales = {".alpha": 0.02, **{f"convs.{k}.conv3.weight": 0.25 for k in range(3)}}
    for key in state:
        for suffix, factor in scales.items():
            if key.endswith(suffix):
                state[key] = state[key] * factor
    model.load_state_dict(state)
    x = make_input(shape)
    with torch.no_grad():
        logits = model(x, mode="tensor", stage="head")
    print(config.name, tuple(logits.shape), f"|logits| max {logits.abs().max():.3f}")
    return {"config": f"{config.parent.name}/{config.name}", "shapes": shapes,
            "graph_keys": graph_keys, "scales": scales, "input_shape": shape,
            "logits": logits}  # fmt: skip


def ctrgcn_cases() -> dict:
    """CTR-GCN from MMAction2's ``projects/ctrgcn`` (not in the wheel: a checkout's
    ``projects`` folder named by ``MMACTION2_PROJECTS``, e.g. from a fetched snapshot), on
    its 2D and 3D configs, as :func:`skeleton_cases` does for the zoo's GCNs."""
    projects = Path(os.environ["MMACTION2_PROJECTS"]) / "ctrgcn"
    sys.path.insert(0, str(projects))
    import models  # noqa: F401  (registers CTRGCN, as the configs' custom_imports do)

    configs = projects / "configs"
    cases = {
        "ctrgcn_coco": (configs / "ctrgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
                        (2, 1, 2, 24, 17, 3)),
        "ctrgcn_ntu": (configs / "ctrgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py",
                       (1, 2, 2, 20, 25, 3)),
    }  # fmt: skip
    models_ = {name: _gcn_case(config, shape, {}) for name, (config, shape) in cases.items()}
    return {"mmaction": mmaction.__version__, "models": models_}


def ava_eval_cases() -> dict:
    """MMAction2's ``ava_eval`` (frame-mAP@0.5 and its three group means) on synthetic
    AVA files from ``benchmarks/ava_tables.py``: both protocols (``ignore_empty_frames``),
    with and without exclusions, and ``custom_classes``. Scores are distinct (MMAction2
    ranks ties in an order NumPy does not fix). The files' texts are stored too."""
    import importlib.util
    import tempfile

    from mmaction.evaluation.functional.ava_utils import ava_eval

    spec = importlib.util.spec_from_file_location(
        "ava_tables", ROOT / "benchmarks" / "ava_tables.py"
    )
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    cases = []
    for seed in (0, 1):
        texts = tables.make_ava_tables(seed=seed, num_videos=6, keyframes=15)
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for name, text in texts.items():
                paths[name] = Path(tmp) / name
                paths[name].write_text(text)
            runs = [
                ("gt_frames", True, None),
                ("all_frames", True, None),
                ("gt_frames", False, None),
                ("gt_frames", True, [1, 11, 64, 74, 80]),
            ]
            for protocol, exclude, custom in runs:
                result = ava_eval(
                    str(paths["detections"]),
                    "mAP",
                    str(paths["label_map"]),
                    str(paths["gt"]),
                    str(paths["exclusions"]) if exclude else None,
                    verbose=False,
                    ignore_empty_frames=protocol == "gt_frames",
                    custom_classes=None if custom is None else [0, *custom],
                )
                cases.append(
                    {
                        "seed": seed,
                        "protocol": protocol,
                        "exclude": exclude,
                        "custom_classes": custom,
                        "result": {k: float(v) for k, v in result.items()},
                    }
                )
                print("ava_eval", seed, protocol, exclude, custom, cases[-1]["result"])
    texts = {seed: tables.make_ava_tables(seed=seed, num_videos=6, keyframes=15) for seed in (0, 1)}
    return {"mmaction": mmaction.__version__, "cases": cases,
            "texts": {seed: {k: zlib.compress(v.encode()) for k, v in t.items()}
                      for seed, t in texts.items()}}  # fmt: skip


AVA_ANNOTATIONS = """\
vidA,0902,0.100,0.200,0.400,0.900,12,0
vidA,0902,0.100,0.200,0.400,0.900,17,0
vidA,0902,0.500,0.100,0.800,0.950,80,1
vidB,1000,0.000,0.000,1.000,1.000,1,3
vidA,0903,0.100,0.210,0.400,0.900,12,0
vidA,0902,0.100,0.200,0.400,0.900,79,0
vidB,1000,0.250,0.250,0.500,0.750,64,4
vidA,1798,0.300,0.300,0.600,0.600,14,2
vidB,1001,0.200,0.200,0.300,0.300,5,5
"""
AVA_EXCLUDED = "vidB,1001\n"


AVA_KINETICS_ANNOTATIONS = """\
-5KQ66BBWC4,0902,0.100,0.200,0.400,0.900,12,0
-5KQ66BBWC4,0902,0.100,0.200,0.400,0.900,17,0
o3lCwWyyc_s_000012_000022,0015,0.200,0.100,0.600,0.900,11,-1
o3lCwWyyc_s_000012_000022,0015,0.200,0.100,0.600,0.900,80,-1
o3lCwWyyc_s_000012_000022,0018,0.300,0.300,0.500,0.800,14,-1
ab_cd_000100_000110,0105,0.000,0.000,0.500,0.500,1,-1
"""


def ava_kinetics_data_cases() -> dict:
    """MMAction2's ``AVAKineticsDataset``: AVA videos and Kinetics clips (ids ending
    ``_START_END``) in one CSV, each clip's own first second, its proposals under the
    source video's id."""
    import pickle
    import tempfile

    import numpy as np
    from mmaction.datasets import AVAKineticsDataset

    proposals = {
        "-5KQ66BBWC4,0902": np.array([[0.1, 0.2, 0.4, 0.9, 0.95], [0.5, 0.1, 0.8, 0.9, 0.3]]),
        "o3lCwWyyc_s,0015": np.array([[0.2, 0.1, 0.6, 0.9, 0.99], [0.0, 0.0, 0.2, 0.2, 0.92]]),
        "o3lCwWyyc_s,0018": np.array([[0.3, 0.3, 0.5, 0.8, 0.5]]),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        ann, prop = Path(tmp) / "ann.csv", Path(tmp) / "prop.pkl"
        ann.write_text(AVA_KINETICS_ANNOTATIONS)
        prop.write_bytes(pickle.dumps(proposals))
        label = Path(tmp) / "labels.pbtxt"
        label.write_text("".join(f'item {{\n  name: "a{i}"\n  id: {i}\n}}\n' for i in range(1, 81)))
        dataset = AVAKineticsDataset(str(ann), None, [], label_file=str(label),
                                     proposal_file=str(prop), data_prefix=dict(img=""))  # fmt: skip
        infos = []
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            keys = ("img_key", "video_id", "timestamp", "timestamp_start", "timestamp_end",
                    "gt_bboxes", "gt_labels", "entity_ids", "proposals", "scores")  # fmt: skip
            infos.append({k: info[k] for k in keys if k in info})
    return _tensors({"mmaction": mmaction.__version__, "annotations": AVA_KINETICS_ANNOTATIONS,
                     "proposals": proposals, "infos": infos})  # fmt: skip


def lfb_cases() -> dict:
    """MMAction2's long-term feature bank pieces: ``FBONonLocal`` (2 layers), ``FBOAvg``,
    ``FBOMax`` and ``FBOHead``'s pooling on seeded inputs and weights (eval mode), and
    ``LFB`` sampling from a bank pickle with at most ``max_num_sampled_feat`` features a
    second (its random order aside, determined)."""
    import tempfile

    from mmaction.models.roi_heads.shared_heads.fbo_head import FBONonLocal
    from mmaction.models.roi_heads.shared_heads.lfb import LFB

    torch.manual_seed(0)
    st_c, lt_c, latent, window, k = 24, 16, 8, 6, 2
    fbo = FBONonLocal(st_c, lt_c, latent, 1, window * k, num_non_local_layers=2).eval()
    state = {n: torch.randn_like(v) * 0.3 for n, v in fbo.state_dict().items()}
    fbo.load_state_dict(state)
    x = torch.randn(3, st_c, 4, 5, 5)  # RoI features [N, C, T, H, W]
    st = x.mean(2, keepdim=True).amax((3, 4), keepdim=True)  # FBOHead's avg / max pools
    lt = torch.randn(3, lt_c, window * k, 1, 1)
    with torch.no_grad():
        out = fbo(st, lt)
    counts = [1, 2, 1, 0, 2, 1, 2, 1, 0, 1]  # features in seconds 900..909 (none in two)
    bank = {"vidA": {900 + s: torch.randn(n, lt_c) for s, n in enumerate(counts) if n},
            "vidB": {5: torch.randn(2, lt_c)}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(bank, Path(tmp) / "lfb_train.pkl")
        lfb = LFB(tmp, max_num_sampled_feat=k, window_size=window, lfb_channels=lt_c,
                  dataset_modes="train", device="cpu")  # fmt: skip
        keys = ["vidA,0902", "vidA,0908", "vidB,0005", "vidA,0899"]
        sampled = {key: lfb[key] for key in keys}
    return _tensors({"mmaction": mmaction.__version__, "state": state, "st": st, "lt": lt,
                     "out": out, "x": x, "bank": bank, "window": window, "k": k,
                     "sampled": sampled})  # fmt: skip


def ava_data_cases() -> dict:
    """MMAction2's ``AVADataset`` (annotations merged per keyframe and box, multi-hot
    labels, exclusions, proposals kept by score, ``custom_classes``) and
    ``SampleAVAFrames`` (test-mode indices; training draws recorded with NumPy's seed)
    on a hand-written AVA CSV and proposal pickle."""
    import pickle
    import tempfile

    import numpy as np
    from mmaction.datasets import AVADataset
    from mmaction.datasets.transforms import SampleAVAFrames

    proposals = {
        "vidA,0902": np.array([[0.1, 0.2, 0.4, 0.9, 0.95], [0.5, 0.1, 0.8, 0.9, 0.3],
                               [0.0, 0.0, 0.5, 0.5, 0.91]]),
        "vidA,0903": np.array([[0.1, 0.2, 0.4, 0.9, 0.5], [0.2, 0.2, 0.3, 0.3, 0.6]]),
        "vidB,1000": np.array([[0.25, 0.25, 0.5, 0.75], [0.0, 0.0, 1.0, 1.0]]),
    }  # fmt: skip
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        ann, exc, prop = (Path(tmp) / n for n in ("ann.csv", "exc.csv", "prop.pkl"))
        ann.write_text(AVA_ANNOTATIONS)
        exc.write_text(AVA_EXCLUDED)
        prop.write_bytes(pickle.dumps(proposals))
        label = Path(tmp) / "labels.pbtxt"
        label.write_text("".join(f'item {{\n  name: "a{i}"\n  id: {i}\n}}\n' for i in range(1, 81)))
        settings = [
            {"exclude": True, "custom_classes": None, "thr": 0.9, "max": 1000},
            {"exclude": False, "custom_classes": [12, 64, 80], "thr": 0.55, "max": 1},
        ]
        for setting in settings:
            custom = setting["custom_classes"]
            dataset = AVADataset(
                str(ann), [], exclude_file=str(exc) if setting["exclude"] else None,
                label_file=str(label), proposal_file=str(prop),
                person_det_score_thr=setting["thr"], num_max_proposals=setting["max"],
                custom_classes=custom, num_classes=81 if custom is None else len(custom) + 1,
                data_prefix=dict(img=""))  # fmt: skip
            infos = []
            for i in range(len(dataset)):
                info = dataset.get_data_info(i)
                keys = ("img_key", "video_id", "timestamp", "gt_bboxes", "gt_labels",
                        "entity_ids", "proposals", "scores")  # fmt: skip
                infos.append({k: info[k] for k in keys if k in info})
            cases.append({**setting, "infos": infos})
        frames = []
        for clip_len, interval in ((4, 16), (8, 8), (32, 2), (5, 3)):
            for ts in (902, 903, 1000, 1797, 1798):
                info = {"fps": 30, "timestamp": ts, "timestamp_start": 900, "start_index": 1,
                        "shot_info": (0, 27000)}  # fmt: skip
                test = SampleAVAFrames(clip_len, interval, test_mode=True).transform(dict(info))
                np.random.seed(ts)
                train = SampleAVAFrames(clip_len, interval).transform(dict(info))
                frames.append({"clip_len": clip_len, "interval": interval, "timestamp": ts,
                               "test": test["frame_inds"],
                               "train": train["frame_inds"]})  # fmt: skip
    return _tensors({"mmaction": mmaction.__version__, "annotations": AVA_ANNOTATIONS,
                     "excluded": AVA_EXCLUDED, "proposals": proposals, "cases": cases,
                     "frames": frames, "geometry": _ava_geometry()})  # fmt: skip


def _ava_geometry() -> list:
    """Boxes through MMAction2's AVA training transforms (RandomRescale(256, 320),
    RandomCrop(256), Flip(0.5); NumPy's global RNG seeded) and its test Resize((-1, 256)),
    on pixel boxes of 240x320 and 360x480 frames: the sizes, crop and flip it drew and
    the boxes it made."""
    import numpy as np
    from mmaction.datasets.transforms import Flip, RandomCrop, RandomRescale, Resize

    out = []
    rng = np.random.default_rng(0)
    for h, w in ((240, 320), (360, 480)):
        for seed in range(6):
            x1, y1 = rng.uniform(0, 0.6, (2, 5))
            x2, y2 = x1 + rng.uniform(0.05, 0.4, 5), y1 + rng.uniform(0.05, 0.4, 5)
            norm = np.stack([x1, y1, np.minimum(x2, 1), np.minimum(y2, 1)], 1)
            scale = np.array([w, h, w, h])
            gt = (norm[:3] * scale).astype(np.float32)
            prop = (norm[3:] * scale).astype(np.float32)

            def fresh(h=h, w=w, gt=gt, prop=prop):
                return {"imgs": [np.zeros((h, w, 3), np.uint8)] * 2, "img_shape": (h, w),
                        "original_shape": (h, w), "gt_bboxes": gt.copy(),
                        "proposals": prop.copy(), "modality": "RGB"}  # fmt: skip

            np.random.seed(seed)
            r = RandomRescale(scale_range=(256, 320))(fresh())
            rescaled = r["img_shape"]
            r = RandomCrop(size=256)(r)
            crop = r["crop_bbox"]
            r = Flip(flip_ratio=0.5)(r)
            test = Resize(scale=(-1, 256))(fresh())
            out.append({"frame": (h, w), "gt": gt, "proposals": prop, "rescaled": rescaled,
                        "crop": crop, "flip": bool(r["flip"]), "train_gt": r["gt_bboxes"],
                        "train_proposals": r["proposals"], "train_shape": r["img_shape"],
                        "test_gt": test["gt_bboxes"], "test_proposals": test["proposals"],
                        "test_shape": test["img_shape"]})  # fmt: skip
    return out


def _tensors(obj):
    """NumPy arrays as tensors, recursively (fixtures load with weights_only=True)."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, dict):
        return {k: _tensors(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_tensors(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


DETECTION = Path(mmaction.__file__).parent / ".mim" / "configs" / "detection"
# name -> (config, input shape [B, 3, T, H, W])
AVA_MODELS = {
    "ava_slowonly_r50": (
        "slowonly/slowonly_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb.py",
        (2, 3, 4, 64, 96)),
    "ava_slowfast_r50": (
        "slowfast/slowfast_kinetics400-pretrained-r50_8xb16-4x16x1-20e_ava21-rgb.py",
        (1, 3, 32, 64, 64)),
    "ava_acrn_slowfast_r50": (
        "acrn/slowfast-acrn_kinetics400-pretrained-r50_8xb8-8x8x1-cosine-10e_ava21-rgb.py",
        (1, 3, 32, 64, 64)),
}  # fmt: skip


def ava_model_cases() -> dict:
    """MMAction2's AVA detectors (mmdet's FastRCNN with its AVARoIHead; full mmcv for
    RoIAlign) on seeded weights: per-RoI logits ``roi_head._bbox_forward`` in eval mode
    for seeded clips and boxes; and ``MaxIoUAssignerAVA``'s assignment of random
    proposals."""
    from mmaction.models.task_modules.assigners import MaxIoUAssignerAVA
    from mmengine.structures import InstanceData

    models = {}
    gen = torch.Generator().manual_seed(0)
    for name, (config, shape) in AVA_MODELS.items():
        cfg = Config.fromfile(DETECTION / config).model
        cfg.pop("init_cfg", None)
        cfg.roi_head.bbox_head.num_classes = NUM_CLASSES
        model = MODELS.build(cfg).eval()
        shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        model.load_state_dict(make_state(shapes))
        x = make_input(shape)
        h, w = shape[-2:]
        xy = torch.rand(6, 2, generator=gen) * torch.tensor([w * 0.6, h * 0.6])
        wh = torch.rand(6, 2, generator=gen) * torch.tensor([w * 0.4, h * 0.4]) + 4
        boxes = torch.cat([xy, xy + wh], 1)
        batch = torch.arange(6) % shape[0]
        rois = torch.cat([batch[:, None].float(), boxes], 1)
        with torch.no_grad():
            feats = model.extract_feat(x)
            logits = model.roi_head._bbox_forward(feats, rois, [{}] * shape[0])["cls_score"]
        models[name] = {"config": config, "shapes": shapes, "input_shape": shape, "rois": rois,
                        "logits": logits}  # fmt: skip
        print(name, tuple(logits.shape), f"|logits| max {logits.abs().max():.3f}")
    assigner = MaxIoUAssignerAVA(
        pos_iou_thr=0.9,
        neg_iou_thr=0.9,
        min_pos_iou=0.9,
        iou_calculator=dict(type="mmdet.BboxOverlaps2D"),
    )
    assignments = []
    for case in range(6):
        gt = torch.rand(3, 2, generator=gen) * 100
        gt = torch.cat([gt, gt + 20 + torch.rand(3, 2, generator=gen) * 40], 1)
        jitter = (torch.rand(12, 4, generator=gen) - 0.5) * (2 if case % 2 else 8)
        props = torch.cat([gt.repeat(4, 1)[:12] + jitter, torch.rand(4, 4, generator=gen) * 50])
        props[:, 2:] = torch.maximum(props[:, 2:], props[:, :2] + 1)
        if case == 5:
            props = torch.cat([props, gt[1:2]])  # a proposal equal to a ground-truth box
        labels = (torch.rand(3, NUM_CLASSES, generator=gen) > 0.7).float()
        labels[:, 0] = 0
        result = assigner.assign(InstanceData(priors=props),
                                 InstanceData(bboxes=gt, labels=labels))  # fmt: skip
        assignments.append({"gt": gt, "proposals": props, "labels": labels,
                            "gt_inds": result.gt_inds,
                            "assigned_labels": result.labels})  # fmt: skip
    return {"mmaction": mmaction.__version__, "models": models, "assignments": assignments}


def skeleton_cases() -> dict:
    """MMAction2's ``Graph`` adjacency for every layout and mode, and the GCN recognizers
    of its skeleton zoo configs on seeded weights (the graph buffers ``A`` kept as built):
    raw head logits ``model(x, mode="tensor", stage="head")`` in eval mode."""
    from mmaction.models.utils import Graph

    custom = {"num_node": 5, "inward": [(1, 0), (2, 1), (3, 1), (4, 3)], "center": 1}
    graphs = []
    for layout in ("openpose", "nturgb+d", "coco", custom):
        for mode, hops in (("stgcn_spatial", (1, 2)), ("spatial", (1,)), ("binary_adj", (1,))):
            for hop in hops:
                graph = Graph(layout, mode, hop)
                graphs.append({"layout": layout, "mode": mode, "max_hop": hop,
                               "A": torch.from_numpy(graph.A)})  # fmt: skip
    models = {name: _gcn_case(SKELETON / config, shape, backbone)
              for name, (config, shape, backbone) in GCN_MODELS.items()}  # fmt: skip
    return {"mmaction": mmaction.__version__, "graphs": graphs, "models": models}


def pose_pipeline_cases() -> dict:
    """MMAction2's skeleton pipelines (PreNormalize2D/3D, GenSkeFeat with each stream,
    UniformSampleFrames in test mode, PoseDecode, FormatGCNInput) on seeded poses: 2D
    COCO keypoints with scores, 3D NTU skeletons with a second person absent at times."""
    import copy

    import numpy as np
    from mmaction.datasets.transforms import (
        FormatGCNInput,
        GenSkeFeat,
        PoseDecode,
        PreNormalize2D,
        PreNormalize3D,
        UniformSampleFrames,
    )
    from mmengine.dataset import Compose

    rng = np.random.default_rng(47)
    coco = {
        "frame_dir": "c", "total_frames": 40, "label": 3, "img_shape": (480, 640),
        "keypoint": (rng.random((2, 40, 17, 2)) * [640, 480]).astype(np.float32),
        "keypoint_score": rng.random((2, 40, 17)).astype(np.float32),
    }  # fmt: skip
    ntu_kp = rng.standard_normal((2, 30, 25, 3)).astype(np.float32)
    ntu_kp[1, :7] = 0  # the second person appears late
    ntu_kp[:, 28:] = 0  # and both leave early
    ntu = {"frame_dir": "n", "total_frames": 30, "label": 1, "keypoint": ntu_kp}
    one = {"frame_dir": "o", "total_frames": 12, "label": 0,
           "keypoint": rng.standard_normal((1, 12, 25, 3)).astype(np.float32)}  # fmt: skip
    cases = []
    plan = [
        (coco, "coco", ["j"], 16, 2), (coco, "coco", ["b", "bm"], 16, 1),
        (coco, "coco", ["j", "b", "jm", "bm"], 8, 1), (coco, "coco", ["jm"], 50, 1),
        (ntu, "nturgb+d", ["j"], 16, 2), (ntu, "nturgb+d", ["b"], 16, 1),
        (ntu, "nturgb+d", ["jm", "bm"], 10, 1), (one, "nturgb+d", ["j"], 20, 1),
    ]  # fmt: skip
    for sample, dataset, feats, clip_len, num_clips in plan:
        pre = PreNormalize2D() if dataset == "coco" else PreNormalize3D()
        pipeline = Compose([
            pre, GenSkeFeat(dataset=dataset, feats=feats),
            UniformSampleFrames(clip_len=clip_len, num_clips=num_clips, test_mode=True),
            PoseDecode(), FormatGCNInput(num_person=2),
        ])  # fmt: skip
        out = pipeline(copy.deepcopy(sample))
        cases.append({"sample": sample["frame_dir"], "dataset": dataset, "feats": feats,
                      "clip_len": clip_len, "num_clips": num_clips,
                      "keypoint": torch.from_numpy(out["keypoint"])})  # fmt: skip
    samples = {}
    for sample in (coco, ntu, one):
        samples[sample["frame_dir"]] = {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in sample.items()
        }
    return {"mmaction": mmaction.__version__, "samples": samples, "cases": cases}


def pose_target_cases() -> dict:
    """MMAction2's GeneratePoseTarget on seeded COCO-17 poses: keypoints, limbs, both
    (its max-merge), without scores, flipped copies (double), scaling; keypoints partly
    outside the frame, scores partly below its eps, and a limb shorter than a pixel."""
    import zlib

    import numpy as np
    from mmaction.datasets.transforms import GeneratePoseTarget

    rng = np.random.default_rng(61)
    m, t, v = 2, 2, 17
    kp = (rng.random((m, t, v, 2)) * 70 - 7).astype(np.float32)  # some off the 56x56 frame
    kp[0, 0, 1] = kp[0, 0, 0] + 0.4  # limb (0, 1) shorter than a pixel in frame 0
    score = rng.random((m, t, v)).astype(np.float32)
    score[rng.random((m, t, v)) < 0.15] = 0  # dropped keypoints
    score[1, 1, 3] = 5e-5  # below eps
    plan = [
        ("kp", {}, (56, 56)),
        ("limb", {"with_kp": False, "with_limb": True}, (56, 56)),
        ("both", {"with_kp": True, "with_limb": True}, (56, 56)),
        ("no_score", {"use_score": False}, (56, 56)),
        ("double", {"double": True}, (64, 64)),
        ("double_limb", {"with_kp": False, "with_limb": True, "double": True}, (64, 64)),
        ("sigma", {"sigma": 1.3, "with_kp": True, "with_limb": True}, (40, 48)),
        ("scaling", {"scaling": 0.5}, (112, 100)),
    ]
    cases = []
    for name, args, shape in plan:
        results = {"keypoint": kp.copy(), "keypoint_score": score.copy(), "img_shape": shape}
        out = GeneratePoseTarget(**args).transform(results)["imgs"]
        # mostly zeros: stored zlib-compressed (float32 bytes) to keep the fixture small
        packed = zlib.compress(np.ascontiguousarray(out, np.float32).tobytes(), 9)
        cases.append({"name": name, "args": args, "img_shape": shape, "shape": list(out.shape),
                      "imgs_zlib": packed})  # fmt: skip
    return {
        "mmaction": mmaction.__version__,
        "keypoint": torch.from_numpy(kp),
        "keypoint_score": torch.from_numpy(score),
        "cases": cases,
    }


def posec3d_pipeline_cases() -> dict:
    """MMAction2's PoseC3D pipelines on a seeded two-person COCO sample in a 1080x1920
    frame, the frame indices given (its UniformSampleFrames reseeds NumPy's global RNG):
    the test pipeline (PoseCompact, Resize, CenterCrop, GeneratePoseTarget with the
    mirrored copy, FormatShape), the limb variant, and the training geometry with its
    random steps pinned (a full-area crop, flip_ratio 1). Keypoints after the geometry
    and the final heatmaps (zlib-compressed float32)."""
    import copy
    import zlib

    import numpy as np
    from mmaction.datasets.transforms import (
        CenterCrop,
        Flip,
        FormatShape,
        GeneratePoseTarget,
        PoseCompact,
        PoseDecode,
        RandomResizedCrop,
        Resize,
    )

    rng = np.random.default_rng(67)
    m, t, v = 2, 20, 17
    centre = np.array([900.0, 500.0]) + rng.normal(0, 30, (m, 1, 1, 2))
    kp = (centre + rng.normal(0, 120, (m, t, v, 2))).astype(np.float32)
    kp[1, :4] = 0  # the second person appears late
    kp[0, 5, 3] = 0  # a missing keypoint
    score = rng.random((m, t, v)).astype(np.float32)
    sample = {"keypoint": kp, "keypoint_score": score, "img_shape": (1080, 1920),
              "total_frames": t, "modality": "Pose"}  # fmt: skip
    inds = np.array([1, 4, 12, 18, 0, 5, 10, 19])  # 2 clips of 4
    left_kp, right_kp = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]
    skeletons = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
                 [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]  # fmt: skip
    left_limb, right_limb = [0, 2, 3, 6, 7, 8, 12, 14], [1, 4, 5, 9, 10, 11, 13, 15]
    test_geometry = [PoseDecode(), PoseCompact(hw_ratio=1.0, allow_imgpad=True),
                     Resize(scale=(-1, 64)), CenterCrop(crop_size=64)]  # fmt: skip
    train_geometry = [PoseDecode(), PoseCompact(hw_ratio=1.0, allow_imgpad=True),
                      Resize(scale=(-1, 64)),
                      RandomResizedCrop(area_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0)),
                      Resize(scale=(56, 56), keep_ratio=False),
                      Flip(flip_ratio=1.0, left_kp=left_kp, right_kp=right_kp)]  # fmt: skip
    plan = {
        "test_keypoint": (test_geometry, dict(double=True, left_kp=left_kp, right_kp=right_kp), 2),
        "test_limb": (test_geometry, dict(with_kp=False, with_limb=True, skeletons=skeletons,
                      double=True, left_limb=left_limb, right_limb=right_limb), 2),
        "train_keypoint": (train_geometry, {}, 1),
        "compact_no_pad": ([PoseDecode(), PoseCompact(padding=0.1, allow_imgpad=False)], None, 1),
    }  # fmt: skip
    cases = []
    for name, (geometry, target, clips) in plan.items():
        results = copy.deepcopy(sample)
        results.update(frame_inds=inds[: 4 * clips], clip_len=4, num_clips=clips)
        for step in geometry:
            results = step.transform(results)
        case = {"name": name, "clips": clips, "target": target,
                "keypoint": torch.from_numpy(np.asarray(results["keypoint"], np.float64)),
                "keypoint_dtype": str(results["keypoint"].dtype),
                "img_shape": tuple(int(x) for x in results["img_shape"])}  # fmt: skip
        if target is not None:
            results = GeneratePoseTarget(**target).transform(results)
            results = FormatShape(input_format="NCTHW_Heatmap").transform(results)
            out = np.ascontiguousarray(results["imgs"], np.float32)
            case["shape"] = list(out.shape)
            case["imgs_zlib"] = zlib.compress(out.tobytes(), 9)
        cases.append(case)
    return {
        "mmaction": mmaction.__version__,
        "sample": {"keypoint": torch.from_numpy(kp), "keypoint_score": torch.from_numpy(score)},
        "frame_inds": torch.from_numpy(inds),
        "cases": cases,
    }


def bmn_cases() -> dict:
    """MMAction2's BMN (the 400x100 ActivityNet config's model) in tensor mode on seeded
    weights and features: (confidence map, start, end)."""
    from mmaction.models.localizers import BMN

    model = BMN(100, 0.5, 32, 3, 400, 0.4, 0.5, 0.9, 100).eval()
    skip = ("sample_mask", "bm_mask")  # derived, not learned
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items() if k not in skip]
    model.load_state_dict(make_state(shapes), strict=False)
    x = make_input((2, 400, 100))
    with torch.no_grad():
        confidence, start, end = model(list(x), None, mode="tensor")
    return {
        "mmaction": mmaction.__version__,
        "shapes": shapes,
        "input_shape": (2, 400, 100),
        "confidence": confidence,
        "start": start,
        "end": end,
        "bm_mask": model.bm_mask,
    }


# (name, samples, channels, rate, amplitude): the WAV files the audio feature fixture
# runs MMAction2's AudioTools on (tests/parity_weights.make_sound, seed = the index)
AUDIO_CASES = (
    ("mono_16k", 24000, 1, 16000, 0.3),
    ("stereo_16k", 16000, 2, 16000, 0.3),
    ("whole_hops", 4096, 1, 16000, 0.5),
    ("quiet", 8000, 1, 16000, 0.00005),
    ("mono_44k", 44100, 1, 44100, 0.3),
)


def audio_feature_cases() -> dict:
    """MMAction2's log-mel features (``tools/data/build_audio_features.py``'s
    ``AudioTools(fft_size=512, hop_size=256)``: ``read_audio`` then
    ``audio_to_spectrogram``) of seeded WAV files. That script is not in the wheel: set
    MMACTION2_TOOLS to a checkout's ``tools/data`` folder; it needs ``librosa==0.9.2``
    and ``lws`` (1.2.8 builds on Python 3.11 from its sdist with ``LWS_USE_CYTHON=1``
    and Cython installed, ``--no-build-isolation``)."""
    import tempfile

    from parity_weights import make_sound
    from scipy.io import wavfile

    sys.path.insert(0, os.environ["MMACTION2_TOOLS"])
    from build_audio_features import AudioTools

    tools = AudioTools(fft_size=512, hop_size=256)
    cases = {"mmaction": mmaction.__version__, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (name, samples, channels, rate, amplitude) in enumerate(AUDIO_CASES):
            pcm = make_sound(samples, channels, seed, amplitude)
            path = os.path.join(tmp, f"{name}.wav")
            wavfile.write(path, rate, pcm if channels > 1 else pcm[:, 0])
            features = tools.audio_to_spectrogram(tools.read_audio(path))
            cases["cases"][name] = {
                "samples": samples,
                "channels": channels,
                "rate": rate,
                "amplitude": amplitude,
                "seed": seed,
                "features": torch.from_numpy(features.astype("float32")),
            }
            print(name, features.shape)
    return cases


def fusion_cases() -> dict:
    """Late fusion as tools/analysis_tools/report_accuracy.py does it (scipy's softmax
    with --apply-softmax, then MMAction2's get_weighted_score and metrics), on seeded
    random scores of three streams."""
    import numpy as np
    from mmaction.evaluation.functional import (
        get_weighted_score,
        mean_class_accuracy,
        top_k_accuracy,
    )
    from scipy.special import softmax

    rng = np.random.default_rng(11)
    n, k = 40, 8
    streams = [rng.standard_normal((n, k)) * 2 for _ in range(3)]
    labels = rng.integers(0, k, size=n)
    weights = [2.0, 1.0, 0.5]
    cases = []
    for apply_softmax in (False, True):
        scores = [
            [softmax(s) for s in stream] if apply_softmax else list(stream) for stream in streams
        ]
        fused = get_weighted_score(scores, weights)
        cases.append(
            {
                "softmax": apply_softmax,
                "fused": torch.from_numpy(np.stack(fused)),
                "top_k": [float(v) for v in top_k_accuracy(fused, list(labels), (1, 5))],
                "mean_class": float(mean_class_accuracy(fused, list(labels))),
            }
        )
    return {
        "mmaction": mmaction.__version__,
        "streams": [torch.from_numpy(s) for s in streams],
        "labels": torch.from_numpy(labels),
        "weights": weights,
        "cases": cases,
    }


def gradcam_cases() -> dict:
    """MMAction2's ``GradCAM`` (mmaction/utils/gradcam_utils.py) on seeded weights: a 2D
    recognizer (TSM-R18, 8 frames), a 3D one with two views (I3D) and SlowFast's slow
    pathway, each for the predicted class and for the runner-up as the given label; the
    data preprocessor's normalisation off (the inputs are the model's)."""
    from mmaction.structures import ActionDataSample
    from mmaction.utils.gradcam_utils import GradCAM

    cases = {}
    layers = {
        "tsm_r18": ((1, 8, 3, 64, 64), "backbone/layer4/1/relu"),
        "i3d_r50": ((1, 2, 3, 8, 64, 64), "backbone/layer4/2/relu"),
        "slowfast_r50": ((1, 1, 3, 16, 64, 64), "backbone/slow_path/layer4/2/relu"),
    }
    for name, (shape, layer) in layers.items():
        config, _, backbone, head = MODELS_TO_FIX[name]
        model = build(config, backbone, head).eval()
        shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        model.load_state_dict(make_state(shapes))
        model.data_preprocessor._enable_normalize = False
        x = make_input(shape, seed=2)
        labels = None
        for _ in range(2):  # the predicted class, then the runner-up as the given label
            samples = [ActionDataSample().set_gt_label(labels or 0) for _ in range(shape[0])]
            data = {"inputs": list(x), "data_samples": samples}
            maps, preds = GradCAM(model, layer)._calculate_localization_map(
                data, use_labels=labels is not None
            )
            cases[f"{name}/{'label' if labels else 'pred'}"] = {
                "model": name,
                "shapes": shapes,
                "input_shape": shape,
                "layer": layer,
                "label": labels[0] if labels else None,
                "maps": maps.float(),
                "preds": preds.float(),
            }
            labels = [int(preds[0].argsort()[-2])]
    return {"mmaction": mmaction.__version__, "num_classes": NUM_CLASSES, "cases": cases}


def transformer_cases() -> dict:
    """What the parity fixtures cannot pin because the checkpoint overwrites it: VideoMAE's
    fixed sinusoid position table (as a probe) at the sizes its configs build."""
    from mmaction.models.backbones.vit_mae import get_sinusoid_encoding

    sizes = [(1568, 768), (1568, 1024), (1568, 384), (32, 768), (7, 6)]
    return {
        "sinusoid": [
            {"positions": n, "dims": d, "probe": probe("pos_embed", get_sinusoid_encoding(n, d))}
            for n, d in sizes
        ],
        "sinusoid_small": get_sinusoid_encoding(7, 6),
    }


def main() -> None:
    register_all_modules()
    _install_tin_shift()
    out_dir = ROOT / "tests" / "fixtures" / "mmaction"
    out_dir.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[1:])  # names to (re)write; all by default
    for name, (config, shape, backbone, head) in MODELS_TO_FIX.items():
        if only and name not in only:
            continue
        model = build(config, backbone, head).eval()
        # (Swin's relative position indices are derived, not weights: the model keeps its own)
        shapes = [
            (k, tuple(v.shape))
            for k, v in model.state_dict().items()
            if not k.endswith("relative_position_index")
        ]
        state = make_state(shapes)
        missing = model.load_state_dict(state, strict=False).missing_keys
        assert all(k.endswith("relative_position_index") for k in missing), missing
        x = make_input(shape)
        with torch.no_grad(), _recorded_choices() as relations:
            logits = model(x, mode="tensor", stage="head")
        extra = {"relations": [[0], *relations]} if relations else {}
        if getattr(model, "with_neck", False):
            extra.update(labels=LOSS_LABELS, losses=eval_losses(model, x))
        torch.save(
            {
                "mmaction": mmaction.__version__,
                "config": config,
                "backbone": backbone,
                "shapes": shapes,
                "input_shape": shape,
                "num_classes": NUM_CLASSES,
                "logits": logits,
                **extra,
            },
            out_dir / f"{name}.pt",
        )
        print(name, tuple(logits.shape), f"|logits| max {logits.abs().max():.3f}")
    cases = {
        "metrics": metric_cases,
        "confusion": confusion_cases,
        "gradcam": gradcam_cases,
        "fusion": fusion_cases,
        "audio_features": audio_feature_cases,
        "ops": op_cases,
        "bmn": bmn_cases,
        "bmn_targets": bmn_target_cases,
        "bmn_loss": bmn_loss_cases,
        "bmn_predict": bmn_predict_cases,
        "activitynet_dataset": activitynet_dataset_cases,
        "features": feature_cases,
        "bsn": bsn_cases,
        "skeleton": skeleton_cases,
        "ava_eval": ava_eval_cases,
        "ava_data": ava_data_cases,
        "ava_kinetics_data": ava_kinetics_data_cases,
        "lfb": lfb_cases,
        "ava_models": ava_model_cases,
        "ctrgcn": ctrgcn_cases,
        "pose_pipeline": pose_pipeline_cases,
        "pose_target": pose_target_cases,
        "posec3d_pipeline": posec3d_pipeline_cases,
        "localization_data": localization_data_cases,
        "localization_metrics": localization_metric_cases,
        "pretrained": pretrained_cases,
        "transformers": transformer_cases,
        "swin_pretrained": swin_pretrained_cases,
        "timesformer_pretrained": timesformer_pretrained_cases,
        "uniformer_pretrained": uniformer_pretrained_cases,
        "uniformerv2_pretrained": uniformerv2_pretrained_cases,
    }
    for name, make in cases.items():
        if not only or name in only:
            torch.save(make(), out_dir / f"{name}.pt")
    if not only or "recipes" in only:  # (JSON: readable in review)
        import json

        cases = recipe_cases()
        lines = [
            json.dumps(k) + ": " + json.dumps(v, sort_keys=True)
            for k, v in cases["recipes"].items()
        ]
        text = (
            "{"
            + f'"mmaction": "{cases["mmaction"]}", "recipes": '
            + "{\n"
            + ",\n".join(lines)
            + "\n}}\n"
        )
        (out_dir / "recipes.json").write_text(text)  # one recipe per line


if __name__ == "__main__":
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    main()
