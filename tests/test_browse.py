"""``actionkit-data browse`` and ``_ClipDataset.browse``: the views shown are exactly what
training feeds the model (same random draw, normalised by FormatShape's mean and std),
for 2D and 3D layouts with several views; pictures of the expected size; bad input named."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actionkit.cli.data import main
from actionkit.config import load_config
from actionkit.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from actionkit.engine.builder import build_dataset

from .engine_helpers import make_small_dataset, small_config
from .test_cli_engine import one_line_error


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_small_dataset(tmp_path_factory.mktemp("browse") / "data")


def _normalised(views: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (views - mean) / std


def test_2d_views_are_the_training_inputs(data, tmp_path):
    cfg = load_config(small_config(tmp_path, data))  # RandomResizedCrop, Resize 24, NCHW
    dataset = build_dataset(cfg, "train")
    for epoch, index in [(0, 0), (0, 3), (2, 3)]:
        shown = dataset.browse(index, epoch)
        views = shown["views"]
        assert views.shape == (1, 4, 3, 24, 24)  # 1 view of the 4 sampled frames
        assert shown["frames"].shape == (4, 32, 32, 3) and len(shown["indices"]) == 4
        inputs = dataset[(epoch, index)]["inputs"]  # [4, 3, 24, 24]
        torch.testing.assert_close(_normalised(views[0]), inputs, rtol=0, atol=2e-5)
    # another epoch draws another crop (the stream is the epoch's)
    assert not torch.equal(dataset.browse(3, 0)["views"], dataset.browse(3, 2)["views"])


def test_3d_multi_view_views_are_the_test_inputs(data, tmp_path):
    cfg = load_config(
        small_config(tmp_path, data),
        [
            "data.test.sampler={type: SampleFrames, clip_len: 4, num_clips: 2, test_mode: true}",
            "data.test.pipeline=[{type: Resize, scale: [40, 28], keep_ratio: false}, "
            "{type: ThreeCrop, crop_size: 28}, {type: FormatShape, input_format: NCTHW}]",
        ],
    )
    dataset = build_dataset(cfg, "test")
    shown = dataset.browse(1)
    views = shown["views"]
    assert views.shape == (3, 8, 3, 28, 28)  # 3 crops, each of the 2 x 4 frames
    inputs = dataset[(0, 1)]["inputs"]  # [3 crops * 2 clips, 3, 4, 28, 28]
    expected = _normalised(views.reshape(6, 4, 3, 28, 28)).transpose(1, 2)
    torch.testing.assert_close(expected, inputs, rtol=0, atol=2e-5)
    # the crops of the 40-pixel-wide frames: left (x 0-27), right (12-39), centre (6-33)
    # (each view is resampled from the source by the fused op, its edge columns from
    # inside its box: equal inside, up to rounding)
    torch.testing.assert_close(views[2][..., 1:21], views[0][..., 7:27], rtol=0, atol=0.5)
    torch.testing.assert_close(views[1][..., 1:21], views[2][..., 7:27], rtol=0, atol=0.5)
    assert not torch.equal(views[0], views[1])


def test_browse_cli_sheet_and_animation(data, tmp_path, capsys):
    config = str(small_config(tmp_path, data))
    png, gif = tmp_path / "b.png", tmp_path / "b.gif"
    assert main(["browse", config, "-n", "3", "--out", str(png), "--height", "40"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith(f"wrote {png} (3 samples of train")
    assert "-> 1 view(s) of 4 x 24x24" in lines[0]
    image = np.asarray(Image.open(png))
    # per sample: a caption (14) and two 40-pixel rows (source, view) 2 apart; 6 between
    assert image.shape[0] == 3 * (14 + 2 + 40 + 2 + 40) + 2 * 6
    assert image.shape[1] == 4 * 40 + 3 * 2  # 4 frames of 40x40 side by side
    assert main(["browse", config, "-n", "2", "--out", str(gif), "--split", "test"]) == 0
    anim = Image.open(gif)
    assert anim.n_frames >= 2  # (Pillow merges identical consecutive frames)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--out", "x.mp4"], "--out: x.mp4 must end in .png, .jpg or .gif"),
        (["-n", "0"], "-n and --frames must be at least 1"),
    ],
)
def test_browse_cli_bad_input(data, tmp_path, capsys, extra, message):
    config = str(small_config(tmp_path, data))
    assert main(["browse", config, "--out", str(tmp_path / "b.png"), *extra]) == 1
    assert message in one_line_error(capsys, "actionkit-data")
    assert not (tmp_path / "b.png").exists()


def test_browse_cli_refuses_what_is_not_a_clip(tmp_path, capsys):
    config = str(Path(__file__).parents[1] / "configs" / "demo" / "stgcn_synthetic.yaml")
    assert main(["browse", config, "--out", str(tmp_path / "b.png")]) == 1
    err = one_line_error(capsys, "actionkit-data")
    assert "browse draws video and rawframe clips; data.kind is pose" in err
