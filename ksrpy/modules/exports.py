"""The one export table per module: cfg names, KSR names, argument kinds, route types, docs.

A module declares each function once with ``@export``; from that one table
come the cfg compiler's lookup and argument checks, the ``KSR`` namespaces of
Python scripts, and the scripting reference in docs/.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


class RouteType(enum.IntFlag):
    """Kinds of route blocks, as Kamailio's *_ROUTE flags (where a function may run)."""

    REQUEST = 1
    FAILURE = 2
    ONREPLY = 4
    BRANCH = 8
    ONSEND = 16
    ERROR = 32
    LOCAL = 64
    BRANCH_FAILURE = 128
    EVENT = 256
    CORE_REPLY = 512


REQUEST_ROUTE = RouteType.REQUEST
FAILURE_ROUTE = RouteType.FAILURE
ONREPLY_ROUTE = RouteType.ONREPLY | RouteType.CORE_REPLY
BRANCH_ROUTE = RouteType.BRANCH
ONSEND_ROUTE = RouteType.ONSEND
EVENT_ROUTE = RouteType.EVENT
ANY_ROUTE = RouteType(0x3FF)


class ArgKind(enum.Enum):
    """How a function argument is given in cfg and converted at load time."""

    STR = "str"  # a static string
    INT = "int"  # an integer (cfg may quote it: "10")
    SPVE = "spve"  # a string that may hold pseudo-variables ("$fU@$fd"), expanded per message
    IGP = "igp"  # an int or a pseudo-variable holding one
    PVNAME = "pvname"  # the name of a writable pseudo-variable ("$var(out)")


class Returns(enum.Enum):
    """What the KEMI form of a function returns to Python (Kamailio's sr_kemi types)."""

    INT = "int"  # the raw int code (1 / -1 / ...)
    BOOL = "bool"  # True when the code is > 0
    STR = "str"  # a string (None for null)
    XVAL = "xval"  # int, str or None
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Arg:
    """One declared argument."""

    name: str
    kind: ArgKind
    optional: bool = False


@dataclass(frozen=True)
class FunctionExport:
    """One exported function of a module."""

    name: str
    args: tuple[Arg, ...]
    method: str
    kemi: str | None
    returns: Returns
    routes: RouteType
    doc: str
    cfg: bool = True
    aliases: tuple[str, ...] = ()

    @property
    def min_args(self) -> int:
        """How many arguments are required."""
        return sum(1 for a in self.args if not a.optional)


@dataclass(frozen=True, slots=True)
class ParamExport:
    """One module parameter (modparam)."""

    name: str
    type: type
    default: Any
    doc: str
    runtime: bool = False  # may change on reload


@dataclass(frozen=True, slots=True)
class RpcExport:
    """One RPC command of a module."""

    name: str
    method: str
    doc: str


def export(
    name: str | None = None,
    *args: Arg | tuple[str, ArgKind] | tuple[str, ArgKind, bool],
    kemi: str | None | bool = True,
    returns: Returns = Returns.INT,
    routes: RouteType = ANY_ROUTE,
    cfg: bool = True,
    aliases: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a module method ``(self, ctx, *args)`` as an exported function.

    ``kemi=True`` exports it to ``KSR.<module>`` under the same name, a string
    under another name, ``None``/``False`` not at all (cfg only).
    """

    declared = tuple(a if isinstance(a, Arg) else Arg(*a) for a in args)

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        cfg_name = name or fn.__name__
        if kemi is True:
            kemi_name: str | None = cfg_name
        elif kemi in (None, False):
            kemi_name = None
        else:
            kemi_name = str(kemi)
        doc = (fn.__doc__ or "").strip()
        exports = fn.__dict__.setdefault("_ksr_exports", [])
        exports.append(
            FunctionExport(
                cfg_name, declared, fn.__name__, kemi_name, returns, routes, doc, cfg, aliases
            )
        )
        return fn

    return mark


def rpc(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a module method ``(self, *params)`` as an RPC command."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__dict__["_ksr_rpc"] = RpcExport(name, fn.__name__, (fn.__doc__ or "").strip())
        return fn

    return mark


@dataclass
class ModuleTable:
    """Everything a module exports, collected from its class.

    ``functions`` is keyed by cfg name (aliases included), ``kemi`` by KSR name.
    """

    name: str
    doc: str
    functions: dict[str, FunctionExport] = field(default_factory=dict)
    kemi: dict[str, FunctionExport] = field(default_factory=dict)
    params: dict[str, ParamExport] = field(default_factory=dict)
    rpcs: dict[str, RpcExport] = field(default_factory=dict)


class Module:
    """Base class of a ksrpy module: subclasses set ``name``, ``params`` and decorate methods.

    ``kemi_namespace`` is the attribute of ``KSR`` it appears under ("" for
    functions that sit on ``KSR`` itself, as Kamailio's core KEMI exports do).
    """

    name: ClassVar[str] = ""
    kemi_namespace: ClassVar[str | None] = None
    params: ClassVar[tuple[ParamExport, ...]] = ()

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self.settings: dict[str, Any] = {p.name: p.default for p in self.params}
        for key, value in (settings or {}).items():
            self.set_param(key, value)

    @classmethod
    def export_table(cls) -> ModuleTable:
        """The module's export table (functions, params, RPCs)."""
        cached = cls.__dict__.get("_ksr_table")
        if cached is not None:
            return cached
        table = ModuleTable(cls.name, (cls.__doc__ or "").strip())
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for fexp in getattr(attr, "_ksr_exports", ()):
                    if fexp.cfg:
                        table.functions[fexp.name] = fexp
                        for alias in fexp.aliases:
                            table.functions[alias] = fexp
                    if fexp.kemi is not None:
                        table.kemi[fexp.kemi] = fexp
                rexp = getattr(attr, "_ksr_rpc", None)
                if rexp is not None:
                    table.rpcs[rexp.name] = rexp
        table.params = {p.name: p for p in cls.params}
        cls._ksr_table = table  # type: ignore[attr-defined]
        return table

    def set_param(self, key: str, value: Any) -> None:
        """Set a modparam, checking its name and type (ValueError with a clear message)."""
        spec = self.export_table().params.get(key)
        if spec is None:
            known = ", ".join(sorted(self.export_table().params)) or "none"
            raise ValueError(f"module {self.name!r} has no parameter {key!r} (known: {known})")
        if spec.type is int:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(f"modparam {self.name}.{key} expects an integer, got {value!r}")
            try:
                value = int(value)
            except ValueError:
                raise ValueError(
                    f"modparam {self.name}.{key} expects an integer, got {value!r}"
                ) from None
        elif spec.type is str:
            value = str(value)
        self.settings[key] = value

    def init(self) -> None:
        """Called once after parameters are set and before traffic (open files, timers)."""

    def destroy(self) -> None:
        """Called at shutdown."""
