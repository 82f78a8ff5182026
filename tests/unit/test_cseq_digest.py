"""Tests of ksrpy.sip.cseq and ksrpy.sip.digest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.sip.cseq import MAX_CSEQ, parse_cseq
from ksrpy.sip.digest import DigestCredentials, parse_credentials
from ksrpy.sip.errors import SIPParseError

# --- CSeq --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4711 INVITE", (4711, "INVITE")),
        ("1 ACK", (1, "ACK")),
        ("0 OPTIONS", (0, "OPTIONS")),  # RFC 3261 §8.1.1.5: any 32-bit value below 2**31
        ("2147483647 BYE", (MAX_CSEQ, "BYE")),
        ("0009\r\n  INVITE", (9, "INVITE")),  # RFC 4475 §3.1.1.1 wsinv
        ("  314159   INVITE  ", (314159, "INVITE")),
        ("7\tREGISTER", (7, "REGISTER")),
        (
            "139122385 !interesting-Method0123456789_*+`.%indeed'~",
            (139122385, "!interesting-Method0123456789_*+`.%indeed'~"),
        ),  # RFC 4475 §3.1.1.2
        ("29344 RE%47IST%45R", (29344, "RE%47IST%45R")),  # RFC 4475 §3.1.1.5
        ("0000000000000000000000042 invite", (42, "invite")),  # method case is kept
    ],
)
def test_valid(text: str, expected: tuple[int, str]) -> None:
    assert parse_cseq(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2147483648 INVITE", "too large"),
        ("36893488147419103232 REGISTER", "too large"),  # RFC 4475 §3.1.2.4 scalar02
        ("9292394834772304023312 OPTIONS", "too large"),  # RFC 4475 §3.1.2.5 scalarlg
        ("1" * 5000 + " INVITE", "too large"),
        ("", "empty"),
        ("   ", "empty"),
        ("INVITE", "sequence number"),
        ("1", "no method"),
        ("1 ", "no method"),
        ("1INVITE", "sequence number"),
        ("-1 INVITE", "sequence number"),
        ("+1 INVITE", "sequence number"),
        ("1.5 INVITE", "sequence number"),
        ("\uff11 INVITE", "sequence number"),  # FULLWIDTH DIGIT ONE is not a DIGIT
        ("\u0661 INVITE", "sequence number"),  # ARABIC-INDIC DIGIT ONE
        ("1 INV ITE", "not a token"),
        ("1 INVITE extra", "not a token"),
        ("1 <INVITE>", "not a token"),
        ("1 INVITÉ", "not a token"),
        ("1\nINVITE", "fold"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    with pytest.raises(SIPParseError, match=reason) as exc:
        parse_cseq(text)
    assert exc.value.status == 400


@given(st.integers(0, MAX_CSEQ), st.text(alphabet="ABCINVTEabc-.!%*_+`'~", min_size=1, max_size=12))
def test_cseq_roundtrip(number: int, method: str) -> None:
    assert parse_cseq(f"{number} {method}") == (number, method)


# --- Digest credentials ------------------------------------------------------------------

RFC2617_STYLE = (
    'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
    ' uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",'
    ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_digest_full() -> None:
    cred = parse_credentials(RFC2617_STYLE)
    assert cred.is_digest
    assert cred.scheme == "Digest"
    assert cred.username == "bob"
    assert cred.realm == "biloxi.com"
    assert cred.nonce == "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    assert cred.uri == "sip:bob@biloxi.com"
    assert cred.qop == "auth"
    assert cred.nc == "00000001"
    assert cred.cnonce == "0a4f113b"
    assert cred.response == "6629fae49393a05397450978507c4ef1"
    assert cred.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert cred.algorithm is None
    assert cred.rest.startswith('username="bob"')


def test_digest_rfc3261_example() -> None:
    # RFC 3261 §20.28 Proxy-Authorization example
    cred = parse_credentials(
        'Digest username="Alice", realm="atlanta.com",\r\n nonce="c60f3082ee1212b402a21831ae",'
        '\r\n response="245f23415f11432b3434341c022"'
    )
    assert (cred.username, cred.realm, cred.nonce, cred.response) == (
        "Alice",
        "atlanta.com",
        "c60f3082ee1212b402a21831ae",
        "245f23415f11432b3434341c022",
    )


def test_digest_details() -> None:
    cred = parse_credentials(
        'digest  UserName = "a \\"quoted\\" \\\\ name" ,REALM="",algorithm=MD5-sess,'
        ' qop="auth", uri=sip:bob@biloxi.com , x-extension=tok'
    )
    assert cred.scheme == "digest" and cred.is_digest
    assert cred.username == 'a "quoted" \\ name'
    assert cred.realm == ""
    assert cred.algorithm == "MD5-sess"
    assert cred.qop == "auth"  # quoted or not, the value is the same
    assert cred.uri == "sip:bob@biloxi.com"  # unquoted URI tolerated
    assert cred.params["x-extension"] == "tok"
    assert set(cred.params) == {"username", "realm", "algorithm", "qop", "uri", "x-extension"}


def test_digest_empty_list_elements_tolerated() -> None:
    cred = parse_credentials('Digest ,username="a",, realm="b",')
    assert cred.params == {"username": "a", "realm": "b"}


def test_other_schemes_keep_rest() -> None:
    # RFC 4475 §3.3.7 regaut01
    cred = parse_credentials("NoOneKnowsThisScheme opaque-data=here")
    assert cred == DigestCredentials("NoOneKnowsThisScheme", {}, "opaque-data=here")
    assert not cred.is_digest
    assert cred.username is None
    basic = parse_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert (basic.scheme, basic.rest) == ("Basic", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert parse_credentials("Bearer").rest == ""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "auth scheme"),
        ('"Digest" username="a"', "auth scheme"),
        ("Digest", "without parameters"),
        ("Digest ", "without parameters"),
        ("Digest ,", "without parameters"),
        ('Digest username="a', "unterminated"),
        ("Digest username", "needs '=value'"),
        ("Digest username=", "no value"),
        ('Digest username="a" realm="b"', "expected ','"),
        ('Digest username="a", username="b"', "appears twice"),
        ('Digest username="a", USERNAME="b"', "appears twice"),
        ("Digest =x", "parameter name"),
        ('Digest username="a\x07"', "unterminated"),
        ('Digest username="a"\r\nrealm="b"', "fold"),
        ('Digestusername="a"', "followed by a space"),
    ],
)
def test_digest_invalid(text: str, reason: str) -> None:
    with pytest.raises(SIPParseError, match=reason) as exc:
        parse_credentials(text)
    assert exc.value.status == 400


_NAME = st.text(alphabet="abcxyz-_", min_size=1, max_size=8)
_VALUE = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cc"]), max_size=20
)


@given(st.dictionaries(_NAME, _VALUE, min_size=1, max_size=6))
def test_digest_roundtrip(params: dict[str, str]) -> None:
    def quote(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = "Digest " + ", ".join(f"{k}={quote(v)}" for k, v in params.items())
    assert parse_credentials(text).params == params


_SIPISH = st.text(alphabet=list('Digest ugnam=",\\\t\r\nabc019:@-é\x00'), max_size=50)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=50), _SIPISH, _SIPISH.map(lambda s: "Digest " + s)))
def test_never_raises_anything_but_sip_parse_error(text: str) -> None:
    for fn in (parse_cseq, parse_credentials):
        try:
            fn(text)
        except SIPParseError as exc:
            assert exc.status == 400 and exc.reason
