"""TV-L1 optical flow as one compiled op, and the grey conversion it takes frames through."""

from __future__ import annotations

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def rgb_to_grey(frames: Tensor) -> Tensor:
    """uint8 RGB ``[..., 3]`` -> float32 grey ``[...]`` (0..255), rounded as OpenCV's
    ``cvtColor(RGB2GRAY)`` rounds (fixed point: ``(9798 R + 19235 G + 3735 B + 2^14) >> 15``),
    so flow from our frames equals flow from OpenCV's grey images. Float input (0..255) is
    weighted without rounding."""
    if frames.shape[-1] != 3:
        raise ValueError(
            f"rgb_to_grey: frames must end in 3 channels (RGB), got {tuple(frames.shape)}"
        )
    if frames.dtype == torch.uint8:
        x = frames.to(torch.int32)
        grey = (x[..., 0] * 9798 + x[..., 1] * 19235 + x[..., 2] * 3735 + (1 << 14)) >> 15
        return grey.float()
    x = frames.float()
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def optical_flow_tvl1(
    frames_a: Tensor,
    frames_b: Tensor,
    *,
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
    """Dense optical flow from ``frames_a`` to ``frames_b`` by TV-L1 (Zach, Pock and
    Bischof 2007), the flow MMAction2's two-stream models were trained on, batched over
    frame pairs.

    The discretisation and the defaults are OpenCV's ``DualTVL1OpticalFlow``
    (``cv2.optflow.DualTVL1OpticalFlow_create()``): a pyramid of bilinear resizes by
    ``scale_step`` (levels under 16 pixels dropped), per level ``warps`` warps of ``b``
    (bicubic, outside 0), each with up to ``outer_iterations`` x ``inner_iterations``
    primal-dual steps, a ``median_filtering`` x ``median_filtering`` median of the flow
    before each outer iteration, and a pair's iterations stopping once the summed squared
    change of its flow is at most ``epsilon^2`` per pixel. Checked against OpenCV 5.0 on
    real and synthetic frames (``tests/test_optical_flow.py``): flows agree to about
    1e-5 pixel on average (float rounding), and pairs in a batch do not mix. (OpenCV's
    ``gamma`` illumination term and initial flow are not offered.)

    Args:
        frames_a, frames_b: grey frames ``[N, H, W]`` or ``[H, W]``, uint8 or float in
            0..255 (OpenCV scales float input by 255; here float is taken as is). RGB
            frames go through :func:`rgb_to_grey` first. CPU or CUDA.
        tau: time step of the primal-dual scheme (<= 0.25 for convergence).
        lambd: weight of the data term (smaller: smoother flow).
        theta: coupling of the two sub-problems.
        scales: the most pyramid levels.
        warps: warps per level.
        epsilon: the stopping threshold.
        inner_iterations, outer_iterations: iteration counts per warp.
        scale_step: size ratio of successive levels, in (0, 1).
        median_filtering: median window, 3 or 5 (0 or 1: none).

    Returns:
        float32 ``[N, 2, H, W]`` (``[2, H, W]`` for unbatched input): channel 0 the x
        (rightward), 1 the y (downward) displacement in pixels of each pixel of
        ``frames_a``, so ``a(x, y) ~ b(x + u, y + v)``.

    Example:
        >>> grey = actionkit.ops.optical_flow.rgb_to_grey(frames)  # uint8 [T, H, W, 3]
        >>> flow = actionkit.ops.optical_flow_tvl1(grey[:-1], grey[1:])  # [T-1, 2, H, W]
    """
    if frames_a.shape != frames_b.shape:
        raise ValueError(
            f"optical_flow_tvl1: frames_a {tuple(frames_a.shape)} and frames_b "
            f"{tuple(frames_b.shape)} differ in shape"
        )
    if frames_a.dim() not in (2, 3):
        raise ValueError(
            "optical_flow_tvl1: frames must be grey [N, H, W] or [H, W] (RGB: "
            f"rgb_to_grey first), got {tuple(frames_a.shape)}"
        )
    single = frames_a.dim() == 2
    a, b = (f.float()[None] if single else f.float() for f in (frames_a, frames_b))
    args = (
        float(tau), float(lambd), float(theta), int(scales), int(warps), float(epsilon),
        int(inner_iterations), int(outer_iterations), float(scale_step), int(median_filtering),
    )  # fmt: skip
    if has_kernel("optical_flow_tvl1", a.device):
        flow = torch.ops.actionkit.optical_flow_tvl1(a, b, *args)
    else:
        flow = _reference.optical_flow_tvl1(a, b, *args)
    return flow[0] if single else flow


@torch.library.register_fake("actionkit::optical_flow_tvl1")
def _(frames_a, frames_b, *args):
    torch._check(frames_a.dim() == 3, lambda: "optical_flow_tvl1: frames must be [N, H, W]")
    n, h, w = frames_a.shape
    return frames_a.new_empty((n, 2, h, w), dtype=torch.float32)
