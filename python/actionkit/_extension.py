"""Loads the compiled core; importing it registers torch.ops.actionkit.*."""

import torch  # noqa: F401  (libtorch must be loaded before libactionkit)

try:
    from . import _C
except ImportError as error:
    raise ImportError(
        f"actionkit's compiled core (actionkit._C) could not be loaded: {error}. "
        "Build it with `pip install -e . --no-build-isolation` against the installed torch "
        "(see README, Install)."
    ) from error

build_info = _C.build_info()
