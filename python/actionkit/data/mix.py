"""Batch blending for training: Mixup and CutMix on whole clips, as MMAction2's
``MixupBlending`` / ``CutmixBlending`` / ``RandomBatchAugment`` define them — one mixing
coefficient ``lam ~ Beta(alpha, alpha)`` and one pairing (a random permutation) per
batch; Mixup blends the clips, CutMix pastes one box (the same in every frame and view)
from the paired clip; the labels become ``lam * one_hot(y) + (1 - lam) * one_hot(y')``
with ``lam`` the pasted-area-corrected fraction for CutMix. Label smoothing stays in the
loss (it is linear: smoothing the mixed labels is mixing the smoothed ones).

Applied as the training loader's ``collate_fn``, so it runs in the workers; its random
numbers come from the batch's sample indices and the seed, so a batch blends the same
way whichever worker makes it and after a resume."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .datasets import collate_clips


@dataclass
class MixupCutmix:
    """``mixup_alpha`` / ``cutmix_alpha``: the Beta parameters (0 turns one off); with
    both on, CutMix is chosen with ``cutmix_prob``; a batch is blended at all with
    ``prob`` (else its labels are only made one-hot)."""

    num_classes: int
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    cutmix_prob: float = 0.5
    prob: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if (
            self.mixup_alpha < 0
            or self.cutmix_alpha < 0
            or self.mixup_alpha == self.cutmix_alpha == 0
        ):
            raise ValueError(
                "mixup_alpha and cutmix_alpha must be >= 0 and not both 0, got "
                f"{self.mixup_alpha} and {self.cutmix_alpha}"
            )
        for name in ("cutmix_prob", "prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def __call__(self, samples: list[dict]) -> dict:
        batch = collate_clips(samples)  # (repeated augmentation's draws laid out)
        rng = np.random.default_rng([self.seed, *(int(i) for i in batch["index"])])
        return self.blend(batch, rng)

    def blend(self, batch: dict, rng: np.random.Generator) -> dict:
        """``batch["inputs"]: [B, ..., H, W]`` and ``batch["label"]: [B]`` blended (a new
        dict; the labels ``[B, num_classes]``)."""
        x, label = batch["inputs"], batch["label"]
        if label.dim() != 1:
            raise ValueError("Mixup / CutMix take one class index per sample")
        target = F.one_hot(label.long(), self.num_classes).to(x.dtype)
        if rng.random() >= self.prob:
            return {**batch, "label": target}
        cutmix = self.cutmix_alpha > 0 and (
            self.mixup_alpha == 0 or rng.random() < self.cutmix_prob
        )
        alpha = self.cutmix_alpha if cutmix else self.mixup_alpha
        lam = float(rng.beta(alpha, alpha))
        pair = torch.from_numpy(rng.permutation(x.shape[0]))
        if cutmix:
            (y1, y2, x1, x2), lam = cutmix_box(x.shape[-2], x.shape[-1], lam, rng)
            x = x.clone()
            x[..., y1:y2, x1:x2] = x[pair][..., y1:y2, x1:x2]
        else:
            x = lam * x + (1 - lam) * x[pair]
        return {**batch, "inputs": x, "label": lam * target + (1 - lam) * target[pair]}


def cutmix_box(
    h: int, w: int, lam: float, rng: np.random.Generator
) -> tuple[tuple[int, int, int, int], float]:
    """A box of ``sqrt(1 - lam)`` of each side around a uniformly drawn centre, clipped
    to the frame (``(y1, y2, x1, x2)``), and the fraction of the frame left outside it."""
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y1, y2 = min(max(cy - ch // 2, 0), h), min(max(cy + ch // 2, 0), h)
    x1, x2 = min(max(cx - cw // 2, 0), w), min(max(cx + cw // 2, 0), w)
    return (y1, y2, x1, x2), 1.0 - (y2 - y1) * (x2 - x1) / (h * w)
