"""``actionkit-infer CHECKPOINT VIDEO``: the top-k actions in a video, optionally drawn on
it; with ``--window`` a sliding-window timeline of a long video.

Examples:
    actionkit-infer work_dirs/tsm_synthetic/best.pth clip.mp4             # config inside
    actionkit-infer best.pth clip.mp4 --out overlay.mp4 --top-k 3         # or overlay.gif
    actionkit-infer mmaction_tsm.pth clip.mp4 --model tsm_r50 --labels k400.txt
    actionkit-infer best.pth long.mp4 --window 2 --stride 1 --out timeline.mp4

A checkpoint written by actionkit-train carries its config (model, test pipeline, class
names); other checkpoints need --config or --model (the zoo's single-view test pipeline)
and --labels (one class name per line) for names. --window SECONDS classifies every
window of that length, --stride SECONDS apart (default: half a window), and writes
VIDEO_timeline.json (per window and per second: the top-k) and VIDEO_timeline.png (class
scores over time) next to --out, or in the current folder.

Skeletons (a model trained on pose data: ST-GCN, PoseC3D, ...):
    actionkit-infer best.pth poses.pkl [--out results.json]     # every sample of a pickle
    actionkit-infer best.pth clip_keypoints/ --img-shape 1080 1920   # OpenPose / COCO JSON
    actionkit-infer best.pth clip.mp4 --pose-weights keypointrcnn_resnet50_fpn_coco.pth \
        [--det-score 0.9] [--pose-stride 2] [--save-poses clip.pkl] [--out overlay.mp4]
prints the top-k of each sample and writes them to --out (.json). On a video, torchvision's
Keypoint R-CNN (COCO-17; the weights file you give, nothing is downloaded) finds the
people of every frame; --out .mp4/.gif draws their skeletons and the top-k on the video,
--save-poses keeps the keypoints as a pose pickle (classify it again without estimating).

Live sources (a camera, a stream):
    actionkit-infer best.pth --camera 0 --out live.mp4          # /dev/video0 (V4L2)
    actionkit-infer best.pth --camera rtsp://host/stream --window 2 --average 3 --threshold 0.3
    actionkit-infer best.pth --camera http://host/clip.mp4 --show     # an OpenCV window
reads the source at its frame rate (a file served over HTTP paced by its timestamps),
classifies the last --window seconds (default 2) in another thread whenever it is free,
averages the last --average results, and prints a result when the leading class changes
and once a second (the classes scoring at least --threshold); --out records the frames
with the result drawn, --show shows them (needs opencv-python). Frames more than a frame
period late are not drawn (counted). It ends at the end of the stream, after
--max-seconds, or on Ctrl-C (output closed, counts printed).

Temporal action proposals from a raw video (BMN on clip features of a recognizer):
    actionkit-infer --task localization long.mp4 --checkpoint bmn.pth \
        --features-checkpoint tsn.pth [--features-model tsn_r50] [--clip-len 16 --clip-stride 16]
extracts the clip features (actionkit.extract), rescales them to BMN's temporal length,
and writes VIDEO_proposals.json (ActivityNet's result format, seconds) and
VIDEO_proposals.png (the top-k proposals on the video's time line) next to --out, or in
the current folder.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from .._plot import pyplot
from ..errors import UsageError
from ._common import add_trust_flag, doc_parser, one_line_errors


def parser() -> argparse.ArgumentParser:
    p = doc_parser("actionkit-infer", __doc__)
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="PATH",
        help="CHECKPOINT VIDEO, or VIDEO alone with --checkpoint (a file or a rawframe "
        "folder); CHECKPOINT alone with --camera",
    )
    p.add_argument(
        "--checkpoint", dest="checkpoint_flag", metavar="CHECKPOINT", help="the model's weights"
    )
    p.add_argument(
        "--task", choices=["recognition", "localization", "detection"], default="recognition"
    )
    group = p.add_argument_group("localization: the recognizer that makes the clip features")
    group.add_argument("--features-checkpoint")
    group.add_argument("--features-model", help="its registered name")
    group.add_argument("--features-config", help="its YAML config (test pipeline)")
    group.add_argument("--clip-len", type=int, default=16, help="frames per clip")
    group.add_argument("--clip-stride", type=int, default=16, help="frames between clip centres")
    group.add_argument("--frame-interval", type=int, default=1)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", help="the YAML config the model was trained with")
    source.add_argument("--model", help="a registered model name (zoo test pipeline)")
    p.add_argument("--labels", help="class names, one per line")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--out", help="write the video with the labels drawn on it (.mp4 or .gif)")
    p.add_argument("--window", type=float, help="sliding-window length in seconds")
    p.add_argument("--stride", type=float, help="seconds between windows (default window/2)")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--img-shape", type=int, nargs=2, metavar=("H", "W"),
        help="skeletons from keypoint JSON: the frames' size (JSON does not record it)",
    )  # fmt: skip
    pose = p.add_argument_group("skeletons from a video: torchvision's Keypoint R-CNN")
    pose.add_argument("--pose-weights", help="keypointrcnn_resnet50_fpn weights file")
    pose.add_argument("--det-score", type=float, default=0.9, help="least person box score")
    pose.add_argument("--pose-min-size", type=int, default=800,
                      help="its input's short side (torchvision's default 800)")  # fmt: skip
    pose.add_argument("--pose-stride", type=int, default=1,
                      help="estimate every N-th frame only (default: every frame)")  # fmt: skip
    pose.add_argument("--save-poses", help="write the estimated keypoints as a pose pickle")
    det = p.add_argument_group("detection: the actors' boxes at every keyframe (one of the two)")
    det.add_argument("--proposals", help="person boxes: a proposal pickle or CSV (normalised)")
    det.add_argument("--det-weights", help="fasterrcnn_resnet50_fpn weights file (torchvision)")
    det.add_argument("--det-min-size", type=int, default=800,
                     help="its input's short side (torchvision's default 800)")  # fmt: skip
    det.add_argument("--video-id", help="the video's id in --proposals and the CSV (default: "
                     "the file name without its extension)")  # fmt: skip
    det.add_argument("--timestamp-start", type=int,
                     help="the second the video starts at (default: the config's "
                     "data.ava.timestamp_start; AVA's cuts: 900)")  # fmt: skip
    det.add_argument("--action-thr", type=float, default=0.5,
                     help="least score of an action printed and drawn")  # fmt: skip
    det.add_argument("--csv", help="the AVA-format detections (default: VIDEO_detections.csv "
                     "next to --out, or here)")  # fmt: skip
    live = p.add_argument_group("live sources")
    live.add_argument("--camera", metavar="INDEX|URL",
                      help="a V4L2 camera index or a stream URL, instead of VIDEO")  # fmt: skip
    live.add_argument("--average", type=int, default=1, help="results averaged (default 1)")
    live.add_argument("--threshold", type=float, default=0.0,
                      help="least score of a class shown (default 0)")  # fmt: skip
    live.add_argument("--show", action="store_true", help="show the frames (opencv-python)")
    live.add_argument("--max-seconds", type=float, help="stop after this much of the stream")
    add_trust_flag(p)
    return p


def read_labels(path: str, num_classes: int) -> list[str]:
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise UsageError(
            f"--labels: {path} names {len(names)} classes, the model has {num_classes}"
        )
    return names


def windows(num_frames: int, fps: float, window: float, stride: float) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` of the windows (one covering all if the video is
    shorter than a window)."""
    length = max(1, round(window * fps))
    step = max(1, round(stride * fps))
    if num_frames <= length:
        return [(0, num_frames)]
    starts = list(range(0, num_frames - length + 1, step))
    if starts[-1] + length < num_frames:  # the tail gets a window too
        starts.append(num_frames - length)
    return [(s, s + length) for s in starts]


