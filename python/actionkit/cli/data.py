"""``actionkit-data``: data preparation.

actionkit-data synth OUT [--classes ...] [--videos-per-class N] [--codec h264|vp9|mjpeg]
actionkit-data check LIST [--kind video|rawframes] [--data-prefix DIR]
actionkit-data resize SRC_DIR DST_DIR [--short-side 256] [--gop 16]
actionkit-data extract-frames SRC DST_DIR [--flow tvl1] [--bound 20] [--flow-format jpg|npy]
               [--no-rgb] [--device cpu|cuda] [--resume]
actionkit-data extract-audio LIST OUT_DIR [--data-prefix DIR] [--out-list FILE]
actionkit-data build-list ROOT OUT [--kind video|rawframes]
actionkit-data features SRC_DIR DST_DIR --rescale 100 [--pool mean|max] [--format csv|npy]
actionkit-data extract-features LIST --checkpoint CKPT [--model NAME] --out DIR
               [--clip-len 16] [--stride 16] [--frame-interval 1] [--format csv|npy]
actionkit-data pgm TEM_RESULTS.json ANN_FILE OUT [--peak-threshold 0.5] [--top-k 1000]
actionkit-data ssn-proposals ANN_FILE PROPOSALS.json OUT.txt [--classes FILE] [--top-k 1000]
actionkit-data ntu SKELETON_DIR OUT.pkl [--dataset ntu60|ntu120] [--ignore MISSING.txt]
actionkit-data keypoints LIST OUT.pkl --img-shape H W [--root DIR] [--max-person 2]
actionkit-data prepare DATASET ROOT [--out DIR] [--data DIR] [--rawframes] [--resize-short 256]
               [--extract-frames]      (kinetics400/600/700, sthv1, sthv2, ucf101, hmdb51, ...;
                                        activitynet, thumos14, ava21, ava22, ntu60, ntu120,
                                        hvu, gym99 / gym288 [--cut])
actionkit-data browse CONFIG [--split train] [-n 16] [--out grid.png|grid.gif] [--epoch 0]
actionkit-data feature-bank CONFIG CHECKPOINT --out DIR [--split train] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..data import synthetic, tools
from ._common import add_debug_flag, add_set_flag, add_trust_flag, one_line_errors


def _synth(args) -> int:
    classes = args.classes or list(synthetic.CLASSES)
    data = synthetic.make_dataset(
        args.out,
        classes,
        videos_per_class=args.videos_per_class,
        val_per_class=args.val_per_class,
        test_per_class=args.test_per_class,
        num_frames=args.frames,
        size=(args.height, args.width),
        fps=args.fps,
        codec=args.codec,
        gop=args.gop,
        seed=args.seed,
        rawframes=args.rawframes,
    )
    total = len(classes) * args.videos_per_class
    print(f"wrote {total} videos of {len(classes)} classes under {data.root}")
    print(f"  lists: {data.train_list}, {data.val_list} (data_prefix {data.root / 'videos'})")
    return 0


def _check(args) -> int:
    from ..data.datasets import check_list

    count, problems = check_list(
        args.list,
        kind=args.kind,
        data_prefix=args.data_prefix,
        backend=args.backend,
        decode=not args.no_decode,
    )
    for p in problems:
        print(f"{args.list}:{p.line}: {p.reason}")
    print(f"{count} entries, {len(problems)} bad")
    return 1 if problems else 0


def _videos(src: Path):
    return sorted(p for p in src.rglob("*") if p.suffix.lower() in tools.VIDEO_SUFFIXES)


def _resize(args) -> int:
    src, dst = Path(args.src), Path(args.dst)
    failures = 0
    for video in _videos(src):
        out = (dst / video.relative_to(src)).with_suffix(".mp4")
        try:
            n, h, w = tools.resize_video(video, out, args.short_side, args.gop)
            print(f"{video} -> {out} ({n} frames, {w}x{h})")
        except Exception as e:  # report and go on: one bad file must not stop a batch job
            failures += 1
            print(f"{video}: FAILED: {e}", file=sys.stderr)
    return 1 if failures else 0


def _extract(args) -> int:
    src, dst = Path(args.src), Path(args.dst)
    failures = 0
    videos = [src] if src.is_file() else _videos(src)
    for video in videos:
        out = dst / (video.stem if src.is_file() else video.relative_to(src).with_suffix(""))
        try:
            n = tools.extract_rawframes(
                video, out, rgb=not args.no_rgb, flow=args.flow, bound=args.bound,
                flow_format=args.flow_format, device=args.device, resume=args.resume,
                progress=not args.quiet,
            )  # fmt: skip
            flows = f", {max(n - 1, 0)} flows" if args.flow else ""
            print(f"{video} -> {out} ({n} frames{flows})")
        except Exception as e:  # report and go on, as above
            failures += 1
            print(f"{video}: FAILED: {e}", file=sys.stderr)
    return 1 if failures else 0


def _extract_audio(args) -> int:
    from ..data.audio import extract_audio_list

    out_list = Path(args.out_list or Path(args.list).with_name(f"{Path(args.list).stem}_audio.txt"))
    log = None if args.quiet else print
    result = extract_audio_list(args.list, args.out_dir, out_list, args.data_prefix, log=log)
    for path in result.no_audio:
        print(f"{path}: no audio track, left out of the list")
    for path, reason in result.failed:
        print(f"{path}: FAILED: {reason}", file=sys.stderr)
    listed = result.written + result.existing
    print(
        f"wrote {result.written} feature files to {args.out_dir} ({result.existing} already "
        f"there); {out_list} lists {listed} videos"
        + (
            f"; {len(result.no_audio)} without audio: {out_list}.no_audio.txt"
            if result.no_audio
            else ""
        )
    )
    return 1 if result.failed else 0


def _build_list(args) -> int:
    classes = tools.build_list(args.root, args.out, args.kind)
    names = Path(args.out).with_name("classes.txt")
    print(f"wrote {args.out} ({len(classes)} classes; their names, in label order, in {names})")
    return 0


def _features(args) -> int:
    from ..data.localization import pool_feature, read_features
    from ..engine.checkpoint import atomic_save_array

    src, dst = Path(args.src), Path(args.dst)
    files = sorted(p for p in src.iterdir() if p.suffix in (".csv", ".npy"))
    if not files:
        raise FileNotFoundError(f"{src}: no .csv or .npy feature files")
    dst.mkdir(parents=True, exist_ok=True)
    for file in files:
        pooled = pool_feature(read_features(file), args.rescale, pool_type=args.pool)
        atomic_save_array(dst / f"{file.stem}.{args.format}", pooled.astype(np.float32))
    print(f"wrote {len(files)} feature files of {args.rescale} steps to {dst}")
    return 0


def read_video_list(path: str | Path, data_prefix: str = "") -> list[tuple[str, Path]]:
    """``(name, path)`` per line of a video list: a path, optionally followed by integer
    labels (MMAction2's list files; labels are ignored). The name is the file's stem
    (``v_<id>.mp4`` -> ``v_<id>``, ActivityNet's feature names); two videos with one
    name are an error naming both lines."""
    from ..errors import DataError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such list file")
    videos, seen = [], {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        tokens = line.split()
        while len(tokens) > 1 and tokens[-1].isdigit():
            tokens.pop()
        if not tokens:
            continue
        video = Path(data_prefix) / " ".join(tokens)
        name = video.stem if video.suffix else video.name
        if name in seen:
            raise DataError(
                f"{path}, line {n}: {name} is also on line {seen[name]}: one name, one file"
            )
        seen[name] = n
        videos.append((name, video))
    if not videos:
        raise DataError(f"{path}: no videos listed")
    return videos


def _extract_features(args) -> int:
    from ..apis import init_recognizer
    from ..extract import extract_to_folder

    videos = read_video_list(args.list, args.data_prefix)
    missing = [str(v) for _, v in videos if not v.exists()]
    if missing:
        raise FileNotFoundError(
            f"{args.list}: {len(missing)} listed videos do not exist, e.g. {missing[0]}"
        )
    model = init_recognizer(
        args.config or args.model, args.checkpoint, args.device, args.trust_checkpoint
    )
    counts = extract_to_folder(
        model,
        videos,
        args.out,
        args.clip_len,
        args.stride,
        args.frame_interval,
        args.batch_size,
        f".{args.format}",
    )
    print(
        f"wrote {counts['written']} feature files to {args.out} "
        f"({counts['skipped']} already there, skipped)"
    )
    return 0


def _pgm(args) -> int:
    import json

    from ..data.localization import load_activitynet, run_pgm
    from ..errors import DataError

    path = Path(args.tem_results)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (actionkit-test on a bsn_tem config writes it)"
        )
    try:
        tem = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None
    videos = load_activitynet(args.ann_file, args.subset)
    count = run_pgm(tem, videos, args.out, args.peak_threshold, args.top_k)
    print(f"wrote the proposals and features of {count} videos to {args.out}")
    return 0


def _ssn_proposals(args) -> int:
    from ..data.ssn import proposal_list_from_activitynet, write_proposal_file

    classes = None
    if args.classes:
        classes = [x.strip() for x in Path(args.classes).read_text().splitlines() if x.strip()]
    videos, names = proposal_list_from_activitynet(
        args.ann_file, args.proposals, classes, args.top_k
    )
    write_proposal_file(args.out, videos)
    count = sum(len(v.proposals) for v in videos)
    print(f"wrote {count} proposals of {len(videos)} videos ({len(names)} classes) to {args.out}")
    if not args.classes:
        classes_file = Path(args.out).with_name("classes.txt")
        classes_file.write_text("".join(f"{n}\n" for n in names))
        print(f"wrote the class order (labels 1..{len(names)}) to {classes_file}")
    return 0


def _ntu(args) -> int:
    from ..data.pose_convert import convert_ntu

    result = convert_ntu(
        args.src,
        args.out,
        dataset=args.dataset,
        ignore=args.ignore,
        skip_invalid=args.skip_invalid,
        progress=True,
    )
    for name, reason in result["skipped"]:
        print(f"skipped {name}: {reason}")
    print(
        f"wrote {result['samples']} {result['dataset']} samples to {args.out} "
        f"({result['ignored']} on the ignore list, {len(result['skipped'])} skipped)"
    )
    return 0


def _keypoints(args) -> int:
    from ..data.pose_convert import convert_keypoint_json

    result = convert_keypoint_json(
        args.list, args.out, tuple(args.img_shape), root=args.root, max_person=args.max_person
    )
    splits = ", ".join(f"{k}: {v}" for k, v in result["splits"].items())
    print(f"wrote {result['samples']} {result['layout']} samples to {args.out} ({splits})")
    return 0


def _prepare(args) -> int:
    from ..data.prepare import OTHERS, prepare
    from ..errors import UsageError

    if args.dataset in OTHERS:
        ava = args.dataset.startswith("ava")
        if args.rawframes or args.resize_short or args.data or args.extract_frames and not ava:
            raise UsageError(
                f"{args.dataset}: --data, --rawframes, --resize-short and --extract-frames are "
                "for the recognition datasets' videos (and --extract-frames for AVA's)"
            )
        root = Path(args.root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such dataset folder")
        out = Path(args.out or root)
        out.mkdir(parents=True, exist_ok=True)
        if args.cut and not (ava or args.dataset.startswith("gym")):
            raise UsageError("--cut: only AVA's movies and FineGym's subactions are cut")
        found = OTHERS[args.dataset](
            root, out, dataset=args.dataset, cut=args.cut, extract_frames=args.extract_frames
        )
        for line in found:
            print(line)
        return 0
    reports = prepare(
        args.dataset, args.root, args.out, args.data, args.rawframes, args.rgb_prefix,
        args.resize_short, args.extract_frames,
    )  # fmt: skip
    for r in reports:
        if r.list_file is None:
            print(f"{r.name}: {r.listed} clips without labels (no list written)")
            continue
        extra = f", {r.duplicates} listed twice (kept once)" if r.duplicates else ""
        print(
            f"{r.name}: {r.written} of {r.listed} clips in {r.list_file} (under {r.folder}){extra}"
        )
        if r.missing:
            missing = r.list_file.with_name(f"{args.dataset}_{r.name}_missing.txt")
            print(f"  {r.missing} not found under {r.folder}: listed in {missing}")
    out = Path(args.out or args.root)
    print(f"class names: {out / 'classes.txt'}")
    return 0


def _browse(args) -> int:
    from ..config import load_config
    from ..data import browse
    from ..engine.builder import build_dataset, class_names, prepare_data
    from ..errors import UsageError
    from .infer import save_gif

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".gif"):
        raise UsageError(f"--out: {out} must end in .png, .jpg or .gif")
    if args.n < 1 or args.frames < 1 or args.height < 8:
        raise UsageError("-n and --frames must be at least 1, --height at least 8")
    cfg = load_config(args.config, args.set)
    if cfg.data.kind not in ("video", "rawframes"):
        raise UsageError(
            f"{args.config}: browse draws video and rawframe clips; data.kind is {cfg.data.kind}"
        )
    prepare_data(cfg)  # (a synthetic dataset is written on first use, as for training)
    dataset = build_dataset(cfg, args.split)
    rng = np.random.default_rng(args.seed)
    count = min(args.n, len(dataset))
    picked = sorted(rng.choice(len(dataset), count, replace=False).tolist())
    samples = []
    for index in picked:
        sample = dataset.browse(index, args.epoch)
        samples.append({**sample, "index": index})
        views = sample["views"]
        print(
            f"#{index} {sample['path']} (line {sample['line']}): frames "
            f"{sample['indices'].tolist()} -> {views.shape[0]} view(s) of "
            f"{views.shape[1]} x {views.shape[-2]}x{views.shape[-1]}"
        )
    names = class_names(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        save_gif(out, browse.animation(samples, names, args.height), args.fps)
    else:
        from PIL import Image

        Image.fromarray(browse.sheet(samples, names, args.frames, args.height)).save(out)
    print(f"wrote {out} ({count} samples of {args.split}, epoch {args.epoch})")
    return 0


def _feature_bank(args) -> int:
    """A long-term feature bank of a split: a detector's RoI features of every keyframe's
    proposals (actionkit.models.lfb.infer_feature_bank)."""
    from ..apis import init_recognizer
    from ..config import load_config
    from ..engine.builder import build_loader, prepare_data
    from ..models.lfb import infer_feature_bank

    cfg = load_config(args.config, args.set)
    prepare_data(cfg)  # (a synthetic dataset is written on first use)
    model = init_recognizer(cfg, args.checkpoint, args.device, args.trust_checkpoint)
    loader, _ = build_loader(model.cfg, args.split, evaluate=True)
    out = infer_feature_bank(model, loader, args.out, args.device)
    print(f"feature bank of {len(loader.dataset)} keyframes ({args.split}): {out}")
    return 0


@one_line_errors("actionkit-data")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actionkit-data", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic action dataset with list files")
    p.add_argument("out")
    p.add_argument(
        "--classes",
        nargs="+",
        choices=synthetic.CLASSES,
        metavar="CLASS",
        help=f"default: all of {', '.join(synthetic.CLASSES)}",
    )
    p.add_argument("--videos-per-class", type=int, default=8)
    p.add_argument("--val-per-class", type=int, default=2)
    p.add_argument("--test-per-class", type=int, default=0, help="a third split, test_list.txt")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--codec", choices=["h264", "vp9", "mjpeg"], default="h264")
    p.add_argument("--gop", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rawframes", action="store_true", help="also extract JPEG frames")
    p.set_defaults(run=_synth)

    p = sub.add_parser("check", help="scan a list file and report every bad entry")
    p.add_argument("list")
    p.add_argument("--kind", choices=["video", "rawframes"], default="video")
    p.add_argument("--data-prefix", default="")
    p.add_argument("--backend", default="auto")
    p.add_argument("--no-decode", action="store_true", help="only open and count frames")
    p.set_defaults(run=_check)

    p = sub.add_parser("resize", help="re-encode videos: short side N, dense keyframes")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--short-side", type=int, default=256)
    p.add_argument("--gop", type=int, default=16)
    p.set_defaults(run=_resize)

    p = sub.add_parser(
        "extract-frames",
        help="decode videos to img_00001.jpg folders (and TV-L1 flow_x/flow_y_00001.jpg)",
    )
    p.add_argument("src", help="a video, or a folder searched for videos")
    p.add_argument("dst", help="one folder per video (SRC's layout kept)")
    p.add_argument("--flow", choices=["tvl1"], help="also optical flow between consecutive frames")
    p.add_argument(
        "--bound", type=float, default=20.0, help="flow JPEGs span +-BOUND px (MMAction2: 20)"
    )
    p.add_argument(
        "--flow-format", "--out-format", choices=["jpg", "npy"], default="jpg",
        help="jpg: flow_x/flow_y_00001.jpg quantised as MMAction2's; npy: float16 flow.npy",
    )  # fmt: skip
    p.add_argument("--no-rgb", action="store_true", help="flow only, no img_*.jpg")
    p.add_argument("--device", default="cpu", help="where the flow is computed (cpu, cuda)")
    p.add_argument(
        "--resume", action="store_true", help="skip folders already complete (same settings)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_extract)

    p = sub.add_parser(
        "extract-audio",
        help="log-mel features of the videos' soundtracks (MMAction2's) and their list",
    )
    p.add_argument("list", help="video list: path label [label ...] per line")
    p.add_argument("out_dir", help="folder for <path without suffix>.npy [T, 80] files")
    p.add_argument("--data-prefix", default="", help="folder the listed paths are under")
    p.add_argument(
        "--out-list", help="the audio list (path total_frames label); default LIST_audio.txt"
    )
    p.add_argument("--quiet", action="store_true", help="no line per video")
    p.set_defaults(run=_extract_audio)

    p = sub.add_parser("build-list", help="list file from ROOT/<class>/<video or folder>")
    p.add_argument("root")
    p.add_argument("out")
    p.add_argument("--kind", choices=["video", "rawframes"], default="video")
    p.set_defaults(run=_build_list)

    p = sub.add_parser(
        "features", help="rescale per-video feature sequences to a fixed length (BMN/BSN)"
    )
    p.add_argument("src", help="folder of .csv (header + T rows) or .npy [T, C] files")
    p.add_argument("dst")
    p.add_argument("--rescale", type=int, required=True, help="the fixed length, e.g. 100")
    p.add_argument("--pool", choices=["mean", "max"], default="mean")
    p.add_argument("--format", choices=["csv", "npy"], default="csv")
    p.set_defaults(run=_features)

    p = sub.add_parser(
        "extract-features",
        help="clip features of untrimmed videos from a recognizer (for BMN/BSN), resumable",
    )
    p.add_argument("list", help="video paths, one per line (labels after a path are ignored)")
    p.add_argument("--checkpoint", required=True, help="the recognizer's weights")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", help="its registered name (checkpoints that record none)")
    source.add_argument("--config", help="its YAML config (test pipeline)")
    p.add_argument("--out", required=True, help="folder for <video name>.csv|.npy")
    p.add_argument("--data-prefix", default="", help="folder the listed paths are under")
    p.add_argument("--clip-len", type=int, default=16, help="frames per clip (2D: segments)")
    p.add_argument("--stride", type=int, default=16, help="frames between clip centres")
    p.add_argument("--frame-interval", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass")
    p.add_argument("--format", choices=["csv", "npy"], default="csv")
    p.add_argument("--device", default="cpu")
    add_trust_flag(p)
    p.set_defaults(run=_extract_features)

    p = sub.add_parser(
        "pgm", help="BSN's proposal generation: TEM results -> proposals and BSP features"
    )
    p.add_argument("tem_results", help="tem_results.json (actionkit-test on a bsn_tem config)")
    p.add_argument("ann_file", help="the videos' ActivityNet-style annotation file")
    p.add_argument("out", help="folder for <video>.npz (what a bsn_pem config reads)")
    p.add_argument("--peak-threshold", type=float, default=0.5)
    p.add_argument("--top-k", type=int, default=1000, help="proposals kept per video")
    p.add_argument("--subset", help="official ActivityNet JSON: training/validation/testing")
    p.set_defaults(run=_pgm)

    p = sub.add_parser(
        "ssn-proposals", help="BMN/BSN proposals (ActivityNet results JSON) -> SSN's TAG list"
    )
    p.add_argument("ann_file", help="the videos' ActivityNet-style annotation file")
    p.add_argument("proposals", help="proposals.json (actionkit-test on a BMN / BSN config)")
    p.add_argument("out", help="the TAG proposal list to write (a data.kind ssn ann_file)")
    p.add_argument("--classes", help="class names, one per line: label 1, 2, ... in this order")
    p.add_argument("--top-k", type=int, default=1000, help="proposals kept per video")
    p.set_defaults(run=_ssn_proposals)

    p = sub.add_parser("ntu", help="NTU RGB+D 60/120 .skeleton files -> a pose pickle")
    p.add_argument("src", help="folder of SsssCcccPpppRrrrAaaa.skeleton files")
    p.add_argument("out", help="the pose pickle (splits xsub/xview or xsub/xset)")
    p.add_argument(
        "--dataset",
        choices=["ntu60", "ntu120"],
        help="default: ntu120 when a file is past NTU60's setups/actions",
    )
    p.add_argument(
        "--ignore", help="samples to leave out, one per line (the missing-skeleton list)"
    )
    p.add_argument("--skip-invalid", action="store_true", help="leave malformed files out (listed)")
    p.set_defaults(run=_ntu)

    p = sub.add_parser("keypoints", help="keypoint JSON (OpenPose, COCO, MMPose) -> a pose pickle")
    p.add_argument("list", help="lines 'PATH LABEL [SPLIT]': a JSON file or per-frame folder")
    p.add_argument("out", help="the pose pickle")
    p.add_argument(
        "--img-shape", type=int, nargs=2, metavar=("H", "W"), required=True,
        help="the frames' size (the JSON does not record it)",
    )  # fmt: skip
    p.add_argument("--root", default="", help="folder the listed paths are under")
    p.add_argument("--max-person", type=int, help="most confident people kept per frame")
    p.set_defaults(run=_keypoints)

    from ..data.prepare import DATASETS

    p = sub.add_parser("prepare", help="official annotation files -> list files (no downloads)")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("root", help="the dataset's folder (annotations/ and the videos in it)")
    p.add_argument("--out", help="where the lists go (default ROOT)")
    p.add_argument("--data", help="one folder holding every split's videos (or frame folders)")
    p.add_argument("--rawframes", action="store_true", help="list rawframe folders instead")
    p.add_argument(
        "--rgb-prefix", help="frame file prefix counted (default img_; sthv1, jester: any)"
    )
    p.add_argument("--resize-short", type=int, help="re-encode to this short side first")
    p.add_argument("--extract-frames", action="store_true", help="also decode to JPEG folders")
    p.add_argument(
        "--cut", action="store_true", help="ava21/22: cut the 15-minute spans; gym: subactions"
    )
    p.set_defaults(run=_prepare)

    p = sub.add_parser(
        "browse", help="picture what a config's pipeline feeds the model, beside the source"
    )
    p.add_argument("config", help="the YAML config")
    p.add_argument("--split", choices=["train", "val", "test"], default="train")
    p.add_argument("-n", type=int, default=16, help="samples drawn (default 16)")
    p.add_argument("--out", default="browse.png", help=".png/.jpg (a sheet) or .gif (animated)")
    p.add_argument("--epoch", type=int, default=0, help="whose random augmentation (default 0)")
    p.add_argument("--seed", type=int, default=0, help="which samples")
    p.add_argument("--frames", type=int, default=8, help="frames per row of a sheet")
    p.add_argument("--height", type=int, default=96, help="pixels per frame row")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second of a .gif")
    add_set_flag(p)
    p.set_defaults(run=_browse)

    p = sub.add_parser(
        "feature-bank", help="a long-term feature bank: a detector's RoI features of a split"
    )
    p.add_argument("config", help="the detector's YAML config")
    p.add_argument("checkpoint", help="the detector's checkpoint (read as data)")
    p.add_argument("--split", choices=["train", "val", "test"], default="train")
    p.add_argument("--out", required=True, help="the bank's folder")
    p.add_argument("--device", default="cpu")
    add_trust_flag(p)
    add_set_flag(p)
    p.set_defaults(run=_feature_bank)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
