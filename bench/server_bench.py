"""Server benchmark: sipp OPTIONS keepalives over UDP to ``ksrpy run`` and to Kamailio.

Both servers run the same logic (ksrpy's routes/default.py, and
bench/kamailio-options.cfg for Kamailio 5.6 with one UDP worker) on free ports
of 127.0.0.1, picked at run time. For each server:

* CPU per request at a fixed rate: utime+stime from /proc/PID/stat of the
  server's processes (Kamailio: the main process and all its children) before
  and after one sipp run of ``--requests`` calls at ``--rate``, divided by the
  calls answered with 200;
* highest sustained rate: sipp steps up the rate (``--steps``, each step
  ``--step-seconds`` long, so bounded in count and time); a step passes when
  fewer than 0.1 % of its calls fail and sipp reached 95 % of the target rate.
  After the first failing step, ``--refine`` bisections narrow the gap. A step
  that failed while other jobs used more than half a core is run again (at
  most ``--retries`` times). The highest passing rate is reported, with the
  server's and sipp's peak CPU use at the failing step (sipp itself may be the
  limit on a 2-core machine).

Each measurement runs ``--repeat`` times (default 3), servers interleaved;
medians are reported, with ksrpy/Kamailio ratios. sipp sends each request once
(``-nr``): a lost request or reply is a failed call, never retransmitted.

Usage (from the repository root)::

    python bench/server_bench.py [--quick] [--rate 10000] [--requests 100000]
        [--only ksrpy|kamailio] [--variants] [--profile] [--pyspy]
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import shutil
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
    sipp_stat_row,
    system_busy,
    top_lines,
    write_results,
)

BENCH = ROOT / "bench"
SCENARIO = BENCH / "options_uac.xml"
KAMAILIO_CFG = BENCH / "kamailio-options.cfg"
KSRPY_SCRIPT = BENCH / "ksrpy-options.py"

#: sipp's per-call reply timeout (ms).
RECV_TIMEOUT_MS = 2000

#: ksrpy's routing script: the KSR Python twin of the Kamailio config (default), the
#: Kamailio config itself, or ksrpy's shipped default routes (None: no -f).
SCRIPTS: dict[str, Path | None] = {"py": KSRPY_SCRIPT, "cfg": KAMAILIO_CFG, "default": None}

DEFAULT_STEPS = [5000, 10000, 15000, 20000, 30000, 40000, 60000, 80000]


# ------------------------------------------------------------------ servers


def options_probe(port: int, timeout: float = 0.5) -> bool:
    """Send one OPTIONS keepalive to 127.0.0.1:port; True when a 200 comes back."""
    return sip_probe(port, ruri_user="", max_forwards=70, status=200, timeout=timeout)


@dataclass
class Server(BenchServer):
    """One server under test, ready when it answers an OPTIONS keepalive."""

    KAMAILIO_CFG: ClassVar[Path] = KAMAILIO_CFG
    PROBE_NAME: ClassVar[str] = "OPTIONS"

    script: str = "py"  # ksrpy only: "py", "cfg" or "default" (see SCRIPTS)

    def probe(self) -> bool:
        """An OPTIONS keepalive is answered with 200."""
        return options_probe(self.port)

    def ksrpy_args(self) -> list[str]:
        """The script (none: ksrpy's default routes) and the port it is told."""
        script = SCRIPTS[self.script]
        return [] if script is None else ["-f", str(script), "-A", f"BENCH_PORT={self.port}"]

    def script_banner(self) -> str:
        """The script, when its log level hides ksrpy's start-up line."""
        return (f"script {SCRIPTS[self.script] or 'default'} (its log level "
                "hides the start-up line)")


# ------------------------------------------------------------------ sipp


@dataclass
class Run(RateOutcome):
    """One sipp run against one server, with the CPU used on each side."""

    server: str
    target_rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    achieved_rate: float = 0.0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    server_sys_s: float = 0.0
    sipp_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    peak_server_cpu_pct: float = 0.0
    peak_sipp_cpu_pct: float = 0.0
    sipp_rc: int = 0
    attempts: int = 1

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU time per answered request, in µs."""
        return self.server_cpu_s / self.successful * 1e6 if self.successful else float("nan")

    def summary(self) -> dict:
        """Fields plus the derived values, for JSON."""
        return {**asdict(self), "failed_fraction": self.failed_fraction,
                "cpu_us_per_request": self.cpu_us_per_request, "passed": self.passed,
                "server_cpu_pct": 100 * self.server_cpu_s / self.wall_s if self.wall_s else 0,
                "sipp_cpu_pct": 100 * self.sipp_cpu_s / self.wall_s if self.wall_s else 0}


def run_sipp(server: Server, rate: int, calls: int, workdir: Path, tag: str) -> Run:
    """sipp sends ``calls`` OPTIONS at ``rate``/s; bounded by calls/rate + 10 s."""
    duration = calls / rate
    limit_s = int(duration + 10)
    stat = workdir / f"sipp-{tag}.csv"
    cmd = [
        SIPP, f"{HOST}:{server.port}", "-sf", str(SCENARIO), "-t", "u1",
        "-i", HOST, "-p", str(free_port()), "-m", str(calls), "-r", str(rate),
        "-rp", "1000", "-l", str(max(1000, 3 * rate)), "-nr",
        "-recv_timeout", str(RECV_TIMEOUT_MS), "-timeout", f"{limit_s}s",
        "-buff_size", str(4 * 1024 * 1024), "-nostdin",
        "-trace_stat", "-stf", str(stat), "-fd", "1",
    ]
    result = Run(server=server.name, target_rate=rate, calls=calls)
    cpu0, busy0, t0 = server.cpu(), system_busy(), time.monotonic()
    with open(workdir / f"sipp-{tag}.log", "wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    watchdog = threading.Timer(limit_s + 15, proc.kill)
    watchdog.start()
    sampler = CpuSampler({"server": server.pids, "sipp": [proc.pid]})
    sampler.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
        sampler.done.set()
        sampler.join()
    peaks = sampler.peaks()
    result.peak_server_cpu_pct, result.peak_sipp_cpu_pct = peaks["server"], peaks["sipp"]
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.wall_s = time.monotonic() - t0
    user1, sys1 = server.cpu()
    result.server_cpu_s = user1 + sys1 - sum(cpu0)
    result.server_sys_s = sys1 - cpu0[1]
    result.sipp_cpu_s = usage.ru_utime + usage.ru_stime
    result.other_cpu_s = max(0.0, system_busy() - busy0 - result.server_cpu_s
                             - result.sipp_cpu_s)
    result.sipp_rc = proc.returncode
    row = sipp_stat_row(stat)
    result.successful = int(row.get("SuccessfulCall(C)", 0) or 0)
    result.failed = int(row.get("FailedCall(C)", 0) or 0)
    result.achieved_rate = float(row.get("CallRate(C)", 0) or 0)
    return result


# ------------------------------------------------------------------ measurements


def fixed_rate(servers: list[Server], rate: int, requests: int, repeat: int,
               workdir: Path) -> dict[str, list[Run]]:
    """``repeat`` runs of ``requests`` at ``rate`` per server, servers interleaved."""
    runs: dict[str, list[Run]] = {s.name: [] for s in servers}
    for i in range(repeat):
        for server in servers:
            run = run_sipp(server, rate, requests, workdir, f"fixed-{server.name}-{i}")
            runs[server.name].append(run)
            print(f"  fixed {server.name:<14} #{i + 1}: {run.cpu_us_per_request:6.1f} us/req  "
                  f"ok {run.successful}/{run.calls}  achieved {run.achieved_rate:.0f}/s  "
                  f"server {run.summary()['server_cpu_pct']:.0f}%  "
                  f"sipp {run.summary()['sipp_cpu_pct']:.0f}%  "
                  f"others {run.other_cpu_s / run.wall_s:.1f} cores",
                  flush=True)
            time.sleep(1)
    return runs


def ramp(server: Server, steps: list[int], seconds: float, refine: int, retries: int,
         workdir: Path, tag: str) -> list[Run]:
    """Step the rate up until a step fails, then bisect ``refine`` times between the last
    passing rate and the failing one (to the nearest 500/s)."""
    return ramp_search(lambda rate: ramp_step(server, rate, seconds, retries, workdir, tag),
                       steps, refine, bisect_500)


def bisect_500(best: int, failing: int) -> int | None:
    """Midway between a passing and a failing rate, to 500/s; None when it is one of them."""
    mid = int(round((best + failing) / 2 / 500) * 500)
    return None if mid in (best, failing) else mid


def ramp_step(server: Server, rate: int, seconds: float, retries: int, workdir: Path,
              tag: str) -> Run:
    """One ramp step: ``rate`` calls/s for ``seconds``; a step that failed while other jobs
    used more than CONTENDED_CORES is run again, at most ``retries`` times."""
    for attempt in range(retries + 1):
        run = run_sipp(server, rate, int(rate * seconds), workdir,
                       f"ramp-{tag}-{rate}-{attempt}")
        others = run.other_cpu_s / run.wall_s if run.wall_s else 0.0
        print(f"    {server.name:<14} {rate:>6}/s: {'pass' if run.passed else 'FAIL'}  "
              f"achieved {run.achieved_rate:7.0f}/s  failed {100 * run.failed_fraction:6.3f}%  "
              f"peak CPU server {run.peak_server_cpu_pct:3.0f}% "
              f"sipp {run.peak_sipp_cpu_pct:3.0f}%  others {others:.1f} cores", flush=True)
        time.sleep(1)
        if run.passed or others <= CONTENDED_CORES or attempt == retries:
            break
        print(f"    {server.name:<14} {rate:>6}/s: failed while others used {others:.1f} "
              "cores: once more after 3 s", flush=True)
        time.sleep(3)
    run.attempts = attempt + 1
    return run


def achieved_at(runs: list[Run], rate: int) -> float:
    """sipp's achieved rate at the passing step of this target rate (0 when none)."""
    return max((r.achieved_rate for r in runs if r.passed and r.target_rate == rate), default=0)


def limit_of(run: Run | None) -> str:
    """Who looks saturated at a failing step: the server, sipp, or neither (noise?)."""
    if run is None:
        return "none (all steps passed)"
    server_pct, sipp_pct = run.peak_server_cpu_pct, run.peak_sipp_cpu_pct
    parts = [f"peak CPU server {server_pct:.0f}% / sipp {sipp_pct:.0f}% at {run.target_rate}/s"]
    if sipp_pct >= 90 and sipp_pct >= server_pct:
        parts.append("sipp-bound")
    elif server_pct >= 90:
        parts.append("server-bound")
    return ", ".join(parts)


def profile_ksrpy(rate: int, requests: int, workdir: Path, script: str) -> str:
    """Run ksrpy under cProfile at a fixed rate; the top 15 functions by tottime."""
    prof = workdir / "ksrpy.prof"
    server = Server("ksrpy-cprofile", "ksrpy", profile=prof, script=script)
    server.start(workdir)
    try:
        run = run_sipp(server, rate, requests, workdir, "profile")
    finally:
        server.stop()
    out = io.StringIO()
    print(f"cProfile of ksrpy (uvloop, native scanner) at {rate}/s, {run.successful} of "
          f"{run.calls} answered, {run.cpu_us_per_request:.1f} us/req with the profiler on",
          file=out)
    print("cProfile times are wall clock: asyncio.run's own time is mostly the idle wait in "
          "epoll plus uvloop's C code", file=out)
    if prof.exists():
        pstats.Stats(str(prof), stream=out).sort_stats("tottime").print_stats(15)
    else:
        print("no profile written (ksrpy did not stop cleanly)", file=out)
    return out.getvalue()


def pyspy_ksrpy(rate: int, requests: int, workdir: Path, script: str) -> str:
    """Sample ksrpy with py-spy (on-CPU samples only) during a fixed-rate run.

    Returns the top 15 functions by own (self) samples and by inclusive samples.
    """
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        return "py-spy not installed (pip install py-spy): no sampling profile"
    server = Server("ksrpy-pyspy", "ksrpy", script=script)
    server.start(workdir)
    raw = workdir / "pyspy.txt"
    duration = max(2, int(requests / rate) - 2)
    try:
        sampler = threading.Thread(target=run_sipp, args=(server, rate, requests, workdir,
                                                          "pyspy"))
        sampler.start()
        time.sleep(1)
        proc = subprocess.run([pyspy, "record", "-d", str(duration), "-r", "250", "-f", "raw",
                               "-o", str(raw), "-p", str(server.pids[0])],
                              capture_output=True, text=True, timeout=duration + 30)
        sampler.join(timeout=requests / rate + 40)
    finally:
        server.stop()
    if proc.returncode != 0 or not raw.exists():
        return f"py-spy failed: {proc.stderr.strip()[-500:]}"
    total, own, inclusive = pyspy_tables(raw.read_text())
    out = io.StringIO()
    print(f"py-spy, ksrpy (uvloop, native scanner) at {rate}/s: {total} on-CPU samples of "
          "the main thread at 250 Hz "
          f"over {duration} s ({100 * total / (250 * duration):.0f}% of one core); C code "
          "called from Python is counted in its Python caller; py-spy may count time blocked "
          "in a system call as idle", file=out)
    for title, table in (("own", own), ("inclusive (ksrpy code only)", inclusive)):
        print(f"  top 15 by {title} samples:", file=out)
        for line in top_lines(table, total):
            print(f"    {line}", file=out)
    return out.getvalue()


def main() -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 repeat, 20 000 requests, 2 s ramp steps up to 40 000/s")
    ap.add_argument("--rate", type=int, default=10000, help="fixed rate (calls/s)")
    ap.add_argument("--requests", type=int, default=None, help="requests per fixed-rate run")
    ap.add_argument("--repeat", type=int, default=None, help="runs per measurement (3)")
    ap.add_argument("--steps", default=None,
                    help="comma-separated ramp rates (default 5k,10k,15k,20k,30k,40k,60k,80k)")
    ap.add_argument("--step-seconds", type=float, default=None,
                    help="length of one ramp step at its target rate (default 4)")
    ap.add_argument("--refine", type=int, default=None,
                    help="bisection steps after the first failing ramp step (default 2)")
    ap.add_argument("--retries", type=int, default=2,
                    help="re-runs of a ramp step that failed while others used > 0.5 core")
    ap.add_argument("--only", choices=["ksrpy", "kamailio"], default=None)
    ap.add_argument("--script", choices=sorted(SCRIPTS), default="py",
                    help="ksrpy's script: py = bench/ksrpy-options.py (default), cfg = "
                    "bench/kamailio-options.cfg (Kamailio's own), default = ksrpy's shipped routes")
    ap.add_argument("--variants", action="store_true",
                    help="also ksrpy with KSRPY_PURE=1, with KSRPY_ASYNCIO=1, and running "
                    "Kamailio's config file")
    ap.add_argument("--no-ramp", action="store_true", help="skip the max-rate search")
    ap.add_argument("--profile", action="store_true",
                    help="also a cProfile run of ksrpy at the fixed rate (top 15 by tottime)")
    ap.add_argument("--pyspy", action="store_true",
                    help="also a py-spy sampling profile of ksrpy at the fixed rate")
    ap.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    args = ap.parse_args()

    repeat = args.repeat or (1 if args.quick else 3)
    requests = args.requests or (20000 if args.quick else 100000)
    seconds = args.step_seconds or (2.0 if args.quick else 4.0)
    retries = max(0, args.retries)
    refine = args.refine if args.refine is not None else (0 if args.quick else 2)
    if args.steps:
        steps = [int(s) for s in args.steps.split(",")]
    else:
        steps = [s for s in DEFAULT_STEPS if not args.quick or s <= 40000]
    if requests / args.rate > 60:
        ap.error("a fixed-rate run is limited to 60 s: lower --requests or raise --rate")
    if not Path(SIPP).exists():
        print("sipp not found (apt-get install sip-tester)", file=sys.stderr)
        return 2

    servers: list[Server] = []
    if args.only != "kamailio":
        servers.append(Server("ksrpy", "ksrpy", script=args.script))
        if args.variants:
            servers.append(Server("ksrpy-pure", "ksrpy", env={"KSRPY_PURE": "1"},
                                  script=args.script))
            servers.append(Server("ksrpy-asyncio", "ksrpy", env={"KSRPY_ASYNCIO": "1"},
                                  script=args.script))
            if args.script != "cfg":
                servers.append(Server("ksrpy-cfg", "ksrpy", script="cfg"))
    if args.only != "ksrpy":
        if not Path(KAMAILIO).exists():
            print("kamailio not found (apt-get install kamailio)", file=sys.stderr)
            return 2
        check_kamailio_cfg(KAMAILIO_CFG, "BENCH_PORT")
        servers.append(Server("kamailio", "kamailio"))

    workdir = Path(tempfile.mkdtemp(prefix="ksrpy-bench-"))
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpus": os.cpu_count(),
                    "commit": git_commit(),
                    "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
                    "rate": args.rate, "requests": requests, "repeat": repeat, "steps": steps,
                    "step_seconds": seconds, "refine": refine, "workdir": str(workdir),
                    "ksrpy_script": args.script,
                    "servers": {}}
    started = time.monotonic()
    try:
        for server in servers:
            server.start(workdir)
            print(f"{server.name}: port {server.port}, pids {server.pids}  {server.banner}")
            run_sipp(server, 2000, 4000, workdir, f"warmup-{server.name}")

        print(f"fixed rate: {requests} requests at {args.rate}/s, {repeat} runs")
        fixed = fixed_rate(servers, args.rate, requests, repeat, workdir)
        ramps: dict[str, list[list[Run]]] = {s.name: [] for s in servers}
        if not args.no_ramp:
            print(f"max rate: steps {steps}, {seconds:g} s each, {refine} bisections, "
                  f"{repeat} ramps")
            for i in range(repeat):
                for server in servers:
                    ramps[server.name].append(ramp(server, steps, seconds, refine, retries,
                                                   workdir, f"{server.name}-{i}"))
        for server in servers:
            runs = fixed[server.name]
            found = [max_rate(r) for r in ramps[server.name]]
            report["servers"][server.name] = {
                "banner": server.banner,
                "pids": len(server.pids),
                "cpu_us_per_request": median([r.cpu_us_per_request for r in runs]),
                "fixed_failed_fraction": median([r.failed_fraction for r in runs]),
                "fixed_sipp_cpu_pct": median([r.summary()["sipp_cpu_pct"] for r in runs]),
                "fixed_server_cpu_pct": median([r.summary()["server_cpu_pct"] for r in runs]),
                "sys_share": median([r.server_sys_s / r.server_cpu_s for r in runs
                                     if r.server_cpu_s]),
                "fixed_other_cores": median([r.other_cpu_s / r.wall_s for r in runs]),
                "max_rate": median([f[0] for f in found]) if found else None,
                "max_rate_runs": [f[0] for f in found],
                "max_rate_achieved": median([achieved_at(r, f[0]) for r, f in
                                             zip(ramps[server.name], found, strict=True)])
                if found else None,
                "limit_at_failing_step": [limit_of(f[1]) for f in found],
                "fixed_runs": [r.summary() for r in runs],
                "ramps": [[r.summary() for r in ramp_runs] for ramp_runs in ramps[server.name]],
            }
    finally:
        for server in servers:
            server.stop()

    if args.profile and args.only != "kamailio":
        # Half the fixed rate: the profiler multiplies ksrpy's CPU per request by ~2.5.
        rate = max(1000, args.rate // 2)
        report["profile"] = profile_ksrpy(rate, min(requests, rate * 5), workdir, args.script)

    if args.pyspy and args.only != "kamailio":
        report["pyspy"] = pyspy_ksrpy(args.rate, min(requests, args.rate * 10), workdir,
                                      args.script)

    report["wall_s"] = time.monotonic() - started
    report["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    print_report(report)
    path = write_results(report, args.json, "server")
    print(f"results: {path} (sipp and server logs: {workdir})")
    return 0


def print_report(report: dict) -> None:
    """Tables of medians and the ratios to Kamailio."""
    results = report["servers"]
    print()
    print(f"OPTIONS keepalive over UDP, medians of {report['repeat']}; fixed rate "
          f"{report['rate']}/s x {report['requests']} requests; {report['cpus']} CPUs; "
          f"ksrpy {report['commit']}")
    print(f"{'server':<14} {'CPU us/req':>10} {'sys%':>4} {'srv CPU%':>8} {'sipp CPU%':>9} "
          f"{'others':>6} {'failed%':>8} {'max rate/s':>10} {'achieved':>8}  "
          "runs / limit at the failing step")
    for name, r in results.items():
        rate = "-" if r["max_rate"] is None else f"{r['max_rate']:.0f}"
        done = "-" if not r.get("max_rate_achieved") else f"{r['max_rate_achieved']:.0f}"
        limits = "; ".join(r["limit_at_failing_step"])
        print(f"{name:<14} {r['cpu_us_per_request']:10.1f} {100 * r['sys_share']:4.0f} "
              f"{r['fixed_server_cpu_pct']:8.0f} "
              f"{r['fixed_sipp_cpu_pct']:9.0f} {r['fixed_other_cores']:6.1f} "
              f"{100 * r['fixed_failed_fraction']:8.3f} "
              f"{rate:>10} {done:>8}  {r['max_rate_runs']} / {limits}")
    kam = results.get("kamailio")
    if kam:
        for name, r in results.items():
            if name == "kamailio":
                continue
            cpu = r["cpu_us_per_request"] / kam["cpu_us_per_request"]
            line = f"ratio {name}/kamailio: CPU per request {cpu:.1f}x"
            if r["max_rate"] and kam["max_rate"]:
                line += f", max rate {r['max_rate'] / kam['max_rate']:.2f}x"
            print(line)
    for key in ("pyspy", "profile"):
        if key in report:
            print()
            print(report[key])


if __name__ == "__main__":
    sys.exit(main())
