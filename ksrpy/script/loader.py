"""Pick the front end for a script file: Python KSR or kamailio.cfg."""

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
    """Load a routing script into ``engine``; ScriptLoadError lists every problem.

    Python scripts get every ksrpy module; a cfg script gets the modules its
    loadmodule lines name (plus the core ones).
    """
    if script_kind(path) == "python":
        from ..modules import default_modules

        for name in default_modules():
            engine.load_module(name)
        return load_python_script(path, engine)
    from .cfg.loader import compile_cfg

    return compile_cfg(path, engine)


def check_script(path: str, engine: Engine, *, syntax_only: bool = False) -> list[ScriptIssue]:
    """Every problem found in a script without serving traffic or opening a socket."""
    if script_kind(path) == "python":
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            return [ScriptIssue(path, 1, 1, f"cannot read script: {exc}")]
        if not syntax_only:
            from ..modules import default_modules

            for name in default_modules():
                engine.load_module(name)
        return check_python_source(path, text, engine, syntax_only=syntax_only)
    if syntax_only:
        from .cfg.loader import check_cfg_syntax

        return check_cfg_syntax(path, engine.config.defines)
    from .cfg.loader import compile_cfg

    try:
        # A Python KSR script named by the cfg (cfgengine "python") is read, not run.
        compile_cfg(path, engine, check_only=True)
    except ScriptLoadError as exc:
        return exc.issues
    return []
