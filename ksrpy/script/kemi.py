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


#: KSR.* logging functions, usable outside routes (mod_init, script top level).
_LOGGING = frozenset({"dbg", "info", "notice", "warn", "err", "crit", "log"})


def _log_outside_route(method: str, *args: Any) -> int:
    from ..modules.core import CoreModule

    getattr(CoreModule, method)(CoreModule.__new__(CoreModule), None, *args)
    return 1


class _Current:
    """The context of the message being routed, whichever engine routes it."""

    __slots__ = ("ctx",)

    def __init__(self) -> None:
        self.ctx: Any = None


#: Set by the engine around every route call; KSR functions read it.
CURRENT = _Current()

_KSR: types.ModuleType | None = None


def _bind(module_name: str, fexp: FunctionExport) -> Callable[..., Any]:
    """A KSR function: the current message's engine runs the module's implementation.

    Bound to no engine, so helper modules that did ``import KSR`` once keep
    working across reloads and with several engines in one process (tests).
    """
    name, method, current = fexp.kemi, fexp.method, CURRENT
    logs_only = module_name == "core" and method in _LOGGING

    def impl(*args: Any) -> Any:
        ctx = current.ctx
        if ctx is None:
            if logs_only:
                # Logging needs no message: scripts log from mod_init and top level too.
                return _log_outside_route(method, *args)
            raise OutsideRouteError(f"KSR {name}() called outside a route (no message)")
        module = ctx.engine.modules.get(module_name)
        if module is None:
            raise OutsideRouteError(f"KSR {name}(): module {module_name!r} is not loaded")
        return getattr(module, method)(ctx, *args)

    if fexp.returns is Returns.BOOL:

        def call(*args: Any) -> Any:
            return impl(*args) > 0

    elif fexp.returns is Returns.NONE:

        def call(*args: Any) -> Any:
            impl(*args)

    else:
        call = impl

    call.__name__ = str(name)
    call.__qualname__ = str(name)
    call.__doc__ = fexp.doc
    return call


def build_ksr(engine: Engine | None = None) -> types.ModuleType:
    """The process-wide KSR module (built once from every module's export table).

    It is installed as ``sys.modules['KSR']`` so scripts can ``import KSR``.
    """
    global _KSR
    if _KSR is None:
        from ..modules import AVAILABLE, load_module_class

        ksr = types.ModuleType("KSR", "Kamailio-compatible KEMI API of ksrpy")
        for module_name in AVAILABLE:
            cls = load_module_class(module_name)
            namespace = cls.kemi_namespace
            if namespace is None:
                continue
            if namespace == "":
                target: Any = ksr
            else:
                target = getattr(ksr, namespace, None)
                if target is None:
                    target = KsrNamespace()
                    setattr(ksr, namespace, target)
            for kemi_name, fexp in cls.export_table().kemi.items():
                setattr(target, kemi_name, _bind(cls.name, fexp))
        _KSR = ksr
    sys.modules["KSR"] = _KSR
    return _KSR


def kemi_signatures(engine: Engine) -> dict[tuple[str, str], tuple[Any, FunctionExport]]:
    """(namespace, function) -> (module, export), for checking scripts without running them."""
    out: dict[tuple[str, str], tuple[Any, FunctionExport]] = {}
    for module in engine.modules.values():
        if module.kemi_namespace is None:
            continue
        for kemi_name, fexp in module.export_table().kemi.items():
            out[(module.kemi_namespace, kemi_name)] = (module, fexp)
    return out
