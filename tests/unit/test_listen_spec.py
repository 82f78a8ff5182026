"""ListenSpec / parse_listen: Kamailio listen= syntax."""

from __future__ import annotations

import pytest

from ksrpy.transport.address import ListenSpec, normalize_ip, parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp:127.0.0.1:5060", ListenSpec("udp", "127.0.0.1", 5060)),
        ("tcp:127.0.0.1:5080", ListenSpec("tcp", "127.0.0.1", 5080)),
        ("UDP:127.0.0.1", ListenSpec("udp", "127.0.0.1", 5060)),
        ("tcp:[::1]:5060", ListenSpec("tcp", "::1", 5060)),
        ("udp:[::1]", ListenSpec("udp", "::1", 5060)),
        ("udp:::1", ListenSpec("udp", "::1", 5060)),
        ("udp:[0:0:0:0:0:0:0:1]:7000", ListenSpec("udp", "::1", 7000)),
        ("udp:0.0.0.0:0", ListenSpec("udp", "0.0.0.0", 0)),
        ("tcp:[::]:5060", ListenSpec("tcp", "::", 5060)),
        ("  udp:127.0.0.1:5060  ", ListenSpec("udp", "127.0.0.1", 5060)),
        (
            "udp:10.0.0.1:5060 advertise 5.6.7.8:5080",
            ListenSpec("udp", "10.0.0.1", 5060, ("5.6.7.8", 5080)),
        ),
        (
            "udp:10.0.0.1:5060 ADVERTISE sip.Example.com",
            ListenSpec("udp", "10.0.0.1", 5060, ("sip.example.com", 0)),
        ),
        (
            "tcp:[::1]:5060 advertise [2001:DB8::1]:5062",
            ListenSpec("tcp", "::1", 5060, ("2001:db8::1", 5062)),
        ),
    ],
)
def test_parse(text: str, expected: ListenSpec) -> None:
    """Entries naming a protocol parse to one spec."""
    assert ListenSpec.parse(text) == expected
    assert parse_listen(text) == [expected]


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 5060),
        ("127.0.0.1:5070", "127.0.0.1", 5070),
        ("[::1]:5070", "::1", 5070),
        ("::1", "::1", 5060),
        ("dead::beef", "dead::beef", 5060),  # looks like "proto:" but is an address
        ("0.0.0.0", "0.0.0.0", 5060),
    ],
)
def test_no_proto_means_udp_and_tcp(text: str, host: str, port: int) -> None:
    """An entry without protocol listens on UDP and TCP; ListenSpec.parse refuses it."""
    assert parse_listen(text) == [ListenSpec("udp", host, port), ListenSpec("tcp", host, port)]
    with pytest.raises(ValueError, match="parse_listen"):
        ListenSpec.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad listen"),
        ("tls:127.0.0.1:5061", "unsupported protocol 'tls'"),
        ("sctp:127.0.0.1", "unsupported protocol"),
        ("udp:example.com:5060", "not an IP address"),
        ("udp:127.0.0.1:99999", "out of range"),
        ("udp:127.0.0.1:50x0", "bad port"),
        ("udp:127.0.0.1:", "bad port"),
        ("udp:[::1", "unclosed"),
        ("udp:[::1]x", "unexpected"),
        ("udp:[]:5060", "empty IPv6"),
        ("udp:127.0.0.1 advertise", "bad listen"),
        ("udp:127.0.0.1 publish 1.2.3.4", "bad listen"),
        ("udp:127.0.0.1 advertise 1.2.3.4:x", "bad port"),
        ("udp:256.0.0.1", "not an IP address"),
    ],
)
def test_errors(text: str, message: str) -> None:
    """Bad entries raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_listen(text)


def test_str_roundtrip() -> None:
    """str() gives Kamailio syntax that parses back to the same spec."""
    for text in ("udp:127.0.0.1:5060", "tcp:[::1]:5070", "udp:1.2.3.4:5060 advertise [::2]:9"):
        spec = ListenSpec.parse(text)
        assert str(spec) == text
        assert ListenSpec.parse(str(spec)) == spec


def test_constructor_validates_and_normalises() -> None:
    """Direct construction canonicalises host and protocol, and rejects bad values."""
    spec = ListenSpec("UDP", "0:0::1", 5060)
    assert (spec.proto, spec.host, spec.af) == ("udp", "::1", 6)
    assert ListenSpec("udp", "[::1]", 1).host == "::1"
    assert ListenSpec("tcp", "0.0.0.0", 1).is_any and ListenSpec("tcp", "::", 1).is_any
    with pytest.raises(ValueError):
        ListenSpec("tls", "127.0.0.1", 5061)
    with pytest.raises(ValueError):
        ListenSpec("udp", "localhost", 5060)
    with pytest.raises(ValueError):
        ListenSpec("udp", "127.0.0.1", 70000)


def test_with_port_fills_advertise_port() -> None:
    """Binding port 0 fills the real port in, and an advertise without port follows it."""
    spec = ListenSpec.parse("udp:127.0.0.1:0 advertise 5.6.7.8")
    bound = spec.with_port(40000)
    assert bound.port == 40000 and bound.advertise == ("5.6.7.8", 40000)
    assert ListenSpec.parse("udp:127.0.0.1:0").with_port(1).advertise is None


def test_hashable() -> None:
    """Specs are usable as dict keys and compare by value."""
    assert len({ListenSpec("udp", "::1", 1), ListenSpec("udp", "0::1", 1)}) == 1


def test_normalize_ip() -> None:
    """IP literals canonicalise; names are refused."""
    assert normalize_ip("[2001:DB8:0::1]") == ("2001:db8::1", 6)
    assert normalize_ip("10.0.0.1") == ("10.0.0.1", 4)
    with pytest.raises(ValueError):
        normalize_ip("example.com")
