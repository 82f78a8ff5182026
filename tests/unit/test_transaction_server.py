"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1/§8.7/§8.8): every row, timers, absorption."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ksrpy.sip.message import SIPMessage
from ksrpy.sip.reply import build_reply
from ksrpy.sip.transaction import (
    Action,
    Input,
    InviteServerTransaction,
    NonInviteServerTransaction,
    PassUp,
    Rearm,
    Row,
    Send,
    ServerTransaction,
    Start,
    State,
    Terminated,
    Timeout,
    TransactionUsageError,
    TransportError,
    build_ack,
    new_server_transaction,
)

SOURCE = ("198.51.100.7", 5070)


def request(method: str = "INVITE", branch: str = "z9hG4bKuac1") -> SIPMessage:
    """A request as a UAC sends it to us."""
    return SIPMessage.parse((
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 198.51.100.7:5070;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=from1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: call-9@198.51.100.7\r\n"
        f"CSeq: 3 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode())


def reply(req: SIPMessage, status: int, to_tag: str = "srv1") -> bytes:
    return build_reply(req, status, src_ip=SOURCE[0], src_port=SOURCE[1], to_tag=to_tag)


def ack_for(req: SIPMessage, status: int = 486, to_tag: str = "srv1") -> SIPMessage:
    """The ACK the UAC sends for our non-2xx (§17.1.1.3)."""
    return SIPMessage.parse(build_ack(req, SIPMessage.parse(reply(req, status, to_tag))))


def server(cls: type[ServerTransaction], *, reliable: bool = False, rfc6026: bool = True,
           auto_100: bool = True) -> ServerTransaction:
    method = "INVITE" if cls is InviteServerTransaction else "REGISTER"
    return cls(request(method), "reply-to", reliable=reliable, rfc6026=rfc6026,
               auto_100=auto_100 and cls is InviteServerTransaction, source=SOURCE)


def kinds(events: list) -> list[type]:
    return [type(e) for e in events]


# ------------------------------------------------------------------ every row

#: How to bring a fresh transaction into each state: TU statuses, then "ACK" to receive.
REACH: dict[type, dict[State, list]] = {
    InviteServerTransaction: {
        State.PROCEEDING: [], State.COMPLETED: [486], State.CONFIRMED: [486, "ACK"],
        State.ACCEPTED: [200],
    },
    NonInviteServerTransaction: {
        State.TRYING: [], State.PROCEEDING: [100], State.COMPLETED: [200],
    },
}
STATUS_FOR = {Input.RESPONSE_1XX: 180, Input.RESPONSE_2XX: 200, Input.RESPONSE_3XX_6XX: 486}


def reach(cls: type[ServerTransaction], rfc6026: bool, state: State) -> ServerTransaction:
    tx = server(cls, rfc6026=rfc6026)
    if state is State.INIT:
        return tx
    tx.start(0.0)
    for step in REACH[cls][state]:
        if step == "ACK":
            tx.receive_request(ack_for(tx.request), 0.1)
        else:
            tx.send_response(reply(tx.request, step), 0.1)
    assert tx.state is state
    return tx


def fire_only(tx: ServerTransaction, name: str) -> list:
    """Fire timer ``name`` alone: timers due earlier are cancelled first."""
    deadline = tx.armed[name]
    tx._timers.keep_only(frozenset(n for n, d in tx.armed.items() if n == name or d > deadline))
    return tx.on_timer(deadline)


def feed(tx: ServerTransaction, input: Input) -> tuple[list, float]:
    """Apply ``input`` through the public API; return the events and the time used."""
    now = 0.2
    if input is Input.START:
        return tx.start(now), now
    if input is Input.REQUEST:
        return tx.receive_request(request(tx.method), now), now
    if input is Input.ACK:
        return tx.receive_request(ack_for(tx.request), now), now
    if input in STATUS_FOR:
        return tx.send_response(reply(tx.request, STATUS_FOR[input]), now), now
    if input is Input.TRANSPORT_ERROR:
        return tx.transport_error(now), now
    assert input.timer is not None
    deadline = tx.armed[input.timer]
    return fire_only(tx, input.timer), deadline


EVENT_OF = {Action.SEND: Send, Action.RESEND: Send, Action.SEND_TRYING: Send,
            Action.PASS_UP: PassUp, Action.REPORT_TIMEOUT: Timeout,
            Action.REPORT_ERROR: TransportError}


def expected_events(row: Row) -> list[type]:
    out = [EVENT_OF[s] for s in row.steps if isinstance(s, Action)]
    return out + ([Terminated] if row.next is State.TERMINATED else [])


CLASSES = (InviteServerTransaction, NonInviteServerTransaction)
ROWS = [
    pytest.param(cls, rfc6026, key, row, id=f"{cls.__name__}-{rfc6026 and '6026' or '3261'}-"
                 f"{key[0].value}-{key[1].value}")
    for cls in CLASSES
    for rfc6026 in (True, False)
    for key, row in cls.TABLES[0 if rfc6026 else 1].items()
]


@pytest.mark.parametrize(("cls", "rfc6026", "key", "row"), ROWS)
def test_every_row(cls: type[ServerTransaction], rfc6026: bool, key: tuple[State, Input],
                   row: Row) -> None:
    state, input = key
    tx = reach(cls, rfc6026, state)
    events, now = feed(tx, input)
    assert tx.state is row.next
    assert kinds(events) == expected_events(row)
    if row.next is State.TERMINATED:
        assert tx.armed == {}
        return
    for step in row.steps:
        if isinstance(step, Start):
            duration = tx.config.duration(step.timer, reliable=False, invite=tx.INVITE)
            assert tx.armed[step.timer] == now + duration
        elif isinstance(step, Rearm):
            assert step.timer in tx.armed and tx.armed[step.timer] > now
    assert set(tx.armed) <= cls.TIMERS[row.next]


FORBIDDEN = [
    pytest.param(cls, rfc6026, state, input, id=f"{cls.__name__}-{rfc6026}-{state.value}-"
                 f"{input.value}")
    for cls in CLASSES
    for rfc6026 in (True, False)
    for state in REACH[cls]
    for input in sorted(cls.TU_INPUTS, key=lambda i: i.value)
    if (state, input) not in cls.TABLES[0 if rfc6026 else 1]
    and any(s is state for s, _ in cls.TABLES[0 if rfc6026 else 1])
]


@pytest.mark.parametrize(("cls", "rfc6026", "state", "input"), FORBIDDEN)
def test_responses_without_a_row_are_usage_errors(cls: type[ServerTransaction], rfc6026: bool,
                                                  state: State, input: Input) -> None:
    tx = reach(cls, rfc6026, state)
    status = STATUS_FOR[input]
    assert not tx.can_send(status)
    with pytest.raises(TransactionUsageError, match="cannot send"):
        tx.send_response(reply(tx.request, status), 1.0)
    assert tx.state is state


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("variant", [0, 1])
def test_tables_are_total_and_timers_consistent(cls: type[ServerTransaction],
                                                variant: int) -> None:
    table = cls.TABLES[variant]
    states = {s for s, _ in table} - {State.INIT}
    assert State.TERMINATED not in states and states <= set(cls.TIMERS)
    for state in states:
        for input in cls.NETWORK_INPUTS:
            assert (state, input) in table, (state, input)
        timer_rows = {i.timer for s, i in table if s is state and i.timer}
        assert timer_rows == set(cls.TIMERS[state]), state
    allowed = cls.NETWORK_INPUTS | cls.TU_INPUTS | {Input.START}
    assert {i for _, i in table if i.timer is None} <= allowed


# ------------------------------------------------------- responses and timers


def run_timers(tx: ServerTransaction) -> list[tuple[float, list]]:
    out = []
    while (deadline := tx.next_deadline()) is not None:
        out.append((deadline, tx.on_timer(deadline)))
    return out


def test_auto_100_trying_is_sent_at_once_with_via_received() -> None:
    tx = server(InviteServerTransaction)
    events = tx.start(0.0)
    assert kinds(events) == [Send] and events[0].destination == "reply-to"
    trying = SIPMessage.parse(events[0].data)
    assert trying.status == 100 and trying.to.tag is None
    assert trying.via1.rport == "5070" and trying.via1.received == "198.51.100.7"
    assert tx.last_response == events[0].data


def test_without_auto_100_start_sends_nothing() -> None:
    tx = server(InviteServerTransaction, auto_100=False)
    assert tx.start(0.0) == []
    assert tx.receive_request(request(), 0.5) == []  # nothing to resend yet


def test_timer_g_doubles_to_t2_until_timer_h() -> None:
    tx = server(InviteServerTransaction)
    tx.start(0.0)
    final = tx.send_response(reply(tx.request, 486), 0.0)
    assert kinds(final) == [Send]
    fired = run_timers(tx)
    resent = [t for t, ev in fired if kinds(ev) == [Send]]
    assert resent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]  # §17.2.1
    assert all(ev[0].data == final[0].data for t, ev in fired if kinds(ev) == [Send])
    assert fired[-1][0] == 32.0 and kinds(fired[-1][1]) == [Timeout, Terminated]
    assert fired[-1][1][0].timer == "H"


def test_ack_confirms_and_timer_i_ends() -> None:
    tx = server(InviteServerTransaction)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 404), 0.0)
    assert tx.receive_request(ack_for(tx.request, 404), 1.0) == []
    assert tx.state is State.CONFIRMED and tx.armed == {"I": 6.0}  # T4
    assert tx.receive_request(ack_for(tx.request, 404), 2.0) == []  # absorbed
    assert tx.receive_request(request(), 2.0) == []  # absorbed
    assert kinds(tx.on_timer(6.0)) == [Terminated]


