"""``memory:`` — tables kept in this process only (nothing survives a restart)."""

from __future__ import annotations

from .base import KeyValueStore, Row, StoreError, Value, pack_value, unpack_value


class MemoryStore(KeyValueStore):
    """A store without persistence: ``load`` returns what this instance was given."""

    def __init__(self, url: str = "memory:") -> None:
        self.url = url
        self._tables: dict[str, dict[str, tuple[bytes, float | None]]] = {}
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    def load(self, table: str) -> dict[str, Row]:
        """Every row of ``table``."""
        self._check()
        rows = self._tables.get(table, {})
        return {k: (unpack_value(v), exp) for k, (v, exp) in rows.items()}

    def put(self, table: str, key: str, value: Value, expires_at: float | None) -> None:
        """Insert or replace one row (values go through msgpack, as in the other stores)."""
        self._check()
        self._tables.setdefault(table, {})[key] = (pack_value(value), expires_at)

    def delete(self, table: str, key: str) -> None:
        """Remove one row."""
        self._check()
        self._tables.get(table, {}).pop(key, None)

    def clear(self, table: str) -> None:
        """Remove every row of ``table``."""
        self._check()
        self._tables.pop(table, None)

    def close(self) -> None:
        """Forget everything."""
        self._closed = True
        self._tables.clear()
