"""rr: Record-Route headers and Route processing, each case on a hand-built message.

The expected Record-Route strings are what Kamailio 5.6.3's rr.so wrote for the
same requests (port left out at 5060, outbound header first when doubling).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.modules.exports import RouteType
from ksrpy.modules.rr import RrModule
from ksrpy.script.kemi import build_ksr
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec, ReceiveInfo
from tests.unit.test_cfg_compile import _engine, _request

ME = "127.0.0.1:5070"
RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)


class Capture:
    """A transport that records what is sent."""

    def __init__(self, bound: list[ListenSpec]) -> None:
        self.bound = bound
        self.sent: list[tuple[str, str, int, bytes, dict[str, Any]]] = []

    def send(self, proto: str, ip: str, port: int, data: bytes, **kw: Any) -> bool:
        self.sent.append((proto, ip, port, data, kw))
        return True


def _eng(*listens: str | ListenSpec, **params: Any) -> tuple[Engine, RrModule]:
    engine = Engine()
    rr = engine.load_module("rr", params)
    assert isinstance(rr, RrModule)
    specs = [t if isinstance(t, ListenSpec) else ListenSpec.parse(t)
             for t in (listens or ("udp:127.0.0.1:5070",))]
    engine.attach_transport(Capture(specs))  # type: ignore[arg-type]
    return engine, rr


def _msg(ruri: str = "sip:bob@10.0.0.2:5062", *, routes: tuple[str, ...] = (),
         to_tag: str | None = None, from_tag: str = "f1", method: str = "INVITE") -> str:
    lines = [f"{method} {ruri} SIP/2.0", "Via: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK1",
             *(f"Route: {r}" for r in routes),
             f"From: <sip:alice@example.com>;tag={from_tag}",
             "To: <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else ""),
             "Call-ID: c1", f"CSeq: 1 {method}", "Max-Forwards: 70", "Content-Length: 0"]
    return "\r\n".join(lines) + "\r\n\r\n"


def _ctx(engine: Engine, raw: str, rcv: ReceiveInfo = RCV) -> Context:
    ctx = Context(engine, SIPMessage.parse(raw.encode()), rcv)
    engine.current = ctx
    return ctx


def _out(ctx: Context) -> SIPMessage:
    """The request as it would be forwarded now."""
    msg = ctx.msg
    with msg.temporary_edits():
        if ctx.new_ruri is not None:
            msg.set_ruri(ctx.new_ruri)
        return SIPMessage.parse(msg.to_bytes())


def _sent(engine: Engine) -> SIPMessage:
    return SIPMessage.parse(engine.transport.sent[-1][3])  # type: ignore[union-attr]


# ------------------------------------------------------------------ record_route


def test_record_route_single_header_above_via() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    assert rr.record_route(ctx) == 1
    assert engine.forward_request(ctx)
    out = _sent(engine)
    assert out.get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1>"]
    # Like Kamailio: Record-Route is the first header, above our Via.
    assert out.headers()[0].name == "Record-Route" and out.headers()[1].name == "Via"


def test_record_route_twice_fails() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    assert rr.record_route(ctx) == 1
    assert rr.record_route(ctx) == -1
    assert rr.record_route_preset(ctx, "1.2.3.4") == -1
    assert len(_out(ctx).get_headers("Record-Route")) == 1


def test_record_route_params_and_add_rr_param_order() -> None:
    # Kamailio: add_rr_param(";a=1"); record_route(";p=bob"); add_rr_param(";b=2")
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    assert rr.add_rr_param(ctx, ";a=1") == 1
    assert rr.record_route(ctx, ";p=bob") == 1
    assert rr.add_rr_param(ctx, ";b=2") == 1
    assert _out(ctx).get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1;p=bob;a=1;b=2>"]


def test_port_5060_left_out_and_full_lr_and_no_fromtag() -> None:
    engine, rr = _eng("udp:127.0.0.1:5060", enable_full_lr=1, append_fromtag=0)
    rcv = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5060, None, 4)
    ctx = _ctx(engine, _msg(), rcv)
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == ["<sip:127.0.0.1;lr=on>"]


def test_double_rr_when_transport_changes() -> None:
    engine, rr = _eng("udp:127.0.0.1:5070", "tcp:127.0.0.1:5070")
    ctx = _ctx(engine, _msg("sip:bob@10.0.0.2:5062;transport=tcp"))
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == [
        f"<sip:{ME};transport=tcp;r2=on;lr;ftag=f1>",
        f"<sip:{ME};r2=on;lr;ftag=f1>",
    ]
    # enable_double_rr=0: one header, for the receiving socket.
    engine, rr = _eng("udp:127.0.0.1:5070", "tcp:127.0.0.1:5070", enable_double_rr=0)
    ctx = _ctx(engine, _msg("sip:bob@10.0.0.2:5062;transport=tcp"))
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1>"]


def test_double_rr_mode_2_always_explicit() -> None:
    engine, rr = _eng(enable_double_rr=2)
    ctx = _ctx(engine, _msg())
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == [
        f"<sip:{ME};transport=udp;r2=on;lr;ftag=f1>",
        f"<sip:{ME};transport=udp;r2=on;lr;ftag=f1>",
    ]


def test_on_send_hook_fits_the_real_socket() -> None:
    engine, rr = _eng("udp:127.0.0.1:5070", "tcp:127.0.0.1:5070")
    ctx = _ctx(engine, _msg())
    rr.record_route(ctx)
    rr.add_rr_param(ctx, ";x=1")
    assert len(_out(ctx).get_headers("Record-Route")) == 1
    hooks = ctx.extra["on_send"]
    assert len(hooks) == 1
    tcp = engine.transport.bound[1]  # type: ignore[union-attr]
    with ctx.msg.temporary_edits():
        assert hooks[0](ctx, tcp) == []
        doubled = SIPMessage.parse(ctx.msg.to_bytes()).get_headers("Record-Route")
    assert doubled == [f"<sip:{ME};transport=tcp;r2=on;lr;ftag=f1;x=1>",
                       f"<sip:{ME};r2=on;lr;ftag=f1;x=1>"]
    # Outside the temporary block the guess for the UDP target is back.
    assert _out(ctx).get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1;x=1>"]


def test_advertised_listen_and_ipv6() -> None:
    engine, rr = _eng(ListenSpec("udp", "127.0.0.1", 5070, ("203.0.113.7", 5080)))
    ctx = _ctx(engine, _msg())
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == ["<sip:203.0.113.7:5080;lr;ftag=f1>"]
    engine, rr = _eng("udp:[::1]:5070")
    rcv = ReceiveInfo("udp", "::1", 40000, "::1", 5070, None, 6)
    ctx = _ctx(engine, _msg("sip:bob@[::1]:5062"), rcv)
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == ["<sip:[::1]:5070;lr;ftag=f1>"]


def test_sips_ruri_and_add_username() -> None:
    engine, rr = _eng(add_username=1)
    ctx = _ctx(engine, _msg("sips:bob@10.0.0.2:5062"))
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == [f"<sips:bob@{ME};lr;ftag=f1>"]
    engine, rr = _eng(ignore_sips=1)
    ctx = _ctx(engine, _msg("sips:bob@10.0.0.2:5062"))
    rr.record_route(ctx)
    assert _out(ctx).get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1>"]


def test_record_route_preset_and_advertised_address() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    assert rr.record_route_preset(ctx, "1.2.3.4:5090;x=y") == 1
    assert _out(ctx).get_headers("Record-Route") == ["<sip:1.2.3.4:5090;x=y;ftag=f1;lr>"]
    ctx = _ctx(engine, _msg())
    assert rr.record_route_preset(ctx, "1.2.3.4;r2=on", "5.6.7.8;r2=on") == 1
    assert _out(ctx).get_headers("Record-Route") == ["<sip:1.2.3.4;r2=on;ftag=f1;lr>",
                                                     "<sip:5.6.7.8;r2=on;ftag=f1;lr>"]
    engine, rr = _eng(enable_double_rr=0)
    ctx = _ctx(engine, _msg())
    assert rr.record_route_preset(ctx, "1.2.3.4", "5.6.7.8") == -1
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    assert rr.record_route_advertised_address(ctx, "proxy.example.com:5090") == 1
    rr.add_rr_param(ctx, ";n=1")
    assert _out(ctx).get_headers("Record-Route") == [
        "<sip:proxy.example.com:5090;ftag=f1;lr;n=1>"]


def test_remove_record_route() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    rr.record_route(ctx)
    assert rr.remove_record_route(ctx) == 1
    assert engine.forward_request(ctx)
    assert _sent(engine).get_headers("Record-Route") == []
    assert rr.remove_record_route(_ctx(engine, _msg())) == 1  # nothing to remove: still 1


def test_branch_route_may_record_route_again() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg())
    ctx.route_type = RouteType.BRANCH
    assert rr.record_route(ctx) == 1
    ctx.route_type = RouteType.REQUEST
    assert rr.record_route(ctx) == 1


# ------------------------------------------------------------------- loose_route


def test_no_route_header() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(to_tag="t1"))
    assert rr.loose_route(ctx) == -1
    assert ctx.dst_uri is None and rr.rr_next_hop_route(ctx) == -1


def test_in_dialog_our_route_then_next_route() -> None:
    engine, rr = _eng()
    raw = _msg("sip:bob@10.0.0.2:5062", to_tag="t1",
               routes=(f"<sip:{ME};lr;ftag=f1>", "<sip:10.0.0.3:5064;lr>"))
    ctx = _ctx(engine, raw)
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.3:5064;lr"
    assert ctx.new_ruri is None  # loose routing: R-URI untouched
    assert rr.rr_next_hop_route(ctx) == 1
    assert _out(ctx).get_headers("Route") == ["<sip:10.0.0.3:5064;lr>"]


def test_in_dialog_only_our_route_goes_to_ruri() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg("sip:bob@10.0.0.2:5062", to_tag="t1",
                            routes=(f"<sip:{ME};lr;ftag=f1>",)))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri is None and ctx.new_ruri is None
    assert rr.rr_next_hop_route(ctx) == -1
    assert engine.forward_request(ctx)
    sent = engine.transport.sent[-1]  # type: ignore[union-attr]
    assert sent[1:3] == ("10.0.0.2", 5062)
    assert _sent(engine).get_headers("Route") == []


def test_several_entries_in_one_header() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(to_tag="t1", routes=(
        f"<sip:{ME};lr>, <sip:10.0.0.3;lr>, <sip:10.0.0.4;lr>",)))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.3;lr"
    assert _out(ctx).get_header_values("Route") == ["<sip:10.0.0.3;lr>", "<sip:10.0.0.4;lr>"]


def test_top_route_not_ours_is_routed_to() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(to_tag="t1", routes=("<sip:10.0.0.3;lr>",)))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.3;lr"
    assert _out(ctx).get_headers("Route") == ["<sip:10.0.0.3;lr>"]  # kept for the next hop
    assert rr.rr_next_hop_route(ctx) == -1


def test_double_rr_routes_both_removed() -> None:
    engine, rr = _eng("udp:127.0.0.1:5070", "tcp:127.0.0.1:5070")
    ctx = _ctx(engine, _msg(to_tag="t1", routes=(
        f"<sip:{ME};r2=on;lr;ftag=f1>", f"<sip:{ME};transport=tcp;r2=on;lr;ftag=f1>",
        "<sip:10.0.0.3;lr>")))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.3;lr"
    assert _out(ctx).get_headers("Route") == ["<sip:10.0.0.3;lr>"]
    # Both ours and nothing else: routed by the R-URI.
    ctx = _ctx(engine, _msg(to_tag="t1", routes=(
        f"<sip:{ME};r2=on;lr>, <sip:{ME};transport=tcp;r2=on;lr>",)))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri is None and _out(ctx).get_headers("Route") == []


def test_preloaded_route() -> None:
    engine, rr = _eng()
    # Initial request whose only Route is us: removed, -3 (false), loose_route_preloaded true.
    ctx = _ctx(engine, _msg(routes=(f"<sip:{ME};lr>",)))
    assert rr.loose_route(ctx) == -3
    assert _out(ctx).get_headers("Route") == []
    assert rr.loose_route_preloaded(_ctx(engine, _msg(routes=(f"<sip:{ME};lr>",)))) == 1
    # Preloaded route to another proxy: routed there (1), not "preloaded" for the helper.
    ctx = _ctx(engine, _msg(routes=(f"<sip:{ME};lr>", "<sip:10.0.0.3;lr>")))
    assert rr.loose_route(ctx) == 1 and ctx.dst_uri == "sip:10.0.0.3;lr"
    assert rr.loose_route_preloaded(
        _ctx(engine, _msg(routes=(f"<sip:{ME};lr>", "<sip:10.0.0.3;lr>")))) == -1
    assert rr.loose_route_preloaded(_ctx(engine, _msg())) == -1


def test_next_hop_strict_router() -> None:
    # RFC 3261 §16.6 step 6: R-URI becomes the last Route, the strict router the R-URI.
    engine, rr = _eng()
    ctx = _ctx(engine, _msg("sip:bob@10.0.0.2:5062", to_tag="t1",
                            routes=(f"<sip:{ME};lr>", "<sip:10.0.0.3:5064>", "<sip:10.0.0.4;lr>")))
    assert rr.loose_route(ctx) == 1
    assert ctx.new_ruri == "sip:10.0.0.3:5064" and ctx.dst_uri is None
    out = _out(ctx)
    assert out.ruri == "sip:10.0.0.3:5064"
    assert out.get_header_values("Route") == ["<sip:10.0.0.4;lr>", "<sip:bob@10.0.0.2:5062>"]


def test_previous_hop_strict_router() -> None:
    # The R-URI is our Record-Route (a strict router put it there): restore the last Route.
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(f"sip:{ME};lr;ftag=f1;nat=yes", to_tag="t1",
                            routes=("<sip:10.0.0.3;lr>", "<sip:bob@10.0.0.2:5062>")))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.3;lr"
    assert ctx.new_ruri == "sip:bob@10.0.0.2:5062"
    assert _out(ctx).get_headers("Route") == ["<sip:10.0.0.3;lr>"]
    assert rr.check_route_param(ctx, "nat=yes") == 1
    # Next hop strict as well: it becomes the R-URI.
    ctx = _ctx(engine, _msg(f"sip:{ME};lr", to_tag="t1",
                            routes=("<sip:bob@10.0.0.2:5062>",)))
    assert rr.loose_route(ctx) == 1
    assert ctx.new_ruri == "sip:bob@10.0.0.2:5062" and ctx.dst_uri is None
    assert _out(ctx).get_headers("Route") == []
    # loose_route_mode(1) skips the strict-router test: plain loose routing.
    ctx = _ctx(engine, _msg(f"sip:{ME};lr", to_tag="t1", routes=("<sip:10.0.0.3;lr>",)))
    assert rr.loose_route_mode(ctx, 1) == 1
    assert ctx.dst_uri == "sip:10.0.0.3;lr" and ctx.new_ruri is None


def test_maddr_route() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(to_tag="t1", routes=(
        f"<sip:{ME};lr>", "<sip:proxy.example.com:5066;maddr=10.0.0.9;lr>")))
    assert rr.loose_route(ctx) == 1
    assert ctx.dst_uri == "sip:10.0.0.9:5066"


def test_bad_route_is_an_error() -> None:
    engine, rr = _eng()
    ctx = _ctx(engine, _msg(to_tag="t1", routes=("<sip:bad host>",)))
    assert rr.loose_route(ctx) == -1


# ------------------------------------------------- route params and direction


def test_check_route_param_and_is_direction() -> None:
    engine, rr = _eng()
    routes = (f"<sip:{ME};lr;ftag=f1;nat=yes>", "<sip:10.0.0.3;lr>")
    ctx = _ctx(engine, _msg(to_tag="t1", routes=routes))
    assert rr.loose_route(ctx) == 1
    assert rr.check_route_param(ctx, "nat=yes") == 1
    assert rr.check_route_param(ctx, "NAT=YES") == 1  # case-insensitive, as Kamailio
    assert rr.check_route_param(ctx, "^;lr;ftag") == 1
    assert rr.check_route_param(ctx, "nat=no") == -1
    assert rr.is_direction(ctx, "downstream") == 1
    assert rr.is_direction(ctx, "upstream") == -1
    # The callee's BYE: its From tag is the dialog's To tag.
    ctx = _ctx(engine, _msg(to_tag="f1", from_tag="t1", routes=routes))
    assert rr.loose_route(ctx) == 1
    assert rr.is_direction(ctx, "upstream") == 1
    assert rr.is_direction(ctx, "downstream") == -1
    assert rr.is_direction(ctx, "sideways") == -6
    # Without loose_route the top Route is looked at when it is ours.
    ctx = _ctx(engine, _msg(to_tag="f1", from_tag="t1", routes=routes))
    assert rr.check_route_param(ctx, "nat=yes") == 1
    ctx = _ctx(engine, _msg(to_tag="t1", routes=("<sip:10.0.0.3;lr;nat=yes>",)))
    assert rr.check_route_param(ctx, "nat=yes") == -1
    assert rr.is_direction(ctx, "downstream") == 1  # no ftag: downstream
    engine, rr = _eng(append_fromtag=0)
    assert rr.is_direction(_ctx(engine, _msg(to_tag="t1", routes=routes)), "upstream") == -6


# ------------------------------------------------------------- KEMI and cfg


def test_kemi_names() -> None:
    engine, _rr = _eng()
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _msg())
    assert ksr.rr.record_route_params(";k=1") == 1
    assert ksr.rr.record_route() == -1
    assert ksr.rr.add_rr_param(";k2=2") == 1
    assert _out(ctx).get_headers("Record-Route") == [f"<sip:{ME};lr;ftag=f1;k=1;k2=2>"]
    assert ksr.rr.remove_record_route() == 1
    _ctx(engine, _msg())
    assert ksr.rr.record_route_preset_one("1.2.3.4") == 1
    _ctx(engine, _msg())
    assert ksr.rr.record_route_preset("1.2.3.4", "5.6.7.8") == 1
    _ctx(engine, _msg())
    assert ksr.rr.record_route_advertised_address("1.2.3.4") == 1
    ctx = _ctx(engine, _msg(to_tag="t1", routes=(f"<sip:{ME};lr;ftag=f1>", "<sip:10.0.0.3;lr>")))
    assert ksr.rr.loose_route() == 1
    assert ksr.rr.next_hop_route() == 1
    assert ksr.rr.check_route_param("ftag=f1") == 1
    assert ksr.rr.is_direction("downstream") == 1
    _ctx(engine, _msg(routes=(f"<sip:{ME};lr>",)))
    assert ksr.rr.loose_route_preloaded() == 1
    _ctx(engine, _msg(f"sip:{ME}", to_tag="t1", routes=("<sip:10.0.0.3;lr>",)))
    assert ksr.rr.loose_route_mode(1) == 1


HEADER = 'loadmodule "sl.so"\nloadmodule "siputils.so"\nloadmodule "rr.so"\n'


def test_cfg_record_route_and_loose_route(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("rr", "enable_full_lr", 1)
        request_route {
            if (has_totag()) {
                if (loose_route()) {
                    if (is_direction("downstream") && check_route_param("nat=yes")) {
                        $du = $du + ";seen=1";
                    }
                    forward();
                    exit;
                }
                sl_send_reply("404", "Not here");
                exit;
            }
            add_rr_param(";nat=yes");
            record_route();
            forward();
        }
    """, header=HEADER)
    sent = _request(engine, ruri="sip:bob@10.0.0.2:5062", method="INVITE")
    assert sent[0].get_headers("Record-Route") == ["<sip:127.0.0.1:5070;lr=on;ftag=f1;nat=yes>"]
    rr = sent[0].get_header("Record-Route")
    extra = f"Route: {rr}\r\nRoute: <sip:10.0.0.3:5064;lr>\r\n"
    raw = ("BYE sip:bob@10.0.0.2:5062 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK2\r\n"
           f"{extra}From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=t9\r\n"
           "Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
    transport: Any = engine.transport
    engine.handle(raw.encode(), RCV)
    _proto, ip, port, data, _kw = transport.sent[-1]
    assert (ip, port) == ("10.0.0.3", 5064)
    bye = SIPMessage.parse(data)
    assert bye.method == "BYE" and bye.get_headers("Route") == ["<sip:10.0.0.3:5064;lr>"]


def test_cfg_all_functions_compile(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            if (loose_route_preloaded()) { sl_send_reply("200", "pre"); exit; }
            if (loose_route_mode("1")) { sl_send_reply("200", "mode"); exit; }
            if (rr_next_hop_route()) { exit; }
            record_route_preset("$Ri:5090", "10.0.0.1;r2=on");
            remove_record_route();
            record_route_advertised_address("$Ri");
            add_rr_param(";u=$rU");
            if (is_direction("upstream")) { exit; }
            sl_send_reply("200", "done");
        }
    """, header=HEADER)
    replies = _request(engine)
    assert [f"{r.status} {r.reason}" for r in replies] == ["200 done"]


def test_docs_mention_every_function() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "proxy.md").read_text()
    for name in RrModule.export_table().functions:
        assert f"`{name}" in text, name


@pytest.mark.parametrize("name", ["record_route", "loose_route", "is_direction",
                                  "record_route_preset", "add_rr_param"])
def test_exports_exist(name: str) -> None:
    assert name in RrModule.export_table().functions
