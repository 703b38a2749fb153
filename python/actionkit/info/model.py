"""What a model costs: parameters, FLOPs of one forward pass, and the activations one
training step keeps for its backward pass.

FLOPs come from ``torch.utils.flop_counter`` (a multiply-add is 2 FLOPs: PyTorch's and
the papers' convention; MMAction2's ``get_flops.py`` counts multiply-adds, half of this),
with formulas registered for actionkit's compiled ops — the graph aggregation of the GCNs
(a multiply-add per ``x`` element and joint it sums into), TIN's interpolating shift (two
products and a sum per output element), the temporal shift (it moves memory: none) — and
for the CPU's fused attention kernel (``QK^T`` and the weighted sum of ``V``), which
PyTorch's counter leaves at 0. Activation memory is the bytes of the tensors autograd
saves for the backward pass in one training-mode forward (each storage once, parameters
not counted): what a training step holds beyond the weights, gradients and optimizer
state, the same on any device. Both run on fake tensors (shapes without data), so no
activation memory is allocated: the largest models are measured on a laptop."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class ModelCost:
    name: str
    input_shape: tuple[int, ...]
    params: int
    trainable_params: int
    flops: int  # one forward pass over the input (a multiply-add = 2)
    features_flops: int  # all but the classification head: backbone and neck
    activation_bytes: int  # saved for backward by one training-mode forward

    def as_dict(self) -> dict:
        return asdict(self)


def _graph_aggregate_flops(x_shape, a_shape, out_shape=None, **kwargs) -> int:
    n, k, c, t, v = x_shape
    return 2 * n * k * c * t * v * out_shape[-1]


def _tin_shift_flops(x_shape, *args, out_shape=None, **kwargs) -> int:
    return 3 * math.prod(out_shape)


def _zero_flops(*args, out_shape=None, **kwargs) -> int:
    return 0


def _attention_flops(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(q_shape, k_shape, v_shape)


def custom_flop_formulas() -> dict:
    """FLOP formulas for actionkit's compiled ops (those whose kernels are built), and for
    the CPU's fused attention, which PyTorch's counter does not know (2.14: it counts the
    CUDA kernels' only, so every transformer's attention on the CPU counted as 0)."""
    from .. import ops  # noqa: F401  (loads the extension, registering torch.ops.actionkit)

    formulas = {
        "graph_aggregate": _graph_aggregate_flops,
        "tin_shift": _tin_shift_flops,
        "temporal_shift": _zero_flops,
    }
    namespace = torch.ops.actionkit
    found = {getattr(namespace, n): f for n, f in formulas.items() if hasattr(namespace, n)}
    cpu_attention = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_attention is not None:
        found[cpu_attention] = _attention_flops
    return found


def count_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """FLOPs of ``model(x)`` (eval mode, no gradient): in all, and without the
    classification head ``model.cls_head`` (the backbone and neck: what MMAction2's
    ``get_flops.py`` counts, through ``extract_feat``)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=custom_flop_formulas())
    # (its module tracker hooks the gradients of module inputs: a parameter handed to a
    # submodule, as UniFormerV2's class token, fails that under no_grad)
    trained = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in trained:
            p.requires_grad_(False)
        with torch.no_grad(), counter:
            model(x)
    finally:
        for p in trained:
            p.requires_grad_(True)
    total = counter.get_total_flops()
    head = counter.get_flop_counts().get(f"{type(model).__name__}.cls_head", {})
    return total, total - sum(head.values())


def saved_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd saves for the backward pass of one training-mode ``model(x)``
    (each storage once; the parameters, which are saved by reference, left out)."""
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage._cdata not in params:
            seen.setdefault(storage._cdata, storage.nbytes())
        return t

    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
        del out
    finally:
        model.train(was_training)
    return sum(seen.values())


def _fake(model: nn.Module):
    """A FakeTensorMode holding ``model``'s parameters and buffers as fake tensors, in
    place: the model runs under it on shapes alone, with the device's own kernel choices
    (the CPU's fused attention saves what it saves on the CPU) and no memory for
    activations, so the largest models are measured on any machine."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    mode = FakeTensorMode()
    for module in model.modules():
        for key, p in module._parameters.items():
            if p is not None:
                fake = nn.Parameter(mode.from_tensor(p.detach()), requires_grad=p.requires_grad)
                module._parameters[key] = fake
        for key, b in module._buffers.items():
            if b is not None:
                module._buffers[key] = mode.from_tensor(b)
    return mode


def default_input(name: str) -> tuple[int, ...]:
    """One sample of the model's standard test input, ``[1, views, ...]``."""
    from ..models.zoo import SKELETON_INPUTS, TEST_INPUTS

    shape = TEST_INPUTS.get(name) or SKELETON_INPUTS.get(name)
    if shape is None:
        from ..errors import UsageError

        raise UsageError(f"no standard input for model {name!r}: give --input")
    return (1, *shape)


def model_cost(
    name: str, input_shape: tuple[int, ...] | None = None, num_classes: int = 400, **kwargs
) -> ModelCost:
    """The cost of registered model ``name`` on ``input_shape`` (default: one sample of
    its standard test input, ``models.zoo.TEST_INPUTS``)."""
    from .. import models

    shape = tuple(input_shape) if input_shape else default_input(name)
    model = models.create(name, num_classes=num_classes, **kwargs).eval()
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    fake = _fake(model)
    with fake:
        x = torch.empty(shape)
        flops, features = count_flops(model, x)
        activations = saved_activation_bytes(model, x)
    return ModelCost(
        name=name,
        input_shape=shape,
        params=params,
        trainable_params=trainable,
        flops=flops,
        features_flops=features,
        activation_bytes=activations,
    )
