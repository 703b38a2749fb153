"""Writes a timm parity fixture to tests/fixtures/timm/ (run it with a side venv's python
that has ``timm``; never imported by actionkit):

    python -m venv /tmp/timmvenv
    /tmp/timmvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm==1.0.31
    /tmp/timmvenv/bin/python dev/timm_fixtures.py

timm builds an image ViT-B/16 (full width, 2 of its 12 blocks, 64 x 64 images), loads
the deterministic weights of tests/parity_weights.py and records its pre-logits features
(the normalised class token) for a seeded batch of images: what TimeSformer initialised
from that state dict gives on one-frame clips. The fixture holds the key names, shapes,
the input shape and the features; the test rebuilds the weights.
"""

import sys
from pathlib import Path

import timm
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from parity_weights import make_input, make_state  # noqa: E402


def main() -> None:
    out_dir = ROOT / "tests" / "fixtures" / "timm"
    out_dir.mkdir(parents=True, exist_ok=True)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=64, patch_size=16, embed_dim=768, depth=2, num_heads=12, num_classes=7
    ).eval()
    shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    model.load_state_dict(make_state(shapes))
    shape = (2, 3, 64, 64)
    with torch.no_grad():
        features = model.forward_head(model.forward_features(make_input(shape)), pre_logits=True)
    torch.save(
        {
            "timm": timm.__version__,
            "shapes": shapes,
            "input_shape": shape,
            "features": features.clone(),  # (a view of all the tokens otherwise)
        },
        out_dir / "vit_b16.pt",
    )
    print("vit_b16", tuple(features.shape), f"{len(shapes)} tensors")


if __name__ == "__main__":
    main()
