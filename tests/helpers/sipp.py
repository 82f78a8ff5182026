"""Drive the real sipp (Debian's sip-tester) against a server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SIPP = shutil.which("sipp")
SCENARIOS = Path(__file__).resolve().parents[2] / "examples" / "sipp"


@dataclass
class SippResult:
    """Exit status and call counters of one sipp run."""

    returncode: int
    successful: int
    failed: int
    output: str


#: Ports already handed out in this test process: never handed out twice.
_GIVEN: set[int] = set()


def free_port(proto: str = "udp") -> int:
    """A port free on 127.0.0.1 right now, for UDP and TCP alike (``proto`` is informative)."""
    return free_port_everywhere()


def free_port_everywhere(exclude: tuple[int, ...] = ()) -> int:
    """A port free for UDP and TCP on 127.0.0.1 and for UDP on ::1 at the same time.

    Never returns a port it returned before in this process, so two servers
    started one after the other cannot be handed the same number.
    """
    for _ in range(50):
        socks = []
        try:
            first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(first)
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port in exclude or port in _GIVEN:
                continue
            for family, kind, host in ((socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                                       (socket.AF_INET6, socket.SOCK_DGRAM, "::1")):
                other = socket.socket(family, kind)
                socks.append(other)
                other.bind((host, port))
            _GIVEN.add(port)
            return port
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no port free for UDP and TCP on loopback")


def run_sipp(scenario: str, target: tuple[str, int], *, transport: str = "u1", calls: int = 100,
             rate: int = 100, timeout: int = 30, builtin: str | None = None) -> SippResult:
    """Run sipp until ``calls`` calls are done (bounded by ``timeout`` seconds).

    ``builtin`` names one of sipp's own scenarios (``uac``) instead of a file.
    """
    if SIPP is None:
        raise RuntimeError("sipp is not installed: apt-get install sip-tester")
    workdir = tempfile.mkdtemp(prefix="sipp-")
    stat = os.path.join(workdir, "stats.csv")
    host, port = target
    cmd = [
        SIPP, f"{host}:{port}",
        *(["-sn", builtin, "-s", "service"] if builtin else ["-sf", str(SCENARIOS / scenario)]),
        "-t", transport,
        "-i", "127.0.0.1", "-p", str(free_port("udp" if transport.startswith("u") else "tcp")),
        "-m", str(calls), "-r", str(rate), "-timeout", f"{timeout}s", "-timeout_error",
        "-recv_timeout", "5000", "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout + 15)
    successful, failed = _final_counts(stat)
    return SippResult(proc.returncode, successful, failed, proc.stdout + proc.stderr)


def _final_counts(stat_file: str) -> tuple[int, int]:
    try:
        lines = Path(stat_file).read_text().splitlines()
    except OSError:
        return (0, 0)
    if len(lines) < 2:
        return (0, 0)
    header = lines[0].split(";")
    last = lines[-1].split(";")
    row = dict(zip(header, last, strict=False))
    return int(row.get("SuccessfulCall(C)", 0)), int(row.get("FailedCall(C)", 0))
