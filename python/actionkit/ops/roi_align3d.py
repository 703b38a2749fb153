"""RoIAlign over clips: actor boxes held over time (AVA) and boxes with a temporal extent."""

from collections.abc import Sequence

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel


def _output_size(output_size: int | Sequence[int]) -> list[int]:
    if isinstance(output_size, int):
        return [1, output_size, output_size]
    size = [int(s) for s in output_size]
    if len(size) == 2:
        return [1, *size]
    if len(size) != 3:
        raise ValueError(
            f"roi_align3d: output_size must be an int, (h, w) or (t, h, w), got {output_size}"
        )
    return size


def roi_align3d(
    features: Tensor,
    rois: Tensor,
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
    temporal_scale: float = 1.0,
) -> Tensor:
    """RoIAlign of clip features, in one kernel.

    Two kinds of RoI:

    * ``rois [K, 5]`` = (batch index, x1, y1, x2, y2): a box held over the whole clip (an
      AVA actor). Every frame is RoI-aligned with torchvision's ``roi_align`` rules and the
      T frames are averaged into ``t`` bins with adaptive-average-pooling bins: ``t = T``
      keeps every frame, ``t = 1`` is the temporal mean MMAction2's
      ``SingleRoIExtractor3D`` takes.
    * ``rois [K, 7]`` = (batch index, t1, x1, y1, t2, x2, y2): a tube with a temporal
      extent in frames (times ``temporal_scale``), sampled trilinearly into ``t`` bins with
      the same rules along time as in space (``aligned`` shifts time by half a frame too).

    Boxes partly or fully outside the frame, empty boxes and ``K = 0`` behave as
    torchvision's 2D op does frame by frame.

    Args:
        features: ``[N, C, T, H, W]``, floating point.
        rois: ``[K, 5]`` or ``[K, 7]`` as above, in input-image coordinates; same device.
        output_size: ``(t, h, w)``; ``(h, w)`` or an int ``s`` mean ``(1, h, w)`` and
            ``(1, s, s)``, MMAction2's temporally averaged default.
        spatial_scale: feature cells per input pixel (1/16 for a stride-16 backbone).
        sampling_ratio: samples per bin along each axis; ``<= 0`` means adaptive
            (``ceil(roi_size / bins)``), as in torchvision.
        aligned: subtract half a cell from the scaled coordinates (the corrected
            RoIAlign); ``False`` is the legacy behaviour with RoIs of at least one cell.
        temporal_scale: feature frames per input frame, for ``[K, 7]`` rois.

    Returns:
        ``[K, C, t, h, w]`` in the dtype of ``features``.

    Example:
        >>> feats = torch.randn(2, 256, 8, 16, 16)
        >>> rois = torch.tensor([[0, 10.0, 20.0, 100.0, 200.0]])
        >>> actionkit.ops.roi_align3d(feats, rois, (1, 7, 7), spatial_scale=1 / 16).shape
        torch.Size([1, 256, 1, 7, 7])
    """
    size = _output_size(output_size)
    if not has_kernel("roi_align3d", features.device):
        return _reference.roi_align3d(
            features, rois, size, spatial_scale, sampling_ratio, aligned, temporal_scale
        )
    return torch.ops.actionkit.roi_align3d(
        features, rois, size, spatial_scale, sampling_ratio, aligned, temporal_scale
    )


def _check(features_device: torch.device, rois: Tensor) -> None:
    torch._check(
        rois.dim() == 2 and rois.shape[1] in (5, 7),
        lambda: "roi_align3d: rois must be [K, 5] or [K, 7]",
    )
    torch._check(
        rois.device == features_device,
        lambda: f"roi_align3d: rois is on {rois.device} but features is on {features_device}",
    )


@torch.library.register_fake("actionkit::roi_align3d")
def _(
    features,
    rois,
    output_size,
    spatial_scale=1.0,
    sampling_ratio=0,
    aligned=True,
    temporal_scale=1.0,
):
    torch._check(features.dim() == 5, lambda: "roi_align3d: features must be [N, C, T, H, W]")
    torch._check(len(output_size) == 3, lambda: "roi_align3d: output_size must be (t, h, w)")
    _check(features.device, rois)
    return features.new_empty((rois.shape[0], features.shape[1], *output_size))


@torch.library.register_fake("actionkit::_roi_align3d_backward")
def _(grad, rois, input_shape, output_size, spatial_scale, sampling_ratio, aligned, temporal_scale):
    _check(grad.device, rois)
    return grad.new_empty(input_shape)
