"""Hot reload of the routing script, whole or nothing.

A reload first loads the script into a scratch engine (same core config and
defines) and compares it with the live one: a different module set, a changed
module parameter that is not ``runtime``, or changed listen/alias/TCP settings
need a restart and fail the reload. Only then is the script compiled into the
live engine and its ``Routes`` swapped in one assignment. Any failure leaves
the previous script, module parameters and core settings as they were.

Reloads run on the event loop thread, the thread that handles SIP messages one
at a time, so the swap always falls between two messages (``Engine.handle``
reads ``engine.routes`` once per message).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..script.errors import ScriptLoadError
from ..script.loader import load_script
from .engine import Engine
from .rpc import RpcError, RpcRegistry

if TYPE_CHECKING:
    from ..script.routes import Routes
    from .config import CoreConfig

log = logging.getLogger("ksrpy")

RELOAD_FAILED = -32001
#: Core settings fixed when the sockets are opened: changing them needs a restart.
RESTART_CORE = ("listen", "alias", "disable_tcp", "tcp_connection_lifetime",
                "tcp_connect_timeout", "tcp_max_connections", "tcp_header_timeout")

FileState = dict[str, tuple[int, int, int] | None]


@dataclass
class ReloadResult:
    """What one reload did: ok, or the errors that kept the previous script."""

    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Snapshot:
    """The live engine's reloadable state, to put back when a reload fails midway."""

    modules: dict[str, dict[str, Any]]
    config: CoreConfig
    ksr: Any

    @classmethod
    def take(cls, engine: Engine) -> _Snapshot:
        """Copy module settings, core config and the current KSR module."""
        return cls({n: dict(m.settings) for n, m in engine.modules.items()},
                   copy.deepcopy(engine.config), sys.modules.get("KSR"))

    def restore(self, engine: Engine) -> None:
        """Put everything back (modules added meanwhile are dropped, never initialised)."""
        for name in [n for n in engine.modules if n not in self.modules]:
            del engine.modules[name]
        for name, settings in self.modules.items():
            engine.modules[name].settings = dict(settings)
        for f in dataclasses.fields(self.config):
            setattr(engine.config, f.name, getattr(self.config, f.name))
        _restore_ksr(self.ksr)


def _restore_ksr(ksr: Any) -> None:
    if ksr is None:
        sys.modules.pop("KSR", None)
    else:
        sys.modules["KSR"] = ksr


