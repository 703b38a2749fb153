"""Long-term feature banks (Wu et al., "Long-Term Feature Banks for Detailed Video
Understanding", CVPR 2019) as MMAction2 1.2.0 defines them (``LFB``, ``FBOHead``,
``LFBInferHead``), with MMAction2's parameter names so its LFB checkpoints load.

* **The bank on disk** (:class:`FeatureBankWriter`, :class:`FeatureBank`): a folder with
  ``index.json`` (per video its file and the second of every row) and per video one
  ``.npy`` of float16 RoI features ``[rows, channels]``. The writer keeps at most
  ``buffer_rows`` rows in memory (the rest go to part files, joined per video when it
  closes); the reader reads the rows a window needs from the files (keeping at most
  ``max_open`` of them open): a bank for hours of video never lives in RAM.
  :func:`convert_mmaction_bank` turns MMAction2's ``lfb_{split}.pkl`` (read as data) into
  one.
* **Sampling** (``bank[img_key]``, MMAction2's ``LFB.sample_long_term_features``): the
  ``window_size`` seconds centred on the keyframe's (from ``timestamp - window_size //
  2``), for each second at most ``max_num_sampled_feat`` of its features drawn at random
  (in a random order), zeros where a second has fewer or none: ``[window_size *
  max_num_sampled_feat, channels]``.
* **Feature bank operators** (:class:`FBOHead`): the RoI's short-term feature (temporal
  average, spatial max) and its sampled long-term features go through ``FBONonLocal``
  (``num_non_local_layers`` non-local layers attending from the short-term to the long-term
  features, latent width ``latent_channels``), ``FBOAvg`` or ``FBOMax``; the output is the
  short-term feature and the operator's, concatenated.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import DataError


class FeatureBankWriter:
    """Writes a bank under ``root`` (see the module doc): :meth:`add` the features of each
    keyframe's boxes, :meth:`close` (or leave the ``with`` block) to finish."""

    def __init__(self, root: str | os.PathLike, buffer_rows: int = 16384):
        self.root = Path(root)
        (self.root / "parts").mkdir(parents=True, exist_ok=True)
        self.buffer_rows, self.buffered = buffer_rows, 0
        self.pending: dict[str, list] = {}  # video -> [(second, features [n, C])]
        self.parts: dict[str, list[Path]] = {}
        self.seconds: dict[str, list[int]] = {}
        self.channels: int | None = None

    def add(self, img_key: str, features) -> None:
        video, ts = img_key.rsplit(",", 1)
        feats = np.asarray(torch.as_tensor(features).float().cpu(), np.float16)
        feats = feats.reshape(len(feats), -1)
        if self.channels is None:
            self.channels = feats.shape[1]
        elif feats.shape[1] != self.channels:
            raise ValueError(f"{img_key}: {feats.shape[1]} channels, the bank has {self.channels}")
        self.pending.setdefault(video, []).append((int(ts), feats))
        self.buffered += len(feats)
        if self.buffered >= self.buffer_rows:
            self._spill()

    def _spill(self) -> None:
        for video, chunks in self.pending.items():
            rows = np.concatenate([f for _, f in chunks])
            part = self.root / "parts" / f"{_safe(video)}.{len(self.parts.get(video, []))}.npy"
            np.save(part, rows)
            self.parts.setdefault(video, []).append(part)
            self.seconds.setdefault(video, []).extend(s for s, f in chunks for _ in range(len(f)))
        self.pending, self.buffered = {}, 0

    def close(self) -> Path:
        self._spill()
        index = {}
        for video, parts in self.parts.items():
            name = f"{_safe(video)}.npy"
            rows = len(self.seconds[video])
            header = {"descr": "<f2", "fortran_order": False, "shape": (rows, self.channels)}
            with open(self.root / (name + ".tmp"), "wb") as f:  # one part in memory at a time
                np.lib.format.write_array_header_1_0(f, header)
                for p in parts:
                    f.write(np.load(p).astype("<f2", copy=False).tobytes())
                    p.unlink()
            os.replace(self.root / (name + ".tmp"), self.root / name)
            index[video] = {"file": name, "seconds": self.seconds[video]}
        (self.root / "parts").rmdir()
        tmp = self.root / "index.json.tmp"
        tmp.write_text(json.dumps({"channels": self.channels, "videos": index}))
        os.replace(tmp, self.root / "index.json")
        return self.root

    def __enter__(self) -> FeatureBankWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()


