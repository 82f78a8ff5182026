"""Record-routing through ``ksrpy run``: the INVITE gets our Record-Route, the BYE follows it."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator

import pytest

from ksrpy.sip.message import SIPMessage
from tests.helpers.proc import KsrpyProcess

CFG = """\
loadmodule "sl.so"
loadmodule "siputils.so"
loadmodule "rr.so"
loadmodule "xlog.so"

request_route {
    if (has_totag()) {
        if (loose_route()) {
            if (is_direction("upstream")) {
                xlog("L_INFO", "rr: upstream $rm\\n");
            } else {
                xlog("L_INFO", "rr: downstream $rm\\n");
            }
            forward();
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    record_route();
    forward();
}
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KsrpyProcess]:
    path = tmp_path_factory.mktemp("rr") / "rr.cfg"
    path.write_text(textwrap.dedent(CFG))
    with KsrpyProcess(script=str(path)) as proc:
        yield proc


def _udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    return sock


def _request(method: str, ruri: str, uac_port: int, *, call_id: str, cseq: int,
             to_tag: str = "", routes: list[str] | None = None, from_tag: str = "f1",
             branch: str = "z9hG4bKuac") -> bytes:
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch={branch}{cseq};rport",
             *(f"Route: {r}" for r in routes or []),
             f"From: <sip:alice@example.com>;tag={from_tag}",
             "To: <sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id}", f"CSeq: {cseq} {method}", "Max-Forwards: 70",
             f"Contact: <sip:alice@127.0.0.1:{uac_port}>", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _reply_200(request: bytes, contact: str) -> bytes:
    """A UAS 200: Vias, Record-Route copied (RFC 3261 §12.1.1), To tag, Contact."""
    msg = SIPMessage.parse(request)
    lines = ["SIP/2.0 200 OK", *(f"Via: {v}" for v in msg.get_headers("Via")),
             *(f"Record-Route: {r}" for r in msg.get_headers("Record-Route")),
             f"From: {msg.get_header('From')}", f"To: {msg.get_header('To')};tag=uas1",
             f"Call-ID: {msg.call_id}", f"CSeq: {msg.get_header('CSeq')}",
             f"Contact: <{contact}>", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _recv_tcp(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_dialog_follows_record_route_over_udp(proxy: KsrpyProcess) -> None:
    host, port = proxy.udp
    uac, uas = _udp(), _udp()
    with uac, uas:
        uac_port, uas_port = uac.getsockname()[1], uas.getsockname()[1]
        uas_contact = f"sip:bob@127.0.0.1:{uas_port}"
        uac.sendto(_request("INVITE", uas_contact, uac_port, call_id="rr-udp", cseq=1),
                   proxy.udp)
        invite_raw, _ = uas.recvfrom(65536)
        invite = SIPMessage.parse(invite_raw)
        assert invite.get_headers("Record-Route") == [f"<sip:{host}:{port};lr;ftag=f1>"]
        assert invite.headers()[0].name == "Record-Route"

        uas.sendto(_reply_200(invite_raw, uas_contact), proxy.udp)
        ok = SIPMessage.parse(uac.recvfrom(65536)[0])
        assert ok.status == 200
        route_set = ok.get_header_values("Record-Route")[::-1]  # UAC: reversed (§12.1.2)
        assert route_set == [f"<sip:{host}:{port};lr;ftag=f1>"]

        # In-dialog BYE from the caller: R-URI = the callee's Contact, Route = our RR.
        uac.sendto(_request("BYE", str(ok.contacts[0].uri), uac_port, call_id="rr-udp",
                            cseq=2, to_tag="uas1", routes=route_set), proxy.udp)
        bye = SIPMessage.parse(uas.recvfrom(65536)[0])
        assert bye.method == "BYE" and bye.ruri == uas_contact
        assert bye.get_headers("Route") == []  # our Route was consumed
        assert len(bye.vias) == 2 and bye.via1.port == port

        # The callee's own BYE the other way: upstream, to the caller's Contact.
        uas.sendto(_request("BYE", f"sip:alice@127.0.0.1:{uac_port}", uas_port,
                            call_id="rr-udp", cseq=1, to_tag="f1", from_tag="uas1",
                            routes=ok.get_header_values("Record-Route"),
                            branch="z9hG4bKuas"), proxy.udp)
        back = SIPMessage.parse(uac.recvfrom(65536)[0])
        assert back.method == "BYE" and back.get_headers("Route") == []
    log = proxy.log()
    assert "rr: downstream BYE" in log and "rr: upstream BYE" in log


def test_dialog_without_our_route_is_refused(proxy: KsrpyProcess) -> None:
    with _udp() as uac:
        uac_port = uac.getsockname()[1]
        uac.sendto(_request("BYE", "sip:bob@127.0.0.1:9", uac_port, call_id="rr-none",
                            cseq=2, to_tag="uas1"), proxy.udp)
        reply = SIPMessage.parse(uac.recvfrom(65536)[0])
        assert reply.status == 404


def test_udp_to_tcp_double_record_route(proxy: KsrpyProcess) -> None:
    host, port = proxy.udp
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, _udp() as uac:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(3)
        tcp_port = listener.getsockname()[1]
        uac_port = uac.getsockname()[1]
        uas_contact = f"sip:bob@127.0.0.1:{tcp_port};transport=tcp"
        uac.sendto(_request("INVITE", uas_contact, uac_port, call_id="rr-tcp", cseq=1),
                   proxy.udp)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(3)
            invite = SIPMessage.parse(_recv_tcp(conn))
            tcp_host, tcp_port_proxy = proxy.tcp
            assert invite.get_headers("Record-Route") == [
                f"<sip:{tcp_host}:{tcp_port_proxy};transport=tcp;r2=on;lr;ftag=f1>",
                f"<sip:{host}:{port};r2=on;lr;ftag=f1>",
            ]
            # The caller's BYE carries both Routes (reversed); both are ours and removed.
            route_set = invite.get_header_values("Record-Route")[::-1]
            uac.sendto(_request("BYE", uas_contact, uac_port, call_id="rr-tcp", cseq=2,
                                to_tag="uas1", routes=route_set), proxy.udp)
            bye = SIPMessage.parse(_recv_tcp(conn))
            assert bye.method == "BYE" and bye.get_headers("Route") == []
            assert bye.via1.transport == "TCP"


LATE_CFG = """\
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "siputils.so"
loadmodule "rr.so"
loadmodule "textops.so"

request_route {
    if (is_method("ACK")) { exit; }
    record_route();
    # The next hop is known only after record_route(): rr's on_send hook must fit it.
    $du = $hdr(X-Next);
    if ($hdr(X-Mode) == "stateless") { forward(); exit; }
    if ($hdr(X-Mode) == "branch") { t_on_branch("B"); }
    t_relay();
}
branch_route[B] {
    append_hf("X-Branch: $T_branch_idx\\r\\n");
}
"""


@pytest.fixture(scope="module")
def late_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KsrpyProcess]:
    path = tmp_path_factory.mktemp("rr-late") / "late.cfg"
    path.write_text(textwrap.dedent(LATE_CFG))
    with KsrpyProcess(script=str(path)) as proc:
        yield proc


@pytest.mark.parametrize("mode", ["stateful", "stateless", "branch"])
def test_record_route_fits_the_socket_chosen_after_it(late_proxy: KsrpyProcess,
                                                      mode: str) -> None:
    """UDP in, TCP out decided after record_route(): double Record-Route with the TCP socket."""
    host, port = late_proxy.udp
    tcp_host, tcp_port_proxy = late_proxy.tcp
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener, _udp() as uac:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(5)
        tcp_port = listener.getsockname()[1]
        uac_port = uac.getsockname()[1]
        raw = _request("INVITE", "sip:bob@127.0.0.1:9", uac_port, call_id=f"late-{mode}",
                       cseq=1).replace(
            b"Content-Length: 0", f"X-Mode: {mode}\r\nX-Next: sip:127.0.0.1:{tcp_port};"
                                  f"transport=tcp\r\nContent-Length: 0".encode())
        uac.sendto(raw, late_proxy.udp)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            invite = SIPMessage.parse(_recv_tcp(conn))
    assert invite.get_headers("Record-Route") == [
        f"<sip:{tcp_host}:{tcp_port_proxy};transport=tcp;r2=on;lr;ftag=f1>",
        f"<sip:{host}:{port};r2=on;lr;ftag=f1>",
    ]
    assert invite.via1.transport == "TCP"
    assert invite.get_header("X-Branch") == ("0" if mode == "branch" else None)
