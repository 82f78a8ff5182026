"""SIPMessage's public byte-level API: header positions, raw splices, edit ids, reparse."""

from __future__ import annotations

import pytest

from ksrpy.sip.errors import SIPParseError, SIPUsageError
from ksrpy.sip.headers import HeaderId
from ksrpy.sip.message import EditSnapshot, HeaderSpan, SIPMessage

REQUEST = (
    b"MESSAGE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
    b"From: <sip:alice@example.com>;tag=a\r\n"
    b"t: <sip:bob@example.com>\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 MESSAGE\r\n"
    b"Subject: one\r\n\ttwo\r\n"
    b"X-Thing: first\r\n"
    b"x-thing: second\r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"hello"
)

REPLY = (
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
    b"From: <sip:alice@example.com>;tag=a\r\n"
    b"To: <sip:bob@example.com>;tag=b\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 MESSAGE\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def _msg(raw: bytes = REQUEST) -> SIPMessage:
    return SIPMessage.parse(raw)


# ------------------------------------------------------------ header positions


def test_header_span_gives_the_offsets_of_name_value_and_line() -> None:
    msg = _msg()
    index = msg.header_indices("To")[0]
    span = msg.header_span(index)
    assert isinstance(span, HeaderSpan)
    assert span.hid == HeaderId.TO
    assert msg.raw[span.name_start:span.name_end] == b"t"
    assert msg.raw[span.value_start:span.value_end] == b"<sip:bob@example.com>"
    assert msg.raw[span.name_start:span.line_end] == b"t: <sip:bob@example.com>\r\n"


def test_header_span_covers_a_folded_line_and_refuses_a_bad_index() -> None:
    msg = _msg()
    span = msg.header_span(msg.header_indices("Subject")[0])
    assert msg.raw[span.name_start:span.line_end] == b"Subject: one\r\n\ttwo\r\n"
    with pytest.raises(IndexError):
        msg.header_span(msg.header_count)
    with pytest.raises(IndexError):
        msg.header_span(-1)


def test_header_indices_by_name_compact_form_and_id() -> None:
    msg = _msg()
    assert msg.header_indices("TO") == msg.header_indices("t") == [2]
    assert msg.header_indices(HeaderId.CSEQ) == [4]
    assert msg.header_indices("X-Thing") == [6, 7]
    assert msg.header_indices(0) == [6, 7]  # the headers without an id
    assert msg.header_indices("Route") == []


def test_header_indices_returns_a_copy() -> None:
    msg = _msg()
    msg.header_indices(HeaderId.VIA).append(99)
    msg.header_indices("Route").append(99)
    assert msg.header_indices(HeaderId.VIA) == [0]
    assert msg.header_indices("Route") == []
    assert msg.get_header("Via") == "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"


def test_header_value_at_unfolds() -> None:
    msg = _msg()
    assert msg.header_value_at(5) == "one two"
    assert [msg.header_value_at(i) for i in msg.header_indices("x-thing")] == [
        "first", "second"]


def test_other_positions() -> None:
    msg = _msg()
    start, end = msg.start_line_span
    assert msg.raw[start:end] == b"MESSAGE sip:bob@example.com SIP/2.0"
    assert msg.raw[msg.headers_start:].startswith(b"Via: ")
    assert msg.raw[msg.body_start:] == b"hello"
    with pytest.raises(SIPUsageError):
        _ = msg.reason_span
    reply = _msg(REPLY)
    rs, re_ = reply.reason_span
    assert reply.raw[rs:re_] == b"Busy Here"
    assert reply.body_start == len(REPLY)


def test_headers_start_without_headers_is_the_end_of_the_head() -> None:
    msg = _msg(b"OPTIONS sip:a@example.com SIP/2.0\r\n\r\n")
    assert msg.header_count == 0
    assert msg.headers_start == len(b"OPTIONS sip:a@example.com SIP/2.0\r\n")


# ------------------------------------------------------------------- edits


def test_splice_inserts_replaces_removes_and_returns_growing_ids() -> None:
    msg = _msg()
    assert msg.last_edit_id == 0
    span = msg.header_span(msg.header_indices("Call-ID")[0])
    first = msg.splice(span.value_start, span.value_end, b"c2")
    second = msg.splice(msg.headers_start, msg.headers_start, b"X-Top: 1\r\n")
    third = msg.splice(msg.body_start, len(msg.raw), b"HELLO")
    assert first < second < third == msg.last_edit_id
    again = SIPMessage.parse(msg.to_bytes())
    assert again.call_id == "c2"
    assert again.headers()[0].name == "X-Top"
    assert again.body == b"HELLO"
    assert msg.call_id == "c1"  # reads still see the message as received


def test_splice_of_the_same_span_supersedes() -> None:
    msg = _msg()
    span = msg.header_span(msg.header_indices("Call-ID")[0])
    msg.splice(span.value_start, span.value_end, b"c2")
    msg.splice(span.value_start, span.value_end, b"c3")
    assert SIPMessage.parse(msg.to_bytes()).call_id == "c3"
    assert len(msg.edit_snapshot().edits) == 1


def test_remove_header_at_removes_the_whole_line() -> None:
    msg = _msg()
    edit_id = msg.remove_header_at(msg.header_indices("Subject")[0])
    assert edit_id == msg.last_edit_id
    out = msg.to_bytes()
    assert b"Subject" not in out and b"two" not in out
    assert SIPMessage.parse(out).header_count == msg.header_count - 1
    with pytest.raises(IndexError):
        msg.remove_header_at(msg.header_count)


def test_rewrite_edit_keeps_position_and_id() -> None:
    msg = _msg()
    msg.add_raw_header_lines(b"Record-Route: <sip:p1;lr>\r\n", top=True)
    rr_id = msg.last_edit_id
    msg.add_header("X-Later", "1")
    assert msg.rewrite_edit(rr_id, b"Record-Route: <sip:p2;lr>\r\n")
    out = SIPMessage.parse(msg.to_bytes())
    assert out.headers()[0].value == "<sip:p2;lr>"
    assert out.get_header("X-Later") == "1"
    assert msg.last_edit_id == rr_id + 1  # a rewrite is not a new edit
    assert msg.rewrite_edit(rr_id, b"")
    assert not SIPMessage.parse(msg.to_bytes()).has_header("Record-Route")
    assert not msg.rewrite_edit(12345, b"X: y\r\n")


def test_edit_snapshot_and_restore() -> None:
    msg = _msg()
    msg.add_header("X-Kept", "1")
    snap = msg.edit_snapshot()
    assert isinstance(snap, EditSnapshot) and snap.last_edit_id == 1
    msg.add_header("X-Dropped", "1")
    msg.restore_edits(snap)
    assert msg.last_edit_id == 1
    out = msg.to_bytes()
    assert b"X-Kept" in out and b"X-Dropped" not in out
    msg.add_header("X-Again", "1")  # after a restore, the snapshot is untouched
    msg.restore_edits(snap)
    assert b"X-Again" not in msg.to_bytes()
    msg.restore_edits(EditSnapshot((), 0))
    assert not msg.modified and msg.to_bytes() is msg.raw


def test_reparse_makes_the_edits_part_of_the_message() -> None:
    msg = _msg()
    assert msg.get_header("X-Thing") == "first"
    msg.remove_header("X-Thing")
    msg.add_header("X-New", "yes")
    msg.reparse()
    assert not msg.modified
    assert msg.get_header("X-Thing") is None  # cached reads are dropped too
    assert msg.get_header("X-New") == "yes"
    assert msg.raw == msg.to_bytes() and b"X-New: yes\r\n" in msg.raw


def test_reparse_with_new_bytes_and_its_errors() -> None:
    msg = _msg()
    msg.reparse(REQUEST.replace(b"Call-ID: c1", b"Call-ID: c9"))
    assert msg.call_id == "c9"
    msg.add_header("X-Pending", "1")
    with pytest.raises(SIPParseError):
        msg.reparse(b"not a sip message\r\n\r\n")
    with pytest.raises(SIPParseError):
        msg.reparse(REPLY)  # a request cannot become a reply
    assert msg.call_id == "c9" and msg.is_request
    assert b"X-Pending" in msg.to_bytes()  # a failed reparse changes nothing
    reply = _msg(REPLY)
    start, end = reply.reason_span
    reply.splice(start, end, b"Gone")
    reply.reparse()
    assert reply.reason == "Gone" and reply.status == 486
