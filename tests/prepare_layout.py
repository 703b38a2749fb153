"""Lays out a prepare fixture (tests/fixtures/prepare/<dataset>/): its annotation files,
empty placeholder videos (videos.txt) and rawframe folders with as many flow images
beside (rawframes.txt) — for tests/test_prepare.py and for dev/mmaction_prepare_fixtures.py,
which runs MMAction2's scripts on the same layout (no actionkit import here)."""

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "prepare"


def lay_out(dataset: str, where: Path) -> Path:
    source = FIXTURES / dataset
    shutil.copytree(source / "annotations", where / "annotations")
    for line in (source / "videos.txt").read_text().splitlines():
        (where / line).parent.mkdir(parents=True, exist_ok=True)
        (where / line).touch()
    frames = source / "rawframes.txt"
    for line in frames.read_text().splitlines() if frames.exists() else []:
        folder, count = line.rsplit(maxsplit=1)
        (where / folder).mkdir(parents=True, exist_ok=True)
        for i in range(1, int(count) + 1):
            for prefix in ("img_", "flow_x_", "flow_y_"):
                (where / folder / f"{prefix}{i:05d}.jpg").touch()
    return where
