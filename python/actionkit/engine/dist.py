"""torch.distributed as torchrun sets it up: one process per device, env:// rendezvous —
on one machine or several (``torchrun --nnodes N --rdzv-backend c10d --rdzv-endpoint
HOST:PORT``), or under Slurm without torchrun (``srun``: one task per device, the ranks
and the world from ``SLURM_*``)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE = DistInfo()  # one process


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list: ``"gpu[03-05,09],cpu1"`` -> ``"gpu03"``,
    ``"node7"`` -> ``"node7"``, ``"rack[2-3]-ib"`` -> ``"rack2-ib"``."""
    m = re.match(r"([^,\[]*)(?:\[([^\]]+)\])?([^,]*)", nodelist.strip())
    if m is None or not (m[1] or m[2]):
        raise ValueError(f"SLURM_JOB_NODELIST: cannot read {nodelist!r}")
    first = m[2].split(",")[0].split("-")[0] if m[2] else ""
    return f"{m[1]}{first}{m[3]}"


def slurm_environment(env: Mapping[str, str]) -> dict[str, str]:
    """torchrun's variables from Slurm's, for a job step of several tasks started by
    ``srun`` without torchrun: ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` =
    ``SLURM_NTASKS``, ``LOCAL_RANK`` = ``SLURM_LOCALID``, ``MASTER_ADDR`` the step's first
    node, ``MASTER_PORT`` 29500 unless set. Empty when torchrun set them or when there
    is no such step (one task)."""
    if "WORLD_SIZE" in env or "SLURM_PROCID" not in env:
        return {}
    tasks = int(env.get("SLURM_STEP_NUM_TASKS", env.get("SLURM_NTASKS", "1")))
    if tasks <= 1:
        return {}
    out = {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": str(tasks),
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
    }
    if "MASTER_ADDR" not in env:
        nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", "localhost")
        out["MASTER_ADDR"] = first_host(nodes)
    out.setdefault("MASTER_PORT", env.get("MASTER_PORT", "29500"))
    return out


def init_distributed(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Joins the process group torchrun describes (``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK``; NCCL on CUDA, gloo on the CPU), or Slurm's when ``srun`` started the
    processes (:func:`slurm_environment`), and picks this process's device. Without
    either: one process."""
    os.environ.update(slurm_environment(os.environ))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device == "auto":
        device = f"cuda:{info.local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if info.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return info, dev


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.distributed:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(value: float, info: DistInfo) -> float:
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / info.world_size


def destroy(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()
