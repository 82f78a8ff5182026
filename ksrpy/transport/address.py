"""Listen specifications (Kamailio ``listen=``) and receive metadata of the transport layer."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

PROTOS = ("udp", "tcp")
#: Protocol names Kamailio knows; recognised so that "tls:..." fails with a clear message.
KNOWN_PROTOS = frozenset({"udp", "tcp", "tls", "sctp", "ws", "wss"})
DEFAULT_PORT = 5060


@lru_cache(maxsize=4096)
def normalize_ip(text: str) -> tuple[str, int]:
    """Return (canonical address, 4 or 6) for an IP literal; brackets allowed; ValueError else.

    IPv6 is compressed and lower-case, so it compares equal to what sockets report.
    A zone (``%eth0``) is kept on IPv6 because a link-local peer needs it.
    """
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    return str(addr), addr.version


def format_hostport(host: str, port: int) -> str:
    """Return ``host:port`` with IPv6 in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_hostport(text: str, what: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or bare ``v6`` into parts."""
    if not text:
        raise ValueError(f"empty {what}")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {what} {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if not host:
            raise ValueError(f"empty IPv6 address in {what} {text!r}")
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after ']' in {what} {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:  # bare IPv6 without port
        host, port_text = text, None
    elif ":" in text:
        host, port_text = text.split(":", 1)
    else:
        host, port_text = text, None
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii():
        raise ValueError(f"bad port {port_text!r} in {what} {text!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} out of range in {what} {text!r}")
    return host, port


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """One ``listen=`` entry: protocol, local address and port, optional advertised address.

    ``advertise`` is what goes into Via/Record-Route instead of the socket
    address (Kamailio's ``advertise``); an advertise port of 0 means "the
    socket's port" and is filled in by ``TransportManager.bound``.
    """

    proto: str
    host: str
    port: int
    advertise: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        """Validate fields and canonicalise the host, so specs compare and hash reliably."""
        proto = self.proto.lower()
        if proto not in PROTOS:
            raise ValueError(f"unsupported protocol {self.proto!r} (expected udp or tcp)")
        host, _ = normalize_ip(self.host)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        object.__setattr__(self, "proto", proto)
        object.__setattr__(self, "host", host)

    @property
    def af(self) -> int:
        """Address family as 4 or 6."""
        return 6 if ":" in self.host else 4

    @property
    def is_any(self) -> bool:
        """True for the wildcard addresses 0.0.0.0 and ::."""
        return self.host in ("0.0.0.0", "::")

    def with_port(self, port: int) -> ListenSpec:
        """Return a copy bound to ``port`` (advertise port 0 becomes ``port`` too)."""
        adv = self.advertise
        if adv is not None and adv[1] == 0:
            adv = (adv[0], port)
        return replace(self, port=port, advertise=adv)

    def __str__(self) -> str:
        """Kamailio-style ``udp:127.0.0.1:5060`` / ``tcp:[::1]:5060 advertise h:p``."""
        text = f"{self.proto}:{format_hostport(self.host, self.port)}"
        if self.advertise is not None:
            text += f" advertise {format_hostport(*self.advertise)}"
        return text

    @classmethod
    def parse(cls, text: str) -> ListenSpec:
        """Parse one entry that names its protocol, e.g. ``udp:127.0.0.1:5060``."""
        specs = cls.parse_many(text)
        if len(specs) != 1:
            raise ValueError(
                f"listen {text!r} names no protocol; use parse_listen() to get udp and tcp entries"
            )
        return specs[0]

    @classmethod
    def parse_many(cls, text: str) -> list[ListenSpec]:
        """Parse ``[proto:]host[:port] [advertise host[:port]]``; no proto means udp and tcp."""
        original = text
        text = text.strip()
        advertise: tuple[str, int] | None = None
        parts = text.split()
        if len(parts) not in (1, 3) or (len(parts) == 3 and parts[1].lower() != "advertise"):
            raise ValueError(
                f"bad listen {original!r}: expected '[proto:]host[:port] [advertise host[:port]]'"
            )
        if len(parts) == 3:
            adv_host, adv_port = _split_hostport(parts[2], "advertise address")
            if adv_host.startswith("["):
                adv_host = adv_host[1:-1]
            try:
                adv_host = normalize_ip(adv_host)[0]
            except ValueError:
                adv_host = adv_host.lower()  # a host name is fine for advertising
            advertise = (adv_host, adv_port or 0)
        addr = parts[0] if parts else ""
        protos: tuple[str, ...] = PROTOS
        head, sep, tail = addr.partition(":")
        if sep and head.lower() in KNOWN_PROTOS:
            proto = head.lower()
            if proto not in PROTOS:
                raise ValueError(f"unsupported protocol {head!r} in listen {original!r}")
            protos = (proto,)
            addr = tail
        host, port = _split_hostport(addr, "listen address")
        try:
            host = normalize_ip(host)[0]
        except ValueError:
            raise ValueError(
                f"bad listen {original!r}: {host!r} is not an IP address (use 0.0.0.0 or ::)"
            ) from None
        port = DEFAULT_PORT if port is None else port
        return [cls(p, host, port, advertise) for p in protos]


def parse_listen(text: str) -> list[ListenSpec]:
    """Parse one ``listen=`` value; an entry without protocol yields a udp and a tcp spec."""
    return ListenSpec.parse_many(text)


@dataclass(frozen=True, slots=True)
class ReceiveInfo:
    """Where a message came from and which local socket it arrived on."""

    proto: str
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    conn_id: int | None
    af: int


#: The engine's receive callback: synchronous; exceptions are caught and logged by the caller.
Handler = Callable[[bytes, ReceiveInfo], None]
