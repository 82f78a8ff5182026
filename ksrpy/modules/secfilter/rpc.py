"""secfilter.* control commands, answering as Kamailio 5.6 does (lists of printed lines).

Differences on purpose: ``secfilter.reload`` builds every list anew (the
destination list too, which Kamailio 5.6 leaves alone, #3694) and swaps them
in at once; when the database or file cannot be read the old lists stay and
the command fails (500 "Error loading data from database: <why>") where
Kamailio answers a plain text after having emptied its lists. Bad
parameters are errors with a usage text (Kamailio 5.6.3 answers -32000
"Execution Error"). ``secfilter.print`` and ``secfilter.stats`` answer a list
of the lines kamcmd shows: over JSON-RPC Kamailio 5.6.3 returns only the first
line (""), and ``secfilter.print`` without a parameter crashes it (NULL strlen).
Without a parameter ksrpy prints every list, destinations last.
"""

from __future__ import annotations

from typing import Any

from ...core.rpc import RpcError
from ..exports import rpc
from .lists import BLACKLIST, DESTINATION, KINDS, WHITELIST, EntryList, Lists
from .stats import Stats

#: secfilter.print sections: (parameter, title, has a whitelist).
SECTIONS = (("ua", "User-agent", True), ("country", "Country", True),
            ("domain", "Domain", True), ("ip", "IP Address", True), ("user", "User", True))
_USAGE = "Invalid Parameters. Usage: secfilter.{0} {1}\n     Example: secfilter.{0} {2}"


def _entries(entries: EntryList) -> list[str]:
    return [f"    {n:04d} -> {value}" for n, value in enumerate(entries.entries, 1)]


def _section(title: str, black: EntryList, white: EntryList | None) -> list[str]:
    out = ["", title, "=" * len(title), "[+] Blacklisted", "    -----------", *_entries(black)]
    if white is not None:
        out += ["", "[+] Whitelisted", "    -----------", *_entries(white)]
    return out


class SecfilterRpc:
    """The RPC commands; mixed into SecfilterModule."""

    lists: Lists
    stats: Stats

    def reload(self) -> None:
        """Re-read every list (and geoip_db); ValueError and old lists kept on error."""
        raise NotImplementedError  # pragma: no cover - see SecfilterModule

    @rpc("secfilter.reload")
    def rpc_reload(self) -> str:
        """Re-read all lists from db_url/list_file at once; the old ones stay on error."""
        try:
            self.reload()
        except ValueError as exc:
            raise RpcError(500, f"Error loading data from database: {exc}") from None
        return "Data reloaded"

    @rpc("secfilter.print")
    def rpc_print(self, which: str | None = None) -> list[str]:
        """The lists (all, or one of ua, country, domain, user, ip, dst), as Kamailio prints."""
        lists = self.lists
        out: list[str] = []
        if which is not None and str(which) not in {"dst", *KINDS}:
            raise RpcError(500, f"unknown list {which!r} (ua, country, domain, user, ip, dst)")
        if which == "dst":
            out += _section("Destinations", lists.dst, None)
        for key, title, _ in SECTIONS:
            if which is None or which == key:
                out += _section(title, lists.listed(False, key), lists.listed(True, key))
        if which is None:
            out += _section("Destinations", lists.dst, None)
        return out + [""]

    @rpc("secfilter.stats")
    def rpc_stats(self) -> list[str]:
        """Counters of blocked and allowed messages."""
        return self.stats.lines()

    @rpc("secfilter.stats_reset")
    def rpc_stats_reset(self) -> str:
        """Set every counter to 0."""
        self.stats.reset()
        return "The statistics has been reset"

    @rpc("secfilter.add_dst")
    def rpc_add_dst(self, number: Any = None) -> str:
        """Add a number to the destination blacklist (until the next reload)."""
        text = "" if number is None else str(number).strip()
        if not text or isinstance(number, bool):
            raise RpcError(500, _USAGE.format("add_dst", "number", "555123123"))
        self.lists = self.lists.added(DESTINATION, "ua", text)
        return f"Values ({text}) inserted into blacklist destinations"

    def _add(self, action: int, kind: Any, value: Any) -> str:
        name = "blacklist" if action == BLACKLIST else "whitelist"
        cmd, example = ("add_bl", "user sipvicious") if action == BLACKLIST else \
            ("add_wl", "user trusted_user")
        if kind is None or value is None or str(value) == "":
            raise RpcError(500, _USAGE.format(cmd, "type value", example))
        if str(kind) not in KINDS:
            verb = "inserting" if action == BLACKLIST else "insert"  # Kamailio's two texts
            raise RpcError(500, f"Error {verb} values in the {name}: unknown type {kind!r} "
                           "(ua, country, domain, ip, user)")
        self.lists = self.lists.added(action, str(kind), str(value))
        return f"Values ({kind}, {value}) inserted into {name}"

    @rpc("secfilter.add_bl")
    def rpc_add_bl(self, kind: Any = None, value: Any = None) -> str:
        """Add a value to a blacklist: type ua, country, domain, ip or user (until reload)."""
        return self._add(BLACKLIST, kind, value)

    @rpc("secfilter.add_wl")
    def rpc_add_wl(self, kind: Any = None, value: Any = None) -> str:
        """Add a value to a whitelist: type ua, country, domain, ip or user (until reload)."""
        return self._add(WHITELIST, kind, value)
