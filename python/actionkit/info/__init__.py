"""Build and environment report: versions, compiled CUDA architectures, optional backends."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

import torch

from .._extension import build_info

# Optional packages users ask about in bug reports, by import name.
OPTIONAL = {
    "av": "av",
    "torchcodec": "torchcodec",
    "nvidia.dali": "nvidia-dali-cuda130",
    "turbojpeg": "PyTurboJPEG",
    "PIL": "pillow",
    "torchvision": "torchvision",
    "tensorboard": "tensorboard",
    "tqdm": "tqdm",
}


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def info_dict() -> dict[str, object]:
    """Everything `info()` prints, as a dict."""
    cuda_devices = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            cuda_devices.append(f"{torch.cuda.get_device_name(i)} (sm_{major}{minor})")
    return {
        "actionkit": build_info["version"],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch built against": build_info["torch_version"],
        "torch CUDA": torch.version.cuda or "none (CPU build)",
        "CUDA kernels compiled": build_info["cuda_compiled"],
        "CUDA architectures": build_info["cuda_archs"] or "-",
        "CUDA toolkit (build)": build_info["cuda_version"] or "-",
        "CUDA devices": ", ".join(cuda_devices) or "none",
        "CPU threads (torch)": torch.get_num_threads(),
        "optional backends": {
            dist: _version_of(dist) or "not installed" for dist in OPTIONAL.values()
        },
    }


def info() -> str:
    """A plain-text report to paste into a bug report."""
    lines = []
    for key, value in info_dict().items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k:<22} {v}" for k, v in value.items()]
        else:
            lines.append(f"{key:<24} {value}")
    return "\n".join(lines)
