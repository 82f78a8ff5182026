"""Load a kamailio.cfg: preprocess, parse, load modules and modparams, compile the routes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ...modules import ModuleNotAvailable
from ..errors import ScriptIssue, ScriptLoadError
from ..python_loader import check_python_source, load_python_script
from ..routes import Routes
from . import ast
from .compiler import Compiler, runtime_namespace
from .parser import CfgSyntaxError, parse
from .preprocess import Preprocessed, preprocess
from .settings import (
    KEMI_APP_MODULES,
    NOOP_MODULES,
    PYTHON_APP_PARAMS,
    PYTHON_ENGINES,
    CfgSettings,
    collect,
)

if TYPE_CHECKING:
    from ...core.engine import Engine


class _Issues:
    """Collects issues, mapping preprocessed positions to file:line:col."""

    def __init__(self, pre: Preprocessed) -> None:
        self.pre = pre
        self.items: list[ScriptIssue] = list(pre.issues)

    def where(self, pos: ast.Pos) -> tuple[str, int]:
        line = pos[0]
        if 0 < line <= len(self.pre.line_map):
            return self.pre.line_map[line - 1]
        return (self.pre.files[0] if self.pre.files else "<cfg>", line)

    def add(self, pos: ast.Pos, message: str) -> None:
        self.items.append(self.pre.issue_at(pos[0], pos[1], message))


def parse_cfg(path: str, defines: dict[str, str]) -> tuple[Preprocessed, ast.Script | None,
                                                            _Issues]:
    """Preprocess and parse; the script is None when there were syntax errors."""
    pre = preprocess(path, defines)
    issues = _Issues(pre)
    try:
        script = parse(pre.text)
    except CfgSyntaxError as exc:
        for line, col, message in exc.errors:
            issues.add((line, col), message)
        return pre, None, issues
    return pre, script, issues


def check_cfg_syntax(path: str, defines: dict[str, str]) -> list[ScriptIssue]:
    """The language alone: preprocessor, grammar, block structure (no module lookups)."""
    pre, script, issues = parse_cfg(path, defines)
    if script is not None:
        collect(script, issues.add)
        seen: dict[tuple[str, str | None], ast.Pos] = {}
        for item in script.items:
            if isinstance(item, ast.RouteBlock):
                kind = "request_route" if item.kind == "route" and not item.name else item.kind
                key = (kind, item.name)
                if key in seen:
                    issues.add(item.pos, f"{kind}[{item.name}] is defined twice"
                               if item.name else f"{kind} is defined twice")
                seen[key] = item.pos
    return issues.items


def _load_modules(engine: Engine, settings: CfgSettings, issues: _Issues) -> set[str]:
    """Instantiate the script's modules; returns the names ksrpy does not have."""
    missing: set[str] = set()
    python_engine = settings.engine_name in PYTHON_ENGINES
    for name, pos in settings.modules:
        if name in NOOP_MODULES or name in missing:
            continue
        if name in KEMI_APP_MODULES:
            # The script interpreter itself: only app_python(3) as cfgengine "python".
            if not (python_engine and KEMI_APP_MODULES[name] == "python"):
                missing.add(name)
                if KEMI_APP_MODULES[name] != settings.engine_name:
                    issues.add(pos, _app_issue(name))
            continue
        try:
            engine.load_module(name)
        except ModuleNotAvailable:
            missing.add(name)
            issues.add(pos, f"module {name!r} is not available in ksrpy")
    return missing


def _modparams(engine: Engine, settings: CfgSettings, missing: set[str],
               issues: _Issues) -> None:
    for item in settings.modparams:
        for module_name in item.module.split("|"):
            module_name = module_name.strip()
            if (module_name in NOOP_MODULES or module_name in missing
                    or module_name in KEMI_APP_MODULES):
                continue
            module = engine.modules.get(module_name)
            if module is None:
                issues.add(item.pos, f"modparam for module {module_name!r}, "
                                     "which is not loaded (loadmodule missing?)")
                continue
            try:
                module.set_param(item.param, item.value)
            except ValueError as exc:
                issues.add(item.pos, str(exc))


def _app_issue(name: str) -> str:
    """Why a KEMI interpreter module cannot be loaded this way."""
    if KEMI_APP_MODULES[name] == "python":
        return (f"module {name!r} is supported only as the routing engine: "
                f'modparam("{name}", "load", "script.py") with cfgengine "python" '
                "(python_exec() is not supported)")
    if name == "app_lua":
        return ("module 'app_lua' is not available in ksrpy: translate the Lua script "
                "with `ksrpy port lua SCRIPT.lua -o SCRIPT.py` and load it with app_python3")
    return f"module {name!r} is not available in ksrpy (only Python KSR scripts run)"


