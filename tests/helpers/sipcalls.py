"""Calls through Kamailio's own scripts on ksrpy: a Kamailio-schema SQLite file and sipp roles.

A callee is a sipp UAS on a free port (started in the background), registered
at the proxy by a second, short sipp run whose Contact names the UAS port; the
caller is a sipp UAC run to completion. Every sipp run is bounded in time.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.sipp import SCENARIOS, SIPP, _final_counts, free_port

#: Kamailio's SQLite schema scripts (Debian package kamailio-sqlite-modules).
SCHEMA_DIR = Path("/usr/share/kamailio/db_sqlite")
SCHEMAS = ("standard", "auth_db", "usrloc", "acc", "permissions")
#: The columns kamailio.cfg's WITH_ACCDB comment says to add to acc and missed_calls.
ACC_EXTRA = ("src_user", "src_domain", "src_ip", "dst_ouser", "dst_user", "dst_domain")


def kamailio_db(path: Path, users: dict[str, str], domain: str = "127.0.0.1",
                trusted: tuple[str, ...] = ()) -> str:
    """Create ``path`` with Kamailio's own tables; returns its db_url (sqlite://PATH).

    ``users`` go into ``subscriber`` with plain-text passwords (the cfgs set
    calculate_ha1); ``trusted`` IPs into ``address`` group 1 (allow_source_address);
    acc and missed_calls get the extra columns the cfgs' WITH_ACCDB notes ask for.
    """
    conn = sqlite3.connect(path)
    try:
        for name in SCHEMAS:
            conn.executescript((SCHEMA_DIR / f"{name}-create.sql").read_text())
        for table in ("acc", "missed_calls"):
            for column in ACC_EXTRA:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(128) "
                             "NOT NULL DEFAULT ''")
        conn.executemany("INSERT INTO subscriber (username, domain, password) VALUES (?, ?, ?)",
                         [(user, domain, password) for user, password in users.items()])
        conn.executemany("INSERT INTO address (grp, ip_addr, mask, port) VALUES (1, ?, 32, 0)",
                         [(ip,) for ip in trusted])
        conn.commit()
    finally:
        conn.close()
    return f"sqlite://{path}"


@dataclass
class SippRun:
    """Counters and message trace of one finished sipp run."""

    successful: int
    failed: int
    output: str
    trace: str

    @property
    def summary(self) -> str:
        """What to print when an assertion on this run fails."""
        return f"{self.successful} ok, {self.failed} failed\n{self.output[-800:]}\n" \
               f"--- messages ---\n{self.trace[-3000:]}"


def _mode(proto: str) -> str:
    return "t1" if proto == "tcp" else "u1"


def sipp(scenario: str, target: tuple[str, int] | None, *, proto: str = "udp", calls: int = 1,
         rate: int = 10, timeout: int = 15, local_ip: str = "127.0.0.1",
         args: tuple[str, ...] = ()) -> SippRun:
    """Run sipp with ``scenario`` (a file in examples/sipp) until done or ``timeout`` s."""
    assert SIPP is not None, "sipp is not installed: apt-get install sip-tester"
    workdir = tempfile.mkdtemp(prefix="sipp-")
    stat = os.path.join(workdir, "stats.csv")
    cmd = [SIPP, *([f"{target[0]}:{target[1]}"] if target else []),
           "-sf", str(SCENARIOS / scenario), "-t", _mode(proto), "-i", local_ip,
           "-p", str(free_port()), "-m", str(calls), "-r", str(rate), "-l", str(calls),
           "-timeout", f"{timeout}s", "-timeout_error", "-recv_timeout", "4000", "-nostdin",
           "-trace_stat", "-stf", stat, "-fd", "1", "-trace_msg", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout + 15)
    ok, failed = _final_counts(stat)
    return SippRun(ok, failed, proc.stdout + proc.stderr, _trace(workdir))


def _trace(workdir: str) -> str:
    return "".join(p.read_text(errors="replace") for p in Path(workdir).glob("*_messages.log"))


@dataclass
class Uas:
    """A sipp UAS running in the background on ``port``."""

    port: int
    proc: subprocess.Popen[bytes]
    workdir: str
    stat: str

    def finish(self, timeout: float = 10.0) -> SippRun:
        """Stop it (after its calls are done, or now) and return its counters and trace."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        ok, failed = _final_counts(self.stat)
        return SippRun(ok, failed, "", _trace(self.workdir))


@contextmanager
def uas(scenario: str, *, proto: str = "udp", calls: int = 1, timeout: int = 20
        ) -> Iterator[Uas]:
    """A sipp UAS answering ``calls`` calls with ``scenario``, then exiting."""
    assert SIPP is not None, "sipp is not installed: apt-get install sip-tester"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="uas-")
    stat = os.path.join(workdir, "stats.csv")
    cmd = [SIPP, "-sf", str(SCENARIOS / scenario), "-t", _mode(proto), "-i", "127.0.0.1",
           "-p", str(port), "-m", str(calls), "-timeout", f"{timeout}s", "-nostdin",
           "-trace_stat", "-stf", stat, "-fd", "1", "-trace_msg"]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    server = Uas(port, proc, workdir, stat)
    try:
        yield server
    finally:
        server.finish(timeout=0.1 if proc.poll() is None else 0)


def register(target: tuple[str, int], user: str, contact_port: int, *, proto: str = "udp",
             password: str | None = None, local_ip: str = "127.0.0.1") -> SippRun:
    """REGISTER ``user`` at the proxy with a Contact on ``contact_port`` (digest if asked)."""
    auth = ("-au", user, "-ap", password) if password is not None else ()
    return sipp("register_contact.xml", target, proto=proto, local_ip=local_ip,
                args=("-s", user, "-key", "contact_port", str(contact_port), *auth))


def call(target: tuple[str, int], caller: str, callee: str, *, proto: str = "udp",
         calls: int = 1, auth: tuple[str, str] | None = None, local_ip: str = "127.0.0.1",
         rate: int = 10) -> SippRun:
    """Full calls (INVITE ... BYE, loose-routed) from ``caller`` to ``callee`` via the proxy."""
    creds = ("-au", auth[0], "-ap", auth[1]) if auth else ()
    return sipp("uac_call_rr.xml", target, proto=proto, calls=calls, local_ip=local_ip,
                rate=rate, args=("-key", "caller", caller, "-key", "callee", callee, *creds))


def probe(target: tuple[str, int], method: str, ruri: str, from_uri: str, *,
          src_ip: str = "127.0.0.1", timeout: float = 2.0) -> bytes | None:
    """One UDP request from ``src_ip``; its final reply (1xx skipped), None on silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((src_ip, 0))
        sock.settimeout(timeout)
        port = sock.getsockname()[1]
        tag = os.urandom(4).hex()
        raw = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {src_ip}:{port};branch=z9hG4bK{tag}\r\n"
               f"From: <{from_uri}>;tag={tag}\r\nTo: <{ruri}>\r\nCall-ID: probe-{tag}\r\n"
               f"CSeq: 1 {method}\r\nContact: <sip:probe@{src_ip}:{port}>\r\n"
               "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(raw.encode(), target)
        for _ in range(10):
            try:
                reply = sock.recv(65535)
            except TimeoutError:
                return None
            if not reply.startswith(b"SIP/2.0 1"):
                return reply
        return None
