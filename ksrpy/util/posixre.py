"""POSIX regular expressions (as Kamailio's regcomp sees them) translated to Python ``re``.

Shared by every module that takes a Kamailio regex (permissions, textops,
textopsx, tm). Permission rule files use extended syntax (ERE,
``REG_EXTENDED | REG_ICASE``; textops' default too); the trusted
table's ``from_pattern``/``ruri_pattern`` use basic syntax (BRE, case-sensitive):
there ``+ ? ( ) { } |`` are literal characters and ``\\( \\) \\{ \\} \\| \\+ \\?``
the operators (GNU). Both understand bracket expressions with ``[:digit:]``-style
classes, where a backslash is an ordinary character. Matching is a search
(unanchored), ``.`` matches any character and ``$`` only the very end.
"""

from __future__ import annotations

import re

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f", "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_GNU_ESCAPES = {"w": r"\w", "W": r"\W", "s": r"\s", "S": r"\S", "b": r"\b", "B": r"\B",
                "<": r"\b", ">": r"\b", "`": r"\A", "'": r"\Z"}
_INTERVAL = re.compile(r"\{[0-9]+(,[0-9]*)?\}")


class PosixRegexError(ValueError):
    """A pattern that POSIX regcomp would refuse (or that cannot be translated)."""


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in "\\[]^&|~" else ch


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at ``pattern[i] == '['``; (text, next index)."""
    out = ["["]
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if ch == "[" and i + 1 < len(pattern) and pattern[i + 1] in ":.=":
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end < 0:
                raise PosixRegexError(f"unterminated [{kind} in {pattern!r}")
            name = pattern[i + 2:end]
            if kind == ":":
                if name not in _CLASSES:
                    raise PosixRegexError(f"unknown character class [:{name}:] in {pattern!r}")
                out.append(_CLASSES[name])
            else:
                out.extend(_class_char(c) for c in name)
            i = end + 2
            continue
        out.append(_class_char(ch))
        i += 1
    raise PosixRegexError(f"unterminated bracket expression in {pattern!r}")


def _ere(pattern: str, newline: bool = False) -> str:
    """ERE text as Python ``re``; ``newline`` is REG_NEWLINE (``[^..]`` never a newline,
    ``$`` at line ends; the caller compiles with MULTILINE instead of DOTALL)."""
    out: list[str] = []
    i, start = 0, True  # start: a quantifier here has nothing to repeat (literal)
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise PosixRegexError(f"trailing backslash in {pattern!r}")
            nxt = pattern[i + 1]
            out.append(_GNU_ESCAPES.get(nxt) or ("\\" + nxt if nxt.isdigit() else re.escape(nxt)))
            i, start = i + 2, False
            continue
        if ch == "[":
            text, i = _bracket(pattern, i)
            if newline and text.startswith("[^"):
                text = "[^\\n" + text[2:]
            out.append(text)
            start = False
            continue
        if ch in "*+?" and start:
            out.append("\\" + ch)
        elif ch == "{":
            m = _INTERVAL.match(pattern, i)
            if m is None or start:
                out.append("\\{")
            else:
                out.append(m.group())
                i = m.end()
                continue
        elif ch == "$":
            out.append("$" if newline else r"\Z")
        elif ch in "()|^.*+?":
            out.append(ch)
        else:
            out.append(re.escape(ch))
        start = ch in "(|^"
        i += 1
    return "".join(out)


def _bre_escape(pattern: str, i: int, out: list[str]) -> tuple[int, bool]:
    """One ``\\x`` of a BRE; (next index, whether the next token is at an RE start)."""
    if i + 1 >= len(pattern):
        raise PosixRegexError(f"trailing backslash in {pattern!r}")
    nxt = pattern[i + 1]
    if nxt in "(|":
        out.append(nxt)
        return i + 2, True
    if nxt in ")+?":
        out.append(nxt)
    elif nxt == "{":
        end = pattern.find("\\}", i + 2)
        body = pattern[i + 2:end] if end >= 0 else ""
        if end < 0 or not re.fullmatch(r"[0-9]+(,[0-9]*)?", body):
            raise PosixRegexError(f"invalid interval \\{{...\\}} in {pattern!r}")
        out.append("{" + body + "}")
        return end + 2, False
    elif nxt.isdigit():
        out.append("\\" + nxt)
    else:
        out.append(_GNU_ESCAPES.get(nxt) or re.escape(nxt))
    return i + 2, False


def _bre(pattern: str) -> str:
    out: list[str] = []
    i, start = 0, True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i, start = _bre_escape(pattern, i, out)
            continue
        if ch == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
            start = False
            continue
        if ch == "^" and start:
            out.append("^")
            i += 1
            continue  # still at the start: a following * is literal
        if ch == "*":
            out.append("\\*" if start else "*")
        elif ch == "$" and (i + 1 == len(pattern) or pattern[i + 1:i + 3] in ("\\)", "\\|")):
            out.append(r"\Z")
        elif ch == ".":
            out.append(".")
        else:
            out.append(re.escape(ch))
        start = False
        i += 1
    return "".join(out)


def _compile(translated: str, original: str, flags: int) -> re.Pattern[str]:
    if not flags & re.MULTILINE:
        flags |= re.DOTALL
    try:
        return re.compile(translated, flags)
    except re.error as exc:
        raise PosixRegexError(f"bad regular expression {original!r}: {exc}") from None


def compile_ere(pattern: str, *, icase: bool = True, newline: bool = False) -> re.Pattern[str]:
    """A POSIX extended RE (case-insensitive by default); ``newline`` is REG_NEWLINE."""
    flags = (re.IGNORECASE if icase else 0) | (re.MULTILINE if newline else 0)
    return _compile(_ere(pattern, newline), pattern, flags)


def compile_bre(pattern: str) -> re.Pattern[str]:
    """A POSIX basic RE, case-sensitive (the trusted table's patterns)."""
    return _compile(_bre(pattern), pattern, 0)
