"""Where subscribers live: a SQLite ``subscriber`` table (Kamailio schema) or a plain file.

The file backend is a ksrpy extension: one subscriber per line, either
``user@domain password`` (plain password) or ``user@domain:ha1`` (hex HA1);
lines starting with ``#`` are comments. It is re-read when its modification time changes.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Protocol

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

SUBSCRIBER_SCHEMA = """\
CREATE TABLE IF NOT EXISTS version (
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
);
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT {table}_account_idx UNIQUE (username, domain)
);
INSERT OR IGNORE INTO version (table_name, table_version) VALUES ('{table}', '7');
"""


def identifier(name: str) -> str:
    """A table or column name, checked (no SQL injection through script arguments)."""
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a valid table or column name")
    return name


class Backend(Protocol):
    """What auth_db needs from a store."""

    def lookup(self, table: str, user: str, domain: str | None) -> dict[str, str] | None:
        """The subscriber row (column -> value), None when there is none."""

    def add(self, table: str, user: str, domain: str, row: dict[str, str]) -> None:
        """Add or replace a subscriber."""

    def remove(self, table: str, user: str, domain: str) -> bool:
        """Remove a subscriber; False when absent."""

    def list(self, table: str) -> list[tuple[str, str]]:
        """Every (username, domain)."""


class SqliteBackend:
    """A Kamailio-schema SQLite database (``db_url`` ``sqlite:///path``)."""

    def __init__(self, path: str, columns: tuple[str, str]) -> None:
        self.path = path
        self.user_col, self.domain_col = (identifier(c) for c in columns)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=5)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def lookup(self, table: str, user: str, domain: str | None) -> dict[str, str] | None:
        """Read one subscriber row."""
        sql = f"SELECT * FROM {identifier(table)} WHERE {self.user_col} = ?"
        args: list[str] = [user]
        if domain is not None:
            sql += f" AND {self.domain_col} = ?"
            args.append(domain)
        row = self._conn().execute(sql + " LIMIT 1", args).fetchone()
        return None if row is None else {k: "" if row[k] is None else str(row[k])
                                         for k in row.keys()}

    def add(self, table: str, user: str, domain: str, row: dict[str, str]) -> None:
        """Insert or replace a subscriber (creating the table when missing)."""
        conn = self._conn()
        conn.executescript(SUBSCRIBER_SCHEMA.format(table=identifier(table)))
        cols = [self.user_col, self.domain_col, *(identifier(c) for c in row)]
        marks = ", ".join("?" for _ in cols)
        with conn:
            conn.execute(f"DELETE FROM {table} WHERE {self.user_col} = ? AND "
                         f"{self.domain_col} = ?", (user, domain))
            conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                         (user, domain, *row.values()))

    def remove(self, table: str, user: str, domain: str) -> bool:
        """Delete a subscriber."""
        conn = self._conn()
        with conn:
            cur = conn.execute(f"DELETE FROM {identifier(table)} WHERE {self.user_col} = ? AND "
                               f"{self.domain_col} = ?", (user, domain))
        return cur.rowcount > 0

    def list(self, table: str) -> list[tuple[str, str]]:
        """Every (username, domain), sorted."""
        rows = self._conn().execute(f"SELECT {self.user_col}, {self.domain_col} FROM "
                                    f"{identifier(table)} ORDER BY 1, 2").fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]


class FileBackend:
    """``user@domain password`` / ``user@domain:ha1`` lines; the table name is ignored."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime: float | None = None
        self._rows: dict[tuple[str, str], dict[str, str]] = {}

    def _load(self) -> dict[tuple[str, str], dict[str, str]]:
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            self._rows, self._mtime = {}, None
            return self._rows
        if mtime != self._mtime:
            self._rows = parse_file(Path(self.path).read_text())
            self._mtime = mtime
        return self._rows

    def lookup(self, table: str, user: str, domain: str | None) -> dict[str, str] | None:
        """The entry for user (and domain, when given)."""
        rows = self._load()
        if domain is not None:
            return rows.get((user, domain))
        for (u, _d), row in rows.items():
            if u == user:
                return row
        return None

    def add(self, table: str, user: str, domain: str, row: dict[str, str]) -> None:
        """Add or replace a line."""
        rows = dict(self._load())
        rows[(user, domain)] = row
        self._write(rows)

    def remove(self, table: str, user: str, domain: str) -> bool:
        """Remove a line."""
        rows = dict(self._load())
        if rows.pop((user, domain), None) is None:
            return False
        self._write(rows)
        return True

    def list(self, table: str) -> list[tuple[str, str]]:
        """Every (username, domain), sorted."""
        return sorted(self._load())

    def _write(self, rows: dict[tuple[str, str], dict[str, str]]) -> None:
        lines = []
        for (user, domain), row in sorted(rows.items()):
            if row.get("password"):
                lines.append(f"{user}@{domain} {row['password']}")
            else:
                lines.append(f"{user}@{domain}:{row.get('ha1', '')}")
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".credentials-")
        with os.fdopen(fd, "w") as out:
            out.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._mtime = None


def parse_file(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """Parse a credentials file into (user, domain) -> {"password"} or {"ha1"}."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            aor, row = parts[0], {"password": parts[1]}
        else:
            aor, sep, ha1 = line.rpartition(":")
            if not sep or not re.fullmatch(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{64}", ha1):
                raise ValueError(f"line {lineno}: expected 'user@domain password' or "
                                 f"'user@domain:ha1'")
            row = {"ha1": ha1.lower()}
        user, _, domain = aor.partition("@")
        if not user:
            raise ValueError(f"line {lineno}: empty user name")
        rows[(user, domain)] = row
    return rows
