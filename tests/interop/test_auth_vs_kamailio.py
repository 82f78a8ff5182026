"""The sipp REGISTER digest scenario against Kamailio 5.6 and ksrpy sharing one SQLite db.

The subscriber table is created from Kamailio's own db_sqlite schema files, the
route is the same cfg text; both servers must register every call with the
right password and fail every call with a wrong one.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ksrpy.modules.auth.digest import calc_ha1
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import SIPP, free_port
from tests.integration.test_auth_sipp import _probe, _sipp

pytestmark = pytest.mark.kamailio

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SCHEMA = Path("/usr/share/kamailio/db_sqlite")
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

ROUTE = """\
request_route {
    if (!auth_check("$fd", "subscriber", "1")) {
        auth_challenge("$fd", "1");
        exit;
    }
    sl_send_reply("200", "OK");
    exit;
}
"""
MODULES = """\
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "sqlite://{db}")
"""

needs = pytest.mark.skipif(
    SIPP is None or not Path(KAMAILIO).exists() or not (SCHEMA / "auth_db-create.sql").exists(),
    reason="needs sipp, kamailio and its db_sqlite schema")


def _db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((SCHEMA / "standard-create.sql").read_text())
    conn.executescript((SCHEMA / "auth_db-create.sql").read_text())
    conn.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                 "VALUES ('alice', '127.0.0.1', '', ?, ?)",
                 (calc_ha1("MD5", "alice", "127.0.0.1", "secret"),
                  calc_ha1("MD5", "alice@127.0.0.1", "127.0.0.1", "secret")))
    conn.commit()
    conn.close()


@needs
def test_same_scenario_same_outcome(tmp_path: Path) -> None:
    db = tmp_path / "kamailio.db"
    _db(db)
    port = free_port()
    kcfg = tmp_path / "kamailio.cfg"
    kcfg.write_text(f'#!KAMAILIO\ndebug=0\nlog_stderror=yes\nchildren=1\ndisable_tcp=yes\n'
                    f'auto_aliases=no\nmpath="{MPATH}"\nlisten=udp:127.0.0.1:{port}\n'
                    f'loadmodule "db_sqlite.so"\n' + MODULES.format(db=db) + ROUTE)
    ccfg = tmp_path / "ksrpy.cfg"
    ccfg.write_text(MODULES.format(db=db) + ROUTE)
    kam = subprocess.Popen([KAMAILIO, "-f", str(kcfg), "-DD", "-E"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while _probe(("127.0.0.1", port)) is None:
            assert time.monotonic() < deadline, "kamailio did not answer"
            time.sleep(0.2)
        with KsrpyProcess(str(ccfg), listen=("udp:127.0.0.1:0",)) as ours:
            for target in (("127.0.0.1", port), ours.udp):
                ok, failed, out = _sipp(target, "secret", 10)
                assert (ok, failed) == (10, 0), f"{target}: {out}"
                ok, failed, out = _sipp(target, "wrong", 2)
                assert (ok, failed) == (0, 2), f"{target}: {out}"
    finally:
        kam.terminate()
        kam.wait(10)
