"""Kamailio's shipped KEMI Python example runs unchanged on ksrpy and carries real calls.

Two ways to run it: alone (``ksrpy run -f kamailio-basic-kemi-python.py``,
every module with its defaults: no subscriber can authenticate), and — the
faithful way — through its companion cfg ``kamailio-basic-kemi.cfg`` with
``-A WITH_CFGPYTHON3`` and ``DBURL`` pointing at a SQLite file built from
Kamailio's own schema scripts. The companion cfg defines WITH_AUTH,
WITH_IPAUTH, WITH_USRLOCDB, WITH_NAT, WITH_ANTIFLOOD and WITH_ACCDB itself;
the only edit is the path of the Python script in its app_python3 ``load``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.proc import REPO, KsrpyProcess
from tests.helpers.sipcalls import call, kamailio_db, probe, register, sipp, uas
from tests.helpers.sipclient import status_of, udp_request

pytestmark = [pytest.mark.kamailio, pytest.mark.sipp]

EXAMPLES = Path("/usr/share/doc/kamailio/examples/kemi")
EXAMPLE = EXAMPLES / "kamailio-basic-kemi-python.py"
COMPANION = EXAMPLES / "kamailio-basic-kemi.cfg"
USERS = {"alice": "secret", "bob": "secret"}
#: The source address the example trusts (permissions' address table, group 1).
GATEWAY = "127.0.0.2"


def _require_examples() -> None:
    for path in (EXAMPLE, COMPANION):
        if not path.exists():
            pytest.fail(f"{path} is missing: apt-get install kamailio")


def companion_cfg(tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    """The companion cfg (load path pointed at the shipped example) and its -A defines."""
    _require_examples()
    text = COMPANION.read_text()
    shipped_path = "/usr/local/etc/kamailio/kamailio-basic-kemi-python.py"
    assert shipped_path in text
    cfg = tmp_path / "kamailio-basic-kemi.cfg"
    cfg.write_text(text.replace(shipped_path, str(EXAMPLE)))
    url = kamailio_db(tmp_path / "kamailio.db", USERS, trusted=(GATEWAY,))
    return cfg, ("-A", "WITH_CFGPYTHON3", "-A", f'DBURL="{url}"')


@pytest.fixture
def kemi_udp(tmp_path: Path) -> Iterator[KsrpyProcess]:
    """The example through its companion cfg, listening on UDP."""
    cfg, defines = companion_cfg(tmp_path)
    with KsrpyProcess(str(cfg), listen=("udp:127.0.0.1:0",), extra_args=defines) as proxy:
        yield proxy


def _uri(user: str, where: tuple[str, int]) -> str:
    return f"sip:{user}@{where[0]}:{where[1]}"


# ------------------------------------------------------------ module defaults


def test_shipped_python_example_loads_and_answers() -> None:
    _require_examples()
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
        # Not an open relay: a foreign caller to a foreign domain is refused ...
        refused = probe(target, "INVITE", "sip:bob@192.0.2.1", "sip:carol@example.com")
        assert refused is not None and refused.startswith(b"SIP/2.0 403 Not relaying"), refused
        # ... and a local user nobody registered is not found (stateful 404).
        unknown = probe(target, "INVITE", _uri("nobody", target), "sip:carol@example.com")
        assert unknown is not None and unknown.startswith(b"SIP/2.0 404 Not Found"), unknown


# ----------------------------------------------------------- companion cfg


def test_companion_cfg_checks_clean(tmp_path: Path) -> None:
    cfg, defines = companion_cfg(tmp_path)
    check = subprocess.run([sys.executable, "-m", "ksrpy", "check", "-f", str(cfg), *defines],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().endswith(": ok")


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_registered_callee_gets_full_calls(tmp_path: Path, proto: str) -> None:
    """REGISTER with digest auth, then INVITE/100/180/200/ACK/BYE/200 to that contact."""
    cfg, defines = companion_cfg(tmp_path)
    with KsrpyProcess(str(cfg), listen=(f"{proto}:127.0.0.1:0",), extra_args=defines) as proxy:
        target = proxy.bound[proto]
        with uas("uas_call_rr.xml", proto=proto, calls=3) as callee:
            reg = register(target, "alice", callee.port, proto=proto, password="secret")
            assert (reg.successful, reg.failed) == (1, 0), reg.summary + proxy.log()[-2000:]
            assert "SIP/2.0 401 " in reg.trace  # challenged first, then accepted
            result = call(target, "sip:carol@example.com", _uri("alice", target),
                          proto=proto, calls=3)
            answered = callee.finish()
        log = proxy.log()
    assert (result.successful, result.failed) == (3, 0), result.summary + log[-2000:]
    # The callee saw every ACK and BYE: loose_route carried them along the Record-Route.
    assert (answered.successful, answered.failed) == (3, 0), answered.summary
    assert answered.trace.count("Record-Route: <sip:127.0.0.1:") >= 3
    assert f"ACK sip:127.0.0.1:{callee.port};transport={proto.upper()}" in answered.trace
    # WITH_ACCDB: FLT_ACC on the INVITE and on the BYE, one acc row per answered transaction.
    with sqlite3.connect(tmp_path / "kamailio.db") as db:
        rows = db.execute("SELECT method, sip_code, src_user, dst_ouser FROM acc").fetchall()
    assert sorted(rows) == [("BYE", "200", "carol", "alice")] * 3 + \
        [("INVITE", "200", "carol", "alice")] * 3


def test_wrong_password_is_challenged_again(kemi_udp: KsrpyProcess) -> None:
    """Bad credentials: the REGISTER is challenged anew (401) and nothing is saved.

    The example has no ban on failed authentication (only pike's flood ban,
    below): the same source is still challenged afterwards.
    """
    target = kemi_udp.udp
    with uas("uas_call_rr.xml") as callee:
        reg = register(target, "alice", callee.port, password="wrong")
        assert (reg.successful, reg.failed) == (0, 1), reg.summary
        assert reg.trace.count("SIP/2.0 401 ") >= 2
        for _ in range(3):
            again = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target))
            assert again is not None and again.startswith(b"SIP/2.0 401 "), again
        # Nothing was registered: a call to alice is not found.
        lost = probe(target, "INVITE", _uri("alice", target), "sip:carol@example.com")
        assert lost is not None and lost.startswith(b"SIP/2.0 404 "), lost


def test_flood_of_failed_registrations_bans_the_source(kemi_udp: KsrpyProcess) -> None:
    """pike (WITH_ANTIFLOOD) puts a flooding foreign source into htable ipban: then silence."""
    target = kemi_udp.udp
    flood = sipp("register_contact.xml", target, calls=30, rate=60, local_ip=GATEWAY, timeout=8,
                 args=("-s", "alice", "-au", "alice", "-ap", "wrong", "-key", "contact_port",
                       "9"))
    assert flood.successful == 0, flood.summary
    assert "SIP/2.0 401 " in flood.trace  # answered until pike stepped in
    banned = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target),
                   src_ip=GATEWAY)
    assert banned is None, banned
    assert "pike blocking REGISTER" in kemi_udp.log()
    # The local host is never pike-checked (is_myself($si)): still served.
    local = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target))
    assert local is not None and local.startswith(b"SIP/2.0 401 "), local


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_trusted_gateway_calls_a_foreign_uas(tmp_path: Path, proto: str) -> None:
    """allow_source_address(): a source in the address table is relayed to a foreign R-URI."""
    cfg, defines = companion_cfg(tmp_path)
    with KsrpyProcess(str(cfg), listen=(f"{proto}:127.0.0.1:0",), extra_args=defines) as proxy:
        target = proxy.bound[proto]
        with uas("uas_call_rr.xml", proto=proto, calls=2) as callee:
            foreign = f"sip:service@127.0.0.1:{callee.port};transport={proto}"
            result = call(target, f"sip:gw@{GATEWAY}", foreign, proto=proto, calls=2,
                          local_ip=GATEWAY, rate=2)
            answered = callee.finish()
        # Any other source is refused: not an open relay.
        refused = probe(target, "INVITE", foreign, "sip:carol@example.com"
                        ) if proto == "udp" else None
        log = proxy.log()
    assert (result.successful, result.failed) == (2, 0), result.summary + log[-2000:]
    assert (answered.successful, answered.failed) == (2, 0), answered.summary
    assert "P-Hint: outbound" in answered.trace
    if proto == "udp":
        assert refused is not None and refused.startswith(b"SIP/2.0 403 Not relaying")


def test_local_user_calls_with_proxy_auth(kemi_udp: KsrpyProcess) -> None:
    """From a local subscriber: 407, INVITE again with credentials, then the full call."""
    target = kemi_udp.udp
    with uas("uas_call_rr.xml", calls=1) as callee:
        reg = register(target, "alice", callee.port, password="secret")
        assert reg.successful == 1, reg.summary
        result = call(target, _uri("bob", target), _uri("alice", target), auth=("bob", "secret"))
        answered = callee.finish()
    assert (result.successful, result.failed) == (1, 0), result.summary + kemi_udp.log()[-2000:]
    assert "SIP/2.0 407 " in result.trace
    assert answered.successful == 1, answered.summary
    # consume_credentials(): the callee never sees bob's Proxy-Authorization.
    assert "Proxy-Authorization" not in answered.trace
    wrong = call(target, _uri("bob", target), _uri("alice", target), auth=("bob", "nope"))
    assert wrong.successful == 0 and wrong.trace.count("SIP/2.0 407 ") >= 2, wrong.summary


def test_cancel_before_answer(kemi_udp: KsrpyProcess) -> None:
    """CANCEL to a ringing registered callee: 200 for the CANCEL, the callee's 487 relayed."""
    target = kemi_udp.udp
    with uas("uas_ring.xml", calls=2) as callee:
        reg = register(target, "alice", callee.port, password="secret")
        assert reg.successful == 1, reg.summary
        result = sipp("uac_cancel.xml", target, calls=2, args=("-s", "alice"))
        rang = callee.finish()
    assert (result.successful, result.failed) == (2, 0), result.summary + kemi_udp.log()[-2000:]
    assert rang.successful == 2, rang.summary
