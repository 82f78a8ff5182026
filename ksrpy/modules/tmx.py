"""tmx: tm extras (route-type tests, precheck, cancel branches, reply by Call-ID)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..sip.errors import SIPError
from .exports import ONREPLY_ROUTE, Module, RouteType, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context

log = logging.getLogger("ksrpy.tmx")


class TmxModule(Module):
    """Kamailio's tmx functions on top of ksrpy's tm."""

    name = "tmx"
    kemi_namespace = "tmx"

    def _tm(self) -> Any:
        tm = self.engine.tm
        if tm is None:
            log.error("tmx needs the tm module (loadmodule \"tm.so\")")
        return tm

    @export("t_precheck_trans")
    def t_precheck_trans(self, ctx: Context) -> int:
        """1 when another worker is already handling a retransmission of this request.

        ksrpy handles one message at a time and absorbs retransmissions before
        the script runs, so this is always -1.
        """
        return -1

    @export("t_is_branch_route")
    def t_is_branch_route(self, ctx: Context) -> int:
        """1 inside branch_route."""
        return 1 if ctx.route_type & RouteType.BRANCH else -1

    @export("t_is_failure_route")
    def t_is_failure_route(self, ctx: Context) -> int:
        """1 inside failure_route."""
        return 1 if ctx.route_type & RouteType.FAILURE else -1

    @export("t_is_reply_route")
    def t_is_reply_route(self, ctx: Context) -> int:
        """1 inside onreply_route or reply_route."""
        return 1 if ctx.route_type & (RouteType.ONREPLY | RouteType.CORE_REPLY) else -1

    @export("t_is_request_route")
    def t_is_request_route(self, ctx: Context) -> int:
        """1 inside request_route (and the routes it calls)."""
        return 1 if ctx.route_type & RouteType.REQUEST else -1

    @export("t_flush_flags")
    def t_flush_flags(self, ctx: Context) -> int:
        """The transaction shares the request's context: flags are always in sync (1)."""
        return 1

    @export("t_cancel_branches", ("which", K.STR, True), routes=ONREPLY_ROUTE)
    def t_cancel_branches(self, ctx: Context, which: str = "all") -> int:
        """Cancel pending branches: all, others (but the reply's), this (the reply's)."""
        tm = self._tm()
        proxy = ctx.extra.get("tm")
        if tm is None or proxy is None:
            return -1
        mode = str(which or "all")
        if mode not in ("all", "others", "this"):
            log.error("t_cancel_branches: unknown branch set %r (all, others, this)", mode)
            return -1
        tm.cancel_branches(proxy, mode, ctx.extra.get("tm_current"))
        return 1

    @export("t_reply_callid", ("callid", K.SPVE), ("cseq", K.SPVE), ("code", K.IGP),
            ("reason", K.SPVE))
    def t_reply_callid(self, ctx: Context, callid: str, cseq: str, code: int,
                       reason: str) -> int:
        """Reply to the first transaction with this Call-ID and CSeq number (1, -1 if none)."""
        tm = self._tm()
        if tm is None:
            return -1
        try:
            number = int(str(cseq).strip())
        except ValueError:
            log.error("t_reply_callid: CSeq %r is not a number", cseq)
            return -1
        for proxy in list(tm.by_server.values()):
            msg = proxy.ctx.msg
            try:
                same = msg.call_id == str(callid) and msg.cseq[0] == number
            except SIPError:  # a stored request whose CSeq does not parse
                continue
            if same and not proxy.final_sent and msg.method not in ("ACK", "CANCEL"):
                return tm.reply(proxy.ctx, int(code), str(reason))
        return -1
