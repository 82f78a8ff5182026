"""The usrloc module: location tables in memory, optional persistence, expiry timer.

Other modules (registrar) use the Python API: ``domain``, ``find``, ``insert``,
``update``, ``delete``, ``delete_record``, ``has_room``. Tables are created on
first use; with a ``db_url`` and db_mode 1/2/4 a table's stored contacts are
loaded when it is created (every table the store lists is created at init).
The expiry timer is an asyncio task started on first use once an event loop
runs; ``sweep`` removes expired contacts and calls ``expiry_listeners``
(the registrar runs ``event_route[usrloc:contact-expired]`` from one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ...core.ratelog import RateLimitedLog
from ...store import StoreError, check_url
from ..exports import Module, ParamExport
from .records import Contact, Domain, Record
from .rpc import UsrlocRpc
from .storage import LocationStore

log = logging.getLogger("ksrpy.usrloc")

_NOOP = "Accepted for compatibility; no effect in ksrpy."
_COLUMNS = ("user", "domain", "contact", "expires", "q", "callid", "cseq", "methods",
            "flags", "cflags", "user_agent", "received", "socket", "path", "ruid",
            "instance", "reg_id", "server_id", "connection_id", "keepalive", "partition")
#: Parameters accepted and ignored (documented in docs/registrar.md).
NOOP_PARAMS = (
    *(ParamExport(f"{c}_column", str, c, _NOOP) for c in _COLUMNS),
    ParamExport("nat_bflag", int, -1, "Branch flag marking NATed contacts (stored in cflags "
                "as given; no keepalives)."),
    ParamExport("hash_size", int, 10, _NOOP),
    ParamExport("timer_procs", int, 0, "Accepted; one asyncio task runs the timer."),
    ParamExport("fetch_rows", int, 2000, _NOOP),
    ParamExport("db_insert_update", int, 0, _NOOP),
    ParamExport("db_update_as_insert", int, 0, _NOOP),
    ParamExport("db_check_update", int, 0, _NOOP),
    ParamExport("db_ops_ruid", int, 1, _NOOP),
    ParamExport("db_timer_clean", int, 0, _NOOP),
    ParamExport("db_raw_fetch_type", int, 0, _NOOP),
    ParamExport("db_insert_null", int, 0, _NOOP),
    ParamExport("handle_lost_tcp", int, 0, _NOOP),
    ParamExport("close_expired_tcp", int, 0, _NOOP),
    ParamExport("expires_type", int, 0, _NOOP),
    ParamExport("skip_remote_socket", int, 0, _NOOP),
    ParamExport("rm_expired_delay", int, 0, _NOOP),
    ParamExport("server_id_filter", int, 0, _NOOP),
    ParamExport("version_table", int, 1, _NOOP),
    ParamExport("ka_mode", int, 0, "Only 0: keepalives are not sent."),
    ParamExport("ka_method", str, "OPTIONS", _NOOP),
    ParamExport("ka_from", str, "", _NOOP),
    ParamExport("ka_domain", str, "", _NOOP),
    ParamExport("ka_filter", int, 0, _NOOP),
    ParamExport("ka_timeout", int, 0, _NOOP),
    ParamExport("ka_loglevel", int, 255, _NOOP),
    ParamExport("ka_logmsg", str, "", _NOOP),
    ParamExport("load_rank", int, 0, _NOOP),
    ParamExport("db_clean_tcp", int, 0, _NOOP),
    ParamExport("xavp_contact", str, "", _NOOP),
)


class UsrlocModule(UsrlocRpc, Module):
    """Location tables (AoR -> contacts) with expiry and SQLite/Redis persistence."""

    name = "usrloc"
    kemi_namespace = "usrloc"
    params = (
        ParamExport("db_mode", int, 0, "0 memory only; 1 write-through; 2 write-back (flushed "
                    "each second); 4 load at start, never write. 3 (DB only) is refused."),
        ParamExport("db_url", str, "", "Store for db_mode 1/2/4: sqlite:///path/file.db or "
                    "redis://host:port/db."),
        ParamExport("db_load", int, 1, "0: do not load stored contacts at start."),
        ParamExport("timer_interval", int, 60, "Seconds between two expiry sweeps."),
        ParamExport("use_domain", int, 0, "1: the AoR is user@domain, else the user only."),
        ParamExport("desc_time_order", int, 0, "1: among equal q, newest contact first."),
        ParamExport("matching_mode", int, 0, "0 contact; 1 contact+Call-ID; 2 contact+path; "
                    "3 Call-ID only."),
        ParamExport("cseq_delay", int, 20, "Seconds a REGISTER with the same Call-ID and "
                    "CSeq counts as a retransmission."),
        ParamExport("preload", str, "", "Create this location table at start (repeatable)."),
        ParamExport("max_contacts_total", int, 1_000_000, "ksrpy bound on contacts over all "
                    "tables; REGISTERs adding more get 503 (0: no bound)."),
        *NOOP_PARAMS,
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.domains: dict[str, Domain] = {}
        self.clock: Callable[[], float] = time.time
        self.store: LocationStore | None = None
        self.expiry_listeners: list[Callable[[str, Contact], None]] = []
        self.preload: list[str] = []
        self.total = 0
        self.expired = 0
        self._timer: asyncio.Task[None] | None = None
        self._closed = False
        self.fulllog = RateLimitedLog(log, interval=10.0)
        super().__init__(engine, settings)

    def set_param(self, key: str, value: Any) -> None:
        """modparam, checking db_mode, db_url and ka_mode; preload repeats."""
        if key == "db_mode" and str(value).strip() not in ("0", "1", "2", "4"):
            raise ValueError(f"modparam usrloc.db_mode={value}: only 0, 1, 2 and 4 are "
                             "supported (3, DB only, is not)")
        if key == "db_url" and str(value).strip():
            check_url(str(value))
        if key == "ka_mode" and str(value).strip() not in ("0", ""):
            raise ValueError("modparam usrloc.ka_mode: keepalives are not supported (only 0)")
        if key == "preload":
            self.preload.append(str(value))
        super().set_param(key, value)

    # -------------------------------------------------------------- lifecycle

    def init(self) -> None:
        """Open the store (db_mode 1/2/4) and load every stored and preloaded table."""
        self._closed = False
        mode = self.settings["db_mode"]
        if mode and self.store is None:
            url = self.settings["db_url"]
            if not url:
                raise ValueError(f"db_mode {mode} needs db_url (sqlite:///... or redis://...)")
            try:
                self.store = LocationStore(url, write_through=mode == 1)
                names = self.store.domains() if self.settings["db_load"] else []
            except StoreError as exc:
                raise ValueError(f"usrloc: {exc}") from None
            for name in names:
                self.domain(name)
        for name in self.preload:
            self.domain(name)
        self._ensure_timer()

    def destroy(self) -> None:
        """Stop the timer; flush and close the store."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use ``clock`` (epoch seconds): tests pass a fake one."""
        self.clock = clock

    @property
    def writes(self) -> bool:
        """True when changes go to the store (db_mode 1 or 2)."""
        return self.store is not None and self.settings["db_mode"] in (1, 2)

    # ------------------------------------------------------------------ tables

    def domain(self, name: str, create: bool = True) -> Domain | None:
        """Location table ``name``; created (and loaded from the store) on first use."""
        self._ensure_timer()
        dom = self.domains.get(name)
        if dom is not None or not create:
            return dom
        dom = self.domains[name] = Domain(name)
        if self.store is not None and self.settings["db_load"]:
            self._load(dom)
        return dom

    def _load(self, dom: Domain) -> None:
        assert self.store is not None
        now = self.clock()
        loaded = 0
        try:
            contacts = self.store.load(dom.name)
        except StoreError as exc:
            log.error("usrloc: cannot load table %s: %s", dom.name, exc)
            return
        newest = bool(self.settings["desc_time_order"])
        for contact in sorted(contacts, key=lambda c: c.last_modified):
            if not contact.valid(now):
                if self.writes:
                    self.store.delete(dom.name, contact)
                continue
            dom.ensure(contact.aor).insert(contact, newest)
            loaded += 1
        self.total += loaded
        log.info("usrloc: %d contact(s) of table %s loaded from %s", loaded, dom.name,
                 self.store.url)

    def aor_of(self, user: str, host: str) -> str:
        """The AoR key for a user and domain (user@domain with use_domain)."""
        if self.settings["use_domain"]:
            return f"{user}@{host}" if user else host
        return user or host

    def has_room(self, adding: int = 1) -> bool:
        """False when ``adding`` more contacts would pass max_contacts_total (logged)."""
        bound = self.settings["max_contacts_total"]
        if bound <= 0 or self.total + adding <= bound:
            return True
        self.fulllog.warning("full", "usrloc: location tables full (%d contacts, "
                             "max_contacts_total=%d): registration refused", self.total, bound)
        return False

    # --------------------------------------------------------- contact changes

    def find(self, rec: Record, uri: str, callid: str, cseq: int, path: str = "",
             ) -> tuple[int, Contact | None]:
        """Kamailio's get_ucontact: (0, c) found, (1, None) none, (-1, c) bad CSeq,
        (-2, c) retransmission."""
        mode = self.settings["matching_mode"]
        for c in rec.contacts:
            if mode == 3:
                hit = c.callid == callid
            else:
                hit = c.uri == uri
                if hit and mode == 1:
                    hit = c.callid == callid
                elif hit and mode == 2 and path:
                    hit = c.path == path
            if not hit:
                continue
            if c.callid == callid:
                if cseq < c.cseq:
                    return -1, c
                if cseq == c.cseq:
                    fresh = c.last_modified + self.settings["cseq_delay"] > self.clock()
                    return (-2 if fresh else -1), c
            return 0, c
        return 1, None

    def insert(self, domain: Domain, contact: Contact) -> None:
        """Add a new contact to its AoR."""
        domain.ensure(contact.aor).insert(contact, bool(self.settings["desc_time_order"]))
        self.total += 1
        self._save(domain, contact)

    def update(self, domain: Domain, contact: Contact, **changes: Any) -> None:
        """Change a contact's fields; a q change moves it in the order."""
        rec = domain.ensure(contact.aor)
        moved = "q" in changes and changes["q"] != contact.q
        for key, value in changes.items():
            setattr(contact, key, value)
        if moved:
            rec.remove(contact)
            rec.insert(contact, bool(self.settings["desc_time_order"]))
        self._save(domain, contact)

    def delete(self, domain: Domain, contact: Contact, mem_only: bool = False) -> None:
        """Remove one contact (and its AoR when it was the last)."""
        rec = domain.get(contact.aor)
        if rec is None or contact not in rec.contacts:
            return
        rec.remove(contact)
        self.total -= 1
        domain.drop_if_empty(contact.aor)
        if self.writes and not mem_only and self.store is not None:
            self.store.delete(domain.name, contact)

    def delete_record(self, domain: Domain, aor: str, mem_only: bool = False) -> int:
        """Remove an AoR with all its contacts; how many contacts went."""
        rec = domain.get(aor)
        if rec is None:
            return 0
        gone = list(rec.contacts)
        for contact in gone:
            self.delete(domain, contact, mem_only)
        domain.records.pop(aor, None)
        return len(gone)

    def _save(self, domain: Domain, contact: Contact) -> None:
        if self.writes and self.store is not None and not contact.flags & FL_MEM:
            self.store.save(domain.name, contact)

    # ------------------------------------------------------------------ timer

    def _ensure_timer(self) -> None:
        if self._timer is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.create_task(self._timer_loop(), name="usrloc-timer")

    async def _timer_loop(self) -> None:
        interval = self.settings["timer_interval"]
        interval = interval if interval > 0 else 60
        next_sweep = time.monotonic() + interval
        while True:
            await asyncio.sleep(min(1.0, interval))
            try:
                if self.store is not None:
                    self.store.flush()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + interval
                    self.sweep()
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("usrloc timer")

    def sweep(self, now: float | None = None) -> int:
        """Remove expired contacts (listeners called first for each); how many."""
        at = self.clock() if now is None else now
        done = 0
        for dom in list(self.domains.values()):
            for rec in list(dom.records.values()):
                for contact in [c for c in rec.contacts if not c.valid(at)]:
                    for listener in self.expiry_listeners:
                        try:
                            listener(dom.name, contact)
                        except Exception:  # noqa: BLE001 - one listener must not stop expiry
                            log.exception("usrloc expiry listener")
                    self.delete(dom, contact)
                    done += 1
        self.expired += done
        return done


#: Contact flag: kept in memory only (save() flag 0x01), as Kamailio's FL_MEM.
FL_MEM = 1 << 0
