"""The secfilter module: parameters, loading the lists, the optional MaxMind country database.

``init`` loads the lists from ``db_url`` (Kamailio's secfilter table in
SQLite) and/or ``list_file`` and opens ``geoip_db``, failing on any error as
Kamailio fails to start. Without ``init`` the lists start empty.
"""

from __future__ import annotations

import os
from typing import Any

from ..exports import Module, ParamExport
from .functions import SecfilterFunctions
from .geo import CountryDB
from .lists import Lists
from .rpc import SecfilterRpc
from .sources import identifier, read_file, read_table, sqlite_file
from .stats import Stats

PARAMS = (
    ParamExport("db_url", str, "", "SQLite file with Kamailio's secfilter table: "
                "sqlite:///path/file.db (other drivers are refused; empty: no database)."),
    ParamExport("table_name", str, "secfilter", "Table with the lists."),
    ParamExport("action_col", str, "action",
                "Column: 0 blacklist, 1 whitelist, 2 destination blacklist."),
    ParamExport("type_col", str, "type",
                "Column: 0 user-agent (or destination number), 1 country, 2 domain, 3 IP, 4 user."),
    ParamExport("data_col", str, "data", "Column with the value (a prefix, except exact dsts)."),
    ParamExport("dst_exact_match", int, 1,
                "1: a destination must equal a list entry; 0: an entry is a prefix."),
    ParamExport("list_file", str, "", "ksrpy: a text file of entries, 'bl|wl TYPE VALUE' or "
                "'dst NUMBER' per line (read after db_url; relative to the script's folder)."),
    ParamExport("geoip_db", str, "", "ksrpy: a MaxMind DB (GeoIP2/GeoLite2 Country or City) "
                "for secf_check_country() without argument (needs the maxminddb package)."),
)


class SecfilterModule(SecfilterFunctions, SecfilterRpc, Module):
    """Black- and whitelists of user agents, IPs, countries, domains, users; SQLi checks."""

    name = "secfilter"
    kemi_namespace = "secfilter"
    params: tuple[ParamExport, ...] = PARAMS

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.lists = Lists.build(())
        self.stats = Stats()
        self._geo: CountryDB | None = None
        self._geo_loaded = False
        super().__init__(engine, settings)

    def set_param(self, key: str, value: Any) -> None:
        """modparam, checking table/column names and db_url's scheme."""
        old = self.settings.get(key)
        super().set_param(key, value)
        new = self.settings[key]
        try:
            if key == "db_url" and new:
                sqlite_file(new, ".")
            if key.endswith("_col") or key == "table_name":
                identifier(new, f"modparam secfilter.{key}")
            if key == "dst_exact_match":
                self.settings[key] = 1 if new else 0  # as Kamailio: any non-zero is 1
        except ValueError:
            self.settings[key] = old
            raise

    def base_dir(self) -> str:
        """The folder of the main script (relative file names start there), else the cwd."""
        files = getattr(getattr(self.engine, "routes", None), "files", None)
        return os.path.dirname(os.path.abspath(files[0])) if files else os.getcwd()

    def _path(self, name: str) -> str:
        return name if os.path.isabs(name) else os.path.join(self.base_dir(), name)

    def read_lists(self) -> Lists:
        """New lists from db_url then list_file; ValueError naming the bad row or line."""
        s = self.settings
        rows = []
        if s["db_url"]:
            columns = (s["action_col"], s["type_col"], s["data_col"])
            rows += read_table(sqlite_file(s["db_url"], self.base_dir()), s["table_name"],
                               columns)
        if s["list_file"]:
            rows += read_file(self._path(s["list_file"]))
        return Lists.build(rows)

    def _open_geo(self) -> CountryDB | None:
        path = self.settings["geoip_db"]
        return CountryDB(self._path(path)) if path else None

    def reload(self) -> None:
        """Read every list and geoip_db anew and swap all in at once; on error keep the old."""
        lists = self.read_lists()
        geo = self._open_geo()
        old, self._geo, self._geo_loaded = self._geo, geo, True
        self.lists = lists
        if old is not None:
            old.close()

    def country_db(self) -> CountryDB | None:
        """The geoip_db reader, opened on first use when init did not run."""
        if not self._geo_loaded:
            self._geo, self._geo_loaded = self._open_geo(), True
        return self._geo

    def init(self) -> None:
        """Load the lists and open geoip_db; ValueError (start-up fails) on any error."""
        try:
            self.reload()
        except ValueError as exc:
            raise ValueError(f"secfilter: {exc}") from None

    def destroy(self) -> None:
        """Close the country database."""
        if self._geo is not None:
            self._geo.close()
            self._geo = None
