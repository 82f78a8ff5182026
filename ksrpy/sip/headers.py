"""Header identities: canonical names, compact forms and the numeric ids the scanner emits.

The ids are part of the scanner's output format, shared by the C scanner
(``_native/scan.c`` carries the same table) and the pure-Python twin. Add new
names at the end only.
"""

from __future__ import annotations

from enum import IntEnum


class HeaderId(IntEnum):
    """Numeric id of a header the core knows by name; OTHER for everything else."""

    OTHER = 0
    VIA = 1
    FROM = 2
    TO = 3
    CALL_ID = 4
    CSEQ = 5
    CONTACT = 6
    CONTENT_LENGTH = 7
    CONTENT_TYPE = 8
    MAX_FORWARDS = 9
    ROUTE = 10
    RECORD_ROUTE = 11
    EXPIRES = 12
    USER_AGENT = 13
    SERVER = 14
    AUTHORIZATION = 15
    PROXY_AUTHORIZATION = 16
    WWW_AUTHENTICATE = 17
    PROXY_AUTHENTICATE = 18
    SUPPORTED = 19
    REQUIRE = 20
    PROXY_REQUIRE = 21
    ALLOW = 22
    SUBJECT = 23
    EVENT = 24
    REFER_TO = 25
    REFERRED_BY = 26
    CONTENT_ENCODING = 27
    SESSION_EXPIRES = 28
    ALLOW_EVENTS = 29
    IDENTITY = 30
    PATH = 31
    UNSUPPORTED = 32
    MIN_EXPIRES = 33
    ACCEPT = 34
    DIVERSION = 35
    P_ASSERTED_IDENTITY = 36
    P_PREFERRED_IDENTITY = 37
    PRIVACY = 38
    REASON = 39
    DATE = 40
    WARNING = 41
    RETRY_AFTER = 42
    RSEQ = 43
    RACK = 44
    CONTENT_DISPOSITION = 45
    ORGANIZATION = 46
    PRIORITY = 47


#: Canonical spelling of each known header (as ksrpy writes it).
CANONICAL_NAMES: dict[HeaderId, str] = {
    HeaderId.VIA: "Via",
    HeaderId.FROM: "From",
    HeaderId.TO: "To",
    HeaderId.CALL_ID: "Call-ID",
    HeaderId.CSEQ: "CSeq",
    HeaderId.CONTACT: "Contact",
    HeaderId.CONTENT_LENGTH: "Content-Length",
    HeaderId.CONTENT_TYPE: "Content-Type",
    HeaderId.MAX_FORWARDS: "Max-Forwards",
    HeaderId.ROUTE: "Route",
    HeaderId.RECORD_ROUTE: "Record-Route",
    HeaderId.EXPIRES: "Expires",
    HeaderId.USER_AGENT: "User-Agent",
    HeaderId.SERVER: "Server",
    HeaderId.AUTHORIZATION: "Authorization",
    HeaderId.PROXY_AUTHORIZATION: "Proxy-Authorization",
    HeaderId.WWW_AUTHENTICATE: "WWW-Authenticate",
    HeaderId.PROXY_AUTHENTICATE: "Proxy-Authenticate",
    HeaderId.SUPPORTED: "Supported",
    HeaderId.REQUIRE: "Require",
    HeaderId.PROXY_REQUIRE: "Proxy-Require",
    HeaderId.ALLOW: "Allow",
    HeaderId.SUBJECT: "Subject",
    HeaderId.EVENT: "Event",
    HeaderId.REFER_TO: "Refer-To",
    HeaderId.REFERRED_BY: "Referred-By",
    HeaderId.CONTENT_ENCODING: "Content-Encoding",
    HeaderId.SESSION_EXPIRES: "Session-Expires",
    HeaderId.ALLOW_EVENTS: "Allow-Events",
    HeaderId.IDENTITY: "Identity",
    HeaderId.PATH: "Path",
    HeaderId.UNSUPPORTED: "Unsupported",
    HeaderId.MIN_EXPIRES: "Min-Expires",
    HeaderId.ACCEPT: "Accept",
    HeaderId.DIVERSION: "Diversion",
    HeaderId.P_ASSERTED_IDENTITY: "P-Asserted-Identity",
    HeaderId.P_PREFERRED_IDENTITY: "P-Preferred-Identity",
    HeaderId.PRIVACY: "Privacy",
    HeaderId.REASON: "Reason",
    HeaderId.DATE: "Date",
    HeaderId.WARNING: "Warning",
    HeaderId.RETRY_AFTER: "Retry-After",
    HeaderId.RSEQ: "RSeq",
    HeaderId.RACK: "RAck",
    HeaderId.CONTENT_DISPOSITION: "Content-Disposition",
    HeaderId.ORGANIZATION: "Organization",
    HeaderId.PRIORITY: "Priority",
}

#: RFC 3261 §7.3.3 and later RFCs: one-letter compact forms.
COMPACT_FORMS: dict[str, HeaderId] = {
    "i": HeaderId.CALL_ID,
    "m": HeaderId.CONTACT,
    "e": HeaderId.CONTENT_ENCODING,
    "l": HeaderId.CONTENT_LENGTH,
    "c": HeaderId.CONTENT_TYPE,
    "f": HeaderId.FROM,
    "s": HeaderId.SUBJECT,
    "k": HeaderId.SUPPORTED,
    "t": HeaderId.TO,
    "v": HeaderId.VIA,
    "o": HeaderId.EVENT,
    "u": HeaderId.ALLOW_EVENTS,
    "r": HeaderId.REFER_TO,
    "b": HeaderId.REFERRED_BY,
    "x": HeaderId.SESSION_EXPIRES,
    "y": HeaderId.IDENTITY,
}

#: Lower-case name (full or compact) -> id; the one lookup table both scanners mirror.
NAME_TO_ID: dict[bytes, int] = {
    **{name.lower().encode(): int(hid) for hid, name in CANONICAL_NAMES.items()},
    **{short.encode(): int(hid) for short, hid in COMPACT_FORMS.items()},
}

#: Headers whose value may hold several comma-separated entries (RFC 3261 §7.3.1).
MULTI_VALUE: frozenset[HeaderId] = frozenset(
    {
        HeaderId.VIA,
        HeaderId.CONTACT,
        HeaderId.ROUTE,
        HeaderId.RECORD_ROUTE,
        HeaderId.ALLOW,
        HeaderId.SUPPORTED,
        HeaderId.REQUIRE,
        HeaderId.PROXY_REQUIRE,
        HeaderId.UNSUPPORTED,
        HeaderId.ACCEPT,
        HeaderId.ALLOW_EVENTS,
        HeaderId.PATH,
        HeaderId.CONTENT_ENCODING,
        HeaderId.DIVERSION,
        HeaderId.P_ASSERTED_IDENTITY,
        HeaderId.PRIVACY,
        HeaderId.WARNING,
    }
)


def header_id(name: str | bytes) -> int:
    """Id of a header name (full or compact, any case); 0 (OTHER) when unknown."""
    key = name.lower() if isinstance(name, bytes) else name.lower().encode()
    return NAME_TO_ID.get(key.strip(), 0)


def canonical_name(name: str) -> str:
    """The canonical spelling of a known header, or the name as given."""
    hid = header_id(name)
    return CANONICAL_NAMES[HeaderId(hid)] if hid else name
