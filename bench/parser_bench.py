"""Parser micro-benchmark: ksrpy's scanners and "proxy read" against PyPI SIP parsers.

Measures, for a ~600-byte INVITE and a ~400-byte OPTIONS:

* scan only: ``scan_native`` (C, through cffi) and ``scan_pure`` called directly;
* proxy read: parse + read method, R-URI, top Via branch, From tag, To tag,
  Call-ID, CSeq and Max-Forwards; ksrpy runs in two fresh interpreters, one
  with the native scanner and one with ``KSRPY_PURE=1`` (checked inside each);
* the same proxy read with ``sipmessage`` and Sippy (``sippy.SipRequest``),
  when they are installed (``pip install sipmessage sippy``).

Every parser's answers are checked against the expected values before timing.
``timeit`` runs each case several times; the median is reported.

Usage: ``python bench/parser_bench.py [--quick] [--repeat N] [--json PATH]``
(run from the repository root).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT, git_commit, write_results

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A proxy read answer: method, R-URI, branch, From tag, To tag, Call-ID, CSeq, Max-Forwards.
Answer = tuple[str, str, str | None, str | None, str | None, str, int, str, int | None]

_SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8\r\n"
    "a=sendrecv\r\n"
)

INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: ExamplePhone/1.2.3\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(_SDP)}\r\n"
    "\r\n" + _SDP
).encode()

OPTIONS = (
    b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4711-1-0;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:sipp@127.0.0.1:5070>;tag=4711SIPpTag001\r\n"
    b"To: <sip:127.0.0.1:5060>\r\n"
    b"Call-ID: 1-4711@127.0.0.1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Contact: <sip:sipp@127.0.0.1:5070>\r\n"
    b"Accept: application/sdp\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: sipp keepalive\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

MESSAGES: dict[str, bytes] = {"INVITE": INVITE, "OPTIONS": OPTIONS}

EXPECTED: dict[str, Answer] = {
    "INVITE": ("INVITE", "sip:bob@biloxi.example.com", "z9hG4bK776asdhds", "1928301774", None,
               "a84b4c76e66710@pc33.atlanta.example.com", 314159, "INVITE", 70),
    "OPTIONS": ("OPTIONS", "sip:127.0.0.1:5060", "z9hG4bK-4711-1-0", "4711SIPpTag001", None,
                "1-4711@127.0.0.1", 1, "OPTIONS", 70),
}


# ------------------------------------------------------------------ proxy reads


def ksrpy_read(raw: bytes) -> Answer:
    """ksrpy: ``SIPMessage.parse`` and the typed fields a proxy reads."""
    from ksrpy.sip.message import SIPMessage

    msg = SIPMessage.parse(raw)
    cseq = msg.cseq
    return (msg.method, msg.ruri, msg.via1.branch, msg.from_.tag, msg.to.tag, msg.call_id,
            cseq[0], cseq[1], msg.max_forwards)


def sipmessage_read(raw: bytes) -> Answer:
    """sipmessage: ``Message.parse`` (R-URI parsed eagerly) and its typed properties."""
    from sipmessage import Message

    msg = Message.parse(raw)
    cseq = msg.cseq
    return (msg.method, str(msg.uri), msg.via[0].parameters.get("branch"),
            msg.from_address.parameters.get("tag"), msg.to_address.parameters.get("tag"),
            msg.call_id, cseq.sequence, cseq.method, msg.max_forwards)


def sippy_read(raw: bytes) -> Answer:
    """Sippy: decode (as its transaction manager does), ``SipRequest(str)``, header bodies."""
    from sippy.SipRequest import SipRequest

    req = SipRequest(raw.decode())
    cseq = req.getHFBody("cseq")
    return (req.getMethod(), str(req.getRURI()), req.getHFBody("via").getBranch(),
            req.getHFBody("from").getTag(), req.getHFBody("to").getTag(),
            str(req.getHFBody("call-id")), cseq.getCSeqNum(), cseq.getCSeqMethod(),
            req.getHFBody("max-forwards").getNum())


# ------------------------------------------------------------------ timing


def measure(func: Callable[[bytes], Any], raw: bytes, repeat: int, target: float) -> dict:
    """Median time of ``func(raw)`` over ``repeat`` timeit runs of about ``target`` s each."""
    timer = timeit.Timer(lambda: func(raw))
    number, elapsed = timer.autorange()
    if elapsed > 0:
        number = max(1, int(number * target / elapsed))
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    median = statistics.median(runs)
    return {
        "us_per_msg": median * 1e6,
        "msgs_per_s": 1.0 / median,
        "min_us": min(runs) * 1e6,
        "max_us": max(runs) * 1e6,
        "loops": number,
        "repeat": repeat,
    }


def check(name: str, func: Callable[[bytes], Answer]) -> None:
    """Raise AssertionError unless ``func`` reads the expected fields of every message."""
    for kind, raw in MESSAGES.items():
        got = func(raw)
        if got != EXPECTED[kind]:
            raise AssertionError(f"{name} read {kind} wrong: {got!r} != {EXPECTED[kind]!r}")


def worker(repeat: int, target: float) -> dict:
    """In this interpreter: time ksrpy's proxy read with the scanner chosen at import."""
    from ksrpy.sip import scanner

    check("ksrpy", ksrpy_read)
    results = {kind: measure(ksrpy_read, raw, repeat, target) for kind, raw in MESSAGES.items()}
    return {"native": scanner.NATIVE, "reason": scanner.native_unavailable_reason,
            "results": results}


