"""Tests of ksrpy.sip.uri: SIP/SIPS/tel/absolute URIs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.sip.errors import SIPParseError
from ksrpy.sip.limits import MAX_URI_LENGTH
from ksrpy.sip.params import Params
from ksrpy.sip.uri import SipURI, is_ip_address, parse_uri

# RFC 3261 §19.1.3 examples: (uri, scheme, user, password, host, port, params, headers)
RFC3261_EXAMPLES = [
    ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, [], None),
    (
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sip",
        "alice",
        "secretword",
        "atlanta.com",
        None,
        [("transport", "tcp")],
        None,
    ),
    (
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sips",
        "alice",
        None,
        "atlanta.com",
        None,
        [],
        "subject=project%20x&priority=urgent",
    ),
    (
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sip",
        "+1-212-555-1212",
        "1234",
        "gateway.com",
        None,
        [("user", "phone")],
        None,
    ),
    ("sips:1212@gateway.com", "sips", "1212", None, "gateway.com", None, [], None),
    ("sip:alice@192.0.2.4", "sip", "alice", None, "192.0.2.4", None, [], None),
    (
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip",
        None,
        None,
        "atlanta.com",
        None,
        [("method", "REGISTER")],
        "to=alice%40atlanta.com",
    ),
    (
        "sip:alice;day=tuesday@atlanta.com",
        "sip",
        "alice;day=tuesday",
        None,
        "atlanta.com",
        None,
        [],
        None,
    ),
]


@pytest.mark.parametrize("example", RFC3261_EXAMPLES, ids=[e[0] for e in RFC3261_EXAMPLES])
def test_rfc3261_examples(example: tuple) -> None:
    text, scheme, user, password, host, port, params, headers = example
    uri = parse_uri(text)
    assert uri.scheme == scheme
    assert uri.user == user
    assert uri.password == password
    assert uri.host == host
    assert uri.port == port
    assert uri.params.items() == params
    assert uri.headers == headers
    assert str(uri) == text
    assert uri.serialize() == text


# RFC 3261 §19.1.4 comparison examples; all must parse and round-trip byte for byte.
RFC3261_COMPARISON = [
    "sip:%61lice@atlanta.com;transport=TCP",
    "sip:alice@AtLanTa.CoM;Transport=tcp",
    "sip:carol@chicago.com",
    "sip:carol@chicago.com;newparam=5",
    "sip:carol@chicago.com;security=on",
    "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
    "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
    "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    "SIP:ALICE@AtLanTa.CoM;Transport=udp",
    "sip:bob@biloxi.com",
    "sip:bob@biloxi.com:5060",
    "sip:bob@biloxi.com;transport=udp",
    "sip:bob@biloxi.com:6000;transport=tcp",
    "sip:carol@chicago.com?Subject=next%20meeting",
    "sip:bob@phone21.boxesbybob.com",
    "sip:bob@192.0.2.4",
    "sip:carol@chicago.com;security=off",
]


@pytest.mark.parametrize("text", RFC3261_COMPARISON)
def test_rfc3261_comparison_examples_roundtrip(text: str) -> None:
    uri = parse_uri(text)
    assert str(uri) == text
    assert uri.scheme == "sip"
    assert parse_uri(str(uri)) == uri


def test_case_is_kept_but_scheme_and_transport_normalised() -> None:
    uri = parse_uri("SIP:ALICE@AtLanTa.CoM;Transport=UDP")
    assert uri.scheme == "sip"
    assert uri.user == "ALICE"
    assert uri.host == "AtLanTa.CoM"
    assert uri.transport == "udp"
    assert str(uri) == "SIP:ALICE@AtLanTa.CoM;Transport=UDP"
    assert uri.serialize() == "sip:ALICE@AtLanTa.CoM;Transport=UDP"


# --- RFC 4475 torture inputs -------------------------------------------------------------


def test_rfc4475_intmeth_wide_range_of_characters() -> None:
    # §3.1.1.2: the user part holds ? , / ; * and the password & = + $ , ! ~ ( ) '
    text = (
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        ":&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"
    )
    uri = parse_uri(text)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert not uri.params
    assert str(uri) == text


def test_rfc4475_esc01_escapes() -> None:
    # §3.1.1.3
    uri = parse_uri("sip:sips%3Auser%40example.com@example.net")
    assert uri.user == "sips%3Auser%40example.com"
    assert uri.user_unescaped == "sips:user@example.com"
    assert uri.host == "example.net"
    assert parse_uri("sip:%75se%72@example.com").user_unescaped == "user"
    assert parse_uri("sip:I%20have%20spaces@example.net").user_unescaped == "I have spaces"
    contact = parse_uri("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert contact.user_unescaped == "caller"
    assert "lr" in contact.params
    assert contact.params.get("name") == "v%61lue%25%34%31"


def test_rfc4475_escnull() -> None:
    # §3.1.1.4: an escaped NUL is legal in a URI
    uri = parse_uri("sip:null-%00-null@example.com")
    assert uri.user == "null-%00-null"
    assert uri.user_unescaped == "null-\x00-null"
    assert parse_uri("sip:%00@host5.example.com").user_unescaped == "\x00"
    assert parse_uri("sip:%00%00@host5.example.com").user_unescaped == "\x00\x00"


def test_rfc4475_semiuri_semicolon_in_user() -> None:
    # §3.1.1.9: the '@' decides where the user part ends
    uri = parse_uri("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u%40example.net"
    assert uri.host == "example.com"
    assert not uri.params
    npdi = parse_uri("sip:+1234;npdi@host.example.com;user=phone")
    assert npdi.user == "+1234;npdi"
    assert npdi.params.get("user") == "phone"


def test_rfc4475_escruri_headers() -> None:
    # §3.1.2.11: escaped headers in a Request-URI are syntactically valid
    uri = parse_uri("sip:user@example.com?Route=%3Csip:example.com%3E")
    assert uri.headers == "Route=%3Csip:example.com%3E"
    assert str(uri) == "sip:user@example.com?Route=%3Csip:example.com%3E"


def test_rfc4475_longreq_params() -> None:
    # §3.1.1.7
    text = (
        "sip:user@example.com:6000;unknownparam1=very" + "long" * 20 + "value;"
        "longparam" + "name" * 25 + "=shortvalue;very" + "long" * 25 + "ParameterNameWithNoValue"
    )
    uri = parse_uri(text)
    assert uri.port == 6000
    assert len(uri.params) == 3
    assert uri.params.get("longparam" + "name" * 25) == "shortvalue"
    assert str(uri) == text


@pytest.mark.parametrize(
    ("text", "scheme", "opaque"),
    [
        # §3.3.2 unkscm, §3.3.3 novelsc, §3.3.4 unksm2
        (
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "nobodyknowsthisscheme",
            "totallyopaquecontent",
        ),
        ("soap.beep://192.0.2.103:3002", "soap.beep", "//192.0.2.103:3002"),
        ("isbn:2983792873", "isbn", "2983792873"),
        ("http://www.example.com", "http", "//www.example.com"),
        ("name:John_Smith", "name", "John_Smith"),
        ("mailto:watson@jcp.org.com", "mailto", "watson@jcp.org.com"),
        (
            "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "urn",
            "uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        ),
    ],
)
def test_other_schemes_are_kept_opaque(text: str, scheme: str, opaque: str) -> None:
    uri = parse_uri(text)
    assert uri.scheme == scheme
    assert uri.opaque == opaque
    assert uri.user is None and uri.host == "" and not uri.params
    assert not uri.is_sip
    assert str(uri) == text


# --- IPv6 (RFC 5118) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]", "[2001:db8::10]", None),
        ("sip:[2001:db8::10]:5070", "[2001:db8::10]", 5070),
        ("sip:user@[2001:db8::10]", "[2001:db8::10]", None),
        ("sip:[2001:db8::10:5070]", "[2001:db8::10:5070]", None),  # §4.3: all address
        ("sip:user@[2001:db8::192.0.2.1]", "[2001:db8::192.0.2.1]", None),
        ("sips:user@[::ffff:192.0.2.1]:5061;transport=tls", "[::ffff:192.0.2.1]", 5061),
        ("sip:[::1]", "[::1]", None),
        ("sip:[FE80::1]", "[FE80::1]", None),
    ],
)
def test_ipv6_references(text: str, host: str, port: int | None) -> None:
    uri = parse_uri(text)
    assert uri.host == host
    assert uri.port == port
    assert uri.host_no_brackets == host[1:-1]
    assert uri.host_is_ip
    assert str(uri) == text


@pytest.mark.parametrize(
    "text",
    [
        "sip:user@2001:db8::10",  # RFC 5118 §4.2: no brackets
        "sip:2001:db8::10",
        "sip:[2001:db8:::192.0.2.1]",
        "sip:[2001:db8::10",
        "sip:[2001:db8::10]x",
        "sip:[2001:db8::10]:",
        "sip:[]",
        "sip:[fe80::1%25eth0]",
        "sip:[1:2:3:4:5:6:7:8:9]",
        "sip:[192.0.2.1]",
    ],
)
def test_bad_ipv6(text: str) -> None:
    with pytest.raises(SIPParseError):
        parse_uri(text)


def test_ipv6_without_brackets_reason() -> None:
    with pytest.raises(SIPParseError, match=r"enclosed in '\['"):
        parse_uri("sip:user@2001:db8::10")


# --- tel (RFC 3966) ----------------------------------------------------------------------


def test_tel_global() -> None:
    uri = parse_uri("tel:+1-201-555-0123")
    assert uri.scheme == "tel"
    assert uri.user == "+1-201-555-0123"
    assert uri.host == ""
    assert uri.port is None
    assert not uri.params
    assert str(uri) == "tel:+1-201-555-0123"
    assert uri.replace().serialize() == "tel:+1-201-555-0123"


def test_tel_local_with_context_and_params() -> None:
    uri = parse_uri("tel:7042;phone-context=example.com")
    assert uri.user == "7042"
    assert uri.params.get("phone-context") == "example.com"
    uri = parse_uri("tel:863-1234;phone-context=+1-914-555;ext=22;isub=1411")
    assert uri.user == "863-1234"
    assert uri.params.get("phone-context") == "+1-914-555"
    assert uri.params.get("ext") == "22"
    assert uri.replace(user="863-9999").serialize() == (
        "tel:863-9999;phone-context=+1-914-555;ext=22;isub=1411"
    )
    assert parse_uri("TEL:*21#;phone-context=example.com").user == "*21#"


@pytest.mark.parametrize(
    "text",
    ["tel:", "tel:+", "tel:+-", "tel:+12 34", "tel:+1x", "tel:call-me", "tel:+1;a=", "tel:+1?x=y"],
)
def test_bad_tel(text: str) -> None:
    with pytest.raises(SIPParseError):
        parse_uri(text)


# --- invalid SIP URIs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("sip:user@example.com; lr", "URI parameters"),  # RFC 4475 §3.1.2.8 lwsruri
        ("<sip:user@example.com>", "scheme"),  # RFC 4475 §3.1.2.7 ltgtruri
        ("sip:user@example.com:5060:5060", "port after"),
        ("sip:a@b:65536", "out of range"),
        ("sip:a@b:99999999999999999999", "out of range"),
        ("sip:a@b:", "empty port"),
        ("sip:a@b:-1", "port after"),
        ("sip:@host", "empty user"),
        ("sip:", "missing host"),
        ("sip:a@", "missing host"),
        ("sip:;lr", "missing host"),
        ("sip:a@1.2.3", "IPv4"),
        ("sip:a@256.1.1.1", "IPv4"),
        ("sip:a@01.2.3.4", "IPv4"),
        ("sip:a@example.123", "must start with a letter"),
        ("sip:a@-example.com", "host"),
        ("sip:a@example-.com", "host"),
        ("sip:a@exa..mple.com", "host"),
        ("sip:a%zz@host", "user/password"),
        ("sip:a b@host", "user/password"),
        ("sip:a<b@host", "user/password"),
        ("sip:a@host?", "headers"),
        ("sip:a@host?x", "headers"),
        ("sip:a@host?=x", "headers"),
        ("sip:a@host?a=b&", "headers"),
        ("sip:a@host?a=%g0", "headers"),
        ("sip:a@host;x=%g0", "%HH"),
        ("sip:a@host;=x", "empty URI parameter name"),
        ("sip:a@b@c", "after the host"),
        ("sip:a@b ", "after the host"),
        (" sip:a@b", "scheme"),
        ("sip:a@b\x00", "after the host"),
        ("sip:a@exämple.com", "after the host"),
        ("alice", "missing scheme"),
        (":foo", "missing scheme"),
        ("", "missing scheme"),
        ("1sip:foo", "scheme"),
        ("foo:", "nothing after the scheme"),
        ("foo:a b", "not allowed"),
        ('foo:a"b', "not allowed"),
        ("foo:a\x7fb", "not allowed"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(SIPParseError, match=reason) as exc:
        parse_uri(text)
    assert exc.value.status == 400


def test_too_long() -> None:
    text = "sip:" + "a" * MAX_URI_LENGTH + "@example.com"
    with pytest.raises(SIPParseError, match="longer than"):
        parse_uri(text)
    ok = "sip:" + "a" * (MAX_URI_LENGTH - len("sip:@example.com")) + "@example.com"
    assert len(ok) == MAX_URI_LENGTH
    assert str(parse_uri(ok)) == ok


def test_underscore_in_host_labels_is_accepted() -> None:
    # Deliberately lenient: container and service names use "_" (docs/differences.md).
    assert parse_uri("sip:a@media_1.example.com").host == "media_1.example.com"


def test_hostnames_and_ipv4() -> None:
    for host in ["example.com", "example.com.", "a", "x-1.example.com", "3com.com", "host1"]:
        uri = parse_uri(f"sip:u@{host}")
        assert uri.host == host
        assert not uri.host_is_ip
    for host in ["0.0.0.0", "255.255.255.255", "192.0.2.1"]:
        assert parse_uri(f"sip:u@{host}:0").host_is_ip
    assert is_ip_address("[::1]") and is_ip_address("::1") and is_ip_address("10.0.0.1")
    assert not is_ip_address("example.com") and not is_ip_address("[example.com]")


# --- properties and editing --------------------------------------------------------------


def test_properties() -> None:
    uri = parse_uri("sips:bob@[2001:db8::1]:5061;transport=TLS;lr")
    assert uri.is_sip
    assert uri.transport == "tls"
    assert uri.hostport == "[2001:db8::1]:5061"
    assert uri.host_no_brackets == "2001:db8::1"
    assert parse_uri("sip:a@b;transport").transport is None
    assert parse_uri("sip:a@b").user_unescaped == "a"
    assert parse_uri("sip:b").user_unescaped is None
    assert parse_uri("sip:b").hostport == "b"


def test_replace_reserialises() -> None:
    uri = parse_uri("SIP:alice@atlanta.com;transport=tcp")
    moved = uri.replace(port=5061)
    assert str(moved) == "sip:alice@atlanta.com:5061;transport=tcp"
    assert str(uri) == "SIP:alice@atlanta.com;transport=tcp"
    assert str(uri.replace(params=uri.params.set("lr", None))) == (
        "sip:alice@atlanta.com;transport=tcp;lr"
    )
    assert str(uri.replace(params=uri.params.remove("transport"))) == "sip:alice@atlanta.com"
    assert str(uri.replace(user=None, scheme="sips")) == "sips:atlanta.com;transport=tcp"
    assert str(uri.replace(password="pw", headers="a=b")) == (
        "sip:alice:pw@atlanta.com;transport=tcp?a=b"
    )
    assert str(uri.replace(host="[::1]")) == "sip:alice@[::1];transport=tcp"
    assert str(parse_uri("mailto:x@y").replace(opaque="z@w")) == "mailto:z@w"


def test_constructed_uri() -> None:
    uri = SipURI("sip", "bob", None, "biloxi.example.com", 5060, Params.of(("lr", None), uri=True))
    assert str(uri) == "sip:bob@biloxi.example.com:5060;lr"
    assert parse_uri(str(uri)) == uri


def test_equality_ignores_original_text_and_hashes() -> None:
    a = parse_uri("sip:alice@atlanta.com;transport=tcp")
    b = a.replace()
    assert a == b
    assert hash(a) == hash(b)
    assert a != parse_uri("sip:alice@atlanta.com;transport=udp")
    assert len({a, b, parse_uri("sip:alice@atlanta.com;transport=tcp")}) == 1


def test_frozen() -> None:
    uri = parse_uri("sip:a@b")
    with pytest.raises(AttributeError):
        uri.host = "c"  # type: ignore[misc]


# --- hypothesis --------------------------------------------------------------------------

_USER = st.lists(
    st.one_of(
        st.text(alphabet="abcXYZ019-_.!~*'()&=+$,;?/", min_size=1, max_size=6),
        st.sampled_from(["%20", "%40", "%3A", "%00", "%ff"]),
    ),
    min_size=1,
    max_size=4,
).map("".join)
_PASSWORD = st.text(alphabet="abcXYZ019-_.!~*'()&=+$,", max_size=6)
_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,6}[a-z0-9])?", fullmatch=True)
_TOPLABEL = st.from_regex(r"[a-zA-Z]([a-z0-9\-]{0,6}[a-z0-9])?", fullmatch=True)
_HOSTNAME = st.builds(
    lambda labels, top: ".".join([*labels, top]), st.lists(_LABEL, max_size=3), _TOPLABEL
)
_IPV4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_IPV6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")
_PCHUNK = st.text(alphabet="abcXYZ019-_.!~*'()[]/:&+$", min_size=1, max_size=6)
_PARAMS = st.lists(st.tuples(_PCHUNK, st.one_of(st.none(), _PCHUNK)), max_size=4)
_HCHUNK = st.text(alphabet="abcXYZ019-_.!~*'()[]/?:+$", min_size=1, max_size=6)
_HEADERS = st.lists(st.tuples(_HCHUNK, st.text(alphabet="abc019%:", max_size=4)), max_size=3)


@settings(max_examples=300)
@given(
    st.sampled_from(["sip", "sips"]),
    st.one_of(st.none(), st.tuples(_USER, st.one_of(st.none(), _PASSWORD))),
    st.one_of(_HOSTNAME, _IPV4, _IPV6),
    st.one_of(st.none(), st.integers(0, 65535)),
    _PARAMS,
    _HEADERS,
)
def test_roundtrip_generated_sip_uris(scheme, userinfo, host, port, params, headers) -> None:
    headers = [(n, v.replace("%", "%25")) for n, v in headers]
    text = scheme + ":"
    if userinfo is not None:
        user, password = userinfo
        text += user + ("" if password is None else ":" + password) + "@"
    text += host
    if port is not None:
        text += f":{port}"
    text += "".join(f";{n}" if v is None else f";{n}={v}" for n, v in params)
    header_text = "&".join(f"{n}={v}" for n, v in headers) if headers else None
    if header_text is not None:
        text += "?" + header_text
    uri = parse_uri(text)
    assert str(uri) == text
    assert uri.serialize() == text
    assert uri.scheme == scheme
    assert uri.host == host
    assert uri.port == port
    assert uri.params.items() == params
    assert uri.headers == header_text
    if userinfo is not None:
        assert (uri.user, uri.password) == userinfo
    else:
        assert uri.user is None
    assert parse_uri(uri.replace().serialize()) == uri


_SIPISH = st.text(
    alphabet=list("sipteSIP:@;=?&<>\"' \t,[]%.-+/0129abcfAF\x00\x7fé:*#()"), max_size=40
)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), _SIPISH, _SIPISH.map(lambda s: "sip:" + s)))
def test_never_raises_anything_but_sip_parse_error(text: str) -> None:
    try:
        uri = parse_uri(text)
    except SIPParseError as exc:
        assert exc.status == 400 and exc.reason
        return
    assert str(uri) == text
    # whatever parses re-serialises to something that parses to the same value
    assert parse_uri(uri.replace().serialize()) == uri
