"""Compile a parsed kamailio.cfg into Python: one function per route block.

The Jinja approach: walk the tree once, emit Python source with every name
resolved (functions bound to module methods, pseudo-variables to getters and
setters, constant arguments converted, regexes compiled), then ``compile()``
it. A map from generated lines to cfg file:line lets runtime errors point at
the user's script. All problems are collected with their location; nothing
is compiled when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.context import ScriptExit
from ...modules.exports import (
    ANY_ROUTE,
    Arg,
    ArgKind,
    FunctionExport,
    Module,
    RouteType,
)
from ..pv import PVError, resolve
from ..pvformat import compile_format
from ..routes import Routes
from ..transformations import TransformError
from . import ast
from . import runtime as rt

if TYPE_CHECKING:
    from ...core.engine import Engine

#: Block kind -> the route type its functions run in.
BLOCK_TYPES: dict[str, RouteType] = {
    "request_route": RouteType.REQUEST,
    "route": RouteType.REQUEST,
    "reply_route": RouteType.CORE_REPLY,
    "onreply_route": RouteType.ONREPLY,
    "failure_route": RouteType.FAILURE,
    "branch_route": RouteType.BRANCH,
    "branch_failure_route": RouteType.BRANCH_FAILURE,
    "onsend_route": RouteType.ONSEND,
    "event_route": RouteType.EVENT | RouteType.REQUEST,
    "error_route": RouteType.ERROR,
    "local_route": RouteType.LOCAL,
}

#: Bare identifiers with a meaning in expressions (proto == UDP, af == INET).
NAME_CONSTANTS: dict[str, int | str] = {
    "UDP": "udp", "TCP": "tcp", "TLS": "tls", "SCTP": "sctp", "WS": "ws", "WSS": "wss",
    "INET": 4, "INET6": 6,
}

#: Core expression functions handled by the compiler itself.
BUILTINS = {"strlen", "strempty"}

_INT_RE = re.compile(r"^\s*-?(0x[0-9a-fA-F]+|[0-9]+)\s*$")


class CompileError(Exception):
    """One problem at one place (collected, never raised out of the compiler)."""

    def __init__(self, pos: ast.Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass
class FunctionRef:
    """A cfg-callable function: its module instance and export."""

    module: Module
    export: FunctionExport


def function_index(engine: Engine) -> dict[str, FunctionRef]:
    """cfg name -> function, over every module loaded in ``engine``."""
    out: dict[str, FunctionRef] = {}
    for module in engine.modules.values():
        for name, fexp in module.export_table().functions.items():
            out.setdefault(name, FunctionRef(module, fexp))
    return out


class _Emitter:
    """Python source lines with the cfg location of each."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.origin: dict[int, tuple[str, int]] = {}
        self.indent = 0

    def emit(self, text: str, where: tuple[str, int] | None = None) -> None:
        self.lines.append("    " * self.indent + text)
        if where is not None:
            self.origin[len(self.lines)] = where


