"""textops, corex, siputils additions, nathelper and the media relay stubs, via cfg and KSR."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.modules import default_modules
from ksrpy.modules.textops import parse_subst, posix_regex
from ksrpy.script.kemi import build_ksr
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


def test_cfg_subst_replace_and_append_to_reply(tmp_path: Path) -> None:
    engine = _cfg(tmp_path, """
        request_route {
            if (is_method("REGISTER")) {
                append_to_reply("Contact: <sip:x@1.2.3.4>;expires=60\\r\\n");
                sl_send_reply("200", "OK");
                exit;
            }
            subst('/^To:(.*)sip:[^@]*@[a-zA-Z0-9.]+(.*)$/t:\\1\\u\\2/ig');
            replace("alice@example", "carol@example");
            replace_all("z9hg4bk", "z9hG4bKx");
            search_append("^Call-ID: c1", "-more");
            subst_uri('/^sip:([a-z]+)@(.*)$/sip:00\\1@\\2/i');
            $du = "sip:127.0.0.1:5099";
            forward();
        }
    """)
    reply = _request(engine, method="REGISTER")[0]
    assert reply.get_header("Contact") == "<sip:x@1.2.3.4>;expires=60"
    fwd = _request(engine, method="OPTIONS", ruri="sip:bob@127.0.0.1:5070")[0]
    assert fwd.ruri == "sip:00bob@127.0.0.1:5070"
    # \u is the R-URI as it was at subst() time; the rest of the line (with \r) is kept.
    assert fwd.get_header("t") == "<sip:bob@127.0.0.1:5070>"
    assert fwd.from_.uri.user == "carol"
    assert fwd.call_id == "c1-more"
    assert fwd.vias[1].branch == "z9hG4bKx1"  # the received Via, edited


def test_subst_user_and_body(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _raw(ruri="sip:123642@example.com;user=phone", body=SDP))
    assert ksr.textops.subst_user("/3642$/36423463/") == 1
    assert ctx.ruri == "sip:1236423463@example.com;user=phone"
    assert ksr.textops.subst_user("/^nomatch$/x/") == -1
    assert ksr.textops.subst_body("/192\\.168\\.1\\.5/198.51.100.1/g") == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert out.body.count(b"198.51.100.1") == 2 and out.content_length == len(out.body)
    # No user: the expression runs on "" and may create one.
    ctx = _ctx(engine, _raw(ruri="sip:example.com"))
    assert ksr.textops.subst_user("/^$/anon/") == 1
    assert ctx.ruri == "sip:anon@example.com"


def test_subst_replacement_expands_pseudo_variables(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine)
    ksr.pv.sets("$avp(prefix)", "99")
    assert ksr.textops.subst_uri("/^sip:(.*)$/sip:$avp(prefix)\\1/") == 1
    assert ctx.ruri == "sip:99bob@127.0.0.1:5070"


def test_kemi_textops_tests(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _raw(extra="Privacy: id;user\r\nP-Asserted-Identity: <sip:a@b>\r\n",
                            body=SDP))
    t = ksr.textops
    assert t.search("^CALL-ID: c1") == 1  # case-insensitive
    assert t.search("^Call-ID: c1$") == -1  # as regcomp: $ is before the \n, after the \r
    assert t.search("Call-ID: c1\r$") == 1  # REG_NEWLINE: . and $ leave \r in the line
    assert t.search("^c=IN IP4 192") == 1
    assert t.search("nothing here") == -1
    assert t.search_body("^m=audio [0-9]+") == 1 and t.search_body("^Call-ID") == -1
    assert t.has_body() == 1 and t.has_body("application/sdp") == 1
    assert t.has_body_type("text/plain") == -1
    assert t.is_privacy("id") == 1 and t.is_privacy("header") == -1
    assert t.is_present_hf_re("^p-asserted") == 1 and t.is_present_hf_re("^X-") == -1
    assert t.is_present_hf("Privacy") == 1
    assert t.cmp_str("a", "a") == 1 and t.cmp_istr("A", "a") == 1
    assert t.starts_with("+358123", "+358") == 1 and t.starts_with("0123", "+358") == -1
    assert t.remove_hf_re("^(privacy|p-asserted-identity)$") == 2
    assert t.remove_hf("Privacy") == 1  # reads still see the received message
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert not out.has_header("Privacy") and not out.has_header("P-Asserted-Identity")


def test_kemi_header_edits_and_bodies(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine)
    t = ksr.textops
    assert t.append_hf("X-A: 1") == 1  # a missing CRLF is added
    assert t.append_hf_hdr("X-B: 2\r\n", "From") == 1
    assert t.insert_hf_hdr("X-C: 3\r\n", "To") == 1
    assert t.append_hf_hdr("X-D: 4\r\n", "X-Missing") == -1
    assert t.has_body() == -1
    assert t.set_body("hello", "text/plain") == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    names = [h.name for h in out.headers()]
    assert names.index("X-B") == names.index("From") + 1
    assert names.index("X-C") == names.index("To") - 1
    assert names[-1] == "X-A" or "X-A" in names
    assert out.body == b"hello" and out.get_header("Content-Type") == "text/plain"
    assert out.content_length == 5
    assert t.set_reply_body("<b/>", "text/xml") == 1
    assert ctx.extra["reply_body"] == (b"<b/>", "text/xml")
    assert t.append_to_reply("X-R: 1\r\nX-S: 2\r\n") == 1
    assert ctx.reply_lumps == ["X-R: 1", "X-S: 2"]


def test_bad_regex_is_an_error(engine: Engine) -> None:
    ksr = build_ksr(engine)
    _ctx(engine)
    with pytest.raises(ValueError):
        ksr.textops.search("a[")
    with pytest.raises(ValueError):
        ksr.textops.subst("/a/b")


# ------------------------------------------------------------------------------ corex


def test_corex_functions(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _raw(extra="User-Agent: phone/1\r\n"))
    assert ksr.corex.has_ruri_user() == 1 and ksr.corex.has_user_agent() == 1
    assert ksr.corex.is_faked_msg() == -1
    ctx.dst_uri = "sip:10.0.0.1:5080"
    assert ksr.corex.append_branch() == 1
    assert ksr.corex.append_branch_uri_q("sip:carol@example.net", "0.5") == 1
    assert ksr.corex.append_branch_uri("not a uri") == -1
    assert ksr.corex.append_branch_uri_q("sip:dave@example.net", "2") == -1
    assert ctx.extra["branches"] == [
        {"uri": "sip:bob@127.0.0.1:5070", "dst_uri": "sip:10.0.0.1:5080", "path": None,
         "q": -1, "flags": 0, "socket": None},
        {"uri": "sip:carol@example.net", "dst_uri": None, "path": None, "q": 500,
         "flags": 0, "socket": None},
    ]
    _ctx(engine, _raw(ruri="sip:example.com"))
    assert ksr.corex.has_ruri_user() == -1 and ksr.corex.has_user_agent() == -1


def test_corex_is_loadable_in_cfg(tmp_path: Path) -> None:
    engine = _cfg(tmp_path, """
        request_route {
            append_branch("sip:carol@example.net", "0.7");
            $var(n) = $rc;
            sl_send_reply("200", "[$var(n)]");
        }
    """)
    assert engine.modules.get("corex") is not None
    assert _request(engine)[0].reason == "[1]"


# --------------------------------------------------------------------------- siputils


def test_siputils_uri_functions(engine: Engine) -> None:
    ksr = build_ksr(engine)
    auth = ('Proxy-Authorization: Digest username="alice", realm="x", nonce="n", '
            'uri="sip:x", response="0123456789abcdef0123456789abcdef"\r\n')
    ctx = _ctx(engine, _raw(ruri="sip:+4915112345@127.0.0.1:5070;user=phone", extra=auth))
    s = ksr.siputils
    assert s.is_user("alice") == 1 and s.is_user("bob") == -1
    assert s.uri_param("user") == 1 and s.uri_param_value("user", "phone") == 1
    assert s.uri_param_value("user", "ip") == -1 and s.uri_param("lr") == -1
    assert s.add_uri_param("nat=yes") == 1
    assert ctx.ruri == "sip:+4915112345@127.0.0.1:5070;user=phone;nat=yes"
    assert s.add_uri_param("bad param") == -1
    assert s.is_uri_host_local() == 1
    assert s.is_e164("+4915112345") == 1 and s.is_e164("4915112345") == -1
    assert s.is_e164("+1") == -1 and s.is_e164("+1234567890123456") == -1
    assert s.is_uri_user_e164("sip:+4930123@x.org") == 1
    assert s.is_uri_user_e164("sip:030123@x.org") == -1
    assert s.is_uri("sip:a@b") == 1 and s.is_uri("tel:+123") == 1 and s.is_uri("b") == -1
    assert s.is_numeric("0123") == 1 and s.is_numeric("12a") == -1 and s.is_numeric("") == -1
    assert s.is_alphanum("ab12") == 1 and s.is_alphanum("ab-12") == -1
    assert s.cmp_uri("sip:Bob@EXAMPLE.com;transport=udp", "sip:Bob@example.com;TRANSPORT=UDP") == 1
    assert s.cmp_uri("sip:bob@example.com", "sip:BOB@example.com") == -1
    assert s.cmp_uri("sip:bob@example.com", "sip:bob@example.com:5060") == -1
    assert s.cmp_uri("sip:bob@example.com", "sip:bob@example.com;transport=tcp") == -1
    assert s.cmp_uri("sip:bob@example.com;foo=1", "sip:bob@example.com") == 1
    assert s.cmp_uri("sip:bob@", "sip:bob@example.com") == -2
    assert s.cmp_aor("sip:bob@example.com:5060;x=1", "sip:bob@EXAMPLE.com") == 1
    assert s.cmp_aor("sip:bob@example.com", "sip:alice@example.com") == -1
    _ctx(engine, _raw(ruri="sip:bob@elsewhere.example"))
    assert s.is_uri_host_local() == -1


# -------------------------------------------------------------------------- nathelper


def test_nat_uac_test_bits(engine: Engine) -> None:
    ksr = build_ksr(engine)
    contact = "Contact: <sip:alice@192.168.1.5:5062>\r\n"
    _ctx(engine, _raw(extra=contact, body=SDP, via="192.168.1.5:5062"))
    n = ksr.nathelper.nat_uac_test
    assert [n(b) for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)] == \
        [1, 1, 1, 1, 1, -1, -1, 1, 1, -1]
    assert n(19) == 1
    # A public client that says where it is: nothing detected.
    public = ReceiveInfo("udp", "203.0.113.7", 5060, "127.0.0.1", 5070, None, 4)
    _ctx(engine, _raw(extra="Contact: <sip:alice@203.0.113.7>\r\n", via="203.0.113.7"),
         public)
    assert n(1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256) == -1
    private = ReceiveInfo("ws", "10.1.1.1", 5060, "127.0.0.1", 5070, None, 4)
    _ctx(engine, _raw(via="10.1.1.1"), private)
    assert n(32) == 1 and n(64) == 1 and ksr.nathelper.is_rfc1918("100.64.0.1") == 1
    assert ksr.nathelper.is_rfc1918("100.128.0.1") == -1


def test_fix_nated_contact_and_aliases(engine: Engine) -> None:
    ksr = build_ksr(engine)
    nh = ksr.nathelper
    ctx = _ctx(engine, _raw(extra='Contact: "A" <sip:alice@192.168.1.5:5062;ob>;expires=60\r\n'))
    assert nh.fix_nated_contact() == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert out.get_header("Contact") == '"A" <sip:alice@203.0.113.7:40000;ob>;expires=60'

    ctx = _ctx(engine, _raw(extra="Contact: sip:alice@192.168.1.5:5062;expires=60\r\n"))
    assert nh.add_contact_alias() == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert out.get_header("Contact") == \
        "<sip:alice@192.168.1.5:5062;alias=203.0.113.7~40000~1>;expires=60"

    ctx = _ctx(engine, _raw(extra="Contact: <sip:alice@203.0.113.7:40000>\r\n"))
    assert nh.add_contact_alias() == 2  # the Contact already is the source address
    assert nh.add_contact_alias_addr("198.51.100.2", "5070", "tcp") == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert out.get_header("Contact") == "<sip:alice@203.0.113.7:40000;alias=198.51.100.2~5070~2>"

    ctx = _ctx(engine, _raw(extra="Contact: <sip:a@10.0.0.2;alias=1.1.1.1~1~1>\r\n"))
    assert nh.set_contact_alias_trim() == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert out.get_header("Contact") == "<sip:a@10.0.0.2;alias=203.0.113.7~40000~1>"
    _ctx(engine)
    assert nh.fix_nated_contact() == -1 and nh.set_contact_alias() == -1


def test_handle_ruri_alias(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _raw(ruri="sip:alice@10.0.0.2:5062;alias=203.0.113.7~40000~2;ob"))
    assert ksr.nathelper.handle_ruri_alias() == 1
    assert ctx.dst_uri == "sip:203.0.113.7:40000;transport=tcp"
    assert ctx.ruri == "sip:alice@10.0.0.2:5062;ob"
    ctx = _ctx(engine, _raw(ruri="sip:a@h;alias=1.1.1.1~5060~1;alias=2.2.2.2~5070~1"))
    assert ksr.nathelper.handle_ruri_alias_mode(1) == 1
    assert ctx.dst_uri == "sip:2.2.2.2:5070" and ctx.ruri == "sip:a@h;alias=1.1.1.1~5060~1"
    _ctx(engine)
    assert ksr.nathelper.handle_ruri_alias() == 2
    _ctx(engine, _raw(ruri="sip:a@h;alias=1.1.1.1~x~1"))
    assert ksr.nathelper.handle_ruri_alias() == -1


def test_fix_nated_sdp(engine: Engine) -> None:
    ksr = build_ksr(engine)
    ctx = _ctx(engine, _raw(body=SDP))
    assert ksr.nathelper.fix_nated_sdp(2 | 8 | 1) == 1
    out = SIPMessage.parse(ctx.msg.to_bytes())
    assert b"c=IN IP4 203.0.113.7\r\n" in out.body and b"o=- 1 1 IN IP4 203.0.113.7" in out.body
    assert out.body.endswith(b"a=direction:active\r\n")
    assert out.content_length == len(out.body)
    _ctx(engine)
    assert ksr.nathelper.fix_nated_sdp(2) == -1


def test_fix_nated_register_fills_received_avp_in_cfg(tmp_path: Path) -> None:
    header = MODS + 'modparam("nathelper", "received_avp", "$avp(RECEIVED)")\n'
    engine = _engine(tmp_path, """
        request_route {
            if (!nat_uac_test("19")) { fix_nated_register(); }
            sl_send_reply("200", "[$avp(RECEIVED)]");
        }
    """, header=header)
    assert _request(engine, method="REGISTER")[0].reason == "[sip:10.9.9.9:40000]"


# --------------------------------------------------------------------- media relays


def test_media_relays_fail_loudly_at_a_bounded_rate(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = _cfg(tmp_path, """
        request_route {
            rtpproxy_manage("co"); $var(a) = $rc;
            rtpengine_manage(); $var(b) = $rc;
            if (rtpengine_offer("replace-origin")) { $var(c) = "yes"; } else { $var(c) = "no"; }
            rtpproxy_manage("co");
            sl_send_reply("200", "[$var(a) $var(b) $var(c)]");
        }
    """)
    with caplog.at_level(logging.ERROR, logger="ksrpy.media"):
        assert _request(engine)[0].reason == "[-1 -1 no]"
        assert _request(engine)[0].reason == "[-1 -1 no]"
    lines = [r.getMessage() for r in caplog.records if r.name == "ksrpy.media"]
    assert lines == [
        "media relay not supported by ksrpy: rtpproxy_manage() did nothing",
        "media relay not supported by ksrpy: rtpengine_manage() did nothing",
        "media relay not supported by ksrpy: rtpengine_offer() did nothing",
    ]
    assert engine.modules["rtpproxy"].suppressed == {"rtpproxy_manage": 3}


def test_media_relays_in_kemi(engine: Engine) -> None:
    ksr = build_ksr(engine)
    _ctx(engine)
    assert ksr.rtpproxy.rtpproxy_manage0() == -1
    assert ksr.rtpproxy.rtpproxy_offer("co") == -1
    assert ksr.rtpengine.rtpengine_delete0() == -1
    assert ksr.rtpengine.set_rtpengine_set(1) == -1
