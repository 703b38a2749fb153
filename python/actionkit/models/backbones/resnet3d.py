"""3D ResNets as MMAction2 1.x builds them (``ResNet3d``, ``ResNet3dSlowOnly``): I3D's
inflated bottlenecks (a 3x1x1 first convolution where ``inflate`` says so) and SlowOnly.
Module names match MMAction2's state-dict keys."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ...amp import Conv3d
from .non_local import NonLocal3d
from .resnet import ConvBN, check_out_indices, init_conv_bn, run_stages, stage_flags


class Bottleneck3d(nn.Module):
    """The 3D bottleneck. ``inflate`` gives it temporal extent: a 3x1x1 first convolution
    (``inflate_style="3x1x1"``, I3D) or a 3x3x3 middle one (``"3x3x3"``). CSN's
    ``bottleneck_mode`` makes the middle convolution depthwise (``"ir"``), after a
    1x1x1 one (``"ip"``)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        downsample: nn.Module | None = None,
        inflate: bool = True,
        inflate_style="3x1x1",
        bottleneck_mode: str | None = None,
        eps: float = 1e-5,
        non_local: dict | None = None,
    ):
        super().__init__()
        k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (1, 3, 3), (0, 1, 1)
        if inflate and inflate_style == "3x1x1":
            k1, p1 = (3, 1, 1), (1, 0, 0)
        elif inflate:
            k2, p2 = (3, 3, 3), (1, 1, 1)
        stride = (temporal_stride, spatial_stride, spatial_stride)
        self.conv1 = ConvBN(inplanes, planes, k1, 1, p1, dims=3, eps=eps)
        if bottleneck_mode is None:
            self.conv2 = ConvBN(planes, planes, k2, stride, p2, dims=3, eps=eps)
        else:
            depthwise = ConvBN(planes, planes, k2, stride, p2, dims=3, groups=planes, eps=eps)
            parts = [depthwise]
            if bottleneck_mode == "ip":
                parts.insert(0, ConvBN(planes, planes, 1, relu=False, dims=3, eps=eps))
            self.conv2 = nn.Sequential(*parts)
        self.conv3 = ConvBN(planes, planes * 4, 1, relu=False, dims=3, eps=eps)
        self.downsample = downsample
        if non_local is not None:  # a NonLocal3d after the block (its options)
            self.non_local_block = NonLocal3d(planes * 4, **non_local)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = torch.relu_(self.conv3(self.conv2(self.conv1(x))) + identity)
        if hasattr(self, "non_local_block"):
            out = self.non_local_block(out)
        return out


STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ResNet3d(nn.Module):
    """``x: [N, 3, T, H, W]`` -> ``[N, 2048, T', H/32, W/32]``.

    Args:
        depth: 50, 101 or 152.
        conv1_kernel: the stem's kernel (I3D ``(5, 7, 7)``, SlowOnly ``(1, 7, 7)``).
        conv1_stride_t, pool1_stride_t: temporal strides of the stem and its max-pool.
        inflate: per stage, an int or a 0/1 flag per block: 1 makes the block's first
            convolution 3x1x1.
        with_pool2: a temporal max-pool (2x1x1) after the first stage (I3D).
        spatial_strides, temporal_strides: per stage.
        zero_init_residual: start each block's last BatchNorm at zero (MMAction2's default).
        conv1_stride_s, pool1_stride_s: spatial strides of the stem and its max-pool.
        stage_blocks: blocks per stage (default: the depth's); fewer stages end earlier
            (PoseC3D's SlowOnly: ``(4, 6, 3)``, the output of the third stage).
        non_local, non_local_cfg: per stage, 0/1 flags per block: 1 puts a
            :class:`NonLocal3d` (``non_local_cfg`` its options) after the block (I3D-NL).
        out_indices: 0-based stages whose outputs are returned, a tuple (TPN's input).
        norm_eval: every BatchNorm keeps its running statistics in training (eval mode);
            bn_frozen: and its scale and shift (MMAction2's CSN fine-tuning from IG-65M).
    """

    def __init__(
        self,
        depth: int = 50,
        conv1_kernel: Sequence[int] = (3, 7, 7),
        conv1_stride_t: int = 1,
        pool1_stride_t: int = 1,
        inflate: Sequence = (1, 1, 1, 1),
        with_pool2: bool = True,
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 1, 1),
        zero_init_residual: bool = True,
        in_channels: int = 3,
        base_channels: int = 64,
        lateral_inplanes: Sequence[int] = (0, 0, 0, 0),
        inflate_style: str = "3x1x1",
        bottleneck_mode: str | None = None,
        bn_eps: float = 1e-5,
        conv1_stride_s: int = 2,
        pool1_stride_s: int = 2,
        stage_blocks: Sequence[int] | None = None,
        non_local: Sequence | None = None,
        non_local_cfg: dict | None = None,
        out_indices: Sequence[int] | None = None,
        norm_eval: bool = False,
        bn_frozen: bool = False,
    ):
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"ResNet3d depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        self.with_pool2 = with_pool2
        if inflate_style not in ("3x1x1", "3x3x3"):
            raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
        if bottleneck_mode not in (None, "ir", "ip"):
            raise ValueError(f"bottleneck_mode must be 'ir' or 'ip', got {bottleneck_mode!r}")
        kernel = tuple(conv1_kernel)
        self.conv1 = ConvBN(
            in_channels,
            base_channels,
            kernel,
            (conv1_stride_t, conv1_stride_s, conv1_stride_s),
            tuple((k - 1) // 2 for k in kernel),
            dims=3,
            eps=bn_eps,
        )
        self.maxpool = nn.MaxPool3d(
            (1, 3, 3), (pool1_stride_t, pool1_stride_s, pool1_stride_s), (0, 1, 1)
        )
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        inplanes = base_channels
        stage_blocks = tuple(stage_blocks or STAGE_BLOCKS[depth])
        if not 1 <= len(stage_blocks) <= 4:
            raise ValueError(f"stage_blocks: 1 to 4 stages, got {stage_blocks}")
        self.num_stages = len(stage_blocks)
        self.in_channels = in_channels
        for i, blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            flags = stage_flags(inflate[i], blocks, f"inflate[{i}]")
            s, t = spatial_strides[i], temporal_strides[i]
            inplanes += lateral_inplanes[i]  # SlowFast: fast-pathway features concatenated
            downsample = None
            if s != 1 or inplanes != planes * 4:  # not the temporal stride: as MMAction2
                downsample = ConvBN(
                    inplanes, planes * 4, 1, (t, s, s), relu=False, dims=3, eps=bn_eps
                )
            style = dict(inflate_style=inflate_style, bottleneck_mode=bottleneck_mode, eps=bn_eps)
            nl = stage_flags(non_local[i] if non_local else 0, blocks, f"non_local[{i}]")
            cfg = [dict(non_local_cfg or {}) if f else None for f in nl]
            layers = [
                Bottleneck3d(
                    inplanes, planes, s, t, downsample, flags[0] == 1, non_local=cfg[0], **style
                )
            ]
            inplanes = planes * 4
            layers += [
                Bottleneck3d(inplanes, planes, inflate=f == 1, non_local=c, **style)
                for f, c in zip(flags[1:], cfg[1:], strict=True)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = inplanes
        self.out_indices = check_out_indices(out_indices, self.num_stages)
        init_conv_bn(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    nn.init.zeros_(m.conv3.bn.weight)
        for m in self.modules():
            if isinstance(m, NonLocal3d):
                m.reset_parameters()
        self.norm_eval = norm_eval
        if bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.weight.requires_grad_(False)
                    m.bias.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.eval()
        return self

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        pool2 = self.pool2 if self.with_pool2 else None
        return run_stages(
            self, self.maxpool(self.conv1(x)), self.num_stages, self.out_indices, pool2
        )


class _Lateral(nn.Module):
    """A bare convolution under ``.conv`` (MMAction2's ConvModule without norm/act keys)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv = Conv3d(
            cin, cout, (kernel, 1, 1), (stride, 1, 1), ((kernel - 1) // 2, 0, 0), bias=False
        )
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ResNet3dPathway(ResNet3d):
    """One pathway of SlowFast. The slow one (``lateral=True``) holds the lateral
    convolutions that bring the fast pathway's features in, ``(fusion_kernel, 1, 1)``
    with temporal stride ``speed_ratio``, after the stem and after stages 1-3; the
    concatenation widens each of its stages' input by ``2 * C_fast``."""

    def __init__(
        self,
        lateral: bool = False,
        speed_ratio: int = 8,
        channel_ratio: int = 8,
        fusion_kernel: int = 5,
        **kwargs,
    ):
        base = kwargs.get("base_channels", 64)
        extra = [0, 0, 0, 0]
        if lateral:
            extra = [base * 2 // channel_ratio] + [
                base * 2**i * 4 * 2 // channel_ratio for i in range(3)
            ]
        super().__init__(lateral_inplanes=extra, **kwargs)
        self.lateral = lateral
        if lateral:
            for name, cin in [("conv1_lateral", base)] + [
                (f"layer{i + 1}_lateral", base * 2**i * 4) for i in range(3)
            ]:
                conv = _Lateral(
                    cin // channel_ratio, cin * 2 // channel_ratio, fusion_kernel, speed_ratio
                )
                self.add_module(name, conv)


class ResNet3dSlowFast(nn.Module):
    """SlowFast (Feichtenhofer et al., ICCV 2019) as MMAction2's ``ResNet3dSlowFast``:
    the slow pathway sees every ``resample_rate``-th frame, the fast one every
    ``resample_rate / speed_ratio``-th with ``1/channel_ratio`` of the channels; lateral
    connections fuse fast into slow after the stem and stages 1-3. ``spatial_strides``
    per stage, both pathways (AVA's detectors: ``(1, 2, 2, 1)``, stride 16);
    ``slow_depth`` / ``fast_depth``: 50 or 101 (SlowFast-R101 and R101-R50).

    ``x: [N, 3, T, H, W]`` -> ``(slow [N, 2048, T/rate, h, w], fast [N, 256, T', h, w])``.
    """

    def __init__(
        self,
        resample_rate: int = 8,
        speed_ratio: int = 8,
        channel_ratio: int = 8,
        fusion_kernel: int = 5,
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        slow_depth: int = 50,
        fast_depth: int = 50,
    ):
        super().__init__()
        self.resample_rate, self.speed_ratio = resample_rate, speed_ratio
        self.slow_path = ResNet3dPathway(
            depth=slow_depth,
            lateral=True,
            speed_ratio=speed_ratio,
            channel_ratio=channel_ratio,
            fusion_kernel=fusion_kernel,
            conv1_kernel=(1, 7, 7),
            inflate=(0, 0, 1, 1),
            with_pool2=False,
            spatial_strides=spatial_strides,
        )
        self.fast_path = ResNet3dPathway(
            depth=fast_depth,
            base_channels=64 // channel_ratio,
            conv1_kernel=(5, 7, 7),
            with_pool2=False,
            spatial_strides=spatial_strides,
        )
        self.out_channels = self.slow_path.out_channels + self.fast_path.out_channels

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # Nearest resampling in time, as the reference (frame 0, rate, 2 * rate, ...).
        slow = nn.functional.interpolate(
            x, mode="nearest", scale_factor=(1.0 / self.resample_rate, 1.0, 1.0)
        )
        fast = nn.functional.interpolate(
            x,
            mode="nearest",
            scale_factor=(1.0 / (self.resample_rate // self.speed_ratio), 1.0, 1.0),
        )
        sp, fp = self.slow_path, self.fast_path
        slow = sp.maxpool(sp.conv1(slow))
        fast = fp.maxpool(fp.conv1(fast))
        slow = torch.cat((slow, sp.conv1_lateral(fast)), dim=1)
        for i in range(1, 5):
            slow = getattr(sp, f"layer{i}")(slow)
            fast = getattr(fp, f"layer{i}")(fast)
            if i < 4:
                slow = torch.cat((slow, getattr(sp, f"layer{i}_lateral")(fast)), dim=1)
        return slow, fast
