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
    stdlib = [f"stdlib/{name}.{ext}" for name in ("reqinit", "natdetect", "withindlg",
                                                   "userauth", "userloc") for ext in ("cfg", "py")]
    for shipped in ("routes/default.cfg", "routes/default.py", *stdlib,
                    "script/cfg/grammar.lark", "script/lua/lua.lark"):
        assert (root / shipped).exists(), shipped
    assert list((root / "sip" / "_native").glob("_scan*.so")), "the C scanner was not built"
    # The installed copy checks its own default routes (cfg and Python) from anywhere.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    for extra in ([], ["-f", str(root / "routes" / "default.py")]):
        check = subprocess.run([sys.executable, "-m", "ksrpy", "check", *extra], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr[-2000:]
        assert str(root / "routes") in check.stdout
