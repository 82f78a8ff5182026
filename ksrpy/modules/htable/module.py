"""The htable module: table definitions, persistence, the expiry timer, sht_print.

Tables exist as soon as their ``htable`` modparam is read (so scripts compile
and unit tests run without ``init``). ``init`` then checks that every table a
cfg script names is defined, loads the tables that have ``dbtable`` from the
store at ``db_url``, and runs ``event_route[htable:mod-init]``. The expiry
timer is an asyncio task started on first use once an event loop runs; it
sweeps every ``timer_interval`` seconds (running
``event_route[htable:expired:<table>]`` per expired item) and flushes the
store's write-behind buffer every second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ...store import KeyValueStore, StoreError, check_url, open_store
from ..exports import Module, ParamExport, RouteType, export
from .events import has_event, run_event
from .functions import HtableFunctions
from .iterators import Iterators
from .pv import referenced_tables
from .rpcs import HtableRpc
from .spec import max_items_for, parse_definition
from .table import Table

log = logging.getLogger("ksrpy.htable")

#: Expired items handled per sweep step before yielding to the event loop.
SWEEP_BATCH = 10_000
#: How often the timer wakes up (store flushes); sweeps follow timer_interval.
TICK = 1.0
#: Most items sht_print() logs per table.
PRINT_LIMIT = 1000

_IGNORED = "Accepted for compatibility; ksrpy stores have their own format."


class HtableModule(HtableFunctions, HtableRpc, Module):
    """Shared hash tables ($sht ...) with expiry, limits, events and SQLite/Redis persistence."""

    name = "htable"
    kemi_namespace = "htable"
    params = (
        ParamExport("htable", str, "", "A table definition 'name=>size=8;autoexpire=300;...' "
                    "(repeatable; attributes size, autoexpire, initval, updateexpire, dbtable, "
                    "dbmode, dmqreplicate, max_items)."),
        ParamExport("db_url", str, "", "Store for tables with dbtable: sqlite:///path/file.db "
                    "or redis://host:port/db (SQL URLs such as mysql:// are refused)."),
        ParamExport("max_items", int, 0, "Item bound for tables without max_items= "
                    "(0: 256 per slot, at least 65536, at most 4194304)."),
        ParamExport("timer_interval", int, 20, "Seconds between two expiry sweeps."),
        ParamExport("db_expires", int, 0, "Accepted; ksrpy always stores and restores "
                    "each item's expiry."),
        ParamExport("enable_dmq", int, 0, "Only 0: DMQ replication is not available."),
        ParamExport("dmq_init_sync", int, 0, "Only 0: DMQ replication is not available."),
        ParamExport("key_name_column", str, "key_name", _IGNORED),
        ParamExport("key_type_column", str, "key_type", _IGNORED),
        ParamExport("value_type_column", str, "value_type", _IGNORED),
        ParamExport("key_value_column", str, "key_value", _IGNORED),
        ParamExport("expires_column", str, "expires", _IGNORED),
        ParamExport("array_size_suffix", str, "::size", _IGNORED),
        ParamExport("fetch_rows", int, 100, "Accepted for compatibility."),
        ParamExport("timer_procs", int, 0, "Accepted; one asyncio task sweeps every table."),
        ParamExport("event_callback", str, "", "Not supported yet (logged); use "
                    "event_route[htable:...] in cfg scripts."),
        ParamExport("event_callback_mode", int, 0, "Accepted for compatibility."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.tables: dict[str, Table] = {}
        self.iterators = Iterators()
        self.clock: Callable[[], float] = time.time
        self.store: KeyValueStore | None = None
        self._timer: asyncio.Task[None] | None = None
        self._timer_needed = False
        self._closed = False
        #: table name -> callbacks(key, value) run when an item expires (the ban log uses it).
        self.expiry_listeners: dict[str, list[Callable[[str, Any], None]]] = {}
        super().__init__(engine, settings)

    # ------------------------------------------------------------ parameters

    def set_param(self, key: str, value: Any) -> None:
        """modparam: ``htable`` adds a table (repeatable); the others as declared."""
        if key == "htable":
            self._define(str(value))
            return
        if key == "db_url" and str(value).strip():
            check_url(str(value))
        if key in ("enable_dmq", "dmq_init_sync") and str(value).strip() not in ("0", ""):
            raise ValueError(f"modparam htable.{key}: DMQ replication is not available in "
                             "ksrpy (only 0 is accepted)")
        super().set_param(key, value)
        if key == "max_items":
            for table in self.tables.values():
                table.max_items = max_items_for(table.spec, self.settings["max_items"])

    def ensure_table(self, text: str) -> None:
        """Define a table another module needs, unless the script defined it already.

        Not recorded as a modparam, so a reload does not see it as a changed parameter.
        """
        spec = parse_definition(text)
        if spec.name not in self.tables:
            self.tables[spec.name] = Table(spec, max_items=self.settings.get("max_items", 0),
                                           clock=self.clock)
            self._timer_needed = self._timer_needed or spec.autoexpire > 0

    def _define(self, text: str) -> None:
        spec = parse_definition(text)
        existing = self.tables.get(spec.name)
        if existing is not None:
            if existing.spec == spec:
                return  # the same line read again (a script reload)
            raise ValueError(f"htable {spec.name!r} is defined twice ({existing.spec.text!r} "
                             f"and {spec.text!r})")
        self.tables[spec.name] = Table(spec, max_items=self.settings.get("max_items", 0),
                                       clock=self.clock)
        self.settings["htable"] = (*(self.settings.get("htable") or ()), spec.text)
        self._timer_needed = self._timer_needed or spec.autoexpire > 0

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use ``clock`` (epoch seconds) for every table: tests pass a fake one."""
        self.clock = clock
        for table in self.tables.values():
            table.clock = clock

    # -------------------------------------------------------------- lifecycle

    def init(self) -> None:
        """Check table names used by the script, load stored tables, run htable:mod-init."""
        self._closed = False
        self._check_routes()
        self._load_stored()
        if self.settings["event_callback"]:
            log.warning("htable: event_callback is not supported yet; the cfg "
                        "event_route[htable:...] blocks are used instead")
        run_event(self.engine, "htable:mod-init", route_type=RouteType.REQUEST)
        self._ensure_timer()

    def _check_routes(self) -> None:
        routes = self.engine.routes
        if routes is None:
            return
        missing = sorted(referenced_tables(routes) - set(self.tables))
        if missing:
            defined = ", ".join(sorted(self.tables)) or "none"
            first = missing[0]
            raise ValueError(
                f"htable: the script uses table(s) {', '.join(missing)} ($sht({first}=>...)) "
                f"that no modparam defines; add modparam(\"htable\", \"htable\", "
                f"\"{first}=>size=8;\") (defined: {defined})")

    def _load_stored(self) -> None:
        stored = [t for t in self.tables.values() if t.spec.dbtable]
        if not stored:
            return
        if not self.settings["db_url"]:
            log.warning("htable: table(s) %s have a dbtable but db_url is not set: not loaded "
                        "nor saved", ", ".join(t.name for t in stored))
            return
        try:
            for table in stored:
                self._load_table(table)
        except StoreError as exc:
            raise ValueError(f"htable: {exc}") from None

    def _load_table(self, table: Table) -> None:
        store = self.store_for(table)
        rows = store.load(table.spec.dbtable)
        table.store, table.writable = store, bool(table.spec.dbmode)
        count = table.replace_all(rows)
        if table.writable:
            for key in table.stale_rows(rows):
                store.delete(table.spec.dbtable, key)
        log.info("htable %s: %d item(s) loaded from %s (table %s)%s", table.name, count,
                 store.url, table.spec.dbtable, "" if table.writable else "; dbmode=0: "
                 "changes are not written back")

    def store_for(self, table: Table) -> KeyValueStore:
        """The store at db_url, opened on first use (StoreError when it cannot be)."""
        if self.store is None:
            self.store = open_store(self.settings["db_url"])
            self._timer_needed = True
        return self.store

    def destroy(self) -> None:
        """Stop the timer; flush and close the store (nothing written is lost)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.store is not None:
            try:
                self.store.close()
            except StoreError as exc:
                log.error("htable: closing the store: %s", exc)
            self.store = None
            for table in self.tables.values():
                table.store, table.writable = None, False

    # ------------------------------------------------------------------ timer

    def table_for(self, name: str) -> Table | None:
        """The table called ``name`` (None when undefined); starts the timer when it can."""
        if self._timer is None and self._timer_needed:
            self._ensure_timer()
        return self.tables.get(name)

    def _ensure_timer(self) -> None:
        if self._timer is not None or self._closed or not self._timer_needed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.create_task(self._timer_loop(), name="htable-timer")

    async def _timer_loop(self) -> None:
        interval = self.settings["timer_interval"]
        interval = interval if interval > 0 else 20  # Kamailio's rule for 0 or less
        next_sweep = time.monotonic() + interval
        while True:
            await asyncio.sleep(min(TICK, interval))
            try:
                store = self.store
                if store is not None and store.flush_due():
                    store.flush()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + interval
                    while self.sweep(limit=SWEEP_BATCH) >= SWEEP_BATCH:
                        await asyncio.sleep(0)
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("htable timer")

    def sweep(self, now: float | None = None, limit: int | None = None) -> int:
        """Expire due items (event_route[htable:expired:<t>] first); how many were due."""
        at = int(self.clock() if now is None else now)
        budget = limit if limit is not None else 1 << 62
        done = 0
        for table in list(self.tables.values()):
            if not table.autoexpire or budget <= done:
                continue
            keys = table.pop_due(at, budget - done)
            event = f"htable:expired:{table.name}"
            route = has_event(self.engine, event)
            listeners = self.expiry_listeners.get(table.name, ())
            for key in keys:
                if route and key in table.items:
                    run_event(self.engine, event, record=(key, table.items[key]))
                value = table.items.get(key)
                if table.expire(key, at):
                    for listener in listeners:
                        listener(key, value)
            done += len(keys)
        return done

    # ------------------------------------------------------------- functions

    @export("sht_print", kemi=None)
    def sht_print(self, ctx: Any) -> int:
        """Log every table's items at error level (debugging; at most 1000 per table)."""
        for table in self.tables.values():
            log.error("htable[%s] items: %d autoexpire: %d", table.name, len(table),
                      table.autoexpire)
            for n, (key, value) in enumerate(table.items.items()):
                if n >= PRINT_LIMIT:
                    log.error("\t... %d more", len(table) - PRINT_LIMIT)
                    break
                log.error("\tcell: %s value: %r expire: %s", key, value,
                          table.expires_at(key) or 0)
        return 1
