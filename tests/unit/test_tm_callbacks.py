"""tm's callbacks for other modules: final reply once per transaction, relayed ACK, CANCEL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.tmkit import answer, bench, invite

UAS = ("127.0.0.1", 5080)

SCRIPT = """
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("ACK")) { t_relay(); exit; }
    setflag(3);
    t_on_failure("F");
    t_relay();
}
failure_route[F] {
    setflag(5);
    if ($T_reply_code == 486) { t_reply("404", "Moved On"); }
}
"""


def _hooked(tmp_path: Path) -> tuple[Any, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    b = bench(tmp_path, SCRIPT)
    finals: list[tuple[Any, ...]] = []
    requests: list[tuple[Any, ...]] = []
    b.tm.add_final_callback(lambda ctx, st, rs, rp: finals.append(
        (ctx.msg.method, st, rs, rp, ctx.flags)))
    b.tm.add_request_callback(lambda ctx, kind: requests.append(
        (kind, ctx.msg.method, ctx.extra.get("tm_invite"))))
    return b, finals, requests


def test_relayed_2xx_calls_final_once_and_relayed_ack_calls_ack(tmp_path: Path) -> None:
    b, finals, requests = _hooked(tmp_path)
    out = b.request(invite())
    fwd = [s for s in out if s.dest == UAS][0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    b.reply(answer(fwd, 200, "OK"), src=UAS)
    b.reply(answer(fwd, 200, "OK"), src=UAS)  # a retransmission
    assert [(m, st, rs) for m, st, rs, _rp, _f in finals] == [("INVITE", 200, "OK")]
    assert finals[0][3] is not None and finals[0][3].status == 200
    assert finals[0][4] & (1 << 3)
    ack = invite(method="ACK", branch="z9hG4bKack2", to_tag="t2")
    sent = b.request(ack)
    assert [s.msg.method for s in sent] == ["ACK"]
    assert [(k, m) for k, m, _inv in requests] == [("ack", "ACK")]
    assert requests[0][2] is not None and requests[0][2].method == "INVITE"


def test_local_reply_from_failure_route_has_failure_flags(tmp_path: Path) -> None:
    b, finals, _ = _hooked(tmp_path)
    fwd = [s for s in b.request(invite()) if s.dest == UAS][0].msg
    b.reply(answer(fwd, 486, "Busy"), src=UAS)
    assert [(m, st, rs, rp) for m, st, rs, rp, _f in finals] == [("INVITE", 404, "Moved On", None)]
    assert finals[0][4] & (1 << 5) and finals[0][4] & (1 << 3)


def test_timeout_408_and_cancel_487(tmp_path: Path) -> None:
    b, finals, requests = _hooked(tmp_path)
    b.request(invite(method="OPTIONS"))
    b.advance(35)
    assert [(m, st) for m, st, *_ in finals] == [("OPTIONS", 408)]
    fwd = [s for s in b.request(invite(call_id="c2")) if s.dest == UAS][0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    cancel = invite(method="CANCEL", call_id="c2")
    b.request(cancel)
    assert [k for k, *_ in requests] == ["cancel"]
    assert requests[0][2] is not None and requests[0][2].method == "INVITE"
    b.reply(answer(fwd, 487, "Request Terminated"), src=UAS)
    statuses = [(m, st) for m, st, *_ in finals[1:]]
    assert ("CANCEL", 200) in statuses and ("INVITE", 487) in statuses


def test_broken_callback_is_logged_not_raised(tmp_path: Path, caplog: Any) -> None:
    b, finals, _ = _hooked(tmp_path)

    def boom(*_a: Any) -> None:
        raise RuntimeError("acc broke")

    b.tm.add_final_callback(boom)
    b.tm.add_request_callback(boom)
    fwd = [s for s in b.request(invite()) if s.dest == UAS][0].msg
    out = b.reply(answer(fwd, 200, "OK"), src=UAS)
    assert [s.msg.status for s in out] == [200]
    assert len(finals) == 1 and "acc broke" in caplog.text
