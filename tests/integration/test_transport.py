"""TransportManager over real sockets on 127.0.0.1 and ::1 (ports picked at run time)."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from ksrpy.transport.address import ListenSpec, ReceiveInfo, parse_listen
from ksrpy.transport.errors import TransportError
from ksrpy.transport.framing import StreamFramer
from ksrpy.transport.manager import TransportManager

LOOPS = ["asyncio", "uvloop"]


def _has_ipv6() -> bool:
    """True if ::1 can be bound."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_V6 = _has_ipv6()


@pytest.fixture(params=LOOPS)
def arun(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Run a coroutine function on stock asyncio or uvloop, bounded in time."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else asyncio.new_event_loop

    def runner(fn: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 15.0) -> Any:
        async def main() -> Any:
            try:
                return await asyncio.wait_for(fn(), timeout)
            finally:
                for client in Client.opened:
                    client.close()
                Client.opened.clear()
                await asyncio.sleep(0)  # let the closes complete

        with asyncio.Runner(loop_factory=factory) as r:
            return r.run(main())

    return runner


def sip(tag: str, body: bytes = b"") -> bytes:
    """A small SIP-looking request (the transport does not parse it)."""
    return (
        f"OPTIONS sip:{tag}@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-{tag}\r\n"
        f"Call-ID: {tag}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def reply_to(data: bytes) -> bytes:
    """A reply carrying the request's first line in its body, so tests can match them."""
    first = data.split(b"\r\n", 1)[0]
    return b"SIP/2.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(first), first)


class Echo:
    """Handler that records messages and answers each over the transport it came on."""

    def __init__(self) -> None:
        self.mgr: TransportManager | None = None
        self.got: list[tuple[bytes, ReceiveInfo]] = []
        self.answer = True

    def __call__(self, data: bytes, info: ReceiveInfo) -> None:
        self.got.append((data, info))
        if b"RAISE" in data:
            raise RuntimeError("handler bug")
        if self.answer and data.startswith(b"OPTIONS") and self.mgr is not None:
            local = ListenSpec(info.proto, info.dst_ip, info.dst_port)
            self.mgr.send(info.proto, info.src_ip, info.src_port, reply_to(data),
                          conn_id=info.conn_id, local=local)


async def started(listens: list[str], handler: Echo | None = None,
                  **kwargs: Any) -> tuple[TransportManager, Echo]:
    """Start a manager on the given listen texts with an Echo handler."""
    echo = handler or Echo()
    specs = [s for text in listens for s in parse_listen(text)]
    mgr = TransportManager(specs, echo, **kwargs)
    echo.mgr = mgr
    await mgr.start()
    return mgr, echo


def port_of(mgr: TransportManager, proto: str, af: int = 4) -> int:
    """The bound port of the first listener of a protocol and family."""
    return next(s.port for s in mgr.bound if s.proto == proto and s.af == af)


async def udp_request(host: str, port: int, data: bytes, timeout: float = 2.0) -> bytes:
    """Send one datagram from a fresh socket and wait for one answer."""

    def blocking() -> bytes:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(data, (host, port))
            return s.recv(65536)

    return await asyncio.to_thread(blocking)


class Client:
    """A TCP test client that frames what it reads; closed by ``arun`` at the end."""

    opened: list[Client] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        Client.opened.append(self)
        self.framer = StreamFramer()
        self.ready: list[bytes] = []

    @classmethod
    async def connect(cls, host: str, port: int) -> Client:
        return cls(*await asyncio.open_connection(host, port))

    @property
    def local(self) -> tuple[str, int]:
        return self.writer.get_extra_info("sockname")[:2]

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> bytes:
        """Next framed message."""
        while not self.ready:
            chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not chunk:
                raise ConnectionError("closed by server")
            self.ready.extend(self.framer.feed(chunk))
        return self.ready.pop(0)

    async def closed_within(self, timeout: float) -> bool:
        """True if the server closes the connection within ``timeout`` seconds."""
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not chunk:
                    return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``check`` until true or timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


# -- UDP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_udp_echo(arun: Callable[..., Any], host: str) -> None:
    """A datagram reaches the handler with its addresses; the reply comes back."""
    if host == "::1" and not HAS_V6:
        pytest.skip("no IPv6 loopback")

    async def main() -> None:
        mgr, echo = await started([f"udp:[{host}]:0"])
        try:
            port = port_of(mgr, "udp", 6 if ":" in host else 4)
            assert port != 0
            answer = await udp_request(host, port, sip("u1"))
            assert answer == reply_to(sip("u1"))
            data, info = echo.got[0]
            assert data == sip("u1")
            assert (info.proto, info.dst_ip, info.dst_port, info.conn_id) == ("udp", host, port,
                                                                              None)
            assert info.src_ip == host and info.src_port > 0
            assert info.af == (6 if ":" in host else 4)
            assert mgr.stats.udp_rx == 1 and mgr.stats.udp_tx == 1
        finally:
            await mgr.stop()

    arun(main)


def test_udp_v4_and_v6_together(arun: Callable[..., Any]) -> None:
    """Wildcard v4 and v6 sockets coexist (IPV6_V6ONLY); replies leave the right family."""
    if not HAS_V6:
        pytest.skip("no IPv6 loopback")

    async def main() -> None:
        mgr, echo = await started(["udp:0.0.0.0:0", "udp:[::]:0"])
        try:
            v4, v6 = port_of(mgr, "udp", 4), port_of(mgr, "udp", 6)
            assert await udp_request("127.0.0.1", v4, sip("a")) == reply_to(sip("a"))
            assert await udp_request("::1", v6, sip("b")) == reply_to(sip("b"))
            # wildcard sockets report the real destination address
            assert [i.dst_ip for _, i in echo.got] == ["127.0.0.1", "::1"]
        finally:
            await mgr.stop()

    arun(main)


def test_udp_drops_keepalives_and_survives_garbage(arun: Callable[..., Any]) -> None:
    """Tiny keepalives are dropped; garbage and NULs reach the handler but break nothing."""

    async def main() -> None:
        mgr, echo = await started(["udp:127.0.0.1:0"])
        try:
            port = port_of(mgr, "udp")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for junk in (b"\r\n\r\n", b"\x00" * 4, b"\x00" * 100, b"\xff" * 3000, b"RAISE" * 9):
                    s.sendto(junk, ("127.0.0.1", port))
            assert await udp_request("127.0.0.1", port, sip("after")) == reply_to(sip("after"))
            assert mgr.stats.udp_dropped_rx == 2
            assert mgr.stats.handler_errors == 1
        finally:
            await mgr.stop()

    arun(main)


def test_udp_send_uses_local_socket(arun: Callable[..., Any]) -> None:
    """``local`` picks the socket a datagram leaves from (so its source port is right)."""

    async def main() -> None:
        mgr, _ = await started(["udp:127.0.0.1:0", "udp:127.0.0.1:0"])
        try:
            first, second = mgr.bound
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind(("127.0.0.1", 0))
                peer.settimeout(2.0)
                dst = peer.getsockname()
                for spec in (second, first, None):
                    assert mgr.send("UDP", dst[0], dst[1], sip("l"), local=spec)
                    _, src = await asyncio.to_thread(peer.recvfrom, 65536)
                    assert src[1] == (spec or first).port
        finally:
            await mgr.stop()

    arun(main)


def test_send_errors_return_false(arun: Callable[..., Any]) -> None:
    """No socket of the family, a host name, an unknown protocol: False, no exception."""

    async def main() -> None:
        mgr, _ = await started(["udp:127.0.0.1:0"])
        try:
            assert mgr.send("udp", "::1", 5, b"x") is False
            assert mgr.send("udp", "example.com", 5, b"x") is False
            assert mgr.send("sctp", "127.0.0.1", 5, b"x") is False
            assert mgr.send("udp", "127.0.0.1", 9, b"x" * 70000) is False
        finally:
            await mgr.stop()

    arun(main)


# -- TCP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_tcp_request_response_same_connection(arun: Callable[..., Any], host: str) -> None:
    """Requests on one connection are answered on it; conn_id stays the same."""
    if host == "::1" and not HAS_V6:
        pytest.skip("no IPv6 loopback")

    async def main() -> None:
        mgr, echo = await started([f"tcp:[{host}]:0"])
        try:
            port = port_of(mgr, "tcp", 6 if ":" in host else 4)
            client = await Client.connect(host, port)
            await client.send(sip("t1") + sip("t2", b"body"))  # pipelined
            assert await client.recv() == reply_to(sip("t1"))
            assert await client.recv() == reply_to(sip("t2"))
            info1, info2 = echo.got[0][1], echo.got[1][1]
            assert echo.got[1][0] == sip("t2", b"body")
            assert info1.conn_id is not None and info1.conn_id == info2.conn_id
            assert (info1.proto, info1.dst_port) == ("tcp", port)
            assert (info1.src_ip, info1.src_port) == client.local
            assert len(mgr.pool) == 1
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_keepalive_ping_gets_pong(arun: Callable[..., Any]) -> None:
    """CRLFCRLF gets CRLF back (RFC 5626 §3.5.1) and the connection stays usable."""

    async def main() -> None:
        mgr, _ = await started(["tcp:127.0.0.1:0"])
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            await client.send(b"\r\n\r\n")
            assert await asyncio.wait_for(client.reader.readexactly(2), 2) == b"\r\n"
            await client.send(sip("p"))
            assert await client.recv() == reply_to(sip("p"))
            assert mgr.stats.pings == 1
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_send_reuses_connection_to_peer_address(arun: Callable[..., Any]) -> None:
    """Sending to a peer's address (no conn_id) goes over its existing connection."""

    async def main() -> None:
        mgr, _ = await started(["tcp:127.0.0.1:0"])
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            await client.send(sip("hello"))
            await client.recv()
            ip, port = client.local
            assert mgr.send("tcp", ip, port, sip("from-server"))
            assert await client.recv() == sip("from-server")
            assert len(mgr.pool) == 1 and mgr.stats.tcp_connected == 0
            # a stale conn_id falls back to the address table
            assert mgr.send("tcp", ip, port, sip("again"), conn_id=999999)
            assert await client.recv() == sip("again")
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_connection_alias(arun: Callable[..., Any]) -> None:
    """alias_connection makes (peer IP, advertised port) reach an accepted connection."""

    async def main() -> None:
        mgr, echo = await started(["tcp:127.0.0.1:0"])
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            await client.send(sip("reg"))
            await client.recv()
            conn_id = echo.got[0][1].conn_id
            assert conn_id is not None
            assert mgr.send("tcp", "127.0.0.1", 5999, sip("x"), no_connect=True) is False
            assert mgr.alias_connection(conn_id, 5999)
            assert mgr.send("tcp", "127.0.0.1", 5999, sip("via-alias"), no_connect=True)
            assert await client.recv() == sip("via-alias")
            client.close()
            assert await eventually(lambda: len(mgr.pool) == 0)
            assert mgr.pool.by_peer == {}
            assert not mgr.alias_connection(conn_id, 5999)
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_outgoing_connection_and_reuse(arun: Callable[..., Any]) -> None:
    """A opens a connection to B; B's replies on it reach A's handler; A reuses it."""

    async def main() -> None:
        a, a_echo = await started(["tcp:127.0.0.1:0"])
        b, b_echo = await started(["tcp:127.0.0.1:0"])
        try:
            b_port = port_of(b, "tcp")
            assert a.send("tcp", "127.0.0.1", b_port, sip("o1"))  # queued while connecting
            assert a.send("tcp", "127.0.0.1", b_port, sip("o2"))  # joins the same queue
            assert await eventually(lambda: len(a_echo.got) == 2)
            assert [d for d, _ in a_echo.got] == [reply_to(sip("o1")), reply_to(sip("o2"))]
            assert a.send("tcp", "127.0.0.1", b_port, sip("o3"))
            assert await eventually(lambda: len(a_echo.got) == 3)
            assert a.stats.tcp_connected == 1 and b.stats.tcp_accepted == 1
            assert len({i.conn_id for _, i in a_echo.got}) == 1
            assert a_echo.got[0][1].src_port == b_port
        finally:
            await a.stop()
            await b.stop()

    arun(main)


def test_tcp_no_connect(arun: Callable[..., Any]) -> None:
    """no_connect=True with no live connection returns False and opens nothing."""

    async def main() -> None:
        a, _ = await started(["tcp:127.0.0.1:0"])
        b, b_echo = await started(["tcp:127.0.0.1:0"])
        try:
            b_port = port_of(b, "tcp")
            assert a.send("tcp", "127.0.0.1", b_port, sip("n"), no_connect=True) is False
            assert a.send("tcp", "127.0.0.1", b_port, sip("n"), conn_id=5,
                          no_connect=True) is False
            await asyncio.sleep(0.1)
            assert len(a.pool) == 0 and b.stats.tcp_accepted == 0 and not b_echo.got
        finally:
            await a.stop()
            await b.stop()

    arun(main)


def test_tcp_connect_failure_is_contained(arun: Callable[..., Any]) -> None:
    """Connecting to a closed port: send says queued, then the attempt is dropped quietly."""

    async def main() -> None:
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead_port = s.getsockname()[1]
        mgr, _ = await started(["tcp:127.0.0.1:0"], tcp_connect_timeout=1.0)
        try:
            assert mgr.send("tcp", "127.0.0.1", dead_port, sip("x")) is True
            assert await eventually(lambda: mgr.stats.tcp_connect_failed == 1)
            assert len(mgr.pool) == 0
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_stalled_half_message_is_closed(arun: Callable[..., Any]) -> None:
    """A peer stalling mid-message is dropped after header_timeout; others keep working."""

    async def main() -> None:
        mgr, _ = await started(["tcp:127.0.0.1:0"], header_timeout=0.3)
        try:
            port = port_of(mgr, "tcp")
            staller = await Client.connect("127.0.0.1", port)
            worker = await Client.connect("127.0.0.1", port)
            await staller.send(sip("stall")[:40])
            closed = asyncio.create_task(staller.closed_within(3.0))
            started_at = time.monotonic()
            for i in range(8):
                await worker.send(sip(f"w{i}"))
                assert await worker.recv() == reply_to(sip(f"w{i}"))
                await asyncio.sleep(0.1)
            assert await closed
            assert time.monotonic() - started_at < 3.0
            assert mgr.stats.tcp_timeouts == 1
            await worker.send(sip("still"))
            assert await worker.recv() == reply_to(sip("still"))
            worker.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_idle_connection_is_closed(arun: Callable[..., Any]) -> None:
    """No traffic for tcp_idle_timeout closes the connection."""

    async def main() -> None:
        mgr, _ = await started(["tcp:127.0.0.1:0"], tcp_idle_timeout=0.3)
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            assert await client.closed_within(3.0)
            assert await eventually(lambda: len(mgr.pool) == 0)
        finally:
            await mgr.stop()

    arun(main)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00" * 5000,  # NULs without end of head
        b"G" * 5000,  # endless first line
        b"INVITE x SIP/2.0\r\nContent-Length: lots\r\n\r\n",  # bad Content-Length
        b"INVITE x SIP/2.0\r\nl: 99999\r\n\r\n",  # over max_message_size
    ],
    ids=["nul", "endless-line", "bad-cl", "oversize"],
)
def test_tcp_garbage_closes_only_that_connection(arun: Callable[..., Any],
                                                 garbage: bytes) -> None:
    """Unframeable input closes the sender's connection; another client is unaffected."""

    async def main() -> None:
        mgr, echo = await started(["tcp:127.0.0.1:0"], max_message_size=4096)
        try:
            port = port_of(mgr, "tcp")
            good = await Client.connect("127.0.0.1", port)
            bad = await Client.connect("127.0.0.1", port)
            with contextlib.suppress(ConnectionError):
                await bad.send(garbage)
            assert await bad.closed_within(2.0)
            assert mgr.stats.tcp_framing_errors == 1
            await good.send(sip("fine"))
            assert await good.recv() == reply_to(sip("fine"))
            assert [d for d, _ in echo.got] == [sip("fine")]
            good.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_framed_nul_bytes_reach_handler_without_harm(arun: Callable[..., Any]) -> None:
    """A well-framed message full of NULs is the parser's problem, not the transport's."""

    async def main() -> None:
        mgr, echo = await started(["tcp:127.0.0.1:0"])
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            junk = b"\x00\x01\xff\r\nl: 3\r\n\r\n\x00\x00\x00"
            await client.send(junk + sip("ok"))
            assert await client.recv() == reply_to(sip("ok"))
            assert [d for d, _ in echo.got] == [junk, sip("ok")]
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_handler_exceptions_do_not_break_transports(arun: Callable[..., Any]) -> None:
    """A raising handler is logged and counted; UDP and TCP keep serving."""

    async def main() -> None:
        mgr, _ = await started(["udp:127.0.0.1:0", "tcp:127.0.0.1:0"])
        try:
            uport, tport = port_of(mgr, "udp"), port_of(mgr, "tcp")
            client = await Client.connect("127.0.0.1", tport)
            for i in range(3):
                await client.send(sip(f"RAISE{i}"))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(sip(f"RAISE{i}"), ("127.0.0.1", uport))
            await client.send(sip("tcp-ok"))
            assert await client.recv() == reply_to(sip("tcp-ok"))
            assert await udp_request("127.0.0.1", uport, sip("udp-ok")) == reply_to(sip("udp-ok"))
            assert mgr.stats.handler_errors == 6
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_tcp_write_backpressure_closes_non_reading_peer(arun: Callable[..., Any]) -> None:
    """A peer that never reads gets disconnected instead of growing our buffer forever."""

    async def main() -> None:
        mgr, _ = await started(["tcp:127.0.0.1:0"])
        try:
            client = await Client.connect("127.0.0.1", port_of(mgr, "tcp"))
            await client.send(sip("hi"))
            await asyncio.sleep(0.05)
            ip, port = client.local
            chunk = sip("big", b"x" * 60000)
            sent = 0
            while mgr.send("tcp", ip, port, chunk, no_connect=True):
                sent += len(chunk)
                assert sent < 200_000_000
            assert mgr.stats.tcp_overflows == 1
            assert await eventually(lambda: len(mgr.pool) == 0)
            client.close()
        finally:
            await mgr.stop()

    arun(main)


