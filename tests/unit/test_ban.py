"""The ban module: reasons, exemptions, expiry, auth-failure bans, RPCs, fail2ban lines."""

from __future__ import annotations

import configparser
import logging
import re
from pathlib import Path

import pytest

from ksrpy.core.engine import Engine
from ksrpy.modules.ban import BanModule
from tests.unit.test_cfg_compile import _engine, _reason

REPO = Path(__file__).resolve().parents[2]


class Clock:
    """A settable clock for htable and the failure window."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _ban(**settings: object) -> tuple[BanModule, Clock]:
    engine = Engine()
    htable = engine.load_module("htable")
    clock = Clock()
    htable.set_clock(clock)
    ban = engine.load_module("ban", dict(settings))
    ban.clock = clock
    engine.init_modules()
    return ban, clock  # type: ignore[return-value]


def test_add_check_remove_with_reason(caplog: pytest.LogCaptureFixture) -> None:
    ban, _ = _ban()
    caplog.set_level(logging.INFO, "ksrpy.ban")
    assert ban.add("203.0.113.7", 60, "pike flood") == 1
    assert ban.banned("203.0.113.7") and not ban.banned("203.0.113.8")
    assert ban.rpc_list() == [{"ip": "203.0.113.7", "reason": "pike flood", "expires": 60}]
    assert ban.remove("203.0.113.7") == 1
    assert ban.remove("203.0.113.7") == -1
    assert ban.add("not an address", 60, "x") == -1
    lines = [r.getMessage() for r in caplog.records]
    assert 'BAN ip=203.0.113.7 seconds=60 reason="pike flood" by=script' in lines
    assert 'UNBAN ip=203.0.113.7 reason="removed"' in lines


def test_addresses_are_canonical_and_ipv6_works() -> None:
    ban, _ = _ban()
    assert ban.add("[2001:DB8::0001]", 30, "x") == 1
    assert ban.banned("2001:db8::1")
    assert ban.rpc_list()[0]["ip"] == "2001:db8::1"


def test_exempt_sources_are_never_banned(caplog: pytest.LogCaptureFixture) -> None:
    ban, _ = _ban(exempt="10.0.0.0/8, 2001:db8::/32")
    caplog.set_level(logging.INFO, "ksrpy.ban")
    assert ban.add("10.1.2.3", 60, "pike flood") == -2
    assert ban.add("::ffff:10.1.2.3", 60, "pike flood") == -2  # IPv4-mapped
    assert ban.add("2001:db8::5", 60, "scanner") == -2
    assert not ban.banned("10.1.2.3")
    assert any(r.getMessage().startswith("BAN-EXEMPT ip=10.1.2.3") for r in caplog.records)
    with pytest.raises(ValueError, match="not an IP address or network"):
        ban.set_param("exempt", "10.0.0.0/33")


def test_bans_expire_and_the_unban_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    ban, clock = _ban()
    caplog.set_level(logging.INFO, "ksrpy.ban")
    ban.add("198.51.100.1", 5, "scanner")
    clock.now += 6
    assert not ban.banned("198.51.100.1")
    ban.engine.modules["htable"].sweep()
    assert 'UNBAN ip=198.51.100.1 reason="expired"' in [r.getMessage() for r in caplog.records]


def test_repeated_auth_failures_ban_the_source() -> None:
    ban, clock = _ban(auth_fail_max=3, auth_fail_window=60, auth_fail_seconds=900)
    assert ban.auth_failure("192.0.2.9") == -1
    clock.now += 10
    assert ban.auth_failure("192.0.2.9") == -1
    clock.now += 10
    assert ban.auth_failure("192.0.2.9") == 1
    assert ban.rpc_list() == [{"ip": "192.0.2.9", "reason": "3 failed authentications in 60s",
                               "expires": 900}]
    # Failures spread wider than the window do not add up.
    for _ in range(5):
        clock.now += 61
        assert ban.auth_failure("192.0.2.10") == -1
    assert not ban.banned("192.0.2.10")


def test_failure_counter_is_bounded() -> None:
    ban, _ = _ban(auth_fail_max=1000)
    for n in range(120_000):
        ban.auth_failure(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    assert len(ban.failures) <= 100_001


def test_rpcs_report_errors() -> None:
    ban, _ = _ban(exempt="127.0.0.0/8")
    assert ban.rpc_add("192.0.2.1", 120, "manual review") == "Ok. Banned."
    assert ban.rpc_list()[0]["reason"] == "manual review"
    with pytest.raises(ValueError, match="exempt"):
        ban.rpc_add("127.0.0.5")
    with pytest.raises(ValueError, match="not an IP address"):
        ban.rpc_add("nope")
    assert ban.rpc_remove("192.0.2.1") == "Ok. Ban removed."
    with pytest.raises(ValueError, match="not banned"):
        ban.rpc_remove("192.0.2.1")


def test_cfg_ban_and_sht_agree(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            if ($sht(ipban=>$si) != $null) {
                sl_send_reply("403", "banned: $sht(ipban=>$si)");
                exit;
            }
            ban_add("$si", "0", "scanner");
            sl_send_reply("200", "now banned");
        }
    """, header='loadmodule "sl.so"\nloadmodule "htable.so"\nloadmodule "ban.so"\n'
                'modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")\n')
    assert _reason(engine) == "200 now banned"
    assert _reason(engine) == "403 banned: scanner"


def test_fail2ban_filter_matches_ban_lines_only() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "docs" / "fail2ban" / "filter.d" / "ksrpy.conf")
    failregex = parser["Definition"]["failregex"].strip()
    host = r"(?:::f{4,6}:)?(?P<host>[\w\-.^_]*\w|[0-9a-fA-F:.]+)"
    regex = re.compile(failregex.replace("<HOST>", host))
    ban_line = ('2026-11-27 23:00:00,000 WARNING ksrpy.ban: BAN ip=203.0.113.7 seconds=300 '
                'reason="pike flood" by=script')
    unban_line = '2026-11-27 23:05:00,000 WARNING ksrpy.ban: UNBAN ip=203.0.113.7 reason="expired"'
    match = regex.match(ban_line)
    assert match is not None and match.group("host") == "203.0.113.7"
    assert regex.match(unban_line) is None
    v6 = regex.match(ban_line.replace("203.0.113.7", "2001:db8::7"))
    assert v6 is not None and v6.group("host") == "2001:db8::7"
