"""SIP/SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966) and opaque absolute URIs."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from ._cache import memo
from .errors import SIPParseError
from .limits import MAX_URI_LENGTH
from .params import EMPTY_URI_PARAMS, Params, parse_uri_params, show

__all__ = ["SipURI", "parse_uri", "check_host", "is_ip_address"]

_ESC = r"%[0-9A-Fa-f]{2}"
# RFC 3261 §25.1: unreserved = alphanum / mark; mark = - _ . ! ~ * ' ( )
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER_CHARS = _UNRESERVED + r"&=+$,;?/"
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD_CHARS = _UNRESERVED + r"&=+$,"
# hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"; hname/hvalue add unreserved, escaped
_HNV_CHARS = _UNRESERVED + r"\[\]/?:+$"


def _escaped_run(chars: str) -> str:
    """Pattern for ``*( [chars] / escaped )`` without nested ambiguous quantifiers."""
    return f"[{chars}]*(?:{_ESC}[{chars}]*)*"


_USERINFO_RE = re.compile(f"({_escaped_run(_USER_CHARS)})(?::({_escaped_run(_PASSWORD_CHARS)}))?")
_HOSTPORT_RE = re.compile(r"(\[[^\]]*\]|[A-Za-z0-9.\-_]+)(?::([0-9]*))?")
_HNAME = f"(?:[{_HNV_CHARS}]|{_ESC}){_escaped_run(_HNV_CHARS)}"
# headers = "?" header *( "&" header ); header = hname "=" hvalue (RFC 3261 §25.1)
_HEADER = f"{_HNAME}={_escaped_run(_HNV_CHARS)}"
_HEADERS_RE = re.compile(f"{_HEADER}(?:&{_HEADER})*")

# RFC 3261 §25.1: hostname = *( domainlabel "." ) toplabel [ "." ];
# domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum;
# toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum
# Lenient on purpose: "_" is accepted inside labels, as real deployments (container and
# service names) use it and Kamailio accepts it too.
_HOSTNAME_RE = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9\-_]*[A-Za-z0-9_])?\.)*"
    r"[A-Za-z](?:[A-Za-z0-9\-_]*[A-Za-z0-9_])?\.?"
)
# IPv4 as dec-octets, 0-255 without leading zeros (RFC 3986 §3.2.2; RFC 5954 §4.1 adopts it
# for SIP in place of RFC 3261's looser 1*3DIGIT form).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV6_CHARS_RE = re.compile(r"[0-9A-Fa-f:.]+")
# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# RFC 3261 §25.1 absoluteURI uses uric characters; we only refuse what can never be in one.
_OPAQUE_BAD_RE = re.compile(r'[\x00-\x20\x7f<>"]')
# RFC 3966 §3: global-number-digits = "+" *phonedigit DIGIT *phonedigit;
# phonedigit = DIGIT / visual-separator; visual-separator = "-" / "." / "(" / ")"
_GLOBAL_DIGITS_RE = re.compile(r"[0-9\-.()]+")
# local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
_LOCAL_DIGITS_RE = re.compile(r"[0-9A-Fa-f*#\-.()]+")
_HAS_DIGIT_RE = re.compile(r"[0-9]")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_HAS_HEXDIGIT_RE = re.compile(r"[0-9A-Fa-f*#]")

_SIP_SCHEMES = frozenset(("sip", "sips"))


@lru_cache(maxsize=512)
def _ipv6_ok(text: str) -> bool:
    """True when ``text`` (no brackets) is an IPv6 address (RFC 4291 §2.2 text forms)."""
    if _IPV6_CHARS_RE.fullmatch(text) is None:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_ip_address(host: str) -> bool:
    """True when ``host`` is an IPv4 address or an IPv6 address with or without brackets."""
    if host.startswith("[") and host.endswith("]"):
        return _ipv6_ok(host[1:-1])
    if ":" in host:
        return _ipv6_ok(host)
    return _IPV4_RE.fullmatch(host) is not None


def check_host(host: str, kind: str, text: str) -> None:
    """Raise SIPParseError unless ``host`` is a hostname, IPv4 or bracketed IPv6 address.

    ``kind`` and ``text`` name the value the host came from, for the error message.
    """
    if host[-1:].isdigit():
        if _IPV4_RE.fullmatch(host) is not None:
            return
    elif len(host) <= 255 and _HOSTNAME_RE.fullmatch(host) is not None:
        return
    if not host:
        raise SIPParseError(f"missing host in {kind} {show(text)}", 400)
    if host[0] == "[":
        # RFC 3261 §25.1: IPv6reference = "[" IPv6address "]"
        if host[-1] != "]" or not _ipv6_ok(host[1:-1]):
            raise SIPParseError(f"invalid IPv6 reference {show(host)} in {kind} {show(text)}", 400)
        return
    if len(host) > 255:
        # RFC 1035 §2.3.4: names are at most 255 octets
        raise SIPParseError(f"host name longer than 255 characters in {kind} {show(text)}", 400)
    if _HOSTNAME_RE.fullmatch(host) is not None or _IPV4_RE.fullmatch(host) is not None:
        return
    last = host.rstrip(".").rpartition(".")[2]
    if last[:1].isdigit() and all(p.isdigit() for p in host.split(".")):
        reason = "not an IPv4 address (four 0-255 numbers, no leading zeros, RFC 3986 §3.2.2)"
    elif last[:1].isdigit():
        reason = "the last label of a host name must start with a letter (RFC 3261 §25.1)"
    else:
        reason = "host names are letters, digits, '-' and '.' (RFC 3261 §25.1)"
    raise SIPParseError(f"invalid host {show(host)} in {kind} {show(text)}: {reason}", 400)


@dataclass(frozen=True, slots=True)
class SipURI:
    """A parsed URI: sip/sips (all fields), tel (``user`` = number) or other (``opaque``)."""

    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: Params = EMPTY_URI_PARAMS
    headers: str | None = None
    opaque: str | None = None
    _raw: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        """The URI text: the original when parsed and unchanged, else re-serialised."""
        raw = self._raw
        if raw is not None:
            return raw
        return self.serialize()

    def serialize(self) -> str:
        """Build the URI text from the fields (ignores the original text)."""
        scheme = self.scheme
        if scheme in _SIP_SCHEMES:
            parts = [scheme, ":"]
            if self.user is not None:
                parts.append(self.user)
                if self.password is not None:
                    parts.append(":")
                    parts.append(self.password)
                parts.append("@")
            parts.append(self.host)
            if self.port is not None:
                parts.append(f":{self.port}")
            if self.params:
                parts.append(str(self.params))
            if self.headers is not None:
                parts.append("?")
                parts.append(self.headers)
            return "".join(parts)
        if scheme == "tel":
            return f"tel:{self.user or ''}{self.params}"
        return f"{scheme}:{self.opaque or ''}"

    def replace(self, **changes: Any) -> SipURI:
        """Copy with fields changed; str() of the copy is re-serialised from the fields."""
        return dataclasses.replace(self, _raw=None, **changes)

    @property
    def is_sip(self) -> bool:
        """True for sip: and sips: URIs."""
        return self.scheme in _SIP_SCHEMES

    @property
    def user_unescaped(self) -> str | None:
        """User part with ``%HH`` escapes decoded as UTF-8 (invalid bytes replaced)."""
        user = self.user
        if user is None or "%" not in user:
            return user
        return unquote(user, errors="replace")

    @property
    def host_no_brackets(self) -> str:
        """Host without the brackets of an IPv6 reference."""
        host = self.host
        if host.startswith("["):
            return host[1:-1]
        return host

    @property
    def host_is_ip(self) -> bool:
        """True when the host is an IPv4 address or an IPv6 reference."""
        host = self.host
        if host.startswith("["):
            return True
        return _IPV4_RE.fullmatch(host) is not None

    @property
    def hostport(self) -> str:
        """``host[:port]`` as in the URI."""
        if self.port is None:
            return self.host
        return f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """Lower-cased ``transport`` URI parameter, or None."""
        value = self.params.get("transport")
        return value.lower() if value else None


def _bad(text: str, why: str) -> SIPParseError:
    """A 400 parse error about URI ``text``."""
    return SIPParseError(f"invalid URI {show(text)}: {why}", 400)


def _parse_uri(text: str) -> SipURI:
    """Parse a sip:, sips:, tel: or other ``scheme:`` URI (no surrounding whitespace)."""
    if len(text) > MAX_URI_LENGTH:
        raise SIPParseError(
            f"URI longer than {MAX_URI_LENGTH} characters ({len(text)}): {show(text)}", 400
        )
    colon = text.find(":")
    if colon <= 0:
        raise _bad(text, "missing scheme (expected e.g. 'sip:user@host')")
    scheme = text[:colon]
    low = scheme.lower()
    if low in _SIP_SCHEMES:
        return _parse_sip(text, low, colon + 1)
    if _SCHEME_RE.fullmatch(scheme) is None:
        raise _bad(text, "the scheme must be a letter followed by letters, digits, '+-.'")
    if low == "tel":
        return _parse_tel(text, colon + 1)
    opaque = text[colon + 1 :]
    if not opaque:
        raise _bad(text, "nothing after the scheme")
    bad = _OPAQUE_BAD_RE.search(opaque)
    if bad is not None:
        raise _bad(text, f"character {opaque[bad.start()]!r} is not allowed in a URI")
    return SipURI(low, opaque=opaque, _raw=text)



#: Cached: SipURI is immutable and the same URIs recur in every message.
parse_uri = memo(_parse_uri)

def _parse_sip(text: str, scheme: str, start: int) -> SipURI:
    """Parse the part of a sip:/sips: URI after the colon (RFC 3261 §19.1.1, §25.1)."""
    n = len(text)
    user = password = None
    # The user part may hold ';' and '?' (user-unreserved) but never a raw '@', and nothing
    # after the host may hold one either, so the first '@' ends the userinfo.
    at = text.find("@", start)
    if at >= 0:
        m = _USERINFO_RE.fullmatch(text, start, at)
        if m is None:
            info = text[start:at]
            bad = re.search(f"[^{_USER_CHARS}:%]|%(?![0-9A-Fa-f]{{2}})", info)
            what = repr(info[bad.start()]) if bad else "a character"
            raise _bad(
                text,
                f"{what} is not allowed in the user/password part (escape it as %HH,"
                " RFC 3261 §19.1.2)",
            )
        user, password = m.groups()
        if not user:
            raise _bad(text, "empty user part before '@'")
        hp = at + 1
    else:
        hp = start
    m = _HOSTPORT_RE.match(text, hp)
    if m is None:
        if hp >= n or text[hp] in ";?":
            raise _bad(text, "missing host")
        if text[hp] == "[":
            raise _bad(text, "IPv6 reference without a closing ']'")
        raise _bad(text, f"invalid character {text[hp]!r} where the host should start")
    host, port_text = m.groups()
    pos = m.end()
    if pos < n and text[pos] not in ";?":
        if _HEX_RE.fullmatch(host) and (
            text[pos] == ":" or (port_text is not None and text[pos] in "abcdefABCDEF")
        ):
            raise _bad(
                text,
                "an IPv6 address must be enclosed in '[' and ']' (RFC 3261 §19.1.1, RFC 5118 §4.2)",
            )
        if port_text is not None:
            raise _bad(text, f"the port after ':' must be digits, found {text[pos]!r}")
        raise _bad(text, f"invalid character {text[pos]!r} after the host/port")
    check_host(host, "URI", text)
    port = None
    if port_text is not None:
        # RFC 3261 §25.1: port = 1*DIGIT; it must fit the 16-bit transport port.
        if not port_text:
            raise _bad(text, "empty port after ':'")
        if len(port_text) > 5 or int(port_text) > 65535:
            raise _bad(text, f"port {port_text} out of range 0-65535")
        port = int(port_text)
    params = EMPTY_URI_PARAMS
    headers = None
    if pos < n:
        q = text.find("?", pos)
        if q < 0:
            q = n
        if q > pos:
            try:
                params = parse_uri_params(text, pos, q)
            except SIPParseError as exc:
                raise _bad(text, exc.reason) from None
        if q < n:
            headers = text[q + 1 :]
            if _HEADERS_RE.fullmatch(headers) is None:
                raise _bad(
                    text,
                    "malformed headers after '?' (expected name=value&name=value with"
                    " %HH escapes, RFC 3261 §19.1.1)",
                )
    return SipURI(scheme, user, password, host, port, params, headers, None, text)


def _parse_tel(text: str, start: int) -> SipURI:
    """Parse the part of a tel: URI after the colon (RFC 3966 §3)."""
    semi = text.find(";", start)
    end = len(text) if semi < 0 else semi
    number = text[start:end]
    if not number:
        raise _bad(text, "missing telephone number")
    if number[0] == "+":
        digits = number[1:]
        ok = (
            _GLOBAL_DIGITS_RE.fullmatch(digits) is not None
            and _HAS_DIGIT_RE.search(digits) is not None
        )
        why = "a global number is '+' then digits and visual separators -.() (RFC 3966 §3)"
    else:
        ok = (
            _LOCAL_DIGITS_RE.fullmatch(number) is not None
            and _HAS_HEXDIGIT_RE.search(number) is not None
        )
        why = "a local number is hex digits, '*', '#' and visual separators -.() (RFC 3966 §3)"
    if not ok:
        raise _bad(text, why)
    params = EMPTY_URI_PARAMS
    if semi >= 0:
        try:
            params = parse_uri_params(text, end)
        except SIPParseError as exc:
            raise _bad(text, exc.reason) from None
    return SipURI("tel", number, None, "", None, params, None, None, text)
