"""MMAction2 side of ``actionkit-bench localization``: run by the side venv's python
(dev/PARITY.md), never imported by actionkit. One JSON command per line on stdin, one
JSON line prefixed with ``MARK`` on stdout:

    {"cmd": "build", "temporal_dim": T, "feat_dim": C, "input": PATH, "weights": PATH}
        builds MMAction2's BMN (the 400x100 ActivityNet model's settings), saves its state
        dict to ``weights`` (an MMAction2-style checkpoint actionkit loads) and its outputs
        for the input at ``input`` next to it -> {"outputs": PATH, "mmaction": VERSION,
        "build_s": seconds, "model_bytes": parameters + buffers}
    {"cmd": "step", "mode": "fwd" | "fwdbwd"} -> {"ms": elapsed}
    {"cmd": "peak", "mode": ...} -> {"bytes": the rise of the peak resident set}
    {"cmd": "pgm", "tem_dir": DIR, "infos": PATH, "out": DIR}
        BSN's PGM as its tools run it, in one process: generate_candidate_proposals, the
        proposals written as CSV (bsn_proposal_generation.py), generate_bsp_feature
        (top 1000) -> {"ms": elapsed, "proposals": total count}
    {"cmd": "quit"}
"""

import json
import os
import sys
import time

import torch

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import mmaction  # noqa: E402
from _rss import peak_rss_rise  # noqa: E402  (benchmarks/, this script's folder)
from mmaction.models.localizers import BMN  # noqa: E402
from mmaction.structures import ActionDataSample  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

MARK = "@@actionkit "


class Worker:
    def build(self, temporal_dim: int, feat_dim: int, input: str, weights: str) -> dict:
        start = time.perf_counter()
        self.model = BMN(temporal_dim, 0.5, 32, 3, feat_dim, 0.4, 0.5, 0.9, 100)
        build_s = time.perf_counter() - start
        self.x = torch.load(input, weights_only=True)
        self.model.eval()
        torch.save({"state_dict": self.model.state_dict(), "meta": {"mmaction": "bench"}}, weights)
        with torch.no_grad():
            outputs = self.model(list(self.x), None, mode="tensor")
        out = input + ".outputs.pt"
        torch.save(outputs, out)
        self.samples = []
        for i in range(self.x.shape[0]):
            sample = ActionDataSample()
            sample.gt_instances = InstanceData(gt_bbox=torch.tensor([[0.1 + 0.1 * i, 0.6]]))
            self.samples.append(sample)
        size = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        return {"outputs": out, "mmaction": mmaction.__version__, "build_s": build_s,
                "model_bytes": size}  # fmt: skip

    def run(self, mode: str) -> None:
        if mode == "fwd":
            self.model.eval()
            with torch.no_grad():
                self.model(list(self.x), None, mode="tensor")
        else:
            self.model.train()
            losses = self.model(list(self.x), self.samples, mode="loss")
            losses["loss"].backward()
            self.model.zero_grad(set_to_none=True)

    def step(self, mode: str) -> dict:
        start = time.perf_counter()
        self.run(mode)
        return {"ms": (time.perf_counter() - start) * 1e3}

    def pgm(self, tem_dir: str, infos: str, out: str) -> dict:
        import numpy as np
        from mmaction.models.localizers.utils import (
            generate_bsp_feature,
            generate_candidate_proposals,
        )

        videos = json.loads(open(infos).read())
        index = list(range(len(videos)))
        header = "tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa"
        start = time.perf_counter()
        made = generate_candidate_proposals(index, videos, tem_dir, 100, 0.5)
        for name, props in made.items():
            np.savetxt(f"{out}/{name}.csv", props, header=header, delimiter=",", comments="")
        generate_bsp_feature(index, videos, tem_dir, out, top_k=1000)
        ms = (time.perf_counter() - start) * 1e3
        return {"ms": ms, "proposals": int(sum(len(p) for p in made.values()))}

    def peak(self, mode: str) -> dict:
        return {"bytes": peak_rss_rise(lambda: self.run(mode))}


def main() -> None:
    torch.set_num_threads(int(os.environ.get("ACTIONKIT_BENCH_THREADS", torch.get_num_threads())))
    worker = Worker()
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "build":
                args = (cmd["temporal_dim"], cmd["feat_dim"], cmd["input"], cmd["weights"])
                reply = worker.build(*args)
            elif cmd["cmd"] == "pgm":
                reply = worker.pgm(cmd["tem_dir"], cmd["infos"], cmd["out"])
            elif cmd["cmd"] == "peak":
                reply = worker.peak(cmd["mode"])
            else:
                reply = worker.step(cmd["mode"])
        except Exception as e:  # reported to the parent
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(MARK + json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
