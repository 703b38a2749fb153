"""Multigrid training's schedule against PySlowFast's own code (tests/fixtures/multigrid.json
from dev/slowfast_multigrid_fixtures.py: its three multigrid configs, long + short cycles
and the short cycle alone), the batches of a cycle, and a short run's shapes."""

import json
from pathlib import Path

import pytest
import torch

from actionkit.config import load_config
from actionkit.engine import Trainer
from actionkit.engine.multigrid import (
    CycleBatches,
    Multigrid,
    Shape,
    iterations,
    long_cycle_schedule,
    step_lrs,
)
from actionkit.engine.sampler import EpochSampler
from actionkit.models import Recognizer3D, list_models, register_model
from actionkit.models.heads import I3DHead

from .engine_helpers import make_small_dataset

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "multigrid.json").read_text())


def plan(record, long_cycle=True) -> Multigrid:
    steps, max_epoch, frames, crop, batch, rate = record["args"]
    return Multigrid(batch, frames, rate, (crop, crop), steps[1:], max_epoch, long_cycle=long_cycle)


@pytest.mark.parametrize("name", sorted(k for k in FIXTURE if k.endswith("long+short")))
def test_long_cycle_schedule_equals_pyslowfast(name):
    record = FIXTURE[name]
    steps, max_epoch, frames, crop, _, _ = record["args"]
    ours = long_cycle_schedule(steps, max_epoch, frames, crop)
    assert [[i, list(shape), end] for i, shape, end in ours] == record["schedule"]
    lr_steps, lrs = step_lrs(ours, gamma=0.1)
    assert lr_steps == record["steps"]
    assert lrs == pytest.approx(record["lrs"], rel=1e-12)
    assert plan(record).epochs == record["max_epoch"]


@pytest.mark.parametrize("name", sorted(FIXTURE))
def test_every_epochs_shapes_equal_pyslowfast(name):
    record = FIXTURE[name]
    mg = plan(record, long_cycle=name.endswith("long+short"))
    assert mg.epochs == record["max_epoch"]
    if not mg.schedule:
        assert mg.steps == record["steps"]
    for epoch, want in record["epochs"].items():
        short1, short2, long = mg.cycle(int(epoch))
        assert (long.batch, long.frames, long.size, long.interval) == (
            want["batch"], want["frames"], (want["crop"],) * 2, want["rate"],
        )  # fmt: skip
        assert [short1.batch, short2.batch, long.batch] == want["short_cycle_batches"]
        assert [short1.size[0], short2.size[0]] == want["short_cycle_crops"]
        assert short1.frames == short2.frames == long.frames


def test_the_papers_kinetics_schedule():
    """SlowFast 8x8 on Kinetics (PySlowFast's stepwise multigrid config): the long cycle's
    four shapes (batch x frames x side) in each of the three steps, the full shape's
    fine-tuning, 1.5x the epochs (239 -> 358), the rate scaled with the batch."""
    mg = plan(FIXTURE["kinetics_slowfast_8x8/long+short"])
    shapes = [shape for _, shape, _ in mg.schedule[:4]]
    assert shapes == [(8, 8, 158), (4, 16, 158), (2, 16, 224), (1, 32, 224)]
    assert [i for i, _, _ in mg.schedule] == [0] * 4 + [1] * 4 + [2] * 4 + [3]
    assert mg.epochs == 358
    assert mg.lr_factor(50) == 8.0 and mg.lr_factor(75) == 4.0 and mg.lr_factor(160) == 0.8
    assert mg.lr_factor(350) == pytest.approx(0.001)  # the fine-tuning's second half
    first = mg.cycle(0)
    # an iteration's work (batch x frames x side^2) stays within a factor of the base's
    base = 64 * 32 * 224**2
    assert all(0.4 < s.batch * s.frames * s.size[0] ** 2 / base < 1.5 for s in first)


def test_warmup_rises_linearly_to_the_rate_at_its_end():
    record = FIXTURE["kinetics_slowfast_8x8/long+short"]
    steps, max_epoch, frames, crop, batch, rate = record["args"]
    mg = Multigrid(batch, frames, rate, (crop, crop), steps[1:], max_epoch,
                   warmup_epochs=34, warmup_factor=0.1)  # fmt: skip
    assert mg.lr_factor(0) == pytest.approx(0.1)
    assert mg.lr_factor(17) == pytest.approx(0.1 + (8.0 - 0.1) / 2)
    assert mg.lr_factor(34) == 8.0