class Compiler:
    """Turns a Script into a Routes object bound to ``engine``'s modules."""

    def __init__(
        self,
        engine: Engine,
        line_map: list[tuple[str, int]],
        *,
        unchecked_calls: bool = False,
        max_while_loops: int = 1000,
    ) -> None:
        self.engine = engine
        self.line_map = line_map
        self.functions = function_index(engine)
        self.unchecked_calls = unchecked_calls
        self.max_while_loops = max_while_loops
        self.errors: list[CompileError] = []
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[tuple[str, Any], str] = {}
        self.out = _Emitter()
        self.blocks: dict[tuple[str, str | None], ast.RouteBlock] = {}
        self.func_names: dict[tuple[str, str | None], str] = {}
        self.block_types: dict[tuple[str, str | None], RouteType] = {}
        self._tmp = 0
        self._current_type: RouteType = RouteType.REQUEST
        self._current_block = ""

    # -------------------------------------------------------------- utilities

    def where(self, pos: ast.Pos) -> tuple[str, int]:
        """cfg file and line of a position in the preprocessed text."""
        line = pos[0]
        if 0 < line <= len(self.line_map):
            return self.line_map[line - 1]
        return ("<cfg>", line)

    def error(self, pos: ast.Pos, message: str) -> None:
        """Record a problem; compilation goes on to find the others."""
        self.errors.append(CompileError(pos, message))

    def const(self, prefix: str, value: Any, key: Any = None) -> str:
        """A module-level name holding ``value`` in the generated code (deduplicated)."""
        ident = (prefix, key) if key is not None else None
        if ident is not None and ident in self._const_ids:
            return self._const_ids[ident]
        name = f"_{prefix}{len(self.consts)}"
        self.consts[name] = value
        if ident is not None:
            self._const_ids[ident] = name
        return name

    def tmp(self, prefix: str) -> str:
        """A fresh local variable name."""
        self._tmp += 1
        return f"_{prefix}{self._tmp}"

    def pv(self, pos: ast.Pos, name: str, *, write: bool = False) -> Any:
        """Resolve a PV at load time; an unknown or read-only one is an error."""
        try:
            pv = resolve(name)
        except (PVError, TransformError) as exc:
            self.error(pos, str(exc))
            return None
        if write and pv.set is None:
            self.error(pos, f"{pv.name} cannot be assigned (read-only pseudo-variable)")
            return None
        return pv

    # ------------------------------------------------------------------ entry

    def compile(self, script: ast.Script) -> tuple[str, dict[str, Any], dict[int, Any]]:
        """Generate the module source; returns (source, globals, line origins)."""
        routes = [i for i in script.items if isinstance(i, ast.RouteBlock)]
        for block in routes:
            kind = "request_route" if block.kind == "route" and block.name is None else block.kind
            key = (kind, block.name)
            if key in self.blocks:
                first = self.where(self.blocks[key].pos)
                label = f"{kind}[{block.name}]" if block.name else kind
                self.error(block.pos, f"{label} is defined twice (first at {first[0]}:{first[1]})")
                continue
            self.blocks[key] = block
            self.func_names[key] = f"r_{len(self.func_names)}_{_ident(kind)}" + (
                f"_{_ident(block.name)}" if block.name else ""
            )
        self._infer_route_types()
        self.out.emit("# generated by ksrpy from a kamailio.cfg script; do not edit")
        for key, block in self.blocks.items():
            self._route(key, block)
        return "\n".join(self.out.lines) + "\n", self.consts, self.out.origin

    def _infer_route_types(self) -> None:
        """route[X] takes the types of the blocks that call it (transitively)."""
        calls: dict[tuple[str, str | None], set[str]] = {}
        for key, block in self.blocks.items():
            calls[key] = set(_route_calls(block.body))
            if key[0] == "event_route" and str(key[1]).startswith("tm:branch-failure:"):
                self.block_types[key] = RouteType.BRANCH_FAILURE  # as Kamailio's tm
            elif key[0] != "route":
                self.block_types[key] = BLOCK_TYPES.get(key[0], RouteType.REQUEST)
        changed = True
        while changed:
            changed = False
            for key, targets in calls.items():
                mine = self.block_types.get(key)
                if mine is None:
                    continue
                for name in targets:
                    target = ("route", name)
                    if target not in self.blocks:
                        continue
                    old = self.block_types.get(target, RouteType(0))
                    new = old | mine
                    if new != old:
                        self.block_types[target] = new
                        changed = True
        for key in self.blocks:
            self.block_types.setdefault(key, RouteType.REQUEST)

    # ----------------------------------------------------------------- blocks

    def _route(self, key: tuple[str, str | None], block: ast.RouteBlock) -> None:
        self._current_type = self.block_types[key]
        self._current_block = f"{key[0]}[{key[1]}]" if key[1] else key[0]
        self.out.emit("")
        self.out.emit(f"def {self.func_names[key]}(ctx):", self.where(block.pos))
        self.out.indent += 1
        self._stmts(block.body)
        self.out.emit("return 1")
        self.out.indent -= 1

    def _stmts(self, stmts: list[ast.Stmt]) -> None:
        if not stmts:
            self.out.emit("pass")
            return
        for stmt in stmts:
            self._stmt(stmt)

    def _stmt(self, stmt: ast.Stmt) -> None:
        where = self.where(stmt.pos)
        emit = self.out.emit
        if isinstance(stmt, ast.Block):
            self._stmts(stmt.body)
        elif isinstance(stmt, ast.If):
            emit(f"if {self.cond(stmt.cond)}:", where)
            self._nested(stmt.then)
            if stmt.orelse:
                emit("else:")
                self._nested(stmt.orelse)
        elif isinstance(stmt, ast.While):
            self._while(stmt, where)
        elif isinstance(stmt, ast.Switch):
            self._switch(stmt, where)
        elif isinstance(stmt, ast.Return):
            if stmt.value is None:
                emit("return 1", where)
            else:
                emit(f"return _rt.to_int({self.value(stmt.value)})", where)
        elif isinstance(stmt, ast.Exit):
            emit("raise _Exit()", where)
        elif isinstance(stmt, ast.Drop):
            emit("ctx.drop = True", where)
            emit("raise _Exit()", where)
        elif isinstance(stmt, ast.Break):
            emit("break", where)
        elif isinstance(stmt, ast.Assign):
            self._assign(stmt, where)
        elif isinstance(stmt, ast.ExprStmt):
            emit(self.value(stmt.expr), where)
        else:  # pragma: no cover - the parser produces nothing else
            self.error(stmt.pos, f"unsupported statement {type(stmt).__name__}")

    def _nested(self, stmts: list[ast.Stmt]) -> None:
        self.out.indent += 1
        self._stmts(stmts)
        self.out.indent -= 1

    def _assign(self, stmt: ast.Assign, where: tuple[str, int]) -> None:
        pv = self.pv(stmt.pos, stmt.target, write=True)
        value = self.value(stmt.value)
        if pv is None:
            return
        setter = self.const("s", pv.set, key=("set", stmt.target))
        self.out.emit(f"{setter}(ctx, {value})", where)

    def _while(self, stmt: ast.While, where: tuple[str, int]) -> None:
        counter = self.tmp("n")
        emit = self.out.emit
        emit(f"{counter} = 0", where)
        emit(f"while {self.cond(stmt.cond)}:", where)
        self.out.indent += 1
        emit(f"{counter} += 1")
        emit(f"if {counter} > {self.max_while_loops}:")
        self.out.indent += 1
        loc = self.const("loc", f"{where[0]}:{where[1]}", key=("loc", where))
        emit(f"_loop_limit(ctx, {loc}, {self.max_while_loops})")
        emit("break")
        self.out.indent -= 1
        self._stmts(stmt.body)
        self.out.indent -= 1

    def _switch(self, stmt: ast.Switch, where: tuple[str, int]) -> None:
        emit = self.out.emit
        subject, start = self.tmp("sw"), self.tmp("st")
        emit(f"{subject} = {self.value(stmt.subject)}", where)
        default = len(stmt.cases)
        first = True
        for index, case in enumerate(stmt.cases):
            if case.value is None:
                default = index
                continue
            keyword = "if" if first else "elif"
            emit(f"{keyword} _rt.switch_match({subject}, {case.value!r}):", self.where(case.pos))
            emit(f"    {start} = {index}")
            first = False
        if first:
            emit(f"{start} = {default}")
        else:
            emit("else:")
            emit(f"    {start} = {default}")
        emit("while True:")
        self.out.indent += 1
        for index, case in enumerate(stmt.cases):
            emit(f"if {start} <= {index}:", self.where(case.pos))
            self._nested(case.body)
        emit("break")
        self.out.indent -= 1

    # ------------------------------------------------------------ expressions

    def cond(self, expr: ast.Expr) -> str:
        """Python code for ``expr`` used as a condition (a bool)."""
        code, is_bool = self._expr(expr)
        return code if is_bool else f"_rt.truth({code})"

    def value(self, expr: ast.Expr) -> str:
        """Python code for ``expr`` used as a value (int, str or None)."""
        code, is_bool = self._expr(expr)
        return f"(1 if {code} else -1)" if is_bool else code

    def _expr(self, expr: ast.Expr) -> tuple[str, bool]:
        if isinstance(expr, ast.Num):
            return repr(expr.value), False
        if isinstance(expr, ast.Str):
            return repr(expr.value), False
        if isinstance(expr, ast.Null):
            return "None", False
        if isinstance(expr, ast.PVRef):
            pv = self.pv(expr.pos, expr.name)
            if pv is None:
                return "None", False
            return f"{self.const('g', pv.get, key=('get', expr.name))}(ctx)", False
        if isinstance(expr, ast.IPNet):
            return repr(expr.text), False
        if isinstance(expr, ast.Keyword):
            return _KEYWORDS[expr.name], False
        if isinstance(expr, ast.Name):
            if expr.name in NAME_CONSTANTS:
                return repr(NAME_CONSTANTS[expr.name]), False
            self.error(expr.pos, f"unknown name {expr.name!r} (an undefined #!define?)")
            return "None", False
        if isinstance(expr, ast.Myself):
            self.error(expr.pos, "'myself' can only be compared with == or !=")
            return "None", False
        if isinstance(expr, ast.Call):
            return self._call(expr), False
        if isinstance(expr, ast.RouteCall):
            return self._route_call(expr), False
        if isinstance(expr, ast.Logical):
            joiner = " and " if expr.op == "&&" else " or "
            return "(" + joiner.join(self.cond(e) for e in expr.items) + ")", True
        if isinstance(expr, ast.Compare):
            return self._compare(expr), True
        if isinstance(expr, ast.BinOp):
            self._check_constant_types(expr)
            left, right = self.value(expr.left), self.value(expr.right)
            if expr.op == "+":
                return f"_rt.add({left}, {right})", False
            return f"_rt.arith({expr.op!r}, {left}, {right})", False
        if isinstance(expr, ast.Unary):
            return self._unary(expr)
        self.error(expr.pos, f"unsupported expression {type(expr).__name__}")
        return "None", False

    def _check_constant_types(self, expr: ast.BinOp) -> None:
        """Kamailio refuses constant operands of the wrong type at load time."""
        left, right = expr.left, expr.right
        if expr.op == "+":
            if isinstance(left, ast.Num) and isinstance(right, ast.Str):
                self.error(right.pos, "type mismatch: string added to an integer")
            return
        for side in (left, right):
            if isinstance(side, ast.Str):
                self.error(side.pos, f"type mismatch: string operand of '{expr.op}'")

    def _unary(self, expr: ast.Unary) -> tuple[str, bool]:
        if expr.op == "!":
            return f"(not {self.cond(expr.operand)})", True
        if expr.op == "defined":
            if not isinstance(expr.operand, ast.PVRef | ast.Null):
                self.error(expr.pos, "'defined' needs a pseudo-variable")
                return "False", True
            return f"({self.value(expr.operand)} is not None)", True
        operand = self.value(expr.operand)
        if expr.op == "-":
            return f"_rt.neg({operand})", False
        if expr.op == "~":
            return f"_rt.bitnot({operand})", False
        if expr.op == "(int)":
            return f"_rt.to_int({operand})", False
        return f"_rt.to_str({operand})", False

    def _compare(self, expr: ast.Compare) -> str:
        op, left, right = expr.op, expr.left, expr.right
        if isinstance(right, ast.Keyword):
            self.error(right.pos, f"'{right.name}' must be on the left side of '{op}'")
            return "False"
        if isinstance(left, ast.Keyword) and left.name == "method" and op in ("==", "!="):
            # Kamailio compares methods case-insensitively.
            test = f"_rt.eq_nocase({self.value(left)}, {self.value(right)})"
            return test if op == "==" else f"(not {test})"
        if isinstance(left, ast.Myself):
            left, right = right, left
        if isinstance(right, ast.Myself):
            if op not in ("==", "!="):
                self.error(expr.pos, f"'myself' cannot be used with {op}")
                return "False"
            test = self._myself_test(left)
            return test if op == "==" else f"(not {test})"
        if isinstance(right, ast.IPNet) and op in ("==", "!="):
            net = self._ipnet(right)
            test = f"_rt.ip_in({self.value(left)}, {net})"
            return test if op == "==" else f"(not {test})"
        if op in ("<", ">", "<=", ">=") and (isinstance(left, ast.Str)
                                             or isinstance(right, ast.Str)):
            self.error(expr.pos, f"type mismatch: string operand of '{op}'")
            return "False"
        a = self.value(left)
        if op in ("=~", "!~"):
            if isinstance(right, ast.Str):
                try:
                    regex = rt.compile_regex(right.value)
                except re.error as exc:
                    self.error(right.pos, f"invalid regular expression {right.value!r}: {exc}")
                    return "False"
                name = self.const("re", regex, key=("re", right.value))
                test = f"_rt.match({a}, {name})"
            else:
                test = f"_rt.match_dynamic({a}, {self.value(right)})"
            return test if op == "=~" else f"(not {test})"
        b = self.value(right)
        if op == "==":
            return f"_rt.eq({a}, {b})"
        if op == "!=":
            return f"_rt.ne({a}, {b})"
        return f"_rt.order({op!r}, {a}, {b})"

    def _ipnet(self, node: ast.IPNet) -> str:
        try:
            network = rt.ip_network(node.text)
        except ValueError as exc:
            self.error(node.pos, f"invalid address {node.text!r}: {exc}")
            network = rt.ip_network("0.0.0.0/32")
        return self.const("net", network, key=("net", node.text))

    def _myself_test(self, operand: ast.Expr) -> str:
        if isinstance(operand, ast.Keyword) and operand.name in ("src_ip", "dst_ip", "snd_ip",
                                                                 "to_ip"):
            return f"_rt.ip_is_myself(ctx, {_KEYWORDS[operand.name]})"
        return f"_rt.uri_is_myself(ctx, {self.value(operand)})"

    # ------------------------------------------------------------------ calls

    def _route_call(self, expr: ast.RouteCall) -> str:
        if isinstance(expr.target, ast.PVRef):
            getter = self.value(expr.target)
            return f"_rt.route_ret(ctx, _dynamic_route(ctx, {getter}))"
        key = ("route", expr.target)
        if key not in self.func_names:
            self.error(expr.pos, f"route({expr.target}): no route[{expr.target}] block")
            return "None"
        return f"_rt.route_ret(ctx, {self.func_names[key]}(ctx))"

    def _call(self, call: ast.Call) -> str:
        if call.name in BUILTINS:
            return self._builtin(call)
        ref = self.functions.get(call.name)
        if ref is None:
            if not self.unchecked_calls:
                self.error(call.pos, f"unknown function {call.name}() "
                                     "(not exported by any loaded module)")
            return "None"
        fexp = ref.export
        n = len(call.args)
        if not fexp.min_args <= n <= len(fexp.args):
            want = (str(len(fexp.args)) if fexp.min_args == len(fexp.args)
                    else f"{fexp.min_args} to {len(fexp.args)}")
            self.error(call.pos, f"{call.name}() takes {want} argument(s), {n} given")
            return "None"
        if not fexp.routes & self._current_type and fexp.routes != ANY_ROUTE:
            self.error(call.pos, f"{call.name}() cannot be used in {self._current_block}")
        self._check_route_name(call, ref.module)
        args = [self._arg(call, i, decl, node) for i, (decl, node)
                in enumerate(zip(fexp.args, call.args, strict=False), 1)]
        method = getattr(ref.module, fexp.method)
        fn = self.const("f", method, key=("fn", ref.module.name, fexp.method))
        joined = "".join(f", {a}" for a in args)
        return f"_rt.ret(ctx, {fn}(ctx{joined}))"

    def _check_route_name(self, call: ast.Call, module: Any) -> None:
        """A module's ``route_name_args`` (t_on_failure ...): a constant name needs its block.

        Values are block kinds, or "event_route:PREFIX" for event_route[PREFIX<name>].
        """
        kinds = getattr(module, "route_name_args", {}).get(call.name)
        if not kinds or not call.args:
            return
        node = call.args[0]
        if isinstance(node, ast.Num):
            name = str(node.value)
        elif isinstance(node, ast.Str) and "$" not in node.value:
            name = node.value
        else:
            return
        if not name:
            return
        labels = []
        for kind in kinds:
            block, _, prefix = kind.partition(":")
            if (block, prefix + name) in self.blocks:
                return
            labels.append(f"{block}[{prefix}{name}]")
        self.error(node.pos, f"{call.name}(\"{name}\"): no {' or '.join(labels)} block")

    def _builtin(self, call: ast.Call) -> str:
        if len(call.args) != 1:
            self.error(call.pos, f"{call.name}() takes 1 argument, {len(call.args)} given")
            return "None"
        value = self.value(call.args[0])
        if call.name == "strlen":
            return f"len(_rt.to_str({value}))"
        return f"(1 if _rt.to_str({value}) == '' else -1)"

    def _arg(self, call: ast.Call, index: int, decl: Arg, node: ast.Expr) -> str:
        kind = decl.kind
        label = f"argument {index} ({decl.name}) of {call.name}()"
        if kind is ArgKind.PVNAME:
            name = node.name if isinstance(node, ast.PVRef) else (
                node.value if isinstance(node, ast.Str) else None)
            if not name or not name.startswith("$"):
                self.error(node.pos, f"{label} must name a pseudo-variable")
                return "None"
            pv = self.pv(node.pos, name, write=True)
            return "None" if pv is None else self.const("pv", pv, key=("pv", name))
        if kind is ArgKind.INT:
            if isinstance(node, ast.Num):
                return repr(node.value)
            if isinstance(node, ast.Str):
                if _INT_RE.match(node.value):
                    return repr(rt.to_int(node.value))
                self.error(node.pos, f"{label} must be an integer, got {node.value!r}")
                return "0"
            return f"_rt.to_int({self.value(node)})"
        if kind is ArgKind.IGP:
            if isinstance(node, ast.Num):
                return repr(node.value)
            if isinstance(node, ast.Str):
                if _INT_RE.match(node.value):
                    return repr(rt.to_int(node.value))
                if "$" in node.value:
                    return f"_rt.to_int({self._format(node)})"
                self.error(node.pos, f"{label} must be an integer or a pseudo-variable, "
                                     f"got {node.value!r}")
                return "0"
            return f"_rt.to_int({self.value(node)})"
        if kind is ArgKind.SPVE:
            if isinstance(node, ast.Str):
                return self._format(node)
            if isinstance(node, ast.Num):
                return repr(str(node.value))
            return f"_rt.to_str({self.value(node)})"
        # ArgKind.STR: a static string.
        if isinstance(node, ast.Str):
            return repr(node.value)
        if isinstance(node, ast.Num):
            return repr(str(node.value))
        return f"_rt.to_str({self.value(node)})"

    def _format(self, node: ast.Str) -> str:
        try:
            fmt = compile_format(node.value)
        except (PVError, TransformError, ValueError) as exc:
            self.error(node.pos, str(exc))
            return repr(node.value)
        if fmt.is_constant:
            return repr(fmt.constant)
        return f"{self.const('fmt', fmt, key=('fmt', node.value))}.render(ctx)"

    # ---------------------------------------------------------------- results

    def build_routes(self, source: str, namespace: dict[str, Any], files: list[str],
                     filename: str) -> Routes:
        """Execute the generated module and collect its route functions."""
        code = compile(source, filename, "exec")
        exec(code, namespace)  # noqa: S102 - our own generated code
        named: dict[str, Callable[..., Any]] = {}
        by_kind: dict[str, dict[str, Callable[..., Any]]] = {}
        request = reply = onsend = None
        for (kind, name), fname in self.func_names.items():
            fn = namespace[fname]
            if kind == "request_route":
                request = fn
            elif kind == "reply_route" and name is None:
                reply = fn
            elif kind == "onsend_route":
                onsend = fn
            elif kind == "route":
                named[str(name)] = fn
            else:
                by_kind.setdefault(kind, {})[str(name)] = fn
        return Routes(
            kind="cfg",
            files=files,
            request=request,
            reply=reply,
            onsend=onsend,
            named=named,
            failure=by_kind.get("failure_route", {}),
            onreply=by_kind.get("onreply_route", {}),
            branch=by_kind.get("branch_route", {}),
            branch_failure=by_kind.get("branch_failure_route", {}),
            events=by_kind.get("event_route", {}),
        )


