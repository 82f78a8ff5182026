"""Flood, scanner and persistence behaviour of the edge REQINIT over real sockets."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import status_of

EDGE = str(Path(__file__).resolve().parents[1] / "scripts" / "edge.cfg")


def _request(sock: socket.socket, target: tuple[str, int], *, method: str = "OPTIONS",
             user: str = "x", ua: str = "softphone/1.0") -> bytes:
    host, port = target
    local = sock.getsockname()
    return (f"{method} sip:{user}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
            f"From: <sip:probe@{local[0]}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{user}@{host}>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\nUser-Agent: {ua}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _client(ip: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, 0))
    sock.settimeout(0.3)
    return sock


def _ask(sock: socket.socket, target: tuple[str, int], **kw: str) -> int | None:
    sock.sendto(_request(sock, target, **kw), target)
    try:
        return status_of(sock.recvfrom(65536)[0])
    except TimeoutError:
        return None


def _rpc(ctl: str, *args: str) -> object:
    out = subprocess.run([sys.executable, "-m", "ksrpy", "rpc", "--ctl", ctl, *args], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_flood_is_banned_with_reason_neighbour_served_ban_lifts(tmp_path: Path) -> None:
    ctl = str(tmp_path / "ctl")
    with KsrpyProcess(script=EDGE, listen=("udp:127.0.0.1:0",), ctl=ctl) as server:
        target = server.udp
        flooder, neighbour = _client("127.0.0.2"), _client("127.0.0.3")
        with flooder, neighbour:
            flooder.settimeout(0.05)
            answered = 0
            for n in range(200):
                code = _ask(flooder, target)
                if code is None:
                    break
                answered += 1
                if n % 10 == 0:
                    neighbour_code = _ask(neighbour, target)
                    assert neighbour_code == 200
            assert 10 < answered < 60, f"banned after {answered} answers"
            assert _ask(neighbour, target) == 200
            bans = _rpc(ctl, "ban.list")
            assert [(b["ip"], b["reason"]) for b in bans] == [("127.0.0.2", "pike flood")]
            dump = json.dumps(_rpc(ctl, "htable.dump", "ipban"))
            assert "127.0.0.2" in dump and "pike flood" in dump
            # Banned: silence, whatever it sends.
            flooder.settimeout(0.3)
            assert _ask(flooder, target) is None
            # The ban lifts after its time (3 s) plus a timer tick.
            deadline = time.monotonic() + 8
            while _ask(flooder, target) != 200:
                assert time.monotonic() < deadline, "the ban did not lift"
                time.sleep(0.5)
            # The expiry sweep runs every second: the UNBAN line follows shortly.
            deadline = time.monotonic() + 3
            while 'UNBAN ip=127.0.0.2 reason="expired"' not in server.log():
                assert time.monotonic() < deadline, "no UNBAN line"
                time.sleep(0.2)
        log = server.log()
    assert 'BAN ip=127.0.0.2 seconds=3 reason="pike flood" by=script' in log


def test_scanner_gets_silence(tmp_path: Path) -> None:
    """A sipvicious-style sweep with a scanner User-Agent learns nothing."""
    with KsrpyProcess(listen=("udp:127.0.0.1:0",)) as server:  # the default routes
        with _client("127.0.0.2") as scanner:
            replies = [_ask(scanner, server.udp, method=m, user=str(ext), ua="friendly-scanner")
                       for m in ("OPTIONS", "REGISTER", "INVITE") for ext in (100, 101, 1000)]
            assert replies == [None] * len(replies)
            # Once identified, even a polite request from that address is ignored.
            assert _ask(scanner, server.udp, ua="Linphone/5.0") is None
        with _client("127.0.0.3") as user:
            assert _ask(user, server.udp, method="OPTIONS", ua="Linphone/5.0") is not None


def test_bans_survive_a_restart(tmp_path: Path) -> None:
    ctl = str(tmp_path / "ctl")
    db = tmp_path / "bans.db"
    args = ("-A", f'DBURL="sqlite:///{db}"')
    with KsrpyProcess(script=EDGE, listen=("udp:127.0.0.1:0",), ctl=ctl, extra_args=args):
        assert _rpc(ctl, "ban.add", "192.0.2.44", "300", "s:manual review") == "Ok. Banned."
    with KsrpyProcess(script=EDGE, listen=("udp:127.0.0.1:0",), ctl=ctl, extra_args=args):
        bans = _rpc(ctl, "ban.list")
    assert [(b["ip"], b["reason"]) for b in bans] == [("192.0.2.44", "manual review")]
    assert 250 < bans[0]["expires"] <= 300
