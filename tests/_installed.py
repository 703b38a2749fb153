"""Whether an optional package is installed, for skipping tests (find_spec on a dotted
name raises when the parent package is missing, e.g. "nvidia" with a CPU-only torch)."""

import importlib.util


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
