"""tm/tmx script functions against Kamailio 5.6's README: routes, timers, replies, lookups.

Each test runs a cfg script in the tm bench (tests/unit/tmkit.py): requests
and replies go through the engine, the clock is fake, sends are captured.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ksrpy.script.errors import ScriptLoadError
from tests.unit.tmkit import Sent, answer, bench, invite

A = ("127.0.0.1", 5080)
B = ("127.0.0.1", 5090)
C = ("127.0.0.1", 5091)
UAC = ("10.9.9.9", 40000)


def _to(out: list[Sent], dest: tuple[str, int], method: str = "INVITE") -> list[Sent]:
    return [s for s in out if s.dest == dest and s.msg.is_request and s.msg.method == method]


def _up(out: list[Sent]) -> list[int]:
    """Statuses sent back to the UAC."""
    return [s.msg.status for s in out if s.dest == UAC and not s.msg.is_request]


# ------------------------------------------------------------------ branch_route


BRANCHES = """
request_route {
    t_on_branch("BR");
    $du = "sip:127.0.0.1:5080";
    append_branch("sip:carol@127.0.0.1:5090");
    append_branch("sip:dave@127.0.0.1:5091");
    if (!t_relay()) { xlog("L_ERR", "relay failed\\n"); }
    exit;
}
branch_route[BR] {
    xlog("L_ERR", "branch $T_branch_idx $ru $du tbr=$var(x)\\n");
    if (t_is_branch_route()) { append_hf("X-Branch: $T_branch_idx\\r\\n"); }
    if ($rU == "carol") { $ru = "sip:carol-new@127.0.0.1:5090"; }
    if ($rU == "dave") { drop; }
}
"""


def test_branch_route_runs_per_branch_on_its_own_copy(tmp_path: Path) -> None:
    b = bench(tmp_path, BRANCHES)
    out = b.request(invite())
    first, second = _to(out, A), _to(out, B)
    assert len(first) == 1 and len(second) == 1 and not _to(out, C)  # dave dropped
    assert first[0].msg.get_header("X-Branch") == "0"
    assert second[0].msg.get_headers("X-Branch") == ["1"]  # not the first branch's header
    assert first[0].msg.ruri == "sip:bob@127.0.0.1:5080"
    assert second[0].msg.ruri == "sip:carol-new@127.0.0.1:5090"
    lines = [x for x in b.logs if x.startswith("branch ")]
    assert lines[0].startswith("branch 0 sip:bob@127.0.0.1:5080 sip:127.0.0.1:5080")
    assert lines[1].startswith("branch 1 sip:carol@127.0.0.1:5090")
    assert lines[2].startswith("branch 2 sip:dave@")
    assert len(b.tm.by_client) == 2


def test_exit_in_branch_route_sends_the_branch_drop_drops_it(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_on_branch("BR"); t_relay(); exit; }
    branch_route[BR] { append_hf("X-A: 1\\r\\n"); if ($rU == "gone") { drop; } exit; }
    """)
    out = b.request(invite())
    assert _to(out, A)[0].msg.get_header("X-A") == "1"
    out = b.request(invite("sip:gone@127.0.0.1:5080", call_id="c2"))
    assert not _to(out, A) and len(b.tm.by_client) == 1  # the first call's branch only


# ------------------------------------------------------------ branch failure


BRANCH_FAILURE = """
request_route {
    t_on_branch_failure("bf");
    t_on_failure("F");
    append_branch("sip:carol@127.0.0.1:5090");
    t_relay();
    exit;
}
event_route[tm:branch-failure:bf] {
    xlog("L_ERR", "bf idx=$T_branch_idx code=$T_reply_code to=$branch_timeout\\n");
    if (t_check_status("486")) { $du = "sip:127.0.0.1:5091"; t_relay(); }
}
failure_route[F] {
    xlog("L_ERR", "failure code=$T_reply_code\\n");
}
"""


