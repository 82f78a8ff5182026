"""Location records: contacts (bindings) grouped by AoR, AoRs grouped by table (domain).

A ``Contact`` holds what Kamailio's ucontact holds; ``expires`` is an absolute
epoch time (0: permanent), ``q`` Kamailio's integer q (0..1000, -1 unspecified).
A ``Record`` keeps its contacts ordered by q, highest first; equal q keeps the
older binding first (Kamailio's order with desc_time_order=0), or newest first
with desc_time_order=1.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

#: Kamailio's q value for "no q given".
Q_UNSPECIFIED = -1
#: Kamailio's ALL_METHODS mask (a contact without Allow accepts every method).
ALL_METHODS = 0xFFFFFFFF

_RUID_PREFIX = f"uloc-{os.getpid():x}"
_ruid_counter = 0


def new_ruid() -> str:
    """A record unique id, unique in this process and across restarts (time based)."""
    global _ruid_counter
    _ruid_counter += 1
    return f"{_RUID_PREFIX}-{os.urandom(3).hex()}-{_ruid_counter}"


def aor_hash(aor: str) -> int:
    """A stable hash of an AoR (Kamailio's aorhash role; the value differs)."""
    return zlib.crc32(aor.encode())


@dataclass(slots=True)
class Contact:
    """One binding of an AoR."""

    aor: str
    uri: str
    expires: float = 0
    q: int = Q_UNSPECIFIED
    callid: str = ""
    cseq: int = 0
    path: str = ""
    received: str = ""
    user_agent: str = ""
    socket: str = ""
    flags: int = 0
    cflags: int = 0
    methods: int = ALL_METHODS
    instance: str = ""
    reg_id: int = 0
    ruid: str = field(default_factory=new_ruid)
    last_modified: float = 0
    server_id: int = 0
    tcpconn_id: int = -1

    def valid(self, now: float) -> bool:
        """True while the binding has not expired (permanent ones always)."""
        return self.expires == 0 or self.expires > now

    def to_json(self) -> str:
        """The contact as a JSON string (the stored form)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Contact:
        """A contact back from its stored form (unknown keys ignored)."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(slots=True)
class Record:
    """The contacts of one AoR, highest q first."""

    aor: str
    contacts: list[Contact] = field(default_factory=list)

    def insert(self, contact: Contact, newest_first: bool = False) -> None:
        """Place ``contact`` by q (after equal q, or before them with newest_first)."""
        for i, other in enumerate(self.contacts):
            if other.q < contact.q or (newest_first and other.q == contact.q):
                self.contacts.insert(i, contact)
                return
        self.contacts.append(contact)

    def remove(self, contact: Contact) -> None:
        """Drop ``contact`` (no error when absent)."""
        try:
            self.contacts.remove(contact)
        except ValueError:
            pass

    def valid(self, now: float) -> list[Contact]:
        """The contacts that have not expired."""
        return [c for c in self.contacts if c.valid(now)]

    def by_ruid(self, ruid: str) -> Contact | None:
        """The contact with record id ``ruid``."""
        return next((c for c in self.contacts if c.ruid == ruid), None)


@dataclass(slots=True)
class Domain:
    """One location table ("location"): AoR -> Record."""

    name: str
    records: dict[str, Record] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def contact_count(self) -> int:
        """How many contacts the table holds (expired ones not yet swept included)."""
        return sum(len(r.contacts) for r in self.records.values())

    def get(self, aor: str) -> Record | None:
        """The record of ``aor``."""
        return self.records.get(aor)

    def ensure(self, aor: str) -> Record:
        """The record of ``aor``, created empty when missing."""
        rec = self.records.get(aor)
        if rec is None:
            rec = self.records[aor] = Record(aor)
        return rec

    def drop_if_empty(self, aor: str) -> None:
        """Forget ``aor`` when it has no contacts left."""
        rec = self.records.get(aor)
        if rec is not None and not rec.contacts:
            del self.records[aor]

    def contacts(self) -> Iterator[Contact]:
        """Every contact of the table."""
        for rec in self.records.values():
            yield from rec.contacts
