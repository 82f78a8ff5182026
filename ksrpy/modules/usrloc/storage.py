"""Location persistence through ksrpy/store (SQLite or Redis at ``db_url``).

Layout in the store: table ``usrloc:domains`` lists the location tables
(key = table name, value 1); table ``usrloc:<name>`` has one row per contact,
keyed by its ruid, whose value is the contact as JSON and whose expiry is the
contact's (None for a permanent one). Stores batch writes; write-through
(db_mode 1) flushes after each change, write-back (db_mode 2) leaves flushing
to the timer (at most ``flush_interval`` seconds of changes can be lost).
"""

from __future__ import annotations

import logging

from ...store import KeyValueStore, StoreError, open_store
from .records import Contact

log = logging.getLogger("ksrpy.usrloc")

DOMAINS = "usrloc:domains"


def table_of(domain: str) -> str:
    """The store table holding location table ``domain``."""
    return f"usrloc:{domain}"


class LocationStore:
    """Reads and writes contacts of location tables in one KeyValueStore."""

    def __init__(self, url: str, *, write_through: bool = True) -> None:
        self.url = url
        self.write_through = write_through
        self.store: KeyValueStore = open_store(url)
        self._known: set[str] = set()

    def domains(self) -> list[str]:
        """The location tables recorded in the store."""
        return sorted(self.store.load(DOMAINS))

    def load(self, domain: str) -> list[Contact]:
        """Every stored contact of ``domain`` (expired ones included; corrupt rows skipped)."""
        out: list[Contact] = []
        for key, (value, _exp) in self.store.load(table_of(domain)).items():
            try:
                out.append(Contact.from_json(str(value)))
            except (ValueError, TypeError) as exc:
                log.error("usrloc: skipping corrupt stored contact %s in %s: %s", key,
                          domain, exc)
        return out

    def save(self, domain: str, contact: Contact) -> None:
        """Insert or replace ``contact``."""
        self._remember(domain)
        self.store.put(table_of(domain), contact.ruid, contact.to_json(),
                       contact.expires or None)
        self._sync()

    def delete(self, domain: str, contact: Contact) -> None:
        """Remove ``contact``."""
        self.store.delete(table_of(domain), contact.ruid)
        self._sync()

    def clear(self, domain: str) -> None:
        """Remove every contact of ``domain``."""
        self.store.clear(table_of(domain))
        self._sync()

    def _remember(self, domain: str) -> None:
        if domain not in self._known:
            self._known.add(domain)
            self.store.put(DOMAINS, domain, 1, None)

    def _sync(self) -> None:
        if self.write_through:
            self.store.flush()

    def flush(self, force: bool = False) -> None:
        """Write pending changes (when due, or now with ``force``)."""
        if force or self.store.flush_due():
            self.store.flush()

    def close(self) -> None:
        """Flush and close the store."""
        try:
            self.store.close()
        except StoreError as exc:
            log.error("usrloc: closing %s: %s", self.url, exc)
