"""Bad input never leaks a transaction: every case ends with an empty table once the timers ran.

The issue's list: a peer that sends an INVITE and disappears, replies for
unknown transactions, retransmission storms, a CANCEL for nothing, an ACK
with a wrong branch; plus RFC 2543 peers (no z9hG4bK branch) and a full
table (503 and a log line, then service again). The clock is fake
(tests/unit/tmkit.py), so "after the timers" is exact.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from ksrpy.modules.tm.proxy import Branch, ProxyTransaction
from ksrpy.sip.transaction.events import Transaction
from tests.unit.tmkit import Bench, Sent, answer, bench, invite

UAS = ("127.0.0.1", 5080)
UAC = ("10.9.9.9", 40000)

SCRIPT = """
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("ACK")) { t_relay(); exit; }
    t_on_failure("F");
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
failure_route[F] { if (t_is_canceled()) { exit; } }
"""

#: Long enough for every timer: max_inv_lifetime + fr_timer + T4 and then some.
ALL_TIMERS = 260.0


@pytest.fixture(autouse=True)
def _keep_cyclic_garbage():  # type: ignore[no-untyped-def]
    """Collect nothing behind the test's back: _empty() then sees what only a GC would free."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    yield
    gc.set_debug(0)
    gc.garbage.clear()
    gc.enable()


def _empty(b: Bench) -> None:
    """Advance past every timer and check nothing is left anywhere."""
    b.advance(ALL_TIMERS, step=0.25)
    assert b.live == (0, 0, 0)
    assert not b.tm.by_dialog and not b.tm.replicas
    assert b.tm.next_alarm() is None  # no fr/lifetime alarm keeps a transaction alive
    # Ended transactions are freed by reference counting, not left in cycles for a full
    # garbage collection (which stalls the proxy for seconds under load).
    gc.collect()
    cyclic = [type(o).__name__ for o in gc.garbage
              if isinstance(o, ProxyTransaction | Branch | Transaction)]
    gc.garbage.clear()
    assert cyclic == []


def _fwd(out: list[Sent], method: str = "INVITE") -> Sent:
    found = [s for s in out if s.dest == UAS and s.msg.is_request and s.msg.method == method]
    assert len(found) == 1, out
    return found[0]


def _up(out: list[Sent]) -> list[int]:
    return [s.msg.status for s in out if s.dest == UAC and not s.msg.is_request]


