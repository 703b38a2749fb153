"""Records MMAction2 1.2.0's flow loading on a tiny flow folder, for
tests/test_flow_modality.py. Run in the MMAction2 side venv (dev/PARITY.md):

    /tmp/peersvenv/bin/python dev/mmaction_flow_fixtures.py

Writes tests/fixtures/flow/clip/flow_{x,y}_0000k.jpg (k = 1..6, grey JPEGs made from a
fixed random pattern, if absent) and tests/fixtures/flow/mmaction_flow.npz: the outputs
of MMAction2's RawFrameDecode(modality='Flow') + CenterCrop + FormatShape for
``NCHW`` (TSN's stacked flow) and ``NCTHW`` (I3D's) with the given frame indices."""

from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1] / "tests/fixtures/flow"
INDICES = [1, 2, 3, 4, 5, 2, 3, 4, 5, 6]  # 2 clips of 5 consecutive flows, 1-based


def make_inputs() -> Path:
    clip = ROOT / "clip"
    if clip.exists():
        return clip
    clip.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(1, 7):
        for c in "xy":
            v = rng.normal(128, 20, (24, 32)).clip(0, 255).astype(np.uint8)
            Image.fromarray(v).save(clip / f"flow_{c}_{k:05d}.jpg", quality=95)
    return clip


def main() -> None:
    clip = make_inputs()
    from mmaction.datasets.transforms import CenterCrop, FormatShape, RawFrameDecode

    out = {}
    for fmt in ("NCHW", "NCTHW"):
        results = {
            "frame_dir": str(clip),
            "total_frames": 6,
            "filename_tmpl": "flow_{}_{:05d}.jpg",
            "modality": "Flow",
            "offset": 0,
            "frame_inds": np.array(INDICES),
            "clip_len": 5,
            "num_clips": 2,
        }
        for t in (RawFrameDecode(), CenterCrop(crop_size=(28, 20)), FormatShape(fmt)):
            results = t(results)
        out[fmt] = np.asarray(results["imgs"], dtype=np.float32)
        print(fmt, out[fmt].shape)
    np.savez_compressed(ROOT / "mmaction_flow.npz", **out, indices=np.array(INDICES))


if __name__ == "__main__":
    main()
