"""actionkit-data: synth, check, build-list, extract-frames, resize."""

import subprocess
import sys

import pytest

from actionkit.cli.data import main
from actionkit.data.decode import VideoReader

pytest.importorskip("av")


def test_synth_check_build_list_extract_resize(tmp_path, capsys):
    out = tmp_path / "synth"
    assert (
        main(
            [
                "synth",
                str(out),
                "--classes",
                "appear",
                "disappear",
                "--videos-per-class",
                "2",
                "--val-per-class",
                "1",
                "--frames",
                "12",
                "--height",
                "32",
                "--width",
                "32",
            ]
        )
        == 0
    )
    assert "wrote 4 videos of 2 classes" in capsys.readouterr().out
    videos = out / "videos"
    assert main(["check", str(out / "train_list.txt"), "--data-prefix", str(videos)]) == 0
    assert "2 entries, 0 bad" in capsys.readouterr().out

    (videos / "appear" / "appear_0000.mp4").write_bytes(b"garbage")
    assert main(["check", str(out / "train_list.txt"), "--data-prefix", str(videos)]) == 1
    report = capsys.readouterr().out
    assert "train_list.txt:1:" in report and "appear_0000.mp4" in report and "1 bad" in report

    assert main(["build-list", str(videos), str(tmp_path / "all.txt")]) == 0
    lines = (tmp_path / "all.txt").read_text().splitlines()
    assert lines == [
        "appear/appear_0000.mp4 0",
        "appear/appear_0001.mp4 0",
        "disappear/disappear_0000.mp4 1",
        "disappear/disappear_0001.mp4 1",
    ]
    assert (tmp_path / "classes.txt").read_text().split() == ["appear", "disappear"]

    assert main(["extract-frames", str(videos), str(tmp_path / "frames")]) == 1  # the garbage one
    assert "appear_0000.mp4: FAILED" in capsys.readouterr().err
    assert len(VideoReader(tmp_path / "frames" / "disappear" / "disappear_0001")) == 12
    assert (
        main(
            [
                "build-list",
                str(tmp_path / "frames"),
                str(tmp_path / "raw.txt"),
                "--kind",
                "rawframes",
            ]
        )
        == 0
    )
    assert "disappear/disappear_0001 12 1" in (tmp_path / "raw.txt").read_text()

    (videos / "appear" / "appear_0000.mp4").unlink()
    assert (
        main(["resize", str(videos), str(tmp_path / "small"), "--short-side", "16", "--gop", "4"])
        == 0
    )
    small = VideoReader(tmp_path / "small" / "appear" / "appear_0001.mp4", backend="pyav")
    assert len(small) == 12 and small.get_frames([0]).shape == (1, 16, 16, 3)
    assert small._impl.index.keyframes.tolist() == [0, 4, 8]


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "actionkit.cli.data", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "synth" in result.stdout and "check" in result.stdout
