"""Where the lists come from: Kamailio's ``secfilter`` table in SQLite, and/or a text file.

Each read returns complete rows or raises ValueError naming the bad row or
line, so a failed reload never leaves a half-built list set behind.

The file (``list_file``, a ksrpy addition) has one entry per line:
``bl|wl TYPE VALUE`` or ``dst NUMBER``, TYPE being ua, country, domain, ip or
user, VALUE the rest of the line (it may hold spaces). Kamailio's numbers
work too (``0 0 friendly-scanner``, ``2 0 555123123``). ``#`` starts a comment line.
"""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

from .lists import BLACKLIST, DESTINATION, KINDS, WHITELIST, check_row

#: The secfilter table version Kamailio 5.6 expects in its ``version`` table.
TABLE_VERSION = 1
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACTION_WORDS = {"bl": BLACKLIST, "blacklist": BLACKLIST, "wl": WHITELIST,
                 "whitelist": WHITELIST, "dst": DESTINATION}

Row = tuple[int, int, str]


def identifier(name: str, what: str) -> str:
    """A table or column name (letters, digits, '_'), else ValueError."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a valid SQL identifier")
    return name


def sqlite_file(url: str, base_dir: str) -> str:
    """The file of ``sqlite:///abs/path.db`` (a relative path starts at ``base_dir``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise ValueError(f"db_url {url!r}: ksrpy's secfilter reads SQLite only "
                         "(sqlite:///abs/path.db or sqlite://relative.db)")
    if not rest:
        raise ValueError(f"db_url {url!r} names no file")
    return rest if os.path.isabs(rest) else os.path.join(base_dir, rest)


def read_table(path: str, table: str, columns: tuple[str, str, str]) -> list[Row]:
    """Every row of the secfilter table (action, type, data), checked, in table order."""
    if not os.path.exists(path):
        raise ValueError(f"database {path} does not exist")
    cols = ", ".join(f"[{c}]" for c in columns)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"cannot open {path}: {exc}") from None
    try:
        _check_version(conn, table, path)
        rows: list[Any] = list(conn.execute(f"SELECT {cols} FROM [{table}]"))
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: {exc}") from None
    finally:
        conn.close()
    return [check_row(*row, where=f"{path}: table {table} row {n}")
            for n, row in enumerate(rows, 1)]


def _check_version(conn: sqlite3.Connection, table: str, path: str) -> None:
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='version'")
    if not has.fetchall():
        return
    rows = conn.execute("SELECT table_version FROM version WHERE table_name=?", (table,))
    found = rows.fetchall()
    if found and int(found[0][0]) != TABLE_VERSION:
        raise ValueError(f"{path}: table {table} has version {found[0][0]}, "
                         f"expected {TABLE_VERSION}")


def parse_line(line: str, where: str) -> Row | None:
    """One list-file line as a row (None for blank and comment lines)."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = text.split(None, 2)
    word = parts[0].lower()
    action: Any = _ACTION_WORDS.get(word, word)
    if not isinstance(action, int) and not word.isdigit():
        raise ValueError(f"{where}: unknown action {parts[0]!r} (bl, wl or dst)")
    if action == DESTINATION or word == "2":
        rest = text.split(None, 1)[1] if len(parts) > 1 else ""
        if word == "2" and len(parts) == 3 and parts[1] == "0":
            rest = parts[2]
        return check_row(DESTINATION, 0, rest.strip(), where)
    if len(parts) < 3:
        raise ValueError(f"{where}: expected 'bl|wl TYPE VALUE' or 'dst NUMBER', got {text!r}")
    kind: Any = parts[1].lower()
    if kind in KINDS:
        kind = KINDS.index(kind)
    elif not kind.isdigit():
        raise ValueError(f"{where}: unknown type {parts[1]!r} (ua, country, domain, ip, user)")
    return check_row(action, kind, parts[2].strip(), where)


def read_file(path: str) -> list[Row]:
    """Every entry of a list file, in order; ValueError naming the file and line."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"list_file {path}: {exc}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        row = parse_line(line, f"{path}:{n}")
        if row is not None:
            rows.append(row)
    return rows
