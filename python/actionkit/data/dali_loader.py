"""A batch-level DALI loader for training: decode, sample and preprocess on the GPU.

``DALIClipLoader(dataset, batch_size, device="cuda")`` takes a :class:`VideoDataset`
(its list, sampler, transforms, seed and ``skip_invalid``) and yields the same samples
the dataset would, batched: per batch, the frame indices are drawn on the host from
each video's packet index (cached), DALI decodes all videos of the batch in one call
(NVDEC on ``"cuda"``: frames never leave the GPU), and the transforms' lazy views are
rendered by the fused preprocessing op on the device. Without a GPU it runs DALI's CPU
decoder (VP9/VP8/MJPEG), which is how the tests exercise it.

Each file is checked once per process before DALI sees it (see
``decode.dali.DALIBackend``: DALI 2.4 crashes on some damaged files); pass
``validate=False`` for data already scanned with ``actionkit-data check``.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from .datasets import _ClipDataset
from .decode._base import Deadline, DecodeError, StreamIndex, index_stream, validate_stream
from .decode.dali import CPU_CODECS, _import_dali, remux
from .transforms import Clip, apply_transforms

log = logging.getLogger(__name__)


class DALIClipLoader:
    def __init__(
        self,
        dataset: _ClipDataset,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool | None = None,
        device: str | torch.device = "cuda",
        validate: bool = True,
        seed: int = 0,
    ):
        if dataset.kind != "video":
            raise ValueError("DALIClipLoader reads video lists (VideoDataset)")
        if dataset.transforms is None:
            raise ValueError("DALIClipLoader needs transforms ending with FormatShape")
        self.ndd = _import_dali()
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = shuffle if drop_last is None else drop_last
        self.device = torch.device(device)
        self.validate = validate
        self.seed = seed
        self.epoch = 0
        self._index: dict[str, StreamIndex] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> list[int]:
        n = len(self.dataset)
        if not self.shuffle:
            return list(range(n))
        return np.random.default_rng([self.seed, self.epoch]).permutation(n).tolist()

    def __iter__(self):
        order = self._order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start : start + self.batch_size])

    def _stream(self, path: str) -> StreamIndex:
        if path not in self._index:
            deadline = Deadline(path, self.dataset.decode_timeout)
            index = index_stream(path, deadline)
            if self.device.type == "cpu" and index.codec not in CPU_CODECS:
                raise DecodeError(f"{path}: DALI's CPU decoder cannot read {index.codec}")
            if self.validate:
                validate_stream(path, deadline)
            self._index[path] = index
        return self._index[path]

    def _prepare(self, index: int, rng: np.random.Generator):
        """(encoded bytes, frame indices, entry) of one sample; DecodeError if bad."""
        entry = self.dataset.entries[index]
        try:
            stream = self._stream(entry.path)
            frames = np.asarray(self.dataset.sampler(len(stream), 0, rng, stream.fps), np.int64)
            data = remux(entry.path, Deadline(entry.path, self.dataset.decode_timeout))
        except (DecodeError, FileNotFoundError) as e:
            raise DecodeError(f"{e} (list {self.dataset.ann_file}, line {entry.line})") from e
        return np.frombuffer(data, dtype=np.uint8), frames, entry

    def _batch(self, indices: list[int]) -> dict:
        ds = self.dataset
        prepared, rngs, used = [], [], []
        for index in indices:
            rng = np.random.default_rng([ds.seed, ds.epoch, index])
            attempt = index
            for tries in range(ds.max_retries + 1):
                try:
                    prepared.append(self._prepare(attempt, rng))
                    break
                except DecodeError as e:
                    if not ds.skip_invalid or tries == ds.max_retries:
                        raise
                    ds.invalid[ds.entries[attempt].path] += 1
                    log.warning("skipping invalid sample: %s", e)
                    attempt = int(rng.integers(len(ds)))
            rngs.append(rng)
            used.append(attempt)
        device = "gpu" if self.device.type == "cuda" else "cpu"
        try:
            decoded = self.ndd.decoders.video(
                self.ndd.as_batch([p[0] for p in prepared]),
                frames=self.ndd.as_batch([p[1].astype(np.int32) for p in prepared]),
                device=device,
            )
            clips = [t.torch() for t in decoded.tensors]
        except RuntimeError as e:
            paths = ", ".join(p[2].path for p in prepared)
            raise DecodeError(f"DALI could not decode the batch of {paths}: {e}") from e
        inputs, labels = [], []
        for (_, frames, entry), rng, data in zip(prepared, rngs, clips, strict=True):
            if data.device != self.device:
                data = data.to(self.device)
            clip_len = getattr(ds.sampler, "clip_len", len(frames)) or len(frames)
            clip = Clip(data, len(frames) // clip_len, clip_len, label=entry.labels[0])
            out, label = apply_transforms(ds.transforms, clip, rng)
            inputs.append(out)
            labels.append(ds.label_of(entry) if ds.multi_class else torch.tensor(label))
        return {
            "inputs": torch.stack(inputs),
            "label": torch.stack(labels).to(self.device),
            "index": torch.tensor(used),
        }
