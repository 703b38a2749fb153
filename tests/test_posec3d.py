"""PoseC3D: the heatmap pipelines against MMAction2 1.2.0's (fixture
tests/fixtures/mmaction/posec3d_pipeline.pt from its own transforms), the dataset, and the
model (its logit parity is in test_models.py)."""

import copy
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import actionkit.models as models
from actionkit.data.pose_transforms import (
    COCO_LEFT_KP,
    COCO_RIGHT_KP,
    CenterCrop,
    Flip,
    FormatShape,
    GeneratePoseTarget,
    PoseCompact,
    PoseDecode,
    RandomResizedCrop,
    Resize,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "posec3d_pipeline.pt"
LIMBS = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
         [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]  # fmt: skip
GEOMETRY = {
    "test": lambda: [PoseDecode(), PoseCompact(hw_ratio=1.0), Resize((-1, 64)), CenterCrop(64)],
    "train": lambda: [
        PoseDecode(), PoseCompact(hw_ratio=1.0), Resize((-1, 64)),
        RandomResizedCrop((1.0, 1.0), (1.0, 1.0)), Resize((56, 56), keep_ratio=False),
        Flip(1.0, COCO_LEFT_KP, COCO_RIGHT_KP),
    ],
    "compact": lambda: [PoseDecode(), PoseCompact(padding=0.1, allow_imgpad=False)],
}  # fmt: skip
CASES = {
    "test_keypoint": ("test", dict(double=True)),
    "test_limb": ("test", dict(with_kp=False, with_limb=True, skeletons=LIMBS, double=True,
                               left_limb=(0, 2, 3, 6, 7, 8, 12, 14),
                               right_limb=(1, 4, 5, 9, 10, 11, 13, 15))),
    "train_keypoint": ("train", {}),
    "compact_no_pad": ("compact", None),
}  # fmt: skip


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE)


def run(fixture, geometry, clips):
    results = {
        "keypoint": fixture["sample"]["keypoint"].numpy().copy(),
        "keypoint_score": fixture["sample"]["keypoint_score"].numpy().copy(),
        "img_shape": (1080, 1920),
        "frame_inds": fixture["frame_inds"].numpy()[: 4 * clips],
        "clip_len": 4,
        "num_clips": clips,
    }
    rng = np.random.default_rng(0)
    for step in geometry:
        results = step(results, rng) if getattr(step, "needs_rng", False) else step(results)
    return results


@pytest.mark.parametrize("name", list(CASES))
def test_pipeline_equals_mmaction(fixture, name):
    case = next(c for c in fixture["cases"] if c["name"] == name)
    geometry, target = CASES[name]
    results = run(fixture, GEOMETRY[geometry](), case["clips"])
    assert results["img_shape"] == case["img_shape"]
    assert str(results["keypoint"].dtype) == case["keypoint_dtype"]  # NumPy's promotions too
    np.testing.assert_array_equal(results["keypoint"], case["keypoint"].numpy())
    if target is None:
        return
    results = FormatShape()(GeneratePoseTarget(**target)(results))
    want = np.frombuffer(zlib.decompress(case["imgs_zlib"]), np.float32).reshape(case["shape"])
    assert results["imgs"].shape == want.shape
    np.testing.assert_allclose(results["imgs"], want, rtol=0, atol=2e-7)
    assert want.max() > 0.5


def test_mirrored_copy_swaps_left_and_right():
    # one person, a left wrist only: the mirrored map holds it in the right wrist's channel
    kp = np.zeros((1, 2, 17, 2), np.float32)
    kp[0, :, 9] = (10.0, 20.0)
    score = np.zeros((1, 2, 17), np.float32)
    score[0, :, 9] = 1.0
    results = {"keypoint": kp, "keypoint_score": score, "img_shape": (32, 48), "clip_len": 2}
    imgs = FormatShape()(GeneratePoseTarget(double=True)(results))["imgs"]
    assert imgs.shape == (2, 17, 2, 32, 48)
    assert imgs[0, 9, 0, 20, 10] == 1.0 and not imgs[0, 10].any()
    assert imgs[1, 10, 0, 20, 48 - 1 - 10] == 1.0 and not imgs[1, 9].any()
    # with limbs appended, the limb channels swap too (MMAction2 merges them instead)
    both = GeneratePoseTarget(with_limb=True, double=True)
    order = both._swap(17)
    assert list(order[:17]) == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert order[17 + 0] == 17 + 1 and order[17 + 13] == 17 + 10  # default limb pairs


def test_random_steps_follow_the_sample_generator():
    kp = (np.random.default_rng(1).random((1, 4, 17, 2)) * 100).astype(np.float32)
    base = {"keypoint": kp, "img_shape": (100, 120)}
    crop = RandomResizedCrop((0.3, 0.5))
    a = crop(copy.deepcopy(base), np.random.default_rng(5))
    b = crop(copy.deepcopy(base), np.random.default_rng(5))
    np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    h, w = a["img_shape"]
    assert 0.3 * 12000 * 0.8 <= h * w <= 0.5 * 12000 * 1.2  # rounding of the side lengths
    flips = [Flip(0.5)(copy.deepcopy(base), np.random.default_rng(s))["flip"] for s in range(200)]
    assert 70 < sum(flips) < 130


def test_dataset_gives_heatmap_clips(tmp_path):
    from actionkit.data.pose import PoseDataset, save_pose_pickle
    from actionkit.data.sampling import UniformSampleFrames
    from actionkit.data.synthetic_pose import render_sample

    save_pose_pickle(
        tmp_path / "p.pkl",
        [{"frame_dir": "a", **render_sample("clap", 1)}, {"frame_dir": "b", **render_sample(0, 2)}],
        {"test": ["a", "b"]},
    )
    steps = [PoseDecode(), PoseCompact(hw_ratio=1.0), Resize((-1, 64)), CenterCrop(64),
             GeneratePoseTarget(double=True), FormatShape()]  # fmt: skip
    ds = PoseDataset(tmp_path / "p.pkl", UniformSampleFrames(12, 3, test_mode=True), steps, "test")
    item = ds[1]
    assert item["inputs"].shape == (6, 17, 12, 64, 64) and item["label"] == 0
    assert item["inputs"].amax() > 0.5
    model = models.create("posec3d_r50", num_classes=12).eval()
    with torch.no_grad():
        probs = model.predict(item["inputs"][None])
    assert probs.shape == (1, 12)
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0))


@pytest.mark.slow  # about 20 s
def test_onnx_export_runs_in_onnxruntime(tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from actionkit.models.export import export_onnx

    model = models.create("posec3d_r50", num_classes=5).eval()
    shape = (1, 1, 17, 8, 32, 32)
    export_onnx(model, torch.randn(shape), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for size in (shape, (2, 1, 17, 8, 32, 32), (1, 1, 17, 16, 48, 48)):
        x = torch.randn(size)
        out = session.run(None, {"inputs": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x)
        assert abs(out - ref.numpy()).max() < 1e-4 * max(1.0, float(ref.abs().max())), size