def per_second(spans, scores: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """Scores of each second: the mean over the windows that contain its middle."""
    seconds = max(1, math.ceil(num_frames / fps))
    out = np.zeros((seconds, scores.shape[1]), dtype=np.float32)
    for s in range(seconds):
        middle = (s + 0.5) * fps
        inside = [i for i, (a, b) in enumerate(spans) if a <= middle < b]
        if not inside:  # past the last window's middle: the nearest window
            inside = [int(np.argmin([abs((a + b) / 2 - middle) for a, b in spans]))]
        out[s] = scores[inside].mean(0)
    return out


def top_k(scores: np.ndarray, names: list[str], k: int) -> list[list]:
    order = np.argsort(scores)[::-1][:k]
    return [[names[i], round(float(scores[i]), 4)] for i in order]


def draw(frames: np.ndarray, lines: list[str], decorate=None) -> np.ndarray:
    """The lines of text drawn on the frames (and ``decorate(image, scale)``'s drawing on
    the PIL image, ``scale`` times the frame's size: skeletons, boxes), upscaled to a
    256-pixel short side at least so the text stays readable."""
    from PIL import Image, ImageDraw

    h, w = frames.shape[1:3]
    scale = max(1.0, 256 / min(h, w))
    size = (2 * round(w * scale / 2), 2 * round(h * scale / 2))
    out = []
    for frame in frames:
        image = Image.fromarray(frame).resize(size, Image.BILINEAR)
        if decorate is not None:
            decorate(image, size[0] / w)
        pen = ImageDraw.Draw(image)
        for row, text in enumerate(lines):
            xy = (6, 6 + 14 * row)
            pen.text((xy[0] + 1, xy[1] + 1), text, fill=(0, 0, 0))
            pen.text(xy, text, fill=(255, 255, 0))
        out.append(np.asarray(image))
    return np.stack(out)


GIF_MAX_FRAMES = 3000  # Pillow holds a GIF's frames in memory; videos stream


def save_gif(path: Path, frames, fps: float) -> None:
    """uint8 ``[H, W, 3]`` frames as a looping GIF (Pillow)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
    )


def write_overlay(path: Path, reader, fps: float, text_of_frame, decorate_of_frame=None) -> None:
    """Decodes the video in chunks, draws ``text_of_frame(i)`` (and ``decorate_of_frame(i)``,
    see :func:`draw`) on frame i and writes ``path``: H.264 through PyAV chunk by
    chunk (memory independent of the length), or a GIF through Pillow (which keeps every
    frame: refused past ``GIF_MAX_FRAMES``)."""
    chunk = 64

    def drawn(i: int, frame: np.ndarray) -> np.ndarray:
        decorate = None if decorate_of_frame is None else decorate_of_frame(i)
        return draw(frame[None], text_of_frame(i), decorate)[0]

    def drawn_chunks():
        for start in range(0, len(reader), chunk):
            idx = np.arange(start, min(start + chunk, len(reader)))
            frames = reader.get_frames(idx).cpu().numpy()
            yield np.stack([drawn(int(i), f) for i, f in zip(idx, frames, strict=True)])

    if path.suffix.lower() == ".gif":
        if len(reader) > GIF_MAX_FRAMES:
            raise UsageError(
                f"--out: {path} would hold all {len(reader)} frames in memory (GIF); write "
                f".mp4 for videos longer than {GIF_MAX_FRAMES} frames"
            )
        save_gif(path, [f for c in drawn_chunks() for f in c], fps)
        return
    from ..data.encode import VideoWriter

    with VideoWriter(path, fps=fps, codec="h264") as out:
        for frames in drawn_chunks():
            out.write(frames)


def plot_timeline(path: Path, seconds: np.ndarray, names: list[str], k: int) -> bool:
    plt = pyplot("timeline plot")
    if plt is None:
        return False
    shown = list(dict.fromkeys(int(i) for i in seconds.argmax(1)))  # every second's winner
    shown += [int(i) for i in np.argsort(seconds.mean(0))[::-1] if int(i) not in shown]
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(seconds)) + 0.5
    for c in shown[: max(k, 1)]:
        ax.plot(x, seconds[:, c], label=names[c])
    ax.set(xlabel="second", ylabel="score", title="class scores over time", ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def plot_proposals(path: Path, proposals: list[dict], duration: float, k: int) -> bool:
    """The top-``k`` proposals as bars on the video's time line, best on top."""
    plt = pyplot("proposal plot")
    if plt is None:
        return False
    shown = proposals[:k]
    fig, ax = plt.subplots(figsize=(10, 0.6 + 0.35 * max(len(shown), 1)))
    cmap = plt.get_cmap("viridis")
    for row, p in enumerate(shown):
        start, end = p["segment"]
        ax.barh(row, end - start, left=start, height=0.7, color=cmap(p["score"]))
        ax.text(end, row, f" {p['score']:.2f}", va="center", fontsize=7)
    ax.set(xlim=(0, duration), xlabel="second", yticks=[], title=f"top {len(shown)} proposals")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def localize(args, video: str, checkpoint: str) -> int:
    """``--task localization``: clip features -> BMN -> proposals in seconds."""
    from ..apis import init_recognizer
    from ..extract import video_proposals

    if not args.features_checkpoint:
        raise UsageError("--task localization needs --features-checkpoint (the recognizer)")
    model = init_recognizer(
        args.config or args.model, checkpoint, args.device, args.trust_checkpoint
    )
    if getattr(model, "task", None) != "localization":
        raise UsageError(f"{checkpoint} holds a {type(model).__name__}, not a localization model")
    extractor = init_recognizer(
        args.features_config or args.features_model,
        args.features_checkpoint,
        args.device,
        args.trust_checkpoint,
    )
    listed, duration = video_proposals(
        model, extractor, video, args.clip_len, args.clip_stride, args.frame_interval
    )
    folder = Path(args.out).parent if args.out else Path(".")
    stem = Path(video).stem
    folder.mkdir(parents=True, exist_ok=True)
    result = {"version": "VERSION 1.3", "results": {stem: listed}, "external_data": {}}
    (folder / f"{stem}_proposals.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {folder / f'{stem}_proposals.json'} ({len(listed)} proposals)")
    if plot_proposals(folder / f"{stem}_proposals.png", listed, duration, args.top_k):
        print(f"wrote {folder / f'{stem}_proposals.png'}")
    for p in listed[: args.top_k]:
        start, end = p["segment"]
        print(f"{start:8.2f}s - {end:8.2f}s  {p['score']:.4f}")
    return 0


VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".gif")


