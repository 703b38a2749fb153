"""Mixup and CutMix of training batches (actionkit.data.mix): what a blended batch is,
derived back from its labels, the box arithmetic by hand, determinism, the config."""

import pytest
import torch

from actionkit.config import ConfigError, load_config
from actionkit.data.mix import MixupCutmix, cutmix_box

from .engine_helpers import make_small_dataset, small_config


def _samples(batch=6, shape=(2, 3, 4, 8, 10), classes=6):
    gen = torch.Generator().manual_seed(0)
    return [
        {
            "inputs": torch.randn(shape, generator=gen),
            "label": torch.tensor(i % classes),
            "index": 10 + i,
        }
        for i in range(batch)
    ]


def _pairing(label: torch.Tensor, original: torch.Tensor):
    """lam and the partner of each sample, read back from mixed one-hot labels of
    distinct classes (a sample paired with itself keeps its one-hot label)."""
    own = label[torch.arange(len(original)), original]
    partner = [
        i if own[i] == 1 else int(row.clone().index_fill_(0, original[i], 0).argmax())
        for i, row in enumerate(label)
    ]
    return own[own < 1], partner


def test_mixup_blends_whole_clips_and_their_labels():
    samples = _samples()
    mix = MixupCutmix(6, mixup_alpha=0.8, cutmix_alpha=0.0, seed=3)
    out = mix(samples)
    x = torch.stack([s["inputs"] for s in samples])
    y = torch.tensor([int(s["label"]) for s in samples])
    assert out["label"].shape == (6, 6)
    torch.testing.assert_close(out["label"].sum(1), torch.ones(6))
    lam, partner = _pairing(out["label"], y)
    assert len(lam) and torch.allclose(lam, lam[0]) and 0 < lam[0] < 1  # one lam per batch
    lam = float(lam[0])
    assert sorted(partner) == list(range(6))  # a permutation pairs the samples
    expected = lam * x + (1 - lam) * x[partner]
    torch.testing.assert_close(out["inputs"], expected, rtol=0, atol=1e-6)
    assert torch.equal(out["index"], torch.arange(10, 16))
    # the same samples blend the same way (in any worker, after a resume) ...
    again = mix(samples)
    assert torch.equal(again["inputs"], out["inputs"]) and torch.equal(again["label"], out["label"])
    # ... another batch or seed otherwise
    other = MixupCutmix(6, mixup_alpha=0.8, cutmix_alpha=0.0, seed=4)(samples)
    assert not torch.equal(other["label"], out["label"])


def test_cutmix_pastes_one_box_into_every_frame_and_view():
    samples = _samples()
    out = MixupCutmix(6, mixup_alpha=0.0, cutmix_alpha=1.0, seed=1)(samples)
    x = torch.stack([s["inputs"] for s in samples])
    y = torch.tensor([int(s["label"]) for s in samples])
    changed = (out["inputs"] != x).any(0).any(0).any(0).any(0)  # [H, W]
    rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
    y1, y2, x1, x2 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    assert changed[y1:y2, x1:x2].all() and changed.sum() == (y2 - y1) * (x2 - x1)  # a box
    lam, partner = _pairing(out["label"], y)
    assert len(lam) and torch.allclose(
        lam, torch.full_like(lam, 1 - (y2 - y1) * (x2 - x1) / (8 * 10))
    )
    expected = x.clone()
    expected[..., y1:y2, x1:x2] = x[partner][..., y1:y2, x1:x2]
    assert torch.equal(out["inputs"], expected)


def test_cutmix_box_by_hand():
    class Fixed:  # the centre the box is drawn around
        def __init__(self, *values):
            self.values = list(values)

        def integers(self, n):
            return self.values.pop(0)

    # lam 0.64: a box of 0.6 of each side, 6 x 6 around (y 1, x 8), clipped at the edges
    box, lam = cutmix_box(10, 10, 0.64, Fixed(1, 8))
    assert box == (0, 4, 5, 10) and lam == pytest.approx(1 - 4 * 5 / 100)
    box, lam = cutmix_box(10, 10, 0.64, Fixed(5, 5))
    assert box == (2, 8, 2, 8) and lam == pytest.approx(0.64)


