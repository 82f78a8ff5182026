"""Replies built as RFC 3261 §8.2.6 / §18.2.1 and RFC 3581 require."""

from __future__ import annotations

from ksrpy.sip.message import SIPMessage
from ksrpy.sip.reply import SL_TAG_PREFIX, build_reply, stateless_to_tag

REQ = (
    b"REGISTER sip:registrar.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKa;rport\r\n"
    b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKb\r\n"
    b"From: <sip:alice@example.com>;tag=abc\r\n"
    b"To: <sip:alice@example.com>\r\n"
    b"Call-ID: reg-1@192.0.2.10\r\n"
    b"CSeq: 7 REGISTER\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _parse(data: bytes) -> SIPMessage:
    return SIPMessage.parse(data)


def test_reply_copies_vias_from_to_callid_cseq_and_fills_rport() -> None:
    req = _parse(REQ)
    out = _parse(build_reply(req, 401, None, src_ip="198.51.100.7", src_port=40000,
                             to_tag="t1", server_header="Server: x"))
    assert out.status == 401 and out.reason == "Unauthorized"
    assert len(out.vias) == 2
    top = out.via1
    assert top.rport == "40000" and top.received == "198.51.100.7"
    assert out.vias[1].branch == "z9hG4bKb" and out.vias[1].received is None
    assert out.from_.tag == "abc"
    assert out.to.tag == "t1"
    assert out.call_id == "reg-1@192.0.2.10"
    assert out.cseq == (7, "REGISTER")
    assert out.get_header("Server") == "x"
    assert out.content_length == 0


def test_received_only_when_source_differs_and_no_rport() -> None:
    raw = REQ.replace(b";rport", b"")
    same = _parse(build_reply(_parse(raw), 200, "OK", src_ip="192.0.2.10", src_port=1))
    assert same.via1.received is None and same.via1.rport is None
    other = _parse(build_reply(_parse(raw), 200, "OK", src_ip="192.0.2.99", src_port=1))
    assert other.via1.received == "192.0.2.99" and other.via1.rport is None
    forced = _parse(build_reply(_parse(raw), 200, "OK", src_ip="192.0.2.10", src_port=9,
                                force_rport=True))
    assert forced.via1.rport == "9" and forced.via1.received == "192.0.2.10"


def test_ipv6_sent_by_compared_as_address() -> None:
    raw = REQ.replace(b"192.0.2.10:5070;branch=z9hG4bKa;rport", b"[::1]:5070;branch=z9hG4bKa")
    out = _parse(build_reply(_parse(raw), 200, "OK", src_ip="0:0:0:0:0:0:0:1", src_port=5))
    assert out.via1.received is None


def test_no_to_tag_on_100_and_existing_tag_kept() -> None:
    req = _parse(REQ)
    trying = _parse(build_reply(req, 100, None, src_ip="1.2.3.4", src_port=1, to_tag="zz"))
    assert trying.to.tag is None
    tagged = _parse(REQ.replace(b"To: <sip:alice@example.com>",
                                b"To: <sip:alice@example.com>;tag=old"))
    out = _parse(build_reply(tagged, 486, None, src_ip="1.2.3.4", src_port=1, to_tag="new"))
    assert out.to.tag == "old"


def test_stateless_tag_stable_for_retransmissions_and_distinct_otherwise() -> None:
    a = stateless_to_tag(_parse(REQ))
    assert a == stateless_to_tag(_parse(REQ))
    assert a.startswith(SL_TAG_PREFIX + ".") and len(a) == 32 + 1 + 8
    assert a != stateless_to_tag(_parse(REQ.replace(b"CSeq: 7", b"CSeq: 8")))


def test_extra_headers_and_body() -> None:
    out = _parse(build_reply(_parse(REQ), 200, "OK", src_ip="1.2.3.4", src_port=1,
                             headers=["Contact: <sip:a@b>;expires=60"], body=b"hello",
                             content_type="text/plain"))
    assert out.get_header("Contact") == "<sip:a@b>;expires=60"
    assert out.get_header("Content-Type") == "text/plain"
    assert out.body == b"hello"
