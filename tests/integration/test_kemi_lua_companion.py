"""Kamailio's KEMI Lua example, translated by ``ksrpy port lua``, routes real calls.

The documented path for a ``cfgengine "lua"`` deployment: translate the Lua
script, then run the companion cfg with ``-A WITH_CFGPYTHON3`` and its
app_python3 ``load`` pointing at the result (here a path relative to the cfg).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipcalls import call, kamailio_db, register, uas

pytestmark = [pytest.mark.kamailio, pytest.mark.sipp]

EXAMPLES = Path("/usr/share/doc/kamailio/examples/kemi")
LUA = EXAMPLES / "kamailio-basic-kemi-lua.lua"
COMPANION = EXAMPLES / "kamailio-basic-kemi.cfg"


def test_lua_engine_is_refused_with_a_pointer_to_the_translator(tmp_path: Path) -> None:
    cfg = tmp_path / "kamailio-basic-kemi.cfg"
    cfg.write_text(COMPANION.read_text())
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(cfg),
                            "-A", "WITH_CFGLUA", "-A", 'DBURL="sqlite:///nowhere.db"'],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert 'cfgengine "lua" is not supported' in check.stderr
    assert "ksrpy port lua" in check.stderr


def test_translated_lua_example_carries_a_registered_call(tmp_path: Path) -> None:
    for path in (LUA, COMPANION):
        if not path.exists():
            pytest.fail(f"{path} is missing: apt-get install kamailio")
    port = subprocess.run([sys.executable, "-m", "ksrpy", "port", "lua", str(LUA), "-o",
                           str(tmp_path / "kemi-lua.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert port.returncode == 0, port.stderr
    cfg = tmp_path / "kamailio-basic-kemi.cfg"
    cfg.write_text(COMPANION.read_text().replace(
        "/usr/local/etc/kamailio/kamailio-basic-kemi-python.py", "kemi-lua.py"))
    url = kamailio_db(tmp_path / "kamailio.db", {"alice": "secret"})
    defines = ("-A", "WITH_CFGPYTHON3", "-A", f'DBURL="{url}"')
    with KsrpyProcess(str(cfg), listen=("udp:127.0.0.1:0",), extra_args=defines) as proxy:
        target = proxy.udp
        with uas("uas_call_rr.xml", calls=2) as callee:
            reg = register(target, "alice", callee.port, password="secret")
            assert (reg.successful, reg.failed) == (1, 0), reg.summary + proxy.log()[-2000:]
            result = call(target, "sip:carol@example.com",
                          f"sip:alice@{target[0]}:{target[1]}", calls=2)
            answered = callee.finish()
        log = proxy.log()
    assert (result.successful, result.failed) == (2, 0), result.summary + log[-2000:]
    assert (answered.successful, answered.failed) == (2, 0), answered.summary
