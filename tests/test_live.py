"""Live recognition (``actionkit-infer --camera``, ``actionkit.live``) on a stream served
from a local file over loopback HTTP: the results are the model's on the windows it saw,
the averaging is the mean of the last K, every frame is drawn or counted as dropped, and
the run ends cleanly at the stream's end, after --max-seconds and on Ctrl-C (SIGINT to
the process), with the output video whole."""

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.apis import init_recognizer, predict_frames
from actionkit.cli import infer, train
from actionkit.data import encode, synthetic
from actionkit.data.decode import VideoReader
from actionkit.live import LiveStats, _Recognizer, run_live

from .engine_helpers import make_small_dataset, small_config
from .test_cli_engine import one_line_error

pytest.importorskip("av")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(checkpoint of the small config's run, the HTTP root, its base URL): the folder
    holds clip.mkv (48 frames at 30 fps) and long.mkv (20 s)."""
    tmp = tmp_path_factory.mktemp("live")
    data = make_small_dataset(tmp / "data")
    work = tmp / "work"
    assert train.main([str(small_config(tmp, data)), "--work-dir", str(work)]) == 0
    root = tmp / "www"
    names = ["move_right", "disc", "move_left"]
    clip = np.concatenate(
        [synthetic.render_clip(n, 16, (32, 32), seed=i) for i, n in enumerate(names)]
    )
    encode.write_video(root / "clip.mkv", clip, fps=30)
    encode.write_video(root / "long.mkv", np.concatenate([clip] * 13)[:600], fps=30, gop=30)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield work / "latest.pth", root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_results_are_the_models_on_the_last_window(served):
    ckpt, root, url = served
    model = init_recognizer(None, ckpt)
    seen = []
    stats = run_live(
        model, f"{url}/clip.mkv", window=0.5, on_result=lambda t, s: seen.append((t, s))
    )
    assert stats.frames == 48 and stats.drawn + stats.dropped == 48
    assert stats.ended == "end of stream"
    assert seen == stats.results and stats.inferences == len(seen) >= 2
    # the stream's end classifies its last window once more: the last 15 frames (0.5 s)
    with VideoReader(root / "clip.mkv") as reader:
        expected = predict_frames(model, reader.get_frames, 15, reader.fps, offset=33)
    when, scores = seen[-1]
    assert when == pytest.approx(47 / 30, abs=1e-3)
    torch.testing.assert_close(scores, expected, rtol=0, atol=1e-6)
    times = [t for t, _ in seen]
    assert times == sorted(times)  # in stream order


def test_the_recognizer_averages_the_last_k_results(served):
    ckpt, root, _ = served
    model = init_recognizer(None, ckpt)
    with VideoReader(root / "clip.mkv") as reader:
        frames = reader.get_frames(np.arange(48)).numpy()
    recognizer = _Recognizer(model, 3, 30.0, LiveStats())
    recognizer.start()
    raw = []
    for i, start in enumerate(range(0, 40, 8)):
        window = frames[start : start + 8]
        recognizer.submit(float(i), window)
        raw.append(predict_frames(model, lambda j, w=window: torch.from_numpy(w[j]), 8, 30.0))
        while not recognizer.idle():
            time.sleep(0.005)
        expected = torch.stack(raw[-3:]).mean(0)
        torch.testing.assert_close(recognizer.latest, expected, rtol=0, atol=1e-6)
    recognizer.stop(finish=True)
    recognizer.join()
    assert recognizer.stats.inferences == 5 and recognizer.error is None


def test_camera_cli_writes_the_drawn_frames(served, tmp_path, capsys):
    ckpt, _, url = served
    out = tmp_path / "live.mp4"
    args = [str(ckpt), "--camera", f"{url}/clip.mkv", "--window", "0.5", "--out", str(out)]
    assert infer.main([*args, "--average", "2", "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = lines[-1]
    assert summary.startswith("48 frames read, ") and summary.endswith("ended by end of stream")
    drawn = int(summary.split(", ")[1].split()[0])
    assert lines[-2] == f"wrote {out}"
    assert lines[0].split()[0].endswith("s")  # "  0.50s  move_right: 0.41  disc: 0.30"
    with VideoReader(out) as reader:
        assert len(reader) == drawn and reader.fps == pytest.approx(30)
        assert min(reader.get_frames([0]).shape[1:3]) >= 256  # upscaled for the text
    # --max-seconds stops early and says so
    assert infer.main([str(ckpt), "--camera", f"{url}/long.mkv", "--max-seconds", "0.5"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("16 frames read") and summary.endswith("ended by --max-seconds")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--camera", "{url}/none.mkv"], "--camera: cannot open {url}/none.mkv"),
        (["video.mp4", "--camera", "{url}/clip.mkv"], "--camera takes the checkpoint alone"),
        (["--camera", "{url}/clip.mkv", "--out", "x.gif"], "must end in .mp4, .mkv or .webm"),
        (["--camera", "{url}/clip.mkv", "--average", "0"], "--average must be at least 1"),
    ],
)
def test_camera_cli_bad_input(served, capsys, args, message):
    ckpt, _, url = served
    args = [a.format(url=url) for a in args]
    assert infer.main([str(ckpt), *args]) == 1
    assert message.format(url=url) in one_line_error(capsys, "actionkit-infer")


@pytest.mark.slow
def test_ctrl_c_ends_the_run_cleanly(served, tmp_path):
    ckpt, _, url = served
    out = tmp_path / "live.mp4"
    args = [str(ckpt), "--camera", f"{url}/long.mkv", "--window", "0.5", "--out", str(out)]
    # (the small run's model is registered by the tests' helpers: import them first)
    code = "import sys, tests.engine_helpers; from actionkit.cli.infer import main; "
    command = [sys.executable, "-c", code + f"sys.exit(main({args!r}))"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = Path(__file__).parents[1]
    # (a job started in the background, as CI may be, inherits SIGINT ignored: restore
    # the default in the child, as a terminal's foreground process has it)
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=root,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    first = proc.stdout.readline()  # a result: the stream is running (20 s long)
    assert first.strip().split()[0].endswith("s"), first
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = rest.strip().splitlines()[-1]
    assert summary.endswith("ended by Ctrl-C"), rest
    frames = int(summary.split()[0])
    assert 15 < frames < 600  # stopped in the middle of the stream
    drawn = int(summary.split(", ")[1].split()[0])
    with VideoReader(out) as reader:  # a whole file, every drawn frame in it
        assert len(reader) == drawn
        reader.get_frames([drawn - 1])
