"""Op benchmark: each compiled op against the way MMAction2 computes the same thing.

    python -m benchmarks.ops [--device cpu|cuda] [--quick] [--out bench-results/ops.json]

Temporal shift: TSM-R50 layer shapes, 8 segments, batch 8, against MMAction2's
slicing + torch.cat shift and against x.clone() (the floor for an op that writes a
new tensor). TIN shift: TIN-R50's shapes (a quarter of each stage's channels, 4 offset
groups, 8 clips x 8 segments) against MMAction2's linear_sampler (two whole shifts and a
blend; actionkit's op at whole offsets stands in for mmcv's tin_shift, which has no CPU
kernel, and mmcv's own joins on a GPU where it is installed) and the pure-PyTorch gather
reference. RoIAlign3D: AVA shapes (2048 channels, T=8, 16x16, 20 RoIs) against
MMAction2's SingleRoIExtractor3D paths: temporal mean then one 2D RoIAlign for
output 1x7x7, a loop of 2D RoIAlign over frames for 8x7x7 (torchvision's roi_align
stands in for mmcv's, same semantics). Graph aggregation: NTU shapes (16 clips, 3
subsets, 100 frames, 25 joints) against unit_gcn's einsum. BMN: the dense-mask matmul,
and matmul + Conv3d for the fused form. Soft-NMS: a per-step vectorised PyTorch loop;
temporal soft-NMS: MMAction2's numpy version. Ratios are from the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import actionkit
from actionkit.ops import _reference

from ._harness import (
    NO_HUGE_PAGES_ENV,
    RETAIN_ENV,
    SideProcess,
    environment,
    mib,
    peak_memory,
    time_interleaved,
    time_ms,
    timed_step,
    write_json,
)

try:
    from torchvision.ops import roi_align as tv_roi_align
except ImportError:
    tv_roi_align = None


def mmaction_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """MMAction2 1.x TemporalShift.shift, operation for operation (zeros made as x - x)."""
    n, c, h, w = x.size()
    x = x.view(-1, num_segments, c, h * w)
    fold = c // shift_div
    left, mid, right = x[:, :, :fold, :], x[:, :, fold : 2 * fold, :], x[:, :, 2 * fold :, :]
    zeros = left - left
    left = torch.cat((left[:, 1:, :, :], zeros[:, :1, :, :]), 1)
    zeros = mid - mid
    mid = torch.cat((zeros[:, :1, :, :], mid[:, :-1, :, :]), 1)
    return torch.cat((left, mid, right), 2).view(n, c, h, w)


def mmaction_roi_extract(
    feat: torch.Tensor, rois: torch.Tensor, size: tuple[int, int, int], scale: float
):
    """SingleRoIExtractor3D: temporal mean then RoIAlign, or RoIAlign per (contiguous) frame."""
    if size[0] == 1:
        feat = feat.mean(2, keepdim=True)
    frames = [
        tv_roi_align(feat[:, :, t].contiguous(), rois, size[1:], scale, 0, True)
        for t in range(feat.size(2))
    ]
    return torch.stack(frames, 2)


def _measure(
    fns: dict[str, Callable[[], object]], device: torch.device, repeats: int
) -> dict[str, tuple[float, int | None]]:
    times = time_ms(fns, device, repeats)
    return {name: (times[name], peak_memory(fn, device)) for name, fn in fns.items()}


def _compare(
    variants: dict[str, Callable[[torch.Tensor], torch.Tensor]],
    x: torch.Tensor,
    baseline: str,
    device: torch.device,
    repeats: int,
    **facts: object,
) -> list[dict]:
    """Rows of forward and forward+backward times of each variant on x, with the speed-up
    over `baseline` from the same run; `facts` are copied into every row."""
    rows = []
    for mode in ("forward", "forward+backward"):
        fns = {
            name: (lambda op=op: op(x)) if mode == "forward" else _fwd_bwd(op, x)
            for name, op in variants.items()
        }
        results = _measure(fns, device, repeats)
        for name, (ms, mem) in results.items():
            rows.append(
                dict(
                    **facts,
                    mode=mode,
                    variant=name,
                    ms=ms,
                    peak_bytes=mem,
                    speedup_vs_mmaction2=results[baseline][0] / ms,
                    time_ratio={other: ms / t for other, (t, _) in results.items()},
                )
            )
    return rows


def _fwd_bwd(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], None]:
    x = x.detach().requires_grad_()
    grad = torch.randn_like(op(x))

    def run() -> None:
        x.grad = None
        op(x).backward(grad)

    return run


def bench_temporal_shift(device: torch.device, quick: bool, repeats: int) -> list[dict]:
    rows = []
    shapes = [(64, 256, 56, 56), (64, 512, 28, 28), (64, 1024, 14, 14), (64, 2048, 7, 7)]
    if quick:
        shapes = [(64, 64, 28, 28), (64, 512, 7, 7)]
    for shape in shapes:
        x = torch.randn(shape, device=device)
        variants = {
            "actionkit": lambda x: actionkit.ops.temporal_shift(x, 8),
            "mmaction2 slicing": lambda x: mmaction_shift(x, 8),
            "x.clone()": lambda x: x.clone(),
        }
        rows += _compare(
            variants,
            x,
            "mmaction2 slicing",
            device,
            repeats,
            op="temporal_shift",
            shape=list(shape),
        )
    return rows


def linear_sampler(x: torch.Tensor, offset: torch.Tensor, whole_shift) -> torch.Tensor:
    """MMAction2 1.x TIN's ``linear_sampler``, operation for operation: ``whole_shift``
    (mmcv's CUDA-only ``tin_shift`` there) at floor(offset) and floor(offset) + 1, blended
    by per-channel weights repeated from the per-group fractional parts."""
    n, t, c, h, w = x.shape
    offset0 = torch.floor(offset).int()
    offset1 = offset0 + 1
    data = x.view(n, t, c, h * w).contiguous()
    data0, data1 = whole_shift(data, offset0), whole_shift(data, offset1)
    weight0 = 1 - (offset - offset0.float())
    weight1 = 1 - weight0
    groups = offset.shape[1]
    weight0 = weight0[:, :, None].repeat(1, 1, c // groups).view(n, -1)[:, None, :, None]
    weight1 = weight1[:, :, None].repeat(1, 1, c // groups).view(n, -1)[:, None, :, None]
    return (weight0 * data0 + weight1 * data1).view(n, t, c, h, w)


def _tin_variants(offset: torch.Tensor, device: torch.device) -> dict[str, Callable]:
    variants = {
        "actionkit": lambda x: actionkit.ops.tin_shift(x, offset),
        "linear_sampler": lambda x: linear_sampler(x, offset, actionkit.ops.tin_shift),
        "pure PyTorch (gather)": lambda x: _reference.tin_shift(x, offset),
    }
    if device.type == "cuda":
        try:
            from mmcv.ops import tin_shift as mmcv_tin_shift
        except ImportError:
            pass
        else:
            variants["linear_sampler (mmcv)"] = lambda x: linear_sampler(x, offset, mmcv_tin_shift)
    return variants


def bench_tin_shift(device: torch.device, quick: bool, repeats: int) -> list[dict]:
    """TIN-R50's shifted descriptors (8 clips x 8 segments, a quarter of each stage's input
    channels, 4 offset groups), gradients to the features and the offsets."""
    rows = []
    shapes = [(8, 8, 64, 56, 56), (8, 8, 128, 28, 28), (8, 8, 256, 14, 14), (8, 8, 512, 7, 7)]
    if quick:
        shapes = [(2, 8, 16, 28, 28), (2, 8, 128, 7, 7)]
    gen = torch.Generator().manual_seed(0)
    for shape in shapes:
        x = torch.randn(shape, device=device)
        half = 4 * (torch.rand(shape[0], 2, generator=gen) - 0.5)  # OffsetNet's range
        offset = torch.cat((half, -half), 1).to(device).requires_grad_()
        variants = _tin_variants(offset, device)
        rows += _compare(
            variants, x, "linear_sampler", device, repeats, op="tin_shift", shape=list(shape)
        )
    return rows


def _ava_inputs(device: torch.device, quick: bool) -> tuple[torch.Tensor, torch.Tensor]:
    n, c = (2, 256) if quick else (8, 2048)
    feat = torch.randn(n, c, 8, 16, 16, device=device)
    gen = torch.Generator().manual_seed(0)
    xy1 = torch.rand(20, 2, generator=gen) * 160
    wh = 32 + torch.rand(20, 2, generator=gen) * 96
    batch = torch.randint(0, n, (20, 1), generator=gen).float()
    rois = torch.cat([batch, xy1, (xy1 + wh).clamp(max=256)], 1).to(device)
    return feat, rois


def bench_roi_align3d(device: torch.device, quick: bool, repeats: int) -> list[dict]:
    if tv_roi_align is None:
        print(
            "roi_align3d: torchvision is not installed, so the MMAction2 paths cannot run; skipped"
        )
        return []
    rows = []
    feat, rois = _ava_inputs(device, quick)
    scale = 1 / 16
    for size in ((1, 7, 7), (8, 7, 7)):
        variants = {
            "actionkit": lambda f, size=size: actionkit.ops.roi_align3d(f, rois, size, scale),
            "mmaction2": lambda f, size=size: mmaction_roi_extract(f, rois, size, scale),
        }
        a = variants["actionkit"](feat)
        b = variants["mmaction2"](feat)
        max_diff = (a - b).abs().max().item()
        rows += _compare(
            variants,
            feat,
            "mmaction2",
            device,
            repeats,
            op="roi_align3d",
            shape=list(feat.shape),
            output=list(size),
            max_abs_diff=max_diff,
        )
    return rows


def bench_graph_aggregate(device: torch.device, quick: bool, repeats: int) -> list[dict]:
    rows = []
    a = torch.rand(3, 25, 25, device=device, requires_grad=True)
    for channels in (16,) if quick else (64, 128, 256):
        # NTU-60 skeletons: N=16 clips, K=3 subsets, T=100 frames, V=25 joints.
        x = torch.randn(4 if quick else 16, 3, channels, 100, 25, device=device)
        variants = {
            "actionkit": lambda x: actionkit.ops.graph_aggregate(x, a),
            "mmaction2 einsum": lambda x: torch.einsum("nkctv,kvw->nctw", x, a),
        }
        rows += _compare(
            variants,
            x,
            "mmaction2 einsum",
            device,
            repeats,
            op="graph_aggregate",
            shape=list(x.shape),
        )
    return rows


def bench_bm_sampling(device: torch.device, quick: bool, repeats: int) -> list[dict]:
    """BMN at its ActivityNet settings: S=32, P=3, 4 clips, C=256 into a Conv3d to 512."""
    import torch.nn.functional as F

    n, c, o, t, s = (1, 16, 32, 40, 32) if quick else (4, 256, 512, 100, 32)
    x = torch.randn(n, c, t, device=device)
    mask = _reference.bm_sample_mask(t, s, 3, 0.5).float().view(t, -1).to(device)

    def dense(x):
        return torch.matmul(x, mask).view(x.shape[0], x.shape[1], s, t, t)

    rows = _compare(
        {"actionkit": actionkit.ops.bm_sampling, "mmaction2 mask matmul": dense},
        x,
        "mmaction2 mask matmul",
        device,
        repeats,
        op="bm_sampling",
        shape=list(x.shape),
    )
    weight = torch.randn(o, c, s, 1, 1, device=device) / (c * s) ** 0.5
    bias = torch.zeros(o, device=device)
    fused = {
        "actionkit bm_conv3d": lambda x: actionkit.ops.bm_conv3d(x, weight, bias),
        "mmaction2 matmul+Conv3d": lambda x: F.conv3d(dense(x), weight, bias).squeeze(2),
    }
    rows += _compare(
        fused,
        x,
        "mmaction2 matmul+Conv3d",
        device,
        1 if not quick else repeats,
        op="bm_sampling+conv3d",
        shape=list(x.shape),
        output=[o],
    )
    if not quick:  # T=400: the dense mask alone would take T*S*T*T*4 bytes = 8.2 GB
        x = torch.randn(1, c, 400, device=device)
        rows += _compare(
            {"actionkit bm_conv3d": lambda x: actionkit.ops.bm_conv3d(x, weight, bias)},
            x,
            "actionkit bm_conv3d",
            device,
            2,
            op="bm_sampling+conv3d",
            shape=list(x.shape),
            output=[o],
        )
    return rows


def torch_loop_soft_nms(
    boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=1e-3, method="linear"
):
    """Soft-NMS written the straightforward way: a Python loop over steps, each step
    vectorised with PyTorch (the same decay rules as mmcv; ties resolved by index)."""
    scores = scores.clone()
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = torch.ones_like(scores, dtype=torch.bool)
    keep = []
    while bool(alive.any()):
        i = int(torch.where(alive, scores, torch.tensor(-float("inf"))).argmax())
        keep.append(i)
        alive[i] = False
        wh = (
            torch.minimum(boxes[i, 2:], boxes[:, 2:]) - torch.maximum(boxes[i, :2], boxes[:, :2])
        ).clamp(min=0)
        inter = wh[:, 0] * wh[:, 1]
        iou = inter / (area[i] + area - inter)
        if method == "linear":
            weight = torch.where(iou >= iou_threshold, 1 - iou, torch.ones_like(iou))
        elif method == "gaussian":
            weight = torch.exp(-(iou * iou) / sigma)
        else:
            weight = (iou < iou_threshold).to(iou.dtype)
        scores = torch.where(alive, scores * weight, scores)
        alive &= scores >= min_score
    return torch.tensor(keep)


def mmaction_temporal_soft_nms(proposals, alpha, low, high, top_k):
    """MMAction2's proposal_utils.soft_nms, re-typed from its semantics: numpy IoU per step,
    a Python loop over the remaining proposals for the decay."""
    import numpy as np

    proposals = proposals[proposals[:, -1].argsort()[::-1]]
    tstart, tend, tscore = list(proposals[:, 0]), list(proposals[:, 1]), list(proposals[:, -1])
    out = []
    while len(tscore) > 0 and len(out) <= top_k:
        best = int(np.argmax(tscore))
        width = tend[best] - tstart[best]
        starts, ends = np.array(tstart), np.array(tend)
        inter = np.maximum(np.minimum(tend[best], ends) - np.maximum(tstart[best], starts), 0.0)
        iou = inter / (width - inter + ends - starts)
        decay = np.exp(-np.square(iou) / alpha)
        for k in range(len(tscore)):
            if k != best and iou[k] > low + (high - low) * width:
                tscore[k] = tscore[k] * decay[k]
        out.append([tstart.pop(best), tend.pop(best), tscore.pop(best)])
    return np.array(out)


def _forward_rows(times: dict[str, float], baseline: str, **facts: object) -> list[dict]:
    """Rows of forward-only timings (no memory measured), with the speed-up over `baseline`."""
    return [
        dict(
            **facts,
            mode="forward",
            variant=name,
            ms=ms,
            peak_bytes=None,
            speedup_vs_mmaction2=times[baseline] / ms,
        )
        for name, ms in times.items()
    ]


def bench_suppression(
    device: torch.device, quick: bool, repeats: int, mmcv: SideProcess | None = None
) -> list[dict]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    for k in (200,) if quick else (1000, 10000):
        xy = torch.rand(k, 2, generator=gen) * 1000
        boxes = torch.cat([xy, xy + 20 + torch.rand(k, 2, generator=gen) * 200], 1).to(device)
        scores = torch.rand(k, generator=gen).to(device)
        expected = set(actionkit.ops.soft_nms(boxes, scores)[1].tolist())
        assert expected == set(torch_loop_soft_nms(boxes, scores).tolist()), (
            "soft-NMS baselines differ"
        )
        fns = {
            "actionkit": timed_step(lambda b=boxes, s=scores: actionkit.ops.soft_nms(b, s), device),
            "pytorch loop": timed_step(lambda b=boxes, s=scores: torch_loop_soft_nms(b, s), device),
        }
        if mmcv is not None:
            fns["mmcv compiled (CPU)"] = _mmcv_soft_nms(mmcv, boxes, scores, expected)
        times, _ = time_interleaved(fns, repeats if k <= 1000 else 1, warmup=1)
        rows += _forward_rows(times, "pytorch loop", op="soft_nms", shape=[k, 4])
    for k in (200,) if quick else (1000, 10000):
        start = torch.rand(k, generator=gen, dtype=torch.float64)
        segments = torch.stack(
            [start, start + torch.rand(k, generator=gen, dtype=torch.float64) * 0.3], 1
        )
        scores = torch.rand(k, generator=gen, dtype=torch.float64)
        proposals = torch.cat([segments, scores[:, None]], 1).numpy()
        segments, scores = segments.to(device), scores.to(device)  # not inside the timing
        fns = {
            "actionkit": lambda s=segments, c=scores: actionkit.ops.temporal_soft_nms(
                s, c, legacy_top_k=True
            ),
            "mmaction2 numpy": lambda p=proposals: mmaction_temporal_soft_nms(
                p, 0.4, 0.5, 0.9, 100
            ),
        }
        times = time_ms(fns, device, repeats, warmup=1)
        rows += _forward_rows(times, "mmaction2 numpy", op="temporal_soft_nms", shape=[k, 2])
    return rows


def _mmcv_soft_nms(
    mmcv: SideProcess, boxes: torch.Tensor, scores: torch.Tensor, expected: set[int]
) -> Callable[[], float]:
    """A step running mmcv.ops.soft_nms (mmcv's defaults = ours) on the same boxes in the
    side venv; checks once that it keeps the same boxes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/boxes.npz"
        np.savez(path, boxes=boxes.float().cpu().numpy(), scores=scores.float().cpu().numpy())
        mmcv.versions = "{mmcv} (torch {torch})".format(**mmcv.ask(cmd="load", path=path))
    kw = dict(iou_threshold=0.3, sigma=0.5, min_score=1e-3, method="linear")
    if set(mmcv.ask(cmd="soft_nms", **kw)["keep"]) != expected:
        raise RuntimeError("mmcv's soft_nms keeps other boxes than actionkit's")
    return lambda: mmcv.ask(cmd="soft_nms", **kw)["ms"]


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'op':<15} {'shape':<22} {'out':<9} {'mode':<17} {'variant':<24} "
        f"{'ms':>9} {'peak MiB':>9} {'vs mmaction2':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        out = "x".join(map(str, r.get("output", []))) or "-"
        shape = "x".join(map(str, r["shape"]))
        print(
            f"{r['op']:<18} {shape:<22} {out:<9} {r['mode']:<17} {r['variant']:<24} "
            f"{r['ms']:>9.2f} {mib(r['peak_bytes']):>9} {r['speedup_vs_mmaction2']:>11.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per variant")
    parser.add_argument("--out", default="bench-results/ops.json", help="where to write the JSON")
    parser.add_argument(
        "--mmcv-python",
        help="python of a side venv with full mmcv (compiled ops): adds mmcv's CPU "
        "soft_nms to the soft-NMS rows, timed interleaved in that process",
    )
    parser.add_argument(
        "--no-huge-pages",
        action="store_true",
        help="run with actionkit's huge-page advice for large CPU outputs turned off "
        "(ACTIONKIT_HUGE_PAGES=0)",
    )
    parser.add_argument(
        "--retain-memory",
        action="store_true",
        help="run with glibc keeping freed memory (no page faults on every large tensor; "
        "peak memory is then not measured)",
    )
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    wanted = (RETAIN_ENV if args.retain_memory else {}) | (
        NO_HUGE_PAGES_ENV if args.no_huge_pages else {}
    )
    if any(os.environ.get(k) != v for k, v in wanted.items()):  # both are read at start-up
        env = {**os.environ, **wanted}
        os.execve(sys.executable, [sys.executable, "-m", __spec__.name, *argv], env)
    device = torch.device(args.device)
    repeats = args.repeats or (3 if args.quick else 7)
    torch.manual_seed(0)
    rows = (
        bench_temporal_shift(device, args.quick, repeats)
        + bench_tin_shift(device, args.quick, repeats)
        + bench_roi_align3d(device, args.quick, repeats)
        + bench_graph_aggregate(device, args.quick, repeats)
        + bench_bm_sampling(device, args.quick, repeats)
    )
    mmcv = None
    if args.mmcv_python:
        script = Path(__file__).with_name("mmcv_worker.py")
        threads = str(torch.get_num_threads())
        mmcv = SideProcess(args.mmcv_python, script, (threads,), name="mmcv worker")
    try:
        rows += bench_suppression(device, args.quick, repeats, mmcv)
    finally:
        if mmcv is not None:
            mmcv.close()
    print_table(rows)
    env = environment(device)
    if mmcv is not None:
        env["mmcv"] = mmcv.versions
    write_json(args.out, {"environment": env, "rows": rows})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
