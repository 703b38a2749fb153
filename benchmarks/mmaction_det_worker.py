"""MMAction2 side of ``actionkit-bench detection``: run by the side venv's python with
mmdet 3.3.0 and full mmcv (see dev/PARITY.md), never imported by actionkit. One JSON
command per line on stdin, one JSON answer prefixed with ``MARK`` on stdout:

    {"cmd": "build", "config": PATH, "inputs": PATH, "weights": PATH}
        builds the FastRCNN of the config (no pretrained weights), loads inputs
        {x, rois, labels}, writes its random weights for actionkit and the logits
    {"cmd": "step", "mode": "fwd" | "fwd+bwd"}   one timed step -> {"ms": ...}
    {"cmd": "roi"}                               the RoI extractor alone -> {"ms": ...}
    {"cmd": "quit"}
"""

import json
import sys
import time
from pathlib import Path

import mmaction
import torch
from mmaction.utils import register_all_modules
from mmengine.config import Config
from mmengine.registry import MODELS

MARK = "@@actionkit "


class Worker:
    def build(self, config: str, inputs: str, weights: str) -> dict:
        configs = Path(mmaction.__file__).parent / ".mim" / "configs" / "detection"
        cfg = Config.fromfile(configs / config).model
        cfg.pop("init_cfg", None)
        self.model = MODELS.build(cfg)
        data = torch.load(inputs, weights_only=True)
        self.x, self.rois, self.labels = data["x"], data["rois"], data["labels"]
        self.model.eval()
        torch.save({"meta": {"mmaction": "bench"}, "state_dict": self.model.state_dict()}, weights)
        with torch.no_grad():
            logits = self.logits()
            self.feats = self.model.extract_feat(self.x)
        return {"logits": logits.tolist(), "mmaction": mmaction.__version__,
                "torch": torch.__version__}  # fmt: skip

    def logits(self):
        feats = self.model.extract_feat(self.x)
        return self.model.roi_head._bbox_forward(feats, self.rois, [{}])["cls_score"]

    def step(self, mode: str) -> dict:
        start = time.perf_counter()
        if mode == "fwd":
            self.model.eval()
            with torch.no_grad():
                self.logits()
        else:
            self.model.train()
            logits = self.logits()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits[:, 1:], self.labels[:, 1:]
            )
            loss.backward()
            self.model.zero_grad(set_to_none=True)
        return {"ms": (time.perf_counter() - start) * 1e3}

    def roi(self) -> dict:
        start = time.perf_counter()
        with torch.no_grad():
            self.model.roi_head.bbox_roi_extractor(self.feats, self.rois)
        return {"ms": (time.perf_counter() - start) * 1e3}


def main() -> None:
    register_all_modules()
    worker = Worker()
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "build":
                reply = worker.build(cmd["config"], cmd["inputs"], cmd["weights"])
            elif cmd["cmd"] == "roi":
                reply = worker.roi()
            else:
                reply = worker.step(cmd["mode"])
        except Exception as e:  # reported to the parent
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(MARK + json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
