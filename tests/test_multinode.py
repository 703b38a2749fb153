"""More than one machine, on one: two torchrun agents as two "nodes" meeting through c10d
rendezvous on localhost, and two processes started as srun starts them (Slurm's
variables, no torchrun). Each run equals the one-process run with the same global
batch, writes its checkpoints once, and a run resumes with another world size."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from actionkit.engine.dist import first_host, slurm_environment

from .engine_helpers import make_small_dataset, small_config
from .test_engine import WORKER, final_state, finish, metrics, worker

# 15 clips: 3 batches of 4 in one process, 3 pairs of batches of 2 in two (cut at 3)
CUT = ["--set", "train.max_iters_per_epoch=3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_"))}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(key, None)
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def test_slurm_variables():
    env = {"SLURM_PROCID": "9", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1",
           "SLURM_JOB_NODELIST": "gpu[07-08]"}  # fmt: skip
    assert slurm_environment(env) == {
        "RANK": "9", "WORLD_SIZE": "16", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu07",
        "MASTER_PORT": "29500",
    }  # fmt: skip
    # the step's own list and size win; an address or port given is kept
    step = {**env, "SLURM_STEP_NODELIST": "cpu3,cpu4", "SLURM_STEP_NUM_TASKS": "2",
            "MASTER_PORT": "1234"}  # fmt: skip
    assert slurm_environment(step)["MASTER_ADDR"] == "cpu3"
    assert slurm_environment(step)["WORLD_SIZE"] == "2"
    assert slurm_environment(step)["MASTER_PORT"] == "1234"
    assert slurm_environment({**env, "MASTER_ADDR": "head"}).get("MASTER_ADDR") is None
    # torchrun's variables, or a single task: nothing to do
    assert slurm_environment({**env, "WORLD_SIZE": "16"}) == {}
    assert slurm_environment({**env, "SLURM_NTASKS": "1"}) == {}
    assert slurm_environment({}) == {}
    assert first_host("node[001-004,010]") == "node001"
    assert first_host("rack[2-3]-ib,login") == "rack2-ib"
    with pytest.raises(ValueError, match="cannot read"):
        first_host("[")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The one-process reference run: (data root, config, its work dir)."""
    tmp = tmp_path_factory.mktemp("multinode")
    data = make_small_dataset(tmp / "data")
    config = small_config(tmp, data)
    finish(worker(str(config), "--work-dir", str(tmp / "one"), *CUT))
    return tmp, config, tmp / "one"


def assert_same_run(a, b):
    sa, sb = final_state(a), final_state(b)
    for key in sa["model"]:
        torch.testing.assert_close(sb["model"][key], sa["model"][key], rtol=1e-5, atol=1e-6)
    ma, mb = metrics(a), metrics(b)
    assert ma["num_samples"] == mb["num_samples"] == 6 and ma["top1"] == mb["top1"]
    # written once: the same checkpoints and log lines as the one-process run
    assert sorted(p.name for p in a.glob("*.pth")) == sorted(p.name for p in b.glob("*.pth"))
    lines = [json.loads(line) for line in (b / "log.jsonl").read_text().splitlines()]
    one = [json.loads(line) for line in (a / "log.jsonl").read_text().splitlines()]
    assert len(lines) == len(one)


def spawn(args: list, env: dict) -> subprocess.Popen:
    """``python ARGS`` with its output captured."""
    return subprocess.Popen(
        [sys.executable, *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def train_args(config, work, *extra) -> list:
    return [WORKER, config, "--work-dir", work, *extra]


@pytest.mark.slow
def test_two_torchrun_nodes_equal_one_process(runs):
    tmp, config, one = runs
    two = tmp / "nodes"
    endpoint = f"127.0.0.1:{free_port()}"
    agents = [
        spawn(
            [
                "-m",
                "torch.distributed.run",
                "--nnodes",
                2,
                "--node-rank",
                rank,
                "--nproc-per-node",
                1,
                "--rdzv-backend",
                "c10d",
                "--rdzv-endpoint",
                endpoint,
                "--rdzv-id",
                "actionkit-test",
                "--rdzv-conf",
                "read_timeout=300",  # (the store's host agent may start late on a busy machine)
                *train_args(config, two, *CUT, "data.batch_size=2"),
            ],
            clean_env(),
        )  # fmt: skip
        for rank in (0, 1)
    ]
    for agent in agents:
        finish(agent)
    assert_same_run(one, two)


@pytest.mark.slow
def test_two_slurm_tasks_equal_one_process_and_resume_alone(runs):
    tmp, config, one = runs
    two = tmp / "slurm"
    port = str(free_port())
    slurm = {"SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "localhost", "MASTER_PORT": port}
    tasks = [
        spawn(
            train_args(config, two, *CUT, "data.batch_size=2"),
            clean_env(SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), **slurm),
        )
        for rank in (0, 1)
    ]
    outputs = [finish(t) for t in tasks]
    assert_same_run(one, two)
    assert "resumed" not in outputs[0]
    # the two-task run's epoch 2, resumed by one process (batch 4: the same global batch),
    # ends where the one-process run ended
    resumed = tmp / "resumed"
    resumed.mkdir()
    state = two / "epoch_0002.pth"
    out = finish(spawn(train_args(config, resumed, "--resume", state, *CUT), clean_env()))
    assert "resumed from" in out and "at epoch 3" in out
    sa, sr = final_state(one), final_state(resumed)
    for key in sa["model"]:
        torch.testing.assert_close(sr["model"][key], sa["model"][key], rtol=1e-5, atol=1e-6)
