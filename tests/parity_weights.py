"""Deterministic weights for the MMAction2 parity fixtures, from NumPy's seeded PCG64
(stable across NumPy and torch versions), so a fixture stores only key names, shapes,
the input seed and the logits. Imported by the tests and by dev/mmaction_fixtures.py
(run in the MMAction2 side venv)."""

import numpy as np
import torch


def make_state(shapes: list[tuple[str, tuple[int, ...]]], seed: int = 0) -> dict:
    """Weights scaled so activations stay O(1) through a random deep network in eval mode."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in shapes:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
            continue
        z = rng.standard_normal(shape)
        if key.endswith("running_var"):
            value = 1 + 0.1 * np.abs(z)
        elif key.endswith(("running_mean", "bias")) or len(shape) == 1 and "bn" in key:
            value = (1.0 if key.endswith("weight") else 0.0) + 0.1 * z
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            value = z / np.sqrt(fan_in)
        state[key] = torch.from_numpy(value.astype(np.float32))
    return state


def make_input(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def probe(key: str, tensor: torch.Tensor) -> float:
    """A random projection of ``tensor`` (float64, seeded by ``key``): pins every entry
    of a large tensor in one number, so a fixture needs no copy of the weights."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(key.encode()))
    values = tensor.detach().double().numpy()
    return float((values * rng.standard_normal(values.shape)).sum())


def make_sound(samples: int, channels: int = 1, seed: int = 0, amplitude: float = 0.3):
    """int16 ``[samples, channels]`` PCM: three tones of seeded frequencies and phases
    plus white noise, at about ``amplitude`` of full scale (what the audio feature
    fixtures are computed on)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples)[:, None] / 16000.0
    freqs = rng.uniform(150, 6000, (3, channels))
    phases = rng.uniform(0, 2 * np.pi, (3, channels))
    wave = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases, strict=True)) / 3
    wave = wave + 0.3 * rng.standard_normal((samples, channels))
    return np.clip(np.round(amplitude * wave * 32767), -32768, 32767).astype(np.int16)
