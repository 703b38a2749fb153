"""Configs: YAML into dataclasses, one level of base, --set overrides, errors that name the
key, and every shipped config loading."""

from pathlib import Path

import pytest

from actionkit.config import ConfigError, dump_config, load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_every_shipped_config_loads_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    again = load_config(write(tmp_path / "dumped.yaml", dump_config(cfg)))
    again.source = cfg.source
    assert again == cfg


def test_defaults_types_and_work_dir(tmp_path):
    cfg = load_config(write(tmp_path / "run.yaml", "optim: {lr: 1}\n"))
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)  # ints are floats here
    # YAML 1.1 reads 1e-4 (no dot) as a string; a float field takes it as the number
    assert (
        load_config(tmp_path / "run.yaml", ["optim.weight_decay=1e-4"]).optim.weight_decay == 1e-4
    )
    assert cfg.model.name == "tsm_r50" and cfg.schedule.policy == "cosine"
    assert cfg.work_dir == str(Path("work_dirs") / "run")


@pytest.mark.parametrize(
    "text,message",
    [
        ("optim: {lrr: 0.1}\n", r"run.yaml: optim.lrr: unknown key \(known here: type, lr,"),
        (
            "data: {train: {sampler: {type: SampleFrames, clip_len: 1, speed: 2}}}\n",
            r"data.train.sampler: SampleFrames: got an unexpected keyword argument 'speed'",
        ),
        (
            "data: {train: {pipeline: [{type: Blur}]}}\n",
            r"data.train.pipeline\[0\].type: unknown transform 'Blur' \(known: Resize,",
        ),
        (
            "data: {train: {pipeline: [Resize]}}\n",
            r"data.train.pipeline\[0\]: expected a mapping, got str 'Resize'",
        ),
        ("data: {batch_size: eight}\n", r"data.batch_size: expected int, got str 'eight'"),
        ("data: {batch_size: true}\n", r"data.batch_size: expected int, got bool True"),
        ("data: {batch_size: 0}\n", r"data.batch_size: 0 is out of range"),
        ("schedule: {policy: linear}\n", r"schedule.policy: 'linear' is not one of 'cosine'"),
        ("schedule: {policy: multistep}\n", r"schedule.milestones: multistep needs milestones"),
        ("model: {name: tsm_r5}\n", r"model.name: unknown model 'tsm_r5'"),
        ("optim: [1, 2]\n", r"run.yaml: optim: expected a mapping, got list"),
        ("train: {ema: 1.5}\n", r"train.ema: the decay must be in \(0, 1\)"),
        (
            "schedule: {epochs: 10, policy: multistep, milestones: [4, 10]}\n",
            r"schedule.milestones: 10 is not within the run's 10 epochs",
        ),
        ("train: {label_smoothing: 1.0}\n", r"train.label_smoothing: 1.0 is not in \[0, 1\)"),
        (
            "model: {num_classes: 3}\ntrain: {class_weights: [1, 2]}\n",
            r"train.class_weights: expected 3 weights >= 0 \(model.num_classes\), got 2",
        ),
        (
            "train: {best_metric: top_1}\n",
            r"train.best_metric: 'top_1' is not a metric of this single-label data \(known: top1,",
        ),
        (
            "data: {multi_class: true}\n",
            r"train.best_metric: 'top1' is not a metric of this multi-label data \(known: mAP",
        ),
        (
            "model: {head_classes: [1, 2]}\n",
            r"model.head_classes selects rows of model.checkpoint's classifier; set model.ch",
        ),
        ("model: {checkpoint: a.pth, head_classes: 3}\n", r"model.head_classes: int 3 is none"),
        ("- a\n- b\n", r"run.yaml: a config is a mapping of sections, not a list"),
        ("optim: {lr: [0.1}\n", r"run.yaml: not valid YAML"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path / "run.yaml", text))


def test_base_merges_one_level(tmp_path):
    write(tmp_path / "base.yaml", "optim: {lr: 0.1, momentum: 0.5}\nmodel: {args: {a: 1, b: 2}}\n")
    write(
        tmp_path / "run.yaml",
        "base: base.yaml\noptim: {lr: 0.2}\nmodel: {name: tsn_r18, args: {b: 3}}\n",
    )
    cfg = load_config(tmp_path / "run.yaml")
    assert (cfg.optim.lr, cfg.optim.momentum) == (0.2, 0.5)  # merged key by key
    assert cfg.model.args == {"a": 1, "b": 3} and cfg.model.name == "tsn_r18"
    write(tmp_path / "base.yaml", "base: other.yaml\n")
    with pytest.raises(ConfigError, match="a base file cannot have a base"):
        load_config(tmp_path / "run.yaml")
    write(tmp_path / "run.yaml", "base: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml: no such config file"):
        load_config(tmp_path / "run.yaml")


def test_overrides(tmp_path):
    path = write(tmp_path / "run.yaml", "optim: {lr: 0.1}\n")
    cfg = load_config(path, ["optim.lr=0.01", "data.batch_size=16", "optim.betas=[0.8, 0.9]"])
    assert (cfg.optim.lr, cfg.data.batch_size, cfg.optim.betas) == (0.01, 16, [0.8, 0.9])
    assert load_config(path, ["train.ema=null"]).train.ema is None
    with pytest.raises(ConfigError, match=r"optim.lrr: unknown key"):
        load_config(path, ["optim.lrr=1"])
    with pytest.raises(ConfigError, match=r"--set 'optim.lr': expected key.path=value"):
        load_config(path, ["optim.lr"])
    with pytest.raises(ConfigError, match=r"--set 'optim.lr.x=1': optim.lr is not a section"):
        load_config(path, ["optim.lr.x=1"])


# what a zoo model's own config is named after: <model>_<dataset>.yaml
DATASETS = {"kinetics400", "sthv1", "sthv2", "ucf101"}
# the zoo's configs: recognition from frames and from sound
ZOO_CONFIGS = sorted((ROOT / "configs" / "recognition").glob("*.yaml")) + sorted(
    (ROOT / "configs" / "recognition_audio").glob("*.yaml")
)


def test_every_zoo_model_has_a_config():
    from actionkit.models.zoo import TEST_INPUTS

    assert set(TEST_INPUTS) <= {load_config(p).model.name for p in ZOO_CONFIGS}


@pytest.mark.parametrize("path", ZOO_CONFIGS, ids=lambda p: p.stem)
def test_configs_and_the_zoo_agree_on_the_input(path):
    # One definition of a zoo model's single-view input (models.zoo.TEST_INPUTS: what
    # init_recognizer, export and the benchmarks use); its config's val split must give it.
    from actionkit.models.zoo import TEST_INPUTS

    cfg = load_config(path)
    shape = TEST_INPUTS[cfg.model.name]
    if path.stem.removeprefix(f"{cfg.model.name}_") not in DATASETS:
        return  # a variant (slowonly_r50_8x8_kinetics400: other clips than the zoo default)
    if cfg.data.kind == "audio":  # [clips, 1, feature rows, mel bands]
        assert shape[1:] == (1, cfg.data.audio_length, 80)
        return
    sampler, pipeline = cfg.data.val.sampler, cfg.data.val.pipeline
    frames = sampler.get("clip_len", 1) * (sampler.get("num_clips", 1) if len(shape) == 4 else 1)
    crops = [t["crop_size"] for t in pipeline if t["type"] == "CenterCrop"]
    assert frames == (shape[0] if len(shape) == 4 else shape[2])
    assert crops == [shape[-1]] and shape[-1] == shape[-2]


@pytest.mark.parametrize("path", ZOO_CONFIGS, ids=lambda p: p.stem)
def test_configs_and_the_zoo_agree_on_the_normalisation(path):
    # what the default test pipeline (a model name, no config) normalises with
    from actionkit.apis import default_test_split
    from actionkit.models.zoo import TEST_INPUTS

    cfg = load_config(path)
    if cfg.data.kind not in ("video", "rawframes") or cfg.model.name not in TEST_INPUTS:
        return
    if path.stem.removeprefix(f"{cfg.model.name}_") not in DATASETS:
        return  # a variant (irCSN fine-tuned from IG-65M: ImageNet's normalisation)
    for split in ("train", "val", "test"):
        step = next(t for t in getattr(cfg.data, split).pipeline if t["type"] == "FormatShape")
        default = next(
            t for t in default_test_split(cfg.model.name).pipeline if t["type"] == "FormatShape"
        )
        for key, imagenet in (
            ("mean", [123.675, 116.28, 103.53]),
            ("std", [58.395, 57.12, 57.375]),
        ):
            assert list(step.get(key, imagenet)) == list(default.get(key, imagenet)), (split, key)


@pytest.mark.parametrize("path", ZOO_CONFIGS, ids=lambda p: p.stem)
def test_configs_say_which_initial_weights_they_expect(path):
    # A recipe that starts from pretrained weights (MMAction2's "imagenet-pretrained",
    # "in1k-pre", "sports1m-pretrained", IG-65M fine-tuning) names the file and how to
    # pass it; one that fine-tunes a whole pre-trained network (the transformers) says
    # how to pass that; the from-scratch ones say so.
    header = "".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    assert "# Initial weights: " in header
    words = ("pretrained_", "pretrained-", "in1k-pre", "imagenet1k-pre", "in22k-pre", "IG-65M")
    named = "--set model.pretrained=PATH" in header and "from scratch" not in header
    if any(word in header for word in words) or named:
        assert "--set model.pretrained=PATH" in header and ".pth" in header
    elif "--set model.checkpoint=PATH" not in header:
        assert "from scratch" in header
