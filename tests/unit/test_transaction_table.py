"""The transaction table: bound, expiry without leaks, one timer queue, and random event storms."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksrpy.sip.message import SIPMessage
from ksrpy.sip.reply import build_reply
from ksrpy.sip.transaction import (
    Created,
    Input,
    Matched,
    PassUp,
    Refused,
    Send,
    ServerTransaction,
    State,
    Terminated,
    Transaction,
    TransactionTable,
    TransactionUsageError,
    build_ack,
)

SRC = ("198.51.100.7", 5070)


def request(method: str = "INVITE", branch: str | None = "z9hG4bKt1", to_tag: str = "") -> bytes:
    branch_param = f";branch={branch}" if branch else ""
    tag = f";tag={to_tag}" if to_tag else ""
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 198.51.100.7:5070{branch_param}\r\n"
        "From: <sip:alice@example.com>;tag=ft\r\n"
        f"To: <sip:bob@example.com>{tag}\r\n"
        "Call-ID: table-1\r\n"
        f"CSeq: 1 {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def msg(data: bytes) -> SIPMessage:
    return SIPMessage.parse(data)


def reply(req: SIPMessage, status: int) -> bytes:
    return build_reply(req, status, src_ip=SRC[0], src_port=SRC[1], to_tag="tt")


def created(result: Created | Refused) -> Transaction:
    assert isinstance(result, Created), result
    return result.transaction


def created_server(result: Created | Refused) -> ServerTransaction:
    tx = created(result)
    assert isinstance(tx, ServerTransaction)
    return tx


def drain(table: TransactionTable) -> list:
    """Run every timer until none is left."""
    out = []
    while (deadline := table.next_deadline()) is not None:
        out.extend(table.on_timer(deadline))
    return out


# ---------------------------------------------------------------------- bound


def test_a_full_table_refuses_with_503_until_a_transaction_ends() -> None:
    table = TransactionTable(max_transactions=2)
    server = created_server(table.add_server(msg(request("OPTIONS", "z9hG4bKa")), 0.0, "p",
                                             reliable=True))
    created(table.add_client(request("INVITE", "z9hG4bKb"), 0.0, "n", reliable=False))
    assert table.full and len(table) == 2
    refused = table.add_server(msg(request("OPTIONS", "z9hG4bKc")), 0.0, "p", reliable=True)
    assert isinstance(refused, Refused) and refused.status == 503 and "full" in refused.reason
    assert isinstance(table.add_client(request("BYE", "z9hG4bKd"), 0.0, "n", reliable=False),
                      Refused)
    assert table.server(server.key) is server
    events = server.send_response(reply(server.request, 200), 1.0)  # reliable: J = 0
    assert isinstance(events[-1], Terminated) and len(table) == 1 and not table.full
    created(table.add_server(msg(request("OPTIONS", "z9hG4bKc")), 1.0, "p", reliable=True))


def test_duplicate_keys_are_usage_errors() -> None:
    table = TransactionTable()
    created(table.add_server(msg(request()), 0.0, "p", reliable=False))
    created(table.add_client(request(), 0.0, "n", reliable=False))  # other side: no clash
    for add in (lambda: table.add_server(msg(request()), 0.0, "p", reliable=False),
                lambda: table.add_client(request(), 0.0, "n", reliable=False)):
        try:
            add()
        except TransactionUsageError:
            continue
        raise AssertionError("duplicate accepted")


# ------------------------------------------------------ expiry and timer queue


def test_everything_expires_and_nothing_leaks() -> None:
    table = TransactionTable()
    for n in range(60):
        method = ("INVITE", "OPTIONS", "BYE")[n % 3]
        reliable = n % 2 == 0
        srv = created_server(table.add_server(msg(request(method, f"z9hG4bKs{n}")), n / 10,
                                              "p", reliable=reliable, auto_100=True, source=SRC))
        cli = created(table.add_client(request(method, f"z9hG4bKc{n}"), n / 10, "n",
                                       reliable=reliable))
        if n % 4 == 0:
            srv.send_response(reply(srv.request, 486), n / 10)
        if n % 5 == 0:
            table.receive_response(msg(reply(cli.request, 180)), n / 10 + 0.1)
    assert len(table) > 100  # reliable non-INVITE finals already ended (J = 0)
    drain(table)
    assert len(table) == 0 and table.next_deadline() is None and table._heap == []


def test_timers_fire_in_deadline_order_across_transactions() -> None:
    table = TransactionTable()
    first = created(table.add_client(request("OPTIONS", "z9hG4bK1"), 0.0, "n", reliable=False))
    second = created(table.add_client(request("OPTIONS", "z9hG4bK2"), 0.2, "n", reliable=False))
    assert table.next_deadline() == 0.5
    events = table.on_timer(1.0)
    assert [(type(e), e.transaction) for e in events] == [(Send, first), (Send, second)]
    assert table.next_deadline() == 2.0  # both re-armed from the late call: 1.0 + 2*T1


def test_direct_calls_on_a_transaction_reschedule_it_in_the_table() -> None:
    table = TransactionTable()
    srv = created_server(table.add_server(msg(request("REGISTER")), 0.0, "p", reliable=False))
    assert table.next_deadline() == 32.0  # the non-INVITE lifetime
    srv.send_response(reply(srv.request, 200), 1.0)
    assert table.next_deadline() == 33.0  # timer J replaced it
    assert table.on_timer(32.0) == []
    assert [type(e) for e in table.on_timer(33.0)] == [Terminated] and len(table) == 0


def test_superseded_heap_entries_are_compacted() -> None:
    table = TransactionTable()
    for n in range(500):
        cli = created(table.add_client(request("INVITE", f"z9hG4bKh{n}"), 0.0, "n",
                                       reliable=False))
        table.receive_response(msg(reply(cli.request, 180)), 0.1)  # A, B -> lifetime only
    assert len(table._heap) <= 2 * len(table) + 64


def test_receive_request_absorbs_retransmissions_and_reports_new_requests() -> None:
    table = TransactionTable()
    srv = created(table.add_server(msg(request()), 0.0, "p", reliable=False, auto_100=True,
                                   source=SRC))
    matched = table.receive_request(msg(request()), 0.3)
    assert isinstance(matched, Matched) and matched.transaction is srv
    assert [type(e) for e in matched.events] == [Send]  # the 100 Trying again
    assert table.receive_request(msg(request("INVITE", "z9hG4bKother")), 0.3) is None


def test_observer_sees_every_transition() -> None:
    seen: list[tuple[State, Input, State]] = []
    table = TransactionTable(observer=lambda tx, a, i, b: seen.append((a, i, b)))
    srv = created_server(table.add_server(msg(request()), 0.0, "p", reliable=True))
    srv.send_response(reply(srv.request, 404), 0.1)
    table.receive_request(msg(build_ack(srv.request, msg(reply(srv.request, 404)))), 0.2)
    assert seen == [
        (State.INIT, Input.START, State.PROCEEDING),
        (State.PROCEEDING, Input.RESPONSE_3XX_6XX, State.COMPLETED),
        (State.COMPLETED, Input.ACK, State.CONFIRMED),
        (State.CONFIRMED, Input.TIMER_I, State.TERMINATED),
    ]


def events_of(matched: Matched | None) -> tuple:
    assert matched is not None
    return matched.events


def test_uac_and_proxy_tables_pump_a_rejected_invite_in_memory() -> None:
    """Two sans-IO tables wired back to back: INVITE, 100, 486, ACK, and both ends drain."""
    uac, proxy = TransactionTable(), TransactionTable()
    sent = uac.add_client(request(), 0.0, "proxy", reliable=False)
    assert isinstance(sent, Created) and isinstance(sent.events[0], Send)
    invite = msg(sent.events[0].data)
    assert proxy.receive_request(invite, 0.01) is None  # new: the TU creates the transaction
    made = proxy.add_server(invite, 0.01, "uac", reliable=False, auto_100=True, source=SRC)
    srv = created_server(made)
    assert isinstance(made, Created)
    trying = made.events[0]
    assert isinstance(trying, Send) and trying.destination == "uac"
    assert [type(e) for e in events_of(uac.receive_response(msg(trying.data), 0.02))] == [PassUp]
    busy = srv.send_response(reply(srv.request, 486), 0.5)[0]
    assert isinstance(busy, Send)
    passed, ack = events_of(uac.receive_response(msg(busy.data), 0.51))
    assert isinstance(passed, PassUp) and isinstance(ack, Send) and ack.destination == "proxy"
    assert events_of(proxy.receive_request(msg(ack.data), 0.52)) == ()
    assert srv.state is State.CONFIRMED
    drain(uac)
    drain(proxy)
    assert len(uac) == len(proxy) == 0


# ------------------------------------------------------------------ property

STATUSES = st.sampled_from([100, 180, 200, 202, 302, 486, 603])
KINDS = st.sampled_from(["retransmit", "ack", "respond", "respond", "response", "response",
                         "server error", "client error", "time", "time", "time"])
# Mostly short steps (retransmission timers), sometimes long ones (B, F, H, lifetime ...).
STEPS = st.one_of(st.floats(min_value=0, max_value=2), st.floats(min_value=0, max_value=40))
OPS = st.lists(st.tuples(KINDS, STATUSES, STEPS), max_size=40)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invite=st.booleans(), reliable=st.booleans(), rfc6026=st.booleans(),
       auto_100=st.booleans(), legacy=st.booleans(), ops=OPS)
def test_random_event_sequences_keep_the_invariants(invite: bool, reliable: bool,
                                                    rfc6026: bool, auto_100: bool, legacy: bool,
                                                    ops: list[tuple[str, int, float]]) -> None:
    moves: list[tuple[Transaction, State, Input, State]] = []
    table = TransactionTable(rfc6026=rfc6026,
                             observer=lambda tx, a, i, b: moves.append((tx, a, i, b)))
    method = "INVITE" if invite else "OPTIONS"
    server_request = request(method, None if legacy else "z9hG4bKsrv")
    server = created_server(table.add_server(msg(server_request), 0.0, "p", reliable=reliable,
                                             auto_100=auto_100, source=SRC))
    client = created(table.add_client(request(method, "z9hG4bKcli"), 0.0, "n",
                                      reliable=reliable))
    now, last_final = 0.0, None
    for op, status, step in ops:
        done_before = {tx for tx in (server, client) if tx.terminated}
        events: list = []
        if op == "time":
            now += step
            events = table.on_timer(now)
        elif op == "retransmit":
            matched = table.receive_request(msg(server_request), now)
            assert (matched is None) == (server in done_before)
            events = list(matched.events) if matched else []
        elif op == "ack":
            final = last_final or reply(server.request, 486)
            matched = table.receive_request(msg(build_ack(server.request, msg(final))), now)
            assert matched is None or matched.transaction is server
            events = list(matched.events) if matched else []
        elif op == "respond":
            data = reply(server.request, status)
            allowed = server.can_send(status)
            try:
                events = server.send_response(data, now)
            except TransactionUsageError:
                assert not allowed
            else:
                assert allowed
                last_final = data if status >= 200 else last_final
        elif op == "response":
            matched = table.receive_response(msg(reply(client.request, status)), now)
            assert (matched is None) == (client in done_before)
            events = list(matched.events) if matched else []
        else:
            tx = server if op == "server error" else client
            events = tx.transport_error(now)
        # Terminated transactions emit nothing; Terminated is a transaction's last event.
        assert not [e for e in events if e.transaction in done_before]
        for n, event in enumerate(events):
            if isinstance(event, Terminated):
                assert not [e for e in events[n + 1:] if e.transaction is event.transaction]
        # Every live transaction holds a timer, so none can be forgotten.
        assert all(tx.next_deadline() is not None for tx in table)
        assert len(table) == sum(not tx.terminated for tx in (server, client))
    # States only moved along table rows.
    for tx, before, input, after in moves:
        assert tx.table[(before, input)].next is after
    table.on_timer(now + 1000.0)
    assert len(table) == 0 and table.next_deadline() is None
    assert server.terminated and client.terminated
