"""KSR.x: script flow control from Python (exit, drop) and calling cfg functions by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.context import ScriptExit
from .exports import ArgKind as K
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context


class FlowModule(Module):
    """``KSR.x.exit()`` stops the whole script; ``KSR.x.drop()`` also drops the message."""

    name = "x"
    kemi_namespace = "x"

    @export("exit", returns=Returns.NONE, cfg=False)
    def exit(self, ctx: Context) -> int:
        """Stop the script here, keeping what was done (reply sent, relay)."""
        raise ScriptExit()

    @export("drop", returns=Returns.NONE, cfg=False)
    def drop(self, ctx: Context) -> int:
        """Stop the script and drop the message (no forward, no relayed reply)."""
        ctx.drop = True
        raise ScriptExit()

    @export("modf", ("function", K.STR), returns=Returns.INT, cfg=False)
    def modf(self, ctx: Context, function: str, *args: Any) -> int:
        """Call an exported cfg function by name with string arguments."""
        for module in self.engine.modules.values():
            fexp = module.export_table().functions.get(function)
            if fexp is not None and fexp.cfg:
                if not fexp.min_args <= len(args) <= len(fexp.args):
                    raise TypeError(
                        f"{function}() takes {fexp.min_args}-{len(fexp.args)} arguments, "
                        f"{len(args)} given"
                    )
                return int(getattr(module, fexp.method)(ctx, *args))
        raise LookupError(f"no cfg function named {function!r}")