def test_branch_failure_route_runs_for_each_failing_branch(tmp_path: Path) -> None:
    b = bench(tmp_path, BRANCH_FAILURE.replace(" to=$branch_timeout", ""))
    out = b.request(invite())
    to_a, to_b = _to(out, A)[0].msg, _to(out, B)[0].msg
    out = b.reply(answer(to_a, 486, "Busy"), src=A)
    assert _to(out, C), "branch-failure route added a branch"
    assert [x for x in b.logs if x.startswith("bf ")] == ["bf idx=0 code=486"]
    assert not _up(out)
    out = b.reply(answer(to_b, 404, "Not Found"), src=B)
    assert [x for x in b.logs if x.startswith("bf ")][-1] == "bf idx=1 code=404"
    assert not _up(out)  # the new branch to C is pending
    out = b.advance(31)  # C never answers: fr_timer, branch-failure with 408, then failure_route
    assert [x for x in b.logs if x.startswith("bf ")][-1] == "bf idx=2 code=408"
    assert [x for x in b.logs if x.startswith("failure ")] == ["failure code=404"]
    assert set(_up(out)) == {404}  # (and timer G retransmissions of it)


# -------------------------------------------------------------------- timers


def test_t_set_fr_before_relay_sets_this_transaction_only(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { if ($rU == "short") { t_set_fr(5000, 2000); } t_relay(); exit; }
    """)
    b.request(invite("sip:short@127.0.0.1:5080", method="OPTIONS"))
    b.request(invite(call_id="c2", method="OPTIONS"))
    out = b.advance(1.9)
    assert not _up(out)
    out = b.advance(0.3)
    assert _up(out) == [408]  # the short one, after 2 s
    out = b.advance(28)
    assert _up(out) == [408]  # the other, after fr_timer (30 s)


def test_t_set_fr_in_onreply_changes_the_live_branch(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_on_reply("R"); t_relay(); exit; }
    onreply_route[R] { if (t_check_status("180")) { t_set_fr(3000); } }
    """)
    fwd = _to(b.request(invite()), A)[0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=A)
    out = b.advance(2.9)
    assert _up(out) == []
    out = b.advance(0.3)
    assert 408 in _up(out) and _to(out, A, "CANCEL")


def test_t_reset_fr_goes_back_to_the_module_values(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_set_fr(0, 1000); t_reset_fr(); t_relay(); exit; }
    """, tm_params='modparam("tm", "fr_timer", 4000)\n')
    b.request(invite(method="OPTIONS"))
    assert not _up(b.advance(3.9))
    assert _up(b.advance(0.3)) == [408]


@pytest.mark.parametrize(("restart", "expect_at"), [(1, 5.5), (0, 4.0)])
def test_restart_fr_on_each_reply(tmp_path: Path, restart: int, expect_at: float) -> None:
    b = bench(tmp_path, "request_route { t_relay(); exit; }",
              tm_params=f'modparam("tm", "fr_inv_timer", 4000)\n'
                        f'modparam("tm", "restart_fr_on_each_reply", {restart})\n')
    fwd = _to(b.request(invite()), A)[0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=A)
    b.advance(1.5)
    b.reply(answer(fwd, 180, "Ringing"), src=A)  # a repeated 180 (not increasing)
    out = b.advance(expect_at - 1.5 - 0.2)
    assert 408 not in _up(out)
    out = b.advance(0.4)
    assert _up(out) == [408]


def test_auto_inv_100_off_and_retr_timer1(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_relay(); exit; }",
              tm_params='modparam("tm", "auto_inv_100", 0)\nmodparam("tm", "retr_timer1", 100)\n')
    out = b.request(invite())
    assert _up(out) == [] and len(_to(out, A)) == 1
    out = b.advance(0.12)
    assert len(_to(out, A)) == 1  # timer A = T1 = 100 ms
    out = b.advance(0.2)
    assert len(_to(out, A)) == 1  # then 200 ms


def test_t_set_auto_inv_100(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_set_auto_inv_100(0); t_relay(); exit; }")
    assert _up(b.request(invite())) == []


def test_t_is_expired_after_max_noninv_lifetime(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_on_failure("F"); t_relay(); exit; }
    failure_route[F] { if (t_is_expired()) { t_reply("500", "Expired"); } }
    """, tm_params='modparam("tm", "max_noninv_lifetime", 3000)\n')
    b.request(invite(method="OPTIONS"))
    out = b.advance(3.2)
    assert [s.msg.reason for s in out if s.dest == UAC] == ["Expired"]


