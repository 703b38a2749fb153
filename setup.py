"""Builds actionkit by handing everything to CMake (CMakeLists.txt is the one build definition).

`pip install -e . --no-build-isolation` (or without -e) configures, builds and installs
libactionkit, the extension modules, the headers and the CMake package config into the
`actionkit` package folder. Build isolation must stay off: the extension is compiled
against the torch installed in this environment, and an isolated build would fetch another.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def read_version() -> str:
    text = (ROOT / "python" / "actionkit" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def find_tool(name: str) -> str | None:
    """A build tool from this Python's environment (pip's cmake/ninja), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.is_file() else shutil.which(name)


def cmake_version(cmake: str) -> tuple[int, ...]:
    out = subprocess.run([cmake, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"version (\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else (0,)


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configure, build and install the CMake project into the package folder."""

    def build_extension(self, ext: Extension) -> None:
        try:
            import torch
            import torch.utils
        except ImportError:
            sys.exit("actionkit: install torch first, then pip install with --no-build-isolation")
        cmake = find_tool("cmake")
        if cmake is None or cmake_version(cmake) < (3, 26):
            sys.exit(
                "actionkit: cmake >= 3.26 is needed to build (pip install 'cmake>=3.26' ninja)"
            )
        ext_path = Path(self.get_ext_fullpath(ext.name)).resolve()
        package_dir = ext_path.parent
        if getattr(self, "editable_mode", False) or self.inplace:
            # Editable installs import from the source tree: put everything there.
            package_dir = ROOT / "python" / "actionkit"
        flavour = f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch.__version__}"
        build_dir = Path(os.environ.get("ACTIONKIT_BUILD_DIR", ROOT / "build" / flavour))
        args = [
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_INSTALL_PREFIX={package_dir}",
            "-DCMAKE_INSTALL_LIBDIR=lib",
            "-DCMAKE_INSTALL_INCLUDEDIR=include",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('ACTIONKIT_BUILD_TYPE', 'Release')}",
            "-DACTIONKIT_BUILD_PYTHON=ON",
            "-DACTIONKIT_PYTHON_INSTALL_DIR=.",
            # The tests run the CUDA kernels' source on the CPU through this library.
            f"-DACTIONKIT_BUILD_EMULATION={os.environ.get('ACTIONKIT_BUILD_EMULATION', 'ON')}",
        ]
        ninja = find_tool("ninja")
        if ninja and not (build_dir / "CMakeCache.txt").exists():
            args += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
        if "ACTIONKIT_WITH_CUDA" in os.environ:
            args.append(f"-DACTIONKIT_WITH_CUDA={os.environ['ACTIONKIT_WITH_CUDA']}")
        args += os.environ.get("ACTIONKIT_CMAKE_ARGS", "").split()
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call([cmake, "-S", str(ROOT), "-B", str(build_dir), *args])
        subprocess.check_call([cmake, "--build", str(build_dir), "--parallel", jobs])
        subprocess.check_call([cmake, "--install", str(build_dir)])
        built = package_dir / ext_path.name
        if built != ext_path:  # setuptools' editable build copies from its own folder
            ext_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(built, ext_path)


setup(
    version=read_version(),
    # benchmarks/ ships as actionkit.benchmarks: what `actionkit-bench` runs
    package_dir={"": "python", "actionkit.benchmarks": "benchmarks"},
    packages=[*find_packages("python"), "actionkit.benchmarks"],
    ext_modules=[CMakeExtension("actionkit._C")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
