"""Transaction matching keys: RFC 3261 §17.1.3 (responses), §17.2.3 (requests), §9.2 (CANCEL).

A request whose top Via branch starts with the magic cookie is matched by
branch + sent-by + method (``ServerKey``); one without it came from an RFC
2543 element and is matched by Request-URI, From tag, Call-ID, CSeq and top
Via (``LegacyKey``), the To tag being checked apart because for an ACK it is
compared with the response the server sent, not with the request. Responses
match client transactions by branch + CSeq method (``ClientKey``).

The functions read the top Via and CSeq: a message without them raises
``SIPParseError`` (status 400), like every typed access of ``SIPMessage``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SIPError
from ..message import SIPMessage
from ..via import Via
from .events import TransactionUsageError

__all__ = [
    "BRANCH_COOKIE", "ClientKey", "LegacyKey", "ServerKey", "TransactionKey",
    "cancel_target_key", "client_key", "has_magic_cookie", "response_key", "sent_by_key",
    "server_key", "to_tag",
]

#: RFC 3261 §8.1.1.7 magic cookie (the same value as ksrpy.core.forward.BRANCH_COOKIE).
BRANCH_COOKIE = "z9hG4bK"

# RFC 3261 §19.1.2 default ports, used so that "host" and "host:5060" are the same sent-by.
_DEFAULT_PORTS = {"TLS": 5061, "WSS": 443, "WS": 80}


@dataclass(frozen=True, slots=True)
class ServerKey:
    """§17.2.3 key of a request with an RFC 3261 branch (ACK and CANCEL: see server_key)."""

    branch: str
    sent_by: str
    method: str


@dataclass(frozen=True, slots=True)
class LegacyKey:
    """§17.2.3 RFC 2543 fallback key; the To tag is compared separately (see module doc)."""

    request_uri: str
    from_tag: str | None
    call_id: str
    cseq: int
    method: str
    top_via: str


@dataclass(frozen=True, slots=True)
class ClientKey:
    """§17.1.3 key of a client transaction: our branch and the request method."""

    branch: str
    method: str


TransactionKey = ServerKey | LegacyKey | ClientKey


def has_magic_cookie(branch: str | None) -> bool:
    """True when ``branch`` was built by an RFC 3261 element (§8.1.1.7, §17.2.3)."""
    return branch is not None and branch.startswith(BRANCH_COOKIE)


def sent_by_key(via: Via) -> str:
    """sent-by for comparison: host lower-cased, port made explicit (§17.2.3, §19.1.2)."""
    port = via.port if via.port is not None else _DEFAULT_PORTS.get(via.transport, 5060)
    return f"{via.host.lower()}:{port}"


def to_tag(msg: SIPMessage) -> str | None:
    """The To tag, None when absent (SIPParseError when To is missing or unparsable)."""
    return msg.to.tag


def server_key(request: SIPMessage, method: str | None = None) -> ServerKey | LegacyKey:
    """The key matching ``request`` to a server transaction (§17.2.3).

    The method is the request's, except for ACK, which matches the INVITE it
    acknowledges; ``method`` overrides it (CANCEL matching, §9.2).
    """
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    via = request.via1
    branch = via.branch
    if branch is not None and branch.startswith(BRANCH_COOKIE):
        return ServerKey(branch, sent_by_key(via), method)
    return LegacyKey(request.ruri, request.from_.tag, request.call_id, request.cseq[0], method,
                     str(via))


def cancel_target_key(cancel: SIPMessage) -> ServerKey | LegacyKey:
    """The key of the INVITE server transaction a CANCEL cancels (§9.2)."""
    return server_key(cancel, "INVITE")


def client_key(request: SIPMessage) -> ClientKey:
    """The key of the client transaction sending ``request`` (our top Via branch, §17.1.3)."""
    try:
        branch = request.via1.branch
    except SIPError as exc:
        raise TransactionUsageError(f"a client transaction needs a top Via: {exc}") from None
    if not branch:
        raise TransactionUsageError("a client transaction needs a branch in its top Via")
    return ClientKey(branch, request.method)


def response_key(response: SIPMessage) -> ClientKey | None:
    """The key of the client transaction a response belongs to; None without a branch.

    §17.1.3: the top Via branch equals the request's and the CSeq method equals
    the request method (so a 200 to a CANCEL does not match the INVITE).
    """
    branch = response.via1.branch
    if not branch:
        return None
    return ClientKey(branch, response.cseq[1])