def test_cycle_batches_turn_through_the_shapes_and_resume():
    shapes = [Shape(4, 4, 2, (28, 28)), Shape(2, 4, 2, (40, 40)), Shape(1, 4, 2, (56, 56))]
    sampler = EpochSampler(19, shuffle=True, seed=3)
    batches = CycleBatches(sampler, shapes)
    batches.set_epoch(2)
    whole = list(batches)
    assert [len(b) for b in whole] == [4, 2, 1, 4, 2, 1, 4]  # 19 samples, 1 left over
    assert len(batches) == iterations(19, shapes) == 7
    assert [b[0][2] for b in whole[:3]] == [(28, 28), (40, 40), (56, 56)]
    order = sampler.indices()
    assert [i for b in whole for _, i, _ in b] == order[:18]
    assert all(e == 2 for b in whole for e, _, _ in b)
    batches.set_epoch(2, start=4)  # resumed after four iterations: the rest, as before
    assert list(batches) == whole[4:]


class Tiny3D(torch.nn.Module):
    """A 3D net that takes any clip length and size."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm3d(4)
        self.out_channels = 4

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


if "tiny3d_mg" not in list_models():

    @register_model
    def tiny3d_mg(num_classes: int = 400):
        return Recognizer3D(Tiny3D(), I3DHead(num_classes, 4, dropout=0.0))


def small_multigrid_config(tmp_path: Path, train_option: str):
    """Tiny3D on 15 small clips of 8 frames at 32 px, one per batch, 3 epochs stepped
    at 2; two long-cycle shapes (half the frames at 0.71 of the side, the full shape)."""
    make_small_dataset(tmp_path / "data")
    config = tmp_path / "mg.yaml"
    config.write_text(f"""
model: {{name: tiny3d_mg, num_classes: 3}}
data:
  root: {tmp_path / "data"}
  data_prefix: videos
  train:
    ann_file: train_list.txt
    sampler: {{type: SampleFrames, clip_len: 8, frame_interval: 1, num_clips: 1}}
    pipeline:
      - {{type: RandomResizedCrop}}
      - {{type: Resize, scale: [32, 32], keep_ratio: false}}
      - {{type: FormatShape, input_format: NCTHW}}
  batch_size: 1
  num_workers: 0
optim: {{lr: 0.1}}
schedule: {{epochs: 3, policy: multistep, milestones: [2]}}
train:
  {train_option}
  multigrid: {{long_cycle_factors: [[0.5, 0.7071], [1.0, 1.0]]}}
""")
    return load_config(config)


def test_a_short_run_goes_through_the_cycles_shapes(tmp_path):
    """Two long-cycle shapes (half the frames at 0.71 of the side, then the full shape),
    each with the short cycle's two smaller sides: every iteration's input has the shape
    its turn says, and the lr is the base rate x the stretch's factor."""
    cfg = small_multigrid_config(tmp_path, "log_interval: 1")
    trainer = Trainer(cfg, tmp_path / "w")
    mg = trainer.multigrid
    seen = []
    trainer.model.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    lrs = []
    step = trainer.train_step

    def record(batch, it):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        return step(batch, it)

    trainer.train_step = record
    trainer.fit()
    expected, expected_lr = [], []
    for epoch in range(mg.epochs):
        shapes = mg.cycle(epoch)
        n = iterations(15, shapes)
        for it in range(n):
            s = shapes[it % len(shapes)]
            expected.append((s.batch, 1, 3, s.frames, *s.size))  # [B, views, C, T, H, W]
            expected_lr.append(0.1 * mg.lr_factor(epoch + it / n))
    assert seen == expected  # (no val or test split: every forward is a training step)
    assert lrs == pytest.approx(expected_lr)
    # the long cycle's coarse shape came first: 4 frames every 2 at 23 px, 4x the batch
    assert mg.cycle(0)[-1] == Shape(4, 4, 2, (23, 23))
    assert mg.cycle(mg.epochs - 1)[-1] == Shape(1, 8, 1, (32, 32))
    assert {s[3] for s in seen} == {4, 8} and {s[4] for s in seen} == {16, 23, 32}


