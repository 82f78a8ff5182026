"""The trusted table of allow_trusted: source IP, transport, From and R-URI patterns, tag.

A rule matches when its ``src_ip`` equals the source IP as a string, its proto
is ``any`` or the request's (or the asked proto is ``any``), and its patterns
(POSIX basic REs, case-sensitive) are NULL or match the From URI (or the URI
given) and the original R-URI. Cached (db_mode 1) rules are tried highest
priority first; Kamailio's per-call query (db_mode 0) sorts ascending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...util.posixre import PosixRegexError, compile_bre

#: Transport names and Kamailio's numbers for them (trustedDump shows the number).
PROTOS = {"any": 0, "udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


@dataclass(frozen=True, slots=True)
class TrustedRule:
    """One row of the trusted table."""

    src_ip: str
    proto: str
    from_pattern: str | None
    ruri_pattern: str | None
    tag: str | None
    priority: int
    from_re: re.Pattern[str] | None = field(default=None, compare=False)
    ruri_re: re.Pattern[str] | None = field(default=None, compare=False)

    def proto_ok(self, proto: str) -> bool:
        """``any`` on either side matches; else the names are equal (case-insensitive)."""
        return proto == "any" or self.proto == "any" or self.proto == proto

    def matches(self, proto: str, from_uri: str, ruri: str) -> bool:
        """The whole rule against one request."""
        return (self.proto_ok(proto)
                and (self.from_re is None or self.from_re.search(from_uri) is not None)
                and (self.ruri_re is None or self.ruri_re.search(ruri) is not None))


def _text(value: Any, what: str, nullable: bool = True) -> str | None:
    if value is None:
        if nullable:
            return None
        raise ValueError(f"{what} is NULL")
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a string ({value!r})")
    return value


def _regex(pattern: str | None, what: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return compile_bre(pattern)
    except PosixRegexError as exc:
        raise ValueError(f"{what}: {exc}") from None


def make_rule(row: Sequence[Any]) -> TrustedRule | None:
    """A rule from ``(src_ip, proto, from, ruri, tag, priority)``; None for proto ``none``."""
    src_ip = _text(row[0], "src_ip", nullable=False)
    proto = (_text(row[1], "proto", nullable=False) or "").lower()
    if proto == "none":
        return None
    if proto not in PROTOS:
        raise ValueError(f"unknown protocol {row[1]!r} for {src_ip}")
    from_pattern, ruri_pattern = _text(row[2], "from_pattern"), _text(row[3], "ruri_pattern")
    priority = 0 if row[5] is None else int(row[5])
    return TrustedRule(str(src_ip), proto, from_pattern, ruri_pattern, _text(row[4], "tag"),
                       priority, _regex(from_pattern, "from_pattern"),
                       _regex(ruri_pattern, "ruri_pattern"))


def lenient_rule(src_ip: str, row: Sequence[Any]) -> TrustedRule | None:
    """A rule from a db_mode 0 row ``(proto, from, ruri, tag)``; None when it cannot match.

    As Kamailio's per-call query: proto ``none`` or unknown stays (it matches only
    the asked proto ``any``); a row with a bad pattern is skipped.
    """
    try:
        proto = (_text(row[0], "proto", nullable=False) or "").lower()
        from_pattern, ruri_pattern = _text(row[1], "from_pattern"), _text(row[2], "ruri_pattern")
        return TrustedRule(src_ip, proto, from_pattern, ruri_pattern, _text(row[3], "tag"), 0,
                           _regex(from_pattern, "from_pattern"),
                           _regex(ruri_pattern, "ruri_pattern"))
    except ValueError:
        return None


@dataclass
class TrustedTable:
    """Cached rules by source IP, highest priority first (load order among equals)."""

    by_ip: dict[str, list[TrustedRule]] = field(default_factory=dict)

    @classmethod
    def build(cls, rules: Iterable[TrustedRule]) -> TrustedTable:
        """The table from rules (duplicates kept, as Kamailio 5.6)."""
        table = cls()
        for rule in rules:
            table.by_ip.setdefault(rule.src_ip, []).append(rule)
        for rules_of_ip in table.by_ip.values():
            rules_of_ip.sort(key=lambda r: -r.priority)
        return table

    def rules_for(self, src_ip: str) -> list[TrustedRule]:
        """The candidate rules of one source IP."""
        return self.by_ip.get(src_ip, [])

    def dump(self) -> list[TrustedRule]:
        """Every rule, for permissions.trustedDump."""
        return [r for rules in self.by_ip.values() for r in rules]


def match_rules(rules: Iterable[TrustedRule], proto: str, from_uri: str, ruri: str,
                all_matches: bool) -> list[TrustedRule]:
    """The matching rules: the first one only, or all of them (peer_tag_mode 1)."""
    found = []
    for rule in rules:
        if rule.matches(proto, from_uri, ruri):
            found.append(rule)
            if not all_matches:
                break
    return found
