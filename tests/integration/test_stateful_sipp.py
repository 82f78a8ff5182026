"""The stateful proxy end to end: sipp UAC -> ksrpy (tm) -> sipp UAS on loopback."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import SCENARIOS, free_port, run_sipp

pytestmark = pytest.mark.sipp

SCRIPT = str(Path(__file__).resolve().parents[1] / "scripts" / "stateful.cfg")
SIPP = shutil.which("sipp") or "sipp"


@contextmanager
def uas(scenario: str | None, transport: str = "u1", calls: int = 100) -> Iterator[int]:
    """A sipp UAS on a free port (built-in 'uas' when scenario is None)."""
    port = free_port("udp" if transport.startswith("u") else "tcp")
    cmd = [SIPP, "-p", str(port), "-i", "127.0.0.1", "-t", transport, "-m", str(calls),
           "-nostdin", "-timeout", "60s"]
    cmd += ["-sn", "uas"] if scenario is None else ["-sf", str(SCENARIOS / scenario)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=tempfile.mkdtemp(prefix="uas-"))
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _proxy(uas_port: int, *, proto: str = "udp", uas2: int | None = None,
           fr_inv: int | None = None) -> KsrpyProcess:
    args = ["-A", f"UAS_PORT={uas_port}"]
    if proto == "tcp":
        args += ["-A", "UAS_PARAMS=;transport=tcp"]
    if uas2 is not None:
        args += ["-A", f"UAS2_PORT={uas2}"]
    if fr_inv is not None:
        args += ["-A", f"FR_INV={fr_inv}"]
    return KsrpyProcess(script=SCRIPT, listen=(f"{proto}:127.0.0.1:0",), extra_args=tuple(args))


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_full_calls_through_the_proxy(transport: str) -> None:
    """INVITE, 100, 180, 200, ACK, BYE, 200 for every call, over UDP and over TCP."""
    proto = "udp" if transport == "u1" else "tcp"
    with uas(None, transport, calls=20) as uas_port, _proxy(uas_port, proto=proto) as proxy:
        target = proxy.udp if proto == "udp" else proxy.tcp
        result = run_sipp_builtin_uac(target, transport, calls=20)
        assert result.failed == 0 and result.successful == 20, result.output[-1500:]


def run_sipp_builtin_uac(target: tuple[str, int], transport: str, calls: int):  # noqa: ANN201
    """sipp's built-in UAC scenario (INVITE ... BYE) against the proxy."""
    return run_sipp("", target, transport=transport, calls=calls, rate=10, builtin="uac")


def test_busy_callee_is_retried_from_failure_route() -> None:
    with uas("uas_busy.xml", calls=5) as busy, uas("uas_answer.xml", calls=5) as answer:
        with _proxy(busy, uas2=answer) as proxy:
            result = run_sipp("uac_expect_200.xml", proxy.udp, calls=5, rate=5)
    assert result.failed == 0 and result.successful == 5, result.output[-1500:]


def test_unanswered_call_times_out_with_408() -> None:
    with uas("uas_ring.xml", calls=3) as ringing, _proxy(ringing, fr_inv=1500) as proxy:
        result = run_sipp("uac_expect_408.xml", proxy.udp, calls=3, rate=5, timeout=20)
        log = proxy.log()
    assert result.failed == 0 and result.successful == 3, result.output[-1500:] + log[-1500:]


def test_cancel_before_answer_reaches_the_callee() -> None:
    """CANCEL: 200 to it from the proxy, CANCEL to the ringing branch, its 487 relayed back."""
    with uas("uas_ring.xml", calls=3) as ringing, _proxy(ringing) as proxy:
        result = run_sipp("uac_cancel.xml", proxy.udp, calls=3, rate=5, timeout=20)
        log = proxy.log()
    assert result.failed == 0 and result.successful == 3, result.output[-1500:] + log[-1500:]