# ---------------------------------------------------------- failures and legs


SERIAL = """
request_route { t_on_failure("F"); t_relay(); exit; }
failure_route[F] {
    if ($avp(leg) == 1) { exit; }
    $avp(leg) = 1;
    if ($rU == "keep") { t_drop_replies("n"); }
    $du = "sip:127.0.0.1:5090";
    t_on_failure("F");
    t_relay();
}
"""


@pytest.mark.parametrize(("user", "mode", "final"), [
    ("drop", 3, 408), ("drop", 1, 408), ("drop", 0, 404), ("keep", 3, 404), ("drop", 2, 408),
])
def test_failure_reply_mode_and_t_drop_replies(tmp_path: Path, user: str, mode: int,
                                               final: int) -> None:
    b = bench(tmp_path, SERIAL, tm_params=f'modparam("tm", "failure_reply_mode", {mode})\n')
    out = b.request(invite(f"sip:{user}@127.0.0.1:5080", method="OPTIONS"))
    fwd = _to(out, A, "OPTIONS")[0].msg
    out = b.reply(answer(fwd, 404, "Not Found"), src=A)
    assert _to(out, B, "OPTIONS") and not _up(out)
    out = b.advance(31)  # the second leg times out: 408
    assert _up(out) == [final]


def test_t_drop_replies_then_t_reply_sends_the_local_reply(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_on_failure("F"); t_relay(); exit; }
    failure_route[F] { t_drop_replies(); t_reply("480", "Gone Away"); }
    """)
    fwd = _to(b.request(invite()), A)[0].msg
    out = b.reply(answer(fwd, 404, "Not Found"), src=A)
    assert [(s.msg.status, s.msg.reason) for s in out if s.dest == UAC] == [(480, "Gone Away")]


def test_branch_replied_and_any_replied(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { t_on_failure("F"); t_on_reply("R"); t_relay(); exit; }
    onreply_route[R] { xlog("L_ERR", "onreply any=$var(a)\\n"); }
    failure_route[F] {
        if (t_branch_replied()) { xlog("L_ERR", "replied\\n"); }
        if (t_any_replied()) { xlog("L_ERR", "any\\n"); }
        if (t_branch_timeout()) { xlog("L_ERR", "timeout\\n"); }
        if (t_any_timeout()) { xlog("L_ERR", "anytimeout\\n"); }
    }
    """)
    fwd = _to(b.request(invite()), A)[0].msg
    b.reply(answer(fwd, 486, "Busy"), src=A)
    marks = [x for x in b.logs if x in ("replied", "any", "timeout", "anytimeout")]
    assert marks == []  # the only reply is the current one
    fwd = _to(b.request(invite(call_id="c2")), A)[0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=A)
    b.advance(121)
    marks = [x for x in b.logs if x in ("replied", "any", "timeout", "anytimeout")]
    assert marks == ["replied", "any", "timeout", "anytimeout"]


