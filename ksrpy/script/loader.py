"""Pick the front end for a script file: Python KSR now, kamailio.cfg next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ScriptIssue, ScriptLoadError
from .python_loader import check_python_source, load_python_script
from .routes import Routes

if TYPE_CHECKING:
    from ..core.engine import Engine


def script_kind(path: str) -> str:
    """'python' for .py files, 'cfg' for everything else (kamailio.cfg style)."""
    return "python" if path.endswith(".py") else "cfg"


def load_script(path: str, engine: Engine) -> Routes:
    """Load a routing script into ``engine``; ScriptLoadError lists every problem."""
    if script_kind(path) == "python":
        return load_python_script(path, engine)
    raise ScriptLoadError([ScriptIssue(
        path, 1, 1, "kamailio.cfg scripts are not supported by this version of ksrpy yet; "
        "use a Python KSR script (.py)")])


def check_script(path: str, engine: Engine) -> list[ScriptIssue]:
    """Every problem found in a script without executing it or opening a socket."""
    if script_kind(path) != "python":
        try:
            load_script(path, engine)
        except ScriptLoadError as exc:
            return exc.issues
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        return [ScriptIssue(path, 1, 1, f"cannot read script: {exc}")]
    return check_python_source(path, text, engine)
