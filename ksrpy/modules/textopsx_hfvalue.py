"""textopsx header-value edits: append_hf_value("foo[2]", ...), remove_hf_value("foo.bar") ...

A spec ``NAME [ [IDX] ] [ .PARAM ]`` picks headers named NAME (compact forms
included), a value among their comma-separated values (IDX counts values
across every NAME header from 1; negative from the bottom, at most 10 back;
``*`` is every header) and, with PARAM, a ``;param[=value]`` of that value.
The ``2`` variants treat the header as Authorization-like (``Digest a=1,
b="2"``): commas separate parameters, not values, and IDX counts headers.

Positions are bytes of the received message; every change is a splice, so
reads keep seeing the message as received (as Kamailio's lumps).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..sip.message import encode

if TYPE_CHECKING:
    from ..sip.message import SIPMessage

#: Kamailio's MAX_HF_VALUE_STACK: how far back a negative index may reach.
MAX_BACK = 10

_SPACE = b" \t\r\n"
_SPEC = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(?:\[\s*(\*|[+-]?\d+)?\s*\]\s*)?"
                   r"(?:\.\s*([A-Za-z0-9_-]+))?\s*\Z")

# The operations (Kamailio's hno* codes).
APPEND, INSERT, REMOVE, ASSIGN, INCLUDE, EXCLUDE, EXISTS, REMOVE2, ASSIGN2 = (
    "append", "insert", "remove", "assign", "include", "exclude", "exists", "remove2",
    "assign2")


@dataclass(frozen=True)
class Spec:
    """A parsed ``NAME[IDX].PARAM`` for one operation."""

    name: str
    indexed: bool  # [..] given (or implied)
    all: bool  # [*]
    idx: int
    param: str


@functools.lru_cache(maxsize=256)
def parse_spec(text: str, op: str) -> Spec:
    """Parse and check a spec as Kamailio's fixups do (ValueError names the problem)."""
    m = _SPEC.match(text)
    if m is None:
        raise ValueError(f"cannot parse header spec {text!r} (expected NAME[IDX].PARAM)")
    name, idx_text, param = m.group(1), m.group(2), m.group(3) or ""
    indexed = "[" in text
    star = idx_text == "*"
    idx = 0 if star or idx_text is None else int(idx_text)
    where = f"{text!r}"
    if op in (INCLUDE, EXCLUDE, EXISTS):
        if indexed or param:
            raise ValueError(f"neither index nor param may be specified in {where}")
        return Spec(name, False, False, 0, "")
    if op in (APPEND, INSERT):
        if star:
            raise ValueError(f"asterisk not supported in {where}")
        if param:
            raise ValueError(f"param not supported in {where}")
        if not indexed or idx == 0:
            idx = -1 if op == APPEND else 1
    else:  # remove, assign and their 2 variants
        if star and not param and op in (ASSIGN, ASSIGN2):
            raise ValueError(f"asterisk not supported without param in {where}")
        if not star and (not indexed or idx == 0):
            idx, indexed = 1, True
    if idx < -MAX_BACK:
        raise ValueError(f"index cannot be lower than {-MAX_BACK} in {where}")
    return Spec(name, indexed, star, idx, param)


@dataclass
class _Hdr:
    """One header line: name start, value start/end, line end."""

    ns: int
    vs: int
    ve: int
    le: int


@dataclass
class _Val:
    """One comma-separated value: trimmed [start, end), deletable [lstart, lend)."""

    hdr: _Hdr
    start: int
    end: int
    lstart: int
    lend: int


def _headers(msg: SIPMessage, name: str) -> list[_Hdr]:
    out = []
    for i in msg.header_indices(name):
        span = msg.header_span(i)
        out.append(_Hdr(span.name_start, span.value_start, span.value_end, span.line_end))
    return out


def _values(raw: bytes, hdr: _Hdr) -> list[_Val]:
    """The values of one header, as Kamailio's find_next_value walks them."""
    out: list[_Val] = []
    p, end = hdr.vs, hdr.ve
    while True:
        lstart = p
        while p < end and raw[p] in _SPACE:
            p += 1
        start, quoted = p, False
        while p < end and (raw[p] != 0x2C or quoted):
            if raw[p] == 0x22 and (not quoted or raw[p - 1] != 0x5C):
                quoted = not quoted
            p += 1
        stop = p
        while stop > start and raw[stop - 1] in _SPACE:
            stop -= 1
        if p < end:
            p += 1
        out.append(_Val(hdr, start, stop, lstart, p))
        if p >= end:
            return out


def _all_values(msg: SIPMessage, name: str) -> list[_Val]:
    raw = msg.raw
    return [v for h in _headers(msg, name) for v in _values(raw, h)]


def _pick(items: list, idx: int):  # type: ignore[no-untyped-def, type-arg]
    """Item ``idx`` (1-based, negative from the end within MAX_BACK), None when absent."""
    if idx > 0:
        return items[idx - 1] if idx <= len(items) else None
    if idx < 0 and -idx <= min(len(items), MAX_BACK):
        return items[idx]
    return None


