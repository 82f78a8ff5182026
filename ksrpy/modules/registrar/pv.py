"""$ulc(profile=>attr)[index]: contacts fetched by reg_fetch_contacts (and "exp" in
event_route[usrloc:contact-expired]). Profiles live in the registrar module, as
Kamailio keeps them per process until freed or fetched again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...script import pv as pvmod
from ...script.pv import PV, PVError, register_class
from ..usrloc.records import Contact, aor_hash

if TYPE_CHECKING:
    from ...core.context import Context


class Profile:
    """The contacts of one AoR fetched into a $ulc profile."""

    def __init__(self, aor: str, domain: str, contacts: list[Contact]) -> None:
        self.aor = aor
        self.domain = domain
        self.contacts = contacts


_CONTACT_ATTRS = {
    "addr": lambda c: c.uri, "path": lambda c: c.path or None,
    "received": lambda c: c.received or None, "expires": lambda c: int(c.expires),
    "callid": lambda c: c.callid, "q": lambda c: c.q, "cseq": lambda c: c.cseq,
    "flags": lambda c: c.flags, "cflags": lambda c: c.cflags,
    "user_agent": lambda c: c.user_agent, "socket": lambda c: c.socket or None,
    "modified": lambda c: int(c.last_modified), "methods": lambda c: c.methods,
    "ruid": lambda c: c.ruid, "regid": lambda c: c.reg_id,
    "instance": lambda c: c.instance or None,
    "conid": lambda c: c.tcpconn_id if c.tcpconn_id >= 0 else None,
    "server_id": lambda c: c.server_id,
}
_RECORD_ATTRS = ("aor", "domain", "aorhash", "count")


def _split(inner: str) -> tuple[str, str]:
    name, arrow, attr = inner.partition("=>")
    name, attr = name.strip(), attr.strip()
    if not arrow or not name or (attr not in _CONTACT_ATTRS and attr not in _RECORD_ATTRS):
        raise PVError(f"bad $ulc name {inner!r} (expected profile=>attr, attr one of "
                      f"{', '.join([*_RECORD_ATTRS, *_CONTACT_ATTRS])})")
    return name, attr


def _profiles(ctx: Context) -> dict[str, Profile]:
    module = ctx.engine.modules.get("registrar")
    if module is None:
        raise PVError('$ulc needs loadmodule "registrar.so"')
    return module.profiles  # type: ignore[no-any-return]


def ulc_pv(inner: str, index: Any = None) -> PV:
    """$ulc(profile=>attr) with an optional contact index."""
    name, attr = _split(inner)

    def get(ctx: Context) -> Any:
        prof = _profiles(ctx).get(name)
        if prof is None:
            return None
        if attr == "aor":
            return prof.aor
        if attr == "domain":
            return prof.domain
        if attr == "aorhash":
            return aor_hash(prof.aor)
        if attr == "count":
            return len(prof.contacts)
        i = 0
        if index is not None:
            value = pvmod._index_value(ctx, index)
            if not isinstance(value, int):
                return None
            i = value
        if not 0 <= i < len(prof.contacts):
            return None
        return _CONTACT_ATTRS[attr](prof.contacts[i])

    return PV(f"$ulc({inner})", get)


def register() -> None:
    """Make $ulc known to the PV resolver."""
    register_class("ulc", ulc_pv)
    pvmod.INDEXED["ulc"] = ulc_pv
    pvmod.resolve.cache_clear()
