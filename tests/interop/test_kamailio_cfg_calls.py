"""Debian's /etc/kamailio/kamailio.cfg, unchanged, carries real sipp calls on ksrpy.

With its default defines (no database, no authentication) a UAS registers and
is called through record-routing; with ``-A WITH_AUTH -A 'DBURL="sqlite://..."'``
(a SQLite file built from Kamailio's schema scripts) registrations need digest
credentials and local callers proxy authentication; WITH_USRLOCDB keeps the
registrations in that file across a restart; WITH_ANTIFLOOD bans floods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.script.loader import check_script
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipcalls import call, kamailio_db, probe, register, sipp, uas

pytestmark = [pytest.mark.kamailio, pytest.mark.sipp]

CFG = Path("/etc/kamailio/kamailio.cfg")
USERS = {"alice": "secret", "bob": "secret"}


@contextmanager
def kamailio_cfg(proto: str = "udp", defines: tuple[str, ...] = ()) -> Iterator[KsrpyProcess]:
    """ksrpy running kamailio.cfg on one loopback socket."""
    if not CFG.exists():
        pytest.fail(f"{CFG} is missing: apt-get install kamailio")
    args: list[str] = []
    for name in defines:
        args += ["-A", name]
    with KsrpyProcess(str(CFG), listen=(f"{proto}:127.0.0.1:0",), extra_args=tuple(args)) as px:
        yield px


def _auth_defines(tmp_path: Path, *extra: str) -> tuple[str, ...]:
    url = kamailio_db(tmp_path / "kamailio.db", USERS)
    return ("WITH_AUTH", f'DBURL="{url}"', *extra)


def _uri(user: str, where: tuple[str, int]) -> str:
    return f"sip:{user}@{where[0]}:{where[1]}"


#: Feature defines of kamailio.cfg that ksrpy runs (others need modules it lacks).
SUPPORTED = [
    (),
    ("WITH_AUTH", "WITH_IPAUTH", "WITH_USRLOCDB", "WITH_NAT", "WITH_NATSIPPING",
     "WITH_ANTIFLOOD", "WITH_ACCDB", "WITH_BLOCK3XX", "WITH_BLOCK401407"),
    ("WITH_AUTH", "WITH_NAT", "WITH_RTPENGINE"),
]


@pytest.mark.parametrize("defines", SUPPORTED, ids=lambda d: "+".join(d) or "default")
def test_cfg_loads_cleanly_with_supported_defines(defines: tuple[str, ...]) -> None:
    if not CFG.exists():
        pytest.fail(f"{CFG} is missing: apt-get install kamailio")
    values = dict.fromkeys(defines, "1")
    if "WITH_AUTH" in defines:
        values["DBURL"] = '"sqlite:///var/lib/ksrpy/kamailio.db"'
    issues = check_script(str(CFG), Engine(CoreConfig(defines=values)))
    assert [str(i) for i in issues] == []


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_default_defines_register_then_call(proto: str) -> None:
    """REGISTER (no auth), then INVITE/100/180/200/ACK/BYE/200 to the registered contact."""
    with kamailio_cfg(proto) as proxy:
        target = proxy.bound[proto]
        with uas("uas_call_rr.xml", proto=proto, calls=3) as callee:
            reg = register(target, "alice", callee.port, proto=proto)
            assert (reg.successful, reg.failed) == (1, 0), reg.summary + proxy.log()[-2000:]
            assert "SIP/2.0 401 " not in reg.trace
            result = call(target, "sip:carol@example.com", _uri("alice", target), proto=proto,
                          calls=3)
            answered = callee.finish()
        log = proxy.log()
    assert (result.successful, result.failed) == (3, 0), result.summary + log[-2000:]
    assert (answered.successful, answered.failed) == (3, 0), answered.summary
    # record_route() (enable_full_lr 0: a bare ";lr"; ";transport=tcp" over TCP); the
    # in-dialog requests follow it and loose_route() takes the proxy's Route off.
    suffix = ";transport=tcp;lr>" if proto == "tcp" else ";lr>"
    assert f"Record-Route: <sip:{target[0]}:{target[1]}{suffix}" in answered.trace
    assert "\nRoute:" not in answered.trace
    assert f"BYE sip:127.0.0.1:{callee.port};transport={proto.upper()}" in answered.trace


def test_default_defines_cancel_before_answer() -> None:
    with kamailio_cfg() as proxy:
        target = proxy.udp
        with uas("uas_ring.xml", calls=2) as callee:
            reg = register(target, "alice", callee.port)
            assert reg.successful == 1, reg.summary
            result = sipp("uac_cancel.xml", target, calls=2, args=("-s", "alice"))
            rang = callee.finish()
        log = proxy.log()
    assert (result.successful, result.failed) == (2, 0), result.summary + log[-2000:]
    assert rang.successful == 2, rang.summary


def test_default_defines_refuse_relaying_and_unknown_users() -> None:
    with kamailio_cfg() as proxy:
        target = proxy.udp
        refused = probe(target, "INVITE", "sip:bob@192.0.2.1", "sip:carol@example.com")
        assert refused is not None and refused.startswith(b"SIP/2.0 403 Not relaying"), refused
        unknown = probe(target, "INVITE", _uri("nobody", target), "sip:carol@example.com")
        assert unknown is not None and unknown.startswith(b"SIP/2.0 404 Not Found"), unknown
        keepalive = probe(target, "OPTIONS", f"sip:{target[0]}:{target[1]}",
                          "sip:carol@example.com")
        assert keepalive is not None and keepalive.startswith(b"SIP/2.0 200 Keepalive")


def test_auth_register_and_call_with_proxy_auth(tmp_path: Path) -> None:
    """WITH_AUTH: digest REGISTER, then bob (local) calls alice after a 407."""
    with kamailio_cfg(defines=_auth_defines(tmp_path)) as proxy:
        target = proxy.udp
        with uas("uas_call_rr.xml", calls=1) as callee:
            reg = register(target, "alice", callee.port, password="secret")
            assert (reg.successful, reg.failed) == (1, 0), reg.summary + proxy.log()[-2000:]
            assert "SIP/2.0 401 " in reg.trace
            result = call(target, _uri("bob", target), _uri("alice", target),
                          auth=("bob", "secret"))
            answered = callee.finish()
        log = proxy.log()
    assert (result.successful, result.failed) == (1, 0), result.summary + log[-2000:]
    assert "SIP/2.0 407 " in result.trace
    assert answered.successful == 1, answered.summary
    assert "Proxy-Authorization" not in answered.trace  # consume_credentials()


def test_auth_bad_credentials_are_refused(tmp_path: Path) -> None:
    with kamailio_cfg(defines=_auth_defines(tmp_path)) as proxy:
        target = proxy.udp
        reg = register(target, "alice", 9, password="wrong")
        assert (reg.successful, reg.failed) == (0, 1), reg.summary
        assert reg.trace.count("SIP/2.0 401 ") >= 2
        bad = call(target, _uri("bob", target), _uri("alice", target), auth=("bob", "nope"))
        assert bad.successful == 0 and bad.trace.count("SIP/2.0 407 ") >= 2, bad.summary
        # A foreign caller may call a local user without credentials: alice is not there.
        lost = probe(target, "INVITE", _uri("alice", target), "sip:carol@example.com")
        assert lost is not None and lost.startswith(b"SIP/2.0 404 "), lost


def test_usrlocdb_keeps_registrations_across_a_restart(tmp_path: Path) -> None:
    """WITH_USRLOCDB (db_mode 2): a contact saved before a restart is found after it."""
    defines = _auth_defines(tmp_path, "WITH_USRLOCDB")
    with uas("uas_call_rr.xml", calls=1) as callee:
        with kamailio_cfg(defines=defines) as first:
            reg = register(first.udp, "alice", callee.port, password="secret")
            assert reg.successful == 1, reg.summary + first.log()[-2000:]
        with kamailio_cfg(defines=defines) as second:
            target = second.udp
            result = call(target, "sip:carol@example.com", _uri("alice", target))
            answered = callee.finish()
            log = second.log()
    assert "1 contact(s) of table location loaded" in log, log[-2000:]
    assert (result.successful, result.failed) == (1, 0), result.summary + log[-2000:]
    assert answered.successful == 1, answered.summary


def test_antiflood_bans_a_flooding_source(tmp_path: Path) -> None:
    """WITH_ANTIFLOOD: pike marks a flooding foreign source in ipban; it then hears nothing."""
    with kamailio_cfg(defines=_auth_defines(tmp_path, "WITH_ANTIFLOOD")) as proxy:
        target = proxy.udp
        flood = sipp("register_contact.xml", target, calls=30, rate=60, local_ip="127.0.0.2",
                     timeout=8, args=("-s", "alice", "-au", "alice", "-ap", "wrong", "-key",
                                      "contact_port", "9"))
        assert flood.successful == 0 and "SIP/2.0 401 " in flood.trace, flood.summary
        banned = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target),
                       src_ip="127.0.0.2")
        assert banned is None, banned
        local = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target))
        assert local is not None and local.startswith(b"SIP/2.0 401 "), local
        assert "pike blocking REGISTER" in proxy.log()


def test_local_cfg_adds_a_ban_on_repeated_auth_failures(tmp_path: Path) -> None:
    """kamailio-local.cfg (import_file beside the cfg) loads ksrpy's ban module.

    kamailio.cfg itself has no ban on failed authentication; with ban's
    auth_fail_max the third wrong password from a source puts it in ipban,
    which the cfg's REQINIT (WITH_ANTIFLOOD) then drops without an answer.
    """
    if not CFG.exists():
        pytest.fail(f"{CFG} is missing: apt-get install kamailio")
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(CFG.read_text())
    (tmp_path / "kamailio-local.cfg").write_text(
        '#!define WITH_ANTIFLOOD\nloadmodule "ban.so"\nmodparam("ban", "auth_fail_max", 3)\n')
    url = kamailio_db(tmp_path / "kamailio.db", USERS)
    args = ("-A", "WITH_AUTH", "-A", f'DBURL="{url}"')
    with KsrpyProcess(str(cfg), listen=("udp:127.0.0.1:0",), extra_args=args) as proxy:
        target = proxy.udp
        failures = sipp("register_contact.xml", target, calls=3, rate=2, local_ip="127.0.0.2",
                        timeout=10, args=("-s", "alice", "-au", "alice", "-ap", "wrong",
                                          "-key", "contact_port", "9"))
        assert failures.successful == 0, failures.summary
        banned = probe(target, "REGISTER", _uri("alice", target), _uri("alice", target),
                       src_ip="127.0.0.2")
        log = proxy.log()
    assert banned is None, banned
    assert "BAN ip=127.0.0.2" in log and "pike blocking" not in log, log[-2000:]
