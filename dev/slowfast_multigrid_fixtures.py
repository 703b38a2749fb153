"""Records PySlowFast's multigrid schedule from its own code, for tests/test_multigrid.py.

    python dev/slowfast_multigrid_fixtures.py /work/.mirror/facebookresearch+SlowFast/repo

reads slowfast/utils/multigrid.py and slowfast/datasets/multigrid_helper.py from the
PySlowFast checkout (a git directory: its HEAD; `fetch` gives one) and runs them on its
three multigrid configs' settings (Kinetics SlowFast 8x8, Charades and SSv2 16x8) and on
the short cycle alone; writes tests/fixtures/multigrid.json (needs numpy and torch)."""

import json
import subprocess
import sys
import types
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests/fixtures/multigrid.json"
CASES = {  # name: (STEPS, MAX_EPOCH, NUM_FRAMES, TRAIN_CROP_SIZE, BATCH_SIZE, SAMPLING_RATE)
    "kinetics_slowfast_8x8": ([0, 94, 154, 196], 239, 32, 224, 64, 2),
    "charades_slowfast_16x8": ([0, 41, 49], 57, 64, 224, 16, 2),
    "ssv2_slowfast_16x8": ([0, 14, 18], 22, 64, 224, 16, 2),
}


class Node(dict):
    """A CfgNode stand-in: attribute access to nested dicts."""

    __getattr__ = dict.__getitem__

    def __setattr__(self, k, v):
        self[k] = v


def source(repo: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, "show", f"HEAD:{path}"], capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip


def load(repo: str, path: str, name: str):
    logging = types.ModuleType("slowfast.utils.logging")
    logging.get_logger = lambda _: types.SimpleNamespace(info=lambda *a, **k: None)
    for m in ("slowfast", "slowfast.utils"):
        sys.modules.setdefault(m, types.ModuleType(m))
    sys.modules["slowfast.utils.logging"] = logging
    module = types.ModuleType(name)
    exec(compile(source(repo, path), path, "exec"), module.__dict__)
    return module


def config(steps, max_epoch, frames, crop, batch, rate, long_cycle=True, short_cycle=True):
    return Node(
        MULTIGRID=Node(
            LONG_CYCLE=long_cycle, SHORT_CYCLE=short_cycle, EPOCH_FACTOR=1.5,
            SHORT_CYCLE_FACTORS=[0.5, 0.5**0.5],
            LONG_CYCLE_FACTORS=[(0.25, 0.5**0.5), (0.5, 0.5**0.5), (0.5, 1), (1, 1)],
            BN_BASE_SIZE=8, LONG_CYCLE_SAMPLING_RATE=0, DEFAULT_B=0, DEFAULT_T=0, DEFAULT_S=0,
        ),
        TRAIN=Node(BATCH_SIZE=batch),
        DATA=Node(NUM_FRAMES=frames, TRAIN_CROP_SIZE=crop, SAMPLING_RATE=rate),
        SOLVER=Node(STEPS=list(steps), MAX_EPOCH=max_epoch, GAMMA=0.1, LRS=[]),
        BN=Node(NORM_TYPE="batchnorm", NUM_SYNC_DEVICES=1, NUM_SPLITS=1),
        NUM_GPUS=1,
    )  # fmt: skip


def main(repo: str) -> None:
    import torch

    multigrid = load(repo, "slowfast/utils/multigrid.py", "multigrid")
    helper = load(repo, "slowfast/datasets/multigrid_helper.py", "multigrid_helper")
    out = {}
    for name, args in CASES.items():
        for cycles in ("long+short", "short"):
            cfg = config(*args, long_cycle=cycles == "long+short")
            mg = multigrid.MultigridSchedule()
            cfg = mg.init_multigrid(cfg)
            record = {
                "args": args, "steps": cfg.SOLVER.STEPS, "lrs": cfg.SOLVER.LRS,
                "max_epoch": cfg.SOLVER.MAX_EPOCH,
                "schedule": [[s[0], list(s[1]), s[2]] for s in mg.schedule or []],
                "epochs": {},
            }  # fmt: skip
            for epoch in range(cfg.SOLVER.MAX_EPOCH):
                if mg.schedule:
                    cfg, _ = mg.update_long_cycle(cfg, epoch)
                sampler = helper.ShortCycleBatchSampler(
                    torch.utils.data.SequentialSampler(range(10_000)), cfg.TRAIN.BATCH_SIZE,
                    True, cfg,
                )  # fmt: skip
                record["epochs"][epoch] = {
                    "batch": cfg.TRAIN.BATCH_SIZE, "frames": cfg.DATA.NUM_FRAMES,
                    "crop": cfg.DATA.TRAIN_CROP_SIZE,
                    "rate": cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE or cfg.DATA.SAMPLING_RATE,
                    "short_cycle_batches": sampler.batch_sizes,
                    "short_cycle_crops": [
                        int(round(f * cfg.MULTIGRID.DEFAULT_S))
                        for f in cfg.MULTIGRID.SHORT_CYCLE_FACTORS
                    ],
                }  # fmt: skip
            out[f"{name}/{cycles}"] = record
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
