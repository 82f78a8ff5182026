"""Hot reload, whole or nothing: under live traffic via RPC, SIGHUP and --watch; refusals."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksrpy import __version__
from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.core.reload import Reloader
from ksrpy.modules import AVAILABLE
from ksrpy.modules.exports import Module, ParamExport
from ksrpy.script.loader import load_script
from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import options

PY_SCRIPT = '''"""Reload test script, version {n}."""
# {pad}
import KSR


def ksr_request_route():
    if KSR.is_OPTIONS():
        KSR.sl.sl_send_reply(200, "{reason}")
        return 1
    KSR.sl.sl_send_reply(404, "Not here")
'''

BROKEN_SCRIPT = '''import KSR


def ksr_request_route(:
    KSR.sl.sl_send_reply(200, "BROKEN")
'''


def write_script(path: Path, n: int) -> None:
    """Version n replies 200 "Vn"; versions differ in size too, whatever the mtime precision."""
    path.write_text(PY_SCRIPT.format(n=n, pad="x" * n, reason=f"V{n}"))


def ksrpy_rpc(ctl: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ksrpy rpc --ctl CTL ARGS...`` as a subprocess."""
    return subprocess.run([sys.executable, "-m", "ksrpy", "rpc", "--ctl", ctl, *args],
                          cwd=REPO, text=True, capture_output=True, timeout=60)


def ask(target: tuple[str, int], timeout: float = 2.0) -> str | None:
    """One OPTIONS; the reason phrase of its reply, None when unanswered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind(("127.0.0.1", 0))
        data, _ = options(target, local_port=sock.getsockname()[1])
        sock.sendto(data, target)
        try:
            reply = sock.recvfrom(65536)[0]
        except TimeoutError:
            return None
    return reply.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode()


def wait_for_reason(target: tuple[str, int], reason: str, within: float) -> float | None:
    """Poll until a reply carries ``reason``; seconds it took, None if it never did."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if ask(target, timeout=1.0) == reason:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


class Traffic(threading.Thread):
    """OPTIONS every ``interval`` s on one socket, bounded in count and time; records reasons."""

    def __init__(self, target: tuple[str, int], *, interval: float = 0.005,
                 max_seconds: float = 10.0, max_requests: int = 2000) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.interval = interval
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.reasons: list[str | None] = []
        self.halt = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            while (not self.halt.is_set() and time.monotonic() < deadline
                   and len(self.reasons) < self.max_requests):
                data, _ = options(self.target, local_port=port)
                call_id = data.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0]
                sock.sendto(data, self.target)
                self.reasons.append(self._reply_for(sock, call_id))
                time.sleep(self.interval)

    def _reply_for(self, sock: socket.socket, call_id: bytes) -> str | None:
        end = time.monotonic() + 2.0
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply = sock.recvfrom(65536)[0]
            except TimeoutError:
                return None
            if b"Call-ID: " + call_id + b"\r\n" in reply:
                return reply.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode()
        return None

    def count(self, reason: str) -> int:
        """How many replies carried ``reason`` so far."""
        return sum(1 for r in list(self.reasons) if r == reason)

    def wait_count(self, reason: str, n: int, within: float = 8.0) -> None:
        """Block until ``n`` replies carried ``reason`` (bounded)."""
        end = time.monotonic() + within
        while self.count(reason) < n and time.monotonic() < end and self.is_alive():
            time.sleep(0.01)

    def finish(self) -> list[str | None]:
        """Stop and return every recorded reason."""
        self.halt.set()
        self.join(15)
        return list(self.reasons)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Short path: unix socket paths are limited to 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="ksrpy-rl-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[KsrpyProcess]:
    script = workdir / "script.py"
    write_script(script, 1)
    proc = KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",),
                        ctl=str(workdir / "ctl"), extra_args=("--watch",))
    with proc:
        yield proc


def _script(server: KsrpyProcess) -> Path:
    assert server.script is not None
    return Path(server.script)