def test_challenges_from_every_branch_are_merged(tmp_path: Path) -> None:
    script = """
    request_route { append_branch("sip:carol@127.0.0.1:5090"); t_relay(); exit; }
    """
    for aggregate, expect in ((1, 2), (0, 1)):
        b = bench(tmp_path, script,
                  tm_params=f'modparam("tm", "aggregate_challenges", {aggregate})\n')
        out = b.request(invite())
        to_a, to_b = _to(out, A)[0].msg, _to(out, B)[0].msg
        b.reply(answer(to_a, 407, "Proxy Auth", extra='Proxy-Authenticate: Digest realm="a", '
                                                      'nonce="1"'), src=A)
        out = b.reply(answer(to_b, 401, "Unauthorized", to_tag="t3",
                             extra='WWW-Authenticate: Digest realm="b", nonce="2"'), src=B)
        final = [s.msg for s in out if s.dest == UAC]
        assert [m.status for m in final] == [401]
        got = final[0].get_headers("WWW-Authenticate") + final[0].get_headers(
            "Proxy-Authenticate")
        assert len(got) == expect
        assert 'realm="b"' in got[0]
        if expect == 2:
            assert final[0].get_headers("Proxy-Authenticate") == ['Digest realm="a", nonce="1"']
        assert len(final[0].get_header_values("Via")) == 1


# ---------------------------------------------------------------- replies


def test_t_reply_carries_append_to_reply_and_set_reply_body(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        append_to_reply("X-Why: because\\r\\n");
        set_reply_body("hello body", "text/plain");
        t_newtran();
        t_reply("403", "Nope");
        exit;
    }
    """)
    out = [s.msg for s in b.request(invite(method="MESSAGE")) if s.dest == UAC]
    assert [m.status for m in out] == [403]
    assert out[0].get_header("X-Why") == "because"
    assert out[0].body == b"hello body" and out[0].get_header("Content-Type") == "text/plain"


def test_t_reply_3xx_lists_the_destination_set(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        $ru = "sip:new@10.1.1.1"; append_branch("sip:other@10.1.1.2");
        t_send_reply("302", "Moved"); exit;
    }
    """)
    out = [s.msg for s in b.request(invite(method="MESSAGE")) if s.dest == UAC]
    assert out[0].get_headers("Contact") == ["<sip:new@10.1.1.1>", "<sip:other@10.1.1.2>"]


def test_t_reply_without_transaction_is_an_error(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route { if (!t_reply("404", "No")) { sl_send_reply("500", "no tran"); } exit; }
    """)
    out = b.request(invite(method="MESSAGE"))
    assert [s.msg.reason for s in out] == ["no tran"]


@pytest.mark.parametrize(("regex", "hit"), [
    ("486", True), ("4", True), ("^4", True), ("^8", False), ("(487)|(408)", False),
    ("[45][0-9][0-9]", True), ("^48", True), ("^49", False), ("B", False),
])
def test_t_check_status_is_an_unanchored_posix_regex(tmp_path: Path, regex: str,
                                                     hit: bool) -> None:
    b = bench(tmp_path, f"""
    request_route {{ t_on_failure("F"); t_relay(); exit; }}
    failure_route[F] {{ if (t_check_status("{regex}")) {{ t_reply("500", "hit"); }}
                        else {{ t_reply("500", "miss"); }} }}
    """)
    fwd = _to(b.request(invite()), A)[0].msg
    out = b.reply(answer(fwd, 486, "Busy"), src=A)
    assert [s.msg.reason for s in out if s.dest == UAC] == ["hit" if hit else "miss"]


def test_t_check_status_in_request_route_is_the_last_sent_reply(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        if (t_check_status("1")) { xlog("L_ERR", "before\\n"); }
        t_newtran(); t_reply("183", "Progress");
        if (t_check_status("183")) { t_reply("404", "after 183"); }
        exit;
    }
    """)
    out = b.request(invite())
    assert [s.msg.status for s in out if s.dest == UAC] == [100, 183, 404]
    assert "before" not in b.logs


# ---------------------------------------------------------------- lookups


