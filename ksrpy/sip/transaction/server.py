"""Server transactions: RFC 3261 §17.2, with RFC 6026's Accepted state and transport rules.

Why RFC 6026 by default: under plain RFC 3261 a 2xx ends the INVITE server
transaction at once, so a retransmitted INVITE (its 2xx was lost) looks like
a new request and reaches the TU again (a proxy would fork it anew), and a
late ACK has nothing to match. RFC 6026 keeps the transaction in Accepted
for timer L (64*T1): INVITE retransmissions are absorbed, 2xx responses from
the TU (UAS retransmissions, other forks of a proxy) are still sent, and an
ACK that matches is passed to the TU. It also says a transport error leaves a
server transaction in its state after informing the TU (§8.8). Pass
``rfc6026=False`` for the RFC 3261 figures.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..errors import SIPError
from ..message import SIPMessage
from ..reply import build_reply
from .events import (
    Action,
    Backoff,
    Event,
    Input,
    Observer,
    Rearm,
    Row,
    Send,
    Start,
    State,
    Transaction,
    TransactionUsageError,
    Turn,
    frozen_table,
    table_variant,
)
from .keys import LegacyKey, ServerKey, server_key, to_tag
from .timers import DEFAULT_TIMERS, TimerConfig

__all__ = [
    "InviteServerTransaction", "NonInviteServerTransaction", "ServerTransaction",
    "new_server_transaction",
]

S, I = State, Input  # noqa: E741 - the tables below read as the RFC figures

_REPORT = (Action.REPORT_ERROR,)
_GIVE_UP = Row(S.TERMINATED, (Action.REPORT_TIMEOUT,))

#: INVITE server, RFC 6026 §7.1 Figure 5 (replacing RFC 3261 §17.2.1 Figure 7).
INVITE_SERVER = frozen_table({
    (S.INIT, I.START): Row(S.PROCEEDING, (Action.SEND_TRYING, Start("lifetime"))),
    # §17.2.1: a retransmitted INVITE gets the most recent provisional response again.
    (S.PROCEEDING, I.REQUEST): Row(S.PROCEEDING, (Action.RESEND,)),
    (S.PROCEEDING, I.ACK): Row(S.PROCEEDING),  # nothing to acknowledge yet: discarded
    (S.PROCEEDING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.SEND,)),
    (S.PROCEEDING, I.RESPONSE_2XX): Row(S.ACCEPTED, (Action.SEND, Start("L"))),
    (S.PROCEEDING, I.RESPONSE_3XX_6XX): Row(S.COMPLETED, (Action.SEND, Start("G"), Start("H"))),
    (S.PROCEEDING, I.TRANSPORT_ERROR): Row(S.PROCEEDING, _REPORT),  # RFC 6026 §8.8
    (S.PROCEEDING, I.TIMER_LIFETIME): _GIVE_UP,  # the TU never answered
    (S.COMPLETED, I.REQUEST): Row(S.COMPLETED, (Action.RESEND,)),
    (S.COMPLETED, I.ACK): Row(S.CONFIRMED, (Start("I"),)),
    (S.COMPLETED, I.TIMER_G): Row(S.COMPLETED,
                                  (Action.RESEND, Rearm("G", Backoff.DOUBLE_TO_T2))),
    (S.COMPLETED, I.TIMER_H): _GIVE_UP,  # §17.2.1: the ACK never came
    (S.COMPLETED, I.TRANSPORT_ERROR): Row(S.COMPLETED, _REPORT),
    # §17.2.1: Confirmed absorbs the ACKs triggered by retransmitted final responses.
    (S.CONFIRMED, I.REQUEST): Row(S.CONFIRMED),
    (S.CONFIRMED, I.ACK): Row(S.CONFIRMED),
    (S.CONFIRMED, I.TRANSPORT_ERROR): Row(S.CONFIRMED),
    (S.CONFIRMED, I.TIMER_I): Row(S.TERMINATED),
    # RFC 6026 §8.7: retransmitted INVITEs absorbed, ACKs to the TU, 2xx from the TU sent.
    (S.ACCEPTED, I.REQUEST): Row(S.ACCEPTED),
    (S.ACCEPTED, I.ACK): Row(S.ACCEPTED, (Action.PASS_UP,)),
    (S.ACCEPTED, I.RESPONSE_2XX): Row(S.ACCEPTED, (Action.SEND,)),
    (S.ACCEPTED, I.TRANSPORT_ERROR): Row(S.ACCEPTED, _REPORT),
    (S.ACCEPTED, I.TIMER_L): Row(S.TERMINATED),
})

#: Plain RFC 3261 §17.2.1 Figure 7: a 2xx or a transport error ends the transaction.
INVITE_SERVER_RFC3261 = table_variant(
    INVITE_SERVER, drop=S.ACCEPTED,
    PROCEEDING__RESPONSE_2XX=Row(S.TERMINATED, (Action.SEND,)),
    PROCEEDING__TRANSPORT_ERROR=Row(S.TERMINATED, _REPORT),
    COMPLETED__TRANSPORT_ERROR=Row(S.TERMINATED, _REPORT),
)

_FINAL = Row(S.COMPLETED, (Action.SEND, Start("J")))  # §17.2.2

#: Non-INVITE server, RFC 3261 §17.2.2 Figure 8 (transport errors per RFC 6026 §8.8).
NON_INVITE_SERVER = frozen_table({
    (S.INIT, I.START): Row(S.TRYING, (Start("lifetime"),)),
    (S.TRYING, I.REQUEST): Row(S.TRYING),  # §17.2.2: discarded while Trying
    (S.TRYING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.SEND,)),
    (S.TRYING, I.RESPONSE_2XX): _FINAL,
    (S.TRYING, I.RESPONSE_3XX_6XX): _FINAL,
    (S.TRYING, I.TRANSPORT_ERROR): Row(S.TRYING),  # nothing was sent yet
    (S.TRYING, I.TIMER_LIFETIME): _GIVE_UP,
    (S.PROCEEDING, I.REQUEST): Row(S.PROCEEDING, (Action.RESEND,)),
    (S.PROCEEDING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.SEND,)),
    (S.PROCEEDING, I.RESPONSE_2XX): _FINAL,
    (S.PROCEEDING, I.RESPONSE_3XX_6XX): _FINAL,
    (S.PROCEEDING, I.TRANSPORT_ERROR): Row(S.PROCEEDING, _REPORT),
    (S.PROCEEDING, I.TIMER_LIFETIME): _GIVE_UP,
    (S.COMPLETED, I.REQUEST): Row(S.COMPLETED, (Action.RESEND,)),
    (S.COMPLETED, I.TRANSPORT_ERROR): Row(S.COMPLETED, _REPORT),
    (S.COMPLETED, I.TIMER_J): Row(S.TERMINATED),
})

#: RFC 3261 §17.2.2 Figure 8 as drawn: a transport error ends the transaction.
NON_INVITE_SERVER_RFC3261 = table_variant(
    NON_INVITE_SERVER,
    PROCEEDING__TRANSPORT_ERROR=Row(S.TERMINATED, _REPORT),
    COMPLETED__TRANSPORT_ERROR=Row(S.TERMINATED, _REPORT),
)

_UNSET: Any = object()


def _response_bytes(response: SIPMessage | bytes) -> tuple[bytes, int]:
    """(wire bytes, status) of a response the TU passes in."""
    if isinstance(response, bytes):
        if response[:8] != b"SIP/2.0 " or not response[8:11].isdigit():
            raise TransactionUsageError("send_response() needs a SIP response")
        return response, int(response[8:11])
    if response.is_request:
        raise TransactionUsageError("send_response() needs a response, not a request")
    return response.to_bytes(), response.status


class ServerTransaction(Transaction):
    """Receives one request and sends the TU's responses reliably (§17.2)."""

    TU_INPUTS = frozenset({I.RESPONSE_1XX, I.RESPONSE_2XX, I.RESPONSE_3XX_6XX})
    key: ServerKey | LegacyKey

    __slots__ = ("last_response", "auto_100", "source", "trying_reason", "_final_to_tag",
                 "_request_to_tag")

    def __init__(self, request: SIPMessage, destination: Any, *, reliable: bool,
                 timers: TimerConfig = DEFAULT_TIMERS, rfc6026: bool = True,
                 observer: Observer | None = None, auto_100: bool = False,
                 source: tuple[str, int] | None = None, trying_reason: str | None = None) -> None:
        if not request.is_request:
            raise TransactionUsageError("a server transaction is created by a request")
        if request.method == "ACK":
            raise TransactionUsageError("an ACK never creates a server transaction (§17.2.3)")
        if (request.method == "INVITE") is not self.INVITE:
            raise TransactionUsageError(f"{type(self).__name__} cannot serve a {request.method}")
        if auto_100 and source is None:
            raise TransactionUsageError("auto_100 needs the request's source (ip, port)")
        super().__init__(request, server_key(request), destination, reliable=reliable,
                         timers=timers, rfc6026=rfc6026, observer=observer)
        self.last_response: bytes | None = None
        self.auto_100 = auto_100
        self.source = source
        self.trying_reason = trying_reason
        self._final_to_tag: str | None = _UNSET
        self._request_to_tag: str | None = _UNSET

    def receive_request(self, request: SIPMessage, now: float) -> list[Event]:
        """Feed a retransmitted request, or an ACK for an INVITE, matched to this transaction."""
        if request.method == "ACK" and self.INVITE:
            return self._feed(Input.ACK, now, message=request)
        if request.method != self.method:
            raise TransactionUsageError(f"a {request.method} cannot match {self!r}")
        return self._feed(Input.REQUEST, now, message=request)

    def can_send(self, status: int) -> bool:
        """True when the TU may pass a response with ``status`` now."""
        return (self.state, Input.for_status(status)) in self.table

    def send_response(self, response: SIPMessage | bytes, now: float) -> list[Event]:
        """Send a response from the TU (TransactionUsageError when the state forbids it)."""
        data, status = _response_bytes(response)
        input = Input.for_status(status)
        if (self.state, input) not in self.table:
            raise TransactionUsageError(
                f"{self!r} cannot send a {status} response in state {self.state.value}")
        return self._feed(input, now, data=data)

    def legacy_match(self, request: SIPMessage) -> bool:
        """RFC 2543 matching's To-tag rule (§17.2.3, §9.2 for CANCEL).

        An ACK's To tag must equal that of the final response sent; any other
        request's To tag must equal that of the request that created the transaction.
        """
        try:
            tag = to_tag(request)
            if request.method == "ACK":
                return self._final_to_tag is not _UNSET and tag == self._final_to_tag
            if self._request_to_tag is _UNSET:
                self._request_to_tag = to_tag(self.request)
            return tag == self._request_to_tag
        except SIPError:
            return False

    def _send(self, turn: Turn) -> None:
        assert turn.data is not None
        self.last_response = turn.data
        if turn.input is not I.RESPONSE_1XX and isinstance(self.key, LegacyKey):
            try:  # the bytes sent, not the message: the TU may have edited its To
                self._final_to_tag = to_tag(SIPMessage.parse(turn.data))
            except SIPError:
                self._final_to_tag = None
        turn.out.append(Send(turn.data, self.destination, self))

    def _resend(self, turn: Turn) -> None:
        if self.last_response is not None:
            turn.out.append(Send(self.last_response, self.destination, self, retransmission=True))

    def _send_trying(self, turn: Turn) -> None:
        """§17.2.1 / Kamailio auto_inv_100: answer 100 at once so the client stops timer A."""
        if not self.auto_100 or self.source is None:
            return
        ip, port = self.source
        data = build_reply(self.request, 100, self.trying_reason, src_ip=ip, src_port=port)
        self.last_response = data
        turn.out.append(Send(data, self.destination, self))


