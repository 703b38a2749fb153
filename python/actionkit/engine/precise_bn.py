"""PreciseBN (Wu and Johnson, "Rethinking 'Batch' in BatchNorm", 2021; PySlowFast's and
MMAction2 0.x's ``PreciseBNHook``): before evaluation, every BatchNorm layer's running
statistics are recomputed from ``num_iters`` training batches, replacing the momentum
averages that lag behind the weights.

The batches run through the model in training mode, as training does (each BN layer
normalises with its batch's statistics, so every layer sees the inputs it sees in
training), without gradients. Each layer's running mean and variance become the
statistics of all its inputs over those batches: the mean of every element per channel,
and the variance about that mean (unbiased, as BatchNorm keeps it) — equal to one pass
over the concatenated data, from per-channel sums and sums of squares in float64 (summed
across processes when distributed). fvcore's ``update_bn_stats``, which MMAction2 and
PySlowFast call, averages the batches' variances instead, which leaves out the spread
of the batch means (with equal batches the means agree).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batch_norms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, BATCH_NORMS) and m.track_running_stats]


@torch.no_grad()
def precise_bn(
    model: nn.Module,
    batches: Iterable[dict],
    num_iters: int,
    forward=None,
) -> int:
    """Recomputes the running statistics of ``model``'s BatchNorm layers over the first
    ``num_iters`` of ``batches`` (``forward(model, batch)`` runs one; default
    ``model.loss(batch)``). Returns the batches used (fewer if ``batches`` ran out;
    none leaves the statistics as they were)."""
    layers = batch_norms(model)
    if not layers or num_iters < 1:
        return 0
    forward = forward or (lambda m, b: m.loss(b))
    sums: dict[nn.Module, list] = {}

    def record(module, args):
        x = args[0].detach().double()
        channels = x.shape[1]
        flat = x.transpose(0, 1).reshape(channels, -1)
        acc = sums.setdefault(module, [0, 0, 0])
        acc[0] = acc[0] + flat.sum(1)
        acc[1] = acc[1] + (flat * flat).sum(1)
        acc[2] += flat.shape[1]

    was_training = model.training
    model.train()
    hooks = [m.register_forward_pre_hook(record) for m in layers]
    used = 0
    try:
        for batch in batches:
            if used == num_iters:
                break
            forward(model, batch)
            used += 1
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if used == 0:
        return 0
    distributed = dist.is_available() and dist.is_initialized()
    for layer in layers:  # (the same layers in the same order on every process)
        channels = layer.running_mean.shape[0]
        zeros = torch.zeros(channels, dtype=torch.float64)
        total, squares, count = sums.get(layer, (zeros, zeros, 0))
        if distributed:
            packed = torch.cat([total, squares, total.new_tensor([count])]).to(
                layer.running_mean.device
            )
            dist.all_reduce(packed)
            total, squares, count = packed[:channels], packed[channels:-1], packed[-1].item()
        if count == 0:
            continue  # a layer these batches never reached keeps its statistics
        mean = total / count
        var = (squares / count - mean * mean).clamp(min=0) * (count / max(count - 1, 1))
        layer.running_mean.copy_(mean.to(layer.running_mean))
        layer.running_var.copy_(var.to(layer.running_var))
    return used