def video_skeleton(args, model) -> dict:
    """The pose sample of ``args.video`` from Keypoint R-CNN (``--pose-weights``)."""
    from ..pose_estimation import KeypointRCNN, estimate_video_poses

    if not args.pose_weights:
        raise UsageError(
            f"{args.video}: a skeleton model reads keypoints: give --pose-weights (torchvision's "
            "keypointrcnn_resnet50_fpn weights) to estimate them, or a pose pickle / keypoint "
            "JSON (actionkit-data keypoints converts pose-estimator output)"
        )
    graph = getattr(model.backbone, "graph", None)
    if graph is not None and graph.num_node != 17:
        raise UsageError(
            f"{args.checkpoint}: the model takes {graph.num_node}-joint skeletons; Keypoint "
            "R-CNN gives COCO-17 2D keypoints"
        )
    estimator = KeypointRCNN(
        args.pose_weights, args.device, args.det_score, args.pose_min_size,
        trust=args.trust_checkpoint,
    )  # fmt: skip
    sample = estimate_video_poses(args.video, estimator, stride=args.pose_stride)
    people = int((sample["keypoint_score"].sum(-1) > 0).sum(0).max())
    print(f"{args.video}: {sample['total_frames']} frames, up to {people} people per frame")
    if args.save_poses:
        from ..data.pose import save_pose_pickle

        save_pose_pickle(args.save_poses, [sample], {})
        print(f"wrote {args.save_poses}")
    return sample


