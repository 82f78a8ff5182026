"""Find a module's calls with constant arguments in a compiled cfg script.

Kamailio reads the rule files named in ``allow_routing("a", "b")`` while it
loads the script (fixups); ksrpy's compiler has no fixup hook, so the module
reads the generated Python source at init and finds the calls bound to it,
with the cfg file:line of each (``__ksrpy_lines__``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...script.routes import Routes


@dataclass(frozen=True, slots=True)
class StaticCall:
    """One call: the method name, its constant arguments (None: not constant), the place."""

    method: str
    args: tuple[str | int | None, ...]
    where: str


def _namespace(routes: Routes) -> dict[str, Any] | None:
    functions = [routes.request, routes.reply, routes.onsend]
    for table in (routes.named, routes.failure, routes.onreply, routes.branch,
                  routes.branch_failure, routes.events):
        functions.extend(table.values())
    for fn in functions:
        namespace = getattr(fn, "__globals__", None)
        if namespace is not None:
            return namespace
    return None


def _const(node: ast.expr) -> str | int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return node.value
    return None


def _origin(origin: dict[int, tuple[str, int]], lineno: int, routes: Routes) -> tuple[str, int]:
    for n in range(lineno, 0, -1):
        if n in origin:
            return origin[n]
    return (routes.files[0] if routes.files else "?", 0)


def static_calls(routes: Routes | None, owner: object) -> Iterator[StaticCall]:
    """Every call in a cfg script's routes to a method of ``owner``."""
    if routes is None or routes.kind != "cfg" or not routes.source:
        return
    namespace = _namespace(routes)
    if namespace is None:
        return
    origin = namespace.get("__ksrpy_lines__") or {}
    for node in ast.walk(ast.parse(routes.source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        target = namespace.get(node.func.id)
        if getattr(target, "__self__", None) is not owner:
            continue
        file, line = _origin(origin, node.lineno, routes)
        args = tuple(_const(a) for a in node.args[1:])  # args[0] is ctx
        yield StaticCall(target.__name__, args, f"{file}:{line}")
