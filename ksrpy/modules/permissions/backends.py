"""Where the address and trusted rules come from: ``address_file`` or the SQLite ``db_url``.

Each read builds complete new tables; the caller swaps them in with one
assignment, so a reload that fails (a bad line, a bad row, a missing file)
leaves the previous tables in use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from .address import AddressTables, entry_from_row, parse_address_file
from .db import DBError, PermissionsDB, sqlite_path
from .trusted import TrustedRule, TrustedTable, lenient_rule, make_rule

log = logging.getLogger("ksrpy.permissions")

ADDRESS_COLUMNS = ("grp_col", "ip_addr_col", "mask_col", "port_col", "tag_col")
TRUSTED_COLUMNS = ("source_col", "proto_col", "from_col", "ruri_col", "tag_col", "priority_col")


class Backends:
    """The current address and trusted tables of one module instance."""

    def __init__(self, settings: dict[str, Any], base_dir: Callable[[], str]) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.addresses: AddressTables | None = None
        self.trusted: TrustedTable | None = None
        self._query_db: PermissionsDB | None = None

    def path(self, name: str) -> str:
        """A file name from the cfg: absolute, or relative to the script's folder."""
        return name if os.path.isabs(name) else os.path.join(self.base_dir(), name)

    def database(self) -> PermissionsDB | None:
        """The SQLite file of db_url (None when db_url is not set)."""
        url = self.settings["db_url"]
        return PermissionsDB(sqlite_path(url, self.base_dir())) if url else None

    def _columns(self, names: tuple[str, ...]) -> list[str]:
        return [self.settings[n] for n in names]

    # --------------------------------------------------------------- address

    def read_addresses(self) -> AddressTables:
        """New tables from address_file (it wins) or db_url; ValueError naming the bad row."""
        if not self.settings["load_backends"] & 1:
            return AddressTables()
        file = self.settings["address_file"]
        db = self.database()
        if file:
            entries = parse_address_file(self.path(file))
        elif db is not None:
            table = self.settings["address_table"]
            entries = []
            for n, row in enumerate(db.load(table, self._columns(ADDRESS_COLUMNS)), 1):
                try:
                    entries.append(entry_from_row(row))
                except ValueError as exc:
                    raise DBError(f"{db.path}: table {table}, row {n}: {exc}") from None
        else:
            entries = []
        return AddressTables.build(entries, self.settings["max_subnets"])

    def address_tables(self) -> AddressTables:
        """The current tables (read on first use when init did not run)."""
        if self.addresses is None:
            try:
                self.addresses = self.read_addresses()
            except ValueError as exc:
                log.error("permissions: address table not loaded: %s", exc)
                self.addresses = AddressTables()
        return self.addresses

    # --------------------------------------------------------------- trusted

    def read_trusted(self) -> TrustedTable:
        """A new cached trusted table from db_url; ValueError naming the bad row."""
        db = self.database()
        if db is None:
            raise ValueError("db_url is not set: there is no trusted table")
        table = self.settings["trusted_table"]
        rules = []
        for n, row in enumerate(db.load(table, self._columns(TRUSTED_COLUMNS)), 1):
            try:
                rule = make_rule(row)
            except ValueError as exc:
                raise DBError(f"{db.path}: table {table}, row {n}: {exc}") from None
            if rule is not None:
                rules.append(rule)
        return TrustedTable.build(rules)

    def trusted_table(self) -> TrustedTable:
        """The cached table of db_mode 1 (read on first use when init did not run)."""
        if self.trusted is None:
            try:
                self.trusted = self.read_trusted()
            except ValueError as exc:
                log.error("permissions: trusted table not loaded: %s", exc)
                self.trusted = TrustedTable()
        return self.trusted

    def trusted_rules(self, src_ip: str) -> list[TrustedRule]:
        """The candidate rules of ``src_ip``: from the cache (db_mode 1) or a query (0)."""
        if not self.settings["load_backends"] & 2:
            return []
        if self.settings["db_mode"] == 1:
            return self.trusted_table().rules_for(src_ip)
        return self._query_trusted(src_ip)

    def probe_trusted(self) -> None:
        """Check once that the trusted table and its columns can be queried (db_mode 0)."""
        db = self.database()
        if db is not None:
            db.probe(self.settings["trusted_table"], self._columns(TRUSTED_COLUMNS))

    def _query_trusted(self, src_ip: str) -> list[TrustedRule]:
        if self._query_db is None:
            self._query_db = self.database()
            if self._query_db is None:
                raise DBError("db_url is not set: there is no trusted table")
        s = self.settings
        rows = self._query_db.select(s["trusted_table"], self._columns(TRUSTED_COLUMNS[1:5]),
                                     where=s["source_col"], value=src_ip,
                                     order=s["priority_col"])
        return [r for r in (lenient_rule(src_ip, row) for row in rows) if r is not None]

    def close(self) -> None:
        """Close the per-call database connection."""
        if self._query_db is not None:
            self._query_db.close()
            self._query_db = None
