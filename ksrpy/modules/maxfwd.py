"""maxfwd: Max-Forwards processing (RFC 3261 §16.3 step 2, §16.6 step 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sip.errors import SIPError
from ..sip.headers import HeaderId
from .exports import REQUEST_ROUTE, Module, ParamExport, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context


def _limit(value: int | str) -> int:
    limit = int(value)
    if not 0 <= limit <= 255:
        raise ValueError(f"Max-Forwards limit {limit} is outside 0-255")
    return limit


class MaxfwdModule(Module):
    """Decrement Max-Forwards, add it when missing, detect loops (Kamailio's maxfwd)."""

    name = "maxfwd"
    kemi_namespace = "maxfwd"
    params = (
        ParamExport("max_limit", int, 70, "A larger Max-Forwards is lowered to this value."),
    )

    @export("mf_process_maxfwd_header", ("limit", K.IGP), kemi="process_maxfwd",
            routes=REQUEST_ROUTE, aliases=("maxfwd_process", "process_maxfwd"))
    def process_maxfwd(self, ctx: Context, limit: int | str) -> int:
        """2: header added with ``limit``; 1: decremented; -1: value is 0; -2: unparsable."""
        default = _limit(limit)
        msg = ctx.msg
        try:
            value = msg.max_forwards
        except SIPError:
            return -2
        if value is None:
            msg.add_header("Max-Forwards", str(default))
            return 2
        if value == 0:
            return -1
        value = min(value, self.settings["max_limit"] + 1)
        msg.set_header_value_by_id(HeaderId.MAX_FORWARDS, str(value - 1))
        return 1

    @export("is_maxfwd_lt", ("limit", K.IGP), routes=REQUEST_ROUTE,
            aliases=("maxfwd_at_least", "mf_lowlimit"))
    def is_maxfwd_lt(self, ctx: Context, limit: int | str) -> int:
        """1: Max-Forwards is below ``limit``; -1: not below; -2: no header; -3: unparsable."""
        wanted = _limit(limit)
        try:
            value = ctx.msg.max_forwards
        except SIPError:
            return -3
        if value is None:
            return -2
        return 1 if value < wanted else -1
