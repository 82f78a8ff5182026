"""Where the shipped routes/ and stdlib/ live (inside the installed package, or the checkout)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The folder ``routes`` or ``stdlib``: installed copy first, then the source checkout."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ksrpy's {name}/ folder is missing from this installation")


def default_script() -> Path:
    """The routing script ``ksrpy run`` uses when no -f is given."""
    return shipped_dir("routes") / "default.cfg"
