"""Stateless request forwarding (Kamailio's ``forward()``): next hop, our Via, bytes out."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..sip.errors import SIPError
from ..sip.reply import reply_via
from ..sip.uri import parse_uri
from ..transport.address import ListenSpec, format_hostport

if TYPE_CHECKING:
    from .context import Context

log = logging.getLogger("ksrpy")

#: RFC 3261 §8.1.1.7 magic cookie of branch parameters.
BRANCH_COOKIE = "z9hG4bK"


class ForwardError(Exception):
    """The request cannot be forwarded (bad next-hop URI, unsupported transport ...)."""


@dataclass(frozen=True, slots=True)
class NextHop:
    """Where a request goes: transport, IP address and port."""

    proto: str
    ip: str
    port: int


def next_hop(uri: str) -> NextHop:
    """The destination a URI names (RFC 3263 without DNS: the host must be an IP address)."""
    try:
        parsed = parse_uri(uri)
    except SIPError as exc:
        raise ForwardError(f"bad next-hop URI {uri!r}: {exc}") from None
    if parsed.scheme not in ("sip", "sips"):
        raise ForwardError(f"cannot forward to a {parsed.scheme}: URI")
    if parsed.scheme == "sips":
        raise ForwardError("TLS is not supported yet (sips: next hop)")
    proto = (parsed.transport or "udp").lower()
    if proto not in ("udp", "tcp"):
        raise ForwardError(f"transport {proto!r} is not supported (udp, tcp)")
    host = parsed.host_no_brackets
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ForwardError(
            f"next hop {host!r} is a host name; DNS resolution is not supported yet, "
            "use an IP address"
        ) from None
    return NextHop(proto, host, parsed.port or 5060)


def stateless_branch(ctx: Context) -> str:
    """A branch equal for retransmissions of the same request (RFC 3261 §16.11)."""
    msg = ctx.msg
    try:
        incoming = msg.via1.branch or ""
    except SIPError:
        incoming = ""
    key = "\x00".join((incoming, ctx.ruri, msg.call_id, msg.get_header("CSeq") or ""))
    return BRANCH_COOKIE + "ks" + hashlib.blake2s(key.encode("utf-8", "surrogateescape"),
                                                   digest_size=10).hexdigest()


def via_for(local: ListenSpec, branch: str) -> str:
    """Our Via for a request leaving through ``local`` (its advertised address if set)."""
    host, port = local.advertise or (local.host, local.port)
    return f"SIP/2.0/{local.proto.upper()} {format_hostport(host, port)};branch={branch}"


def advertised(ctx: Context, local: ListenSpec) -> ListenSpec:
    """``local`` with this message's set_advertised_address/port applied (they win)."""
    override = ctx.extra.get("advertised")
    if not override:
        return local
    host, port = override
    current_host, current_port = local.advertise or (local.host, local.port)
    return replace(local, advertise=(host or current_host, port or current_port or local.port))


def outgoing_request(ctx: Context, local: ListenSpec, ruri: str | None, branch: str) -> bytes:
    """The request of ``ctx`` as it leaves through ``local``; the message itself is unchanged.

    RFC 3261 §18.2.1 / RFC 3581: the caller's Via gets received/rport; then the
    R-URI (``ruri`` when it differs), the send hooks (rr fits its Record-Route to
    ``local``) and our Via with ``branch``, advertising set_advertised_* if set.
    """
    msg, rcv = ctx.msg, ctx.rcv
    with msg.temporary_edits():
        marked = reply_via(msg.via1, rcv.src_ip, rcv.src_port,
                           bool(ctx.extra.get("force_rport")))
        if marked is not None:
            msg.set_top_via(marked)
        if ruri is not None and ruri != msg.ruri:
            msg.set_ruri(ruri)
        shown = advertised(ctx, local)
        run_send_hooks(ctx, shown)
        msg.push_via(via_for(shown, branch))
        return msg.to_bytes()


def run_send_hooks(ctx: Context, local: ListenSpec) -> None:
    """Call the ``ctx.extra["on_send"]`` hooks for a request about to leave through ``local``.

    Call inside ``msg.temporary_edits()`` right before serialising (after the
    R-URI is final, before our Via is pushed). Each hook ``hook(ctx, local)``
    may edit the message (rr fits its Record-Route to ``local``) and returns
    header lines, added at the top of the header block. A failing hook is
    logged; the request is sent all the same.
    """
    hooks = ctx.extra.get("on_send")
    if not hooks:
        return
    lines: list[str] = []
    for hook in list(hooks):
        try:
            lines.extend(hook(ctx, local) or ())
        except Exception:  # noqa: BLE001 - a hook must not stop the forwarding
            log.exception("on_send hook %r failed", hook)
    if lines:
        data = "".join(line.rstrip("\r\n") + "\r\n" for line in lines)
        ctx.msg.add_raw_header_lines(data.encode("utf-8", "surrogateescape"), top=True)
