"""``actionkit-data prepare DATASET ROOT``: the official annotation files of the standard
datasets, in the layout their publishers ship them, turned into actionkit's (and
MMAction2's) list files — nothing is downloaded (each reader's docstring says where its
files come from).

``ROOT`` is the dataset's folder as MMAction2 lays it out (``data/kinetics400``): the
annotation files in ``ROOT/annotations`` (or ``ROOT`` itself), the videos in the folders
MMAction2's scripts download them to (``videos_train``, ``videos_val`` for Kinetics,
``videos`` for most others; ``--videos DIR`` names another). Each labelled split becomes
``{dataset}_{split}_list_videos.txt`` (UCF101 and HMDB51: ``{dataset}_{train|val}_split_
{k}_videos.txt`` for the three official splits) with MMAction2's label indices and paths
relative to the split's video folder, in the annotation files' order, and
``classes.txt`` names the classes in label order. Videos are found by their path or,
wherever they sit under the folder, by their file name without extension; a clip the
annotations name but the folder lacks is left out of the list and written to
``{dataset}_{split}_missing.txt`` (MMAction2's ``build_file_list`` drops it silently). An
id listed twice in a split is kept once (reported); twice with different labels, or a
malformed line, is an error naming the file and the line.

The lists equal the output of MMAction2's ``tools/data/build_file_list.py`` on the same
files (tests: fixtures from MMAction2's own script), but for those two points.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .tools import VIDEO_SUFFIXES


@dataclass
class Item:
    """One clip of a split: its id (MMAction2's: a relative path without extension, or a
    bare name), its label (an index; a list of them for multi-label data; None where the
    publisher withholds it) and where it was read (``file:line``)."""

    video: str
    label: int | list[int] | None
    where: str


@dataclass
class Annotations:
    """A dataset's classes (names in label order) and its splits (name -> items, the
    folder holding the split's videos relative to ROOT, MMAction2's)."""

    classes: list[str]
    splits: dict[str, list[Item]]
    folders: dict[str, str]
    list_names: dict[str, str] = field(default_factory=dict)  # split -> list file stem


def _find(root: Path, names: list[str], what: str, required: bool = True) -> Path | None:
    """The first of ``names`` in ``root/annotations`` or ``root`` (None when there is none
    and the file is not ``required``)."""
    tried = []
    for name in names:
        for folder in (root / "annotations", root):
            path = folder / name
            if path.is_file():
                return path
            tried.append(str(path))
    if not required:
        return None
    raise FileNotFoundError(f"{what}: none of {', '.join(tried)} exists")


def _lines(path: Path) -> Iterator[tuple[str, str]]:
    """(``file:line``, the line stripped) of each non-blank line (any line ending: the
    UCF101 split files have Windows ones)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield f"{path}:{number}", line.strip()


def _rows(path: Path, delimiter: str = ",") -> Iterator[tuple[str, list[str]]]:
    """(``file:line``, fields) of each non-blank CSV row (quoted fields as the csv module
    reads them: commas inside quotes stay)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if any(cell.strip() for cell in row):
                yield f"{path}:{reader.line_num}", row


def _json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _label(mapping: dict, name: str, where: str, what: str = "class") -> int:
    if name not in mapping:
        raise DataError(f"{where}: unknown {what} {name!r}")
    return mapping[name]


# --- Kinetics ---------------------------------------------------------------------------


def _kinetics_name(label: str) -> str:
    """MMAction2's class key: quotes dropped, spaces made underscores."""
    return label.replace('"', "").replace(" ", "_")


def read_kinetics(root: Path, dataset: str) -> Annotations:
    """Kinetics-400/600/700 (DeepMind's CSV files, ``label,youtube_id,time_start,time_end,
    split[,is_cc]``, from https://github.com/cvdfoundation/kinetics-dataset): ``train``,
    ``val`` and ``test`` (MMAction2's ``kinetics_{train,val,test}.csv`` or the official
    ``train.csv``, ``validate.csv``, ``test.csv``). Classes: the train file's labels in
    sorted order of MMAction2's key (spaces as underscores); ids
    ``{youtube_id}_{start:06d}_{end:06d}``. A test file without labels gives none."""
    files = {
        "train": ["kinetics_train.csv", "train.csv"],
        "val": ["kinetics_val.csv", "validate.csv", "val.csv"],
        "test": ["kinetics_test.csv", "test.csv"],
    }
    parsed = {}
    for split, names in files.items():
        path = _find(root, names, f"{dataset} {split} annotations", required=split == "train")
        if path is None:
            continue
        rows = list(_rows(path))
        if not rows:
            raise DataError(f"{path}: empty")
        header = [h.strip() for h in rows[0][1]]
        need = ["youtube_id", "time_start", "time_end"] + (["label"] if split != "test" else [])
        missing = [c for c in need if c not in header]
        if missing:
            raise DataError(f"{rows[0][0]}: the header lacks {', '.join(missing)}: {header}")
        column = {name: header.index(name) for name in header}
        items = []
        for where, row in rows[1:]:
            if len(row) != len(header):
                raise DataError(f"{where}: {len(row)} fields, the header has {len(header)}")
            try:
                start, end = (
                    int(float(row[column["time_start"]])),
                    int(float(row[column["time_end"]])),
                )
            except ValueError:
                raise DataError(f"{where}: time_start / time_end must be numbers: {row}") from None
            video = f"{row[column['youtube_id']].strip()}_{start:06d}_{end:06d}"
            label = row[column["label"]] if "label" in column else None
            items.append((where, video, label))
        parsed[split] = items
    names = {}
    for _, _, label in parsed["train"]:
        names.setdefault(_kinetics_name(label), label.replace('"', ""))
    keys = sorted(names)
    mapping = {k: i for i, k in enumerate(keys)}
    splits = {
        split: [
            Item(
                video,
                None if label is None else _label(mapping, _kinetics_name(label), where),
                where,
            )
            for where, video, label in items
        ]
        for split, items in parsed.items()
    }
    folders = {"train": "videos_train", "val": "videos_val", "test": "videos_test"}
    return Annotations([names[k] for k in keys], splits, folders)


