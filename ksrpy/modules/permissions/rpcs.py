"""permissions.* control commands, answering in the shapes Kamailio 5.6 gives.

Reloads build complete new tables and swap them in only when the whole file
or table was read: on any error the old lists stay and the command fails
(500 "Reload failed: <why>"). ``reload_delta`` spaces reloads of one table
(500 "ongoing reload" within the delay), as Kamailio. Dumps are lists of
Kamailio's structs; ``table``/``id`` are positions (Kamailio shows hash slots).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.rpc import RpcError
from ..exports import rpc
from .address import parse_ip
from .rules import RulePair
from .trusted import PROTOS

if TYPE_CHECKING:
    from .backends import Backends
    from .rules import RuleCache

RELOAD_OK = "Reload OK"


def _null(text: str | None) -> str:
    return text if text else "NULL"


class PermissionsRpc:
    """The RPC commands; mixed into PermissionsModule."""

    backends: Backends
    rules: RuleCache
    settings: dict[str, Any]
    clock: Callable[[], float]
    _reloaded: dict[str, float]

    def rule_paths(self, first: str | None, second: str | None) -> tuple[str, str]:
        """The allow and deny file paths of a call."""
        raise NotImplementedError  # pragma: no cover - see PermissionsModule

    def _throttle(self, which: str) -> None:
        delta, now = self.settings["reload_delta"], self.clock()
        last = self._reloaded.get(which)
        if delta > 0 and last is not None and now - last < delta:
            raise RpcError(500, "ongoing reload")
        self._reloaded[which] = now

    @rpc("permissions.addressReload")
    def rpc_address_reload(self) -> str:
        """Re-read the address table (address_file or db_url); old lists kept on error."""
        self._throttle("address")
        if not self.settings["address_file"] and not self.settings["db_url"]:
            raise RpcError(500, "Reload failed: neither address_file nor db_url is set")
        try:
            tables = self.backends.read_addresses()
        except ValueError as exc:
            raise RpcError(500, f"Reload failed: {exc}") from None
        self.backends.addresses = tables
        return RELOAD_OK

    @rpc("permissions.addressDump")
    def rpc_address_dump(self) -> list[dict[str, Any]]:
        """Exact address entries: table, group, item {ip, port, tag}."""
        entries = self.backends.address_tables().dump_exact()
        return [{"table": n, "group": e.group,
                 "item": {"ip": str(parse_ip(e.address)), "port": e.port, "tag": _null(e.tag)}}
                for n, e in enumerate(entries)]

    @rpc("permissions.subnetDump")
    def rpc_subnet_dump(self) -> list[dict[str, Any]]:
        """Subnet entries in match order: id, group, item {ip, mask, port, tag}."""
        entries = self.backends.address_tables().subnets
        return [{"id": n, "group": e.group,
                 "item": {"ip": str(parse_ip(e.address)), "mask": e.mask, "port": e.port,
                          "tag": e.tag or ""}}
                for n, e in enumerate(entries)]

    @rpc("permissions.domainDump")
    def rpc_domain_dump(self) -> list[dict[str, Any]]:
        """Domain name entries: table, group, item {domain_name, port, tag}."""
        entries = self.backends.address_tables().dump_domains()
        return [{"table": n, "group": e.group,
                 "item": {"domain_name": e.address, "port": e.port, "tag": _null(e.tag)}}
                for n, e in enumerate(entries)]

    @rpc("permissions.trustedReload")
    def rpc_trusted_reload(self) -> str:
        """Re-read the trusted table (db_mode 1); old rules kept on error."""
        self._throttle("trusted")
        if self.settings["db_mode"] != 1:
            raise RpcError(500, "Reload failed: the trusted table is not cached (db_mode=0)")
        try:
            table = self.backends.read_trusted()
        except ValueError as exc:
            raise RpcError(500, f"Reload failed: {exc}") from None
        self.backends.trusted = table
        return RELOAD_OK

    @rpc("permissions.trustedDump")
    def rpc_trusted_dump(self) -> list[dict[str, Any]]:
        """Cached trusted rules: table, item {ip, proto, pattern, ruri_pattern, tag, priority}."""
        if self.settings["db_mode"] != 1:
            raise RpcError(500, "No trusted table")
        rules = self.backends.trusted_table().dump()
        return [{"table": n, "item": {
                    "ip": r.src_ip, "proto": PROTOS[r.proto], "pattern": _null(r.from_pattern),
                    "ruri_pattern": _null(r.ruri_pattern), "tag": _null(r.tag),
                    "priority": r.priority}}
                for n, r in enumerate(rules)]

    def _loaded_pair(self, basename: str) -> RulePair:
        allow, deny = self.rule_paths(str(basename), None)
        files = self.rules.loaded(allow), self.rules.loaded(deny)
        if files[0] is None or files[1] is None:
            raise RpcError(500, f"File <{allow}> has not been loaded")
        return RulePair(files[0], files[1])

    @rpc("permissions.testUri")
    def rpc_test_uri(self, basename: str, uri: str, contact: str) -> str:
        """Allowed/Denied for (URI, Contact) by the loaded files basename+suffixes."""
        pair = self._loaded_pair(basename)
        return "Allowed" if pair.empty or pair.decide(str(uri), str(contact)) > 0 else "Denied"

    @rpc("permissions.allowUri")
    def rpc_allow_uri(self, basename: str, uri: str, contact: str) -> str:
        """The same as permissions.testUri (as in Kamailio)."""
        return self.rpc_test_uri(basename, uri, contact)
