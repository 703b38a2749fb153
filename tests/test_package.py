"""The package's build report, CMake prefix and op registration."""

import subprocess
import sys
from pathlib import Path

import torch

import actionkit
from actionkit._extension import build_info


def test_build_info_matches_the_installed_torch():
    assert build_info["version"] == actionkit.__version__
    assert torch.__version__.startswith(build_info["torch_version"])
    # A CUDA torch builds the CUDA kernels (for the listed archs); a CPU torch builds none.
    assert build_info["cuda_compiled"] == (torch.version.cuda is not None)
    if build_info["cuda_compiled"]:
        archs = build_info["cuda_archs"].split()
        assert archs and all(float(a) >= 7.5 for a in archs)
    else:
        assert build_info["cuda_archs"] == ""


def test_info_command_prints_the_report():
    out = subprocess.run(
        [sys.executable, "-m", "actionkit.info"], capture_output=True, text=True, check=True
    ).stdout
    assert f"actionkit                {actionkit.__version__}" in out
    assert f"CUDA kernels compiled    {build_info['cuda_compiled']}" in out
    assert "optional backends:" in out and "torchcodec" in out
    assert actionkit.info() == out.rstrip("\n")


def test_cmake_prefix_path_holds_the_package_config():
    prefix = Path(actionkit.cmake_prefix_path())
    assert (prefix / "lib" / "cmake" / "actionkit" / "actionkitConfig.cmake").is_file()
    assert (prefix / "include" / "actionkit" / "ops.h").is_file()
    assert any((prefix / "lib").glob("libactionkit.so*"))


def test_every_op_has_cpu_kernel_autograd_and_fake():
    for op in (
        "temporal_shift",
        "_temporal_shift_backward",
        "tin_shift",
        "_tin_shift_backward",
        "roi_align3d",
        "_roi_align3d_backward",
    ):
        name = f"actionkit::{op}"
        for key in ("CPU", "Autograd", "Meta"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(name, key), (op, key)
        cuda = torch._C._dispatch_has_kernel_for_dispatch_key(name, "CUDA")
        assert cuda == build_info["cuda_compiled"], op


def test_the_house_explains_itself():
    # No repository file sends a reader to documents outside it (the parity recipe is
    # dev/PARITY.md); the general video encoder is not part of the synthetic data
    # (data.tools does not import data.synthetic); no API function is named like a test.
    import ast

    import actionkit.apis
    import actionkit.data.tools

    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split()
        texts = [root / f for f in listed if f.endswith((".py", ".md", ".yaml", ".txt"))]
        needle = "../" + "shared/"  # (spelled apart: this file would match itself)
        outside = [str(p) for p in texts if needle in p.read_text(errors="replace")]
        assert not outside, outside
    tools = ast.parse(Path(actionkit.data.tools.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tools)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert "synthetic" not in imported
    assert not [n for n in dir(actionkit.apis) if n.startswith("test")]
