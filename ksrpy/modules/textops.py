"""textops: message text tests and edits (Kamailio's textops; the rest comes with the proxy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exports import ArgKind as K
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context


class TextopsModule(Module):
    """Tests on the method and headers of the message."""

    name = "textops"
    kemi_namespace = "textops"

    @export("is_method", ("methods", K.STR), returns=Returns.INT)
    def is_method(self, ctx: Context, methods: str) -> int:
        """1 when the method (CSeq method for replies) is one of ``methods`` ('A|B')."""
        method = ctx.msg.method.upper()
        wanted = {m.strip().upper() for m in str(methods).split("|")}
        return 1 if method in wanted else -1

    @export("is_present_hf", ("name", K.SPVE), returns=Returns.INT)
    def is_present_hf(self, ctx: Context, name: str) -> int:
        """1 when a header with this name is present."""
        return 1 if ctx.msg.has_header(name) else -1
