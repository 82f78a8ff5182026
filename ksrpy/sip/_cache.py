"""A bounded memo for pure parsers of immutable values (URIs, name-addrs).

The same header texts recur in every message (the proxy's own R-URI in
keepalives, a peer's To); parsing each once saves microseconds per message.
The table is cleared when full: cheap, bounded, and good enough for hot keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def memo(parse: Callable[[str], T], size: int = 4096) -> Callable[[str], T]:
    """``parse`` with results cached by input text (errors are not cached)."""
    table: dict[str, T] = {}

    def cached(text: str) -> T:
        found = table.get(text)
        if found is not None:
            return found
        value = parse(text)
        if len(table) >= size:
            table.clear()
        table[text] = value
        return value

    cached.__doc__ = parse.__doc__
    cached.__name__ = parse.__name__.lstrip("_")
    return cached
