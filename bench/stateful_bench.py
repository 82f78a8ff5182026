"""Stateful call benchmark: sipp UAC -> proxy (tm) -> sipp UAS over UDP, ksrpy and Kamailio.

Both proxies run the same routing (bench/stateful-routes.cfg, included by
bench/kamailio-stateful.cfg for Kamailio 5.6 with one UDP worker and by
bench/ksrpy-stateful.cfg for ksrpy): Max-Forwards and sanity, CANCEL and
retransmissions matched to their transaction, loose_route for in-dialog
requests, record_route on INVITE, t_relay to the UAS. Each call is INVITE,
100 (from the proxy), 180, 200, ACK, BYE, 200: the proxy receives 6 messages
and sends 7. For each proxy:

* CPU per call at fixed rates (``--rates``, default 300 and 1000 calls/s):
  utime+stime from /proc/PID/stat of the proxy's processes (Kamailio: the main
  process and all its children, timers included) before the UAC starts and
  after the UAS has finished, divided by the calls the UAC completed;
* highest sustained call rate: the UAC steps the rate up (``--steps``, each
  ``--step-seconds`` long); a step passes when fewer than 0.1 % of its calls
  failed and the UAC reached 95 % of the target rate (a call not complete
  before the end counts against both). After the first failing step,
  ``--refine`` bisections narrow the gap.

Each measurement runs ``--repeat`` times (default 3), proxies interleaved;
medians are reported with the ratios ksrpy/Kamailio. sipp never retransmits
(``-nr``): a lost message is a failed call. A fresh UAS (bench/sipp/uas.xml)
serves each run, so its counters are per run too. Everything listens on free
ports of 127.0.0.1; every sipp run is bounded in calls and time (watchdogs
kill what outlives its bound) and every process is stopped at the end.

Usage (from the repository root)::

    python bench/stateful_bench.py [--quick] [--rates 300,1000] [--only ksrpy|kamailio]
        [--variants] [--no-ramp] [--pyspy] [--profile]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from _common import (
    CONTENDED_CORES,
    HOST,
    KAMAILIO,
    ROOT,
    SIPP,
    BenchServer,
    CpuSampler,
    RateOutcome,
    check_kamailio_cfg,
    free_port,
    git_commit,
    max_rate,
    median,
    pyspy_tables,
    ramp_search,
    sip_probe,
    sipp_count,
    sipp_duration_ms,
    sipp_stat_row,
    system_busy,
    top_lines,
    write_results,
)

BENCH = ROOT / "bench"
UAC_XML = BENCH / "sipp" / "uac.xml"
UAS_XML = BENCH / "sipp" / "uas.xml"
KAMAILIO_CFG = BENCH / "kamailio-stateful.cfg"

#: ksrpy's routing script: the shared cfg routes (default) or the KSR Python twin.
SCRIPTS: dict[str, Path] = {"cfg": BENCH / "ksrpy-stateful.cfg",
                            "py": BENCH / "ksrpy-stateful.py"}

#: sipp's per-message receive timeout (ms): a call waiting longer for its next message fails.
RECV_TIMEOUT_MS = 3000
#: The UAS keeps a finished call this long for late messages (bench/sipp/uas.xml timewait).
UAS_TIMEWAIT_S = 1.0

#: Kamailio's shared memory (MiB, -m): tm keeps every transaction 5 s after its final
#: reply (wt_timer), which outgrows Debian's 64 MiB default above ~1000 calls/s.
KAMAILIO_SHM_MB = 1024
#: Kamailio's private memory per process (MiB, -M).
KAMAILIO_PKG_MB = 16

#: After a fixed-rate run, the proxy's CPU is read again this long after the UAS ended:
#: the transactions of the last calls end then (ksrpy: timers L, M and J, 64*T1 = 32 s;
#: Kamailio: wt_timer 5 s), and their timers' work belongs to the calls.
SETTLE_S = 36.0
#: A proxy using less CPU than this over one second is idle (its timer tail is over).
IDLE_CPU_S = 0.05
#: Ramp steps below this fraction of the rate one core would carry at the fixed-rate CPU
#: per call are skipped: they would pass.
SKIP_BELOW = 0.3

DEFAULT_RATES = [300, 1000]
DEFAULT_STEPS = [250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000]
QUICK_STEPS = [500, 1000, 2000, 4000, 6000]

#: Processes started by this run that are still alive (sipp), for the cleanup on exit.
_LIVE: set[subprocess.Popen] = set()


# ------------------------------------------------------------------ proxies


def maxfwd_probe(port: int, timeout: float = 0.5) -> bool:
    """Send a request with Max-Forwards 0 to 127.0.0.1:port; True when 483 comes back.

    Both configs answer it from REQINIT, without a transaction or the UAS.
    """
    return sip_probe(port, ruri_user="probe", max_forwards=0, status=483, timeout=timeout)


@dataclass
class Proxy(BenchServer):
    """One proxy under test, with its UAS port, ready when it answers the Max-Forwards probe."""

    KAMAILIO_CFG: ClassVar[Path] = KAMAILIO_CFG

    script: str = "cfg"  # ksrpy only: "cfg" or "py" (see SCRIPTS)
    uas_port: int = 0

    def probe(self) -> bool:
        """A request with Max-Forwards 0 is answered with 483."""
        return maxfwd_probe(self.port)

    def pick_ports(self) -> None:
        """The proxy's port and a different one for the UAS."""
        super().pick_ports()
        self.uas_port = free_port()
        while self.uas_port == self.port:
            self.uas_port = free_port()

    def kamailio_args(self) -> list[str]:
        """The UAS port and the shared and private memory sizes."""
        return ["-A", f"UAS_PORT={self.uas_port}", "-m", str(KAMAILIO_SHM_MB),
                "-M", str(KAMAILIO_PKG_MB)]

    def ksrpy_args(self) -> list[str]:
        """The script and the UAS port."""
        return ["-f", str(SCRIPTS[self.script]), "-A", f"UAS_PORT={self.uas_port}"]

    def script_banner(self) -> str:
        """The script, when its log has no start-up line."""
        return f"script {SCRIPTS[self.script]}"

    @property
    def key(self) -> str:
        """Names this running instance (a fresh one of the same name runs the ramps)."""
        return f"{self.name}:{self.port}"

    def fresh(self) -> Proxy:
        """A new, unstarted instance of the same proxy."""
        return Proxy(self.name, self.kind, script=self.script, env=dict(self.env))


