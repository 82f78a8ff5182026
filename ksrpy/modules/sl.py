"""sl: stateless replies (sl_send_reply, send_reply, sl_reply_error)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sip.reply import REASONS
from .exports import FAILURE_ROUTE, REQUEST_ROUTE, Module, ParamExport, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context

REPLY_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE


class SlModule(Module):
    """Stateless replies built from the request (RFC 3261 §8.2.6), Kamailio's sl module."""

    name = "sl"
    kemi_namespace = "sl"
    params = (
        ParamExport("default_code", int, 500,
                    "Code used by sl_reply_error when no error is known."),
        ParamExport("default_reason", str, "Internal Server Error", "Reason for default_code."),
        ParamExport("bind_tm", int, 1, "send_reply goes through tm when a transaction exists."),
        ParamExport("rich_redirect", int, 0, "Accepted for compatibility; no effect yet."),
    )

    def _reply(self, ctx: Context, code: int | str, reason: str) -> int:
        try:
            value = int(code)
        except (TypeError, ValueError):
            raise ValueError(f"reply code {code!r} is not a number") from None
        if not 100 <= value <= 699:
            raise ValueError(f"reply code {value} is outside 100-699")
        msg = ctx.msg
        if not msg.is_request or msg.method == "ACK":
            # Kamailio's sl refuses to answer an ACK (or a reply): false, nothing sent.
            return -1
        reason = str(reason) if reason else REASONS.get(value, "Unknown")
        return 1 if self.engine.send_reply(ctx, value, reason) else -1

    @export("sl_send_reply", ("code", K.IGP), ("reason", K.SPVE), routes=REPLY_ROUTES)
    def sl_send_reply(self, ctx: Context, code: int | str, reason: str) -> int:
        """Send a stateless reply; 1 on success, -1 when it could not be sent."""
        return self._reply(ctx, code, reason)

    @export("send_reply", ("code", K.IGP), ("reason", K.SPVE), routes=REPLY_ROUTES)
    def send_reply(self, ctx: Context, code: int | str, reason: str) -> int:
        """Reply statefully when a transaction exists, else statelessly."""
        tm = self.engine.tm
        if tm is not None and self.settings["bind_tm"] and tm.is_stateful(ctx):
            return tm.reply(ctx, int(code), str(reason))
        return self._reply(ctx, code, reason)

    @export("send_reply_mode", ("code", K.IGP), ("reason", K.SPVE), ("mode", K.INT),
            routes=REPLY_ROUTES)
    def send_reply_mode(self, ctx: Context, code: int | str, reason: str, mode: int) -> int:
        """send_reply with send flags: 1 no new connection, 2 close the connection."""
        if int(mode) & 1:
            ctx.reply_no_connect = True
        if int(mode) & 2:
            ctx.reply_close = True
        return self.send_reply(ctx, code, reason)

    @export("sl_reply_error", routes=REPLY_ROUTES)
    def sl_reply_error(self, ctx: Context) -> int:
        """Reply with the last internal error (e.g. after a failed relay), else default_code."""
        code, reason = ctx.extra.get(
            "last_error", (self.settings["default_code"], self.settings["default_reason"])
        )
        return self._reply(ctx, code, reason)
