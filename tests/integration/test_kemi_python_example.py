"""Kamailio's shipped KEMI Python example runs unchanged as a ksrpy script (stateless parts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import status_of, udp_request

pytestmark = pytest.mark.kamailio

EXAMPLE = Path("/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-python.py")


def test_shipped_python_example_loads_and_answers() -> None:
    if not EXAMPLE.exists():
        pytest.fail(f"{EXAMPLE} is missing: apt-get install kamailio")
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(EXAMPLE)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    with KsrpyProcess(script=str(EXAMPLE), listen=("udp:127.0.0.1:0",)) as server:
        target = server.udp
        keepalive = udp_request(target)
        assert keepalive is not None and keepalive.startswith(b"SIP/2.0 200 Keepalive")
        assert status_of(udp_request(target, max_forwards=0)) == 483
        challenge = udp_request(target, ruri=f"sip:alice@{target[0]}:{target[1]}",
                                method="REGISTER")
        assert challenge is not None and challenge.startswith(b"SIP/2.0 401 ")