def test_resuming_mid_stretch_gives_the_same_weights(tmp_path):
    """Stopped after iteration 14 (the last epoch's fourth: inside a short-cycle turn, the
    first 4 epochs' batches 2, 2, 6 and 6 long) and resumed from that checkpoint: the
    same weights as one run, to the bit."""
    cfg = small_multigrid_config(tmp_path, "checkpoint_iters: 14")
    whole = Trainer(cfg, tmp_path / "whole")
    whole.fit()
    first = Trainer(cfg, tmp_path / "part")
    step = first.train_step

    def crash_after_14(batch, it):
        if first.iteration == 14:
            raise RuntimeError("stopped")
        return step(batch, it)

    first.train_step = crash_after_14
    with pytest.raises(RuntimeError, match="stopped"):
        first.fit()
    stopped = tmp_path / "part" / "iter_00000014.pth"
    assert stopped.exists()
    resumed = Trainer(cfg, tmp_path / "again", resume=stopped)
    assert (resumed.epoch, resumed.iter_in_epoch) == (3, 4)  # 2 + 2 + 6 iterations, then 4
    resumed.fit()
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


@pytest.mark.parametrize("dims", [2, 3])
def test_sub_batch_norm_is_batch_norm_per_group(dims):
    """Statistics from each group of samples b, b + k, ... alone (PySlowFast's view); the
    running statistics: the groups' mean, and mean variance + variance of the means."""
    from actionkit.engine.multigrid import SubBatchNorm

    bn_type = torch.nn.BatchNorm2d if dims == 2 else torch.nn.BatchNorm3d
    net = torch.nn.Sequential(bn_type(3))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.5, 0.5, 2.0]))
        net[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    keys = list(net.state_dict())
    assert SubBatchNorm.install(net) == 1 and list(net.state_dict()) == keys
    SubBatchNorm.set_splits(net, 2)
    x = torch.randn(8, 3, *([4, 5, 6][3 - dims :])) * 3 + 1
    y = net(x)
    w, b = net[0].weight.detach(), net[0].bias.detach()
    shape = (1, 3) + (1,) * dims
    for g in range(2):
        part = x[g::2]
        want = torch.nn.functional.batch_norm(part, None, None, training=True, eps=1e-5)
        torch.testing.assert_close(y[g::2], want * w.view(shape) + b.view(shape))
    dims_ = [0, *range(2, x.dim())]
    means = torch.stack([x[g::2].double().mean(dims_) for g in range(2)])
    variances = torch.stack([x[g::2].double().var(dims_) for g in range(2)])
    mean = means.mean(0)
    var = variances.mean(0) + ((means - mean) ** 2).mean(0)
    torch.testing.assert_close(net[0].running_mean.double(), 0.1 * mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net[0].running_var.double(), 0.9 + 0.1 * var, rtol=1e-5, atol=1e-6)
    net.eval()  # evaluation: plain BatchNorm on the running statistics
    plain = torch.nn.functional.batch_norm(
        x, net[0].running_mean, net[0].running_var, w, b, training=False, eps=1e-5
    )
    torch.testing.assert_close(net(x), plain)
    net.train()
    SubBatchNorm.set_splits(net, 1)  # one group: BatchNorm itself
    torch.testing.assert_close(net(x), bn_type(3).train()(x) * w.view(shape) + b.view(shape))


def test_the_run_switches_to_sub_batches_for_larger_batches(tmp_path, capsys):
    cfg = small_multigrid_config(tmp_path, "log_interval: 100")
    cfg.train.multigrid.bn_base_size = 2
    trainer = Trainer(cfg, tmp_path / "w")
    bns = [m for m in trainer.model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and all(m.splits == 2 for m in bns)  # the first stretch: 4 clips, base 2
    trainer.fit()
    assert all(m.splits == 1 for m in bns)  # the full shape: 1 clip
    out = capsys.readouterr().out
    assert "BatchNorm in 2 sub-batches" in out
