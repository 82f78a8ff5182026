"""acc: records written when tm's final reply goes upstream, acc_*_request, SQLite rows.

The expected log lines have the shape Kamailio 5.6.3's acc.so wrote for the
same events on loopback (``ACC: transaction answered: timestamp=...;method=
INVITE;from_tag=...;...;code=200;reason=OK;<log_extra>``, a null extra
printed as nothing, "call missed" before "transaction answered" for a
failed INVITE with both flags, ``code=`` empty for a comment without a code).
Calls go through a real TmModule in an in-memory engine (tests/unit/tmkit).
"""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine, ModuleInitError
from ksrpy.modules.acc.record import log_line, record_for, split_comment
from ksrpy.script.loader import check_script, load_script
from ksrpy.sip.message import SIPMessage
from ksrpy.sip.reply import stateless_to_tag
from ksrpy.transport.address import ListenSpec
from tests.unit.tmkit import Bench, Capture, answer, bench, invite

UAS = ("127.0.0.1", 5080)

SCRIPT = """
request_route {
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("ACK")) { t_relay(); exit; }
    if (is_method("OPTIONS")) {
        acc_log_request("$var(c)");
        sl_send_reply("200", "OK");
        exit;
    }
    if ($hdr(X-Flags) =~ "a") { setflag(1); }
    if ($hdr(X-Flags) =~ "m") { setflag(2); }
    if ($hdr(X-Flags) =~ "f") { setflag(3); }
    if ($hdr(X-Flags) =~ "r") { t_on_failure("F"); }
    t_relay();
}
failure_route[F] {
    t_reply("404", "Not Found Here");
}
"""


def _params(tmp_path: Path, extra: str = "", *, db: bool = False) -> str:
    lines = ['loadmodule "acc.so"',
             'modparam("acc", "log_flag", 1)',
             'modparam("acc", "log_missed_flag", 2)',
             'modparam("acc", "failed_transaction_flag", 3)',
             'modparam("acc", "log_extra", "src_user=$fU;src_ip=$si;nothere=$avp(nope)")']
    if db:
        lines += ['modparam("acc", "db_flag", 1)', 'modparam("acc", "db_missed_flag", 2)',
                  f'modparam("acc", "db_url", "sqlite://{tmp_path / "acc.db"}")',
                  'modparam("acc", "db_extra", "src_user=$fU;dst_user=$rU;nothere=$avp(n)")']
    return "\n".join(lines) + "\n" + textwrap.dedent(extra)


def _bench(tmp_path: Path, extra: str = "", *, db: bool = False, script: str = SCRIPT) -> Bench:
    return bench(tmp_path, script, tm_params=_params(tmp_path, extra, db=db))


def _acc_lines(caplog: Any) -> list[str]:
    """The acc log lines, with the timestamp replaced by T."""
    return [re.sub(r"timestamp=\d+", "timestamp=T", r.getMessage())
            for r in caplog.records if r.name == "ksrpy.acc" and r.getMessage().startswith("ACC")]


