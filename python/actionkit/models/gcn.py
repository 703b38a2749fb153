"""Skeleton GCNs with MMAction2 1.2.0's module and parameter names (its checkpoints load):
ST-GCN (Yan et al., AAAI 2018) and STGCN++ (Duan et al., PYSKL 2022) as its ``STGCN``
backbone, 2s-AGCN and AAGCN (Shi et al., CVPR 2019 / TIP 2020) as its ``AAGCN``, CTR-GCN
(Chen et al., ICCV 2021) as the ``CTRGCN`` of its ``projects/ctrgcn``, its ``GCNHead`` and
``RecognizerGCN``.

Every graph convolution is :func:`actionkit.ops.graph_aggregate` on the 1x1 conv's output
viewed as ``[N, K, C, T, V]`` (MMAction2: ``einsum('nkctv,kvw->nctw')``, which copies a
permuted ``x``); the learned variants of the adjacency (``adaptive``: ``importance``
multiplies, ``offset`` adds, ``init`` learns it outright) are formed first and passed in.

Input ``[B, num_clips, M, T, V, C]`` (persons M, frames T, joints V, C = 3: x, y, score
for 2D keypoints or x, y, z for 3D); ``model(x)`` returns one row of logits per clip,
``[B * num_clips, num_classes]`` (MMAction2's ``mode="tensor"``); ``predict`` averages the
clips (``prob``: softmax first, as ``GCNHead``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import ClassificationLoss
from ..ops import graph_aggregate
from .graph import Graph
from .recognizer import average_clips
from .registry import register_model

EPS = 1e-4


class unit_gcn(nn.Module):  # noqa: N801  (MMAction2's name, in its state-dict keys)
    """Spatial graph convolution: ``conv_pos="pre"`` a 1x1 conv to ``K * C_out`` channels
    then the aggregation; ``"post"`` the aggregation then a 1x1 conv from ``K * C_in``;
    BN, optional residual (``with_res``), ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        adaptive: str | None = "importance",
        conv_pos: str = "pre",
        with_res: bool = False,
    ):
        super().__init__()
        if adaptive not in (None, "init", "offset", "importance"):
            raise ValueError(f"adaptive must be None, init, offset or importance, got {adaptive!r}")
        if conv_pos not in ("pre", "post"):
            raise ValueError(f"conv_pos must be 'pre' or 'post', got {conv_pos!r}")
        self.num_subsets = A.shape[0]
        self.adaptive, self.conv_pos, self.with_res = adaptive, conv_pos, with_res
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A.clone())
        if adaptive == "importance":
            self.PA = nn.Parameter(torch.ones_like(A))
        elif adaptive == "offset":
            self.PA = nn.Parameter(torch.empty_like(A).uniform_(-1e-6, 1e-6))
        k = self.num_subsets
        if conv_pos == "pre":
            self.conv = nn.Conv2d(in_channels, out_channels * k, 1)
        else:
            self.conv = nn.Conv2d(k * in_channels, out_channels, 1)
        if with_res and in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        else:
            self.down = None

    def adjacency(self) -> Tensor:
        if self.adaptive == "importance":
            return self.A * self.PA
        if self.adaptive == "offset":
            return self.A + self.PA
        return self.A

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        res = 0
        if self.with_res:
            res = self.down(x) if self.down is not None else x
        A = self.adjacency()
        if self.conv_pos == "pre":
            # A in the dtype of what it aggregates (bf16 under autocast, not the input's)
            y = self.conv(x).view(n, self.num_subsets, -1, t, v)
            x = graph_aggregate(y, A.to(y.dtype))
        else:  # each subset's aggregation of the input, stacked on channels, then the conv
            x = torch.matmul(x.unsqueeze(1), A.to(x.dtype)[None, :, None]).reshape(n, -1, t, v)
            x = self.conv(x)
        return self.act(self.bn(x) + res)


