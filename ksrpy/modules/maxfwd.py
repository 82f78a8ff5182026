"""maxfwd: Max-Forwards processing (RFC 3261 §16.3 step 2, §16.6 step 3).

Return codes and the max_limit rule follow Kamailio 5.6.3, checked on the
wire by tests/interop/test_sanity_vs_kamailio.py. The header value is read
as Kamailio's str2s reads it (1-5 digits after trimming), except that ksrpy
does not wrap values above 65535 into an unsigned short, and an empty value
is unparsable (-2) rather than 0 (see docs/differences.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..sip.headers import HeaderId
from .exports import REQUEST_ROUTE, Module, ParamExport, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context
    from ..sip.message import SIPMessage

#: Kamailio reads at most five digits (its str2s); more is a parse error.
_VALUE_RE = re.compile(r"[0-9]{1,5}")
_ABSENT = -1
_UNPARSABLE = -2


def _value(msg: SIPMessage) -> int:
    """The first Max-Forwards value; -1 when absent, -2 when not 1-5 digits."""
    value = msg.header_by_id(HeaderId.MAX_FORWARDS)
    if value is None:
        return _ABSENT
    if _VALUE_RE.fullmatch(value) is None:
        return _UNPARSABLE
    return int(value)


class MaxfwdModule(Module):
    """Decrement Max-Forwards, add it when missing, detect loops (Kamailio's maxfwd)."""

    name = "maxfwd"
    kemi_namespace = "maxfwd"
    params = (
        ParamExport("max_limit", int, 70, "A larger Max-Forwards is lowered to this value."),
    )

    def set_param(self, key: str, value: Any) -> None:
        """Set a modparam; max_limit must not be negative."""
        super().set_param(key, value)
        if key == "max_limit" and self.settings["max_limit"] < 0:
            raise ValueError(f"modparam maxfwd.max_limit must be 0 or more, got {value!r}")

    def _bad_limit(self, function: str, limit: int) -> bool:
        """True (and a rate-limited log line) when ``limit`` is outside 0-255."""
        if 0 <= limit <= 255:
            return False
        self.engine.badlog.warning(("maxfwd", function, limit),
                                   "%s(%d): the limit must be 0-255", function, limit)
        return True

    @export("mf_process_maxfwd_header", ("limit", K.IGP), kemi="process_maxfwd",
            routes=REQUEST_ROUTE, aliases=("maxfwd_process", "process_maxfwd"))
    def process_maxfwd(self, ctx: Context, limit: int | str) -> int:
        """2: added with ``limit``; 1: decremented; -1: value 0 or bad limit; -2: unparsable."""
        default = int(limit)
        if self._bad_limit("mf_process_maxfwd_header", default):
            return -1
        msg = ctx.msg
        value = _value(msg)
        if value == _UNPARSABLE:
            return -2
        if value == _ABSENT:
            msg.add_header("Max-Forwards", str(default))
            return 2
        if value == 0:
            return -1
        value = min(value, self.settings["max_limit"] + 1)
        msg.set_max_forwards(value - 1)
        return 1

    @export("is_maxfwd_lt", ("limit", K.IGP), routes=REQUEST_ROUTE,
            aliases=("maxfwd_at_least", "mf_lowlimit"))
    def is_maxfwd_lt(self, ctx: Context, limit: int | str) -> int:
        """1: value below ``limit``; -1: not below or bad limit; -2: no header; -3: unparsable."""
        wanted = int(limit)
        if self._bad_limit("is_maxfwd_lt", wanted):
            return -1
        value = _value(ctx.msg)
        if value < 0:
            return value - 1
        return 1 if value < wanted else -1