def test_reliable_server_sets_no_g_and_ends_on_ack() -> None:
    tx = server(InviteServerTransaction, reliable=True)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 486), 0.0)
    assert set(tx.armed) == {"H"}
    assert kinds(tx.receive_request(ack_for(tx.request), 1.0)) == [Terminated]  # I = 0


def test_reliable_non_invite_server_ends_with_the_final_response() -> None:
    tx = server(NonInviteServerTransaction, reliable=True)
    tx.start(0.0)
    assert kinds(tx.send_response(reply(tx.request, 200), 0.0)) == [Send, Terminated]  # J = 0


def test_non_invite_absorbs_retransmissions_by_resending_the_last_response() -> None:
    tx = server(NonInviteServerTransaction)
    tx.start(0.0)
    assert tx.receive_request(request("REGISTER"), 0.5) == []  # Trying: discarded
    provisional = tx.send_response(reply(tx.request, 100), 0.6)[0].data
    again = tx.receive_request(request("REGISTER"), 1.0)
    assert kinds(again) == [Send] and again[0].data == provisional and again[0].retransmission
    final = tx.send_response(reply(tx.request, 200), 1.5)[0].data
    assert tx.armed == {"J": 33.5}
    assert tx.receive_request(request("REGISTER"), 2.0)[0].data == final
    assert kinds(tx.on_timer(33.5)) == [Terminated]