def test_core_version_uptime_and_info(server: KsrpyProcess) -> None:
    version = ksrpy_rpc(server.ctl, "core.version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f'"ksrpy {__version__}"'
    uptime = ksrpy_rpc(server.ctl, "core.uptime")
    assert uptime.returncode == 0
    assert '"up_since"' in uptime.stdout and '"uptime"' in uptime.stdout
    info = ksrpy_rpc(server.ctl, "core.info")
    assert info.returncode == 0 and f'"pid": {server.proc.pid}' in info.stdout  # type: ignore[union-attr]
    unknown = ksrpy_rpc(server.ctl, "no.such")
    assert unknown.returncode == 1 and "-32601" in unknown.stderr and "no.such" in unknown.stderr
    assert f"control socket {server.ctl}" in server.log()


def test_rpc_reload_under_traffic_never_drops_a_request(server: KsrpyProcess) -> None:
    script = _script(server)
    assert wait_for_reason(server.udp, "V1", 5) is not None
    traffic = Traffic(server.udp)
    traffic.start()
    try:
        traffic.wait_count("V1", 50)
        write_script(script, 2)
        answer = ksrpy_rpc(server.ctl, "routes.reload")
        traffic.wait_count("V2", 50)
    finally:
        reasons = traffic.finish()
    assert answer.returncode == 0, answer.stderr
    assert '"ok": true' in answer.stdout and str(script) in answer.stdout
    assert None not in reasons, f"{reasons.count(None)} of {len(reasons)} requests unanswered"
    first_v2 = reasons.index("V2")
    assert first_v2 > 0 and set(reasons[:first_v2]) == {"V1"}
    assert set(reasons[first_v2:]) == {"V2"}
    assert reasons.count("V2") >= 50
    assert "reload ok (1 files) [rpc]" in server.log()


def test_broken_script_is_refused_and_the_previous_one_keeps_answering(
        server: KsrpyProcess) -> None:
    script = _script(server)
    write_script(script, 2)
    assert ksrpy_rpc(server.ctl, "routes.reload").returncode == 0
    traffic = Traffic(server.udp)
    traffic.start()
    try:
        traffic.wait_count("V2", 20)
        script.write_text(BROKEN_SCRIPT)
        answer = ksrpy_rpc(server.ctl, "routes.reload")
        n = len(traffic.reasons)
        traffic.wait_count("V2", traffic.count("V2") + 20)
    finally:
        reasons = traffic.finish()
    assert answer.returncode == 1
    assert "-32001" in answer.stderr
    assert "reload failed, previous script still active" in answer.stderr
    assert f"{script}:4:" in answer.stderr and "syntax error" in answer.stderr
    assert None not in reasons and set(reasons) == {"V2"} and len(reasons) > n
    info = ksrpy_rpc(server.ctl, "routes.info")
    assert info.returncode == 0 and '"reload_failures"' in info.stdout
    log = server.log()
    assert "reload failed [rpc]" in log and f"{script}:4:" in log


def test_sighup_reloads(server: KsrpyProcess) -> None:
    assert server.proc is not None
    write_script(_script(server), 3)
    server.proc.send_signal(signal.SIGHUP)
    assert wait_for_reason(server.udp, "V3", 5) is not None
    assert server.proc.poll() is None
    assert "reload ok (1 files) [SIGHUP]" in server.log()


def test_watch_reloads_without_any_trigger(server: KsrpyProcess) -> None:
    assert ask(server.udp) != "V4"
    write_script(_script(server), 4)
    took = wait_for_reason(server.udp, "V4", 5)
    assert took is not None, server.log()
    assert "reload ok (1 files) [watch]" in server.log()
    # Nothing changed since: no further reloads.
    before = server.log().count("reload ok")
    time.sleep(1.5)
    assert server.log().count("reload ok") == before


def test_rpc_on_a_missing_socket_names_the_path(workdir: Path) -> None:
    missing = str(workdir / "no-such-ctl")
    result = ksrpy_rpc(missing, "core.version")
    assert result.returncode == 1
    assert missing in result.stderr and "no control socket" in result.stderr


def test_a_second_server_on_a_live_socket_refuses_to_start(server: KsrpyProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ksrpy", "run", "-f", server.script or "", "-l",
         "udp:127.0.0.1:0", "--ctl", server.ctl],
        cwd=REPO, text=True, capture_output=True, timeout=60)
    assert result.returncode == 1
    assert f"control socket {server.ctl} is in use by another ksrpy" in result.stderr
    assert ksrpy_rpc(server.ctl, "core.version").returncode == 0


# ----------------------------------------------------- in-process: what needs a restart


class RuntimeModule(Module):
    """A test module with one parameter that may change on reload."""

    name = "rtmod"
    params = (
        ParamExport("limit", int, 5, "Changes on reload.", runtime=True),
        ParamExport("size", int, 1, "Fixed until restart."),
    )


CFG = """#!KAMAILIO
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "maxfwd.so"
{extra}
modparam("maxfwd", "max_limit", {limit})
request_route {{
    sl_send_reply("200", "{reason}");
    exit;
}}
"""


def _cfg(path: Path, *, reason: str = "C1", limit: int = 20, port: int = 5099,
         extra: str = "") -> None:
    path.write_text(CFG.format(reason=reason, limit=limit, port=port, extra=extra))


def _live(path: Path) -> tuple[Engine, Reloader]:
    engine = Engine(CoreConfig())
    engine.set_routes(load_script(str(path), engine))
    engine.init_modules()
    return engine, Reloader(engine, str(path))


