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


def free_port(proto: str = "udp") -> int:
    """A port free on 127.0.0.1 right now, for sipp's own local socket."""
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
