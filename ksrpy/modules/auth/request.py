"""What auth reads from a request: credentials by realm, realm defaults, bound nonce parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...sip.digest import DigestCredentials, parse_credentials
from ...sip.errors import SIPError
from ...sip.headers import HeaderId
from .nonce import CHECK_CALLID, CHECK_FROMTAG, CHECK_SRCIP, CHECK_URI

if TYPE_CHECKING:
    from ...core.context import Context


class CredentialsError(ValueError):
    """An Authorization header that does not parse."""


@dataclass(frozen=True, slots=True)
class Found:
    """Credentials for the wanted realm and where they sit (header id, index)."""

    creds: DigestCredentials
    hid: int
    index: int


def header_id(proxy: bool) -> int:
    """Proxy-Authorization or Authorization."""
    return HeaderId.PROXY_AUTHORIZATION if proxy else HeaderId.AUTHORIZATION


def find_credentials(ctx: Context, realm: str, proxy: bool) -> Found | None:
    """The first Digest credentials of the header type whose realm equals ``realm``."""
    msg = ctx.msg
    hid = header_id(proxy)
    for index in msg.header_indices(hid):  # positions: consume_credentials removes one
        try:
            creds = parse_credentials(msg.header_value_at(index))
        except SIPError as exc:
            raise CredentialsError(str(exc)) from None
        if creds.is_digest and creds.realm == realm:
            return Found(creds, hid, index)
    return None


def default_realm(ctx: Context) -> str:
    """Kamailio's get_realm: the To host for REGISTER, else the From host ("" if unusable)."""
    msg = ctx.msg
    try:
        addr = msg.to if msg.method == "REGISTER" else msg.from_
        return addr.uri.host or ""
    except (SIPError, ValueError):
        return ""


def checks_for(ctx: Context, register: int, no_dlg: int, in_dlg: int) -> int:
    """Which auth_checks_* applies to this request."""
    msg = ctx.msg
    if msg.method == "REGISTER":
        return register
    try:
        tag = msg.to.tag
    except SIPError:
        tag = None
    return in_dlg if tag else no_dlg


def bound_parts(ctx: Context, checks: int) -> list[str]:
    """The message parts a nonce is bound to: R-URI, Call-ID, From tag, source IP."""
    msg = ctx.msg
    parts: list[str] = []
    if checks & CHECK_URI:
        parts.append(msg.ruri)
    if checks & CHECK_CALLID:
        try:
            parts.append(msg.call_id)
        except SIPError:
            parts.append("")
    if checks & CHECK_FROMTAG:
        try:
            parts.append(msg.from_.tag or "")
        except SIPError:
            parts.append("")
    if checks & CHECK_SRCIP:
        parts.append(ctx.rcv.src_ip)
    return parts


def uri_user_host(ctx: Context, which: str) -> tuple[str, str] | None:
    """(user, host) of the From, To or R-URI (None when it does not parse)."""
    msg = ctx.msg
    try:
        if which == "ruri":
            uri = ctx.ruri_uri()
        else:
            uri = (msg.to if which == "to" else msg.from_).uri
    except (SIPError, ValueError):
        return None
    if uri is None:
        return None
    return uri.user or "", uri.host or ""
