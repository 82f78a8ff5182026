"""Load Python KSR route scripts, in both of Kamailio's forms.

* plain functions, as Kamailio's Lua scripts: ``def ksr_request_route(): ...``;
* app_python3's form: ``mod_init()`` returns an object whose
  ``ksr_request_route(self, msg)`` is called per request.

Before running anything the script is checked statically: every
``KSR.<module>.<function>(...)`` call must name an exported function with a
valid number of arguments, and route names given to ``t_on_*`` as string
literals must exist. All problems are reported at once, with file:line:col.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import os
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..paths import shipped_dir
from .errors import ScriptIssue, ScriptLoadError, source_line
from .kemi import build_ksr, kemi_signatures
from .routes import Routes

if TYPE_CHECKING:
    from ..core.context import Context
    from ..core.engine import Engine

_counter = itertools.count(1)

#: KSR functions whose first argument names a route function of the script.
ROUTE_NAME_ARGS = {
    ("tm", "t_on_failure"), ("tm", "t_on_reply"), ("tm", "t_on_branch"),
    ("tm", "t_on_branch_failure"), ("", "route"),
}


class LegacyMsg:
    """The ``msg`` argument app_python3 passes to object-form routes (read-only helpers)."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @property
    def Type(self) -> str:  # noqa: N802 - Kamailio's attribute name
        """'SIP_REQUEST' or 'SIP_REPLY'."""
        return "SIP_REQUEST" if self._ctx.msg.is_request else "SIP_REPLY"

    @property
    def Method(self) -> str:  # noqa: N802
        """The request method."""
        return self._ctx.msg.method

    @property
    def Status(self) -> str:  # noqa: N802
        """The reply status code as text ('' for requests)."""
        return str(self._ctx.msg.status or "")

    @property
    def RURI(self) -> str:  # noqa: N802
        """The current Request-URI."""
        return self._ctx.ruri

    @property
    def src_address(self) -> tuple[str, int]:
        """(source IP, source port)."""
        return (self._ctx.rcv.src_ip, self._ctx.rcv.src_port)

    @property
    def dst_address(self) -> tuple[str, int]:
        """(local IP, local port)."""
        return (self._ctx.rcv.dst_ip, self._ctx.rcv.dst_port)

    def getHeader(self, name: str) -> str | None:  # noqa: N802
        """The first header with this name, None when absent."""
        return self._ctx.msg.get_header(name)


def _syntax_issue(path: str, exc: SyntaxError) -> ScriptIssue:
    line = exc.lineno or 1
    return ScriptIssue(path, line, exc.offset or 1, f"syntax error: {exc.msg}",
                       exc.text or source_line(path, line))


def _ksr_chain(node: ast.expr) -> tuple[str, str] | None:
    """('ns', 'fn') for KSR.ns.fn, ('', 'fn') for KSR.fn, else None."""
    if not isinstance(node, ast.Attribute):
        return None
    inner = node.value
    if isinstance(inner, ast.Name) and inner.id == "KSR":
        return ("", node.attr)
    if (
        isinstance(inner, ast.Attribute)
        and isinstance(inner.value, ast.Name)
        and inner.value.id == "KSR"
    ):
        return (inner.attr, node.attr)
    return None