def test_invite_retransmission_gets_the_latest_provisional() -> None:
    tx = server(InviteServerTransaction)
    tx.start(0.0)
    ringing = tx.send_response(reply(tx.request, 180), 0.1)[0].data
    assert tx.receive_request(request(), 0.5)[0].data == ringing


def test_accepted_absorbs_invites_sends_2xx_and_passes_acks_up() -> None:
    tx = server(InviteServerTransaction)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 200), 1.0)
    assert tx.state is State.ACCEPTED and tx.armed == {"L": 33.0}
    assert tx.receive_request(request(), 2.0) == []  # RFC 6026 §8.7: not to the TU
    assert kinds(tx.send_response(reply(tx.request, 200), 2.0)) == [Send]
    ack = ack_for(tx.request, 200)
    events = tx.receive_request(ack, 3.0)
    assert kinds(events) == [PassUp] and events[0].message is ack
    with pytest.raises(TransactionUsageError):
        tx.send_response(reply(tx.request, 486), 3.0)
    assert kinds(tx.on_timer(33.0)) == [Terminated]


def test_rfc3261_mode_2xx_and_transport_errors_terminate() -> None:
    tx = server(InviteServerTransaction, rfc6026=False)
    tx.start(0.0)
    assert kinds(tx.send_response(reply(tx.request, 200), 1.0)) == [Send, Terminated]
    tx = server(NonInviteServerTransaction, rfc6026=False)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 100), 0.0)
    assert kinds(tx.transport_error(0.1)) == [TransportError, Terminated]


