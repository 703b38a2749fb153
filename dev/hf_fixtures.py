"""Writes Hugging Face ``transformers`` parity fixtures to tests/fixtures/hf/ (run it
with a side venv's python that has ``transformers``; never imported by actionkit):

    python -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install torch==2.13.0 transformers==4.57.1
    /tmp/hfvenv/bin/python dev/hf_fixtures.py

For each model: ``transformers`` builds the video classifier from a small config (full
width, fewer layers, small frames), loads deterministic weights from tests/parity_weights.py
and records its logits for a seeded input. The fixture holds the config, key names,
shapes, the input shape and the logits; the test rebuilds the weights.
"""

import sys
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from parity_weights import make_input, make_state  # noqa: E402

NUM_CLASSES = 7
# name -> (model class, config class, config, input [B, 3, T, H, W])
MODELS = {
    # VideoMAE ViT-B/16 as MCG-NJU/videomae-base-finetuned-kinetics is configured, with 4
    # of its 12 blocks (identical blocks), on 4 frames of 64 x 64
    "videomae_base": (
        "VideoMAEForVideoClassification",
        "VideoMAEConfig",
        dict(image_size=64, num_frames=4, num_hidden_layers=4, use_mean_pooling=True),
        (2, 3, 4, 64, 64),
    ),
    # TimeSformer-B/16 (facebook/timesformer-base-finetuned-k400's configuration: divided
    # space-time attention), 4 of its 12 blocks, 4 frames of 64 x 64
    "timesformer_base": (
        "TimesformerForVideoClassification",
        "TimesformerConfig",
        dict(image_size=64, num_frames=4, num_hidden_layers=4),
        (2, 3, 4, 64, 64),
    ),
}


def main() -> None:
    out_dir = ROOT / "tests" / "fixtures" / "hf"
    out_dir.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[1:])
    for name, (model_cls, config_cls, options, shape) in MODELS.items():
        if only and name not in only:
            continue
        config = getattr(transformers, config_cls)(num_labels=NUM_CLASSES, **options)
        model = getattr(transformers, model_cls)(config).eval()
        shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        model.load_state_dict(make_state(shapes))
        x = make_input(shape)
        with torch.no_grad():  # transformers takes [B, T, 3, H, W]
            logits = model(pixel_values=x.transpose(1, 2)).logits
        torch.save(
            {
                "transformers": transformers.__version__,
                "config": config.to_dict(),
                "shapes": shapes,
                "input_shape": shape,
                "num_classes": NUM_CLASSES,
                "logits": logits,
            },
            out_dir / f"{name}.pt",
        )
        print(name, tuple(logits.shape), f"|logits| max {logits.abs().max():.3f}")


if __name__ == "__main__":
    main()