@pytest.fixture
def runtime_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(AVAILABLE, "rtmod", f"{__name__}:RuntimeModule")


def test_restart_needed_changes_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "proxy.cfg"
    _cfg(path)
    engine, reloader = _live(path)
    routes = engine.routes
    cases = {
        "module set changed (added: siputils; removed: none): restart ksrpy to apply":
            {"extra": 'loadmodule "siputils.so"'},
        "modparam maxfwd.max_limit changed (20 -> 30) and needs a restart": {"limit": 30},
        "core parameter listen changed (['udp:127.0.0.1:5099'] -> ['udp:127.0.0.1:5098'])":
            {"port": 5098},
    }
    for expected, change in cases.items():
        _cfg(path, reason="C2", **change)  # type: ignore[arg-type]
        result = reloader.reload()
        assert not result.ok
        assert any(expected in e for e in result.errors), result.errors
        assert engine.routes is routes
        assert sorted(engine.modules) == ["core", "hdr", "maxfwd", "pv", "sl", "x"]
        assert engine.modules["maxfwd"].settings["max_limit"] == 20
        assert engine.config.listen == ["udp:127.0.0.1:5099"]
    _cfg(path, reason="C2")
    result = reloader.reload()
    assert result.ok and result.errors == [] and result.info["files"] == [str(path)]
    assert engine.routes is not routes
    assert (reloader.reloads, reloader.failures) == (1, 3)
    info = reloader.info()
    assert info["kind"] == "cfg" and info["last_reload"]["ok"] is True


def test_cfg_error_points_at_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "proxy.cfg"
    _cfg(path)
    engine, reloader = _live(path)
    routes = engine.routes
    path.write_text(path.read_text().replace('sl_send_reply("200", "C1");',
                                             'no_such_function("x");'))
    result = reloader.reload()
    assert not result.ok and engine.routes is routes
    assert any(f"{path}:8:" in e for e in result.errors), result.errors


def test_runtime_params_are_applied(tmp_path: Path, runtime_module: None) -> None:
    path = tmp_path / "proxy.cfg"
    load = 'loadmodule "rtmod.so"\nmodparam("rtmod", "limit", {})'
    _cfg(path, extra=load.format(7))
    engine, reloader = _live(path)
    module = engine.modules["rtmod"]
    _cfg(path, extra=load.format(9))
    result = reloader.reload()
    assert result.ok, result.errors
    assert module.settings["limit"] == 9 and engine.modules["rtmod"] is module
    assert result.warnings == ["runtime parameter rtmod.limit applied (7 -> 9)"]
    _cfg(path, extra='loadmodule "rtmod.so"')  # modparam gone: back to the default
    assert reloader.reload().ok and module.settings["limit"] == 5
    _cfg(path, extra='loadmodule "rtmod.so"\nmodparam("rtmod", "size", 2)')
    result = reloader.reload()
    assert not result.ok and "rtmod.size" in result.errors[0] and module.settings["size"] == 1


def test_a_script_changed_between_the_two_loads_is_rolled_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "proxy.cfg"
    _cfg(path)
    engine, reloader = _live(path)
    routes = engine.routes
    import ksrpy.core.reload as reload_mod

    calls = []

    def racing_load(script: str, target: Engine):  # type: ignore[no-untyped-def]
        calls.append(target)
        out = load_script(script, target)
        if target is not engine:  # after the scratch load, someone edits the file
            _cfg(path, reason="C3", limit=40, extra='loadmodule "siputils.so"')
        return out

    monkeypatch.setattr(reload_mod, "load_script", racing_load)
    _cfg(path, reason="C2")
    result = reloader.reload()
    assert not result.ok and "changed while it was being reloaded" in result.errors[0]
    assert len(calls) == 2 and engine.routes is routes
    assert "siputils" not in engine.modules
    assert engine.modules["maxfwd"].settings["max_limit"] == 20


def test_python_reload_failure_keeps_the_live_ksr_module(tmp_path: Path) -> None:
    path = tmp_path / "script.py"
    write_script(path, 1)
    engine, reloader = _live(path)
    ksr = sys.modules["KSR"]
    path.write_text(BROKEN_SCRIPT)
    assert not reloader.reload().ok
    path.write_text("import KSR\nKSR.sl.no_such_function_at_all\n"
                    "def ksr_request_route():\n    pass\n")
    assert not reloader.reload().ok
    assert sys.modules["KSR"] is ksr
    write_script(path, 2)
    assert reloader.reload().ok
    # One process-wide KSR module: helpers that imported it keep working after reloads.
    assert sys.modules["KSR"] is ksr
    assert os.path.basename(engine.routes.files[0]) == "script.py"  # type: ignore[union-attr]
