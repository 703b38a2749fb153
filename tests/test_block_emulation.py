"""Block-cooperative kernels on the CPU: the emulation runs each block's threads as fibers
(csrc/actionkit/common/cuda_emulation.h) with barriers, AK_SHARED arrays and warp
intrinsics, in schedules drawn from a seed, and reports races, deadlocks and misuse.
The example kernels (csrc/actionkit/emulation/examples) are plain CUDA, compiled by nvcc
in CUDA builds; here their results are checked against references that do the same
arithmetic in the same order, over several schedules, and their broken variants must
fail with the error that names the bug."""

from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit

torch.ops.load_library(Path(actionkit.__file__).parent / "lib" / "libactionkit_cuda_emulation.so")
SEEDS = [0, 1, 7, 12345]


def example(name, x, threads, width=0, sync=True, seed=0):
    return torch.ops.actionkit_emu.block_example(name, x, threads, width, sync, seed)


def tree_sums(x: np.ndarray, threads: int) -> np.ndarray:
    """Each block's shared-memory tree sum, in the kernel's order (float32)."""
    blocks = -(-len(x) // threads)
    a = np.zeros(blocks * threads, np.float32)
    a[: len(x)] = x
    a = a.reshape(blocks, threads)
    s = threads // 2
    while s:
        a[:, :s] = a[:, :s] + a[:, s : 2 * s]
        s //= 2
    return a[:, 0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("threads,n", [(256, 1000), (64, 64), (32, 97), (128, 5)])
def test_block_sum_with_barriers(threads, n, seed):
    x = torch.randn(n, generator=torch.Generator().manual_seed(n))
    out = example("block_sum", x, threads, seed=seed)
    assert torch.equal(out, torch.from_numpy(tree_sums(x.numpy(), threads)))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_missing_barrier_is_a_race(seed):
    # the tree without its __syncthreads: a thread reads its partner's element of the
    # previous round with no barrier between, in whatever order the fibers ran
    race = (
        r"race on shared array partial\[\d+\] in block \(0, 0, 0\): thread \(\d+, 0, 0\) "
        r"(read|wrote) it and thread \(\d+, 0, 0\) (writes|reads) it with no __syncthreads\(\)"
    )
    with pytest.raises(RuntimeError, match=race):
        example("block_sum", torch.randn(256), 128, sync=False, seed=seed)


def warp_tree_sum(v: np.ndarray) -> np.float32:
    """Lane 0's value after the __shfl_down_sync tree (lanes past the warp keep theirs)."""
    v = v.astype(np.float32).copy()
    lanes = np.arange(32)
    for offset in (16, 8, 4, 2, 1):
        source = np.where(lanes + offset < 32, lanes + offset, lanes)
        v = v + v[source]
    return v[0]


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_warp_sum_by_shuffles(seed):
    x = torch.randn(200)
    out = example("warp_sum", x, 96, seed=seed)  # 3 warps a block, 3 blocks (the last partly idle)
    padded = np.zeros(288, np.float32)
    padded[:200] = x.numpy()
    expected = [warp_tree_sum(padded[w * 32 : (w + 1) * 32]) for w in range(9)]
    assert torch.equal(out, torch.tensor(expected))


def test_a_shuffle_from_a_lane_outside_the_mask_is_reported():
    # 80 threads: the last warp has 16 lanes, and lane 0 reads lane 16 (undefined on a GPU)
    with pytest.raises(RuntimeError, match=r"__shfl_down_sync: lane 0 reads lane 16, which is "
                       "not in the mask"):  # fmt: skip
        example("warp_sum", torch.randn(80), 80)


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize("threads", [80, 96, 1024])
def test_ballot_counts(threads, seed):
    x = torch.randn(3000, generator=torch.Generator().manual_seed(threads))
    out = example("count_positive", x, threads, seed=seed)
    assert out.item() == int((x > 0).sum())


@pytest.mark.parametrize("width", [2, 8, 32])
def test_segment_scan_and_max(width):
    # small integers: every order of the additions gives the same exact sums
    x = torch.randint(-8, 9, (256,), generator=torch.Generator().manual_seed(width)).float()
    scan = example("segment_scan", x, 64, width, seed=3)
    assert torch.equal(scan, x.view(-1, width).cumsum(1).flatten())
    top = example("segment_max", x, 64, width, seed=3)
    assert torch.equal(top, x.view(-1, width).amax(1, keepdim=True).expand(-1, width).flatten())


def test_schedules_follow_the_seed():
    orders = {seed: example("arrival_order", torch.zeros(1), 16, seed=seed) for seed in SEEDS}
    for order in orders.values():
        # every thread before the barrier, then every thread after it
        assert sorted(order[:16].tolist()) == list(range(16))
        assert sorted(order[16:].tolist()) == list(range(16))
    assert len({tuple(o.tolist()) for o in orders.values()}) == len(SEEDS)  # orders differ
    assert torch.equal(example("arrival_order", torch.zeros(1), 16, seed=7), orders[7])


@pytest.mark.parametrize(
    "bug, message",
    [
        ("exit", r"deadlock of block \(0, 0, 0\): threads \(1, 0, 0\), \(2, 0, 0\), \(3, 0, 0\), "
                 r"\(4, 0, 0\) and 59 more wait at __syncthreads\(\) for threads \(0, 0, 0\), "
                 "which exited"),
        ("warp_exit", r"deadlock of block \(0, 0, 0\): threads .* wait at a warp collective for "
                      "lanes of its mask that exited"),
        ("unwritten", r"shared array values\[0\] read by thread \(63, 0, 0\) of block \(0, 0, 0\) "
                      "before any thread of the block wrote it"),
        ("bounds", r"shared array values: index 64 out of \[0, 64\) in thread \(63, 0, 0\)"),
        ("plain", r"__syncthreads\(\) in a kernel launched with AK_LAUNCH: launch "
                  "block-cooperative kernels with AK_LAUNCH_BLOCKS"),
        ("mask", r"__shfl_sync in thread \(\d+, 0, 0\) \(lane \d+ of warp \d\): the mask lacks "
                 "the lane's own bit"),
    ],
)  # fmt: skip
def test_bugs_are_reported(bug, message):
    for seed in SEEDS[:2]:
        with pytest.raises(RuntimeError, match=message):
            example(bug, torch.zeros(1), 64, seed=seed)