def _safe(video: str) -> str:
    """A file name for a video id (ids may hold '/'; distinct ids stay distinct)."""
    digest = hashlib.sha1(video.encode()).hexdigest()[:10]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", video)[:100] + f"-{digest}"


class FeatureBank:
    """A bank written by :class:`FeatureBankWriter` (or several: a list of folders, e.g.
    the train and val splits' as MMAction2's ``dataset_modes``), sampled as MMAction2's
    ``LFB``."""

    def __init__(
        self,
        root: str | os.PathLike | list,
        max_num_sampled_feat: int = 5,
        window_size: int = 60,
        max_open: int = 64,
    ):
        roots = [Path(r) for r in root] if isinstance(root, list | tuple) else [Path(root)]
        self.root, self.videos, self.channels = roots[0], {}, None
        for r in roots:
            index = r / "index.json"
            if not index.is_file():
                raise FileNotFoundError(f"{r}: not a feature bank (no index.json)")
            try:
                data = json.loads(index.read_text())
                channels, videos = data["channels"], data["videos"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataError(f"{index}: not a feature bank index: {e!r}") from None
            if channels is None or not videos:
                raise DataError(f"{r}: the feature bank holds no features (none were written)")
            if self.channels not in (None, int(channels)):
                raise DataError(f"{r}: {data['channels']} channels, {roots[0]} has {self.channels}")
            self.channels = int(channels)
            self.videos.update({v: {**e, "file": r / e["file"]} for v, e in videos.items()})
        self.max_num_sampled_feat, self.window_size = max_num_sampled_feat, window_size
        self.max_open, self._open = max_open, OrderedDict()

    def __len__(self) -> int:
        return len(self.videos)

    def features(self, video: str) -> tuple[np.ndarray, _Rows]:
        """``(seconds [rows], rows)`` of a video: ``rows[indices]`` reads those rows
        (float16 ``[len, C]``) from its file; nothing else of it is held in memory."""
        if video not in self._open:
            if video not in self.videos:
                raise DataError(f"{self.root}: no features of video {video!r} in the bank")
            entry = self.videos[video]
            rows = _Rows(entry["file"])
            self._open[video] = (np.asarray(entry["seconds"], np.int64), rows)
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)[1][1].close()
        self._open.move_to_end(video)
        return self._open[video]

    def __getitem__(self, img_key: str) -> Tensor:
        return self.sample(img_key)

    def sample(self, img_key: str, generator: torch.Generator | None = None) -> Tensor:
        video, ts = img_key.rsplit(",", 1)
        seconds, feats = self.features(video)
        k, window = self.max_num_sampled_feat, self.window_size
        start = int(ts) - window // 2
        out = torch.zeros(window, k, self.channels)
        inside = np.nonzero((seconds >= start) & (seconds < start + window))[0]
        for sec in np.unique(seconds[inside]):
            rows = inside[seconds[inside] == sec]
            pick = rows[torch.randperm(len(rows), generator=generator)[:k].numpy()]
            out[sec - start, : len(pick)] = torch.from_numpy(feats[pick].astype(np.float32))
        return out.reshape(-1, self.channels)


class _Rows:
    """The rows of a bank file, read on demand (``os.pread`` of each run of consecutive
    rows asked for): the page cache holds what the system can spare, not the process."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                version, np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(f)
            self.offset = f.tell()
        if dtype != np.dtype("<f2") or len(shape) != 2:
            raise DataError(f"{self.path}: not a feature bank file (float16 [rows, channels])")
        self.shape, self.row_bytes = shape, shape[1] * 2
        self.fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, indices) -> np.ndarray:
        indices = np.atleast_1d(np.asarray(indices, np.int64))
        if len(indices) and (indices.min() < 0 or indices.max() >= self.shape[0]):
            raise IndexError(f"{self.path}: rows {indices} outside {self.shape[0]}")
        order = np.argsort(indices, kind="stable")
        ordered = indices[order]
        out = np.empty((len(indices), self.shape[1]), np.float16)
        breaks = np.nonzero(np.diff(ordered) != 1)[0] + 1
        runs = zip(
            np.split(ordered, breaks), np.split(np.arange(len(ordered)), breaks), strict=True
        )
        for run, at in runs:
            if not len(run):
                continue
            data = os.pread(
                self.fd, len(run) * self.row_bytes, self.offset + run[0] * self.row_bytes
            )
            out[order[at]] = np.frombuffer(data, "<f2").reshape(len(run), -1)
        return out

    def close(self) -> None:
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        self.close()


class LazyFeatureBank:
    """A :class:`FeatureBank` opened on first use (a detector can be built, loaded and
    exported before its bank exists)."""

    def __init__(self, root, max_num_sampled_feat: int = 5, window_size: int = 60):
        self.root, self.args, self.bank = root, (max_num_sampled_feat, window_size), None

    def sample(self, img_key: str, generator: torch.Generator | None = None) -> Tensor:
        if self.bank is None:
            self.bank = FeatureBank(self.root, *self.args)
        return self.bank.sample(img_key, generator)


def infer_feature_bank(model, loader, out: str | os.PathLike, device="cpu") -> Path:
    """MMAction2's ``LFBInferHead`` over a detection loader (test mode: each keyframe's
    proposals): each proposal's RoI feature (``model.roi_features``), stored float16 under
    its keyframe's video and second in a bank under ``out``."""
    model.eval()
    with FeatureBankWriter(out) as writer:
        for batch in loader:
            feats = model.roi_features(batch["inputs"].to(device), batch["proposals"])
            for key, f in zip(batch["img_key"], feats, strict=True):
                writer.add(key, f)
    return Path(out)


