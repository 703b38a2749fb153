"""Pose pickles: read as data (a pickle that names code is refused), split selection,
and every kind of bad sample named by file, sample and key."""

import os
import pickle

import numpy as np
import pytest

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
