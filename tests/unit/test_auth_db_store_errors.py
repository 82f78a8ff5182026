"""auth_db with a subscriber store that cannot be read: -1 (generic error), never a ban."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.unit.test_auth import AUTH_HEADER, _authorization, _challenge, _db_engine, _rc

DB_HEADER = 'loadmodule "htable.so"\nloadmodule "ban.so"\n'


def test_missing_table_is_a_generic_error_not_an_unknown_user(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()  # a database without a subscriber table
    engine = _db_engine(tmp_path, f'modparam("auth_db", "db_url", "sqlite://{db}")\n'
                        'modparam("ban", "auth_fail_max", 1)\n', extra_header=DB_HEADER)
    for _ in range(3):
        assert _rc(engine, _authorization(_challenge(engine))) == "rc=-1"
    assert "cannot read table subscriber" in caplog.text
    # A wrong password would ban at once (auth_fail_max 1); a store failure does not.
    assert not engine.modules["ban"].banned("10.9.9.9")


def test_is_subscriber_without_table_is_false(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    body = """\
    request_route {
        $var(a) = is_subscriber("sip:alice@example.com", "subscriber", "1");
        sl_send_reply("299", "$var(a)");
    }
    """
    from tests.unit.test_auth import _send
    from tests.unit.test_cfg_compile import _engine

    engine = _engine(tmp_path, body, header=AUTH_HEADER + 'loadmodule "auth_db.so"\n'
                     f'modparam("auth_db", "db_url", "sqlite://{db}")\n')
    engine.init_modules()
    assert [r.reason for r in _send(engine)] == ["-1"]