class Editor:
    """Header-value operations on one message (splices, as Kamailio's lumps)."""

    def __init__(self, msg: SIPMessage) -> None:
        self.msg = msg
        self.raw = msg.raw

    # --------------------------------------------------------------- primitives

    def _new_header(self, pos: int | None, name: str, value: bytes) -> int:
        line = encode(name) + b": " + value + b"\r\n"
        if pos is None:
            self.msg.add_raw_header_lines(line)
        else:
            self.msg.splice(pos, pos, line)
        return 1

    def _insert_value(self, hdr: _Hdr | None, pos: int, value: bytes) -> int:
        if hdr is None:
            data = value
        elif pos == hdr.ve:
            data = b"," + value
        else:
            data = value + b","
        self.msg.splice(pos, pos, data)
        return 1

    def _delete(self, hdr: _Hdr | None, start: int, end: int) -> int:
        if hdr is not None and start == hdr.vs and end == hdr.ve:
            self.msg.splice(hdr.ns, hdr.le, b"")
        else:
            self.msg.splice(start, end, b"")
        return 1

    def _delete_value(self, val: _Val) -> int:
        start = val.lstart
        if val.lend == val.hdr.ve and start > val.hdr.vs:
            start -= 1  # the last value takes its leading comma with it
        return self._delete(val.hdr, start, val.lend)

    # ------------------------------------------------------------ parameters

    def _params_start(self, start: int, end: int) -> int:
        """Where ``;params`` of a value begin (after any "name" <uri>), else ``end``."""
        raw, i, quoted, angle = self.raw, start, False, False
        while i < end:
            c = raw[i]
            if quoted:
                if c == 0x22 and raw[i - 1] != 0x5C:
                    quoted = False
            elif c == 0x22:
                quoted = True
            elif c == 0x3C:
                angle = True
            elif c == 0x3E:
                angle = False
            elif c == 0x3B and not angle:
                return i
            i += 1
        return end

    def _find_param(self, name: str, a: int, b: int) -> tuple[bool, int, int, int, int]:
        """(found, upd_start, upd_end, del_start, del_end) of ``;name[=v]`` in [a, b)."""
        raw, want, i = self.raw, name.lower().encode(), a
        while True:
            del_s = i
            while i < b and raw[i] in _SPACE:
                i += 1
            if not (i < b and raw[i] == 0x3B):
                return False, del_s, del_s, del_s, del_s
            i += 1
            while i < b and raw[i] in _SPACE:
                i += 1
            j = i
            while i < b and raw[i] not in _SPACE and raw[i] not in b"=;":
                i += 1
            found = raw[j:i].lower() == want
            upd_s = i
            while i < b and raw[i] in _SPACE:
                i += 1
            if i < b and raw[i] == 0x3D:
                i += 1
                while i < b and raw[i] in _SPACE:
                    i += 1
                i = self._skip_param_value(i, b, b";")
            if found:
                return True, upd_s, i, del_s, i

    def _skip_param_value(self, i: int, b: int, stop: bytes) -> int:
        raw = self.raw
        if i < b and raw[i] == 0x22:
            i += 1
            while i < b:
                if raw[i] == 0x22:
                    return i + 1
                i += 1
            return i
        while i < b and raw[i] not in _SPACE and raw[i] not in stop:
            i += 1
        return i

    def _find_param2(self, name: str, a: int, b: int
                     ) -> tuple[bool, int, int, int, int, bytes]:
        """Like _find_param for ``scheme a=1, b="2"`` bodies; also the delimiter to add with."""
        raw, want, i, delim = self.raw, name.lower().encode(), a, b""
        while i < b:
            del_s = i
            while i < b and raw[i] in _SPACE:
                i += 1
            comma = i < b and raw[i] == 0x2C
            if comma:
                i += 1
            while i < b and raw[i] in _SPACE:
                i += 1
            if i < b and _alnum(raw[i]):
                j = i
                delim = delim or b" "
                while i < b and _alnum(raw[i]):
                    i += 1
                k = i
                while i < b and raw[i] in _SPACE:
                    i += 1
                upd_s = i
                if i < b and raw[i] == 0x3D:
                    delim = b","
                    i += 1
                    found = raw[j:k].lower() == want
                    while i < b and raw[i] in _SPACE:
                        i += 1
                    i = self._skip_param_value(i, b, b",")
                    if found:
                        upd_e = del_e = i
                        while i < b and raw[i] in _SPACE:
                            i += 1
                        if not comma and i < b and raw[i] == 0x2C:
                            del_e = i + 1
                        return True, upd_s, upd_e, del_s, del_e, delim
                while i < b and raw[i] in _SPACE:
                    i += 1
            elif i < b:
                i += 1  # a character no parameter starts with
        return False, b, b, b, b, delim

    def _lump_param(self, found: bool, name: str, value: str | None, upd: tuple[int, int],
                    dele: tuple[int, int], delim: bytes) -> int:
        if found:
            if value is None:
                self.msg.splice(dele[0], dele[1], b"")
            else:
                self.msg.splice(upd[0], upd[1], b"=" + encode(value) if value else b"")
            return 1
        if value is None:
            return -1
        text = delim + encode(name) + (b"=" + encode(value) if value else b"")
        self.msg.splice(dele[0], dele[0], text)
        return 1

    def _params(self, spec: Spec, value: str | None, start: int, end: int) -> int:
        """Assign (or, value None, remove every) ``;param`` of one value."""
        area = self._params_start(start, end)
        res = 0
        while True:
            found, us, ue, ds, de = self._find_param(spec.param, area, end)
            r2 = self._lump_param(found, spec.param, value, (us, ue), (ds, de), b";")
            res = res or r2
            if not (found and value is None):
                return res
            area = de

    def _params2(self, spec: Spec, value: str | None, hdr: _Hdr) -> int:
        area, end, res = hdr.vs, hdr.ve, 0
        while True:
            found, us, ue, ds, de, delim = self._find_param2(spec.param, area, end)
            r2 = self._lump_param(found, spec.param, value, (us, ue), (ds, de), delim)
            res = res or r2
            if not (found and value is None):
                return res
            area = de

    # ------------------------------------------------------------ operations

    def run(self, op: str, spec: Spec, value: str | None) -> int:
        """Apply ``op``; Kamailio's return codes (1 done, -1 nothing to do)."""
        if op == APPEND:
            return self._append(spec, encode(value or ""))
        if op == INSERT:
            return self._insert(spec, encode(value or ""))
        if op in (INCLUDE, EXCLUDE, EXISTS):
            return self._incexc(op, spec, value or "")
        if spec.all:
            return self._every(op, spec, value)
        if op in (REMOVE, ASSIGN):
            return self._one(op, spec, value)
        return self._one2(op, spec, value)

    def _append(self, spec: Spec, value: bytes) -> int:
        if spec.indexed:
            val = _pick(_all_values(self.msg, spec.name), spec.idx)
            if val is not None:
                return self._insert_value(val.hdr, val.lend, value)
        return self._new_header(None, spec.name, value)

    def _insert(self, spec: Spec, value: bytes) -> int:
        val = _pick(_all_values(self.msg, spec.name), spec.idx)
        if val is not None and not spec.indexed:
            return self._new_header(val.hdr.ns, spec.name, value)
        if val is None and spec.idx == 1:
            return self._new_header(None, spec.name, value)
        if val is not None:
            return self._insert_value(val.hdr, val.lstart, value)
        return -1

    def _every(self, op: str, spec: Spec, value: str | None) -> int:
        done = -1
        for hdr in _headers(self.msg, spec.name):
            if not spec.param:
                self._delete(hdr, hdr.vs, hdr.ve)
                done = 1
            elif op in (REMOVE2, ASSIGN2):
                if self._params2(spec, value, hdr) > 0:
                    done = 1
            else:
                for val in _values(self.raw, hdr):
                    if self._params(spec, value, val.start, val.end) > 0:
                        done = 1
        return done

    def _one(self, op: str, spec: Spec, value: str | None) -> int:
        val = _pick(_all_values(self.msg, spec.name), spec.idx)
        if val is None:
            return -1
        if spec.param:
            return self._params(spec, value, val.start, val.end)
        if op == REMOVE:
            return self._delete_value(val)
        self.msg.splice(val.start, val.end, encode(value or ""))
        return 1

    def _one2(self, op: str, spec: Spec, value: str | None) -> int:
        hdr = _pick(_headers(self.msg, spec.name), spec.idx)
        if hdr is None:
            return -1
        if spec.param:
            return self._params2(spec, value, hdr)
        if op == REMOVE2:
            return self._delete(hdr, hdr.vs, hdr.ve)
        self.msg.splice(hdr.vs, hdr.ve, encode(value or ""))
        return 1

    def _incexc(self, op: str, spec: Spec, value: str) -> int:
        if not value:
            return -1
        want = encode(value).lower()
        first: _Hdr | None = None
        for hdr in _headers(self.msg, spec.name):
            for val in _values(self.raw, hdr):
                if val.end > val.start and self.raw[val.start:val.end].lower() == want:
                    if op in (INCLUDE, EXISTS):
                        return 1
                    self._delete_value(val)
            first = first or hdr
        if op == EXISTS:
            return -1
        if op == INCLUDE:
            if first is not None:
                return self._insert_value(first, first.ve, encode(value))
            return self._new_header(None, spec.name, encode(value))
        return 1


def _alnum(c: int) -> bool:
    return (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A
            or c in (0x2D, 0x5F))