_KEYWORDS: dict[str, str] = {
    "method": "ctx.msg.method",
    "uri": "(ctx.ruri if ctx.msg.is_request else None)",
    "from_uri": "_kw_from_uri(ctx)",
    "to_uri": "_kw_to_uri(ctx)",
    "src_ip": "ctx.rcv.src_ip",
    "dst_ip": "ctx.rcv.dst_ip",
    "src_port": "ctx.rcv.src_port",
    "dst_port": "ctx.rcv.dst_port",
    "proto": "ctx.rcv.proto",
    "af": "ctx.rcv.af",
    "status": "(None if ctx.msg.is_request else ctx.msg.status)",
    "msg:len": "len(ctx.msg.raw)",
    "snd_ip": "_kw_snd(ctx, 'ip')",
    "snd_port": "_kw_snd(ctx, 'port')",
    "snd_proto": "_kw_snd(ctx, 'proto')",
    "snd_af": "_kw_snd(ctx, 'af')",
    "to_ip": "_kw_snd(ctx, 'ip')",
    "to_port": "_kw_snd(ctx, 'port')",
}


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _route_calls(stmts: list[ast.Stmt]) -> list[str]:
    """Names of every route(NAME) reachable in these statements."""
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, ast.RouteCall) and isinstance(node.target, str):
            found.append(node.target)
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, ast.Node):
            for value in vars(node).values():
                if isinstance(value, ast.Node | list):
                    visit(value)

    visit(stmts)
    return found


