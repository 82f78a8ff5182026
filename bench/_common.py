"""Helpers shared by the benchmarks: servers under test, /proc CPU accounting, sipp, py-spy.

Used by bench/server_bench.py (stateless OPTIONS), bench/stateful_bench.py
(calls through tm) and bench/parser_bench.py. Nothing here measures by itself;
it starts and stops the servers and reads what the kernel and sipp recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


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


# ------------------------------------------------------------------ servers under test


def sip_probe(port: int, *, ruri_user: str, max_forwards: int, status: int,
              timeout: float = 0.5) -> bool:
    """Send one OPTIONS over UDP to 127.0.0.1:port; True when a reply with ``status`` comes back.

    ``ruri_user`` ("" for none) goes in the R-URI and To; ``max_forwards`` picks the
    answer the server gives (70: its keepalive reply; 0: 483 from REQINIT).
    """
    user = f"{ruri_user}@" if ruri_user else ""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        lport = sock.getsockname()[1]
        stamp = time.monotonic_ns()
        req = (
            f"OPTIONS sip:{user}{HOST}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{lport};branch=z9hG4bK-probe-{stamp};rport\r\n"
            f"Max-Forwards: {max_forwards}\r\n"
            f"From: <sip:probe@{HOST}:{lport}>;tag=probe\r\n"
            f"To: <sip:{user}{HOST}:{port}>\r\n"
            f"Call-ID: probe-{stamp}@{HOST}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        sock.settimeout(timeout)
        sock.sendto(req, (HOST, port))
        try:
            data = sock.recv(65536)
        except OSError:
            return False
    return data.startswith(f"SIP/2.0 {status} ".encode())


def check_kamailio_cfg(cfg: Path, *defines: str) -> None:
    """``kamailio -c`` on a benchmark config, each of ``defines`` set to a free port.

    RuntimeError when it does not pass.
    """
    args = [arg for name in defines for arg in ("-A", f"{name}={free_port()}")]
    proc = subprocess.run([KAMAILIO, "-f", str(cfg), *args, "-c"],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"kamailio -c failed: {proc.stderr[-2000:]}")


@dataclass
class BenchServer:
    """One server under test (ksrpy or Kamailio), started in its own process group.

    A benchmark subclasses it with its config (``KAMAILIO_CFG``), the extra
    arguments of each kind and its readiness ``probe``; ``start`` picks a free
    port, starts it and waits until the probe is answered.
    """

    #: Kamailio's config for this benchmark (BENCH_PORT is set to ``port``).
    KAMAILIO_CFG: ClassVar[Path]
    #: What ``probe`` sends, for the error when it is never answered.
    PROBE_NAME: ClassVar[str] = "the probe"

    name: str
    kind: str  # "ksrpy" or "kamailio"
    env: dict[str, str] = field(default_factory=dict)
    profile: Path | None = None
    port: int = 0
    proc: subprocess.Popen | None = None
    pids: list[int] = field(default_factory=list)
    log: Path | None = None
    banner: str = ""

    def probe(self) -> bool:
        """True when the server answers on ``port`` (the benchmark's probe)."""
        raise NotImplementedError

    def kamailio_args(self) -> list[str]:
        """Kamailio's arguments besides -f, BENCH_PORT and -DD -E."""
        return []

    def ksrpy_args(self) -> list[str]:
        """``ksrpy run``'s arguments besides -l and --ready-file (the script, its defines)."""
        return []

    def script_banner(self) -> str:
        """ksrpy's banner when its log has no start-up line."""
        return ""

    def pick_ports(self) -> None:
        """Free ports for this run (``port``; a subclass may want more)."""
        self.port = free_port()

    def ready_file(self, workdir: Path) -> Path:
        """Where ksrpy says it is ready (``--ready-file``)."""
        return workdir / f"{self.name}.ready"

    def command(self, workdir: Path) -> list[str]:
        """The command line that starts this server."""
        if self.kind == "kamailio":
            return [KAMAILIO, "-f", str(self.KAMAILIO_CFG), "-A", f"BENCH_PORT={self.port}",
                    *self.kamailio_args(), "-DD", "-E"]
        pre = [sys.executable]
        if self.profile is not None:
            pre += ["-m", "cProfile", "-o", str(self.profile)]
        return pre + ["-m", "ksrpy", "run", *self.ksrpy_args(), "-l", f"udp:{HOST}:{self.port}",
                      "--ready-file", str(self.ready_file(workdir))]

    def start(self, workdir: Path, timeout: float = 30.0) -> None:
        """Start and wait until it answers the probe (RuntimeError otherwise)."""
        self.pick_ports()
        self.log = workdir / f"{self.name}.log"
        env = {k: v for k, v in os.environ.items() if k not in ("KSRPY_PURE", "KSRPY_ASYNCIO")}
        env["KSRPY_CTL"] = "none"  # no control socket: leave /run/ksrpy to other ksrpy runs
        env.update(self.env)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.command(workdir), cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        ready = self.ready_file(workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            if (self.kind == "kamailio" or ready.exists()) and self.probe():
                break
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"{self.name} did not answer {self.PROBE_NAME} "
                               f"within {timeout:.0f} s")
        time.sleep(0.5)  # let every Kamailio child finish its start-up
        self.pids = descendants(self.proc.pid)
        if self.kind == "kamailio":
            version = subprocess.run([KAMAILIO, "-v"], capture_output=True, text=True,
                                     timeout=10).stdout
            self.banner = version.splitlines()[0].strip() if version else ""
        else:
            self.banner = next((line.split("INFO ksrpy: ", 1)[-1] for line in
                                self.log.read_text(errors="replace").splitlines()
                                if "event loop" in line), self.script_banner())

    def cpu(self) -> tuple[float, float]:
        """User and system CPU seconds used so far by the server's processes."""
        return cpu_times(self.pids)

    def stop(self) -> None:
        """SIGTERM the main process, then SIGKILL what is left of the recorded processes."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15 if self.profile else 5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for pid in self.pids[1:]:
            if stat_fields(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None


# ------------------------------------------------------------------ rate steps

#: A run passes when fewer than this fraction of its calls fail ...
MAX_FAILED = 0.001
#: ... and sipp created calls at no less than this fraction of the target rate.
MIN_RATE_REACHED = 0.95
#: A ramp step that fails while other jobs use more than this many cores is run again.
CONTENDED_CORES = 0.5


class RateOutcome:
    """Pass or fail of one sipp run at a target rate.

    A mixin of the benchmarks' run dataclasses: it adds no field (their JSON
    stays as it is), it reads theirs.
    """

    target_rate: int
    calls: int
    successful: int
    achieved_rate: float

    @property
    def failed_fraction(self) -> float:
        """Calls that did not complete (failed or never finished), as a fraction."""
        return (self.calls - self.successful) / self.calls if self.calls else 1.0

    @property
    def passed(self) -> bool:
        """Fewer than 0.1 % failed and the target rate was reached."""
        return (self.failed_fraction < MAX_FAILED
                and self.achieved_rate >= MIN_RATE_REACHED * self.target_rate)


RunT = TypeVar("RunT", bound=RateOutcome)


def max_rate(runs: list[RunT]) -> tuple[int, RunT | None]:
    """Highest passing rate below the lowest failing one (0 when none), and that failing run.

    A pass above a failure (noise) does not count: the rate must hold all the way up.
    """
    failing = min((r for r in runs if not r.passed), key=lambda r: r.target_rate, default=None)
    ceiling = failing.target_rate if failing else float("inf")
    best = max((r.target_rate for r in runs if r.passed and r.target_rate < ceiling), default=0)
    return best, failing


def ramp_search(step: Callable[[int], RunT], steps: list[int], refine: int,
                bisect: Callable[[int, int], int | None], name: str = "",
                deadline: float = float("inf")) -> list[RunT]:
    """Run ``step`` at each rate until one fails, then bisect ``refine`` times between the
    last passing rate and the failing one; no new step starts after ``deadline``.

    ``bisect(best, failing)`` gives the next rate, None when the two are close enough.
    """
    runs: list[RunT] = []
    for rate in steps:
        if time.monotonic() > deadline:
            print(f"    {name}: ramp time budget spent, stopping at {rate}/s", flush=True)
            break
        run = step(rate)
        runs.append(run)
        if not run.passed:
            break
    best, failing = max_rate(runs)
    for _ in range(refine):
        if not best or failing is None or time.monotonic() > deadline:
            break
        mid = bisect(best, failing.target_rate)
        if mid is None:
            break
        run = step(mid)
        runs.append(run)
        if run.passed:
            best = mid
        else:
            failing = run
    return runs


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


def write_results(report: dict, path: Path | None, kind: str) -> Path:
    """Write ``report`` as JSON to ``path``, by default bench/results/KIND-DATE-TIME.json."""
    path = path or RESULTS / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def median(values: list[float]) -> float:
    """Median, NaN for an empty list."""
    return statistics.median(values) if values else float("nan")
