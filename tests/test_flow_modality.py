"""The flow modality: flow_x/flow_y JPEG pairs read as frames, MMAction2's stacked flow
layouts (fixture from MMAction2 1.2.0's own RawFrameDecode + CenterCrop + FormatShape:
dev/mmaction_flow_fixtures.py), the x flow inverted in mirrored views, and a dataset."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actionkit.data import transforms as T
from actionkit.data.datasets import RawframeDataset
from actionkit.data.decode import VideoReader
from actionkit.data.sampling import SampleFrames
from actionkit.errors import UsageError

FIXTURES = Path(__file__).parent / "fixtures" / "flow"


def fixture():
    return np.load(FIXTURES / "mmaction_flow.npz")


def flow_clip(indices) -> T.Clip:
    reader = VideoReader(FIXTURES / "clip", backend="rawframes", modality="flow",
                         filename_tmpl="flow_{}_{:05d}.jpg")  # fmt: skip
    frames = reader.get_frames(np.asarray(indices) - 1)
    return T.Clip(frames, num_clips=2, clip_len=5)


def grey(c: str, k: int) -> np.ndarray:
    return np.array(Image.open(FIXTURES / "clip" / f"flow_{c}_{k:05d}.jpg").convert("L"))


def test_frames_are_x_y_and_128():
    reader = VideoReader(FIXTURES / "clip", backend="rawframes", modality="flow",
                         filename_tmpl="flow_{}_{:05d}.jpg")  # fmt: skip
    assert len(reader) == 6
    frame = reader.get_frames([2])[0].numpy()
    assert frame.shape == (24, 32, 3)
    np.testing.assert_array_equal(frame[..., 0], grey("x", 3))
    np.testing.assert_array_equal(frame[..., 1], grey("y", 3))
    assert (frame[..., 2] == 128).all()


@pytest.mark.parametrize("fmt", ["NCHW", "NCTHW"])
def test_equals_mmaction2_stacked_flow(fmt):
    want = fixture()[fmt]
    clip = T.CenterCrop((28, 20))(flow_clip(fixture()["indices"]))
    shape = "NCHW_Flow" if fmt == "NCHW" else "NCTHW"
    got = T.FormatShape(shape, mean=(0, 0), std=(1, 1), flow=True)(clip)
    assert tuple(got.shape) == want.shape  # NCHW: [2 clips, 5 x (x, y), 20, 28]
    torch.testing.assert_close(got, torch.from_numpy(want), rtol=0, atol=0)


def test_normalised_and_mirrored():
    """A mirrored view: x flow inverted (255 - v) before normalising, y kept (MMAction2
    0.x's Flip for flow; 1.x inverts whole frames of the stacked layout, a left-over)."""
    indices = fixture()["indices"]
    plain = T.FormatShape("NCHW_Flow")(T.CenterCrop((28, 20))(flow_clip(indices)))
    mirrored = T.FormatShape("NCHW_Flow")(T.Flip(1.0)(T.CenterCrop((28, 20))(flow_clip(indices))))
    raw = torch.from_numpy(fixture()["NCHW"])
    torch.testing.assert_close(plain, (raw - 128) / 128, rtol=0, atol=1e-6)
    x, y = raw[:, 0::2].flip(-1), raw[:, 1::2].flip(-1)
    torch.testing.assert_close(mirrored[:, 0::2], (255 - x - 128) / 128, rtol=0, atol=1e-6)
    torch.testing.assert_close(mirrored[:, 1::2], (y - 128) / 128, rtol=0, atol=1e-6)


def test_dataset_reads_flow(tmp_path):
    (tmp_path / "list.txt").write_text(f"{FIXTURES / 'clip'} 6 3\n")
    sampler = SampleFrames(clip_len=5, num_clips=1, test_mode=True)
    pipeline = T.Compose([T.CenterCrop(16), T.FormatShape("NCHW_Flow")])
    data = RawframeDataset(tmp_path / "list.txt", sampler, pipeline, modality="flow")
    sample = data[0]
    assert sample["label"] == 3 and tuple(sample["inputs"].shape) == (1, 10, 16, 16)
    first = (torch.from_numpy(grey("x", 1)[4:20, 8:24]).float() - 128) / 128
    torch.testing.assert_close(sample["inputs"][0, 0], first)


def test_bad_flow_template():
    with pytest.raises(UsageError, match="filename_tmpl for flow must have"):
        VideoReader(FIXTURES / "clip", backend="rawframes", modality="flow",
                    filename_tmpl="flow_x_{:05d}.jpg")  # fmt: skip
    with pytest.raises(ValueError, match="flow takes two mean and std values"):
        T.FormatShape("NCHW_Flow", mean=(1, 2, 3))(flow_clip(fixture()["indices"]))