# ------------------------------------------------------------------ one sipp run


@dataclass
class CallRun(RateOutcome):
    """One UAC run of ``calls`` calls at ``target_rate`` through one proxy, and its costs."""

    proxy: str
    target_rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    achieved_rate: float = 0.0
    retransmissions: int = 0
    invite_to_200_ms: float = float("nan")  # sipp's mean response time (rtd on the 200)
    uas_successful: int = 0
    uas_failed: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    server_sys_s: float = 0.0
    tail_cpu_s: float = float("nan")  # proxy CPU from the end of the run to SETTLE_S later
    tail_unfinished: bool = False  # the proxy was still busy 2 * SETTLE_S after the run
    uac_cpu_s: float = 0.0
    uas_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    peak_server_cpu_pct: float = 0.0
    peak_uac_cpu_pct: float = 0.0
    peak_uas_cpu_pct: float = 0.0
    uac_rc: int = 0
    attempts: int = 1

    @property
    def cpu_us_per_call(self) -> float:
        """Proxy CPU time per completed call, in µs."""
        return self.server_cpu_s / self.successful * 1e6 if self.successful else float("nan")

    @property
    def total_cpu_us_per_call(self) -> float:
        """Proxy CPU per completed call including the timer tail after the run, in µs."""
        if not self.successful or self.tail_cpu_s != self.tail_cpu_s:
            return float("nan")
        return (self.server_cpu_s + self.tail_cpu_s) / self.successful * 1e6

    @property
    def others_cores(self) -> float:
        """Other jobs' CPU during the run, in cores."""
        return self.other_cpu_s / self.wall_s if self.wall_s else 0.0

    def pct(self, seconds: float) -> float:
        """CPU seconds over the run as % of one core."""
        return 100 * seconds / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict:
        """Fields plus the derived values, for JSON."""
        return {**asdict(self), "failed_fraction": self.failed_fraction,
                "cpu_us_per_call": self.cpu_us_per_call,
                "total_cpu_us_per_call": self.total_cpu_us_per_call, "passed": self.passed,
                "server_cpu_pct": self.pct(self.server_cpu_s),
                "uac_cpu_pct": self.pct(self.uac_cpu_s), "uas_cpu_pct": self.pct(self.uas_cpu_s)}


def apply_uac_row(run: CallRun, row: dict[str, str]) -> None:
    """Fill the UAC's counters of ``run`` from the last line of its -trace_stat CSV."""
    run.successful = sipp_count(row, "SuccessfulCall(C)")
    run.failed = sipp_count(row, "FailedCall(C)")
    run.retransmissions = sipp_count(row, "Retransmissions(C)")
    try:
        run.achieved_rate = float(row.get("CallRate(C)", "") or 0)
    except ValueError:
        run.achieved_rate = 0.0
    run.invite_to_200_ms = sipp_duration_ms(row.get("ResponseTime1(C)", ""))


