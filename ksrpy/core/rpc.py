"""Control socket: JSON-RPC 2.0 over a local unix stream socket, one request per line.

``RpcRegistry`` maps method names to callables (built-in commands plus every
``@rpc("name")`` of the loaded modules' export tables) and turns one decoded
request into one response. ``RpcServer`` serves it on a unix socket, bounded
in line size, clients and idle time. ``call`` is the client ``ksrpy rpc`` uses.

Commands run on the event loop thread, between two SIP messages, so they may
read and change the engine without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import re
import socket
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:
    from ..modules.exports import Module
    from .engine import Engine

log = logging.getLogger("ksrpy.rpc")

JSONRPC = "2.0"
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
COMMAND_ERROR = -32000

MAX_LINE = 64 * 1024
MAX_CLIENTS = 16
IDLE_TIMEOUT = 30.0
#: Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL).
MAX_SOCKET_PATH = 107
CTL_NAME = "ksrpy_ctl"
RUN_DIR = "/run/ksrpy"


class RpcError(Exception):
    """An error a command reports to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class InvalidParams(RpcError):
    """The params do not fit the command (JSON-RPC -32602)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(INVALID_PARAMS, message, data)


class RpcSocketError(Exception):
    """The control socket cannot be created (path in use, too long, not writable)."""


class RpcClientError(Exception):
    """The client cannot reach the control socket or read its answer."""


@dataclass(frozen=True)
class Command:
    """One registered RPC command."""

    name: str
    fn: Callable[..., Any]
    doc: str = ""


def _jsonable(value: Any) -> Any:
    """json.dumps fallback: sets and tuples as lists, dataclasses as dicts, else text."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def encode(message: Any) -> bytes:
    """One response as a JSON line."""
    return json.dumps(message, default=_jsonable, separators=(",", ":")).encode() + b"\n"


def error_response(code: int, message: str, data: Any = None, rid: Any = None) -> dict[str, Any]:
    """A JSON-RPC error object."""
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": JSONRPC, "error": err, "id": rid}


class RpcRegistry:
    """Method name -> command; dispatches decoded JSON-RPC requests."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def register(self, name: str, fn: Callable[..., Any], doc: str | None = None) -> None:
        """Add a command; a name already taken keeps its first owner (warning logged)."""
        if name in self.commands:
            log.warning("rpc %s is already registered; ignoring the second one", name)
            return
        text = doc if doc is not None else (inspect.getdoc(fn) or "")
        self.commands[name] = Command(name, fn, text.strip().split("\n", 1)[0])

    def add_module_rpcs(self, modules: Mapping[str, Module]) -> None:
        """Register every ``@rpc`` declared in the export tables of ``modules``."""
        for module in modules.values():
            for rexp in module.export_table().rpcs.values():
                self.register(rexp.name, getattr(module, rexp.method), rexp.doc)

    def names(self) -> list[str]:
        """Every method name, sorted."""
        return sorted(self.commands)

    async def handle_line(self, line: bytes) -> bytes | None:
        """Decode one request line, run it, encode the answer (None for notifications)."""
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return encode(error_response(PARSE_ERROR, f"parse error: {exc}"))
        if isinstance(request, list):
            if not request:
                return encode(error_response(INVALID_REQUEST, "empty batch"))
            answers = [await self.dispatch(item) for item in request]
            kept = [a for a in answers if a is not None]
            return encode(kept) if kept else None
        answer = await self.dispatch(request)
        return None if answer is None else encode(answer)

    async def dispatch(self, request: Any) -> dict[str, Any] | None:
        """Run one decoded request; the response dict, None for a notification."""
        if not isinstance(request, dict):
            return error_response(INVALID_REQUEST, "a request must be a JSON object")
        rid = request.get("id")
        notification = "id" not in request
        if not isinstance(rid, str | int | float | type(None)) or isinstance(rid, bool):
            return error_response(INVALID_REQUEST, "id must be a string, number or null")
        method = request.get("method")
        if request.get("jsonrpc") != JSONRPC or not isinstance(method, str):
            return error_response(INVALID_REQUEST,
                                  'invalid request: needs "jsonrpc": "2.0" and a method', None,
                                  rid)
        try:
            result = await self._call(method, request.get("params"))
        except RpcError as exc:
            answer = error_response(exc.code, exc.message, exc.data, rid)
        except Exception as exc:  # noqa: BLE001 - a failing command must not stop the server
            log.warning("rpc %s failed: %s: %s", method, type(exc).__name__, exc)
            log.debug("rpc %s traceback", method, exc_info=True)
            answer = error_response(COMMAND_ERROR, str(exc) or type(exc).__name__,
                                    {"type": type(exc).__name__}, rid)
        else:
            answer = {"jsonrpc": JSONRPC, "result": result, "id": rid}
        return None if notification else answer

    async def _call(self, method: str, params: Any) -> Any:
        command = self.commands.get(method)
        if command is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")
        if params is None:
            args: list[Any] = []
            kwargs: dict[str, Any] = {}
        elif isinstance(params, list):
            args, kwargs = params, {}
        elif isinstance(params, dict):
            args, kwargs = [], params
        else:
            raise InvalidParams("params must be an array or an object")
        try:
            inspect.signature(command.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidParams(f"bad params for {method}: {exc}") from None
        except ValueError:
            pass  # no signature available (builtins): let the call decide
        result = command.fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


# ------------------------------------------------------------------ built-ins


def register_core(registry: RpcRegistry, engine: Engine, script: str | None = None) -> None:
    """core.version, core.uptime, core.info, system.listMethods, system.methodHelp."""

    def version() -> str:
        """ksrpy's name and version."""
        return f"ksrpy {__version__}"

    def uptime() -> dict[str, Any]:
        """Current time, start time and seconds since start, as Kamailio's core.uptime."""
        now = time.time()
        return {"now": time.ctime(now), "up_since": time.ctime(engine.started),
                "uptime": int(now - engine.started)}

    def info() -> dict[str, Any]:
        """Version, pid, script, modules and listen sockets of this process."""
        from ..sip import scanner

        transport = engine.transport
        routes = engine.routes
        return {
            "version": __version__,
            "pid": os.getpid(),
            "script": script,
            "script_kind": routes.kind if routes is not None else None,
            "modules": sorted(engine.modules),
            "listen": [str(s) for s in transport.bound] if transport is not None else [],
            "scanner": "native" if scanner.NATIVE else "pure-Python",
            "started": engine.started,
        }

    def list_methods() -> list[str]:
        """Every RPC method name."""
        return registry.names()

    def method_help(name: str) -> str:
        """The one-line description of a method."""
        command = registry.commands.get(name)
        if command is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {name}", {"method": name})
        return command.doc

    registry.register("core.version", version)
    registry.register("core.uptime", uptime)
    registry.register("core.info", info)
    registry.register("system.listMethods", list_methods)
    registry.register("system.methodHelp", method_help)