def test_both_on_switches_per_batch_and_prob_leaves_batches_unblended():
    samples = _samples()
    x = torch.stack([s["inputs"] for s in samples])
    kinds = set()
    for seed in range(20):
        out = MixupCutmix(6, seed=seed)(samples)
        changed = out["inputs"] != x
        kinds.add("cutmix" if bool(changed.sum() < changed.numel()) else "mixup")
    assert kinds == {"cutmix", "mixup"}
    plain = MixupCutmix(6, prob=0.0)(samples)
    assert torch.equal(plain["inputs"], x)
    assert torch.equal(plain["label"], torch.eye(6))


def test_bad_settings_are_errors(tmp_path):
    with pytest.raises(ValueError, match="not both 0"):
        MixupCutmix(5, mixup_alpha=0, cutmix_alpha=0)
    with pytest.raises(ValueError, match="cutmix_prob must be in"):
        MixupCutmix(5, cutmix_prob=2)
    root = make_small_dataset(tmp_path / "data")
    path = small_config(tmp_path, root)
    with pytest.raises(ConfigError, match=r"data.mix: prob must be in \[0, 1\], got 1.5"):
        load_config(path, ["data.mix={prob: 1.5}"])


def test_the_training_loader_blends(tmp_path):
    from actionkit.engine.builder import build_loader

    root = make_small_dataset(tmp_path / "data")
    cfg = load_config(
        small_config(tmp_path, root),
        ["data.mix={mixup_alpha: 0.4}", "data.num_workers=0", "train.seed=1"],
    )
    loader, sampler = build_loader(cfg, "train")
    sampler.set_epoch(0)
    batch = next(iter(loader))
    assert batch["label"].shape == (4, 3) and batch["label"].dtype == torch.float32
    torch.testing.assert_close(batch["label"].sum(1), torch.ones(4))
    # mixed (with this seed: a pair of equal classes or a sample with itself stays one-hot)
    assert (batch["label"] > 0).sum() > 4
    test_loader, _ = build_loader(cfg, "test")
    assert next(iter(test_loader))["label"].dim() == 1  # evaluation is never blended


def test_repeated_augmentation_gives_each_video_several_draws(tmp_path):
    from actionkit.engine.builder import build_loader

    root = make_small_dataset(tmp_path / "data")
    cfg = load_config(small_config(tmp_path, root), ["data.repeat_aug=3", "data.num_workers=0"])
    loader, sampler = build_loader(cfg, "train")
    sampler.set_epoch(0)
    batch = next(iter(loader))
    assert batch["inputs"].shape[0] == 12 and batch["label"].shape == (12,)  # 4 videos x 3
    index = batch["index"].view(4, 3)
    assert (index == index[:, :1]).all() and len(set(index[:, 0].tolist())) == 4
    assert (batch["label"].view(4, 3) == batch["label"].view(4, 3)[:, :1]).all()
    draws = batch["inputs"].view(4, 3, *batch["inputs"].shape[1:])
    assert not torch.equal(draws[:, 0], draws[:, 1])  # RandomResizedCrop drew anew
    # the same again (workers, resumes), and evaluation is one clip per video
    sampler.set_epoch(0)
    assert torch.equal(next(iter(loader))["inputs"], batch["inputs"])
    assert next(iter(build_loader(cfg, "test")[0]))["inputs"].shape[0] == 3
    mixed = load_config(small_config(tmp_path, root), ["data.repeat_aug=2", "data.mix={}"])
    loader, sampler = build_loader(mixed, "train")
    sampler.set_epoch(0)
    assert next(iter(loader))["label"].shape == (8, 3)
    with pytest.raises(ConfigError, match="data.repeat_aug: 0"):
        load_config(small_config(tmp_path, root), ["data.repeat_aug=0"])