def _spawn(cmd: list[str], workdir: Path, log: Path) -> subprocess.Popen:
    """Start one sipp, remembered in _LIVE until it is reaped."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    _LIVE.add(proc)
    return proc


def _reap(proc: subprocess.Popen, grace: float) -> float:
    """Wait up to ``grace`` s for a sipp, then SIGTERM, then SIGKILL; its CPU seconds."""
    deadline = time.monotonic() + grace
    status = None
    while status is None:
        try:
            pid, raw, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:  # already reaped by Popen.poll(): its CPU is unknown
            _LIVE.discard(proc)
            return 0.0
        if pid:
            status = raw
            break
        if time.monotonic() >= deadline:
            proc.send_signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
            grace = 0.0
            deadline = time.monotonic() + 3
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _LIVE.discard(proc)
    return usage.ru_utime + usage.ru_stime


def _wait_bound(port: int, proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Wait until something (the UAS just started) holds UDP ``port`` on 127.0.0.1."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the UAS did not bind 127.0.0.1:{port} (exit {proc.poll()})")


#: Runs whose timer tail is still to be read: Proxy.key -> (run, end time, CPU then).
_PENDING: dict[str, tuple[CallRun, float, float]] = {}


def settle(proxy: Proxy) -> None:
    """Read the timer tail of ``proxy``'s last fixed-rate run, waiting until it is over.

    Called before the proxy's next run (so no other load of its own is in
    the tail) and at the end; other proxies run meanwhile.
    """
    pending = _PENDING.pop(proxy.key, None)
    if pending is None:
        return
    run, ended, cpu_then = pending
    wait = ended + SETTLE_S - time.monotonic()
    if wait > 1:
        print(f"    {proxy.name}: {wait:.0f} s until the transactions of its last run end",
              flush=True)
    if wait > 0:
        time.sleep(wait)
    # A proxy still busy then (a backlog of timers) is followed until it is idle, at most
    # SETTLE_S more: the tail would be cut short otherwise.
    deadline = time.monotonic() + SETTLE_S
    last = sum(proxy.cpu())
    while time.monotonic() < deadline:
        time.sleep(1)
        now = sum(proxy.cpu())
        if now - last < IDLE_CPU_S:
            break
        last = now
    else:
        run.tail_unfinished = True
    run.tail_cpu_s = sum(proxy.cpu()) - cpu_then
    print(f"    {proxy.name}: {run.target_rate}/s run: {run.tail_cpu_s:.2f} s CPU in the "
          f"{SETTLE_S:.0f}+ s after it, {run.total_cpu_us_per_call:.1f} us/call in all"
          f"{' (still busy: tail cut short)' if run.tail_unfinished else ''}", flush=True)


def run_calls(proxy: Proxy, rate: int, calls: int, workdir: Path, tag: str,
              tail: bool = False) -> CallRun:
    """A fresh UAS, then the UAC places ``calls`` calls at ``rate``/s through ``proxy``.

    Bounded: the UAC is killed at calls/rate + recv timeout + 15 s, the UAS
    a few seconds after the UAC has ended. With ``tail`` the proxy's CPU in
    the SETTLE_S after the run is read later (``settle``) into ``tail_cpu_s``.
    """
    settle(proxy)
    limit_s = calls / rate + RECV_TIMEOUT_MS / 1000 + 15
    uac_stat, uas_stat = workdir / f"uac-{tag}.csv", workdir / f"uas-{tag}.csv"
    buff = str(4 * 1024 * 1024)
    uas_cmd = [SIPP, "-sf", str(UAS_XML), "-t", "u1", "-i", HOST, "-p", str(proxy.uas_port),
               "-m", str(calls), "-nr", "-recv_timeout", str(RECV_TIMEOUT_MS),
               "-buff_size", buff, "-nostdin", "-trace_stat", "-stf", str(uas_stat), "-fd", "1"]
    uac_cmd = [SIPP, f"{HOST}:{proxy.port}", "-sf", str(UAC_XML), "-t", "u1", "-i", HOST,
               "-p", str(free_port()), "-m", str(calls), "-r", str(rate), "-rp", "1000",
               "-l", str(max(1000, 2 * rate)), "-nr", "-recv_timeout", str(RECV_TIMEOUT_MS),
               "-buff_size", buff, "-nostdin", "-trace_stat", "-stf", str(uac_stat), "-fd", "1"]
    run = CallRun(proxy=proxy.name, target_rate=rate, calls=calls)
    uas = _spawn(uas_cmd, workdir, workdir / f"uas-{tag}.log")
    try:
        _wait_bound(proxy.uas_port, uas)
        cpu0, busy0, t0 = proxy.cpu(), system_busy(), time.monotonic()
        uac = _spawn(uac_cmd, workdir, workdir / f"uac-{tag}.log")
        watchdog = threading.Timer(limit_s, uac.kill)
        watchdog.start()
        sampler = CpuSampler({"server": proxy.pids, "uac": [uac.pid], "uas": [uas.pid]})
        sampler.start()
        try:
            run.uac_cpu_s = _reap(uac, limit_s + 5)
        finally:
            watchdog.cancel()
        run.uas_cpu_s = _reap(uas, UAS_TIMEWAIT_S + 3)
        sampler.done.set()
        sampler.join()
    finally:
        for proc in (p for p in list(_LIVE) if p.poll() is None):
            proc.kill()
    peaks = sampler.peaks()
    run.peak_server_cpu_pct = peaks.get("server", 0.0)
    run.peak_uac_cpu_pct, run.peak_uas_cpu_pct = peaks.get("uac", 0.0), peaks.get("uas", 0.0)
    run.wall_s = time.monotonic() - t0
    user1, sys1 = proxy.cpu()
    run.server_cpu_s = user1 + sys1 - sum(cpu0)
    run.server_sys_s = sys1 - cpu0[1]
    if tail:
        _PENDING[proxy.key] = (run, time.monotonic(), user1 + sys1)
    run.other_cpu_s = max(0.0, system_busy() - busy0 - run.server_cpu_s - run.uac_cpu_s
                          - run.uas_cpu_s)
    run.uac_rc = uac.returncode
    apply_uac_row(run, sipp_stat_row(uac_stat))
    uas_row = sipp_stat_row(uas_stat)
    run.uas_successful = sipp_count(uas_row, "SuccessfulCall(C)")
    run.uas_failed = sipp_count(uas_row, "FailedCall(C)")
    return run


# ------------------------------------------------------------------ measurements


def fixed_rate(proxies: list[Proxy], rate: int, calls: int, repeat: int,
               workdir: Path) -> dict[str, list[CallRun]]:
    """``repeat`` runs of ``calls`` at ``rate`` per proxy, proxies interleaved."""
    runs: dict[str, list[CallRun]] = {p.name: [] for p in proxies}
    for i in range(repeat):
        for proxy in proxies:
            run = run_calls(proxy, rate, calls, workdir, f"fixed-{proxy.name}-{rate}-{i}",
                            tail=True)
            runs[proxy.name].append(run)
            print(f"  {rate:>5}/s {proxy.name:<14} #{i + 1}: {run.cpu_us_per_call:7.1f} us/call  "
                  f"ok {run.successful}/{run.calls}  achieved {run.achieved_rate:.0f}/s  "
                  f"INVITE->200 {run.invite_to_200_ms:.1f} ms  "
                  f"proxy {run.pct(run.server_cpu_s):.0f}%  uac {run.pct(run.uac_cpu_s):.0f}%  "
                  f"uas {run.pct(run.uas_cpu_s):.0f}%  others {run.others_cores:.1f} cores",
                  flush=True)
            time.sleep(1)
    return runs


def bisect_rate(best: int, failing: int) -> int | None:
    """The next rate to try between a passing and a failing one, or None when close enough.

    Rounded to a grain of about 5 % of the passing rate (at least 50/s), so
    that a bisection never asks for a resolution the steps cannot give.
    """
    grain = max(50, int(round(best * 0.05 / 50)) * 50)
    mid = int(round((best + failing) / 2 / grain)) * grain
    return None if mid <= best or mid >= failing else mid


def ramp_steps(steps: list[int], predicted: float) -> list[int]:
    """The ramp's steps without those below SKIP_BELOW of the ``predicted`` saturation rate.

    The last step below that bound is kept as the start, so the ramp always
    begins with a step that should pass; all steps are kept without a prediction.
    """
    if not predicted or predicted != predicted or predicted == math.inf:
        return list(steps)
    low = [s for s in steps if s < SKIP_BELOW * predicted]
    return steps[max(0, len(low) - 1):]


def predicted_rate(fixed: dict[int, dict[str, list[CallRun]]], name: str) -> float:
    """Calls/s one core would carry at the lowest fixed-rate CPU per call (tail included)."""
    costs = []
    for runs in fixed.values():
        values = [r.total_cpu_us_per_call for r in runs[name]]
        if all(v != v for v in values):
            values = [r.cpu_us_per_call for r in runs[name]]
        cost = median([v for v in values if v == v])
        if cost == cost and cost > 0:
            costs.append(cost)
    return 1e6 / min(costs) if costs else float("nan")


def ramp(proxy: Proxy, steps: list[int], seconds: float, refine: int, retries: int,
         workdir: Path, tag: str, deadline: float) -> list[CallRun]:
    """Step the rate up until a step fails, then bisect ``refine`` times; stops at ``deadline``."""
    return ramp_search(lambda rate: ramp_step(proxy, rate, seconds, retries, workdir, tag),
                       steps, refine, bisect_rate, proxy.name, deadline)


def ramp_step(proxy: Proxy, rate: int, seconds: float, retries: int, workdir: Path,
              tag: str) -> CallRun:
    """One ramp step: ``rate`` calls/s for ``seconds``; a step that failed while other jobs
    used more than CONTENDED_CORES is run again, at most ``retries`` times."""
    for attempt in range(retries + 1):
        run = run_calls(proxy, rate, max(1, int(rate * seconds)), workdir,
                        f"ramp-{tag}-{rate}-{attempt}")
        print(f"    {proxy.name:<14} {rate:>5}/s: {'pass' if run.passed else 'FAIL'}  "
              f"achieved {run.achieved_rate:6.0f}/s  failed {100 * run.failed_fraction:6.3f}%  "
              f"peak CPU proxy {run.peak_server_cpu_pct:3.0f}% uac {run.peak_uac_cpu_pct:3.0f}% "
              f"uas {run.peak_uas_cpu_pct:3.0f}%  others {run.others_cores:.1f} cores",
              flush=True)
        time.sleep(1)
        if run.passed or run.others_cores <= CONTENDED_CORES or attempt == retries:
            break
        print(f"    {proxy.name:<14} {rate:>5}/s: failed while others used "
              f"{run.others_cores:.1f} cores: once more after 3 s", flush=True)
        time.sleep(3)
    run.attempts = attempt + 1
    return run


def limit_of(run: CallRun | None) -> str:
    """Who looks saturated at a failing step: the proxy, sipp, or neither (noise?)."""
    if run is None:
        return "none (all steps passed)"
    server, uac, uas = run.peak_server_cpu_pct, run.peak_uac_cpu_pct, run.peak_uas_cpu_pct
    parts = [f"peak CPU proxy {server:.0f}% / uac {uac:.0f}% / uas {uas:.0f}% "
             f"at {run.target_rate}/s"]
    if max(uac, uas) >= 90 and max(uac, uas) >= server:
        parts.append("sipp-bound")
    elif server >= 90:
        parts.append("proxy-bound")
    elif (server + uac + uas) / 100 + run.others_cores >= 0.9 * (os.cpu_count() or 1):
        parts.append("machine-bound (all cores busy)")
    return ", ".join(parts)


# ------------------------------------------------------------------ profiles


def profile_ksrpy(script: str, rate: int, calls: int, workdir: Path) -> str:
    """ksrpy under cProfile at a fixed rate; the top 25 functions by tottime and cumtime."""
    prof = workdir / "ksrpy-stateful.prof"
    proxy = Proxy("ksrpy-cprofile", "ksrpy", script=script, profile=prof)
    proxy.start(workdir)
    try:
        run = run_calls(proxy, rate, calls, workdir, "cprofile", tail=True)
        settle(proxy)
    finally:
        proxy.stop()
    out = io.StringIO()
    print(f"cProfile of ksrpy ({script}) at {rate}/s, run and {SETTLE_S:.0f} s tail: "
          f"{run.successful} of {run.calls} calls completed, {run.total_cpu_us_per_call:.0f} "
          "us/call with the profiler on; times are wall clock (the event loop's own time is "
          "mostly the idle wait)", file=out)
    if prof.exists():
        stats = pstats.Stats(str(prof), stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)
    else:
        print("no profile written (ksrpy did not stop cleanly)", file=out)
    return out.getvalue()


def pyspy_ksrpy(script: str, rate: int, calls: int, workdir: Path) -> str:
    """Sample ksrpy with py-spy during a fixed-rate run and during the SETTLE_S after it.

    Returns the top 25 functions by own and by inclusive samples of each phase.
    """
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        return "py-spy not installed (pip install py-spy): no sampling profile"
    proxy = Proxy("ksrpy-pyspy", "ksrpy", script=script)
    proxy.start(workdir)
    duration = max(2, int(calls / rate) - 2)
    result: list[CallRun] = []
    phases: list[tuple[str, Path, int]] = []
    try:
        load = threading.Thread(target=lambda: result.append(
            run_calls(proxy, rate, calls, workdir, "pyspy", tail=True)))
        load.start()
        time.sleep(1)
        for phase, seconds in (("run", duration), ("tail", 0)):
            if phase == "tail":
                load.join(timeout=calls / rate + RECV_TIMEOUT_MS / 1000 + 30)
                seconds = int(SETTLE_S)
            raw = workdir / f"pyspy-stateful-{phase}.txt"
            proc = subprocess.run([pyspy, "record", "-d", str(seconds), "-r", "250", "-f", "raw",
                                   "-o", str(raw), "-p", str(proxy.pids[0])],
                                  capture_output=True, text=True, timeout=seconds + 30)
            if proc.returncode != 0 or not raw.exists():
                return f"py-spy failed: {proc.stderr.strip()[-500:]}"
            phases.append((phase, raw, seconds))
        settle(proxy)
    finally:
        proxy.stop()
    out = io.StringIO()
    run = result[0] if result else None
    done = (f"{run.successful}/{run.calls} calls, {run.cpu_us_per_call:.0f} us/call during the "
            f"run, {run.total_cpu_us_per_call:.0f} with the tail") if run else "run unfinished"
    print(f"py-spy, ksrpy ({script}) at {rate}/s ({done}); 250 Hz on-CPU samples of the main "
          "thread; C code called from Python is counted in its Python caller", file=out)
    for phase, raw, seconds in phases:
        total, own, inclusive = pyspy_tables(raw.read_text())
        print(f"  {phase}: {total} samples over {seconds} s "
              f"({100 * total / (250 * seconds):.0f}% of one core)", file=out)
        for title, table in (("own", own), ("inclusive (ksrpy code only)", inclusive)):
            print(f"    top 25 by {title} samples:", file=out)
            for line in top_lines(table, total, 25):
                print(f"      {line}", file=out)
    return out.getvalue()


# ------------------------------------------------------------------ main


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends the benchmark through its cleanup (finally blocks)."""
    raise SystemExit(128 + signum)


