"""actionkit: video understanding whose hot paths are compiled C++/CUDA ops."""

from pathlib import Path

from . import _extension, ops
from ._version import __version__
from .info import info

__all__ = ["__version__", "cmake_prefix_path", "info", "ops"]


def cmake_prefix_path() -> str:
    """The prefix to add to CMAKE_PREFIX_PATH so `find_package(actionkit)` finds this copy.

    Example (shell):
        prefix=$(python -c 'import actionkit; print(actionkit.cmake_prefix_path())')
        cmake -DCMAKE_PREFIX_PATH="$prefix" ..
    """
    prefix = Path(__file__).resolve().parent
    if not (prefix / "lib" / "cmake" / "actionkit" / "actionkitConfig.cmake").is_file():
        raise FileNotFoundError(
            f"actionkit's CMake package config is missing under {prefix}/lib/cmake/actionkit; "
            "reinstall with `pip install -e . --no-build-isolation`"
        )
    return str(prefix)


del _extension
