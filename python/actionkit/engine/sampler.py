"""The training sampler: a seeded permutation per epoch, sharded across processes, that
can start mid-epoch (resume) and hands the epoch to the dataset with each index."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from ..errors import DataError


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` pairs: the datasets seed each sample's augmentation with
    both (``np.random.default_rng([seed, epoch, index])``), which also reaches persistent
    DataLoader workers, whose dataset copies never see ``set_epoch``.

    The order of an epoch depends only on ``(seed, epoch)``; process ``rank`` of
    ``world_size`` takes every ``world_size``-th index of it (padded by wrapping around
    so that all take the same number, as ``DistributedSampler`` does). ``start`` skips
    that many of this process's samples of the current epoch (a resumed run's position).
    """

    def __init__(
        self,
        length: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ):
        if length < 1:
            raise DataError("the dataset is empty")
        self.length, self.shuffle, self.seed = length, shuffle, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        if self.pad:
            total = math.ceil(self.length / self.world_size) * self.world_size
            order += order[: total - self.length]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in self.indices()[self.start :]:
            yield self.epoch, index

    def __len__(self) -> int:
        return len(self.indices()) - self.start