# --- Something-Something, Jester ---------------------------------------------------------


def _semicolon_splits(root: Path, prefix: str, what: str) -> Annotations:
    """Something-Something V1 and Jester: a label per line (its line number - 1 is its
    index), ``id;label`` rows for train and validation, ``id`` rows for test."""
    labels = [line for _, line in _lines(_find(root, [f"{prefix}-labels.csv"], what))]
    mapping = {name: i for i, name in enumerate(labels)}
    splits = {}
    for split, name in (("train", "train"), ("val", "validation"), ("test", "test")):
        path = _find(root, [f"{prefix}-{name}.csv"], f"{what} {split} annotations", split != "test")
        if path is None:
            continue
        items = []
        for where, line in _lines(path):
            parts = line.split(";")
            if split == "test":
                items.append(Item(parts[0], None, where))
                continue
            if len(parts) != 2:
                raise DataError(f"{where}: expected 'id;label', got {line!r}")
            items.append(Item(parts[0], _label(mapping, parts[1], where), where))
        splits[split] = items
    return Annotations(labels, splits, {s: "videos" for s in splits})


def read_sthv1(root: Path, dataset: str) -> Annotations:
    """Something-Something V1 (20BN's ``something-something-v1-{labels,train,validation,
    test}.csv``, ``;``-separated; from Qualcomm's site, registration needed); videos are
    shipped as JPEG folders (``rawframes/<id>/00001.jpg``)."""
    return _semicolon_splits(root, "something-something-v1", "Something-Something V1")


def read_jester(root: Path, dataset: str) -> Annotations:
    """Jester (20BN's ``jester-v1-{labels,train,validation,test}.csv``; from Qualcomm's
    site), shipped as JPEG folders (``rawframes/<id>/00001.jpg``)."""
    return _semicolon_splits(root, "jester-v1", "Jester")


