"""Run the proxy: logging, event loop, script, transports, signals."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from dataclasses import dataclass, field, replace

from ..script.errors import ScriptLoadError
from ..script.loader import load_script
from ..sip import scanner
from ..transport.address import ListenSpec, parse_listen
from ..transport.errors import TransportError
from ..transport.manager import TransportManager
from .config import CoreConfig
from .datadir import DataDirError, script_defines
from .engine import Engine, ModuleInitError
from .reload import Reloader, ScriptWatcher, cancel, register_routes_commands
from .rpc import RpcRegistry, RpcServer, RpcSocketError, register_core, resolve_ctl_path

log = logging.getLogger("ksrpy")

DEFAULT_LISTEN = ("udp:127.0.0.1:5060", "tcp:127.0.0.1:5060")

#: Kamailio debug level -> Python logging level for the root logger.
DEBUG_TO_LOGGING = {-3: logging.CRITICAL, -2: logging.CRITICAL, -1: logging.ERROR,
                    0: logging.WARNING, 1: 25, 2: logging.INFO, 3: logging.DEBUG}


@dataclass
class RunOptions:
    """What ``ksrpy run`` was asked to do."""

    script: str
    listen: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    debug: int | None = None
    ready_file: str | None = None
    ctl: str | None = None  # control socket path; None: the default; "none": no socket
    watch: bool = False  # reload when a script file changes
    data_dir: str | None = None  # --data-dir; None: $KSRPY_DATA_DIR or the default


def setup_logging(debug: int) -> None:
    """Logs to stderr with levels, as Kamailio's log_stderror=yes."""
    level = DEBUG_TO_LOGGING.get(max(-3, min(3, debug)), logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def install_event_loop() -> str:
    """Use uvloop when installed (its datagram and reader paths are faster); name the loop."""
    if os.environ.get("KSRPY_ASYNCIO") == "1":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def build_engine(options: RunOptions) -> tuple[Engine, list[ListenSpec]]:
    """Load the script into a new engine; ScriptLoadError when it does not load."""
    config = CoreConfig(defines=dict(options.defines))
    if options.debug is not None:
        config.debug = options.debug
    engine = Engine(config)
    routes = load_script(options.script, engine)
    engine.set_routes(routes)
    engine.init_modules()
    texts = options.listen or config.listen or list(DEFAULT_LISTEN)
    listens: list[ListenSpec] = []
    for text in texts:
        listens.extend(parse_listen(text))
    return engine, listens


def control_registry(engine: Engine, reloader: Reloader | None,
                     script: str | None = None) -> RpcRegistry:
    """Built-in commands, routes.* when reloads are possible, then the modules' RPCs."""
    registry = RpcRegistry()
    register_core(registry, engine, script)
    if reloader is not None:
        register_routes_commands(registry, reloader)
    registry.add_module_rpcs(engine.modules)
    return registry


async def serve(
    engine: Engine,
    listens: list[ListenSpec],
    ready_file: str | None = None,
    *,
    ctl: str | None = None,
    ctl_required: bool = True,
    script: str | None = None,
    watch: bool = False,
) -> None:
    """Listen, process messages until SIGTERM/SIGINT, then close everything.

    ``ctl`` is the control socket path (None: no socket); ``script`` enables
    reloads (routes.reload, SIGHUP, and ``watch`` polling its files).
    """
    cfg = engine.config
    transport = TransportManager(
        listens,
        engine.handle,
        tcp_idle_timeout=cfg.tcp_connection_lifetime,
        tcp_connect_timeout=cfg.tcp_connect_timeout,
        tcp_max_connections=cfg.tcp_max_connections,
        header_timeout=cfg.tcp_header_timeout,
    )
    await transport.start()
    engine.attach_transport(transport)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reloader = Reloader(engine, script) if script else None
    rpc_server: RpcServer | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        if ctl:
            rpc_server = RpcServer(control_registry(engine, reloader, script), ctl)
            try:
                await rpc_server.start()
                log.info("control socket %s", ctl)
            except RpcSocketError as exc:
                if ctl_required:
                    raise
                # The default path is taken (another ksrpy runs here): serve without RPC.
                log.warning("%s; running without a control socket (use --ctl PATH)", exc)
                rpc_server = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if reloader is not None:
            # Runs on the loop thread, so the reload falls between two messages.
            loop.add_signal_handler(signal.SIGHUP, reloader.reload, "SIGHUP")
            if watch:
                watcher = asyncio.create_task(ScriptWatcher(reloader).run())
                log.info("watching %s for changes", ", ".join(reloader.files()))
        bound = ", ".join(str(s) for s in transport.bound)
        log.info("listening on %s", bound)
        if ready_file:
            with open(ready_file, "w", encoding="utf-8") as fh:
                fh.write("\n".join(str(s) for s in transport.bound) + "\n")
        await stop.wait()
    finally:
        log.info("stopping")
        await cancel(watcher)
        if reloader is not None:
            loop.remove_signal_handler(signal.SIGHUP)
        if rpc_server is not None:
            await rpc_server.stop()
        await transport.stop()
        for module in engine.modules.values():
            module.destroy()


#: Garbage-collector thresholds (generation 0, 1, 2). A proxy allocates a few hundred
#: objects per message, nearly all freed by reference counting (tm breaks its cycles);
#: what survives is live call state, which every older-generation collection scans in
#: vain: with Python's (700, 10, 10) those scans stall the loop for hundreds of
#: milliseconds several times a minute at a few hundred calls per second.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Freeze what loading created (never garbage) and set GC_THRESHOLDS (or $KSRPY_GC)."""
    gc.collect()
    gc.freeze()
    thresholds = GC_THRESHOLDS
    text = os.environ.get("KSRPY_GC")
    if text:
        try:
            thresholds = tuple(int(x) for x in text.split(","))  # type: ignore[assignment]
            if len(thresholds) != 3 or min(thresholds) < 0:
                raise ValueError(text)
        except ValueError:
            log.warning("KSRPY_GC=%r is not three numbers (gen0,gen1,gen2); using %s",
                        text, ",".join(map(str, GC_THRESHOLDS)))
            thresholds = GC_THRESHOLDS
    gc.set_threshold(*thresholds)


def run(options: RunOptions) -> int:
    """The body of ``ksrpy run``: exit status 0 on a clean stop, 1 on a load/listen error."""
    setup_logging(options.debug if options.debug is not None else 2)
    loop_name = install_event_loop()
    if not scanner.NATIVE:
        log.warning("C scanner not in use (%s); running on the pure-Python scanner",
                    scanner.native_unavailable_reason or "KSRPY_PURE=1")
    try:
        ctl = resolve_ctl_path(options.ctl, create=True)
    except RpcSocketError as exc:
        log.error("%s", exc)
        return 1
    try:
        defines, data_dir = script_defines(options.script, options.data_dir, options.defines,
                                           create=True)
    except DataDirError as exc:
        log.error("%s (choose another with --data-dir DIR)", exc)
        return 1
    if data_dir is not None:
        log.info("data directory %s", data_dir)
    options = replace(options, defines=defines)
    try:
        engine, listens = build_engine(options)
    except ScriptLoadError as exc:
        log.error("cannot load %s:\n%s", options.script, exc)
        return 1
    except (ValueError, ModuleInitError) as exc:
        log.error("%s", exc)
        return 1
    if options.debug is None:
        setup_logging(engine.config.debug)
    log.info("script %s loaded; event loop %s; scanner %s", options.script, loop_name,
             "native" if scanner.NATIVE else "pure-Python")
    tune_gc()
    try:
        asyncio.run(serve(engine, listens, options.ready_file, ctl=ctl, script=options.script,
                          watch=options.watch, ctl_required=options.ctl is not None))
    except (TransportError, RpcSocketError) as exc:
        log.error("%s", exc)
        return 1
    return 0
