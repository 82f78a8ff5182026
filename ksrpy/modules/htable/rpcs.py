"""htable.* control commands, answering in the shapes Kamailio 5.6's jsonrpcs gives.

Errors use Kamailio's codes and texts (500 "No such htable", 404 "Key not
found in htable." ...). ``htable.stats`` adds two ksrpy fields to Kamailio's
(``max_items``, ``evicted``); the other answers have exactly Kamailio's keys.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ...core.rpc import InvalidParams, RpcError
from ...store import StoreError
from ..exports import rpc

if TYPE_CHECKING:
    from ...store import KeyValueStore
    from .table import Table

SET_OK = "Ok. Key set to new value."


def _int_param(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidParams(f"{what} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParams(f"{what} must be an integer, got {value!r}") from None


def _item_type(value: Any) -> str:
    return "str" if isinstance(value, str) else "int"


class HtableRpc:
    """The RPC commands; mixed into HtableModule."""

    tables: dict[str, Table]

    def table_for(self, name: str) -> Table | None:  # pragma: no cover - see HtableModule
        """The table called ``name`` (None when undefined)."""
        raise NotImplementedError

    def store_for(self, table: Table) -> KeyValueStore:  # pragma: no cover - see HtableModule
        """The store holding ``table`` (opened on demand)."""
        raise NotImplementedError

    def _rpc_table(self, name: Any) -> Table:
        table = self.table_for(str(name))
        if table is None:
            raise RpcError(500, "No such htable")
        return table

    @rpc("htable.dump")
    def rpc_dump(self, htable: str) -> list[dict[str, Any]]:
        """Every item of a table by hash slot: [{entry, size, slot: [{name, value, type}]}]."""
        table = self._rpc_table(htable)
        return [{"entry": slot, "size": len(cells),
                 "slot": [{"name": k, "value": v, "type": _item_type(v)} for k, v in cells]}
                for slot, cells in table.by_slot()]

    @rpc("htable.get")
    def rpc_get(self, htable: str, key: str) -> dict[str, Any]:
        """One item: {item: {name, value, flags, expire}}."""
        table = self._rpc_table(htable)
        name = str(key)
        value = table.lookup(name)
        if value is None:
            raise RpcError(500, "Key name doesn't exist in htable.")
        exp = table.expires_at(name)
        when = "NEVER" if exp is None else time.strftime("%Y-%m-%d %H:%M:%S",
                                                         time.localtime(exp))
        return {"item": {"name": name, "value": value,
                         "flags": 2 if isinstance(value, str) else 0, "expire": when}}

    @rpc("htable.sets")
    def rpc_sets(self, htable: str, key: str, value: Any) -> str:
        """Set an item to a string value."""
        self._rpc_table(htable).set(str(key), str(value))
        return SET_OK

    @rpc("htable.seti")
    def rpc_seti(self, htable: str, key: str, value: Any) -> str:
        """Set an item to an integer value."""
        self._rpc_table(htable).set(str(key), _int_param(value, "value"))
        return SET_OK

    @rpc("htable.setex")
    def rpc_setex(self, htable: str, key: str, expire: Any) -> str:
        """Set an item's expiry in seconds (tables with autoexpire)."""
        self._rpc_table(htable).set_expire(str(key), _int_param(expire, "expire"))
        return "Ok"

    @rpc("htable.setxs")
    def rpc_setxs(self, htable: str, key: str, value: Any, expire: Any) -> str:
        """Set an item to a string value with an expiry in seconds."""
        self._rpc_table(htable).set(str(key), str(value), _int_param(expire, "expire"))
        return SET_OK

    @rpc("htable.setxi")
    def rpc_setxi(self, htable: str, key: str, value: Any, expire: Any) -> str:
        """Set an item to an integer value with an expiry in seconds."""
        self._rpc_table(htable).set(str(key), _int_param(value, "value"),
                                    _int_param(expire, "expire"))
        return SET_OK

    @rpc("htable.delete")
    def rpc_delete(self, htable: str, key: str) -> str:
        """Delete one item."""
        if not self._rpc_table(htable).delete(str(key)):
            raise RpcError(404, "Key not found in htable.")
        return "Ok. Key deleted."

    @rpc("htable.flush")
    def rpc_flush(self, htable: str) -> str:
        """Delete every item of a table."""
        self._rpc_table(htable).reset()
        return "Ok. Htable flushed."

    def _stored_table(self, htable: str) -> tuple[Table, KeyValueStore]:
        table = self._rpc_table(htable)
        if not getattr(self, "settings", {}).get("db_url"):
            raise RpcError(500, "No htable db_url")
        if not table.spec.dbtable:
            raise RpcError(500, f"htable {table.name} has no dbtable")
        try:
            return table, self.store_for(table)
        except StoreError as exc:
            raise RpcError(500, str(exc)) from None

    @rpc("htable.reload")
    def rpc_reload(self, htable: str) -> str:
        """Replace a table's items with its rows in the store, in one step."""
        table, store = self._stored_table(htable)
        try:
            rows = store.load(table.spec.dbtable)
        except StoreError as exc:
            raise RpcError(500, f"Htable reload failed: {exc}") from None
        table.replace_all(rows)
        return "Ok. Htable reloaded."

    @rpc("htable.store")
    def rpc_store(self, htable: str) -> str:
        """Write a whole table to its store table (replacing what was there)."""
        table, store = self._stored_table(htable)
        table.store_all(store)
        store.flush()
        return "Ok. Htable stored."

    @rpc("htable.listTables")
    def rpc_list_tables(self) -> list[dict[str, Any]]:
        """Every table's definition (Kamailio lists the last defined first)."""
        if not self.tables:
            raise RpcError(500, "No htables")
        return [{"name": t.name, "dbtable": t.spec.dbtable, "dbmode": t.spec.dbmode,
                 "expire": t.autoexpire, "updateexpire": int(t.updateexpire),
                 "size": t.spec.slots, "dmqreplicate": t.spec.dmqreplicate}
                for t in reversed(self.tables.values())]

    @rpc("htable.stats")
    def rpc_stats(self) -> list[dict[str, Any]]:
        """Per table: slots, items (all) and the fewest/most items in a slot."""
        if not self.tables:
            raise RpcError(500, "No htables")
        out = []
        for t in reversed(self.tables.values()):
            sizes = [len(cells) for _slot, cells in t.by_slot()]
            used = len(sizes)
            least = 0 if used < t.spec.slots else min(sizes, default=0)
            out.append({"name": t.name, "slots": t.spec.slots, "all": len(t),
                        "min": least, "max": max(sizes, default=0),
                        "max_items": t.max_items, "evicted": t.evicted})
        return out
