"""What the engine and CLI tests share: a tiny model registered on import (also by
train_worker.py in subprocesses), a small synthetic dataset and a small config.
``tiny_nobn`` has no batch norm and no dropout, so its gradient over a batch does not
depend on how the batch is split (DDP and accumulation tests)."""

from pathlib import Path

from torch import nn

from actionkit.data import synthetic
from actionkit.models import Recognizer2D, list_models, register_model
from actionkit.models.heads.tsn import TSNHead


class TinyBackbone(nn.Sequential):
    def __init__(self, width: int = 8):
        super().__init__(
            nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1), nn.ReLU()
        )
        self.out_channels = width


if "tiny_nobn" not in list_models():

    @register_model
    def tiny_nobn(num_classes: int = 400, width: int = 8) -> Recognizer2D:
        return Recognizer2D(TinyBackbone(width), TSNHead(num_classes, width, dropout=0))


def make_small_dataset(root: Path) -> Path:
    """3 classes x 7 videos of 12 frames at 32x32: 5 to train, 2 to test, per class."""
    synthetic.make_dataset(
        root,
        ["move_right", "move_left", "disc"],
        videos_per_class=7,
        val_per_class=0,
        test_per_class=2,
        num_frames=12,
        size=(32, 32),
    )
    return root


def small_config(tmp_path: Path, data_root: Path) -> Path:
    """A small config: 15 training clips, batch 4 (3 iterations per epoch), 3 epochs."""
    pipeline = "[{type: FormatShape, input_format: NCHW}]"
    text = f"""
model: {{name: tiny_nobn, num_classes: 3}}
data:
  root: {data_root}
  data_prefix: videos
  train:
    ann_file: train_list.txt
    sampler: {{type: SampleFrames, clip_len: 1, num_clips: 4}}
    pipeline:
      - {{type: RandomResizedCrop}}
      - {{type: Resize, scale: [24, 24], keep_ratio: false}}
      - {{type: FormatShape, input_format: NCHW}}
  test:
    ann_file: test_list.txt
    sampler: {{type: SampleFrames, clip_len: 1, num_clips: 4, test_mode: true}}
    pipeline: {pipeline}
  val:
    ann_file: test_list.txt
    sampler: {{type: SampleFrames, clip_len: 1, num_clips: 4, test_mode: true}}
    pipeline: {pipeline}
  batch_size: 4
  test_batch_size: 3
  num_workers: 1
optim: {{lr: 0.1, weight_decay: 0.001}}
schedule: {{epochs: 3, warmup_epochs: 0.5}}
train: {{log_interval: 1, checkpoint_iters: 2}}
"""
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path
