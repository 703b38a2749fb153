"""MMAction2 side of ``actionkit-bench skeleton``: run by the side venv's python (see
dev/PARITY.md), never imported by actionkit. One JSON command per line on stdin, one
JSON answer prefixed with ``MARK`` on stdout:

    {"cmd": "load", "sample": PATH}     the .npz sample (keypoint, keypoint_score)
    {"cmd": "step", "case": NAME}       one run of the case's transforms -> {"ms": ...}
    {"cmd": "quit"}

The cases are MMAction2 1.2.0's own transforms, configured as benchmarks/skeleton.py's.
"""

import json
import sys
import time

import mmaction
import numpy as np
from mmaction.datasets.transforms import (
    CenterCrop,
    FormatGCNInput,
    FormatShape,
    GeneratePoseTarget,
    GenSkeFeat,
    PoseCompact,
    PoseDecode,
    PreNormalize2D,
    RandomResizedCrop,
    Resize,
    UniformSampleFrames,
)
from mmengine.dataset import Compose

MARK = "@@actionkit "
LEFT, RIGHT = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]


def cases() -> dict:
    heat = {"img_shape": (56, 56)}
    return {
        "heatmaps_56": (Compose([GeneratePoseTarget(sigma=0.6)]), heat),
        "heatmaps_64_double": (
            Compose([GeneratePoseTarget(sigma=0.6, double=True, left_kp=LEFT, right_kp=RIGHT)]),
            {"img_shape": (64, 64)},
        ),
        "gcn_test": (
            Compose([PreNormalize2D(), GenSkeFeat(dataset="coco", feats=["j"]),
                     UniformSampleFrames(clip_len=100, num_clips=10, test_mode=True),
                     PoseDecode(), FormatGCNInput(num_person=2)]),
            {},
        ),
        "posec3d_train": (
            Compose([UniformSampleFrames(clip_len=48), PoseDecode(),
                     PoseCompact(hw_ratio=1.0, allow_imgpad=True), Resize(scale=(-1, 64)),
                     RandomResizedCrop(area_range=(0.56, 1.0)),
                     Resize(scale=(56, 56), keep_ratio=False),
                     GeneratePoseTarget(sigma=0.6), FormatShape(input_format="NCTHW_Heatmap")]),
            {},
        ),
        "posec3d_test": (
            Compose([UniformSampleFrames(clip_len=48, num_clips=10, test_mode=True),
                     PoseDecode(), PoseCompact(hw_ratio=1.0, allow_imgpad=True),
                     Resize(scale=(-1, 64)), CenterCrop(crop_size=64),
                     GeneratePoseTarget(sigma=0.6, double=True, left_kp=LEFT, right_kp=RIGHT),
                     FormatShape(input_format="NCTHW_Heatmap")]),
            {},
        ),
    }  # fmt: skip


def main() -> None:
    pipelines, sample = cases(), None
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "load":
                data = np.load(cmd["sample"])
                sample = {k: data[k] for k in data.files}
                reply = {"mmaction": mmaction.__version__}
            else:
                pipeline, extra = pipelines[cmd["case"]]
                if cmd["case"].startswith("heatmaps"):  # a decoded 48-frame clip, in pixels
                    results = {"keypoint": sample["heat_keypoint"].copy(),
                               "keypoint_score": sample["heat_score"].copy()}  # fmt: skip
                else:
                    results = {
                        "keypoint": sample["keypoint"].copy(),
                        "keypoint_score": sample["keypoint_score"].copy(),
                        "total_frames": int(sample["keypoint"].shape[1]),
                        "img_shape": (1080, 1920),
                        "modality": "Pose",
                    }
                results.update(extra)
                start = time.perf_counter()
                pipeline(results)
                reply = {"ms": (time.perf_counter() - start) * 1e3}
        except Exception as e:  # reported to the parent
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(MARK + json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
