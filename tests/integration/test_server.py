"""``ksrpy run`` as a real process on loopback: default routes, both script forms, bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import options, status_of, udp_exchange, udp_request

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def default_server() -> Iterator[KsrpyProcess]:
    with KsrpyProcess() as server:
        yield server


def _headers(reply: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.decode().partition(":")
        out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


def test_keepalive_options_gets_200_with_rfc3261_reply_shape(default_server: KsrpyProcess) -> None:
    reply = udp_request(default_server.udp)
    assert status_of(reply) == 200
    assert reply is not None
    headers = _headers(reply)
    via = headers["via"][0]
    # RFC 3581: rport filled with the source port, received added.
    assert ";rport=" in via and ";received=127.0.0.1" in via
    assert ";tag=" in headers["to"][0]
    assert headers["cseq"] == ["1 OPTIONS"]
    assert headers["content-length"] == ["0"]
    # Hidden identity: a Server header, but never a version number.
    assert headers["server"] == ["ksrpy"]


def test_retransmission_gets_the_same_to_tag(default_server: KsrpyProcess) -> None:
    # A foreign From to a foreign domain: the default routes are no open relay.
    data, target = options(default_server.udp, ruri="sip:nobody@example.org")
    first = udp_exchange(target, data)
    second = udp_exchange(target, data)
    assert status_of(first) == 403 and status_of(second) == 403
    assert first is not None and second is not None
    assert _headers(first)["to"] == _headers(second)["to"]


def test_max_forwards_zero_gets_483(default_server: KsrpyProcess) -> None:
    assert status_of(udp_request(default_server.udp, max_forwards=0)) == 483


def test_invite_to_unregistered_user_gets_404_and_its_ack_is_absorbed(
        default_server: KsrpyProcess) -> None:
    """The 404 (after a 100 Trying, if any) is not retransmitted once ACKed."""
    host, port = default_server.udp
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.bind(("127.0.0.1", 0))
        data, _ = options(default_server.udp, ruri=f"sip:bob@{host}:{port}", method="INVITE",
                          local_port=sock.getsockname()[1])
        sock.sendto(data, default_server.udp)
        reply = sock.recvfrom(65536)[0]
        if status_of(reply) == 100:
            reply = sock.recvfrom(65536)[0]
        assert status_of(reply) == 404
        to_line = next(line for line in reply.split(b"\r\n") if line.startswith(b"To:"))
        ack = data.replace(b"INVITE", b"ACK").replace(b"\r\nTo: ", b"\r\nX-Old-To: ", 1)
        ack = ack.replace(b"\r\nX-Old-To: ", b"\r\n" + to_line + b"\r\nX-Old-To: ", 1)
        sock.sendto(ack, default_server.udp)
        sock.settimeout(1.2)  # longer than T1: a retransmission would show
        try:
            late = sock.recvfrom(65536)[0]
        except TimeoutError:
            late = None
        assert late is None, late


def test_wrong_sip_version_gets_505(default_server: KsrpyProcess) -> None:
    data, target = options(default_server.udp)
    reply = udp_exchange(target, data.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
    assert status_of(reply) == 505


def test_garbage_is_dropped_and_the_server_goes_on(default_server: KsrpyProcess) -> None:
    for junk in (b"\x00" * 100, b"garbage\r\n\r\n", b"INVITE\r\n", b"\xff" * 65000,
                 b"OPTIONS sip:a SIP/2.0\r\nBroken header\r\n\r\n"):
        assert udp_exchange(default_server.udp, junk, timeout=0.3) is None
    assert status_of(udp_request(default_server.udp)) == 200


def test_tcp_options_answered_on_the_same_connection(default_server: KsrpyProcess) -> None:
    with socket.create_connection(default_server.tcp, timeout=3) as sock:
        for _ in range(3):
            data, _ = options(default_server.tcp, local_port=sock.getsockname()[1],
                              via_transport="TCP")
            sock.sendall(data)
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = sock.recv(65536)
                assert chunk, "connection closed before the reply"
                reply += chunk
            assert status_of(reply) == 200


def test_ipv6_udp_and_tcp() -> None:
    with KsrpyProcess(listen=("udp:[::1]:0", "tcp:[::1]:0")) as server:
        assert status_of(udp_request(server.udp)) == 200
        with socket.create_connection(server.tcp, timeout=3) as sock:
            data, _ = options(server.tcp, via_transport="TCP")
            sock.sendall(data)
            assert status_of(sock.recv(65536)) == 200


def test_plain_function_script() -> None:
    with KsrpyProcess(script=str(SCRIPTS / "plain_form.py")) as server:
        host, port = server.udp
        reply = udp_request(server.udp, ruri=f"sip:echo@{host}:{port}")
        assert reply is not None and b"200 Echo OPTIONS from 127.0.0.1 udp" in reply
        assert status_of(udp_request(server.udp, ruri=f"sip:flags@{host}")) == 200
        assert status_of(udp_request(server.udp, ruri=f"sip:sysexit@{host}")) == 202
        # A route that raises: nothing is sent, the error names the script line.
        assert udp_request(server.udp, ruri=f"sip:crash@{host}", timeout=0.5) is None
        assert udp_request(server.udp, ruri=f"sip:drop@{host}", timeout=0.5) is None
        assert status_of(udp_request(server.udp, max_forwards=0)) == 483
        reply = udp_request(server.udp, ruri=f"sip:hdr@{host}", extra="X-Test: hello")
        assert reply is not None and b"200 hello" in reply
        assert status_of(udp_request(server.udp, ruri=f"sip:other@{host}")) == 404
        time.sleep(0.2)
        log = server.log()
    assert "plain_form.py:33" in log and "deliberate failure" in log
    assert server.proc is not None and server.proc.returncode == 0


def test_app_python3_object_form_script() -> None:
    with KsrpyProcess(script=str(SCRIPTS / "object_form.py")) as server:
        reply = udp_request(server.udp)
        assert reply is not None and b"200 Object Form 127.0.0.1" in reply
        assert status_of(udp_request(server.udp, max_forwards=0)) == 483
        host, _ = server.udp
        assert status_of(udp_request(server.udp, ruri=f"sip:exit@{host}", method="MESSAGE")) == 299
        assert status_of(udp_request(server.udp)) == 200


def test_sigterm_stops_cleanly() -> None:
    server = KsrpyProcess().start()
    assert server.stop() == 0
    assert "stopping" in server.log()


def _ksrpy(*args: str) -> subprocess.CompletedProcess[str]:
    # The default routes' data directory goes to a temporary folder, never /var/lib/ksrpy.
    env = {**os.environ, "KSRPY_DATA_DIR": tempfile.mkdtemp(prefix="ksrpy-data-")}
    return subprocess.run([sys.executable, "-m", "ksrpy", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=60, env=env)


def test_check_reports_every_error_with_location(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text(
        "import KSR\n"
        "def ksr_request_route():\n"
        "    KSR.sl.sl_send_reply(200)\n"
        "    KSR.nosuchmodule.f()\n"
        "    KSR.sl.no_such_function()\n"
        "    KSR.is_method_in('I', 'extra')\n"
    )
    result = _ksrpy("check", "-f", str(script))
    assert result.returncode == 1
    err = result.stderr
    assert f"{script}:3:5: KSR.sl.sl_send_reply() takes 2 argument(s), 1 given" in err
    assert f"{script}:4:5: KSR.nosuchmodule.f: module 'nosuchmodule' is not available" in err
    assert f"{script}:5:5: KSR.sl.no_such_function is not an exported function" in err
    assert f"{script}:6:5: KSR.is_method_in() takes 1 argument(s), 2 given" in err
    assert "4 error(s)" in err


def test_check_syntax_error_has_caret(tmp_path: Path) -> None:
    script = tmp_path / "syntax.py"
    script.write_text("import KSR\ndef ksr_request_route(:\n    pass\n")
    result = _ksrpy("check", "-f", str(script))
    assert result.returncode == 1
    assert f"{script}:2:" in result.stderr and "syntax error" in result.stderr
    assert "^" in result.stderr


def test_check_default_routes_and_version() -> None:
    assert _ksrpy("check").returncode == 0
    version = _ksrpy("version")
    assert version.returncode == 0 and version.stdout.startswith("ksrpy ")


def test_run_refuses_a_broken_script_without_listening(tmp_path: Path) -> None:
    script = tmp_path / "noroute.py"
    script.write_text("import KSR\n")
    result = _ksrpy("run", "-f", str(script), "-l", "udp:127.0.0.1:0")
    assert result.returncode == 1
    assert "defines no ksr_request_route" in result.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = _ksrpy("run", "-l", f"udp:127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"udp:127.0.0.1:{port}" in result.stderr
