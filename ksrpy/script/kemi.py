"""The ``KSR`` object of Python scripts, built from the modules' export tables."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..modules.exports import FunctionExport, Returns

if TYPE_CHECKING:
    from ..core.engine import Engine


class KsrNamespace(types.SimpleNamespace):
    """One ``KSR.<module>`` namespace."""


class OutsideRouteError(RuntimeError):
    """A KSR function was called while no message is being processed."""


def _bind(engine: Engine, impl: Callable[..., Any], fexp: FunctionExport) -> Callable[..., Any]:
    """A KSR function: fetch the current message context, call, convert the return value."""
    name = fexp.kemi

    def current() -> Any:
        ctx = engine.current
        if ctx is None:
            raise OutsideRouteError(f"KSR {name}() called outside a route (no message)")
        return ctx

    if fexp.returns is Returns.BOOL:

        def call(*args: Any) -> Any:
            ctx = engine.current or current()
            return impl(ctx, *args) > 0

    elif fexp.returns is Returns.NONE:

        def call(*args: Any) -> Any:
            ctx = engine.current or current()
            impl(ctx, *args)

    else:

        def call(*args: Any) -> Any:
            ctx = engine.current or current()
            return impl(ctx, *args)

    call.__name__ = str(name)
    call.__qualname__ = str(name)
    call.__doc__ = fexp.doc
    return call


def build_ksr(engine: Engine) -> types.ModuleType:
    """The KSR module for ``engine``'s loaded modules (installed as ``sys.modules['KSR']``)."""
    ksr = types.ModuleType("KSR", "Kamailio-compatible KEMI API of ksrpy")
    for module in engine.modules.values():
        namespace = module.kemi_namespace
        if namespace is None:
            continue
        if namespace == "":
            target: Any = ksr
        else:
            target = getattr(ksr, namespace, None)
            if target is None:
                target = KsrNamespace()
                setattr(ksr, namespace, target)
        for kemi_name, fexp in module.table().kemi.items():
            setattr(target, kemi_name, _bind(engine, getattr(module, fexp.method), fexp))
    sys.modules["KSR"] = ksr
    return ksr


def kemi_signatures(engine: Engine) -> dict[tuple[str, str], tuple[Any, FunctionExport]]:
    """(namespace, function) -> (module, export), for checking scripts without running them."""
    out: dict[tuple[str, str], tuple[Any, FunctionExport]] = {}
    for module in engine.modules.values():
        if module.kemi_namespace is None:
            continue
        for kemi_name, fexp in module.table().kemi.items():
            out[(module.kemi_namespace, kemi_name)] = (module, fexp)
    return out