def _python_script_path(path: str, settings: CfgSettings, issues: _Issues) -> str | None:
    """The KSR script a cfgengine "python" cfg names (relative to the cfg's folder)."""
    apps = [(n, pos) for n, pos in settings.modules if KEMI_APP_MODULES.get(n) == "python"]
    if not apps:
        issues.add(settings.engine_pos, f'cfgengine "{settings.engine_name}" needs '
                   'loadmodule "app_python3.so" and modparam("app_python3", "load", '
                   '"/path/script.py")')
        return None
    if len({n for n, _ in apps}) > 1:
        issues.add(apps[-1][1], "app_python and app_python3 cannot be loaded together")
    values = {k: v for k, v in PYTHON_APP_PARAMS.items() if v is not None}
    for item in settings.modparams:
        names = {m.strip() for m in item.module.split("|")}
        if not names & {n for n, _ in apps}:
            continue
        param = "load" if item.param == "script_name" else item.param
        if param not in PYTHON_APP_PARAMS:
            issues.add(item.pos, f"unknown parameter {item.param!r} of module {apps[0][0]!r}")
        elif param != "load" and str(item.value) != PYTHON_APP_PARAMS[param]:
            issues.add(item.pos, f"modparam {item.param}={item.value!r} is not supported: "
                       f"ksrpy calls the script's {PYTHON_APP_PARAMS[param]}()")
        else:
            values[param] = str(item.value)
    script = values["load"]
    if not script:
        issues.add(apps[0][1], f'modparam("{apps[0][0]}", "load", ...) is empty')
        return None
    return os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(script))


def _python_engine(path: str, pre: Preprocessed, script: ast.Script, settings: CfgSettings,
                   engine: Engine, issues: _Issues, *, check_only: bool = False) -> Routes:
    """cfgengine "python": the cfg gave modules and parameters; the KSR script routes.

    ``check_only`` reads the script statically (as ``ksrpy check`` does for a
    .py file) instead of running its top level and mod_init().
    """
    for item in script.items:
        if isinstance(item, ast.RouteBlock):
            kind = "request_route" if item.kind == "route" and not item.name else item.kind
            label = f"{kind}[{item.name}]" if item.name else kind
            issues.add(item.pos, f'{label} is not run with cfgengine "{settings.engine_name}": '
                       "the routing logic is the Python KSR script (remove the block)")
    script_path = _python_script_path(path, settings, issues)
    if script_path is not None and (issues.items or check_only):
        try:
            with open(script_path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            issues.items.append(ScriptIssue(script_path, 1, 1, f"cannot read script: {exc}"))
        else:
            issues.items.extend(check_python_source(script_path, text, engine))
    if issues.items:
        raise ScriptLoadError(issues.items)
    assert script_path is not None
    if check_only:
        return Routes(kind="python", files=[*pre.files, script_path], settings=settings)
    routes = load_python_script(script_path, engine)
    routes.files = [*pre.files, *(f for f in routes.files if f not in pre.files)]
    routes.settings = settings
    settings.warn_ignored()
    return routes


def compile_cfg(path: str, engine: Engine, *, defines: dict[str, str] | None = None,
                check_only: bool = False) -> Routes:
    """Load ``path`` into ``engine`` (modules, parameters, routes); ScriptLoadError on problems.

    ``check_only``: a Python KSR script named by cfgengine "python" is checked, not run.
    """
    pre, script, issues = parse_cfg(path, dict(defines if defines is not None
                                               else engine.config.defines))
    if script is None:
        raise ScriptLoadError(issues.items)
    settings = collect(script, issues.add)
    missing = _load_modules(engine, settings, issues)
    _modparams(engine, settings, missing, issues)
    settings.apply(engine.config)
    if settings.engine_name in PYTHON_ENGINES:
        return _python_engine(path, pre, script, settings, engine, issues,
                              check_only=check_only)
    compiler = Compiler(engine, pre.line_map, unchecked_calls=bool(missing),
                        max_while_loops=engine.config.max_while_loops)
    source, consts, origin = compiler.compile(script)
    issues.items.extend(pre.issue_at(e.pos[0], e.pos[1], e.message) for e in compiler.errors)
    if issues.items:
        raise ScriptLoadError(issues.items)
    routes_ref: list[Routes] = []
    namespace: dict[str, Any] = {**runtime_namespace(routes_ref), **consts}
    namespace["__ksrpy_lines__"] = origin
    routes = compiler.build_routes(source, namespace, pre.files, f"<cfg {path}>")
    routes.source = source
    routes.settings = settings
    routes_ref.append(routes)
    settings.warn_ignored()
    return routes
