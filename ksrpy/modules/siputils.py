"""siputils: message tests the routing logic needs (has_totag, is_request, is_first_hop)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sip.errors import SIPError
from .exports import REQUEST_ROUTE, Module, ParamExport, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context


class SiputilsModule(Module):
    """SIP helper tests (Kamailio's siputils)."""

    name = "siputils"
    kemi_namespace = "siputils"
    params = (
        ParamExport("options_accept", str, "*/*", "Accept value for options_reply."),
        ParamExport("options_accept_encoding", str, "", "Accept-Encoding for options_reply."),
        ParamExport("options_accept_language", str, "en", "Accept-Language for options_reply."),
        ParamExport("options_support", str, "", "Supported value for options_reply."),
    )

    @export("has_totag")
    def has_totag(self, ctx: Context) -> int:
        """1 when the To header has a tag (an in-dialog request), else -1."""
        try:
            return 1 if ctx.msg.to.tag else -1
        except SIPError:
            return -1

    @export("is_request")
    def is_request(self, ctx: Context) -> int:
        """1 for a request, -1 for a reply."""
        return 1 if ctx.msg.is_request else -1

    @export("is_reply")
    def is_reply(self, ctx: Context) -> int:
        """1 for a reply, -1 for a request."""
        return -1 if ctx.msg.is_request else 1

    @export("is_first_hop", ("mode", K.INT, True))
    def is_first_hop(self, ctx: Context, mode: int = 0) -> int:
        """1 when the message comes from the first hop: one Via in a request, two in a reply."""
        try:
            count = len(ctx.msg.vias)
        except SIPError:
            return -1
        expected = 1 if ctx.msg.is_request else 2
        return 1 if count == expected else -1

    @export("is_first_hop_mode", ("mode", K.INT), cfg=False)
    def is_first_hop_mode(self, ctx: Context, mode: int) -> int:
        """is_first_hop with a mode argument (KEMI form)."""
        return self.is_first_hop(ctx, mode)

    @export("options_reply", routes=REQUEST_ROUTE)
    def options_reply(self, ctx: Context) -> int:
        """Answer an OPTIONS for this server with 200 and Accept*/Supported headers."""
        msg = ctx.msg
        if not msg.is_request or msg.method != "OPTIONS":
            return -1
        headers = [f"Accept: {self.settings['options_accept']}"]
        if self.settings["options_accept_encoding"]:
            headers.append(f"Accept-Encoding: {self.settings['options_accept_encoding']}")
        if self.settings["options_accept_language"]:
            headers.append(f"Accept-Language: {self.settings['options_accept_language']}")
        if self.settings["options_support"]:
            headers.append(f"Supported: {self.settings['options_support']}")
        return 1 if self.engine.send_reply(ctx, 200, "OK", headers) else -1
