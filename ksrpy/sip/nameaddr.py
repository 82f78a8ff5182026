"""name-addr / addr-spec values (From, To, Contact, Route, Record-Route...), RFC 3261 §20.10."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ._cache import memo
from .errors import SIPParseError, SIPUsageError
from .params import (
    EMPTY_PARAMS,
    QUOTED_RE,
    TOKEN_CHARS,
    Params,
    parse_header_params,
    quote_string,
    show,
    split_header_values,
    unfold,
    unquote_string,
)
from .uri import SipURI, parse_uri

__all__ = [
    "NameAddr",
    "parse_name_addr",
    "parse_contacts",
    "split_header_values",
    "MAX_EXPIRES",
]

#: Largest accepted expires value (RFC 3261 §20.19: an expiry is 0 to 2**32-1 seconds).
MAX_EXPIRES = 2**32 - 1

_QUOTED_RE = re.compile(QUOTED_RE)
# RFC 3261 §25.1: display-name = *(token LWS) / quoted-string. Non-ASCII is tolerated in
# unquoted names (seen in the wild; it cannot be confused with any delimiter).
_DISPLAY_CHARS = TOKEN_CHARS + "\x80-\U0010ffff"
_DISPLAY_TOKENS_RE = re.compile(f"[{_DISPLAY_CHARS}]+(?:[ \t]+[{_DISPLAY_CHARS}]+)*")
# RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# delta-seconds = 1*DIGIT
_DIGITS_RE = re.compile(r"[0-9]+")


def _delta_seconds(value: str | None, what: str) -> int:
    """Parse delta-seconds (digits, at most 2**32-1)."""
    if value is None or _DIGITS_RE.fullmatch(value) is None:
        raise SIPParseError(f"{what} must be a number of seconds, got {show(str(value))}", 400)
    # RFC 4475 §3.1.2.4 (scalar02): an over-large expiry may be replaced by a default or
    # rejected with 400; we reject. The length check keeps int() off huge digit strings.
    if len(value.lstrip("0")) > 10 or int(value) > MAX_EXPIRES:
        raise SIPParseError(
            f"{what} {show(value, 30)} is larger than 2**32-1 seconds (RFC 3261 §20.19)", 400
        )
    return int(value)


def _q_value(value: str | None) -> float:
    """Parse a qvalue (0 to 1 with at most three decimals)."""
    if value is None or _QVALUE_RE.fullmatch(value) is None:
        raise SIPParseError(
            f"q must be a number from 0 to 1 with at most 3 decimals, got {show(str(value))}"
            " (RFC 3261 §20.10)",
            400,
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """An address: optional display name, URI and header parameters (tag, q, expires...)."""

    display: str | None
    uri: SipURI
    params: Params = EMPTY_PARAMS
    _raw: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        """The value text: the original when parsed and unchanged, else re-serialised."""
        raw = self._raw
        if raw is not None:
            return raw
        return self.serialize()

    def serialize(self) -> str:
        """Build ``"display" <uri>;params`` from the fields (always the name-addr form)."""
        if self.display is None:
            head = f"<{self.uri}>"
        else:
            head = f"{quote_string(self.display)} <{self.uri}>"
        if self.params:
            return head + str(self.params)
        return head

    def replace(self, **changes: Any) -> NameAddr:
        """Copy with fields changed; str() of the copy is re-serialised from the fields."""
        display = changes.get("display")
        if display is not None and ("\r" in display or "\n" in display):
            raise SIPUsageError("a display name cannot contain CR or LF")
        return dataclasses.replace(self, _raw=None, **changes)

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """Copy with header parameter ``name`` set (None: a flag)."""
        return self.replace(params=self.params.set(name, value))

    def with_tag(self, tag: str) -> NameAddr:
        """Copy with the ``tag`` parameter set."""
        return self.with_param("tag", tag)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), or None."""
        return self.params.get("tag")

    @property
    def q_value(self) -> float | None:
        """The Contact ``q`` parameter as a float, None when absent (SIPParseError if bad)."""
        if "q" not in self.params:
            return None
        return _q_value(self.params.get("q"))

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter in seconds, None when absent (SIPParseError if bad)."""
        if "expires" not in self.params:
            return None
        return _delta_seconds(self.params.get("expires"), "the Contact expires parameter")


def _quoted_error(text: str, pos: int) -> SIPParseError:
    """Explain why the quoted string at ``text[pos]`` does not parse."""
    j = pos + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            if j + 1 < n and text[j + 1] in "\r\n":
                break
            j += 2
            continue
        if c == '"':
            break
        if (c < " " and c != "\t") or c == "\x7f":
            return SIPParseError(
                f"control character {c!r} in quoted string in {show(text)}; escape it with"
                " '\\' (RFC 3261 §25.1)",
                400,
            )
        j += 1
    return SIPParseError(f"unterminated quoted string in {show(text)}", 400)


def _parse_name_addr(text: str) -> NameAddr:
    """Parse ``"Name" <uri>;p=v``, ``Name <uri>``, ``<uri>`` or a bare ``uri;p=v``."""
    t = unfold(text).strip(" \t")
    if not t:
        raise SIPParseError("empty address (expected e.g. '<sip:user@host>')", 400)
    if t[0] == '"':
        m = _QUOTED_RE.match(t)
        if m is None:
            raise _quoted_error(t, 0)
        display: str | None = unquote_string(m.group(0))
        lt = m.end()
        n = len(t)
        while lt < n and t[lt] in " \t":
            lt += 1
        if lt >= n or t[lt] != "<":
            raise SIPParseError(
                f"expected '<' after the quoted display name in {show(t)} (RFC 3261 §20.10)", 400
            )
    else:
        # A display name holds no ';' or '"', so a '<' after either belongs to a header
        # parameter of a bare addr-spec (e.g. +sip.instance="<urn:...>", RFC 5626 §4.1).
        limit = len(t)
        for ch in ';"':
            i = t.find(ch, 0, limit)
            if i >= 0:
                limit = i
        lt = t.find("<", 0, limit)
        if lt < 0:
            if limit < len(t) and t[limit] == '"' and "<" in t:
                raise SIPParseError(
                    f"display name in {show(t)} must be either plain words or one quoted"
                    " string (RFC 3261 §25.1)",
                    400,
                )
            return _parse_addr_spec(t)
        display_text = t[:lt].rstrip(" \t")
        if display_text:
            if _DISPLAY_TOKENS_RE.fullmatch(display_text) is None:
                raise SIPParseError(
                    f"display name {show(display_text)} has characters that require quoting;"
                    " enclose it in double quotes (RFC 3261 §25.1)",
                    400,
                )
            display = display_text
        else:
            display = None
    gt = t.find(">", lt + 1)
    if gt < 0:
        raise SIPParseError(f"'<' without a matching '>' in {show(t)}", 400)
    uri_text = t[lt + 1 : gt]
    if uri_text[:1] in (" ", "\t") or uri_text[-1:] in (" ", "\t"):
        # RFC 3261 §20.10 / §25.1: LAQUOT addr-spec RAQUOT; RFC 4475 §3.1.2.14 (badaspec).
        raise SIPParseError(f"whitespace inside <...> around the URI in {show(t)}", 400)
    uri = parse_uri(uri_text)
    if gt + 1 == len(t):
        return NameAddr(display, uri, EMPTY_PARAMS, t)
    after = t[gt + 1 : gt + 2]
    if after != ";" and t[gt + 1 :].lstrip(" \t")[:1] != ";":
        raise SIPParseError(f"expected ';' or the end after '>' in {show(t)}, found {after!r}", 400)
    return NameAddr(display, uri, parse_header_params(t, gt + 1), t)



#: Cached: NameAddr is immutable and To headers recur.
parse_name_addr = memo(_parse_name_addr)

def _parse_addr_spec(t: str) -> NameAddr:
    """Parse the addr-spec form: the URI ends at the first ';', the rest are header params."""
    # RFC 3261 §20.10: without <>, parameters after the URI are header parameters, and a
    # URI containing ',', '?' or ';' must be enclosed in <>.
    semi = t.find(";")
    uri_text = t if semi < 0 else t[:semi].rstrip(" \t")
    if "?" in uri_text:
        raise SIPParseError(
            f"a URI with '?' headers must be enclosed in <> in {show(t)} (RFC 3261 §20.10)", 400
        )
    if " " in uri_text or "\t" in uri_text:
        raise SIPParseError(
            f"whitespace in address {show(t)}; a display name needs <> around the URI"
            " (RFC 3261 §20.10)",
            400,
        )
    try:
        uri = parse_uri(uri_text)
    except SIPParseError as exc:
        if semi >= 0 and "@" in t[semi:] and "@" not in uri_text:
            raise SIPParseError(
                f"{exc.reason}; a URI with ';' in its user part must be enclosed in <>"
                " (RFC 3261 §20.10)",
                400,
            ) from None
        raise
    if semi < 0:
        return NameAddr(None, uri, EMPTY_PARAMS, t)
    try:
        params = parse_header_params(t, semi)
    except SIPParseError as exc:
        if "@" in t[semi:]:
            raise SIPParseError(
                f"{exc.reason}; a URI with ';' in its user part must be enclosed in <>"
                " (RFC 3261 §20.10)",
                400,
            ) from None
        raise
    return NameAddr(None, uri, params, t)


def parse_contacts(text: str) -> list[NameAddr] | Literal["*"]:
    """Parse a Contact value: ``*`` or a list of addresses with valid ``q``/``expires``."""
    t = unfold(text).strip(" \t")
    if t == "*":
        return "*"
    out: list[NameAddr] = []
    for part in split_header_values(t):
        if part[0] == "*":
            # RFC 3261 §20.10: Contact = ( STAR / (contact-param *(COMMA contact-param)) )
            raise SIPParseError(
                "'*' must be the only Contact value, without parameters (RFC 3261 §20.10)", 400
            )
        na = parse_name_addr(part)
        params = na.params
        if params:
            if "q" in params:
                _q_value(params.get("q"))
            if "expires" in params:
                _delta_seconds(params.get("expires"), "the Contact expires parameter")
        out.append(na)
    return out
