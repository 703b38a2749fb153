"""NTU RGB+D .skeleton and keypoint JSON -> pose pickles, on tiny files in each published
format (tests/fixtures/pose)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from actionkit.cli.data import main as data_main
from actionkit.data.pose import PoseDataset, load_pose_annotations
from actionkit.data.pose_convert import (
    convert_keypoint_json,
    convert_ntu,
    ntu_keep_bodies,
    ntu_splits,
    read_keypoint_json,
    read_ntu_skeleton,
)
from actionkit.data.pose_transforms import (
    FormatGCNInput,
    GenSkeFeat,
    PoseDecode,
    PreNormalize3D,
)
from actionkit.data.sampling import UniformSampleFrames
from actionkit.errors import DataError

FIX = Path(__file__).parent / "fixtures" / "pose"
NTU = FIX / "S001C002P003R001A013.skeleton"


def expected_joints(t: int, b: int) -> np.ndarray:
    """The fixture's joints: body ``b`` at frame ``t`` (written by the rule in its
    generator: x = 0.01 j + b (+ 0.5 t for body 1), y = -0.02 j, z = 3 + 0.001 j)."""
    j = np.arange(25)
    return np.stack([0.01 * j + (0.5 * t if b == 1 else 0) + b, -0.02 * j, 3 + 0.001 * j], -1)


def test_read_ntu_skeleton_values():
    data = read_ntu_skeleton(NTU)
    assert data.shape == (4, 3, 25, 3)
    for t in range(3):
        np.testing.assert_allclose(data[0, t], expected_joints(t, 0), atol=5e-5)
    for t in range(2):
        np.testing.assert_allclose(data[1, t], expected_joints(t, 1), atol=5e-5)
    assert not data[1, 2].any() and not data[2:].any()  # absent bodies are zero


def test_ntu_keep_bodies_orders_by_motion():
    data = read_ntu_skeleton(NTU)
    kept = ntu_keep_bodies(data)
    # body 1 moves 0.5 in x between its two frames (std 0.25), body 0 stands still
    np.testing.assert_array_equal(kept[0], data[1])
    np.testing.assert_array_equal(kept[1], data[0])


def test_ntu_splits_follow_the_published_benchmarks():
    names = ["S001C002P003R001A013", "S001C001P001R001A001", "S018C003P045R002A090"]
    s60 = ntu_splits(names[:2], "ntu60")
    assert s60 == {
        "xsub_train": ["S001C001P001R001A001"],  # performer 1 trains, 3 does not
        "xsub_val": ["S001C002P003R001A013"],
        "xview_train": ["S001C002P003R001A013"],  # camera 2 trains, camera 1 does not
        "xview_val": ["S001C001P001R001A001"],
    }
    s120 = ntu_splits(names, "ntu120")
    assert s120["xsub_train"] == ["S001C001P001R001A001", "S018C003P045R002A090"]
    assert s120["xset_train"] == ["S018C003P045R002A090"]  # even setups train
    assert s120["xset_val"] == names[:2]


def test_convert_ntu_writes_a_loadable_pickle(tmp_path):
    src = tmp_path / "skeletons"
    src.mkdir()
    shutil.copy(NTU, src)
    out = tmp_path / "ntu60_3d.pkl"
    result = convert_ntu(src, out)
    assert result == {"samples": 1, "skipped": [], "ignored": 0, "dataset": "ntu60"}
    (sample,) = load_pose_annotations(out, split="xview_train")
    assert sample["frame_dir"] == "S001C002P003R001A013"
    assert sample["label"] == 12 and sample["total_frames"] == 3
    assert sample["keypoint"].shape == (2, 3, 25, 3) and "keypoint_score" not in sample
    np.testing.assert_allclose(sample["keypoint"][0, 1], expected_joints(1, 1), atol=5e-5)
    assert load_pose_annotations(out, split="xsub_val")[0]["frame_dir"] == sample["frame_dir"]
    # the 3D NTU pipeline reads it
    steps = [PreNormalize3D(), GenSkeFeat("nturgb+d", ["j"]), PoseDecode(), FormatGCNInput(2)]
    ds = PoseDataset(out, UniformSampleFrames(4, test_mode=True), steps, "xview_train")
    assert ds[(0, 0)]["inputs"].shape == (1, 2, 4, 25, 3)


def test_convert_ntu_errors_name_the_line(tmp_path):
    src = tmp_path / "skeletons"
    src.mkdir()
    shutil.copy(NTU, src)
    shutil.copy(FIX / "S002C001P004R002A050.skeleton.bad", src / "S002C001P004R002A050.skeleton")
    with pytest.raises(DataError, match=r"A050\.skeleton:119: frame 3, body 1, joint 5: "
                       r"expected 12 fields, got 11"):  # fmt: skip
        convert_ntu(src, tmp_path / "out.pkl")
    assert not (tmp_path / "out.pkl").exists()  # nothing half-written
    result = convert_ntu(src, tmp_path / "out.pkl", skip_invalid=True)
    assert result["samples"] == 1 and result["skipped"][0][0] == "S002C001P004R002A050"
    (tmp_path / "missing.txt").write_text("S002C001P004R002A050\n")
    result = convert_ntu(src, tmp_path / "out.pkl", ignore=tmp_path / "missing.txt")
    assert result["samples"] == 1 and result["ignored"] == 1 and not result["skipped"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("x\n", r":1: the frame count: 'x' is not an integer"),
        ("1\n1\n1 0 1 1 1 1 0 0 0 2\n24\n", r":4: frame 1, body 1: 24 joints"),
        ("2\n0\n", r"ends at line 2 where frame 2: the body count should follow"),
        ("1\n0\n0\n", r":3: text after the last of the 1 frames"),
        ("1\n1\n1 0 1\n", r":3: frame 1, body 1: the body info .*expected 10 fields, got 3"),
    ],
)
def test_read_ntu_skeleton_malformed(tmp_path, text, message):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_ntu_skeleton(path)


def test_convert_ntu_refuses_bad_names_and_empty_files(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "clip.skeleton").write_text("1\n0\n")
    with pytest.raises(DataError, match="clip: not an NTU RGB\\+D sample name"):
        convert_ntu(src, tmp_path / "o.pkl")
    (src / "clip.skeleton").unlink()
    (src / "S001C001P001R001A001.skeleton").write_text("1\n0\n")
    with pytest.raises(DataError, match="A001.skeleton: no body in any frame"):
        convert_ntu(src, tmp_path / "o.pkl")
    with pytest.raises(FileNotFoundError, match="nope: no such folder"):
        convert_ntu(tmp_path / "nope", tmp_path / "o.pkl")


def test_read_openpose_folder_orders_frames_and_people():
    got = read_keypoint_json(FIX / "openpose_clip")
    assert got["layout"] == "openpose" and got["total_frames"] == 2
    kp, score = got["keypoint"], got["keypoint_score"]
    assert kp.shape == (2, 2, 18, 2) and score.shape == (2, 2, 18)
    k = np.arange(18)
    # frame 2 comes before frame 10; in it the 0.9-confident person comes first
    np.testing.assert_array_equal(kp[0, 0], np.stack([100 + k, 200 + k], -1))
    np.testing.assert_array_equal(kp[1, 0], np.stack([10 + k, 20 + k], -1))
    np.testing.assert_array_equal(kp[0, 1], np.stack([50 + k, 100 + k], -1))
    assert not kp[1, 1].any() and not score[1, 1].any()  # one person in frame 10
    np.testing.assert_allclose(score[:, 0, 0], [0.9, 0.4])
    assert read_keypoint_json(FIX / "openpose_clip", max_person=1)["keypoint"].shape[0] == 1


def test_read_coco_results_and_mmpose():
    got = read_keypoint_json(FIX / "coco_results.json")
    k = np.arange(17)
    assert got["layout"] == "coco" and got["keypoint"].shape == (1, 2, 17, 2)
    np.testing.assert_array_equal(got["keypoint"][0, 0], np.stack([20 + k, 40 + k], -1))  # id 3
    np.testing.assert_allclose(got["keypoint_score"][0, :, 0], [0.6, 0.8])
    got = read_keypoint_json(FIX / "mmpose.json")
    assert got["keypoint"].shape == (1, 2, 17, 2) and got["total_frames"] == 2
    np.testing.assert_array_equal(got["keypoint"][0, 0], np.stack([k, 2 * k], -1))
    assert not got["keypoint"][0, 1].any()  # a frame without a person


@pytest.mark.parametrize(
    "doc, message",
    [
        ('{"people": 1}', "not a keypoint JSON"),
        ('[{"image_id": 1}]', r"\[0\]: missing key 'keypoints'"),
        ('[{"image_id": 1, "keypoints": [1, 2, 3, 4]}]', r"\[0\]: .*flat \[x, y, score"),
        ('[{"image_id": 1, "keypoints": [1, 2, 3]}]', r"\[0\]: 1 keypoints; 17 \(COCO\)"),
        ("[{", "not valid JSON"),
        ('{"instance_info": [{"instances": [{"keypoints": [[1, 2]]}]}]}',
         r"instance_info\[0\]\.instances\[0\]: missing key 'keypoint_scores'"),
    ],
)  # fmt: skip
def test_read_keypoint_json_malformed(tmp_path, doc, message):
    path = tmp_path / "v.json"
    path.write_text(doc)
    with pytest.raises(DataError, match=message):
        read_keypoint_json(path)


def test_convert_keypoint_json_and_cli(tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(FIX, root, ignore=shutil.ignore_patterns("*.skeleton*", "mmpose.json"))
    shutil.copy(FIX / "coco_results.json", root / "other.json")
    (tmp_path / "list.txt").write_text("coco_results.json 3 train\nother.json 1 test\n")
    out = tmp_path / "kp.pkl"
    rc = data_main(
        ["keypoints", str(tmp_path / "list.txt"), str(out), "--img-shape", "480", "640",
         "--root", str(root)]
    )  # fmt: skip
    assert rc == 0 and "wrote 2 coco samples" in capsys.readouterr().out
    (sample,) = load_pose_annotations(out, split="train")
    assert sample["frame_dir"] == "coco_results" and sample["label"] == 3
    assert sample["img_shape"] == (480, 640) and sample["keypoint"].shape == (1, 2, 17, 2)
    # layouts may not mix; a bad line names itself
    (tmp_path / "mixed.txt").write_text("coco_results.json 0\nopenpose_clip 1\n")
    with pytest.raises(DataError, match="mixes keypoint layouts"):
        convert_keypoint_json(tmp_path / "mixed.txt", out, (480, 640), root=root)
    (tmp_path / "bad.txt").write_text("coco_results.json zero\n")
    with pytest.raises(DataError, match=r"bad.txt:1: label 'zero' is not an integer"):
        convert_keypoint_json(tmp_path / "bad.txt", out, (480, 640), root=root)
    (tmp_path / "missing.txt").write_text("# header\nnope.json 0\n")
    with pytest.raises(FileNotFoundError, match=r"missing.txt:2: .*nope.json: no such"):
        convert_keypoint_json(tmp_path / "missing.txt", out, (480, 640), root=root)


def test_ntu_cli(tmp_path, capsys):
    src = tmp_path / "s"
    src.mkdir()
    shutil.copy(NTU, src)
    assert data_main(["ntu", str(src), str(tmp_path / "o.pkl"), "--dataset", "ntu120"]) == 0
    assert "wrote 1 ntu120 samples" in capsys.readouterr().out
    assert load_pose_annotations(tmp_path / "o.pkl", split="xset_val")
