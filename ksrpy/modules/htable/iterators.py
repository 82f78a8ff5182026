"""sht_iterator_*: named cursors over a table, at most 4 per process as in Kamailio.

An iterator walks a snapshot of the table's keys taken by its first
``next`` (in insertion order, not Kamailio's slot order), skipping keys
deleted since; unlike Kamailio it holds no lock, so changing the table while
iterating is safe. After the last item, ``next`` starts over, as in Kamailio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .table import Table, Value

MAX_ITERATORS = 4
MAX_NAME = 31


class HtIterator:
    """One named iterator; ``current`` is the (key, value) of its item, None between runs."""

    __slots__ = ("table", "keys", "pos", "current")

    def __init__(self, table: str) -> None:
        self.table = table
        self.keys: list[str] | None = None
        self.pos = 0
        self.current: tuple[str, Value] | None = None

    def advance(self, table: Table) -> bool:
        """Move to the next item still in ``table``; False (and rewound) at the end."""
        if self.keys is None:
            self.keys, self.pos = list(table.items), 0
        items = table.items
        while self.pos < len(self.keys):
            key = self.keys[self.pos]
            self.pos += 1
            if key in items:
                self.current = (key, items[key])
                return True
        self.keys, self.current = None, None
        return False


class Iterators(dict[str, HtIterator]):
    """The module's iterators by name."""

    def start(self, name: str, table: str) -> bool:
        """Create or restart iterator ``name`` on ``table``; False when none is free."""
        if name not in self and (len(self) >= MAX_ITERATORS or len(name) > MAX_NAME):
            return False
        self[name] = HtIterator(table)
        return True