def test_lookup_functions_and_t_is_set(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        if (is_method("CANCEL")) {
            if (t_lookup_cancel("1")) {
                if (isflagset(7)) { xlog("L_ERR", "cancel flags\\n"); }
                t_relay_cancel();
                xlog("L_ERR", "not reached\\n");
            }
            xlog("L_ERR", "no invite\\n");
            exit;
        }
        if (t_lookup_request()) { xlog("L_ERR", "lookup before\\n"); }
        setflag(7);
        t_on_failure("F");
        if (t_is_set("failure_route")) { xlog("L_ERR", "armed failure\\n"); }
        if (t_is_set("branch_route")) { xlog("L_ERR", "armed branch\\n"); }
        t_newtran();
        if (t_lookup_request()) { xlog("L_ERR", "lookup after\\n"); }
        t_relay();
    }
    failure_route[F] { exit; }
    """)
    fwd = _to(b.request(invite()), A)[0].msg
    assert [x for x in b.logs if x in ("lookup before", "armed failure", "armed branch",
                                       "lookup after")] == ["armed failure", "lookup after"]
    b.reply(answer(fwd, 180, "Ringing"), src=A)
    out = b.request(invite(method="CANCEL"))
    assert "cancel flags" in b.logs and "not reached" not in b.logs
    assert [s.msg.status for s in out if s.dest == UAC] == [200] and _to(out, A, "CANCEL")
    b.request(invite(method="CANCEL", call_id="nothing"))
    assert "no invite" in b.logs


def test_tmx_t_reply_callid(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        if (is_method("MESSAGE")) {
            if (t_reply_callid("$hdr(X-Call)", "1", "486", "Replied remotely")) {
                sl_send_reply("200", "done");
            } else { sl_send_reply("404", "none"); }
            exit;
        }
        t_relay();
    }
    """)
    b.request(invite())
    out = b.request(invite(method="MESSAGE", call_id="m1", extra="X-Call: c1\r\n"))
    assert sorted((s.msg.status, s.msg.reason) for s in out if s.dest == UAC) == [
        (200, "done"), (486, "Replied remotely")]
    out = b.request(invite(method="MESSAGE", call_id="m2", extra="X-Call: zz\r\n"))
    assert [s.msg.reason for s in out] == ["none"]


def test_t_replicate_sends_a_copy_whose_replies_are_absorbed(tmp_path: Path) -> None:
    b = bench(tmp_path, """
    request_route {
        if (!t_replicate("sip:127.0.0.1:5091")) { xlog("L_ERR", "no replica\\n"); }
        t_replicate("127.0.0.1", "5090");
        sl_send_reply("202", "Taken");
        exit;
    }
    """)
    out = b.request(invite(method="MESSAGE"))
    copies = _to(out, C, "MESSAGE") + _to(out, B, "MESSAGE")
    assert len(copies) == 2 and [s.msg.status for s in out if s.dest == UAC] == [202]
    out = b.reply(answer(copies[0].msg, 200, "OK"), src=C)
    assert out == []  # absorbed: no reply goes upstream
    b.advance(40)
    assert b.live == (0, 0, 0) and not b.tm.replicas


# ----------------------------------------------------------- load-time names


@pytest.mark.parametrize("call", ['t_on_failure("NOPE")', 't_on_reply("NOPE")',
                                  't_on_branch("NOPE")', 't_on_branch_failure("NOPE")'])
def test_arming_a_missing_route_block_is_a_load_error(tmp_path: Path, call: str) -> None:
    with pytest.raises(ScriptLoadError) as err:
        bench(tmp_path, f"request_route {{\n    {call};\n    t_relay();\n}}\n")
    text = str(err.value)
    assert "NOPE" in text and "tm.cfg:10" in text, text


def test_existing_route_names_load(tmp_path: Path) -> None:
    bench(tmp_path, """
    request_route { t_on_failure("1"); t_on_branch_failure("x"); t_on_reply("$var(r)");
                    t_relay(); }
    failure_route[1] { exit; }
    event_route[tm:branch-failure:x] { if (t_branch_timeout()) { exit; } }
    """)


