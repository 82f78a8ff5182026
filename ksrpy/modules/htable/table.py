"""One hash table: items, expiry, the memory bound, and write-through to a store.

Semantics follow Kamailio 5.6's ht_api.c. Times are whole epoch seconds from
``clock`` (injectable). An item with an expiry ``e`` is expired once
``e < now``; an expired item reads as absent until the sweep removes it
(``pop_due`` + ``expire``, driven by the module's timer). Only tables with
``autoexpire > 0`` expire items, as in Kamailio (per-item expiries set on
other tables are ignored).

Memory: ``items`` (key -> value) and ``expires`` (key -> epoch) dicts plus a
heap of (expiry, key) with lazy deletion (stale entries skipped, the heap
rebuilt when it gets twice as big as needed). At ``max_items`` a new key first
evicts one item: the one closest to expiry, else the least recently written.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .match import Test, compile_re, core_hash, count_test
from .spec import TableSpec, max_items_for

if TYPE_CHECKING:
    from ...store import KeyValueStore

log = logging.getLogger("ksrpy.htable")

Value = int | str
_INT64 = 1 << 64


def norm_value(value: Any) -> Value:
    """A value as a table stores it: int (wrapped to 64 bits) or str."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        value &= _INT64 - 1
        return value - _INT64 if value >= 1 << 63 else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