def test_rfc6026_transport_error_informs_and_stays() -> None:
    tx = server(InviteServerTransaction)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 486), 0.0)
    assert kinds(tx.transport_error(0.1)) == [TransportError]
    assert tx.state is State.COMPLETED


@pytest.mark.parametrize(("cls", "lifetime"), [(InviteServerTransaction, 180.0),
                                                (NonInviteServerTransaction, 32.0)])
def test_a_tu_that_never_answers_is_bounded_by_the_lifetime(cls: type[ServerTransaction],
                                                           lifetime: float) -> None:
    tx = server(cls)
    tx.start(0.0)
    fired = run_timers(tx)
    assert fired == [(lifetime, fired[0][1])]
    assert kinds(fired[0][1]) == [Timeout, Terminated] and fired[0][1][0].timer == "lifetime"


def test_response_given_as_message_or_bytes() -> None:
    tx = server(NonInviteServerTransaction)
    tx.start(0.0)
    msg = SIPMessage.parse(reply(tx.request, 202))
    msg.add_header("X-Note", "edited")
    sent = tx.send_response(msg, 0.0)[0].data
    assert b"X-Note: edited\r\n" in sent
    with pytest.raises(TransactionUsageError):
        tx.send_response(b"garbage", 0.0)
    with pytest.raises(TransactionUsageError):
        tx.send_response(request("REGISTER"), 0.0)


@pytest.mark.parametrize("make", [
    lambda: new_server_transaction(request("ACK"), "x", reliable=False),
    lambda: InviteServerTransaction(request("BYE"), "x", reliable=False),
    lambda: NonInviteServerTransaction(request("INVITE"), "x", reliable=False),
    lambda: InviteServerTransaction(request(), "x", reliable=False, auto_100=True),
])
def test_misuse_is_a_usage_error(make: Callable[[], object]) -> None:
    with pytest.raises(TransactionUsageError):
        make()


def test_a_foreign_request_cannot_be_fed() -> None:
    tx = server(NonInviteServerTransaction)
    tx.start(0.0)
    with pytest.raises(TransactionUsageError):
        tx.receive_request(request("OPTIONS"), 0.0)
    with pytest.raises(TransactionUsageError):
        tx.receive_request(ack_for(tx.request), 0.0)


def test_terminated_server_emits_nothing() -> None:
    tx = server(InviteServerTransaction, reliable=True)
    tx.start(0.0)
    tx.send_response(reply(tx.request, 486), 0.0)
    tx.receive_request(ack_for(tx.request), 0.1)
    assert tx.terminated
    assert tx.receive_request(request(), 1.0) == []
    assert tx.receive_request(ack_for(tx.request), 1.0) == []
    assert tx.transport_error(1.0) == [] and tx.on_timer(99.0) == []
    with pytest.raises(TransactionUsageError):
        tx.send_response(reply(tx.request, 200), 1.0)
