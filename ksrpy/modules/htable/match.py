"""Name/value matching for $shtcn, $shtcv, sht_match_*, sht_rm_*; Kamailio's key hash.

Regular expressions are POSIX extended ones in Kamailio, compiled with
REG_ICASE|REG_NEWLINE; here Python's ``re`` with IGNORECASE|MULTILINE (the
common subset behaves the same) and searched, not anchored, as ``regexec``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_MASK = 0xFFFFFFFF

#: A test on a string (an item's name or string value).
Test = Callable[[str], bool]


@lru_cache(maxsize=512)
def compile_re(pattern: str) -> re.Pattern[str]:
    """A Kamailio htable regex (case-insensitive); ValueError when it does not compile."""
    try:
        return re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None


def core_hash(key: str) -> int:
    """Kamailio's ``core_hash`` of a key (signed chars, as on x86): decides the dump slot."""
    data = key.encode("utf-8", "surrogateescape")
    if not data.isascii():
        data_s: Any = [c - 256 if c >= 128 else c for c in data]
    else:
        data_s = data
    h = 0
    n = len(data_s)
    end = n - n % 4
    for i in range(0, end, 4):
        v = ((data_s[i] << 24) + (data_s[i + 1] << 16) + (data_s[i + 2] << 8)
             + data_s[i + 3]) & _MASK
        h = (h + (v ^ (v >> 3))) & _MASK
    v = 0
    for i in range(end, n):
        v = ((v << 8) + data_s[i]) & _MASK
    h = (h + (v ^ (v >> 3))) & _MASK
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & _MASK


def string_test(op: str, value: str) -> Test:
    """sht_match_*/sht_rm_* operators: eq, ne, re, sw; ValueError for another one."""
    if op == "eq":
        return lambda s: s == value
    if op == "ne":
        return lambda s: s != value
    if op == "sw":
        return lambda s: s.startswith(value)
    if op == "re":
        search = compile_re(value).search
        return lambda s: search(s) is not None
    raise ValueError(f"unsupported match operator {op!r} (eq, ne, re, sw)")


def count_test(expr: str, by_value: bool) -> tuple[str, Any]:
    """How $shtcn/$shtcv read their expression (Kamailio's ht_count_cells_re).

    Returns ``("all", None)`` for ``**``, ``("none", None)`` when nothing can
    match, ``("int", n)`` for ``eqN`` on values, else ``("str", test)``:
    ``~~re`` regex, ``~%s`` ends with, ``%~s`` starts with, ``==s`` equal, and a
    bare expression is a regex.
    """
    prefix = expr[:2] if len(expr) >= 2 else ""
    if prefix == "**":
        return "all", None
    ops = {"~~": "re", "~%": "ew", "%~": "sw", "==": "eq", "eq": "int"}
    op = ops.get(prefix)
    if op is None:
        op, rest = "re", expr
    else:
        rest = expr[2:]
        if not rest:
            return "none", None
    if op == "int":
        if not by_value:
            return "none", None
        text = rest.strip()
        try:
            return "int", int(text)
        except ValueError:
            return "int", 0
    if op == "ew":
        return "str", lambda s: s.endswith(rest)
    if op == "re":
        search = compile_re(rest).search
        return "str", lambda s: search(s) is not None
    return "str", string_test(op, rest)
