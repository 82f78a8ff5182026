"""The table of TCP connections: admission limit, reuse by id or peer, connecting, timeouts."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from ksrpy.core.ratelog import RateLimitedLog
from ksrpy.transport.address import Handler, ReceiveInfo
from ksrpy.transport.framing import FramingError
from ksrpy.transport.stats import TransportStats
from ksrpy.transport.tcp import WRITE_CAP, TcpConnection

#: Seconds a gracefully closing connection may take to flush before it is aborted.
CLOSE_GRACE = 5.0


class TcpPool:
    """All TCP connections, by id and by peer address (RFC 3261 §18.2.2 reuse)."""

    def __init__(
        self,
        handler: Handler,
        on_error: Callable[[BaseException, ReceiveInfo], None],
        stats: TransportStats,
        rlog: RateLimitedLog,
        log: logging.Logger,
        *,
        idle_timeout: float,
        connect_timeout: float,
        max_connections: int,
        max_message_size: int,
        header_timeout: float,
    ) -> None:
        self._handler = handler
        self._on_error = on_error
        self.stats = stats
        self.rlog = rlog
        self.log = log
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.max_message_size = max_message_size
        self.header_timeout = header_timeout
        self.by_id: dict[int, TcpConnection] = {}
        self.by_peer: dict[tuple[str, int], TcpConnection] = {}
        self._next_id = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the periodic timeout sweep."""
        self._loop = loop
        self._sweeper = loop.create_task(self._sweep_forever())

    async def close(self) -> None:
        """Stop sweeping and connecting; abort every connection."""
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None]
        self._sweeper = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self.by_id.values()):
            conn.close(abort=True)
            self.forget(conn)
        self._loop = None

    @property
    def sweep_interval(self) -> float:
        """Seconds between timeout sweeps: a quarter of the shortest timeout, within [0.05, 1]."""
        return max(0.05, min(1.0, self.header_timeout / 4, self.idle_timeout / 4))

    async def _sweep_forever(self) -> None:
        """Run ``sweep`` until cancelled."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                self.sweep(time.monotonic())
            except Exception:  # never let the sweeper die
                self.log.exception("tcp timeout sweep failed")

    def sweep(self, now: float) -> None:
        """Close connections idle too long or stalled in the middle of a message."""
        for conn in list(self.by_id.values()):
            if conn.transport is None:
                continue  # still connecting: the connect timeout covers it
            if conn.closing:
                if now - conn.closed_at > CLOSE_GRACE:  # peer not reading our last bytes
                    conn.close(abort=True)
                continue
            if conn.msg_started is not None and now - conn.msg_started > self.header_timeout:
                self.stats.tcp_timeouts += 1
                self.rlog.warning(("tcp-stall", conn.peer and conn.peer[0]),
                                  "tcp %r: message incomplete after %.1fs, closing",
                                  conn, self.header_timeout)
                conn.close(abort=True)
            elif now - conn.last_activity > self.idle_timeout:
                self.stats.tcp_timeouts += 1
                self.log.debug("tcp %r: idle for %.0fs, closing", conn, self.idle_timeout)
                conn.close()

    # -- table --------------------------------------------------------------------------------

    def _add(self, conn: TcpConnection) -> None:
        """Give ``conn`` an id and enter it in both tables (newest wins for a peer)."""
        conn.conn_id = self._next_id
        self._next_id += 1
        self.by_id[conn.conn_id] = conn
        if conn.peer is not None:
            self.by_peer[conn.peer] = conn

    def admit(self, conn: TcpConnection) -> bool:
        """Admit an accepted connection, or refuse it over ``max_connections``."""
        if self._loop is None:  # stopping
            return False
        if len(self.by_id) >= self.max_connections:
            self.stats.tcp_refused += 1
            self.rlog.warning("tcp-limit", "tcp: %d connections open (tcp_max_connections), "
                              "refusing %s", len(self.by_id), conn.peer and conn.peer[0])
            return False
        self.stats.tcp_accepted += 1
        self._add(conn)
        return True

    def forget(self, conn: TcpConnection) -> None:
        """Remove ``conn`` from the tables (idempotent)."""
        if self.by_id.pop(conn.conn_id, None) is not None:
            self.stats.tcp_closed += 1
        for key in (conn.peer, *conn.aliases):
            if key is not None and self.by_peer.get(key) is conn:
                del self.by_peer[key]

    def alias(self, conn_id: int, port: int) -> bool:
        """Enter connection ``conn_id`` under (peer IP, ``port``) as well."""
        conn = self.by_id.get(conn_id)
        if conn is None or conn.closing or conn.peer is None or not 0 < port < 65536:
            return False
        key = (conn.peer[0], port)
        if key != conn.peer and key not in conn.aliases:
            if len(conn.aliases) >= 4:  # a peer cannot make us keep unbounded keys
                self.by_peer.pop(conn.aliases.pop(0), None)
            conn.aliases.append(key)
        self.by_peer[key] = conn
        return True

    def __len__(self) -> int:
        """Number of open (or opening) connections."""
        return len(self.by_id)

    # -- events from connections --------------------------------------------------------------

    def dispatch(self, message: bytes, info: ReceiveInfo) -> None:
        """Hand a framed message to the handler; its exceptions stop here."""
        self.stats.tcp_rx_messages += 1
        try:
            self._handler(message, info)
        except Exception as exc:
            self._on_error(exc, info)

    def framing_error(self, conn: TcpConnection, exc: FramingError) -> None:
        """Log (rate-limited) and drop a connection whose stream cannot be framed."""
        self.stats.tcp_framing_errors += 1
        self.rlog.warning(("tcp-framing", conn.peer and conn.peer[0]),
                          "tcp %r: %s, closing", conn, exc)
        conn.close(abort=True)

    def overflow(self, conn: TcpConnection) -> None:
        """Drop a connection whose peer does not read what we write."""
        self.stats.tcp_overflows += 1
        self.rlog.warning(("tcp-overflow", conn.peer and conn.peer[0]),
                          "tcp %r: peer not reading, over %d bytes unsent, closing",
                          conn, WRITE_CAP)
        conn.close(abort=True)
        if conn.transport is None:
            self.forget(conn)

    # -- sending ------------------------------------------------------------------------------

    def send(self, ip: str, port: int, af: int, data: bytes, conn_id: int | None,
             no_connect: bool, local_ip: str | None) -> bool:
        """Send on connection ``conn_id`` or one to (ip, port); else connect unless told not to."""
        conn = self.by_id.get(conn_id) if conn_id is not None else None
        if conn is None or conn.closing:
            conn = self.by_peer.get((ip, port))
        if conn is not None and not conn.closing:
            return conn.write(data)
        if no_connect or self._loop is None:
            return False
        if len(self.by_id) >= self.max_connections:
            self.stats.tcp_refused += 1
            self.rlog.warning("tcp-limit-out", "tcp: %d connections open "
                              "(tcp_max_connections), not connecting to %s:%d",
                              len(self.by_id), ip, port)
            return False
        conn = TcpConnection(self, outgoing=True, peer=(ip, port))
        self._add(conn)
        conn.write(data)
        task = self._loop.create_task(self._connect(conn, af, local_ip))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _connect(self, conn: TcpConnection, af: int, local_ip: str | None) -> None:
        """Open an outgoing connection within ``connect_timeout``; on failure drop its queue."""
        assert self._loop is not None and conn.peer is not None
        ip, port = conn.peer
        family = socket.AF_INET6 if af == 6 else socket.AF_INET
        local_addr = (local_ip, 0) if local_ip else None
        try:
            await asyncio.wait_for(
                self._loop.create_connection(lambda: conn, ip, port, family=family,
                                             local_addr=local_addr),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or exc)
            self.stats.tcp_connect_failed += 1
            self.rlog.warning(("tcp-connect", ip), "tcp: cannot connect to %s:%d: %s "
                              "(%d bytes dropped)", ip, port, reason, conn.pending_bytes)
            self._abandon(conn)
        except asyncio.CancelledError:
            self._abandon(conn)
            raise
        else:
            self.stats.tcp_connected += 1

    def _abandon(self, conn: TcpConnection) -> None:
        """Forget a connection that never connected."""
        conn.closing = True
        conn.pending = []
        if conn.transport is None:
            self.forget(conn)
        else:
            conn.close(abort=True)
