"""VideoMAE pre-training (actionkit.models.videomae): tube masks, normalised-patch
targets against a loop written from the paper's definition, the encoder seeing only
the visible tokens, learning, the pre-trained encoder initialising a recognizer, and a
pre-training run through actionkit-train with its reconstruction-loss evaluation."""

import json

import numpy as np
import pytest
import torch

from actionkit import models
from actionkit.models.videomae import patch_targets, tube_mask

TINY = dict(
    img_size=32,
    num_frames=4,
    patch_size=8,
    embed_dims=32,
    depth=2,
    num_heads=2,
    decoder_dims=16,
    decoder_depth=1,
    decoder_heads=2,
)


def test_tube_masks_hide_the_same_positions_in_every_tubelet():
    gen = torch.Generator().manual_seed(0)
    mask = tube_mask(5, (3, 4, 5), 0.9, gen)
    assert mask.shape == (5, 60) and mask.dtype == torch.bool
    per_tubelet = mask.view(5, 3, 20)
    assert torch.equal(per_tubelet, per_tubelet[:, :1].expand(5, 3, 20))  # tubes
    assert (per_tubelet[:, 0].sum(1) == 18).all()  # round(0.9 * 20) hidden per tubelet
    assert len({tuple(m.tolist()) for m in per_tubelet[:, 0]}) > 1  # per sample
    again = tube_mask(5, (3, 4, 5), 0.9, torch.Generator().manual_seed(0))
    assert torch.equal(again, mask)
    with pytest.raises(ValueError, match="hides 20 of 20"):
        tube_mask(1, (1, 4, 5), 1.0)


def test_patch_targets_equal_a_loop_over_the_tubelets():
    gen = torch.Generator().manual_seed(0)
    clips = torch.randn(2, 3, 4, 8, 12, generator=gen, dtype=torch.float64)
    mean, std = (100.0, 110.0, 120.0), (50.0, 60.0, 70.0)
    out = patch_targets(clips, tubelet=2, patch=4, mean=mean, std=std)
    plain = patch_targets(clips, tubelet=2, patch=4, mean=mean, std=std, normalize=False)
    assert out.shape == (2, 2 * 2 * 3, 2 * 4 * 4 * 3)
    pixels = clips.numpy() * (np.array(std) / 255)[:, None, None, None]
    pixels = pixels + (np.array(mean) / 255)[:, None, None, None]
    for n in range(2):
        token = 0
        for t in range(2):  # tokens in (t, y, x) order, as the patch embedding flattens them
            for y in range(2):
                for x in range(3):
                    cube = pixels[n, :, 2 * t : 2 * t + 2, 4 * y : 4 * y + 4, 4 * x : 4 * x + 4]
                    values = cube.reshape(3, -1).T  # [(t, y, x) within the patch, channel]
                    norm = (values - values.mean(0)) / (values.std(0, ddof=1) + 1e-6)
                    np.testing.assert_allclose(out[n, token].numpy(), norm.reshape(-1), atol=1e-9)
                    np.testing.assert_allclose(plain[n, token].numpy(), values.reshape(-1))
                    token += 1


def test_the_encoder_sees_only_the_visible_tokens():
    model = models.create("videomae_pretrain_vit_s16", **TINY, mask_ratio=0.75).eval()
    seen = []
    model.backbone.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    clips = torch.randn(3, 3, 4, 32, 32)
    mask = tube_mask(3, (2, 4, 4), 0.75)
    with torch.no_grad():
        out = model(clips, mask)
    assert seen == [torch.Size([3, 2 * 4, 32])]  # 4 of 16 positions x 2 tubelets
    assert out.shape == (3, 2 * 12, 3 * 2 * 8 * 8)  # a prediction per hidden tubelet


def test_pretraining_learns_to_reconstruct():
    torch.manual_seed(0)
    model = models.create("videomae_pretrain_vit_s16", **TINY, mask_ratio=0.5)
    # smooth clips (a gradient whose direction varies per clip): hidden patches follow
    # from the visible ones
    y, x = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    angles = torch.rand(8) * 6.28
    clips = torch.cos(angles)[:, None, None] * x + torch.sin(angles)[:, None, None] * y
    inputs = clips[:, None, None, None].expand(8, 1, 3, 4, 32, 32).contiguous()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = model.loss({"inputs": inputs})["loss_recon"]
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[0] > 0.9  # normalised targets: predicting 0 scores about 1
    assert np.mean(losses[-5:]) < 0.5 * losses[0], losses[::10]


def test_the_pretrained_encoder_initialises_a_recognizer(tmp_path):
    pre = models.create("videomae_pretrain_vit_s16", **TINY)
    path = tmp_path / "pre.pth"
    torch.save(
        {"actionkit": "0", "arch": "videomae_pretrain_vit_s16", "model": pre.state_dict()}, path
    )
    encoder = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    model = models.create("vit_s16_videomaev2", num_classes=5, pretrained=str(path), **encoder)
    report = model.pretrained_report
    own = model.backbone.state_dict()
    for key, value in pre.backbone.state_dict().items():
        if key in own:
            assert torch.equal(own[key], value), key
    assert "blocks.1.attn.qkv.weight" in report.loaded
    assert {"fc_norm.weight", "fc_norm.bias"} <= set(report.initialised)
    assert any(k.startswith("decoder_blocks") for k in report.unused)
    assert "norm.weight" in report.unused  # the pre-training encoder's final norm


def test_pretraining_run_keeps_the_lowest_reconstruction_loss(tmp_path):
    from actionkit.cli.train import main

    config = tmp_path / "pre.yaml"
    config.write_text(
        f"""
model:
  name: videomae_pretrain_vit_s16
  args: {json.dumps({**TINY, "mask_ratio": 0.75})}
data:
  root: {tmp_path / "data"}
  data_prefix: videos
  synthetic: {{classes: [move_right, disc], videos_per_class: 6, val_per_class: 2,
               test_per_class: 0, num_frames: 8, size: [32, 32]}}
  train:
    sampler: {{type: SampleFrames, clip_len: 4, frame_interval: 2, num_clips: 1}}
    pipeline: [{{type: FormatShape, input_format: NCTHW}}]
  val:
    sampler: {{type: SampleFrames, clip_len: 4, frame_interval: 2, num_clips: 1, test_mode: true}}
    pipeline: [{{type: FormatShape, input_format: NCTHW}}]
  batch_size: 4
  test_batch_size: 2
  num_workers: 0
optim: {{type: adamw, lr: 0.003, weight_decay: 0.05}}
schedule: {{epochs: 3}}
train: {{eval_interval: 1, log_interval: 1, best_metric: recon_loss}}
"""
    )
    assert main([str(config), "--work-dir", str(tmp_path / "wd")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "wd" / "log.jsonl").read_text().splitlines()]
    val = {
        r["epoch"]: r["recon_loss"] for r in rows if r.get("split") == "val" and "recon_loss" in r
    }
    assert sorted(val) == [1, 2, 3]
    metrics = json.loads((tmp_path / "wd" / "metrics.json").read_text())
    best = min(val, key=val.get)
    assert metrics["best_val"] == {"metric": "recon_loss", "value": val[best], "epoch": best}
    assert metrics["recon_loss"] == pytest.approx(val[3])  # the same masks every time
