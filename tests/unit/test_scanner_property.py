"""Differential property tests: the C scanner and the pure-Python twin agree on every input."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksrpy.sip._native.build import ensure_inplace

ensure_inplace()  # a fresh clone has no built extension yet

from ksrpy.sip import limits, scanner  # noqa: E402
from ksrpy.sip.headers import NAME_TO_ID  # noqa: E402
from ksrpy.sip.scan_py import ScanError  # noqa: E402

assert scanner.scan_native is not None, scanner.native_unavailable_reason
scan_native: Callable[[bytes], list[int]] = scanner.scan_native
scan_pure = scanner.scan_pure

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def outcome(scan: Callable[[bytes], list[int]], buf: bytes) -> list[int] | int:
    """The result list, or the hard error code."""
    try:
        return scan(buf)
    except ScanError as exc:
        return exc.code


def assert_same(buf: bytes) -> list[int] | int:
    """Both scanners give the same list or the same error code; return it."""
    pure = outcome(scan_pure, buf)
    native = outcome(scan_native, buf)
    assert native == pure, buf
    return pure


# -- generators of SIP-ish messages ----------------------------------------------------------

METHODS = [b"INVITE", b"ACK", b"BYE", b"REGISTER", b"OPTIONS", b"X-Ext.1", b"INV@", b"", b"SIP/"]
VERSIONS = [b"SIP/2.0", b"sip/2.0", b"SIP/2.1", b"SIP/20.00", b"SIP/2", b"SIP/2.", b"SIP/.0",
            b"HTTP/1.1", b"SIP/2.0x", b"", b"SIP/2.0.0"]  # fmt: skip
STATUS = [b"100", b"200", b"486", b"699", b"700", b"099", b"20", b"2000", b"2a0", b""]
EOLS = [b"\r\n"] * 5 + [b"\n"] * 3 + [b"\r", b"\n\r"]
SPECIAL = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b"\r\n ", b"\n\t", b"\x80"]
KNOWN = sorted(NAME_TO_ID)

uri = st.one_of(
    st.sampled_from([b"sip:bob@example.com", b"sip:x", b"tel:+123", b"", b"sip:a b"]),
    st.integers(1000, 1100).map(lambda n: b"sip:" + b"u" * n),
    st.binary(max_size=12),
)

good_uri = st.integers(0, 9).flatmap(
    lambda n: (
        st.sampled_from([b"sip:bob@example.com", b"sip:x", b"tel:+123", b"sips:a@b;transport=tcp"])
        if n < 8
        else st.integers(1018, 1030).map(lambda k: b"sip:" + b"u" * k)
    )
)
reason = st.sampled_from([b" OK", b" Ringing here", b"", b" ", b"x", b"  Two"])

token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=1,
    max_size=12,
).map(str.encode)


@st.composite
def random_case(draw: st.DrawFn, name: bytes) -> bytes:
    """``name`` with each letter's case picked at random."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return bytes(
        c ^ 0x20 if f and chr(c).isalpha() else c for c, f in zip(name, flips, strict=True)
    )


KNOWN_NAME = st.sampled_from(KNOWN).flatmap(random_case)
BAD_NAME = st.sampled_from([b"", b" Via", b"Via x", b"V\x00", b"Content_Length", b"content-lengt"])
header_name = st.integers(0, 19).flatmap(
    lambda n: KNOWN_NAME if n < 12 else token if n < 18 else BAD_NAME
)

TEXT_VALUE = st.text(alphabet=" \t:;,<>@=abc012", max_size=10).map(str.encode)
value_piece = st.integers(0, 9).flatmap(
    lambda n: (
        st.sampled_from(
            [b"SIP/2.0/UDP h;branch=z9hG4bK1", b"<sip:a@b>;tag=1", b"1 INVITE", b"70", b""]
        )
        if n < 4
        else TEXT_VALUE
        if n < 9
        else st.binary(max_size=10)
    )
)

content_length = st.one_of(
    st.integers(0, 40).map(lambda n: str(n).encode()),
    st.sampled_from([b"", b"-1", b"+3", b"0000000000", b"999999999", b"1 2", b"007", b"x"]),
)


@st.composite
def header_line(draw: st.DrawFn, eol: bytes) -> bytes:
    """One header field, possibly folded, possibly a Content-Length."""
    if draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from([b"Content-Length", b"l", b"L", b"content-LENGTH"]))
        value = draw(content_length)
    else:
        name = draw(header_name)
        value = draw(value_piece)
    before = draw(st.sampled_from([b"", b" ", b"\t", b" \t "]))
    after = draw(st.sampled_from([b"", b" ", b"  ", b"\t"]))
    line = name + before + b":" + after + value + draw(st.sampled_from([b"", b" ", b"\t"]))
    for _ in range(draw(st.integers(0, 2))):
        fold = draw(st.sampled_from([b" ", b"\t", b"   ", b" \t"]))
        line += eol + fold + draw(value_piece)
    return line


