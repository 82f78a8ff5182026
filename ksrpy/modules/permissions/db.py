"""The ``address`` and ``trusted`` tables in an SQLite file named by ``db_url`` (sqlite:///path).

Table and column names are Kamailio's (modparams may rename them); the file
is opened read-only and never created. When the file has Kamailio's
``version`` table, the tables must be at version 6, as Kamailio 5.6 checks.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

TABLE_VERSION = 6
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class DBError(ValueError):
    """The database cannot be opened or read, or holds an invalid row."""


def check_identifier(name: str, what: str) -> str:
    """A table or column name (letters, digits, '_'): ValueError otherwise."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a valid SQL identifier")
    return name


def _quote(name: str) -> str:
    return "[" + name + "]"


def sqlite_path(url: str, base_dir: str) -> str:
    """The file of ``sqlite:///abs/path.db`` (a relative path is taken from ``base_dir``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise ValueError(f"db_url {url!r}: ksrpy's permissions module reads SQLite only "
                         "(sqlite:///path/file.db)")
    if not rest:
        raise ValueError(f"db_url {url!r} names no file")
    return rest if os.path.isabs(rest) else os.path.join(base_dir, rest)


class PermissionsDB:
    """Read access to the permissions tables of one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            if not os.path.exists(self.path):
                raise DBError(f"database {self.path} does not exist")
            try:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise DBError(f"cannot open {self.path}: {exc}") from None
        return self._conn

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._connect().execute(sql, args))
        except sqlite3.Error as exc:
            self.close()
            raise DBError(f"{self.path}: {exc}") from None

    def check_version(self, table: str) -> None:
        """DBError when the ``version`` table gives ``table`` another version than 6."""
        has = self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='version'")
        if not has:
            return
        rows = self._query("SELECT table_version FROM version WHERE table_name=?", (table,))
        if rows and int(rows[0][0]) != TABLE_VERSION:
            raise DBError(f"{self.path}: table {table} has version {rows[0][0]}, "
                          f"expected {TABLE_VERSION}")

    def select(self, table: str, columns: Sequence[str], *, where: str | None = None,
               value: Any = None, order: str | None = None) -> list[tuple[Any, ...]]:
        """``SELECT columns FROM table [WHERE where=value] [ORDER BY order]``."""
        sql = f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(table)}"
        args: tuple[Any, ...] = ()
        if where is not None:
            sql += f" WHERE {_quote(where)}=?"
            args = (value,)
        if order is not None:
            sql += f" ORDER BY {_quote(order)}"
        return self._query(sql, args)

    def probe(self, table: str, columns: Sequence[str]) -> None:
        """DBError unless the table has these columns (and the right version)."""
        try:
            self.check_version(table)
            self._query(f"SELECT {', '.join(_quote(c) for c in columns)} "
                        f"FROM {_quote(table)} LIMIT 0")
        finally:
            self.close()

    def load(self, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """Every row of a table after the version check (reloads)."""
        try:
            self.check_version(table)
            return self.select(table, columns)
        finally:
            self.close()
