"""The data directory of the default routes, the accounts CLI helpers, ksr_modparams."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from ksrpy.core import accounts, datadir
from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.paths import shipped_dir
from ksrpy.script.errors import ScriptLoadError
from ksrpy.script.loader import load_script

DEFAULT_CFG = str(shipped_dir("routes") / "default.cfg")
DEFAULT_PY = str(shipped_dir("routes") / "default.py")


def test_option_wins_over_environment_over_default(tmp_path: Path) -> None:
    env = {datadir.ENV_VAR: str(tmp_path / "env"), "HOME": str(tmp_path)}
    assert datadir.resolve_data_dir(str(tmp_path / "opt"), env) == tmp_path / "opt"
    assert datadir.resolve_data_dir(None, env) == tmp_path / "env"
    assert datadir.explicit_data_dir(None, env)
    assert not datadir.explicit_data_dir(None, {"HOME": str(tmp_path)})


def test_default_falls_back_to_xdg_then_home(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datadir, "SYSTEM_DIR", str(tmp_path / "no" / "such" / "ksrpy"))
    xdg = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    assert datadir.default_data_dir(xdg) == tmp_path / "xdg" / "ksrpy"
    assert datadir.default_data_dir({"HOME": str(tmp_path), "XDG_DATA_HOME": "rel"}) == (
        tmp_path / ".local" / "share" / "ksrpy")
    monkeypatch.setattr(datadir, "SYSTEM_DIR", str(tmp_path / "ksrpy"))
    assert datadir.default_data_dir(xdg) == tmp_path / "ksrpy"  # creatable: parent writable


def test_prepare_creates_a_private_directory_with_kamailio_tables(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b"
    datadir.prepare(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    db = datadir.db_path(data)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    conn = sqlite3.connect(db)
    versions = dict(conn.execute("SELECT table_name, table_version FROM version"))
    conn.close()
    assert versions == {"subscriber": 7, "address": 6, "trusted": 6}
    datadir.prepare(data)  # idempotent
    assert datadir.db_url(data) == f"sqlite://{data}/ksrpy.db"


def test_prepare_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(datadir.DataDirError, match="cannot create data directory"):
        datadir.prepare(tmp_path / "file" / "data")


def test_defines_for_the_default_routes_only(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(datadir.ENV_VAR, raising=False)
    mine = tmp_path / "mine.cfg"
    mine.write_text("request_route { exit; }\n")
    assert datadir.script_defines(str(mine), None, {}, create=False) == ({}, None)
    defines, where = datadir.script_defines(DEFAULT_CFG, str(tmp_path / "d"), {"X": "1"},
                                            create=True)
    assert where == tmp_path / "d" and (where / "ksrpy.db").exists()
    assert defines == {"X": "1", "DBURL": f'"sqlite://{tmp_path}/d/ksrpy.db"',
                       "KSRPY_DATA_DIR": f'"{tmp_path}/d"'}
    kept, _ = datadir.script_defines(DEFAULT_PY, str(tmp_path / "d"),
                                     {"DBURL": '"sqlite:///x.db"'}, create=False)
    assert kept["DBURL"] == '"sqlite:///x.db"'
    other, _ = datadir.script_defines(str(mine), str(tmp_path / "e"), {}, create=False)
    assert other["DBURL"] == f'"sqlite://{tmp_path}/e/ksrpy.db"'
    assert not (tmp_path / "e").exists()  # check mode creates nothing


def test_accounts_reject_bad_input(tmp_path: Path) -> None:
    db = datadir.db_path(datadir.prepare(tmp_path / "d"))
    for bad in ("alice", "@x", "a b@x", "alice@", "alice@bad host"):
        with pytest.raises(accounts.AccountError):
            accounts.add_user(db, bad, "pw")
    with pytest.raises(accounts.AccountError, match="empty"):
        accounts.add_user(db, "alice@x", "")
    assert accounts.add_user(db, "sip:alice@[::1]", "pw") == ("alice@[::1]", False)
    with pytest.raises(accounts.AccountError, match="does not exist"):
        accounts.list_users(tmp_path / "none.db")
    assert accounts.add_address(db, "10.1.2.3/8", port=5060) == "10.0.0.0/8"
    assert accounts.add_address(db, "10.1.2.3/8", port=5060) == "10.0.0.0/8"  # no duplicate
    assert accounts.list_addresses(db) == [(1, "10.0.0.0/8", 5060, "")]
    with pytest.raises(accounts.AccountError):
        accounts.add_address(db, "10.0.0.1", port=70000)
    assert accounts.remove_address(db, "10.0.0.0/8") == "10.0.0.0/8"
    with pytest.raises(accounts.AccountError, match="no address"):
        accounts.remove_address(db, "10.0.0.0/8")


def test_python_default_routes_set_the_cfg_modparams(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/k.db"
    engine = Engine(CoreConfig(defines={"DBURL": f'"{url}"'}))
    load_script(DEFAULT_PY, engine)
    twin = Engine(CoreConfig(defines={"DBURL": f'"{url}"'}))
    load_script(DEFAULT_CFG, twin)
    for module in ("usrloc", "auth_db", "permissions", "htable", "ban", "registrar", "tm",
                   "rr", "pike", "nathelper"):
        for key, value in twin.modules[module].settings.items():
            if key in ("htable", "exempt", "trusted", "preload"):
                continue  # repeatable params are kept in their own structures
            assert engine.modules[module].settings[key] == value, (module, key)
    assert engine.modules["usrloc"].settings["db_url"] == url


def test_ksr_modparams_errors_name_the_script_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import KSR\n\n\ndef ksr_modparams(defines):\n"
                      "    return {'usrloc': {'db_mode': 3}}\n\n\n"
                      "def ksr_request_route():\n    KSR.x.exit()\n")
    with pytest.raises(ScriptLoadError) as err:
        load_script(str(script), Engine(CoreConfig()))
    text = str(err.value)
    assert "ksr_modparams() failed" in text and "db_mode" in text


def test_python_alias_is_set_once_even_on_reload(tmp_path: Path) -> None:
    config = CoreConfig(defines={"DBURL": f'"sqlite://{tmp_path}/k.db"', "ALIAS": "sip.x.test"})
    engine = Engine(config)
    load_script(DEFAULT_PY, engine)
    assert engine.config.alias == ["sip.x.test"]
    load_script(DEFAULT_PY, Engine(engine.config))  # a reload starts from the live settings
    assert engine.config.alias == ["sip.x.test"]
    cfg = Engine(CoreConfig(defines=dict(config.defines)))
    load_script(DEFAULT_CFG, cfg)
    assert cfg.config.alias == engine.config.alias


def test_ksr_modparams_core_accepts_only_alias(tmp_path: Path) -> None:
    script = tmp_path / "core.py"
    script.write_text("import KSR\n\n\ndef ksr_modparams(defines):\n"
                      "    return {'core': {'listen': 'udp:1.2.3.4:5060'}}\n\n\n"
                      "def ksr_request_route():\n    KSR.x.exit()\n")
    with pytest.raises(ScriptLoadError, match="only alias"):
        load_script(str(script), Engine(CoreConfig()))
