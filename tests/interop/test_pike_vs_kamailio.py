"""pike in Kamailio 5.6 and in ksrpy: the same requests get the same return codes.

Both servers run one cfg: ``pike_check_ip($hdr(X-IP))`` when the header is
there (so one client can speak for many IPv4 addresses), else
``pike_check_req()`` (127.0.0.2, 127.0.0.3 and ::1); the reply reason carries
the return code. The sampling unit is long (60 s) so that no window swap
falls inside the test and the comparison is exact, not timing-dependent.
Kamailio 5.6's pike_check_ip() parses IPv4 only; ksrpy's also takes IPv6.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import free_port

pytestmark = pytest.mark.kamailio

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
X = 10

CFG = """\
#!KAMAILIO
debug=-1
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=udp:[::1]:{port}
mpath="{mpath}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "pike.so"
modparam("pike", "sampling_time_unit", 60)
modparam("pike", "reqs_density_per_unit", {x})
modparam("pike", "remove_latency", 600)

request_route {{
    if ($rU == "ping") {{
        sl_send_reply("200", "pong");
        exit;
    }}
    if (is_present_hf("X-IP")) {{
        pike_check_ip("$hdr(X-IP)");
    }} else {{
        pike_check_req();
    }}
    $var(rc) = $rc;
    sl_send_reply("200", "rc=$var(rc)");
    exit;
}}
"""

POOL = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.1.0.1", "10.1.0.2", "11.0.0.1", "192.0.2.1",
        "192.0.2.77", "192.0.3.1", "198.51.100.4"]


def _sequence(seed: int = 7, length: int = 2000) -> list[str]:
    """IPv4 addresses with shared prefixes at random rates (Kamailio's pike_check_ip is v4-only)."""
    rnd = random.Random(seed)
    weights = [rnd.randint(1, 10) for _ in POOL]
    return rnd.choices(POOL, weights, k=length)


class Asker:
    """One UDP socket bound to ``address``, asking one server at a time."""

    def __init__(self, address: str) -> None:
        v6 = ":" in address
        self.sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(2.0)
        self.address, self.local = address, self.sock.getsockname()[1]
        self.server = "::1" if v6 else "127.0.0.1"
        self.via_host = f"[{address}]" if v6 else address

    def ask(self, port: int, user: str = "u", xip: str | None = None) -> str | None:
        """Send one OPTIONS; the reason phrase of the reply."""
        extra = f"X-IP: {xip}\r\n" if xip else ""
        data = (f"OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.via_host}:{self.local};rport;"
                f"branch=z9hG4bK{uuid.uuid4().hex[:10]}\r\n"
                "From: <sip:a@example.com>;tag=a1\r\nTo: <sip:b@example.org>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                f"{extra}Content-Length: 0\r\n\r\n")
        self.sock.sendto(data.encode(), (self.server, port))
        try:
            reply = self.sock.recvfrom(65536)[0]
        except TimeoutError:
            return None
        return reply.split(b"\r\n", 1)[0].decode().split(" ", 2)[2]

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def _both(folder: Path) -> Iterator[tuple[int, int, subprocess.Popen[bytes], Path]]:
    """Kamailio and ksrpy on the same cfg: (kamailio port, ksrpy port, kamailio, its log)."""
    if not Path(KAMAILIO).exists():
        pytest.fail("kamailio is not installed: apt-get install kamailio")
    kport, sport = free_port(), free_port()
    kcfg, scfg, klog = folder / "kamailio.cfg", folder / "ksrpy.cfg", folder / "kamailio.log"
    # No core file when the assertion below aborts Kamailio (and none in its default cwd, /).
    kcfg.write_text(CFG.format(port=kport, mpath=MPATH, x=X).replace(
        "#!KAMAILIO\n", "#!KAMAILIO\ndisable_core_dump=yes\n"))
    scfg.write_text(CFG.format(port=sport, mpath=MPATH, x=X))
    with open(klog, "wb") as log:
        kam = subprocess.Popen([KAMAILIO, "-f", str(kcfg), "-DD", "-E", "-w", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    ours = KsrpyProcess(script=str(scfg),
                        listen=(f"udp:127.0.0.1:{sport}", f"udp:[::1]:{sport}")).start()
    pinger = Asker("127.0.0.1")
    try:
        deadline = time.monotonic() + 10
        while pinger.ask(kport, "ping") != "pong":
            assert time.monotonic() < deadline, "kamailio did not start"
            assert kam.poll() is None, "kamailio exited"
        yield kport, sport, kam, klog
    finally:
        pinger.close()
        kam.terminate()
        kam.wait(10)
        ours.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    with _both(tmp_path_factory.mktemp("pike")) as (kport, sport, _kam, _log):
        yield kport, sport


def _until_block(asker: Asker, port: int, limit: int = 200) -> int:
    for n in range(1, limit + 1):
        if asker.ask(port) != "rc=1":
            return n
    return -1


def test_source_address_blocks_after_the_same_number_of_requests(servers: tuple[int, int]
                                                                 ) -> None:
    """pike_check_req() from 127.0.0.2 (cold 127 branch), 127.0.0.3 (/24 built), ::1."""
    kport, sport = servers
    counts = {}
    for address in ("127.0.0.2", "127.0.0.3", "::1"):
        asker = Asker(address)
        try:
            counts[address] = (_until_block(asker, kport), _until_block(asker, sport))
        finally:
            asker.close()
    assert counts == {"127.0.0.2": (max(2, X >> 2) + 2 + X,) * 2, "127.0.0.3": (1 + X,) * 2,
                      "::1": (max(2, X >> 2) + 14 + X,) * 2}


def test_same_return_codes_for_a_mixed_ipv4_sequence(servers: tuple[int, int]) -> None:
    kport, sport = servers
    asker = Asker("127.0.0.1")
    theirs, ours = [], []
    try:
        for xip in _sequence():
            theirs.append(asker.ask(kport, xip=xip))
            ours.append(asker.ask(sport, xip=xip))
    finally:
        asker.close()
    assert None not in theirs and None not in ours
    assert {"rc=1", "rc=-1", "rc=-2"} <= set(theirs)
    diffs = [(n, xip, k, o) for n, (xip, k, o) in enumerate(zip(_sequence(), theirs, ours,
                                                                strict=True)) if k != o]
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:5]}"


def test_pike_check_ip_ipv6_text_kamailio_rejects_ksrpy_counts(servers: tuple[int, int]) -> None:
    """Kamailio 5.6 parses the argument with str2ip (IPv4 only): IPv6 text gets -1 at once."""
    kport, sport = servers
    asker = Asker("127.0.0.1")
    try:
        assert asker.ask(kport, xip="2001:db8::99") == "rc=-1"
        assert asker.ask(sport, xip="2001:db8::99") == "rc=1"
        assert asker.ask(kport, xip="not-an-ip") == asker.ask(sport, xip="not-an-ip") == "rc=-1"
    finally:
        asker.close()


def test_ipv4_hit_on_an_inner_ipv6_node(tmp_path: Path) -> None:
    """::1 builds the path 0.0.0.0.0...; then IPv4 0.0.0.0 lands on an inner node.

    Kamailio 5.6.3 fails an assertion in pike_check_ipaddr() and aborts (the
    node is not in its timer list); ksrpy counts 0.0.0.0 like any address.
    """
    with _both(tmp_path) as (kport, sport, kam, klog):
        v6, v4 = Asker("::1"), Asker("127.0.0.1")
        try:
            for port in (kport, sport):
                assert [v6.ask(port) for _ in range(40)][-5:] == ["rc=-1"] * 5
            assert [v4.ask(sport, xip="0.0.0.0") for _ in range(X + 1)] == (
                ["rc=1"] * (X - 1) + ["rc=-2", "rc=-1"])
            assert v4.ask(kport, xip="0.0.0.0") is None  # no answer: the worker aborted
            kam.wait(10)
        finally:
            v6.close()
            v4.close()
        assert "Assertion" in klog.read_text(errors="replace")
