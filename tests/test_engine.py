"""The training engine: schedules, parameter groups, the sampler, EMA, checkpoints, and
whole runs — exact resume after SIGKILL, DDP on 2 CPU processes equal to 1 process,
gradient accumulation equal to a bigger batch, NaN detection, work-dir protection."""

import copy
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from actionkit.config import OptimConfig, ScheduleConfig, load_config
from actionkit.engine import (
    EpochSampler,
    LRSchedule,
    ModelEMA,
    Trainer,
    param_groups,
    total_loss,
)
from actionkit.engine.checkpoint import save_training_checkpoint

from .engine_helpers import make_small_dataset, small_config

HERE = Path(__file__).parent
WORKER = HERE / "train_worker.py"


# ----------------------------------------------------------------------- pieces


def test_cosine_schedule_with_warmup_by_hand():
    cfg = ScheduleConfig(epochs=2, warmup_epochs=0.5, warmup_factor=0.1, min_lr_factor=0.0)
    s = LRSchedule(cfg, iters_per_epoch=10)  # 20 steps, 5 of warmup
    # warmup: 0.1 + 0.9 * it / 5 times the cosine factor, which is 1 up to step 5
    assert [s.factor(i) for i in range(5)] == pytest.approx([0.1, 0.28, 0.46, 0.64, 0.82])
    assert s.factor(5) == 1.0
    assert s.factor(5 + 15 / 2) == pytest.approx(0.5)  # half-way through the cosine
    assert s.factor(20) == pytest.approx(0.0) and s.factor(100) == pytest.approx(0.0)
    floor = LRSchedule(ScheduleConfig(epochs=1, min_lr_factor=0.1), 4)
    assert floor.factor(2) == pytest.approx(0.1 + 0.9 * 0.5)


def test_multistep_and_constant_schedules():
    s = LRSchedule(ScheduleConfig(epochs=10, policy="multistep", milestones=[3, 6], gamma=0.1), 4)
    assert [s.factor(i) for i in (0, 11, 12, 23, 24, 39)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    c = LRSchedule(ScheduleConfig(epochs=3, policy="constant", warmup_epochs=1), 2)
    assert [c.factor(i) for i in range(4)] == pytest.approx([0.1, 0.55, 1, 1])


def test_param_groups_no_decay_on_norms_and_biases_and_lr_mult():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    cfg = OptimConfig(lr=0.1, weight_decay=1e-4, lr_mult={"2": 10.0})
    groups = param_groups(model, cfg)
    found = {
        (g["lr"], g["weight_decay"]): {
            n for n, p in model.named_parameters() for q in g["params"] if p is q
        }
        for g in groups
    }
    assert found == {
        (0.1, 1e-4): {"0.weight"},
        (0.1, 0.0): {"0.bias", "1.weight", "1.bias"},
        (1.0, 1e-4): {"2.weight"},
        (1.0, 0.0): {"2.bias"},
    }
    every = param_groups(model, OptimConfig(weight_decay=1e-4, decay_norm_and_bias=True))
    assert len(every) == 1 and every[0]["weight_decay"] == 1e-4
    with pytest.raises(ValueError, match=r"optim.lr_mult: no parameters under head"):
        param_groups(model, OptimConfig(lr_mult={"head": 2.0}))


def test_param_groups_named_no_decay_and_layer_decay():
    from actionkit import models

    model = models.create("timesformer_divst", num_classes=3, num_transformer_layers=2)
    cfg = OptimConfig(
        lr=1.0,
        weight_decay=0.05,
        layer_decay=0.5,
        no_decay=["backbone.cls_token", "backbone.pos_embed", "*.time_embed"],
    )
    by_param = {
        id(p): (g["lr"], g["weight_decay"]) for g in param_groups(model, cfg) for p in g["params"]
    }
    found = {n: by_param[id(p)] for n, p in model.named_parameters()}
    # layers: 0 embeddings, 1-2 the blocks, 3 the final norm and the head: 0.5 ** (3 - i)
    assert found["backbone.cls_token"] == (0.125, 0.0)
    assert found["backbone.time_embed"] == (0.125, 0.0)
    assert found["backbone.patch_embed.projection.weight"] == (0.125, 0.05)
    assert found["backbone.patch_embed.projection.bias"] == (0.125, 0.0)
    layer = "backbone.transformer_layers.layers.{}.attentions.0.attn.in_proj_weight"
    assert found[layer.format(0)] == (0.25, 0.05) and found[layer.format(1)] == (0.5, 0.05)
    assert found["backbone.norm.weight"] == (1.0, 0.0)
    assert found["cls_head.fc_cls.weight"] == (1.0, 0.05)
    with pytest.raises(ValueError, match=r"optim.no_decay: no parameter matches \*.gamma"):
        param_groups(model, OptimConfig(no_decay=["*.gamma"]))
    # MViTv1's separate position tables count as embeddings (layer 0) too
    backbone = models.create("mvit_v1_b", num_classes=3).backbone
    for name in ("pos_embed_spatial", "pos_embed_temporal", "pos_embed_class", "cls_token"):
        assert backbone.layer_index(name) == 0
    assert backbone.layer_index("blocks.3.attn.qkv.weight") == 4
    assert backbone.layer_index("norm3.weight") == 17
    with pytest.raises(ValueError, match="optim.layer_decay: Sequential does not number"):
        param_groups(nn.Sequential(nn.Linear(2, 2)), OptimConfig(layer_decay=0.75))


def test_epoch_sampler_shards_and_resumes():
    one = EpochSampler(10, seed=3)
    one.set_epoch(2)
    order = [i for _, i in one]
    assert sorted(order) == list(range(10)) and all(e == 2 for e, _ in one)
    again = EpochSampler(10, seed=3)
    again.set_epoch(2)
    assert [i for _, i in again] == order  # a function of (seed, epoch) only
    again.set_epoch(3)
    assert [i for _, i in again] != order
    shards = []
    for rank in range(3):  # 10 samples on 3 processes: padded to 12, 4 each
        s = EpochSampler(10, seed=3, rank=rank, world_size=3)
        s.set_epoch(2)
        shards.append([i for _, i in s])
    assert all(len(s) == 4 for s in shards)
    assert [x for trio in zip(*shards, strict=True) for x in trio] == order + order[:2]
    one.set_epoch(2, start=6)
    assert [i for _, i in one] == order[6:] and len(one) == 4


def test_ema_update_by_hand():
    model = nn.Linear(1, 1, bias=False)
    nn.init.constant_(model.weight, 1.0)
    ema = ModelEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)
    assert ema.module.weight.item() == pytest.approx(0.9 * 1 + 0.1 * 3)


