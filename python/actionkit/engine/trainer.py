"""The training loop: one class, no hooks. Read it top to bottom."""

from __future__ import annotations

import contextlib
import copy
import math
import os
import shutil
import time
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from .. import amp as mixed_precision
from ..config import Config, to_dict
from ..errors import CheckpointError, ConfigError, DivergenceError
from . import builder
from . import multigrid as mg
from .checkpoint import (
    atomic_write_json,
    existing_checkpoints,
    load_training_checkpoint,
    rng_state,
    save_training_checkpoint,
    set_rng_state,
)
from .dist import barrier, destroy, gather_objects, init_distributed
from .evaluate import LOWER_IS_BETTER, build_evaluator
from .monitor import Monitor, Timer
from .optim import LRSchedule, build_optimizer, set_lr


class ModelEMA:
    """Exponential moving average of the weights (buffers copied as they are)."""

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval()
        self.decay = decay
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for ema, p in zip(self.module.parameters(), model.parameters(), strict=True):
            ema.lerp_(p.detach(), 1 - self.decay)
        for ema, b in zip(self.module.buffers(), model.buffers(), strict=True):
            ema.copy_(b)


class LossOf(nn.Module):
    """What the Trainer runs, and DDP and ``torch.compile`` wrap: the model's loss dict
    for a batch (``model.loss(batch)``); no parameters of its own."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return self.model.loss(batch)


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """The sum of the entries whose name starts with ``loss`` (MMAction2's convention:
    other entries, accuracies say, are logged, not optimised)."""
    parts = [v for k, v in losses.items() if k.startswith("loss")]
    if not parts:
        raise ValueError(f"the model's loss dict has no 'loss...' entry: {sorted(losses)}")
    return torch.stack([p.float() for p in parts]).sum()


class Trainer:
    """Trains ``cfg.model`` on ``cfg.data`` as the config says, in ``work_dir``.

    ``resume``: ``True`` continues from ``WORK_DIR/latest.pth``, a path from that file
    (read as data; ``trust_checkpoint=True`` unpickles anything);
    the run then goes on exactly as if never stopped (same data order, augmentation,
    dropout and optimizer state: bit-identical weights on the CPU). Without ``resume`` a
    work dir that already holds checkpoints is an error unless ``overwrite``.

    Under ``torchrun`` every process runs this same code: DDP, a sharded sampler, metrics
    gathered across processes, checkpoints and logs written by process 0.
    """

    def __init__(
        self,
        cfg: Config,
        work_dir: str | os.PathLike | None = None,
        resume: bool | str | os.PathLike = False,
        overwrite: bool = False,
        trust_checkpoint: bool = False,
    ):
        self.cfg = cfg
        self.info, self.device = init_distributed(cfg.train.device)
        self.work_dir = Path(work_dir or cfg.work_dir)
        self._claim_work_dir(resume, overwrite)
        tcfg = cfg.train
        builder.seed_everything(tcfg.seed)
        builder.prepare_data(cfg, self.info, self.log)

        model = builder.build_model(cfg, self.log, trust_checkpoint, initial_weights=not resume)
        model = model.to(self.device)
        if tcfg.amp == "bf16" and self.device.type == "cpu":
            self._check_cpu_bf16(model)
        if tcfg.channels_last:
            from ..models import to_channels_last

            to_channels_last(model)
        if tcfg.sync_bn and self.info.distributed:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif tcfg.multigrid is not None and tcfg.multigrid.bn_base_size > 0:
            mg.SubBatchNorm.install(model)  # (splits are set per multigrid stretch)
        self.model = model  # the plain module: saved, evaluated, EMA'd
        self.ema = ModelEMA(model, tcfg.ema) if tcfg.ema else None
        self.train_model = LossOf(model)  # the task lives in the model and the evaluator
        if self.info.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.train_model, device_ids=ids)
        if tcfg.compile:
            self.train_model = torch.compile(self.train_model)
        self.optimizer = build_optimizer(model, cfg.optim)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=tcfg.amp == "fp16")

        # multigrid: the batch shape (and so the loader) changes with the epoch
        self.multigrid = builder.build_multigrid(cfg) if tcfg.multigrid is not None else None
        self.epochs = self.multigrid.epochs if self.multigrid else cfg.schedule.epochs
        self._cycle = None  # the multigrid shapes the train loader was built for
        if self.multigrid:
            self._set_cycle(0)
        else:
            self.train_loader, self.train_sampler = builder.build_loader(cfg, "train", self.info)
            consts = getattr(self.train_loader.dataset, "reg_norm_consts", None)
            if consts is not None and hasattr(model, "set_regression_constants"):
                model.set_regression_constants(consts)  # SSN: its targets' normalisation
            samples = len(self.train_sampler)
            self._set_iters(samples // cfg.data.batch_size, cfg.data.batch_size, samples)
        # the lr follows optimizer steps: with accumulation, one per `accumulate` batches
        self.steps_per_epoch = math.ceil(self.iters_per_epoch / cfg.optim.accumulate)
        self.schedule = LRSchedule(cfg.schedule, self.steps_per_epoch)
        self.val_loader = builder.build_loader(cfg, "val", self.info)[0] if cfg.data.val else None
        # PreciseBN draws its batches from a loader of its own (the training one keeps
        # its place in the epoch for resuming)
        self.bn_loader = None
        if tcfg.precise_bn is not None:
            self.bn_loader, self.bn_sampler = builder.build_loader(cfg, "train", self.info)
        self.evaluations = 0
        self._bn_done_at = -1
        self.classes = builder.class_names(cfg)  # saved with the weights, for inference
        self.evaluator = build_evaluator(cfg, model, self.classes)

        self.epoch = 0  # epochs completed
        self.iter_in_epoch = 0  # iterations of the current epoch completed
        self.iteration = 0
        self.best: dict | None = None  # {"metric", "value", "epoch"}
        self.skipped_steps = 0  # optimizer steps skipped for non-finite gradients, in all
        self.skipped_in_a_row = 0
        self.last_checkpoint: Path | None = None
        if resume:
            path = self.work_dir / "latest.pth" if resume is True else Path(resume)
            self._resume(path, trust_checkpoint)
        total = self.epochs * self.iters_per_epoch
        if self.multigrid:  # (the iterations of every epoch: the progress bar's total)
            total = sum(self._iterations(e) for e in range(self.epochs))
        self.monitor = Monitor(self.work_dir, self.info.is_main, tcfg.log_interval, total)

    # ------------------------------------------------------------------ set-up helpers

    def _set_iters(self, full: int, batch: int, samples: int) -> None:
        if full == 0:
            raise ConfigError(
                f"a batch of {batch} (data.batch_size, or multigrid's) is larger than the "
                f"{samples} training samples of a process: no full batch"
            )
        self.iters_per_epoch = min(full, self.cfg.train.max_iters_per_epoch or full)

    def _iterations(self, epoch: int) -> int:
        full = mg.iterations(self._samples, self.multigrid.cycle(epoch))
        return min(full, self.cfg.train.max_iters_per_epoch or full)

    def _set_cycle(self, epoch: int) -> None:
        """Multigrid: the loader of ``epoch``'s shapes (rebuilt when they change)."""
        shapes = self.multigrid.cycle(epoch)
        if shapes != self._cycle:
            self._cycle = shapes
            self.train_loader, self.train_sampler = builder.build_multigrid_loader(
                self.cfg, shapes, self.info
            )
            self._samples = len(self.train_sampler.sampler)
            turn = ", ".join(
                f"{s.batch} x {s.frames} frames (every {s.interval}) at {s.size[0]}x{s.size[1]}"
                for s in shapes
            )
            base = self.cfg.train.multigrid.bn_base_size
            splits = shapes[-1].batch // base if base and shapes[-1].batch > base else 1
            mg.SubBatchNorm.set_splits(self.model, splits)
            bn = f"; BatchNorm in {splits} sub-batches" if splits > 1 else ""
            self.log(f"multigrid from epoch {epoch + 1}: batches of {turn}{bn}")
        self._set_iters(len(self.train_sampler), shapes[0].batch, self._samples)

    def log(self, text: str) -> None:
        if self.info.is_main:
            print(text, flush=True)

    def _check_cpu_bf16(self, model: nn.Module) -> None:
        """Probes (once per process) whether oneDNN's bf16 Conv3d weight gradient is right
        here and says what :class:`actionkit.amp.Conv3d` does about it."""
        check = mixed_precision.cpu_bf16_conv3d()
        self.log(mixed_precision.describe(check))
        plain = [n for n, m in model.named_modules() if type(m) is nn.Conv3d]
        if "fp32" in (check.mode, check.mode_channels_last) and plain:
            self.log(
                f"warning: {len(plain)} plain nn.Conv3d layers ({plain[0]}, ...) are not "
                "guarded and may get wrong weight gradients under bf16 on this CPU: build "
                "them with actionkit.amp.Conv3d (same arguments and state dict)"
            )

    def _claim_work_dir(self, resume, overwrite: bool) -> None:
        found = existing_checkpoints(self.work_dir)
        if found and not resume and not overwrite:
            raise FileExistsError(
                f"{self.work_dir} already holds checkpoints ({found[-1].name}, ...): pass "
                "--resume to continue that run or --overwrite to start over"
            )
        if self.info.is_main:
            if overwrite and not resume:
                for path in found:
                    path.unlink()
                for name in ("log.jsonl", "metrics.json", "curves.png"):
                    (self.work_dir / name).unlink(missing_ok=True)
                shutil.rmtree(self.work_dir / "tensorboard", ignore_errors=True)
            self.work_dir.mkdir(parents=True, exist_ok=True)
        barrier(self.info)

    def _resume(self, path: Path, trust: bool) -> None:
        state = load_training_checkpoint(path, trust)
        if state.get("arch") != self.cfg.model.name:
            raise CheckpointError(
                f"{path} is a checkpoint of {state.get('arch')!r}, the config trains "
                f"{self.cfg.model.name!r}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.module.load_state_dict(state["ema"])
        self.epoch, self.iter_in_epoch = state["epoch"], state["iter_in_epoch"]
        self.iteration = state["iteration"]
        self.best = state.get("best")
        self.skipped_steps = state.get("skipped_steps", 0)
        self.skipped_in_a_row = state.get("skipped_in_a_row", 0)
        rngs = state["rng"]
        set_rng_state(rngs[self.info.rank] if self.info.rank < len(rngs) else rngs[0])
        self.last_checkpoint = path.resolve()
        self.log(
            f"resumed from {path} ({path.resolve().name}) at epoch {self.epoch + 1}, "
            f"iteration {self.iter_in_epoch} of it ({self.iteration} in all)"
        )

    # -------------------------------------------------------------------------- steps

    def train_step(self, batch: dict, it: int) -> torch.Tensor:
        accumulate = self.cfg.optim.accumulate
        last_micro = (it + 1) % accumulate == 0 or it + 1 == self.iters_per_epoch
        # the mean over the group's batches: an epoch's last group may be shorter
        group = min(accumulate, self.iters_per_epoch - it // accumulate * accumulate)
        batch = self._to_device(batch)
        sync = contextlib.nullcontext()
        if self.info.distributed and not last_micro:
            sync = self.train_model.no_sync()
        with sync:
            with mixed_precision.autocast(self.device, self.cfg.train.amp):
                losses = self.train_model(batch)
            loss = total_loss(losses)
            self.scaler.scale(loss / group).backward()
        if last_micro:
            self.scaler.unscale_(self.optimizer)  # (a no-op without fp16)
            bad = self._nonfinite_gradients()
            if bad:
                self._skip_step(bad)
            else:
                self.skipped_in_a_row = 0
                if self.cfg.optim.clip_grad:
                    nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
            if not bad or self.scaler.is_enabled():  # GradScaler skips a non-finite step
                self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            if self.ema is not None and not bad:
                self.ema.update(self.model)
        return loss.detach()

    def _nonfinite_gradients(self) -> list[str]:
        """Names of the parameters whose gradient holds NaN or inf (one reduction over all
        of them; the names only when there are some)."""
        named = [(n, p.grad) for n, p in self.model.named_parameters() if p.grad is not None]
        if not named:
            return []
        peaks = torch._foreach_norm([g for _, g in named], math.inf)  # NaN and inf propagate
        if bool(torch.isfinite(torch.stack(peaks)).all()):
            return []
        return [n for (n, _), m in zip(named, peaks, strict=True) if not torch.isfinite(m)]

    def _skip_step(self, bad: list[str]) -> None:
        """A step whose gradients are not all finite changes no weight: logged with the
        parameter names; ``train.max_skipped_steps`` of them in a row stop the run."""
        self.skipped_steps += 1
        self.skipped_in_a_row += 1
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        self.monitor.message(
            f"iteration {self.iteration + 1}: optimizer step skipped, non-finite gradients "
            f"in {len(bad)} parameters: {shown}"
        )
        self.monitor.write({"iteration": self.iteration + 1, "skipped_step": bad})
        limit = self.cfg.train.max_skipped_steps
        if self.skipped_in_a_row < limit:
            return
        cause = {
            "bf16": "bf16 autocast (try train.amp=none; on a CPU, Conv3d layers built as "
            "plain nn.Conv3d, not actionkit.amp.Conv3d: see the README's known issues)",
            "fp16": "fp16 overflow that loss scaling cannot absorb (try train.amp=bf16 or none)",
            "none": "a diverging run",
        }[self.cfg.train.amp]
        raise DivergenceError(
            f"{limit} optimizer steps in a row skipped for non-finite gradients (iteration "
            f"{self.iteration + 1}; last in {shown}). Likely cause: {cause}, a learning rate "
            f"too high (optim.lr={self.cfg.optim.lr}) or bad input. The last good "
            f"checkpoint is {self.last_checkpoint or 'none (none written yet)'}"
        )

    def _check_finite(self, loss: float, epoch: int, it: int) -> None:
        if math.isfinite(loss):
            return
        last = self.last_checkpoint or "none (no checkpoint written yet)"
        raise DivergenceError(
            f"the loss is {loss} at iteration {self.iteration + 1} (epoch {epoch + 1}, "
            f"iteration {it + 1} of it); the last good checkpoint is {last}"
        )

    # --------------------------------------------------------------------------- loop

    def fit(self) -> dict:
        """Trains to ``schedule.epochs``, evaluating and checkpointing on the way, then
        tests (when the config has a test split) and writes ``metrics.json``. Returns
        the final metrics."""
        cfg, tcfg = self.cfg, self.cfg.train
        base_lr = cfg.optim.lr
        batch = cfg.data.batch_size
        started = time.perf_counter()
        try:
            for epoch in range(self.epoch, self.epochs):
                start = self.iter_in_epoch
                if self.multigrid:
                    self._set_cycle(epoch)
                    self.train_sampler.set_epoch(epoch, start)  # (iterations: CycleBatches)
                else:
                    self.train_sampler.set_epoch(epoch, start * batch)
                self.monitor.start_epoch(epoch, self.epochs, self.iters_per_epoch, start)
                self.train_model.train()
                timer = Timer()
                for it, data in enumerate(self.train_loader, start):
                    if it >= self.iters_per_epoch:
                        break
                    data_s = timer.lap()
                    if self.multigrid:  # the stretch's lr, by (fractional) epoch
                        f = self.multigrid.lr_factor(epoch + it / self.iters_per_epoch)
                        lr = set_lr(self.optimizer, base_lr, f)
                    else:
                        step = epoch * self.steps_per_epoch + it // cfg.optim.accumulate
                        lr = self.schedule.apply(self.optimizer, base_lr, step)
                    loss = float(self.train_step(data, it))
                    self._check_finite(loss, epoch, it)
                    if self.device.type == "cuda":  # honest step times
                        torch.cuda.synchronize(self.device)
                    self.monitor.step(self.iteration, it, loss, lr, data_s, timer.lap())
                    self.iteration += 1
                    self.iter_in_epoch = it + 1
                    every = tcfg.checkpoint_iters
                    group_done = (it + 1) % cfg.optim.accumulate == 0  # no pending gradients
                    if every and self.iteration % every == 0 and group_done:
                        if it + 1 < self.iters_per_epoch:  # the epoch checkpoint follows
                            self.save(f"iter_{self.iteration:08d}.pth")
                self.monitor.end_epoch()
                self.epoch, self.iter_in_epoch = epoch + 1, 0
                last = self.epoch == self.epochs
                is_best = False
                if self.val_loader is not None and (self.epoch % tcfg.eval_interval == 0 or last):
                    metrics = self.evaluate(self.val_loader)
                    self.monitor.metrics(self.epoch, "val", metrics, self.iteration)
                    is_best = self._track_best(metrics)
                if self.epoch % tcfg.checkpoint_interval == 0 or last or is_best:
                    self.save(f"epoch_{self.epoch:04d}.pth", best=is_best)
            final = self.final_test(time.perf_counter() - started)
        finally:
            self.monitor.close()
        return final

    def _track_best(self, metrics: dict) -> bool:
        key = self.cfg.train.best_metric
        if key not in metrics:
            raise ConfigError(
                f"{self.cfg.source}: train.best_metric: {key!r} is not among the metrics "
                f"{list(metrics)}"
            )
        value, best = metrics[key], None if self.best is None else self.best["value"]
        if best is None or (value < best if key in LOWER_IS_BETTER else value > best):
            self.best = {"metric": key, "value": metrics[key], "epoch": self.epoch}
            return True
        return False

    def evaluate(self, loader) -> dict:
        model = self.ema.module if self.ema is not None else self.model
        self.evaluations += 1
        pbn = self.cfg.train.precise_bn
        due = pbn is not None and (self.evaluations - 1) % pbn.interval == 0
        if due and self.epoch > 0 and self._bn_done_at != self.iteration:
            self._precise_bn(model, pbn.num_iters)
            self._bn_done_at = self.iteration  # (the final test after the last eval: done)
        return self.evaluator.evaluate(model, loader, self.device, self.info, self.cfg.train.amp)

    def _to_device(self, batch: dict) -> dict:
        return {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }

    def _precise_bn(self, model: nn.Module, num_iters: int) -> None:
        from .precise_bn import batch_norms, precise_bn

        self.bn_sampler.set_epoch(self.epoch)

        def forward(m, batch):
            with mixed_precision.autocast(self.device, self.cfg.train.amp):
                m.loss(self._to_device(batch))

        used = precise_bn(model, self.bn_loader, num_iters, forward)
        self.log(
            f"PreciseBN: the statistics of {len(batch_norms(model))} BatchNorm layers "
            f"recomputed from {used} training batches"
        )

    def final_test(self, train_seconds: float) -> dict:
        """The test split (or, without one, the val split) with the final weights, as
        ``WORK_DIR/metrics.json``."""
        split = "test" if self.cfg.data.test else "val" if self.cfg.data.val else None
        result: dict = {"epochs": self.epoch, "train_seconds": round(train_seconds, 1)}
        result["skipped_steps"] = self.skipped_steps
        if split is not None:
            loader = builder.build_loader(self.cfg, split, self.info)[0]
            metrics = self.evaluate(loader)
            self.monitor.metrics(self.epoch, split, metrics, self.iteration)
            result = {"split": split, **metrics, **result}
        if self.best is not None:
            result["best_val"] = self.best
        if self.info.is_main:
            atomic_write_json(self.work_dir / "metrics.json", result)
        barrier(self.info)
        destroy(self.info)
        return result

    def save(self, name: str, best: bool = False) -> None:
        rngs = gather_objects(rng_state(), self.info)
        if self.info.is_main:
            payload = {
                "actionkit": __version__,
                "arch": self.cfg.model.name,
                "model": self.model.state_dict(),
                "ema": self.ema.module.state_dict() if self.ema is not None else None,
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "epoch": self.epoch,
                "iter_in_epoch": self.iter_in_epoch,
                "iteration": self.iteration,
                "rng": rngs,
                "best": self.best,
                "skipped_steps": self.skipped_steps,
                "skipped_in_a_row": self.skipped_in_a_row,
                "config": to_dict(self.cfg),
                "classes": self.classes,
            }
            self.last_checkpoint = save_training_checkpoint(
                self.work_dir, payload, name, self.cfg.train.keep_last, best
            )
        barrier(self.info)
