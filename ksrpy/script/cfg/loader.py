"""Load a kamailio.cfg: preprocess, parse, load modules and modparams, compile the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...modules import ModuleNotAvailable
from ..errors import ScriptIssue, ScriptLoadError
from ..routes import Routes
from . import ast
from .compiler import Compiler, runtime_namespace
from .parser import CfgSyntaxError, parse
from .preprocess import Preprocessed, preprocess
from .settings import NOOP_MODULES, CfgSettings, collect

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
    for name, pos in settings.modules:
        if name in NOOP_MODULES or name in missing:
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
            if module_name in NOOP_MODULES or module_name in missing:
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


def compile_cfg(path: str, engine: Engine, *, defines: dict[str, str] | None = None
                ) -> Routes:
    """Load ``path`` into ``engine`` (modules, parameters, routes); ScriptLoadError on problems."""
    pre, script, issues = parse_cfg(path, dict(defines if defines is not None
                                               else engine.config.defines))
    if script is None:
        raise ScriptLoadError(issues.items)
    settings = collect(script, issues.add)
    missing = _load_modules(engine, settings, issues)
    _modparams(engine, settings, missing, issues)
    settings.apply(engine.config)
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
