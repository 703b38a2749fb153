"""Skeletons from a raw video: keypoints per frame into a pose sample
(``actionkit.pose_estimation``) and ``actionkit-infer`` on a video with torchvision's
Keypoint R-CNN (random weights: the plumbing) or a stand-in estimator (the content)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.apis import inference_skeleton, init_recognizer
from actionkit.cli import infer, train
from actionkit.data.encode import write_video
from actionkit.data.pose import load_pose_samples
from actionkit.errors import DataError, UsageError
from actionkit.pose_estimation import estimate_video_poses

ROOT = Path(__file__).resolve().parents[1]
H, W, T = 48, 64, 10


def _person(x0: float, y0: float, score: float) -> tuple[np.ndarray, np.ndarray]:
    """A COCO-17 person: keypoints on a 4-pixel grid from (x0, y0), all with ``score``."""
    kp = np.stack([x0 + 4 * (np.arange(17) % 4), y0 + 4 * (np.arange(17) // 4)], 1)
    return kp.astype(np.float32), np.full(17, score, np.float32)


def _frame_index(frame: np.ndarray) -> int:
    """The test video's frame t is grey ``10 + 20 t``."""
    return round((float(frame.mean()) - 10) / 20)


class FakeEstimator:
    """Frame t (read from its grey level): nobody if t == 3; else a weak person at (4, 4)
    and, on even frames, a confident one at (30, 20); counts the frames it is given."""

    det_score = 0.5

    def __init__(self, *args, **kwargs):
        self.frames = 0

    def __call__(self, frames):
        out = []
        for frame in frames:
            t = _frame_index(frame)
            self.frames += 1
            people = [] if t == 3 else [_person(4, 4, 0.3)]
            if t % 2 == 0 and t != 3:
                people.append(_person(30, 20, 0.9))
            kp = np.stack([p[0] for p in people]) if people else np.zeros((0, 17, 2), np.float32)
            sc = np.stack([p[1] for p in people]) if people else np.zeros((0, 17), np.float32)
            out.append((kp, sc))
        return out


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    frames = np.repeat(10 + 20 * np.arange(T, dtype=np.uint8), H * W * 3).reshape(T, H, W, 3)
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames, fps=10)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The skeleton demo's ST-GCN (COCO-17), one epoch on a tiny generated set."""
    tmp = tmp_path_factory.mktemp("stgcn")
    config = ROOT / "configs" / "demo" / "stgcn_synthetic.yaml"
    tiny = [f"data.root={tmp / 'data'}", "data.synthetic_pose={train_per_class: 1, "
            "test_per_class: 1}", "model.args={base_channels: 8, layout: coco, in_channels: 6}",
            "schedule.epochs=1", "data.batch_size=8", "data.num_workers=0"]  # fmt: skip
    assert train.main([str(config), "--work-dir", str(tmp / "w"), "--set", *tiny]) == 0
    return tmp / "w" / "best.pth"


def test_video_poses_become_a_pose_sample(video):
    estimator = FakeEstimator()
    sample = estimate_video_poses(video, estimator, batch=4)
    assert estimator.frames == T  # every frame, in batches of 4
    assert sample["frame_dir"] == "clip" and sample["total_frames"] == T
    assert sample["img_shape"] == sample["original_shape"] == (H, W)
    kp, score = sample["keypoint"], sample["keypoint_score"]
    assert kp.shape == (2, T, 17, 2) and score.shape == (2, T, 17)
    assert kp.dtype == score.dtype == np.float32
    for t in range(T):
        if t == 3:  # nobody: zeros in both slots
            assert not kp[:, t].any() and not score[:, t].any()
        elif t % 2 == 0:  # the confident person first
            np.testing.assert_array_equal(kp[0, t], _person(30, 20, 0.9)[0])
            np.testing.assert_array_equal(kp[1, t], _person(4, 4, 0.3)[0])
            assert score[0, t, 0] == np.float32(0.9) and score[1, t, 0] == np.float32(0.3)
        else:  # one person: slot 0, slot 1 empty
            np.testing.assert_array_equal(kp[0, t], _person(4, 4, 0.3)[0])
            assert not kp[1, t].any() and not score[1, t].any()
    one = estimate_video_poses(video, FakeEstimator(), max_person=1)
    np.testing.assert_array_equal(one["keypoint"][0], kp[0])
    # every third frame: frames 0, 3, 6, 9
    third = estimate_video_poses(video, FakeEstimator(), stride=3)
    assert third["total_frames"] == 4
    np.testing.assert_array_equal(third["keypoint"], kp[:, ::3])
    np.testing.assert_array_equal(third["keypoint_score"], score[:, ::3])
    with pytest.raises(UsageError, match="stride and batch must be at least 1, got 0 and 4"):
        estimate_video_poses(video, FakeEstimator(), stride=0)

    class Nobody(FakeEstimator):
        def __call__(self, frames):
            return [(np.zeros((0, 17, 2)), np.zeros((0, 17)))] * len(frames)

    with pytest.raises(DataError, match=r"clip.mp4: no person detected with a box score >= 0.5 "):
        estimate_video_poses(video, Nobody())


