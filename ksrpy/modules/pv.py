"""KSR.pv: read and write pseudo-variables from Python scripts, as Kamailio's KEMI does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..script.pv import PVError, resolve
from .exports import ArgKind as K
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context


class PvModule(Module):
    """Pseudo-variable access: ``KSR.pv.get("$si")``, ``KSR.pv.sets("$var(x)", "v")``."""

    name = "pv"
    kemi_namespace = "pv"

    @export("get", ("name", K.STR), returns=Returns.XVAL, cfg=False)
    def get(self, ctx: Context, name: str) -> Any:
        """The PV's value: int, str, or None when null."""
        return resolve(name).get(ctx)

    @export("gete", ("name", K.STR), returns=Returns.XVAL, cfg=False)
    def gete(self, ctx: Context, name: str) -> Any:
        """The PV's value, '' when null."""
        value = resolve(name).get(ctx)
        return "" if value is None else value

    @export("getw", ("name", K.STR), returns=Returns.XVAL, cfg=False)
    def getw(self, ctx: Context, name: str) -> Any:
        """The PV's value, '<<null>>' when null."""
        value = resolve(name).get(ctx)
        return "<<null>>" if value is None else value

    @export("getvs", ("name", K.STR), ("default", K.STR), returns=Returns.XVAL, cfg=False)
    def getvs(self, ctx: Context, name: str, default: str) -> Any:
        """The PV's value, ``default`` when null."""
        value = resolve(name).get(ctx)
        return default if value is None else value

    @export("getvn", ("name", K.STR), ("default", K.INT), returns=Returns.XVAL, cfg=False)
    def getvn(self, ctx: Context, name: str, default: int) -> Any:
        """The PV's value, ``default`` when null."""
        value = resolve(name).get(ctx)
        return default if value is None else value

    @export("is_null", ("name", K.STR), returns=Returns.BOOL, cfg=False)
    def is_null(self, ctx: Context, name: str) -> int:
        """True when the PV is null."""
        return 1 if resolve(name).get(ctx) is None else -1

    def _set(self, ctx: Context, name: str, value: Any) -> int:
        pv = resolve(name)
        if pv.set is None:
            raise PVError(f"{pv.name} is read-only")
        pv.set(ctx, value)
        return 1

    @export("sets", ("name", K.STR), ("value", K.STR), returns=Returns.NONE, cfg=False)
    def sets(self, ctx: Context, name: str, value: str) -> int:
        """Assign a string."""
        return self._set(ctx, name, str(value))

    @export("seti", ("name", K.STR), ("value", K.INT), returns=Returns.NONE, cfg=False)
    def seti(self, ctx: Context, name: str, value: int) -> int:
        """Assign an integer."""
        return self._set(ctx, name, int(value))

    @export("unset", ("name", K.STR), returns=Returns.NONE, cfg=False)
    def unset(self, ctx: Context, name: str) -> int:
        """Assign $null (unset)."""
        return self._set(ctx, name, None)
