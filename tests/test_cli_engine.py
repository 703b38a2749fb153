"""actionkit-train, -test, -infer, -cam and -bench: their success paths, what they write, and
bad input ending in one line that names the problem (exit status 1; argparse's 2)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from actionkit.apis import inference_recognizer, init_recognizer
from actionkit.cli import bench, cam, infer, test, train

from .engine_helpers import make_small_dataset, small_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 3-epoch run of the small config: (config, work dir, data root)."""
    tmp = tmp_path_factory.mktemp("run")
    data = make_small_dataset(tmp / "data")
    config = small_config(tmp, data)
    work = tmp / "work"
    assert train.main([str(config), "--work-dir", str(work)]) == 0
    return config, work, data


def one_line_error(capsys, prog: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{prog}: error: ") and len(err.splitlines()) == 1, err
    return err


def test_train_writes_its_work_dir(trained, capsys):
    config, work, _ = trained
    names = {p.name for p in work.iterdir()}
    assert {"epoch_0003.pth", "latest.pth", "best.pth", "log.jsonl", "metrics.json"} <= names
    metrics = json.loads((work / "metrics.json").read_text())
    assert set(metrics) >= {"top1", "top5", "mean_class_accuracy", "per_class_accuracy"}
    assert metrics["num_samples"] == 6 and metrics["epochs"] == 3
    # a finished run resumed has nothing left to do and tests again: same numbers
    assert train.main([str(config), "--work-dir", str(work), "--resume"]) == 0
    again = json.loads((work / "metrics.json").read_text())
    assert again["top1"] == metrics["top1"]


def test_train_print_config_and_bad_input(trained, tmp_path, capsys):
    config, work, _ = trained
    assert train.main([str(config), "--print-config", "--set", "optim.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert "name: tiny_nobn" in out and "lr: 0.5" in out
    assert train.main([str(config), "--set", "optim.lrr=1"]) == 1
    assert "optim.lrr: unknown key" in one_line_error(capsys, "actionkit-train")
    assert train.main([str(tmp_path / "none.yaml")]) == 1
    assert "none.yaml: no such config file" in one_line_error(capsys, "actionkit-train")
    assert train.main([str(config), "--work-dir", str(work)]) == 1
    err = one_line_error(capsys, "actionkit-train")
    assert "already holds checkpoints" in err and "--resume" in err
    elsewhere = ["--work-dir", str(tmp_path / "w"), "--set", f"data.root={tmp_path}"]
    assert train.main([str(config), *elsewhere]) == 1
    assert "train_list.txt does not exist" in one_line_error(capsys, "actionkit-train")
    with pytest.raises(SystemExit) as e:
        train.main(["--help"])
    assert e.value.code == 0 and "--resume" in capsys.readouterr().out


def test_test_cli_matches_training_and_the_api(trained, tmp_path, capsys):
    config, work, data = trained
    run = [str(config), str(work / "latest.pth"), "--out", str(tmp_path), "--confusion-matrix"]
    assert test.main([*run, "--dump", str(tmp_path / "dumped" / "raw.npy")]) == 0
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert metrics["top1"] == json.loads((work / "metrics.json").read_text())["top1"]
    predictions = json.loads((tmp_path / "predictions.json").read_text())
    assert len(predictions) == 6 and all(len(p["top5"]) == 3 for p in predictions)
    # the confusion matrix by class name: the predictions counted, its diagonal top-1
    table = (tmp_path / "confusion_matrix.csv").read_text().splitlines()
    assert table[0] == "true \\ predicted,move_right,move_left,disc"
    counts = np.array([[int(v) for v in line.split(",")[1:]] for line in table[1:]])
    assert counts.sum() == 6 and np.trace(counts) / 6 == pytest.approx(metrics["top1"])
    scores = np.load(tmp_path / "scores.npy")  # every class, rows as in predictions.json
    assert scores.shape == (6, 3) and [p["pred"] for p in predictions] == list(scores.argmax(1))
    np.testing.assert_array_equal(np.load(tmp_path / "dumped" / "raw.npy"), scores)  # --dump
    for p, row in zip(predictions, scores, strict=True):
        assert [s for _, s in p["top5"]] == pytest.approx(sorted(row)[::-1], abs=1e-6)

    # the Python API gives the same scores for the same video
    model = init_recognizer(None, work / "latest.pth")
    assert model.labels == ["move_right", "move_left", "disc"]
    first = predictions[0]
    result = inference_recognizer(model, first["video"])
    assert result.pred_label == first["pred"]
    for k, score in first["top5"]:
        assert result.pred_score[k].item() == pytest.approx(score, abs=1e-6)
    assert result.top_k(1)[0][0] == model.labels[first["pred"]]
    # frames in memory give the same result as the file
    from actionkit.data.decode import VideoReader

    with VideoReader(first["video"]) as reader:
        frames = reader.get_frames(np.arange(len(reader))).numpy()
    torch.testing.assert_close(inference_recognizer(model, frames).pred_score, result.pred_score)


def test_test_cli_bad_input(trained, tmp_path, capsys):
    config, work, _ = trained
    assert test.main([str(config), str(tmp_path / "none.pth")]) == 1
    assert "none.pth: no such checkpoint" in one_line_error(capsys, "actionkit-test")
    other = ["--set", "model.name=tsn_r18"]
    assert test.main([str(config), str(work / "latest.pth"), *other]) == 1
    err = one_line_error(capsys, "actionkit-test")
    assert "a checkpoint of tiny_nobn, the config's model is tsn_r18" in err  # names both
    with pytest.raises(SystemExit):  # (argparse's: exit status 2, usage and the message)
        test.main([str(config), str(work / "latest.pth"), "--dump", "raw.pkl"])
    assert "--dump: raw.pkl must end in .npy" in capsys.readouterr().err


def test_infer_cli(trained, tmp_path, capsys):
    _, work, data = trained
    video = next((data / "videos" / "disc").iterdir())
    ckpt = str(work / "latest.pth")
    assert infer.main([ckpt, str(video), "--top-k", "2", "--out", str(tmp_path / "o.gif")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("wrote")
    assert lines[0].split()[1] in ("move_right", "move_left", "disc")
    from PIL import Image

    gif = Image.open(tmp_path / "o.gif")
    # (Pillow merges identical consecutive frames)
    assert 1 < gif.n_frames <= 12 and min(gif.size) >= 256  # upscaled for readable text

    args = [
        ckpt,
        str(video),
        "--window",
        "0.2",
        "--stride",
        "0.1",
        "--out",
        str(tmp_path / "t.mp4"),
    ]
    assert infer.main(args) == 0
    timeline = json.loads((tmp_path / f"{video.stem}_timeline.json").read_text())
    # 12 frames at 30 fps, windows of 6 frames every 3: starts 0, 3, 6
    assert [w["start_s"] for w in timeline["windows"]] == [0.0, 0.1, 0.2]
    assert len(timeline["seconds"]) == 1 and (tmp_path / "t.mp4").stat().st_size > 0


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--top-k", "0"], "--top-k must be at least 1"),
        (["--out", "x.txt"], "must end in .mp4"),
        (["--window", "-1"], "--window and --stride must be positive"),
    ],
)
def test_infer_cli_bad_input(trained, capsys, extra, message):
    _, work, data = trained
    video = next((data / "videos" / "disc").iterdir())
    assert infer.main([str(work / "latest.pth"), str(video), *extra]) == 1
    assert message in one_line_error(capsys, "actionkit-infer")


def test_infer_cli_missing_files_and_labels(trained, tmp_path, capsys):
    _, work, data = trained
    video = next((data / "videos" / "disc").iterdir())
    assert infer.main([str(work / "latest.pth"), str(tmp_path / "v.mp4")]) == 1
    assert "v.mp4: no such video" in one_line_error(capsys, "actionkit-infer")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    assert infer.main([str(work / "latest.pth"), str(video), "--labels", str(labels)]) == 1
    assert "names 2 classes, the model has 3" in one_line_error(capsys, "actionkit-infer")


def test_cam_cli(trained, tmp_path, capsys):
    from PIL import Image

    from actionkit.apis import model_inputs
    from actionkit.cam import localization_maps

    _, work, data = trained
    video = next((data / "videos" / "disc").iterdir())
    ckpt = str(work / "latest.pth")
    out, maps = tmp_path / "cam.gif", tmp_path / "maps.npy"
    args = [ckpt, str(video), "--out", str(out), "--save-maps", str(maps), "--target", "disc"]
    assert cam.main(args) == 0
    assert "gradcam of disc (1 view(s) of 4 frames)" in capsys.readouterr().out
    saved = np.load(maps)
    assert saved.shape == (1, 4, 32, 32) and saved.dtype == np.float32
    model = init_recognizer(None, ckpt)
    inputs, _ = model_inputs(model, video)
    expected, _, _ = localization_maps(model, inputs[None], 2)  # disc: class 2
    np.testing.assert_array_equal(saved, expected.numpy())
    gif = Image.open(out)
    assert gif.n_frames == 4 and gif.size[0] == 2 * gif.size[1]  # the frame beside its map
    # by index, Grad-CAM++, another layer, an mp4
    args = [ckpt, str(video), "--out", str(tmp_path / "c.mp4"), "--target", "0"]
    assert cam.main([*args, "--method", "gradcam++", "--target-layer", "backbone.1"]) == 0
    assert (tmp_path / "c.mp4").stat().st_size > 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--target", "jump"], "'jump' is neither a class index nor a class name: one of"),
        (["--target", "5"], "--target: class 5 is not one of the 3"),
        (["--target-layer", "backbone.7"], "--target-layer: 'backbone.7': TinyBackbone has no"),
        (["--out", "x.png"], "--out: x.png must end in .gif"),
        ([], "nothing to write: give --out"),
    ],
)
def test_cam_cli_bad_input(trained, tmp_path, capsys, extra, message):
    _, work, data = trained
    video = next((data / "videos" / "disc").iterdir())
    maps = ["--save-maps", str(tmp_path / "m.npy")] if extra else []
    assert cam.main([str(work / "latest.pth"), str(video), *maps, *extra]) == 1
    assert message in one_line_error(capsys, "actionkit-cam")
    assert not (tmp_path / "m.npy").exists()


def test_init_recognizer_by_model_name():
    model = init_recognizer("tsn_r18")
    frames = np.random.default_rng(0).integers(0, 255, (20, 64, 80, 3), dtype=np.uint8)
    model.test_split.pipeline[0]["scale"] = [-1, 40]  # small: this is a smoke test
    model.test_split.pipeline[1]["crop_size"] = 32
    result = inference_recognizer(model, frames)
    assert result.pred_score.shape == (400,) and result.pred_score.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="init_recognizer needs a config"):
        init_recognizer(None)


