"""htable's pseudo-variables: $sht, $shtex, $shtcn, $shtcv, $shtinc, $shtdec, $shtrecord,
$shtitkey, $shtitval (registered with ``register_class`` when this module is imported).

``$sht(table=>key)``: the table name is static, the key may hold PVs
(``$sht(ipban=>$si)``) and is compiled once, at script load. Getters and
setters carry the table name in ``_ksr_htable`` so the module can check at
start-up that every table a script uses is defined.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...script.pv import PV, PVError, register_class
from ...script.pvformat import Format, compile_format

if TYPE_CHECKING:
    from ...core.context import Context
    from ...script.routes import Routes
    from .module import HtableModule
    from .table import Table

KeyOf = Callable[["Context"], str]

#: ctx.extra key holding (key, value) of the expired item in event_route[htable:expired:*].
EXPIRED_RECORD = "htable_expired"


def split_name(inner: str) -> tuple[str, str]:
    """``table=>rest`` as Kamailio's pv_parse_ht_name splits it; PVError when malformed."""
    text = inner.lstrip(" \t\r\n")
    i = 0
    while i < len(text) and text[i] not in "= \t\r\n":
        i += 1
    name, rest = text[:i], text[i:].lstrip(" \t\r\n")
    if not name or not rest.startswith("=>"):
        raise PVError(f"malformed htable name {inner!r} (expected table=>key)")
    return name, rest[2:]


def parse_key(inner: str) -> tuple[str, KeyOf]:
    """``table=>key`` to the table name and a function giving the key for a message."""
    name, key_text = split_name(inner)
    if key_text == "":
        raise PVError(f"empty key in htable name {inner!r}")
    fmt = compile_format(key_text)
    constant = fmt.constant
    if constant is not None:
        return name, lambda ctx: constant
    return name, fmt.render


def module_of(ctx: Context) -> HtableModule:
    """The engine's htable module; PVError when the script did not load it."""
    module = ctx.engine.modules.get("htable")
    if module is None:
        raise PVError("htable pseudo-variables need loadmodule \"htable.so\"")
    return module  # type: ignore[return-value]


def _table(ctx: Context, name: str) -> Table | None:
    return module_of(ctx).table_for(name)


def _need_table(ctx: Context, name: str) -> Table:
    table = _table(ctx, name)
    if table is None:
        raise PVError(f"htable {name!r} is not defined (modparam(\"htable\", \"htable\", ...))")
    return table


def _tag(name: str, *fns: Callable[..., Any]) -> None:
    for fn in fns:
        fn._ksr_htable = name  # type: ignore[attr-defined]


def sht_pv(inner: str) -> PV:
    """$sht(t=>k): the value (initval or null when absent); assign $null to delete."""
    name, key_of = parse_key(inner)

    def get(ctx: Context) -> Any:
        table = _table(ctx, name)
        return None if table is None else table.get(key_of(ctx))

    def set_(ctx: Context, value: Any) -> None:
        table = _need_table(ctx, name)
        if value is None:
            table.delete(key_of(ctx))
        else:
            table.set(key_of(ctx), value)

    _tag(name, get, set_)
    return PV(f"$sht({inner})", get, set_)


def shtex_pv(inner: str) -> PV:
    """$shtex(t=>k): seconds to expiry (0 when absent); assign n to set it (non-int: 0)."""
    name, key_of = parse_key(inner)

    def get(ctx: Context) -> Any:
        table = _table(ctx, name)
        return None if table is None else table.expire_in(key_of(ctx))

    def set_(ctx: Context, value: Any) -> None:
        seconds = value if isinstance(value, int) and not isinstance(value, bool) else 0
        _need_table(ctx, name).set_expire(key_of(ctx), seconds)

    _tag(name, get, set_)
    return PV(f"$shtex({inner})", get, set_)


def _count_class(cls: str, by_value: bool) -> Callable[[str], PV]:
    def factory(inner: str) -> PV:
        name, expr_of = parse_key(inner)

        def get(ctx: Context) -> Any:
            table = _table(ctx, name)
            return None if table is None else table.count(expr_of(ctx), by_value)

        _tag(name, get)
        return PV(f"${cls}({inner})", get)

    return factory


def _add_class(cls: str, delta: int) -> Callable[[str], PV]:
    def factory(inner: str) -> PV:
        name, key_of = parse_key(inner)

        def get(ctx: Context) -> Any:
            table = _table(ctx, name)
            return None if table is None else table.add(key_of(ctx), delta)

        _tag(name, get)
        return PV(f"${cls}({inner})", get)

    return factory


def shtrecord_pv(inner: str) -> PV:
    """$shtrecord(key|value): the expired item in event_route[htable:expired:<table>]."""
    field = inner.strip()
    if field not in ("key", "value"):
        raise PVError(f"unknown $shtrecord({inner}) (key or value)")
    index = 0 if field == "key" else 1

    def get(ctx: Context) -> Any:
        record = ctx.extra.get(EXPIRED_RECORD)
        return None if record is None else record[index]

    # Outside the event route Kamailio's getter fails, which prints as nothing.
    return PV(f"$shtrecord({inner})", get, None, "")


def _iterator_class(cls: str, index: int) -> Callable[[str], PV]:
    def factory(inner: str) -> PV:
        iname = inner

        def get(ctx: Context) -> Any:
            it = module_of(ctx).iterators.get(iname)
            current = None if it is None else it.current
            return None if current is None else current[index]

        return PV(f"${cls}({inner})", get)

    return factory


CLASSES: dict[str, Callable[[str], PV]] = {
    "sht": sht_pv,
    "shtex": shtex_pv,
    "shtcn": _count_class("shtcn", False),
    "shtcv": _count_class("shtcv", True),
    "shtinc": _add_class("shtinc", 1),
    "shtdec": _add_class("shtdec", -1),
    "shtrecord": shtrecord_pv,
    "shtitkey": _iterator_class("shtitkey", 0),
    "shtitval": _iterator_class("shtitval", 1),
}


def register() -> None:
    """Make the htable PV classes known to the PV resolver."""
    for name, factory in CLASSES.items():
        register_class(name, factory)


def _tables_of(value: Any, found: set[str]) -> None:
    """Add the tables a compiled constant (getter, setter, PV, Format) refers to."""
    if isinstance(value, Format):
        for pv in value.pvs:
            _tables_of(pv, found)
        return
    if isinstance(value, PV):
        _tables_of(value.get, found)
        _tables_of(value.set, found)
        return
    if not callable(value):
        return
    name = getattr(value, "_ksr_htable", None)
    if name is not None:
        found.add(name)
        return
    for cell in getattr(value, "__closure__", None) or ():  # e.g. a PV with transformations
        try:
            inner = cell.cell_contents
        except ValueError:
            continue
        if callable(inner) and getattr(inner, "_ksr_htable", None) is not None:
            found.add(inner._ksr_htable)


def referenced_tables(routes: Routes) -> set[str]:
    """Tables named by the htable PVs compiled into a cfg script's routes."""
    functions = [routes.request, routes.reply, routes.onsend]
    for table in (routes.named, routes.failure, routes.onreply, routes.branch,
                  routes.branch_failure, routes.events):
        functions.extend(table.values())
    found: set[str] = set()
    seen: set[int] = set()
    for fn in functions:
        namespace = getattr(fn, "__globals__", None)
        if namespace is None or id(namespace) in seen:
            continue
        seen.add(id(namespace))
        for value in list(namespace.values()):
            _tables_of(value, found)
    return found