def read_sthv2(root: Path, dataset: str) -> Annotations:
    """Something-Something V2 (``something-something-v2-{labels,train,validation,test}
    .json``; from Qualcomm's site, registration needed): labels JSON ``{template: "index"}``;
    items ``{"id", "template", ...}``, the template's brackets dropped to find its index;
    test items ``{"id"}``."""
    path = _find(root, ["something-something-v2-labels.json"], "Something-Something V2 labels")
    table = _json(path)
    try:
        mapping = {name: int(index) for name, index in table.items()}
    except (AttributeError, ValueError) as e:
        raise DataError(f"{path}: expected {{template: index}}: {e}") from None
    classes = [name for name, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
    if sorted(mapping.values()) != list(range(len(mapping))):
        raise DataError(f"{path}: the indices are not 0..{len(mapping) - 1}")
    splits = {}
    for split, name in (("train", "train"), ("val", "validation"), ("test", "test")):
        path = _find(
            root, [f"something-something-v2-{name}.json"], f"sthv2 {split}", split != "test"
        )
        if path is None:
            continue
        items = []
        for i, entry in enumerate(_json(path)):
            where = f"{path}: item {i}"
            if not isinstance(entry, dict) or "id" not in entry:
                raise DataError(f"{where}: expected an object with an 'id', got {entry!r:.80}")
            if split == "test":
                items.append(Item(str(entry["id"]), None, where))
                continue
            if "template" not in entry:
                raise DataError(f"{where}: no 'template'")
            template = entry["template"].replace("[", "").replace("]", "")
            items.append(
                Item(str(entry["id"]), _label(mapping, template, where, "template"), where)
            )
        splits[split] = items
    return Annotations(classes, splits, {s: "videos" for s in splits})


# --- UCF101, HMDB51 ----------------------------------------------------------------------


def read_ucf101(root: Path, dataset: str) -> Annotations:
    """UCF101 (``classInd.txt``, ``trainlist0{1,2,3}.txt``, ``testlist0{1,2,3}.txt`` of
    ``UCF101TrainTestSplits-RecognitionTask.zip``, from https://www.crcv.ucf.edu/data/UCF101.php):
    three train / test splits; a clip's class is its folder's ``classInd`` index - 1."""
    index = _find(root, ["classInd.txt"], "UCF101 classes")
    mapping, classes = {}, []
    for where, line in _lines(index):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != len(classes) + 1:
            raise DataError(f"{where}: expected '{len(classes) + 1} ClassName', got {line!r}")
        mapping[parts[1]] = len(classes)
        classes.append(parts[1])
    splits, names = {}, {}
    for k in (1, 2, 3):
        for split, stem in (("train", "trainlist"), ("val", "testlist")):
            path = _find(root, [f"{stem}{k:02d}.txt"], f"UCF101 split {k}")
            items = []
            for where, line in _lines(path):
                clip = line.split()[0]
                folder = os.path.dirname(clip)
                items.append(Item(os.path.splitext(clip)[0], _label(mapping, folder, where), where))
            key = f"{split}_split_{k}"
            splits[key], names[key] = items, f"{dataset}_{split}_split_{k}"
    return Annotations(classes, splits, {s: "videos" for s in splits}, names)


def read_hmdb51(root: Path, dataset: str) -> Annotations:
    """HMDB51 (``<class>_test_split{1,2,3}.txt`` of ``test_train_splits.rar``, from
    https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/): per
    class and split, ``<video>.avi <1|2|0>`` (train, test, unused); classes in sorted
    order (MMAction2's, from its video folders)."""
    folder = root / "annotations" if (root / "annotations").is_dir() else root
    pattern = re.compile(r"^(.+)_test_split([123])\.txt$")
    found = {}
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found[(match[1], int(match[2]))] = path
    classes = sorted({name for name, _ in found})
    if not classes:
        raise FileNotFoundError(f"HMDB51: no <class>_test_split<k>.txt under {folder}")
    for name in classes:
        for k in (1, 2, 3):
            if (name, k) not in found:
                raise FileNotFoundError(
                    f"HMDB51: {folder / f'{name}_test_split{k}.txt'} is missing"
                )
    splits, names = {}, {}
    for k in (1, 2, 3):
        train, test = [], []
        for label, name in enumerate(classes):
            for where, line in _lines(found[(name, k)]):
                parts = line.split()
                if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                    raise DataError(f"{where}: expected '<video>.avi <0|1|2>', got {line!r}")
                video = f"{name}/{os.path.splitext(parts[0])[0]}"
                if parts[1] != "0":
                    (train if parts[1] == "1" else test).append(Item(video, label, where))
        for split, items in (("train", train), ("val", test)):
            key = f"{split}_split_{k}"
            splits[key], names[key] = items, f"{dataset}_{split}_split_{k}"
    return Annotations(classes, splits, {s: "videos" for s in splits}, names)


# --- Diving48, Moments in Time --------------------------------------------------------------


def read_diving48(root: Path, dataset: str) -> Annotations:
    """Diving48 V2 (``Diving48_vocab.json``, ``Diving48_V2_{train,test}.json`` from
    http://www.svcl.ucsd.edu/projects/resound/dataset.html): items ``{"vid_name",
    "label", ...}``; class k is vocabulary entry k joined with ``+``
    (``Back+15som+05Twis+FREE``). MMAction2 calls the test set ``val``."""
    vocab_path = _find(root, ["Diving48_vocab.json"], "Diving48 vocabulary")
    vocab = _json(vocab_path)
    if not isinstance(vocab, list):
        raise DataError(f"{vocab_path}: expected a list of [takeoff, somersault, twist, flight]")
    classes = ["+".join(map(str, v)) if isinstance(v, list) else str(v) for v in vocab]
    splits = {}
    for split, name in (("train", "train"), ("val", "test")):
        path = _find(root, [f"Diving48_V2_{name}.json"], f"Diving48 {name}")
        items = []
        for i, entry in enumerate(_json(path)):
            where = f"{path}: item {i}"
            try:
                video, label = str(entry["vid_name"]), int(entry["label"])
            except (KeyError, TypeError, ValueError):
                raise DataError(
                    f"{where}: expected {{'vid_name', 'label'}}, got {entry!r:.80}"
                ) from None
            if not 0 <= label < len(classes):
                raise DataError(f"{where}: label {label} is not one of the {len(classes)} classes")
            items.append(Item(video, label, where))
        splits[split] = items
    return Annotations(classes, splits, {s: "videos" for s in splits})


def _moments_categories(root: Path, what: str) -> tuple[list[str], dict[str, int]]:
    path = _find(root, ["moments_categories.txt"], f"{what} categories")
    mapping = {}
    for where, line in _lines(path):
        name, _, index = line.rpartition(",")
        if not name or not index.strip().isdigit():
            raise DataError(f"{where}: expected 'category,index', got {line!r}")
        mapping[name] = int(index)
    if sorted(mapping.values()) != list(range(len(mapping))):
        raise DataError(f"{path}: the indices are not 0..{len(mapping) - 1}")
    return [n for n, _ in sorted(mapping.items(), key=lambda kv: kv[1])], mapping


def read_mit(root: Path, dataset: str) -> Annotations:
    """Moments in Time (``moments_categories.txt``, ``trainingSet.csv``,
    ``validationSet.csv`` of the MIT release, by application at
    http://moments.csail.mit.edu/): rows ``<category>/<file>.mp4,...``, the class from the
    folder. Videos in ``videos/training`` and ``videos/validation``."""
    classes, mapping = _moments_categories(root, "Moments in Time")
    splits = {}
    for split, name in (("train", "trainingSet.csv"), ("val", "validationSet.csv")):
        items = []
        for where, row in _rows(_find(root, [name], f"Moments in Time {split}")):
            clip = row[0].strip()
            items.append(
                Item(
                    os.path.splitext(clip)[0], _label(mapping, os.path.dirname(clip), where), where
                )
            )
        splits[split] = items
    return Annotations(classes, splits, {"train": "videos/training", "val": "videos/validation"})


def read_mmit(root: Path, dataset: str) -> Annotations:
    """Multi-Moments in Time (``moments_categories.txt``, ``trainingSet.csv``,
    ``validationSet.csv`` of the MIT release, by application): rows
    ``<path>,<index>,<index>...``, several labels per clip (list lines ``path l1 l2 ...``;
    configs set ``data.multi_class``)."""
    classes, _ = _moments_categories(root, "Multi-Moments in Time")
    splits = {}
    for split, name in (("train", "trainingSet.csv"), ("val", "validationSet.csv")):
        items = []
        for where, row in _rows(_find(root, [name, name.replace(".csv", ".txt")], f"MMiT {split}")):
            try:
                labels = [int(x) for x in row[1:] if x.strip()]
            except ValueError:
                raise DataError(f"{where}: labels must be class indices: {row}") from None
            if not labels or not all(0 <= x < len(classes) for x in labels):
                raise DataError(
                    f"{where}: expected 1 or more labels in 0..{len(classes) - 1}: {row}"
                )
            items.append(Item(os.path.splitext(row[0].strip())[0], labels, where))
        splits[split] = items
    return Annotations(classes, splits, {s: "videos" for s in splits})


READERS: dict[str, Callable[[Path, str], Annotations]] = {
    "kinetics400": read_kinetics,
    "kinetics600": read_kinetics,
    "kinetics700": read_kinetics,
    "sthv1": read_sthv1,
    "sthv2": read_sthv2,
    "ucf101": read_ucf101,
    "hmdb51": read_hmdb51,
    "diving48": read_diving48,
    "jester": read_jester,
    "mit": read_mit,
    "mmit": read_mmit,
}
RGB_PREFIX = {"sthv1": "", "jester": ""}  # their JPEG folders hold 00001.jpg


# --- lists --------------------------------------------------------------------------------


class _Index:
    """The videos (or rawframe folders) under a folder: by relative path without
    extension, and by bare name."""

    def __init__(self, folder: Path, kind: str, rgb_prefix: str):
        self.folder = folder
        self.by_path, self.by_name = {}, {}
        self.counts: dict[str, int] = {}
        if not folder.is_dir():
            return
        if kind == "videos":
            found = (
                p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
            )
        else:  # a folder holding frames: count those with the prefix
            found = (p for p in folder.rglob("*") if p.is_dir())
        for path in found:
            rel = path.relative_to(folder).as_posix()
            if kind == "rawframes":
                count = sum(
                    1
                    for f in path.iterdir()
                    if f.is_file()
                    and f.name.startswith(rgb_prefix)
                    and f.suffix.lower() in (".jpg", ".jpeg", ".png")
                )
                if not count:
                    continue
                self.counts[rel] = count
            stem = rel[: -len(path.suffix)] if kind == "videos" and path.suffix else rel
            self.by_path[stem] = rel
            self.by_name.setdefault(path.stem if kind == "videos" else path.name, []).append(rel)

    def find(self, video: str) -> str | None:
        if video in self.by_path:
            return self.by_path[video]
        named = self.by_name.get(os.path.basename(video), [])
        if len(named) > 1:
            raise DataError(f"{video}: {len(named)} files have its name: {', '.join(named[:3])}")
        return named[0] if named else None


def split_folder(annotations: Annotations, split: str, root: Path, kind: str = "videos") -> Path:
    """MMAction2's folder of a split's videos (``videos_train``), or of its rawframe
    folders (``rawframes_train``)."""
    folder = annotations.folders[split]
    return root / (folder.replace("videos", "rawframes", 1) if kind == "rawframes" else folder)


@dataclass
class SplitReport:
    name: str
    listed: int
    written: int
    missing: int
    duplicates: int
    list_file: Path | None
    folder: Path


def write_lists(
    annotations: Annotations,
    dataset: str,
    root: Path,
    out: Path,
    kind: str = "videos",
    folders: dict[str, Path] | None = None,
    rgb_prefix: str = "img_",
) -> list[SplitReport]:
    """Writes each labelled split's list (and missing clips) under ``out``; returns what
    each split held. ``folders``: each split's folder of videos (or rawframe folders),
    default MMAction2's (:func:`split_folder`)."""
    out.mkdir(parents=True, exist_ok=True)
    reports, indexes = [], {}
    for split, items in annotations.splits.items():
        where = (folders or {}).get(split) or split_folder(annotations, split, root, kind)
        if where not in indexes:
            indexes[where] = _Index(where, kind, rgb_prefix)
        index = indexes[where]
        stem = annotations.list_names.get(split, f"{dataset}_{split}_list")
        if all(item.label is None for item in items):
            reports.append(SplitReport(split, len(items), 0, 0, 0, None, where))
            continue
        seen: dict[str, Item] = {}
        lines, missing, duplicates = [], [], 0
        for item in items:
            if item.video in seen:
                if seen[item.video].label != item.label:
                    raise DataError(
                        f"{item.where}: {item.video} again with another label (first at "
                        f"{seen[item.video].where})"
                    )
                duplicates += 1
                continue
            seen[item.video] = item
            rel = index.find(item.video)
            if rel is None:
                missing.append(f"{item.video} ({item.where})")
                continue
            if any(c.isspace() for c in rel):
                raise DataError(
                    f"{where / rel}: list files separate their fields by spaces; rename it "
                    f"(MMAction2's layout has none: class folders use underscores)"
                )
            labels = item.label if isinstance(item.label, list) else [item.label]
            count = f" {index.counts[rel]}" if kind == "rawframes" else ""
            lines.append(f"{rel}{count} " + " ".join(map(str, labels)))
        list_file = out / f"{stem}_{kind}.txt"
        list_file.write_text("".join(line + "\n" for line in lines))
        missing_file = out / f"{dataset}_{split}_missing.txt"
        if missing:
            missing_file.write_text("".join(m + "\n" for m in missing))
        elif missing_file.exists():
            missing_file.unlink()
        reports.append(
            SplitReport(split, len(items), len(lines), len(missing), duplicates, list_file, where)
        )
    (out / "classes.txt").write_text("".join(c + "\n" for c in annotations.classes))
    return reports


def _convert(reports, job: str, make, log) -> dict[str, Path]:
    """Runs ``make(video, target folder, relative path)`` for every listed video of every
    split (``job`` names it in the log and errors) and returns each split's new folder
    (``make.folder(old)``). A video that fails is reported and the others go on; any
    failure is an error at the end."""
    from tqdm import tqdm

    folders, failures = {}, []
    for report in reports:
        if report.list_file is None:
            continue
        entries = [line.split()[0] for line in report.list_file.read_text().splitlines()]
        target = folders.setdefault(report.name, make.folder(report.folder))
        for rel in tqdm(entries, desc=f"{job} {report.name}", unit="video", leave=False):
            try:
                make(report.folder / rel, target, rel)
            except Exception as e:  # report and go on: one bad file must not stop the rest
                failures.append(f"{report.folder / rel}: {e}")
    for failure in failures:
        log(f"failed: {failure}")
    if failures:
        raise DataError(f"{job}: {len(failures)} videos failed (listed above)")
    return folders


class _Resize:
    def __init__(self, short: int):
        self.short = short

    def folder(self, src: Path) -> Path:
        return src.with_name(f"{src.name}_{self.short}p")

    def __call__(self, video: Path, target: Path, rel: str) -> None:
        from .tools import resize_video

        out = (target / rel).with_suffix(".mp4")
        if not out.exists():  # (a rerun continues)
            resize_video(video, out, self.short)


class _Frames:
    def folder(self, src: Path) -> Path:
        return src.with_name(src.name.replace("videos", "rawframes", 1))

    def __call__(self, video: Path, target: Path, rel: str) -> None:
        from .tools import extract_rawframes

        out = target / os.path.splitext(rel)[0]
        if not (out / "img_00001.jpg").exists():
            extract_rawframes(video, out)


def prepare(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    rawframes: bool = False,
    rgb_prefix: str | None = None,
    resize_short: int | None = None,
    extract_frames: bool = False,
    log=print,
) -> list[SplitReport]:
    """Reads ``dataset``'s annotations under ``root`` and writes its lists to ``out``
    (default ``root``): of the videos (``data``: one folder holding every split's, instead
    of MMAction2's folders), or with ``rawframes`` of the rawframe folders there are; with
    ``resize_short`` the videos are first re-encoded to that short side (dense
    keyframes) into ``<folder>_<N>p`` and listed there; with ``extract_frames`` they are
    decoded to ``img_00001.jpg`` folders (``rawframes...`` beside the videos) and rawframe
    lists written too. Returns the lists' reports (the last kind written)."""
    if dataset not in READERS:
        raise DataError(f"unknown dataset {dataset!r}; one of {', '.join(READERS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder")
    out = Path(out) if out is not None else root
    annotations = READERS[dataset](root, dataset)
    prefix = rgb_prefix if rgb_prefix is not None else RGB_PREFIX.get(dataset, "img_")
    folders = {s: Path(data) for s in annotations.splits} if data else None
    if rawframes:
        return write_lists(annotations, dataset, root, out, "rawframes", folders, prefix)
    reports = write_lists(annotations, dataset, root, out, "videos", folders)
    if resize_short:
        folders = _convert(reports, f"resize to {resize_short}p", _Resize(resize_short), log)
        reports = write_lists(annotations, dataset, root, out, "videos", folders)
    if extract_frames:
        folders = _convert(reports, "extract frames", _Frames(), log)
        reports = write_lists(annotations, dataset, root, out, "rawframes", folders, "img_")
    return reports


# --- datasets of other tasks: their own outputs -----------------------------------------------


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def prepare_activitynet(root: Path, out: Path, **_) -> list[str]:
    """ActivityNet 1.3 (``activity_net.v1-3.min.json``, the official annotations, from
    http://activity-net.org/download.html): ``anet_anno_{train,val,test,full}.json`` in
    MMAction2's layout (ids with ``v_``, ``duration_second``, ``annotations``), what the
    localization configs read; with BSN's ``video_info_new.csv`` beside it (MMAction2's
    download), each video's ``duration_frame``, ``feature_frame``, ``fps`` and ``rfps``
    as MMAction2's files have them. ``classes.txt``: the labels, sorted."""
    from .localization import load_activitynet

    path = _find(root, ["activity_net.v1-3.min.json"], "ActivityNet 1.3 annotations")
    info = {}
    csv_path = _find(root, ["video_info_new.csv"], "BSN's video info", required=False)
    rows = list(_rows(csv_path)) if csv_path else []
    for where, row in rows[1:]:
        if len(row) < 7:
            raise DataError(
                f"{where}: expected video,numFrame,seconds,fps,rfps,subset,featureFrame"
            )
        try:
            info[row[0]] = {
                "duration_frame": int(row[1]), "fps": float(row[3]), "rfps": float(row[4]),
                "feature_frame": int(row[6]),
            }  # fmt: skip
        except ValueError:
            raise DataError(f"{where}: frame counts and rates must be numbers: {row}") from None
    lines, everything, labels = [], {}, set()
    for split, subset in (("train", "training"), ("val", "validation"), ("test", "testing")):
        videos = load_activitynet(path, subset)
        for video, entry in videos.items():
            entry.update(info.get(video, {}))
            labels.update(a["label"] for a in entry["annotations"])
        everything.update(videos)
        _write_json(out / f"anet_anno_{split}.json", videos)
        lines.append(f"{split}: {len(videos)} videos in {out / f'anet_anno_{split}.json'}")
    _write_json(out / "anet_anno_full.json", everything)
    (out / "classes.txt").write_text("".join(c + "\n" for c in sorted(labels)))
    if csv_path is not None:
        lacking = [v for v in everything if v not in info]
        lines.append(f"frame counts from {csv_path} ({len(lacking)} videos it does not list)")
    return lines


def prepare_thumos14(root: Path, out: Path, **_) -> list[str]:
    """THUMOS14 (the temporal annotations of the validation and test sets,
    ``TH14_Temporal_annotations_validation/annotation/<Class>_val.txt`` and
    ``TH14_Temporal_Annotations_Test/annotations/annotation/<Class>_test.txt``, from
    https://www.crcv.ucf.edu/THUMOS14/download.html, anywhere under ``ROOT/annotations``)
    to ``thumos14_{val,test}.json`` in the ActivityNet layout the localization configs
    read; each video's duration and frame rate are read from its file in
    ``ROOT/videos/{val,test}`` (MMAction2's layout; the annotation files do not give
    them). An annotated video without its file is left out and listed in
    ``thumos14_{split}_missing.txt``. ``classes.txt``: the 20 classes, sorted."""
    from .decode import VideoReader
    from .localization import thumos14_to_activitynet

    folder = root / "annotations" if (root / "annotations").is_dir() else root
    lines, classes = [], set()
    for split in ("val", "test"):
        files = sorted(folder.rglob(f"*_{split}.txt"))
        if not files:
            raise FileNotFoundError(f"THUMOS14: no <Class>_{split}.txt under {folder}")
        named = set()
        for file in files:
            if not file.name.startswith("Ambiguous_"):
                named.update(line.split()[0] for _, line in _lines(file))
        videos = _Index(root / "videos" / split, "videos", "")
        durations, fps, missing = {}, {}, []
        for video in sorted(named):
            rel = videos.find(video)
            if rel is None:
                missing.append(video)
                continue
            with VideoReader(root / "videos" / split / rel) as reader:
                fps[video] = float(reader.fps)
                durations[video] = len(reader) / fps[video]
        if len({f.parent for f in files}) > 1:
            raise DataError(
                f"THUMOS14: <Class>_{split}.txt files in several folders: {files[0].parent}, ..."
            )
        data = thumos14_to_activitynet(files[0].parent, durations, subset=split, skip_unknown=True)
        for video, entry in data.items():
            entry["fps"], entry["duration_frame"] = fps[video], round(durations[video] * fps[video])
            classes.update(a["label"] for a in entry["annotations"])
        _write_json(out / f"thumos14_{split}.json", data)
        lines.append(f"{split}: {len(data)} videos in {out / f'thumos14_{split}.json'}")
        missing_file = out / f"thumos14_{split}_missing.txt"
        if missing:
            missing_file.write_text("".join(v + "\n" for v in missing))
            lines.append(f"  {len(missing)} videos not in {videos.folder}: {missing_file}")
    (out / "classes.txt").write_text("".join(c + "\n" for c in sorted(classes)))
    return lines


def prepare_ntu(root: Path, out: Path, dataset: str, **_) -> list[str]:
    """NTU RGB+D 60 / 120 (the ``.skeleton`` files of ``nturgbd_skeletons_s001_to_s017.zip``
    and, for 120, ``..._s018_to_s032.zip``, from https://rose1.ntu.edu.sg/dataset/actionRecognition/,
    unpacked under ROOT): the pose pickle ``{dataset}_3d.pkl`` with MMAction2's xsub /
    xview (xset) splits (``actionkit-data ntu``), leaving out the samples of the published
    list of missing skeletons when ROOT holds it
    (``NTU_RGBD{,120}_samples_with_missing_skeletons.txt``)."""
    from .pose_convert import convert_ntu

    names = ["NTU_RGBD_samples_with_missing_skeletons.txt"]
    if dataset == "ntu120":
        names.insert(0, "NTU_RGBD120_samples_with_missing_skeletons.txt")
    ignore = _find(root, names, "missing-skeleton list", required=False)
    result = convert_ntu(root, out / f"{dataset}_3d.pkl", dataset, ignore, progress=True)
    lines = [f"{result['samples']} samples in {out / f'{dataset}_3d.pkl'}"]
    if ignore is not None:
        lines.append(f"  {result['ignored']} left out as {ignore} lists them")
    return lines


AVA_CUT = (900.0, 1801.0)  # MMAction2's cut_videos.sh: -ss 900 -t 901, at 30 fps


def prepare_ava(
    root: Path,
    out: Path,
    dataset: str,
    cut: bool = False,
    extract_frames: bool = False,
    cut_span: tuple[float, float] = AVA_CUT,
    **_,
) -> list[str]:
    """AVA v2.1 / v2.2 (``ava_{train,val}_v2.x.csv``, ``ava_{train,val}_excluded_timestamps_
    v2.x.csv`` and the action list ``.pbtxt`` of ``ava_v2.x.zip``, from
    https://research.google.com/ava/download.html): every row checked as the AVA dataset
    reads it (an error names the line), the keyframes and actors counted, and the videos
    the annotations name looked for — as frame folders in ``ROOT/rawframes`` (30 fps from
    second 900, MMAction2's layout) or 15-minute cuts in ``ROOT/videos_15min``; those
    missing are listed in ``ava_{split}_missing.txt``. The configs read these files as
    they are (``configs/_base_/ava21.yaml``). With ``cut``, each annotated movie in
    ``ROOT/videos`` (as downloaded) is first cut to its annotated span at 30 fps into
    ``videos_15min/<id>.mp4`` (MMAction2's ``cut_videos.sh``: seconds 900-1801, ``-r 30``);
    with ``extract_frames`` the cuts are decoded to ``rawframes/<id>/img_00001.jpg``."""
    from ..metrics.ava import read_label_map
    from .ava import load_ava_annotations

    version = {"ava21": "2.1", "ava22": "2.2"}[dataset]
    label_map = _find(
        root,
        [f"ava_action_list_v{version}_for_activitynet_{2018 if version == '2.1' else 2019}.pbtxt",
         f"ava_action_list_v{version}.pbtxt"],
        f"AVA v{version} action list",
    )  # fmt: skip
    classes = read_label_map(label_map)
    lines = [f"{len(classes)} actions in {label_map}"]
    read = {}
    for split in ("train", "val"):
        csv_path = _find(root, [f"ava_{split}_v{version}.csv"], f"AVA {split} annotations")
        excluded = _find(
            root, [f"ava_{split}_excluded_timestamps_v{version}.csv"], "excluded timestamps",
            required=False,
        )  # fmt: skip
        read[split] = (csv_path, load_ava_annotations(csv_path, exclusions=excluded))
    if cut or extract_frames:
        named = sorted({k.video_id for _, keyframes in read.values() for k in keyframes})
        lines += _cut_ava(root, named, cut, extract_frames, cut_span)
    frames = _Index(root / "rawframes", "rawframes", "img_")
    cuts = _Index(root / "videos_15min", "videos", "")
    for split, (csv_path, keyframes) in read.items():
        videos = sorted({k.video_id for k in keyframes})
        missing = [v for v in videos if frames.find(v) is None and cuts.find(v) is None]
        actors = sum(len(k.boxes) for k in keyframes)
        lines.append(
            f"{split}: {len(keyframes)} keyframes, {actors} actors in {len(videos)} videos "
            f"({csv_path})"
        )
        missing_file = out / f"ava_{split}_missing.txt"
        if missing:
            missing_file.write_text("".join(v + "\n" for v in missing))
            lines.append(
                f"  {len(missing)} videos neither in {frames.folder} nor in {cuts.folder}: "
                f"{missing_file}"
            )
        elif missing_file.exists():
            missing_file.unlink()
    return lines


def _cut_ava(root: Path, videos: list[str], cut: bool, extract: bool, span) -> list[str]:
    """Cuts (and decodes) the annotated movies there are; failures reported, the rest go on."""
    from tqdm import tqdm

    from .decode import VideoReader
    from .tools import extract_rawframes, trim_video

    movies = _Index(root / "videos", "videos", "")
    cuts = _Index(root / "videos_15min", "videos", "")
    done, failed = 0, []
    for video in tqdm(videos, desc="AVA movies", unit="video"):
        try:
            target = root / "videos_15min" / f"{video}.mp4"
            existing = cuts.find(video)
            if existing is not None:
                target = root / "videos_15min" / existing
            elif cut:
                source = movies.find(video)
                if source is None:
                    continue  # (reported missing below)
                with VideoReader(root / "videos" / source) as reader:
                    trim_video(reader, target, span[0], span[1], fps=30)
            else:
                continue
            frames = root / "rawframes" / video
            if extract and not (frames / "img_00001.jpg").exists():
                extract_rawframes(target, frames)
            done += 1
        except Exception as e:  # report and go on: one bad movie must not stop the rest
            failed.append(f"failed: {video}: {e}")
    return [*failed, f"{done} movies cut / decoded"]


OTHERS: dict[str, Callable[..., list[str]]] = {
    "activitynet": prepare_activitynet,
    "thumos14": prepare_thumos14,
    "ntu60": prepare_ntu,
    "ntu120": prepare_ntu,
    "ava21": prepare_ava,
    "ava22": prepare_ava,
}


HVU_CATEGORIES = ("action", "attribute", "concept", "event", "object", "scene")


def prepare_hvu(root: Path, out: Path, **_) -> list[str]:
    """HVU (``HVU_Train_V1.0.csv``, ``HVU_Val_V1.0.csv`` and ``HVU_Tags_Categories_V1.0.csv``
    from https://github.com/holistic-video-understanding/HVU-Dataset, or MMAction2's names
    ``hvu_{train,val}.csv`` and ``hvu_categories.csv``): rows ``Tags,youtube_id,
    time_start,time_end`` with ``|``-separated tags. Clip ids as MMAction2's
    (``{youtube_id}_{start * 10:06d}_{end * 10:06d}``), each category's tags sorted (its
    ``hvu_tags.json``). Written: ``hvu_{split}.json`` in MMAction2's HVU layout
    (``{"filename", "label": {category: [indices]}}``, found clips only), and per
    category a multi-label list ``hvu_{category}_{split}_list_videos.txt`` of the clips
    with tags of it and ``hvu_{category}_classes.txt`` (what ``data.multi_class`` reads)."""
    path = _find(root, ["hvu_categories.csv", "HVU_Tags_Categories_V1.0.csv"], "HVU tag categories")
    tags: dict[str, list[str]] = {c: [] for c in HVU_CATEGORIES}
    category_of = {}
    for where, row in list(_rows(path))[1:]:
        if len(row) != 2 or row[1] not in tags:
            raise DataError(f"{where}: expected 'Tag,Category' with one of {HVU_CATEGORIES}: {row}")
        tags[row[1]].append(row[0])
        category_of[row[0]] = row[1]
    for names in tags.values():
        names.sort()
    index = {c: {t: i for i, t in enumerate(names)} for c, names in tags.items()}
    videos = _Index(root / "videos", "videos", "")
    lines = []
    for split, names in (("train", ["hvu_train.csv", "HVU_Train_V1.0.csv"]),
                         ("val", ["hvu_val.csv", "HVU_Val_V1.0.csv"])):  # fmt: skip
        path = _find(root, names, f"HVU {split}")
        rows = list(_rows(path))
        items, missing = [], []
        for where, row in rows[1:]:
            if len(row) != 4:
                raise DataError(f"{where}: expected 'Tags,youtube_id,time_start,time_end': {row}")
            try:
                start, end = int(float(row[2]) * 10), int(float(row[3]) * 10)
            except ValueError:
                raise DataError(f"{where}: time_start / time_end must be numbers: {row}") from None
            clip = f"{row[1]}_{start:06d}_{end:06d}"
            label: dict[str, list[int]] = {}
            for tag in row[0].split("|"):
                if tag not in category_of:
                    raise DataError(f"{where}: tag {tag!r} is in no category of {path.name}")
                label.setdefault(category_of[tag], []).append(index[category_of[tag]][tag])
            rel = videos.find(clip)
            if rel is None:
                missing.append(f"{clip} ({where})")
            else:
                items.append({"filename": rel, "label": label})
        _write_json(out / f"hvu_{split}.json", items)
        lines.append(
            f"{split}: {len(items)} of {len(rows) - 1} clips in {out / f'hvu_{split}.json'}"
        )
        if missing:
            (out / f"hvu_{split}_missing.txt").write_text("".join(m + "\n" for m in missing))
            lines.append(
                f"  {len(missing)} not found under {videos.folder}: hvu_{split}_missing.txt"
            )
        for category in HVU_CATEGORIES:
            listed = [i for i in items if category in i["label"]]
            text = "".join(
                f"{i['filename']} {' '.join(map(str, i['label'][category]))}\n" for i in listed
            )
            (out / f"hvu_{category}_{split}_list_videos.txt").write_text(text)
    for category, names in tags.items():
        (out / f"hvu_{category}_classes.txt").write_text("".join(n + "\n" for n in names))
    lines.append("per category: hvu_<category>_<split>_list_videos.txt, hvu_<category>_classes.txt")
    return lines


def prepare_gym(root: Path, out: Path, dataset: str, cut: bool = False, **_) -> list[str]:
    """FineGym's Gym99 / Gym288 (``finegym_annotation_info_v1.0.json`` and
    ``gym{99,288}_{train,val}_element*.txt`` from https://sdolivia.github.io/FineGym/, or
    MMAction2's names ``annotation.json`` and ``gym99_{train,val}_org.txt``): lines
    ``<video>_E_<event>_A_<subaction> <label>``. With ``cut``, each listed subaction is cut
    from its video in ``ROOT/videos`` (its event's start plus the first stage's start to
    the last stage's end, as MMAction2's ``trim_event.py`` then ``trim_subaction.py``
    cut it, in one step) to ``ROOT/subactions/<name>.mp4``. Lists
    ``{dataset}_{split}_list_videos.txt`` of the subaction clips there are (relative to
    ``subactions``); the others in ``{dataset}_{split}_missing.txt``."""
    from tqdm import tqdm

    from .decode import VideoReader
    from .tools import trim_video

    number = dataset[3:]
    info_path = _find(root, ["finegym_annotation_info_v1.0.json", "annotation.json"], "FineGym")
    info = _json(info_path)
    pattern = re.compile(r"^(?P<video>.+)_(?P<event>E_\d+_\d+)_(?P<sub>A_\d+_\d+)$")
    splits = {}
    for split, names in (
        ("train", [f"gym{number}_train_element_v1.0.txt", f"gym{number}_train_org.txt"]),
        ("val", [f"gym{number}_val_element.txt", f"gym{number}_val_org.txt"]),
    ):
        items = []
        for where, line in _lines(_find(root, names, f"{dataset} {split}")):
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit() or not pattern.match(parts[0]):
                raise DataError(f"{where}: expected '<video>_E_..._A_... <label>', got {line!r}")
            items.append(Item(parts[0], int(parts[1]), where))
        splits[split] = items
    subactions = root / "subactions"
    lines = []
    if cut:
        by_video: dict[str, list[tuple[str, float, float]]] = {}
        for item in (i for items in splits.values() for i in items):
            m = pattern.match(item.video)
            try:
                event = info[m["video"]][m["event"]]
                stages = event["segments"][m["sub"]]["timestamps"]
                start = float(event["timestamps"][0][0]) + float(stages[0][0])
                end = float(event["timestamps"][0][0]) + float(stages[-1][1])
            except (KeyError, TypeError, IndexError, ValueError):
                raise DataError(f"{item.where}: {item.video} is not in {info_path}") from None
            by_video.setdefault(m["video"], []).append((item.video, start, end))
        sources = _Index(root / "videos", "videos", "")
        failed = []
        for video, cuts in tqdm(sorted(by_video.items()), desc="cut subactions", unit="video"):
            rel = sources.find(video)
            if rel is None:
                continue  # (its subactions are reported missing below)
            with VideoReader(root / "videos" / rel) as reader:
                for name, start, end in cuts:
                    target = subactions / f"{name}.mp4"
                    if target.exists():
                        continue  # (a rerun continues)
                    try:
                        trim_video(reader, target, start, end)
                    except Exception as e:  # report and go on
                        failed.append(f"{name}: {e}")
        lines += [f"failed: {f}" for f in failed]
    classes = _gym_classes(root, number)
    annotations = Annotations(classes or [], splits, {s: "subactions" for s in splits})
    for r in write_lists(annotations, dataset, root, out, "videos"):
        lines.append(f"{r.name}: {r.written} of {r.listed} subactions in {r.list_file}")
        if r.missing:
            lines.append(f"  {r.missing} not under {r.folder}: {dataset}_{r.name}_missing.txt")
    if classes is None:
        (out / "classes.txt").unlink()
    return lines


def _gym_classes(root: Path, number: str) -> list[str] | None:
    """Gym's class names from ``gym{99,288}_categories.txt`` (``Clabel: k; set: s;
    Glabel: g; (VT) name``), when present."""
    path = _find(root, [f"gym{number}_categories.txt"], "categories", required=False)
    if path is None:
        return None
    names = []
    for where, line in _lines(path):
        m = re.match(r"^Clabel:\s*(\d+);.*?;\s*Glabel:\s*\d+;\s*(.+)$", line)
        if m is None or int(m[1]) != len(names):
            raise DataError(f"{where}: expected 'Clabel: {len(names)}; set: ..; Glabel: ..; name'")
        names.append(m[2].strip())
    return names


OTHERS.update(hvu=prepare_hvu, gym99=prepare_gym, gym288=prepare_gym)
DATASETS = sorted([*READERS, *OTHERS])
