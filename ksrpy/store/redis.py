"""``redis://host:port/db`` — one Redis hash per table (the ``redis`` package).

Format: the table ``T`` is the hash ``<prefix>T`` (prefix ``ksrpy:`` unless
the URL says ``?prefix=...``); each field is a key, each value the msgpack
encoding of ``[value, expires_at]`` (``expires_at`` epoch seconds or nil).
Redis TTLs are not used (a hash field cannot have one before Redis 7.4): the
owner filters expired rows on load and deletes them itself. Writes are
batched by ``BufferedStore`` into one MULTI/EXEC pipeline per flush. Calls
block the event loop for at most the socket timeout (2 s) when Redis is
unreachable; a failed flush is retried with a back-off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgpack

from .base import BufferedStore, Pending, Row, StoreError

DEFAULT_PREFIX = "ksrpy:"


def _split_prefix(url: str) -> tuple[str, str]:
    """The URL without ``prefix=`` and the prefix."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    kept = []
    for name, value in query:
        if name == "prefix":
            prefix = value
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), prefix


def _decode_row(data: bytes) -> Row:
    try:
        value, expires = msgpack.unpackb(data)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise StoreError(f"corrupt row in redis: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise StoreError(f"unexpected value type in redis: {type(value).__name__}")
    return value, expires


class RedisStore(BufferedStore):
    """Tables as Redis hashes; see the module doc for the format."""

    def __init__(self, url: str, *, batch_size: int = 256, flush_interval: float = 1.0,
                 timeout: float = 2.0, clock: Callable[[], float] | None = None) -> None:
        kwargs: dict[str, Any] = {"batch_size": batch_size, "flush_interval": flush_interval}
        if clock is not None:
            kwargs["clock"] = clock
        super().__init__(**kwargs)
        try:
            import redis
        except ImportError:
            raise StoreError("redis:// stores need the 'redis' Python package "
                             "(pip install redis)") from None
        self.url = url
        client_url, self.prefix = _split_prefix(url)
        try:
            self._redis = redis.Redis.from_url(client_url, socket_timeout=timeout,
                                               socket_connect_timeout=timeout)
            self._redis.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(f"cannot open {url}: {exc}") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)

    def _key(self, table: str) -> str:
        return self.prefix + table

    def _write(self, cleared: set[str], pending: Pending) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for table in cleared:
            pipe.delete(self._key(table))
        for table, rows in pending.items():
            puts: dict[str, bytes] = {}
            gone: list[str] = []
            for key, row in rows.items():
                if row is None:
                    gone.append(key)
                else:
                    # A 2-element msgpack array: header, the packed value, the expiry.
                    puts[key] = b"\x92" + row[0] + msgpack.packb(row[1])
            if puts:
                pipe.hset(self._key(table), mapping=puts)  # type: ignore[arg-type]
            if gone:
                pipe.hdel(self._key(table), *gone)
        pipe.execute()

    def _load(self, table: str) -> dict[str, Row]:
        out: dict[str, Row] = {}
        try:
            for field, data in self._redis.hscan_iter(self._key(table), count=1000):
                key = field.decode("utf-8", "surrogateescape")
                out[key] = _decode_row(data)
        except self._errors as exc:
            raise StoreError(f"cannot read {self.url}: {exc}") from None
        return out

    def _close(self) -> None:
        self._redis.close()