def test_invite_whose_caller_never_acks_is_freed(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    fwd = _fwd(b.request(invite())).msg
    out = b.reply(answer(fwd, 486, "Busy"), src=UAS)
    assert _up(out) == [486] and b.live[0] == 2
    out = b.advance(40, step=0.25)  # timer G retransmits the 486 until timer H
    assert _up(out).count(486) >= 3
    _empty(b)


def test_invite_whose_callee_never_answers_is_freed(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    _fwd(b.request(invite()))
    out = b.advance(31, step=0.25)
    assert 408 in _up(out)
    _empty(b)


def test_invite_ringing_forever_is_canceled_and_freed(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    fwd = _fwd(b.request(invite())).msg
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    out = b.advance(121, step=0.25)  # fr_inv_timer: CANCEL down, 408 up; the UAS says nothing
    assert 408 in _up(out) and [s for s in out if s.msg.is_request and s.msg.method == "CANCEL"]
    _empty(b)


def test_answered_call_with_end_to_end_ack_is_freed(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    fwd = _fwd(b.request(invite())).msg
    b.reply(answer(fwd, 200, "OK"), src=UAS)
    assert b.tm.by_dialog
    out = b.request(invite(method="ACK", branch="z9hG4bKack", to_tag="t2"))
    assert [s.msg.method for s in out] == ["ACK"]
    _empty(b)


def test_replies_for_unknown_transactions_create_nothing(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    stray = invite(method="OPTIONS", via="SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnope, "
                                         "SIP/2.0/UDP 10.9.9.9:40000")
    for status in (100, 180, 200, 404, 503):
        b.reply(answer(_parse(stray), status), src=UAS)
    b.reply(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx\r\n\r\n", src=UAS)
    b.reply(b"garbage\r\n\r\n", src=UAS)
    assert b.live == (0, 0, 0)
    _empty(b)


def test_retransmission_storm_makes_one_branch(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    raw = invite()
    out = b.request(raw)
    for _ in range(300):
        out += b.request(raw)
    assert len([s for s in out if s.dest == UAS]) == 1
    assert b.live == (2, 1, 1)
    fwd = _fwd(out).msg
    for _ in range(100):
        b.reply(answer(fwd, 404, "Not Found"), src=UAS)
    _empty(b)


def test_cancel_for_nothing_leaves_nothing(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    out = b.request(invite(method="CANCEL", call_id="nothing"))
    assert out == [] and b.live == (0, 0, 0)
    # ... also when the script relays it (a CANCEL for nothing is relayed statefully).
    b2 = bench(tmp_path, "request_route { t_relay(); exit; }")
    out = b2.request(invite(method="CANCEL", call_id="nothing2"))
    assert [s.msg.method for s in out if s.msg.is_request] == ["CANCEL"]
    _empty(b2)


def test_ack_with_a_wrong_branch_is_routed_and_nothing_leaks(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    fwd = _fwd(b.request(invite())).msg
    b.reply(answer(fwd, 486, "Busy"), src=UAS)
    out = b.request(invite(method="ACK", branch="z9hG4bKwrong", to_tag="t2"))
    assert [s.msg.method for s in out] == ["ACK"]  # not ours: the script relays it
    out = b.request(invite(method="ACK", to_tag="t2"))  # the right one is absorbed
    assert out == []
    _empty(b)


def test_transaction_the_script_never_answers_is_freed(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_newtran(); exit; }")
    b.request(invite())
    b.request(invite(method="MESSAGE", call_id="m"))
    assert b.live == (2, 2, 0)
    _empty(b)


def test_rfc2543_peer_without_branch(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    raw = invite(branch="")
    out = b.request(raw)
    fwd = _fwd(out).msg
    again = b.request(raw)  # absorbed: the 100 Trying again, nothing downstream
    assert _up(again) == [100] and not [s for s in again if s.dest == UAS]
    assert b.live == (2, 1, 1)
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    out = b.request(invite(branch="", method="CANCEL"))
    assert 200 in _up(out) and _fwd(out, "CANCEL")
    out = b.reply(answer(fwd, 487, "Request Terminated"), src=UAS)
    assert _up(out) == [487]
    assert b.request(invite(branch="", method="ACK", to_tag="t2")) == []  # matched by To tag
    _empty(b)


def test_full_table_answers_503_logs_and_recovers(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT, tm_params='modparam("tm", "max_transactions", 4)\n')
    for n in range(2):  # each call: a server and a client transaction
        _fwd(b.request(invite(call_id=f"c{n}")))
    out = b.request(invite(call_id="c9"))
    assert _up(out) == [503] and not [s for s in out if s.dest == UAS]
    assert any("transaction table full" in line for line in b.logs), b.logs
    assert b.engine.stats["tm_refused"] == 1
    _empty(b)
    out = b.request(invite(call_id="c10"))
    assert _fwd(out) and _up(out) == [100]


def test_full_table_503_when_the_script_does_not_answer(tmp_path: Path) -> None:
    b = bench(tmp_path, 'request_route { if (is_method("MESSAGE")) { t_newtran(); } '
                        't_relay(); exit; }',
              tm_params='modparam("tm", "max_transactions", 1)\n')
    out = b.request(invite(method="OPTIONS"))
    assert _up(out) == [503]  # t_relay wants room for a server and a branch: the engine answers
    assert b.live == (0, 0, 0)
    out = b.request(invite(method="MESSAGE", call_id="m2"))
    assert _up(out) == [503]  # the server transaction fitted, its branch did not: it answers
    assert b.live == (1, 1, 0)
    _empty(b)


def _parse(raw: str):  # noqa: ANN202 - a SIPMessage
    from ksrpy.sip.message import SIPMessage

    return SIPMessage.parse(raw.encode())


def test_ack_of_a_local_408_reaches_its_transaction(tmp_path: Path) -> None:
    b = bench(tmp_path, SCRIPT)
    _fwd(b.request(invite()))
    out = b.advance(30.1, step=0.25)
    final = [s.msg for s in out if s.dest == UAC and s.msg.status == 408]
    assert final
    tag = final[0].to.tag or ""
    assert b.request(invite(method="ACK", to_tag=tag)) == []
    assert b.engine.stats["sl_filtered_acks"] == 0  # tm's, not sl's
    out = b.advance(5.5, step=0.25)  # timer I (T4) ends it; no more 408 retransmissions
    assert not [s for s in out if s.dest == UAC] and not b.tm.by_server
    _empty(b)


def test_a_timer_tick_touches_only_what_is_due(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """fr/lifetime alarms are a heap: a tick does not walk every live transaction."""
    b = bench(tmp_path, SCRIPT)
    for n in range(200):
        _fwd(b.request(invite(call_id=f"walk{n}")))
    assert b.live[1] == 200
    calls = []
    original = ProxyTransaction.pending
    monkeypatch.setattr(ProxyTransaction, "pending",
                        lambda self: calls.append(self) or original(self))
    b.advance(1.0, step=0.05)  # 20 ticks, nothing due but retransmissions (timer A)
    assert calls == []
    b.advance(31.0, step=0.5)  # fr_timer (30 s) fires for every branch: 408s go up
    assert len({id(p) for p in calls}) == 200
    _empty(b)
