"""Pose pickles: read as data (a pickle that names code is refused), split selection,
and every kind of bad sample named by file, sample and key."""

import os
import pickle

import numpy as np
import pytest
import torch

from actionkit.data.pose import load_pickle, load_pose_annotations
from actionkit.errors import DataError


def _sample(name: str, label: int = 1, m: int = 2, t: int = 5, v: int = 17) -> dict:
    rng = np.random.default_rng(len(name))
    return {
        "frame_dir": name,
        "total_frames": t,
        "label": label,
        "img_shape": (480, 640),
        "original_shape": (480, 640),
        "keypoint": rng.random((m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.random((m, t, v)).astype(np.float32),
    }


def _write(path, obj):
    path.write_bytes(pickle.dumps(obj))
    return path


def test_reads_splits_as_data(tmp_path):
    data = {"split": {"xsub_train": ["a", "b"], "xsub_val": ["c"]},
            "annotations": [_sample("a"), _sample("b", 0), _sample("c", 2)]}  # fmt: skip
    path = _write(tmp_path / "ntu.pkl", data)
    val = load_pose_annotations(path, "xsub_val", num_classes=3)
    assert [s["frame_dir"] for s in val] == ["c"]
    np.testing.assert_array_equal(val[0]["keypoint"], data["annotations"][2]["keypoint"])
    assert len(load_pose_annotations(path)) == 3
    assert len(load_pose_annotations(_write(tmp_path / "l.pkl", [_sample("x")]))) == 1  # 0.x
    with pytest.raises(DataError, match=r"no split 'xset_val' \(known: xsub_train, xsub_val\)"):
        load_pose_annotations(path, "xset_val")
    data["split"]["xsub_val"].append("zz")
    with pytest.raises(
        DataError, match="split 'xsub_val' names 1 samples that are not in annotations, e.g. 'zz'"
    ):  # noqa: E501
        load_pose_annotations(_write(tmp_path / "bad.pkl", data), "xsub_val")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_that_names_code_is_refused(tmp_path):
    path = _write(tmp_path / "evil.pkl", {"annotations": [_Evil()]})
    with pytest.raises(
        DataError, match=r"evil.pkl: refusing to unpickle posix\.system .*trust=True"
    ):
        load_pickle(path)
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps({"a": [1, 2, 3]})[:-5])
    with pytest.raises(DataError, match=r"cut\.pkl: not a pose pickle"):
        load_pickle(tmp_path / "cut.pkl")
    with pytest.raises(FileNotFoundError, match="no such pose file"):
        load_pickle(tmp_path / "none.pkl")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("label"), r"missing key 'label'"),
        (
            lambda s: s.update(keypoint=np.zeros((2, 5, 17))),
            r"keypoint must be numbers \[M, T, V, 2 or 3\]",
        ),
        (lambda s: s.update(total_frames=6), "total_frames 6 disagrees with keypoint's 5 frames"),
        (
            lambda s: s.update(keypoint_score=np.zeros((2, 5, 16))),
            r"keypoint_score has shape \(2, 5, 16\)",
        ),
        (lambda s: s["keypoint"].__setitem__((0, 0, 0, 0), np.nan), "keypoint holds NaN or inf"),
        (lambda s: s.update(label=7), "label 7 is out of range for 3 classes"),
        (
            lambda s: s.update(keypoint=np.zeros((2, 0, 17, 2)), total_frames=0),
            "keypoint has an empty axis",
        ),
    ],
)
def test_bad_samples_are_named(tmp_path, change, message):
    sample = _sample("a")
    change(sample)
    path = _write(tmp_path / "p.pkl", {"annotations": [sample]})
    with pytest.raises(DataError, match=r"p\.pkl: sample 'a': " + message):
        load_pose_annotations(path, num_classes=3)


def test_skip_invalid_leaves_bad_samples_out_and_counts_them(tmp_path, caplog):
    from actionkit.data.pose import PoseDataset
    from actionkit.data.pose_transforms import FormatGCNInput, PoseDecode
    from actionkit.data.sampling import UniformSampleFrames

    bad = _sample("bad")
    bad["keypoint"][0, 1, 2, 0] = np.inf
    path = _write(tmp_path / "p.pkl", {"annotations": [_sample("a"), bad, _sample("b")]})
    steps = [PoseDecode(), FormatGCNInput(2)]
    with pytest.raises(DataError, match="sample 'bad': keypoint holds NaN or inf"):
        PoseDataset(path, UniformSampleFrames(4), steps)
    with caplog.at_level("WARNING"):
        dataset = PoseDataset(path, UniformSampleFrames(4), steps, skip_invalid=True)
    assert [e.path for e in dataset.entries] == ["a", "b"]
    assert dataset.invalid == {"bad": 1}
    assert "skipping invalid sample" in caplog.text and "sample 'bad'" in caplog.text