def test_checkpoints_are_linked_and_pruned(tmp_path):
    for epoch in range(1, 5):
        save_training_checkpoint(
            tmp_path, {"e": epoch}, f"epoch_{epoch:04d}.pth", 2, best=epoch == 2
        )
    save_training_checkpoint(tmp_path, {"i": 1}, "iter_00000010.pth", 2)
    save_training_checkpoint(tmp_path, {"i": 2}, "iter_00000012.pth", 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "best.pth",
        "epoch_0003.pth",
        "epoch_0004.pth",
        "iter_00000012.pth",
        "latest.pth",
    ]
    assert os.readlink(tmp_path / "latest.pth") == "iter_00000012.pth"
    assert torch.load(tmp_path / "best.pth") == {"e": 2}  # kept through the pruning


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_small_dataset(tmp_path_factory.mktemp("synthetic"))


def make_config(tmp_path: Path, data_root: Path, work_dir: Path, **overrides):
    """The small config with ``key.path=value`` overrides (``_`` for ``.`` in the names)."""
    sets = [f"work_dir={work_dir}"] + [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
    return load_config(small_config(tmp_path, data_root), sets)


def worker(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        **kwargs,
    )


def finish(proc: subprocess.Popen) -> str:
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out
    return out


def final_state(work_dir: Path) -> dict:
    return torch.load(work_dir / "epoch_0003.pth", weights_only=False)


def metrics(work_dir: Path) -> dict:
    m = json.loads((work_dir / "metrics.json").read_text())
    m.pop("train_seconds")
    return m


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_resume_after_sigkill_is_bit_identical(tmp_path, data_root):
    # tsn_r18 at 1/16 width: batch norm and dropout (RNG state) both matter here
    config = small_config(tmp_path, data_root)
    common = ["--set", "model.name=tsn_r18", "model.args={base_channels: 4, dropout: 0.5}"]
    whole = tmp_path / "whole"
    finish(worker(str(config), "--work-dir", str(whole), *common))

    killed = tmp_path / "killed"
    proc = worker(str(config), "--work-dir", str(killed), *common)
    lines = []
    for line in proc.stdout:  # kill it mid-epoch, after the iteration-4 checkpoint
        lines.append(line)
        if line.startswith("epoch 2/3 iter 2/3"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(lines)
    assert not (killed / "epoch_0003.pth").exists()
    out = finish(worker(str(config), "--work-dir", str(killed), "--resume", *common))
    # mid-epoch (the kill lands during iteration 6; epoch 2 ends after it)
    assert re.search(r"resumed from .*latest.pth \((iter_00000004|epoch_0002).pth\)", out), out

    a, b = final_state(whole), final_state(killed)
    for key in ("model", "optimizer", "rng"):
        assert _equal(a[key], b[key]), key
    assert metrics(whole) == metrics(killed)


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "shape"):  # numpy arrays in the RNG states
        return (a == b).all()
    return a == b


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_ddp_two_cpu_processes_equal_one_process(tmp_path, data_root):
    config = small_config(tmp_path, data_root)
    one, two = tmp_path / "one", tmp_path / "two"
    # 15 clips: 3 batches of 4 in one process; 2 x 8 (padded) in batches of 2 in two, whose
    # 4th batch pair would be the padding: cut both at 3 iterations, the same 12 clips
    cut = ["--set", "train.max_iters_per_epoch=3"]
    finish(worker(str(config), "--work-dir", str(one), *cut))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
            str(WORKER), str(config), "--work-dir", str(two), *cut, "data.batch_size=2",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    finish(proc)
    a, b = final_state(one), final_state(two)
    for key in a["model"]:
        torch.testing.assert_close(b["model"][key], a["model"][key], rtol=1e-5, atol=1e-6)
    ma, mb = metrics(one), metrics(two)
    assert ma["num_samples"] == mb["num_samples"] == 6  # every test clip once
    assert ma["top1"] == mb["top1"]


def test_accumulation_equals_a_bigger_batch(tmp_path, data_root):
    big = Trainer(make_config(tmp_path, data_root, tmp_path / "big"))
    big.fit()
    small = Trainer(
        make_config(
            tmp_path, data_root, tmp_path / "small", data__batch_size=2, optim__accumulate=2
        )
    )
    assert small.iters_per_epoch == 7 and small.steps_per_epoch == 4  # 4th: 1 batch only
    # 7 batches of 2 per epoch: the first 6 make big's 3 steps; cut the 7th
    small.iters_per_epoch, small.steps_per_epoch = 6, 3
    small.schedule = LRSchedule(small.cfg.schedule, 3)
    small.fit()
    for key, value in big.model.state_dict().items():
        torch.testing.assert_close(small.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def test_a_short_last_accumulation_group_is_a_mean_over_its_batches(tmp_path, data_root):
    # 7 batches of 2 with accumulate=3: groups of 3, 3 and 1 batches. Each step's gradient
    # must be the mean of its batches' gradients (as mmengine scales), the 1-batch group's
    # too, not a third of it.
    cfg = make_config(
        tmp_path, data_root, tmp_path / "acc", data__batch_size=2, optim__accumulate=3,
        schedule__epochs=1, train__checkpoint_iters="null",
    )  # fmt: skip
    trainer = Trainer(cfg)
    assert trainer.iters_per_epoch == 7 and trainer.steps_per_epoch == 3
    batches, steps = [], []
    real_step = trainer.train_step

    def train_step(batch, it):
        batches.append(batch)
        return real_step(batch, it)

    def before_step(optimizer, *_):
        model = trainer.model
        steps.append(
            (
                {n: p.detach().clone() for n, p in model.named_parameters()},
                {n: p.grad.clone() for n, p in model.named_parameters()},
            )
        )

    trainer.train_step = train_step
    trainer.optimizer.register_step_pre_hook(before_step)
    trainer.fit()
    assert len(steps) == 3
    reference = copy.deepcopy(trainer.model).train()
    groups = [batches[0:3], batches[3:6], batches[6:7]]
    for (weights, grads), group in zip(steps, groups, strict=True):
        reference.load_state_dict(weights, strict=False)
        reference.zero_grad()
        for batch in group:
            loss = total_loss(reference.loss(batch)) / len(group)
            loss.backward()
        for n, p in reference.named_parameters():
            torch.testing.assert_close(grads[n], p.grad, rtol=1e-5, atol=1e-7)


def test_nan_loss_stops_the_run_naming_the_last_checkpoint(tmp_path, data_root, monkeypatch):
    trainer = Trainer(make_config(tmp_path, data_root, tmp_path / "nan"))
    calls = []
    real = trainer.model.loss

    def loss(batch):
        calls.append(1)
        value = real(batch)
        return {k: v * math.nan for k, v in value.items()} if len(calls) == 3 else value

    monkeypatch.setattr(trainer.model, "loss", loss)
    with pytest.raises(
        FloatingPointError,
        match=r"the loss is nan at iteration 3 \(epoch 1, "
        r"iteration 3 of it\); the last good checkpoint is .*iter_00000002.pth",
    ):
        trainer.fit()


def _poison_gradient(trainer: Trainer, steps: set[int] | None) -> list[int]:
    """Makes the first parameter's gradient NaN at the given 1-based backward passes
    (every pass with None); returns the list that counts optimizer steps taken."""
    first = next(trainer.model.parameters())
    passes, steps_taken = [], []

    def hook(grad):
        passes.append(1)
        return torch.full_like(grad, math.nan) if steps is None or len(passes) in steps else grad

    first.register_hook(hook)
    trainer.optimizer.register_step_post_hook(lambda *_: steps_taken.append(1))
    return steps_taken


@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_a_step_with_nonfinite_gradients_is_skipped_and_logged(tmp_path, data_root, amp):
    work = tmp_path / amp
    trainer = Trainer(make_config(tmp_path, data_root, work, train__amp=amp, train__ema=0.9))
    steps_taken = _poison_gradient(trainer, {2})
    before = {}

    def keep(module, args):  # the weights as iteration 2's forward sees them
        if trainer.iteration == 1 and module.training:
            before.update({k: v.clone() for k, v in trainer.model.state_dict().items()})

    trainer.model.register_forward_pre_hook(keep)
    saved = trainer.save

    def save(name, best=False):  # iteration 2's checkpoint: the weights are untouched
        if name == "iter_00000002.pth":
            for k, v in trainer.model.state_dict().items():
                assert torch.equal(v, before[k]), k
        saved(name, best)

    trainer.save = save
    result = trainer.fit()
    assert len(steps_taken) == 8 and result["skipped_steps"] == 1  # 9 iterations
    records = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    assert {"iteration": 2, "skipped_step": ["backbone.0.weight"]} in records
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert all(torch.isfinite(p).all() for p in trainer.ema.module.parameters())
    if amp == "fp16":  # the loss scale halved once, as GradScaler does for an overflow
        assert trainer.scaler.get_scale() == 2.0**15


def test_steps_skipped_in_a_row_stop_the_run(tmp_path, data_root):
    cfg = make_config(tmp_path, data_root, tmp_path / "nan", train__max_skipped_steps=3)
    trainer = Trainer(cfg)
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    steps_taken = _poison_gradient(trainer, None)
    with pytest.raises(
        FloatingPointError,
        match=r"^3 optimizer steps in a row skipped for non-finite gradients \(iteration 3; "
        r"last in backbone.0.weight\). Likely cause: a diverging run, a learning rate too "
        r"high \(optim.lr=0.1\) or bad input. The last good checkpoint is .*iter_00000002.pth",
    ):
        trainer.fit()
    assert steps_taken == []
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, start[k]), k


def test_work_dir_is_never_overwritten_silently(tmp_path, data_root):
    cfg = make_config(tmp_path, data_root, tmp_path / "w", schedule__epochs=1)
    Trainer(cfg).fit()
    with pytest.raises(
        FileExistsError, match=r"already holds checkpoints .*--resume .*--overwrite"
    ):
        Trainer(cfg)
    Trainer(cfg, overwrite=True).fit()
    assert sorted(p.name for p in (tmp_path / "w").glob("*.pth")) == [
        "best.pth",
        "epoch_0001.pth",
        "latest.pth",
    ]


def test_run_outputs_and_bf16_amp(tmp_path, data_root):
    cfg = make_config(tmp_path, data_root, tmp_path / "amp", train__amp="bf16", train__ema=0.9)
    result = Trainer(cfg).fit()
    work = tmp_path / "amp"
    assert result["split"] == "test" and result["num_samples"] == 6
    assert set(result["per_class_accuracy"]) == {"move_right", "move_left", "disc"}
    assert json.loads((work / "metrics.json").read_text())["top1"] == result["top1"]
    records = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss" in r]
    assert len(train) == 9 and all(math.isfinite(r["loss"]) for r in train)
    assert [r["epoch"] for r in records if r.get("split") == "val"] == [1, 2, 3]
    state = torch.load(work / "latest.pth", weights_only=False)
    assert state["ema"] is not None and state["arch"] == "tiny_nobn"


def test_a_synthetic_dataset_of_other_settings_is_not_reused(tmp_path, data_root):
    from actionkit.config import ConfigError
    from actionkit.engine import prepare_data

    same = (
        "{classes: [move_right, move_left, disc], videos_per_class: 7, test_per_class: 2, "
        "num_frames: 12, size: [32, 32]}"
    )
    prepare_data(make_config(tmp_path, data_root, tmp_path / "w", data__synthetic=same))
    other = same.replace("num_frames: 12", "num_frames: 16")
    with pytest.raises(
        ConfigError,
        match=r"data.synthetic: .* was generated with other settings: "
        r"num_frames 12 \(config: 16\); delete it or choose another data.root",
    ):
        prepare_data(make_config(tmp_path, data_root, tmp_path / "w", data__synthetic=other))


# ------------------------------------------------------------- tasks beyond classification


class _CountRegressor(nn.Module):
    """A toy model of another task: predicts the label as a number (mean squared error),
    and reports a metric-like entry the Trainer must log but not optimise."""

    task = "toy_regression"

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Linear(4, 1)

    def forward(self, inputs):  # [B, S, 3, H, W] -> [B]
        return self.out(self.net(inputs.flatten(0, 1))).view(inputs.shape[0], -1).mean(1)

    def loss(self, batch):
        error = self(batch["inputs"]) - batch["label"].float()
        return {"loss_mse": (error**2).mean(), "mean_abs_error": error.abs().mean().detach()}

    @torch.no_grad()
    def predict(self, inputs):
        return self(inputs)


class _RegressionEvaluator:
    def __init__(self, cfg, class_names):
        self.seen = 0

    def evaluate(self, model, loader, device, info, amp):
        model.eval()
        errors = []
        for batch in loader:
            errors.append(model.predict(batch["inputs"]) - batch["label"].float())
            self.seen += len(batch["label"])
        return {"neg_mae": -float(torch.cat(errors).abs().mean())}

    def results(self, dataset):
        return {"errors.json": {"seen": self.seen}}


def test_another_task_trains_without_forking_the_trainer(tmp_path, data_root, monkeypatch):
    # The task is the model's (loss dict) and the evaluator's (metrics): the same loop
    # trains, evaluates, tracks the best and checkpoints a model that is no classifier.
    from actionkit.engine import evaluate
    from actionkit.models import registry

    monkeypatch.setitem(evaluate.EVALUATORS, "toy_regression", _RegressionEvaluator)

    def toy_regressor(num_classes):
        return _CountRegressor()

    toy_regressor.task = "toy_regression"  # the metrics a config may name are its evaluator's
    monkeypatch.setitem(registry._MODELS, "toy_regressor", toy_regressor)
    cfg = make_config(
        tmp_path, data_root, tmp_path / "reg", model__name="toy_regressor",
        schedule__epochs=2, train__best_metric="neg_mae",
    )  # fmt: skip
    trainer = Trainer(cfg)
    losses = []
    real = trainer.model.loss
    monkeypatch.setattr(trainer.model, "loss", lambda b: losses.append(real(b)) or losses[-1])
    metrics = trainer.fit()
    assert "neg_mae" in metrics and trainer.best["metric"] == "neg_mae"
    assert isinstance(trainer.evaluator, _RegressionEvaluator) and trainer.evaluator.seen > 0
    # only "loss..." entries are optimised: the step's loss is loss_mse alone
    assert all(set(d) == {"loss_mse", "mean_abs_error"} for d in losses)
    log = [json.loads(line) for line in (tmp_path / "reg" / "log.jsonl").read_text().splitlines()]
    first = next(r for r in log if "loss" in r)
    assert first["loss"] == pytest.approx(float(losses[0]["loss_mse"].detach()), rel=1e-6)
    assert (tmp_path / "reg" / "best.pth").exists()
