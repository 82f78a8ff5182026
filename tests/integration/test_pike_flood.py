"""pike on a real server: a UDP flood from 127.0.0.2 is blocked, 127.0.0.3 is not, then recovery.

The cfg answers 503 "flood" when pike_check_req() fails. With x = 20 the
flooder's first 503 comes at request max(2, 20/4) + 2 + 20 = 27 on a cold
127 branch (a window swap in the middle may add up to x more).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import options, status_of

X = 20
CFG = f"""\
loadmodule "sl.so"
loadmodule "pike.so"
modparam("pike", "sampling_time_unit", 1)
modparam("pike", "reqs_density_per_unit", {X})
modparam("pike", "remove_latency", 2)

request_route {{
    if (!pike_check_req()) {{
        sl_send_reply("503", "flood");
        exit;
    }}
    sl_send_reply("200", "OK");
}}
"""


class Client:
    """A UDP SIP client bound to one loopback address."""

    def __init__(self, address: str, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(2.0)
        self.port = self.sock.getsockname()[1]

    def send(self) -> None:
        """One request, answer not awaited."""
        data, _ = options(self.target, local_port=self.port)
        self.sock.sendto(data, self.target)

    def ask(self) -> int | None:
        """One request; the status of its answer (None on timeout)."""
        self.send()
        try:
            return status_of(self.sock.recvfrom(65536)[0])
        except TimeoutError:
            return None

    def close(self) -> None:
        self.sock.close()


class Flood(threading.Thread):
    """Keeps sending from a client (about 200 requests/s, answers discarded) until stopped."""

    def __init__(self, client: Client) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.halt = threading.Event()
        self.client.sock.settimeout(0.005)

    def run(self) -> None:
        for _ in range(5000):  # bounded: 25 s at most
            if self.halt.is_set():
                return
            self.client.send()
            try:
                self.client.sock.recvfrom(65536)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        self.client.sock.settimeout(2.0)
        while True:  # drop late answers
            try:
                self.client.sock.setblocking(False)
                self.client.sock.recvfrom(65536)
            except (BlockingIOError, OSError):
                break
        self.client.sock.settimeout(2.0)


@pytest.fixture
def server() -> Iterator[KsrpyProcess]:
    folder = Path(tempfile.mkdtemp(prefix="ksrpy-pike-"))  # short: socket path limit
    script = folder / "pike.cfg"
    script.write_text(CFG)
    proc = KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",), ctl=str(folder / "ctl"))
    with proc:
        yield proc
    shutil.rmtree(folder, ignore_errors=True)


def ksrpy_rpc(ctl: str, *args: str) -> object:
    """The decoded result of ``ksrpy rpc --ctl CTL ARGS...``."""
    done = subprocess.run([sys.executable, "-m", "ksrpy", "rpc", "--ctl", ctl, *args],
                          cwd=REPO, text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_flood_blocked_neighbour_served_then_recovery(server: KsrpyProcess) -> None:
    flooder, good = Client("127.0.0.2", server.udp), Client("127.0.0.3", server.udp)
    try:
        # 1. 300 requests as fast as lockstep allows; the neighbour asks every 30th.
        started = time.monotonic()
        statuses, neighbour = [], []
        for n in range(300):
            statuses.append(flooder.ask())
            if n % 30 == 0:
                neighbour.append(good.ask())
        assert time.monotonic() - started < 5
        assert None not in statuses and set(statuses) <= {200, 503}
        first = statuses.index(503) + 1
        assert first <= 2 * X + 10, f"first 503 at request {first}"
        assert statuses[:first - 1] == [200] * (first - 1)
        assert statuses[first - 1:] == [503] * (300 - first + 1), "the block must hold"
        assert neighbour == [200] * 10

        # 2. While the flood goes on, pike.top lists 127.0.0.2 as HOT.
        flood = Flood(flooder)
        flood.start()
        try:
            top = ksrpy_rpc(server.ctl, "pike.top")
            stats = ksrpy_rpc(server.ctl, "pike.stats")
        finally:
            flood.stop()
        assert isinstance(top, dict) and isinstance(stats, dict)
        rows = {row["ip_addr"]: row for row in top["list"]}
        assert rows["127.0.0.2"]["status"] == "HOT" and rows["127.0.0.2"]["blocked"]
        assert "127.0.0.3" not in rows and top["max_hits"] == X
        assert stats["blocked"] == 1 and stats["blocked_total"] == 1
        assert good.ask() == 200

        # 3. Flood over: blocked through the next window swap, served after the second.
        stopped = time.monotonic()
        assert flooder.ask() == 503
        answer = None
        while time.monotonic() - stopped < 6:
            time.sleep(0.2)
            answer = flooder.ask()
            if answer == 200:
                break
        waited = time.monotonic() - stopped
        assert answer == 200 and waited <= 3.5, f"answered {answer} after {waited:.1f}s"
    finally:
        flooder.close()
        good.close()
    assert "PIKE - BLOCKing ip 127.0.0.2" in server.log()
    assert "PIKE - UNBLOCKing ip 127.0.0.2" in server.log()
