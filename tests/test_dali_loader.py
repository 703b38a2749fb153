"""The batch-level DALI loader on the CPU (VP9): the same samples as the dataset read
through the DALI backend, batched; bad files named or skipped."""

import pytest
import torch

from actionkit.data import synthetic
from actionkit.data import transforms as T
from actionkit.data.datasets import VideoDataset
from actionkit.data.decode import DecodeError
from actionkit.data.sampling import SampleFrames

from ._installed import installed

pytest.importorskip("av")
if not installed("nvidia.dali"):
    pytest.skip("nvidia-dali not installed", allow_module_level=True)

from actionkit.data.dali_loader import DALIClipLoader  # noqa: E402

PIPELINE = T.Compose(
    [
        T.RandomResizedCrop(),
        T.Resize((24, 24), keep_ratio=False),
        T.Flip(0.5),
        T.FormatShape("NCTHW"),
    ]
)


@pytest.fixture(scope="module")
def vp9(tmp_path_factory):
    root = tmp_path_factory.mktemp("vp9")
    return synthetic.make_dataset(
        root,
        ["rotate_cw", "rotate_ccw"],
        videos_per_class=3,
        val_per_class=1,
        num_frames=20,
        size=(32, 48),
        codec="vp9",
    )


def dataset(data, **kwargs):
    return VideoDataset(
        data.train_list,
        SampleFrames(clip_len=4, frame_interval=2, num_clips=1),
        PIPELINE,
        data_prefix=str(data.root / "videos"),
        backend="dali",
        seed=3,
        **kwargs,
    )


def test_batches_equal_the_dataset_samples(vp9):
    ds = dataset(vp9)
    loader = DALIClipLoader(ds, batch_size=2, device="cpu", shuffle=True, seed=1)
    assert len(loader) == 2
    seen = []
    for batch in loader:
        assert (
            batch["inputs"].shape == (2, 1, 3, 4, 24, 24) and batch["inputs"].dtype == torch.float32
        )
        for j, index in enumerate(batch["index"].tolist()):
            expected = ds[index]
            assert torch.equal(batch["inputs"][j], expected["inputs"])
            assert int(batch["label"][j]) == int(expected["label"])
            seen.append(index)
    assert sorted(seen) == [0, 1, 2, 3]
    # The order is a function of (seed, epoch): a second loader replays it.
    again = DALIClipLoader(ds, batch_size=2, device="cpu", shuffle=True, seed=1)
    assert [i for b in again for i in b["index"].tolist()] == seen


def test_bad_files_named_or_skipped(vp9, tmp_path):
    lst = tmp_path / "list.txt"
    good = vp9.train_list.read_text().splitlines()
    broken = tmp_path / "broken.webm"
    broken.write_bytes(b"\x1aE\xdf\xa3" + bytes(200))
    lst.write_text(f"{good[0]}\n{broken} 1\n")
    ds = VideoDataset(
        lst,
        SampleFrames(clip_len=2),
        PIPELINE,
        data_prefix=str(vp9.root / "videos"),
        backend="dali",
    )
    with pytest.raises(DecodeError, match=r"broken.webm.*line 2"):
        list(DALIClipLoader(ds, batch_size=2, device="cpu", shuffle=False))
    ds.skip_invalid = True
    batch = next(iter(DALIClipLoader(ds, batch_size=2, device="cpu", shuffle=False)))
    assert batch["index"].tolist() == [0, 0] and ds.invalid[str(broken)] >= 1


def test_h264_is_refused_on_the_cpu(tmp_path):
    data = synthetic.make_dataset(
        tmp_path, ["slow"], videos_per_class=2, val_per_class=1, num_frames=8, size=(16, 16)
    )
    ds = VideoDataset(
        data.train_list, SampleFrames(2), PIPELINE, data_prefix=str(data.root / "videos")
    )
    with pytest.raises(DecodeError, match="cannot read h264"):
        next(iter(DALIClipLoader(ds, batch_size=1, device="cpu")))
