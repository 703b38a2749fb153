"""PreciseBN (actionkit.engine.precise_bn): every BatchNorm layer's running statistics
equal those of one pass over all its inputs from the batches (the layers normalising
with batch statistics on the way, as in training), computed here by hand; the Trainer
runs it before evaluating when train.precise_bn is set."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionkit.cli import train
from actionkit.config import load_config
from actionkit.engine.precise_bn import precise_bn
from actionkit.errors import ConfigError

from .engine_helpers import make_small_dataset, small_config


class TwoBN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.bn1 = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5)
        for bn in (self.bn1, self.bn2):
            nn.init.uniform_(bn.weight, 0.5, 1.5)
            nn.init.uniform_(bn.bias, -0.5, 0.5)

    def loss(self, batch):
        x = self.bn1(self.conv1(batch["inputs"]))
        return {"loss": self.bn2(self.conv2(torch.relu(x))).mean()}


def by_hand(model: TwoBN, batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's inputs over all batches in float64, the layers before it normalising
    with their batch's statistics; their per-channel mean and unbiased variance."""
    inputs1, inputs2 = [], []
    for b in batches:
        a = model.conv1(b["inputs"])
        inputs1.append(a)
        h = F.batch_norm(a, None, None, model.bn1.weight, model.bn1.bias, training=True)
        inputs2.append(model.conv2(torch.relu(h)))
    out = []
    for xs in (inputs1, inputs2):
        flat = torch.cat([x.detach().double().transpose(0, 1).flatten(1) for x in xs], 1)
        out.append((flat.mean(1), flat.var(1, unbiased=True)))
    return out


def test_statistics_equal_one_pass_over_the_data():
    model = TwoBN()
    g = torch.Generator().manual_seed(1)
    # unequal batches, shifted and scaled: the batch means differ
    batches = [{"inputs": torch.randn(n, 3, 6, 7, generator=g) * s + m}
               for n, s, m in ((5, 1.0, 0.0), (3, 2.0, 1.0), (7, 0.5, -2.0))]  # fmt: skip
    with torch.no_grad():
        expected = by_hand(model, batches)
    model.eval()  # precise_bn trains the layers and puts the model back as it was
    assert precise_bn(model, batches, num_iters=10) == 3
    assert not model.training
    for bn, (mean, var) in zip((model.bn1, model.bn2), expected, strict=True):
        torch.testing.assert_close(bn.running_mean.double(), mean, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(bn.running_var.double(), var, rtol=1e-6, atol=1e-7)
    # averaging the batches' variances (fvcore's update_bn_stats) would miss the spread
    # of the batch means: far from these
    with torch.no_grad():
        x = [model.conv1(b["inputs"]).double() for b in batches]
    averaged = torch.stack([v.transpose(0, 1).flatten(1).var(1) for v in x]).mean(0)
    assert (averaged - expected[0][1]).abs().max() > 0.1


def test_num_iters_and_no_batches():
    model = TwoBN()
    batches = [{"inputs": torch.randn(4, 3, 5, 5) + i} for i in range(4)]
    with torch.no_grad():
        expected = by_hand(model, batches[:2])
    assert precise_bn(model, iter(batches), num_iters=2) == 2
    torch.testing.assert_close(
        model.bn1.running_mean.double(), expected[0][0], rtol=1e-6, atol=1e-7
    )
    before = model.bn2.running_var.clone()
    assert precise_bn(model, [], num_iters=5) == 0
    assert torch.equal(model.bn2.running_var, before)


def test_the_trainer_runs_it_before_evaluating(tmp_path, capsys):
    data = make_small_dataset(tmp_path / "data")
    config = small_config(tmp_path, data)
    sets = ["model.name=tsn_r18", "train.precise_bn={num_iters: 2, interval: 2}"]
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *sets]) == 0
    out = capsys.readouterr().out
    # evaluations after epochs 1, 2, 3 and the final test: the 1st and 3rd (interval 2)
    line = "PreciseBN: the statistics of 20 BatchNorm layers recomputed from 2 training batches"
    assert out.count(line) == 2, out
    assert json.loads((tmp_path / "w" / "metrics.json").read_text())["epochs"] == 3


def test_bad_settings_are_named(tmp_path):
    config = small_config(tmp_path, tmp_path / "data")
    message = "train.precise_bn: num_iters and interval must be at least 1, got 0 and 1"
    with pytest.raises(ConfigError, match=message):
        load_config(config, ["train.precise_bn={num_iters: 0}"])


def _rank_batches(rank: int) -> list[dict]:
    g = torch.Generator().manual_seed(10 + rank)
    sizes = ((5, 1.0, 0.0), (3, 2.0, 1.0)) if rank == 0 else ((7, 0.5, -2.0),)
    return [{"inputs": torch.randn(n, 3, 6, 7, generator=g) * s + m} for n, s, m in sizes]


def _distributed_worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    model = TwoBN()
    precise_bn(model, _rank_batches(rank), num_iters=10)
    torch.save({k: v for k, v in model.state_dict().items() if "running" in k}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_processes_pool_their_statistics(tmp_path):
    # two processes with different (unequal) batches: both end with the statistics of all
    # the batches together, as one process holding them all computes them
    torch.multiprocessing.spawn(
        _distributed_worker, args=(f"file://{tmp_path / 'init'}", str(tmp_path / "s")), nprocs=2
    )
    model = TwoBN()
    with torch.no_grad():
        expected = by_hand(model, _rank_batches(0) + _rank_batches(1))
    for rank in (0, 1):
        state = torch.load(tmp_path / f"s.{rank}", weights_only=True)
        for name, (mean, var) in zip(("bn1", "bn2"), expected, strict=True):
            torch.testing.assert_close(
                state[f"{name}.running_mean"].double(), mean, rtol=1e-6, atol=1e-7
            )
            torch.testing.assert_close(
                state[f"{name}.running_var"].double(), var, rtol=1e-6, atol=1e-7
            )
