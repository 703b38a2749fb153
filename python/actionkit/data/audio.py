"""Audio: the soundtrack of a video as log-mel spectrogram features, the features as a
dataset (MMAction2's audio recognizers' input).

The features are MMAction2's (``tools/data/build_audio_features.py``, the one its
Kinetics audio configs were trained on): the track decoded, averaged over channels and
resampled to 16 kHz; scaled to an RMS of 0.1; a short-time Fourier transform with the
``lws`` package's conventions (512-sample frames every 256 samples — 16 ms — under the
square root of a Hann window made exact for reconstruction, the signal padded so that it
starts at a frame start); magnitudes onto 80 mel bands from 125 to 7600 Hz (librosa's
Slaney filterbank); decibels (floor -100 dB, reference 20 dB) mapped to ``[0, 1]``. One
row per 16 ms: ``[T, 80]`` float32, written as ``.npy``.

Equal to MMAction2's features to float32 rounding when the track is 16 kHz; other rates
are resampled by FFmpeg's swresample here, by resampy there (their filters differ
slightly).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..errors import DataError
from .decode import DecodeError

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class MelSettings:
    """MMAction2's feature settings (``AudioTools(fft_size=512, hop_size=256)``)."""

    sample_rate: int = SAMPLE_RATE
    fft_size: int = 512
    hop_size: int = 256
    num_mels: int = 80
    fmin: float = 125.0
    fmax: float = 7600.0
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    target_rms: float = 0.1


class NoAudioError(DataError):
    """A video without an audio track."""


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The first audio track of ``path`` as float32 mono samples at ``sample_rate``: the
    channels averaged (as librosa's ``to_mono``), then resampled by FFmpeg's swresample
    where the track has another rate. Raises ``NoAudioError`` for a file without audio,
    ``DecodeError`` (naming the file) for one that cannot be decoded."""
    try:
        import av
    except ImportError as e:
        raise ImportError("reading audio needs PyAV: pip install av") from e
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise NoAudioError(f"{path}: no audio track")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            chunks = []
            for frame in container.decode(stream):
                samples = frame.to_ndarray()
                if frame.format.is_planar:  # [channels, n]
                    chunks.append(samples.astype(np.float32, copy=False))
                else:  # interleaved: [1, n * channels]
                    channels = len(frame.layout.channels)
                    chunks.append(samples.reshape(-1, channels).T.astype(np.float32, copy=False))
                if frame.format.name.startswith("s16"):
                    chunks[-1] = chunks[-1] / np.float32(32768)
                elif frame.format.name.startswith("s32"):
                    chunks[-1] = chunks[-1] / np.float32(2**31)
                elif not frame.format.name.startswith(("flt", "dbl")):
                    raise DecodeError(f"{path}: audio sample format {frame.format.name}")
    except (NoAudioError, DecodeError):
        raise
    except (av.error.FFmpegError, ValueError) as e:
        raise DecodeError(f"{path}: cannot decode its audio: {e}") from e
    if not chunks:
        raise NoAudioError(f"{path}: the audio track holds no samples")
    mono = np.concatenate(chunks, axis=1).mean(axis=0, dtype=np.float32)
    return mono if rate == sample_rate else resample(mono, rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """float32 mono ``samples`` from ``rate`` to ``target`` Hz with FFmpeg's swresample
    (through PyAV), the filter's delay flushed."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(
        samples[None].astype(np.float32), format="flt", layout="mono"
    )
    frame.sample_rate = rate
    frame.pts = 0
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (math.log(6.4) / 27), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((math.log(6.4) / 27) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=8)
def mel_filterbank(
    sample_rate: int, fft_size: int, num_mels: int, fmin: float, fmax: float
) -> torch.Tensor:
    """``[num_mels, fft_size // 2 + 1]`` triangular filters with Slaney's area
    normalisation, as librosa's ``filters.mel`` (norm="slaney", float32 weights)."""
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got {fmin}, {fmax}")
    freqs = np.linspace(0, sample_rate / 2, fft_size // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), num_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None].astype(np.float32)
    return torch.from_numpy(weights)


@lru_cache(maxsize=8)
def analysis_window(fft_size: int, hop_size: int) -> torch.Tensor:
    """lws's default analysis window (float64): the square root of a symmetric Hann
    window of half-sample offset, made exact for reconstruction at this hop."""
    n = np.arange(1, 2 * fft_size, 2)
    root = np.sqrt(0.5 * (1 - np.cos(2 * np.pi * n / (2 * fft_size))))
    q = -(-fft_size // hop_size)
    folded = np.pad(root * root, (0, q * hop_size - fft_size)).reshape(q, hop_size).sum(0)
    norm = np.tile(folded, q)[:fft_size]
    return torch.from_numpy(np.sqrt(root * (root / norm)))


def log_mel_spectrogram(samples: np.ndarray | torch.Tensor, settings: MelSettings = MelSettings()):
    """float32 ``[T, num_mels]`` features in ``[0, 1]`` of mono ``samples`` at
    ``settings.sample_rate`` (see the module docs), one row per ``hop_size`` samples."""
    s = settings
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32)).to(torch.float64)
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"samples must be a non-empty 1-D array, got shape {tuple(x.shape)}")
    # RMS normalisation (float32, as MMAction2 computes it on librosa's float32 samples)
    x32 = x.to(torch.float32)
    rms = max(1e-4, float(torch.sqrt((x32 * x32).mean())))
    x = (x32 * np.float32(s.target_rms / rms)).to(torch.float64)
    # lws's stft (perfectrec): the signal starts at a frame start, ends in a full frame
    n, hop, size = x.numel(), s.hop_size, s.fft_size
    pre = size - (size % hop or hop)
    post = (-n) % hop
    frames = (pre + n + post) // hop
    x = torch.nn.functional.pad(x, (pre, post + (frames - 1) * hop + size - (pre + n + post)))
    windows = x.unfold(0, size, hop)[:frames] * analysis_window(size, hop)
    magnitude = torch.fft.rfft(windows, dim=1).abs()  # [T, size / 2 + 1]
    mel = magnitude @ mel_filterbank(s.sample_rate, size, s.num_mels, s.fmin, s.fmax).double().T
    floor = 10.0 ** (s.min_level_db / 20)
    db = 20 * torch.log10(mel.clamp(min=floor)) - s.ref_level_db
    return ((db - s.min_level_db) / -s.min_level_db).clamp(0, 1).to(torch.float32).numpy()


