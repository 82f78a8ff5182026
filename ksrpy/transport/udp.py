"""UDP listen sockets driven by ``loop.add_reader``: batch-drain on wake-up, ``sendto`` directly.

asyncio's DatagramProtocol costs ~20 µs of CPU per datagram; a reader
callback that drains the socket itself costs a fraction of that, on both
stock asyncio and uvloop.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

from ksrpy.core.ratelog import RateLimitedLog
from ksrpy.transport.address import Handler, ListenSpec, ReceiveInfo
from ksrpy.transport.stats import TransportStats

#: Datagrams read per wake-up before yielding to other work on the loop.
BATCH = 64
#: Requested receive buffer; the kernel caps it at net.core.rmem_max.
RCVBUF = 4 * 1024 * 1024
#: Shorter datagrams are NAT keepalives or probes, never SIP (Kamailio's MIN_UDP_PACKET).
MIN_PACKET = 20
_RECV_SIZE = 65536
_INFO_CACHE_MAX = 4096
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_DROP_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.ENOMEM})


def open_udp_socket(spec: ListenSpec, port: int | None = None) -> socket.socket:
    """Create, configure and bind a non-blocking UDP socket for ``spec``; OSError on failure.

    No SO_REUSEADDR: for UDP on Linux it would let a second process bind the
    same address silently, and UDP has no TIME_WAIT for it to help with.
    """
    family = socket.AF_INET6 if spec.af == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            pass
        if spec.is_any:  # learn each datagram's real destination address
            try:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
            except OSError:
                pass
        sock.bind((spec.host, spec.port if port is None else port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class UdpListener:
    """One bound UDP socket: drains datagrams into the handler and sends replies from it."""

    __slots__ = (
        "spec",
        "sock",
        "_handler",
        "_on_error",
        "_stats",
        "_rlog",
        "_max_size",
        "_loop",
        "_infos",
        "_af",
        "_pktinfo",
        "_dst_cache",
    )

    def __init__(
        self,
        spec: ListenSpec,
        sock: socket.socket,
        handler: Handler,
        on_error: Callable[[BaseException, ReceiveInfo], None],
        stats: TransportStats,
        rlog: RateLimitedLog,
        max_message_size: int,
    ) -> None:
        self.spec = spec  # with the real port
        self.sock = sock
        self._handler = handler
        self._on_error = on_error
        self._stats = stats
        self._rlog = rlog
        self._max_size = max_message_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._infos: dict[tuple[str, int, str], ReceiveInfo] = {}
        self._af = spec.af
        self._pktinfo = spec.is_any
        self._dst_cache: dict[bytes, str] = {}

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start receiving: register the reader callback on ``loop``."""
        self._loop = loop
        callback = self._readable_pktinfo if self._pktinfo else self._readable
        loop.add_reader(self.sock.fileno(), callback)

    def close(self) -> None:
        """Stop receiving and close the socket."""
        if self._loop is not None and self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
        self._loop = None
        self.sock.close()

    def _info(self, src_ip: str, src_port: int, dst_ip: str) -> ReceiveInfo:
        """Return the (cached, immutable) ReceiveInfo for a source and destination."""
        key = (src_ip, src_port, dst_ip)
        info = self._infos.get(key)
        if info is None:
            if len(self._infos) >= _INFO_CACHE_MAX:
                self._infos.clear()
            info = ReceiveInfo("udp", src_ip, src_port, dst_ip, self.spec.port, None, self._af)
            self._infos[key] = info
        return info

    def _deliver(self, data: bytes, info: ReceiveInfo) -> None:
        """Pass one datagram to the handler unless it is a probe or oversize."""
        stats = self._stats
        if len(data) < MIN_PACKET or len(data) > self._max_size:
            stats.udp_dropped_rx += 1
            return
        try:
            self._handler(data, info)
        except Exception as exc:  # the handler must never kill the socket
            self._on_error(exc, info)

    def _readable(self) -> None:
        """Reader callback: drain up to BATCH datagrams from a specifically bound socket."""
        recv = self.sock.recvfrom
        stats = self._stats
        infos = self._infos
        dst = self.spec.host
        handler = self._handler
        max_size = self._max_size
        count = 0
        for _ in range(BATCH):
            try:
                data, addr = recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._rlog.warning(("udp-rx", self.spec), "udp %s: receive error: %s",
                                   self.spec, exc)
                break
            count += 1
            info = infos.get((addr[0], addr[1], dst))
            if info is None:
                info = self._info(addr[0], addr[1], dst)
            size = len(data)
            if size < MIN_PACKET or size > max_size:
                stats.udp_dropped_rx += 1
                continue
            try:
                handler(data, info)
            except Exception as exc:  # the handler must never kill the socket
                self._on_error(exc, info)
        stats.udp_rx += count

    def _readable_pktinfo(self) -> None:
        """Reader callback for a wildcard socket: also learn each datagram's destination."""
        recvmsg = self.sock.recvmsg
        anc_size = socket.CMSG_SPACE(20)
        default_dst = self.spec.host
        count = 0
        for _ in range(BATCH):
            try:
                data, anc, _flags, addr = recvmsg(_RECV_SIZE, anc_size)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._rlog.warning(("udp-rx", self.spec), "udp %s: receive error: %s",
                                   self.spec, exc)
                break
            count += 1
            dst = default_dst
            for level, kind, raw in anc:
                if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(raw) >= 12:
                    dst = self._dst_name(raw[8:12], socket.AF_INET)
                elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO and len(raw) >= 16:
                    dst = self._dst_name(raw[:16], socket.AF_INET6)
            self._deliver(data, self._info(addr[0], addr[1], dst))
        self._stats.udp_rx += count

    def _dst_name(self, packed: bytes, family: int) -> str:
        """Convert a packed destination address to text, cached."""
        name = self._dst_cache.get(packed)
        if name is None:
            if len(self._dst_cache) >= _INFO_CACHE_MAX:
                self._dst_cache.clear()
            name = socket.inet_ntop(family, packed)
            self._dst_cache[packed] = name
        return name

    def send(self, ip: str, port: int, data: bytes) -> bool:
        """Send one datagram now; False (and counted) if the kernel refused it."""
        try:
            self.sock.sendto(data, (ip, port))
        except OSError as exc:
            if exc.errno in _DROP_ERRNOS:
                self._stats.udp_dropped_tx += 1
                self._rlog.warning(("udp-tx-drop", self.spec), "udp %s: send buffer full, "
                                   "dropping datagrams", self.spec)
            else:
                self._stats.udp_send_errors += 1
                self._rlog.warning(("udp-tx", ip), "udp %s: cannot send %d bytes to %s:%d: %s",
                                   self.spec, len(data), ip, port, exc.strerror or exc)
            return False
        self._stats.udp_tx += 1
        return True