def test_connection_limit_with_1000_idle_connections(arun: Callable[..., Any]) -> None:
    """Over tcp_max_connections new connections are refused; UDP still answers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2600:
        pytest.skip("cannot open enough file descriptors")

    async def main() -> None:
        mgr, _ = await started(["udp:127.0.0.1:0", "tcp:127.0.0.1:0"], tcp_max_connections=200)
        clients: list[Client] = []
        try:
            tport = port_of(mgr, "tcp")
            for _ in range(10):
                batch = await asyncio.gather(
                    *(Client.connect("127.0.0.1", tport) for _ in range(100))
                )
                clients.extend(batch)
            assert await eventually(lambda: mgr.stats.tcp_accepted + mgr.stats.tcp_refused
                                    >= 1000, 5.0)
            assert len(mgr.pool) == 200
            assert mgr.stats.tcp_accepted == 200 and mgr.stats.tcp_refused == 800
            answer = await udp_request("127.0.0.1", port_of(mgr, "udp"), sip("alive"))
            assert answer == reply_to(sip("alive"))
            # refused clients see the close; admitted ones are still served
            closed = await asyncio.gather(*(c.closed_within(0.5) for c in clients[-50:]))
            assert all(closed)
            for c in clients:
                c.close()
            assert await eventually(lambda: len(mgr.pool) == 0, 5.0)
            fresh = await Client.connect("127.0.0.1", tport)
            await fresh.send(sip("fresh"))
            assert await fresh.recv() == reply_to(sip("fresh"))
            fresh.close()
        finally:
            for c in clients:
                c.close()
            await mgr.stop()

    arun(main, timeout=30.0)


# -- lifecycle ------------------------------------------------------------------------------


def test_stop_closes_everything(arun: Callable[..., Any]) -> None:
    """After stop() connections are closed and every port can be bound again."""

    async def main() -> None:
        mgr, _ = await started(["udp:127.0.0.1:0", "tcp:127.0.0.1:0"])
        uport, tport = port_of(mgr, "udp"), port_of(mgr, "tcp")
        client = await Client.connect("127.0.0.1", tport)
        await client.send(sip("x"))
        await client.recv()
        await mgr.stop()
        assert await client.closed_within(2.0)
        assert len(mgr.pool) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", uport))
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", tport)
        await mgr.stop()  # idempotent

    arun(main)


def test_start_reports_address_in_use(arun: Callable[..., Any]) -> None:
    """A busy address fails start() with a message naming it; nothing stays bound."""

    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", 0))
            port = busy.getsockname()[1]
            mgr = TransportManager([ListenSpec("tcp", "127.0.0.1", 0),
                                    ListenSpec("udp", "127.0.0.1", port)], Echo())
            with pytest.raises(TransportError) as err:
                await mgr.start()
            assert str(err.value) == (
                f"cannot listen on udp:127.0.0.1:{port}: Address already in use"
            )
            assert mgr._servers == []

    arun(main)


def test_port_zero_gives_udp_and_tcp_the_same_port(arun: Callable[..., Any]) -> None:
    """'127.0.0.1:0' listens on UDP and TCP, on one port when it is free for both."""

    async def main() -> None:
        mgr, _ = await started(["127.0.0.1:0"])
        try:
            assert port_of(mgr, "udp") == port_of(mgr, "tcp") != 0
            assert [s.proto for s in mgr.bound] == ["udp", "tcp"]
        finally:
            await mgr.stop()

    arun(main)

