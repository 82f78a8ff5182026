"""The JSON-RPC control socket: dispatch, errors, module RPCs, bounds, socket file handling."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ksrpy import __version__
from ksrpy.core.engine import Engine
from ksrpy.core.rpc import (
    COMMAND_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcClientError,
    RpcError,
    RpcRegistry,
    RpcServer,
    RpcSocketError,
    call,
    default_ctl_path,
    parse_cli_param,
    register_core,
    resolve_ctl_path,
)
from ksrpy.modules.exports import Module, ParamExport, rpc


class TinyModule(Module):
    """A module that only declares RPCs."""

    name = "tiny"
    params = (ParamExport("greeting", str, "hello", "What hello says."),)

    @rpc("tiny.hello")
    def hello(self, who: str) -> str:
        """Greet someone."""
        return f"{self.settings['greeting']} {who}"

    @rpc("tiny.sum")
    def total(self, *values: int) -> int:
        """Add numbers."""
        return sum(values)

    @rpc("tiny.boom")
    def boom(self) -> None:
        """Always fails."""
        raise RuntimeError("it blew up")

    @rpc("tiny.later")
    async def later(self, n: int) -> dict[str, int]:
        """An async command."""
        await asyncio.sleep(0)
        return {"n": n}


@pytest.fixture
def sock_dir() -> Iterator[str]:
    # Short path: unix socket paths are limited to 107 bytes.
    path = tempfile.mkdtemp(prefix="ksrpy-rpc-")
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def _registry() -> RpcRegistry:
    registry = RpcRegistry()
    engine = Engine()
    register_core(registry, engine, "test.py")
    registry.add_module_rpcs({"tiny": TinyModule(None)})
    return registry


def _serve(path: str, body: Callable[[RpcServer], Awaitable[Any]],
           registry: RpcRegistry | None = None, **kwargs: Any) -> Any:
    """Run ``body`` against a started RpcServer at ``path``, then stop it."""

    async def main() -> Any:
        server = RpcServer(registry or _registry(), path, **kwargs)
        await server.start()
        try:
            return await asyncio.wait_for(body(server), 20)
        finally:
            await server.stop()

    return asyncio.run(main())


async def _exchange(path: str, *lines: bytes) -> list[Any]:
    """Send lines on one connection, return one decoded answer per line."""
    reader, writer = await asyncio.open_unix_connection(path)
    answers = []
    try:
        for line in lines:
            writer.write(line)
            await writer.drain()
            answers.append(json.loads(await asyncio.wait_for(reader.readline(), 5)))
    finally:
        writer.close()
    return answers


def _req(method: str, params: Any = None, rid: Any = 1) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": rid}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode() + b"\n"


def test_builtins_and_module_rpcs_over_the_socket(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")

    async def body(server: RpcServer) -> None:
        answers = await _exchange(
            path,
            _req("core.version"),
            _req("core.uptime", rid="u"),
            _req("system.listMethods", rid=3),
            _req("tiny.hello", ["world"], rid=4),
            _req("tiny.sum", [1, 2, 3], rid=5),
            _req("tiny.later", {"n": 7}, rid=6),
            _req("system.methodHelp", ["tiny.hello"], rid=7),
        )
        version, uptime, methods, hello, total, later, helptext = answers
        assert version == {"jsonrpc": "2.0", "result": f"ksrpy {__version__}", "id": 1}
        assert uptime["id"] == "u" and set(uptime["result"]) == {"now", "up_since", "uptime"}
        assert isinstance(uptime["result"]["uptime"], int)
        assert {"core.version", "core.uptime", "core.info", "system.listMethods",
                "tiny.hello", "tiny.sum", "tiny.boom"} <= set(methods["result"])
        assert hello["result"] == "hello world"
        assert total["result"] == 6
        assert later["result"] == {"n": 7}
        assert helptext["result"] == "Greet someone."

    _serve(path, body)


def test_errors_keep_the_server_running(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")

    async def body(server: RpcServer) -> None:
        unknown, bad_arity, bad_kind, boom, garbage, invalid, ok = await _exchange(
            path,
            _req("no.such.method"),
            _req("tiny.hello", ["a", "b"], rid=2),
            _req("tiny.hello", "not-a-list", rid=3),
            _req("tiny.boom", rid=4),
            b"{not json\n",
            b'{"id": 9, "method": 12}\n',
            _req("core.version", rid=10),
        )
        assert unknown["error"]["code"] == METHOD_NOT_FOUND
        assert "no.such.method" in unknown["error"]["message"] and unknown["id"] == 1
        assert bad_arity["error"]["code"] == INVALID_PARAMS and bad_arity["id"] == 2
        assert bad_kind["error"]["code"] == INVALID_PARAMS
        assert boom["error"]["code"] == COMMAND_ERROR
        assert boom["error"]["message"] == "it blew up"
        assert boom["error"]["data"] == {"type": "RuntimeError"}
        assert garbage["error"]["code"] == PARSE_ERROR and garbage["id"] is None
        assert invalid["error"]["code"] == INVALID_REQUEST
        assert ok["result"] == f"ksrpy {__version__}"

    _serve(path, body)


def test_command_rpc_error_code_and_data(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")
    registry = _registry()

    def refuse() -> None:
        raise RpcError(-32001, "reload failed, previous script still active", ["a:1:1: x"])

    registry.register("test.refuse", refuse)

    async def body(server: RpcServer) -> None:
        (answer,) = await _exchange(path, _req("test.refuse"))
        assert answer["error"] == {"code": -32001,
                                   "message": "reload failed, previous script still active",
                                   "data": ["a:1:1: x"]}

    _serve(path, body, registry)


def test_notifications_get_no_answer_and_batches_do(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")

    async def body(server: RpcServer) -> None:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b'{"jsonrpc": "2.0", "method": "tiny.boom"}\n')
        batch = [{"jsonrpc": "2.0", "method": "tiny.sum", "params": [2, 3], "id": 1},
                 {"jsonrpc": "2.0", "method": "nope", "id": 2}]
        writer.write(json.dumps(batch).encode() + b"\n")
        await writer.drain()
        answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
        writer.close()
        assert answer[0]["result"] == 5
        assert answer[1]["error"]["code"] == METHOD_NOT_FOUND

    _serve(path, body)


def test_overlong_line_is_refused_and_closed(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")

    async def body(server: RpcServer) -> None:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b'{"jsonrpc": "2.0", "method": "' + b"x" * 70000 + b'"}\n')
        await writer.drain()
        answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert answer["error"]["code"] == INVALID_REQUEST
        assert "longer than" in answer["error"]["message"]
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        (ok,) = await _exchange(path, _req("core.version"))
        assert "result" in ok

    _serve(path, body)


def test_client_limit_and_idle_timeout(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")

    async def body(server: RpcServer) -> None:
        held = [await asyncio.open_unix_connection(path) for _ in range(2)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_unix_connection(path)
        answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert "too many" in answer["error"]["message"]
        writer.close()
        # Idle clients are dropped after idle_timeout; then there is room again.
        for r, _w in held:
            assert await asyncio.wait_for(r.read(), 5) == b""
        (ok,) = await _exchange(path, _req("core.version"))
        assert "result" in ok

    _serve(path, body, max_clients=2, idle_timeout=0.3)


def test_socket_mode_stale_replacement_and_live_refusal(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")
    # A stale socket file left by a killed process.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)

    async def body(server: RpcServer) -> None:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        second = RpcServer(_registry(), path)
        with pytest.raises(RpcSocketError, match=f"in use by another ksrpy \\(pid {os.getpid()}"):
            await second.start()
        assert await asyncio.to_thread(call, path, "tiny.sum", [4, 5]) == 9

    _serve(path, body)
    assert not os.path.exists(path)


def test_a_regular_file_is_never_replaced(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "ctl")
    Path(path).write_text("precious")

    async def body(server: RpcServer) -> None:
        raise AssertionError("must not start")

    with pytest.raises(RpcSocketError, match="not a socket"):
        _serve(path, body)
    assert Path(path).read_text() == "precious"


def test_client_on_missing_socket_names_the_path(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "nothing-here")
    with pytest.raises(RpcClientError, match=path):
        call(path, "core.version")


def test_kamcmd_style_params() -> None:
    assert parse_cli_param("42") == 42
    assert parse_cli_param("-3") == -3
    assert parse_cli_param("s:42") == "42"
    assert parse_cli_param("i:7") == 7
    assert parse_cli_param("abc") == "abc"
    assert parse_cli_param("1.5") == "1.5"


def test_ctl_path_defaults(monkeypatch: pytest.MonkeyPatch, sock_dir: str) -> None:
    monkeypatch.setenv("KSRPY_CTL", os.path.join(sock_dir, "from-env"))
    assert default_ctl_path() == os.path.join(sock_dir, "from-env")
    assert resolve_ctl_path("none") is None
    assert resolve_ctl_path("/x/ctl") == "/x/ctl"
    monkeypatch.setenv("KSRPY_CTL", "none")
    assert resolve_ctl_path(None) is None
    monkeypatch.delenv("KSRPY_CTL")
    monkeypatch.setattr("ksrpy.core.rpc.RUN_DIR", os.path.join(sock_dir, "no", "run"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", sock_dir)
    assert default_ctl_path(create=True) == os.path.join(sock_dir, "ksrpy_ctl")
    monkeypatch.setattr("ksrpy.core.rpc.RUN_DIR", os.path.join(sock_dir, "run"))
    assert default_ctl_path() == os.path.join(sock_dir, "run", "ksrpy_ctl")
    assert not os.path.exists(os.path.join(sock_dir, "run"))  # no side effect without create
    assert default_ctl_path(create=True) == os.path.join(sock_dir, "run", "ksrpy_ctl")
    assert stat.S_IMODE(os.stat(os.path.join(sock_dir, "run")).st_mode) == 0o700
    os.rmdir(os.path.join(sock_dir, "run"))
