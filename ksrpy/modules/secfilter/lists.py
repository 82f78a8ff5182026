"""The black- and whitelists and the destination blacklist, as one immutable value.

A ``Lists`` is never changed in place: reloads and RPC additions build a new
one and the module swaps it in with one assignment, so a check always sees a
complete set (Kamailio 5.6 frees the lists under running checks, #3263).

Matching is Kamailio's: an entry matches when it is a case-insensitive
prefix of the message value ("sipcli" blocks "sipcli/1.6"; "192.168.1."
blocks 192.168.1.7). Destinations match exactly unless ``dst_exact_match``
is 0, then as a prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: The ``type`` column values (for action 0 and 1) and their RPC names.
KINDS = ("ua", "country", "domain", "ip", "user")
BLACKLIST, WHITELIST, DESTINATION = 0, 1, 2
ACTIONS = {BLACKLIST: "bl", WHITELIST: "wl", DESTINATION: "dst"}


def _index(entries: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(e.lower() for e in entries)


@dataclass(frozen=True)
class EntryList:
    """One list in load order, with its lower-cased copy for matching."""

    entries: tuple[str, ...] = ()
    lowered: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def of(cls, entries: Iterable[str]) -> EntryList:
        """A list of these entries."""
        items = tuple(entries)
        return cls(items, _index(items))

    def prefix_of(self, value: str) -> bool:
        """True when an entry is a case-insensitive prefix of ``value``."""
        low = value.lower()
        return any(low.startswith(e) for e in self.lowered)

    def equal_to(self, value: str) -> bool:
        """True when an entry equals ``value`` ignoring case."""
        return value.lower() in self.lowered

    def plus(self, value: str) -> EntryList:
        """A copy with ``value`` appended."""
        return EntryList(self.entries + (value,), self.lowered + (value.lower(),))


EMPTY = EntryList()


@dataclass(frozen=True)
class Lists:
    """Every list of the module: black and white per kind, and the destinations."""

    black: dict[str, EntryList] = field(default_factory=dict)
    white: dict[str, EntryList] = field(default_factory=dict)
    dst: EntryList = EMPTY

    @classmethod
    def build(cls, rows: Iterable[tuple[int, int, str]]) -> Lists:
        """Lists from (action, type, data) triples, in order (checked by ``check_row``)."""
        black: dict[str, list[str]] = {k: [] for k in KINDS}
        white: dict[str, list[str]] = {k: [] for k in KINDS}
        dst: list[str] = []
        for action, kind, data in rows:
            if action == DESTINATION:
                dst.append(data)
            else:
                (black if action == BLACKLIST else white)[KINDS[kind]].append(data)
        return cls({k: EntryList.of(v) for k, v in black.items()},
                   {k: EntryList.of(v) for k, v in white.items()}, EntryList.of(dst))

    def listed(self, white: bool, kind: str) -> EntryList:
        """The white or black list of ``kind``."""
        return (self.white if white else self.black).get(kind, EMPTY)

    def lookup(self, kind: str, value: str) -> int:
        """2 whitelisted, -2 blacklisted, 1 neither (whitelist searched first)."""
        if self.listed(True, kind).prefix_of(value):
            return 2
        if self.listed(False, kind).prefix_of(value):
            return -2
        return 1

    def dst_blocked(self, number: str, exact: bool) -> bool:
        """True when ``number`` is on the destination blacklist."""
        return self.dst.equal_to(number) if exact else self.dst.prefix_of(number)

    def added(self, action: int, kind: str, value: str) -> Lists:
        """A copy with one more entry (action 2 ignores ``kind``)."""
        if action == DESTINATION:
            return Lists(self.black, self.white, self.dst.plus(value))
        which = dict(self.white if action == WHITELIST else self.black)
        which[kind] = which.get(kind, EMPTY).plus(value)
        if action == WHITELIST:
            return Lists(self.black, which, self.dst)
        return Lists(which, self.white, self.dst)

    def count(self) -> int:
        """How many entries there are in all lists."""
        return (sum(len(v.entries) for v in self.black.values())
                + sum(len(v.entries) for v in self.white.values()) + len(self.dst.entries))


def check_row(action: object, kind: object, data: object, where: str) -> tuple[int, int, str]:
    """A valid (action, type, data) triple, or ValueError naming ``where``."""
    try:
        act, typ = int(action), int(kind)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: action and type must be integers, got "
                         f"{action!r} and {kind!r}") from None
    if act not in ACTIONS:
        raise ValueError(f"{where}: unknown action {act} (0 blacklist, 1 whitelist, "
                         "2 destination)")
    if act != DESTINATION and not 0 <= typ < len(KINDS):
        raise ValueError(f"{where}: unknown type {typ} (0 ua, 1 country, 2 domain, 3 ip, "
                         "4 user)")
    if not isinstance(data, str | int) or isinstance(data, bool) or str(data) == "":
        raise ValueError(f"{where}: empty or invalid data {data!r}")
    return act, (typ if act != DESTINATION else 0), str(data)
