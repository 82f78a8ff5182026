"""The SIP message: lazy typed access over a scanned buffer, and edits spliced into it.

A ``SIPMessage`` keeps the received bytes untouched. The scanner (C or its
Python twin) indexes the start line and every header once; typed values (URI,
Via, From/To, CSeq ...) are decoded on first use and cached. Edits (add or
remove a header, new Request-URI, pushed Via ...) are recorded as splices on
the original bytes and applied by ``to_bytes()``, so an untouched header is
never re-serialised. Reads always see the message as received, as in
Kamailio (the R-URI is the exception: the proxy core keeps a new R-URI apart).

Modules that edit at byte level (textops, rr, auth ...) use the public
primitives: ``header_indices``/``header_span``/``header_value_at`` to find a
field, ``headers_start``/``start_line_span``/``reason_span``/``body_start`` for
other positions, ``splice`` to record an edit (it returns an edit id, see
``rewrite_edit``), ``edit_snapshot``/``restore_edits`` to save and put back the
pending edits, and ``reparse`` to make the edits part of the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from .cseq import parse_cseq
from .digest import DigestCredentials, parse_credentials
from .errors import SIPParseError, SIPUsageError
from .headers import CANONICAL_NAMES, HeaderId, header_id
from .nameaddr import NameAddr, parse_contacts, parse_name_addr, split_header_values
from .scan_py import (
    HEADER_BASE,
    HEADER_FIELDS,
    KIND_REQUEST,
    SOFT_ERRORS,
    ScanError,
)
from .scanner import scan
from .uri import SipURI, parse_uri
from .via import Via, parse_via

_ENC = "utf-8"
_ERRORS = "surrogateescape"  # lossless: any byte survives a decode/encode round trip


def decode(raw: bytes) -> str:
    """Bytes of a message to str, keeping every byte (surrogate escapes for non-UTF-8)."""
    return raw.decode(_ENC, _ERRORS)


def encode(text: str) -> bytes:
    """The inverse of ``decode``."""
    return text.encode(_ENC, _ERRORS)


def _unfold(value: str) -> str:
    """RFC 3261 §7.3.1: a fold (CRLF + whitespace) is equivalent to one SP."""
    if "\n" not in value:
        return value
    lines = value.replace("\r\n", "\n").split("\n")
    return " ".join(part.strip(" \t") for part in lines)


_NONE: list[int] = []


class cached_property:  # noqa: N801 - drop-in for functools.cached_property
    """Compute once per instance and store in its __dict__; no lock (3.11's has one).

    Messages are handled by one thread at a time, so the lock functools takes
    on every first access is pure cost on the per-message path.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


Edit = tuple[int, int, int, bytes]
"""One pending edit: (start, end, edit id, replacement bytes) on the original buffer."""


class HeaderSpan(NamedTuple):
    """Byte offsets of one header field in ``SIPMessage.raw`` (ends exclusive)."""

    hid: int  # header id (HeaderId), 0 for a header ksrpy has no id for
    name_start: int
    name_end: int
    value_start: int  # the value without leading/trailing whitespace (folds included)
    value_end: int
    line_end: int  # after the line's LF: [name_start, line_end) is the whole field


class EditSnapshot(NamedTuple):
    """The pending edits at one moment (``edit_snapshot``/``restore_edits``); immutable."""

    edits: tuple[Edit, ...]
    last_edit_id: int


class Header:
    """One header field of the received message (name and value as written)."""

    __slots__ = ("hid", "name", "value", "index", "_msg")

    def __init__(self, msg: SIPMessage, index: int, hid: int, name: str, value: str) -> None:
        self._msg = msg
        self.index = index
        self.hid = hid
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"Header({self.name!r}, {self.value!r})"


class SIPMessage:
    """A parsed SIP request or reply (use ``parse``)."""

    def __init__(self, raw: bytes, index: list[int]) -> None:
        self.raw = raw
        self._idx = index
        self._edits: list[Edit] = []
        self._edit_seq = 0
        self._by_id: dict[int, list[int]] | None = None
        self._first: dict[int, str | None] = {}

    # ----------------------------------------------------------- construction

    @classmethod
    def parse(cls, raw: bytes) -> SIPMessage:
        """Scan ``raw``; raise SIPParseError (with the status to answer) when invalid."""
        try:
            index = scan(raw)
        except ScanError as exc:
            raise SIPParseError(str(exc), 0) from None
        msg = cls(raw, index)
        if index[0]:
            status, reason = SOFT_ERRORS[index[0]]
            raise SIPParseError(reason, status if msg.is_request else 0, msg)
        return msg

    # ------------------------------------------------------------ start line

    @property
    def is_request(self) -> bool:
        """True for a request, False for a reply."""
        return self._idx[1] == KIND_REQUEST

    @cached_property
    def method(self) -> str:
        """Request method; for a reply the CSeq method (as Kamailio's $rm)."""
        if self.is_request:
            return self.raw[self._idx[2] : self._idx[3]].decode("ascii")
        return self.cseq[1]

    @cached_property
    def ruri(self) -> str:
        """The Request-URI as received ('' for replies)."""
        if not self.is_request:
            return ""
        return decode(self.raw[self._idx[4] : self._idx[5]])

    @cached_property
    def ruri_parsed(self) -> SipURI:
        """The Request-URI, parsed."""
        return parse_uri(self.ruri)

    @property
    def status(self) -> int:
        """Reply status code (0 for requests)."""
        return self._idx[6]

    @cached_property
    def reason(self) -> str:
        """Reply reason phrase ('' for requests)."""
        if self.is_request:
            return ""
        return decode(self.raw[self._idx[4] : self._idx[5]])

    @property
    def start_line(self) -> bytes:
        """The start line without its terminator."""
        return self.raw[self._idx[2] : self._idx[7]]

    @property
    def start_line_span(self) -> tuple[int, int]:
        """(start, end) offsets in ``raw`` of the start line, without its terminator."""
        return self._idx[2], self._idx[7]

    @property
    def reason_span(self) -> tuple[int, int]:
        """(start, end) offsets in ``raw`` of a reply's reason phrase (to splice a new one)."""
        if self.is_request:
            raise SIPUsageError("a request has no reason phrase")
        return self._idx[4], self._idx[5]

    # ---------------------------------------------------------------- headers

    @property
    def header_count(self) -> int:
        """Number of header fields."""
        return self._idx[10]

    def _span(self, i: int) -> tuple[int, int, int, int, int, int]:
        """header_span as a plain tuple (the fast form used inside this class)."""
        base = HEADER_BASE + HEADER_FIELDS * i
        idx = self._idx
        return (idx[base], idx[base + 1], idx[base + 2], idx[base + 3], idx[base + 4],
                idx[base + 5])

    def header_span(self, index: int) -> HeaderSpan:
        """Offsets in ``raw`` of header field ``index`` (0-based; IndexError when none)."""
        if not 0 <= index < self._idx[10]:
            raise IndexError(f"no header field {index}")
        return HeaderSpan(*self._span(index))

    def header_value_at(self, index: int) -> str:
        """Value of header field ``index`` as received, folds unfolded."""
        base = HEADER_BASE + HEADER_FIELDS * index
        return _unfold(decode(self.raw[self._idx[base + 3] : self._idx[base + 4]]))

    def header_indices(self, name_or_id: str | int) -> list[int]:
        """Positions (for header_span/header_value_at) of every field with this name or id.

        A name matches its full and compact form in any case; an id is a HeaderId
        (0 picks every header ksrpy has no id for). A new list, in message order.
        """
        if isinstance(name_or_id, int):
            return list(self._indices(name_or_id))
        return list(self._indices_by_name(name_or_id))

    def _indices(self, hid: int) -> list[int]:
        by_id = self._by_id
        if by_id is None:
            by_id = {}
            for i, header_id_ in enumerate(self._idx[HEADER_BASE::HEADER_FIELDS]):
                found = by_id.get(header_id_)
                if found is None:
                    by_id[header_id_] = [i]
                else:
                    found.append(i)
            self._by_id = by_id
        return by_id.get(hid, _NONE)

    def _indices_by_name(self, name: str) -> list[int]:
        hid = header_id(name)
        if hid:
            return self._indices(hid)
        wanted = name.strip().lower().encode()
        out = []
        raw = self.raw
        for i in self._indices(0):
            base = HEADER_BASE + HEADER_FIELDS * i
            if raw[self._idx[base + 1] : self._idx[base + 2]].lower() == wanted:
                out.append(i)
        return out

    def headers(self) -> list[Header]:
        """Every header field in order."""
        out = []
        for i in range(self.header_count):
            hid, ns, ne, _vs, _ve, _le = self._span(i)
            out.append(Header(self, i, hid, decode(self.raw[ns:ne]), self.header_value_at(i)))
        return out

    def get_header(self, name: str) -> str | None:
        """Value of the first header with this name (full or compact, any case)."""
        found = self._indices_by_name(name)
        return self.header_value_at(found[0]) if found else None

    def get_headers(self, name: str) -> list[str]:
        """Values of every header field with this name, one per header line."""
        return [self.header_value_at(i) for i in self._indices_by_name(name)]

    def get_header_values(self, name: str) -> list[str]:
        """Every comma-separated entry of every header with this name (Via, Route ...)."""
        out: list[str] = []
        for value in self.get_headers(name):
            out.extend(split_header_values(value))
        return out

    def has_header(self, name: str) -> bool:
        """True when a header with this name is present."""
        return bool(self._indices_by_name(name))

    def first_span(self, hid: int) -> tuple[int, int, int] | None:
        """(name start, value end, line end) of the first header with id, None when absent."""
        found = self._indices(hid)
        if not found:
            return None
        base = HEADER_BASE + HEADER_FIELDS * found[0]
        idx = self._idx
        return idx[base + 1], idx[base + 4], idx[base + 5]

    def first_value_bytes(self, hid: int) -> bytes:
        """Raw value bytes of the first header with id (b'' when absent)."""
        found = self._indices(hid)
        if not found:
            return b""
        base = HEADER_BASE + HEADER_FIELDS * found[0]
        return self.raw[self._idx[base + 3] : self._idx[base + 4]]

    def spans_of(self, hid: int) -> list[tuple[int, int, int, int, int]]:
        """(name start, name end, value start, value end, line end) of each header with id."""
        return [self._span(i)[1:] for i in self._indices(hid)]

    def header_by_id(self, hid: int) -> str | None:
        """Value of the first header with a known id (fast path for the core, cached)."""
        try:
            return self._first[hid]
        except KeyError:
            pass
        found = self._indices(hid)
        value = self.header_value_at(found[0]) if found else None
        self._first[hid] = value
        return value

    # ---------------------------------------------------------- typed access

    @cached_property
    def vias(self) -> list[Via]:
        """Every Via entry, top first."""
        out: list[Via] = []
        for i in self._indices(HeaderId.VIA):
            out.extend(parse_via(self.header_value_at(i)))
        return out

    @cached_property
    def via1(self) -> Via:
        """The top Via (SIPParseError 400 when there is none)."""
        first = self._indices(HeaderId.VIA)
        if not first:
            raise SIPParseError("missing Via header", 400, self)
        return parse_via(self.header_value_at(first[0]))[0]

    @cached_property
    def from_(self) -> NameAddr:
        """The From header."""
        return self._name_addr(HeaderId.FROM, "From")

    @cached_property
    def to(self) -> NameAddr:
        """The To header."""
        return self._name_addr(HeaderId.TO, "To")

    def _name_addr(self, hid: int, label: str) -> NameAddr:
        value = self.header_by_id(hid)
        if value is None:
            raise SIPParseError(f"missing {label} header", 400, self)
        return parse_name_addr(value)

    @cached_property
    def call_id(self) -> str:
        """The Call-ID ('' when missing; sanity checks report that)."""
        return self.header_by_id(HeaderId.CALL_ID) or ""

    @cached_property
    def cseq(self) -> tuple[int, str]:
        """CSeq number and method."""
        value = self.header_by_id(HeaderId.CSEQ)
        if value is None:
            raise SIPParseError("missing CSeq header", 400, self)
        return parse_cseq(value)

    @cached_property
    def max_forwards(self) -> int | None:
        """Max-Forwards value, None when absent (SIPParseError 400 when not a number)."""
        value = self.header_by_id(HeaderId.MAX_FORWARDS)
        if value is None:
            return None
        if not value.isdigit() or len(value) > 3:
            raise SIPParseError("invalid Max-Forwards value", 400, self)
        return int(value)

    @cached_property
    def expires(self) -> int | None:
        """Expires header value, None when absent."""
        value = self.header_by_id(HeaderId.EXPIRES)
        if value is None:
            return None
        if not value.isdigit():
            raise SIPParseError("invalid Expires value", 400, self)
        return int(value)

    @cached_property
    def contacts(self) -> list[NameAddr] | str:
        """Every Contact entry, or "*" for the wildcard."""
        values = self.get_headers("Contact")
        if not values:
            return []
        if len(values) == 1 and values[0].strip() == "*":
            return "*"
        out: list[NameAddr] = []
        for value in values:
            parsed = parse_contacts(value)
            if parsed == "*":
                raise SIPParseError("Contact '*' mixed with other contacts", 400, self)
            out.extend(parsed)
        return out

    @property
    def content_length(self) -> int:
        """Content-Length value, -1 when the header is absent."""
        return self._idx[9]

    @property
    def body_start(self) -> int:
        """Offset in ``raw`` where the body starts (after the empty line; len(raw) if none)."""
        return self._idx[8]

    @cached_property
    def body(self) -> bytes:
        """The body, cut to Content-Length when that header is present."""
        start, length = self._idx[8], self._idx[9]
        if length < 0:
            return self.raw[start:]
        return self.raw[start : start + length]

    @cached_property
    def user_agent(self) -> str | None:
        """User-Agent value, None when absent."""
        return self.header_by_id(HeaderId.USER_AGENT)

    def credentials(self, proxy: bool = False) -> list[DigestCredentials]:
        """Every Authorization (or Proxy-Authorization) header, parsed."""
        hid = HeaderId.PROXY_AUTHORIZATION if proxy else HeaderId.AUTHORIZATION
        return [parse_credentials(self.header_value_at(i)) for i in self._indices(hid)]

    # ------------------------------------------------------------------ edits

    def splice(self, start: int, end: int, data: bytes) -> int:
        """Record the raw edit "bytes [start, end) of ``raw`` become ``data``"; its edit id.

        The primitive under every edit: offsets are in the received buffer (from
        header_span, headers_start ...), ``start == end`` inserts, ``data == b""``
        removes. Inserts at one position keep their order; replacing a span
        already replaced supersedes the earlier edit. Nothing is checked: the
        caller writes whole, well-formed lines. Applied by ``to_bytes()``.
        """
        self._edit_seq += 1
        if end > start:
            # A second replacement of the same span supersedes the first.
            for n, (s, e, _seq, _data) in enumerate(self._edits):
                if s == start and e == end:
                    self._edits[n] = (start, end, self._edit_seq, data)
                    return self._edit_seq
        self._edits.append((start, end, self._edit_seq, data))
        return self._edit_seq

    @property
    def last_edit_id(self) -> int:
        """Id of the latest edit recorded (0 before any); ids only grow."""
        return self._edit_seq

    def rewrite_edit(self, edit_id: int, data: bytes) -> bool:
        """Give pending edit ``edit_id`` new bytes (b"" undoes an insert); False when gone.

        The edit keeps its id and position (e.g. rr updating its Record-Route
        insert when a parameter is added or the outgoing socket is known).
        """
        edits = self._edits
        for n, (start, end, eid, _old) in enumerate(edits):
            if eid == edit_id:
                edits[n] = (start, end, eid, data)
                return True
        return False

    def edit_snapshot(self) -> EditSnapshot:
        """The pending edits now, to put back later with ``restore_edits``."""
        return EditSnapshot(tuple(self._edits), self._edit_seq)

    def restore_edits(self, snapshot: EditSnapshot) -> None:
        """Make the pending edits those of ``snapshot`` (edits made since are dropped)."""
        self._edits = list(snapshot.edits)
        self._edit_seq = snapshot.last_edit_id

    def reparse(self, data: bytes | None = None) -> None:
        """Become the message in ``data`` (default: ``to_bytes()``), in place.

        Later reads see the new bytes; pending edits and cached values are
        dropped. In place so that every holder of this object (the route's
        context, tm) sees it, as Kamailio rewrites its one sip_msg. SIPParseError
        (this message unchanged) when ``data`` does not parse, or would turn a
        request into a reply or the reverse.
        """
        fresh = SIPMessage.parse(self.to_bytes() if data is None else data)
        if fresh.is_request != self.is_request:
            raise SIPParseError("a request cannot become a reply or the reverse", 0)
        state = self.__dict__
        state.clear()
        state.update(fresh.__dict__)

    @property
    def headers_start(self) -> int:
        """Offset in ``raw`` of the first header field (insertion point for a top header)."""
        if self.header_count:
            return self._span(0)[1]
        return self._body_separator_start

    @property
    def _body_separator_start(self) -> int:
        """Where the empty line ending the headers starts (insertion point for bottom)."""
        body = self._idx[8]
        raw = self.raw
        if body >= 2 and raw[body - 2 : body] == b"\r\n":
            return body - 2
        if body >= 1 and raw[body - 1 : body] == b"\n" and body > self._idx[7] + 1:
            return body - 1
        return body

    @staticmethod
    def _header_line(name: str, value: str) -> bytes:
        if "\r" in name or "\n" in name or ":" in name or not name.strip():
            raise SIPUsageError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value:
            raise SIPUsageError(f"header value for {name} contains a line break")
        return encode(f"{name}: {value}\r\n")

    def add_header(self, name: str, value: str, *, top: bool = False) -> None:
        """Add a header at the bottom of the header block (or the top)."""
        line = self._header_line(name, value)
        pos = self.headers_start if top else self._body_separator_start
        self.splice(pos, pos, line)

    def add_raw_header_lines(self, lines: bytes, *, top: bool = False) -> None:
        """Add pre-formatted header lines (each ending with CRLF), e.g. from append_hf."""
        if not lines.endswith(b"\r\n"):
            lines += b"\r\n"
        pos = self.headers_start if top else self._body_separator_start
        self.splice(pos, pos, lines)

    def remove_header(self, name: str) -> int:
        """Remove every header field with this name; return how many were removed."""
        found = self._indices_by_name(name)
        for i in found:
            _hid, ns, _ne, _vs, _ve, le = self._span(i)
            self.splice(ns, le, b"")
        return len(found)

    def remove_header_at(self, index: int) -> int:
        """Remove header field ``index`` (whole line, folds included); the edit id."""
        _hid, ns, _ne, _vs, _ve, le = self.header_span(index)
        return self.splice(ns, le, b"")

    def set_header_value(self, name: str, value: str) -> bool:
        """Replace the value of the first header with this name; False when absent."""
        found = self._indices_by_name(name)
        if not found:
            return False
        if "\r" in value or "\n" in value:
            raise SIPUsageError(f"header value for {name} contains a line break")
        _hid, _ns, _ne, vs, ve, _le = self._span(found[0])
        self.splice(vs, ve, encode(value))
        return True

    def set_header_value_by_id(self, hid: int, value: str) -> bool:
        """set_header_value for a known header id (no name lookup)."""
        found = self._indices(hid)
        if not found:
            return False
        if "\r" in value or "\n" in value:
            raise SIPUsageError("header value contains a line break")
        base = HEADER_BASE + HEADER_FIELDS * found[0]
        self.splice(self._idx[base + 3], self._idx[base + 4], encode(value))
        return True

    def set_ruri(self, uri: str) -> None:
        """Replace the Request-URI in the start line."""
        if not self.is_request:
            raise SIPUsageError("a reply has no Request-URI")
        if any(c in uri for c in " \r\n"):
            raise SIPUsageError(f"invalid Request-URI {uri!r}")
        self.splice(self._idx[4], self._idx[5], encode(uri))

    def push_via(self, via: str) -> None:
        """Add a Via header above all others (a proxy forwarding a request)."""
        self.add_header("Via", via, top=True)

    def remove_top_via(self) -> None:
        """Remove the top Via entry (a proxy forwarding a reply upstream)."""
        first = self._indices(HeaderId.VIA)
        if not first:
            raise SIPUsageError("no Via to remove")
        i = first[0]
        values = split_header_values(self.header_value_at(i))
        _hid, ns, _ne, vs, ve, le = self._span(i)
        if len(values) <= 1:
            self.splice(ns, le, b"")
        else:
            self.splice(vs, ve, encode(", ".join(values[1:])))

    def set_top_via(self, via: str) -> None:
        """Replace the top Via entry (e.g. to add received/rport), keeping the others."""
        first = self._indices(HeaderId.VIA)
        if not first:
            raise SIPUsageError("no Via to replace")
        if "\r" in via or "\n" in via:
            raise SIPUsageError("Via value contains a line break")
        i = first[0]
        values = split_header_values(self.header_value_at(i))
        values[0] = via
        _hid, _ns, _ne, vs, ve, _le = self._span(i)
        self.splice(vs, ve, encode(", ".join(values)))

    def set_max_forwards(self, value: int) -> None:
        """Set Max-Forwards, adding the header when absent."""
        if not self.set_header_value("Max-Forwards", str(value)):
            self.add_header("Max-Forwards", str(value))

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        """Replace the body and fix Content-Length (and Content-Type when given)."""
        start = self._idx[8]
        self.splice(start, len(self.raw), body)
        if not self.set_header_value("Content-Length", str(len(body))):
            self.add_header("Content-Length", str(len(body)))
        if content_type is not None and not self.set_header_value("Content-Type", content_type):
            self.add_header("Content-Type", content_type)

    @contextmanager
    def temporary_edits(self) -> Iterator[None]:
        """Edits made inside the block are undone when it ends (e.g. a per-branch Via)."""
        saved, seq = list(self._edits), self._edit_seq
        try:
            yield
        finally:
            self._edits, self._edit_seq = saved, seq

    @property
    def modified(self) -> bool:
        """True when edits are pending."""
        return bool(self._edits)

    def to_bytes(self) -> bytes:
        """The message with every edit spliced in (the original bytes when unedited).

        Edits are applied by position; inserts at the same position keep their
        order; an edit inside a removed range is dropped (the removal wins).
        """
        if not self._edits:
            return self.raw
        edits = sorted(self._edits, key=lambda e: (e[0], e[1] != e[0], e[2]))
        parts: list[bytes] = []
        pos = 0
        raw = self.raw
        for start, end, _seq, data in edits:
            if start < pos:
                # Overlaps a range already replaced or removed: skip (removal wins).
                if end <= pos:
                    continue
                start = pos
            parts.append(raw[pos:start])
            parts.append(data)
            pos = max(pos, end)
        parts.append(raw[pos:])
        return b"".join(parts)

    def __repr__(self) -> str:
        first = self.start_line[:80].decode("utf-8", "replace")
        return f"<SIPMessage {first!r}>"


def canonical(hid: int) -> str:
    """Canonical header name for an id."""
    return CANONICAL_NAMES[HeaderId(hid)]
