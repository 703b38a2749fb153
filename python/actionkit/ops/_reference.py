"""Pure-PyTorch references of every op, written from the published semantics.

They are the ground truth of the tests and the fallback on devices the compiled library
was not built for. Clarity over speed: loops over RoIs and bins are fine here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
from torch import Tensor


def temporal_shift(x: Tensor, num_segments: int, shift_div: int = 8) -> Tensor:
    """TSM's shift: channels [0, fold) from frame t+1, [fold, 2*fold) from frame t-1."""
    shape = x.shape
    if x.dim() == 4:
        x = x.reshape(-1, num_segments, *shape[1:])
    fold = x.shape[2] // shift_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]
    out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
    return out.reshape(shape)


def tin_shift(x: Tensor, offset: Tensor) -> Tensor:
    """TIN's shift: channel group g of clip n read at time ``t - offset[n, g]``, linear
    interpolation between frames, zeros outside the clip (gathers: differentiable in
    ``x`` and ``offset``, exportable)."""
    n, t, c = x.shape[:3]
    groups = offset.shape[1]
    v = x.reshape(n, t, groups, c // groups, -1)
    o = offset.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    k = o.detach().floor()
    f = (o - k).to(x.dtype)[:, None, :, None, None]
    frames = torch.arange(t, device=x.device)[None, :, None]

    def whole(shift: Tensor) -> Tensor:  # out[:, i] = v[:, i - shift], zero outside
        src = frames - shift.clamp(-t - 1, t + 1).long()[:, None, :]  # [N, T, G]
        inside = ((src >= 0) & (src < t))[..., None, None]
        index = src.clamp(0, t - 1)[..., None, None].expand(-1, -1, -1, *v.shape[3:])
        return torch.where(inside, v.gather(1, index), v.new_zeros(()))

    out = (1 - f) * whole(k) + f * whole(k + 1)
    return out.reshape(x.shape)


def _axis_matrix(
    start: float, bin_size: float, bins: int, grid: int, size: int, dtype: torch.dtype
) -> Tensor:
    """[bins, size]: the weight of each input cell in each bin along one axis.

    torchvision's roi_align rules: `grid` samples per bin at the centres of equal
    sub-bins, linear interpolation, samples more than one cell outside dropped, those in
    the outer half cell clamped to the border; each bin is the mean over its samples.
    """
    m = torch.zeros(bins, size, dtype=torch.float64)
    for b in range(bins):
        for i in range(grid):
            x = start + b * bin_size + (i + 0.5) * bin_size / grid
            if x < -1.0 or x > size:
                continue
            x = max(x, 0.0)
            lo = int(x)
            if lo >= size - 1:
                lo = hi = size - 1
                x = float(lo)
            else:
                hi = lo + 1
            frac = x - lo
            m[b, lo] += (1.0 - frac) / grid
            m[b, hi] += frac / grid
    return m.to(dtype)


def _grid(extent: float, bins: int, sampling_ratio: int) -> int:
    return sampling_ratio if sampling_ratio > 0 else math.ceil(extent / bins)


def roi_align3d(
    features: Tensor,
    rois: Tensor,
    output_size: Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
    temporal_scale: float = 1.0,
) -> Tensor:
    """RoIAlign3D as separable sampling matrices: out = Mt x My x Mx applied to each RoI's clip.

    Bilinear (trilinear) interpolation weights factor into one matrix per axis, and so do
    the bin means, so out[c, t, h, w] = sum Mt[t, T] My[h, H] Mx[w, W] f[c, T, H, W].
    For [K, 5] boxes, Mt averages the frames of adaptive-pooling bins.
    """
    out_t, out_h, out_w = output_size
    n, c, frames, height, width = features.shape
    offset = 0.5 if aligned else 0.0
    work = torch.float64
    outs = []
    for roi in rois.detach().to(torch.float64).cpu().tolist():
        tube = len(roi) == 7
        b = int(roi[0])
        x1, y1, x2, y2 = roi[2:4] + roi[5:7] if tube else roi[1:5]
        xs, ys = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        w = x2 * spatial_scale - offset - xs
        h = y2 * spatial_scale - offset - ys
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        mx = _axis_matrix(xs, w / out_w, out_w, _grid(w, out_w, sampling_ratio), width, work)
        my = _axis_matrix(ys, h / out_h, out_h, _grid(h, out_h, sampling_ratio), height, work)
        if tube:
            ts = roi[1] * temporal_scale - offset
            length = roi[4] * temporal_scale - offset - ts
            if not aligned:
                length = max(length, 1.0)
            grid_t = _grid(length, out_t, sampling_ratio)
            mt = _axis_matrix(ts, length / out_t, out_t, grid_t, frames, work)
        else:
            mt = torch.zeros(out_t, frames, dtype=work)
            for t in range(out_t):
                f0, f1 = (t * frames) // out_t, -((-(t + 1) * frames) // out_t)
                mt[t, f0:f1] = 1.0 / (f1 - f0)
        f = features[b].to(work)
        mats = [m.to(features.device) for m in (mt, my, mx)]
        outs.append(torch.einsum("tT,hH,wW,cTHW->cthw", *mats, f))
    if not outs:
        return features.new_zeros((0, c, out_t, out_h, out_w))
    return torch.stack(outs).to(features.dtype)


def graph_aggregate(x: Tensor, A: Tensor) -> Tensor:
    """out[n, c, t, w] = sum_k sum_v x[n, k, c, t, v] A[k, v, w] (A may be per sample)."""
    if A.dim() == 3:
        return torch.einsum("nkctv,kvw->nctw", x, A)
    return torch.einsum("nkctv,nkvw->nctw", x, A)


@functools.lru_cache(maxsize=16)
def bm_sample_mask(frames: int, samples: int, per_bin: int, ratio: float) -> Tensor:
    """BMN's dense sampling mask [T, S, D, T_start] (float64), as the published code
    (MMAction2's BMN._get_interp1d_mask) builds it, with the same float64 arithmetic per
    point: for proposal (start, duration) with start + duration < T, S*P points evenly
    spread over [start - (d+1)*ratio, start + d + (d+1)*ratio]; each point's weight split
    between the frame its integer part (math.modf: truncation toward zero) names and the
    frame math.ceil names, frames outside [0, T-1] dropped; each sample the mean of its P
    points. Vectorised over points; the loop version is in the tests."""
    start, duration = torch.meshgrid(
        torch.arange(frames, dtype=torch.float64),
        torch.arange(frames, dtype=torch.float64),
        indexing="ij",
    )
    keep = (start + duration) < frames
    start, duration = start[keep], duration[keep]  # [M]
    center_len = duration + 1.0
    tmin = start - center_len * ratio
    tmax = start + duration + center_len * ratio
    step = (tmax - tmin) / (samples * per_bin - 1.0)
    j = torch.arange(samples * per_bin, dtype=torch.float64)
    points = tmin[:, None] + step[:, None] * j  # [M, S*P]
    whole = torch.trunc(points)
    frac = points - whole
    sample = (j // per_bin).long().expand_as(points)
    d = duration.long()[:, None].expand_as(points)
    t = start.long()[:, None].expand_as(points)
    mask = torch.zeros(frames, samples, frames, frames, dtype=torch.float64)
    for frame, weight in ((whole.long(), 1 - frac), (torch.ceil(points).long(), frac)):
        inside = (frame >= 0) & (frame <= frames - 1)
        mask.index_put_(
            (frame[inside], sample[inside], d[inside], t[inside]), weight[inside], accumulate=True
        )
    return mask * (1.0 / per_bin)


def bm_sampling(
    x: Tensor, num_samples: int = 32, num_samples_per_bin: int = 3, prop_boundary_ratio: float = 0.5
) -> Tensor:
    """MMAction2's boundary-matching layer: x [N, C, T] @ dense mask -> [N, C, S, T, T]."""
    n, c, t = x.shape
    mask = bm_sample_mask(t, num_samples, num_samples_per_bin, prop_boundary_ratio)
    return torch.matmul(x, mask.to(x).view(t, -1)).view(n, c, num_samples, t, t)


def bm_sampling_sum(
    y: Tensor, num_samples_per_bin: int = 3, prop_boundary_ratio: float = 0.5
) -> Tensor:
    """Sum over samples s of the sampling of row s of y [N, C, S, T] -> [N, C, T, T]."""
    _, _, s, t = y.shape
    mask = bm_sample_mask(t, s, num_samples_per_bin, prop_boundary_ratio)
    return torch.einsum("ncsi,isdt->ncdt", y, mask.to(y))


def _greedy_nms(iou: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Visit by decreasing score (ties in input order); drop what overlaps a kept row."""
    order = torch.sort(scores, descending=True, stable=True).indices
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for rank, i in enumerate(order.tolist()):
        if suppressed[rank]:
            continue
        keep.append(i)
        suppressed[rank + 1 :] |= iou[i, order[rank + 1 :]].cpu() > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=scores.device)


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of boxes (x1, y1, x2, y2), torchvision's convention (no +1)."""
    wh = (
        torch.minimum(a[:, None, 2:], b[None, :, 2:])
        - torch.maximum(a[:, None, :2], b[None, :, :2])
    ).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def temporal_iou(a: Tensor, b: Tensor) -> Tensor:
    """MMAction2's temporal_iou for every pair of segments (start, end)."""
    inter = (
        torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0])
    ).clamp(min=0)
    union = (a[:, None, 1] - a[:, None, 0]) - inter + (b[None, :, 1] - b[None, :, 0])
    return inter / union


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    return _greedy_nms(box_iou(boxes, boxes), scores, iou_threshold)


def temporal_nms(segments: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    return _greedy_nms(temporal_iou(segments, segments), scores, iou_threshold)


def soft_nms(
    boxes: Tensor,
    scores: Tensor,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    method: str = "linear",
    offset: int = 0,
) -> tuple[Tensor, Tensor]:
    """mmcv's soft-NMS as a plain Python loop over a list: take the first highest score,
    decay the rest, drop a box below min_score by moving the last box into its place."""
    dtype = boxes.dtype
    rows = [
        [*b, s, i]
        for i, (b, s) in enumerate(
            zip(boxes.double().tolist(), scores.double().tolist(), strict=True)
        )
    ]

    def area(r):
        return (r[2] - r[0] + offset) * (r[3] - r[1] + offset)

    n, i, dets = len(rows), 0, []
    while i < n:
        best = i
        for k in range(i + 1, n):
            if rows[best][4] < rows[k][4]:
                best = k
        rows[i], rows[best] = rows[best], rows[i]
        top = rows[i]
        dets.append(top)
        k = i + 1
        while k < n:
            r = rows[k]
            w = max(0.0, min(top[2], r[2]) - max(top[0], r[0]) + offset)
            h = max(0.0, min(top[3], r[3]) - max(top[1], r[1]) + offset)
            o = w * h / (area(top) + area(r) - w * h)
            if method == "naive":
                weight = 0.0 if o >= iou_threshold else 1.0
            elif method == "linear":
                weight = 1 - o if o >= iou_threshold else 1.0
            else:
                weight = math.exp(-(o * o) / sigma)
            r[4] *= weight
            if r[4] < min_score:
                rows[k] = rows[n - 1]
                n -= 1
                continue
            k += 1
        i += 1
    det = torch.tensor([d[:5] for d in dets], dtype=torch.float64).reshape(-1, 5)
    keep = torch.tensor([int(d[5]) for d in dets], dtype=torch.long)
    return det.to(dtype=dtype, device=boxes.device), keep.to(boxes.device)


def temporal_soft_nms(
    segments: Tensor,
    scores: Tensor,
    alpha: float = 0.4,
    low_threshold: float = 0.5,
    high_threshold: float = 0.9,
    top_k: int = 100,
    legacy_top_k: bool = False,
) -> tuple[Tensor, Tensor]:
    """MMAction2's proposal_utils.soft_nms over Python lists (ties taken in input order)."""
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()
    seg = segments.double().tolist()
    start = [seg[i][0] for i in order]
    end = [seg[i][1] for i in order]
    score = [float(scores[i]) for i in order]
    limit = top_k + 1 if legacy_top_k else top_k
    dets, keep = [], []
    while score and len(dets) < limit:
        best = max(range(len(score)), key=lambda k: (score[k], -k))
        width = end[best] - start[best]
        for k in range(len(score)):
            if k == best:
                continue
            inter = max(0.0, min(end[best], end[k]) - max(start[best], start[k]))
            o = inter / (width - inter + end[k] - start[k])
            if o > low_threshold + (high_threshold - low_threshold) * width:
                score[k] *= math.exp(-(o * o) / alpha)
        dets.append([start[best], end[best], score[best]])
        keep.append(order[best])
        for lst in (start, end, score, order):
            lst.pop(best)
    det = torch.tensor(dets, dtype=torch.float64).reshape(-1, 3)
    return det.to(dtype=segments.dtype, device=segments.device), torch.tensor(
        keep, dtype=torch.long, device=segments.device
    )


def preprocess(
    frames: Tensor,
    boxes: Tensor,
    flip: Tensor,
    size: tuple[int, int],
    mean,
    std,
    layout: str = "NCTHW",
    dtype: torch.dtype | None = None,
) -> Tensor:
    """The fused preprocessing as separate tensor ops, per clip: for integer boxes it is
    crop -> ``F.interpolate(bilinear, align_corners=False)`` -> flip -> normalize; for
    fractional boxes the same sampling positions measured from the box edges."""
    out_h, out_w = size
    dtype = dtype or torch.float32
    mean_t = torch.tensor(mean, dtype=torch.float32, device=frames.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=frames.device).view(1, -1, 1, 1)
    clips = []
    for b in range(frames.shape[0]):
        x1, y1, x2, y2 = (float(v) for v in boxes[b].float())
        x = frames[b].permute(0, 3, 1, 2).float()  # [T, C, H, W]
        ys, wy = _taps(out_h, y1, y2, frames.shape[2], x.device)
        xs, wx = _taps(out_w, x1, x2, frames.shape[3], x.device)
        rows = x[:, :, ys[0]] * (1 - wy)[:, None] + x[:, :, ys[1]] * wy[:, None]
        y = rows[..., xs[0]] * (1 - wx) + rows[..., xs[1]] * wx  # [T, C, h, w]
        if bool(flip[b]):
            y = y.flip(-1)
        y = (y - mean_t) / std_t
        clips.append(y.permute(1, 0, 2, 3) if layout == "NCTHW" else y)
    if not clips:
        c = frames.shape[4]
        shape = (
            (0, c, frames.shape[1], out_h, out_w)
            if layout == "NCTHW"
            else (0, frames.shape[1], c, out_h, out_w)
        )
        return frames.new_zeros(shape, dtype=dtype)
    return torch.stack(clips).to(dtype)


def _taps(out_size: int, lo: float, hi: float, in_size: int, device):
    """Bilinear taps of PyTorch's align_corners=False resize over the crop [lo, hi)."""
    scale = torch.tensor((hi - lo) / out_size, dtype=torch.float32)
    src = (torch.arange(out_size, dtype=torch.float32) + 0.5) * scale - 0.5
    src = src.clamp(min=0) + lo
    last = min(math.ceil(hi), in_size) - 1
    i0 = src.floor().long()
    w1 = src - i0
    w1 = torch.where(i0 >= last, torch.zeros_like(w1), w1)
    i0 = i0.clamp(max=last)
    i1 = (i0 + 1).clamp(max=last)
    return (i0.to(device), i1.to(device)), w1.to(device)


def _heat_window(lo: Tensor, hi: Tensor, sigma: float, size: int) -> tuple[Tensor, Tensor]:
    """MMAction2's window [max(int(lo - 3 sigma), 0), min(int(hi + 3 sigma) + 1, size)),
    in float64 as NumPy 1.x computes a float32 scalar minus a Python float."""
    a = (lo.double() - 3 * sigma).clamp(-1e15, 1e15).trunc().clamp(min=0)
    b = ((hi.double() + 3 * sigma).clamp(-1e15, 1e15).trunc() + 1).clamp(max=size)
    return a, b


def pose_heatmaps(
    keypoints: Tensor,
    scores: Tensor,
    size: tuple[int, int],
    sigma: float,
    limbs: Tensor,
    with_kp: bool = True,
    legacy_merge: bool = False,
    eps: float = 1e-4,
    flip_order: Tensor | None = None,
) -> Tensor:
    """PoseC3D's pseudo heatmaps as whole-image tensor ops: per (sample, person, frame,
    keypoint or limb) the Gaussian of the distance to the keypoint (the segment), inside
    MMAction2's 3-sigma window, scaled by the score, max over people. float32 as
    MMAction2's GeneratePoseTarget computes it; with ``flip_order`` the mirrored maps
    follow as samples N..2N-1."""
    if flip_order is not None:
        maps = pose_heatmaps(keypoints, scores, size, sigma, limbs, with_kp, legacy_merge, eps)
        return torch.cat([maps, maps[:, flip_order.to(maps.device)].flip(-1)])
    h, w = size
    n, m, t, v, _ = keypoints.shape
    kp = keypoints.float()
    sc = scores.float()
    s2 = torch.tensor(sigma * sigma, dtype=torch.float32)
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)

    def gauss(d2: Tensor, value: Tensor) -> Tensor:
        return torch.exp((-d2 / 2.0) / s2) * value[..., None, None]

    def windowed(vals: Tensor, cx_lo, cx_hi, cy_lo, cy_hi) -> Tensor:
        x0, x1 = _heat_window(cx_lo, cx_hi, sigma, w)
        y0, y1 = _heat_window(cy_lo, cy_hi, sigma, h)
        inside = (
            (xs >= x0[..., None, None])
            & (xs < x1[..., None, None])
            & (ys >= y0[..., None, None])
            & (ys < y1[..., None, None])
        )
        return torch.where(inside, vals, torch.zeros(()))

    finite = torch.isfinite(kp).all(-1)
    x, y = kp[..., 0], kp[..., 1]
    channels = []
    if with_kp:  # [N, M, T, V, H, W]
        d2 = (xs - x[..., None, None]) ** 2 + (ys - y[..., None, None]) ** 2
        heat = windowed(gauss(d2, sc), x, x, y, y)
        heat = torch.where(((sc >= eps) & finite)[..., None, None], heat, torch.zeros(()))
        channels.append(heat.amax(1).permute(0, 2, 1, 3, 4))  # [N, V, T, H, W]
    if len(limbs):
        a, b = limbs[:, 0], limbs[:, 1]
        ax, ay, bx, by = x[..., a], y[..., a], x[..., b], y[..., b]  # [N, M, T, L]
        sa, sb = sc[..., a], sc[..., b]
        value = torch.minimum(sa, sb)
        # float64 as NumPy 1.x squares MMAction2's float32 scalars; float32 in the arrays
        d2_ab64 = (ax - bx).double() ** 2 + (ay - by).double() ** 2
        d2_ab = d2_ab64.float()
        d2s = (xs - ax[..., None, None]) ** 2 + (ys - ay[..., None, None]) ** 2
        d2e = (xs - bx[..., None, None]) ** 2 + (ys - by[..., None, None]) ** 2
        ab = d2_ab[..., None, None]
        coeff = (d2s - d2e + ab) / 2.0 / ab
        px = ax[..., None, None] + coeff * (bx - ax)[..., None, None]
        py = ay[..., None, None] + coeff * (by - ay)[..., None, None]
        d2l = (xs - px) ** 2 + (ys - py) ** 2
        d2 = torch.where(coeff <= 0, d2s, torch.where(coeff >= 1, d2e, d2l))
        # the segment's Gaussian in float64, as MMAction2's int64 mask makes it
        seg_value = (
            torch.exp((-d2.double() / 2.0) / (sigma * sigma)) * value.double()[..., None, None]
        )
        seg = windowed(
            seg_value.float(),
            torch.minimum(ax, bx), torch.maximum(ax, bx),
            torch.minimum(ay, by), torch.maximum(ay, by),
        )  # fmt: skip
        point = windowed(gauss(d2s, sa), ax, ax, ay, ay)  # shorter than a pixel: a's map
        heat = torch.where((d2_ab64 < 1)[..., None, None], point, seg)
        ok = (value >= eps) & finite[..., a] & finite[..., b]
        heat = torch.where(ok[..., None, None], heat, torch.zeros(()))
        limb_maps = heat.amax(1).permute(0, 2, 1, 3, 4)  # [N, L, T, H, W]
        if with_kp and legacy_merge:
            merged = channels[0].clone()
            k = min(v, len(limbs))
            merged[:, :k] = torch.maximum(merged[:, :k], limb_maps[:, :k])
            if len(limbs) > v:
                merged = torch.cat([merged, limb_maps[:, v:]], 1)
            zeros = merged.new_zeros((n, v + len(limbs) - merged.shape[1], t, h, w))
            channels = [merged, zeros]
        else:
            channels.append(limb_maps)
    return torch.cat(channels, 1).to(keypoints.device)


def _resize_linear(src: Tensor, h: int, w: int, scale_y: float, scale_x: float) -> Tensor:
    """[N, sh, sw] -> [N, h, w], OpenCV's INTER_LINEAR: source coordinate
    ``(dst + 0.5) * scale - 0.5`` (in float64, then float32), edges clamped."""
    sh, sw = src.shape[1:]

    def taps(size: int, source: int, scale: float, clamp_fraction: bool):
        f = ((torch.arange(size, dtype=torch.float64) + 0.5) * scale - 0.5).float()
        i = f.floor()
        f = f - i
        i = i.long()
        if clamp_fraction:  # the horizontal pass: outside the image is the edge pixel
            f = torch.where((i < 0) | (i >= source - 1), torch.zeros_like(f), f)
            i = i.clamp(0, source - 1)
        return i.clamp(0, source - 1), (i + 1).clamp(0, source - 1), f

    x0, x1, fx = taps(w, sw, scale_x, True)
    y0, y1, fy = taps(h, sh, scale_y, False)
    dev = src.device
    x0, x1, fx, y0, y1, fy = (t.to(dev) for t in (x0, x1, fx, y0, y1, fy))
    r0, r1 = src[:, y0], src[:, y1]
    h0 = r0[:, :, x0] * (1 - fx) + r0[:, :, x1] * fx
    h1 = r1[:, :, x0] * (1 - fx) + r1[:, :, x1] * fx
    return h0 * (1 - fy)[:, None] + h1 * fy[:, None]


def _shifted(x: Tensor, dy: int, dx: int) -> Tensor:
    """x[.., clamp(y + dy), clamp(x + dx)]: the neighbour, edge pixels replicated."""
    h, w = x.shape[-2:]
    ys = (torch.arange(h, device=x.device) + dy).clamp(0, h - 1)
    xs = (torch.arange(w, device=x.device) + dx).clamp(0, w - 1)
    return x[..., ys, :][..., xs]


def _cubic_weights(t: Tensor) -> list[Tensor]:
    a = -0.75
    c0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    c1 = ((a + 2) * t - (a + 3)) * t * t + 1
    c2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    return [c0, c1, c2, 1 - c0 - c1 - c2]


def _remap_cubic(images: Tensor, u1: Tensor, u2: Tensor) -> Tensor:
    """images [N, K, H, W] sampled at (x + u1, y + u2) bicubically (a = -0.75), taps
    outside the image 0: OpenCV 5's remap(INTER_CUBIC, BORDER_CONSTANT)."""
    n, k, h, w = images.shape
    fx = torch.arange(w, device=u1.device, dtype=torch.float32) + u1
    fy = torch.arange(h, device=u1.device, dtype=torch.float32)[:, None] + u2
    bx, by = fx.floor(), fy.floor()
    wx, wy = _cubic_weights(fx - bx), _cubic_weights(fy - by)
    sx, sy = bx.long() - 1, by.long() - 1
    flat = images.reshape(n, k, h * w)
    total = images.new_zeros(n, k, h, w)
    for i in range(4):
        yy = sy + i
        row = images.new_zeros(n, k, h, w)
        for j in range(4):
            xx = sx + j
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).reshape(n, 1, h * w)
            tap = flat.gather(2, index.expand(n, k, h * w)).reshape(n, k, h, w)
            row = row + torch.where(inside[:, None], tap, 0.0) * (wy[i] * wx[j])[:, None]
        total = total + torch.where(((yy >= 0) & (yy < h))[:, None], row, 0.0)
    return total


