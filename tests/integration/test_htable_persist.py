"""Bans survive a restart: a real ``ksrpy run`` with an htable persisted in SQLite or Redis.

The cfg bans a source with ``$sht(ipban=>$si) = 1`` and refuses banned sources;
a second ban is added through ``htable.sets``. After SIGTERM and a new start
both bans are in ``htable.dump`` and the banned source is refused at once.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import status_of, udp_request
from tests.unit.test_store import redis_server  # noqa: F401 - the fixture

CFG = """\
loadmodule "sl.so"
loadmodule "xlog.so"
loadmodule "htable.so"
modparam("htable", "db_url", "{db_url}")
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;dbtable=ipban;dbmode=1;")
request_route {{
    if ($sht(ipban=>$si) != $null) {{
        sl_send_reply("403", "Banned");
        exit;
    }}
    if ($rU == "attack") {{
        $sht(ipban=>$si) = 1;
        sl_send_reply("403", "Banned now");
        exit;
    }}
    sl_send_reply("200", "OK");
}}
"""


def rpc(ctl: Path, *args: str) -> str:
    """``ksrpy rpc --ctl CTL ARGS...``: its output (the test fails on an error)."""
    done = subprocess.run([sys.executable, "-m", "ksrpy", "rpc", "--ctl", str(ctl), *args],
                          cwd=REPO, text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _dumped_names(ctl: Path) -> set[str]:
    import json

    out = rpc(ctl, "htable.dump", "ipban")
    return {item["name"] for entry in json.loads(out) for item in entry["slot"]}


def _restart_keeps_bans(tmp_path: Path, db_url: str) -> None:
    script = tmp_path / "ban.cfg"
    script.write_text(CFG.format(db_url=db_url))
    ctl = tmp_path / "ctl"
    server = KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",), ctl=str(ctl))
    with server:
        assert status_of(udp_request(server.udp)) == 200
        target = f"sip:attack@127.0.0.1:{server.udp[1]}"
        assert status_of(udp_request(server.udp, ruri=target)) == 403
        assert status_of(udp_request(server.udp)) == 403, "banned now"
        rpc(ctl, "htable.sets", "ipban", "192.0.2.7", "s:by-rpc")
        assert _dumped_names(ctl) == {"127.0.0.1", "192.0.2.7"}
    assert server.proc is not None and server.proc.returncode == 0, server.log()
    again = KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",), ctl=str(ctl))
    with again:
        assert _dumped_names(ctl) == {"127.0.0.1", "192.0.2.7"}
        assert status_of(udp_request(again.udp)) == 403, "the ban survived the restart"
        assert '"value":"by-rpc"' in rpc(ctl, "htable.get", "ipban", "192.0.2.7").replace(
            " ", "")
        rpc(ctl, "htable.delete", "ipban", "127.0.0.1")
        assert status_of(udp_request(again.udp)) == 200
    third = KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",), ctl=str(ctl))
    with third:
        assert _dumped_names(ctl) == {"192.0.2.7"}, "the delete was persisted too"


def test_bans_survive_a_restart_with_sqlite(tmp_path: Path) -> None:
    _restart_keeps_bans(tmp_path, f"sqlite://{tmp_path}/htable.db")
    assert (tmp_path / "htable.db").exists()


def test_bans_survive_a_restart_with_redis(tmp_path: Path, redis_server: str) -> None:  # noqa: F811
    _restart_keeps_bans(tmp_path, f"{redis_server}?prefix=it{uuid.uuid4().hex[:8]}:")


def test_mysql_db_url_is_refused_at_start(tmp_path: Path) -> None:
    script = tmp_path / "ban.cfg"
    script.write_text(CFG.format(db_url="mysql://kamailio:kamailiorw@localhost/kamailio"))
    with pytest.raises(RuntimeError, match="not in Kamailio's mysql database"):
        KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",)).start()
