"""Tests of ksrpy.sip.nameaddr: name-addr / addr-spec values and Contact lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.sip.errors import SIPParseError, SIPUsageError
from ksrpy.sip.nameaddr import (
    MAX_EXPIRES,
    NameAddr,
    parse_contacts,
    parse_name_addr,
    split_header_values,
)
from ksrpy.sip.params import Params
from ksrpy.sip.uri import parse_uri

# --- the four forms ----------------------------------------------------------------------


def test_quoted_display_with_escapes() -> None:
    text = r'"Quoted \"x\" Name" <sip:a@b.example.com>;tag=1'
    na = parse_name_addr(text)
    assert na.display == 'Quoted "x" Name'
    assert str(na.uri) == "sip:a@b.example.com"
    assert na.tag == "1"
    assert str(na) == text


def test_token_display() -> None:
    na = parse_name_addr("Name Tokens <sip:alice@atlanta.com>")
    assert na.display == "Name Tokens"
    assert na.uri.user == "alice"
    assert not na.params
    assert na.tag is None


def test_bracketed_only() -> None:
    na = parse_name_addr("<sip:alice@atlanta.com;transport=tcp>;tag=88sja8x")
    assert na.display is None
    assert na.uri.transport == "tcp"  # URI parameter
    assert na.params.items() == [("tag", "88sja8x")]  # header parameter
    assert "transport" not in na.params


def test_bare_addr_spec_params_belong_to_header() -> None:
    # RFC 3261 §20.10: without <>, parameters after the URI are header parameters.
    na = parse_name_addr("sip:alice@atlanta.com;transport=tcp;tag=x")
    assert na.display is None
    assert str(na.uri) == "sip:alice@atlanta.com"
    assert not na.uri.params
    assert na.params.items() == [("transport", "tcp"), ("tag", "x")]
    assert na.tag == "x"
    assert str(na) == "sip:alice@atlanta.com;transport=tcp;tag=x"
    assert na.serialize() == "<sip:alice@atlanta.com>;transport=tcp;tag=x"


def test_rfc3261_examples() -> None:
    # RFC 3261 §20.20 / §20.39 / §20.10 examples
    frm = parse_name_addr('"A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s')
    assert frm.display == "A. G. Bell" and frm.tag == "a48s"
    frm = parse_name_addr("sip:+12125551212@server.phone2net.com;tag=887s")
    assert frm.uri.user == "+12125551212" and frm.tag == "887s"
    frm = parse_name_addr("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8")
    assert frm.display == "Anonymous" and frm.tag == "hyh8"
    to = parse_name_addr("The Operator <sip:operator@cs.columbia.edu>;tag=287447")
    assert to.display == "The Operator"
    to = parse_name_addr("sip:+12125551212@server.phone2net.com")
    assert to.tag is None


# --- RFC 4475 ----------------------------------------------------------------------------


def test_rfc4475_wsinv() -> None:
    # §3.1.1.1: whitespace and folding everywhere
    to = parse_name_addr("\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
    assert str(to.uri) == "sip:vivekg@chair-dnrc.example.com"
    assert to.tag == "1918181833n"
    frm = parse_name_addr(
        '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8'
    )
    assert frm.display == 'J Rosenberg \\"'
    assert frm.tag == "98asjd8"
    route = parse_name_addr("\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
    assert route.uri.params.items() == [
        ("lr", None),
        ("unknownwith", "value"),
        ("unknown-no-value", None),
    ]


def test_rfc4475_intmeth() -> None:
    # §3.1.1.2: escaped control characters in the display name, odd tokens everywhere
    to = parse_name_addr(
        '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" '
        "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>"
    )
    assert to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert to.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    reserialised = to.serialize()
    assert parse_name_addr(reserialised) == to
    frm = parse_name_addr(
        "token1~` token2'+_ token3*%!.- <sip:mundane@example.com> "
        ";fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-."
    )
    assert frm.display == "token1~` token2'+_ token3*%!.-"
    assert frm.params.get("fromParam''~+*_!.-%") == "работающий"
    assert frm.tag == "_token~1'+`*%!-."


def test_rfc4475_esc01_and_escnull_and_esc02() -> None:
    assert parse_name_addr("sip:%75se%72@example.com").uri.user_unescaped == "user"
    frm = parse_name_addr("<sip:I%20have%20spaces@example.net>;tag=938")
    assert frm.uri.user_unescaped == "I have spaces"
    frm = parse_name_addr("sip:null-%00-null@example.com;tag=839923423")
    assert frm.uri.user == "null-%00-null" and frm.tag == "839923423"
    assert parse_name_addr('"%Z%45" <sip:resource@example.com>').display == "%Z%45"


def test_rfc4475_lwsdisp_no_space_before_bracket() -> None:
    # §3.1.1.6
    na = parse_name_addr("caller<sip:caller@example.com>;tag=323")
    assert na.display == "caller"
    assert na.tag == "323"


def test_rfc4475_longreq() -> None:
    # §3.1.1.7
    to = parse_name_addr(
        '"I have a user name of ' + "extreme" * 10 + ' proportion"<sip:user@example.com:6000;'
        "unknownparam1=very" + "long" * 20 + "value;longparam" + "name" * 25 + "=shortvalue;"
        "very" + "long" * 25 + "ParameterNameWithNoValue>"
    )
    assert to.display.startswith("I have a user name of extremeextreme")
    assert to.uri.port == 6000
    assert len(to.uri.params) == 3
    frm = parse_name_addr(
        "sip:" + "amazinglylongcallername" * 5 + "@example.net;tag=12982982982982"
        ";unknownheaderparam" + "name" * 20 + "=unknowheaderparam" + "value" * 15 + ";"
        "unknownValueless" + "paramname" * 10
    )
    assert frm.tag == "12982982982982"
    assert len(frm.params) == 3


def test_rfc4475_unknown_schemes() -> None:
    # §3.3.4 unksm2
    assert parse_name_addr("isbn:2983792873").uri.opaque == "2983792873"
    frm = parse_name_addr("<http://www.example.com>;tag=3234233")
    assert frm.uri.scheme == "http" and frm.tag == "3234233"
    assert parse_name_addr("<name:John_Smith>").uri.scheme == "name"


def test_rfc4475_cparam01_unknown_contact_param() -> None:
    # §3.3.12: the parameter is a contact parameter, not a URI parameter
    (c,) = parse_contacts("sip:+19725552222@gw1.example.net;unknownparam")
    assert str(c.uri) == "sip:+19725552222@gw1.example.net"
    assert "unknownparam" in c.params


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # §3.1.2.6 quotbal
        ('"Mr. J. User <sip:j.user@example.com>', "unterminated quoted string"),
        # §3.1.2.13 regbadct
        ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "must be enclosed in <>"),
        # §3.1.2.14 badaspec
        ('"Watson, Thomas" < sip:t.watson@example.org >', "whitespace inside"),
        # §3.1.2.15 baddn
        ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "require quoting"),
        # §3.1.2.1 badinv01
        ('"Joe" <sip:joe@example.org>;;;;', "empty parameter name"),
        ("sip:+1234;npdi@host;tag=1", "user part must be enclosed"),
        ("sip:a@b;user=phone@x", "user part must be enclosed"),
        ("", "empty address"),
        ("   ", "empty address"),
        ("<sip:a@b", "without a matching '>'"),
        ('"x" sip:a@b', "expected '<'"),
        ('"x"', "expected '<'"),
        ("<sip:a@b>x", "expected ';'"),
        ("<sip:a@b>;tag", ""),
        ("<sip:a@b>;tag=", "no value"),
        ("<>", "missing scheme"),
        ("<sip:a@b >", "whitespace inside"),
        ("Bob sip:bob@x", "whitespace in address"),
        ('"bell\x07" <sip:a@b>', "control character"),
        ("<sip:a@b>\r\nX", "fold"),
        ("Name\x01 <sip:a@b>", "require quoting"),
        ('Bob "The" Builder <sip:a@b>', "plain words or one quoted"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    if text == "<sip:a@b>;tag":
        # a valueless tag is syntactically fine
        assert parse_name_addr(text).params.items() == [("tag", None)]
        return
    with pytest.raises(SIPParseError, match=reason) as exc:
        parse_name_addr(text)
    assert exc.value.status == 400


def test_bare_addr_spec_with_bracket_in_quoted_param() -> None:
    # RFC 5626-style instance id in a bare Contact
    na = parse_name_addr(
        'sip:a@192.0.2.1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    )
    assert str(na.uri) == "sip:a@192.0.2.1"
    assert na.params.get("+sip.instance") == "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"


def test_backslash_fold_in_quoted_display() -> None:
    # RFC 3261 §7.3.1: the fold becomes one SP before interpretation, so a backslash followed
    # by a fold is an escaped space once unfolded.
    assert parse_name_addr('"a\\\r\n b" <sip:a@b>').display == "a b"


def test_non_ascii_token_display_tolerated() -> None:
    assert parse_name_addr("Jürgen Müller <sip:j@example.de>").display == "Jürgen Müller"


# --- round trips and editing -------------------------------------------------------------

ROUNDTRIP = [
    '"Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    "Bob <sip:bob@biloxi.example.com>",
    "<sip:carol@chicago.example.com>",
    "sip:carol@chicago.example.com;tag=1",
    '"" <sip:anonymous@anonymous.invalid>;tag=x',
    '"A \\"B\\" \\\\ C" <sips:[2001:db8::1]:5061;transport=tls>;tag=a;expires=60'
    ';+sip.instance="<urn:x>"',
    "<tel:+1-201-555-0123;phone-context=example.com>;tag=9",
    "<urn:service:sos>",
]


@pytest.mark.parametrize("text", ROUNDTRIP)
def test_roundtrip(text: str) -> None:
    na = parse_name_addr(text)
    assert str(na) == text
    again = parse_name_addr(na.serialize())
    assert again == na


def test_replace_and_with_tag() -> None:
    na = parse_name_addr("Bob <sip:bob@biloxi.example.com>")
    tagged = na.with_tag("a6c85cf")
    assert str(tagged) == '"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf'
    assert str(na) == "Bob <sip:bob@biloxi.example.com>"
    anon = na.replace(display=None, uri=parse_uri("sip:anonymous@anonymous.invalid"))
    assert str(anon) == "<sip:anonymous@anonymous.invalid>"
    quoted = na.replace(display='Say "hi"')
    assert str(quoted) == r'"Say \"hi\"" <sip:bob@biloxi.example.com>'
    assert parse_name_addr(str(quoted)).display == 'Say "hi"'
    moved = na.replace(uri=na.uri.replace(port=5070))
    assert str(moved) == '"Bob" <sip:bob@biloxi.example.com:5070>'
    assert str(na.with_param("lr", None)) == '"Bob" <sip:bob@biloxi.example.com>;lr'
    with pytest.raises(SIPUsageError):
        na.replace(display="line\nbreak")


def test_constructed() -> None:
    na = NameAddr(None, parse_uri("sip:a@b.example.com"), Params.of(("tag", "t1")))
    assert str(na) == "<sip:a@b.example.com>;tag=t1"
    assert NameAddr("X", parse_uri("sip:a@b")).serialize() == '"X" <sip:a@b>'


# --- split_header_values / parse_contacts ------------------------------------------------


def test_split_header_values() -> None:
    text = '"Bell, Alexander" <sip:a.g.bell@example.com>;tag=43, <sip:x@y;a=1>,sip:z@w'
    assert split_header_values(text) == [
        '"Bell, Alexander" <sip:a.g.bell@example.com>;tag=43',
        "<sip:x@y;a=1>",
        "sip:z@w",
    ]
    assert split_header_values("<sip:a@b>") == ["<sip:a@b>"]
    with pytest.raises(SIPParseError):
        split_header_values("<sip:a@b>,")
    with pytest.raises(SIPParseError):
        split_header_values('"unterminated, <sip:a@b>')


def test_contacts_list_and_params() -> None:
    contacts = parse_contacts(
        '"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, '
        '"Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1'
    )
    assert contacts != "*"
    assert [c.q_value for c in contacts] == [0.7, 0.1]
    assert [c.expires for c in contacts] == [3600, None]
    assert contacts[1].uri.scheme == "mailto"


def test_contacts_rfc4475_wsinv() -> None:
    (c,) = parse_contacts(
        '"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n'
        "      newvalue ;\r\n  secondparam ; q = 0.33"
    )
    assert c.display == 'Quoted string ""'
    assert c.params.items() == [("newparam", "newvalue"), ("secondparam", None), ("q", "0.33")]
    assert c.q_value == 0.33


def test_contacts_star() -> None:
    assert parse_contacts("*") == "*"
    assert parse_contacts("  * ") == "*"
    for bad in ["*;expires=0", "*, <sip:a@b>", "<sip:a@b>, *", "**"]:
        with pytest.raises(SIPParseError, match=r"'\*' must be the only"):
            parse_contacts(bad)


def test_contacts_q_and_expires_validation() -> None:
    for q, value in [
        ("0", 0.0),
        ("1", 1.0),
        ("1.000", 1.0),
        ("0.5", 0.5),
        ("0.", 0.0),
        ("0.123", 0.123),
    ]:
        (c,) = parse_contacts(f"<sip:a@b>;q={q}")
        assert c.q_value == value
    for q in ["1.5", "2", "0.1234", "abc", ".5", "-0", "1.001"]:
        with pytest.raises(SIPParseError, match="q must be"):
            parse_contacts(f"<sip:a@b>;q={q}")
    with pytest.raises(SIPParseError, match="q must be"):
        parse_contacts("<sip:a@b>;q")
    for bad in ["-1", "1h", "", "0x10"]:
        with pytest.raises(SIPParseError):
            parse_contacts(f"<sip:a@b>;expires={bad}")
    (c,) = parse_contacts("<sip:a@b>;expires=0")
    assert c.expires == 0


def test_contacts_rfc4475_scalar02_huge_expires_is_rejected() -> None:
    # §3.1.2.4: an over-large expiry may be replaced by a default or rejected; we reject.
    with pytest.raises(SIPParseError, match="larger than 2"):
        parse_contacts("<sip:user@host129.example.com>\r\n  ;expires=280297596632815")
    with pytest.raises(SIPParseError, match="larger than 2"):
        parse_contacts("<sip:u@h>;expires=" + "9" * 5000)
    with pytest.raises(SIPParseError, match="larger than 2"):
        _ = parse_name_addr(f"<sip:u@h>;expires={MAX_EXPIRES + 1}").expires
    (c,) = parse_contacts(f"<sip:u@h>;expires={MAX_EXPIRES}")
    assert c.expires == MAX_EXPIRES
    (c,) = parse_contacts("<sip:u@h>;expires=0000000000000000000060")
    assert c.expires == 60


def test_name_addr_q_and_expires_properties_absent() -> None:
    na = parse_name_addr("<sip:a@b>")
    assert na.q_value is None and na.expires is None


# --- hypothesis --------------------------------------------------------------------------

_DISPLAY = st.one_of(
    st.none(), st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20)
)
_TAG = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=10)


@given(
    _DISPLAY,
    st.sampled_from(["sip:a@b.example.com", "sips:[::1]:5061;lr", "tel:+1-2", "urn:x"]),
    _TAG,
)
def test_roundtrip_generated(display: str | None, uri_text: str, tag: str) -> None:
    na = NameAddr(display, parse_uri(uri_text)).with_tag(tag)
    again = parse_name_addr(str(na))
    assert again.display == display
    assert str(again.uri) == uri_text
    assert again.tag == tag
    assert str(again) == str(na)


_SIPISH = st.text(alphabet=list("sip:@;=?&<>\"' \t\r\n,[]%.-+/019abAF\\*\x00\x7fé"), max_size=50)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=50), _SIPISH, _SIPISH.map(lambda s: "<sip:" + s)))
def test_never_raises_anything_but_sip_parse_error(text: str) -> None:
    for fn in (parse_name_addr, parse_contacts, split_header_values):
        try:
            result = fn(text)
        except SIPParseError as exc:
            assert exc.status == 400 and exc.reason
            continue
        if fn is parse_name_addr:
            assert parse_name_addr(result.serialize()) == result
