"""Kamailio's shipped kamailio-basic-kemi-lua.lua through ``ksrpy port lua`` and ``ksrpy run``.

The whole example translates without a single unsupported construct, and the result
passes ruff. It does not load in ksrpy yet: it calls KSR modules ksrpy does not have
(tm, rr, registrar, kx, corex, sanity, nathelper, auth...); ``ksrpy check`` lists them.

So the stateless part is driven through a trimmed copy that keeps the example's REQINIT
(``ksr_route_reqinit``) and changes only what needs a missing module:

* ``KSR.kx.get_srcip()/get_method()/get_furi()/get_srcport()`` become
  ``KSR.pv.get("$si"/"$rm"/"$fu"/"$sp")`` and ``KSR.kx.gete_ua()`` ``KSR.pv.gete("$ua")``;
* ``KSR.corex.has_ruri_user() < 0`` becomes ``KSR.pv.is_null("$rU")``;
* the final ``KSR.sanity.sanity_check(17895, 7)`` block is dropped (no sanity module);
* ``ksr_request_route`` calls the REQINIT, then answers 404 (the example would go on
  to NAT detection, transactions and the registrar).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipclient import status_of, udp_request

EXAMPLE = Path("/usr/share/doc/kamailio/examples/kemi/kamailio-basic-kemi-lua.lua")

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(),
                                reason="needs the Debian kamailio package's KEMI examples")

TRIM = {
    "KSR.kx.get_srcip()": 'KSR.pv.get("$si")',
    "KSR.kx.get_method()": 'KSR.pv.get("$rm")',
    "KSR.kx.get_furi()": 'KSR.pv.get("$fu")',
    "KSR.kx.get_srcport()": 'KSR.pv.get("$sp")',
    "KSR.kx.gete_ua()": 'KSR.pv.gete("$ua")',
    "KSR.corex.has_ruri_user() < 0": 'KSR.pv.is_null("$rU")',
}


def _port(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ksrpy", "port", "lua", str(src), "-o",
                           str(out)], cwd=REPO, capture_output=True, text=True)


def trimmed_reqinit() -> str:
    """The example's REQINIT with the substitutions listed in the module docstring."""
    text = EXAMPLE.read_text()
    start = text.index("-- Per SIP request initial checks")
    end = text.index("\nend\n", text.index("function ksr_route_reqinit()")) + len("\nend\n")
    reqinit = text[start:end]
    for old, new in TRIM.items():
        assert old in reqinit, old
        reqinit = reqinit.replace(old, new)
    reqinit, dropped = re.subn(r"\n\tif KSR\.sanity\.sanity_check\(.*?\n\tend\n", "\n", reqinit,
                               flags=re.S)
    assert dropped == 1
    return (reqinit + "\nfunction ksr_request_route()\n\tksr_route_reqinit();\n"
            '\tKSR.sl.sl_send_reply(404, "Not Found");\nend\n')


def test_whole_example_translates_and_passes_ruff(tmp_path: Path) -> None:
    out = tmp_path / "basic_kemi.py"
    proc = _port(EXAMPLE, out)
    assert proc.returncode == 0, proc.stderr
    py = out.read_text()
    for name in ("ksr_request_route", "ksr_reply_route", "ksr_route_reqinit",
                 "ksr_branch_manage", "ksr_onreply_manage", "ksr_failure_manage"):
        assert f"\ndef {name}():\n" in py
    assert 'if not hasattr(KSR, "auth"):' in py
    assert 'KSR.tm.t_on_branch("ksr_branch_manage")' in py
    assert '"friendly" in ua or "scanner" in ua' in py
    assert "# per request initial checks" in py
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(REPO / "pyproject.toml"), str(out)], cwd=REPO,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(out)], cwd=REPO,
                           capture_output=True, text=True)
    # Whatever ksrpy reports is about KSR modules/functions it lacks, never about the port.
    problems = [line for line in check.stderr.splitlines() if re.match(r"/\S+:\d+:\d+: ", line)]
    for line in problems:
        assert "is not available in ksrpy" in line or "is not an exported function" in line, line
    assert (check.returncode == 0) == (not problems)


@pytest.fixture(scope="module")
def reqinit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KsrpyProcess]:
    folder = tmp_path_factory.mktemp("lua-reqinit")
    lua = folder / "reqinit.lua"
    lua.write_text(trimmed_reqinit())
    script = folder / "reqinit.py"
    proc = _port(lua, script)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(script)],
                           cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    with KsrpyProcess(script=str(script)) as server:
        yield server


def test_options_keepalive_gets_200(reqinit_server: KsrpyProcess) -> None:
    reply = udp_request(reqinit_server.udp)
    assert status_of(reply) == 200
    assert reply is not None and b"SIP/2.0 200 Keepalive" in reply


def test_max_forwards_zero_gets_483(reqinit_server: KsrpyProcess) -> None:
    reply = udp_request(reqinit_server.udp, max_forwards=0)
    assert reply is not None and reply.startswith(b"SIP/2.0 483 Too Many Hops")


def test_scanner_user_agent_gets_200_ok(reqinit_server: KsrpyProcess) -> None:
    # string.find(ua, "friendly") is a case-sensitive substring test, as in the example
    for agent in ("friendly-scanner", "sipvicious", "sipcli/v1.8", "my friendly phone"):
        reply = udp_request(reqinit_server.udp, method="INVITE",
                            ruri=f"sip:bob@{reqinit_server.udp[0]}", extra=f"User-Agent: {agent}")
        assert reply is not None and reply.startswith(b"SIP/2.0 200 OK"), agent


def test_other_requests_pass_reqinit(reqinit_server: KsrpyProcess) -> None:
    host, port = reqinit_server.udp
    for agent in ("Linphone/5.0", "Friendly-Scanner"):
        reply = udp_request(reqinit_server.udp, method="INVITE", ruri=f"sip:bob@{host}:{port}",
                            extra=f"User-Agent: {agent}")
        assert status_of(reply) == 404, agent
    # an OPTIONS with a user part is not a keepalive for the REQINIT
    reply = udp_request(reqinit_server.udp, ruri=f"sip:alice@{host}:{port}")
    assert status_of(reply) == 404


def test_full_shipped_example_runs_unchanged_after_translation(tmp_path: Path) -> None:
    """The whole translated example loads and answers REQINIT and auth as written."""
    out = tmp_path / "kemi.py"
    result = subprocess.run([sys.executable, "-m", "ksrpy", "port", "lua", str(EXAMPLE),
                             "-o", str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(out)], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    with KsrpyProcess(script=str(out), listen=("udp:127.0.0.1:0",)) as server:
        target = server.udp
        keepalive = udp_request(target)
        assert keepalive is not None and keepalive.startswith(b"SIP/2.0 200 Keepalive")
        assert status_of(udp_request(target, max_forwards=0)) == 483
        challenge = udp_request(target, ruri=f"sip:alice@{target[0]}:{target[1]}",
                                method="REGISTER")
        assert challenge is not None and challenge.startswith(b"SIP/2.0 401 ")
        assert b"WWW-Authenticate: Digest" in challenge
