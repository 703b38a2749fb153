"""GPU decoding and preprocessing (skipped without a GPU): DALI's NVDEC and torchcodec's
CUDA decoder return CUDA frames equal to the CPU decoders' within colour tolerance, and
the DALI loader feeds CUDA batches."""

import numpy as np
import pytest
import torch

from actionkit.data import encode, synthetic
from actionkit.data import transforms as T
from actionkit.data.datasets import VideoDataset
from actionkit.data.decode import VideoReader
from actionkit.data.sampling import SampleFrames

from .._installed import installed

pytestmark = pytest.mark.cuda
pytest.importorskip("av")


@pytest.fixture(scope="module")
def h264(tmp_path_factory):
    root = tmp_path_factory.mktemp("h264")
    return synthetic.make_dataset(
        root,
        ["move_left", "move_right"],
        videos_per_class=3,
        val_per_class=1,
        num_frames=40,
        size=(64, 96),
        gop=12,
    )


def files(data):
    return [
        data.root / "videos" / line.split()[0] for line in data.train_list.read_text().splitlines()
    ]


@pytest.mark.parametrize("backend", ["dali", "torchcodec"])
def test_gpu_decoders_return_exactly_the_frames_asked_for(tmp_path, backend):
    # Frame identity exactly (each frame shows its index in large blocks), not only
    # colours within a tolerance an off-by-one frame would also meet.
    if not installed({"dali": "nvidia.dali", "torchcodec": "torchcodec"}[backend]):
        pytest.skip(f"{backend} not installed")
    path = encode.write_video(tmp_path / "i.mp4", synthetic.index_clip(120), gop=50)
    gpu = VideoReader(path, backend=backend, device="cuda")
    assert len(gpu) == 120
    rng = np.random.default_rng(0)
    for indices in (np.arange(120), rng.integers(0, 120, size=60), np.array([119, 0, 60, 60])):
        frames = gpu.get_frames(indices)
        assert frames.is_cuda
        assert [synthetic.frame_index(f) for f in frames.cpu().numpy()] == list(indices)


@pytest.mark.parametrize("backend", ["dali", "torchcodec"])
def test_gpu_decoders_return_cuda_frames_like_the_cpu(h264, backend):
    if not installed({"dali": "nvidia.dali", "torchcodec": "torchcodec"}[backend]):
        pytest.skip(f"{backend} not installed")
    rng = np.random.default_rng(0)
    for path in files(h264):
        cpu = VideoReader(path, backend="pyav")
        gpu = VideoReader(path, backend=backend, device="cuda")
        assert len(gpu) == len(cpu) == 40
        indices = rng.integers(0, 40, size=30)
        frames = gpu.get_frames(indices)
        assert frames.is_cuda and frames.shape == (30, 64, 96, 3)
        diff = (frames.cpu().float() - cpu.get_frames(indices).float()).abs()
        assert diff.mean() < 4.0  # NVDEC's colour conversion differs slightly


def test_dali_loader_on_the_gpu(h264):
    if not installed("nvidia.dali"):
        pytest.skip("nvidia-dali not installed")
    from actionkit.data.dali_loader import DALIClipLoader

    pipeline = T.Compose(
        [
            T.RandomResizedCrop(),
            T.Resize((56, 56), keep_ratio=False),
            T.Flip(0.5),
            T.FormatShape("NCTHW", dtype=torch.bfloat16),
        ]
    )
    ds = VideoDataset(
        h264.train_list, SampleFrames(8, 2), pipeline, data_prefix=str(h264.root / "videos")
    )
    batches = list(DALIClipLoader(ds, batch_size=2, device="cuda"))
    assert len(batches) == 2
    for b in batches:
        assert b["inputs"].is_cuda and b["inputs"].shape == (2, 1, 3, 8, 56, 56)
        assert b["inputs"].dtype == torch.bfloat16 and b["label"].is_cuda
