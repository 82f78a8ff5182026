"""ul.* control commands, answering in the shapes Kamailio 5.6's jsonrpcs gives.

Verified against Kamailio 5.6.3: ul.dump nests Domains/Domain/AoRs/Info/Contacts;
ul.lookup gives {AoR, Contacts}; errors 500 "Domain table not found",
500 "AOR not found in location table" (lookup), 404 "AOR not found"
(rm_contact); ul.rm, ul.rm_contact, ul.add and ul.flush answer {} on success.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.rpc import RpcError
from ..exports import rpc
from .records import Q_UNSPECIFIED, Contact, Domain, aor_hash

if TYPE_CHECKING:
    from .module import UsrlocModule

NOT_SET = "[not set]"


def q_float(q: int) -> float:
    """Kamailio's q as a float (q2double: -1 prints as -0.001)."""
    return q / 1000


def contact_info(c: Contact, now: float) -> dict[str, Any]:
    """One contact as Kamailio's ul RPCs print it."""
    if c.expires == 0:
        expires: Any = "permanent"
    elif c.expires <= now:
        expires = "expired"
    else:
        expires = int(c.expires - now)
    return {"Contact": {
        "Address": c.uri, "Expires": expires, "Q": q_float(c.q), "Call-ID": c.callid,
        "CSeq": c.cseq, "User-Agent": c.user_agent, "Received": c.received or NOT_SET,
        "Path": c.path or NOT_SET, "State": "CS_NEW", "Flags": c.flags, "CFlags": c.cflags,
        "Socket": c.socket or NOT_SET, "Methods": c.methods, "Ruid": c.ruid,
        "Instance": c.instance or NOT_SET, "Reg-Id": c.reg_id, "Server-Id": c.server_id,
        "Tcpconn-Id": c.tcpconn_id, "Keepalive": 0, "Last-Keepalive": int(c.last_modified),
        "KA-Roundtrip": 0, "Last-Modified": int(c.last_modified)}}


def _opt(value: Any) -> str:
    """An optional ul.add string ('0' and '.' mean unset)."""
    text = "" if value is None else str(value)
    return "" if text in ("0", ".") else text


class UsrlocRpc:
    """The RPC commands; mixed into UsrlocModule."""

    def _rpc_domain(self: UsrlocModule, table: Any) -> Domain:
        dom = self.domain(str(table), create=False)
        if dom is None:
            raise RpcError(500, "Domain table not found")
        return dom

    def _rpc_aor(self: UsrlocModule, aor: Any) -> str:
        text = str(aor)
        if not self.engine.modules.get("registrar") or self._case_sensitive():
            return text
        return text.lower()

    def _case_sensitive(self: UsrlocModule) -> bool:
        reg = self.engine.modules.get("registrar")
        return bool(reg is not None and reg.settings.get("case_sensitive"))

    @rpc("ul.dump")
    def rpc_dump(self: UsrlocModule, brief: Any = None) -> dict[str, Any]:
        """Every location table with its AoRs and contacts."""
        now = self.clock()
        out = []
        for dom in self.domains.values():
            aors = []
            for rec in dom.records.values():
                info: dict[str, Any] = {"AoR": rec.aor, "HashID": aor_hash(rec.aor)}
                if brief != "brief":
                    info["Contacts"] = [contact_info(c, now) for c in rec.contacts]
                aors.append({"Info": info})
            out.append({"Domain": {"Domain": dom.name, "Size": 1024, "AoRs": aors,
                                   "Stats": {"Records": len(dom), "Max-Slots": 1}}})
        return {"Domains": out}

    @rpc("ul.lookup")
    def rpc_lookup(self: UsrlocModule, table: Any, aor: Any) -> dict[str, Any]:
        """The contacts of one AoR: {AoR, Contacts}."""
        dom = self._rpc_domain(table)
        rec = dom.get(self._rpc_aor(aor))
        now = self.clock()
        if rec is None or not rec.valid(now):
            raise RpcError(500, "AOR not found in location table")
        return {"AoR": rec.aor, "Contacts": [contact_info(c, now) for c in rec.valid(now)]}

    @rpc("ul.rm")
    def rpc_rm(self: UsrlocModule, table: Any, aor: Any) -> dict[str, Any]:
        """Delete an AoR with all its contacts."""
        dom = self._rpc_domain(table)
        self.delete_record(dom, self._rpc_aor(aor))
        return {}

    @rpc("ul.rm_contact")
    def rpc_rm_contact(self: UsrlocModule, table: Any, aor: Any, contact: Any
                       ) -> dict[str, Any]:
        """Delete one contact (matched exactly) of an AoR."""
        dom = self._rpc_domain(table)
        rec = dom.get(self._rpc_aor(aor))
        if rec is None:
            raise RpcError(404, "AOR not found")
        found = next((c for c in rec.contacts if c.uri == str(contact)), None)
        if found is None:
            raise RpcError(404, "Contact not found")
        self.delete(dom, found)
        return {}

    @rpc("ul.add")
    def rpc_add(self: UsrlocModule, table: Any = None, aor: Any = None, contact: Any = None,
                expires: Any = None, q: Any = None, path: Any = None, flags: Any = 0,
                cflags: Any = 0, methods: Any = 0, received: Any = None,
                socket: Any = None) -> dict[str, Any]:
        """Add or replace a contact: table aor contact expires q path flags cflags methods
        [received [socket]]."""
        if table is None or aor is None or contact is None or expires is None or q is None:
            raise RpcError(500, "Not enough parameters or wrong format")
        try:
            secs = int(expires)
            qv = float(q)
            qi = int(round(qv * 1000)) if qv <= 1 else int(qv)
            flag_v, cflag_v, meth_v = int(flags), int(cflags), int(methods)
        except (TypeError, ValueError):
            raise RpcError(500, "Not enough parameters or wrong format") from None
        dom = self.domain(str(table))
        assert dom is not None
        key = self._rpc_aor(aor)
        now = self.clock()
        rec = dom.get(key)
        old = next((c for c in rec.contacts if c.uri == str(contact)), None) if rec else None
        fields: dict[str, Any] = {
            "expires": now + secs if secs > 0 else 0, "q": qi if qi >= 0 else Q_UNSPECIFIED,
            "path": _opt(path), "flags": flag_v, "cflags": cflag_v,
            "methods": meth_v or 0xFFFFFFFF, "received": _opt(received),
            "socket": _opt(socket), "callid": "dfjrewr12386fd6-343@kamailio.rpc", "cseq": 1,
            "user_agent": "kamailio SIP Router - RPC Server", "last_modified": now}
        if old is not None:
            self.update(dom, old, **fields)
        else:
            if not self.has_room():
                raise RpcError(500, "Location table full")
            self.insert(dom, Contact(key, str(contact), **fields))
        return {}

    @rpc("ul.flush")
    def rpc_flush(self: UsrlocModule) -> dict[str, Any]:
        """Write pending changes to the store now (no-op without one)."""
        if self.store is not None:
            self.store.flush(force=True)
        return {}
