"""Multigrid training (Wu, Girshick, He, Feichtenhofer and Krähenbühl, "A Multigrid Method
for Efficiently Training Video Models", CVPR 2020), with PySlowFast's schedule.

The mini-batch shape ``(batch, frames, size)`` varies while the work per iteration stays
about the same: smaller clips come in larger batches, so more epochs fit in the same
time. A **long cycle** steps through coarse shapes epoch by epoch — frames and side
scaled by ``long_cycle_factors`` ``(t, s)`` (fewer frames further apart: the same
temporal extent), the batch by ``T S^2 / (t T * (s S)^2)`` — once per step of the
learning-rate schedule, then fine-tunes at the full shape; the learning rate scales with
the batch (``gamma^step x batch factor`` per stretch). A **short cycle** alternates,
iteration by iteration, sides of ``short_cycle_factors`` x the full side with the long
cycle's own (batch scaled by the squared side ratio, rounded). ``epoch_factor`` makes
the whole schedule that much longer in epochs (1.5: as many iterations as about 0.6 of
the standard schedule's).

:func:`long_cycle_schedule` equals PySlowFast's
``MultigridSchedule.get_long_cycle_schedule`` (fixture: ``tests/fixtures/multigrid.json``
from its own code, ``dev/slowfast_multigrid_fixtures.py``).
BatchNorm keeps its batch at ``bn_base_size`` clips (PySlowFast's ``BN_BASE_SIZE``, 8):
with a larger batch per process its statistics come from sub-batches
(:class:`SubBatchNorm`); PySlowFast's synchronised BatchNorm across processes for a
smaller one is not taken over.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .sampler import EpochSampler

SQRT_HALF = 0.5**0.5
LONG_CYCLE_FACTORS = ((0.25, SQRT_HALF), (0.5, SQRT_HALF), (0.5, 1.0), (1.0, 1.0))
SHORT_CYCLE_FACTORS = (0.5, SQRT_HALF)


def long_cycle_schedule(
    steps: Sequence[float],
    max_epoch: int,
    num_frames: int,
    crop_size: int,
    long_cycle_factors: Sequence[Sequence[float]] = LONG_CYCLE_FACTORS,
    short_cycle_factors: Sequence[float] = SHORT_CYCLE_FACTORS,
    short_cycle: bool = True,
    epoch_factor: float = 1.5,
) -> list[tuple[int, tuple[int, int, int], int]]:
    """The long cycle: ``(lr step index, (batch factor, frames, side), end epoch)`` per
    stretch, in order, the last one the fine-tuning at the full shape. ``steps``: the
    standard schedule's step epochs starting with 0 (``[0, 94, 154, 196]``), ``max_epoch``
    its length. The batch factor is relative to the full shape's batch (1); with the short
    cycle a stretch's batches average over its three shapes, and its epochs are
    apportioned by that average."""
    default_size = float(num_frames * crop_size**2)
    all_shapes, avg_bs = [], []
    for t_factor, s_factor in long_cycle_factors:
        base_t = int(round(num_frames * t_factor))
        base_s = int(round(crop_size * s_factor))
        shapes = [(base_t, base_s)]
        if short_cycle:
            shapes = [(base_t, crop_size * f) for f in short_cycle_factors] + shapes
        shapes = [(int(round(default_size / (t * s * s))), t, s) for t, s in shapes]
        all_shapes.append(shapes)
        avg_bs.append(sum(b for b, _, _ in shapes) / len(shapes))
    schedule, total_iters = [], 0.0
    for index in range(len(steps) - 1):
        step_epochs = steps[index + 1] - steps[index]
        for shapes, bs in zip(all_shapes, avg_bs, strict=True):
            epochs = step_epochs * bs / sum(avg_bs)
            total_iters += epochs / bs
            schedule.append((index, shapes[-1], epochs))
    iter_saving = steps[-1] / total_iters
    # the fine-tuning at the full shape saves iterations as much as the rest did
    fine_tune = (max_epoch - steps[-1]) / iter_saving * avg_bs[-1]
    schedule.append((len(steps) - 1, all_shapes[-1][-1], fine_tune))
    scale = max_epoch * epoch_factor / sum(e for _, _, e in schedule)
    final, total = [], 0.0
    for index, shape, epochs in schedule:
        total += epochs * scale
        final.append((index, tuple(int(v) for v in shape), int(round(total))))
    return final


def step_lrs(
    schedule: list[tuple[int, tuple[int, int, int], int]], gamma: float
) -> tuple[list[int], list[float]]:
    """The learning-rate steps (start epochs) and their factors of the base rate, as
    PySlowFast's ``init_multigrid`` sets ``SOLVER.STEPS`` / ``SOLVER.LRS``: each stretch
    at ``gamma^index x batch factor``, the fine-tuning split in halves at the last two."""
    steps = [0] + [end for _, _, end in schedule]
    steps[-1] = (steps[-2] + steps[-1]) // 2
    lrs = [gamma**index * shape[0] for index, shape, _ in schedule]
    lrs = lrs[:-1] + [lrs[-2], lrs[-1]]
    return steps, lrs


@dataclass(frozen=True)
class Shape:
    """One iteration's mini-batch shape: clips per process, frames per clip and their
    spacing, and the output side(s)."""

    batch: int
    frames: int
    interval: int
    size: tuple[int, int]


class Multigrid:
    """The multigrid plan of a training run: the base shape (``batch`` clips of
    ``frames`` frames ``interval`` apart, ``size`` ``(h, w)`` out) and the standard
    multistep schedule (``milestones``, ``epochs``, ``gamma``, warmup), turned into the
    shapes of each epoch and iteration and the learning-rate factor of each moment."""

    def __init__(
        self,
        batch: int,
        frames: int,
        interval: int,
        size: tuple[int, int],
        milestones: Sequence[int],
        epochs: int,
        gamma: float = 0.1,
        warmup_epochs: float = 0.0,
        warmup_factor: float = 0.1,
        long_cycle: bool = True,
        short_cycle: bool = True,
        long_cycle_factors: Sequence[Sequence[float]] = LONG_CYCLE_FACTORS,
        short_cycle_factors: Sequence[float] = SHORT_CYCLE_FACTORS,
        epoch_factor: float = 1.5,
    ):
        if not (long_cycle or short_cycle):
            raise ConfigError("train.multigrid: turn on long_cycle, short_cycle or both")
        self.batch, self.frames, self.interval = batch, frames, interval
        self.size = tuple(size)
        self.short_cycle, self.short_factors = short_cycle, tuple(short_cycle_factors)
        self.warmup_epochs, self.warmup_factor = warmup_epochs, warmup_factor
        side = max(self.size)  # PySlowFast's square crops: the factors scale both sides
        if long_cycle:
            self.schedule = long_cycle_schedule(
                [0, *milestones], epochs, frames, side, long_cycle_factors,
                short_cycle_factors, short_cycle, epoch_factor,
            )  # fmt: skip
            self.steps, self.lrs = step_lrs(self.schedule, gamma)
            self.epochs = self.schedule[-1][-1]
        else:  # the short cycle alone: the standard schedule, epoch_factor times longer
            self.schedule = None
            self.steps = [0] + [int(m * epoch_factor) for m in milestones]
            self.lrs = [gamma**i for i in range(len(self.steps))]
            self.epochs = int(epochs * epoch_factor)

    def long_shape(self, epoch: int) -> Shape:
        """The long cycle's shape of ``epoch`` (the base shape without a long cycle)."""
        if self.schedule is None:
            return Shape(self.batch, self.frames, self.interval, self.size)
        b, t, s = next((sh for _, sh, end in self.schedule if epoch < end), self.schedule[-1][1])
        side = max(self.size)
        size = tuple(int(round(v * s / side)) for v in self.size)
        # fewer frames further apart: the same temporal extent (PySlowFast's
        # LONG_CYCLE_SAMPLING_RATE)
        return Shape(b * self.batch, t, self.interval * (self.frames // t), size)

    def cycle(self, epoch: int) -> list[Shape]:
        """The shapes the iterations of ``epoch`` go through in turn: the long cycle's,
        preceded by the short cycle's two smaller sides (PySlowFast's
        ``ShortCycleBatchSampler``: batch x round((side / (factor x full side))^2))."""
        long = self.long_shape(epoch)
        if not self.short_cycle:
            return [long]
        shapes = []
        for f in self.short_factors:
            size = tuple(int(round(f * v)) for v in self.size)
            factor = int(round((max(long.size) / (f * max(self.size))) ** 2))
            shapes.append(Shape(long.batch * factor, long.frames, long.interval, size))
        return [*shapes, long]

    def lr_factor(self, epoch: float) -> float:
        """The factor of the base learning rate at (fractional) ``epoch``: the stretch's
        ``gamma^step x batch factor``; a linear warmup from ``warmup_factor`` to the factor
        at the warmup's end (PySlowFast's ``get_lr_at_epoch``)."""

        def at(e: float) -> float:
            index = sum(e >= s for s in self.steps[1:] + [self.epochs])
            return self.lrs[min(index, len(self.lrs) - 1)]

        if epoch < self.warmup_epochs:
            end = at(self.warmup_epochs)
            return self.warmup_factor + (end - self.warmup_factor) * epoch / self.warmup_epochs
        return at(epoch)


class CycleBatches:
    """Batches of an :class:`EpochSampler`'s epoch in the turn of ``shapes`` (one per
    iteration, repeating): lists of ``(epoch, index, (h, w))``, the last incomplete batch
    dropped. ``set_epoch(epoch, start)`` starts at iteration ``start`` (resuming)."""

    def __init__(self, sampler: EpochSampler, shapes: Sequence[Shape]):
        self.sampler, self.shapes = sampler, list(shapes)
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        offset = sum(self.shapes[i % len(self.shapes)].batch for i in range(start))
        self.sampler.set_epoch(epoch, offset)
        self.start = start

    def __iter__(self) -> Iterator[list[tuple[int, int, tuple[int, int]]]]:
        it, batch = self.start, []
        for epoch, index in self.sampler:
            shape = self.shapes[it % len(self.shapes)]
            batch.append((epoch, index, shape.size))
            if len(batch) == shape.batch:
                yield batch
                it, batch = it + 1, []

    def __len__(self) -> int:
        """Full batches of a whole epoch."""
        return iterations(len(self.sampler) + self.sampler.start, self.shapes)


def iterations(total: int, shapes: Sequence[Shape]) -> int:
    """Full batches of ``total`` samples taken in the turn of ``shapes``."""
    per_turn = sum(s.batch for s in shapes)
    n = total // per_turn * len(shapes)
    left = total % per_turn
    for s in shapes:
        if left < s.batch:
            break
        left, n = left - s.batch, n + 1
    return n


def check_milestones(milestones: Sequence[int], epochs: int) -> None:
    if not milestones or any(b <= a for a, b in zip([0, *milestones], milestones, strict=False)):
        raise ConfigError(
            "train.multigrid needs schedule.policy multistep with increasing milestones "
            f"(the long cycle repeats once per step), got {list(milestones)}"
        )
    if milestones[-1] >= epochs:
        raise ConfigError(
            f"train.multigrid: the last milestone {milestones[-1]} must come before "
            f"schedule.epochs {epochs} (the fine-tuning at the full shape follows it)"
        )
    if not math.isfinite(epochs) or epochs < 1:
        raise ConfigError(f"schedule.epochs must be positive, got {epochs}")


class SubBatchNorm:
    """Sub-batch BatchNorm (PySlowFast's ``SubBatchNorm3d``, what multigrid keeps the
    BatchNorm batch with): in training, a layer's statistics come from each of ``splits``
    groups of the batch alone (samples ``b, b + splits, ...``), as if the batch were
    ``splits`` batches of the base size. The running statistics take the groups' mean and
    the mean of their variances plus the variance of their means (PySlowFast's aggregation,
    applied at every step here instead of once before evaluating). Installed on a model's
    BatchNorm layers in place (same parameters and buffers, so checkpoints are unchanged);
    ``set_splits(model, k)`` per stretch, 1 for plain BatchNorm."""

    @staticmethod
    def install(model) -> int:
        """Makes every BatchNorm2d/3d of ``model`` a sub-batch one; returns how many."""
        import torch.nn as nn

        count = 0
        for m in model.modules():
            if type(m) in (nn.BatchNorm2d, nn.BatchNorm3d):
                m.__class__ = _SUB[type(m)]
                m.splits = 1
                count += 1
        return count

    @staticmethod
    def set_splits(model, splits: int) -> None:
        for m in model.modules():
            if isinstance(m, _SubBatchNormMixin):
                m.splits = splits


class _SubBatchNormMixin:
    splits = 1

    def forward(self, x):  # noqa: D102
        import torch
        import torch.nn.functional as F

        k = self.splits
        if not self.training or k <= 1 or x.shape[0] % k:
            return super().forward(x)
        n, c = x.shape[:2]
        grouped = x.reshape(n // k, c * k, *x.shape[2:])
        y = F.batch_norm(grouped, None, None, training=True, momentum=0.0, eps=self.eps)
        y = y.reshape(x.shape)
        if self.track_running_stats:
            with torch.no_grad():
                dims = [0, *range(2, grouped.dim())]
                per = grouped.shape[0] * grouped[0, 0].numel()
                means = grouped.mean(dims).view(k, c)
                var = grouped.var(dims, unbiased=per > 1).view(k, c)
                mean = means.mean(0)
                var = var.mean(0) + ((means - mean) ** 2).mean(0)
                self.num_batches_tracked += 1
                m = self.momentum  # (None: BatchNorm's cumulative average)
                m = 1.0 / float(self.num_batches_tracked) if m is None else m
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var, alpha=m)
        if self.affine:
            shape = (1, c) + (1,) * (x.dim() - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def _sub_class(base):
    return type(f"Sub{base.__name__}", (_SubBatchNormMixin, base), {})


def _make_sub_classes():
    import torch.nn as nn

    return {nn.BatchNorm2d: _sub_class(nn.BatchNorm2d), nn.BatchNorm3d: _sub_class(nn.BatchNorm3d)}


_SUB = _make_sub_classes()