def test_python_script_missing_function_fails_at_arm_time_logged_once(tmp_path: Path) -> None:
    b = bench(tmp_path, """
import KSR

def ksr_request_route():
    name = "nowhere_" + "route"
    if KSR.tm.t_on_failure(name) < 0:
        KSR.sl.sl_send_reply(500, "no such failure route")
        return 1
    KSR.tm.t_relay()
    return 1
""", kind="python")
    for n in range(3):
        out = b.request(invite(method="OPTIONS", call_id=f"p{n}"))
        assert [s.msg.reason for s in out] == ["no such failure route"]
    errors = [x for x in b.logs if "nowhere_route" in x]
    assert len(errors) == 1 and "does not exist" in errors[0]


def test_fr_timer_longer_than_timer_b_is_honoured(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_relay(); exit; }",
              tm_params='modparam("tm", "fr_timer", 40000)\n'
                        'modparam("tm", "max_noninv_lifetime", 60000)\n')
    b.request(invite(method="OPTIONS"))
    assert not _up(b.advance(39.8, step=0.25))  # timer F (32 s) does not cut it short
    assert _up(b.advance(0.5)) == [408]


def test_wt_timer_is_how_long_completed_transactions_stay(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_relay(); exit; }",
              tm_params='modparam("tm", "wt_timer", 1000)\n')
    fwd = _to(b.request(invite(method="OPTIONS")), A, "OPTIONS")[0].msg
    b.reply(answer(fwd, 200, "OK"), src=A)
    assert b.live == (2, 1, 1)  # server: timer J; client: timer K (T4)
    b.advance(1.1)
    assert b.live == (0, 0, 0)  # both waited wt_timer, as in Kamailio


def test_rfc_wait_timers_keep_the_rfc_values(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { t_relay(); exit; }",
              tm_params='modparam("tm", "wt_timer", 1000)\n'
                        'modparam("tm", "rfc_wait_timers", 1)\n')
    fwd = _to(b.request(invite(method="OPTIONS")), A, "OPTIONS")[0].msg
    b.reply(answer(fwd, 200, "OK"), src=A)
    b.advance(1.1)
    assert b.live == (1, 1, 0)  # server: timer J is 64*T1 = 32 s; client: timer K = T4
    b.advance(31.0, step=0.5)
    assert b.live == (0, 0, 0)


def test_python_script_routes(tmp_path: Path) -> None:
    b = bench(tmp_path, """
import KSR

def ksr_request_route():
    KSR.tm.t_on_branch("ksr_branch")
    KSR.tm.t_on_branch_failure("ksr_bf")
    KSR.tm.t_on_failure("ksr_failure")
    KSR.tm.t_relay()
    return 1

def ksr_branch():
    KSR.hdr.append("X-Idx: " + str(KSR.pv.get("$T_branch_idx")) + "\\r\\n")
    KSR.err("branch route=" + str(KSR.tmx.t_is_branch_route()) + "\\n")
    return 1

def ksr_bf():
    KSR.err("bf code=" + str(KSR.pv.get("$T_reply_code")) + "\\n")
    return 1

def ksr_failure():
    if KSR.tm.t_check_status("486") > 0:
        KSR.tm.t_reply(480, "Later")
    return 1
""", kind="python")
    fwd = _to(b.request(invite()), A)[0].msg
    assert fwd.get_header("X-Idx") == "0"
    out = b.reply(answer(fwd, 486, "Busy"), src=A)
    assert [(s.msg.status, s.msg.reason) for s in out if s.dest == UAC] == [(480, "Later")]
    marks = [x for x in b.logs if x.startswith(("branch", "bf"))]
    assert marks == ["branch route=1", "bf code=486"]


# ------------------------------------------------------------------ flags in tm routes
FLAGS = """
request_route {
    setflag(5);
    setbflag(6);
    t_on_branch("BR");
    t_on_reply("RP");
    t_on_failure("FL");
    $du = "sip:127.0.0.1:5080";
    append_branch("sip:carol@127.0.0.1:5090");
    t_relay();
    exit;
}
branch_route[BR] {
    if ($T_branch_idx == 1) { setbflag(7); }
}
onreply_route[RP] {
    xlog("L_ERR", "reply $T_branch_idx f5=$mf bf=$bf\\n");
    setflag(8);
    setbflag(9);
}
failure_route[FL] {
    xlog("L_ERR", "failure $T_branch_idx mf=$mf bf=$bf\\n");
}
"""


