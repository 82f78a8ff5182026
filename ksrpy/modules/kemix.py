"""kemix: KSR.kx getters (Kamailio's kemix module), the Lua scripts' way to read message fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..script.pv import resolve
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context


def _getter(name: str, pv_name: str, empty: bool, doc: str):  # type: ignore[no-untyped-def]
    """Exported KSR.kx function ``name`` reading ``pv_name``; '' for null when ``empty``."""
    pv = resolve(pv_name)

    def get(self: KemixModule, ctx: Context) -> Any:
        value = pv.get(ctx)
        if value is None and empty:
            return ""
        return value

    get.__doc__ = doc
    get.__name__ = name
    returns = Returns.STR if empty else Returns.XVAL
    return export(name, kemi=name, cfg=False, returns=returns)(get)


class KemixModule(Module):
    """``KSR.kx.get_*`` (null when absent) and ``KSR.kx.gete_*`` ('' when absent)."""

    name = "kemix"
    kemi_namespace = "kx"

    _TABLE = {
        "ruri": ("$ru", "The Request-URI."), "ruser": ("$rU", "The R-URI user."),
        "rhost": ("$rd", "The R-URI host."), "furi": ("$fu", "The From URI."),
        "fuser": ("$fU", "The From user."), "fhost": ("$fd", "The From host."),
        "turi": ("$tu", "The To URI."), "tuser": ("$tU", "The To user."),
        "thost": ("$td", "The To host."), "duri": ("$du", "The destination URI."),
        "ua": ("$ua", "The User-Agent."), "method": ("$rm", "The method."),
        "srcip": ("$si", "The source IP."), "rcvip": ("$Ri", "The local IP."),
        "callid": ("$ci", "The Call-ID."), "body": ("$rb", "The body."),
        "proto": ("$proto", "The transport."),
    }
    _INTS = {"srcport": ("$sp", "The source port."), "rcvport": ("$Rp", "The local port."),
             "status": ("$rs", "The reply status code.")}

    for _key, (_pv, _doc) in _TABLE.items():
        locals()[f"get_{_key}"] = _getter(f"get_{_key}", _pv, False, _doc)
        locals()[f"gete_{_key}"] = _getter(f"gete_{_key}", _pv, True, _doc + " ('' when absent)")
    for _key, (_pv, _doc) in _INTS.items():
        locals()[f"get_{_key}"] = _getter(f"get_{_key}", _pv, False, _doc)
    del _key, _pv, _doc
