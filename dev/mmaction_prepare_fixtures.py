"""Fixtures for ``actionkit-data prepare``: MMAction2's own ``tools/data/build_file_list.py``
run on the hand-written annotation files under ``tests/fixtures/prepare/<dataset>/``
(``annotations/``, ``videos.txt``: the video files that exist, as empty placeholders;
``rawframes.txt``: rawframe folders and their frame counts, each with as many flow
images besides), its lists written to ``tests/fixtures/prepare/<dataset>/mmaction/``.

Run in the MMAction2 side venv (``dev/PARITY.md``) with MMAction2's ``tools/``
unpacked under MM2 (``git archive HEAD tools | tar x -C $MM2``):

    MM2=/tmp/mm2 /tmp/peersvenv/bin/python dev/mmaction_prepare_fixtures.py [DATASET...]
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from prepare_layout import FIXTURES, lay_out  # noqa: E402

# dataset -> the build_file_list.py runs of its MMAction2 scripts (without --shuffle)
RUNS = {
    "kinetics400": [
        "videos_train/ --level 2 --format videos --num-split 1 --subset train",
        "videos_val/ --level 2 --format videos --num-split 1 --subset val",
    ],
    "sthv1": [
        f"videos/ --num-split 1 --level 1 --subset {s} --format videos" for s in ("train", "val")
    ],
    "sthv2": [
        f"videos/ --num-split 1 --level 1 --subset {s} --format videos" for s in ("train", "val")
    ],
    "jester": [
        f"videos/ --num-split 1 --level 1 --subset {s} --format videos" for s in ("train", "val")
    ],
    "ucf101": [
        "videos/ --level 2 --format videos",
        "rawframes/ --level 2 --format rawframes",
    ],
    "hmdb51": ["videos/ --level 2 --format videos"],
    "diving48": [
        f"videos/ --num-split 1 --level 1 --subset {s} --format videos" for s in ("train", "val")
    ],
    "mit": [
        "videos/training/ --level 2 --format videos --num-split 1 --subset train",
        "videos/validation/ --level 2 --format videos --num-split 1 --subset val",
    ],
    "mmit": [
        f"videos/ --level 2 --format videos --num-split 1 --subset {s}" for s in ("train", "val")
    ],
}


def hvu(mm2: Path, tmp: Path, base: Path) -> None:
    """HVU's own scripts: parse_tag_list.py (hvu_tags.json), then generate_file_list.py
    per split (videos mode), run where they expect to be (tools/data/hvu)."""
    here = Path(tmp) / "tools" / "data" / "hvu"
    here.mkdir(parents=True)
    for script in ("parse_tag_list.py", "generate_file_list.py"):
        shutil.copy(mm2 / "tools" / "data" / "hvu" / script, here)
    run(["parse_tag_list.py"], here, "hvu tags")
    for split in ("train", "val"):
        args = ["generate_file_list.py", "--input_csv", str(base / f"annotations/hvu_{split}.csv")]
        args += ["--src_dir", str(base / "videos"), "--output", str(base / f"hvu_{split}.json")]
        run([*args, "--mode", "videos"], here, f"hvu {split}")


def run(args: list, cwd: Path, what: str, env=None) -> None:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{what}: {done.stderr[-2000:]}")


def main() -> None:
    mm2 = Path(os.environ.get("MM2", "/tmp/mm2"))
    only = set(sys.argv[1:])
    for dataset, runs in {**RUNS, "hvu": []}.items():
        if only and dataset not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "data" / dataset
            lay_out(dataset, base)
            if dataset == "hvu":
                hvu(mm2, Path(tmp), base)
            for flags in runs:
                args = [str(mm2 / "tools/data/build_file_list.py"), dataset]
                args += [f"data/{dataset}/{flags.split()[0]}", *flags.split()[1:]]
                env = {**os.environ, "PYTHONPATH": str(mm2)}
                run(args, Path(tmp), f"{dataset}: {flags}", env)
            out = FIXTURES / dataset / "mmaction"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            for made in sorted([*base.glob(f"{dataset}_*.txt"), *base.glob(f"{dataset}_*.json")]):
                shutil.copy(made, out / made.name)
                print(dataset, made.name, len(made.read_text().splitlines()), "lines")


if __name__ == "__main__":
    main()