# --------------------------------------------------------------- socket path


def _dir_usable(path: str, create: bool) -> bool:
    """Whether ``path`` is a writable directory, or could be created (created when asked)."""
    if os.path.isdir(path):
        return os.access(path, os.W_OK | os.X_OK)
    parent = os.path.dirname(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        return False
    if not create:
        return True
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)
    except OSError:
        return False
    return True


def _private_tmp_dir(path: str, create: bool) -> None:
    """/tmp/ksrpy-UID: made 0700; refused when another user owns it (no squatting)."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise RpcSocketError(f"{path} is not a directory owned by uid {os.getuid()}; "
                             "choose a control socket with --ctl")
    if create and st.st_mode & 0o077:
        os.chmod(path, 0o700)


def default_ctl_path(*, create: bool = False) -> str:
    """$KSRPY_CTL, else /run/ksrpy/ksrpy_ctl, else $XDG_RUNTIME_DIR/ksrpy_ctl, else /tmp.

    /run/ksrpy is used when it is writable or can be created (``create`` makes
    it, mode 0700); the last resort is /tmp/ksrpy-<uid>/ksrpy_ctl (dir 0700).
    """
    env = os.environ.get("KSRPY_CTL")
    if env:
        return env
    if _dir_usable(RUN_DIR, create):
        return os.path.join(RUN_DIR, CTL_NAME)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return os.path.join(xdg, CTL_NAME)
    private = f"/tmp/ksrpy-{os.getuid()}"
    _private_tmp_dir(private, create)
    return os.path.join(private, CTL_NAME)


def resolve_ctl_path(value: str | None, *, create: bool = False) -> str | None:
    """The control socket for ``--ctl VALUE``: None when disabled ('none'), else a path."""
    if value is None:
        value = default_ctl_path(create=create)
    if value.strip().lower() == "none":
        return None
    return value


# ------------------------------------------------------------------- server


def _probe(path: str, timeout: float = 1.0) -> tuple[bool, int | None]:
    """(something listens on path, pid of the ksrpy answering core.info or None)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return False, None
        except OSError:
            return True, None
        try:
            sock.sendall(encode({"jsonrpc": JSONRPC, "method": "core.info", "id": 1}))
            data = sock.makefile("rb").readline(MAX_LINE)
            pid = json.loads(data)["result"]["pid"]
        except (OSError, ValueError, KeyError, TypeError):
            return True, None
        return True, int(pid)


