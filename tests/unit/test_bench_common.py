"""The benchmarks' shared helpers: readiness probes, server command lines, ramp search, results."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402
import server_bench  # noqa: E402
import stateful_bench  # noqa: E402


def _answer_once(status: int | None) -> tuple[int, list[bytes], threading.Thread]:
    """A UDP socket on 127.0.0.1 that records one datagram and answers ``status`` (None: silent)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    got: list[bytes] = []

    def serve() -> None:
        try:
            data, addr = sock.recvfrom(65536)
            got.append(data)
            if status is not None:
                sock.sendto(f"SIP/2.0 {status} Whatever\r\nContent-Length: 0\r\n\r\n".encode(),
                            addr)
        except OSError:
            pass
        finally:
            sock.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock.getsockname()[1], got, thread


@pytest.mark.parametrize(("probe", "status", "uri_user", "max_forwards"), [
    (server_bench.options_probe, 200, "", "70"),
    (stateful_bench.maxfwd_probe, 483, "probe@", "0"),
])
def test_probe_request_and_wanted_status(probe, status: int, uri_user: str,
                                         max_forwards: str) -> None:
    port, got, thread = _answer_once(status)
    assert probe(port, timeout=3.0)
    thread.join(5)
    lines = got[0].decode().split("\r\n")
    assert lines[0] == f"OPTIONS sip:{uri_user}127.0.0.1:{port} SIP/2.0"
    assert f"Max-Forwards: {max_forwards}" in lines
    assert f"To: <sip:{uri_user}127.0.0.1:{port}>" in lines
    port, _, thread = _answer_once(404)
    assert not probe(port, timeout=3.0)
    thread.join(5)


def test_a_silent_port_fails_the_probe_within_its_timeout() -> None:
    port, _, thread = _answer_once(None)
    t0 = time.monotonic()
    assert not _common.sip_probe(port, ruri_user="", max_forwards=70, status=200, timeout=0.3)
    assert time.monotonic() - t0 < 3.0
    thread.join(5)


def test_server_command_lines(tmp_path: Path) -> None:
    kam = server_bench.Server("kamailio", "kamailio", port=5555)
    assert kam.command(tmp_path) == [_common.KAMAILIO, "-f", str(server_bench.KAMAILIO_CFG),
                                     "-A", "BENCH_PORT=5555", "-DD", "-E"]
    ksr = server_bench.Server("ksrpy", "ksrpy", script="default", port=5555)
    cmd = ksr.command(tmp_path)
    assert cmd[1:] == ["-m", "ksrpy", "run", "-l", "udp:127.0.0.1:5555",
                       "--ready-file", str(tmp_path / "ksrpy.ready")]
    prof = server_bench.Server("p", "ksrpy", script="py", port=1, profile=tmp_path / "x.prof")
    assert prof.command(tmp_path)[1:8] == ["-m", "cProfile", "-o", str(tmp_path / "x.prof"),
                                           "-m", "ksrpy", "run"]
    assert "default" in ksr.script_banner() and server_bench.Server.PROBE_NAME == "OPTIONS"


def test_proxy_command_lines_and_ports(tmp_path: Path) -> None:
    proxy = stateful_bench.Proxy("kamailio", "kamailio")
    proxy.pick_ports()
    assert proxy.port > 0 and proxy.uas_port > 0 and proxy.uas_port != proxy.port
    cmd = proxy.command(tmp_path)
    assert cmd[:5] == [_common.KAMAILIO, "-f", str(stateful_bench.KAMAILIO_CFG), "-A",
                       f"BENCH_PORT={proxy.port}"]
    assert f"UAS_PORT={proxy.uas_port}" in cmd and cmd[-2:] == ["-DD", "-E"]
    ksr = stateful_bench.Proxy("ksrpy", "ksrpy", script="py", port=7, uas_port=8)
    assert ksr.command(tmp_path)[1:] == [
        "-m", "ksrpy", "run", "-f", str(stateful_bench.SCRIPTS["py"]), "-A", "UAS_PORT=8",
        "-l", "udp:127.0.0.1:7", "--ready-file", str(tmp_path / "ksrpy.ready")]
    fresh = ksr.fresh()
    assert (fresh.name, fresh.script, fresh.port, fresh.proc) == ("ksrpy", "py", 0, None)


def test_stop_of_a_server_never_started_does_nothing() -> None:
    server = server_bench.Server("x", "ksrpy")
    server.stop()
    assert server.proc is None and server.cpu() == (0.0, 0.0)


@dataclass
class _Step(_common.RateOutcome):
    target_rate: int
    calls: int = 100
    successful: int = 100
    achieved_rate: float = 0.0


def _stepper(limit: int, seen: list[int]):
    def step(rate: int) -> _Step:
        seen.append(rate)
        return _Step(rate, successful=100 if rate <= limit else 90, achieved_rate=rate)
    return step


def test_ramp_search_steps_up_then_bisects() -> None:
    seen: list[int] = []
    runs = _common.ramp_search(_stepper(7000, seen), [1000, 4000, 8000, 16000], 5,
                               server_bench.bisect_500)
    assert seen == [1000, 4000, 8000, 6000, 7000, 7500]
    assert _common.max_rate(runs)[0] == 7000
    seen.clear()
    runs = _common.ramp_search(_stepper(7000, seen), [1000, 4000, 8000], 0,
                               server_bench.bisect_500)
    assert seen == [1000, 4000, 8000] and _common.max_rate(runs)[0] == 4000


def test_ramp_search_stops_at_its_deadline(capsys) -> None:
    seen: list[int] = []
    runs = _common.ramp_search(_stepper(7000, seen), [1000, 2000], 2, server_bench.bisect_500,
                               "px", time.monotonic() - 1)
    assert runs == [] and seen == []
    assert "px: ramp time budget spent, stopping at 1000/s" in capsys.readouterr().out


def test_a_run_passes_on_few_failures_at_the_target_rate() -> None:
    assert _Step(1000, calls=4000, successful=3997, achieved_rate=950).passed
    assert not _Step(1000, calls=4000, successful=3996, achieved_rate=990).passed
    assert not _Step(1000, calls=4000, successful=4000, achieved_rate=949).passed
    assert _Step(10, calls=0, successful=0).failed_fraction == 1.0


def test_write_results(tmp_path: Path) -> None:
    path = _common.write_results({"a": [1, 2]}, tmp_path / "sub" / "r.json", "server")
    assert path == tmp_path / "sub" / "r.json"
    assert json.loads(path.read_text()) == {"a": [1, 2]}