def check_python_source(path: str, text: str, engine: Engine, *,
                        syntax_only: bool = False) -> list[ScriptIssue]:
    """Every problem a static read of the script finds (syntax, KSR names, arity, route names)."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        return [_syntax_issue(path, exc)]
    if syntax_only:
        return []
    lines = text.splitlines()
    signatures = kemi_signatures(engine)
    namespaces = {ns for ns, _ in signatures}
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    issues: list[ScriptIssue] = []

    def issue(node: ast.AST, message: str) -> None:
        line = getattr(node, "lineno", 1)
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        issues.append(ScriptIssue(path, line, getattr(node, "col_offset", 0) + 1, message, src))

    guarded = _guarded_calls(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        chain = _ksr_chain(node.func)
        if chain is None:
            continue
        ns, fn = chain
        label = f"KSR.{ns}.{fn}" if ns else f"KSR.{fn}"
        if ns and ns not in namespaces:
            if (id(node), ns) not in guarded:
                issue(node, f"{label}: module {ns!r} is not available in ksrpy")
            continue
        if not ns and fn in namespaces:
            continue
        found = signatures.get(chain)
        if found is None:
            issue(node, f"{label} is not an exported function")
            continue
        if any(isinstance(a, ast.Starred) for a in node.args) or node.keywords:
            continue
        module, fexp = found
        params = inspect.signature(getattr(module, fexp.method)).parameters.values()
        variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        n = len(node.args)
        if n < fexp.min_args or (n > len(fexp.args) and not variadic):
            want = (str(fexp.min_args) if fexp.min_args == len(fexp.args)
                    else f"{fexp.min_args}-{len(fexp.args)}")
            issue(node, f"{label}() takes {want} argument(s), {n} given")
            continue
        if chain in ROUTE_NAME_ARGS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value and first.value not in defined:
                    issue(first, f"{label}(): no route function named {first.value!r}")
    return issues


def _guarded_calls(tree: ast.AST) -> set[tuple[int, str]]:
    """(call node id, namespace) of KSR calls under ``if hasattr(KSR, "ns"):``.

    Kamailio's scripts test whether a module is loaded before using it (Lua's
    ``if KSR.auth then``); calls so guarded are not errors when ksrpy lacks it.
    """
    out: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        names = {
            test.args[1].value
            for test in ast.walk(node.test)
            if isinstance(test, ast.Call) and isinstance(test.func, ast.Name)
            and test.func.id == "hasattr" and len(test.args) == 2
            and isinstance(test.args[0], ast.Name) and test.args[0].id == "KSR"
            and isinstance(test.args[1], ast.Constant) and isinstance(test.args[1].value, str)
        }
        if not names:
            continue
        for stmt in node.body:
            for inner in ast.walk(stmt):
                if isinstance(inner, ast.Call):
                    out.update((id(inner), name) for name in names)
    return out


def _exec_script(path: str, text: str) -> types.ModuleType:
    module = types.ModuleType(f"ksrpy_script_{next(_counter)}")
    module.__file__ = path
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        # As app_python3: modules beside the script can be imported.
        sys.path.insert(0, folder)
    stdlib = str(shipped_dir("stdlib"))
    if stdlib not in sys.path:
        # ksrpy's includable route helpers (reqinit ...), after everything else.
        sys.path.append(stdlib)
    code = compile(text, path, "exec")
    exec(code, module.__dict__)  # noqa: S102 - running the user's routing script is the job
    return module


def _wrap_plain(fn: Callable[..., Any]) -> Callable[[Context], Any]:
    def route(ctx: Context) -> Any:
        return fn()

    return route


def _wrap_method(fn: Callable[..., Any]) -> Callable[[Context], Any]:
    def route(ctx: Context) -> Any:
        return fn(LegacyMsg(ctx))

    return route


def load_python_script(path: str, engine: Engine) -> Routes:
    """Check, execute and wrap a Python KSR script; ScriptLoadError lists every problem."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ScriptLoadError([ScriptIssue(path, 1, 1, f"cannot read script: {exc}")]) from None
    build_ksr(engine)
    issues = check_python_source(path, text, engine)
    if issues:
        raise ScriptLoadError(issues)
    try:
        module = _exec_script(path, text)
    except SyntaxError as exc:
        raise ScriptLoadError([_syntax_issue(path, exc)]) from None
    except Exception as exc:  # noqa: BLE001 - report any failure of the script's top level
        raise ScriptLoadError([_runtime_issue(path, exc, "running the script failed")]) from None
    _apply_modparams(path, module, engine)
    if callable(module.__dict__.get("mod_init")):
        return _object_form(path, module)
    return _plain_form(path, module)


