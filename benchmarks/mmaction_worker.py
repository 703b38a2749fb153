"""MMAction2 side of ``actionkit-bench model``: run by the side venv's python (see
dev/PARITY.md), never imported by actionkit. It reads one JSON command per line on
stdin and answers one JSON line, prefixed with ``MARK``, on stdout:

    {"cmd": "build", "name": "tsm_r50", "input": PATH, "weights": PATH}
        builds the model from MMAction2's zoo config (no pretrained weights), saves its
        state dict to ``weights`` (an MMAction2-style checkpoint actionkit loads), runs
        the input saved at ``input`` in eval mode and saves the logits next to it.
        -> {"num_classes": N, "logits": PATH, "mmaction": VERSION, "torch": VERSION}
    {"cmd": "step", "mode": "fwd" | "fwdbwd"}
        one timed forward (eval, no grad) or forward + backward (train mode, loss =
        cross-entropy) -> {"ms": elapsed}
    {"cmd": "peak", "mode": ...} -> {"bytes": the rise of the peak resident set over a step}
    {"cmd": "quit"}

Only the time of the step itself is reported, so the pipe costs nothing.
"""

import json
import os
import sys
import time
from pathlib import Path

import torch

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import mmaction  # noqa: E402
from _rss import peak_rss_rise  # noqa: E402  (benchmarks/, this script's folder)
from mmaction.registry import MODELS  # noqa: E402
from mmaction.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402

