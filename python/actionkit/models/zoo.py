"""The registered models, configured as MMAction2's Kinetics-400 model zoo has them."""

from __future__ import annotations

import torch.nn as nn

from .backbones import (
    C2D,
    C3D,
    S3D,
    X3D,
    MobileNetV2TSM,
    MobileOne,
    MViT,
    MViTv1,
    ResNet,
    ResNet2Plus1d,
    ResNet3d,
    ResNet3dSlowFast,
    ResNetAudio,
    ResNetTIN,
    ResNetTSM,
    ResNeXt,
    SwinTransformer3D,
    TANet,
    TimeSformer,
    UniFormer,
    UniFormerV2,
    VideoResNet,
    VisionTransformer,
)
from .heads import I3DHead, S3DHead, SlowFastHead, TRNHead, TSMHead, TSNHead, X3DHead
from .necks import TPN
from .recognizer import ImageRecognizer2D, Recognizer2D, Recognizer3D, RecognizerAudio
from .registry import register_model

# The standard test input of one sample per model, [views, 3, (T,) H, W] (MMAction2's
# Kinetics-400 test configs, one view): what export and benchmarks use by default.
TEST_INPUTS = {
    "tsn_r18": (8, 3, 224, 224),
    "tsn_r50": (8, 3, 224, 224),
    "tsn_r101": (8, 3, 224, 224),
    "tsn_torchvision": (3, 3, 224, 224),
    "tsn_timm": (3, 3, 224, 224),
    "tsn_resnext101_32x4d": (3, 3, 224, 224),
    "tsn_mobileone_s4": (8, 3, 224, 224),
    "tsm_mobileone_s4": (8, 3, 224, 224),
    "tsm_r18": (8, 3, 224, 224),
    "tsm_r50": (8, 3, 224, 224),
    "tin_r50": (8, 3, 224, 224),
    "tsm_r101": (8, 3, 224, 224),
    "trn_r50": (8, 3, 224, 224),
    "tsm_nl_r50": (8, 3, 224, 224),
    "tsm_mobilenetv2": (8, 3, 224, 224),
    "tanet_r50": (8, 3, 224, 224),
    "tsn_r18_audio": (1, 1, 128, 80),
    "audioonly_r50": (1, 1, 128, 80),
    "tpn_tsm_r50": (8, 3, 224, 224),
    "tpn_slowonly_r50": (1, 3, 8, 224, 224),
    "c2d_r50": (1, 3, 8, 224, 224),
    "c2d_nl_r50": (1, 3, 8, 224, 224),
    "i3d_r50": (1, 3, 32, 224, 224),
    "slowonly_r50": (1, 3, 4, 224, 224),
    "slowonly_r101": (1, 3, 8, 224, 224),
    "i3d_nl_r50": (1, 3, 32, 224, 224),
    "slowonly_nl_r50": (1, 3, 4, 224, 224),
    "slowfast_r50": (1, 3, 32, 224, 224),
    "slowfast_r50_8x8": (1, 3, 32, 224, 224),
    "slowfast_r101_r50": (1, 3, 32, 224, 224),
    "slowfast_r101_8x8": (1, 3, 32, 224, 224),
    "x3d_s": (1, 3, 13, 160, 160),
    "x3d_m": (1, 3, 16, 224, 224),
    "c3d": (1, 3, 16, 112, 112),
    "r2plus1d_r34": (1, 3, 8, 224, 224),
    "ircsn_r152": (1, 3, 32, 224, 224),
    "ipcsn_r152": (1, 3, 32, 224, 224),
    "ircsn_r50": (1, 3, 32, 224, 224),
    "timesformer_divst": (1, 3, 8, 224, 224),
    "timesformer_jointst": (1, 3, 8, 224, 224),
    "timesformer_spaceonly": (1, 3, 8, 224, 224),
    "vit_b16_videomae": (1, 3, 16, 224, 224),
    "vit_l16_videomae": (1, 3, 16, 224, 224),
    "vit_s16_videomaev2": (1, 3, 16, 224, 224),
    "vit_b16_videomaev2": (1, 3, 16, 224, 224),
    "swin3d_t": (1, 3, 32, 224, 224),
    "swin3d_s": (1, 3, 32, 224, 224),
    "swin3d_b": (1, 3, 32, 224, 224),
    "swin3d_l": (1, 3, 32, 224, 224),
    "mvitv2_s": (1, 3, 16, 224, 224),
    "mvitv2_b": (1, 3, 32, 224, 224),
    "mvitv2_l": (1, 3, 40, 312, 312),
    "uniformer_s": (1, 3, 16, 224, 224),
    "uniformer_b": (1, 3, 16, 224, 224),
    "uniformerv2_b16": (1, 3, 8, 224, 224),
    "uniformerv2_l14": (1, 3, 8, 224, 224),
    "uniformerv2_l14_336": (1, 3, 32, 336, 336),
    "r3d_18": (1, 3, 16, 112, 112),
    "mc3_18": (1, 3, 16, 112, 112),
    "r2plus1d_18": (1, 3, 16, 112, 112),
    "mvit_v1_b": (1, 3, 16, 224, 224),
    "s3d": (1, 3, 64, 224, 224),
}


