"""Strings with pseudo-variables (xlog formats, ``$_s(...)``, module string parameters).

``compile_format("$fU@$fd")`` parses once (script load) as Kamailio's
``pv_parse_format``: literal text runs up to a ``$``; ``$$`` is a literal ``$``;
a PV ends where ``resolve``'s name rules say (``$fU@$fd``, ``$si:$sp``,
``$sht(ipban=>$si)``, ``$(ru{uri.user})``). An unknown PV, a lone ``$`` or an
unbalanced parenthesis raises PVError at compile time (a transformation problem
raises TransformError). ``Format.render(ctx)`` concatenates the literal parts
and the PV values: ints as decimal, null as ``<null>`` (as xlog prints it) and a
failed transformation as nothing (``PV.null_text``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .pv import PV, locate_pv, resolve

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["Format", "compile_format"]


def _show(pv: PV, value: Any) -> str:
    """A PV value as it prints inside a string."""
    if value is None:
        return pv.null_text
    return value if isinstance(value, str) else str(value)


class Format:
    """A compiled format: literal strings and PVs, in order."""

    __slots__ = ("text", "parts", "pvs", "_constant")

    def __init__(self, text: str, parts: tuple[str | PV, ...]) -> None:
        self.text = text
        self.parts = parts
        self.pvs: tuple[PV, ...] = tuple(p for p in parts if isinstance(p, PV))
        self._constant = "".join(parts) if not self.pvs else None  # type: ignore[arg-type]

    @property
    def is_constant(self) -> bool:
        """True when the format holds no pseudo-variable."""
        return self._constant is not None

    @property
    def constant(self) -> str | None:
        """The text for a constant format (``$$`` already turned into ``$``), else None."""
        return self._constant

    def render(self, ctx: Context) -> str:
        """The string for this message."""
        if self._constant is not None:
            return self._constant
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_show(part, part.get(ctx)))
        return "".join(out)

    def __repr__(self) -> str:
        return f"Format({self.text!r})"


def compile_format(text: str) -> Format:
    """Parse ``text`` into a Format; PVError for an unknown or malformed pseudo-variable."""
    parts: list[str | PV] = []
    literal: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        dollar = text.find("$", pos)
        if dollar < 0:
            literal.append(text[pos:])
            break
        literal.append(text[pos:dollar])
        if text.startswith("$$", dollar):
            literal.append("$")
            pos = dollar + 2
            continue
        end = locate_pv(text, dollar)
        pv = resolve(text[dollar:end])
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(pv)
        pos = end
    if literal or not parts:
        parts.append("".join(literal))
    return Format(text, tuple(p for p in parts if not isinstance(p, str) or p))