MARK = "@@actionkit "  # replies start with it; anything else on stdout is log noise
CONFIGS = Path(mmaction.__file__).parent / ".mim" / "configs" / "recognition"
TSN_R50 = "tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py"
# actionkit's name -> (MMAction2 config, backbone overrides, head overrides)
ZOO = {
    "tsn_r18": (TSN_R50, {"depth": 18}, {"in_channels": 512}),
    "tsn_r50": (TSN_R50, {}, {}),
    "tsn_r101": ("tsn/tsn_imagenet-pretrained-r101_8xb32-1x1x8-100e_kinetics400-rgb.py", {}, {}),
    "tsm_r50": ("tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py", {}, {}),
    # mmpretrain's backbones (mmpretrain installed beside MMAction2; mmcls.* built as
    # mmpretrain.*, its later name): the side venv with torchvision, dev/PARITY.md
    "tsn_resnext101_32x4d": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_kinetics400-rgb.py",
        {},
        {},
    ),
    "tsn_mobileone_s4": (
        "tsn/custom_backbones/tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb.py",
        {},
        {},
    ),
    "tsm_mobileone_s4": (
        "tsm/tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb.py",
        {"num_segments": 8},
        {"num_segments": 8},
    ),
    "tin_r50": ("tin/tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv1-rgb.py", {}, {}),
    "trn_r50": ("trn/trn_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv1-rgb.py", {}, {}),
    "tsn_r18_audio": (
        "../recognition_audio/resnet/tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature.py",
        {},
        {},
    ),
    "audioonly_r50": (
        "../recognition_audio/audioonly/audioonly_r50_8xb160-64x1x1-100e_kinetics400-audio-feature.py",
        {},
        {},
    ),
    "tpn_tsm_r50": ("tpn/tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb.py", {}, {}),
    "tpn_slowonly_r50": ("tpn/tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb.py", {}, {}),
    "tsm_nl_r50": (
        "tsm/tsm_imagenet-pretrained-r50-nl-embedded-gaussian_8xb16-1x1x8-50e_kinetics400-rgb.py",
        {},
        {},
    ),
    "i3d_nl_r50": (
        "i3d/i3d_imagenet-pretrained-r50-nl-embedded-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py",
        {},
        {},
    ),
    "slowonly_nl_r50": (
        "slowonly/slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_"
        "kinetics400-rgb.py",
        {},
        {},
    ),
    "c2d_r50": ("c2d/c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb.py", {}, {}),
    "i3d_r50": ("i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py", {}, {}),
    "slowonly_r50": (
        "slowonly/slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e_kinetics400-rgb.py",
        {},
        {},
    ),
    "slowfast_r50": ("slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py", {}, {}),
    "slowfast_r50_8x8": ("slowfast/slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb.py", {}, {}),
    "x3d_s": ("x3d/x3d_s_13x6x1_facebook-kinetics400-rgb.py", {}, {}),
    "x3d_m": ("x3d/x3d_m_16x5x1_facebook-kinetics400-rgb.py", {}, {}),
    "c3d": ("c3d/c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb.py", {}, {}),
    "r2plus1d_r34": ("r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py", {}, {}),
    "ircsn_r152": ("csn/ircsn_r152_32x2x1-180e_kinetics400-rgb.py", {}, {}),
    "ipcsn_r152": ("csn/ipcsn_r152_32x2x1-180e_kinetics400-rgb.py", {}, {}),
    # transformers
    **{
        f"timesformer_{name.lower()}": (
            f"timesformer/timesformer_{name}_8xb8-8x32x1-15e_kinetics400-rgb.py",
            {},
            {},
        )
        for name in ("divST", "jointST", "spaceOnly")
    },
    "vit_b16_videomae": ("videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py", {}, {}),
    **{
        f"swin3d_{arch[0]}": (
            f"swin/swin-{arch}-p244-w877_{pre}-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py",
            {},
            {},
        )
        for arch, pre in (("tiny", "in1k"), ("small", "in1k"), ("base", "in1k"), ("large", "in22k"))
    },
    "vit_s16_videomaev2": (
        "videomaev2/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py",
        {},
        {},
    ),
    "mvitv2_s": ("mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py", {}, {}),
    "mvitv2_b": ("mvit/mvit-base-p244_32x3x1_kinetics400-rgb.py", {}, {}),
    "mvitv2_l": ("mvit/mvit-large-p244_40x3x1_kinetics400-rgb.py", {}, {}),
    "uniformerv2_b16": (
        "uniformerv2/uniformerv2-base-p16-res224_clip-kinetics710-pre_8xb32-u8_kinetics400-rgb.py",
        {},
        {"channel_map": None},
    ),
    "uniformerv2_l14": (
        "uniformerv2/uniformerv2-large-p14-res224_clip-kinetics710-pre_u8_kinetics400-rgb.py",
        {},
        {},
    ),
    "uniformerv2_l14_336": (
        "uniformerv2/uniformerv2-large-p14-res336_clip-kinetics710-pre_u32_kinetics400-rgb.py",
        {},
        {},
    ),
    **{
        f"uniformer_{arch[0]}": (
            f"uniformer/uniformer-{arch}_imagenet1k-pre_16x4x1_kinetics400-rgb.py",
            {},
            {},
        )
        for arch in ("small", "base")
    },
    # skeletons: the NTU60-xsub 2D joint configs
    "stgcn": ("../skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py", {}, {}),
    "stgcnpp": (
        "../skeleton/stgcnpp/stgcnpp_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        {},
        {},
    ),
    "agcn": ("../skeleton/2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py", {}, {}),
    "posec3d_r50": (
        "../skeleton/posec3d/slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint.py",
        {},
        {},
    ),
    # not in the wheel: MMACTION2_PROJECTS names a checkout's projects/ folder
    "ctrgcn": (
        "projects:ctrgcn/configs/ctrgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        {},
        {},
    ),  # fmt: skip
}


