"""configs/skeleton: MMAction2 1.2.0's GCN zoo entries (ST-GCN, STGCN++, 2s-AGCN on
NTU60/120 xsub, 2D/3D, four streams) and its projects/ctrgcn (NTU60, joints), one stream
per file, ``data.feats`` switching it."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.config import ConfigError, load_config
from actionkit.engine import builder

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs" / "skeleton").glob("[!p]*.yaml"))  # the GCNs
POSEC3D = sorted((ROOT / "configs" / "skeleton").glob("posec3d_*.yaml"))
NAME = re.compile(r"(stgcn|stgcnpp|agcn|ctrgcn)_(ntu60|ntu120)_xsub_(2d|3d)_(j|b|jm|bm)")
FAMILY = {"stgcn": "stgcn", "stgcnpp": "stgcnpp", "agcn": "2s-agcn", "ctrgcn": "ctrgcn"}
STREAM = {"j": "joint", "b": "bone", "jm": "joint-motion", "bm": "bone-motion"}


def test_the_zoo_is_complete():
    # MMAction2 1.2.0: ST-GCN on 60 and 120 classes, STGCN++ and 2s-AGCN on 60, 2D and 3D,
    # four streams each; CTR-GCN (projects/ctrgcn) on 60 classes, 2D and 3D, joints
    names = {p.stem for p in CONFIGS}
    sets = {"stgcn": ("ntu60", "ntu120"), "stgcnpp": ("ntu60",), "agcn": ("ntu60",)}
    want = {
        f"{m}_{ds}_xsub_{d}_{f}"
        for m in sets
        for ds in sets[m]
        for d in ("2d", "3d")
        for f in STREAM
    } | {f"ctrgcn_ntu60_xsub_{d}_j" for d in ("2d", "3d")}
    assert names == want


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_skeleton_config_follows_its_mmaction2_entry(path):
    model, ds, dim, feat = NAME.fullmatch(path.stem).groups()
    text = path.read_text()
    assert f"{FAMILY[model]}_8xb16-{STREAM[feat]}-u100-80e_{ds}-xsub-keypoint-{dim}" in text
    assert "# Initial weights: none (trained from scratch" in text
    cfg = load_config(path)
    assert cfg.model.name == model and cfg.model.num_classes == int(ds[3:])
    layout = "coco" if dim == "2d" else "nturgb+d"
    assert cfg.model.args["layout"] == layout and cfg.data.kind == "pose"
    for split, clips in (("train", None), ("val", 1), ("test", 10)):
        s = getattr(cfg.data, split)
        assert s.ann_file == f"{ds}_{dim}.pkl"
        assert s.split == ("xsub_train" if split == "train" else "xsub_val")
        assert s.sampler["clip_len"] == 100 and s.sampler.get("num_clips") == clips
        types = [t["type"] for t in s.pipeline]
        assert types == [f"PreNormalize{dim.upper()}", "GenSkeFeat", "PoseDecode", "FormatGCNInput"]
        gen = s.pipeline[1]
        assert gen["feats"] == [feat] and gen["dataset"] == layout
    o = cfg.optim
    assert (o.type, o.lr, o.momentum, o.nesterov, o.weight_decay) == ("sgd", 0.1, 0.9, True, 5e-4)
    assert cfg.schedule.epochs == 80 and cfg.schedule.policy == "cosine"
    assert cfg.data.batch_size == 16


def test_feats_switches_the_stream_and_checks_channels(tmp_path):
    path = ROOT / "configs" / "skeleton" / "stgcn_ntu60_xsub_2d_j.yaml"
    cfg = load_config(path, ["data.feats=[bm]"])
    assert all(
        getattr(cfg.data, s).pipeline[1]["feats"] == ["bm"] for s in ("train", "val", "test")
    )
    with pytest.raises(ConfigError, match=r"data.feats: \['j', 'b'\] make 6 input channels"):
        load_config(path, ["data.feats=[j, b]"])
    cfg = load_config(path, ["data.feats=[j, b]", "model.args.in_channels=6"])
    assert cfg.data.train.pipeline[1]["feats"] == ["j", "b"]
    tsn = ROOT / "configs" / "demo" / "tsn_synthetic.yaml"
    with pytest.raises(ConfigError, match="data.feats: only pose data has skeleton streams"):
        load_config(tsn, ["data.feats=[j]"])


def test_3d_config_reads_a_converted_ntu_pickle(tmp_path):
    # the NTU fixture, converted, through the 3D config's test split and model
    from actionkit.data.pose_convert import convert_ntu

    src = tmp_path / "skeletons"
    src.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "pose" / "S001C002P003R001A013.skeleton", src)
    convert_ntu(src, tmp_path / "ntu60_3d.pkl")
    path = ROOT / "configs" / "skeleton" / "stgcn_ntu60_xsub_3d_b.yaml"
    cfg = load_config(path, [f"data.root={tmp_path}", "model.args.base_channels=8"])
    dataset = builder.build_dataset(cfg, "test")  # performer 3 is a test subject
    item = dataset[0]
    assert item["inputs"].shape == (10, 2, 100, 25, 3) and item["label"] == 12
    model = builder.build_model(cfg, lambda _: None, initial_weights=False).eval()
    with torch.no_grad():
        scores = model.predict(item["inputs"][None])
    assert scores.shape == (1, 60)
    np.testing.assert_allclose(scores.sum().item(), 1.0, rtol=1e-5)  # averaged softmax


def test_posec3d_configs(tmp_path):
    # MMAction2's two NTU60 PoseC3D entries; one sample through the test split and model
    from actionkit.data.pose import save_pose_pickle
    from actionkit.data.synthetic_pose import render_sample

    assert [p.stem for p in POSEC3D] == [
        "posec3d_r50_ntu60_xsub_keypoint",
        "posec3d_r50_ntu60_xsub_limb",
    ]
    sample = {"frame_dir": "S001C001P003R001A010", **render_sample("clap", 0)}
    save_pose_pickle(tmp_path / "ntu60_2d.pkl", [sample], {"xsub_val": [sample["frame_dir"]]})
    for path in POSEC3D:
        kind = path.stem.rsplit("_", 1)[1]
        assert f"slowonly_r50_8xb16-u48-240e_ntu60-xsub-{kind}" in path.read_text()
        cfg = load_config(path, [f"data.root={tmp_path}", "data.test.sampler.num_clips=1"])
        o = cfg.optim
        assert (o.lr, o.weight_decay, o.clip_grad, cfg.schedule.epochs) == (0.2, 3e-4, 40, 240)
        target = cfg.data.train.pipeline[-2]
        assert target["type"] == "GeneratePoseTarget" and target["with_kp"] == (kind == "keypoint")
        item = builder.build_dataset(cfg, "test")[0]
        assert item["inputs"].shape == (2, 17, 48, 64, 64)  # the clip and its mirrored copy
        model = builder.build_model(cfg, lambda _: None, initial_weights=False).eval()
        with torch.no_grad():
            assert model.predict(item["inputs"][None]).shape == (1, 60)


def test_a_stream_is_tested_on_the_stream_it_was_trained_on(tmp_path, capsys):
    from actionkit.cli import test as test_cli
    from actionkit.cli import train

    config = str(ROOT / "configs" / "demo" / "stgcn_synthetic.yaml")
    tiny = [f"data.root={tmp_path / 'data'}", "data.synthetic_pose={train_per_class: 1, "
            "test_per_class: 1}", "model.args={base_channels: 8, layout: coco}",
            "schedule.epochs=1", "data.num_workers=0", "data.batch_size=4"]  # fmt: skip
    work = tmp_path / "b"
    assert train.main([config, "--work-dir", str(work), "--set", *tiny, "data.feats=[b]"]) == 0
    ckpt = str(work / "best.pth")
    assert test_cli.main([config, ckpt, "--set", *tiny, "data.feats=[j]"]) == 1
    err = capsys.readouterr().err
    assert "trained on the skeleton stream [b], the config makes [j]" in err
    assert "--set data.feats=[b]" in err
    assert test_cli.main([config, ckpt, "--set", *tiny, "data.feats=[b]"]) == 0