class unit_tcn(nn.Module):  # noqa: N801
    """Temporal convolution ``(kernel_size, 1)`` with BN (or none) and dropout."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 9,
        stride: int = 1,
        dilation: int = 1,
        norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            (kernel_size, 1),
            padding=(pad, 0),
            stride=(stride, 1),
            dilation=(dilation, 1),
        )
        self.bn = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout, inplace=True)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.bn(self.conv(x)))


class mstcn(nn.Module):  # noqa: N801
    """STGCN++'s multi-scale temporal convolution: branches of dilated 3x1 convs, a max
    pool and a 1x1, concatenated, then BN-ReLU-1x1 and BN."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: float | None = None,
        dropout: float = 0.0,
        ms_cfg=((3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"),
        stride: int = 1,
    ):
        super().__init__()
        branches = len(ms_cfg)
        if mid_channels is None:
            mid = out_channels // branches
            first = out_channels - mid * (branches - 1)
        else:
            mid = first = int(out_channels * mid_channels)
        self.act = nn.ReLU()
        modules = []
        for i, cfg in enumerate(ms_cfg):
            width = first if i == 0 else mid
            if cfg == "1x1":
                modules.append(nn.Conv2d(in_channels, width, 1, stride=(stride, 1)))
            elif cfg[0] == "max":
                modules.append(
                    nn.Sequential(
                        nn.Conv2d(in_channels, width, 1),
                        nn.BatchNorm2d(width),
                        self.act,
                        nn.MaxPool2d((cfg[1], 1), stride=(stride, 1), padding=(1, 0)),
                    )
                )
            else:
                modules.append(
                    nn.Sequential(
                        nn.Conv2d(in_channels, width, 1),
                        nn.BatchNorm2d(width),
                        self.act,
                        unit_tcn(width, width, cfg[0], stride, cfg[1], norm=False),
                    )
                )
        self.branches = nn.ModuleList(modules)
        total = mid * (branches - 1) + first
        self.transform = nn.Sequential(
            nn.BatchNorm2d(total), self.act, nn.Conv2d(total, out_channels, 1)
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.transform(torch.cat([b(x) for b in self.branches], 1))
        return self.drop(self.bn(feat))


def _unit_args(kwargs: dict, block: str) -> tuple[dict, dict]:
    """A block's ``gcn_*`` and ``tcn_*`` keyword arguments, prefixes removed."""
    unknown = [k for k in kwargs if not k.startswith(("gcn_", "tcn_"))]
    if unknown:
        raise TypeError(f"{block}: unknown arguments {unknown}")
    gcn = {k[4:]: v for k, v in kwargs.items() if k.startswith("gcn_")}
    tcn = {k[4:]: v for k, v in kwargs.items() if k.startswith("tcn_")}
    return gcn, tcn


def _residual(in_channels: int, out_channels: int, stride: int, residual: bool):
    """A block's shortcut: none, the identity, or a strided 1x1 unit_tcn."""
    if not residual:
        return None
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return unit_tcn(in_channels, out_channels, kernel_size=1, stride=stride)


class STGCNBlock(nn.Module):
    """``relu(tcn(gcn(x)) + residual(x))``; ``gcn_*`` / ``tcn_*`` keyword arguments go to
    the units (``tcn_type="mstcn"`` for STGCN++)."""

    def __init__(self, in_channels, out_channels, A, stride=1, residual=True, **kwargs):
        super().__init__()
        gcn, tcn = _unit_args(kwargs, "STGCNBlock")
        tcn_type = tcn.pop("type", "unit_tcn")
        if gcn.pop("type", "unit_gcn") != "unit_gcn":
            raise ValueError("STGCNBlock: gcn_type must be unit_gcn")
        self.gcn = unit_gcn(in_channels, out_channels, A, **gcn)
        if tcn_type == "unit_tcn":
            self.tcn = unit_tcn(out_channels, out_channels, 9, stride=stride, **tcn)
        elif tcn_type == "mstcn":
            self.tcn = mstcn(out_channels, out_channels, stride=stride, **tcn)
        else:
            raise ValueError(f"STGCNBlock: tcn_type must be unit_tcn or mstcn, got {tcn_type!r}")
        self.relu = nn.ReLU()
        self.residual = _residual(in_channels, out_channels, stride, residual)

    def forward(self, x: Tensor) -> Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return self.relu(self.tcn(self.gcn(x)) + res)


class STGCN(nn.Module):
    """MMAction2's ``STGCN`` backbone: a data BN over (V, C) (``data_bn_type="VC"``) or
    (M, V, C) (``"MVC"``), then ``num_stages`` blocks; channels double at
    ``inflate_stages`` and time halves at ``down_stages``. ``[N, M, T, V, C]`` ->
    ``[N, M, C', T', V]``. A keyword argument given as a list of ``num_stages`` values
    is per stage (MMAction2's layer-wise arguments)."""

    def __init__(
        self,
        graph_cfg: dict,
        in_channels: int = 3,
        base_channels: int = 64,
        data_bn_type: str = "VC",
        ch_ratio: int = 2,
        num_person: int = 2,
        num_stages: int = 10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        **kwargs,
    ):
        super().__init__()
        A, per_stage = self._setup(
            graph_cfg, in_channels, data_bn_type, num_person, num_stages, kwargs
        )
        modules = []
        if in_channels != base_channels:
            modules.append(
                STGCNBlock(in_channels, base_channels, A, 1, residual=False, **per_stage[0])
            )
        inflate_times = 0
        channels = base_channels
        for i in range(2, num_stages + 1):
            stride = 1 + (i in down_stages)
            inflate_times += i in inflate_stages
            out = int(base_channels * ch_ratio**inflate_times + EPS)
            modules.append(STGCNBlock(channels, out, A, stride, **per_stage[i - 1]))
            channels = out
        self.out_channels = channels
        self.gcn = nn.ModuleList(modules)

    blocks = "gcn"  # the attribute holding the blocks (MMAction2's name, in its keys)

    def _setup(self, graph_cfg, in_channels, data_bn_type, num_person, num_stages, kwargs):
        """The graph, the data BN and the per-stage keyword arguments (shared with AAGCN);
        returns ``(A, per_stage)``."""
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.data_bn_type = data_bn_type
        if data_bn_type == "MVC":
            self.data_bn = nn.BatchNorm1d(num_person * in_channels * A.shape[1])
        elif data_bn_type == "VC":
            self.data_bn = nn.BatchNorm1d(in_channels * A.shape[1])
        else:
            self.data_bn = nn.Identity()
        per_stage = [copy.deepcopy(kwargs) for _ in range(num_stages)]
        for key, value in kwargs.items():
            if isinstance(value, list | tuple) and len(value) == num_stages:
                for i in range(num_stages):
                    per_stage[i][key] = value[i]
        per_stage[0].pop("tcn_dropout", None)
        return A, per_stage

    def forward(self, x: Tensor) -> Tensor:
        n, m, t, v, c = x.shape
        x = x.permute(0, 1, 3, 4, 2).contiguous()  # [N, M, V, C, T]
        if self.data_bn_type == "MVC":
            x = self.data_bn(x.view(n, m * v * c, t))
        else:
            x = self.data_bn(x.view(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for block in getattr(self, self.blocks):
            x = block(x)
        return x.reshape((n, m) + x.shape[1:])


class unit_aagcn(nn.Module):  # noqa: N801
    """AAGCN's graph convolution: per subset ``k`` a 1x1 conv ``conv_d[k]`` of the input
    aggregated over ``A[k]`` (learned, ``adaptive``) plus ``alpha`` times a data-dependent
    graph ``tanh(conv_a[k](x)^T conv_b[k](x) / (C' T))``; BN, residual, ReLU; then, with
    ``attention``, spatial, temporal and channel attention (each ``y * s + y``).

    The convolutions commute with the aggregation (both linear, on different axes), so
    the ``K`` subsets are one conv to ``K * C_out`` channels and one
    :func:`~actionkit.ops.graph_aggregate` over the per-sample graphs ``[N, K, V, V]``
    (MMAction2: a loop over subsets with a reshaped copy and a conv each)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        coff_embedding: int = 4,
        adaptive: bool = True,
        attention: bool = True,
    ):
        super().__init__()
        self.inter_c = out_channels // coff_embedding
        self.num_subset, self.adaptive, self.attention = A.shape[0], adaptive, attention
        k, v = A.shape[0], A.shape[-1]
        self.conv_d = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in range(k))
        if adaptive:
            self.A = nn.Parameter(A.clone())
            self.alpha = nn.Parameter(torch.zeros(1))
            self.conv_a = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(k))
            self.conv_b = nn.ModuleList(nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(k))
        else:
            self.register_buffer("A", A.clone())
        if attention:
            self.conv_ta = nn.Conv1d(out_channels, 1, 9, padding=4)
            ker = v if v % 2 else v - 1
            self.conv_sa = nn.Conv1d(out_channels, 1, ker, padding=(ker - 1) // 2)
            self.fc1c = nn.Linear(out_channels, out_channels // 2)
            self.fc2c = nn.Linear(out_channels // 2, out_channels)
        if in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        else:
            self.down = None
        self.bn = nn.BatchNorm2d(out_channels)

    @staticmethod
    def _stacked(convs: nn.ModuleList, x: Tensor) -> Tensor:
        """The convs of every subset as one: ``[N, K * C, T, V]``."""
        weight = torch.cat([c.weight for c in convs])
        bias = torch.cat([c.bias for c in convs])
        return F.conv2d(x, weight, bias)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        k = self.num_subset
        A = self.A.to(x.dtype)
        if self.adaptive:
            # (reshape: a channels-last input makes the conv outputs channels-last too)
            a = self._stacked(self.conv_a, x).reshape(n, k, self.inter_c * t, v)
            b = self._stacked(self.conv_b, x).reshape(n, k, self.inter_c * t, v)
            learned = torch.tanh(torch.matmul(a.transpose(-1, -2), b) / (self.inter_c * t))
            A = A[None] + learned * self.alpha.to(x.dtype)
        weight = torch.cat([conv.weight for conv in self.conv_d])
        xs = F.conv2d(x, weight).reshape(n, k, -1, t, v)
        bias = sum(conv.bias for conv in self.conv_d)
        y = graph_aggregate(xs, A.to(xs.dtype)) + bias.view(1, -1, 1, 1)
        y = F.relu(self.bn(y) + (self.down(x) if self.down is not None else x))
        if self.attention:
            s = torch.sigmoid(self.conv_sa(y.mean(-2)))  # spatial: [N, 1, V]
            y = y * s.unsqueeze(-2) + y
            s = torch.sigmoid(self.conv_ta(y.mean(-1)))  # temporal: [N, 1, T]
            y = y * s.unsqueeze(-1) + y
            s = torch.sigmoid(self.fc2c(F.relu(self.fc1c(y.mean((-1, -2))))))  # channels
            y = y * s[..., None, None] + y
        return y


class AAGCNBlock(STGCNBlock):
    """``relu(tcn(gcn(x)) + residual(x))`` (STGCNBlock's forward) with ``unit_aagcn``
    (``gcn_*`` arguments)."""

    def __init__(self, in_channels, out_channels, A, stride=1, residual=True, **kwargs):
        nn.Module.__init__(self)
        gcn, tcn = _unit_args(kwargs, "AAGCNBlock")
        gcn.pop("type", None)
        tcn.pop("type", None)
        self.gcn = unit_aagcn(in_channels, out_channels, A, **gcn)
        self.tcn = unit_tcn(out_channels, out_channels, 9, stride=stride, **tcn)
        self.relu = nn.ReLU()
        self.residual = _residual(in_channels, out_channels, stride, residual)


class AAGCN(STGCN):
    """MMAction2's ``AAGCN`` backbone (data BN over persons too by default; channels
    double at ``inflate_stages``); ``gcn_attention=False`` is 2s-AGCN."""

    def __init__(
        self,
        graph_cfg: dict,
        in_channels: int = 3,
        base_channels: int = 64,
        data_bn_type: str = "MVC",
        num_person: int = 2,
        num_stages: int = 10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        **kwargs,
    ):
        nn.Module.__init__(self)
        A, per_stage = self._setup(
            graph_cfg, in_channels, data_bn_type, num_person, num_stages, kwargs
        )
        self.register_buffer("A", A)
        modules = []
        if in_channels != base_channels:
            modules.append(
                AAGCNBlock(in_channels, base_channels, A, 1, residual=False, **per_stage[0])
            )
        channels = base_channels
        for i in range(2, num_stages + 1):
            out = channels * (1 + (i in inflate_stages))
            modules.append(
                AAGCNBlock(channels, out, A, stride=1 + (i in down_stages), **per_stage[i - 1])
            )
            channels = out
        self.out_channels = channels
        self.gcn = nn.ModuleList(modules)


class CTRGC(nn.Module):
    """The convolutions of one CTR-GC subset (MMAction2's ``CTRGC``; its forward is
    ``unit_ctrgcn``'s, over all subsets at once): ``conv1``/``conv2`` to ``rel_channels``
    for the pairwise joint relations, ``conv3`` for the features, ``conv4`` from the
    relations to one topology per output channel."""

    def __init__(self, in_channels: int, out_channels: int, rel_reduction: int = 8):
        super().__init__()
        self.rel_channels = 8 if in_channels <= 16 else in_channels // rel_reduction
        self.conv1 = nn.Conv2d(in_channels, self.rel_channels, 1)
        self.conv2 = nn.Conv2d(in_channels, self.rel_channels, 1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, 1)
        self.conv4 = nn.Conv2d(self.rel_channels, out_channels, 1)


class unit_ctrgcn(nn.Module):  # noqa: N801
    """Channel-wise topology refinement graph convolution: per subset ``k`` and output
    channel ``c`` the graph ``alpha * conv4(tanh(m1[u] - m2[v]))[c] + A[k]``, where
    ``m1``, ``m2`` are ``conv1``, ``conv2`` of the time-averaged input, aggregates
    ``conv3(x)[c]``; the subsets are summed, then BN, residual (``down``), ReLU.

    One graph per (sample, channel) is :func:`~actionkit.ops.graph_aggregate` with the
    batch over (sample, channel): ``conv3`` of every subset is one conv whose output
    channels are ordered (channel, subset), so its output *is* ``[N * C, K, 1, T, V]``
    without a copy; only the topologies ``[N, K, C, V, V]`` are reordered. ``conv1`` /
    ``conv2`` run after the time average (they commute with it; MMAction2 averages
    their outputs)."""

    def __init__(self, in_channels: int, out_channels: int, A: Tensor):
        super().__init__()
        self.num_subset, self.out_c = A.shape[0], out_channels
        self.convs = nn.ModuleList(CTRGC(in_channels, out_channels) for _ in range(A.shape[0]))
        if in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        else:
            self.down = None
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(out_channels)

    def _weights(self, name: str, interleave: bool = False) -> tuple[Tensor, Tensor]:
        """``conv{name}`` of every subset as one conv's weight and bias, outputs ordered
        (subset, channel), or (channel, subset) with ``interleave``."""
        convs = [getattr(c, f"conv{name}") for c in self.convs]
        dim = 1 if interleave else 0
        weight = torch.stack([c.weight for c in convs], dim).flatten(0, 1)
        return weight, torch.stack([c.bias for c in convs], dim).flatten()

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, v = x.shape
        k, c = self.num_subset, self.out_c
        # the topologies: [N, K, C, V, V] -> one [K, V, V] per (sample, channel)
        w12 = torch.cat([self._weights("1")[0], self._weights("2")[0]])
        b12 = torch.cat([self._weights("1")[1], self._weights("2")[1]])
        m = F.conv1d(x.mean(-2), w12.flatten(1).unsqueeze(-1), b12)  # [N, 2 K R, V]
        m1, m2 = m.view(n, 2, -1, v).unbind(1)
        rel = torch.tanh(m1.unsqueeze(-1) - m2.unsqueeze(-2))  # [N, K R, V, V]
        w4, b4 = self._weights("4")
        topo = F.conv2d(rel, w4, b4, groups=k).view(n, k, c, v, v)
        topo = topo * self.alpha.to(topo.dtype) + self.A.to(topo.dtype)[None, :, None]
        topo = topo.transpose(1, 2).reshape(n * c, k, v, v)
        w3, b3 = self._weights("3", interleave=True)
        feats = F.conv2d(x, w3, b3).reshape(n * c, k, 1, t, v)
        y = graph_aggregate(feats, topo.to(feats.dtype)).view(n, c, t, v)
        return F.relu(self.bn(y) + (self.down(x) if self.down is not None else x))


class MSTCN(nn.Module):
    """CTR-GCN's multi-scale temporal convolution (MMAction2's ``projects/ctrgcn``
    ``MSTCN``, not STGCN++'s ``mstcn``): per dilation 1x1-BN-ReLU-``unit_tcn``
    (``kernel_size``), a 1x1-BN-ReLU-max-pool-BN branch and a strided 1x1-BN branch,
    concatenated, ReLU, dropout (no residual: the block has it)."""

    def __init__(self, in_channels, out_channels, kernel_size=5, stride=1, dilations=(1, 2),
                 dropout=0.0):  # fmt: skip
        super().__init__()
        num = len(dilations) + 2
        width = out_channels // num
        last = out_channels - width * (num - 1)
        kernels = list(kernel_size) if isinstance(kernel_size, list | tuple) else None
        if kernels is not None and len(kernels) != len(dilations):
            raise ValueError(f"MSTCN: {len(kernels)} kernel sizes for {len(dilations)} dilations")
        kernels = kernels or [kernel_size] * len(dilations)

        def entry():
            return [nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU()]

        branches = [
            nn.Sequential(*entry(), unit_tcn(width, width, ks, stride, dilation))
            for ks, dilation in zip(kernels, dilations, strict=True)
        ]
        pool = nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))
        branches.append(nn.Sequential(*entry(), pool, nn.BatchNorm2d(width)))
        branches.append(
            nn.Sequential(nn.Conv2d(in_channels, last, 1, stride=(stride, 1)), nn.BatchNorm2d(last))
        )
        self.branches = nn.ModuleList(branches)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(F.relu(torch.cat([b(x) for b in self.branches], 1)))


class CTRGCNBlock(nn.Module):
    """``relu(tcn1(gcn1(x)) + residual(x))`` with ``unit_ctrgcn`` and CTR-GCN's
    ``MSTCN``."""

    def __init__(self, in_channels, out_channels, A, stride=1, residual=True, kernel_size=5,
                 dilations=(1, 2), tcn_dropout=0.0):  # fmt: skip
        super().__init__()
        self.gcn1 = unit_ctrgcn(in_channels, out_channels, A)
        self.tcn1 = MSTCN(out_channels, out_channels, kernel_size, stride, dilations, tcn_dropout)
        self.residual = _residual(in_channels, out_channels, stride, residual)

    def forward(self, x: Tensor) -> Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return F.relu(self.tcn1(self.gcn1(x)) + res)


class CTRGCN(STGCN):
    """MMAction2's ``CTRGCN`` (``projects/ctrgcn``): data BN over (M, V, C), then
    ``num_stages`` CTR-GCN blocks (the first one from the input channels without a
    residual); channels double at ``inflate_stages``, time halves at ``down_stages``.
    ``kernel_size``, ``dilations`` and ``tcn_dropout`` go to every block (the first
    has no dropout)."""

    blocks = "net"

    def __init__(
        self,
        graph_cfg: dict,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 10,
        inflate_stages=(5, 8),
        down_stages=(5, 8),
        num_person: int = 2,
        **kwargs,
    ):
        nn.Module.__init__(self)
        A, _ = self._setup(graph_cfg, in_channels, "MVC", num_person, num_stages, {})
        self.register_buffer("A", A)
        first = {k: v for k, v in kwargs.items() if k != "tcn_dropout"}
        modules = [CTRGCNBlock(in_channels, base_channels, A, residual=False, **first)]
        channels = base_channels
        for i in range(2, num_stages + 1):
            out = channels * (1 + (i in inflate_stages))
            stride = 1 + (i in down_stages)
            modules.append(CTRGCNBlock(channels, out, A, stride, **kwargs))
            channels = out
        self.out_channels = channels
        self.net = nn.ModuleList(modules)


class GCNHead(nn.Module):
    """Average over space-time and persons, dropout, ``fc``: ``[N, M, C, T, V]`` ->
    ``[N, num_classes]``."""

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = x.mean((3, 4)).mean(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


class RecognizerGCN(nn.Module):
    """A skeleton backbone and ``GCNHead`` for ``[B, num_clips, M, T, V, C]``."""

    task = "classification"
    skeleton = True  # inputs are joints, not pixels (export: batch and frames are free)

    def __init__(self, backbone: nn.Module, head: nn.Module, average_clips: str | None = "prob"):
        super().__init__()
        self.backbone, self.cls_head, self.average_clips = backbone, head, average_clips
        self.loss_fn = ClassificationLoss()

    def forward(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 6:
            raise ValueError(
                f"inputs must be [B, num_clips, M, T, V, C], got {tuple(inputs.shape)}"
            )
        return self.cls_head(self.backbone(inputs.flatten(0, 1)))

    def loss(self, batch: dict) -> dict[str, Tensor]:
        """The classification loss of ``batch`` (``inputs``, ``label``)."""
        return {"loss_cls": self.loss_fn(self(batch["inputs"]), batch["label"])}

    @torch.no_grad()
    def predict(self, inputs: Tensor) -> Tensor:
        return average_clips(self(inputs), inputs.shape[0], self.average_clips)

    @torch.no_grad()
    def features(self, inputs: Tensor) -> Tensor:
        """``[B, C]``: the backbone's output averaged over space-time, persons and clips."""
        feats = self.backbone(inputs.flatten(0, 1)).mean((3, 4)).mean(1)
        return feats.view(inputs.shape[0], -1, feats.shape[1]).mean(1)


def _recognizer(num_classes, layout, mode, dropout, backbone=None, **kwargs) -> RecognizerGCN:
    net = (backbone or STGCN)(graph_cfg={"layout": layout, "mode": mode}, **kwargs)
    return RecognizerGCN(net, GCNHead(num_classes, net.out_channels, dropout))


@register_model
def stgcn(num_classes: int = 60, layout: str | dict = "coco", in_channels: int = 3,
          num_person: int = 2, dropout: float = 0.0, **kwargs) -> RecognizerGCN:  # fmt: skip
    """ST-GCN, MMAction2's ``stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d`` (graph
    ``stgcn_spatial``, edge importance, 10 stages 64-128-256); ``layout="nturgb+d"`` for
    the 3D configs."""
    return _recognizer(num_classes, layout, kwargs.pop("mode", "stgcn_spatial"), dropout,
                       in_channels=in_channels, num_person=num_person, **kwargs)  # fmt: skip


@register_model
def stgcnpp(num_classes: int = 60, layout: str | dict = "coco", in_channels: int = 3,
            num_person: int = 2, dropout: float = 0.0, **kwargs) -> RecognizerGCN:  # fmt: skip
    """STGCN++, MMAction2's ``stgcnpp_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d``
    (graph ``spatial`` learned from its initial value, residual GCN units, multi-scale
    TCN)."""
    kwargs = {"gcn_adaptive": "init", "gcn_with_res": True, "tcn_type": "mstcn", **kwargs}
    return _recognizer(num_classes, layout, kwargs.pop("mode", "spatial"), dropout,
                       in_channels=in_channels, num_person=num_person, **kwargs)  # fmt: skip


@register_model
def agcn(num_classes: int = 60, layout: str | dict = "coco", in_channels: int = 3,
         num_person: int = 2, dropout: float = 0.0, **kwargs) -> RecognizerGCN:  # fmt: skip
    """2s-AGCN (one stream), MMAction2's ``2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d``:
    ``AAGCN`` with ``gcn_attention=False``, graph ``spatial``."""
    kwargs = {"gcn_attention": False, **kwargs}
    return _recognizer(num_classes, layout, kwargs.pop("mode", "spatial"), dropout, AAGCN,
                       in_channels=in_channels, num_person=num_person, **kwargs)  # fmt: skip


@register_model
def aagcn(num_classes: int = 60, layout: str | dict = "coco", in_channels: int = 3,
          num_person: int = 2, dropout: float = 0.0, **kwargs) -> RecognizerGCN:  # fmt: skip
    """AAGCN: 2s-AGCN with the spatial, temporal and channel attention on."""
    kwargs = {"gcn_attention": True, **kwargs}
    return _recognizer(num_classes, layout, kwargs.pop("mode", "spatial"), dropout, AAGCN,
                       in_channels=in_channels, num_person=num_person, **kwargs)  # fmt: skip


@register_model
def ctrgcn(num_classes: int = 60, layout: str | dict = "coco", in_channels: int = 3,
           num_person: int = 2, dropout: float = 0.0, **kwargs) -> RecognizerGCN:  # fmt: skip
    """CTR-GCN, MMAction2's ``projects/ctrgcn``
    ``ctrgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d`` (graph ``spatial``, channel-wise
    topologies, multi-scale TCN with kernel 5 and dilations 1, 2)."""
    return _recognizer(num_classes, layout, kwargs.pop("mode", "spatial"), dropout, CTRGCN,
                       in_channels=in_channels, num_person=num_person, **kwargs)  # fmt: skip