def optical_flow_tvl1(
    frames_a: Tensor,
    frames_b: Tensor,
    tau: float = 0.25,
    lambd: float = 0.15,
    theta: float = 0.3,
    scales: int = 5,
    warps: int = 5,
    epsilon: float = 0.01,
    inner_iterations: int = 30,
    outer_iterations: int = 10,
    scale_step: float = 0.8,
    median_filtering: int = 5,
) -> Tensor:
    """TV-L1 optical flow (Zach, Pock and Bischof 2007) as OpenCV's DualTVL1 discretises
    it: [N, H, W] grey frames (0..255) -> [N, 2, H, W] flow (x, y) from a to b."""
    n, height, width = frames_a.shape
    sizes = [(height, width)]
    for _ in range(1, scales):
        h, w = (round(s * scale_step) for s in sizes[-1])  # ties to even, as cvRound
        if h < 16 or w < 16:
            break
        sizes.append((h, w))
    pyr0, pyr1 = [frames_a.float()], [frames_b.float()]
    for h, w in sizes[1:]:
        pyr0.append(_resize_linear(pyr0[-1], h, w, 1 / scale_step, 1 / scale_step))
        pyr1.append(_resize_linear(pyr1[-1], h, w, 1 / scale_step, 1 / scale_step))
    h, w = sizes[-1]
    u1 = frames_a.new_zeros(n, h, w, dtype=torch.float32)
    u2 = torch.zeros_like(u1)
    l_t, taut = lambd * theta, tau / theta
    for level in range(len(sizes) - 1, -1, -1):
        i0, i1 = pyr0[level], pyr1[level]
        h, w = sizes[level]
        threshold = torch.tensor(epsilon * epsilon * h * w, dtype=torch.float32)
        i1x = 0.5 * (_shifted(i1, 0, 1) - _shifted(i1, 0, -1))
        i1y = 0.5 * (_shifted(i1, 1, 0) - _shifted(i1, -1, 0))
        p11, p12, p21, p22 = (torch.zeros_like(u1) for _ in range(4))
        for _ in range(warps):
            warped = _remap_cubic(torch.stack([i1, i1x, i1y], 1), u1, u2)
            ix, iy = warped[:, 1], warped[:, 2]
            grad = ix * ix + iy * iy
            rho_c = warped[:, 0] - ix * u1 - iy * u2 - i0
            active = torch.ones(n, dtype=torch.bool, device=u1.device)
            for _ in range(outer_iterations):
                if not active.any():
                    break
                keep = active[:, None, None]
                if median_filtering > 1:
                    r = median_filtering // 2
                    for u in (u1, u2):
                        padded = torch.nn.functional.pad(u[:, None], (r, r, r, r), mode="replicate")
                        window = padded.unfold(2, 2 * r + 1, 1).unfold(3, 2 * r + 1, 1)
                        med = window.reshape(n, h, w, -1).median(-1).values
                        u.copy_(torch.where(keep, med, u))
                for _ in range(inner_iterations):
                    if not active.any():
                        break
                    keep = active[:, None, None]
                    rho = rho_c + (ix * u1 + iy * u2)
                    lo, hi = rho < -l_t * grad, rho > l_t * grad
                    fi = torch.where(grad > torch.finfo(torch.float32).eps, -rho / grad, 0.0)
                    d1 = torch.where(lo, l_t * ix, torch.where(hi, -l_t * ix, fi * ix))
                    d2 = torch.where(lo, l_t * iy, torch.where(hi, -l_t * iy, fi * iy))
                    div1 = p11 - torch.nn.functional.pad(p11[:, :, :-1], (1, 0))
                    div1 = div1 + p12 - torch.nn.functional.pad(p12[:, :-1], (0, 0, 1, 0))
                    div2 = p21 - torch.nn.functional.pad(p21[:, :, :-1], (1, 0))
                    div2 = div2 + p22 - torch.nn.functional.pad(p22[:, :-1], (0, 0, 1, 0))
                    n1 = (u1 + d1) + theta * div1
                    n2 = (u2 + d2) + theta * div2
                    error = ((n1 - u1) ** 2 + (n2 - u2) ** 2).sum((1, 2))
                    u1, u2 = torch.where(keep, n1, u1), torch.where(keep, n2, u2)
                    g = []
                    for u in (u1, u2):
                        ux = torch.nn.functional.pad(u[:, :, 1:] - u[:, :, :-1], (0, 1))
                        uy = torch.nn.functional.pad(u[:, 1:] - u[:, :-1], (0, 0, 0, 1))
                        g.append((ux, uy, 1 + taut * torch.sqrt(ux * ux + uy * uy)))
                    (u1x, u1y, ng1), (u2x, u2y, ng2) = g
                    p11 = torch.where(keep, (p11 + taut * u1x) / ng1, p11)
                    p12 = torch.where(keep, (p12 + taut * u1y) / ng1, p12)
                    p21 = torch.where(keep, (p21 + taut * u2x) / ng2, p21)
                    p22 = torch.where(keep, (p22 + taut * u2y) / ng2, p22)
                    active = active & (error > threshold)
        if level > 0:
            fh, fw = sizes[level - 1]
            up = torch.tensor(1 / scale_step, dtype=torch.float32)
            u1 = _resize_linear(u1, fh, fw, 1 / (fh / h), 1 / (fw / w)) * up
            u2 = _resize_linear(u2, fh, fw, 1 / (fh / h), 1 / (fw / w)) * up
    return torch.stack([u1, u2], 1)
