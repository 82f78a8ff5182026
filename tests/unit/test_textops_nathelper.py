"""textops, corex, siputils additions, nathelper and the media relay stubs, via cfg and KSR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.modules import default_modules
from ksrpy.modules.textops import parse_subst, posix_regex
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo
from tests.unit.test_cfg_compile import _engine, _request
from tests.unit.test_kemi_pv import CaptureTransport

MODS = """\
loadmodule "sl.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "corex.so"
loadmodule "nathelper.so"
loadmodule "rtpproxy.so"
loadmodule "rtpengine.so"
"""

RCV = ReceiveInfo("udp", "203.0.113.7", 40000, "127.0.0.1", 5070, None, 4)
SDP = "v=0\r\no=- 1 1 IN IP4 192.168.1.5\r\ns=-\r\nc=IN IP4 192.168.1.5\r\nt=0 0\r\n" \
      "m=audio 4000 RTP/AVP 0\r\n"


def _raw(ruri: str = "sip:bob@127.0.0.1:5070", method: str = "INVITE", extra: str = "",
         body: str = "", via: str = "10.0.0.9:5060") -> bytes:
    head = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1\r\n"
            "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
            f"Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}")
    if body:
        head += "Content-Type: application/sdp\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


@pytest.fixture
def engine() -> Engine:
    eng = Engine()
    for name in default_modules():
        eng.load_module(name)
    eng.attach_transport(CaptureTransport())  # type: ignore[arg-type]
    return eng


def _ctx(engine: Engine, raw: bytes | None = None, rcv: ReceiveInfo = RCV) -> Context:
    ctx = Context(engine, SIPMessage.parse(raw or _raw()), rcv)
    engine.current = ctx
    return ctx


def _cfg(tmp_path: Path, body: str) -> Engine:
    return _engine(tmp_path, body, header=MODS)


def _out(ctx: Context) -> str:
    return ctx.msg.to_bytes().decode()


# ------------------------------------------------------------------ regex translation


def test_posix_regex_is_newline_sensitive_and_case_insensitive() -> None:
    rx = posix_regex("^to:.*$")
    text = "From: a\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n"
    m = rx.search(text)
    assert m is not None and m.group() == "To: <sip:b@x>\r"
    assert posix_regex("To:[^@]*@").search("To: a\nb@") is None  # [^@] stops at a newline


def test_parse_subst_fields_and_errors() -> None:
    expr = parse_subst("/^sip:([0-9]+)@(.*)$/sip:3463\\1@\\2/i")
    assert expr.regex.flags & 2 and not expr.global_
    with pytest.raises(ValueError, match="no group"):
        parse_subst("/a/\\1/")
    with pytest.raises(ValueError, match="unknown flags"):
        parse_subst("/a/b/x")


# ---------------------------------------------------------------------- textops in cfg


def test_cfg_header_edits_reach_the_forwarded_request(tmp_path: Path) -> None:
    engine = _cfg(tmp_path, """
        request_route {
            append_hf("X-App: $fU\\r\\n");
            append_hf("X-After-CallID: 1\\r\\n", "Call-ID");
            insert_hf("X-Top: 1\\r\\n");
            insert_hf("X-Before-CSeq: 1\\r\\n", "CSeq");
            remove_hf("Max-Forwards");
            $du = "sip:127.0.0.1:5099";
            forward();
        }
    """)
    out = _request(engine, method="OPTIONS")
    assert len(out) == 1
    text = out[0].to_bytes().decode()
    names = [h.name for h in out[0].headers()]
    assert "Max-Forwards" not in names
    # Above the received headers (the proxy's own Via goes in at the same spot).
    assert names.index("X-Top") < names.index("From") and names.count("Via") == 2
    assert names.index("X-After-CallID") == names.index("Call-ID") + 1
    assert names.index("X-Before-CSeq") == names.index("CSeq") - 1
    assert "X-App: alice\r\n" in text


def test_cfg_return_codes_as_reply_reason(tmp_path: Path) -> None:
    engine = _cfg(tmp_path, """
        request_route {
            remove_hf("X-Nope"); $var(a) = $rc;
            remove_hf_re("^X-Dup"); $var(b) = $rc;
            search("^call-id: c1"); $var(c) = $rc;
            search_body("m=audio"); $var(d) = $rc;
            is_present_hf_re("^x-dup"); $var(e) = $rc;
            cmp_str("abc", "abd"); $var(f) = $rc;
            cmp_istr("$rU", "BOB"); $var(g) = $rc;
            starts_with("$rU", "bo"); $var(h) = $rc;
            has_body(); $var(i) = $rc;
            $var(r) = "" + $var(a) + " " + $var(b) + " " + $var(c) + " " + $var(d) + " " + $var(e);
            sl_send_reply("200", "$var(r) $var(f) $var(g) $var(h) $var(i)");
        }
    """)
    out = _request(engine, ruri="sip:bob@127.0.0.1:5070",
                   extra="X-Dup-A: 1\r\nX-Dup-B: 2\r\n")
    assert out[0].reason == "-1 2 1 -1 1 -2 1 1 -1"
