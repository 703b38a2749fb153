"""PoseC3D's pseudo heatmaps from keypoints: MMAction2's ``GeneratePoseTarget`` as one op."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from . import _reference
from ._dispatch import has_kernel

# MMAction2's COCO-17 limbs (GeneratePoseTarget's default skeletons).
COCO_LIMBS = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
    (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip


def pose_heatmaps(
    keypoints: Tensor,
    scores: Tensor | None = None,
    size: Sequence[int] = (56, 56),
    sigma: float = 0.6,
    limbs: Sequence[Sequence[int]] | Tensor | None = None,
    with_kp: bool = True,
    legacy_merge: bool = False,
    eps: float = 1e-4,
    flip_order: Sequence[int] | Tensor | None = None,
) -> Tensor:
    """Pseudo heatmaps of keypoints (and limbs), PoseC3D's input, in one pass.

    Per output pixel ``(x, y)`` of channel ``v`` and frame ``t``: the max over the people
    of ``exp(-d^2 / (2 sigma^2)) * score``, ``d`` the distance to keypoint ``v``; for a
    limb ``(a, b)`` ``d`` is the distance to the segment from ``a`` to ``b`` and the
    score the lower of the two. Each keypoint (limb) is drawn only inside MMAction2's
    window ``[int(lo - 3 sigma), int(hi + 3 sigma)]`` (clipped to the image), so the
    result equals MMAction2 1.2.0's ``GeneratePoseTarget`` (float32 arithmetic in the
    same order; checked on fixtures from its code). Keypoints scored below ``eps``
    (MMAction2's ``1e-4``) and non-finite ones are left out.

    Channels: the ``V`` keypoints (``with_kp``), then the ``L`` limbs. MMAction2 draws
    limb ``l`` into channel ``l`` when both are on — it max-merges limbs into keypoint
    channels and leaves the last ``L`` channels zero, a bug; ``legacy_merge=True``
    reproduces it (to compare with numbers from its pipelines).

    Args:
        keypoints: ``[N, M, T, V, 2]`` (x, y) in output pixels (scale them to ``size``
            first); float32 (other dtypes are converted). CPU or CUDA.
        scores: ``[N, M, T, V]`` keypoint confidences (default: all ones, MMAction2's
            ``use_score=False``).
        size: ``(H, W)`` of the maps.
        sigma: the Gaussian's standard deviation in pixels (MMAction2: 0.6).
        limbs: ``[L, 2]`` keypoint pairs (e.g. :data:`COCO_LIMBS`); default none.
        with_kp: draw the keypoints.
        flip_order: also the maps mirrored left-right (MMAction2's test-time ``double``),
            written in the same pass: ``[C]``, the channel each mirrored channel shows
            (left and right keypoints swapped); they are samples ``N..2N-1``.

    Returns:
        float32 ``[N, C, T, H, W]`` (``[2N, ...]`` with ``flip_order``),
        ``C = (V if with_kp else 0) + L``.

    Example:
        >>> kp = torch.rand(1, 2, 48, 17, 2) * 56                # 2 people, 48 frames
        >>> heat = actionkit.ops.pose_heatmaps(kp, size=(56, 56))  # [1, 17, 48, 56, 56]
    """
    keypoints = keypoints.float()
    if scores is None:
        scores = keypoints.new_ones(keypoints.shape[:-1])
    scores = scores.float()
    if limbs is None:
        limbs = torch.zeros((0, 2), dtype=torch.long)
    limbs = torch.as_tensor(limbs, dtype=torch.long).reshape(-1, 2).cpu()
    size = [int(s) for s in size]
    if flip_order is not None:
        flip_order = torch.as_tensor(flip_order, dtype=torch.long).cpu()
    if not has_kernel("pose_heatmaps", keypoints.device):
        return _reference.pose_heatmaps(
            keypoints, scores, size, float(sigma), limbs, with_kp, legacy_merge, eps, flip_order
        )
    return torch.ops.actionkit.pose_heatmaps(
        keypoints, scores, size, float(sigma), limbs, with_kp, legacy_merge, float(eps), flip_order
    )


@torch.library.register_fake("actionkit::pose_heatmaps")
def _(
    keypoints, scores, size, sigma, limbs, with_kp=True, legacy_merge=False, eps=1e-4,
    flip_order=None,
):  # fmt: skip
    torch._check(keypoints.dim() == 5, lambda: "pose_heatmaps: keypoints must be [N, M, T, V, 2]")
    n, _, t, v, _ = keypoints.shape
    c = (v if with_kp else 0) + limbs.shape[0]
    n = n if flip_order is None else 2 * n
    return keypoints.new_empty((n, c, t, size[0], size[1]), dtype=torch.float32)