def convert_mmaction_bank(
    pickles: list[str | os.PathLike], out: str | os.PathLike, trust: bool = False
) -> Path:
    """MMAction2's ``lfb_{split}.pkl`` files (``{video: {second: features [n, C] or a list
    of [C]}}``, ``torch.save``d; read as data unless ``trust``) as one bank under ``out``."""
    from ..serialization import load

    with FeatureBankWriter(out) as writer:
        for path in pickles:
            bank = load(path, trust=trust, placeholders=False)
            if not isinstance(bank, dict):
                raise DataError(f"{path}: not a feature bank (a mapping of videos)")
            for video, per_second in bank.items():
                for sec, feats in per_second.items():
                    if isinstance(feats, list | tuple):
                        feats = torch.stack(list(feats))
                    writer.add(f"{video},{int(sec):04d}", feats)
    return Path(out)


class _Conv(nn.Module):
    """mmcv's ``ConvModule`` without norm or activation: a 1x1x1 ``conv``."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class NonLocalLayer(nn.Module):
    """One non-local layer of ``FBONonLocal``: the short-term features attend (scaled dot
    product, softmax over the long-term ones) to the long-term features, then layer norm,
    ReLU (pre-activation) and a 1x1x1 projection back, dropout."""

    def __init__(
        self,
        st_feat_channels: int,
        lt_feat_channels: int,
        latent_channels: int,
        num_st_feat: int,
        num_lt_feat: int,
        use_scale: bool = True,
        pre_activate: bool = True,
        pre_activate_with_ln: bool = True,
        dropout_ratio: float = 0.2,
    ):
        super().__init__()
        self.latent_channels, self.use_scale = latent_channels, use_scale
        self.num_st_feat, self.num_lt_feat = num_st_feat, num_lt_feat
        self.pre_activate, self.pre_activate_with_ln = pre_activate, pre_activate_with_ln
        self.st_feat_conv = _Conv(st_feat_channels, latent_channels)
        self.lt_feat_conv = _Conv(lt_feat_channels, latent_channels)
        self.global_conv = _Conv(lt_feat_channels, latent_channels)
        ln_channels = latent_channels if pre_activate else st_feat_channels
        self.ln = nn.LayerNorm([ln_channels, num_st_feat, 1, 1])
        self.relu = nn.ReLU()
        self.out_conv = _Conv(latent_channels, st_feat_channels)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else None

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        n, c = st_feat.shape[0], self.latent_channels
        theta = self.st_feat_conv(st_feat).view(n, c, self.num_st_feat)
        phi = self.lt_feat_conv(lt_feat).view(n, c, self.num_lt_feat)
        g = self.global_conv(lt_feat).view(n, c, self.num_lt_feat)
        logits = theta.transpose(1, 2) @ phi
        if self.use_scale:
            logits = logits / c**0.5
        out = (g @ logits.softmax(-1).transpose(1, 2)).view(n, c, self.num_st_feat, 1, 1)
        if self.pre_activate:
            if self.pre_activate_with_ln:
                out = self.ln(out)
            out = self.relu(out)
        out = self.out_conv(out)
        if not self.pre_activate:
            out = self.ln(out)
        return self.dropout(out) if self.dropout is not None else out


class FBONonLocal(nn.Module):
    """The non-local feature bank operator: both inputs projected to ``latent_channels``
    (dropout), then ``num_non_local_layers`` residual :class:`NonLocalLayer`."""

    def __init__(
        self,
        st_feat_channels: int,
        lt_feat_channels: int,
        latent_channels: int,
        num_st_feat: int,
        num_lt_feat: int,
        num_non_local_layers: int = 2,
        st_feat_dropout_ratio: float = 0.2,
        lt_feat_dropout_ratio: float = 0.2,
        pre_activate: bool = True,
    ):
        super().__init__()
        if num_non_local_layers < 1:
            raise ValueError(f"num_non_local_layers must be >= 1, got {num_non_local_layers}")
        self.st_feat_conv = nn.Conv3d(st_feat_channels, latent_channels, 1)
        self.lt_feat_conv = nn.Conv3d(lt_feat_channels, latent_channels, 1)
        self.st_feat_dropout = nn.Dropout(st_feat_dropout_ratio)
        self.lt_feat_dropout = nn.Dropout(lt_feat_dropout_ratio)
        self.pre_activate = pre_activate
        self.relu = nn.ReLU()
        self.num_layers = num_non_local_layers
        for i in range(num_non_local_layers):
            layer = NonLocalLayer(latent_channels, latent_channels, latent_channels,
                                  num_st_feat, num_lt_feat, pre_activate=pre_activate)  # fmt: skip
            self.add_module(f"non_local_layer_{i + 1}", layer)

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        st_feat = self.st_feat_dropout(self.st_feat_conv(st_feat))
        lt_feat = self.lt_feat_dropout(self.lt_feat_conv(lt_feat))
        for i in range(self.num_layers):
            st_feat = st_feat + getattr(self, f"non_local_layer_{i + 1}")(st_feat, lt_feat)
            if not self.pre_activate:
                st_feat = self.relu(st_feat)
        return st_feat


class FBOAvg(nn.Module):
    """The long-term features averaged."""

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        return lt_feat.mean(2, keepdim=True)


class FBOMax(nn.Module):
    """The long-term features' maximum."""

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        return lt_feat.amax(2, keepdim=True)


