"""Multigrid training's schedule against PySlowFast's own code (tests/fixtures/multigrid.json
from dev/slowfast_multigrid_fixtures.py: its three multigrid configs, long + short cycles
and the short cycle alone), the batches of a cycle, and a short run's shapes."""

import json
from pathlib import Path

import pytest

from actionkit.engine.multigrid import (
    CycleBatches,
    Multigrid,
    Shape,
    iterations,
    long_cycle_schedule,
    step_lrs,
)
from actionkit.engine.sampler import EpochSampler

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
