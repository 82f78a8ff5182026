"""What secfilter reads from a message: User-Agent, and name, user and domain of From/To/Contact.

As Kamailio 5.6.3: a header that is missing or does not parse, or whose URI
has no user or no host, counts as "not found" (the checks return 1); the
display name loses its surrounding quotes; only the first Contact is read.
The SQLi check still sees what Kamailio read before it stopped: the display
name of a URI without user, the user of a URI without host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...sip.errors import SIPError
from ...sip.nameaddr import parse_contacts

if TYPE_CHECKING:
    from ...sip.message import SIPMessage
    from ...sip.nameaddr import NameAddr


@dataclass(frozen=True, slots=True)
class Party:
    """The parts of an address the lists are matched against."""

    name: str | None
    user: str | None
    domain: str | None


def _party(addr: NameAddr, with_name: bool) -> Party:
    uri = addr.uri
    name = addr.display if with_name and addr.display else None
    user = uri.user
    return Party(name, user, uri.host or None if user is not None else None)


def from_party(msg: SIPMessage) -> Party | None:
    """Display name, user and host of From (None: no or unparsable header)."""
    try:
        return _party(msg.from_, True)
    except SIPError:
        return None


def to_party(msg: SIPMessage) -> Party | None:
    """Display name, user and host of To (None: no or unparsable header)."""
    try:
        return _party(msg.to, True)
    except SIPError:
        return None


def contact_party(msg: SIPMessage) -> Party | None:
    """User and host of the first Contact (no name, as Kamailio; None: not found or '*')."""
    values = msg.get_headers("Contact")
    if not values:
        return None
    try:
        contacts = parse_contacts(values[0])
    except SIPError:
        return None
    if isinstance(contacts, str) or not contacts:
        return None
    return _party(contacts[0], False)


def user_agent(msg: SIPMessage) -> str | None:
    """The User-Agent value (None when absent)."""
    try:
        return msg.user_agent
    except SIPError:
        return None
