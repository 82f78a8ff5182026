"""The (left, right) pairs of allow_routing, allow_register and allow_uri, as Kamailio builds them.

* left: the From (or To) URI exactly as written in the header, parameters kept;
* right: the R-URI reduced to ``sip:user@host`` (always with ``@``, no port or
  parameters); branch and Contact URIs to ``sip:user@host`` or ``sip:host``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...sip.errors import SIPError
from ...sip.uri import SipURI, parse_uri
from .rules import RulePair

if TYPE_CHECKING:
    from ...core.context import Context


def plain(uri: SipURI) -> str:
    """``sip:user@host``, or ``sip:host`` without a user (branches, Contacts)."""
    return f"sip:{uri.user}@{uri.host}" if uri.user else f"sip:{uri.host}"


def from_uri(ctx: Context) -> str | None:
    """The From URI as written (None when From is missing or unparsable)."""
    try:
        return str(ctx.msg.from_.uri)
    except SIPError:
        return None


def branch_uris(ctx: Context) -> Iterable[Any]:
    """Additional branch URIs (``ctx.extra["branches"]`` when a module appended some)."""
    return ctx.extra.get("branches") or ()


def check_routing(ctx: Context, pair: RulePair, all_branches: bool) -> int:
    """allow_routing: every (From, R-URI/branch) pair allowed, else denied on a deny match."""
    if pair.empty:
        return 1
    left = from_uri(ctx)
    ruri = ctx.ruri_uri()
    if left is None or ruri is None:
        return -1
    right = f"sip:{ruri.user or ''}@{ruri.host}"
    if pair.allow.search(left, right):
        if not all_branches:
            return 1
    elif pair.deny.search(left, right):
        return -1
    elif not all_branches:
        return 1
    for branch in branch_uris(ctx):
        try:
            text = plain(branch if isinstance(branch, SipURI) else parse_uri(str(branch)))
        except SIPError:
            return -1
        if pair.allow.search(left, text):
            continue
        if pair.deny.search(left, text):
            return -1
    return 1


def check_register(ctx: Context, pair: RulePair, all_branches: bool) -> int:
    """allow_register: (To, each Contact) pairs; no Contact or ``*`` is allowed."""
    if pair.empty:
        return 1
    try:
        left = str(ctx.msg.to.uri)
        contacts = ctx.msg.contacts
    except SIPError:
        return -1
    if contacts == "*" or not contacts:
        return 1
    for contact in contacts:
        right = plain(contact.uri)
        if pair.allow.search(left, right) and all_branches:
            continue  # with check_all_branches=0 Kamailio still looks at the deny file
        if pair.deny.search(left, right):
            return -1
    return 1


def check_uri(ctx: Context, pair: RulePair, value: Any) -> int:
    """allow_uri: the pair (From URI, value); a null value is -1."""
    if pair.empty:
        return 1
    left = from_uri(ctx)
    if left is None or value is None:
        return -1
    return pair.decide(left, str(value))
