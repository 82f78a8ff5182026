"""KSR functions and pseudo-variables on an in-memory engine (no sockets)."""

from __future__ import annotations

from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.modules import default_modules
from ksrpy.script.kemi import OutsideRouteError, build_ksr
from ksrpy.script.pv import PVError, resolve
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec, ReceiveInfo

REQ = (
    "INVITE sip:bob@127.0.0.1:5070;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bK-1;rport\r\n"
    "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=ft1\r\n"
    "To: <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: cid-42\r\n"
    "CSeq: 17 INVITE\r\n"
    "Max-Forwards: {mf}\r\n"
    "User-Agent: friendly-scanner\r\n"
    "X-Two: a\r\nX-Two: b\r\n"
    "Content-Length: 0\r\n\r\n"
)
RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)


class CaptureTransport:
    """Records what the engine sends instead of using sockets."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int, bytes, dict[str, Any]]] = []
        self.bound = [ListenSpec("udp", "127.0.0.1", 5070)]

    def send(self, proto: str, ip: str, port: int, data: bytes, **kw: Any) -> bool:
        self.sent.append((proto, ip, port, data, kw))
        return True


@pytest.fixture
def engine() -> Engine:
    eng = Engine()
    for name in default_modules():
        eng.load_module(name)
    eng.attach_transport(CaptureTransport())  # type: ignore[arg-type]
    return eng


def _ctx(engine: Engine, mf: str = "70", raw: str | None = None) -> Context:
    msg = SIPMessage.parse((raw or REQ.format(mf=mf)).encode())
    ctx = Context(engine, msg, RCV)
    engine.current = ctx
    return ctx


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("$si", "10.9.9.9"), ("$sp", 40000), ("$Ri", "127.0.0.1"), ("$Rp", 5070),
        ("$proto", "udp"), ("$rm", "INVITE"), ("$ru", "sip:bob@127.0.0.1:5070;transport=udp"),
        ("$rU", "bob"), ("$rd", "127.0.0.1"), ("$rp", 5070),
        ("$fu", "sip:alice@atlanta.example.com"),
        ("$fU", "alice"), ("$fd", "atlanta.example.com"), ("$fn", "Alice"), ("$ft", "ft1"),
        ("$tu", "sip:bob@biloxi.example.com"), ("$tU", "bob"), ("$td", "biloxi.example.com"),
        ("$tt", None), ("$ci", "cid-42"), ("$cs", "17"), ("$ua", "friendly-scanner"),
        ("$rs", None), ("$rr", None), ("$du", None), ("$var(unset)", 0), ("$hdr(X-Two)", "a"),
        ("$hdr(x-two[1])", "b"), ("$hdr(X-Two[-1])", "b"), ("$hdr(Missing)", None),
        ("$hdrc(X-Two)", 2), ("$mt", 1), ("$null", None),
    ],
)
def test_pv_values(engine: Engine, name: str, value: object) -> None:
    assert resolve(name).get(_ctx(engine)) == value


def test_pv_setters(engine: Engine) -> None:
    ctx = _ctx(engine)
    resolve("$rU").set(ctx, "carol")  # type: ignore[misc]
    assert resolve("$ru").get(ctx) == "sip:carol@127.0.0.1:5070;transport=udp"
    resolve("$rd").set(ctx, "example.net")  # type: ignore[misc]
    resolve("$rp").set(ctx, 5099)  # type: ignore[misc]
    assert resolve("$ru").get(ctx) == "sip:carol@example.net:5099;transport=udp"
    assert ctx.msg.ruri == "sip:bob@127.0.0.1:5070;transport=udp"  # received R-URI kept
    resolve("$du").set(ctx, "sip:10.0.0.1:5060")  # type: ignore[misc]
    assert ctx.dst_uri == "sip:10.0.0.1:5060"
    resolve("$du").set(ctx, None)  # type: ignore[misc]
    assert ctx.dst_uri is None
    resolve("$var(n)").set(ctx, 5)  # type: ignore[misc]
    assert resolve("$var(n)").get(ctx) == 5


def test_pv_errors() -> None:
    with pytest.raises(PVError, match="unknown pseudo-variable \\$nosuch"):
        resolve("$nosuch")
    with pytest.raises(PVError, match="class"):
        resolve("$nosuch(x)")
    with pytest.raises(PVError, match="malformed"):
        resolve("si")
    assert resolve("$si").set is None


def test_ksr_return_conventions(engine: Engine) -> None:
    ksr = build_ksr(engine)
    _ctx(engine)
    assert ksr.is_method("invite") is True
    assert ksr.is_method_in("RB") is False
    assert ksr.is_method_in("BI") is True
    assert ksr.is_INVITE() is True and ksr.is_ACK() is False
    # siputils returns the raw int, as Kamailio's KEMI does (-1 is truthy in Python!).
    assert ksr.siputils.has_totag() == -1
    assert ksr.siputils.is_request() == 1
    assert ksr.pv.get("$si") == "10.9.9.9"
    assert ksr.pv.gete("$du") == ""
    assert ksr.pv.is_null("$du") is True
    ksr.pv.sets("$var(a)", "x")
    assert ksr.pv.get("$var(a)") == "x"
    assert ksr.is_myself_ruri() is True
    assert ksr.is_myself("sip:127.0.0.1:5071") is False
    assert ksr.is_myself("sip:127.0.0.1:5070") is True


def test_ksr_outside_a_route_is_a_clear_error(engine: Engine) -> None:
    ksr = build_ksr(engine)
    engine.current = None
    with pytest.raises(OutsideRouteError, match="outside a route"):
        ksr.is_INVITE()


@pytest.mark.parametrize(("mf", "code", "after"), [("70", 1, "69"), ("0", -1, "0"),
                                                   ("abc", -2, "abc"), ("200", 1, "70")])
def test_process_maxfwd_codes(engine: Engine, mf: str, code: int, after: str) -> None:
    ctx = _ctx(engine, mf)
    assert engine.modules["maxfwd"].process_maxfwd(ctx, "10") == code
    assert SIPMessage.parse(ctx.msg.to_bytes()).get_header("Max-Forwards") == after


def test_process_maxfwd_adds_missing_header(engine: Engine) -> None:
    raw = REQ.format(mf="1").replace("Max-Forwards: 1\r\n", "")
    ctx = _ctx(engine, raw=raw)
    assert engine.modules["maxfwd"].process_maxfwd(ctx, 10) == 2
    assert SIPMessage.parse(ctx.msg.to_bytes()).get_header("Max-Forwards") == "10"


@pytest.mark.parametrize(("mf", "limit", "code"), [("5", 10, 1), ("10", 10, -1), ("x", 10, -3)])
def test_is_maxfwd_lt(engine: Engine, mf: str, limit: int, code: int) -> None:
    assert engine.modules["maxfwd"].is_maxfwd_lt(_ctx(engine, mf), limit) == code


def test_sl_reply_goes_to_rport_and_refuses_ack(engine: Engine) -> None:
    ctx = _ctx(engine)
    sl = engine.modules["sl"]
    assert sl.sl_send_reply(ctx, "404", "Nope") == 1
    proto, ip, port, data, kw = engine.transport.sent[-1]  # type: ignore[union-attr]
    assert (proto, ip, port) == ("udp", "10.9.9.9", 40000)
    assert data.startswith(b"SIP/2.0 404 Nope\r\n")
    ack = _ctx(engine, raw=REQ.format(mf="70").replace("INVITE", "ACK"))
    assert sl.sl_send_reply(ack, 200, "OK") == -1
    with pytest.raises(ValueError, match="outside 100-699"):
        sl.sl_send_reply(ctx, 99, "x")


def test_reply_without_rport_goes_to_via_port(engine: Engine) -> None:
    ctx = _ctx(engine, raw=REQ.format(mf="70").replace(";rport", ""))
    engine.modules["sl"].sl_send_reply(ctx, 200, "OK")
    _proto, ip, port, _data, _kw = engine.transport.sent[-1]  # type: ignore[union-attr]
    assert (ip, port) == ("10.9.9.9", 5062)


def test_engine_answers_soft_parse_errors(engine: Engine) -> None:
    raw = REQ.format(mf="70").replace("SIP/2.0\r\nVia", "SIP/2.1\r\nVia", 1).encode()
    engine.handle(raw, RCV)
    assert engine.transport.sent[-1][3].startswith(b"SIP/2.0 505 ")  # type: ignore[union-attr]
    before = len(engine.transport.sent)  # type: ignore[union-attr]
    engine.handle(b"\x00\x01garbage", RCV)
    assert len(engine.transport.sent) == before  # type: ignore[union-attr]
    assert engine.stats["bad_messages"] == 2
