"""The transport manager: binds every listen socket and routes ``send`` to UDP or TCP."""

from __future__ import annotations

import asyncio
import logging

from ksrpy.core.ratelog import RateLimitedLog
from ksrpy.transport.address import Handler, ListenSpec, ReceiveInfo, normalize_ip
from ksrpy.transport.errors import TransportError
from ksrpy.transport.pool import TcpPool
from ksrpy.transport.stats import TransportStats
from ksrpy.transport.tcp import TcpConnection, open_tcp_listen_socket
from ksrpy.transport.udp import UdpListener, open_udp_socket

#: Listen queue of TCP sockets (Kamailio's default is 1024 as well); a burst of connects
#: beyond it makes clients wait for SYN retransmission, whatever tcp_max_connections says.
TCP_BACKLOG = 1024


def _is_loopback(ip: str) -> bool:
    """True for 127.0.0.0/8 and ::1 (cheap string test on canonical addresses)."""
    return ip.startswith("127.") or ip == "::1"


class TransportManager:
    """Own all listen sockets and TCP connections; deliver messages to one handler."""

    def __init__(
        self,
        listens: list[ListenSpec],
        handler: Handler,
        *,
        tcp_idle_timeout: float = 120.0,
        tcp_connect_timeout: float = 5.0,
        tcp_max_connections: int = 2048,
        max_message_size: int = 65535,
        header_timeout: float = 10.0,
        log: logging.Logger | None = None,
    ) -> None:
        if not listens:
            raise ValueError("no listen addresses")
        self.listens = list(listens)
        self.handler = handler
        self.log = log or logging.getLogger("ksrpy.transport")
        self.rlog = RateLimitedLog(self.log)
        self.stats = TransportStats()
        self.max_message_size = max_message_size
        self.pool = TcpPool(
            handler, self._handler_error, self.stats, self.rlog, self.log,
            idle_timeout=tcp_idle_timeout, connect_timeout=tcp_connect_timeout,
            max_connections=tcp_max_connections, max_message_size=max_message_size,
            header_timeout=header_timeout,
        )
        self._bound: list[ListenSpec] = []
        self._udp: list[UdpListener] = []
        self._udp_by_addr: dict[tuple[str, int], UdpListener] = {}
        self._udp_default: dict[int, UdpListener] = {}
        self._udp_loopback: dict[int, UdpListener] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind every listen address; TransportError naming the address if one fails."""
        if self._started:
            raise RuntimeError("transport manager already started")
        loop = asyncio.get_running_loop()
        self._started = True
        first_port: dict[str, int] = {}  # host -> port picked for its first port-0 entry
        for spec in self.listens:
            try:
                bound = await self._bind(loop, spec, first_port.get(spec.host))
            except OSError as exc:
                await self.stop()
                raise TransportError(
                    f"cannot listen on {spec}: {exc.strerror or exc}"
                ) from exc
            if spec.port == 0:
                first_port.setdefault(spec.host, bound.port)
            self._bound.append(bound)
        self._pick_udp_defaults()
        self.pool.start(loop)
        self.log.info("listening on %s", ", ".join(map(str, self._bound)))

    async def _bind(self, loop: asyncio.AbstractEventLoop, spec: ListenSpec,
                    same_port: int | None) -> ListenSpec:
        """Bind one spec; for port 0, try the port its other protocol got first."""
        opener = open_udp_socket if spec.proto == "udp" else open_tcp_listen_socket
        sock = None
        if spec.port == 0 and same_port:
            try:
                sock = opener(spec, same_port)
            except OSError:
                sock = None
        if sock is None:
            sock = opener(spec)
        bound = spec.with_port(sock.getsockname()[1])
        if spec.proto == "udp":
            listener = UdpListener(bound, sock, self.handler, self._handler_error, self.stats,
                                   self.rlog, self.max_message_size)
            listener.attach(loop)
            self._udp.append(listener)
            self._udp_by_addr.setdefault((bound.host, bound.port), listener)
        else:
            try:
                server = await loop.create_server(self.pool_factory, sock=sock,
                                                  backlog=TCP_BACKLOG)
            except BaseException:
                sock.close()
                raise
            self._servers.append(server)
        return bound

    def pool_factory(self) -> asyncio.Protocol:
        """Protocol factory for accepted TCP connections."""
        return TcpConnection(self.pool)

    def _pick_udp_defaults(self) -> None:
        """Choose per family the socket to send from: wildcard, else non-loopback, else first."""
        for af in (4, 6):
            socks = [u for u in self._udp if u.spec.af == af]
            if not socks:
                continue
            wildcard = [u for u in socks if u.spec.is_any]
            public = [u for u in socks if not _is_loopback(u.spec.host)]
            loopback = [u for u in socks if _is_loopback(u.spec.host)]
            self._udp_default[af] = (wildcard or public or socks)[0]
            self._udp_loopback[af] = (loopback or wildcard or socks)[0]

    async def stop(self) -> None:
        """Close listeners and connections (idempotent)."""
        await self.pool.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 1.0)
            except TimeoutError:
                pass
        self._servers.clear()
        for listener in self._udp:
            listener.close()
        self._udp.clear()
        self._udp_by_addr.clear()
        self._udp_default.clear()
        self._udp_loopback.clear()

    @property
    def bound(self) -> list[ListenSpec]:
        """The listen specs as bound, with real ports where 0 was asked for."""
        return list(self._bound)

    # -- receiving ----------------------------------------------------------------------------

    def _handler_error(self, exc: BaseException, info: ReceiveInfo) -> None:
        """Log (rate-limited, with traceback) an exception the handler raised."""
        self.stats.handler_errors += 1
        self.rlog.error(("handler", type(exc).__name__),
                        "handler failed on %s message from %s:%d: %r",
                        info.proto, info.src_ip, info.src_port, exc, exc_info=exc)

    # -- sending ------------------------------------------------------------------------------

    def send(self, proto: str, ip: str, port: int, data: bytes, *, conn_id: int | None = None,
             no_connect: bool = False, local: ListenSpec | None = None) -> bool:
        """Send ``data`` to ip:port over ``proto``; True if sent or queued, False if dropped.

        TCP reuses connection ``conn_id`` if alive, else any live connection to
        ip:port, else opens one unless ``no_connect``. UDP goes out of ``local``
        if given, else a listen socket of the destination's family.
        """
        try:
            ip, af = normalize_ip(ip)
        except ValueError:
            self.rlog.warning(("send-addr", ip), "cannot send to %r: not an IP address", ip)
            return False
        if proto != "udp" and proto != "tcp":
            proto = proto.lower()
        if proto == "udp":
            listener = self._udp_sender(af, ip, local)
            if listener is None:
                self.rlog.warning(("udp-nosock", af), "no IPv%d UDP socket to send to %s:%d",
                                  af, ip, port)
                return False
            return listener.send(ip, port, data)
        if proto == "tcp":
            local_ip = local.host if local is not None and not local.is_any else None
            return self.pool.send(ip, port, af, data, conn_id, no_connect, local_ip)
        self.rlog.warning(("send-proto", proto), "cannot send over %r: not supported", proto)
        return False

    def alias_connection(self, conn_id: int, port: int) -> bool:
        """Also reach TCP connection ``conn_id`` as (its peer IP, ``port``); False if gone.

        For RFC 5923 ``;alias`` / Kamailio's force_tcp_alias: requests to the
        port a client advertises in Via then reuse its connection.
        """
        return self.pool.alias(conn_id, port)

    def _udp_sender(self, af: int, ip: str, local: ListenSpec | None) -> UdpListener | None:
        """Pick the UDP socket to send from."""
        if local is not None:
            listener = self._udp_by_addr.get((local.host, local.port))
            if listener is None:  # arrived on a wildcard socket: dst_ip is the real address
                listener = self._udp_by_addr.get(("::" if af == 6 else "0.0.0.0", local.port))
            if listener is not None and listener.spec.af == af:
                return listener
        if _is_loopback(ip):
            return self._udp_loopback.get(af)
        return self._udp_default.get(af)