class FBOHead(nn.Module):
    """MMAction2's ``FBOHead``: ``forward(x [N, C, T, H, W] RoI features, lt_feat [N, C_lt,
    window * K, 1, 1])`` -> ``[N, C + C_fbo, 1, 1, 1]``; :meth:`sample` draws the long-term
    features of each RoI's keyframe from ``bank``."""

    def __init__(
        self,
        bank: FeatureBank | None,
        fbo: str = "non_local",
        temporal_pool_type: str = "avg",
        spatial_pool_type: str = "max",
        **fbo_args,
    ):
        super().__init__()
        for name, value in (("temporal", temporal_pool_type), ("spatial", spatial_pool_type)):
            if value not in ("avg", "max"):
                raise ValueError(f"{name}_pool_type must be avg or max, got {value!r}")
        operators = {"non_local": FBONonLocal, "avg": FBOAvg, "max": FBOMax}
        if fbo not in operators:
            raise ValueError(f"fbo must be one of {sorted(operators)}, got {fbo!r}")
        self.bank = bank
        self.fbo = operators[fbo](**fbo_args) if fbo == "non_local" else operators[fbo]()
        self.temporal_pool_type, self.spatial_pool_type = temporal_pool_type, spatial_pool_type

    def sample(self, img_keys: list[str], batch_index: Tensor, generator=None) -> Tensor:
        """``[N, C_lt, window * K, 1, 1]`` long-term features of each RoI (``batch_index``:
        which of ``img_keys`` each belongs to)."""
        if self.bank is None:
            raise RuntimeError("FBOHead.sample needs a feature bank")
        feats = [self.bank.sample(img_keys[int(i)], generator) for i in batch_index]
        return torch.stack(feats).transpose(1, 2)[..., None, None]

    def forward(self, x: Tensor, lt_feat: Tensor) -> Tensor:
        st = x.mean(2, keepdim=True) if self.temporal_pool_type == "avg" else x.amax(2, True)
        if self.spatial_pool_type == "max":
            st = st.amax((3, 4), keepdim=True)
        else:
            st = st.mean((3, 4), keepdim=True)
        return torch.cat([st, self.fbo(st, lt_feat.to(st))], dim=1)
