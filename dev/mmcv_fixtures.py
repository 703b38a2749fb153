"""Writes tests/fixtures/mmcv/tin_shift.pt from mmcv's own test data for its
``tin_shift`` op (never imported by actionkit):

    python dev/mmcv_fixtures.py /path/to/mmcv      # a checkout of open-mmlab/mmcv

mmcv's op has CUDA (and MLU/MUSA) kernels only, so its outputs cannot be made on a
machine without a GPU; its test file, ``tests/test_ops/test_tin_shift.py``, holds the
input, the whole-number shifts and the outputs and input gradients (under an all-ones
upstream gradient) that its kernels produced. The literals are read with
``ast.literal_eval`` (the file is not run) and saved as tensors.
"""

import argparse
import ast
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("inputs", "shifts", "outputs", "grads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mmcv", type=Path, help="a checkout of open-mmlab/mmcv")
    args = parser.parse_args()
    source = args.mmcv / "tests" / "test_ops" / "test_tin_shift.py"
    values = {}
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in NAMES:
                values[name] = ast.literal_eval(node.value)
    missing = set(NAMES) - set(values)
    if missing:
        raise SystemExit(f"{source}: no literal for {', '.join(sorted(missing))}")
    fixture = {
        "source": "open-mmlab/mmcv tests/test_ops/test_tin_shift.py",
        "input": torch.tensor(values["inputs"], dtype=torch.float64),
        "cases": [
            {
                "shift": torch.tensor(shift, dtype=torch.int32),
                "output": torch.tensor(output, dtype=torch.float64),
                "grad": torch.tensor(grad, dtype=torch.float64),
            }
            for shift, output, grad in zip(
                values["shifts"], values["outputs"], values["grads"], strict=True
            )
        ],
    }
    out = ROOT / "tests" / "fixtures" / "mmcv" / "tin_shift.pt"
    torch.save(fixture, out)
    print(f"wrote {out}: input {tuple(fixture['input'].shape)}, {len(fixture['cases'])} cases")


if __name__ == "__main__":
    main()