def file_state(paths: list[str]) -> FileState:
    """(mtime_ns, size, inode) of each file, None when missing."""
    out: FileState = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out[path] = None
        else:
            out[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return out


def compare(live: Engine, new: Engine) -> tuple[list[str], list[tuple[str, str, Any, Any]]]:
    """(restart-needed errors, runtime parameter changes as (module, param, old, new))."""
    errors: list[str] = []
    changes: list[tuple[str, str, Any, Any]] = []
    added = sorted(set(new.modules) - set(live.modules))
    removed = sorted(set(live.modules) - set(new.modules))
    if added or removed:
        errors.append(f"module set changed (added: {', '.join(added) or 'none'}; "
                      f"removed: {', '.join(removed) or 'none'}): restart ksrpy to apply")
    for name in sorted(set(live.modules) & set(new.modules)):
        old_mod, new_mod = live.modules[name], new.modules[name]
        for param in old_mod.export_table().params.values():
            old = old_mod.settings.get(param.name)
            value = new_mod.settings.get(param.name)
            if old == value:
                continue
            if param.runtime:
                changes.append((name, param.name, old, value))
            else:
                errors.append(f"modparam {name}.{param.name} changed ({old!r} -> {value!r}) "
                              "and needs a restart")
    for attr in RESTART_CORE:
        old, value = getattr(live.config, attr), getattr(new.config, attr)
        if old != value:
            errors.append(f"core parameter {attr} changed ({old!r} -> {value!r}) "
                          "and needs a restart")
    return errors, changes


def _issues(exc: ScriptLoadError) -> list[str]:
    return [str(issue) for issue in exc.issues] or [str(exc)]


class Reloader:
    """Reloads ``script_path`` into ``engine``; keeps a count and the last result."""

    def __init__(self, engine: Engine, script_path: str) -> None:
        self.engine = engine
        self.script_path = script_path
        self.reloads = 0
        self.failures = 0
        self.loaded_at = time.time()
        self.last: ReloadResult | None = None
        self.last_time: float | None = None
        self.last_trigger: str | None = None
        routes = engine.routes
        self.files_state: FileState = file_state(list(routes.files) if routes else [])

    def files(self) -> list[str]:
        """Every file the running script was read from."""
        routes = self.engine.routes
        return list(routes.files) if routes is not None else [self.script_path]

    def reload(self, trigger: str = "api") -> ReloadResult:
        """Reload the script; on any error the previous one stays active. Logs one line."""
        self.files_state = file_state(self.files())
        try:
            result = self._reload()
        except Exception as exc:  # noqa: BLE001 - a reload must never take the server down
            log.debug("reload traceback", exc_info=True)
            result = ReloadResult(False, [f"unexpected error: {type(exc).__name__}: {exc}"])
        self.last, self.last_time, self.last_trigger = result, time.time(), trigger
        if result.ok:
            self.reloads += 1
            self.loaded_at = self.last_time
            files = self.files()
            self.files_state = {**file_state(files), **{
                p: s for p, s in self.files_state.items() if p in files}}
            result.info.update(self.status())
            log.info("reload ok (%d files) [%s]", len(files), trigger)
        else:
            self.failures += 1
            log.error("reload failed [%s]: %d error(s), previous script still active",
                      trigger, len(result.errors))
            for error in result.errors:
                log.error("%s", error)
        for warning in result.warnings:
            log.warning("reload: %s", warning)
        return result

    def _reload(self) -> ReloadResult:
        engine, path = self.engine, self.script_path
        if engine.routing:
            return ReloadResult(False, ["reload requested while a message is being processed"])
        scratch = Engine(copy.deepcopy(engine.config))
        saved_ksr = sys.modules.get("KSR")
        try:
            load_script(path, scratch)
        except ScriptLoadError as exc:
            return ReloadResult(False, _issues(exc))
        finally:
            _restore_ksr(saved_ksr)
        errors, changes = compare(engine, scratch)
        if errors:
            return ReloadResult(False, errors)
        snapshot = _Snapshot.take(engine)
        try:
            routes = load_script(path, engine)
            for module, param, _old, value in changes:
                engine.modules[module].set_param(param, value)
        except ScriptLoadError as exc:
            snapshot.restore(engine)
            return ReloadResult(False, _issues(exc))
        except BaseException:
            snapshot.restore(engine)
            raise
        drift, extra = compare(scratch, engine)
        if drift or extra:  # the file changed between the two loads
            snapshot.restore(engine)
            return ReloadResult(False, ["the script changed while it was being reloaded; "
                                        "try again"])
        self._swap(routes)
        warnings = [f"runtime parameter {m}.{p} applied ({old!r} -> {new!r})"
                    for m, p, old, new in changes]
        return ReloadResult(True, [], warnings, {"files": list(routes.files)})

    def _swap(self, routes: Routes) -> None:
        """Install the new routes: one assignment, between two messages."""
        assert not self.engine.routing, "routes swapped while a message is processed"
        self.engine.set_routes(routes)

    def status(self) -> dict[str, Any]:
        """Reload counters and the last attempt, for routes.info."""
        last = None
        if self.last is not None:
            last = {"ok": self.last.ok, "time": self.last_time, "trigger": self.last_trigger,
                    "errors": list(self.last.errors), "warnings": list(self.last.warnings)}
        return {"script": self.script_path, "loaded_at": self.loaded_at,
                "reloads": self.reloads, "reload_failures": self.failures, "last_reload": last}

    def info(self) -> dict[str, Any]:
        """The running script's Routes.info() plus reload status."""
        routes = self.engine.routes
        out = routes.info() if routes is not None else {}
        out.update(self.status())
        return out

    def rpc_reload(self) -> dict[str, Any]:
        """Reload the routing script; the previous one stays active on any error."""
        result = self.reload("rpc")
        if not result.ok:
            raise RpcError(RELOAD_FAILED, "reload failed, previous script still active",
                           list(result.errors))
        return {"ok": True, "files": result.info.get("files", []),
                "warnings": list(result.warnings)}


def register_routes_commands(registry: RpcRegistry, reloader: Reloader) -> None:
    """routes.info and routes.reload."""
    registry.register("routes.info", reloader.info)
    registry.register("routes.reload", reloader.rpc_reload)


class ScriptWatcher:
    """Polls the script's files and reloads once a change has settled (``--watch``)."""

    def __init__(self, reloader: Reloader, *, interval: float = 1.0, settle: float = 0.3,
                 max_settle: float = 10.0) -> None:
        self.reloader = reloader
        self.interval = interval
        self.settle = settle
        self.max_settle = max_settle

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if file_state(self.reloader.files()) == self.reloader.files_state:
                continue
            await self._settled()
            try:
                self.reloader.reload("watch")
            except Exception:  # noqa: BLE001 - keep watching whatever happens
                log.exception("watch: reload raised")

    async def _settled(self) -> None:
        """Wait until no file changed for ``settle`` seconds (at most ``max_settle``)."""
        loop = asyncio.get_running_loop()
        start = stable_since = loop.time()
        last = file_state(self.reloader.files())
        step = max(self.settle / 3, 0.02)
        while loop.time() - start < self.max_settle:
            await asyncio.sleep(step)
            now_state = file_state(self.reloader.files())
            if now_state != last:
                last, stable_since = now_state, loop.time()
            elif loop.time() - stable_since >= self.settle:
                return


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
