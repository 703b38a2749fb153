"""``actionkit-bench {ops,preprocess,decode,pipeline,model,train,amp,localization,skeleton,
detection,ava-eval,audio,flow,lfb}``: the benchmarks in the repository's ``benchmarks/`` folder
(installed as ``actionkit.benchmarks``). Each prints a table and writes JSON with the environment
(CPU/GPU, versions, threads); the arguments after the subcommand go to the benchmark
(``actionkit-bench model --help``).

Examples:
    actionkit-bench ops --quick
    actionkit-bench decode
    actionkit-bench model --models tsm_r50,i3d_r50 --variants eager,compile
    actionkit-bench model --mmaction-python ../peers/venv/bin/python   # side by side
    actionkit-bench train configs/demo/tsm_synthetic.yaml --iters 30   # s/iter: data, compute
    actionkit-bench amp --frames 8      # CPU bf16 training: fp32, raw oneDNN bf16, actionkit's
    actionkit-bench localization --mmaction-python ../peers/venv/bin/python   # BMN, T=100/400
    actionkit-bench skeleton --mmaction-python ../peers/venv/bin/python   # heatmaps, pipelines
    actionkit-bench detection --mmaction-python ../peers/venv/bin/python  # AVA detectors
    actionkit-bench ava-eval --mmaction-python ../peers/venv/bin/python   # AVA frame-mAP
    actionkit-bench audio --mmaction-python ../peers/venv/bin/python --mmaction-tools DIR
    actionkit-bench flow                  # TV-L1 optical flow against OpenCV's DualTVL1
    actionkit-bench lfb --hours 1,10      # long-term feature banks: memory, speed
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._common import doc_parser

# subcommand -> (module, arguments put in front of the user's)
COMMANDS = {
    "ops": ("ops", []),
    "preprocess": ("data", ["preprocess"]),
    "decode": ("data", ["decode"]),
    "pipeline": ("data", ["pipeline"]),
    "model": ("model", []),
    "train": ("train", []),
    "amp": ("amp", []),
    "localization": ("localization", []),
    "skeleton": ("skeleton", []),
    "detection": ("detection", []),
    "ava-eval": ("ava_eval", []),
    "audio": ("audio", []),
    "flow": ("flow", []),
    "lfb": ("lfb", []),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = doc_parser("actionkit-bench", __doc__)
    parser.add_argument("benchmark", choices=sorted(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")
    if not argv or argv[0] in ("-h", "--help"):
        parser.parse_args(argv or ["--help"])
    args = parser.parse_args(argv[:1])
    module, front = COMMANDS[args.benchmark]
    bench = importlib.import_module(f"actionkit.benchmarks.{module}")
    return bench.main([*front, *argv[1:]]) or 0


if __name__ == "__main__":
    sys.exit(main())
