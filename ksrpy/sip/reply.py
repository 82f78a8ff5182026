"""Build a reply to a request (RFC 3261 §8.2.6, §18.2.1, RFC 3581) and the stateless To-tag."""

from __future__ import annotations

import ipaddress
import os
import re
import zlib

from .headers import HeaderId
from .message import SIPMessage, decode, encode
from .nameaddr import split_header_values
from .via import Via

_EMPTY_RPORT = re.compile(r";\s*rport\s*(?=;|$)", re.IGNORECASE)

#: Prefix of every To-tag ksrpy generates statelessly: 32 hex digits chosen once per
#: process, as Kamailio's sl module does; an ACK carrying it is ours to absorb.
SL_TAG_PREFIX = os.urandom(16).hex()

#: Default reason phrases (RFC 3261 §21 and extensions).
REASONS: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required",
    423: "Interval Too Brief", 429: "Too Many Requests",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
    485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


def stateless_to_tag(msg: SIPMessage) -> str:
    """A To-tag equal for every retransmission of the same request.

    Shape ``<32 hex>.<8 hex>`` as Kamailio's sl: the process prefix, then a
    CRC of what identifies the request as received (From, Call-ID, CSeq and
    the top Via header). The raw header bytes are hashed: nothing is parsed.
    """
    value = msg.first_value_bytes
    key = b"\x00".join((value(HeaderId.FROM), value(HeaderId.CALL_ID), value(HeaderId.CSEQ),
                        value(HeaderId.VIA)))
    return f"{SL_TAG_PREFIX}.{zlib.crc32(key):08x}"


def _same_address(host: str, ip: str) -> bool:
    host = host.strip("[]")
    if host == ip:
        return True
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(ip)
    except ValueError:
        return False


def reply_via(via: Via, src_ip: str, src_port: int, force_rport: bool = False) -> str | None:
    """The top Via's text as a reply (or the next hop) must see it, None when unchanged.

    RFC 3261 §18.2.1: add ``received`` when sent-by differs from the source
    address. RFC 3581 §4: when the request has an empty ``rport``, fill it with
    the source port and add ``received`` even if it equals sent-by.
    """
    rport, received = via.rport, via.received
    if rport == "" and received is None and not force_rport:
        # The common case (an RFC 3581 client): fill the empty rport in the text.
        text = str(via)
        filled = _EMPTY_RPORT.sub(f";rport={src_port};received={src_ip}", text, count=1)
        if filled != text:
            return filled
    params = via.params
    wants_rport = force_rport or (rport is not None)
    if wants_rport:
        params = params.set("rport", str(src_port))
    if wants_rport or not _same_address(via.host, src_ip):
        params = params.set("received", src_ip)
    if params is via.params:
        return None
    return str(via.replace(params=params))


def build_reply(
    req: SIPMessage,
    code: int,
    reason: str | None = None,
    *,
    src_ip: str,
    src_port: int,
    to_tag: str | None = None,
    force_rport: bool = False,
    headers: list[str] | tuple[str, ...] = (),
    server_header: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    """Serialise a reply to ``req``.

    Copies every Via (the top one with received/rport), From, To (adding
    ``to_tag`` when the request's To has none and the code is above 100),
    Call-ID and CSeq; then ``headers`` (full ``Name: value`` lines), the
    ``Server:`` line when given, Content-Type and Content-Length.
    """
    if not 100 <= code <= 699:
        raise ValueError(f"reply code {code} is outside 100-699")
    if reason is None:
        reason = REASONS.get(code, "Unknown")
    raw = req.raw
    out = [b"SIP/2.0 %d %s\r\n" % (code, encode(reason))]
    # Header lines are copied as received; only the top Via and the To-tag change.
    for n, (ns, _ne, vs, ve, le) in enumerate(req.spans_of(HeaderId.VIA)):
        if n == 0:
            top_via = req.via1
            top = reply_via(top_via, src_ip, src_port, force_rport) or str(top_via)
            value = decode(raw[vs:ve])
            if "," in value:
                entries = split_header_values(value)
                top = ", ".join([top, *entries[1:]])
            out.append(b"Via: " + encode(top) + b"\r\n")
        else:
            out.append(_line(raw, ns, le))
    add_tag = bool(to_tag) and code > 100 and not _has_tag(req)
    for hid in (HeaderId.FROM, HeaderId.TO, HeaderId.CALL_ID, HeaderId.CSEQ):
        span = req.first_span(hid)
        if span is None:
            continue
        ns, ve, le = span
        if hid == HeaderId.TO and add_tag:
            out.append(raw[ns:ve] + b";tag=" + encode(str(to_tag)) + b"\r\n")
        else:
            out.append(_line(raw, ns, le))
    out.extend(encode(h.rstrip("\r\n")) + b"\r\n" for h in headers)
    if server_header:
        out.append(encode(server_header) + b"\r\n")
    if body and content_type:
        out.append(b"Content-Type: " + encode(content_type) + b"\r\n")
    out.append(b"Content-Length: %d\r\n\r\n" % len(body))
    out.append(body)
    return b"".join(out)


def _line(raw: bytes, start: int, end: int) -> bytes:
    """A received header line, ending in CRLF even when the peer used a bare LF."""
    line = raw[start:end]
    if line.endswith(b"\r\n"):
        return line
    return line.rstrip(b"\r\n") + b"\r\n"


def _has_tag(req: SIPMessage) -> bool:
    """True when the request's To carries a tag (parsed only when ';tag' appears at all)."""
    value = req.header_by_id(HeaderId.TO) or ""
    if "tag" not in value.lower():
        return False
    try:
        return req.to.tag is not None
    except Exception:  # noqa: BLE001 - an unparsable To: do not add a tag blindly
        return True


__all__ = ["REASONS", "SL_TAG_PREFIX", "build_reply", "decode", "reply_via", "stateless_to_tag"]
