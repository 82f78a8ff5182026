"""Stateless forwarding through ``ksrpy run``: request out with our Via, reply back, no-connect."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksrpy.sip.message import SIPMessage
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipclient import options, status_of

SCRIPT = str(Path(__file__).resolve().parents[1] / "scripts" / "forwarder.py")


@pytest.fixture(scope="module")
def proxy() -> Iterator[KsrpyProcess]:
    with KsrpyProcess(script=SCRIPT) as proc:
        yield proc


def _udp(bind: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind, 0))
    sock.settimeout(3)
    return sock


def _reply_to(request: bytes, code: int, reason: str) -> bytes:
    """A reply a UAS would send: every Via, From, To with tag, Call-ID, CSeq."""
    msg = SIPMessage.parse(request)
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in msg.get_headers("Via")]
    lines += [f"From: {msg.get_header('From')}", f"To: {msg.get_header('To')};tag=uas1",
              f"Call-ID: {msg.call_id}", f"CSeq: {msg.get_header('CSeq')}", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_request_forwarded_and_replies_relayed_back(proxy: KsrpyProcess) -> None:
    uac, uas = _udp(), _udp()
    with uac, uas:
        uas_port = uas.getsockname()[1]
        data, _ = options(proxy.udp, ruri=f"sip:bob@127.0.0.1:{uas_port}", method="INVITE",
                          local_port=uac.getsockname()[1])
        uac.sendto(data, proxy.udp)
        forwarded, _ = uas.recvfrom(65536)
        fwd = SIPMessage.parse(forwarded)
        assert fwd.method == "INVITE"
        assert len(fwd.vias) == 2
        assert fwd.via1.host == "127.0.0.1" and fwd.via1.port == proxy.udp[1]
        assert fwd.via1.branch and fwd.via1.branch.startswith("z9hG4bK")
        # The UAC's Via now says where the request really came from (RFC 3581).
        assert fwd.vias[1].rport == str(uac.getsockname()[1])
        assert fwd.max_forwards == 69
        # Retransmission: same branch (stateless proxy, RFC 3261 §16.11).
        uac.sendto(data, proxy.udp)
        again = SIPMessage.parse(uas.recvfrom(65536)[0])
        assert again.via1.branch == fwd.via1.branch

        uas.sendto(_reply_to(forwarded, 180, "Ringing"), proxy.udp)
        relayed = SIPMessage.parse(uac.recvfrom(65536)[0])
        assert relayed.status == 180
        assert len(relayed.vias) == 1 and relayed.to.tag == "uas1"
        # ksr_reply_route may drop a reply.
        uas.sendto(_reply_to(forwarded, 183, "Progress"), proxy.udp)
        uac.settimeout(0.5)
        with pytest.raises(TimeoutError):
            uac.recvfrom(65536)
    time.sleep(0.2)
    assert "reply_route saw 180 Ringing" in proxy.log()


def test_reply_not_for_us_is_dropped(proxy: KsrpyProcess) -> None:
    with _udp() as sock:
        stray = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n"
                 b"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKy\r\nFrom: <sip:a@b>;tag=1\r\n"
                 b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
                 b"Content-Length: 0\r\n\r\n") % sock.getsockname()[1]
        sock.sendto(stray, proxy.udp)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recvfrom(65536)


def test_forward_no_connect_opens_no_tcp_connection(proxy: KsrpyProcess) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, _udp() as uac:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        data, _ = options(proxy.udp, ruri=f"sip:noconnect@127.0.0.1:{port};transport=tcp",
                          method="MESSAGE", local_port=uac.getsockname()[1])
        uac.sendto(data, proxy.udp)
        assert status_of(uac.recvfrom(65536)[0]) == 500
        with pytest.raises(TimeoutError):
            listener.accept()
        # Without the flag the proxy does connect and deliver the request.
        data, _ = options(proxy.udp, ruri=f"sip:bob@127.0.0.1:{port};transport=tcp",
                          method="MESSAGE", local_port=uac.getsockname()[1])
        uac.sendto(data, proxy.udp)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(3)
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
        msg = SIPMessage.parse(received)
        assert msg.method == "MESSAGE" and msg.via1.transport == "TCP"


def test_unforwardable_target_gets_500(proxy: KsrpyProcess) -> None:
    with _udp() as uac:
        data, _ = options(proxy.udp, ruri="sip:bob@unresolvable.invalid", method="MESSAGE",
                          local_port=uac.getsockname()[1])
        uac.sendto(data, proxy.udp)
        assert status_of(uac.recvfrom(65536)[0]) == 500
