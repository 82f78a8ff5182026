"""ban kernel=1 inside a network namespace the test creates: the kernel drops banned sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess

SCRIPT = str(Path(__file__).resolve().parents[1] / "scripts" / "edge_kernel.cfg")

CLIENT = """
import socket, sys, uuid
src, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0)); s.settimeout(0.5)
msg = ("OPTIONS sip:u@127.0.0.1:%d SIP/2.0\\r\\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s\\r\\n"
       "From: <sip:a@b>;tag=1\\r\\nTo: <sip:u@b>\\r\\nCall-ID: %s\\r\\nCSeq: 1 OPTIONS\\r\\n"
       "Max-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n") % (
       port, src, s.getsockname()[1], uuid.uuid4().hex, uuid.uuid4().hex)
s.sendto(msg.encode(), ("127.0.0.1", port))
try:
    print(s.recvfrom(65536)[0].split(b" ")[1].decode())
except TimeoutError:
    print("none")
"""


def _run(*cmd: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"{cmd}: {out.stderr}"
    return out.stdout


@pytest.fixture
def netns() -> Iterator[str]:
    for tool in ("ip", "iptables", "ipset"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install iproute2 iptables ipset")
    name = f"ksrpy-t{os.getpid()}"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _ask(ns: str, src: str, port: int) -> str:
    return _run("ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, src,
                str(port)).strip()


def _rpc(ctl: str, *args: str) -> object:
    out = subprocess.run([sys.executable, "-m", "ksrpy", "rpc", "--ctl", ctl, *args], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_kernel_ipset_drops_banned_sources(netns: str, tmp_path: Path) -> None:
    ctl = str(tmp_path / "ctl")
    server = KsrpyProcess(script=SCRIPT, listen=("udp:127.0.0.1:0",), ctl=ctl,
                          prefix=("ip", "netns", "exec", netns))
    with server:
        port = server.udp[1]
        ns = ("ip", "netns", "exec", netns)
        _run(*ns, "iptables", "-I", "INPUT", "-m", "set", "--match-set", "ksrpy-ban", "src",
             "-j", "DROP")
        assert _ask(netns, "127.0.0.2", port) == "200"
        assert _rpc(ctl, "ban.add", "127.0.0.2", "60", "s:kernel test") == "Ok. Banned."
        _rpc(ctl, "ban.sync")
        assert "127.0.0.2" in _run(*ns, "ipset", "list", "ksrpy-ban")
        received = server.log().count("ksrpy")
        assert _ask(netns, "127.0.0.2", port) == "none"
        counters = _run(*ns, "iptables", "-L", "INPUT", "-v", "-n", "-x")
        dropped = int(counters.splitlines()[2].split()[0])
        assert dropped >= 1, counters
        assert _ask(netns, "127.0.0.3", port) == "200"
        assert _rpc(ctl, "ban.remove", "127.0.0.2") == "Ok. Ban removed."
        _rpc(ctl, "ban.sync")
        assert "127.0.0.2" not in _run(*ns, "ipset", "list", "ksrpy-ban")
        assert _ask(netns, "127.0.0.2", port) == "200"
        assert server.log().count("ksrpy") >= received