def test_bench_model_and_train(trained, tmp_path, capsys):
    config, _, _ = trained
    out = tmp_path / "model.json"
    args = ["model", "--models", "tsn_r18", "--variants", "eager,channels_last", "--size", "32"]
    assert bench.main([*args, "--repeats", "1", "--warmup", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    modes = [(r["mode"], r["variant"]) for r in rows]
    assert modes == [(m, v) for m in ("fwd", "fwd+bwd") for v in ("eager", "channels_last")]
    assert all(r["clips_s"] > 0 for r in rows)
    out = tmp_path / "train.json"
    assert (
        bench.main(["train", str(config), "--iters", "2", "--warmup", "1", "--out", str(out)]) == 0
    )
    (row,) = json.loads(out.read_text())["rows"]
    assert row["model"] == "tiny_nobn" and row["s_iter"] == pytest.approx(
        row["data_s_iter"] + row["compute_s_iter"]
    )
    with pytest.raises(SystemExit) as e:
        bench.main(["model", "--models", "nope"])
    assert e.value.code == 2 and "--models: unknown nope" in capsys.readouterr().err


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_bench_ops_runs_every_op_under_the_requested_allocator_settings(tmp_path):
    """`actionkit-bench ops --retain-memory --no-huge-pages` restarts itself with the
    settings that are read at start-up; the JSON records them and has a row per op."""
    out = tmp_path / "ops.json"
    cmd = [sys.executable, "-m", "actionkit.cli.bench", "ops", "--quick", "--repeats", "1"]
    cmd += ["--retain-memory", "--no-huge-pages", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "ACTIONKIT_HUGE_PAGES"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["environment"]["allocator"] == "glibc, freed memory retained"
    assert report["environment"]["huge_page_advice"] == "off"
    ops = {r["op"] for r in report["rows"]}
    assert ops >= {"temporal_shift", "graph_aggregate", "bm_sampling", "soft_nms"}
    assert all(r["ms"] > 0 and r["speedup_vs_mmaction2"] > 0 for r in report["rows"])


INFER_RSS = r"""
import resource, sys
from actionkit.cli.infer import main
assert main(sys.argv[1:]) == 0
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _infer_peak_rss(tmp_path, checkpoint, num_frames: int) -> int:
    from actionkit.data import encode, synthetic

    clip = synthetic.render_clip("move_right", 30, (64, 64), seed=0)
    video = tmp_path / f"long{num_frames}.mp4"
    encode.write_video(video, np.concatenate([clip] * (num_frames // 30)), fps=30, gop=30)
    out = tmp_path / f"overlay{num_frames}.mp4"
    argv = [str(checkpoint), str(video), "--model", "tsn_r18", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", INFER_RSS, *argv], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    from actionkit.data.decode import VideoReader

    assert len(VideoReader(out)) == num_frames  # every frame drawn and written
    return int(done.stdout.split("maxrss_kb")[-1]) * 1024


@pytest.mark.slow  # over 10 s: CI runs it in one venv only
def test_infer_overlay_memory_does_not_grow_with_the_video(tmp_path):
    # 256x256 drawn frames are 196 KB each: holding 1350 more of them (as the overlay did,
    # plus a stacked copy) would add about 530 MB; streamed, the peak stays put.
    from actionkit import models

    checkpoint = tmp_path / "tsn.pth"
    torch.save({"state_dict": models.create("tsn_r18", num_classes=3).state_dict()}, checkpoint)
    short = _infer_peak_rss(tmp_path, checkpoint, 150)
    long = _infer_peak_rss(tmp_path, checkpoint, 1500)
    assert long - short < 100 * 2**20, (short / 2**20, long / 2**20)


def test_infer_on_a_video_without_a_frame_rate(tmp_path, capsys, monkeypatch):
    # A one-frame file has no interval between timestamps (PyAV's reader says fps 0;
    # torchcodec reads a rate from the header): the reader reports none here.
    from actionkit import models
    from actionkit.data import encode, synthetic
    from actionkit.data.decode import VideoReader

    monkeypatch.setattr(VideoReader, "fps", property(lambda self: 0.0))

    checkpoint = tmp_path / "tsn.pth"
    torch.save({"state_dict": models.create("tsn_r18", num_classes=3).state_dict()}, checkpoint)
    video = encode.write_video(tmp_path / "one.mp4", synthetic.render_clip(0, 2, (64, 64))[:1])
    args = [str(checkpoint), str(video), "--model", "tsn_r18"]
    assert infer.main([*args, "--window", "1"]) == 1  # was a ZeroDivisionError
    err = capsys.readouterr().err
    assert "one.mp4: the file gives no frame rate: --window needs one" in err
    assert infer.main([*args, "--out", str(tmp_path / "o.mp4")]) == 0
    assert "writing --out at 30 fps" in capsys.readouterr().out
    assert (tmp_path / "o.mp4").exists()


def test_bench_localization_runs(tmp_path, capsys):
    out = tmp_path / "loc.json"
    args = ["localization", "--temporal-dims", "16", "--feat-dim", "8", "--repeats", "1"]
    assert bench.main([*args, "--pgm-videos", "2", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    rows = written["rows"]
    assert written["pgm"]["videos"] == 2 and written["pgm"]["actionkit_proposals_kept"] > 0
    assert [(r["T"], r["mode"]) for r in rows] == [(16, "fwd"), (16, "fwd+bwd")]
    assert all(
        r["actionkit_ms"] > 0 and r["mmaction2_mask_bytes"] == 16 * 32 * 16 * 16 * 4 for r in rows
    )
    assert "| 16 | fwd+bwd |" in capsys.readouterr().out


def test_bench_lfb_runs(tmp_path, capsys):
    out = tmp_path / "lfb.json"
    assert bench.main(["lfb", "--hours", "0.02", "--channels", "8", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["seconds"] == 72 and row["disk_bytes"] >= 72 * 5 * 8 * 2
    assert row["sample_ms_per_window"] > 0
    assert "| 0.02 |" in capsys.readouterr().out


def test_bench_flow_runs(tmp_path, capsys):
    pytest.importorskip("cv2")
    out = tmp_path / "flow.json"
    args = ["flow", "--pairs", "2", "--sizes", "96x80", "--repeats", "1", "--threads", "1"]
    assert bench.main([*args, "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["frames"] == "96x80" and row["pairs"] == 2
    assert row["opencv_pairs_per_s"] > 0 and row["actionkit_pairs_per_s"] > 0
    # the same flow: the two are far closer to each other than to the truth
    assert row["distance"] < 0.1 * row["epe_opencv"]
    assert "| 96x80 | 2 | 1 |" in capsys.readouterr().out
