"""``ksrpy port lua``: translate app_lua KSR scripts into readable Python KSR scripts.

>>> result = port_lua_source("KSR.sl.sl_send_reply(200, 'OK')", "x.lua")
>>> result.issues, result.source.splitlines()[-1]
([], 'KSR.sl.sl_send_reply(200, "OK")')
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ScriptIssue
from .parser import LuaSyntaxError, parse
from .translate import translate as translate_chunk


@dataclass
class PortResult:
    """The Python source (empty when nothing could be parsed) and every problem found."""

    source: str
    issues: list[ScriptIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the translation is faithful everywhere."""
        return not self.issues


def port_lua_source(text: str, path: str) -> PortResult:
    """Translate Lua source text; issues carry ``path:line:col`` and the source line."""
    lines = text.splitlines()

    def issue(line: int, col: int, message: str) -> ScriptIssue:
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        return ScriptIssue(path, line, col, message, src)

    try:
        chunk = parse(text)
    except LuaSyntaxError as exc:
        return PortResult("", [issue(exc.line, exc.col, exc.message)])
    source, problems = translate_chunk(chunk)
    return PortResult(source, [issue(p.line, p.col, p.message) for p in problems])


def port_lua(path: str) -> PortResult:
    """Translate the Lua file at ``path``."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError as exc:
        return PortResult("", [ScriptIssue(path, 1, 1, f"cannot read script: {exc}")])
    return port_lua_source(text, path)


__all__ = ["PortResult", "port_lua", "port_lua_source"]