def _apply_modparams(path: str, module: types.ModuleType, engine: Engine) -> None:
    """ksrpy extension: ``ksr_modparams(defines)`` returns a script's module parameters.

    It gets the -A defines (name -> value, as given) and returns
    ``{module: {param: value}}``, a list value meaning the modparam repeated;
    the parameters are set before the modules start, as cfg modparams are.
    ``{"core": {"alias": [...]}}`` adds cfg ``alias=`` entries.
    """
    hook = module.__dict__.get("ksr_modparams")
    if not callable(hook):
        return
    try:
        wanted = hook(dict(engine.config.defines))
        for name, params in (wanted or {}).items():
            for key, value in params.items():
                items = value if isinstance(value, list) else [value]
                if name == "core":
                    if key != "alias":
                        raise ValueError(f"core setting {key!r} cannot be set from Python "
                                         "(only alias)")
                    aliases = engine.config.alias
                    aliases.extend(a for a in map(str, items) if a not in aliases)
                    continue
                for item in items:
                    engine.load_module(name, {key: item})
    except Exception as exc:  # noqa: BLE001 - a bad parameter is a load error with a line
        raise ScriptLoadError([_runtime_issue(path, exc, "ksr_modparams() failed")]) from None


def _runtime_issue(path: str, exc: BaseException, what: str) -> ScriptIssue:
    line = 1
    tb = exc.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return ScriptIssue(path, line, 1, f"{what}: {type(exc).__name__}: {exc}",
                       source_line(path, line))


def _plain_form(path: str, module: types.ModuleType) -> Routes:
    namespace = module.__dict__
    request = namespace.get("ksr_request_route")
    if not callable(request):
        raise ScriptLoadError([ScriptIssue(
            path, 1, 1, "the script defines no ksr_request_route() function "
            "(nor mod_init() returning an object with one)")])

    def lookup(name: str) -> Callable[[Context], Any] | None:
        fn = namespace.get(name)
        return _wrap_plain(fn) if callable(fn) else None

    reply = namespace.get("ksr_reply_route")
    onsend = namespace.get("ksr_onsend_route")
    return Routes(
        kind="python",
        files=[path],
        request=_wrap_plain(request),
        reply=_wrap_plain(reply) if callable(reply) else None,
        onsend=_wrap_plain(onsend) if callable(onsend) else None,
        lookup=lookup,
    )


def _object_form(path: str, module: types.ModuleType) -> Routes:
    try:
        handler = module.mod_init()
    except Exception as exc:  # noqa: BLE001
        raise ScriptLoadError([_runtime_issue(path, exc, "mod_init() failed")]) from None
    if handler is None:
        raise ScriptLoadError([ScriptIssue(path, 1, 1, "mod_init() must return an object")])
    child_init = getattr(handler, "child_init", None)
    if callable(child_init):
        try:
            child_init(1)
        except Exception as exc:  # noqa: BLE001
            raise ScriptLoadError([_runtime_issue(path, exc, "child_init() failed")]) from None
    request = getattr(handler, "ksr_request_route", None)
    if not callable(request):
        raise ScriptLoadError([ScriptIssue(
            path, 1, 1, "the object returned by mod_init() has no ksr_request_route(msg)")])

    def lookup(name: str) -> Callable[[Context], Any] | None:
        fn = getattr(handler, name, None)
        return _wrap_method(fn) if callable(fn) else None

    reply = getattr(handler, "ksr_reply_route", None)
    onsend = getattr(handler, "ksr_onsend_route", None)
    return Routes(
        kind="python",
        files=[path],
        request=_wrap_method(request),
        reply=_wrap_method(reply) if callable(reply) else None,
        onsend=_wrap_method(onsend) if callable(onsend) else None,
        lookup=lookup,
    )