def _kw_from_uri(ctx: Any) -> str | None:
    try:
        return str(ctx.msg.from_.uri)
    except Exception:  # noqa: BLE001 - an unparsable From compares as null
        return None


def _kw_to_uri(ctx: Any) -> str | None:
    try:
        return str(ctx.msg.to.uri)
    except Exception:  # noqa: BLE001
        return None


def _kw_snd(ctx: Any, field_name: str) -> Any:
    snd = ctx.extra.get("snd")
    return None if snd is None else snd.get(field_name)


def runtime_namespace(routes_ref: list[Routes]) -> dict[str, Any]:
    """Globals every generated module starts with."""

    def dynamic_route(ctx: Any, name: Any) -> Any:
        routes = routes_ref[0] if routes_ref else None
        fn = routes.named.get(str(name)) if routes is not None else None
        if fn is None:
            raise rt.CfgRuntimeError(f"route({name}): no such route block")
        return fn(ctx)

    def loop_limit(ctx: Any, where: str, limit: int) -> None:
        ctx.engine.badlog.warning(where, "while loop at %s stopped after %d iterations "
                                  "(max_while_loops)", where, limit)

    return {
        "_rt": rt,
        "_Exit": ScriptExit,
        "_kw_from_uri": _kw_from_uri,
        "_kw_to_uri": _kw_to_uri,
        "_kw_snd": _kw_snd,
        "_dynamic_route": dynamic_route,
        "_loop_limit": loop_limit,
    }