class InviteServerTransaction(ServerTransaction):
    """INVITE server: Proceeding, Completed, Confirmed, Accepted (RFC 6026); timers G H I L."""

    TABLES = (INVITE_SERVER, INVITE_SERVER_RFC3261)
    NETWORK_INPUTS = frozenset({I.REQUEST, I.ACK, I.TRANSPORT_ERROR})
    TIMERS = MappingProxyType({
        S.PROCEEDING: frozenset({"lifetime"}),
        S.COMPLETED: frozenset({"G", "H"}),
        S.CONFIRMED: frozenset({"I"}),
        S.ACCEPTED: frozenset({"L"}),
    })
    INVITE = True
    __slots__ = ()


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server: Trying, Proceeding, Completed; timer J."""

    TABLES = (NON_INVITE_SERVER, NON_INVITE_SERVER_RFC3261)
    NETWORK_INPUTS = frozenset({I.REQUEST, I.TRANSPORT_ERROR})
    TIMERS = MappingProxyType({
        S.TRYING: frozenset({"lifetime"}),
        S.PROCEEDING: frozenset({"lifetime"}),
        S.COMPLETED: frozenset({"J"}),
    })
    INVITE = False
    __slots__ = ()


def new_server_transaction(request: SIPMessage, destination: Any, *, reliable: bool,
                           timers: TimerConfig = DEFAULT_TIMERS, rfc6026: bool = True,
                           observer: Observer | None = None, auto_100: bool = False,
                           source: tuple[str, int] | None = None,
                           trying_reason: str | None = None) -> ServerTransaction:
    """An INVITE or non-INVITE server transaction for ``request`` (not started)."""
    cls = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
    return cls(request, destination, reliable=reliable, timers=timers, rfc6026=rfc6026,
               observer=observer, auto_100=auto_100, source=source, trying_reason=trying_reason)
