"""What a training run reports: a progress bar on a terminal (plain lines otherwise),
JSON lines in ``WORK_DIR/log.jsonl``, TensorBoard scalars when ``tensorboard`` is
installed, and ``WORK_DIR/curves.png`` (loss, lr and metrics) when ``matplotlib`` is."""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

from .._plot import pyplot


def _eta(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(seconds)))


class Monitor:
    def __init__(self, work_dir: Path, enabled: bool, interval: int, total_iters: int):
        self.work_dir = work_dir
        self.enabled = enabled
        self.interval = max(interval, 1)
        self.total_iters = total_iters
        self.bar = None
        self.tb = None
        self.avg_step = None  # exponential average of data + step time
        self.log = None
        if not enabled:
            return
        self.log = open(work_dir / "log.jsonl", "a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(work_dir / "tensorboard"))
        except ImportError:  # tensorboard is optional
            self.tb = None
        self.tty = sys.stdout.isatty()

    def write(self, record: dict) -> None:
        if self.log is not None:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def start_epoch(self, epoch: int, epochs: int, iters: int, start: int) -> None:
        self.epoch, self.epochs, self.iters = epoch, epochs, iters
        if self.enabled and self.tty:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(
                total=iters, initial=start, desc=f"epoch {epoch + 1}/{epochs}", leave=False
            )

    def step(self, iteration: int, it: int, loss: float, lr: float, data_s: float, step_s: float):
        total = data_s + step_s
        self.avg_step = total if self.avg_step is None else 0.9 * self.avg_step + 0.1 * total
        eta = _eta(self.avg_step * (self.total_iters - iteration - 1))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(
                f"loss {loss:.4f} lr {lr:.3g} data {data_s:.3f}s step {step_s:.3f}s eta {eta}"
            )
        if (it + 1) % self.interval and it + 1 != self.iters:
            return
        record = {
            "epoch": self.epoch + 1,
            "iter": it + 1,
            "iteration": iteration + 1,
            "loss": loss,
            "lr": lr,
            "data_time": data_s,
            "step_time": step_s,
        }
        self.write(record)
        if self.tb is not None:
            self.tb.add_scalar("train/loss", loss, iteration + 1)
            self.tb.add_scalar("train/lr", lr, iteration + 1)
        if self.bar is None and self.enabled:
            print(
                f"epoch {self.epoch + 1}/{self.epochs} iter {it + 1}/{self.iters} "
                f"loss {loss:.4f} lr {lr:.4g} data {data_s:.3f}s step {step_s:.3f}s eta {eta}",
                flush=True,
            )

    def end_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def metrics(self, epoch: int, split: str, values: dict, iteration: int) -> None:
        scalars = {k: v for k, v in values.items() if isinstance(v, float | int)}
        self.write({"epoch": epoch, "split": split, **scalars})
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(f"{split}/{k}", v, iteration)
        shown = " ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in scalars.items()
        )
        self.message(f"epoch {epoch} {split}: {shown}")

    def close(self) -> None:
        self.end_epoch()
        if self.tb is not None:
            self.tb.close()
        if self.log is not None:
            self.log.close()
            self.log = None
            plot_curves(self.work_dir)


def plot_curves(work_dir: Path) -> Path | None:
    """``curves.png``: training loss and lr over iterations, metrics over epochs."""
    plt = pyplot("curves.png")
    if plt is None:
        return None
    train, evals = [], []
    for line in (work_dir / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "split" in record:
            evals.append(record)
        elif "loss" in record:  # (not the skipped-step records)
            train.append(record)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    if train:
        x = [r["iteration"] for r in train]
        axes[0].plot(x, [r["loss"] for r in train])
        axes[1].plot(x, [r["lr"] for r in train])
    axes[0].set(title="training loss", xlabel="iteration")
    axes[1].set(title="learning rate", xlabel="iteration")
    for split in sorted({r["split"] for r in evals}):
        rows = [r for r in evals if r["split"] == split]
        # every scalar metric the task's evaluator gives (top1, mAP, AR@100, ...)
        skip = {"epoch", "iteration", "split", "num_samples"}
        keys = [k for k, v in rows[0].items() if k not in skip and isinstance(v, int | float)]
        for key in keys:
            axes[2].plot(
                [r["epoch"] for r in rows], [r[key] for r in rows], "o-", label=f"{split} {key}"
            )
    axes[2].set(title="metrics", xlabel="epoch")
    if evals:
        axes[2].legend()
    fig.tight_layout()
    out = work_dir / "curves.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


class Timer:
    def __init__(self):
        self.t = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.t = now - self.t, now
        return elapsed
