"""The sanity module: every check bit, its reply, autodrop/noreply/sanity_reply, KEMI forms.

The expected replies are what Kamailio 5.6.3 sends, recorded on loopback
with one throw-away cfg per mask::

    loadmodule "sl.so" / "pv.so" / "sanity.so"
    request_route {
        if (sanity_check("<checks>", "<uri_checks>")) { sl_send_reply("200", "passed"); exit; }
        sl_send_reply("299", "rc=$rc");
    }

and UDP requests built by ``_raw`` below (a valid OPTIONS, then one change).
``()`` means Kamailio sent nothing: its core parser dropped the request, or
sanity failed without a reply. Where ksrpy deliberately answers differently
(its engine replies to some parse errors before the script runs, its URI
grammar differs in a few places) the case lists both results, and
docs/differences.md has the row.
"""

from __future__ import annotations

import functools
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.modules.sanity import SanityModule, lenient_name_addr, parse_digest, str2valid_uint
from ksrpy.script.kemi import build_ksr
from ksrpy.sip.errors import SIPParseError
from ksrpy.sip.message import SIPMessage
from tests.unit.test_cfg_compile import RCV, _engine

SANITY_HEADER = 'loadmodule "sl.so"\nloadmodule "pv.so"\nloadmodule "sanity.so"\n'
ROUTE = """\
request_route {
    if (sanity_check("%s", "%s")) { sl_send_reply("200", "passed"); exit; }
    sl_send_reply("299", "rc=$rc");
}
"""
DIGEST_OK = 'Digest username="a", realm="r", nonce="n", uri="sip:u@h", response="x"'
DIGEST_NO_USER = 'Digest username="", realm="r", nonce="n", uri="sip:u@h", response="x"'
DIGEST_NO_NONCE = 'Digest username="a", realm="r", nonce="", uri="sip:u@h", response="x"'
DIGEST_NO_RESPONSE = 'Digest username="a", realm="r", nonce="n", uri="sip:u@h", response=""'


