"""MMAction2's own FLOP count (``tools/analysis_tools/get_flops.py``: mmengine's
``get_model_complexity_info`` over the recognizer's ``extract_feat``, i.e. the backbone and
neck, multiply-adds) of zoo models, to set beside ``actionkit-info model``. Run with the
side venv's python (dev/PARITY.md), from the repository root:

    ../peers/venv/bin/python dev/mmaction_flops.py tsn_r50:1x8x3x224x224 i3d_r50:1x1x3x32x224x224

Each argument is an actionkit model name (a key of benchmarks/mmaction_worker.py's ZOO)
and the input shape ``actionkit-info model NAME`` reports; prints one JSON line each."""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import mmaction_worker  # noqa: E402  (MMAction2's zoo configs, as the benchmark builds them)
from mmengine.analysis import get_model_complexity_info  # noqa: E402


def main() -> None:
    mmaction_worker.register_all_modules()
    mmaction_worker._install_tin_shift()  # (mmcv's op is CUDA-only: the gather stand-in)
    for arg in sys.argv[1:]:
        name, shape = arg.split(":")
        shape = tuple(int(v) for v in shape.split("x"))
        model = mmaction_worker.build(name).eval()
        model.forward = model.extract_feat  # as get_flops.py does
        x = torch.randn(shape)
        result = get_model_complexity_info(model, inputs=(x,), show_table=False, show_arch=False)
        print(json.dumps({"name": name, "shape": shape, "macs": result["flops"],
                          "params": result["params"]}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