def audio_features(path: str | os.PathLike, settings: MelSettings = MelSettings()) -> np.ndarray:
    """:func:`log_mel_spectrogram` of the audio track of ``path``."""
    return log_mel_spectrogram(load_audio(path, settings.sample_rate), settings)


def select_features(
    features: np.ndarray, frame_inds: np.ndarray, total_frames: int, fixed_length: int = 128
) -> np.ndarray:
    """MMAction2's ``AudioFeatureSelector``: per clip of video frame indices
    ``frame_inds [clips, clip_len]``, the feature rows over the same stretch of time
    (frame ``i`` of ``total_frames`` at row ``(i + 1) / total_frames * len(features)``,
    rounded), cut or zero-padded to ``fixed_length`` rows: ``[clips, fixed_length, F]``."""
    length = len(features)
    out = np.zeros((len(frame_inds), fixed_length, features.shape[1]), np.float32)
    for k, inds in enumerate(frame_inds):
        start = max(0, int(round((inds[0] + 1) / total_frames * length)))
        end = min(length, int(round((inds[-1] + 1) / total_frames * length)))
        rows = features[start:end][:fixed_length]
        out[k, : len(rows)] = rows
    return out


class AudioFeatureDataset(torch.utils.data.Dataset):
    """Audio features from a list of ``path total_frames label [label ...]`` lines
    (MMAction2's ``AudioDataset`` lists: ``total_frames`` is the video's frame count,
    which the frame sampler draws from). Each sample: the sampled clips' feature rows,
    ``inputs [clips, 1, fixed_length, num_mels]``.

    A listed feature file that is missing or unreadable is an error naming it and the
    list line (MMAction2 substitutes 10 s of zeros or noise); ``skip_invalid=True``
    skips such samples with a warning, as for videos.
    """

    kind = "audio"

    def __init__(
        self,
        ann_file: str | os.PathLike,
        sampler: Callable,
        data_prefix: str = "",
        fixed_length: int = 128,
        multi_class: bool = False,
        num_classes: int | None = None,
        skip_invalid: bool = False,
        max_retries: int = 10,
        seed: int = 0,
    ):
        from .datasets import check_labels, parse_list

        self.ann_file = os.fspath(ann_file)
        self.entries = parse_list(ann_file, "rawframes", data_prefix)
        self.sampler, self.fixed_length = sampler, fixed_length
        self.multi_class, self.num_classes = multi_class, num_classes
        self.skip_invalid, self.max_retries = skip_invalid, max_retries
        self.seed, self.epoch = seed, 0
        self.invalid: Counter[str] = Counter()  # path -> failures, in this process
        check_labels(self.entries, self.ann_file, multi_class, num_classes)
        for e in self.entries:
            if e.total_frames < 1:
                raise DataError(f"{self.ann_file}:{e.line}: total_frames must be positive")

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _features(self, entry) -> np.ndarray:
        where = f"(list {self.ann_file}, line {entry.line})"
        if not os.path.isfile(entry.path):
            raise DecodeError(f"{entry.path}: no such feature file {where}")
        try:
            features = np.load(entry.path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DecodeError(f"{entry.path}: not a .npy array: {e} {where}") from e
        if features.ndim != 2 or not len(features):
            raise DecodeError(f"{entry.path}: expected [T, mels] features, got {features.shape}")
        return features.astype(np.float32, copy=False)

    def load(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        from .datasets import label_tensor

        entry = self.entries[index]
        features = self._features(entry)
        inds = np.asarray(self.sampler(entry.total_frames, 0, rng, None), dtype=np.int64)
        clip_len = getattr(self.sampler, "clip_len", len(inds)) or len(inds)
        clips = select_features(
            features, inds.reshape(-1, clip_len), entry.total_frames, self.fixed_length
        )
        label = label_tensor(entry, self.multi_class, self.num_classes)
        return torch.from_numpy(clips).unsqueeze(1), label

    def __getitem__(self, index):
        from .datasets import load_with_retries

        return load_with_retries(self, index)


@dataclass
class ExtractResult:
    """What :func:`extract_audio_list` did: feature files written, found already there,
    videos without an audio track (left out of the list), and failures (path, reason)."""

    written: int = 0
    existing: int = 0
    no_audio: list[str] | None = None
    failed: list[tuple[str, str]] | None = None


def extract_audio_list(
    video_list: str | os.PathLike,
    out_dir: str | os.PathLike,
    out_list: str | os.PathLike,
    data_prefix: str | os.PathLike = "",
    settings: MelSettings = MelSettings(),
    log: Callable[[str], None] | None = None,
) -> ExtractResult:
    """The log-mel features of every video of ``video_list`` (``path label [label ...]``
    lines, paths under ``data_prefix``) as ``out_dir/<path without suffix>.npy``, and the
    audio list ``out_list`` (``<path>.npy total_frames label ...``, the videos' order;
    paths relative to ``out_dir``) that :class:`AudioFeatureDataset` reads.

    Resumable: a feature file already there is kept (only the video's frame count is
    read). Every file is written whole (a temporary name, then renamed). A video without
    an audio track is left out of the list and named in ``ExtractResult.no_audio`` (and
    in ``out_list`` + ``.no_audio.txt``); one that fails to decode in ``failed``; the
    list is still written, for the rest."""
    from pathlib import Path

    from ..engine.checkpoint import atomic_save_array, write_atomically
    from .datasets import parse_list
    from .decode import VideoReader

    out_dir = os.fspath(out_dir)
    result = ExtractResult(no_audio=[], failed=[])
    lines = []
    for entry in parse_list(video_list, "video"):
        video = os.path.join(os.fspath(data_prefix), entry.path)
        rel = os.path.splitext(entry.path)[0] + ".npy"
        target = os.path.join(out_dir, rel)
        try:
            with VideoReader(video, backend="pyav") as reader:
                total = len(reader)
            if os.path.isfile(target):
                result.existing += 1
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                atomic_save_array(target, audio_features(video, settings))
                result.written += 1
        except NoAudioError:
            result.no_audio.append(entry.path)
            continue
        except (DecodeError, FileNotFoundError) as e:
            result.failed.append((entry.path, str(e)))
            continue
        lines.append(" ".join([rel, str(total), *map(str, entry.labels)]))
        if log is not None:
            log(f"{video} -> {target}")
    text = "".join(line + "\n" for line in lines)
    write_atomically(Path(out_list), lambda tmp: tmp.write_text(text))
    missing = Path(os.fspath(out_list) + ".no_audio.txt")
    if result.no_audio:
        names = "".join(p + "\n" for p in result.no_audio)
        write_atomically(missing, lambda tmp: tmp.write_text(names))
    else:
        missing.unlink(missing_ok=True)
    return result