def _call(b: Bench, flags: str, status: int, reason: str, *, call_id: str = "c1",
          ruri: str = "sip:bob@127.0.0.1:5080") -> SIPMessage:
    out = b.request(invite(ruri, call_id=call_id, branch=f"z9hG4bK{call_id}",
                           extra=f"X-Flags: {flags}\r\n"))
    fwd = [s for s in out if s.dest == UAS][0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    b.reply(answer(fwd, status, reason), src=UAS)
    return fwd


CORE = "method=INVITE;from_tag=f1;to_tag=t2;call_id=c1"
EXTRA = "src_user=alice;src_ip=10.9.9.9;nothere="


# ------------------------------------------------------------------ transactions


def test_answered_call_is_logged_once_as_kamailio_writes_it(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    _call(b, "a", 200, "OK")
    assert _acc_lines(caplog) == [
        f"ACC: transaction answered: timestamp=T;{CORE};code=200;reason=OK;{EXTRA}"]


def test_failed_call_with_missed_and_failed_flags(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    _call(b, "amf", 486, "Busy Here")
    assert _acc_lines(caplog) == [
        f"ACC: call missed: timestamp=T;{CORE};code=486;reason=Busy Here;{EXTRA}",
        f"ACC: transaction answered: timestamp=T;{CORE};code=486;reason=Busy Here;{EXTRA}"]


def test_failure_is_not_accounted_without_the_failed_flag(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    _call(b, "a", 486, "Busy Here", call_id="c1")
    _call(b, "m", 200, "OK", call_id="c2")  # missed flag, but answered: nothing
    _call(b, "", 200, "OK", call_id="c3")  # no flag at all
    assert _acc_lines(caplog) == []


def test_failed_filter_skips_listed_codes(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, 'modparam("acc", "failed_filter", "404,486")\n')
    _call(b, "af", 486, "Busy Here", call_id="c1")
    _call(b, "af", 603, "Decline", call_id="c2")
    assert [line.split(";")[5:7] for line in _acc_lines(caplog)] == [["code=603",
                                                                     "reason=Decline"]]


def test_local_final_reply_uses_its_reason_and_local_to_tag(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    out = b.request(invite(extra="X-Flags: amr\r\n"))
    fwd = [s for s in out if s.dest == UAS][0].msg
    b.reply(answer(fwd, 486, "Busy Here"), src=UAS)
    tag = stateless_to_tag(SIPMessage.parse(invite(extra="X-Flags: amr\r\n").encode()))
    core = f"method=INVITE;from_tag=f1;to_tag={tag};call_id=c1"
    assert _acc_lines(caplog) == [
        f"ACC: call missed: timestamp=T;{core};code=404;reason=Not Found Here;{EXTRA}"]


def test_fr_timer_408_is_a_missed_call(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    b.request(invite(extra="X-Flags: m\r\n"))
    b.advance(35)
    lines = _acc_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith("ACC: call missed: ")
    assert ";code=408;reason=Request Timeout;" in lines[0]


def test_report_ack_logs_the_2xx_ack_with_the_invite_status(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, 'modparam("acc", "report_ack", 1)\n')
    _call(b, "a", 200, "OK")
    b.request(invite(method="ACK", branch="z9hG4bKack", to_tag="t2"))
    assert _acc_lines(caplog)[1] == (
        "ACC: request acknowledged: timestamp=T;method=ACK;from_tag=f1;to_tag=t2;call_id=c1;"
        f"code=200;reason=OK;{EXTRA}")


def test_ack_is_not_reported_by_default(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path)
    _call(b, "a", 200, "OK")
    b.request(invite(method="ACK", branch="z9hG4bKack", to_tag="t2"))
    assert len(_acc_lines(caplog)) == 1


CANCEL_SCRIPT = """
request_route {
    setflag(1);
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    t_relay();
}
"""


@pytest.mark.parametrize("report", [0, 1])
def test_cancel_transactions_only_with_report_cancels(tmp_path: Path, caplog: Any,
                                                      report: int) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, f'modparam("acc", "report_cancels", {report})\n', script=CANCEL_SCRIPT)
    fwd = [s for s in b.request(invite()) if s.dest == UAS][0].msg
    b.reply(answer(fwd, 180, "Ringing"), src=UAS)
    b.request(invite(method="CANCEL"))
    b.reply(answer(fwd, 487, "Request Terminated"), src=UAS)
    methods = [line.split(";")[1] for line in _acc_lines(caplog)]
    assert methods == (["method=CANCEL"] if report else [])


@pytest.mark.parametrize(("mode", "shape"), [
    (1, r"timestamp=T;time_exten=\d{1,6};method=OPTIONS"),
    (2, r"timestamp=T;time_attr=\d+\.\d{3};method=OPTIONS"),
    (4, r"timestamp=T;time_attr=\d{4}/\d\d/\d\d;method=OPTIONS"),
])
def test_time_modes_in_the_log(tmp_path: Path, caplog: Any, mode: int, shape: str) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, f'modparam("acc", "time_mode", {mode})\n'
                         'modparam("acc", "time_format", "%Y/%m/%d")\n')
    b.request(invite(method="OPTIONS"))
    assert re.search(shape, _acc_lines(caplog)[0])


# ------------------------------------------------------------- acc_log_request


@pytest.mark.parametrize(("comment", "code", "reason"), [
    ("404 Not here", "404", "Not here"),
    ("404", "404", ""),
    ("123456 x", "123", "456 x"),
    ("carol hello", "", "carol hello"),
    ("  ", "", "  "),
])
def test_comment_gives_code_and_reason_as_kamailio(comment: str, code: str, reason: str) -> None:
    assert split_comment(comment) == (code, reason)


def test_acc_log_request_from_the_script(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    script = SCRIPT.replace('acc_log_request("$var(c)");', 'acc_log_request("$rU hello");')
    b = _bench(tmp_path, script=script)
    b.request(invite("sip:carol@127.0.0.1:5070", method="OPTIONS", to_tag="tt9"))
    assert _acc_lines(caplog) == [
        "ACC: request accounted: timestamp=T;method=OPTIONS;from_tag=f1;to_tag=tt9;call_id=c1;"
        f"code=;reason=carol hello;{EXTRA}"]


def test_log_line_is_stable() -> None:
    msg = SIPMessage.parse(invite(to_tag="x").encode())
    rec = record_for(msg, None, "200", "OK")
    rec.when = 1700000000.25
    rec.extras = [("a", "1"), ("b", None)]
    assert log_line("ACC: request accounted: ", rec) == (
        "ACC: request accounted: timestamp=1700000000;method=INVITE;from_tag=f1;to_tag=x;"
        "call_id=c1;code=200;reason=OK;a=1;b=")
    mode1 = log_line("X: ", rec, time_mode=1)
    assert mode1.startswith("X: timestamp=1700000000;time_exten=250000;")


def test_detect_direction_swaps_tags_of_upstream_requests(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, 'modparam("acc", "detect_direction", 1)\n'
                         'modparam("rr", "append_fromtag", 1)\n')
    upstream = invite(method="OPTIONS", to_tag="callee").replace(
        "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRoute: <sip:127.0.0.1:5070;lr;ftag=x9>\r\n")
    b.request(upstream)
    line = _acc_lines(caplog)[0]
    assert ";from_tag=callee;to_tag=f1;" in line


# --------------------------------------------------------------------- SQLite

KAMAILIO_COLUMNS = ["id", "method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason",
                    "time"]


def test_sqlite_rows_after_calls_through_tm(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    b = _bench(tmp_path, db=True)
    _call(b, "am", 200, "OK", call_id="c1")
    _call(b, "amf", 486, "Busy Here", call_id="c2", ruri="sip:carol@127.0.0.1:5080")
    conn = sqlite3.connect(tmp_path / "acc.db")
    for table in ("acc", "missed_calls"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        assert cols == [*KAMAILIO_COLUMNS, "src_user", "dst_user", "nothere"]
    acc = conn.execute("SELECT method, from_tag, to_tag, callid, sip_code, sip_reason, "
                       "src_user, dst_user, nothere, time FROM acc ORDER BY id").fetchall()
    assert [r[:9] for r in acc] == [
        ("INVITE", "f1", "t2", "c1", "200", "OK", "alice", "bob", ""),
        ("INVITE", "f1", "t2", "c2", "486", "Busy Here", "alice", "carol", "")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[9]) for r in acc)
    missed = conn.execute("SELECT callid, sip_code FROM missed_calls").fetchall()
    assert missed == [("c2", "486")]
    versions = dict(conn.execute("SELECT table_name, table_version FROM version").fetchall())
    assert versions == {"acc": 5, "missed_calls": 4}


def test_existing_kamailio_table_gets_the_missing_columns(tmp_path: Path) -> None:
    db = tmp_path / "acc.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE acc (id INTEGER PRIMARY KEY NOT NULL, method VARCHAR(16) "
                 "DEFAULT '' NOT NULL, from_tag VARCHAR(128) DEFAULT '' NOT NULL, to_tag "
                 "VARCHAR(128) DEFAULT '' NOT NULL, callid VARCHAR(255) DEFAULT '' NOT NULL, "
                 "sip_code VARCHAR(3) DEFAULT '' NOT NULL, sip_reason VARCHAR(128) DEFAULT '' "
                 "NOT NULL, time TIMESTAMP WITHOUT TIME ZONE NOT NULL)")
    conn.execute("INSERT INTO acc (method, time) VALUES ('OLD', '2020-01-01 00:00:00')")
    conn.commit()
    b = _bench(tmp_path, db=True)
    _call(b, "a", 200, "OK")
    rows = conn.execute("SELECT method, src_user FROM acc ORDER BY id").fetchall()
    assert rows == [("OLD", ""), ("INVITE", "alice")]


def test_acc_db_request_with_pv_table_and_nullable_extras(tmp_path: Path) -> None:
    script = SCRIPT.replace('acc_log_request("$var(c)");',
                            'acc_db_request("480 Gone", "calls_$rU"); acc_request("x", "acc");')
    b = _bench(tmp_path, 'modparam("acc", "acc_extra_nullable", 1)\n', db=True, script=script)
    b.request(invite("sip:carol@127.0.0.1:5070", method="OPTIONS"))
    conn = sqlite3.connect(tmp_path / "acc.db")
    rows = conn.execute("SELECT method, sip_code, sip_reason, dst_user, nothere "
                        "FROM calls_carol").fetchall()
    assert rows == [("OPTIONS", "480", "Gone", "carol", None)]
    assert conn.execute("SELECT sip_code, sip_reason FROM acc").fetchall() == [("", "x")]


def test_acc_db_request_refuses_bad_table_names(tmp_path: Path, caplog: Any) -> None:
    script = SCRIPT.replace('acc_log_request("$var(c)");',
                            'if (acc_db_request("1", "x; DROP TABLE acc") < 0) '
                            '{ sl_send_reply("500", "refused"); exit; }')
    b = _bench(tmp_path, db=True, script=script)
    out = b.request(invite(method="OPTIONS"))
    assert [s.msg.status for s in out] == [500]
    assert "not a valid SQL table" in caplog.text


def test_acc_db_request_without_db_url_fails(tmp_path: Path, caplog: Any) -> None:
    script = SCRIPT.replace('acc_log_request("$var(c)");',
                            'if (!acc_db_request("1", "acc")) '
                            '{ sl_send_reply("500", "no db"); exit; }')
    b = _bench(tmp_path, script=script)
    assert [s.msg.status for s in b.request(invite(method="OPTIONS"))] == [500]


def test_kemi_functions_write_records(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("DEBUG", logger="ksrpy.acc")
    db = tmp_path / "k.db"
    script = """
import KSR

def mod_init():
    return kamailio()

class kamailio:
    def ksr_request_route(self, msg):
        KSR.acc.acc_log_request("200 kemi")
        KSR.acc.acc_db_request("201 db", "acc")
        KSR.sl.sl_send_reply(200, "OK")
        return 1
"""
    path = tmp_path / "acc_script.py"
    path.write_text(textwrap.dedent(script))
    engine = Engine(CoreConfig())
    engine.set_routes(load_script(str(path), engine))
    engine.modules["acc"].set_param("db_url", f"sqlite://{db}")
    engine.attach_transport(Capture([ListenSpec.parse("udp:127.0.0.1:5070")]))  # type: ignore[arg-type]
    engine.init_modules()
    b = Bench(engine, engine.modules["tm"], engine.transport)  # type: ignore[arg-type]
    b.request(invite(method="OPTIONS"))
    assert _acc_lines(caplog)[0].endswith(";code=200;reason=kemi")
    rows = sqlite3.connect(db).execute("SELECT sip_code, sip_reason FROM acc").fetchall()
    assert rows == [("201", "db")]


# ---------------------------------------------------------------- load time


def _check(tmp_path: Path, params: str) -> list[str]:
    path = tmp_path / "c.cfg"
    path.write_text('loadmodule "tm.so"\nloadmodule "acc.so"\n' + params +
                    "request_route { t_relay(); }\n")
    return [i.message for i in check_script(str(path), Engine())]


@pytest.mark.parametrize(("param", "words"), [
    ('modparam("acc", "db_url", "mysql://kamailio:pw@localhost/kamailio")',
     "is not supported: ksrpy's acc writes to SQLite only"),
    ('modparam("acc", "early_media", 1)', "early_media=1 is not supported"),
    ('modparam("acc", "cdr_enable", 1)', "cdr_enable=1 is not supported"),
    ('modparam("acc", "multi_leg_info", "a=$avp(x)")', "multi-leg accounting is not supported"),
    ('modparam("acc", "log_extra", "src_user")', "expected name=$pseudo_variable"),
    ('modparam("acc", "log_extra", "a=$nosuchpv")', "log_extra 'a=$nosuchpv'"),
    ('modparam("acc", "db_extra", "bad-name=$fU")', "not a valid SQL table or column name"),
    ('modparam("acc", "log_flag", 64)', "out of range"),
    ('modparam("acc", "failed_filter", "200")', "not a code from 300 to 999"),
    ('modparam("acc", "time_mode", 7)', "time_mode 7 unknown"),
    ('modparam("acc", "db_table_acc", "acc;x")', "not a valid SQL table"),
])
def test_refused_parameters_are_load_time_errors(tmp_path: Path, param: str, words: str) -> None:
    messages = _check(tmp_path, param + "\n")
    assert len(messages) == 1 and words in messages[0] and "acc." in messages[0]


def test_accepted_parameters_load(tmp_path: Path) -> None:
    params = textwrap.dedent("""\
        modparam("acc", "db_url", "sqlite:///tmp/never-opened-by-check.db")
        modparam("acc", "log_facility", "LOG_LOCAL0")
        modparam("acc", "db_insert_mode", 1)
        modparam("acc", "cdr_extra", "c1=$dlg_var(caller)")
        modparam("acc", "acc_prepare_flag", 5)
        modparam("acc", "db_table_acc", "acc_$time(year)")
        modparam("acc", "reason_from_hf", 1)
        """)
    assert _check(tmp_path, params) == []


def test_flags_without_tm_or_db_url_fail_at_start(tmp_path: Path) -> None:
    engine = Engine()
    engine.load_module("acc", {"log_flag": 1})
    with pytest.raises(ModuleInitError, match="need the tm module"):
        engine.init_modules()
    engine = Engine()
    engine.load_module("tm")
    engine.load_module("acc", {"db_flag": 1})
    with pytest.raises(ModuleInitError, match="no db_url"):
        engine.init_modules()
    engine = Engine()
    engine.load_module("tm")
    engine.load_module("acc", {"db_url": f"sqlite://{tmp_path}/missing/dir/acc.db"})
    with pytest.raises(ModuleInitError, match="does not exist"):
        engine.init_modules()
