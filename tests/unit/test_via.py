"""Tests of ksrpy.sip.via: Via header values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.sip.errors import SIPParseError
from ksrpy.sip.params import Params
from ksrpy.sip.via import Via, parse_via


def test_basic() -> None:
    text = "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
    (via,) = parse_via(text)
    assert via.protocol == "SIP/2.0"
    assert via.transport == "UDP"
    assert via.host == "pc33.atlanta.com"
    assert via.port is None
    assert via.branch == "z9hG4bK776asdhds"
    assert via.received is None
    assert via.rport is None
    assert via.maddr is None
    assert via.ttl is None
    assert via.sent_by == "pc33.atlanta.com"
    assert str(via) == text
    assert via.serialize() == text


def test_port_and_known_params() -> None:
    text = (
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8;received=192.0.2.207;rport=5061"
        ";maddr=224.2.0.1;ttl=16"
    )
    (via,) = parse_via(text)
    assert via.port == 5060
    assert via.sent_by == "192.0.2.1:5060"
    assert via.received == "192.0.2.207"
    assert via.rport == "5061"
    assert via.maddr == "224.2.0.1"
    assert via.ttl == 16
    assert str(via) == text


def test_rport_flag_vs_absent() -> None:
    (via,) = parse_via("SIP/2.0/UDP host.example.com;rport;branch=z9hG4bK1")
    assert via.rport == ""
    (via,) = parse_via("SIP/2.0/UDP host.example.com;branch=z9hG4bK1")
    assert via.rport is None


def test_transport_upper_cased_and_protocol_kept() -> None:
    (via,) = parse_via("sip/2.0/tcp client.example.com:5070")
    assert via.transport == "TCP"
    assert via.protocol == "sip/2.0"
    assert via.serialize() == "sip/2.0/TCP client.example.com:5070"


def test_several_in_one_value() -> None:
    vias = parse_via(
        "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1,"
        " SIP/2.0/TCP second.example.com;branch=z9hG4bK2"
    )
    assert [v.host for v in vias] == ["first.example.com", "second.example.com"]
    assert [v.transport for v in vias] == ["UDP", "TCP"]
    assert vias[0].ttl == 16


# --- RFC 4475 ----------------------------------------------------------------------------


def test_rfc4475_wsinv_whitespace_and_folding() -> None:
    # §3.1.1.1
    (via,) = parse_via("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw")
    assert (via.protocol, via.transport, via.host, via.branch) == (
        "SIP/2.0",
        "UDP",
        "192.0.2.2",
        "390skdjuw",
    )
    vias = parse_via(
        "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n"
        " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"
    )
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert vias[0].serialize() == "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"


def test_rfc4475_odd_tokens() -> None:
    # §3.1.1.2 intmeth and §3.1.1.5 esc02: branch values with unusual token characters
    (via,) = parse_via("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~")
    assert via.branch == "z9hG4bK-.!%66*_+`'~"
    (via,) = parse_via("SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234")
    assert via.branch == "z9hG4bK209%fzsnel234"


@pytest.mark.parametrize("transport", ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP", "WS", "WSS"])
def test_rfc4475_transports(transport: str) -> None:
    # §3.1.1.10: unknown transports are syntactically fine
    (via,) = parse_via(f"SIP/2.0/{transport} t1.example.com;branch=z9hG4bKkdjuw")
    assert via.transport == transport


def test_rfc4475_misc_valid() -> None:
    # §3.1.2.16 badvers: the version is the caller's business
    (via,) = parse_via("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw")
    assert via.protocol == "SIP/7.0"
    # §3.1.2.7 ltgtruri: no branch at all
    (via,) = parse_via("SIP/2.0/UDP 192.0.2.5")
    assert via.branch is None and not via.params
    # §3.3.10 bcast
    (via,) = parse_via("SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23")
    assert via.host == "255.255.255.255"
    # §3.1.1.7 longreq
    branch = "verylong" + "long" * 60 + "branchvalue"
    (via,) = parse_via(f"SIP/2.0/TCP host.example.com;received=192.0.2.5;branch={branch}")
    assert via.branch == branch and via.received == "192.0.2.5"
    # §3.2.1 badbranch: z9hG4bK alone is syntactically valid
    (via,) = parse_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK")
    assert via.branch == "z9hG4bK"


def test_rfc4475_badinv01_extraneous_separators() -> None:
    # §3.1.2.1
    with pytest.raises(SIPParseError):
        parse_via("SIP/2.0/UDP 192.0.2.15;;,;,,")


# --- IPv6 (RFC 5118) ---------------------------------------------------------------------


def test_rfc5118_ipv6() -> None:
    # §4.5: received with and without brackets
    (via,) = parse_via(
        "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111"
    )
    assert via.host == "[2001:db8::9:1]"
    assert via.host_no_brackets == "2001:db8::9:1"
    assert via.received == "[2001:db8::9:255]"
    (via,) = parse_via(
        "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111;received=2001:db8::9:255"
    )
    assert via.port == 6050
    assert via.received == "2001:db8::9:255"
    # whitespace around ':' is LWS per the grammar (COLON = SWS ":" SWS)
    (via,) = parse_via("SIP/2.0/UDP [::1] : 5060")
    assert via.port == 5060


# --- invalid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("SIP/2.0 host.example.com", "expected 'SIP/2.0/<transport>"),
        ("SIP/2.0/UDP", "expected 'SIP/2.0/<transport>"),
        ("SIP/2.0/UDP ", "expected 'SIP/2.0/<transport>"),
        ("SIP/2.0/UDPhost", "expected 'SIP/2.0/<transport>"),
        ("SIP/2.0/UDP ;branch=x", "missing sent-by"),
        ("SIP/2.0/UDP :5060", "missing sent-by"),
        ("SIP/2.0/UDP host:99999", "out of range"),
        ("SIP/2.0/UDP host:", "must be digits"),
        ("SIP/2.0/UDP host:50x", "must be digits"),
        ("SIP/2.0/UDP 2001:db8::1", "IPv6"),
        ("SIP/2.0/UDP [2001:db8::1", "closing"),
        ("SIP/2.0/UDP [2001:db8::g]", "IPv6 reference"),
        ("SIP/2.0/UDP host_name", "host"),
        ("SIP/2.0/UDP 1.2.3.256", "IPv4"),
        ("SIP/2.0/UDP host extra", "after the sent-by"),
        ("SIP/2.0/UDP host;received=example.com", "not an IP address"),
        ("SIP/2.0/UDP host;received", "not an IP address"),
        ("SIP/2.0/UDP host;rport=abc", "rport"),
        ("SIP/2.0/UDP host;rport=65536", "rport"),
        ("SIP/2.0/UDP host;ttl=256", "ttl"),
        ("SIP/2.0/UDP host;ttl", "ttl"),
        ("SIP/2.0/UDP host;branch", "branch"),
        ("SIP/2.0/UDP host;maddr", "maddr"),
        ("SIP/2.0/UDP host;maddr=bad!host", "host"),
        ("SIP/2.0/UDP host;branch=a b", "expected ';'"),
        ("SIP/2.0/UDP host;branch=", "no value"),
        ("SIP/2.0/UDP a.example.com, ", "empty element"),
        ("SIP/2.0/UDP a.example.com\r\nSIP/2.0/UDP b", "fold"),
        ("SIP/2.0/ÜDP host", "expected 'SIP/2.0/<transport>"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(SIPParseError, match=reason) as exc:
        parse_via(text)
    assert exc.value.status == 400


# --- editing -----------------------------------------------------------------------------


def test_with_params_sets_received_and_rport() -> None:
    (via,) = parse_via("SIP/2.0/UDP bobspc.biloxi.com:5060;rport;branch=z9hG4bKnashds7")
    updated = via.with_params(received="192.0.2.4", rport="9988")
    # rport keeps its position, received is appended
    assert str(updated) == (
        "SIP/2.0/UDP bobspc.biloxi.com:5060;rport=9988;branch=z9hG4bKnashds7;received=192.0.2.4"
    )
    assert updated.rport == "9988" and updated.received == "192.0.2.4"
    assert str(via) == "SIP/2.0/UDP bobspc.biloxi.com:5060;rport;branch=z9hG4bKnashds7"
    assert parse_via(str(updated)) == [updated]


def test_with_param_and_replace() -> None:
    (via,) = parse_via("SIP/2.0/TCP [::1]:5060;branch=z9hG4bK1")
    assert str(via.with_param("alias", None)) == "SIP/2.0/TCP [::1]:5060;branch=z9hG4bK1;alias"
    assert str(via.replace(port=None, transport="TLS")) == "SIP/2.0/TLS [::1];branch=z9hG4bK1"


def test_constructed() -> None:
    via = Via("SIP/2.0", "UDP", "192.0.2.1", 5060, Params.of(("branch", "z9hG4bK42")))
    assert str(via) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK42"
    assert parse_via(str(via)) == [via]


# --- hypothesis --------------------------------------------------------------------------

_TOKEN = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=10)
_HOST = st.one_of(
    st.from_regex(r"[a-z]([a-z0-9\-]{0,8}[a-z0-9])?(\.[a-z]{2,6})?", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)


@settings(max_examples=200)
@given(
    st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]),
    _HOST,
    st.one_of(st.none(), st.integers(0, 65535)),
    _TOKEN,
    st.one_of(st.none(), st.just(""), st.integers(1, 65535).map(str)),
)
def test_roundtrip_generated(transport, host, port, branch, rport) -> None:
    text = f"SIP/2.0/{transport} {host}" + ("" if port is None else f":{port}")
    text += f";branch={branch}"
    if rport is not None:
        text += ";rport" if rport == "" else f";rport={rport}"
    (via,) = parse_via(text)
    assert str(via) == text
    assert via.serialize() == text
    assert (via.transport, via.host, via.port, via.branch, via.rport) == (
        transport,
        host,
        port,
        branch,
        rport,
    )


_SIPISH = st.text(alphabet=list('SIP/2.0UDTC ;=:,[]\t\r\n"abf019-%_x@<>é\\'), max_size=50)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=50), _SIPISH, _SIPISH.map(lambda s: "SIP/2.0/UDP " + s)))
def test_never_raises_anything_but_sip_parse_error(text: str) -> None:
    try:
        vias = parse_via(text)
    except SIPParseError as exc:
        assert exc.status == 400 and exc.reason
        return
    for via in vias:
        assert parse_via(via.serialize()) == [via]
