"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2): every table row, timers, ACK shape."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ksrpy.sip.message import SIPMessage
from ksrpy.sip.transaction import (
    Action,
    ClientTransaction,
    Input,
    InviteClientTransaction,
    NonInviteClientTransaction,
    PassUp,
    Rearm,
    Send,
    Start,
    State,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionUsageError,
    TransportError,
    build_ack,
    build_cancel,
    new_client_transaction,
)
from ksrpy.sip.transaction.client import Row

BRANCH = "z9hG4bKclient1"


def request(method: str = "INVITE", branch: str = BRANCH, body: bytes = b"") -> bytes:
    """A request as a proxy sends it: our Via on top of the caller's, two Route headers."""
    return (
        f"{method} sip:bob@192.0.2.20:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n"
        "Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKcaller;rport=5070\r\n"
        "Max-Forwards: 69\r\n"
        "Route: <sip:192.0.2.30;lr>\r\n"
        "Route: <sip:192.0.2.31;lr>\r\n"
        "From: \"Alice\" <sip:alice@example.com>;tag=from1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: call-1@198.51.100.7\r\n"
        f"CSeq: 7 {method}\r\n"
        "Contact: <sip:alice@198.51.100.7:5070>\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def response(status: int, method: str = "INVITE", branch: str = BRANCH,
             to_tag: str | None = "totag1") -> SIPMessage:
    """A response to ``request(method, branch)``."""
    tag = f";tag={to_tag}" if to_tag and status > 100 else ""
    return SIPMessage.parse((
        f"SIP/2.0 {status} Whatever\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n"
        "Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKcaller;rport=5070\r\n"
        "From: \"Alice\" <sip:alice@example.com>;tag=from1\r\n"
        f"To: <sip:bob@example.com>{tag}\r\n"
        "Call-ID: call-1@198.51.100.7\r\n"
        f"CSeq: 7 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode())


def client(cls: type[ClientTransaction], *, reliable: bool = False, rfc6026: bool = True,
           timers: TimerConfig | None = None) -> ClientTransaction:
    method = "INVITE" if cls is InviteClientTransaction else "OPTIONS"
    kwargs = {"timers": timers} if timers else {}
    return cls(request(method), "next-hop", reliable=reliable, rfc6026=rfc6026, **kwargs)


def kinds(events: list) -> list[type]:
    return [type(e) for e in events]


# ------------------------------------------------------------------ every row

#: How to bring a fresh transaction into each state: the statuses to receive after start().
REACH = {
    InviteClientTransaction: {
        State.CALLING: [], State.PROCEEDING: [180], State.COMPLETED: [486],
        State.ACCEPTED: [200],
    },
    NonInviteClientTransaction: {
        State.TRYING: [], State.PROCEEDING: [100], State.COMPLETED: [200],
    },
}
STATUS_FOR = {Input.RESPONSE_1XX: 180, Input.RESPONSE_2XX: 200, Input.RESPONSE_3XX_6XX: 486}


def reach(cls: type[ClientTransaction], rfc6026: bool, state: State) -> ClientTransaction:
    tx = client(cls, rfc6026=rfc6026)
    if state is State.INIT:
        return tx
    tx.start(0.0)
    for status in REACH[cls][state]:
        tx.receive_response(response(status, tx.method), 0.1)
    assert tx.state is state
    return tx


def fire_only(tx: ClientTransaction, name: str) -> list:
    """Fire timer ``name`` alone: timers due earlier are cancelled first."""
    deadline = tx.armed[name]
    tx._timers.keep_only(frozenset(n for n, d in tx.armed.items() if n == name or d > deadline))
    return tx.on_timer(deadline)


def feed(tx: ClientTransaction, input: Input) -> tuple[list, float]:
    """Apply ``input`` through the public API; return the events and the time used."""
    now = 0.2
    if input is Input.START:
        return tx.start(now), now
    if input in STATUS_FOR:
        return tx.receive_response(response(STATUS_FOR[input], tx.method), now), now
    if input is Input.TRANSPORT_ERROR:
        return tx.transport_error(now), now
    assert input.timer is not None
    deadline = tx.armed[input.timer]
    return fire_only(tx, input.timer), deadline


EVENT_OF = {Action.SEND: Send, Action.RESEND: Send, Action.SEND_ACK: Send, Action.PASS_UP: PassUp,
            Action.REPORT_TIMEOUT: Timeout, Action.REPORT_ERROR: TransportError}


def expected_events(row: Row) -> list[type]:
    out = [EVENT_OF[s] for s in row.steps if isinstance(s, Action)]
    return out + ([Terminated] if row.next is State.TERMINATED else [])


ROWS = [
    pytest.param(cls, rfc6026, key, row, id=f"{cls.__name__}-{rfc6026 and '6026' or '3261'}-"
                 f"{key[0].value}-{key[1].value}")
    for cls in (InviteClientTransaction, NonInviteClientTransaction)
    for rfc6026 in (True, False)
    for key, row in cls.TABLES[0 if rfc6026 else 1].items()
]


@pytest.mark.parametrize(("cls", "rfc6026", "key", "row"), ROWS)
def test_every_row(cls: type[ClientTransaction], rfc6026: bool, key: tuple[State, Input],
                   row: Row) -> None:
    state, input = key
    tx = reach(cls, rfc6026, state)
    events, now = feed(tx, input)
    assert tx.state is row.next
    assert kinds(events) == expected_events(row)
    if row.next is State.TERMINATED:
        assert tx.armed == {}
        return
    config = tx.config
    for step in row.steps:
        if isinstance(step, Start):
            duration = config.duration(step.timer, reliable=False, invite=tx.INVITE)
            assert tx.armed[step.timer] == now + duration
        elif isinstance(step, Rearm):
            assert step.timer in tx.armed and tx.armed[step.timer] > now
    assert set(tx.armed) <= cls.TIMERS[row.next]


@pytest.mark.parametrize("cls", [InviteClientTransaction, NonInviteClientTransaction])
@pytest.mark.parametrize("variant", [0, 1])
def test_tables_are_total_and_timers_consistent(cls: type[ClientTransaction],
                                                variant: int) -> None:
    table = cls.TABLES[variant]
    states = {s for s, _ in table} - {State.INIT}
    assert State.TERMINATED not in states
    assert states <= set(cls.TIMERS)
    for state in states:
        # Every network input has an explicit row (an answer even if it is "ignore").
        for input in cls.NETWORK_INPUTS:
            assert (state, input) in table, (state, input)
        timer_rows = {i.timer for s, i in table if s is state and i.timer}
        assert timer_rows == set(cls.TIMERS[state]), state
    allowed = cls.NETWORK_INPUTS | cls.TU_INPUTS | {Input.START}
    assert {i for _, i in table if i.timer is None} <= allowed
    # Every state is reachable from INIT along the rows.
    seen, todo = {State.INIT}, [State.INIT]
    while todo:
        current = todo.pop()
        for (s, _i), row in table.items():
            if s is current and row.next not in seen:
                seen.add(row.next)
                todo.append(row.next)
    assert seen == states | {State.INIT, State.TERMINATED}


# ------------------------------------------------------------ retransmissions


def run_timers(tx: ClientTransaction) -> list[tuple[float, list]]:
    out = []
    while (deadline := tx.next_deadline()) is not None:
        out.append((deadline, tx.on_timer(deadline)))
    return out


def test_invite_timer_a_doubles_until_timer_b() -> None:
    tx = client(InviteClientTransaction)
    assert kinds(tx.start(0.0)) == [Send]
    fired = run_timers(tx)
    sends = [t for t, ev in fired if kinds(ev) == [Send] and ev[0].retransmission]
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # §17.1.1.2: A = T1, 2T1, 4T1 ...
    assert fired[-1][0] == 32.0  # B = 64*T1
    assert kinds(fired[-1][1]) == [Timeout, Terminated]
    assert fired[-1][1][0].timer == "B"


def test_non_invite_timer_e_doubles_capped_at_t2_until_timer_f() -> None:
    tx = client(NonInviteClientTransaction)
    tx.start(0.0)
    fired = run_timers(tx)
    sends = [t for t, ev in fired if kinds(ev) == [Send]]
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert fired[-1][0] == 32.0 and fired[-1][1][0].timer == "F"


def test_non_invite_timer_e_is_t2_in_proceeding() -> None:
    tx = client(NonInviteClientTransaction)
    tx.start(0.0)
    tx.receive_response(response(100, "OPTIONS"), 0.2)
    assert tx.state is State.PROCEEDING
    fired = run_timers(tx)
    sends = [t for t, ev in fired if kinds(ev) == [Send]]
    assert sends == [0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]  # §17.1.2.2: reset to T2
    assert fired[-1][1][0].timer == "F"


def test_schedule_follows_a_custom_timer_config() -> None:
    config = TimerConfig(t1=0.25, t2=1.0, t4=2.0)
    tx = client(NonInviteClientTransaction, timers=config)
    tx.start(10.0)
    fired = run_timers(tx)
    sends = [t for t, ev in fired if kinds(ev) == [Send]]
    assert sends[:5] == [10.25, 10.75, 11.75, 12.75, 13.75]
    assert fired[-1][0] == 10.0 + 64 * 0.25


def test_retransmission_is_rearmed_from_the_late_call() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    tx.on_timer(0.9)  # the engine woke up late: A is reset from now (§17.1.1.2 "reset")
    assert tx.armed["A"] == 0.9 + 1.0


# --------------------------------------------------------------- reliability


def test_reliable_invite_sends_once_and_d_is_zero() -> None:
    tx = client(InviteClientTransaction, reliable=True)
    tx.start(0.0)
    assert set(tx.armed) == {"B", "lifetime"}
    events = tx.receive_response(response(486), 1.0)
    assert kinds(events) == [PassUp, Send, Terminated]  # ACK, then D = 0 ends it at once
    assert tx.terminated


def test_reliable_non_invite_k_is_zero() -> None:
    tx = client(NonInviteClientTransaction, reliable=True)
    tx.start(0.0)
    assert set(tx.armed) == {"F"}
    assert kinds(tx.receive_response(response(200, "OPTIONS"), 1.0)) == [PassUp, Terminated]


def test_unreliable_completed_waits_d_and_k() -> None:
    inv = client(InviteClientTransaction)
    inv.start(0.0)
    inv.receive_response(response(486), 1.0)
    assert inv.armed == {"D": 33.0}
    non = client(NonInviteClientTransaction)
    non.start(0.0)
    non.receive_response(response(404, "OPTIONS"), 1.0)
    assert non.armed == {"K": 6.0}


# --------------------------------------------------------------------- ACK


def test_ack_for_non_2xx_has_the_rfc_3261_17_1_1_3_shape() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    events = tx.receive_response(response(486, to_tag="busy9"), 1.0)
    ack = SIPMessage.parse(events[1].data)
    req = SIPMessage.parse(request())
    assert events[1].destination == "next-hop"
    assert ack.method == "ACK" and ack.ruri == req.ruri
    assert [str(v) for v in ack.vias] == [str(req.via1)]  # a single Via: the top one
    assert ack.get_headers("Route") == req.get_headers("Route")
    assert ack.get_header("From") == req.get_header("From")
    assert ack.to.tag == "busy9"
    assert ack.call_id == req.call_id
    assert ack.cseq == (7, "ACK")
    assert ack.max_forwards == 69
    assert ack.content_length == 0 and ack.body == b""
    assert ack.get_header("Contact") is None


def test_retransmitted_final_is_acked_again_not_passed_up() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    first = tx.receive_response(response(486), 1.0)
    again = tx.receive_response(response(486), 2.0)
    assert kinds(again) == [Send]
    assert again[0].data == first[1].data and again[0].retransmission


def test_2xx_gets_no_ack_from_the_transaction() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    assert kinds(tx.receive_response(response(200), 1.0)) == [PassUp]
    assert tx.ack is None


def test_accepted_passes_every_2xx_up_until_timer_m() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    tx.receive_response(response(200, to_tag="fork1"), 1.0)
    assert tx.state is State.ACCEPTED and tx.armed == {"M": 33.0}
    assert kinds(tx.receive_response(response(200, to_tag="fork2"), 2.0)) == [PassUp]
    assert kinds(tx.receive_response(response(486), 2.0)) == []
    assert kinds(tx.on_timer(33.0)) == [Terminated]


def test_rfc3261_mode_2xx_terminates() -> None:
    tx = client(InviteClientTransaction, rfc6026=False)
    tx.start(0.0)
    assert kinds(tx.receive_response(response(200), 1.0)) == [PassUp, Terminated]


def test_proceeding_is_bounded_by_the_lifetime() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    tx.receive_response(response(180), 1.0)
    assert tx.armed == {"lifetime": 180.0}
    events = tx.on_timer(180.0)
    assert kinds(events) == [Timeout, Terminated] and events[0].timer == "lifetime"


def test_build_cancel_copies_the_request_identity() -> None:
    req = SIPMessage.parse(request())
    cancel = SIPMessage.parse(build_cancel(req, ["Reason: SIP;cause=480"]))
    assert cancel.method == "CANCEL" and cancel.ruri == req.ruri
    assert [str(v) for v in cancel.vias] == [str(req.via1)]
    assert cancel.get_header("To") == req.get_header("To")
    assert cancel.from_.tag == "from1" and cancel.cseq == (7, "CANCEL")
    assert cancel.get_headers("Route") == req.get_headers("Route")
    assert cancel.get_header("Reason") == "SIP;cause=480"
    assert build_ack(req, response(404)).startswith(b"ACK sip:bob@192.0.2.20:5060 SIP/2.0\r\n")


# ----------------------------------------------------------- misuse, the end


def test_edited_message_is_sent_as_edited() -> None:
    msg = SIPMessage.parse(request("OPTIONS"))
    msg.set_ruri("sip:carol@192.0.2.99")
    tx = new_client_transaction(msg, "x", reliable=False)
    assert isinstance(tx, NonInviteClientTransaction)
    assert tx.start(0.0)[0].data.startswith(b"OPTIONS sip:carol@192.0.2.99 SIP/2.0")
    assert tx.request.ruri == "sip:carol@192.0.2.99"


@pytest.mark.parametrize("make", [
    lambda: NonInviteClientTransaction(request("ACK"), "x", reliable=False),
    lambda: InviteClientTransaction(request("BYE"), "x", reliable=False),
    lambda: NonInviteClientTransaction(request("INVITE"), "x", reliable=False),
    lambda: new_client_transaction(request("OPTIONS", branch=""), "x", reliable=False),
])
def test_misuse_is_a_usage_error(make: Callable[[], object]) -> None:
    with pytest.raises(TransactionUsageError):
        make()


def test_inputs_before_start_and_requests_as_responses_are_refused() -> None:
    tx = client(NonInviteClientTransaction)
    with pytest.raises(TransactionUsageError):
        tx.receive_response(response(200, "OPTIONS"), 0.0)
    tx.start(0.0)
    with pytest.raises(TransactionUsageError):
        tx.start(0.0)
    with pytest.raises(TransactionUsageError):
        tx.receive_response(SIPMessage.parse(request("OPTIONS")), 0.0)


def test_terminated_transaction_emits_nothing() -> None:
    tx = client(InviteClientTransaction)
    tx.start(0.0)
    assert kinds(tx.transport_error(0.1)) == [TransportError, Terminated]
    assert tx.receive_response(response(486), 1.0) == []
    assert tx.receive_response(response(200), 1.0) == []
    assert tx.transport_error(1.0) == []
    assert tx.on_timer(1000.0) == []
    assert tx.next_deadline() is None
