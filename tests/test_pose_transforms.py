"""Skeleton pipelines equal to MMAction2 1.2.0's on seeded poses (fixture from its own
code): PreNormalize2D/3D, every GenSkeFeat stream, UniformSampleFrames in test mode,
PoseDecode and FormatGCNInput."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data.pose_transforms import (
    FormatGCNInput,
    GenSkeFeat,
    PoseDecode,
    PreNormalize2D,
    PreNormalize3D,
    SampleFrames,
)
from actionkit.data.sampling import UniformSampleFrames

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "pose_pipeline.pt"


def _as_numpy(sample: dict) -> dict:
    return {k: v.numpy() if torch.is_tensor(v) else v for k, v in sample.items()}


def test_pipelines_equal_mmaction2():
    fixture = torch.load(FIXTURE, weights_only=True)
    assert len(fixture["cases"]) == 8
    for case in fixture["cases"]:
        sample = copy.deepcopy(_as_numpy(fixture["samples"][case["sample"]]))
        pre = PreNormalize2D() if case["dataset"] == "coco" else PreNormalize3D()
        sampler = UniformSampleFrames(case["clip_len"], case["num_clips"], test_mode=True)
        steps = [pre, GenSkeFeat(case["dataset"], case["feats"]), SampleFrames(sampler),
                 PoseDecode(), FormatGCNInput(2)]  # fmt: skip
        for step in steps:
            sample = step(sample)
        expected = case["keypoint"].numpy()
        assert sample["keypoint"].shape == expected.shape, case["feats"]
        np.testing.assert_allclose(sample["keypoint"], expected, rtol=1e-6, atol=1e-6)


def test_format_and_feature_errors():
    sample = {"keypoint": np.ones((1, 4, 17, 3), np.float32), "num_clips": 1}
    looped = FormatGCNInput(3, mode="loop")(copy.deepcopy(sample))["keypoint"]
    assert looped.shape == (1, 3, 4, 17, 3) and (looped == 1).all()
    with pytest.raises(ValueError, match="feats are j, b, jm, bm"):
        GenSkeFeat("coco", ["x"])
    with pytest.raises(ValueError, match="do not split into 3 clips"):
        FormatGCNInput(2)({"keypoint": np.zeros((1, 4, 17, 3)), "num_clips": 3})
