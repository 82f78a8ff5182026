"""SIPMessage: lazy typed access, edits spliced into the original bytes, parse errors."""

from __future__ import annotations

import pytest

from ksrpy.sip.errors import SIPParseError, SIPUsageError
from ksrpy.sip.message import SIPMessage

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, "
    b"SIP/2.0/TCP proxy.example.com:5070;branch=z9hG4bKx\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK3\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'f: "Alice \\"A\\" Liddell" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Subject: folded\r\n  subject line\r\n"
    b"X-Custom: one\r\n"
    b"x-custom: two\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\nEXTRA"
)


def test_start_line_and_core_headers() -> None:
    msg = SIPMessage.parse(INVITE)
    assert msg.is_request
    assert msg.method == "INVITE"
    assert msg.ruri == "sip:bob@biloxi.example.com"
    assert msg.ruri_parsed.user == "bob"
    assert msg.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert msg.cseq == (314159, "INVITE")
    assert msg.max_forwards == 70
    assert msg.content_length == 4
    assert msg.body == b"v=0\r"  # cut to Content-Length


def test_compact_forms_and_multi_value_vias() -> None:
    msg = SIPMessage.parse(INVITE)
    assert [v.branch for v in msg.vias] == ["z9hG4bK776asdhds", "z9hG4bKx", "z9hG4bK3"]
    assert msg.via1.host == "pc33.atlanta.example.com"
    assert msg.vias[1].port == 5070 and msg.vias[1].transport == "TCP"
    assert msg.vias[2].rport == ""
    assert msg.from_.display == 'Alice "A" Liddell'
    assert msg.from_.tag == "1928301774"
    assert msg.to.tag is None
    assert len(msg.get_headers("Via")) == 2
    assert len(msg.get_header_values("via")) == 3


def test_header_lookup_is_case_insensitive_and_unfolds() -> None:
    msg = SIPMessage.parse(INVITE)
    assert msg.get_header("SUBJECT") == "folded subject line"
    assert msg.get_header("s") == "folded subject line"
    assert msg.get_headers("X-CUSTOM") == ["one", "two"]
    assert msg.get_header("Missing") is None
    assert msg.has_header("contact") and not msg.has_header("Route")


def test_untouched_message_is_returned_byte_for_byte() -> None:
    msg = SIPMessage.parse(INVITE)
    assert msg.to_bytes() is msg.raw


def test_edits_are_spliced() -> None:
    msg = SIPMessage.parse(INVITE)
    msg.set_ruri("sip:bob@192.0.2.4:5080")
    msg.push_via("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnew")
    msg.set_max_forwards(69)
    msg.remove_header("X-Custom")
    msg.add_header("X-Added", "yes")
    out = msg.to_bytes()
    again = SIPMessage.parse(out)
    assert again.ruri == "sip:bob@192.0.2.4:5080"
    assert again.via1.branch == "z9hG4bKnew"
    assert len(again.vias) == 4
    assert again.max_forwards == 69
    assert again.get_headers("x-custom") == []
    assert again.get_header("X-Added") == "yes"
    assert again.body == b"v=0\r"
    # Reads of the edited message still show what was received.
    assert msg.max_forwards == 70


def test_remove_top_via_keeps_the_rest_of_a_combined_header() -> None:
    msg = SIPMessage.parse(INVITE)
    msg.remove_top_via()
    again = SIPMessage.parse(msg.to_bytes())
    assert [v.branch for v in again.vias] == ["z9hG4bKx", "z9hG4bK3"]


def test_second_replacement_of_same_span_wins() -> None:
    msg = SIPMessage.parse(INVITE)
    msg.set_max_forwards(10)
    msg.set_max_forwards(9)
    assert SIPMessage.parse(msg.to_bytes()).max_forwards == 9


def test_header_injection_is_refused() -> None:
    msg = SIPMessage.parse(INVITE)
    with pytest.raises(SIPUsageError):
        msg.add_header("X-Evil", "a\r\nVia: forged")
    with pytest.raises(SIPUsageError):
        msg.set_ruri("sip:a@b SIP/2.0\r\n")


def test_reply_parsing() -> None:
    raw = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
           b"To: <sip:b@h>;tag=x\r\nFrom: <sip:a@h>;tag=y\r\nCall-ID: c\r\n"
           b"CSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n")
    msg = SIPMessage.parse(raw)
    assert not msg.is_request
    assert msg.status == 180 and msg.reason == "Ringing"
    assert msg.method == "INVITE"
    assert msg.ruri == ""


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"OPTIONS sip:a@b SIP/3.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n", 505),
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", 400),
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc", 400),
        (b"OPTIONS sip:" + b"a" * 2000 + b"@b SIP/2.0\r\n\r\n", 414),
    ],
)
def test_soft_errors_carry_the_status_to_answer(raw: bytes, status: int) -> None:
    with pytest.raises(SIPParseError) as info:
        SIPMessage.parse(raw)
    assert info.value.status == status
    assert info.value.can_reply


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n\r\n", b"garbage", b"HTTP/1.1 200 OK\r\n\r\n",
     b"INVITE sip:a@b SIP/2.0\r\nNo colon\r\n\r\n",
     b"INVITE sip:a@b SIP/2.0\r\nVia: x\x00y\r\n\r\n"],
)
def test_hard_errors_cannot_be_answered(raw: bytes) -> None:
    with pytest.raises(SIPParseError) as info:
        SIPMessage.parse(raw)
    assert not info.value.can_reply


def test_missing_header_raises_parse_error_with_400() -> None:
    msg = SIPMessage.parse(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n")
    with pytest.raises(SIPParseError) as info:
        _ = msg.via1
    assert info.value.status == 400
    with pytest.raises(SIPParseError):
        _ = msg.cseq


def test_invalid_max_forwards_is_a_parse_error() -> None:
    msg = SIPMessage.parse(b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: abc\r\n\r\n")
    with pytest.raises(SIPParseError):
        _ = msg.max_forwards


def test_contact_star() -> None:
    msg = SIPMessage.parse(b"REGISTER sip:b SIP/2.0\r\nContact: *\r\nExpires: 0\r\n\r\n")
    assert msg.contacts == "*"
    assert msg.expires == 0
