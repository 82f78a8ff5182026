"""Accounting records in SQLite, in Kamailio's ``acc`` / ``missed_calls`` table layout.

A table that does not exist is created with Kamailio's schema (the column
names as the ``acc_*_column`` parameters say, the ``version`` row, the Call-ID
index); a column the configuration needs and the table lacks (a ``db_extra``
name, ``time_attr``/``time_exten``) is added, as kamailio.cfg's comments tell
the administrator to do by hand. The ``time`` column holds the UTC time as
``YYYY-MM-DD HH:MM:SS`` (what SQLite's own ``datetime()`` gives).
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .record import Record, time_fields

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Kamailio's version numbers of its acc tables (others get acc's).
TABLE_VERSIONS = {"acc": 5, "missed_calls": 4}


def identifier(name: str, what: str = "name") -> str:
    """A table or column name, checked (script values never reach SQL unquoted)."""
    if not _IDENT.match(name) or len(name) > 64:
        raise ValueError(f"{what} {name!r} is not a valid SQL table or column name")
    return name


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///abs/path.db`` (``sqlite://rel.db``); ValueError otherwise."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise ValueError(f"db_url {url!r} is not supported: ksrpy's acc writes to SQLite "
                         "only (sqlite:///path/file.db)")
    if not rest.strip("/"):
        raise ValueError(f"db_url {url!r} names no file; write sqlite:///abs/path/file.db")
    return rest


@dataclass(frozen=True)
class Columns:
    """Column names of the fixed fields (acc_*_column parameters)."""

    method: str = "method"
    from_tag: str = "from_tag"
    to_tag: str = "to_tag"
    callid: str = "callid"
    sip_code: str = "sip_code"
    sip_reason: str = "sip_reason"
    time: str = "time"

    def core(self) -> tuple[str, ...]:
        """The six fixed columns in record order."""
        return (self.method, self.from_tag, self.to_tag, self.callid, self.sip_code,
                self.sip_reason)


class AccDb:
    """One SQLite file receiving accounting rows."""

    def __init__(self, path: str, columns: Columns, *, time_mode: int = 0,
                 time_attr: str = "time_attr", time_exten: str = "time_exten",
                 time_format: str = "%Y-%m-%d %H:%M:%S", extras: tuple[str, ...] = (),
                 nullable: bool = False) -> None:
        self.path = path
        self.columns = columns
        self.time_mode = time_mode
        self.time_attr = time_attr
        self.time_exten = time_exten
        self.time_format = time_format
        self.extras = extras
        self.nullable = nullable
        self._ready: set[str] = set()
        parent = Path(path).parent
        if not parent.is_dir():
            raise ValueError(f"acc database {path!r}: directory {str(parent)!r} does not exist")
        self.conn = sqlite3.connect(path, timeout=5, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        """Close the file."""
        self.conn.close()

    # ------------------------------------------------------------------ schema

    def _time_columns(self) -> list[tuple[str, str]]:
        if self.time_mode == 1:
            return [(self.time_attr, "INTEGER DEFAULT 0 NOT NULL"),
                    (self.time_exten, "INTEGER DEFAULT 0 NOT NULL")]
        if self.time_mode == 2:
            return [(self.time_attr, "DOUBLE DEFAULT 0 NOT NULL")]
        if self.time_mode in (3, 4):
            return [(self.time_attr, "VARCHAR(128) DEFAULT '' NOT NULL")]
        return []

    def ensure_table(self, table: str) -> None:
        """Create ``table`` (Kamailio's schema) when absent; add the columns it lacks."""
        if table in self._ready:
            return
        identifier(table, "acc table")
        c = self.columns
        conn = self.conn
        conn.execute("CREATE TABLE IF NOT EXISTS version (table_name VARCHAR(32) NOT NULL, "
                     "table_version INTEGER DEFAULT 0 NOT NULL, "
                     "CONSTRAINT version_table_name_idx UNIQUE (table_name))")
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                              (table,)).fetchone()
        if not exists:
            conn.execute(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY NOT NULL, "
                f"{c.method} VARCHAR(16) DEFAULT '' NOT NULL, "
                f"{c.from_tag} VARCHAR(128) DEFAULT '' NOT NULL, "
                f"{c.to_tag} VARCHAR(128) DEFAULT '' NOT NULL, "
                f"{c.callid} VARCHAR(255) DEFAULT '' NOT NULL, "
                f"{c.sip_code} VARCHAR(3) DEFAULT '' NOT NULL, "
                f"{c.sip_reason} VARCHAR(128) DEFAULT '' NOT NULL, "
                f"{c.time} TIMESTAMP WITHOUT TIME ZONE NOT NULL)")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_callid_idx ON {table} ({c.callid})")
            conn.execute("INSERT OR IGNORE INTO version (table_name, table_version) VALUES (?, ?)",
                         (table, TABLE_VERSIONS.get(table, 5)))
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        extra_type = ("VARCHAR(255) DEFAULT NULL" if self.nullable
                      else "VARCHAR(255) DEFAULT '' NOT NULL")
        wanted = [*self._time_columns(), *((name, extra_type) for name in self.extras)]
        for name, decl in wanted:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                have.add(name)
        self._ready.add(table)

    # ------------------------------------------------------------------ writes

    def insert(self, table: str, record: Record) -> None:
        """Write one row (sqlite3.Error / ValueError when it cannot)."""
        self.ensure_table(table)
        cols: list[str] = [*self.columns.core(), self.columns.time]
        values: list[Any] = list(record.core())
        values.append(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(record.when))))
        extra_time = time_fields(record.when, self.time_mode, self.time_format)
        if self.time_mode == 1:
            cols += [self.time_attr, self.time_exten]
        elif extra_time:
            cols.append(self.time_attr)
        values += list(extra_time)
        for name, value in record.extras:
            cols.append(name)
            values.append(value if value is not None or self.nullable else "")
        marks = ", ".join("?" for _ in cols)
        self.conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)
