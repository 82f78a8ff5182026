"""tmx: tm extras the example scripts use (route-type tests, precheck, cancel branches)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exports import ArgKind as K
from .exports import Module, RouteType, export

if TYPE_CHECKING:
    from ..core.context import Context


class TmxModule(Module):
    """Kamailio's tmx functions on top of ksrpy's tm."""

    name = "tmx"
    kemi_namespace = "tmx"

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

    @export("t_cancel_branches", ("which", K.STR, True))
    def t_cancel_branches(self, ctx: Context, which: str = "all") -> int:
        """Cancel the pending branches of the current transaction."""
        tm = self.engine.tm
        proxy = ctx.extra.get("tm")
        if tm is None or proxy is None:
            return -1
        now = tm.clock()
        for branch in proxy.pending():
            tm._cancel_branch(branch, now)  # noqa: SLF001 - tm's own helper
        return 1
