"""auth_check on REGISTER in a real ``ksrpy run``, driven by sipp's [authentication].

Right password: every call gets 401 then 200. Wrong password: each second
REGISTER is challenged again (the call fails) and, after ban's
``auth_fail_max`` failures, the source is banned and hears nothing more.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from ksrpy.modules.auth.digest import calc_ha1
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import SCENARIOS, SIPP, _final_counts, free_port

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp is not installed")

CFG = """\
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
loadmodule "ban.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "sqlite://{db}")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
modparam("ban", "auth_fail_max", 3)

request_route {{
    if ($sht(ipban=>$si) != $null) {{ exit; }}
    if (!auth_check("$fd", "subscriber", "1")) {{
        auth_challenge("$fd", "1");
        exit;
    }}
    sl_send_reply("200", "OK");
    exit;
}}
"""


def _db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER);"
        "INSERT INTO version VALUES ('subscriber', 7);"
        "CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL, username VARCHAR(64),"
        " domain VARCHAR(64), password VARCHAR(64), ha1 VARCHAR(128), ha1b VARCHAR(128));")
    conn.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                 "VALUES ('alice', '127.0.0.1', '', ?, ?)",
                 (calc_ha1("MD5", "alice", "127.0.0.1", "secret"),
                  calc_ha1("MD5", "alice@127.0.0.1", "127.0.0.1", "secret")))
    conn.commit()
    conn.close()


def _sipp(target: tuple[str, int], password: str, calls: int) -> tuple[int, int, str]:
    assert SIPP is not None
    workdir = tempfile.mkdtemp(prefix="sipp-auth-")
    stat = str(Path(workdir) / "stats.csv")
    cmd = [SIPP, f"{target[0]}:{target[1]}", "-sf", str(SCENARIOS / "register_auth.xml"),
           "-t", "u1", "-i", "127.0.0.1", "-p", str(free_port()), "-s", "alice",
           "-au", "alice", "-ap", password, "-m", str(calls), "-r", "20", "-l", "1",
           "-timeout", "20s", "-recv_timeout", "1500", "-nostdin", "-trace_stat", "-stf",
           stat, "-fd", "1"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=40)
    ok, failed = _final_counts(stat)
    return ok, failed, proc.stdout + proc.stderr


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    _db(tmp_path / "subscriber.db")
    cfg = tmp_path / "auth.cfg"
    cfg.write_text(CFG.format(db=tmp_path / "subscriber.db"))
    with KsrpyProcess(str(cfg), listen=("udp:127.0.0.1:0",)) as proc:
        yield proc


def _probe(target: tuple[str, int]) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        port = sock.getsockname()[1]
        raw = (f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};"
               "branch=z9hG4bKprobe\r\nFrom: <sip:alice@127.0.0.1>;tag=p\r\n"
               "To: <sip:alice@127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 REGISTER\r\n"
               "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(raw.encode(), target)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_register_with_right_password(server: KsrpyProcess) -> None:
    ok, failed, out = _sipp(server.udp, "secret", 20)
    assert (ok, failed) == (20, 0), out + server.log()


def test_wrong_password_then_banned(server: KsrpyProcess) -> None:
    first = _probe(server.udp)
    assert first is not None and first.startswith(b"SIP/2.0 401 ")
    ok, failed, out = _sipp(server.udp, "wrong", 3)
    assert (ok, failed) == (0, 3), out + server.log()
    assert _probe(server.udp) is None, "the source should be banned after 3 failures"
    ok, failed, out = _sipp(server.udp, "secret", 1)
    assert ok == 0, out
