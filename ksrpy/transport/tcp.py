"""One SIP-over-TCP connection as a thin asyncio Protocol: feed the framer, write, close."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, cast

from ksrpy.transport.address import ListenSpec, ReceiveInfo, normalize_ip
from ksrpy.transport.framing import FramingError, StreamFramer

if TYPE_CHECKING:
    from ksrpy.transport.pool import TcpPool

#: A connection whose unsent data exceeds this is closed instead of buffering without bound.
WRITE_CAP = 1024 * 1024


def open_tcp_listen_socket(spec: ListenSpec, port: int | None = None) -> socket.socket:
    """Create and bind a non-blocking TCP listen socket for ``spec``; OSError on failure."""
    family = socket.AF_INET6 if spec.af == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart despite TIME_WAIT
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((spec.host, spec.port if port is None else port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class TcpConnection(asyncio.Protocol):
    """A TCP connection (accepted or opened by us); frames the stream and hands messages on.

    An outgoing connection exists before it is connected: data sent meanwhile
    waits in ``pending`` and is written by ``connection_made``.
    """

    __slots__ = (
        "pool",
        "conn_id",
        "outgoing",
        "peer",
        "transport",
        "framer",
        "info",
        "last_activity",
        "msg_started",
        "pending",
        "pending_bytes",
        "closing",
        "closed_at",
        "aliases",
    )

    def __init__(self, pool: TcpPool, *, outgoing: bool = False,
                 peer: tuple[str, int] | None = None) -> None:
        self.pool = pool
        self.conn_id = 0  # assigned by the pool when the connection is admitted
        self.outgoing = outgoing
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.framer = StreamFramer(pool.max_message_size)
        self.info: ReceiveInfo | None = None
        self.last_activity = time.monotonic()
        self.msg_started: float | None = None
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.closing = False
        self.closed_at = 0.0
        self.aliases: list[tuple[str, int]] = []  # extra (ip, port) keys in the peer table

    def __repr__(self) -> str:
        """Show id and peer, for logs."""
        peer = f"{self.peer[0]}:{self.peer[1]}" if self.peer else "?"
        kind = "out" if self.outgoing else "in"
        return f"<TcpConnection #{self.conn_id} {kind} {peer}>"

    # -- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection (or refuse it over the limit) and flush queued data."""
        transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport = transport
        self.last_activity = time.monotonic()
        if self.closing:  # closed while connecting
            transport.abort()
            return
        try:
            peername = transport.get_extra_info("peername")
            sockname = transport.get_extra_info("sockname")
            peer_ip, af = normalize_ip(peername[0])
            local_ip = normalize_ip(sockname[0])[0]
        except (TypeError, IndexError, ValueError):  # already reset, or not IP
            self.closing = True
            transport.abort()
            return
        self.peer = (peer_ip, peername[1])
        if not self.outgoing and not self.pool.admit(self):
            self.closing = True
            transport.abort()
            return
        self.info = ReceiveInfo("tcp", peer_ip, peername[1], local_ip, sockname[1],
                                self.conn_id, af)
        if self.pending:
            pending, self.pending, self.pending_bytes = self.pending, [], 0
            for data in pending:
                if not self.write(data):
                    break

    def data_received(self, data: bytes) -> None:
        """Frame incoming bytes; answer keepalive pings; pass whole messages to the pool."""
        now = time.monotonic()
        self.last_activity = now
        framer = self.framer
        try:
            messages = framer.feed(data)
        except FramingError as exc:
            self.pool.framing_error(self, exc)
            return
        pongs = framer.take_pongs()
        if pongs:
            self.pool.stats.pings += pongs
            self.write(b"\r\n" * pongs)
        if framer.partial:
            if messages or self.msg_started is None:
                self.msg_started = now
        else:
            self.msg_started = None
        pool = self.pool
        info = self.info
        for message in messages:
            if self.closing or info is None:
                break  # the handler closed us
            pool.dispatch(message, info)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self.closing = True
        self.pending = []
        self.pool.forget(self)

    # -- used by the pool ---------------------------------------------------------------------

    def write(self, data: bytes) -> bool:
        """Write (or queue while connecting); False if closed or over the write cap."""
        if self.closing:
            return False
        transport = self.transport
        if transport is None:
            self.pending.append(data)
            self.pending_bytes += len(data)
            if self.pending_bytes > WRITE_CAP:
                self.pool.overflow(self)
                return False
            return True
        transport.write(data)
        self.last_activity = time.monotonic()
        self.pool.stats.tcp_tx += 1
        if transport.get_write_buffer_size() > WRITE_CAP:
            self.pool.overflow(self)
            return False
        return True

    def close(self, *, abort: bool = False) -> None:
        """Close gracefully (flush first) or abort (discard unsent data)."""
        if self.closing and self.transport is None:
            return
        if not self.closing:
            self.closing = True
            self.closed_at = time.monotonic()
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
