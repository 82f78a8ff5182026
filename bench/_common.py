"""Helpers shared by the server benchmarks: /proc CPU accounting, sipp's stat CSV, py-spy.

Used by bench/server_bench.py (stateless OPTIONS) and bench/stateful_bench.py
(calls through tm). Nothing here measures by itself; it reads what the kernel
and sipp recorded.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


# ------------------------------------------------------------------ /proc


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 first); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_times(pids: list[int]) -> tuple[float, float]:
    """utime and stime of these processes (all their threads), in seconds."""
    user = system = 0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is not None:
            user += int(fields[11])  # field 14 of stat(5)
            system += int(fields[12])  # field 15
    return user / CLK_TCK, system / CLK_TCK


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes, in seconds."""
    return sum(cpu_times(pids))


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None:
                parent[int(entry.name)] = int(fields[1])
    out = [root]
    frontier = [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        out.extend(frontier)
    return out


def system_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores, idle and iowait excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # user..steal minus idle, iowait
    return busy / CLK_TCK


class CpuSampler(threading.Thread):
    """Samples the CPU time of named groups of processes every ``interval`` s, for the peaks."""

    def __init__(self, groups: dict[str, list[int]], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.groups = groups
        self.interval = interval
        self.done = threading.Event()
        self.samples: list[tuple[float, dict[str, float]]] = []

    def run(self) -> None:
        """Sample until ``done`` is set."""
        while True:
            self.samples.append((time.monotonic(), {name: cpu_seconds(pids) for name, pids
                                                    in self.groups.items()}))
            if self.done.wait(self.interval):
                return

    def peaks(self) -> dict[str, float]:
        """Highest CPU use (% of one core) of each group over one interval.

        An interval where a group's time went down or started at zero (its process
        had exited, or not started) does not count for that group.
        """
        return peak_usage(self.samples, self.interval)


def peak_usage(samples: list[tuple[float, dict[str, float]]],
               interval: float) -> dict[str, float]:
    """Highest CPU use (% of one core) per group between consecutive samples."""
    out: dict[str, float] = {name: 0.0 for name in (samples[0][1] if samples else {})}
    for (t0, a), (t1, b) in zip(samples, samples[1:], strict=False):
        dt = t1 - t0
        if dt < interval / 2:
            continue
        for name, value in b.items():
            before = a.get(name, 0.0)
            if value >= before > 0:
                out[name] = max(out.get(name, 0.0), 100 * (value - before) / dt)
    return out


# ------------------------------------------------------------------ sipp


def sipp_stat_row(path: Path) -> dict[str, str]:
    """The last line of sipp's -trace_stat CSV as a dict (empty when missing)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";"), strict=False))


def sipp_count(row: dict[str, str], name: str) -> int:
    """An integer counter of a sipp stat row (0 when missing or empty)."""
    text = row.get(name, "").strip()
    return int(text) if text.isdigit() else 0


def sipp_duration_ms(text: str) -> float:
    """sipp's ``HH:MM:SS:uuuuuu`` (response times, call length) in milliseconds; NaN if odd."""
    parts = text.strip().split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return float("nan")
    hours, minutes, seconds, micros = (int(p) for p in parts)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000


# ------------------------------------------------------------------ py-spy


def frame_name(frame: str) -> str:
    """``func (path/file.py:123)`` to ``func (path/file.py)``: one entry per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


#: Entry points every sample of a ksrpy server goes through (left out of "inclusive").
PYSPY_ENTRY = ("ksrpy/__main__.py)", "ksrpy/cli.py)", "ksrpy/core/server.py)")


def pyspy_tables(raw: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """Total samples, own samples per function and inclusive samples per ksrpy function.

    ``raw`` is py-spy's ``-f raw`` output (``frame;frame;... count`` per line,
    outermost first). Samples of other threads (``Thread._bootstrap``: ksrpy's
    idle executor, which py-spy miscounts) are dropped.
    """
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if stack.startswith("Thread._bootstrap"):
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for name in {f for f in frames if f.partition(" (")[2].startswith(("ksrpy/", "routes/"))}:
            if not name.endswith(PYSPY_ENTRY):
                inclusive[name] = inclusive.get(name, 0) + count
    return total, own, inclusive


def top_lines(table: dict[str, int], total: int, count: int = 15) -> list[str]:
    """The ``count`` largest entries as ``  12.3%  name`` lines."""
    return [f"{100 * n / total:5.1f}%  {name}" if total else f"  n/a  {name}"
            for name, n in sorted(table.items(), key=lambda kv: -kv[1])[:count]]


# ------------------------------------------------------------------ misc


def git_commit() -> str | None:
    """HEAD's short commit, with "+dirty" when ksrpy/ or routes/ have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ksrpy", "routes"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"{head}+dirty" if head and dirty.strip() else head or None


def median(values: list[float]) -> float:
    """Median, NaN for an empty list."""
    return statistics.median(values) if values else float("nan")
