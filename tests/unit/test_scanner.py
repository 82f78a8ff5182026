"""Concrete messages run through both scanners (C and pure Python) with explicit expectations."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ksrpy.sip._native.build import ensure_inplace

ensure_inplace()  # a fresh clone has no built extension yet

from ksrpy.sip import limits, scan_py, scanner  # noqa: E402
from ksrpy.sip.headers import NAME_TO_ID, HeaderId  # noqa: E402
from ksrpy.sip.scan_py import ScanError  # noqa: E402

_native = importlib.import_module("ksrpy.sip._native._scan")
ffi, lib = _native.ffi, _native.lib
ROOT = Path(__file__).resolve().parents[2]
ScanFn = Callable[[bytes], list[int]]

assert scanner.scan_native is not None, scanner.native_unavailable_reason
SCANNERS: dict[str, ScanFn] = {"pure": scanner.scan_pure, "native": scanner.scan_native}


@pytest.fixture(params=sorted(SCANNERS))
def scan(request: pytest.FixtureRequest) -> ScanFn:
    """Each test taking ``scan`` runs once per scanner."""
    return SCANNERS[request.param]


def describe(buf: bytes, out: list[int]) -> dict[str, Any]:
    """Readable view of a scan result: spans turned into the bytes they cover."""
    n = out[10]
    assert len(out) == 11 + 6 * n
    headers = []
    for i in range(n):
        hid, ns, ne, vs, ve, le = out[11 + 6 * i : 17 + 6 * i]
        headers.append((hid, buf[ns:ne], buf[vs:ve], le))
    return {
        "soft": out[0],
        "kind": out[1],
        "first": buf[out[2] : out[3]],
        "second": buf[out[4] : out[5]],
        "status": out[6],
        "start_end": out[7],
        "body": buf[out[8] :],
        "cl": out[9],
        "headers": headers,
    }


def run(scan: ScanFn, buf: bytes) -> int | dict[str, Any]:
    """The error code on a hard error, else ``describe`` of the result."""
    try:
        return describe(buf, scan(buf))
    except ScanError as exc:
        assert exc.code in scan_py.HARD_ERRORS
        return exc.code


def msg(*lines: bytes, body: bytes = b"", eol: bytes = b"\r\n") -> bytes:
    """Start line and header lines joined with ``eol``, the empty line, then the body."""
    return b"".join(line + eol for line in lines) + eol + body


V, F, T, CID, CSEQ, CONTACT, CL, CT = 1, 2, 3, 4, 5, 6, 7, 8
SUBJ, MAXF = 23, 9

INVITE = msg(
    b"INVITE sip:bob@example.com SIP/2.0",
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds",
    b"Max-Forwards: 70",
    b"To: Bob <sip:bob@example.com>",
    b"From: Alice <sip:alice@example.com>;tag=1928301774",
    b"Call-ID: a84b4c76e66710",
    b"CSeq: 314159 INVITE",
    b"Contact: <sip:alice@10.0.0.1>",
    b"Content-Type: application/sdp",
    b"Content-Length: 4",
    body=b"v=0\n",
)


def test_invite_exact_output(scan: ScanFn) -> None:
    """Every slot of a small request, as raw numbers."""
    buf = b"INVITE sip:b@x SIP/2.0\r\nVia: a\r\nl: 2\r\n\r\nhi"
    assert scan(buf) == [
        0, 1, 0, 6, 7, 14, 0, 22, 40, 2, 2,
        1, 24, 27, 29, 30, 32,
        7, 32, 33, 35, 36, 38,
    ]  # fmt: skip


def test_reply_exact_output(scan: ScanFn) -> None:
    buf = b"SIP/2.0 486 Busy Here\nCSeq: 1 INVITE\n\n"
    assert scan(buf) == [0, 2, 0, 7, 12, 21, 486, 21, 38, -1, 1, 5, 22, 26, 28, 36, 37]


def test_full_invite(scan: ScanFn) -> None:
    d = run(scan, INVITE)
    assert isinstance(d, dict)
    assert (d["soft"], d["kind"], d["status"], d["cl"]) == (0, 1, 0, 4)
    assert (d["first"], d["second"]) == (b"INVITE", b"sip:bob@example.com")
    assert d["start_end"] == INVITE.index(b"\r\n")
    assert d["body"] == b"v=0\n"
    assert [(h[0], h[1], h[2]) for h in d["headers"]] == [
        (V, b"Via", b"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds"),
        (MAXF, b"Max-Forwards", b"70"),
        (T, b"To", b"Bob <sip:bob@example.com>"),
        (F, b"From", b"Alice <sip:alice@example.com>;tag=1928301774"),
        (CID, b"Call-ID", b"a84b4c76e66710"),
        (CSEQ, b"CSeq", b"314159 INVITE"),
        (CONTACT, b"Contact", b"<sip:alice@10.0.0.1>"),
        (CT, b"Content-Type", b"application/sdp"),
        (CL, b"Content-Length", b"4"),
    ]
    # Line ends are just after each LF, the last one at the empty line.
    assert [h[3] for h in d["headers"]][-1] == INVITE.index(b"\r\n\r\n") + 2


def H(*pairs: tuple[int, bytes, bytes]) -> list[tuple[int, bytes, bytes]]:
    """Expected headers as (id, name, value)."""
    return list(pairs)


# (id, message, expected): expected is a hard error code or a dict of the fields to check
# (``headers`` compares (id, name, value) triples).
CASES: list[tuple[str, bytes, int | dict[str, Any]]] = [
    # -- framing ---------------------------------------------------------------------------
    (
        "bare-lf",
        b"OPTIONS sip:x SIP/2.0\nVia: a\nTo: b\n\nBODY",
        {
            "kind": 1,
            "first": b"OPTIONS",
            "headers": H((V, b"Via", b"a"), (T, b"To", b"b")),
            "body": b"BODY",
            "start_end": 21,
        },
    ),
    (
        "leading-crlf",
        b"\r\n\r\n\nACK sip:x SIP/2.0\r\nVia: a\r\n\r\n",
        {
            "kind": 1,
            "first": b"ACK",
            "second": b"sip:x",
            "start_end": 22,
            "headers": H((V, b"Via", b"a")),
            "body": b"",
        },
    ),
    (
        "mixed-crlf-lf",
        b"BYE sip:x SIP/2.0\nVia: a\r\nTo: b\n\r\nrest",
        {"headers": H((V, b"Via", b"a"), (T, b"To", b"b")), "body": b"rest"},
    ),
    ("no-headers", b"BYE sip:x SIP/2.0\r\n\r\n", {"headers": [], "body": b"", "cl": -1}),
    ("start-line-only-no-eol", b"BYE sip:x SIP/2.0", {"headers": [], "body": b"", "start_end": 17}),
    ("start-line-cr-at-end", b"BYE sip:x SIP/2.0\r", {"headers": [], "start_end": 17}),
    (
        "headers-end-at-buffer-end",
        b"BYE sip:x SIP/2.0\r\nVia: a\r\nTo: b",
        {"headers": H((V, b"Via", b"a"), (T, b"To", b"b")), "body": b""},
    ),
    (
        "headers-end-with-crlf-at-buffer-end",
        b"BYE sip:x SIP/2.0\r\nVia: a\r\n",
        {"headers": H((V, b"Via", b"a")), "body": b""},
    ),
    ("truncated-mid-empty-line", b"BYE sip:x SIP/2.0\r\nVia: a\r\n\r", scan_py.E_BAD_HEADER),
    ("truncated-mid-name", b"BYE sip:x SIP/2.0\r\nVia: a\r\nCont", scan_py.E_BAD_HEADER),
    (
        "truncated-mid-value",
        b"BYE sip:x SIP/2.0\r\nVia: a\r\nTo: <sip:b",
        {"headers": H((V, b"Via", b"a"), (T, b"To", b"<sip:b")), "body": b""},
    ),
    (
        "bare-cr-in-value",
        b"BYE sip:x SIP/2.0\r\nSubject: a\rb\r\n\r\n",
        {"headers": H((SUBJ, b"Subject", b"a\rb"))},
    ),
    (
        "body-not-checked-for-nul",
        b"MESSAGE sip:x SIP/2.0\r\nl: 3\r\n\r\n\x00\x00\x00",
        {"cl": 3, "soft": 0, "body": b"\x00\x00\x00"},
    ),
    # -- replies ---------------------------------------------------------------------------
    (
        "reply-200",
        b"SIP/2.0 200 OK\r\nVia: a\r\n\r\n",
        {"kind": 2, "first": b"SIP/2.0", "second": b"OK", "status": 200, "start_end": 14},
    ),
    ("reply-no-reason", b"SIP/2.0 180\r\n\r\n", {"kind": 2, "status": 180, "second": b""}),
    ("reply-sp-no-reason", b"SIP/2.0 180 \r\n\r\n", {"kind": 2, "status": 180, "second": b""}),
    (
        "reply-reason-with-spaces",
        b"SIP/2.0 603 Declined  by  user \r\n\r\n",
        {"status": 603, "second": b"Declined  by  user "},
    ),
    ("reply-lower-case-version", b"sip/2.0 100 Trying\r\n\r\n", {"kind": 2, "status": 100}),
    ("reply-199", b"SIP/2.0 199 x\r\n\r\n", {"status": 199}),
    ("reply-699", b"SIP/2.0 699 x\r\n\r\n", {"status": 699}),
    ("reply-099", b"SIP/2.0 099 x\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-700", b"SIP/2.0 700 x\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-2-digits", b"SIP/2.0 20 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-2-digits-eol", b"SIP/2.0 20\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-4-digits", b"SIP/2.0 2000 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-code-not-digits", b"SIP/2.0 2x0 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-version-2.1", b"SIP/2.1 200 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-version-only", b"SIP/2.0\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-double-sp", b"SIP/2.0  200 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-tab", b"SIP/2.0\t200 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("reply-sip-slash-token", b"SIP/ 200 OK\r\n\r\n", scan_py.E_BAD_START_LINE),
    # -- request lines ---------------------------------------------------------------------
    ("request-2-parts", b"INVITE sip:x\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-4-parts", b"INVITE sip:x SIP/2.0 extra\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-trailing-sp", b"INVITE sip:x SIP/2.0 \r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-double-sp", b"INVITE  sip:x SIP/2.0\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-leading-sp", b" INVITE sip:x SIP/2.0\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-bad-method", b"INV@TE sip:x SIP/2.0\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-http", b"GET / HTTP/1.1\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-version-no-minor", b"INVITE sip:x SIP/2.\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-version-no-dot", b"INVITE sip:x SIP/20\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-version-suffix", b"INVITE sip:x SIP/2.0a\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-version-two-dots", b"INVITE sip:x SIP/2.0.1\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-version-short", b"INVITE sip:x SIP/2\r\n\r\n", scan_py.E_BAD_START_LINE),
    ("request-garbage", b"hello\r\n\r\n", scan_py.E_BAD_START_LINE),
    (
        "request-lower-case-version",
        b"invite sip:x sip/2.0\r\n\r\n",
        {"kind": 1, "first": b"invite", "soft": 0},
    ),
    (
        "request-method-extension",
        b"FOO.bar-1! sip:x SIP/2.0\r\n\r\n",
        {"kind": 1, "first": b"FOO.bar-1!", "second": b"sip:x"},
    ),
    (
        "request-uri-with-tab",
        b"INVITE sip:x\ty SIP/2.0\r\n\r\n",
        {"second": b"sip:x\ty"},
    ),
    ("soft-505", b"INVITE sip:x SIP/3.0\r\n\r\n", {"soft": scan_py.S_VERSION, "kind": 1}),
    ("soft-505-2.00", b"INVITE sip:x SIP/2.00\r\n\r\n", {"soft": scan_py.S_VERSION}),
    ("soft-505-02.0", b"INVITE sip:x SIP/02.0\r\n\r\n", {"soft": scan_py.S_VERSION}),
    (
        "uri-at-limit",
        b"INVITE sip:" + b"a" * (limits.MAX_URI_LENGTH - 4) + b" SIP/2.0\r\n\r\n",
        {"soft": 0},
    ),
    (
        "soft-414",
        b"INVITE sip:" + b"a" * (limits.MAX_URI_LENGTH - 3) + b" SIP/2.0\r\n\r\n",
        {"soft": scan_py.S_URI_TOO_LONG},
    ),
    (
        "soft-505-beats-414",
        b"INVITE sip:" + b"a" * 2000 + b" SIP/2.1\r\n\r\n",
        {"soft": scan_py.S_VERSION},
    ),
    # -- header lines ----------------------------------------------------------------------
    (
        "compact-forms",
        msg(
            b"ACK sip:x SIP/2.0",
            b"v: a",
            b"f: b",
            b"t: c",
            b"i: d",
            b"m: e",
            b"c: f",
            b"l: 0",
            b"k: g",
            b"s: h",
            b"Z: i",
        ),
        {
            "headers": H(
                (V, b"v", b"a"),
                (F, b"f", b"b"),
                (T, b"t", b"c"),
                (CID, b"i", b"d"),
                (CONTACT, b"m", b"e"),
                (CT, b"c", b"f"),
                (CL, b"l", b"0"),
                (19, b"k", b"g"),
                (SUBJ, b"s", b"h"),
                (0, b"Z", b"i"),
            ),
            "cl": 0,
        },
    ),
    (
        "case-insensitive-names",
        msg(b"ACK sip:x SIP/2.0", b"VIA: a", b"content-LENGTH: 0", b"CALL-id: z", b"V: q"),
        {
            "headers": H(
                (V, b"VIA", b"a"),
                (CL, b"content-LENGTH", b"0"),
                (CID, b"CALL-id", b"z"),
                (V, b"V", b"q"),
            ),
            "cl": 0,
        },
    ),
    (
        "unknown-headers",
        msg(b"ACK sip:x SIP/2.0", b"X-Foo: 1", b"Vias: 2", b"Vi: 3", b"Content_Length: 4"),
        {
            "headers": H(
                (0, b"X-Foo", b"1"),
                (0, b"Vias", b"2"),
                (0, b"Vi", b"3"),
                (0, b"Content_Length", b"4"),
            ),
            "cl": -1,
        },
    ),
    (
        "whitespace-before-colon",
        msg(b"ACK sip:x SIP/2.0", b"Via \t : a", b"To:b", b"From:\t c \t"),
        {"headers": H((V, b"Via", b"a"), (T, b"To", b"b"), (F, b"From", b"c"))},
    ),
    (
        "empty-values",
        msg(b"ACK sip:x SIP/2.0", b"Subject:", b"Subject:   ", b"Subject:\t"),
        {"headers": H((SUBJ, b"Subject", b""), (SUBJ, b"Subject", b""), (SUBJ, b"Subject", b""))},
    ),
    (
        "colon-in-value",
        msg(b"ACK sip:x SIP/2.0", b"Contact: <sip:a@b:5060>"),
        {"headers": H((CONTACT, b"Contact", b"<sip:a@b:5060>"))},
    ),
    (
        "folding",
        b"ACK sip:x SIP/2.0\r\nSubject: I know\r\n  you're there,\r\n\tpick up\r\nTo: b\r\n\r\n",
        {
            "headers": H(
                (SUBJ, b"Subject", b"I know\r\n  you're there,\r\n\tpick up"), (T, b"To", b"b")
            )
        },
    ),
    (
        "folding-bare-lf",
        b"ACK sip:x SIP/2.0\nSubject: a\n b\nTo: c\n\n",
        {"headers": H((SUBJ, b"Subject", b"a\n b"), (T, b"To", b"c"))},
    ),
    (
        "leading-fold-trimmed",
        b"ACK sip:x SIP/2.0\r\nVia:\r\n   SIP/2.0/UDP h\r\n\r\n",
        {"headers": H((V, b"Via", b"SIP/2.0/UDP h"))},
    ),
    (
        "trailing-fold-trimmed",
        b"ACK sip:x SIP/2.0\r\nVia: a \r\n \r\n\t\r\nTo: b\r\n\r\n",
        {"headers": H((V, b"Via", b"a"), (T, b"To", b"b"))},
    ),
    (
        "whitespace-only-folded-value",
        b"ACK sip:x SIP/2.0\r\nSubject: \r\n \r\n\r\n",
        {"headers": H((SUBJ, b"Subject", b""))},
    ),
    (
        "fold-at-buffer-end",
        b"ACK sip:x SIP/2.0\r\nSubject: a\r\n b",
        {"headers": H((SUBJ, b"Subject", b"a\r\n b")), "body": b""},
    ),
    ("header-no-colon", msg(b"ACK sip:x SIP/2.0", b"Via a"), scan_py.E_BAD_HEADER),
    ("header-empty-name", msg(b"ACK sip:x SIP/2.0", b": a"), scan_py.E_BAD_HEADER),
    ("header-ws-name", msg(b"ACK sip:x SIP/2.0", b" \t: a"), scan_py.E_BAD_HEADER),
    ("header-name-with-sp", msg(b"ACK sip:x SIP/2.0", b"Bad Name: a"), scan_py.E_BAD_HEADER),
    ("header-name-non-token", msg(b"ACK sip:x SIP/2.0", b"V(a): a"), scan_py.E_BAD_HEADER),
    ("header-name-8bit", msg(b"ACK sip:x SIP/2.0", b"V\xe9a: a"), scan_py.E_BAD_HEADER),
    ("first-header-indented", msg(b"ACK sip:x SIP/2.0", b" Via: a"), scan_py.E_BAD_HEADER),
    ("header-starts-with-cr", msg(b"ACK sip:x SIP/2.0", b"\rVia: a"), scan_py.E_BAD_HEADER),
    ("colon-only-on-fold", b"ACK sip:x SIP/2.0\r\nVia\r\n : a\r\n\r\n", scan_py.E_BAD_HEADER),
    # -- NUL -------------------------------------------------------------------------------
    ("nul-start-line", b"ACK sip:\x00 SIP/2.0\r\n\r\n", scan_py.E_NUL),
    ("nul-header-value", msg(b"ACK sip:x SIP/2.0", b"Via: a\x00b"), scan_py.E_NUL),
    ("nul-header-name", msg(b"ACK sip:x SIP/2.0", b"V\x00ia: a"), scan_py.E_NUL),
    ("nul-fold", b"ACK sip:x SIP/2.0\r\nVia: a\r\n \x00\r\n\r\n", scan_py.E_NUL),
    ("nul-before-cr", b"ACK sip:x SIP/2.0\r\nVia: a\x00\r\n\r\n", scan_py.E_NUL),
    ("nul-first-byte", b"\x00", scan_py.E_NUL),
    ("nul-after-leading-crlf", b"\r\n\x00\r\n", scan_py.E_NUL),
    # -- empty / size ----------------------------------------------------------------------
    ("empty", b"", scan_py.E_EMPTY),
    ("only-crlf", b"\r\n\r\n\n\r", scan_py.E_EMPTY),
    ("space", b" ", scan_py.E_BAD_START_LINE),
    (
        "too-big",
        b"MESSAGE sip:x SIP/2.0\r\n\r\n".ljust(limits.MAX_MESSAGE_SIZE + 1, b"x"),
        scan_py.E_TOO_BIG,
    ),
    (
        "size-limit-ok",
        b"MESSAGE sip:x SIP/2.0\r\n\r\n".ljust(limits.MAX_MESSAGE_SIZE, b"x"),
        {"soft": 0, "cl": -1},
    ),
    ("too-big-empty", b"\r\n" * 40000, scan_py.E_TOO_BIG),
    # -- line length -----------------------------------------------------------------------
    (
        "start-line-at-limit",
        b"ACK sip:" + b"a" * (limits.MAX_LINE_LENGTH - 16) + b" SIP/2.0\r\n\r\n",
        {"soft": scan_py.S_URI_TOO_LONG},
    ),
    (
        "start-line-too-long",
        b"ACK sip:" + b"a" * (limits.MAX_LINE_LENGTH - 15) + b" SIP/2.0\r\n\r\n",
        scan_py.E_LINE_TOO_LONG,
    ),
    (
        "header-at-limit",
        msg(b"ACK sip:x SIP/2.0", b"X: " + b"a" * (limits.MAX_LINE_LENGTH - 3)),
        {"soft": 0},
    ),
    (
        "header-too-long",
        msg(b"ACK sip:x SIP/2.0", b"X: " + b"a" * (limits.MAX_LINE_LENGTH - 2)),
        scan_py.E_LINE_TOO_LONG,
    ),
    (
        "header-too-long-bare-lf",
        msg(b"ACK sip:x SIP/2.0", b"X: " + b"a" * (limits.MAX_LINE_LENGTH - 2), eol=b"\n"),
        scan_py.E_LINE_TOO_LONG,
    ),
    (
        "fold-too-long",
        msg(b"ACK sip:x SIP/2.0", b"X: a", b" " + b"a" * limits.MAX_LINE_LENGTH),
        scan_py.E_LINE_TOO_LONG,
    ),
    (
        "folded-value-longer-than-limit",
        msg(b"ACK sip:x SIP/2.0", b"X: " + b"a" * 8000, b" " + b"a" * 8000),
        {"soft": 0},
    ),
    ("too-long-beats-nul", b"\x00" * (limits.MAX_LINE_LENGTH + 1), scan_py.E_LINE_TOO_LONG),
    (
        "body-line-not-limited",
        msg(b"MESSAGE sip:x SIP/2.0", body=b"a" * 20000),
        {"soft": 0, "body": b"a" * 20000},
    ),
    # -- Content-Length --------------------------------------------------------------------
    ("cl-absent", msg(b"ACK sip:x SIP/2.0", b"Via: a", body=b"xyz"), {"cl": -1, "soft": 0}),
    ("cl-zero", msg(b"ACK sip:x SIP/2.0", b"Content-Length: 0"), {"cl": 0, "soft": 0}),
    (
        "cl-leading-zeros",
        msg(b"ACK sip:x SIP/2.0", b"l:  007 ", body=b"1234567"),
        {"cl": 7, "soft": 0},
    ),
    (
        "cl-body-longer",
        msg(b"ACK sip:x SIP/2.0", b"l: 2", body=b"abcd"),
        {"cl": 2, "soft": 0, "body": b"abcd"},
    ),
    (
        "cl-body-shorter",
        msg(b"ACK sip:x SIP/2.0", b"l: 5", body=b"abcd"),
        {"cl": 5, "soft": scan_py.S_BODY_TOO_SHORT},
    ),
    (
        "cl-no-body-section",
        b"ACK sip:x SIP/2.0\r\nl: 1\r\n",
        {"cl": 1, "soft": scan_py.S_BODY_TOO_SHORT},
    ),
    (
        "cl-9-digits",
        msg(b"ACK sip:x SIP/2.0", b"l: 999999999"),
        {"cl": 999999999, "soft": scan_py.S_BODY_TOO_SHORT},
    ),
    (
        "cl-10-digits",
        msg(b"ACK sip:x SIP/2.0", b"l: 0000000000"),
        {"cl": -1, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-empty",
        msg(b"ACK sip:x SIP/2.0", b"Content-Length:"),
        {"cl": -1, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-negative",
        msg(b"ACK sip:x SIP/2.0", b"Content-Length: -1"),
        {"cl": -1, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-plus",
        msg(b"ACK sip:x SIP/2.0", b"Content-Length: +1", body=b"x"),
        {"cl": -1, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-inner-space",
        msg(b"ACK sip:x SIP/2.0", b"Content-Length: 1 2"),
        {"cl": -1, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    ("cl-folded", b"ACK sip:x SIP/2.0\r\nContent-Length:\r\n 3\r\n\r\nabc", {"cl": 3, "soft": 0}),
    (
        "cl-repeated-agree",
        msg(b"ACK sip:x SIP/2.0", b"l: 3", b"Content-Length: 003", body=b"abc"),
        {"cl": 3, "soft": 0},
    ),
    (
        "cl-repeated-disagree",
        msg(b"ACK sip:x SIP/2.0", b"l: 3", b"l: 4", body=b"abcd"),
        {"cl": 4, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-invalid-then-valid",
        msg(b"ACK sip:x SIP/2.0", b"l: x", b"l: 4", body=b"ab"),
        {"cl": 4, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-valid-then-invalid",
        msg(b"ACK sip:x SIP/2.0", b"l: 2", b"l: x", body=b"ab"),
        {"cl": 2, "soft": scan_py.S_BAD_CONTENT_LENGTH},
    ),
    (
        "cl-first-soft-wins",
        msg(b"ACK sip:x SIP/3.0", b"l: x"),
        {"cl": -1, "soft": scan_py.S_VERSION},
    ),
    (
        "cl-505-no-body-check",
        msg(b"ACK sip:x SIP/3.0", b"l: 9"),
        {"cl": 9, "soft": scan_py.S_VERSION},
    ),
    ("cl-in-reply", msg(b"SIP/2.0 200 OK", b"l: 2", body=b"ok"), {"cl": 2, "kind": 2}),
]


def _check(got: int | dict[str, Any], expected: int | dict[str, Any]) -> None:
    if isinstance(expected, int):
        assert got == expected
        return
    assert isinstance(got, dict), f"hard error {got}"
    for key, value in expected.items():
        if key == "headers":
            assert [h[:3] for h in got["headers"]] == value
        else:
            assert got[key] == value, key


@pytest.mark.parametrize(("buf", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cases(scan: ScanFn, buf: bytes, expected: int | dict[str, Any]) -> None:
    _check(run(scan, buf), expected)


def test_case_ids_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_line_ends(scan: ScanFn) -> None:
    buf = b"ACK sip:x SIP/2.0\r\nVia: a\r\n b\nTo: c\r\n\r\n"
    d = run(scan, buf)
    assert isinstance(d, dict)
    assert [h[3] for h in d["headers"]] == [buf.index(b"To"), len(buf) - 2]


# -- header count ------------------------------------------------------------------------


def _many(n: int, tail: bytes = b"") -> bytes:
    return b"MESSAGE sip:x SIP/2.0\r\n" + b"Via: a\r\n" * n + tail + b"\r\n"


def test_max_headers_ok(scan: ScanFn) -> None:
    out = scan(_many(limits.MAX_HEADERS))
    assert out[10] == limits.MAX_HEADERS
    assert len(out) == 11 + 6 * limits.MAX_HEADERS


def test_too_many_headers(scan: ScanFn) -> None:
    with pytest.raises(ScanError) as info:
        scan(_many(limits.MAX_HEADERS + 1))
    assert info.value.code == scan_py.E_TOO_MANY_HEADERS


def test_bad_header_after_limit_is_bad_header(scan: ScanFn) -> None:
    """The count is checked after the header itself is read."""
    with pytest.raises(ScanError) as info:
        scan(_many(limits.MAX_HEADERS, b"oops\r\n"))
    assert info.value.code == scan_py.E_BAD_HEADER
    with pytest.raises(ScanError) as info:
        scan(_many(limits.MAX_HEADERS, b"Via: a\r\n \x00\r\n"))
    assert info.value.code == scan_py.E_NUL


# -- the C function's own contract ---------------------------------------------------------


def _c_scan(buf: bytes, cap: int) -> tuple[int, list[int]]:
    out = ffi.new("int32_t[]", max(cap, 1) + 4)
    for i in range(len(out)):
        out[i] = -99
    n = lib.ksr_scan(buf, len(buf), out, cap)
    return n, list(out)


def test_out_cap_bounds() -> None:
    buf = _many(3)
    n_full, full = _c_scan(buf, lib.KSR_OUT_MAX)
    assert n_full == 11 + 18
    for cap in range(0, 11):
        n, out = _c_scan(buf, cap)
        assert n == scan_py.E_TOO_MANY_HEADERS
        assert out[cap:] == [-99] * (len(out) - cap)
    for cap in range(11, 11 + 18):
        n, out = _c_scan(buf, cap)
        assert n == scan_py.E_TOO_MANY_HEADERS
        assert out[cap:] == [-99] * (len(out) - cap)  # nothing written past out_cap
    n, out = _c_scan(buf, 11 + 18)
    assert n == n_full and out[:n] == full[:n] and out[n:] == [-99] * 4


def test_no_read_past_len() -> None:
    """Only ``len`` bytes count: what follows in memory is never looked at."""
    buf = b"ACK sip:x SIP/2.0\r\nVia: a\r\n\r\n"
    padded = ffi.new("unsigned char[]", buf + b"Route: r\r\n")
    out = ffi.new("int32_t[]", lib.KSR_OUT_MAX)
    for cut in range(len(buf) + 1):
        n = lib.ksr_scan(padded, cut, out, lib.KSR_OUT_MAX)
        try:
            expected = scan_py.scan(buf[:cut])
        except ScanError as exc:
            assert n == exc.code
        else:
            assert list(out[0:n]) == expected


def test_limits_match() -> None:
    assert lib.KSR_MAX_MESSAGE_SIZE == limits.MAX_MESSAGE_SIZE
    assert lib.KSR_MAX_HEADERS == limits.MAX_HEADERS
    assert lib.KSR_MAX_LINE_LENGTH == limits.MAX_LINE_LENGTH
    assert lib.KSR_MAX_URI_LENGTH == limits.MAX_URI_LENGTH
    assert lib.KSR_MAX_CONTENT_LENGTH_DIGITS == limits.MAX_CONTENT_LENGTH_DIGITS
    assert lib.KSR_HEADER_BASE == scan_py.HEADER_BASE
    assert lib.KSR_HEADER_FIELDS == scan_py.HEADER_FIELDS
    assert lib.KSR_OUT_MAX == scan_py.HEADER_BASE + scan_py.HEADER_FIELDS * limits.MAX_HEADERS
    assert (lib.KSR_KIND_REQUEST, lib.KSR_KIND_REPLY) == (
        scan_py.KIND_REQUEST,
        scan_py.KIND_REPLY,
    )


def test_error_codes_match() -> None:
    for name in (
        "EMPTY",
        "TOO_BIG",
        "BAD_START_LINE",
        "LINE_TOO_LONG",
        "NUL",
        "BAD_HEADER",
        "TOO_MANY_HEADERS",
    ):
        assert getattr(lib, f"KSR_E_{name}") == getattr(scan_py, f"E_{name}"), name
    for name in ("VERSION", "URI_TOO_LONG", "BAD_CONTENT_LENGTH", "BODY_TOO_SHORT"):
        assert getattr(lib, f"KSR_S_{name}") == getattr(scan_py, f"S_{name}"), name


def test_header_enum_in_scan_h() -> None:
    text = (ROOT / "ksrpy/sip/_native/scan.h").read_text()
    for hid in HeaderId:
        assert f"KSR_HDR_{hid.name} = {int(hid)}," in text


# -- header-name matcher ------------------------------------------------------------------


def _case_variants(name: bytes) -> list[bytes]:
    alt = bytes(c ^ 0x20 if (i % 2 and chr(c).isalpha()) else c for i, c in enumerate(name))
    return [name, name.upper(), name.capitalize(), alt, name.title()]


def _near_misses(name: bytes) -> list[bytes]:
    misses = [name + b"s", name[:-1], b"x" + name, name + b" ", b" " + name, name + b"\x00"]
    for i in range(len(name)):
        c = name[i]
        for repl in (c + 1, c - 1, c ^ 0x20 ^ 0x40, c | 0x80, 0x0D if c == 0x2D else c ^ 0x01):
            misses.append(name[:i] + bytes([repl & 0xFF]) + name[i + 1 :])
    return misses


def test_header_id_matches_python_table() -> None:
    checked = 0
    for name, hid in NAME_TO_ID.items():
        for variant in _case_variants(name):
            assert lib.ksr_header_id(variant, len(variant)) == hid, variant
            checked += 1
        for miss in _near_misses(name):
            expected = NAME_TO_ID.get(miss.lower(), 0)
            assert lib.ksr_header_id(miss, len(miss)) == expected, miss
            checked += 1
    for c in range(256):
        one = bytes([c])
        assert lib.ksr_header_id(one, 1) == NAME_TO_ID.get(one.lower(), 0), one
    assert lib.ksr_header_id(b"", 0) == 0
    assert checked > 1000


def test_header_id_through_scan(scan: ScanFn) -> None:
    for name, hid in NAME_TO_ID.items():
        for variant in (name, name.upper()):
            out = scan(b"ACK sip:x SIP/2.0\r\n" + variant + b": v\r\n\r\n")
            assert out[11] == hid, variant


# -- façade -------------------------------------------------------------------------------


def test_facade_uses_native() -> None:
    if os.environ.get("KSRPY_PURE") == "1":
        assert not scanner.NATIVE and scanner.scan is scanner.scan_pure
    else:
        assert scanner.NATIVE, scanner.native_unavailable_reason
        assert scanner.native_unavailable_reason is None
        assert scanner.scan is scanner.scan_native


def test_facade_raises_scan_error() -> None:
    with pytest.raises(ScanError) as info:
        scanner.scan(b"")
    assert info.value.code == scan_py.E_EMPTY
    assert str(info.value) == scan_py.HARD_ERRORS[scan_py.E_EMPTY]


def test_native_accepts_buffers() -> None:
    assert scanner.scan_native is not None
    expected = scanner.scan_pure(INVITE)
    assert scanner.scan_native(bytearray(INVITE)) == expected
    assert scanner.scan_native(memoryview(INVITE)) == expected  # type: ignore[arg-type]


def test_native_results_are_fresh_lists() -> None:
    assert scanner.scan_native is not None
    a = scanner.scan_native(INVITE)
    b = scanner.scan_native(b"SIP/2.0 200 OK\r\n\r\n")
    assert a == scanner.scan_pure(INVITE) and b[1] == 2


def test_pure_switch_by_env() -> None:
    code = (
        "from ksrpy.sip import scanner;"
        "print(scanner.NATIVE, scanner.native_unavailable_reason,"
        " scanner.scan is scanner.scan_pure, scanner.scan_native is not None)"
    )
    env = {**os.environ, "KSRPY_PURE": "1"}
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.split() == ["False", "disabled", "by", "KSRPY_PURE=1", "True", "True"]
