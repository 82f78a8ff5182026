"""textopsx: more message text operations (Kamailio's textopsx).

ksrpy's message keeps the received bytes and records every change as a
splice applied when the message is sent, as Kamailio's lumps: reads
(``is_present_hf``, ``$hdr``, iterators) see the message as received.
``msg_apply_changes()`` makes the changes part of the message itself: the
spliced bytes (with a new Request-URI, if the script set one) are parsed
again and become the message, so later reads see them. Header-value edits
live in ``textopsx_hfvalue``; the header and body-line iterators here keep
their position per message (``$hfitname``/``$hfitbody``/``$blitval`` read it).
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ..script.pv import PV, register_class
from ..sip.errors import SIPError, SIPParseError
from ..sip.headers import HeaderId
from ..sip.message import SIPMessage, decode, encode
from ..util.posixre import PosixRegexError
from .exports import (
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Module,
    Returns,
    export,
)
from .exports import ArgKind as K
from .textops import posix_regex
from .textopsx_hfvalue import (
    APPEND,
    ASSIGN,
    ASSIGN2,
    EXCLUDE,
    EXISTS,
    INCLUDE,
    INSERT,
    REMOVE,
    REMOVE2,
    Editor,
    parse_spec,
)

if TYPE_CHECKING:
    from ..core.context import Context

log = logging.getLogger("ksrpy.textopsx")

#: Headers keep_hf() never removes (Kamailio's list).
KEPT = frozenset({HeaderId.FROM, HeaderId.TO, HeaderId.CALL_ID, HeaderId.CSEQ, HeaderId.VIA,
                  HeaderId.CONTACT, HeaderId.CONTENT_LENGTH, HeaderId.CONTENT_TYPE,
                  HeaderId.ROUTE, HeaderId.RECORD_ROUTE, HeaderId.MAX_FORWARDS})
#: Iterators of one kind alive at once, and the longest name (as Kamailio).
MAX_ITERATORS = 4
MAX_NAME = 32
HF_VALUE_ROUTES = REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE
APPLY_ROUTES = REQUEST_ROUTE | ONREPLY_ROUTE
_HF_ITERATORS = "textopsx_hf"
_BL_ITERATORS = "textopsx_bl"
_BODY_EDITS = "textopsx_body"


# ----------------------------------------------------------------- whole message


def _status_span(msg: SIPMessage) -> tuple[int, int]:
    """Byte offsets of the 3-digit status code in a reply's start line."""
    start = msg.start_line_span[0]
    m = re.match(rb"SIP/\d+\.\d+[ \t]+(\d{3})", msg.raw[start:start + 64])
    if m is None:
        raise SIPError("reply start line without a status code")
    return start + m.start(1), start + m.end(1)


# ---------------------------------------------------------------------- fnmatch

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "xdigit": "0-9A-Fa-f",
    "punct": re.escape(string.punctuation), "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e",
}