@st.composite
def sip_message(draw: st.DrawFn) -> bytes:
    """A message built from plausible (and some implausible) parts."""
    eol = draw(st.sampled_from(EOLS))
    lead = draw(st.sampled_from([b"", b"", b"\r\n", b"\n\n", b"\r\n\r\n"]))
    choice = draw(st.integers(0, 9))
    if choice < 5:  # a valid request line
        start = b" ".join(
            [
                draw(st.sampled_from(METHODS[:5])),
                draw(good_uri),
                draw(st.sampled_from(VERSIONS[:3])),
            ]
        )
    elif choice < 8:  # a valid status line
        version = draw(st.sampled_from([b"SIP/2.0", b"sip/2.0"]))
        start = version + b" " + draw(st.sampled_from(STATUS[:4])) + draw(reason)
    elif choice == 8:
        start = b" ".join(
            [draw(st.sampled_from(METHODS)), draw(uri), draw(st.sampled_from(VERSIONS))]
        )
    else:
        version = draw(st.sampled_from([b"SIP/2.0", b"sip/2.0", b"SIP/2.1", b"SIP/"]))
        start = version + b" " + draw(st.sampled_from(STATUS)) + draw(reason)
    headers = draw(st.lists(header_line(eol), max_size=12))
    body = draw(st.binary(max_size=30))
    end_of_head = draw(st.sampled_from([eol + eol, eol + eol, eol, b""]))
    return lead + start + eol + eol.join(headers) + end_of_head + body


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """``base`` after a few byte flips, truncations, insertions and duplications."""
    buf = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 4))
        pos = draw(st.integers(0, len(buf)))
        if kind == 0 and buf:
            i = min(pos, len(buf) - 1)
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1:
            del buf[pos:]
        elif kind == 2:
            buf[pos:pos] = draw(st.sampled_from(SPECIAL))
        elif kind == 3:
            stop = draw(st.integers(pos, min(len(buf), pos + 40)))
            buf[pos:pos] = buf[pos:stop] * draw(st.integers(1, 3))
        else:
            stop = draw(st.integers(pos, min(len(buf), pos + 10)))
            del buf[pos:stop]
    return bytes(buf)


# -- the properties ------------------------------------------------------------------------


@settings(max_examples=1500, **SETTINGS)
@given(st.binary(max_size=200))
def test_random_bytes(buf: bytes) -> None:
    assert_same(buf)


@settings(max_examples=1000, **SETTINGS)
@given(st.binary(max_size=60).map(lambda b: b"INVITE sip:x SIP/2.0\r\n" + b))
def test_random_bytes_after_valid_start_line(buf: bytes) -> None:
    assert_same(buf)


@settings(max_examples=2000, **SETTINGS)
@given(mutated(sip_message()))
def test_structured_mutated(buf: bytes) -> None:
    result = assert_same(buf)
    if isinstance(result, list):
        n = result[10]
        assert len(result) == 11 + 6 * n
        for i in range(n):
            _, ns, ne, vs, ve, le = result[11 + 6 * i : 17 + 6 * i]
            assert 0 <= ns < ne <= vs <= ve <= le <= len(buf) or (ns < ne and vs == ve)


@settings(max_examples=1000, **SETTINGS)
@given(sip_message())
def test_structured(buf: bytes) -> None:
    assert_same(buf)


@settings(max_examples=60, **SETTINGS)
@given(
    count=st.integers(limits.MAX_HEADERS - 2, limits.MAX_HEADERS + 2),
    tail=st.sampled_from([b"", b"bad\r\n", b"X: \x00\r\n", b"Via: a\r\n \x00\r\n"]),
)
def test_header_count_limit(count: int, tail: bytes) -> None:
    assert_same(b"OPTIONS sip:x SIP/2.0\r\n" + b"v: a\r\n" * count + tail + b"\r\n")


@settings(max_examples=60, **SETTINGS)
@given(
    size=st.integers(limits.MAX_LINE_LENGTH - 3, limits.MAX_LINE_LENGTH + 3),
    where=st.sampled_from(["start", "header", "fold"]),
    eol=st.sampled_from([b"\r\n", b"\n"]),
)
def test_line_length_limit(size: int, where: str, eol: bytes) -> None:
    if where == "start":
        buf = b"MESSAGE sip:" + b"u" * (size - 20) + b" SIP/2.0" + eol + eol
    elif where == "header":
        buf = b"MESSAGE sip:x SIP/2.0" + eol + b"X: " + b"a" * (size - 3) + eol + eol
    else:
        buf = b"MESSAGE sip:x SIP/2.0" + eol + b"X: a" + eol + b" " * size + eol + eol
    assert_same(buf)


@settings(max_examples=40, **SETTINGS)
@given(size=st.integers(limits.MAX_MESSAGE_SIZE - 2, limits.MAX_MESSAGE_SIZE + 2))
def test_message_size_limit(size: int) -> None:
    assert_same(b"MESSAGE sip:x SIP/2.0\r\nl: 5\r\n\r\n".ljust(size, b"b"))