# The skeleton models' input, one view: GCNs [clips, M, T, V, C], PoseC3D [clips, K, T, H,
# W] (MMAction2's NTU60-xsub 2D configs, the training clip): benchmarks and cost reports.
SKELETON_INPUTS = {
    "stgcn": (1, 2, 100, 17, 3),
    "stgcnpp": (1, 2, 100, 17, 3),
    "agcn": (1, 2, 100, 17, 3),
    "ctrgcn": (1, 2, 100, 17, 3),
    "posec3d_r50": (1, 17, 48, 56, 56),
}


# The normalisation (mean, std per RGB channel, 0-255 values) a model was trained with,
# where it is not ImageNet's (123.675, 116.28, 103.53) / (58.395, 57.12, 57.375): MMAction2's
# data_preprocessor of its config (and torchvision's / the Kinetics-400 video models').
# The default test pipeline uses it (apis.default_test_split); the configs restate it.
_CSN = ((110.2008, 100.63983, 95.99475), (58.14765, 56.46975, 55.332195))
_HALF = ((114.75, 114.75, 114.75), (57.375, 57.375, 57.375))
NORMALIZATION = {
    "c3d": ((104, 117, 128), (1, 1, 1)),
    "tanet_r50": ((123.675, 116.28, 103.5), (58.395, 57.12, 57.375)),  # (MMAction2's 103.5)
    **dict.fromkeys(("ircsn_r152", "ipcsn_r152", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"), _CSN),
    **dict.fromkeys(("mvit_v1_b", "mvitv2_s", "mvitv2_b", "mvitv2_l"), _HALF),
    **dict.fromkeys(("uniformer_s", "uniformer_b"), _HALF),
    **dict.fromkeys(("uniformerv2_b16", "uniformerv2_l14", "uniformerv2_l14_336"), _HALF),
    **dict.fromkeys(("timesformer_divst", "timesformer_jointst", "timesformer_spaceonly"),
                    ((127.5,) * 3, (127.5,) * 3)),
    **dict.fromkeys(("x3d_s", "x3d_m"), ((114.75,) * 3, (57.38,) * 3)),
}  # fmt: skip


def _tsn_over(backbone: nn.Module, num_classes: int, dropout: float) -> Recognizer2D:
    """A 2D backbone with TSN's head: the segments' features averaged, one classifier."""
    return Recognizer2D(backbone, TSNHead(num_classes, backbone.out_channels, dropout))


def _tsn(depth: int, num_classes: int, dropout: float = 0.4, **kwargs) -> Recognizer2D:
    return _tsn_over(ResNet(depth, **kwargs), num_classes, dropout)


@register_model
def tsn_r18(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN, ResNet-18: the TSN-R50 recipe with depth 18 (a 512-wide head)."""
    return _tsn(18, num_classes, **kwargs)


@register_model
def tsn_r50(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN, ResNet-50, 8 segments (``tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e``)."""
    return _tsn(50, num_classes, **kwargs)


@register_model
def tsn_r101(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN, ResNet-101."""
    return _tsn(101, num_classes, **kwargs)


def _per_segment(backbone: nn.Module, num_classes: int, num_segments: int, dropout: float):
    """A 2D backbone with TSM's head: each segment classified, the scores averaged."""
    head = TSMHead(num_classes, backbone.out_channels, num_segments, dropout)
    return Recognizer2D(backbone, head)


def _tsm(depth, num_classes, num_segments, shift_div, shift_place, dropout, **kwargs):
    backbone = ResNetTSM(depth, num_segments, shift_div, shift_place, **kwargs)
    return _per_segment(backbone, num_classes, num_segments, dropout)


@register_model
def tsn_torchvision(
    num_classes: int = 400, arch: str = "densenet161", dropout: float = 0.4, **kwargs
) -> Recognizer2D:
    """TSN over torchvision's image classifier ``arch`` (any of
    ``torchvision.models.list_models()``; MMAction2's ``torchvision.densenet161`` backbone,
    ``tsn_imagenet-pretrained-dense161_8xb32-1x1x3-100e``): its features averaged per frame,
    the frames averaged, dropout, a linear classifier. ``kwargs`` go to torchvision's
    builder. Needs torchvision (the ``pose`` extra); weights come from a file you give
    (``pretrained=``), never downloaded."""
    try:
        import torchvision
    except ImportError as e:
        raise ImportError(
            'tsn_torchvision needs torchvision (pip install "actionkit[pose]": the build '
            "matching your torch)"
        ) from e
    net = torchvision.models.get_model(arch, weights=None, **kwargs)
    linears = [
        m
        for name in ("classifier", "fc")
        for m in (getattr(net, name, None) or nn.Identity()).modules()
        if isinstance(m, nn.Linear)
    ]
    if not linears:
        raise ValueError(f"tsn_torchvision: {arch} has no fc or classifier to take the width of")
    net.classifier, net.fc = nn.Identity(), nn.Identity()  # (as MMAction2 does)
    return ImageRecognizer2D(net, TSNHead(num_classes, linears[0].in_features, dropout))


@register_model
def tsn_timm(
    num_classes: int = 400,
    arch: str = "swin_base_patch4_window7_224",
    dropout: float = 0.4,
    **kwargs,
) -> Recognizer2D:
    """TSN over timm's image model ``arch`` (MMAction2's ``timm.swin_base_patch4_window7_224``
    backbone, ``tsn_imagenet-pretrained-swin-transformer_8xb32-1x1x3-100e``): its
    ``forward_features`` averaged per frame (channels last where timm says its output is,
    as Swin's), the frames averaged, dropout, a linear classifier. ``kwargs`` go to
    ``timm.create_model``. Needs timm (the ``timm`` extra); weights come from a file you
    give (``pretrained=``), never downloaded."""
    try:
        import timm
    except ImportError as e:
        raise ImportError('tsn_timm needs timm (pip install "actionkit[timm]")') from e
    net = timm.create_model(arch, pretrained=False, num_classes=0, **kwargs)
    layout = "NHWC" if getattr(net, "output_fmt", "NCHW") == "NHWC" else "NCHW"
    head = TSNHead(num_classes, net.num_features, dropout)
    return ImageRecognizer2D(net, head, layout=layout)


@register_model
def tsn_resnext101_32x4d(num_classes: int = 400, dropout: float = 0.4, **kwargs) -> Recognizer2D:
    """TSN, ResNeXt-101 32x4d (MMAction2's ``mmcls.ResNeXt`` backbone,
    ``tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e``; mmcls's / torchvision's
    parameter names)."""
    backbone = ResNeXt(101, **{"groups": 32, "width_per_group": 4, **kwargs})
    return _tsn_over(backbone, num_classes, dropout)


@register_model
def tsn_mobileone_s4(
    num_classes: int = 400, dropout: float = 0.4, deploy: bool = False, **kwargs
) -> Recognizer2D:
    """TSN, MobileOne-S4 (MMAction2's ``mmpretrain.MobileOne`` backbone,
    ``tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e``); ``deploy``: each block's
    branches folded into one convolution (its ``_deploy`` config; a trained model folds
    with :func:`actionkit.models.reparameterize`)."""
    return _tsn_over(MobileOne("s4", deploy, **kwargs), num_classes, dropout)


@register_model
def tsm_mobileone_s4(
    num_classes: int = 400,
    num_segments: int = 8,
    shift_div: int = 8,
    dropout: float = 0.5,
    deploy: bool = False,
    shift_segments: int | None = None,
    **kwargs,
) -> Recognizer2D:
    """TSM, MobileOne-S4, the shift before every block (MMAction2's ``MobileOneTSM``,
    ``tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e``). ``shift_segments``: the
    frames the shift runs over, if not ``num_segments`` (MMAction2's 16-segment config
    leaves its backbone at 8, so its 16 frames shift as two clips of 8: its checkpoint's
    setting); ``deploy`` as :func:`tsn_mobileone_s4`."""
    segments = num_segments if shift_segments is None else shift_segments
    backbone = MobileOne("s4", deploy, segments, shift_div, **kwargs)
    return _per_segment(backbone, num_classes, num_segments, dropout)


@register_model
def tsm_r18(
    num_classes: int = 400,
    num_segments: int = 8,
    shift_div: int = 8,
    shift_place: str = "blockres",
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TSM, ResNet-18: the TSM-R50 recipe with depth 18 (a 512-wide head; with
    ``base_channels=32`` half as wide everywhere, the synthetic demo's model)."""
    return _tsm(18, num_classes, num_segments, shift_div, shift_place, dropout, **kwargs)


@register_model
def tsm_r50(
    num_classes: int = 400,
    num_segments: int = 8,
    shift_div: int = 8,
    shift_place: str = "blockres",
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TSM, ResNet-50, 8 segments, shift 1/8 each way in every residual branch
    (``tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e``)."""
    return _tsm(50, num_classes, num_segments, shift_div, shift_place, dropout, **kwargs)


@register_model
def tsm_r101(
    num_classes: int = 174,
    num_segments: int = 8,
    shift_div: int = 8,
    shift_place: str = "blockres",
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TSM, ResNet-101, 8 segments (``tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2``:
    Something-Something V2)."""
    return _tsm(101, num_classes, num_segments, shift_div, shift_place, dropout, **kwargs)


@register_model
def tin_r50(
    num_classes: int = 400,
    num_segments: int = 8,
    shift_div: int = 4,
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TIN, ResNet-50, 8 segments, a quarter of each residual branch's input interlaced
    (``tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv1``: Something-Something V1)."""
    return _per_segment(
        ResNetTIN(50, num_segments, shift_div, **kwargs), num_classes, num_segments, dropout
    )


@register_model
def tsm_nl_r50(
    num_classes: int = 400,
    num_segments: int = 8,
    mode: str = "embedded_gaussian",
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TSM-NL, ResNet-50 with 5 non-local blocks over the 8 segments, ``mode``
    embedded_gaussian, gaussian or dot_product
    (``tsm_imagenet-pretrained-r50-nl-<mode>_8xb16-1x1x8-50e``: unscaled dot products)."""
    nl = dict(non_local=_NL_TSM, non_local_cfg=_nl_cfg(mode, False))
    return tsm_r50(num_classes, num_segments, dropout=dropout, **{**nl, **kwargs})


@register_model
def tsm_mobilenetv2(
    num_classes: int = 400,
    num_segments: int = 8,
    shift_div: int = 8,
    dropout: float = 0.5,
    **kwargs,
) -> Recognizer2D:
    """TSM, MobileNetV2, 8 segments, the shift in every inverted residual block with a
    skip connection (``tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e``)."""
    return _per_segment(
        MobileNetV2TSM(num_segments, shift_div, **kwargs), num_classes, num_segments, dropout
    )


@register_model
def tanet_r50(
    num_classes: int = 400, num_segments: int = 8, dropout: float = 0.5, **kwargs
) -> Recognizer2D:
    """TANet, ResNet-50 with a temporal adaptive module in every bottleneck, 8 segments
    (``tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1``)."""
    return _per_segment(TANet(50, num_segments, **kwargs), num_classes, num_segments, dropout)


@register_model
def trn_r50(
    num_classes: int = 400,
    num_segments: int = 8,
    relation_type: str = "TRNMultiScale",
    hidden_dim: int = 256,
    dropout: float = 0.8,
    partial_bn: bool = True,
    sampled_eval: bool = False,
    **kwargs,
) -> Recognizer2D:
    """TRN, ResNet-50 with partial BN, 8 segments, the multi-scale relation head
    (``trn_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv1``). The head's test scores are
    the expectation over its randomly drawn frame tuples (``models.heads.trn``)."""
    backbone = ResNet(50, partial_bn=partial_bn, **kwargs)
    head = TRNHead(
        num_classes,
        backbone.out_channels,
        num_segments,
        relation_type,
        hidden_dim,
        dropout,
        sampled_eval=sampled_eval,
    )
    return Recognizer2D(backbone, head)


@register_model
def tsn_r18_audio(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> RecognizerAudio:
    """TSN on sound: ResNet-18 over one log-mel spectrogram channel, 128 rows (about 2 s)
    x 80 mel bands per clip (``tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature``)."""
    backbone = ResNet(18, **{"in_channels": 1, **kwargs})
    return RecognizerAudio(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def audioonly_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> RecognizerAudio:
    """Audio-only ResNetAudio-50 (Audiovisual SlowFast's audio pathway alone, factorised
    time/frequency convolutions; ``audioonly_r50_8xb160-64x1x1-100e_kinetics400-audio-feature``)."""
    backbone = ResNetAudio(50, **kwargs)
    return RecognizerAudio(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


tsn_r18_audio.modality = audioonly_r50.modality = "audio"


def _tpn(recognizer: type, backbone: nn.Module, num_classes: int, dropout: float, aux: bool):
    """A backbone's stages 3 and 4 through the TPN neck (its auxiliary head on stage 3
    when ``aux``), TPN's head (global average, dropout, linear)."""
    neck = TPN(aux_classes=num_classes if aux else None)
    return recognizer(backbone, I3DHead(num_classes, neck.out_channels, dropout), neck=neck)


@register_model
def tpn_tsm_r50(
    num_classes: int = 174,
    num_segments: int = 8,
    dropout: float = 0.5,
    aux_head: bool = True,
    **kwargs,
) -> Recognizer2D:
    """TPN on TSM-R50, 8 segments (``tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1``:
    Something-Something V1); the auxiliary head on res4 adds half its cross-entropy."""
    backbone = ResNetTSM(50, num_segments, **{"out_indices": (2, 3), **kwargs})
    return _tpn(Recognizer2D, backbone, num_classes, dropout, aux_head)


@register_model
def tpn_slowonly_r50(
    num_classes: int = 400, dropout: float = 0.5, aux_head: bool = True, **kwargs
) -> Recognizer3D:
    """TPN on SlowOnly-R50, 8x8 clips (``tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e``);
    the auxiliary head on res4 adds half its cross-entropy."""
    options = dict(conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False)
    backbone = ResNet3d(50, **{**options, "out_indices": (2, 3), **kwargs})
    return _tpn(Recognizer3D, backbone, num_classes, dropout, aux_head)


@register_model
def i3d_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """I3D, ResNet3d-50 with 3x1x1 inflation in alternating blocks, 5x7x7 stem with
    temporal stride 2 (``i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e``)."""
    options = dict(
        conv1_kernel=(5, 7, 7),
        conv1_stride_t=2,
        pool1_stride_t=2,
        inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
        zero_init_residual=False,
    )
    backbone = ResNet3d(50, **{**options, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def slowonly_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowOnly, ResNet3d-50: 1x7x7 stem, 3x1x1 convolutions in res4 and res5 only, no
    temporal pooling (``slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e``)."""
    options = dict(conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False)
    backbone = ResNet3d(50, **{**options, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def slowfast_r101_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowFast 4x16, a ResNet3d-101 slow pathway and a ResNet3d-50 fast one
    (``slowfast_r101-r50_32xb8-4x16x1-256e``)."""
    backbone = ResNet3dSlowFast(resample_rate=8, speed_ratio=8, slow_depth=101, **kwargs)
    return Recognizer3D(backbone, SlowFastHead(num_classes, backbone.out_channels, dropout))


@register_model
def slowfast_r101_8x8(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowFast-R101 8x8: both pathways ResNet3d-101 (``slowfast_r101_8xb8-8x8x1-256e``)."""
    options = dict(resample_rate=4, speed_ratio=4, fusion_kernel=7, slow_depth=101)
    backbone = ResNet3dSlowFast(**{**options, "fast_depth": 101, **kwargs})
    return Recognizer3D(backbone, SlowFastHead(num_classes, backbone.out_channels, dropout))


@register_model
def slowonly_r101(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowOnly 8x8, ResNet3d-101 (``slowonly_r101_8xb16-8x8x1-196e``: trained from
    scratch)."""
    options = dict(conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False)
    backbone = ResNet3d(101, **{**options, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


# MMAction2's non-local placements: I3D-NL's every other block of res3 and res4 from the
# second; TSM-NL's and SlowOnly-NL's from the first. Each sub-samples keys and values 2x2.
_NL_I3D = ((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0))
_NL_TSM = ((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0))


def _nl_cfg(mode: str, use_scale: bool) -> dict:
    return dict(sub_sample=True, use_scale=use_scale, mode=mode)


@register_model
def i3d_nl_r50(
    num_classes: int = 400, dropout: float = 0.5, mode: str = "embedded_gaussian", **kwargs
) -> Recognizer3D:
    """I3D-NL, ResNet3d-50 with 5 non-local blocks, ``mode`` embedded_gaussian, gaussian
    or dot_product (``i3d_imagenet-pretrained-r50-nl-<mode>_8xb8-32x2x1-100e``: unscaled
    dot products)."""
    nl = dict(non_local=_NL_I3D, non_local_cfg=_nl_cfg(mode, False))
    return i3d_r50(num_classes, dropout, **{**nl, **kwargs})


@register_model
def slowonly_nl_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowOnly-NL 4x16, ResNet3d-50 with 5 embedded-Gaussian non-local blocks scaled by
    1/sqrt(C') (``slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e``)."""
    nl = dict(non_local=_NL_TSM, non_local_cfg=_nl_cfg("embedded_gaussian", True))
    return slowonly_r50(num_classes, dropout, **{**nl, **kwargs})


@register_model
def slowfast_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowFast-R50 4x16: 32 input frames, the slow pathway every 8th (4 frames), the
    fast one all 32 with 1/8 of the channels (``slowfast_r50_8xb8-4x16x1-256e``)."""
    backbone = ResNet3dSlowFast(resample_rate=8, speed_ratio=8, **kwargs)
    return Recognizer3D(backbone, SlowFastHead(num_classes, backbone.out_channels, dropout))


@register_model
def slowfast_r50_8x8(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """SlowFast-R50 8x8: 32 input frames, slow every 4th (8 frames), fast all 32, lateral
    kernels 7x1x1 (``slowfast_r50_8xb8-8x8x1-256e``)."""
    backbone = ResNet3dSlowFast(resample_rate=4, speed_ratio=4, fusion_kernel=7, **kwargs)
    return Recognizer3D(backbone, SlowFastHead(num_classes, backbone.out_channels, dropout))


@register_model
def c3d(num_classes: int = 101, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """C3D on 16 x 112 x 112 clips (``c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101``;
    its data preprocessor subtracts (104, 117, 128) and divides by 1)."""
    backbone = C3D(**kwargs)
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def r2plus1d_r34(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """R(2+1)D-34 (``r2plus1d_r34_8xb8-8x8x1-180e``, 8 x 112 x 112 or 32 x 112 x 112)."""
    backbone = ResNet2Plus1d(**kwargs)
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


def _csn(mode: str, num_classes: int, dropout: float, depth: int = 152, **kwargs) -> Recognizer3D:
    options = dict(
        conv1_kernel=(3, 7, 7),
        temporal_strides=(1, 2, 2, 2),
        with_pool2=False,
        inflate_style="3x3x3",
        bottleneck_mode=mode,
        bn_eps=1e-3,
        zero_init_residual=False,
    )
    backbone = ResNet3d(depth, **{**options, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def ircsn_r152(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """ir-CSN, ResNet3d-152 with depthwise 3x3x3 convolutions (``ircsn_r152_32x2x1-180e``)."""
    return _csn("ir", num_classes, dropout, **kwargs)


@register_model
def ircsn_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """ir-CSN, ResNet3d-50 (``ircsn_ig65m-pretrained-r50-bnfrozen_8xb12-32x2x1-58e``)."""
    return _csn("ir", num_classes, dropout, depth=50, **kwargs)


@register_model
def ipcsn_r152(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """ip-CSN: a 1x1x1 convolution before each depthwise 3x3x3 (``ipcsn_r152_32x2x1-180e``)."""
    return _csn("ip", num_classes, dropout, **kwargs)


@register_model
def c2d_r50(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """C2D, ResNet-50 per frame with temporal pooling after res2
    (``c2d_r50-in1k-pre_8xb32-8x8x1-100e``)."""
    backbone = C2D(50, **kwargs)
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def c2d_nl_r50(
    num_classes: int = 400, dropout: float = 0.5, mode: str = "embedded_gaussian", **kwargs
) -> Recognizer3D:
    """C2D-NL ("Non-local Neural Networks"' C2D baseline with 5 non-local blocks over the
    clip, in res3 and res4 every other block from the second, as I3D-NL; MMAction2 has
    the C2D backbone but no C2D-NL: the non-local blocks are I3D-NL's, ``mode`` as
    there, unscaled dot products, keys and values sub-sampled 2x2)."""
    nl = dict(non_local=_NL_I3D, non_local_cfg=_nl_cfg(mode, False))
    return c2d_r50(num_classes, dropout, **{**nl, **kwargs})


def _x3d(num_classes: int, dropout: float, **kwargs) -> Recognizer3D:
    backbone = X3D(**kwargs)
    return Recognizer3D(backbone, X3DHead(num_classes, backbone.out_channels, dropout))


@register_model
def x3d_s(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """X3D-S: 13 frames, stride 6, 160 x 160 (``x3d_s_13x6x1_facebook``)."""
    return _x3d(num_classes, dropout, **kwargs)


@register_model
def x3d_m(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """X3D-M: the X3D-S network on 16 frames, stride 5, 224 x 224 (``x3d_m_16x5x1_facebook``)."""
    return _x3d(num_classes, dropout, **kwargs)


def _timesformer(attention_type: str, num_classes: int, dropout: float, **kwargs) -> Recognizer3D:
    backbone = TimeSformer(attention_type=attention_type, **kwargs)
    head = I3DHead(num_classes, backbone.out_channels, dropout, init_std=0.02)
    return Recognizer3D(backbone, head)


@register_model
def timesformer_divst(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """TimeSformer, ViT-B/16, divided space-time attention, 8 x 224 x 224
    (``timesformer_divST_8xb8-8x32x1-15e``)."""
    return _timesformer("divided_space_time", num_classes, dropout, **kwargs)


@register_model
def timesformer_jointst(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """TimeSformer, ViT-B/16, joint space-time attention over all 1569 tokens
    (``timesformer_jointST_8xb8-8x32x1-15e``)."""
    return _timesformer("joint_space_time", num_classes, dropout, **kwargs)


@register_model
def timesformer_spaceonly(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """TimeSformer, ViT-B/16, attention within each frame only, the frames' class tokens
    averaged (``timesformer_spaceOnly_8xb8-8x32x1-15e``)."""
    return _timesformer("space_only", num_classes, dropout, **kwargs)


def _videomae(width: int, blocks: int, heads: int, num_classes: int, dropout: float, **kwargs):
    options = dict(embed_dims=width, depth=blocks, num_heads=heads)
    backbone = VisionTransformer(**{**options, **kwargs})
    head = I3DHead(num_classes, backbone.out_channels, dropout, init_std=0.02)
    model = Recognizer3D(backbone, head)
    if not isinstance(backbone.pos_embed, nn.Parameter):  # the fixed table: derived
        model.checkpoint_optional = ("backbone.pos_embed",)  # (transformers' files lack it)
    return model


@register_model
def vit_b16_videomae(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """ViT-B/16 with 2-frame tubelets on 16 x 224 x 224 clips, mean-pooled (VideoMAE's
    fine-tuned model, ``vit-base-p16_videomae-k400-pre_16x4x1``)."""
    return _videomae(768, 12, 12, num_classes, dropout, **kwargs)


@register_model
def vit_l16_videomae(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """ViT-L/16 (1024 wide, 24 blocks) of VideoMAE (``vit-large-p16_videomae-k400-pre_16x4x1``)."""
    return _videomae(1024, 24, 16, num_classes, dropout, **kwargs)


@register_model
def vit_s16_videomaev2(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """ViT-S/16 (384 wide, 6 heads) distilled from VideoMAE V2's ViT-g
    (``vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1``)."""
    return _videomae(384, 12, 6, num_classes, dropout, **kwargs)


@register_model
def vit_b16_videomaev2(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """ViT-B/16 distilled from VideoMAE V2's ViT-g (the VideoMAE ViT-B architecture;
    ``vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1``)."""
    return _videomae(768, 12, 12, num_classes, dropout, **kwargs)


def _swin(arch: str, drop_path_rate: float, num_classes: int, dropout: float, **kwargs):
    backbone = SwinTransformer3D(arch, drop_path_rate=drop_path_rate, **kwargs)
    model = Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout))
    model.checkpoint_ignore = tuple(f"backbone.{k}" for k in backbone.derived_buffers)
    return model


@register_model
def swin3d_t(num_classes: int = 400, dropout: float = 0.5, drop_path_rate: float = 0.1, **kwargs):
    """Video Swin-T: 96 wide, (2, 2, 6, 2) blocks, 2x4x4 patches, 8x7x7 windows, 32 x 224
    x 224 clips (``swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e``)."""
    return _swin("tiny", drop_path_rate, num_classes, dropout, **kwargs)


@register_model
def swin3d_s(num_classes: int = 400, dropout: float = 0.5, drop_path_rate: float = 0.2, **kwargs):
    """Video Swin-S: Swin-T with (2, 2, 18, 2) blocks (``swin-small-p244-w877_...``)."""
    return _swin("small", drop_path_rate, num_classes, dropout, **kwargs)


@register_model
def swin3d_b(num_classes: int = 400, dropout: float = 0.5, drop_path_rate: float = 0.3, **kwargs):
    """Video Swin-B: 128 wide, (2, 2, 18, 2) blocks (``swin-base-p244-w877_...``)."""
    return _swin("base", drop_path_rate, num_classes, dropout, **kwargs)


@register_model
def swin3d_l(num_classes: int = 400, dropout: float = 0.5, drop_path_rate: float = 0.4, **kwargs):
    """Video Swin-L: 192 wide, (2, 2, 18, 2) blocks (``swin-large-p244-w877_in22k-pre_...``)."""
    return _swin("large", drop_path_rate, num_classes, dropout, **kwargs)


def _mvit(size_name: str, frames: int, size: int, rate: float, num_classes: int, dropout, **kw):
    options = dict(arch=size_name, temporal_size=frames, spatial_size=size, drop_path_rate=rate)
    backbone = MViT(**{**options, **kw})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout, 0.02))


@register_model
def mvitv2_s(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """MViTv2-S: 16 blocks, 96 wide, 16 x 224 x 224 clips, classified from the class token
    (``mvit-small-p244_32xb16-16x4x1-200e``)."""
    return _mvit("small", 16, 224, 0.2, num_classes, dropout, **kwargs)


@register_model
def mvitv2_b(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """MViTv2-B: 24 blocks, 96 wide, 32 x 224 x 224 clips (``mvit-base-p244_32x3x1``)."""
    return _mvit("base", 32, 224, 0.3, num_classes, dropout, **kwargs)


@register_model
def mvitv2_l(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """MViTv2-L: 48 blocks, 144 wide, 40 x 312 x 312 clips (``mvit-large-p244_40x3x1``)."""
    return _mvit("large", 40, 312, 0.75, num_classes, dropout, **kwargs)


def _uniformer(arch: str, drop_path_rate: float, num_classes: int, dropout: float, **kwargs):
    backbone = UniFormer(arch, drop_path_rate=drop_path_rate, **kwargs)
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout, 0.02))


@register_model
def uniformer_s(num_classes: int = 400, dropout: float = 0.0, drop_path_rate: float = 0.1, **kw):
    """UniFormer-S: (3, 4, 8, 3) blocks, 64 / 128 / 320 / 512 wide, 16 x 224 x 224 clips
    (``uniformer-small_imagenet1k-pre_16x4x1``)."""
    return _uniformer("small", drop_path_rate, num_classes, dropout, **kw)


@register_model
def uniformer_b(num_classes: int = 400, dropout: float = 0.0, drop_path_rate: float = 0.3, **kw):
    """UniFormer-B: (5, 8, 20, 7) blocks (``uniformer-base_imagenet1k-pre_16x4x1``; its
    32-frame model is the same network on 32 x 4 x 1 clips)."""
    return _uniformer("base", drop_path_rate, num_classes, dropout, **kw)


def _uniformerv2(arch: str, size: int, num_classes: int, dropout: float, **kwargs):
    backbone = UniFormerV2(arch, **{"input_resolution": size, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout, 0.02))


@register_model
def uniformerv2_b16(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """UniFormerV2-B/16: CLIP ViT-B/16 with 4 global UniBlocks, 224 x 224 frames (any
    clip length: 8, 16, 32; ``uniformerv2-base-p16-res224_clip-kinetics710-pre_...u8``)."""
    return _uniformerv2("b16", 224, num_classes, dropout, **kwargs)


@register_model
def uniformerv2_l14(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14: CLIP ViT-L/14 with 4 global UniBlocks, 224 x 224 frames
    (``uniformerv2-large-p14-res224_clip-kinetics710-pre_u8/u16/u32``)."""
    return _uniformerv2("l14", 224, num_classes, dropout, **kwargs)


@register_model
def uniformerv2_l14_336(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14 on 336 x 336 frames (CLIP ViT-L/14@336;
    ``uniformerv2-large-p14-res336_clip-kinetics710-pre_u32``)."""
    return _uniformerv2("l14", 336, num_classes, dropout, **kwargs)


def _video_resnet(kind: str, num_classes: int, dropout: float, **kwargs) -> Recognizer3D:
    backbone = VideoResNet(kind, **kwargs)
    head = I3DHead(num_classes, backbone.out_channels, dropout)
    nn.init.normal_(head.fc_cls.weight, 0, 0.01)  # torchvision's
    return Recognizer3D(backbone, head)


@register_model
def r3d_18(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """torchvision's R3D-18: 3x3x3 basic blocks, 16 x 112 x 112 clips
    (``torchvision.models.video.r3d_18``; its weights load as they are)."""
    return _video_resnet("r3d", num_classes, dropout, **kwargs)


@register_model
def mc3_18(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """torchvision's MC3-18: 3D convolutions in the first stage, 1x3x3 after
    (``torchvision.models.video.mc3_18``)."""
    return _video_resnet("mc3", num_classes, dropout, **kwargs)


@register_model
def r2plus1d_18(num_classes: int = 400, dropout: float = 0.0, **kwargs) -> Recognizer3D:
    """torchvision's R(2+1)D-18: each 3x3x3 factorised into 1x3x3 and 3x1x1
    (``torchvision.models.video.r2plus1d_18``)."""
    return _video_resnet("r2plus1d", num_classes, dropout, **kwargs)


@register_model
def mvit_v1_b(num_classes: int = 400, dropout: float = 0.5, **kwargs) -> Recognizer3D:
    """MViTv1-B, 16 x 224 x 224 clips, absolute positions (``torchvision.models.video.
    mvit_v1_b``, PyTorchVideo's port of the paper's weights: they load as they are)."""
    backbone = MViTv1(**{"drop_path_rate": 0.2, **kwargs})
    return Recognizer3D(backbone, I3DHead(num_classes, backbone.out_channels, dropout, 0.02))


@register_model
def s3d(num_classes: int = 400, dropout: float = 0.2, **kwargs) -> Recognizer3D:
    """torchvision's S3D: separable Inception-v1, 64 x 224 x 224 clips (128 in its test)
    (``torchvision.models.video.s3d``; its weights load as they are)."""
    backbone = S3D(**kwargs)
    return Recognizer3D(backbone, S3DHead(num_classes, backbone.out_channels, dropout))
