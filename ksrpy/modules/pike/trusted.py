"""Trusted sources for pike: addresses and CIDR networks that are never counted."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

_SPLIT = re.compile(r"[\s,;]+")
#: ::ffff:0:0/96, IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2).
_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def parse_entries(text: str) -> tuple[str, ...]:
    """'10.0.0.0/8, 2001:db8::1' -> normalised networks; ValueError names a bad entry."""
    out = []
    for item in _SPLIT.split(text.strip()):
        if not item:
            continue
        try:
            net = ipaddress.ip_network(item.strip("[]"), strict=False)
        except ValueError:
            raise ValueError(f"modparam pike.trusted: {item!r} is not an IP address or "
                             "CIDR network (e.g. 192.0.2.10, 10.0.0.0/8, 2001:db8::/32)") from None
        out.append(str(net))
    return tuple(out)


def merge(old: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """``old`` then the entries of ``new`` not already there."""
    return tuple(dict.fromkeys([*old, *new]))


class TrustedSet:
    """Membership test for 4- and 16-byte addresses, one set lookup per prefix length."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        self._tables: dict[int, dict[int, set[int]]] = {32: {}, 128: {}}
        for entry in self.entries:
            net = ipaddress.ip_network(entry, strict=False)
            bits = net.max_prefixlen
            shift = bits - net.prefixlen
            self._tables[bits].setdefault(net.prefixlen, set()).add(
                int(net.network_address) >> shift)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def contains(self, addr: bytes) -> bool:
        """True when ``addr`` (packed) lies in a trusted network; mapped IPv4 counts as IPv4."""
        if len(addr) == 16 and addr[:12] == _MAPPED_PREFIX and self._tables[32]:
            if self._lookup(addr[12:], 32):
                return True
        return self._lookup(addr, 32 if len(addr) == 4 else 128)

    def _lookup(self, addr: bytes, bits: int) -> bool:
        value = int.from_bytes(addr, "big")
        for plen, nets in self._tables[bits].items():
            if value >> (bits - plen) in nets:
                return True
        return False


def pack(text: str, af: int = 0) -> bytes | None:
    """The packed bytes of an IP literal (brackets and an IPv6 zone allowed); None if not one."""
    host = text
    if af != 4:
        host = text.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if ":" in host:
            try:
                return socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
            except OSError:
                return None
    try:
        return socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return None
