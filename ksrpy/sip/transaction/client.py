"""Client transactions: RFC 3261 §17.1 with RFC 6026 §7.2 (Accepted state, timer M).

The client transaction sends the request, retransmits it on unreliable
transports (timer A doubling until B; E doubling up to T2 until F), passes
every response the TU must see up, and absorbs retransmitted responses.

``build_ack`` builds the hop-by-hop ACK for a 3xx-6xx (§17.1.1.3) and
``build_cancel`` a CANCEL for a pending request (§9.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from ..errors import SIPError
from ..headers import HeaderId
from ..message import SIPMessage, encode
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
from .keys import ClientKey, client_key
from .timers import DEFAULT_TIMERS, TimerConfig

__all__ = [
    "ClientTransaction", "InviteClientTransaction", "NonInviteClientTransaction", "build_ack",
    "build_cancel", "new_client_transaction",
]

S, I = State, Input  # noqa: E741 - the tables below read as the RFC figures

# --------------------------------------------------------------- client tables

_ACCEPT = Row(S.ACCEPTED, (Action.PASS_UP, Start("M")))  # RFC 6026 §8.4
_REJECT = Row(S.COMPLETED, (Action.PASS_UP, Action.SEND_ACK, Start("D")))  # §17.1.1.2
_GIVE_UP = Row(S.TERMINATED, (Action.REPORT_TIMEOUT,))
_FAILED = Row(S.TERMINATED, (Action.REPORT_ERROR,))

#: INVITE client, RFC 3261 §17.1.1 Figure 5 with RFC 6026 §7.2 Figure 4 (Accepted, timer M).
INVITE_CLIENT = frozen_table({
    (S.INIT, I.START): Row(S.CALLING, (Action.SEND, Start("A"), Start("B"), Start("lifetime"))),
    (S.CALLING, I.TIMER_A): Row(S.CALLING, (Action.RESEND, Rearm("A", Backoff.DOUBLE))),
    (S.CALLING, I.TIMER_B): _GIVE_UP,
    (S.CALLING, I.TIMER_LIFETIME): _GIVE_UP,
    (S.CALLING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.PASS_UP,)),
    (S.CALLING, I.RESPONSE_2XX): _ACCEPT,
    (S.CALLING, I.RESPONSE_3XX_6XX): _REJECT,
    (S.CALLING, I.TRANSPORT_ERROR): _FAILED,
    (S.PROCEEDING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.PASS_UP,)),
    (S.PROCEEDING, I.RESPONSE_2XX): _ACCEPT,
    (S.PROCEEDING, I.RESPONSE_3XX_6XX): _REJECT,
    (S.PROCEEDING, I.TRANSPORT_ERROR): Row(S.PROCEEDING),  # nothing in flight (no arrow)
    (S.PROCEEDING, I.TIMER_LIFETIME): _GIVE_UP,  # the TU's timer C should act first (§16.8)
    # §17.1.1.2: a retransmitted final response is ACKed again, not passed up.
    (S.COMPLETED, I.RESPONSE_1XX): Row(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_2XX): Row(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_3XX_6XX): Row(S.COMPLETED, (Action.SEND_ACK,)),
    (S.COMPLETED, I.TRANSPORT_ERROR): _FAILED,
    (S.COMPLETED, I.TIMER_D): Row(S.TERMINATED),
    # RFC 6026 §8.4: every 2xx (retransmission or other fork) goes to the TU, no ACK.
    (S.ACCEPTED, I.RESPONSE_1XX): Row(S.ACCEPTED),
    (S.ACCEPTED, I.RESPONSE_2XX): Row(S.ACCEPTED, (Action.PASS_UP,)),
    (S.ACCEPTED, I.RESPONSE_3XX_6XX): Row(S.ACCEPTED),
    (S.ACCEPTED, I.TRANSPORT_ERROR): Row(S.ACCEPTED),
    (S.ACCEPTED, I.TIMER_M): Row(S.TERMINATED),
})

#: Plain RFC 3261: a 2xx terminates the INVITE client transaction (§17.1.1.2).
INVITE_CLIENT_RFC3261 = table_variant(
    INVITE_CLIENT, drop=S.ACCEPTED,
    CALLING__RESPONSE_2XX=Row(S.TERMINATED, (Action.PASS_UP,)),
    PROCEEDING__RESPONSE_2XX=Row(S.TERMINATED, (Action.PASS_UP,)),
)

_FINAL = Row(S.COMPLETED, (Action.PASS_UP, Start("K")))  # §17.1.2.2

#: Non-INVITE client, RFC 3261 §17.1.2 Figure 6.
NON_INVITE_CLIENT = frozen_table({
    (S.INIT, I.START): Row(S.TRYING, (Action.SEND, Start("E"), Start("F"))),
    (S.TRYING, I.TIMER_E): Row(S.TRYING, (Action.RESEND, Rearm("E", Backoff.DOUBLE_TO_T2))),
    (S.TRYING, I.TIMER_F): _GIVE_UP,
    (S.TRYING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.PASS_UP,)),
    (S.TRYING, I.RESPONSE_2XX): _FINAL,
    (S.TRYING, I.RESPONSE_3XX_6XX): _FINAL,
    (S.TRYING, I.TRANSPORT_ERROR): _FAILED,
    (S.PROCEEDING, I.TIMER_E): Row(S.PROCEEDING, (Action.RESEND, Rearm("E", Backoff.T2))),
    (S.PROCEEDING, I.TIMER_F): _GIVE_UP,
    (S.PROCEEDING, I.RESPONSE_1XX): Row(S.PROCEEDING, (Action.PASS_UP,)),
    (S.PROCEEDING, I.RESPONSE_2XX): _FINAL,
    (S.PROCEEDING, I.RESPONSE_3XX_6XX): _FINAL,
    (S.PROCEEDING, I.TRANSPORT_ERROR): _FAILED,
    # §17.1.2.2: the Completed state buffers response retransmissions.
    (S.COMPLETED, I.RESPONSE_1XX): Row(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_2XX): Row(S.COMPLETED),
    (S.COMPLETED, I.RESPONSE_3XX_6XX): Row(S.COMPLETED),
    (S.COMPLETED, I.TRANSPORT_ERROR): Row(S.COMPLETED),
    (S.COMPLETED, I.TIMER_K): Row(S.TERMINATED),
})

_RESPONSES = frozenset({I.RESPONSE_1XX, I.RESPONSE_2XX, I.RESPONSE_3XX_6XX})


# ---------------------------------------------------------------------- classes


def _as_sent(request: SIPMessage | bytes) -> tuple[SIPMessage, bytes]:
    """The request as it goes on the wire, parsed (edits applied first)."""
    if isinstance(request, bytes):
        return SIPMessage.parse(request), request
    if request.modified:
        data = request.to_bytes()
        return SIPMessage.parse(data), data
    return request, request.raw


class ClientTransaction(Transaction):
    """Sends one request and delivers its responses to the TU (§17.1)."""

    NETWORK_INPUTS = _RESPONSES | {I.TRANSPORT_ERROR}
    key: ClientKey

    __slots__ = ("data", "ack", "_ack_to")

    def __init__(self, request: SIPMessage | bytes, destination: Any, *, reliable: bool,
                 timers: TimerConfig = DEFAULT_TIMERS, rfc6026: bool = True,
                 observer: Observer | None = None) -> None:
        msg, data = _as_sent(request)
        if msg.method == "ACK":
            raise TransactionUsageError("an ACK is not sent in a client transaction (§17.1)")
        if (msg.method == "INVITE") is not self.INVITE:
            raise TransactionUsageError(f"{type(self).__name__} cannot send a {msg.method}")
        super().__init__(msg, client_key(msg), destination, reliable=reliable, timers=timers,
                         rfc6026=rfc6026, observer=observer)
        self.data = data
        self.ack: bytes | None = None
        self._ack_to: str | None = None

    def receive_response(self, response: SIPMessage, now: float) -> list[Event]:
        """Feed a response matched to this transaction (§17.1.3)."""
        if response.is_request:
            raise TransactionUsageError("receive_response() needs a response")
        return self._feed(Input.for_status(response.status), now, message=response)

    def _send(self, turn: Turn) -> None:
        turn.out.append(Send(self.data, self.destination, self))

    def _resend(self, turn: Turn) -> None:
        turn.out.append(Send(self.data, self.destination, self, retransmission=True))

    def _send_ack(self, turn: Turn) -> None:
        """§17.1.1.3: ACK each 3xx-6xx, to the same destination as the request."""
        response = turn.message
        assert response is not None
        to_value = response.header_by_id(HeaderId.TO)
        again = self.ack is not None and to_value == self._ack_to
        if not again:
            self.ack = build_ack(self.request, response)
            self._ack_to = to_value
        assert self.ack is not None
        turn.out.append(Send(self.ack, self.destination, self, retransmission=again))


class InviteClientTransaction(ClientTransaction):
    """INVITE client: Calling, Proceeding, Completed, Accepted (RFC 6026); timers A B D M."""

    TABLES = (INVITE_CLIENT, INVITE_CLIENT_RFC3261)
    TIMERS = MappingProxyType({
        S.CALLING: frozenset({"A", "B", "lifetime"}),
        S.PROCEEDING: frozenset({"lifetime"}),
        S.COMPLETED: frozenset({"D"}),
        S.ACCEPTED: frozenset({"M"}),
    })
    INVITE = True
    __slots__ = ()


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client transaction: Trying, Proceeding, Completed; timers E F K."""

    TABLES = (NON_INVITE_CLIENT, NON_INVITE_CLIENT)
    TIMERS = MappingProxyType({
        S.TRYING: frozenset({"E", "F"}),
        S.PROCEEDING: frozenset({"E", "F"}),
        S.COMPLETED: frozenset({"K"}),
    })
    INVITE = False
    __slots__ = ()