def test_synthetic_skeletons_train_through_the_trainer(tmp_path):
    """The skeleton demo's config on a tiny generated set: PoseDataset, its pipeline and
    ST-GCN through actionkit-train and actionkit-test (learning is the demo's business)."""
    import json
    from pathlib import Path

    from actionkit.cli import test as test_cli
    from actionkit.cli import train
    from actionkit.data.pose import PoseDataset
    from actionkit.data.pose_transforms import (
        FormatGCNInput,
        GenSkeFeat,
        PoseDecode,
        PreNormalize2D,
    )
    from actionkit.data.sampling import UniformSampleFrames
    from actionkit.data.synthetic_pose import CLASSES, REVERSED

    config = Path(__file__).resolve().parents[1] / "configs" / "demo" / "stgcn_synthetic.yaml"
    tiny = [f"data.root={tmp_path / 'data'}", "data.synthetic_pose={train_per_class: 2, "
            "test_per_class: 1}", "model.args={base_channels: 8, layout: coco, in_channels: 6}",
            "schedule.epochs=1", "data.batch_size=8", "data.num_workers=0"]  # fmt: skip
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *tiny]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == len(CLASSES)
    out = tmp_path / "out"
    assert (
        test_cli.main(
            [str(config), str(tmp_path / "w" / "best.pth"), "--out", str(out), "--set", *tiny]
        )
        == 0
    )
    assert len(json.loads((out / "predictions.json").read_text())) == len(CLASSES)
    # the pairs are each other's frames reversed
    path = tmp_path / "data" / "synthetic_pose.pkl"
    samples = {s["frame_dir"]: s for s in load_pose_annotations(path)}
    for second, first in REVERSED.items():
        a, b = samples[f"{first}_0000"], samples[f"{second}_0000"]
        assert a["total_frames"] > 0 and b["label"] == CLASSES.index(second)
    steps = [PreNormalize2D(), GenSkeFeat("coco", ["j"]), PoseDecode(), FormatGCNInput(2)]
    dataset = PoseDataset(path, UniformSampleFrames(16), steps, "train", len(CLASSES), seed=3)
    item, again = dataset[(0, 5)], dataset[(0, 5)]
    assert item["inputs"].shape == (1, 2, 16, 17, 3) and torch.equal(
        item["inputs"], again["inputs"]
    )
    assert not torch.equal(item["inputs"], dataset[(1, 5)]["inputs"])  # another epoch, other frames
    # actionkit-infer on the pickle (every sample) and on one sample as COCO-results JSON:
    # the same scores as the API on the same sample
    import json as json_

    from actionkit.apis import inference_skeleton, init_recognizer
    from actionkit.cli import infer

    ckpt = str(tmp_path / "w" / "best.pth")
    out = tmp_path / "infer.json"
    assert infer.main([ckpt, str(path), "--out", str(out), "--top-k", "3"]) == 0
    rows = json_.loads(out.read_text())
    assert len(rows) == len(load_pose_annotations(path)) and len(rows[0]["top"]) == 3
    model = init_recognizer(None, ckpt)
    sample = load_pose_annotations(path)[0]
    result = inference_skeleton(model, sample)
    assert rows[0]["sample"] == sample["frame_dir"]
    assert rows[0]["top"][0] == [
        result.top_k(1)[0][0],
        pytest.approx(result.top_k(1)[0][1], abs=1e-6),
    ]
    detections = [
        {"image_id": t, "keypoints": np.concatenate([kp, sc[:, None]], 1).ravel().tolist()}
        for t in range(sample["total_frames"])
        for kp, sc in zip(sample["keypoint"][:, t], sample["keypoint_score"][:, t], strict=True)
    ]
    (tmp_path / "clip.json").write_text(json_.dumps(detections))
    json_out = tmp_path / "clip_result.json"
    args = [ckpt, str(tmp_path / "clip.json"), "--img-shape", "480", "640", "--out", str(json_out)]
    assert infer.main(args) == 0
    (row,) = json_.loads(json_out.read_text())
    assert row["top"][0][0] == rows[0]["top"][0][0]
    assert row["top"][0][1] == pytest.approx(rows[0]["top"][0][1], abs=1e-5)
    assert infer.main([ckpt, str(tmp_path / "clip.json")]) == 1  # no --img-shape: an error
