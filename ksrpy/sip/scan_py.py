"""Pure-Python message scanner: the twin of the C scanner in ``_native/scan.c``.

The scanner frames one SIP message held in ``bytes``: it validates the start
line, finds every header's name and value span (folded lines included), maps
names to header ids and reads Content-Length. It decodes nothing else; typed
parsing happens lazily in ``message.py``.

Output format (a flat list of ints, identical in both scanners)::

    [0]  soft error code (0 = none; see SOFT_ERRORS)
    [1]  kind: 1 request, 2 reply
    [2]  [3]  request: method span   | reply: version span
    [4]  [5]  request: URI span      | reply: reason-phrase span
    [6]  reply status code (0 for requests)
    [7]  offset of the start line's terminator (CR or LF)
    [8]  body offset (after the empty line; len(buf) when there is none)
    [9]  Content-Length value, -1 when the header is absent
    [10] number of headers N
    then N groups of 6: header id, name start, name end,
                        value start, value end, line end (after its LF)

Hard errors (the message cannot be read) raise ``ScanError`` with a negative
code from HARD_ERRORS; the C scanner returns the same code.

Rules both scanners follow, in this order:

* more than MAX_MESSAGE_SIZE bytes: E_TOO_BIG; leading CR/LF are skipped; an
  empty remainder is E_EMPTY;
* lines end at LF (a CR just before it is not content); a physical line over
  MAX_LINE_LENGTH bytes is E_LINE_TOO_LONG; NUL in the start line or headers
  is E_NUL;
* a start line whose first SP-separated token starts with ``SIP/``
  (any case) is a status line: ``SIP/2.0 SP 3DIGIT [SP reason]``, first digit
  1-6, anything else is E_BAD_START_LINE; otherwise a request line of exactly
  three non-empty SP-separated parts, a token method and a version matching
  ``SIP/<digits>.<digits>`` (any case), else E_BAD_START_LINE; a version other
  than 2.0 is soft error 505, then a URI longer than MAX_URI_LENGTH soft 414;
* a header is a token name, optional SP/HTAB, ``:``, then the value; lines
  starting with SP/HTAB continue the value (folding); leading and trailing
  SP/HTAB and folds are trimmed from the value span; a missing colon or an
  empty/non-token name is E_BAD_HEADER; more than MAX_HEADERS is
  E_TOO_MANY_HEADERS; a line starting with CR LF or LF ends the headers, so
  does the end of the buffer;
* Content-Length must be 1-9 digits, and repeated ones must agree (soft
  400; the first soft error wins); [9] is the last valid value; a body
  shorter than Content-Length is soft 400.
"""

from __future__ import annotations

from .headers import NAME_TO_ID
from .limits import (
    MAX_CONTENT_LENGTH_DIGITS,
    MAX_HEADERS,
    MAX_LINE_LENGTH,
    MAX_MESSAGE_SIZE,
    MAX_URI_LENGTH,
)

# Hard errors: negative codes, nothing of the message is usable.
E_EMPTY = -1
E_TOO_BIG = -2
E_BAD_START_LINE = -3
E_LINE_TOO_LONG = -4
E_NUL = -5
E_BAD_HEADER = -6
E_TOO_MANY_HEADERS = -7

HARD_ERRORS: dict[int, str] = {
    E_EMPTY: "empty message",
    E_TOO_BIG: "message larger than the size limit",
    E_BAD_START_LINE: "malformed start line",
    E_LINE_TOO_LONG: "line longer than the line limit",
    E_NUL: "NUL byte in the message head",
    E_BAD_HEADER: "malformed header line",
    E_TOO_MANY_HEADERS: "too many header fields",
}

# Soft errors: the headers were read, a reply with this status can be built.
S_VERSION = 1
S_URI_TOO_LONG = 2
S_BAD_CONTENT_LENGTH = 3
S_BODY_TOO_SHORT = 4

SOFT_ERRORS: dict[int, tuple[int, str]] = {
    S_VERSION: (505, "Version Not Supported"),
    S_URI_TOO_LONG: (414, "Request-URI Too Long"),
    S_BAD_CONTENT_LENGTH: (400, "Bad Content-Length"),
    S_BODY_TOO_SHORT: (400, "Message Body Shorter Than Content-Length"),
}

KIND_REQUEST = 1
KIND_REPLY = 2
HEADER_FIELDS = 6
HEADER_BASE = 11
CONTENT_LENGTH_ID = NAME_TO_ID[b"content-length"]

# RFC 3261 §25.1 token characters.
_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_DIGITS = frozenset(b"0123456789")
_WSP = (0x20, 0x09)


class ScanError(Exception):
    """A hard scan error; ``code`` is one of the negative E_* constants."""

    def __init__(self, code: int) -> None:
        super().__init__(HARD_ERRORS.get(code, "scan error"))
        self.code = code


def _is_token(chunk: bytes) -> bool:
    return bool(chunk) and all(c in _TOKEN for c in chunk)


def _line_end(buf: bytes, pos: int, end: int) -> int:
    """Offset of the LF ending the line at ``pos`` (``end`` when there is none)."""
    nl = buf.find(b"\n", pos, end)
    return end if nl < 0 else nl


def _content_end(buf: bytes, pos: int, nl: int) -> int:
    """End of a line's content: before the LF and a CR just before it."""
    if nl > pos and buf[nl - 1] == 0x0D:
        return nl - 1
    return nl


def _check_line(buf: bytes, start: int, content_end: int) -> None:
    if content_end - start > MAX_LINE_LENGTH:
        raise ScanError(E_LINE_TOO_LONG)
    if buf.find(b"\x00", start, content_end) >= 0:
        raise ScanError(E_NUL)