def _raw(method: str = "OPTIONS", ruri: str = "sip:u@127.0.0.1:5070", version: str = "SIP/2.0",
         drop: tuple[str, ...] = (), extra: tuple[str, ...] = (), body: str = "",
         cl: int | str | None = None, sub: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A valid request, then: headers dropped/added, body and Content-Length, replacements."""
    headers = {"Via": "SIP/2.0/UDP 10.9.9.9:40000;rport;branch=z9hG4bK1",
               "From": "<sip:alice@example.com>;tag=f1", "To": "<sip:bob@example.com>",
               "Call-ID": "c1", "CSeq": f"1 {method}", "Max-Forwards": "70"}
    lines = [f"{method} {ruri} {version}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k not in drop]
    lines += list(extra)
    if cl != "none":
        lines.append(f"Content-Length: {len(body) if cl is None else cl}")
    text = "\r\n".join(lines) + "\r\n\r\n" + body
    for old, new in sub:
        assert old in text, old
        text = text.replace(old, new)
    return text.encode()


@functools.cache
def _sanity_engine(checks: str, uris: str, modparams: str = "", body: str = "") -> Engine:
    """An in-memory engine running ``ROUTE`` (or ``body``) with these sanity modparams."""
    folder = Path(tempfile.mkdtemp(prefix="ksrpy-sanity-"))
    route = body or ROUTE % (checks, uris)
    return _engine(folder, route, header=SANITY_HEADER + modparams)


def _send(engine: Engine, raw: bytes) -> tuple[str, ...]:
    """What the engine answers: 'code reason', plus ' |Unsupported: x' when present."""
    transport: Any = engine.transport
    before = len(transport.sent)
    engine.handle(raw, RCV)
    out = []
    for sent in transport.sent[before:]:
        reply = SIPMessage.parse(sent[3])
        line = f"{reply.status} {reply.reason}"
        unsupported = reply.get_header("Unsupported")
        if unsupported is not None:
            line += f" |Unsupported: {unsupported}"
        out.append(line)
    return tuple(out)


PASS = ("200 passed",)
NOTHING: tuple[str, ...] = ()


def _case(checks: int, uris: int, change: dict[str, Any], kamailio: tuple[str, ...],
          ksrpy: tuple[str, ...] | None = None, name: str = "") -> Any:
    return pytest.param(checks, uris, change, kamailio, kamailio if ksrpy is None else ksrpy,
                        id=f"{checks}/{uris}-{name}")


def _sub(old: str, new: str) -> dict[str, Any]:
    return {"sub": ((old, new),)}


def _hdr(*lines: str) -> dict[str, Any]:
    return {"extra": lines}


CSEQ = "CSeq: 1 OPTIONS"
FROM = "From: <sip:alice@example.com>;tag=f1"
TO = "To: <sip:bob@example.com>"

KAMAILIO_5_6_3 = [
    # --- 1 R-URI SIP version. Kamailio's core accepts a version starting "SIP/2.0"; sanity
    # then wants exactly "2.0" after the slash (its status line echoes the request's
    # version: "SIP/2.00 505 ..."). ksrpy's engine answers other versions itself.
    _case(1, 7, {}, PASS, name="valid"),
    _case(1, 7, {"version": "sip/2.0"}, PASS, name="lowercase"),
    _case(1, 7, {"version": "SIP/2.00"}, ("505 Version Not Supported (R-URI)",),
          ("505 Version Not Supported",), name="2.00-engine-answers"),
    _case(1, 7, {"version": "SIP/2.0x"}, ("505 Version Not Supported (R-URI)",), NOTHING,
          name="2.0x-engine-drops"),
    _case(1, 7, {"version": "SIP/2.1"}, NOTHING, ("505 Version Not Supported",),
          name="2.1-engine-answers"),
    _case(1, 7, {"version": "SIP/3.0"}, NOTHING, ("505 Version Not Supported",),
          name="3.0-engine-answers"),
    # --- 2 R-URI scheme: sip, sips, tel and urn parse; anything else is 400 (the 416 of
    # Kamailio's source cannot happen: an unknown scheme already fails to parse).
    _case(2, 7, {}, PASS, name="valid"),
    *[_case(2, 7, {"ruri": u}, PASS, name=u) for u in
      ("sips:u@127.0.0.1", "SIP:u@127.0.0.1", "tel:+123", "tel:abc", "urn:service:sos",
       "sip:u@[::1]", "sip:h;transport=udp", "sip:h?x=y", "sip:u:p@h", "sip:u@h:0",
       "sip:u@h:65535", "sip:%41@h", "sip:u@h;lr;lr")],
    *[_case(2, 7, {"ruri": u}, ("400 Bad Request URI",), name=u) for u in
      ("http://example.com/", "foo:bar", "tels:+123", "tel:", "urn:", "sip:", "sip:u@",
       "sip:u@h:99999", "sip:u@h:65536", "sip:u@h:abc", "sip:u@[::1", "sip:u@-h", "im:u@h",
       "pres:u@h", "mailto:u@h")],
    # URI grammar differences (docs/differences.md): '_' in hosts is accepted by ksrpy;
    # an empty label, a bad %-escape, a 256 octet and an empty param name are not.
    _case(2, 7, {"ruri": "sip:u@h_x"}, ("400 Bad Request URI",), PASS, name="underscore"),
    *[_case(2, 7, {"ruri": u}, PASS, ("400 Bad Request URI",), name=u) for u in
      ("sip:u@h..com", "sip:u%4@h", "sip:u@1.2.3.256", "sip:u@h;=x")],
    # --- 4 required headers: Kamailio's core drops a request missing From, To, CSeq,
    # Call-ID or Via, or with two From/To/CSeq/Call-ID headers, before routing.
    _case(4, 7, {}, PASS, name="valid"),
    _case(4, 7, _hdr("Via: SIP/2.0/UDP 1.2.3.4"), PASS, name="two-vias"),
    *[_case(4, 7, {"drop": (h,)}, NOTHING, name=f"no-{h}")
      for h in ("Call-ID", "From", "To", "CSeq", "Via")],
    *[_case(4, 7, _hdr(line), NOTHING, name=f"dup-{line.split(':')[0]}")
      for line in ("Call-ID: x2", "From: <sip:x@y>;tag=2", "To: <sip:x@y>", CSEQ)],
    # Without bit 4, Kamailio's core still drops them; ksrpy runs the script.
    _case(1, 7, {"drop": ("Call-ID",)}, NOTHING, PASS, name="no-Call-ID-core-drop"),
    _case(1, 7, _hdr("CSeq: 1 OPTIONS"), NOTHING, PASS, name="dup-CSeq-core-drop"),
    # --- 8 Via SIP version and 16 Via protocol: disabled in Kamailio, always pass. A
    # SIP/3.0 Via is dropped by Kamailio's core; in ksrpy bit 16384 refuses it.
    _case(8, 7, {}, PASS, name="valid"),
    _case(16, 7, {}, PASS, name="valid"),
    _case(16, 7, _sub("SIP/2.0/UDP", "SIP/2.0/FOO"), PASS, name="via-FOO"),
    _case(8, 7, _sub("SIP/2.0/UDP", "SIP/3.0/UDP"), NOTHING, PASS, name="via-3.0-core-drop"),
    _case(16384, 7, _sub("SIP/2.0/UDP", "SIP/3.0/UDP"), NOTHING, name="via-3.0"),
    # --- 32 CSeq method: compared case-sensitively with the request method.
    _case(32, 7, {}, PASS, name="valid"),
    _case(32, 7, _sub(CSEQ, "CSeq: 1 INVITE"),
          ("400 CSeq method does not match request method",), name="INVITE"),
    _case(32, 7, _sub(CSEQ, "CSeq: 1 options"),
          ("400 CSeq method does not match request method",), name="lowercase"),
    _case(32, 7, _sub(CSEQ, "CSeq: 1"), NOTHING, name="no-method"),
    _case(32, 7, {"method": "ACK", "sub": (("CSeq: 1 ACK", "CSeq: 1 INVITE"),)}, NOTHING,
          name="ACK-never-answered"),
    # --- 64 CSeq value: at most 10 digits, not above 4294967296 (sic: Kamailio's bound
    # is inclusive), no sign.
    _case(64, 7, {}, PASS, name="valid"),
    *[_case(64, 7, _sub(CSEQ, f"CSeq: {n} OPTIONS"), PASS, name=n)
      for n in ("4294967295", "4294967296")],
    *[_case(64, 7, _sub(CSEQ, f"CSeq: {n} OPTIONS"), ("400 CSeq number is illegal",), name=n)
      for n in ("abc", "4294967297", "5000000000", "99999999999", "-1", "00000000001")],
    _case(64, 7, _sub(CSEQ, "CSeq:  OPTIONS"), NOTHING, name="no-number"),
    _case(64, 7, _sub(CSEQ, "CSeq: 1 OPTIONS x"), NOTHING, name="three-tokens"),
    # --- 128 Content-Length against the bytes after the headers.
    _case(128, 7, {}, PASS, name="valid"),
    _case(128, 7, {"body": "abc"}, PASS, name="body"),
    _case(128, 7, {"body": "abc", "cl": "none"}, PASS, name="no-header"),
    _case(128, 7, {"body": "abc", "cl": 0}, ("400 Content-Length mis-match",), name="longer"),
    _case(128, 7, {"body": "abc", "cl": 2}, ("400 Content-Length mis-match",), name="longer2"),
    # A body shorter than Content-Length, or a Content-Length that is not a number:
    # ksrpy's engine answers before the script.
    _case(128, 7, {"body": "abc", "cl": 5}, ("400 Content-Length mis-match",),
          ("400 Message Body Shorter Than Content-Length",), name="shorter-engine-answers"),
    _case(128, 7, {"cl": "x"}, NOTHING, ("400 Bad Content-Length",),
          name="not-a-number-engine-answers"),
    # --- 256 Expires: the first whitespace-separated token must be an unsigned int.
    _case(256, 7, {}, PASS, name="absent"),
    *[_case(256, 7, _hdr(f"Expires: {v}"), PASS, name=repr(v))
      for v in ("3600", "0", "10 x", "4294967295", "4294967296", "\t10")],
    *[_case(256, 7, _hdr(f"Expires: {v}"), ("400 Expires value is illegal",), name=repr(v))
      for v in ("abc", "-5", "4294967297", "99999999999", "Thu, 01 Dec 1994 16:00:00 GMT",
                "10x", "10,20", "+5", "0x10", "1.5")],
    _case(256, 7, _hdr("Expires: "), ("400 Bad Expires Header",), name="empty"),
    # --- 512 Proxy-Require, with the default proxy_require "" (nothing supported): the
    # first unsupported token of the first header is named in Unsupported:.
    _case(512, 7, {}, PASS, name="absent"),
    _case(512, 7, _hdr("Proxy-Require: foo"),
          ("420 Bad Proxy Require Extension |Unsupported: foo",), name="foo"),
    _case(512, 7, _hdr("Proxy-Require: foo, bar"),
          ("420 Bad Proxy Require Extension |Unsupported: foo",), name="foo-bar"),
    _case(512, 7, _hdr("Proxy-Require: a", "Proxy-Require: b"),
          ("420 Bad Proxy Require Extension |Unsupported: a",), name="two-headers"),
    _case(512, 7, _hdr("Proxy-Require: "), ("400 Bad Proxy Require Header",), name="empty"),
    _case(512, 7, {"method": "ACK", "extra": ("Proxy-Require: foo",)}, NOTHING, name="ACK"),
    # --- 1024 parse URIs: 1 R-URI, 2 From, 4 To, 8 Contact.
    _case(1024, 15, {}, PASS, name="valid"),
    _case(1024, 1, {"ruri": "sip:u@h:99999"}, ("400 Bad Request URI",), name="ruri"),
    _case(1024, 1, {"ruri": "http://x"}, ("400 Bad Request URI",), name="ruri-http"),
    *[_case(1024, 2, _sub(FROM, f"From: {v}"), PASS, name=f"from {v}") for v in
      ("sip:a@h;tag=1", "<sip:a@h>", '"A" <sip:a@h>;tag=1', "<tel:+1>;tag=1", "<urn:x>;tag=1",
       "<sip:a@h>;tag", "<sip:a@h>;tag=", "A B <sip:a@h>", "<sip:a@h>;tag=1;tag=2")],
    *[_case(1024, 2, _sub(FROM, f"From: {v}"), ("400 Invalid From Header",), name=f"from {v}")
      for v in ("garbage", "<sip:u@h:99999>;tag=1", "<http://x>;tag=1", "<foo:bar>;tag=1",
                "sip:a@h:99999;tag=1", "a@b", "<sip:a@h;tag=1", "<sip:a@h>;=x", "<sip:a@h> x",
                '<sip:a@h>;x="unterminated')],
    _case(1024, 2, _sub(FROM, "From: <sip:a@h_x>"), ("400 Invalid From Header",), PASS,
          name="from-underscore"),
    *[_case(1024, 4, _sub(TO, f"To: {v}"), ("400 Ivalid To Header",), name=f"to {v}")
      for v in ("garbage", "<sip:u@h:99999>", "<foo:bar>")],
    # Kamailio's core parses To itself and drops a request whose To does not parse.
    *[_case(1024, 4, _sub(TO, f"To: {v}"), NOTHING, name=f"to {v}")
      for v in ("<sip:a@h;tag=1", '<sip:a@h>;x="unterminated')],
    _case(1024, 4, _sub(TO, "To: <sip:a@h>;tag=1;tag=2"), PASS, name="to-two-tags"),
    *[_case(1024, 8, _hdr(f"Contact: {v}"), PASS, name=f"contact {v}") for v in
      ("<sip:u@1.2.3.4>", "*", "*, <sip:a@h>", '"x" <sip:a@h>', "<sip:a@h>;expires=abc",
       "<tel:+1>", "<urn:x>")],
    *[_case(1024, 8, _hdr(f"Contact: {v}"), ("400 Bad Contact URI",), name=f"contact {v}")
      for v in ("<sip:u@h:99999>", "sip:a@h:99999", "<http://x>", "<foo:bar>",
                "<sip:u@1.2.3.4>, <sip:u@h:99999>")],
    *[_case(1024, 8, _hdr(f"Contact: {v}"), ("400 Bad Contact Header",), name=f"contact {v}")
      for v in ("<<<", "<sip:a@h", "sip:a@h, <<<", "")],
    _case(1024, 8, _hdr("Contact: <sip:a@h>", "Contact: <sip:b@h:99999>"), PASS,
          name="second-header-uri-not-checked"),
    _case(1024, 8, _hdr("Contact: <sip:a@h>", "Contact: <<<"), ("400 Bad Contact Header",),
          name="second-header-must-parse"),
    # --- 2048 digest credentials (a non-Digest scheme fails without a reply) and 8192
    # Authorization (a non-Digest scheme passes).
    *[c for bit in (2048, 8192) for c in (
        _case(bit, 7, {}, PASS, name="absent"),
        *[_case(bit, 7, _hdr(f"Authorization: {v}"), PASS, name=v[:40]) for v in (
            DIGEST_OK, DIGEST_OK.replace("Digest", "digest"), DIGEST_OK.replace("Digest", "DIGEST"),
            DIGEST_OK.replace("Digest ", "Digest   "), DIGEST_OK + ", qop=auth, nc=1, cnonce=\"c\"",
            DIGEST_OK + ', qop=auth-int, nc=00000001, cnonce="c"', DIGEST_OK + ", qop=foo",
            "Digest username=a, realm=r, nonce=n, uri=sip:u@h, response=x",
            'Digest username="a", realm="", nonce="n", uri="", response="x"',
            'Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"',
            DIGEST_OK + ", algorithm=SHA-256", DIGEST_OK + ', foo="bar"')],
        *[_case(bit, 7, _hdr(f"Authorization: {v}"), ("400 Bad Auth Credentials",), name=v[:40])
          for v in ('Digest realm="r", nonce="n", uri="sip:u@h", response="x"',
                    'Digest username="a", realm="r", uri="sip:u@h", response="x"',
                    'Digest username="a", nonce="n", uri="sip:u@h", response="x"',
                    'Digest username="a", realm="r", nonce="n", response="x"',
                    'Digest username="a", realm="r", nonce="n", uri="sip:u@h"',
                    DIGEST_OK + ", qop=auth", DIGEST_OK + ", qop=auth, nc=00000001",
                    'Digest username="a" realm="r"', 'Digest username="a, realm="r"',
                    "Digest foo=bar")],
        *[_case(bit, 7, _hdr(f"Authorization: {v}"), ("400 Bad Auth Header",), name=v)
          for v in ("Digest ,,,=", "Digest x")],
        _case(bit, 7, _hdr(f"Authorization: {DIGEST_NO_USER}"), ("400 Auth Empty User",),
              name="empty-user"),
        _case(bit, 7, _hdr(f"Proxy-Authorization: {DIGEST_NO_USER}"), ("400 Auth Empty User",),
              name="proxy-empty-user"),
        _case(bit, 7, _hdr(f"Authorization: {DIGEST_NO_NONCE}"),
              ("400 Auth Empty Nonce",), name="empty-nonce"),
        _case(bit, 7, _hdr(f"Authorization: {DIGEST_NO_RESPONSE}"),
              ("400 Auth Empty Response",), name="empty-response"),
        _case(bit, 7, _hdr(f"Authorization: {DIGEST_OK}", f"Authorization: {DIGEST_NO_USER}"),
              ("400 Auth Empty User",), name="second-credential"),
        _case(bit, 7, _hdr(f"Authorization: {DIGEST_OK}",
                           f"Proxy-Authorization: {DIGEST_NO_USER}"),
              ("400 Auth Empty User",), name="then-proxy-credential"),
    )],
    *[_case(2048, 7, _hdr(h), NOTHING, name=h) for h in (
        "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Authorization: Basic",
        "Authorization: Digest", "Authorization: ", "Proxy-Authorization: Basic x")],
    *[_case(8192, 7, _hdr(h), PASS, name=h) for h in (
        "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Authorization: Basic",
        "Authorization: Digest", "Authorization: ", "Proxy-Authorization: Basic x")],
    # Kamailio stops at the first non-Digest credential, Authorization headers first.
    _case(8192, 7, _hdr("Authorization: Basic x", f"Proxy-Authorization: {DIGEST_NO_USER}"),
          PASS, name="basic-then-bad-proxy"),
    _case(8192, 7, _hdr(f"Proxy-Authorization: {DIGEST_NO_USER}", "Authorization: Basic x"),
          PASS, name="authorization-first"),
    _case(8192, 7, _hdr(f"Authorization: {DIGEST_OK}", "Authorization: Basic x",
                        f"Authorization: {DIGEST_NO_USER}"), PASS, name="stops-at-basic"),
    # --- 4096 duplicate tags (the tag param name is case-insensitive).
    _case(4096, 7, {}, PASS, name="valid"),
    _case(4096, 7, _sub(";tag=f1", ";tag=f1;tag=f2"), ("400 Many From Tag Params",),
          name="from"),
    _case(4096, 7, _sub(";tag=f1", ";tag=f1;TAG=f2"), ("400 Many From Tag Params",),
          name="from-case"),
    _case(4096, 7, _sub(TO, "To: <sip:bob@example.com>;tag=a;tag=b"),
          ("400 Many To Tag Params",), name="to"),
    # Only the structure of From/To matters here: a bad URI passes, a bad structure
    # fails without a reply.
    *[_case(4096, 7, _sub(FROM, f"From: {v}"), PASS, name=f"from {v}")
      for v in ("garbage", "<foo:bar>;tag=1", "a@b")],
    *[_case(4096, 7, _sub(FROM, f"From: {v}"), NOTHING, name=f"from {v}")
      for v in ("<sip:a@h;tag=1", "<sip:a@h>;=x", "<sip:a@h> x")],
    # --- 16384 first Via: Kamailio's core drops a hostless Via before routing.
    _case(16384, 7, {}, PASS, name="valid"),
    _case(16384, 7, _sub("SIP/2.0/UDP 10.9.9.9:40000", "SIP/2.0/UDP "), NOTHING,
          name="no-host"),
    # --- masks: cfg masks must be 1-32767 and uri masks 1-15, else -1 (the script goes on).
    _case(32767, 15, {}, PASS, name="all"),
    _case(17895, 7, {}, PASS, name="kamailio-cfg"),
    _case(32768, 7, {}, ("299 rc=-1",), name="out-of-range"),
    _case(65535, 7, {}, ("299 rc=-1",), name="out-of-range"),
    _case(1, 16, {}, ("299 rc=-1",), name="uri-out-of-range"),
    _case(1, 0, {}, ("299 rc=-1",), name="uri-zero"),
]


@pytest.mark.parametrize(("checks", "uris", "change", "kamailio", "ksrpy"), KAMAILIO_5_6_3)
def test_each_check_bit_answers_as_kamailio(checks: int, uris: int, change: dict[str, Any],
                                            kamailio: tuple[str, ...],
                                            ksrpy: tuple[str, ...]) -> None:
    engine = _sanity_engine(str(checks), str(uris))
    assert _send(engine, _raw(**change)) == ksrpy


def test_every_check_bit_has_a_failing_and_a_passing_case() -> None:
    for bit in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384):
        cases = [p.values for p in KAMAILIO_5_6_3 if p.values[0] == bit]
        assert any(k == PASS for _, _, _, k, _ in cases), bit
        if bit not in (8, 16):  # disabled in Kamailio: nothing fails them
            assert any(k != PASS for _, _, _, k, _ in cases), bit


def test_default_checks_and_one_argument(tmp_path: Path) -> None:
    engine = _sanity_engine("", "", body="""\
request_route {
    if ($hdr(X-Form) == "0") { if (sanity_check()) { sl_send_reply("200", "passed"); } exit; }
    if (sanity_check("4096")) { sl_send_reply("200", "passed"); }
}
""")
    assert engine.modules["sanity"].settings["default_checks"] == 3047
    # 3047 has no duplicate-tag check; 512 (Proxy-Require) is in it.
    two_tags = {"sub": ((";tag=f1", ";tag=f1;tag=f2"),)}
    assert _send(engine, _raw(extra=("X-Form: 0",), **two_tags)) == PASS
    assert _send(engine, _raw(extra=("X-Form: 0", "Proxy-Require: x"))) == (
        "420 Bad Proxy Require Extension |Unsupported: x",)
    assert _send(engine, _raw(**two_tags)) == ("400 Many From Tag Params",)


def test_checks_from_pseudo_variables() -> None:
    engine = _sanity_engine("", "", body="""\
request_route {
    $var(c) = 64; $var(u) = "7";
    if (sanity_check("$var(c)", "$var(u)")) { sl_send_reply("200", "passed"); exit; }
    sl_send_reply("299", "rc=$rc");
}
""")
    assert _send(engine, _raw()) == PASS
    assert _send(engine, _raw(sub=((CSEQ, "CSeq: x OPTIONS"),))) == (
        "400 CSeq number is illegal",)


@pytest.mark.parametrize(("supported", "value", "expected"), [
    # Kamailio with modparam("sanity", "proxy_require", " a , foo,bar "):
    (" a , foo,bar ", "a", PASS),
    (" a , foo,bar ", "a, foo,bar", PASS),
    (" a , foo,bar ", "A", ("420 Bad Proxy Require Extension |Unsupported: A",)),
    (" a , foo,bar ", "a,", ("420 Bad Proxy Require Extension |Unsupported: ",)),
    (" a , foo,bar ", ",a", ("420 Bad Proxy Require Extension |Unsupported: ",)),
    (" a , foo,bar ", "a , b", ("420 Bad Proxy Require Extension |Unsupported: b",)),
    (" a , foo,bar ", "x y", ("420 Bad Proxy Require Extension |Unsupported: x y",)),
])
def test_proxy_require_list(supported: str, value: str, expected: tuple[str, ...]) -> None:
    engine = _sanity_engine("512", "7", f'modparam("sanity", "proxy_require", "{supported}")\n')
    assert _send(engine, _raw(extra=(f"Proxy-Require: {value}",))) == expected


def test_proxy_require_only_first_header_is_checked() -> None:
    engine = _sanity_engine("512", "7", 'modparam("sanity", "proxy_require", "a")\n')
    assert _send(engine, _raw(extra=("Proxy-Require: a", "Proxy-Require: b"))) == PASS


# Kamailio with modparam("sanity", "autodrop", 0): the failure returns -1, the script goes
# on, and the Unsupported: header stays on every later reply (it is a reply lump).
AUTODROP_0 = [
    (2048, {"extra": ("Authorization: Basic x",)}, ("299 rc=-1",)),
    (2048, {"extra": (f"Authorization: {DIGEST_NO_USER}",)},
     ("400 Auth Empty User", "299 rc=-1")),
    (512, {"extra": ("Proxy-Require: foo",)},
     ("420 Bad Proxy Require Extension |Unsupported: foo", "299 rc=-1 |Unsupported: foo")),
    (64, {"sub": ((CSEQ, "CSeq: abc OPTIONS"),)}, ("400 CSeq number is illegal", "299 rc=-1")),
    (4096, {"sub": ((";tag=f1", ";tag=f1;tag=f2"),)}, ("400 Many From Tag Params", "299 rc=-1")),
    (32768, {}, ("299 rc=-1",)),
    (1024, {"sub": ((FROM, "From: garbage"),)}, ("400 Invalid From Header", "299 rc=-1")),
]


@pytest.mark.parametrize(("checks", "change", "expected"), AUTODROP_0)
def test_autodrop_0_returns_minus_one(checks: int, change: dict[str, Any],
                                      expected: tuple[str, ...]) -> None:
    uris = "2" if checks == 1024 else "7"
    engine = _sanity_engine(str(checks), uris, 'modparam("sanity", "autodrop", 0)\n')
    assert _send(engine, _raw(**change)) == expected


def test_autodrop_1_stops_the_script() -> None:
    engine = _sanity_engine("64", "7")
    assert engine.modules["sanity"].settings["autodrop"] == 1
    # Only sanity's reply: the 299 after the failed `if` never runs.
    assert _send(engine, _raw(sub=((CSEQ, "CSeq: abc OPTIONS"),))) == (
        "400 CSeq number is illegal",)


def test_no_reply_failure_then_script_reply_differs_from_kamailio() -> None:
    # Kamailio marks an unparsable From "no reply" (FL_MSG_NOREPLY) and then its sl
    # refuses the script's own reply too: it sends nothing. ksrpy's sl does not know that
    # flag; only sanity_reply() honours it (docs/differences.md).
    engine = _sanity_engine("4096", "7", 'modparam("sanity", "autodrop", 0)\n')
    assert _send(engine, _raw(sub=((FROM, "From: <sip:a@h;tag=1"),))) == ("299 rc=-1",)


NOREPLY = 'modparam("sanity", "noreply", 1)\nmodparam("sanity", "autodrop", 0)\n'


def test_noreply_and_sanity_reply() -> None:
    # Kamailio with noreply=1, autodrop=0 and the README's pattern.
    engine = _sanity_engine("", "", NOREPLY, """\
request_route {
    if ($hdr(X-Case) == "reply-only") {
        $var(rc) = sanity_reply(); sl_send_reply("299", "rc=$var(rc)"); exit;
    }
    if ($hdr(X-Case) == "own") {
        if (!sanity_check("512", "7")) { sl_send_reply("498", "own reply"); exit; }
        sl_send_reply("200", "passed"); exit;
    }
    if (!sanity_check("17895", "7")) { sanity_reply(); exit; }
    sl_send_reply("200", "passed");
}
""")
    assert _send(engine, _raw()) == PASS
    assert _send(engine, _raw(sub=((CSEQ, "CSeq: abc OPTIONS"),))) == (
        "400 CSeq number is illegal",)
    assert _send(engine, _raw(sub=((";tag=f1", ";tag=f1;tag=f2"),))) == PASS  # no 4096
    assert _send(engine, _raw(sub=((FROM, "From: <foo:bar>;tag=1"),))) == (
        "400 Invalid From Header",)
    # Nothing stored for this message: 500, and sanity_reply() still returns 1.
    assert _send(engine, _raw(extra=("X-Case: reply-only",))) == (
        "500 Server Sanity Failure", "299 rc=1")
    # No 420 from sanity; the script's own reply carries the Unsupported: lump.
    assert _send(engine, _raw(extra=("X-Case: own", "Proxy-Require: foo"))) == (
        "498 own reply |Unsupported: foo",)


def test_sanity_reply_is_silent_without_noreply_and_for_no_reply_failures() -> None:
    engine = _sanity_engine("", "", 'modparam("sanity", "autodrop", 0)\n', """\
request_route {
    sanity_check("64", "7");
    $var(rc) = sanity_reply();
    sl_send_reply("299", "rc=$var(rc)");
}
""")
    # noreply=0: sanity already answered; sanity_reply() sends nothing and returns 1.
    assert _send(engine, _raw(sub=((CSEQ, "CSeq: abc OPTIONS"),))) == (
        "400 CSeq number is illegal", "299 rc=1")
    engine = _sanity_engine("", "", NOREPLY, """\
request_route {
    sanity_check("64", "7");
    $var(rc) = sanity_reply();
    sl_send_reply("299", "rc=$var(rc)");
}
""")
    # A CSeq Kamailio's core cannot parse: marked no-reply, sanity_reply() stays silent.
    assert _send(engine, _raw(sub=((CSEQ, "CSeq: 1"),))) == ("299 rc=1",)


def _ctx_for(engine: Engine, raw: bytes) -> Context:
    ctx = Context(engine, SIPMessage.parse(raw), RCV)
    engine.current = ctx
    return ctx


def test_kemi_forms() -> None:
    engine = _sanity_engine("1", "7")
    ksr = build_ksr(engine)
    sent: Any = engine.transport
    ctx = _ctx_for(engine, _raw())
    assert ksr.sanity.sanity_check(17895, 7) == 1
    assert ksr.sanity.sanity_check_defaults() == 1
    # KEMI masks are not range checked: 65535 runs every check.
    assert ksr.sanity.sanity_check(65535, 7) == 1
    before = len(sent.sent)
    ctx = _ctx_for(engine, _raw(sub=((CSEQ, "CSeq: abc OPTIONS"),)))
    # KEMI returns -1 on failure whatever autodrop says (Kamailio's ki_sanity_check).
    assert ksr.sanity.sanity_check(64, 7) == -1
    assert len(sent.sent) == before + 1
    assert SIPMessage.parse(sent.sent[-1][3]).reason == "CSeq number is illegal"
    assert ksr.sanity.sanity_check_defaults() == -1
    assert ksr.sanity.sanity_reply() == 1  # noreply=0: nothing more is sent
    assert len(sent.sent) == before + 2
    assert ctx.replied


def test_kemi_noreply_then_sanity_reply() -> None:
    engine = _sanity_engine("1", "7", 'modparam("sanity", "noreply", 1)\n')
    ksr = build_ksr(engine)
    sent: Any = engine.transport
    _ctx_for(engine, _raw(extra=("Expires: soon",)))
    before = len(sent.sent)
    assert ksr.sanity.sanity_check(256, 7) == -1
    assert len(sent.sent) == before
    assert ksr.sanity.sanity_reply() == 1
    assert SIPMessage.parse(sent.sent[-1][3]).reason == "Expires value is illegal"


def test_replies_are_checked_but_never_answered() -> None:
    engine = _sanity_engine("1", "7")
    module: SanityModule = engine.modules["sanity"]  # type: ignore[assignment]
    reply = ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
             "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nFrom: <sip:a@h>;tag=1\r\n"
             "To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
             "Content-Length: 3\r\n\r\nabc")
    sent: Any = engine.transport
    before = len(sent.sent)
    # The reply-route mask of Kamailio's shipped cfg: 17604 with "6" (From and To).
    assert module.sanity_check(_ctx_for(engine, reply.encode()), 17604, 6) == 1
    # Request-line checks (1, 2, 32 and the R-URI of 1024) do not apply to a reply.
    assert module.sanity_check(_ctx_for(engine, reply.encode()), 1 | 2 | 32 | 1024, 1) == 1
    two_tags = reply.replace("tag=2", "tag=2;tag=3").encode()
    assert module.sanity_check(_ctx_for(engine, two_tags), 17604 | 4096, 6) == 0
    too_long = reply.replace("abc", "abcd").encode()
    assert module.sanity_check(_ctx_for(engine, too_long), 17604, 6) == 0
    assert len(sent.sent) == before


def test_ruri_version_check_itself() -> None:
    # ksrpy's engine answers any version but 2.0 before the script; the check on its own
    # still answers as Kamailio's does.
    engine = _sanity_engine("1", "7")
    module: SanityModule = engine.modules["sanity"]  # type: ignore[assignment]
    with pytest.raises(SIPParseError) as info:
        SIPMessage.parse(_raw(version="SIP/2.00"))
    ctx = Context(engine, info.value.scan, RCV)
    before = len(engine.transport.sent)  # type: ignore[union-attr]
    assert module.sanity_check(ctx, 1, 7) == 0
    reply = SIPMessage.parse(engine.transport.sent[before][3])  # type: ignore[union-attr]
    assert (reply.status, reply.reason) == (505, "Version Not Supported (R-URI)")


def test_changed_ruri_is_checked() -> None:
    engine = _sanity_engine("", "", body="""\
request_route {
    $ru = "foo:bar";
    if (sanity_check("2", "7")) { sl_send_reply("200", "passed"); }
}
""")
    assert _send(engine, _raw()) == ("400 Bad Request URI",)


@pytest.mark.parametrize(("text", "ok"), [
    ("0", True), ("4294967295", True), ("4294967296", True), ("4294967297", False),
    ("0000000001", True), ("00000000001", False), ("", True), ("-1", False), ("１", False),
])
def test_str2valid_uint(text: str, ok: bool) -> None:
    assert str2valid_uint(text) is ok


def test_parse_digest_reads_as_kamailio() -> None:
    assert parse_digest("Basic abc") is None
    assert parse_digest("Digest") is None
    assert parse_digest('Digest username="a" junk, realm=r x, nonce="a,b"') == {
        "username": "a", "realm": "r", "nonce": "a,b"}
    assert parse_digest('Digest username="a", username=""') == {"username": ""}


def test_lenient_name_addr() -> None:
    assert lenient_name_addr('"A <x>" <sip:a@h;lr>;tag=1;TAG=2') == ("sip:a@h;lr", ("tag", "tag"))
    assert lenient_name_addr("garbage") == ("garbage", ())
    assert lenient_name_addr("<sip:a@h>;tag=") == ("sip:a@h", ("tag",))
    for bad in ("", "<sip:a@h", "<sip:a@h> x", "<sip:a@h>;=x", '<sip:a@h>;x="y', "a b"):
        assert lenient_name_addr(bad) is None, bad


def test_module_is_registered_and_documented() -> None:
    table = SanityModule.export_table()
    assert set(table.functions) == {"sanity_check", "sanity_reply"}
    assert set(table.kemi) == {"sanity_check", "sanity_check_defaults", "sanity_reply"}
    assert {p: table.params[p].default for p in table.params} == {
        "default_checks": 3047, "uri_checks": 7, "proxy_require": "", "autodrop": 1,
        "noreply": 0}


def test_sanity_check_not_allowed_in_failure_route(tmp_path: Path) -> None:
    from ksrpy.script.errors import ScriptLoadError

    with pytest.raises(ScriptLoadError, match="sanity_check"):
        _engine(tmp_path, textwrap.dedent("""\
            request_route { exit; }
            failure_route[F] { sanity_check(); }
            """), header=SANITY_HEADER)


# maxfwd, as Kamailio 5.6.3 answers (tests/interop/test_sanity_vs_kamailio.py checks it
# on the wire; the 65536 and empty-value rows are documented differences).
@pytest.mark.parametrize(("value", "code", "after", "lt5"), [
    (None, 2, "10", -2), ("0", -1, "0", 1), ("1", 1, "0", 1), ("70", 1, "69", -1),
    ("71", 1, "70", -1), ("72", 1, "70", -1), ("0070", 1, "69", -1), ("1000", 1, "70", -1),
    ("65535", 1, "70", -1), ("65536", 1, "70", -1), ("100000", -2, "100000", -3),
    ("abc", -2, "abc", -3), ("", -2, "", -3), ("-1", -2, "-1", -3), ("5 x", -2, "5 x", -3),
])
def test_maxfwd_values(value: str | None, code: int, after: str, lt5: int) -> None:
    engine = Engine()
    module: Any = engine.load_module("maxfwd")
    raw = _raw(drop=("Max-Forwards",), extra=() if value is None else (f"Max-Forwards: {value}",))
    assert module.is_maxfwd_lt(_ctx_for(engine, raw), 5) == lt5
    ctx = _ctx_for(engine, raw)
    assert module.process_maxfwd(ctx, "10") == code
    assert SIPMessage.parse(ctx.msg.to_bytes()).get_header("Max-Forwards") == after


def test_maxfwd_limits() -> None:
    engine = Engine()
    module: Any = engine.load_module("maxfwd")
    ctx = _ctx_for(engine, _raw())
    # A limit outside 0-255 is -1 (Kamailio logs it and returns -1 too).
    assert module.process_maxfwd(ctx, 256) == -1
    assert module.is_maxfwd_lt(ctx, -1) == -1
    assert module.process_maxfwd(ctx, 0) == 1
    with pytest.raises(ValueError, match="max_limit must be 0 or more"):
        module.set_param("max_limit", -1)
    module.set_param("max_limit", 0)
    ctx = _ctx_for(engine, _raw())
    assert module.process_maxfwd(ctx, 10) == 1
    assert SIPMessage.parse(ctx.msg.to_bytes()).get_header("Max-Forwards") == "0"
