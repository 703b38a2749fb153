"""actionkit-data extract-frames --flow tvl1: RGB frames and TV-L1 flow in one pass,
MMAction2's quantised flow_x/flow_y JPEGs or float16 flow.npy, resumable."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from actionkit.cli.data import main
from actionkit.data import tools
from actionkit.data.decode import VideoReader
from actionkit.data.encode import write_video
from actionkit.ops import optical_flow_tvl1, rgb_to_grey


@pytest.fixture(scope="module")
def panning(tmp_path_factory):
    """A 10-frame video panning across a smooth texture 2 pixels left per frame: the
    content moves right, flow (+2, 0)."""
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.uniform(0, 255, (1, 3, 80, 160)).astype(np.float32))
    texture = torch.nn.functional.avg_pool2d(noise, 7, 1, 3)
    texture = ((texture - texture.amin()) / (texture.amax() - texture.amin()) * 255)[0]
    frames = [texture[:, 8:72, 40 - 2 * t : 136 - 2 * t] for t in range(10)]
    clip = torch.stack(frames).permute(0, 2, 3, 1).round().to(torch.uint8).numpy()
    path = tmp_path_factory.mktemp("video") / "pan.mp4"
    write_video(path, clip, fps=10, codec="h264", crf=10)
    return path


def decoded_flow(video):
    grey = rgb_to_grey(VideoReader(video, backend="pyav").get_frames(range(10)))
    return optical_flow_tvl1(grey[:-1], grey[1:])


def test_flow_to_image_is_mmaction2s_quantisation():
    flow = torch.tensor([-25.0, -20.0, -1.0, 0.0, 1.0, 19.99, 20.0, 25.0])
    # MMAction2's flow_to_img: clip to +-20, + 20, * 255 / 40, astype(uint8) (truncation)
    want = [0, 0, 121, 127, 133, 254, 255, 255]
    assert tools.flow_to_image(flow, 20.0).tolist() == want
    assert tools.flow_to_image(torch.tensor([0.5]), 1.0).tolist() == [191]  # 1.5 * 127.5


def test_jpeg_flow_in_one_pass(panning, tmp_path, capsys):
    out = tmp_path / "pan"
    assert main(["extract-frames", str(panning), str(tmp_path), "--flow", "tvl1", "--quiet"]) == 0
    assert "(10 frames, 9 flows)" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())[1:]  # after .actionkit-frames.json
    assert names[:9] == [f"flow_x_{k:05d}.jpg" for k in range(1, 10)]
    assert names[9:18] == [f"flow_y_{k:05d}.jpg" for k in range(1, 10)]
    assert names[18:28] == [f"img_{k:05d}.jpg" for k in range(1, 11)]
    marker = json.loads((out / ".actionkit-frames.json").read_text())
    assert marker["frames"] == 10 and marker["flows"] == 9 and marker["bound"] == 20.0
    flow = decoded_flow(panning)
    assert (flow[:, 0, 8:-8, 8:-8].mean() - 2).abs() < 0.05
    assert flow[:, 1, 8:-8, 8:-8].abs().mean() < 0.05
    want = tools.flow_to_image(flow, 20.0).numpy().astype(np.int32)
    got = np.stack(
        [
            np.stack([np.asarray(Image.open(out / f"flow_{c}_{k:05d}.jpg")) for c in "xy"])
            for k in range(1, 10)
        ]
    ).astype(np.int32)
    # the quantised flow, through JPEG at quality 95 (a few grey levels at most)
    assert np.abs(got - want).mean() < 0.5 and np.abs(got - want).max() <= 8


def test_npy_flow_across_chunks_and_resume(panning, tmp_path):
    out = tmp_path / "pan"
    n = tools.extract_rawframes(panning, out, rgb=False, flow="tvl1", flow_format="npy", chunk=4)
    assert n == 10 and sorted(p.name for p in out.iterdir()) == [
        ".actionkit-frames.json",
        "flow.npy",
    ]
    stored = np.load(out / "flow.npy", mmap_mode="r")
    assert stored.shape == (9, 2, 64, 96) and stored.dtype == np.float16
    # pairs that straddle the 4-frame chunks equal one batch of all nine
    np.testing.assert_array_equal(stored, decoded_flow(panning).numpy().astype(np.float16))

    before = (out / "flow.npy").stat().st_mtime_ns
    kw = dict(rgb=False, flow="tvl1", flow_format="npy", resume=True)
    assert tools.extract_rawframes(panning, out, **kw) == 10  # complete: left alone
    assert (out / "flow.npy").stat().st_mtime_ns == before
    tools.extract_rawframes(panning, out, flow="tvl1", flow_format="npy", resume=True)
    assert (out / "img_00010.jpg").exists()  # other settings: made again, with the frames
    (out / ".actionkit-frames.json").unlink()  # an interrupted run leaves no marker
    tools.extract_rawframes(panning, out, flow="tvl1", flow_format="npy", resume=True)
    assert (out / "flow.npy").stat().st_mtime_ns != before


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(flow="farneback"), "the only method is 'tvl1'"),
        (dict(flow="tvl1", flow_format="png"), "flow_format: 'jpg' or 'npy'"),
        (dict(rgb=False), "nothing to extract"),
    ],
)
def test_bad_options(panning, tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        tools.extract_rawframes(panning, tmp_path / "x", **kw)
