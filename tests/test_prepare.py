"""``actionkit-data prepare``: the official annotation formats, written by hand in the
published layouts under tests/fixtures/prepare/ (with their odd corners: quoted commas,
Windows line endings, float times, missing clips, duplicate ids, labels withheld), turned
into the lists MMAction2's own build_file_list.py makes of them (its output, recorded by
dev/mmaction_prepare_fixtures.py, but for the two documented differences: a duplicate
kept once and missing clips reported); bad files named with their line."""

import shutil
from pathlib import Path

import pytest

from actionkit.cli.data import main
from actionkit.config import load_config
from actionkit.data.datasets import parse_list
from actionkit.data.prepare import READERS, prepare
from actionkit.errors import DataError

from .prepare_layout import FIXTURES, lay_out

DATASETS = sorted(p.name for p in FIXTURES.iterdir() if p.name in READERS)


def test_every_reader_has_a_fixture():
    assert set(READERS) - {"kinetics600", "kinetics700"} == set(DATASETS)


@pytest.mark.parametrize("dataset", DATASETS)
def test_lists_equal_mmaction2s(dataset, tmp_path):
    root = lay_out(dataset, tmp_path / dataset)
    kinds = {p.stem.rsplit("_", 1)[1] for p in (FIXTURES / dataset / "mmaction").iterdir()}
    for kind in sorted(kinds):
        prepare(dataset, root, rawframes=kind == "rawframes", log=lambda _: None)
    for expected in sorted((FIXTURES / dataset / "mmaction").iterdir()):
        lines = expected.read_text().splitlines()
        unique = list(dict.fromkeys(lines))  # MMAction2 writes a duplicate row twice
        assert (root / expected.name).read_text().splitlines() == unique, expected.name
        # and every list reads back as actionkit's datasets read lists
        kind = "rawframes" if expected.stem.endswith("rawframes") else "video"
        assert len(parse_list(root / expected.name, kind)) == len(unique)


def test_kinetics_classes_missing_and_duplicates(tmp_path, capsys):
    root = lay_out("kinetics400", tmp_path / "k400")
    assert main(["prepare", "kinetics400", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    # sorted by MMAction2's key (spaces as underscores); names as the file gives them
    assert (root / "classes.txt").read_text().splitlines() == [
        "abseiling", "air drumming", "cooking, on campfire", "tying knot (not on a tie)",
    ]  # fmt: skip
    assert out[0] == (
        f"train: 5 of 7 clips in {root / 'kinetics400_train_list_videos.txt'} (under "
        f"{root / 'videos_train'}), 1 listed twice (kept once)"
    )
    missing = root / "kinetics400_train_missing.txt"
    assert out[1] == f"  1 not found under {root / 'videos_train'}: listed in {missing}"
    assert missing.read_text() == (
        f"missingClip1_000005_000015 ({root / 'annotations' / 'kinetics_train.csv'}:8)\n"
    )
    # the labelled test file gets its list (its videos are not there)
    assert out[3].startswith("test: 0 of 2 clips")


def test_clips_are_found_wherever_they_are(tmp_path):
    # a flat folder instead of MMAction2's class folders: matched by name
    root = lay_out("kinetics400", tmp_path / "k400")
    flat = tmp_path / "all"
    flat.mkdir()
    for video in (root / "videos_train").rglob("*.mp4"):
        video.rename(flat / video.name)
    prepare("kinetics400", root, data=flat, log=lambda _: None)
    lines = (root / "kinetics400_train_list_videos.txt").read_text().splitlines()
    assert lines[0] == "--07WQ2iBlw_000001_000011.mp4 0" and len(lines) == 5
    # a path with a space cannot stand in a list line: refused, named
    (flat / "air drumming").mkdir()
    (flat / "-VtLx-mcPds_000014_000024.mp4").rename(
        flat / "air drumming" / "-VtLx-mcPds_000014_000024.mp4"
    )
    with pytest.raises(
        DataError, match="air drumming/-VtLx-mcPds_000014_000024.mp4: list files separate"
    ):
        prepare("kinetics400", root, data=flat, log=lambda _: None)
    (flat / "air drumming" / "-VtLx-mcPds_000014_000024.mp4").rename(
        flat / "-VtLx-mcPds_000014_000024.mp4"
    )
    # two files of one name, neither at the path the id gives: which is meant is not guessed
    for sub in ("a", "b"):
        (flat / sub).mkdir()
        (flat / sub / "--07WQ2iBlw_000001_000011.mkv").touch()
    (flat / "--07WQ2iBlw_000001_000011.mp4").unlink()
    with pytest.raises(DataError, match="--07WQ2iBlw_000001_000011: 2 files have its name"):
        prepare("kinetics400", root, data=flat, log=lambda _: None)


def test_withheld_labels_write_no_list(tmp_path, capsys):
    root = lay_out("sthv2", tmp_path / "sthv2")
    assert main(["prepare", "sthv2", str(root)]) == 0
    out = capsys.readouterr().out
    assert "test: 2 clips without labels (no list written)" in out
    assert not (root / "sthv2_test_list_videos.txt").exists()
    assert (root / "classes.txt").read_text().splitlines()[2] == (
        "Putting something, something and something on the table"
    )


def test_a_prepared_list_trains(tmp_path):
    # the lists and classes.txt are what a config reads: data.root and ann_file
    root = lay_out("ucf101", tmp_path / "ucf101")
    prepare("ucf101", root, log=lambda _: None)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"model: {{name: tsn_r18, num_classes: 3}}\n"
        f"data:\n  root: {root}\n  data_prefix: videos\n"
        "  train: {ann_file: ucf101_train_split_1_videos.txt}\n"
    )
    from actionkit.engine.builder import class_names

    cfg = load_config(config)
    assert class_names(cfg) == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]