def run_worker(pure: bool, repeat: int, target: float) -> dict:
    """Run ``worker`` in a fresh interpreter, with ``KSRPY_PURE=1`` when ``pure``."""
    env = dict(os.environ)
    env.pop("KSRPY_PURE", None)
    if pure:
        env["KSRPY_PURE"] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--repeat", str(repeat),
           "--target", str(target)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


# ------------------------------------------------------------------ main


def version(dist: str) -> str | None:
    """Installed version of a distribution, None when absent."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu": cpu,
            "platform": platform.platform(), "commit": git_commit()}


def run(repeat: int, target: float) -> dict:
    """Every case; a parser that cannot be imported or misreads is reported, not fatal."""
    from ksrpy.sip.scanner import scan_native, scan_pure

    rows: list[dict] = []
    notes: list[str] = []

    def add(case: str, impl: str, kind: str, res: dict) -> None:
        rows.append({"case": case, "impl": impl, "message": kind, "bytes": len(MESSAGES[kind]),
                     **res})

    scanners: dict[str, Callable[[bytes], Any] | None] = {"native": scan_native,
                                                           "pure": scan_pure}
    for impl, scan in scanners.items():
        if scan is None:
            notes.append(f"scan {impl}: C scanner not importable (build it: pip install -e .)")
            continue
        for kind, raw in MESSAGES.items():
            add("scan", f"ksrpy {impl}", kind, measure(scan, raw, repeat, target))

    for pure in (False, True):
        label = "ksrpy pure" if pure else "ksrpy native"
        try:
            out = run_worker(pure, repeat, target)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
            notes.append(f"proxy read {label}: {exc}")
            continue
        if out["native"] == pure:
            notes.append(f"proxy read {label}: scanner was native={out['native']} "
                         f"({out['reason']}); skipped")
            continue
        for kind, res in out["results"].items():
            add("proxy read", label, kind, res)

    others: dict[str, tuple[str, Callable[[bytes], Answer]]] = {
        "sipmessage": ("sipmessage", sipmessage_read),
        "sippy": ("sippy", sippy_read),
    }
    for impl, (dist, func) in others.items():
        ver = version(dist)
        if ver is None:
            notes.append(f"{impl}: not installed (pip install {dist})")
            continue
        try:
            check(impl, func)
        except Exception as exc:  # noqa: BLE001 - any failure of a foreign parser is reported
            notes.append(f"{impl} {ver}: unusable here: {type(exc).__name__}: {exc}")
            continue
        for kind, raw in MESSAGES.items():
            add("proxy read", f"{impl} {ver}", kind, measure(func, raw, repeat, target))

    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(),
            "repeat": repeat, "target_s": target, "rows": rows, "notes": notes}


def print_table(report: dict) -> None:
    """The results as a plain-text table, with the speed relative to ksrpy native."""
    rows = report["rows"]
    base = {(r["case"], r["message"]): r["us_per_msg"] for r in rows
            if r["impl"] == "ksrpy native"}
    print(f"median of {report['repeat']} timeit runs (min: the fastest run, less sensitive to "
          "other jobs)")
    print(f"{'case':<11} {'parser':<18} {'message':<8} {'bytes':>5} {'us/msg':>9} "
          f"{'msgs/s':>10} {'x native':>8} {'min us':>8}")
    for r in rows:
        ref = base.get((r["case"], r["message"]))
        rel = f"{r['us_per_msg'] / ref:8.1f}" if ref else " " * 8
        print(f"{r['case']:<11} {r['impl']:<18} {r['message']:<8} {r['bytes']:>5} "
              f"{r['us_per_msg']:9.2f} {r['msgs_per_s']:10.0f} {rel} {r['min_us']:8.2f}")
    for note in report["notes"]:
        print(f"note: {note}")


def main() -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 short repeats")
    ap.add_argument("--repeat", type=int, default=None, help="timeit repeats (default 7)")
    ap.add_argument("--target", type=float, default=None,
                    help="seconds per timeit repeat (default 0.2)")
    ap.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)
    target = args.target or (0.05 if args.quick else 0.2)

    if args.worker:
        print(json.dumps(worker(repeat, target)))
        return 0

    report = run(repeat, target)
    print_table(report)
    path = write_results(report, args.json, "parser")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
