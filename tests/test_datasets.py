"""Datasets over list files: the frames and labels they return, bad data named or skipped
and counted, deterministic randomness, the loader, and check_list."""

import gc
import os
import time

import numpy as np
import pytest
import torch

from actionkit.data import synthetic
from actionkit.data import transforms as T
from actionkit.data.datasets import (
    RawframeDataset,
    VideoDataset,
    check_list,
    make_loader,
    parse_list,
)
from actionkit.data.decode import DecodeError, VideoReader
from actionkit.data.sampling import SampleFrames

pytest.importorskip("av")

CLASSES = ["move_left", "move_right", "disc"]
PIPELINE = T.Compose([T.Resize((-1, 32)), T.CenterCrop(32), T.FormatShape("NCHW")])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return synthetic.make_dataset(
        root,
        CLASSES,
        videos_per_class=3,
        val_per_class=1,
        num_frames=16,
        size=(32, 48),
        rawframes=True,
    )


def test_parse_list_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_text("a.mp4 0\n\nb.mp4\n")
    with pytest.raises(ValueError, match=r"list.txt:3: expected 'path label"):
        parse_list(bad)
    bad.write_text("a.mp4 zero\n")
    with pytest.raises(ValueError, match=r"list.txt:1: labels and frame counts must be integers"):
        parse_list(bad)
    bad.write_text("dir 10\n")
    with pytest.raises(ValueError, match=r"list.txt:1: expected 'frame_dir total_frames label"):
        parse_list(bad, kind="rawframes")
    bad.write_text("\n")
    with pytest.raises(ValueError, match="the list is empty"):
        parse_list(bad)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        parse_list(tmp_path / "nope.txt")
    bad.write_text("a.mp4 0 1\n")
    with pytest.raises(ValueError, match=r"list.txt:1: 2 labels on a single-label list"):
        VideoDataset(bad, SampleFrames(1))


def test_video_dataset_returns_the_sampled_frames_and_labels(data):
    sampler = SampleFrames(clip_len=1, num_clips=4, test_mode=True)
    ds = VideoDataset(data.val_list, sampler, PIPELINE, data_prefix=str(data.root / "videos"))
    assert len(ds) == 3
    for i, entry in enumerate(ds.entries):
        sample = ds[i]
        assert sample["inputs"].shape == (4, 3, 32, 32) and sample["index"] == i
        assert int(sample["label"]) == entry.labels[0] == CLASSES.index(entry.path.split("/")[-2])
        indices = sampler(16, 0, np.random.default_rng())
        frames = VideoReader(entry.path).get_frames(indices)
        expected = PIPELINE(T.Clip(frames, num_clips=4, clip_len=1))
        assert torch.equal(sample["inputs"], expected)


def test_randomness_is_seeded_by_seed_epoch_and_index(data):
    sampler = SampleFrames(clip_len=2, num_clips=2)
    pipeline = T.Compose(
        [
            T.RandomResizedCrop(),
            T.Resize((24, 24), keep_ratio=False),
            T.Flip(),
            T.FormatShape("NCTHW"),
        ]
    )
    prefix = str(data.root / "videos")
    a = VideoDataset(data.train_list, sampler, pipeline, data_prefix=prefix, seed=1)
    b = VideoDataset(data.train_list, sampler, pipeline, data_prefix=prefix, seed=1)
    assert torch.equal(a[2]["inputs"], b[2]["inputs"])
    b.set_epoch(1)
    assert not torch.equal(a[2]["inputs"], b[2]["inputs"])


def test_rawframe_dataset(data):
    sampler = SampleFrames(clip_len=1, num_clips=3, test_mode=True)
    ds = RawframeDataset(
        data.root / "val_rawframes.txt", sampler, PIPELINE, data_prefix=str(data.root / "rawframes")
    )
    sample = ds[0]
    assert sample["inputs"].shape == (3, 3, 32, 32)
    entry = ds.entries[0]
    assert entry.total_frames == 16 and entry.path.endswith("move_left/move_left_0002")
    # 1-based on disk: index i of the sampler (start_index 1) is img_{i:05d}.jpg.
    indices = sampler(16, 1, np.random.default_rng())
    frames = VideoReader(entry.path).get_frames(indices - 1)
    assert torch.equal(sample["inputs"], PIPELINE(T.Clip(frames, num_clips=3, clip_len=1)))