def new_client_transaction(request: SIPMessage | bytes, destination: Any, *, reliable: bool,
                           timers: TimerConfig = DEFAULT_TIMERS, rfc6026: bool = True,
                           observer: Observer | None = None) -> ClientTransaction:
    """An INVITE or non-INVITE client transaction for ``request`` (not started)."""
    msg, _data = _as_sent(request)
    cls = InviteClientTransaction if msg.method == "INVITE" else NonInviteClientTransaction
    return cls(request, destination, reliable=reliable, timers=timers, rfc6026=rfc6026,
               observer=observer)


# ---------------------------------------------------------- ACK and CANCEL


def _hop_request(request: SIPMessage, method: str, to_value: str,
                 headers: Sequence[str] = ()) -> bytes:
    """A request for the same hop: R-URI, the single top Via, Route set, From, Call-ID, CSeq."""
    try:
        lines = [
            f"{method} {request.ruri} SIP/2.0",
            f"Via: {request.via1}",
            f"Max-Forwards: {request.header_by_id(HeaderId.MAX_FORWARDS) or 70}",
            *(f"Route: {value}" for value in request.get_headers("Route")),
            f"From: {request.header_by_id(HeaderId.FROM) or ''}",
            f"To: {to_value}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.cseq[0]} {method}",
            *(h.rstrip("\r\n") for h in headers),
            "Content-Length: 0",
        ]
    except SIPError as exc:
        raise TransactionUsageError(f"cannot build {method} for {request!r}: {exc}") from None
    return encode("\r\n".join(lines) + "\r\n\r\n")


def build_ack(request: SIPMessage, response: SIPMessage) -> bytes:
    """The ACK for a 3xx-6xx response (§17.1.1.3).

    Same Request-URI, Call-ID, From and CSeq number as ``request`` (method
    ACK), the To of the response (with its tag), a single Via equal to the
    request's top Via, and the request's Route headers.
    """
    return _hop_request(request, "ACK", response.header_by_id(HeaderId.TO) or "")


def build_cancel(request: SIPMessage, headers: Sequence[str] = ()) -> bytes:
    """A CANCEL for ``request`` (§9.1): its R-URI, Call-ID, To, From, CSeq number, top Via, Route.

    ``headers`` are extra full header lines, e.g. ``Reason: SIP;cause=200`` (RFC 3326).
    Send it in its own non-INVITE client transaction (same branch, method CANCEL).
    """
    return _hop_request(request, "CANCEL", request.header_by_id(HeaderId.TO) or "", headers)