class Table:
    """One htable; ``store`` (when set) receives every change if ``writable``."""

    def __init__(self, spec: TableSpec, *, max_items: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.spec = spec
        self.name = spec.name
        self.autoexpire = spec.autoexpire
        self.initval = spec.initval
        self.updateexpire = bool(spec.updateexpire)
        self.max_items = max_items_for(spec, max_items)
        self.clock = clock
        self.items: dict[str, Value] = {}
        self.expires: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self.store: KeyValueStore | None = None
        self.writable = False
        self.evicted = 0
        self._last_evict_log = 0.0

    def now(self) -> int:
        """The current time in whole seconds."""
        return int(self.clock())

    # ------------------------------------------------------------------ reads

    def _live(self, key: str, now: int) -> bool:
        exp = self.expires.get(key)
        return exp is None or exp >= now

    def lookup(self, key: str) -> Value | None:
        """The item's value, None when absent or expired (no initval)."""
        value = self.items.get(key)
        if value is None:
            return None
        if self.autoexpire and not self._live(key, self.now()):
            return None
        return value

    def get(self, key: str) -> Value | None:
        """$sht: the value, else initval when the table has one, else None."""
        value = self.lookup(key)
        return self.initval if value is None else value

    def expire_in(self, key: str) -> int:
        """$shtex: seconds until the item expires; 0 when absent, expired or never."""
        if not self.autoexpire:
            return 0
        exp = self.expires.get(key)
        if exp is None or key not in self.items:
            return 0
        return max(0, exp - self.now())

    def expires_at(self, key: str) -> int | None:
        """The item's absolute expiry, None for never."""
        return self.expires.get(key) if self.autoexpire else None

    def __len__(self) -> int:
        return len(self.items)

    # ----------------------------------------------------------------- writes

    def set(self, key: str, value: Any, exv: int = 0) -> None:
        """Set a value; ``exv > 0`` sets the expiry too (sht_setxs), else autoexpire rules."""
        value = norm_value(value)
        items = self.items
        now = self.now() if self.autoexpire else 0
        exists = key in items and (not self.autoexpire or self._live(key, now))
        if not exists:
            if key in items:
                self._forget(key)
            elif len(items) >= self.max_items:
                self._evict(now)
        elif not self.autoexpire:
            del items[key]  # re-inserted last: dict order = least recently written first
        items[key] = value
        if self.autoexpire:
            if exv > 0:
                self._set_exp(key, now + exv)
            elif not exists or self.updateexpire:
                self._set_exp(key, now + self.autoexpire)
        self._persist(key)

    def set_expire(self, key: str, seconds: int) -> None:
        """$shtex = n / sht_setex: expire in ``seconds`` (0: never); no-op without autoexpire."""
        if not self.autoexpire or key not in self.items:
            return
        if seconds > 0:
            self._set_exp(key, self.now() + seconds)
        else:
            self.expires.pop(key, None)
        self._persist(key)

    def add(self, key: str, delta: int) -> int | None:
        """$shtinc/$shtdec: add to an int item (created from initval), new value or None."""
        now = self.now() if self.autoexpire else 0
        value = self.items.get(key)
        if value is not None and self.autoexpire and not self._live(key, now):
            self._forget(key)
            value = None
        if value is None:
            if self.initval is None:
                return None
            if len(self.items) >= self.max_items:
                self._evict(now)
            new = norm_value(self.initval + delta)
            if self.autoexpire:
                self._set_exp(key, now + self.autoexpire)
        elif isinstance(value, str):
            return None
        else:
            new = norm_value(value + delta)
            if self.autoexpire:
                if self.updateexpire:
                    self._set_exp(key, now + self.autoexpire)
            else:
                del self.items[key]  # re-inserted last, as set() does
        self.items[key] = new
        self._persist(key)
        assert isinstance(new, int)
        return new

    def delete(self, key: str) -> bool:
        """Remove an item; True when it was there."""
        if key not in self.items:
            return False
        self._forget(key)
        if self.writable and self.store is not None:
            self.store.delete(self.spec.dbtable, key)
        return True

    def reset(self) -> None:
        """Remove every item (sht_reset, htable.flush)."""
        self.items = {}
        self.expires = {}
        self._heap = []
        if self.writable and self.store is not None:
            self.store.clear(self.spec.dbtable)

    def remove_where(self, test: Test, by_value: bool) -> int:
        """Remove the items whose name (or string value) passes ``test``; how many."""
        if by_value:
            gone = [k for k, v in self.items.items() if isinstance(v, str) and test(v)]
        else:
            gone = [k for k in self.items if test(k)]
        for key in gone:
            self.delete(key)
        return len(gone)

    # --------------------------------------------------------------- matching

    def count(self, expr: str, by_value: bool) -> int:
        """$shtcn / $shtcv: items whose name / value matches ``expr`` (expired ones skipped)."""
        if not expr:
            return 0
        try:
            kind, test = count_test(expr, by_value)
        except ValueError as exc:
            log.error("htable %s: %s", self.name, exc)
            return 0
        if kind == "all":
            return len(self.items)
        if kind == "none":
            return 0
        now = self.now()
        live = self._live if self.autoexpire else None
        n = 0
        for key, value in self.items.items():
            if live is not None and not live(key, now):
                continue
            if kind == "int":
                n += isinstance(value, int) and value == test
            elif by_value:
                n += isinstance(value, str) and test(value)
            else:
                n += bool(test(key))
        return n

    def any_match(self, test: Test, by_value: bool) -> bool:
        """sht_match_name / sht_match_str_value: does any item match (as Kamailio, expired too)."""
        if by_value:
            return any(isinstance(v, str) and test(v) for v in self.items.values())
        return any(test(k) for k in self.items)

    def remove_re(self, pattern: str, by_value: bool) -> int:
        """sht_rm_name_re / sht_rm_value_re; ValueError for a bad regex."""
        search = compile_re(pattern).search
        return self.remove_where(lambda s: search(s) is not None, by_value)

    # ----------------------------------------------------------------- expiry

    def pop_due(self, now: int, limit: int) -> list[str]:
        """Up to ``limit`` keys whose expiry is before ``now``, removed from the heap."""
        heap, expires, out = self._heap, self.expires, []
        while heap and heap[0][0] < now and len(out) < limit:
            exp, key = heapq.heappop(heap)
            if expires.get(key) == exp and key in self.items:
                out.append(key)
        return out

    def expire(self, key: str, now: int) -> bool:
        """Remove ``key`` if it is (still) expired at ``now``; True when removed."""
        exp = self.expires.get(key)
        if exp is None or exp >= now or key not in self.items:
            if exp is not None and key in self.items:
                heapq.heappush(self._heap, (exp, key))
            return False
        return self.delete(key)

    def next_expiry(self) -> int | None:
        """The earliest expiry in the heap (maybe stale), None when nothing expires."""
        return self._heap[0][0] if self._heap else None

    # ---------------------------------------------------------------- loading

    def replace_all(self, rows: dict[str, tuple[Value, float | None]]) -> int:
        """Swap in ``rows`` from a store in one assignment; expired rows skipped. How many."""
        now = self.now()
        items: dict[str, Value] = {}
        expires: dict[str, int] = {}
        for key, (value, exp) in rows.items():
            if exp is not None and self.autoexpire:
                if int(exp) < now:
                    continue
                expires[key] = int(exp)
            items[key] = norm_value(value)
        if len(items) > self.max_items:
            log.warning("htable %s: %d stored items, only %d kept (max_items)", self.name,
                        len(items), self.max_items)
            keep = sorted(items, key=lambda k: expires.get(k, 1 << 62))[-self.max_items:]
            items = {k: items[k] for k in keep}
            expires = {k: e for k, e in expires.items() if k in items}
        self.items, self.expires = items, expires
        self._heap = [(e, k) for k, e in expires.items()]
        heapq.heapify(self._heap)
        return len(items)

    def stale_rows(self, rows: dict[str, tuple[Value, float | None]]) -> list[str]:
        """Keys of ``rows`` that are already expired (to delete from the store)."""
        if not self.autoexpire:
            return []
        now = self.now()
        return [k for k, (_v, exp) in rows.items() if exp is not None and int(exp) < now]

    def store_all(self, store: KeyValueStore) -> None:
        """Write the whole table to ``store``, replacing its rows (htable.store)."""
        store.clear(self.spec.dbtable)
        for key, value in self.items.items():
            store.put(self.spec.dbtable, key, value, self.expires_at(key))

    # ------------------------------------------------------------------ slots

    def slot_of(self, key: str) -> int:
        """The Kamailio hash slot of ``key`` (for dump and stats)."""
        return core_hash(key) & (self.spec.slots - 1)

    def by_slot(self) -> Iterator[tuple[int, list[tuple[str, Value]]]]:
        """Items grouped by slot, slots ascending, as Kamailio's htable.dump lists them."""
        slots: dict[int, list[tuple[int, str, Value]]] = {}
        mask = self.spec.slots - 1
        for key, value in self.items.items():
            h = core_hash(key)
            slots.setdefault(h & mask, []).append((h, key, value))
        for slot in sorted(slots):
            cells = sorted(slots[slot], key=lambda c: c[0])
            yield slot, [(key, value) for _h, key, value in cells]

    # --------------------------------------------------------------- internal

    def _set_exp(self, key: str, exp: int) -> None:
        if self.expires.get(key) == exp:
            return
        self.expires[key] = exp
        heap = self._heap
        heapq.heappush(heap, (exp, key))
        if len(heap) > 2 * len(self.expires) + 1024:
            self._heap = [(e, k) for k, e in self.expires.items()]
            heapq.heapify(self._heap)

    def _forget(self, key: str) -> None:
        self.items.pop(key, None)
        self.expires.pop(key, None)

    def _evict(self, now: int) -> None:
        victim = None
        heap, expires = self._heap, self.expires
        while heap:
            exp, key = heapq.heappop(heap)
            if expires.get(key) == exp and key in self.items:
                victim = key
                break
        if victim is None:
            victim = next(iter(self.items))
        self.delete(victim)
        self.evicted += 1
        mono = time.monotonic()
        if mono - self._last_evict_log >= 10.0:
            self._last_evict_log = mono
            log.warning("htable %s is full (%d items): evicting the items closest to expiry "
                        "or least recently written (%d evicted so far)", self.name,
                        self.max_items, self.evicted)

    def _persist(self, key: str) -> None:
        if self.writable and self.store is not None:
            self.store.put(self.spec.dbtable, key, self.items[key], self.expires_at(key))
