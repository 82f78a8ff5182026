"""A full transaction table over real sockets: 503 and a log line, then service again.

``ksrpy run`` with max_transactions=2 relays an INVITE to a callee that never
answers (one server + one client transaction: the table is full); the next
INVITE gets 503. Once fr_timer gave the first call its 408 and the short
retransmission timers ran out, a new INVITE is relayed again (and, as its
callee never answers either, ends with a 408 instead of a 503).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from ksrpy.sip.message import SIPMessage
from tests.helpers.proc import KsrpyProcess

CFG = """\
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "textops.so"
modparam("tm", "max_transactions", 2)
modparam("tm", "fr_timer", 1000)
modparam("tm", "retr_timer1", 50)
modparam("tm", "retr_timer2", 200)
modparam("tm", "wt_timer", 200)
request_route {
    if (is_method("ACK")) { exit; }
    $du = "sip:127.0.0.1:UAS_PORT";
    if (!t_relay()) { sl_reply_error(); }
}
"""


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    return sock


def _invite(port: int, call_id: str, method: str = "INVITE", to_tag: str = "") -> bytes:
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} sip:bob@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id};rport\r\n"
            f"From: <sip:alice@example.com>;tag=f1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def _reply(sock: socket.socket, call_id: str, final: bool = True) -> SIPMessage:
    """The first (final) reply for ``call_id``; others skipped, bounded in count and time."""
    for _ in range(100):
        msg = SIPMessage.parse(sock.recvfrom(65536)[0])
        if msg.call_id == call_id and (msg.status >= 200 or not final):
            return msg
    raise AssertionError(f"no reply for {call_id}")


def test_full_table_answers_503_then_recovers(tmp_path: Path) -> None:
    uac, uas = _udp(), _udp()
    with uac, uas:
        uac_port, uas_port = uac.getsockname()[1], uas.getsockname()[1]
        script = tmp_path / "limits.cfg"
        script.write_text(CFG.replace("UAS_PORT", str(uas_port)))
        with KsrpyProcess(script=str(script), listen=("udp:127.0.0.1:0",)) as proxy:
            uac.sendto(_invite(uac_port, "first"), proxy.udp)
            assert SIPMessage.parse(uas.recvfrom(65536)[0]).call_id == "first"
            uac.sendto(_invite(uac_port, "second"), proxy.udp)
            busy = _reply(uac, "second")
            assert busy.status == 503
            timeout = _reply(uac, "first")  # fr_timer: 408 after 1 s
            assert timeout.status == 408
            uac.sendto(_invite(uac_port, "first", "ACK", timeout.to.tag or ""), proxy.udp)
            deadline = time.monotonic() + 20
            relayed = None
            for n in range(60):  # bounded: every try is a new call, 0.5 s apart
                if time.monotonic() > deadline:
                    break
                call_id = f"again{n}"
                uac.sendto(_invite(uac_port, call_id), proxy.udp)
                reply = _reply(uac, call_id)  # 503 at once, or 408 when relayed (fr_timer)
                if reply.status == 408:
                    relayed = call_id
                    break
                assert reply.status == 503
                time.sleep(0.5)
            assert relayed is not None, proxy.log()[-2000:]
            forwarded = [SIPMessage.parse(uas.recvfrom(65536)[0]) for _ in range(1)]
            while forwarded[-1].call_id != relayed:  # retransmissions of "first" may precede
                forwarded.append(SIPMessage.parse(uas.recvfrom(65536)[0]))
                assert len(forwarded) < 200
            log = proxy.log()
    assert "transaction table full (2 transactions)" in log
    assert "cannot create a transaction for INVITE from 127.0.0.1" in log