def _parse_version(v: bytes) -> bool | None:
    """True for SIP/2.0, False for another SIP/x.y, None for no SIP version at all."""
    if len(v) < 7 or v[:4].upper() != b"SIP/":
        return None
    major, dot, minor = v[4:].partition(b".")
    if not dot or not major or not minor:
        return None
    if not all(c in _DIGITS for c in major) or not all(c in _DIGITS for c in minor):
        return None
    return v[4:] == b"2.0"


def _scan_start_line(buf: bytes, start: int, end: int, out: list[int]) -> None:
    line = buf[start:end]
    first_sp = line.find(b" ")
    first = line if first_sp < 0 else line[:first_sp]
    if first[:4].upper() == b"SIP/":
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        if first.upper() != b"SIP/2.0" or first_sp < 0:
            raise ScanError(E_BAD_START_LINE)
        code = line[first_sp + 1 : first_sp + 4]
        after = first_sp + 4
        if (
            len(code) != 3
            or not all(c in _DIGITS for c in code)
            or code[0] < 0x31
            or code[0] > 0x36
            or (after < len(line) and line[after] != 0x20)
        ):
            raise ScanError(E_BAD_START_LINE)
        reason_start = min(after + 1, len(line))
        out[1] = KIND_REPLY
        out[2], out[3] = start, start + first_sp
        out[4], out[5] = start + reason_start, end
        out[6] = int(code)
        return
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts) or not _is_token(parts[0]):
        raise ScanError(E_BAD_START_LINE)
    version = _parse_version(parts[2])
    if version is None:
        raise ScanError(E_BAD_START_LINE)
    out[1] = KIND_REQUEST
    out[2], out[3] = start, start + len(parts[0])
    uri_start = start + len(parts[0]) + 1
    out[4], out[5] = uri_start, uri_start + len(parts[1])
    if not version:
        out[0] = S_VERSION
    elif len(parts[1]) > MAX_URI_LENGTH:
        out[0] = S_URI_TOO_LONG


def _parse_content_length(buf: bytes, vs: int, ve: int) -> int:
    digits = buf[vs:ve]
    if not digits or len(digits) > MAX_CONTENT_LENGTH_DIGITS:
        return -1
    if not all(c in _DIGITS for c in digits):
        return -1
    return int(digits)


def scan(buf: bytes) -> list[int]:
    """Scan one SIP message; return the flat index described in the module docstring."""
    end = len(buf)
    if end > MAX_MESSAGE_SIZE:
        raise ScanError(E_TOO_BIG)
    pos = 0
    while pos < end and buf[pos] in (0x0D, 0x0A):
        pos += 1
    if pos >= end:
        raise ScanError(E_EMPTY)
    out = [0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0]
    nl = _line_end(buf, pos, end)
    content_end = _content_end(buf, pos, nl)
    _check_line(buf, pos, content_end)
    _scan_start_line(buf, pos, content_end, out)
    out[7] = content_end
    pos = nl + 1 if nl < end else end

    count = 0
    cl_value = -1
    body_off = end
    while pos < end:
        first = buf[pos]
        if first == 0x0A:
            body_off = pos + 1
            break
        if first == 0x0D and pos + 1 < end and buf[pos + 1] == 0x0A:
            body_off = pos + 2
            break
        # One header field: the first physical line, then folded continuations.
        nl = _line_end(buf, pos, end)
        content_end = _content_end(buf, pos, nl)
        _check_line(buf, pos, content_end)
        colon = buf.find(b":", pos, content_end)
        if colon < 0:
            raise ScanError(E_BAD_HEADER)
        name_end = colon
        while name_end > pos and buf[name_end - 1] in _WSP:
            name_end -= 1
        name = buf[pos:name_end]
        if not _is_token(name):
            raise ScanError(E_BAD_HEADER)
        last_content_end = content_end
        line_end = nl + 1 if nl < end else end
        while line_end < end and buf[line_end] in _WSP:
            nl = _line_end(buf, line_end, end)
            content_end = _content_end(buf, line_end, nl)
            _check_line(buf, line_end, content_end)
            last_content_end = content_end
            line_end = nl + 1 if nl < end else end
        # Value span: skip whitespace and folds after the colon, trim the tail.
        vs = colon + 1
        while vs < last_content_end:
            c = buf[vs]
            if c in _WSP or c == 0x0A or (c == 0x0D and vs + 1 < end and buf[vs + 1] == 0x0A):
                vs += 1
            else:
                break
        ve = last_content_end
        while ve > vs:
            c = buf[ve - 1]
            if c in _WSP or c == 0x0A or (c == 0x0D and ve < end and buf[ve] == 0x0A):
                ve -= 1
            else:
                break
        count += 1
        if count > MAX_HEADERS:
            raise ScanError(E_TOO_MANY_HEADERS)
        hid = NAME_TO_ID.get(name.lower(), 0)
        out += (hid, pos, name_end, vs, ve, line_end)
        if hid == CONTENT_LENGTH_ID:
            value = _parse_content_length(buf, vs, ve)
            if value < 0 or (cl_value >= 0 and value != cl_value):
                if out[0] == 0:
                    out[0] = S_BAD_CONTENT_LENGTH
            if value >= 0:
                cl_value = value
        pos = line_end
    out[8] = body_off
    out[9] = cl_value
    out[10] = count
    if out[0] == 0 and cl_value >= 0 and body_off + cl_value > end:
        out[0] = S_BODY_TOO_SHORT
    return out