def test_infer_on_a_video_draws_the_skeletons(video, checkpoint, tmp_path, monkeypatch, capsys):
    import actionkit.pose_estimation as pose_estimation

    monkeypatch.setattr(pose_estimation, "KeypointRCNN", FakeEstimator)
    (tmp_path / "w.pth").write_bytes(b"unused by the stand-in")
    out, poses = tmp_path / "overlay.gif", tmp_path / "poses.pkl"
    args = [str(checkpoint), str(video), "--pose-weights", str(tmp_path / "w.pth"),
            "--out", str(out), "--save-poses", str(poses), "--top-k", "2"]  # fmt: skip
    assert infer.main(args) == 0
    printed = capsys.readouterr().out
    assert f"{video}: {T} frames, up to 2 people per frame" in printed
    # the saved keypoints are the estimate, and classify as the video did
    (sample,) = load_pose_samples(poses)
    expected = estimate_video_poses(video, FakeEstimator())
    np.testing.assert_array_equal(sample["keypoint"], expected["keypoint"])
    result = inference_skeleton(init_recognizer(None, str(checkpoint)), sample)
    (label, score), _ = result.top_k(2)
    assert f"clip: {label} {score:.4f}" in printed
    # the overlay (a GIF: exact colours), upscaled to a 256-pixel short side: joints red
    # and limbs green where the keypoints are
    from PIL import Image, ImageSequence

    frames = np.stack(
        [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(out))]
    )
    scale = 256 / H
    assert frames.shape == (T, 256, round(W * scale / 2) * 2, 3)
    x, y = (np.array([30.0, 20.0]) * scale).round().astype(int)  # nose of the confident one
    red = frames[0, y - 1 : y + 2, x - 1 : x + 2].astype(int)
    assert (red[..., 0] > 150).all() and (red[..., 1] < 100).all()
    # the limb between joints 11 and 13 (left hip, left knee): (42, 28) -> (34, 32)
    mid = (np.array([38.0, 30.0]) * scale).round().astype(int)
    green = (frames[0, ..., 1] > 150) & (frames[0, ..., 0] < 100)
    assert green[mid[1] - 1 : mid[1] + 2, mid[0] - 1 : mid[0] + 2].any()
    assert not green[:, 250:].any()  # nothing right of the people
    assert not ((frames[3, ..., 1] > 150) & (frames[3, ..., 0] < 100)).any()  # nobody drawn
    # --pose-stride 2: frame 3 shows frame 2's poses (confident person included)
    assert infer.main([*args, "--pose-stride", "2"]) == 0
    assert f"{video}: 5 frames, up to 2 people per frame" in capsys.readouterr().out
    frames = np.stack(
        [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(out))]
    )
    green = (frames[3, ..., 1] > 150) & (frames[3, ..., 0] < 100)
    assert green[mid[1] - 1 : mid[1] + 2, mid[0] - 1 : mid[0] + 2].any()
    # a JSON instead of a video
    assert infer.main([*args[:3], str(tmp_path / "w.pth"), "--out", str(tmp_path / "r.json")]) == 0
    (row,) = json.loads((tmp_path / "r.json").read_text())
    assert row["sample"] == "clip" and row["top"][0][0] == label


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "a skeleton model reads keypoints: give --pose-weights"),
        (["--pose-weights", "W", "--out", "o.avi"], "or, for a video, an overlay .mp4 / .gif"),
        (["--pose-weights", "W", "--det-score", "1.5"], "det_score must be in [0, 1], got 1.5"),
        (["--pose-weights", "BAD"], "not keypointrcnn_resnet50_fpn weights"),
    ],
)
def test_infer_on_a_video_bad_input(video, checkpoint, tmp_path, capsys, extra, message):
    if "BAD" in extra:
        pytest.importorskip("torchvision")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    torch.save({}, tmp_path / "w.pth")
    names = {"W": str(tmp_path / "w.pth"), "BAD": str(tmp_path / "bad.pth")}
    extra = [names.get(a, a) for a in extra]
    assert infer.main([str(checkpoint), str(video), *extra]) == 1
    assert message in capsys.readouterr().err


def test_keypoint_rcnn_with_random_weights_runs_end_to_end(checkpoint, tmp_path, capsys):
    # torchvision's model with random weights, from a file as a user's would be: the
    # detector, the keypoints, the pickle and the overlay all run (content: the test above)
    pytest.importorskip("torchvision")
    from torchvision.models.detection import keypointrcnn_resnet50_fpn

    torch.manual_seed(0)
    net = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2)
    torch.save({k: v.half() for k, v in net.state_dict().items()}, tmp_path / "krcnn.pth")
    frames = np.random.default_rng(0).integers(0, 256, (3, H, W, 3), dtype=np.uint8)
    video = write_video(tmp_path / "clip.mp4", frames, fps=10)
    out, poses = tmp_path / "overlay.mp4", tmp_path / "poses.pkl"
    args = [str(checkpoint), str(video), "--pose-weights", str(tmp_path / "krcnn.pth"),
            "--det-score", "0", "--pose-min-size", "64", "--out", str(out),
            "--save-poses", str(poses)]  # fmt: skip
    assert infer.main(args) == 0, capsys.readouterr().err
    (sample,) = load_pose_samples(poses)
    assert sample["keypoint"].shape[1:] == (3, 17, 2) and sample["keypoint"].shape[0] >= 1
    assert sample["img_shape"] == (H, W)
    score = sample["keypoint_score"]
    assert ((score >= 0) & (score <= 1)).all() and (score > 0).any()  # sigmoids, 0: nobody
    assert out.stat().st_size > 0


def test_keypoint_rcnn_without_torchvision_says_what_to_install(tmp_path, monkeypatch):
    import sys

    from actionkit.pose_estimation import KeypointRCNN

    monkeypatch.setitem(sys.modules, "torchvision.models.detection", None)
    torch.save({}, tmp_path / "w.pth")
    with pytest.raises(UsageError, match=r"needs torchvision: pip install 'actionkit\[pose\]'"):
        KeypointRCNN(tmp_path / "w.pth")
