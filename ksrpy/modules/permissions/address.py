"""Address groups: exact IPs, subnets and domain names with a port and a tag (allow_address ...).

Lookups follow Kamailio 5.6: exact entries first (the most recently loaded
one wins when an address is in several groups), then subnets in increasing
group order (first match, not longest prefix), domain names compared exactly
(case-sensitive, no DNS). Port 0 in an entry matches any port. A mask of 0
means a single host (32 or 128). IPv4 and IPv6 never match each other
(``::ffff:10.0.0.1`` is not ``10.0.0.1``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress | None:
    """An IP as Kamailio reads it ("[v6]" or with ':' is IPv6, else IPv4); None otherwise."""
    text = text.strip()
    v6 = text.startswith("[") or ":" in text
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip if (ip.version == 6) == v6 else None


@dataclass(frozen=True, slots=True)
class AddressEntry:
    """One row: a network (exact when the mask is full) or a domain name."""

    group: int
    address: str
    network: IPNetwork | None
    port: int
    tag: str | None

    @property
    def mask(self) -> int:
        """The prefix length (0 for a domain name)."""
        return self.network.prefixlen if self.network is not None else 0

    def port_ok(self, port: int) -> bool:
        """Port 0 in the table matches any port."""
        return self.port == 0 or self.port == port


def make_entry(group: int, address: str, mask: int | None, port: int,
               tag: str | None) -> AddressEntry:
    """Validate one row; ``address`` may be ``ip/len`` when ``mask`` is None or 0."""
    if group < 1:
        raise ValueError(f"group must be a positive integer, got {group}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0-65535")
    if "/" in address:
        address, _, bits = address.partition("/")
        if not bits.isdigit() or mask not in (None, 0, int(bits)):
            raise ValueError(f"bad prefix length in {address}/{bits}")
        mask = int(bits)
    ip = parse_ip(address)
    if ip is None:
        if not address or any(c.isspace() for c in address):
            raise ValueError(f"bad address {address!r}")
        return AddressEntry(group, address, None, port, tag)
    full = ip.max_prefixlen
    mask = mask or full
    if not 0 < mask <= full:
        raise ValueError(f"mask {mask} is outside 1-{full} for {address}")
    network = ipaddress.ip_network(f"{ip}/{mask}", strict=False)
    return AddressEntry(group, address, network, port, tag)


def _inside(ip: IPAddress, entry: AddressEntry) -> bool:
    return entry.network is not None and ip in entry.network


@dataclass
class AddressTables:
    """The three lookup tables built from the rows, in load order."""

    exact: dict[IPAddress, list[AddressEntry]] = field(default_factory=dict)
    subnets: list[AddressEntry] = field(default_factory=list)
    domains: dict[str, list[AddressEntry]] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[AddressEntry], max_subnets: int = 512) -> AddressTables:
        """Tables from rows; ValueError when there are more than ``max_subnets`` subnets."""
        tables = cls()
        for entry in entries:
            net = entry.network
            if net is None:
                tables.domains.setdefault(entry.address, []).insert(0, entry)
            elif net.prefixlen == net.max_prefixlen:
                tables.exact.setdefault(net.network_address, []).insert(0, entry)
            else:
                tables.subnets.append(entry)
        if len(tables.subnets) > max_subnets:
            raise ValueError(f"{len(tables.subnets)} subnets exceed max_subnets={max_subnets}")
        tables.subnets.sort(key=lambda e: e.group)  # stable: load order within a group
        return tables

    def match_ip(self, group: int, ip: IPAddress, port: int) -> AddressEntry | None:
        """allow_address for an IP: the matching entry of ``group`` (exact, then subnet)."""
        for entry in self.exact.get(ip, ()):
            if entry.group == group and entry.port_ok(port):
                return entry
        for entry in self.subnets:
            if entry.group > group:
                break
            if entry.group == group and entry.port_ok(port) and _inside(ip, entry):
                return entry
        return None

    def match(self, group: int, address: str, port: int) -> AddressEntry | None:
        """allow_address: an IP against exact/subnet entries, anything else against domains."""
        ip = parse_ip(address)
        if ip is not None:
            return self.match_ip(group, ip, port)
        for entry in self.domains.get(address, ()):
            if entry.group == group and entry.port_ok(port):
                return entry
        return None

    def find_ip(self, ip: IPAddress, port: int) -> AddressEntry | None:
        """allow_*_group for an IP: the first entry of any group (exact, then subnets)."""
        for entry in self.exact.get(ip, ()):
            if entry.port_ok(port):
                return entry
        for entry in self.subnets:
            if entry.port_ok(port) and _inside(ip, entry):
                return entry
        return None

    def find(self, address: str, port: int) -> AddressEntry | None:
        """allow_address_group: an IP as find_ip, a name against the domain entries."""
        ip = parse_ip(address)
        if ip is not None:
            return self.find_ip(ip, port)
        return next((e for e in self.domains.get(address, ()) if e.port_ok(port)), None)

    def dump_exact(self) -> list[AddressEntry]:
        """Exact entries, for permissions.addressDump."""
        return [e for entries in self.exact.values() for e in entries]

    def dump_domains(self) -> list[AddressEntry]:
        """Domain entries, for permissions.domainDump."""
        return [e for entries in self.domains.values() for e in entries]


def _row_int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"{what} is {'NULL' if value is None else repr(value)}, not an integer")


def entry_from_row(row: Sequence[Any]) -> AddressEntry:
    """An entry from a DB row ``(grp, ip_addr, mask, port, tag)``; ValueError when invalid."""
    grp, ip_addr, mask, port, tag = row
    if isinstance(ip_addr, bytes):
        ip_addr = ip_addr.decode("utf-8", "surrogateescape")
    if not isinstance(ip_addr, str):
        raise ValueError(f"ip_addr is {ip_addr!r}, not a string")
    if tag is not None and not isinstance(tag, str):
        tag = tag.decode("utf-8", "surrogateescape") if isinstance(tag, bytes) else str(tag)
    return make_entry(_row_int(grp, "grp"), ip_addr.strip(), _row_int(mask, "mask"),
                      _row_int(port, "port"), tag)


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} must be a number, got {text!r}")
    return int(text)


def parse_address_line(line: str) -> AddressEntry | None:
    """``grp addr [mask [port [tag]]]`` or ``grp addr/len [port [tag]]``; None for blank lines."""
    fields = line.split("#", 1)[0].split()
    if not fields:
        return None
    cidr = len(fields) > 1 and "/" in fields[1]
    limit = 4 if cidr else 5
    if len(fields) < 2 or len(fields) > limit:
        shape = "grp addr/len [port [tag]]" if cidr else "grp addr [mask [port [tag]]]"
        raise ValueError(f"expected '{shape}', got {len(fields)} field(s)")
    rest = fields[2:]
    mask = None if cidr else (_int(rest.pop(0), "mask") if rest else 0)
    port = _int(rest.pop(0), "port") if rest else 0
    tag = rest.pop(0) if rest else None
    return make_entry(_int(fields[0], "group"), fields[1], mask, port, tag)


def parse_address_file(path: str) -> list[AddressEntry]:
    """Every record of an address file; ValueError ``path:line: ...`` at the first bad one."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read address file {path}: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entry = parse_address_line(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
        if entry is not None:
            entries.append(entry)
    return entries
