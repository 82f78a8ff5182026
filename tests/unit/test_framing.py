"""StreamFramer: SIP stream framing by end of head and Content-Length, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.transport.framing import FramingError, StreamFramer, content_length

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)
OPTIONS = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n"
REPLY = b"SIP/2.0 200 OK\r\nl: 2\r\n\r\nok"


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> list[bytes]:
    """Feed every chunk; return all messages produced."""
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (INVITE, [INVITE]),
        (OPTIONS, [OPTIONS]),
        (REPLY, [REPLY]),
        (INVITE + OPTIONS + REPLY, [INVITE, OPTIONS, REPLY]),
        (b"\r\n" + OPTIONS + b"\r\n" + REPLY, [OPTIONS, REPLY]),
        # no Content-Length: body length 0
        (b"ACK x SIP/2.0\r\nCall-ID: a\r\n\r\n", [b"ACK x SIP/2.0\r\nCall-ID: a\r\n\r\n"]),
        # bare LF line ends tolerated
        (b"SIP/2.0 200 OK\nl: 1\n\nxACK", [b"SIP/2.0 200 OK\nl: 1\n\nx"]),
        # body containing a blank line does not confuse the framer
        (b"M x SIP/2.0\r\nl: 8\r\n\r\n\r\n\r\nabcd" + OPTIONS,
         [b"M x SIP/2.0\r\nl: 8\r\n\r\n\r\n\r\nabcd", OPTIONS]),
    ],
)
def test_rows(stream: bytes, expected: list[bytes]) -> None:
    """Whole stream at once, and one byte at a time, give the same messages."""
    assert StreamFramer().feed(stream) == expected
    framer = StreamFramer()
    assert feed_all(framer, [stream[i : i + 1] for i in range(len(stream))]) == expected


@pytest.mark.parametrize(
    "message",
    [
        b"BYE x SIP/2.0\r\ncOnTeNt-LeNgTh \t:  3 \r\n\r\nabc",  # case, whitespace
        b"BYE x SIP/2.0\r\nL:1\r\n\r\nZ",  # compact form, upper case
        b"BYE x SIP/2.0\r\nLocation: 9\r\n\r\n",  # merely starts with l
        b"BYE x SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nhi",  # folded value
        b"BYE x SIP/2.0\r\nContent-Length: 0\r\nX: l: 5\r\n\r\n",  # not at line start
    ],
)
def test_single_messages(message: bytes) -> None:
    """Content-Length spellings; the message is followed by another to prove the length."""
    assert StreamFramer().feed(message + OPTIONS) == [message, OPTIONS]


def test_partial_then_complete() -> None:
    """A message split across feeds comes out once complete; partial tracks the gap."""
    framer = StreamFramer()
    assert not framer.partial
    assert framer.feed(INVITE[:10]) == []
    assert framer.partial
    assert framer.feed(INVITE[10:-2]) == []
    assert framer.partial
    assert framer.feed(INVITE[-2:] + OPTIONS[:5]) == [INVITE]
    assert framer.partial
    assert framer.feed(OPTIONS[5:]) == [OPTIONS]
    assert not framer.partial
    assert framer.buffered == 0


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_any_split(cuts: list[int]) -> None:
    """Pipelined messages survive any chunking of the stream."""
    stream = b"\r\n\r\n" + INVITE + OPTIONS + b"\r\n" + REPLY + INVITE
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(stream[pos : pos + cut])
        pos += cut
    chunks.append(stream[pos:])
    framer = StreamFramer()
    assert feed_all(framer, chunks) == [INVITE, OPTIONS, REPLY, INVITE]
    assert framer.take_pongs() == 1
    assert not framer.partial


def test_keepalive_ping_pong() -> None:
    """CRLFCRLF between messages is a ping; a lone CRLF is not."""
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == []
    assert framer.pong_needed
    assert framer.take_pongs() == 1
    assert not framer.pong_needed
    assert framer.feed(b"\r\n") == []
    assert framer.take_pongs() == 0
    assert not framer.partial
    assert framer.feed(b"\r\n" + b"\r\n\r\n") == []  # completes one ping, then another
    assert framer.take_pongs() == 2


def test_ping_split_across_feeds() -> None:
    """A ping arriving a byte at a time still gets its pong."""
    framer = StreamFramer()
    for b in (b"\r", b"\n", b"\r", b"\n"):
        assert framer.feed(b) == []
        assert not framer.partial
    assert framer.take_pongs() == 1


def test_ping_after_message() -> None:
    """Pings after a message in the same read are counted too."""
    framer = StreamFramer()
    assert framer.feed(OPTIONS + b"\r\n\r\n") == [OPTIONS]
    assert framer.take_pongs() == 1


@pytest.mark.parametrize(
    "value", [b"abc", b"-1", b"+5", b"1 2", b"0x10", b"9999999999", b"", b"\xff"]
)
def test_bad_content_length(value: bytes) -> None:
    """A malformed Content-Length is a framing error, and the framer stays failed."""
    framer = StreamFramer()
    with pytest.raises(FramingError):
        framer.feed(b"INVITE x SIP/2.0\r\nContent-Length: " + value + b"\r\n\r\n")
    with pytest.raises(FramingError):
        framer.feed(OPTIONS)


def test_conflicting_content_lengths() -> None:
    """Two Content-Length headers must agree."""
    with pytest.raises(FramingError, match="conflicting"):
        content_length(b"X x SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n")
    assert content_length(b"X x SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\n") == 2


def test_oversize_body() -> None:
    """Head plus declared body over the limit fails as soon as the head is read."""
    framer = StreamFramer(max_message_size=100)
    with pytest.raises(FramingError, match="exceeds"):
        framer.feed(b"MESSAGE x SIP/2.0\r\nl: 90\r\n\r\n")


def test_exact_size_fits() -> None:
    """A message exactly at the limit passes."""
    head = b"MESSAGE x SIP/2.0\r\nl: 72\r\n\r\n"
    msg = head + b"x" * 72
    assert len(msg) == 100
    assert StreamFramer(max_message_size=100).feed(msg) == [msg]


def test_endless_head() -> None:
    """A head with no end within the limit fails, fed in one go or dribbled."""
    with pytest.raises(FramingError, match="no end of headers"):
        StreamFramer(max_message_size=100).feed(b"A" * 101)
    framer = StreamFramer(max_message_size=1000)
    with pytest.raises(FramingError):
        for _ in range(200):
            framer.feed(b"X-Header: yyyy\r\n")


def test_garbage_with_nul_frames_without_crashing() -> None:
    """Binary garbage is framed (or rejected) but never crashes; parsing is not our job."""
    framer = StreamFramer(max_message_size=200)
    out = framer.feed(b"\x00\x01\x02\r\n\r\n")
    assert out == [b"\x00\x01\x02\r\n\r\n"]
    with pytest.raises(FramingError):
        framer.feed(b"\x00" * 300)


def test_large_pipelined_burst_is_linear() -> None:
    """Thousands of pipelined messages in one feed come out in order."""
    burst = OPTIONS * 5000
    out = StreamFramer(max_message_size=65535).feed(burst)
    assert len(out) == 5000 and all(m == OPTIONS for m in out)