def test_rawframe_list_claiming_more_frames_than_the_folder_has(data, tmp_path):
    lst = tmp_path / "raw.txt"
    lst.write_text("move_left/move_left_0000 20 0\n")
    ds = RawframeDataset(
        lst,
        SampleFrames(1, num_clips=2, test_mode=True),
        PIPELINE,
        data_prefix=str(data.root / "rawframes"),
    )
    with pytest.raises(DecodeError, match=r"the list says 20 frames, the folder has 16 .*line 1"):
        ds[0]


@pytest.fixture
def messy_list(data, tmp_path):
    videos = data.root / "videos"
    good = [line.split()[0] for line in data.val_list.read_text().splitlines()]
    truncated = tmp_path / "truncated.mp4"
    raw = (videos / good[0]).read_bytes()
    truncated.write_bytes(raw[: len(raw) // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    lst = tmp_path / "messy.txt"
    lst.write_text(
        f"{videos / good[0]} 0\n{tmp_path / 'missing.mp4'} 1\n{truncated} 1\n{empty} 2\n"
        f"{videos / good[1]} 1\n"
    )
    return lst


def test_bad_videos_raise_naming_the_file_and_line(messy_list):
    ds = VideoDataset(messy_list, SampleFrames(1, num_clips=4, test_mode=True), PIPELINE)
    ds[0]
    with pytest.raises(DecodeError, match=r"missing.mp4: no such file .*messy.txt, line 2"):
        ds[1]
    with pytest.raises(DecodeError, match=r"truncated.mp4.*line 3"):
        ds[2]
    with pytest.raises(DecodeError, match=r"empty.mp4.*line 4"):
        ds[3]


def test_skip_invalid_logs_counts_and_replaces(messy_list, caplog):
    ds = VideoDataset(
        messy_list, SampleFrames(1, num_clips=4, test_mode=True), PIPELINE, skip_invalid=True
    )
    seen = [ds[i] for i in range(len(ds))]
    assert all(s["inputs"].shape == (4, 3, 32, 32) for s in seen)
    assert all(s["index"] in (0, 4) for s in seen)  # only the good videos come back
    assert sum(ds.invalid.values()) >= 3 and len(ds.invalid) == 3
    assert "skipping invalid sample" in caplog.text
    only_bad = messy_list.with_name("bad.txt")
    only_bad.write_text("".join(messy_list.read_text().splitlines(True)[1:4]))
    ds = VideoDataset(only_bad, SampleFrames(1), PIPELINE, skip_invalid=True, max_retries=4)
    with pytest.raises(DecodeError, match="5 invalid samples in a row"):
        ds[0]


def test_multi_class_and_flip_label_map(data, tmp_path):
    videos = data.root / "videos"
    first = data.val_list.read_text().split()[0]
    lst = tmp_path / "multi.txt"
    lst.write_text(f"{videos / first} 0 2\n")
    ds = VideoDataset(lst, SampleFrames(1), PIPELINE, multi_class=True, num_classes=4)
    assert ds[0]["label"].tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="label 2 >= num_classes 2"):
        VideoDataset(lst, SampleFrames(1), PIPELINE, multi_class=True, num_classes=2)
    single = tmp_path / "single.txt"
    single.write_text(f"{videos / first} 0\n")
    flip = T.Compose([T.Flip(1.0, flip_label_map={0: 1}), T.FormatShape("NCHW")])
    assert int(VideoDataset(single, SampleFrames(1), flip)[0]["label"]) == 1


def test_loader_with_workers(data):
    ds = VideoDataset(
        data.train_list,
        SampleFrames(clip_len=4, num_clips=1),
        PIPELINE,
        data_prefix=str(data.root / "videos"),
    )
    loader = make_loader(ds, batch_size=2, num_workers=2)
    assert loader.timeout == 120 and loader.drop_last
    batches = list(loader)
    assert len(batches) == 3
    assert batches[0]["inputs"].shape == (2, 4, 3, 32, 32)
    assert sorted(int(i) for b in batches for i in b["index"]) == list(range(6))


class _StuckOnThree(torch.utils.data.Dataset):
    """Sample 3 never comes back (a decoder stuck in native code, as far as the loader sees)."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        if index == 3:
            time.sleep(60)
        return torch.tensor(index)


def test_a_stalled_worker_prints_where_it_is_stuck(capfd):
    loader = make_loader(_StuckOnThree(), batch_size=1, shuffle=False, timeout=3)
    seen = []
    with pytest.raises(RuntimeError, match=r"no batch from the DataLoader workers .* in 3 s") as e:
        for batch in loader:
            seen.append(int(batch))
    assert seen == [0, 1, 2] and "timed out" in str(e.value.__cause__)
    stacks = capfd.readouterr().err
    assert "in __getitem__" in stacks and "time.sleep(60)" not in stacks  # names, not source
    assert f'File "{__file__}", line' in stacks


class _HangsInAFork:
    """Garbage whose finalizer never returns in a forked child: an unclosed decoder whose
    threads exist only in the parent (PyAV >= 17's colour-conversion pool did this)."""

    def __init__(self):
        self.parent, self.cycle = os.getpid(), self

    def __del__(self):
        if os.getpid() != self.parent:
            time.sleep(60)


class _Collects(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        gc.collect()
        return torch.tensor(index)


def test_workers_never_collect_the_parents_garbage():
    _HangsInAFork()  # unreachable at once, but only a collection frees it (a cycle)
    loader = make_loader(_Collects(), batch_size=1, shuffle=False, timeout=10)
    assert [int(b) for b in loader] == [0, 1, 2, 3]
    assert [int(b) for b in loader] == [0, 1, 2, 3]  # (persistent workers: the next epoch)


def test_check_list_reports_every_bad_entry(messy_list, data):
    count, problems = check_list(messy_list)
    assert count == 5
    assert [p.line for p in problems] == [2, 3, 4]
    assert "missing.mp4" in problems[0].reason and "truncated.mp4" in problems[1].reason
    count, problems = check_list(
        data.root / "train_rawframes.txt",
        kind="rawframes",
        data_prefix=str(data.root / "rawframes"),
    )
    assert count == 6 and problems == []


def test_multi_clip_multi_crop_test_decodes_each_video_once(data, monkeypatch):
    calls = []
    original = VideoReader.get_frames

    def counting(self, indices):
        calls.append(len(indices))
        return original(self, indices)

    monkeypatch.setattr(VideoReader, "get_frames", counting)
    sampler = SampleFrames(clip_len=4, frame_interval=2, num_clips=5, test_mode=True)
    pipeline = T.Compose([T.Resize((-1, 32)), T.ThreeCrop(32), T.FormatShape("NCTHW")])
    ds = VideoDataset(data.val_list, sampler, pipeline, data_prefix=str(data.root / "videos"))
    sample = ds[0]
    assert calls == [20]  # one decode call for all 5 clips x 4 frames
    assert sample["inputs"].shape == (3 * 5, 3, 4, 32, 32)  # 3 crops x 5 clips, crop-major
    frames = original(VideoReader(ds.entries[0].path), sampler(16, 0, np.random.default_rng()))
    clip = T.Clip(frames, num_clips=5, clip_len=4)
    for k, x in enumerate((0, 16, 8)):  # ThreeCrop on 32x48: x offsets 0, 16, 8
        view = T.FormatShape("NCTHW")(clip.crop(x, 0, x + 32, 32))
        assert torch.equal(sample["inputs"][5 * k : 5 * k + 5], view)


def test_rawframes_config_reads_another_frame_name_template(data, tmp_path):
    # Something-Something V1 ships its frames as 00001.jpg: data.filename_tmpl
    import shutil

    from actionkit.config import Config, from_dict
    from actionkit.engine.builder import build_dataset

    source = data.root / "rawframes" / "move_left" / "move_left_0002"
    target = tmp_path / "frames" / "clip"
    target.mkdir(parents=True)
    for frame in sorted(source.glob("img_*.jpg")):
        shutil.copy(frame, target / frame.name[len("img_") :])
    (tmp_path / "val.txt").write_text("clip 16 0\n")
    cfg = from_dict(
        Config,
        {
            "model": {"name": "tsn_r18", "num_classes": 3},
            "data": {
                "kind": "rawframes",
                "root": str(tmp_path),
                "data_prefix": "frames",
                "filename_tmpl": "{:05d}.jpg",
                "val": {
                    "ann_file": "val.txt",
                    "sampler": {
                        "type": "SampleFrames",
                        "clip_len": 1,
                        "num_clips": 3,
                        "test_mode": True,
                    },
                    "pipeline": [
                        {"type": "Resize", "scale": [-1, 32]},
                        {"type": "CenterCrop", "crop_size": 32},
                        {"type": "FormatShape", "input_format": "NCHW"},
                    ],
                },
            },
        },
        "cfg",
    )
    ours = build_dataset(cfg, "val")[0]["inputs"]
    sampler = SampleFrames(clip_len=1, num_clips=3, test_mode=True)
    reference = RawframeDataset(
        data.root / "val_rawframes.txt", sampler, PIPELINE, data_prefix=str(data.root / "rawframes")
    )
    assert reference.entries[0].path.endswith("move_left_0002")
    assert torch.equal(ours, reference[0]["inputs"])
