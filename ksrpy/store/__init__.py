"""State backends behind one small interface (``KeyValueStore``), opened by URL.

``open_store(url)`` understands:

* ``memory:`` — kept in this process only;
* ``sqlite:///abs/path/file.db`` (``sqlite://rel/path.db`` for a path relative
  to the working directory) — one SQLite file in WAL mode;
* ``redis://[:password@]host:port/db[?prefix=ksrpy:]`` (also ``rediss://`` and
  ``unix:///path/redis.sock?db=0``) — one Redis hash per table.

Kamailio's SQL URLs (``mysql://``, ``postgres://``, ``text://`` ...) are refused
with a message saying what to use instead.
"""

from __future__ import annotations

from typing import Any

from .base import BufferedStore, KeyValueStore, StoreError, pack_value, unpack_value

__all__ = ["BufferedStore", "KeyValueStore", "StoreError", "open_store", "check_url",
           "pack_value", "unpack_value"]

_KAMAILIO_DB = ("mysql", "postgres", "pgsql", "oracle", "text", "db_text", "unixodbc",
                "berkeley", "mongodb", "cassandra", "sqlite3")
_USE = "use sqlite:///path/file.db or redis://host:port/db"


def check_url(url: str) -> str:
    """The backend a store URL names ('memory', 'sqlite', 'redis'); ValueError when unusable."""
    text = url.strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"store URL {url!r} has no scheme; {_USE}")
    if scheme == "memory":
        return "memory"
    if scheme == "sqlite":
        if not rest.startswith("//") or not rest[2:].strip("/"):
            raise ValueError(f"store URL {url!r} names no file; write sqlite:///abs/path/file.db")
        return "sqlite"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in _KAMAILIO_DB:
        raise ValueError(f"store URL {url!r}: ksrpy keeps htable data in SQLite or Redis, "
                         f"not in Kamailio's {scheme} database; {_USE}")
    raise ValueError(f"store URL {url!r}: unknown scheme {scheme!r}; {_USE}")


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite://`` URL: ``sqlite:///a/b.db`` is /a/b.db, ``sqlite://b.db`` b.db."""
    rest = url.strip().partition(":")[2][2:]
    rest = rest.partition("?")[0]
    return "/" + rest.lstrip("/") if rest.startswith("/") else rest


def open_store(url: str, **options: Any) -> KeyValueStore:
    """Open the store ``url`` names (see the module doc); StoreError when it cannot be opened.

    ``options`` go to the backend: ``batch_size`` and ``flush_interval`` for the
    buffered ones (``clock`` for tests); ValueError for a malformed URL.
    """
    kind = check_url(url)
    if kind == "memory":
        from .memory import MemoryStore

        return MemoryStore(url.strip())
    if kind == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(sqlite_path(url), url=url.strip(), **options)
    from .redis import RedisStore

    return RedisStore(url.strip(), **options)
