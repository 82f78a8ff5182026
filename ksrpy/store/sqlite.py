"""``sqlite:///path/file.db`` — one SQLite file (WAL mode) holding every table.

Format: one SQL table ``ksrpy_kv(tname, key, value, expires)`` with the
primary key ``(tname, key)``; ``value`` is the msgpack encoding of the int or
str value, ``expires`` the absolute expiry in epoch seconds (NULL: never).
``ksrpy_meta`` records the format version (``schema`` = 1). Writes are batched
by ``BufferedStore``: one transaction per flush, so the per-message cost is a
dict assignment. ``synchronous=NORMAL`` with WAL: a committed flush survives a
crash of ksrpy; a power cut may lose the last flushes.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import Any

from .base import BufferedStore, Pending, Row, StoreError, unpack_value

SCHEMA_VERSION = "1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ksrpy_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ksrpy_kv (tname TEXT NOT NULL, key TEXT NOT NULL, "
    "value BLOB NOT NULL, expires REAL, PRIMARY KEY (tname, key)) WITHOUT ROWID",
)


class SqliteStore(BufferedStore):
    """Tables in one SQLite file; see the module doc for the format."""

    def __init__(self, path: str, *, url: str | None = None, batch_size: int = 256,
                 flush_interval: float = 1.0, clock: Callable[[], float] | None = None) -> None:
        kwargs: dict[str, Any] = {"batch_size": batch_size, "flush_interval": flush_interval}
        if clock is not None:
            kwargs["clock"] = clock
        super().__init__(**kwargs)
        self.path = path
        self.url = url or f"sqlite://{path}"
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StoreError(f"cannot open {self.url}: no directory {folder}")
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=1.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.url}: {exc}") from None

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM ksrpy_meta WHERE name='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO ksrpy_meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StoreError(f"{self.url} has store format {row[0]}, this ksrpy reads "
                             f"format {SCHEMA_VERSION}")

    def _write(self, cleared: set[str], pending: Pending) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            for table in cleared:
                db.execute("DELETE FROM ksrpy_kv WHERE tname = ?", (table,))
            upserts = []
            deletes = []
            for table, rows in pending.items():
                for key, row in rows.items():
                    if row is None:
                        deletes.append((table, key))
                    else:
                        upserts.append((table, key, row[0], row[1]))
            if upserts:
                db.executemany("INSERT OR REPLACE INTO ksrpy_kv VALUES (?, ?, ?, ?)", upserts)
            if deletes:
                db.executemany("DELETE FROM ksrpy_kv WHERE tname = ? AND key = ?", deletes)
            db.execute("COMMIT")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _load(self, table: str) -> dict[str, Row]:
        try:
            rows = self._db.execute(
                "SELECT key, value, expires FROM ksrpy_kv WHERE tname = ?", (table,)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.url}: {exc}") from None
        return {key: (unpack_value(value), expires) for key, value, expires in rows}

    def _close(self) -> None:
        self._db.close()
