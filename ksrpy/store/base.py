"""The interface every state backend implements: named tables of int/str values with expiry.

A store holds *tables*; each table maps a string key to a value (``int`` or
``str``) and an absolute expiry time (epoch seconds, ``None`` for never).
Values are serialised with msgpack. Stores do not expire anything themselves:
the owner (htable) filters expired rows when it loads them and deletes them.

``BufferedStore`` is the write-behind layer the persistent backends share:
``put``/``delete``/``clear`` only record the change (coalesced per key, so a key
written a thousand times costs one row) and ``flush`` writes everything in one
transaction. A flush happens when ``batch_size`` changes are pending, when
``flush_interval`` seconds have passed since the last one (checked on each
change and by the owner's timer), before every ``load`` and on ``close``.
The crash window is therefore at most ``flush_interval`` seconds (default 1 s)
of changes; a clean stop (``close``) loses nothing. A failed flush keeps the
changes pending and retries after a back-off (5 s doubling to 60 s).
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable
from typing import Any

import msgpack

log = logging.getLogger("ksrpy.store")

Value = int | str
Row = tuple[Value, float | None]

#: Most keys kept pending while the backend is unreachable; beyond, changes are dropped.
MAX_PENDING = 1_000_000


class StoreError(Exception):
    """A store cannot be opened, read or written."""


def pack_value(value: Any) -> bytes:
    """A value as msgpack bytes; only int and str (bool as int) are accepted."""
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, int | str):
        raise TypeError(f"store values are int or str, not {type(value).__name__}")
    return msgpack.packb(value)


def unpack_value(data: bytes) -> Value:
    """A value back from msgpack bytes (StoreError when it is not int or str)."""
    try:
        value = msgpack.unpackb(data)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise StoreError(f"corrupt value in store: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise StoreError(f"unexpected value type in store: {type(value).__name__}")
    return value


class KeyValueStore(abc.ABC):
    """Named tables of ``key -> (value, expires_at | None)``."""

    url: str = ""

    @abc.abstractmethod
    def load(self, table: str) -> dict[str, Row]:
        """Every row of ``table`` (pending changes included), expired ones too."""

    @abc.abstractmethod
    def put(self, table: str, key: str, value: Value, expires_at: float | None) -> None:
        """Insert or replace one row."""

    @abc.abstractmethod
    def delete(self, table: str, key: str) -> None:
        """Remove one row (no error when it is absent)."""

    @abc.abstractmethod
    def clear(self, table: str) -> None:
        """Remove every row of ``table``."""

    def flush(self) -> None:  # noqa: B027 - optional hook: unbuffered stores have nothing to do
        """Write pending changes now (no-op for unbuffered stores)."""

    def flush_due(self) -> bool:
        """True when a timer should call ``flush`` now."""
        return False

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release the backend; the store is unusable afterwards."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


#: Pending changes: table -> key -> (packed value, expires_at), or None for a delete.
Pending = dict[str, dict[str, tuple[bytes, float | None] | None]]


class BufferedStore(KeyValueStore):
    """Write-behind batching shared by the SQLite and Redis stores (see the module doc)."""

    def __init__(self, *, batch_size: int = 256, flush_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self._clock = clock
        self._pending: Pending = {}
        self._cleared: set[str] = set()
        self._count = 0
        self._last_flush = clock()
        self._retry_at = 0.0
        self._backoff = 0.0
        self._closed = False
        self.dropped = 0

    # ------------------------------------------------------------ recording

    def put(self, table: str, key: str, value: Value, expires_at: float | None) -> None:
        """Record an insert/replace; flushed later (see the module doc)."""
        self._record(table, key, (pack_value(value), expires_at))

    def delete(self, table: str, key: str) -> None:
        """Record a delete."""
        self._record(table, key, None)

    def clear(self, table: str) -> None:
        """Record the removal of every row of ``table`` (earlier pending rows dropped)."""
        self._check_open()
        dropped = self._pending.pop(table, None)
        self._count -= len(dropped) if dropped else 0
        self._cleared.add(table)
        self._changed()

    def _record(self, table: str, key: str, row: tuple[bytes, float | None] | None) -> None:
        self._check_open()
        rows = self._pending.setdefault(table, {})
        if key not in rows:
            if self._count >= MAX_PENDING:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10000 == 0:
                    log.error("%r: %d changes dropped: the backend has been unreachable "
                              "too long", self, self.dropped)
                return
            self._count += 1
        rows[key] = row
        self._changed()

    def _changed(self) -> None:
        if self._count >= self.batch_size or self.flush_due():
            self.flush()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    # -------------------------------------------------------------- flushing

    def flush_due(self) -> bool:
        """True when changes are pending, the interval has passed and no back-off holds."""
        if not self._pending and not self._cleared:
            return False
        now = self._clock()
        return now - self._last_flush >= self.flush_interval and now >= self._retry_at

    @property
    def pending(self) -> int:
        """How many changes wait to be written."""
        return self._count + len(self._cleared)

    def flush(self) -> None:
        """Write every pending change in one transaction; on failure keep them and back off."""
        now = self._clock()
        if not self._pending and not self._cleared:
            self._last_flush = now
            return
        if now < self._retry_at:
            return
        cleared, pending = self._cleared, self._pending
        try:
            self._write(cleared, pending)
        except Exception as exc:  # noqa: BLE001 - keep serving; retry later
            self._backoff = min(60.0, self._backoff * 2 or 5.0)
            self._retry_at = now + self._backoff
            log.error("%r: cannot write %d change(s): %s (retrying in %.0fs)", self,
                      self.pending, exc, self._backoff)
            return
        self._pending, self._cleared, self._count = {}, set(), 0
        self._last_flush = now
        self._backoff = self._retry_at = 0.0

    def load(self, table: str) -> dict[str, Row]:
        """Flush, then read every row of ``table`` from the backend."""
        self._check_open()
        self._retry_at = 0.0
        self.flush()
        if self._pending or self._cleared:
            raise StoreError(f"{self!r}: pending changes could not be written")
        return self._load(table)

    def close(self) -> None:
        """Flush (one last attempt, whatever the back-off) and close the backend."""
        if self._closed:
            return
        self._retry_at = 0.0
        try:
            self.flush()
        finally:
            self._closed = True
            self._close()
        if self._pending or self._cleared:
            log.error("%r: closed with %d unwritten change(s)", self, self.pending)

    # -------------------------------------------------------------- backends

    @abc.abstractmethod
    def _write(self, cleared: set[str], pending: Pending) -> None:
        """Apply ``cleared`` tables first, then the rows of ``pending``, atomically."""

    @abc.abstractmethod
    def _load(self, table: str) -> dict[str, Row]:
        """Read every row of ``table``."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the backend."""
