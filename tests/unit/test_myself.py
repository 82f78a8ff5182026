"""Myself: Kamailio's check_self over listen sockets, host addresses and aliases."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest

from ksrpy.core import myself as myself_mod
from ksrpy.core.myself import Myself, local_addresses
from ksrpy.transport.address import ListenSpec

HOST = {"127.0.0.1", "192.0.2.10", "::1", "2001:db8::10", "fe80::1"}


def make(*listens: str, aliases=(), host=HOST) -> Myself:
    """Build a Myself from listen texts."""
    return Myself([ListenSpec.parse(t) for t in listens], list(aliases), host_addresses=host)


@pytest.mark.parametrize(
    ("host", "port", "proto", "expected"),
    [
        ("192.0.2.1", 5060, None, True),
        ("192.0.2.1", None, None, True),  # missing port = 5060
        ("192.0.2.1", 0, None, True),
        ("192.0.2.1", 5070, None, False),
        ("192.0.2.2", 5060, None, False),
        ("192.0.2.1", None, "tls", False),  # default port is 5061 for tls
        ("192.0.2.1", None, "TLS", False),
        ("192.0.2.1", None, "udp", True),
        ("[2001:db8::1]", 5080, None, True),
        ("2001:DB8:0:0::1", 5080, None, True),  # IPv6 compared as addresses
        ("2001:db8::1", None, None, False),  # that socket is on 5080
        ("", 5060, None, False),
    ],
)
def test_sockets(host: str, port: int | None, proto: str | None, expected: bool) -> None:
    """Host and port must match a listen socket; a missing port means 5060/5061."""
    m = make("udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5080")
    assert m.is_myself(host, port, proto) is expected


def test_sips_default_port() -> None:
    """With proto tls/sips a missing port stands for 5061."""
    m = make("tcp:192.0.2.1:5061")
    assert m.is_myself("192.0.2.1", None, "tls")
    assert m.is_myself("192.0.2.1", None, "sips")
    assert not m.is_myself("192.0.2.1", None, None)


def test_wildcard_listen_covers_host_addresses_of_its_family() -> None:
    """0.0.0.0 stands for every IPv4 address of the host, :: for every IPv6 one."""
    m = make("udp:0.0.0.0:5060", "udp:[::]:5070")
    assert m.is_myself("192.0.2.10", 5060)
    assert m.is_myself("127.0.0.1", None)
    assert not m.is_myself("192.0.2.10", 5070)
    assert m.is_myself("[2001:db8::10]", 5070)
    assert m.is_myself("::1", 5070)
    assert not m.is_myself("::1", 5060)
    assert not m.is_myself("192.0.2.99", 5060)
    assert not m.is_myself("0.0.0.0", 5060)
    assert m.addresses == HOST


def test_aliases() -> None:
    """An alias without port matches any port; with a port, that port or a missing one."""
    m = make("udp:192.0.2.1:5060", aliases=[("Example.COM", None), ("sip.example.net", 5080)])
    assert m.is_myself("example.com", 5060)
    assert m.is_myself("EXAMPLE.com", 9999)
    assert m.is_myself("example.com.", None)  # trailing dot of an FQDN
    assert m.is_myself("sip.example.net", 5080)
    assert m.is_myself("sip.example.net", None)
    assert not m.is_myself("sip.example.net", 5060)
    assert not m.is_myself("other.example.net", None)
    m.add_alias("[2001:db8::99]", 0)
    assert m.is_myself("2001:db8:0::99", 1234)


def test_advertised_address_is_myself() -> None:
    """The advertised address (what we put in Via/Record-Route) is ours too."""
    m = make("udp:10.0.0.1:5060 advertise 203.0.113.5:5080")
    assert m.is_myself("203.0.113.5", 5080)
    assert m.is_myself("10.0.0.1", 5060)
    assert not m.is_myself("203.0.113.5", 5060)


def test_uri_host_port_helper() -> None:
    """host[:port] strings from URIs and Vias."""
    m = make("udp:192.0.2.1:5060", "udp:[::1]:5062")
    assert m.is_myself_uri_host_port("192.0.2.1")
    assert m.is_myself_uri_host_port("192.0.2.1:5060")
    assert not m.is_myself_uri_host_port("192.0.2.1:5061")
    assert m.is_myself_uri_host_port("[::1]:5062")
    assert not m.is_myself_uri_host_port("[::1]")
    assert not m.is_myself_uri_host_port("::1")


def test_is_local_address_ignores_port() -> None:
    """src_ip==myself style check: any port of a listen address or alias."""
    m = make("udp:192.0.2.1:5060", aliases=[("10.9.9.9", 5099)])
    assert m.is_local_address("192.0.2.1")
    assert m.is_local_address("10.9.9.9")
    assert not m.is_local_address("192.0.2.2")
    assert not m.is_local_address("")


def test_no_listens_reads_no_addresses() -> None:
    """Without wildcard listens the host's addresses are not even read."""
    with mock.patch.object(myself_mod, "local_addresses", side_effect=AssertionError):
        m = Myself([ListenSpec.parse("udp:127.0.0.1:5060")])
        assert m.is_myself("127.0.0.1", 5060)
        assert not Myself([]).is_myself("127.0.0.1", 5060)


def test_local_addresses_real_host() -> None:
    """The host's addresses are canonical IPs and include loopback."""
    found = local_addresses()
    assert "127.0.0.1" in found
    for addr in found:
        assert "%" not in addr and "[" not in addr
        assert str(ipaddress.ip_address(addr)) == addr


def test_local_addresses_fallback_when_netlink_fails() -> None:
    """If pyroute2 fails the other readers are used."""
    with mock.patch.object(myself_mod, "_addresses_pyroute2", side_effect=OSError("no netlink")):
        found = local_addresses()
    assert "127.0.0.1" in found
    with (
        mock.patch.object(myself_mod, "_addresses_pyroute2", side_effect=OSError),
        mock.patch.object(myself_mod, "_addresses_ip_command", side_effect=FileNotFoundError),
    ):
        found = local_addresses()
    assert {"127.0.0.1", "::1"} <= found
