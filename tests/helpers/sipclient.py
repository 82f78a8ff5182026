"""A tiny SIP client over real loopback sockets for tests."""

from __future__ import annotations

import socket
import uuid


def options(target: tuple[str, int], *, ruri: str | None = None, local_port: int = 0,
            extra: str = "", max_forwards: int | None = 70, method: str = "OPTIONS",
            via_transport: str = "UDP", rport: bool = True) -> tuple[bytes, tuple[str, int]]:
    """An OPTIONS-like request; returns (bytes, placeholder address filled at send time)."""
    host, port = target
    if ":" in host:
        host = f"[{host}]"
    ruri = ruri or f"sip:{host}:{port}"
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    call_id = uuid.uuid4().hex
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/{via_transport} 127.0.0.1:{local_port or 9};branch={branch}"
        + (";rport" if rport else ""),
        f"From: <sip:tester@127.0.0.1>;tag={uuid.uuid4().hex[:8]}",
        f"To: <sip:{host}:{port}>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
    ]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    if extra:
        lines.extend(extra.rstrip("\r\n").split("\r\n"))
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), target


def udp_exchange(target: tuple[str, int], data: bytes, timeout: float = 3.0) -> bytes | None:
    """Send one datagram, return the first reply (None on timeout)."""
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind((target[0], 0))
        sock.sendto(data, target)
        try:
            return sock.recvfrom(65536)[0]
        except TimeoutError:
            return None


def udp_request(target: tuple[str, int], timeout: float = 3.0, **kwargs: object) -> bytes | None:
    """Build a request with ``options(**kwargs)``, send it over UDP, return the reply."""
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind((target[0], 0))
        data, _ = options(target, local_port=sock.getsockname()[1], **kwargs)  # type: ignore[arg-type]
        sock.sendto(data, target)
        try:
            return sock.recvfrom(65536)[0]
        except TimeoutError:
            return None


def status_of(reply: bytes | None) -> int | None:
    """The status code of a reply, None when there is none."""
    if not reply:
        return None
    first = reply.split(b"\r\n", 1)[0].split(b" ")
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None