def _bracket(pat: str, i: int) -> tuple[str, int] | None:
    """The regex of the ``[...]`` starting at ``pat[i]`` and the index after it."""
    n, j = len(pat), i + 1
    negate = j < n and pat[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    first = True
    while j < n and (pat[j] != "]" or first):
        first = False
        if pat.startswith("[:", j):
            end = pat.find(":]", j + 2)
            if end != -1:
                cls = _CLASSES.get(pat[j + 2:end])
                if cls is None:
                    raise ValueError(f"unknown character class [:{pat[j + 2:end]}:]")
                items.append(cls)
                j = end + 2
                continue
        if pat[j] == "\\" and j + 1 < n:
            items.append(re.escape(pat[j + 1]))
            j += 2
            continue
        if j + 2 < n and pat[j + 1] == "-" and pat[j + 2] != "]":
            items.append(f"{re.escape(pat[j])}-{re.escape(pat[j + 2])}")
            j += 3
            continue
        items.append(re.escape(pat[j]))
        j += 1
    if j >= n:
        return None
    return "[" + ("^" if negate else "") + "".join(items) + "]", j + 1


@lru_cache(maxsize=256)
def fnmatch_regex(pattern: str, icase: bool) -> re.Pattern[str]:
    """POSIX fnmatch() without flags (``*``, ``?``, ``[...]``, ``\\`` escapes) as a regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            found = _bracket(pattern, i)
            if found is not None:
                out.append(found[0])
                i = found[1]
                continue
            out.append(re.escape(c))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if icase else 0))


# -------------------------------------------------------------------- iterators


@dataclass
class _Iter:
    """One named iterator: its position (-1 before the first item)."""

    pos: int = -1


@dataclass
class _BodyEdits:
    """Body-line changes: removed lines, text before and after lines."""

    removed: set[int] = field(default_factory=set)
    before: dict[int, list[bytes]] = field(default_factory=dict)
    after: dict[int, list[bytes]] = field(default_factory=dict)


def _iterators(ctx: Context, key: str) -> dict[str, _Iter]:
    found = ctx.extra.get(key)
    if found is None:
        found = ctx.extra[key] = {}
    return found  # type: ignore[no-any-return]


def body_lines(msg: SIPMessage) -> list[bytes]:
    """The body's lines, each with its end-of-line characters."""
    return re.findall(rb"[^\n]*\n|[^\n]+$", msg.body)


def _line_text(text: str) -> bytes:
    data = encode(text)
    return data if not data or data.endswith(b"\n") else data + b"\r\n"


def _hf_current(ctx: Context, name: str) -> int | None:
    it = _iterators(ctx, _HF_ITERATORS).get(name)
    if it is None or not 0 <= it.pos < ctx.msg.header_count:
        return None
    return it.pos


def _bl_current(ctx: Context, name: str) -> bytes | None:
    it = _iterators(ctx, _BL_ITERATORS).get(name)
    lines = body_lines(ctx.msg)
    if it is None or not 0 <= it.pos < len(lines):
        return None
    return lines[it.pos]


def _hf_name(ctx: Context, name: str) -> str | None:
    pos = _hf_current(ctx, name)
    return None if pos is None else ctx.msg.headers()[pos].name


def _hf_body(ctx: Context, name: str) -> str | None:
    pos = _hf_current(ctx, name)
    return None if pos is None else ctx.msg.headers()[pos].value


def _bl_value(ctx: Context, name: str) -> str | None:
    line = _bl_current(ctx, name)
    return None if line is None else decode(line)


def _iter_pv(cls: str, getter: Callable[[Context, str], str | None]) -> Callable[[str], PV]:
    def factory(inner: str) -> PV:
        name = inner.strip()
        return PV(f"${cls}({name})", lambda ctx: getter(ctx, name))

    return factory


register_class("hfitname", _iter_pv("hfitname", _hf_name))
register_class("hfitbody", _iter_pv("hfitbody", _hf_body))
register_class("blitval", _iter_pv("blitval", _bl_value))


# ----------------------------------------------------------------------- module


class TextopsxModule(Module):
    """Apply changes, reply status, body and header-value edits, header/body iterators."""

    name = "textopsx"
    kemi_namespace = "textopsx"

    # ------------------------------------------------------------ whole message

    @export("msg_apply_changes", routes=APPLY_ROUTES)
    def msg_apply_changes(self, ctx: Context) -> int:
        """Make the pending changes part of the message (later reads see them); 1 or -1."""
        msg = ctx.msg
        if msg.is_request:
            if ctx.extra.get("tm") is not None:
                log.error("textopsx: msg_apply_changes() after the transaction was created "
                          "(call it before t_newtran/t_relay)")
                return -1
            rr_state = ctx.extra.get("rr")
            if rr_state is not None and getattr(rr_state, "added", False):
                log.error("textopsx: cannot apply msg changes after adding record-route "
                          "- it breaks conditional 2nd header")
                return -1
        with msg.temporary_edits():
            if msg.is_request and ctx.new_ruri is not None:
                msg.set_ruri(ctx.new_ruri)
            data = msg.to_bytes()
        try:
            msg.reparse(data)
        except SIPParseError as exc:
            log.error("textopsx: the changed message does not parse (%s); script stopped",
                      exc.reason)
            return 0
        if msg.is_request:
            ctx.new_ruri = None
            ctx.extra.pop("_ruri", None)
        return 1

    @export("msg_set_buffer", ("data", K.SPVE), routes=APPLY_ROUTES)
    def msg_set_buffer(self, ctx: Context, data: str) -> int:
        """Replace the whole message with ``data`` (a request for a request, a reply for a
        reply); -1 when it does not parse."""
        if not data:
            log.error("textopsx: msg_set_buffer() with an empty buffer")
            return -1
        if ctx.msg.is_request and ctx.extra.get("tm") is not None:
            log.error("textopsx: msg_set_buffer() after the transaction was created")
            return -1
        try:
            ctx.msg.reparse(encode(data))
        except SIPParseError as exc:
            log.error("textopsx: msg_set_buffer(): new content does not parse (%s)",
                      exc.reason)
            return -1
        if ctx.msg.is_request:
            ctx.new_ruri = None
            ctx.extra.pop("_ruri", None)
        return 1

    # ------------------------------------------------------------- reply status

    def _status(self, ctx: Context, code: int, reason: str | None) -> int:
        msg = ctx.msg
        if msg.is_request:
            log.error("textopsx: change_reply_status() needs a reply")
            return -1
        if reason is not None and (not reason or "\r" in reason or "\n" in reason):
            log.error("textopsx: change_reply_status(): invalid reason parameter %r", reason)
            return -1
        if not 100 <= code <= 699:
            log.error("textopsx: change_reply_status(): wrong status code: %d", code)
            return -1
        current = msg.status
        if (code < 300 or current < 300) and code // 100 != current // 100:
            log.error("textopsx: the class of provisional or positive final replies "
                      "cannot be changed")
            return -1
        start, end = _status_span(msg)
        msg.splice(start, end, str(code).encode())
        if reason is not None:
            rs, re_ = msg.reason_span
            msg.splice(rs, re_, encode(reason))
        msg.reparse()
        return 1

    @export("change_reply_status", ("code", K.IGP), ("reason", K.SPVE), routes=ONREPLY_ROUTE)
    def change_reply_status(self, ctx: Context, code: int, reason: str) -> int:
        """Change a reply's status code and reason (the class of a 1xx/2xx stays)."""
        return self._status(ctx, int(code), str(reason))

    @export("change_reply_status_code", ("code", K.IGP), routes=ONREPLY_ROUTE)
    def change_reply_status_code(self, ctx: Context, code: int) -> int:
        """Change a reply's status code only."""
        return self._status(ctx, int(code), None)

    # --------------------------------------------------------- body and headers

    @export("remove_body")
    def remove_body(self, ctx: Context) -> int:
        """Remove the body (Content-Length becomes 0); 1, also when there is none."""
        msg = ctx.msg
        if msg.body:
            msg.set_body(b"")
        return 1

    def _keep(self, ctx: Context, regex: str | None) -> int:
        rx = None
        if regex:
            try:
                rx = posix_regex(regex)
            except PosixRegexError as exc:
                log.error("textopsx: keep_hf(): bad regular expression %r: %s", regex, exc)
                return -1
        msg = ctx.msg
        for header in msg.headers():
            if header.hid in KEPT or (rx is not None and rx.search(header.name)):
                continue
            msg.remove_header_at(header.index)
        return 1

    @export("keep_hf", ("regexp", K.STR, True), kemi=None)
    def keep_hf_cfg(self, ctx: Context, regexp: str = "") -> int:
        """Remove every header whose name does not match ``regexp`` (core headers stay)."""
        return self._keep(ctx, regexp or None)

    @export("keep_hf", cfg=False)
    def keep_hf(self, ctx: Context) -> int:
        """Remove every header but the core ones (KEMI form without a regex)."""
        return self._keep(ctx, None)

    @export("keep_hf_re", ("regexp", K.STR), cfg=False)
    def keep_hf_re(self, ctx: Context, regexp: str) -> int:
        """keep_hf with a regular expression (KEMI form)."""
        return self._keep(ctx, regexp or None)

    @export("fnmatch", ("value", K.SPVE), ("expr", K.SPVE), ("flags", K.SPVE, True))
    def fnmatch(self, ctx: Context, value: str, expr: str, flags: str = "") -> int:
        """1 when ``value`` matches the shell pattern ``expr`` (flags "i": ignore case)."""
        try:
            rx = fnmatch_regex(str(expr), bool(flags) and flags[0] in "iI")
        except ValueError as exc:
            log.error("textopsx: fnmatch(): %s", exc)
            return -1
        return 1 if rx.fullmatch(str(value)) else -1

    @export("fnmatch_ex", ("value", K.STR), ("expr", K.STR), ("flags", K.STR), cfg=False)
    def fnmatch_ex(self, ctx: Context, value: str, expr: str, flags: str) -> int:
        """fnmatch with flags (KEMI form)."""
        return self.fnmatch(ctx, value, expr, flags)

    # ------------------------------------------------------------ header values

    def _hf(self, ctx: Context, op: str, spec_text: str, value: str | None) -> int:
        spec = parse_spec(str(spec_text), op)
        return Editor(ctx.msg).run(op, spec, value)

    @export("append_hf_value", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def append_hf_value(self, ctx: Context, hf: str, hvalue: str) -> int:
        """Add a value after value IDX of ``hf`` (a new header at the end without IDX)."""
        return self._hf(ctx, APPEND, hf, hvalue)

    @export("insert_hf_value", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def insert_hf_value(self, ctx: Context, hf: str, hvalue: str) -> int:
        """Add a value before value IDX of ``hf`` (a new header first without IDX)."""
        return self._hf(ctx, INSERT, hf, hvalue)

    @export("remove_hf_value", ("hf_par", K.STR), routes=HF_VALUE_ROUTES)
    def remove_hf_value(self, ctx: Context, hf_par: str) -> int:
        """Remove value IDX (default 1, ``*`` all) of a header, or its ``.param``."""
        return self._hf(ctx, REMOVE, hf_par, None)

    @export("remove_hf_value2", ("hf_par", K.STR), routes=HF_VALUE_ROUTES)
    def remove_hf_value2(self, ctx: Context, hf_par: str) -> int:
        """remove_hf_value for Authorization-like headers (IDX counts headers)."""
        return self._hf(ctx, REMOVE2, hf_par, None)

    @export("assign_hf_value", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def assign_hf_value(self, ctx: Context, hf: str, hvalue: str) -> int:
        """Set value IDX of a header, or its ``.param`` (empty: ``;param`` without ``=``)."""
        return self._hf(ctx, ASSIGN, hf, hvalue)

    @export("assign_hf_value2", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def assign_hf_value2(self, ctx: Context, hf: str, hvalue: str) -> int:
        """assign_hf_value for Authorization-like headers (``Digest a=1, b=2``)."""
        return self._hf(ctx, ASSIGN2, hf, hvalue)

    @export("include_hf_value", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def include_hf_value(self, ctx: Context, hf: str, hvalue: str) -> int:
        """Add ``hvalue`` to the header's value set unless present (``Supported: path``)."""
        return self._hf(ctx, INCLUDE, hf, hvalue)

    @export("exclude_hf_value", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def exclude_hf_value(self, ctx: Context, hf: str, hvalue: str) -> int:
        """Remove ``hvalue`` from the header's value set (every occurrence); 1."""
        return self._hf(ctx, EXCLUDE, hf, hvalue)

    @export("hf_value_exists", ("hf", K.STR), ("hvalue", K.SPVE), routes=HF_VALUE_ROUTES)
    def hf_value_exists(self, ctx: Context, hf: str, hvalue: str) -> int:
        """1 when ``hvalue`` is one of the header's values (case-insensitive), else -1."""
        return self._hf(ctx, EXISTS, hf, hvalue)

    # --------------------------------------------------------------- iterators

    def _start(self, ctx: Context, key: str, name: str) -> int:
        if not name or len(name) > MAX_NAME:
            log.error("textopsx: iterator name %r is empty or too big (max %d)", name, MAX_NAME)
            return -1
        its = _iterators(ctx, key)
        if name not in its and len(its) >= MAX_ITERATORS:
            log.error("textopsx: no iterator available - max number is %d", MAX_ITERATORS)
            return -1
        its[name] = _Iter()
        return 1

    def _get(self, ctx: Context, key: str, name: str) -> _Iter | None:
        it = _iterators(ctx, key).get(name)
        if it is None:
            log.error("textopsx: iterator not available [%s]", name)
        return it

    def _end(self, ctx: Context, key: str, name: str) -> int:
        _iterators(ctx, key).pop(name, None)
        return 1

    @staticmethod
    def _step(it: _Iter, count: int, delta: int) -> int:
        pos = it.pos + delta
        if delta < 0 and it.pos >= count:
            pos = count - 1
        if 0 <= pos < count:
            it.pos = pos
            return 1
        it.pos = count if delta > 0 else -1
        return -1

    @export("hf_iterator_start", ("iname", K.SPVE))
    def hf_iterator_start(self, ctx: Context, iname: str) -> int:
        """Start (or restart) header iterator ``iname`` before the first header."""
        if not ctx.msg.header_count:
            log.error("textopsx: no headers for iterator [%s]", iname)
            return -1
        return self._start(ctx, _HF_ITERATORS, iname)

    @export("hf_iterator_end", ("iname", K.SPVE))
    def hf_iterator_end(self, ctx: Context, iname: str) -> int:
        """Close header iterator ``iname``."""
        return self._end(ctx, _HF_ITERATORS, iname)

    @export("hf_iterator_next", ("iname", K.SPVE))
    def hf_iterator_next(self, ctx: Context, iname: str) -> int:
        """Move to the next header; -1 after the last one."""
        it = self._get(ctx, _HF_ITERATORS, iname)
        return -1 if it is None else self._step(it, ctx.msg.header_count, 1)

    @export("hf_iterator_prev", ("iname", K.SPVE))
    def hf_iterator_prev(self, ctx: Context, iname: str) -> int:
        """Move to the previous header; -1 before the first one."""
        it = self._get(ctx, _HF_ITERATORS, iname)
        return -1 if it is None else self._step(it, ctx.msg.header_count, -1)

    def _hf_span(self, ctx: Context, iname: str) -> tuple[int, int] | None:
        pos = _hf_current(ctx, iname) if self._get(ctx, _HF_ITERATORS, iname) else None
        if pos is None:
            return None
        span = ctx.msg.header_span(pos)
        return span.name_start, span.line_end

    @export("hf_iterator_rm", ("iname", K.SPVE))
    def hf_iterator_rm(self, ctx: Context, iname: str) -> int:
        """Remove the header at the iterator."""
        span = self._hf_span(ctx, iname)
        if span is None:
            return -1
        ctx.msg.splice(span[0], span[1], b"")
        return 1

    @export("hf_iterator_append", ("iname", K.SPVE), ("htext", K.SPVE))
    def hf_iterator_append(self, ctx: Context, iname: str, htext: str) -> int:
        """Add header text after the header at the iterator (CRLF added when missing)."""
        span = self._hf_span(ctx, iname)
        if span is None or not htext:
            return -1
        ctx.msg.splice(span[1], span[1], _line_text(htext))
        return 1

    @export("hf_iterator_insert", ("iname", K.SPVE), ("htext", K.SPVE))
    def hf_iterator_insert(self, ctx: Context, iname: str, htext: str) -> int:
        """Add header text before the header at the iterator (CRLF added when missing)."""
        span = self._hf_span(ctx, iname)
        if span is None or not htext:
            return -1
        ctx.msg.splice(span[0], span[0], _line_text(htext))
        return 1

    @export("hf_iterator_hname", ("iname", K.STR), returns=Returns.XVAL, cfg=False)
    def hf_iterator_hname(self, ctx: Context, iname: str) -> str | None:
        """The name of the header at the iterator ($hfitname), None when none."""
        return _hf_name(ctx, iname)

    @export("hf_iterator_hbody", ("iname", K.STR), returns=Returns.XVAL, cfg=False)
    def hf_iterator_hbody(self, ctx: Context, iname: str) -> str | None:
        """The body of the header at the iterator ($hfitbody), None when none."""
        return _hf_body(ctx, iname)

    # ---------------------------------------------------------- body iterators

    @export("bl_iterator_start", ("iname", K.SPVE))
    def bl_iterator_start(self, ctx: Context, iname: str) -> int:
        """Start body-line iterator ``iname`` before the first line."""
        return self._start(ctx, _BL_ITERATORS, iname)

    @export("bl_iterator_end", ("iname", K.SPVE))
    def bl_iterator_end(self, ctx: Context, iname: str) -> int:
        """Close body-line iterator ``iname``."""
        return self._end(ctx, _BL_ITERATORS, iname)

    @export("bl_iterator_next", ("iname", K.SPVE))
    def bl_iterator_next(self, ctx: Context, iname: str) -> int:
        """Move to the next body line; -1 after the last one."""
        it = self._get(ctx, _BL_ITERATORS, iname)
        return -1 if it is None else self._step(it, len(body_lines(ctx.msg)), 1)

    def _body_edit(self, ctx: Context, iname: str, kind: str, text: str = "") -> int:
        it = self._get(ctx, _BL_ITERATORS, iname)
        lines = body_lines(ctx.msg)
        if it is None or not 0 <= it.pos < len(lines):
            return -1
        edits: _BodyEdits = ctx.extra.setdefault(_BODY_EDITS, _BodyEdits())
        if kind == "rm":
            edits.removed.add(it.pos)
        else:
            if not text:
                return -1
            where = edits.before if kind == "insert" else edits.after
            where.setdefault(it.pos, []).append(encode(text))
        parts: list[bytes] = []
        for n, line in enumerate(lines):
            parts.extend(edits.before.get(n, ()))
            if n not in edits.removed:
                parts.append(line)
            parts.extend(edits.after.get(n, ()))
        ctx.msg.set_body(b"".join(parts))
        return 1

    @export("bl_iterator_rm", ("iname", K.SPVE))
    def bl_iterator_rm(self, ctx: Context, iname: str) -> int:
        """Remove the body line at the iterator (Content-Length follows)."""
        return self._body_edit(ctx, iname, "rm")

    @export("bl_iterator_append", ("iname", K.SPVE), ("text", K.SPVE))
    def bl_iterator_append(self, ctx: Context, iname: str, text: str) -> int:
        """Add text after the body line at the iterator (Content-Length follows)."""
        return self._body_edit(ctx, iname, "append", text)

    @export("bl_iterator_insert", ("iname", K.SPVE), ("text", K.SPVE))
    def bl_iterator_insert(self, ctx: Context, iname: str, text: str) -> int:
        """Add text before the body line at the iterator (Content-Length follows)."""
        return self._body_edit(ctx, iname, "insert", text)

    @export("bl_iterator_value", ("iname", K.STR), returns=Returns.XVAL, cfg=False)
    def bl_iterator_value(self, ctx: Context, iname: str) -> str | None:
        """The body line at the iterator with its line end ($blitval), None when none."""
        return _bl_value(ctx, iname)

