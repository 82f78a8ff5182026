"""``myself``: is a host[:port] one of ours? Kamailio's check_self, precomputed as sets."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import subprocess
from collections.abc import Iterable
from functools import lru_cache

from ksrpy.transport.address import ListenSpec

log = logging.getLogger("ksrpy.myself")

SIP_PORT = 5060
SIPS_PORT = 5061
_SECURE = frozenset({"tls", "sips", "wss"})


@lru_cache(maxsize=8192)
def _canonical_ip(text: str) -> str | None:
    """Return the canonical text of an IP address (no brackets, no zone), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def normalize_host(host: str) -> str:
    """Canonical form for comparing hosts: IPs canonicalised, names lower-case sans final dot."""
    ip = _canonical_ip(host) if (":" in host or host[:1].isdigit()) else None
    if ip is not None:
        return ip
    return host.strip().lower().rstrip(".")


def _addresses_pyroute2() -> set[str]:
    """Every interface address, read over netlink."""
    from pyroute2 import IPRoute

    found: set[str] = set()
    with IPRoute() as ipr:
        for msg in ipr.get_addr():
            # IFA_LOCAL is the local end on point-to-point links; IFA_ADDRESS otherwise.
            addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            ip = _canonical_ip(addr) if addr else None
            if ip:
                found.add(ip)
    return found


def _addresses_ip_command() -> set[str]:
    """Every interface address, from ``ip -j addr`` output."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, check=True, timeout=5,
                         text=True).stdout
    found: set[str] = set()
    for link in json.loads(out):
        for info in link.get("addr_info", []):
            ip = _canonical_ip(str(info.get("local", "")))
            if ip:
                found.add(ip)
    return found


def _addresses_resolver() -> set[str]:
    """Loopback plus whatever this host's name resolves to (last resort)."""
    found = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ip = _canonical_ip(str(info[4][0]))
            if ip:
                found.add(ip)
    except OSError:
        pass
    return found


def local_addresses() -> set[str]:
    """Return every IP address of this host (canonical text, no brackets, no zone)."""
    for how, reader in (("pyroute2", _addresses_pyroute2), ("ip -j addr", _addresses_ip_command)):
        try:
            found = reader()
        except Exception as exc:  # netlink refused, no ip(8), odd output: try the next way
            log.debug("reading local addresses with %s failed: %s", how, exc)
            continue
        if found:
            return found
    return _addresses_resolver()


def _split_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` (a bare v6 has no port)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        host, rest = (text[1:end], text[end + 1 :]) if end > 0 else (text, "")
    elif text.count(":") == 1:
        host, rest = text.split(":", 1)
        rest = ":" + rest
    else:
        host, rest = text, ""
    if rest.startswith(":") and rest[1:].isdigit():
        return host, int(rest[1:])
    return host, None


class Myself:
    """Answers "is this host[:port] us?" from listen sockets, host addresses and aliases.

    Rule (Kamailio's check_self): the host matches a listen socket's address
    (any host address for a 0.0.0.0/:: socket, or its advertised address) and
    the port matches that socket, a missing port counting as 5060 (5061 for
    tls/sips); or the host is an alias whose port is unset, or equal, or the
    port asked about is missing.
    """

    def __init__(
        self,
        listens: list[ListenSpec],
        aliases: Iterable[tuple[str, int | None]] = (),
        host_addresses: set[str] | None = None,
    ) -> None:
        self._listens = list(listens)
        self._host_addresses = (
            None if host_addresses is None else {normalize_host(a) for a in host_addresses}
        )
        self._socks: set[tuple[str, int]] = set()
        self._sock_hosts: set[str] = set()
        self._alias_anyport: set[str] = set()
        self._alias_hostport: set[tuple[str, int]] = set()
        self._alias_hosts: set[str] = set()
        self._build_socks()
        for host, port in aliases:
            self.add_alias(host, port)

    @property
    def addresses(self) -> set[str]:
        """This host's addresses that wildcard listens stand for (read once, lazily)."""
        if self._host_addresses is None:
            self._host_addresses = local_addresses()
        return set(self._host_addresses)

    def _build_socks(self) -> None:
        """Precompute the (host, port) pairs the listen sockets answer to."""
        for spec in self._listens:
            if spec.is_any:
                family = 6 if spec.host == "::" else 4
                hosts = {a for a in self.addresses if (":" in a) == (family == 6)}
            else:
                hosts = {normalize_host(spec.host)}
            if spec.advertise is not None:
                adv_host, adv_port = spec.advertise
                adv = normalize_host(adv_host)
                self._socks.add((adv, adv_port or spec.port))
                self._sock_hosts.add(adv)
            for host in hosts:
                self._socks.add((host, spec.port))
                self._sock_hosts.add(host)

    def add_alias(self, host: str, port: int | None = None) -> None:
        """Also answer to ``host`` (any port if ``port`` is None or 0)."""
        name = normalize_host(host)
        self._alias_hosts.add(name)
        if port:
            self._alias_hostport.add((name, int(port)))
        else:
            self._alias_anyport.add(name)

    def is_myself(self, host: str, port: int | None, proto: str | None = None) -> bool:
        """True if host:port (port None/0 = default for ``proto``) is this proxy."""
        if not host:
            return False
        name = normalize_host(host)
        want = port or (SIPS_PORT if proto is not None and proto.lower() in _SECURE else SIP_PORT)
        if (name, want) in self._socks or name in self._alias_anyport:
            return True
        if not port:
            return name in self._alias_hosts
        return (name, port) in self._alias_hostport

    def is_myself_uri_host_port(self, hostport: str, proto: str | None = None) -> bool:
        """``is_myself`` for a ``host[:port]`` string as found in a URI or Via."""
        host, port = _split_hostport(hostport)
        return self.is_myself(host, port, proto)

    def is_local_address(self, host: str) -> bool:
        """True if ``host`` is an address of a listen socket or an alias, whatever the port."""
        if not host:
            return False
        name = normalize_host(host)
        return name in self._sock_hosts or name in self._alias_hosts
