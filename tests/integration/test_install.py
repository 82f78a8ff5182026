"""A plain ``pip install .`` ships everything ``ksrpy run`` needs (the README's quick start)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_pip_install_ships_packages_routes_stdlib_and_grammars(tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    root = target / "ksrpy"
    for name in find_packages(str(REPO / "ksrpy")):
        assert (root / name.replace(".", "/") / "__init__.py").exists(), name
    for shipped in ("routes/default.cfg", "routes/default.py", "stdlib/reqinit.cfg",
                    "stdlib/reqinit.py", "script/cfg/grammar.lark", "script/lua/lua.lark"):
        assert (root / shipped).exists(), shipped
    assert list((root / "sip" / "_native").glob("_scan*.so")), "the C scanner was not built"
