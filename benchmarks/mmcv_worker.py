"""mmcv side of ``actionkit-bench ops --mmcv-python PATH``: run by a side venv's python
that has full mmcv (compiled ops; dev/PARITY.md says how to build it), never imported
by actionkit. One JSON command per line on stdin, one JSON answer per line, prefixed
with ``MARK``, on stdout:

    {"cmd": "load", "path": NPZ}       boxes [K, 4] and scores [K] (float32) to use
        -> {"mmcv": VERSION, "torch": VERSION}
    {"cmd": "soft_nms", "iou_threshold": F, "sigma": F, "min_score": F, "method": M}
        one timed mmcv.ops.soft_nms call on the CPU -> {"ms": elapsed, "keep": [indices]}
    {"cmd": "quit"}
"""

import json
import sys
import time

import numpy as np
import torch

MARK = "@@actionkit "

try:
    import mmcv
    from mmcv.ops import soft_nms
except ImportError as e:  # mmcv-lite, or no mmcv: say so as the answer to the first command
    print(MARK + json.dumps({"error": f"this python has no mmcv with compiled ops ({e})"}))
    sys.exit(1)


def main() -> None:
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    boxes = scores = None
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            break
        if msg["cmd"] == "load":
            data = np.load(msg["path"])
            boxes, scores = torch.from_numpy(data["boxes"]), torch.from_numpy(data["scores"])
            reply = {"mmcv": mmcv.__version__, "torch": torch.__version__}
        else:
            kw = {k: msg[k] for k in ("iou_threshold", "sigma", "min_score", "method")}
            start = time.perf_counter()
            _, keep = soft_nms(boxes, scores, **kw)
            reply = {"ms": (time.perf_counter() - start) * 1e3, "keep": keep.tolist()}
        print(MARK + json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