class _MmcvTinShift(torch.autograd.Function):
    """A stand-in for mmcv's ``tin_shift``, which has CUDA kernels only, so that
    MMAction2's TIN runs on the CPU: one gather with mmcv's semantics (channel group g of
    sample n moved ``shift[n, g]`` frames later, zeros where nothing lands) and mmcv's
    backward, which moves the gradient the same way as the forward. A single PyTorch
    gather each way: about what a compiled kernel costs per byte, on the CPU."""

    @staticmethod
    def _move(x, shift):
        n, t, c, hw = x.shape
        groups = shift.shape[1]
        v = x.reshape(n, t, groups, c // groups, hw)
        src = torch.arange(t)[None, :, None] - shift.long()[:, None, :]  # [N, T, G]
        inside = ((src >= 0) & (src < t))[..., None, None]
        index = src.clamp(0, t - 1)[..., None, None].expand(-1, -1, -1, c // groups, hw)
        return torch.where(inside, v.gather(1, index), 0).reshape(x.shape)

    @staticmethod
    def forward(ctx, x, shift):
        ctx.save_for_backward(shift)
        return _MmcvTinShift._move(x, shift)

    @staticmethod
    def backward(ctx, grad):
        (shift,) = ctx.saved_tensors
        return _MmcvTinShift._move(grad, shift), None


def _install_tin_shift() -> None:
    import types

    try:
        import mmcv.ops as ops
    except ImportError:
        ops = sys.modules["mmcv.ops"] = types.ModuleType("mmcv.ops")
    ops.tin_shift = _MmcvTinShift.apply


def config_path(config: str) -> Path:
    """A zoo config's file; ``projects:NAME/...`` imports the project's models first."""
    if not config.startswith("projects:"):
        return CONFIGS / config
    if "MMACTION2_PROJECTS" not in os.environ:
        raise RuntimeError(f"{config}: set MMACTION2_PROJECTS to a checkout's projects folder")
    project = Path(os.environ["MMACTION2_PROJECTS"]) / config[9:].split("/")[0]
    sys.path.insert(0, str(project))
    import models  # noqa: F401  (registers the project's modules, as its custom_imports)

    return project.parent / config[9:]


def build(name: str):
    config, backbone, head = ZOO[name]
    cfg = Config.fromfile(config_path(config)).model
    if str(cfg.backbone.type).startswith(("mmcls.", "mmpretrain.", "MobileOneTSM")):
        cfg.backbone.pop("init_cfg", None)  # (a download; no `pretrained` argument)
        cfg.backbone.type = cfg.backbone.type.replace("mmcls.", "mmpretrain.")
        if cfg.backbone.type == "MobileOneTSM":
            cfg.backbone.pretrained2d = False
    elif cfg.backbone.type not in ("STGCN", "AAGCN", "CTRGCN"):  # the GCNs take no such argument
        cfg.backbone.pretrained = None
    if cfg.backbone.type in (
        "ResNetTSM",
        "ResNetTIN",
        "ResNet3d",
        "ResNet3dSlowOnly",
        "SwinTransformer3D",
    ):
        cfg.backbone.pretrained2d = False
    if cfg.backbone.type == "UniFormerV2":
        cfg.backbone.clip_pretrained = False
    if (cfg.backbone.get("norm_cfg") or {}).get("type") == "SyncBN":
        cfg.backbone.norm_cfg.type = "BN3d"  # one process: the same arithmetic
    if cfg.backbone.type == "ResNet3dSlowFast":
        cfg.backbone.slow_pathway.pretrained2d = False
        cfg.backbone.fast_pathway.pretrained2d = False
    cfg.backbone.update(backbone)
    cfg.cls_head.update(head)
    return MODELS.build(cfg)


class Worker:
    def __init__(self):
        self.model = None
        self.x = None

    def build(self, name: str, input: str, weights: str) -> dict:
        if name not in ZOO:  # (torchvision's video ResNets: no MMAction2 model to time)
            self.model = None
            return {"absent": True, "mmaction": mmaction.__version__, "torch": torch.__version__}
        self.model = build(name)
        self.x = torch.load(input, weights_only=True)
        self.model.eval()
        torch.save({"state_dict": self.model.state_dict(), "meta": {"mmaction": "bench"}}, weights)
        with torch.no_grad():
            logits = self.model(self.x, mode="tensor", stage="head")
        out = str(Path(input).with_suffix(".logits.pt"))
        torch.save(logits, out)
        num_classes = int(logits.shape[-1])
        self.labels = torch.arange(self.x.shape[0]) % num_classes
        return {
            "num_classes": num_classes,
            "logits": out,
            "mmaction": mmaction.__version__,
            "torch": torch.__version__,
        }

    def step(self, mode: str) -> dict:
        start = time.perf_counter()
        if mode == "fwd":
            self.model.eval()
            with torch.no_grad():
                self.model(self.x, mode="tensor", stage="head")
        else:
            self.model.train()
            logits = self.model(self.x, mode="tensor", stage="head")
            torch.nn.functional.cross_entropy(logits, self.labels).backward()
            self.model.zero_grad(set_to_none=True)
        return {"ms": (time.perf_counter() - start) * 1e3}


def main() -> None:
    register_all_modules()
    _install_tin_shift()
    torch.set_num_threads(int(os.environ.get("ACTIONKIT_BENCH_THREADS", torch.get_num_threads())))
    worker = Worker()
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "build":
                reply = worker.build(cmd["name"], cmd["input"], cmd["weights"])
            elif cmd["cmd"] == "peak":
                reply = {"bytes": peak_rss_rise(lambda m=cmd["mode"]: worker.step(m))}
            else:
                reply = worker.step(cmd["mode"])
        except Exception as e:  # reported to the parent, which names the model
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(MARK + json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