@pytest.mark.parametrize(
    "dataset, file, text, message",
    [
        (
            "kinetics400", "kinetics_val.csv",
            "label,youtube_id,time_start,time_end,split\nabseiling,abc,1,11,val\nflying,x,0,10,val\n",
            "kinetics_val.csv:3: unknown class 'flying'",
        ),
        (
            "kinetics400", "kinetics_val.csv",
            "label,youtube_id,time_start,time_end,split\nabseiling,abc,one,11,val\n",
            "kinetics_val.csv:2: time_start / time_end must be numbers",
        ),
        (
            "kinetics400", "kinetics_val.csv",
            "label,youtube,time_start,time_end,split\n",
            "kinetics_val.csv:1: the header lacks youtube_id",
        ),
        (
            "kinetics400", "kinetics_val.csv",
            'label,youtube_id,time_start,time_end,split\n"a, b",x,0,10\n',
            "kinetics_val.csv:2: 4 fields, the header has 5",
        ),
        ("sthv1", "something-something-v1-train.csv", "1;Holding something\n2\n",
         "something-something-v1-train.csv:2: expected 'id;label', got '2'"),
        ("ucf101", "classInd.txt", "1 ApplyEyeMakeup\n3 YoYo\n",
         "classInd.txt:2: expected '2 ClassName', got '3 YoYo'"),
        ("hmdb51", "brush_hair_test_split2.txt", "a.avi 1\nb.avi 7\n",
         "brush_hair_test_split2.txt:2: expected '<video>.avi <0|1|2>'"),
        ("sthv2", "something-something-v2-validation.json", '[{"id": "1", "template": "Jumping"}]',
         "something-something-v2-validation.json: item 0: unknown template 'Jumping'"),
        ("sthv2", "something-something-v2-train.json", '[{"id": "1",\n "template": ]',
         "something-something-v2-train.json:2: not valid JSON"),
        ("diving48", "Diving48_V2_test.json", '[{"vid_name": "a", "label": 48}]',
         "Diving48_V2_test.json: item 0: label 48 is not one of the 3 classes"),
        ("mmit", "validationSet.csv", "a/b.mp4,1,x\n", "validationSet.csv:1: labels must be"),
        ("mit", "moments_categories.txt", "clapping,0\npraying\n",
         "moments_categories.txt:2: expected 'category,index'"),
    ],
)  # fmt: skip
def test_malformed_files_are_named_with_the_line(tmp_path, capsys, dataset, file, text, message):
    root = lay_out(dataset, tmp_path / dataset)
    (root / "annotations" / file).write_text(text)
    assert main(["prepare", dataset, str(root)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("actionkit-data: error: ") and len(err.splitlines()) == 1, err
    assert message in err


def test_conflicting_duplicates_and_missing_files(tmp_path, capsys):
    root = lay_out("sthv1", tmp_path / "sthv1")
    path = root / "annotations" / "something-something-v1-train.csv"
    path.write_text("1;Holding something\n1;Tearing something into two pieces\n")
    assert main(["prepare", "sthv1", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:2: 1 again with another label (first at {path}:1)" in err
    path.unlink()
    assert main(["prepare", "sthv1", str(root)]) == 1
    err = capsys.readouterr().err
    assert "Something-Something V1 train annotations: none of" in err
    assert str(path) in err


def test_resize_and_extract_frames(tmp_path, capsys):
    # real (tiny) videos: re-encoded to a short side of 32, then decoded to JPEG folders
    from actionkit.data import encode, synthetic
    from actionkit.data.decode import VideoReader

    root = lay_out("diving48", tmp_path / "diving48")
    for video in (root / "videos").iterdir():
        encode.write_video(
            video.with_suffix(".avi"), synthetic.render_clip("disc", 6, (48, 64)), codec="mjpeg"
        )
        video.unlink()
    args = ["prepare", "diving48", str(root), "--resize-short", "32", "--extract-frames"]
    assert main(args) == 0
    lines = (root / "diving48_train_list_rawframes.txt").read_text().splitlines()
    assert lines[0] == "-mmq0PT-u8k_00155 6 0"
    assert (root / "rawframes_32p" / "-mmq0PT-u8k_00155" / "img_00006.jpg").exists()
    lines = (root / "diving48_train_list_videos.txt").read_text().splitlines()
    assert lines[0] == "-mmq0PT-u8k_00155.mp4 0"
    with VideoReader(root / "videos_32p" / "-mmq0PT-u8k_00155.mp4") as reader:
        assert len(reader) == 6 and reader.get_frames([0]).shape[1:3] == (32, 42)


# --- the other tasks' datasets ------------------------------------------------------------


def _run(capsys, *args) -> list[str]:
    assert main(["prepare", *map(str, args)]) == 0
    return capsys.readouterr().out.splitlines()


def test_activitynet_from_the_official_json(tmp_path, capsys):
    import json

    root = tmp_path / "ActivityNet"
    (root / "annotations").mkdir(parents=True)
    database = {
        "--0edUL8zmA": {"subset": "training", "duration": 92.18, "resolution": "640x360",
                        "url": "https://www.youtube.com/watch?v=--0edUL8zmA",
                        "annotations": [{"segment": [6.19, 77.9], "label": "Dodgeball"}]},
        "--1DO2V4K74": {"subset": "validation", "duration": 211.53,
                        "annotations": [{"segment": [30.96, 192.25], "label": "Rock climbing"},
                                        {"segment": [0.0, 10.5], "label": "Dodgeball"}]},
        "--3ouPhoy2A": {"subset": "testing", "duration": 20.11, "annotations": []},
    }  # fmt: skip
    (root / "annotations" / "activity_net.v1-3.min.json").write_text(
        json.dumps({"version": "VERSION 1.3", "taxonomy": [], "database": database})
    )
    (root / "annotations" / "video_info_new.csv").write_text(
        "video,numFrame,seconds,fps,rfps,subset,featureFrame\n"
        "v_--0edUL8zmA,2765,92.18,29.997,30,training,2752\n"
    )
    out = _run(capsys, "activitynet", root)
    assert out[0] == f"train: 1 videos in {root / 'anet_anno_train.json'}"
    assert out[-1].endswith("(2 videos it does not list)")
    train = json.loads((root / "anet_anno_train.json").read_text())
    assert train == {"v_--0edUL8zmA": {
        "subset": "training", "resolution": "640x360",
        "url": "https://www.youtube.com/watch?v=--0edUL8zmA", "duration_second": 92.18,
        "annotations": [{"segment": [6.19, 77.9], "label": "Dodgeball"}],
        "duration_frame": 2765, "fps": 29.997, "rfps": 30.0, "feature_frame": 2752,
    }}  # fmt: skip
    val = json.loads((root / "anet_anno_val.json").read_text())
    assert list(val) == ["v_--1DO2V4K74"] and len(val["v_--1DO2V4K74"]["annotations"]) == 2
    assert len(json.loads((root / "anet_anno_full.json").read_text())) == 3
    assert (root / "classes.txt").read_text() == "Dodgeball\nRock climbing\n"
    # and the localization dataset reads them
    from actionkit.data.localization import load_activitynet

    assert (
        load_activitynet(root / "anet_anno_val.json")["v_--1DO2V4K74"]["duration_second"] == 211.53
    )


def test_thumos14_durations_from_the_videos(tmp_path, capsys):
    import json

    from actionkit.data import encode, synthetic

    root = tmp_path / "thumos14"
    val = root / "annotations" / "TH14_Temporal_annotations_validation" / "annotation"
    test = root / "annotations" / "TH14_Temporal_Annotations_Test" / "annotations" / "annotation"
    val.mkdir(parents=True)
    test.mkdir(parents=True)
    (val / "BaseballPitch_val.txt").write_text(
        "video_validation_0000051 0.2 1.1\nvideo_validation_0000052 0.5 0.9\n"
    )
    (val / "CliffDiving_val.txt").write_text("video_validation_0000051 1.2 1.5 \n")
    (val / "Ambiguous_val.txt").write_text("video_validation_0000051 1.6 1.7\n")
    (test / "CliffDiving_test.txt").write_text("video_test_0000004 0.1 0.4\n")
    clip = synthetic.render_clip("disc", 48, (32, 32))
    encode.write_video(
        root / "videos" / "val" / "video_validation_0000051.avi", clip, fps=24, codec="mjpeg"
    )
    encode.write_video(
        root / "videos" / "test" / "video_test_0000004.avi", clip[:30], fps=30, codec="mjpeg"
    )
    out = _run(capsys, "thumos14", root)
    assert out[0] == f"val: 1 videos in {root / 'thumos14_val.json'}"
    missing = root / "thumos14_val_missing.txt"
    assert out[1] == f"  1 videos not in {root / 'videos' / 'val'}: {missing}"
    assert missing.read_text() == "video_validation_0000052\n"
    data = json.loads((root / "thumos14_val.json").read_text())
    entry = data["video_validation_0000051"]
    assert entry["duration_second"] == pytest.approx(2.0) and entry["fps"] == pytest.approx(24)
    assert entry["duration_frame"] == 48
    assert sorted(a["label"] for a in entry["annotations"]) == ["BaseballPitch", "CliffDiving"]
    test_data = json.loads((root / "thumos14_test.json").read_text())
    assert test_data["video_test_0000004"]["duration_second"] == pytest.approx(1.0)
    assert (root / "classes.txt").read_text() == "BaseballPitch\nCliffDiving\n"


def test_ntu_through_prepare(tmp_path, capsys):
    import pickle

    fixtures = Path(__file__).parent / "fixtures" / "pose"
    root = tmp_path / "ntu60"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    shutil.copy(fixtures / "S001C002P003R001A013.skeleton", root / "nturgb+d_skeletons")
    (root / "NTU_RGBD_samples_with_missing_skeletons.txt").write_text("S001C001P001R001A001\n")
    out = _run(capsys, "ntu60", root)
    assert out[0] == f"1 samples in {root / 'ntu60_3d.pkl'}"
    with open(root / "ntu60_3d.pkl", "rb") as f:
        data = pickle.load(f)  # (our own file, just written)
    assert [a["frame_dir"] for a in data["annotations"]] == ["S001C002P003R001A013"]


def test_ava_checked_and_counted(tmp_path, capsys):
    root = tmp_path / "ava"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "ava_action_list_v2.2.pbtxt").write_text(
        'label {\n  name: "bend/bow (at the waist)"\n  label_id: 1\n}\n'
        'label {\n  name: "stand"\n  label_id: 12\n  label_type: PERSON_MOVEMENT\n}\n'
    )
    rows = {
        "train": "vidA,0902,0.1,0.2,0.4,0.9,12,0\nvidA,0902,0.1,0.2,0.4,0.9,1,0\n"
        "vidA,0903,0.5,0.2,0.9,0.9,12,1\nvidB,1000,0.1,0.1,0.2,0.2,1,0\n",
        "val": "vidC,0905,0.1,0.2,0.4,0.9,12,0\n",
    }
    for split, text in rows.items():
        (root / "annotations" / f"ava_{split}_v2.2.csv").write_text(text)
    (root / "annotations" / "ava_train_excluded_timestamps_v2.2.csv").write_text("vidA,0903\n")
    (root / "rawframes" / "vidA").mkdir(parents=True)
    (root / "rawframes" / "vidA" / "img_00001.jpg").touch()
    (root / "videos_15min").mkdir()
    (root / "videos_15min" / "vidC.mkv").touch()
    out = _run(capsys, "ava22", root)
    assert out[0] == f"2 actions in {root / 'annotations' / 'ava_action_list_v2.2.pbtxt'}"
    assert out[1].startswith("train: 2 keyframes, 2 actors in 2 videos")
    assert (root / "ava_train_missing.txt").read_text() == "vidB\n"
    assert out[3].startswith("val: 1 keyframes, 1 actors in 1 videos")
    assert not (root / "ava_val_missing.txt").exists()
    (root / "annotations" / "ava_val_v2.2.csv").write_text("vidC,0905,0.1,0.2,0.4,0.9,12\n")
    assert main(["prepare", "ava22", str(root)]) == 1
    assert "ava_val_v2.2.csv:1: expected 8 fields" in capsys.readouterr().err
    assert main(["prepare", "ava22", str(root), "--resize-short", "256"]) == 1
    assert "are for the recognition datasets' videos" in capsys.readouterr().err


def test_hvu_equals_mmaction2s_and_lists_each_category(tmp_path, capsys):
    import json

    root = lay_out("hvu", tmp_path / "hvu")
    out = _run(capsys, "hvu", root)
    assert out[0] == f"train: 2 of 3 clips in {root / 'hvu_train.json'}"
    assert "missingClip_000010_000110" in (root / "hvu_train_missing.txt").read_text()
    for split in ("train", "val"):
        expected = json.loads((FIXTURES / "hvu" / "mmaction" / f"hvu_{split}.json").read_text())
        assert json.loads((root / f"hvu_{split}.json").read_text()) == expected
    # per category: the clips with tags of it, multi-label lines, the sorted tags
    assert (root / "hvu_action_train_list_videos.txt").read_text() == (
        "--0hDzbP0vA_000000_000100.mp4 0 1\n-5aTqZ6Jj2k_000255_000355.mp4 2\n"
    )
    assert (root / "hvu_scene_classes.txt").read_text() == "beach\ncourt\n"
    assert (root / "hvu_event_train_list_videos.txt").read_text() == ""
    entries = parse_list(root / "hvu_action_train_list_videos.txt")
    assert [e.labels for e in entries] == [(0, 1), (2,)]


def test_gym_subactions_cut_at_their_times(tmp_path, capsys):
    import json

    import numpy as np

    from actionkit.data import encode, synthetic
    from actionkit.data.decode import VideoReader

    root = tmp_path / "gym"
    (root / "annotations").mkdir(parents=True)
    info = {
        "0LtLS9wROrk": {
            "E_000003_000025": {
                "event": 4, "timestamps": [[3.0, 25.0]],
                "segments": {
                    "A_0000_0002": {"stages": 1, "timestamps": [[0.5, 1.6]]},
                    "A_0003_0004": {"stages": 3, "timestamps": [[2, 2.5], [2.5, 3.1], [3.1, 4]]},
                },
            }
        }
    }  # fmt: skip
    (root / "annotations" / "finegym_annotation_info_v1.0.json").write_text(json.dumps(info))
    (root / "annotations" / "gym99_train_element_v1.0.txt").write_text(
        "0LtLS9wROrk_E_000003_000025_A_0000_0002 12\n0LtLS9wROrk_E_000003_000025_A_0003_0004 7\n"
    )
    (root / "annotations" / "gym99_val_element.txt").write_text(
        "zzUnknown_E_000001_000002_A_0000_0001 3\n"
    )
    # frame i shows i (synthetic.index_clip): 10 fps, 80 frames = 8 s
    encode.write_video(
        root / "videos" / "0LtLS9wROrk.mp4", synthetic.index_clip(80, (16, 96)), fps=10, gop=10
    )
    (root / "annotations" / "gym99_categories.txt").write_text(
        "".join(f"Clabel: {k}; set: 1; Glabel: {k + 1}; (VT) element {k}\n" for k in range(99))
    )
    with pytest.raises(DataError, match="zzUnknown_E_000001_000002_A_0000_0001 is not in"):
        prepare_gym_cli(root, capsys)
    (root / "annotations" / "gym99_val_element.txt").write_text(
        "0LtLS9wROrk_E_000003_000025_A_0000_0002 12\nabsent_E_000001_000002_A_0000_0001 3\n"
    )
    info["absent"] = {"E_000001_000002": {"timestamps": [[1, 2]], "segments": {
        "A_0000_0001": {"timestamps": [[0, 1]]}}}}  # fmt: skip
    (root / "annotations" / "finegym_annotation_info_v1.0.json").write_text(json.dumps(info))
    out = prepare_gym_cli(root, capsys)
    assert out[0] == f"train: 2 of 2 subactions in {root / 'gym99_train_list_videos.txt'}"
    assert (root / "gym99_train_list_videos.txt").read_text() == (
        "0LtLS9wROrk_E_000003_000025_A_0000_0002.mp4 12\n"
        "0LtLS9wROrk_E_000003_000025_A_0003_0004.mp4 7\n"
    )
    assert (
        (root / "gym99_val_missing.txt")
        .read_text()
        .startswith("absent_E_000001_000002_A_0000_0001")
    )
    assert (root / "classes.txt").read_text().splitlines()[12] == "(VT) element 12"
    # event start 3 s + stage times: [3.5, 4.6) s -> frames 35..45; [5.0, 7.0) -> 50..69
    for name, first, last in (("A_0000_0002", 35, 45), ("A_0003_0004", 50, 69)):
        clip = root / "subactions" / f"0LtLS9wROrk_E_000003_000025_{name}.mp4"
        with VideoReader(clip) as reader:
            shown = [
                synthetic.frame_index(f) for f in reader.get_frames(np.arange(len(reader))).numpy()
            ]
        assert shown == list(range(first, last + 1)), name


def prepare_gym_cli(root, capsys) -> list[str]:
    code = main(["prepare", "gym99", str(root), "--cut"])
    captured = capsys.readouterr()
    if code:
        raise DataError(captured.err)
    return captured.out.splitlines()


def test_ava_movies_cut_at_30_fps_and_decoded(tmp_path):
    import numpy as np

    from actionkit.data import encode, synthetic
    from actionkit.data.decode import VideoReader
    from actionkit.data.prepare import prepare_ava

    root = tmp_path / "ava"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "ava_action_list_v2.1_for_activitynet_2018.pbtxt").write_text(
        'label {\n  name: "stand"\n  label_id: 12\n}\n'
    )
    (root / "annotations" / "ava_train_v2.1.csv").write_text("movieA,0902,0.1,0.2,0.4,0.9,12,0\n")
    (root / "annotations" / "ava_val_v2.1.csv").write_text("movieB,0902,0.1,0.2,0.4,0.9,12,0\n")
    # a 25 fps "movie" whose frame i shows i; the span [1, 2) s stands for [900, 1801)
    encode.write_video(root / "videos" / "movieA.mkv", synthetic.index_clip(100, (16, 96)), fps=25)
    lines = prepare_ava(root, root, "ava21", cut=True, extract_frames=True, cut_span=(1.0, 2.0))
    assert "1 movies cut / decoded" in lines
    assert (root / "ava_val_missing.txt").read_text() == "movieB\n"
    assert not (root / "ava_train_missing.txt").exists()
    with VideoReader(root / "videos_15min" / "movieA.mp4") as reader:
        assert reader.fps == pytest.approx(30) and len(reader) == 30
        shown = [synthetic.frame_index(f) for f in reader.get_frames(np.arange(30)).numpy()]
    # output frame k: the source frame nearest 1 + k / 30 s (ffmpeg -r 30)
    assert shown == [int(np.floor((1 + k / 30) * 25 + 0.5)) for k in range(30)]
    assert len(list((root / "rawframes" / "movieA").glob("img_*.jpg"))) == 30