def main() -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 repeat, 300/s for 5 s, 1.5 s ramp steps 500..6000/s, no bisection "
                    "(under a minute)")
    ap.add_argument("--rates", default=None, help="fixed rates, comma-separated (300,1000)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="length of a fixed-rate run (20 s; --calls overrides)")
    ap.add_argument("--calls", type=int, default=None, help="calls per fixed-rate run")
    ap.add_argument("--repeat", type=int, default=None, help="runs per measurement (3)")
    ap.add_argument("--steps", default=None, help="comma-separated ramp rates "
                    f"(default {','.join(map(str, DEFAULT_STEPS))})")
    ap.add_argument("--step-seconds", type=float, default=None,
                    help="length of one ramp step at its target rate (default 40: longer than "
                    "ksrpy's 32 s transaction lifetimes, so a step carries its own timers)")
    ap.add_argument("--ramp-repeat", type=int, default=None, help="ramps per proxy (1)")
    ap.add_argument("--refine", type=int, default=None,
                    help="bisections after the first failing ramp step (default 2)")
    ap.add_argument("--retries", type=int, default=None,
                    help="re-runs of a ramp step that failed while others used > 0.5 core (2)")
    ap.add_argument("--ramp-budget", type=float, default=None,
                    help="seconds one ramp may take before it stops stepping up (600)")
    ap.add_argument("--only", choices=["ksrpy", "kamailio"], default=None)
    ap.add_argument("--script", choices=sorted(SCRIPTS), default="cfg",
                    help="ksrpy's script: cfg = bench/ksrpy-stateful.cfg (the shared routes, "
                    "default), py = bench/ksrpy-stateful.py (KSR twin)")
    ap.add_argument("--variants", action="store_true",
                    help="also ksrpy with the other script and with KSRPY_PURE=1")
    ap.add_argument("--no-ramp", action="store_true", help="skip the max-rate search")
    ap.add_argument("--profile", action="store_true",
                    help="also a cProfile run of ksrpy (top 25 by tottime and cumulative)")
    ap.add_argument("--pyspy", action="store_true",
                    help="also a py-spy sampling profile of ksrpy at the first fixed rate")
    ap.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    args = ap.parse_args()

    rates = [int(r) for r in args.rates.split(",")] if args.rates else (
        [300] if args.quick else DEFAULT_RATES)
    seconds = args.seconds or (4.0 if args.quick else 20.0)
    repeat = args.repeat or (1 if args.quick else 3)
    step_seconds = args.step_seconds or (1.5 if args.quick else 40.0)
    ramp_repeat = args.ramp_repeat or 1
    refine = args.refine if args.refine is not None else (0 if args.quick else 2)
    retries = args.retries if args.retries is not None else (0 if args.quick else 2)
    budget = args.ramp_budget or (30.0 if args.quick else 600.0)
    steps = ([int(s) for s in args.steps.split(",")] if args.steps
             else QUICK_STEPS if args.quick else DEFAULT_STEPS)
    if any(r <= 0 for r in rates + steps) or seconds <= 0 or step_seconds <= 0:
        ap.error("rates, steps and lengths must be positive")
    calls_of = {r: args.calls or max(1, int(r * seconds)) for r in rates}
    if any(c / r > 120 for r, c in calls_of.items()):
        ap.error("a fixed-rate run is limited to 120 s: fewer --calls or a shorter --seconds")
    if not Path(SIPP).exists():
        print("sipp not found (apt-get install sip-tester)", file=sys.stderr)
        return 2

    proxies: list[Proxy] = []
    if args.only != "kamailio":
        proxies.append(Proxy("ksrpy", "ksrpy", script=args.script))
        if args.variants:
            other = "py" if args.script == "cfg" else "cfg"
            proxies.append(Proxy(f"ksrpy-{other}", "ksrpy", script=other))
            proxies.append(Proxy("ksrpy-pure", "ksrpy", script=args.script,
                                 env={"KSRPY_PURE": "1"}))
    if args.only != "ksrpy":
        if not Path(KAMAILIO).exists():
            print("kamailio not found (apt-get install kamailio)", file=sys.stderr)
            return 2
        check_kamailio_cfg(KAMAILIO_CFG, "BENCH_PORT", "UAS_PORT")
        proxies.append(Proxy("kamailio", "kamailio"))

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="ksrpy-stateful-bench-"))
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpus": os.cpu_count(),
                    "commit": git_commit(),
                    "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                    "rates": rates, "calls": calls_of, "repeat": repeat, "steps": steps,
                    "step_seconds": step_seconds, "ramp_repeat": ramp_repeat,
                    "settle_s": SETTLE_S, "refine": refine, "workdir": str(workdir),
                    "ksrpy_script": args.script, "proxies": {}}
    started = time.monotonic()
    started_here: list[Proxy] = []  # the ramps' instances
    try:
        for proxy in list(proxies):
            proxy.start(workdir)
            print(f"{proxy.name}: port {proxy.port}, UAS port {proxy.uas_port}, "
                  f"pids {proxy.pids}  {proxy.banner}", flush=True)
            warm = run_calls(proxy, 100, 100, workdir, f"warmup-{proxy.name}")
            if warm.successful < 95:
                # A broken proxy is left out (and said so); the others are still measured.
                error = (f"only {warm.successful} of 100 warm-up calls completed; see "
                         f"{proxy.log} and {workdir}/uac-warmup-{proxy.name}.log")
                print(f"{proxy.name}: LEFT OUT: {error}", file=sys.stderr, flush=True)
                report.setdefault("left_out", {})[proxy.name] = error
                proxy.stop()
                proxies.remove(proxy)
        if not proxies:
            raise RuntimeError(f"no proxy completed its warm-up calls: {report['left_out']}")

        fixed: dict[int, dict[str, list[CallRun]]] = {}
        for rate in rates:
            print(f"fixed rate: {calls_of[rate]} calls at {rate}/s, {repeat} runs", flush=True)
            fixed[rate] = fixed_rate(proxies, rate, calls_of[rate], repeat, workdir)
        if not args.quick:
            for proxy in proxies:  # quick: the tails end while the ramps run
                settle(proxy)
        ramps: dict[str, list[list[CallRun]]] = {p.name: [] for p in proxies}
        if not args.no_ramp:
            print(f"max rate: {step_seconds:g} s steps, {refine} bisections, {ramp_repeat} "
                  f"ramp(s), each on a fresh instance; steps below {SKIP_BELOW:.0%} of the rate "
                  "predicted from the CPU per call are skipped", flush=True)
            plan = {p.name: ramp_steps(steps, predicted_rate(fixed, p.name)) for p in proxies}
            for i in range(ramp_repeat):
                for proxy in proxies:
                    fresh = proxy.fresh()
                    started_here.append(fresh)
                    fresh.start(workdir)
                    print(f"  {proxy.name}: steps {plan[proxy.name]} (port {fresh.port})",
                          flush=True)
                    try:
                        ramps[proxy.name].append(ramp(fresh, plan[proxy.name], step_seconds,
                                                      refine, retries, workdir,
                                                      f"{proxy.name}-{i}",
                                                      time.monotonic() + budget))
                    finally:
                        fresh.stop()
        for proxy in proxies:
            settle(proxy)
        for proxy in proxies:
            found = [max_rate(r) for r in ramps[proxy.name]]
            report["proxies"][proxy.name] = {
                "banner": proxy.banner,
                "pids": len(proxy.pids),
                "fixed": {str(rate): fixed_summary(fixed[rate][proxy.name]) for rate in rates},
                "max_rate": median([f[0] for f in found]) if found else None,
                "max_rate_runs": [f[0] for f in found],
                "limit_at_failing_step": [limit_of(f[1]) for f in found],
                "ramps": [[r.summary() for r in runs] for runs in ramps[proxy.name]],
            }
    finally:
        for proxy in proxies + started_here:
            proxy.stop()
        for proc in list(_LIVE):
            if proc.poll() is None:
                proc.kill()

    first = rates[0]
    if args.profile and args.only != "kamailio":
        rate = max(50, first // 2)  # the profiler roughly doubles ksrpy's cost
        report["profile"] = profile_ksrpy(args.script, rate, int(rate * min(seconds, 10)),
                                          workdir)
    if args.pyspy and args.only != "kamailio":
        report["pyspy"] = pyspy_ksrpy(args.script, first, int(first * max(seconds, 8)),
                                      workdir)

    report["wall_s"] = time.monotonic() - started
    report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print_report(report)
    path = write_results(report, args.json, "stateful")
    print(f"results: {path} (sipp and proxy logs: {workdir})")
    return 0


def fixed_summary(runs: list[CallRun]) -> dict:
    """Medians of the fixed-rate runs of one proxy at one rate, and the runs themselves."""
    return {
        "cpu_us_per_call": median([r.cpu_us_per_call for r in runs]),
        "cpu_us_per_call_runs": [r.cpu_us_per_call for r in runs],
        "total_cpu_us_per_call": median([r.total_cpu_us_per_call for r in runs]),
        "total_cpu_us_per_call_runs": [r.total_cpu_us_per_call for r in runs],
        "failed_fraction": median([r.failed_fraction for r in runs]),
        "invite_to_200_ms": median([r.invite_to_200_ms for r in runs]),
        "sys_share": median([r.server_sys_s / r.server_cpu_s for r in runs if r.server_cpu_s]),
        "server_cpu_pct": median([r.pct(r.server_cpu_s) for r in runs]),
        "uac_cpu_pct": median([r.pct(r.uac_cpu_s) for r in runs]),
        "uas_cpu_pct": median([r.pct(r.uas_cpu_s) for r in runs]),
        "others_cores": median([r.others_cores for r in runs]),
        "runs": [r.summary() for r in runs],
    }


def print_report(report: dict) -> None:
    """Tables of medians and the ratios ksrpy/Kamailio."""
    results = report["proxies"]
    print()
    print(f"Stateful calls over UDP (INVITE 100 180 200 ACK BYE 200), medians of "
          f"{report['repeat']}; {report['cpus']} CPUs; ksrpy {report['commit']}")
    print(f"CPU us/call: during the run / with the {report['settle_s']:.0f} s after it "
          "(the transactions' timers)")
    print(f"{'proxy':<14} {'rate/s':>6} {'run':>8} {'+tail':>8} {'sys%':>4} {'proxy%':>6} "
          f"{'uac%':>4} {'uas%':>4} {'others':>6} {'failed%':>7} {'INV->200 ms':>11}")
    for name, r in results.items():
        for rate, f in r["fixed"].items():
            print(f"{name:<14} {rate:>6} {f['cpu_us_per_call']:8.1f} "
                  f"{f['total_cpu_us_per_call']:8.1f} "
                  f"{100 * f['sys_share']:4.0f} {f['server_cpu_pct']:6.0f} "
                  f"{f['uac_cpu_pct']:4.0f} {f['uas_cpu_pct']:4.0f} {f['others_cores']:6.1f} "
                  f"{100 * f['failed_fraction']:7.3f} {f['invite_to_200_ms']:11.2f}")
    if any(r["max_rate_runs"] for r in results.values()):
        print(f"{'proxy':<14} {'max calls/s':>11}  runs / limit at the failing step")
        for name, r in results.items():
            rate = "-" if r["max_rate"] is None else f"{r['max_rate']:.0f}"
            print(f"{name:<14} {rate:>11}  {r['max_rate_runs']} / "
                  f"{'; '.join(r['limit_at_failing_step'])}")
    kam = results.get("kamailio")
    if kam:
        for name, r in results.items():
            if name != "kamailio":
                print(f"ratio {name}/kamailio: {', '.join(ratios(r, kam))}")
    for name, error in report.get("left_out", {}).items():
        print(f"{name}: not measured: {error}")
    for key in ("pyspy", "profile"):
        if key in report:
            print()
            print(report[key])


def ratios(mine: dict, kam: dict) -> list[str]:
    """ksrpy/Kamailio ratios of the medians: CPU per call per rate, max call rate."""
    parts = []
    for rate, f in mine["fixed"].items():
        k = kam["fixed"].get(rate)
        if not k:
            continue
        run = f["cpu_us_per_call"] / k["cpu_us_per_call"] if k["cpu_us_per_call"] else math.nan
        total = (f["total_cpu_us_per_call"] / k["total_cpu_us_per_call"]
                 if k["total_cpu_us_per_call"] else math.nan)
        parts.append(f"CPU per call at {rate}/s {run:.1f}x during the run, {total:.1f}x "
                     "with the tail")
    if mine["max_rate"] and kam["max_rate"]:
        parts.append(f"max call rate {mine['max_rate'] / kam['max_rate']:.2f}x")
    return parts


if __name__ == "__main__":
    sys.exit(main())