def test_message_and_branch_flags_are_in_hand_in_tm_routes(tmp_path: Path) -> None:
    b = bench(tmp_path, FLAGS)
    out = b.request(invite())
    to_a, to_b = _to(out, A)[0].msg, _to(out, B)[0].msg
    b.reply(answer(to_a, 180), src=A)
    b.reply(answer(to_b, 486), src=B)
    b.reply(answer(to_a, 603), src=A)
    lines = [x for x in b.logs if x.startswith(("reply", "failure"))]
    # branch 0: flag 6 from the request route; branch 1: append_branch's 0 plus 7 from branch_route
    assert lines[0] == f"reply 0 f5={1 << 5} bf={1 << 6}"
    # the onreply_route's setflag(8) is kept on the transaction for later routes
    assert lines[1] == f"reply 1 f5={1 << 5 | 1 << 8} bf={1 << 7}"
    assert lines[2] == f"reply 0 f5={1 << 5 | 1 << 8} bf={1 << 6 | 1 << 9}"
    # failure_route: the 603 wins; its branch's flags (incl. 9 from onreply_route)
    assert lines[3] == f"failure 0 mf={1 << 5 | 1 << 8} bf={1 << 6 | 1 << 9}"


# ------------------------------------------------------------------ advertised address
def test_set_advertised_address_and_port_show_in_via_and_record_route(tmp_path: Path) -> None:
    b = bench(tmp_path, """
        request_route {
            if ($rU == "bad") {
                if (!set_advertised_port("70000")) { xlog("L_ERR", "bad port refused\\n"); }
            }
            set_advertised_address("edge.example.net");
            set_advertised_port("5999");
            record_route();
            t_relay();
            exit;
        }
    """)
    sent = _to(b.request(invite()), A)[0].msg
    assert sent.get_header_values("Via")[0].startswith("SIP/2.0/UDP edge.example.net:5999;")
    assert sent.get_header("Record-Route").startswith("<sip:edge.example.net:5999;")
    sent = _to(b.request(invite("sip:bad@127.0.0.1:5080", call_id="c2")), A)[0].msg
    assert "bad port refused" in b.logs
    assert sent.get_header_values("Via")[0].startswith("SIP/2.0/UDP edge.example.net:5999;")


def test_without_set_advertised_address_our_socket_is_shown(tmp_path: Path) -> None:
    b = bench(tmp_path, "request_route { record_route(); t_relay(); exit; }")
    sent = _to(b.request(invite()), A)[0].msg
    assert sent.get_header_values("Via")[0].startswith("SIP/2.0/UDP 127.0.0.1:5070;")
    assert sent.get_header("Record-Route").startswith("<sip:127.0.0.1:5070;")


# ------------------------------------------------------------------ auth challenges
CHALLENGE = """
request_route {
    t_newtran();
    auth_challenge("example.com", "0");
    exit;
}
"""


@pytest.mark.parametrize("stateless", [0, 1])
def test_auth_challenge_goes_through_the_transaction_unless_forced(tmp_path: Path,
                                                                   stateless: int) -> None:
    params = ('loadmodule "auth.so"\n'
              f'modparam("auth", "force_stateless_reply", {stateless})\n')
    b = bench(tmp_path, CHALLENGE, tm_params=params)
    first = b.request(invite(method="REGISTER", ruri="sip:127.0.0.1:5070"))
    assert [s.msg.status for s in first] == [401]
    assert first[0].msg.get_header("WWW-Authenticate").startswith('Digest realm="example.com"')
    again = b.request(invite(method="REGISTER", ruri="sip:127.0.0.1:5070"))
    # A retransmission meets the transaction: its stored reply (the challenge) is resent
    # when the challenge went through tm; a stateless challenge left nothing to resend.
    assert [s.msg.status for s in again] == ([] if stateless else [401])
