"""The data directory of ``ksrpy run``: where the default routes keep their SQLite file.

One file, ``ksrpy.db``, holds Kamailio's ``subscriber``, ``address``,
``trusted`` and ``version`` tables (the same schema as Kamailio's db_sqlite,
so kamctl-era habits and tools work) plus ksrpy's store tables (``ksrpy_kv``)
where usrloc keeps registrations and htable keeps bans. The directory is
chosen as: ``--data-dir``, else ``$KSRPY_DATA_DIR``, else ``/var/lib/ksrpy``
when the user may write there, else ``$XDG_DATA_HOME/ksrpy``, else
``~/.local/share/ksrpy``. It is created with mode 0700 (it holds password
hashes and the location of every user).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("ksrpy")

ENV_VAR = "KSRPY_DATA_DIR"
SYSTEM_DIR = "/var/lib/ksrpy"
DB_NAME = "ksrpy.db"

#: Kamailio 5.6's table versions (its ``version`` table), checked by its modules.
TABLE_VERSIONS = {"subscriber": 7, "address": 6, "trusted": 6}

SCHEMA = """\
CREATE TABLE IF NOT EXISTS version (
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);
CREATE TABLE IF NOT EXISTS subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);
CREATE INDEX IF NOT EXISTS subscriber_username_idx ON subscriber (username);
CREATE TABLE IF NOT EXISTS address (
    id INTEGER PRIMARY KEY NOT NULL,
    grp INTEGER DEFAULT 1 NOT NULL,
    ip_addr VARCHAR(50) NOT NULL,
    mask INTEGER DEFAULT 32 NOT NULL,
    port SMALLINT DEFAULT 0 NOT NULL,
    tag VARCHAR(64)
);
CREATE TABLE IF NOT EXISTS trusted (
    id INTEGER PRIMARY KEY NOT NULL,
    src_ip VARCHAR(50) NOT NULL,
    proto VARCHAR(4) NOT NULL,
    from_pattern VARCHAR(64) DEFAULT NULL,
    ruri_pattern VARCHAR(64) DEFAULT NULL,
    tag VARCHAR(64),
    priority INTEGER DEFAULT 0 NOT NULL
);
CREATE INDEX IF NOT EXISTS trusted_peer_idx ON trusted (src_ip);
"""


class DataDirError(OSError):
    """The data directory cannot be created or used."""


def _writable_or_creatable(path: str) -> bool:
    if os.path.isdir(path):
        return os.access(path, os.W_OK | os.X_OK)
    parent = os.path.dirname(path)
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory used when neither --data-dir nor $KSRPY_DATA_DIR is given."""
    env = os.environ if environ is None else environ
    if _writable_or_creatable(SYSTEM_DIR):
        return Path(SYSTEM_DIR)
    xdg = env.get("XDG_DATA_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ksrpy"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".local" / "share" / "ksrpy"


def resolve_data_dir(option: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--data-dir, else $KSRPY_DATA_DIR, else the default; always an absolute path."""
    env = os.environ if environ is None else environ
    chosen = option or env.get(ENV_VAR, "").strip() or None
    path = Path(chosen).expanduser() if chosen else default_data_dir(env)
    return path.absolute()


def explicit_data_dir(option: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """True when the user named a data directory (option or environment)."""
    env = os.environ if environ is None else environ
    return bool(option or env.get(ENV_VAR, "").strip())


def db_path(data_dir: Path) -> Path:
    """The SQLite file of a data directory."""
    return data_dir / DB_NAME


def db_url(data_dir: Path) -> str:
    """``sqlite:///abs/path/ksrpy.db`` for a data directory."""
    return "sqlite://" + str(db_path(data_dir).absolute())


def prepare(data_dir: Path) -> Path:
    """Create the directory (mode 0700) and the database tables; DataDirError when impossible."""
    try:
        if not data_dir.is_dir():
            data_dir.mkdir(mode=0o700, parents=True)
            os.chmod(data_dir, 0o700)  # mkdir's mode is filtered by the umask
        elif stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
            log.warning("data directory %s is readable by other users (chmod 700 it): it "
                        "holds password hashes", data_dir)
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise DataDirError(f"data directory {data_dir} is not writable")
    except DataDirError:
        raise
    except OSError as exc:
        raise DataDirError(f"cannot create data directory {data_dir}: "
                           f"{exc.strerror or exc}") from None
    init_db(db_path(data_dir))
    return data_dir


def init_db(path: Path) -> None:
    """Create Kamailio's subscriber/address/trusted tables (and version rows) when missing."""
    new = not path.exists()
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.executescript(SCHEMA)
            with conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO version (table_name, table_version) VALUES (?, ?)",
                    list(TABLE_VERSIONS.items()))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DataDirError(f"cannot initialise {path}: {exc}") from None
    if new:
        os.chmod(path, 0o600)


def is_default_routes(script: str) -> bool:
    """True for the shipped routes/default.cfg and routes/default.py."""
    from ..paths import shipped_dir

    try:
        routes = shipped_dir("routes").resolve()
    except FileNotFoundError:
        return False
    target = Path(script).resolve()
    return target in (routes / "default.cfg", routes / "default.py")


def script_defines(script: str, option: str | None, defines: Mapping[str, str], *,
                   create: bool) -> tuple[dict[str, str], Path | None]:
    """The defines a script runs with, and its data directory (None when it has none).

    The shipped default routes always get one; another script only when
    --data-dir or $KSRPY_DATA_DIR names it. Then ``DBURL`` (Kamailio's name, a
    quoted ``"sqlite:///DIR/ksrpy.db"``) and ``KSRPY_DATA_DIR`` (quoted DIR) are
    defined unless -A already defines them. ``create`` makes the directory and
    its tables (``ksrpy run``); ``ksrpy check`` only computes the names.
    """
    out = dict(defines)
    if not (explicit_data_dir(option) or is_default_routes(script)):
        return out, None
    data_dir = resolve_data_dir(option)
    if create:
        prepare(data_dir)
    out.setdefault("DBURL", f'"{db_url(data_dir)}"')
    out.setdefault("KSRPY_DATA_DIR", f'"{data_dir}"')
    return out, data_dir