def draw_skeletons(image, people: tuple[np.ndarray, np.ndarray], scale: float) -> None:
    """COCO-17 skeletons (keypoints [P, 17, 2], scores [P, 17]) on a PIL image drawn at
    ``scale`` times the keypoints' frame; joints with score 0 (none detected) left out."""
    from PIL import ImageDraw

    from ..ops.pose_heatmaps import COCO_LIMBS

    pen = ImageDraw.Draw(image)
    for kp, score in zip(*people, strict=True):
        xy = kp * scale
        for a, b in COCO_LIMBS:
            if score[a] > 0 and score[b] > 0:
                pen.line([tuple(xy[a]), tuple(xy[b])], fill=(0, 255, 0), width=2)
        for (x, y), s in zip(xy, score, strict=True):
            if s > 0:
                pen.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(255, 0, 0))


def classify_skeletons(args, model) -> int:
    """A skeleton model on a pose pickle (every sample), one video's keypoint JSON, or a
    video (keypoints from Keypoint R-CNN)."""
    from ..apis import inference_skeleton
    from ..data.pose import load_pose_samples

    if args.window is not None:
        raise UsageError("--window classifies videos; a skeleton model reads pose files")
    is_video = Path(args.video).suffix.lower() in VIDEO_SUFFIXES
    out_suffix = Path(args.out).suffix.lower() if args.out else None
    if out_suffix and out_suffix != ".json" and not (is_video and out_suffix in (".mp4", ".gif")):
        raise UsageError(
            f"--out: {args.out}: skeleton results are written as .json"
            + (" (or, for a video, an overlay .mp4 / .gif)" if is_video else "")
        )
    samples = (
        [video_skeleton(args, model)] if is_video else load_pose_samples(args.video, args.img_shape)
    )
    results = []
    for sample in samples:
        result = inference_skeleton(model, sample)
        best = result.top_k(args.top_k)
        name = str(sample.get("frame_dir", len(results)))
        print(f"{name}: " + ", ".join(f"{label} {score:.4f}" for label, score in best))
        results.append({"sample": name, "top": [[label, round(s, 6)] for label, s in best]})
    if out_suffix == ".json":
        from ..engine.checkpoint import atomic_write_json

        atomic_write_json(args.out, results, indent=1)
        print(f"wrote {args.out}")
    elif out_suffix:
        from ..data.decode import VideoReader

        reader = VideoReader(args.video)
        fps = reader.fps if reader.fps > 0 and math.isfinite(reader.fps) else 30.0
        lines = [f"{score:.2f} {label}" for label, score in best]
        (sample,) = samples
        kp, score = sample["keypoint"], sample["keypoint_score"]
        step = args.pose_stride  # frame i shows the poses estimated last before it
        write_overlay(
            Path(args.out),
            reader,
            fps,
            lambda i: lines,
            lambda i: (
                lambda image, scale: draw_skeletons(
                    image, (kp[:, i // step], score[:, i // step]), scale
                )
            ),
        )
        print(f"wrote {args.out}")
    return 0


def person_boxes(args, video_id: str, num_max: int):
    """``boxes_of(timestamp, frame)`` for :func:`actionkit.apis.inference_detector`: from
    ``--proposals`` (the boxes MMAction2's AVADataset keeps: score >= min(--det-score, the
    best); none where the file has no row for the keyframe) or Faster R-CNN."""
    from ..data.ava import keyframe_proposals, load_ava_proposals
    from ..pose_estimation import PersonDetector

    if bool(args.proposals) == bool(args.det_weights):
        raise UsageError(
            "--task detection: give the actors' boxes, either --proposals FILE (a proposal "
            "pickle or CSV) or --det-weights FILE (torchvision's fasterrcnn_resnet50_fpn)"
        )
    if args.proposals:
        table = load_ava_proposals(args.proposals, args.trust_checkpoint)
        if not any(key.rsplit(",", 1)[0] == video_id for key in table):
            raise UsageError(
                f"--proposals: {args.proposals} has no boxes of video {video_id!r} (its keys "
                "are 'video_id,timestamp'; --video-id names the video)"
            )

        def from_file(timestamp: int, frame: np.ndarray):
            key = f"{video_id},{timestamp:04d}"
            if key not in table:
                return np.zeros((0, 4)), np.zeros(0)
            boxes, scores = keyframe_proposals(table, key, args.det_score, num_max, args.proposals)
            return boxes, np.ones(len(boxes)) if scores is None else scores

        return from_file
    detector = PersonDetector(args.det_weights, args.device, args.det_score, args.det_min_size,
                              trust=args.trust_checkpoint)  # fmt: skip

    def detected(timestamp: int, frame: np.ndarray):
        ((boxes, scores),) = detector(frame[None])
        h, w = frame.shape[:2]
        return np.clip(boxes / np.array([w, h, w, h], np.float32), 0, 1), scores

    return detected


def draw_boxes(image, actors: list[tuple[np.ndarray, list[str]]], scale: float) -> None:
    """Boxes (pixels of the frame) with their lines of text above them, on a PIL image
    drawn at ``scale`` times the frame."""
    from PIL import ImageDraw

    pen = ImageDraw.Draw(image)
    for box, lines in actors:
        x1, y1, x2, y2 = (float(v) * scale for v in box)
        pen.rectangle([x1, y1, x2, y2], outline=(0, 255, 0), width=2)
        for row, text in enumerate(lines):
            xy = (x1 + 2, y1 + 2 + 12 * row)
            pen.text((xy[0] + 1, xy[1] + 1), text, fill=(0, 0, 0))
            pen.text(xy, text, fill=(0, 255, 0))


def detect(args, model) -> int:
    """``--task detection``: the actions of every actor at every second (keyframe) of the
    video, as AVA's CSV, printed, and drawn on the video with --out."""
    from ..apis import inference_detector
    from ..config import AVAConfig
    from ..data.decode import VideoReader
    from ..engine.checkpoint import write_atomically
    from ..metrics.ava import detection_rows

    if model.cfg.data.kind != "ava":
        raise UsageError(f"--task detection: {args.checkpoint} holds a {model.cfg.data.kind} model")
    if args.window is not None:
        raise UsageError("--window: a detection model scores every second already")
    if args.out and Path(args.out).suffix.lower() not in (".mp4", ".gif"):
        raise UsageError(f"--out: {args.out} must end in .mp4 or .gif")
    ava = model.cfg.data.ava or AVAConfig()
    video_id = args.video_id or Path(args.video).stem
    boxes_of = person_boxes(args, video_id, ava.num_max_proposals)
    found = inference_detector(model, args.video, boxes_of, timestamp_start=args.timestamp_start)
    names = model.labels or [f"action {i}" for i in range(model.cfg.model.num_classes)]
    rows, drawn = [], {}
    for kf in found:
        actors = []
        rows += detection_rows(video_id, f"{kf.timestamp:04d}", kf.boxes, kf.scores,
                               ava.action_thr, ava.custom_classes)  # fmt: skip
        for n, (box, score) in enumerate(zip(kf.boxes, kf.scores, strict=True)):
            coords = ",".join(f"{v:.4f}" for v in box)
            best = [
                c for c in np.argsort(-score[1:], kind="stable") + 1 if score[c] >= args.action_thr
            ]
            lines = [f"{names[c]} {score[c]:.2f}" for c in best[: args.top_k]]
            print(f"{kf.timestamp:>6d}s  actor {n + 1} [{coords}]  " + (", ".join(lines) or "-"))
            actors.append((box, lines))
        drawn[kf.timestamp] = actors
    folder = Path(args.out).parent if args.out else Path(".")
    csv_path = Path(args.csv) if args.csv else folder / f"{Path(args.video).stem}_detections.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(csv_path, lambda tmp: tmp.write_text("".join(rows)))
    print(f"wrote {csv_path} ({len(rows)} rows, {len(found)} keyframes)")
    if args.out:
        reader = VideoReader(args.video)
        fps, (h, w) = reader.fps, reader.get_frames([0]).shape[1:3]
        start = ava.timestamp_start if args.timestamp_start is None else args.timestamp_start
        scale = np.array([w, h, w, h])

        def decorate_of_frame(i: int):
            actors = drawn.get(start + int(math.floor(i / fps + 0.5)), [])
            return lambda image, s: draw_boxes(image, [(b * scale, t) for b, t in actors], s)

        write_overlay(Path(args.out), reader, fps, lambda i: [], decorate_of_frame)
        reader.close()
        print(f"wrote {args.out}")
    return 0


def live_lines(scores, names: list[str], k: int, threshold: float) -> list[str]:
    """The top ``k`` classes scoring at least ``threshold``, as ``name: score`` lines."""
    shown = [(n, s) for n, s in top_k(scores, names, k) if s >= threshold]
    return [f"{n}: {s:.2f}" for n, s in shown] or [f"(nothing >= {threshold:g})"]


def camera(args) -> int:
    """``--camera``: recognition on a live source (:mod:`actionkit.live`)."""
    from ..apis import init_recognizer
    from ..live import run_live
    from ..models.checkpoint import num_classes_of
    from ..models.registry import modality_of

    if args.out and Path(args.out).suffix.lower() not in (".mp4", ".mkv", ".webm"):
        raise UsageError(f"--out: {args.out} must end in .mp4, .mkv or .webm for --camera")
    if args.average < 1 or args.window is not None and args.window <= 0:
        raise UsageError("--average must be at least 1 and --window positive")
    model = init_recognizer(
        args.config or args.model, args.checkpoint, args.device, args.trust_checkpoint
    )
    num_classes = num_classes_of(model.state_dict())
    if args.labels:
        model.labels = read_labels(args.labels, num_classes)
    if (
        model.cfg.data.kind not in ("video", "rawframes")
        or modality_of(model.cfg.model.name) != "rgb"
    ):
        raise UsageError(f"--camera: {args.checkpoint} is not a recognizer of video frames")
    names = model.labels or [f"class {i}" for i in range(num_classes)]
    show = None
    if args.show:
        try:
            import cv2
        except ImportError as e:
            raise UsageError("--show needs OpenCV: pip install opencv-python") from e

        def show(picture):
            cv2.imshow("actionkit-infer", picture[..., ::-1])
            if cv2.waitKey(1) & 0xFF == ord("q"):
                raise KeyboardInterrupt

    printed = {"top": None, "at": -1.0}

    def on_result(when, scores):  # a line when the leader changes, else one a second
        lines = live_lines(scores.numpy(), names, args.top_k, args.threshold)
        if lines[0].split(":")[0] != printed["top"] or when - printed["at"] >= 1.0:
            print(f"{when:8.2f}s  " + "  ".join(lines), flush=True)
            printed.update(top=lines[0].split(":")[0], at=when)

    def picture(frame, scores):
        text = (
            ["..."]
            if scores is None
            else live_lines(scores.numpy(), names, args.top_k, args.threshold)
        )
        return draw(frame[None], text)[0]

    writer = None

    def write(picture, fps):
        nonlocal writer
        if args.out:
            if writer is None:  # (the source's frame rate is known once it is open)
                from ..data.encode import VideoWriter

                writer = VideoWriter(args.out, fps=fps, codec="h264")
            writer.write(picture[None])
        if show is not None:
            show(picture)

    try:
        stats = run_live(
            model, args.camera, args.window or 2.0, args.average,
            draw=picture if args.out or show else None,
            write=write if args.out or show else None,
            on_result=on_result, max_seconds=args.max_seconds,
        )  # fmt: skip
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
        print(f"wrote {args.out}")
    print(stats.summary())
    return 0


@one_line_errors("actionkit-infer")
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.camera is not None:
        if len(args.inputs) != 1 or args.checkpoint_flag:
            raise UsageError("--camera takes the checkpoint alone: CHECKPOINT --camera SOURCE")
        args.checkpoint = args.inputs[0]
        if not Path(args.checkpoint).is_file():
            raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint")
        return camera(args)
    if len(args.inputs) > 2:
        raise UsageError(f"expected [CHECKPOINT] VIDEO, got {len(args.inputs)} arguments")
    if len(args.inputs) == 2 and args.checkpoint_flag:
        raise UsageError("the checkpoint is given twice (first argument and --checkpoint)")
    if len(args.inputs) == 1 and not args.checkpoint_flag:
        raise UsageError("no checkpoint: give CHECKPOINT VIDEO or --checkpoint")
    args.checkpoint = args.checkpoint_flag or args.inputs[0]
    args.video = args.inputs[-1]
    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"{args.checkpoint}: no such checkpoint")
    if not Path(args.video).exists():
        raise FileNotFoundError(f"{args.video}: no such video")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {args.top_k}")
    if args.window is not None and args.window <= 0 or args.stride is not None and args.stride <= 0:
        raise UsageError("--window and --stride must be positive numbers of seconds")
    if args.task == "localization":
        return localize(args, args.video, args.checkpoint)
    from ..apis import inference_recognizer, init_recognizer, predict_frames
    from ..data.decode import VideoReader
    from ..models.checkpoint import num_classes_of
    from ..models.registry import modality_of

    model = init_recognizer(
        args.config or args.model, args.checkpoint, args.device, args.trust_checkpoint
    )
    if args.labels:
        model.labels = read_labels(args.labels, num_classes_of(model.state_dict()))
    if model.cfg.data.kind == "pose":
        return classify_skeletons(args, model)
    if modality_of(model.cfg.model.name) == "audio" and args.window is not None:
        raise UsageError("--window: an audio model classifies the whole soundtrack")
    if model.cfg.data.kind == "ava" or args.task == "detection":
        return detect(args, model)
    if args.out and Path(args.out).suffix.lower() not in (".mp4", ".gif", ".mkv", ".webm"):
        raise UsageError(f"--out: {args.out} must end in .mp4, .mkv, .webm or .gif")
    reader = VideoReader(args.video)
    fps = reader.fps
    if not (fps > 0 and math.isfinite(fps)):  # no timestamps to count seconds by
        if args.window is not None:
            raise UsageError(f"{args.video}: the file gives no frame rate: --window needs one")
        fps = 30.0
        if args.out:
            print(f"{args.video}: the file gives no frame rate; writing --out at 30 fps")
    if args.window is None:
        result = inference_recognizer(model, args.video)
        best = result.top_k(args.top_k)
        for name, score in best:
            print(f"{score:.4f}  {name}")
        if args.out:
            text = [f"{name}: {score:.2f}" for name, score in best]
            write_overlay(Path(args.out), reader, fps, lambda i: text)
            print(f"wrote {args.out}")
        return 0

    stride = args.stride or args.window / 2
    spans = windows(len(reader), fps, args.window, stride)
    scores = np.stack(
        [predict_frames(model, reader.get_frames, b - a, fps, a).numpy() for a, b in spans]
    )
    names = model.labels or [f"class {i}" for i in range(scores.shape[1])]
    seconds = per_second(spans, scores, fps, len(reader))
    timeline = {
        "video": str(args.video),
        "fps": fps,
        "window_s": args.window,
        "stride_s": stride,
        "windows": [
            {
                "start_s": round(a / fps, 3),
                "end_s": round(b / fps, 3),
                "top": top_k(s, names, args.top_k),
            }
            for (a, b), s in zip(spans, scores, strict=True)
        ],
        "seconds": [
            {"second": i, "top": top_k(s, names, args.top_k)} for i, s in enumerate(seconds)
        ],
    }
    folder = Path(args.out).parent if args.out else Path(".")
    stem = Path(args.video).stem
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}_timeline.json").write_text(json.dumps(timeline, indent=1) + "\n")
    print(f"wrote {folder / f'{stem}_timeline.json'}")
    if plot_timeline(folder / f"{stem}_timeline.png", seconds, names, args.top_k):
        print(f"wrote {folder / f'{stem}_timeline.png'}")
    for entry in timeline["seconds"]:
        label, score = entry["top"][0]
        print(f"{entry['second']:>5d}s  {score:.4f}  {label}")
    if args.out:
        texts = [[f"{n}: {s:.2f}" for n, s in e["top"]] for e in timeline["seconds"]]
        write_overlay(
            Path(args.out), reader, fps, lambda i: texts[min(int(i / fps), len(texts) - 1)]
        )
        print(f"wrote {args.out}")
    reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