def bind_unix(path: str) -> tuple[socket.socket, int]:
    """A listening unix socket at ``path`` (mode 0600) and its inode; stale files replaced."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise RpcSocketError(f"control socket path is too long ({len(path)} > "
                             f"{MAX_SOCKET_PATH} bytes): {path}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise RpcSocketError(f"cannot create control socket {path}: no directory {folder}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise RpcSocketError(f"cannot create control socket {path}: a file that is not "
                                 "a socket is in the way")
        alive, pid = _probe(path)
        if alive:
            who = f"another ksrpy (pid {pid})" if pid is not None else "another process"
            raise RpcSocketError(f"control socket {path} is in use by {who}; stop it or "
                                 "choose another path with --ctl (or --ctl none)")
        os.unlink(path)
        log.info("replaced stale control socket %s", path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(MAX_CLIENTS)
    except OSError as exc:
        sock.close()
        raise RpcSocketError(f"cannot create control socket {path}: {exc}") from None
    finally:
        os.umask(old_mask)
    sock.setblocking(False)
    return sock, os.stat(path).st_ino


class RpcServer:
    """Serves an ``RpcRegistry`` on a unix socket: newline-delimited JSON-RPC 2.0."""

    def __init__(self, registry: RpcRegistry, path: str, *, max_line: int = MAX_LINE,
                 max_clients: int = MAX_CLIENTS, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.registry = registry
        self.path = path
        self.max_line = max_line
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Bind and listen; RpcSocketError when the socket cannot be had."""
        # In a thread: probing a socket served by this very loop must not block it.
        sock, self._inode = await asyncio.to_thread(bind_unix, self.path)
        self._server = await asyncio.start_unix_server(self._client, sock=sock,
                                                       limit=self.max_line)

    async def stop(self) -> None:
        """Stop accepting, drop the clients, remove the socket file if it is still ours."""
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.wait(list(self._clients), timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        with contextlib.suppress(OSError):
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        self._inode = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        try:
            if len(self._clients) >= self.max_clients:
                writer.write(encode(error_response(COMMAND_ERROR, "too many control clients")))
                await writer.drain()
                return
            if task is not None:
                self._clients.add(task)
            await self._serve_lines(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve_lines(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.idle_timeout)
            except TimeoutError:
                return
            except asyncio.IncompleteReadError as exc:
                line = exc.partial  # the last request may lack its newline
                if not line.strip():
                    return
            except asyncio.LimitOverrunError:
                writer.write(encode(error_response(
                    INVALID_REQUEST, f"request line longer than {self.max_line} bytes")))
                await writer.drain()
                return
            if line.strip():
                answer = await self.registry.handle_line(line)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
            if reader.at_eof():
                return


# ------------------------------------------------------------------- client


class RpcCallError(Exception):
    """The server answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data


_INT = re.compile(r"[+-]?\d+")


def parse_cli_param(text: str) -> Any:
    """A kamcmd-style parameter: digits -> int, 's:' forces a string, 'i:' an int."""
    if text.startswith("s:"):
        return text[2:]
    if text.startswith("i:"):
        return int(text[2:])
    if _INT.fullmatch(text):
        return int(text)
    return text


def call(path: str, method: str, params: list[Any] | dict[str, Any] | None = None,
         timeout: float = 30.0) -> Any:
    """Call one method on the control socket at ``path``; its result or RpcCallError."""
    if not os.path.exists(path):
        raise RpcClientError(f"no control socket at {path} (is ksrpy running? "
                             "give its --ctl PATH or set KSRPY_CTL)")
    request: dict[str, Any] = {"jsonrpc": JSONRPC, "method": method, "id": 1}
    if params is not None:
        request["params"] = params
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except ConnectionRefusedError:
            raise RpcClientError(f"nothing answers on control socket {path} "
                                 "(stale socket: is ksrpy running?)") from None
        except OSError as exc:
            raise RpcClientError(f"cannot connect to control socket {path}: {exc}") from None
        try:
            sock.sendall(encode(request))
            line = sock.makefile("rb").readline(64 * 1024 * 1024)
        except OSError as exc:
            raise RpcClientError(f"control socket {path}: {exc}") from None
    if not line:
        raise RpcClientError(f"control socket {path} closed without answering")
    try:
        answer = json.loads(line)
    except ValueError as exc:
        raise RpcClientError(f"control socket {path} sent invalid JSON: {exc}") from None
    if not isinstance(answer, dict):
        raise RpcClientError(f"control socket {path} sent an unexpected answer")
    if "error" in answer:
        err = answer["error"] or {}
        raise RpcCallError(int(err.get("code", COMMAND_ERROR)), str(err.get("message", "")),
                           err.get("data"))
    return answer.get("result")
