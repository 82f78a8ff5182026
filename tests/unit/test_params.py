"""Tests of ksrpy.sip.params: parameter lists, quoting and quote-aware splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.sip.errors import SIPParseError, SIPUsageError
from ksrpy.sip.params import (
    Params,
    is_token,
    parse_params,
    parse_uri_params,
    quote_string,
    split_header_values,
    split_quoted,
    unfold,
    unquote_string,
)

# --- header parameters -------------------------------------------------------------------


def test_basic_list() -> None:
    p = parse_params(";a=b;flag;Tag=XyZ")
    assert p.items() == [("a", "b"), ("flag", None), ("Tag", "XyZ")]
    assert p.get("a") == "b"
    assert p.get("flag") is None
    assert "flag" in p
    assert "missing" not in p
    assert p.get("missing", "dflt") == "dflt"
    assert str(p) == ";a=b;flag;Tag=XyZ"
    assert len(p) == 3
    assert list(p) == ["a", "flag", "Tag"]
    assert p.keys() == ["a", "flag", "Tag"]


def test_names_are_case_insensitive_but_kept_as_written() -> None:
    p = parse_params(";TAG=abc;Lr")
    assert p.get("tag") == "abc"
    assert p["Tag"] == "abc"
    assert "lr" in p and "LR" in p
    assert str(p) == ";TAG=abc;Lr"


def test_getitem_missing_raises_keyerror() -> None:
    with pytest.raises(KeyError):
        parse_params(";a=b")["c"]


def test_leading_semicolon_optional() -> None:
    assert parse_params("a=b;c") == parse_params(";a=b;c")
    assert str(parse_params("a=b;c")) == ";a=b;c"


def test_empty() -> None:
    p = parse_params("")
    assert not p
    assert str(p) == ""
    assert p.items() == []


def test_quoted_values_are_unquoted_and_unescaped() -> None:
    p = parse_params(r';x="a \"b\" \\ c";y="";z="semi;colon,comma"')
    assert p.get("x") == 'a "b" \\ c'
    assert p.get_raw("x") == r'"a \"b\" \\ c"'
    assert p.get("y") == ""
    assert p.get("z") == "semi;colon,comma"
    assert str(p) == r';x="a \"b\" \\ c";y="";z="semi;colon,comma"'


def test_quoted_value_with_utf8() -> None:
    # RFC 4475 §3.1.1.2 (intmeth): fromParam''~+*_!.-%="работающий"
    p = parse_params(";fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.")
    assert p.get("fromparam''~+*_!.-%") == "работающий"
    assert p.get("tag") == "_token~1'+`*%!-."


def test_whitespace_around_separators() -> None:
    # RFC 3261 §25.1: SEMI and EQUAL allow SWS; RFC 4475 §3.1.1.1 (wsinv) uses it.
    p = parse_params(" ;   tag    = 1918181833n ; q = 0.33 ;flag ")
    assert p.items() == [("tag", "1918181833n"), ("q", "0.33"), ("flag", None)]


def test_folded_value() -> None:
    p = parse_params(" ;\r\n  tag = 98asjd8")
    assert p.get("tag") == "98asjd8"


def test_ipv6_values() -> None:
    # RFC 5118 §4.5: received=[2001:db8::9:255]; gen-value may be a host
    p = parse_params(";received=[2001:db8::9:255];maddr=2001:db8::1")
    assert p.get("received") == "[2001:db8::9:255]"
    assert p.get("maddr") == "2001:db8::1"


@pytest.mark.parametrize(
    "text",
    [
        ";;",
        ";a;;b",
        ";a=",
        ";a= ;b",
        ";=b",
        ";a=b c",
        ';a="unterminated',
        ";a=<x>",
        ";a b",
        ";a=b;",
        ";a=b,c",
        ';a="x"y',
        ";a=\x01",
        ';a="bell\x07"',
        ";a=b\nc",
        "a b",
        ";a@b=c",
    ],
)
def test_invalid_header_params(text: str) -> None:
    with pytest.raises(SIPParseError) as exc:
        parse_params(text)
    assert exc.value.status == 400
    assert exc.value.reason


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(SIPParseError, match="empty parameter name"):
        parse_params(";a;;b")
    with pytest.raises(SIPParseError, match="'=' but no value"):
        parse_params(";tag=")
    with pytest.raises(SIPParseError, match="unterminated quoted string"):
        parse_params(';x="abc')
    with pytest.raises(SIPParseError, match="expected ';'"):
        parse_params(";a=b c")


# --- URI parameters ----------------------------------------------------------------------


def test_uri_params_escaped_names_match_unescaped() -> None:
    # RFC 4475 §3.1.1.3 (esc01): <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
    p = parse_uri_params(";%6C%72;n%61me=v%61lue%25%34%31")
    assert "lr" in p
    assert p.get("name") == "v%61lue%25%34%31"
    assert str(p) == ";%6C%72;n%61me=v%61lue%25%34%31"
    assert p.is_uri


def test_uri_params_paramchars() -> None:
    p = parse_params(
        ";gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6;x=[::1];m=a&b+c$d/e", uri=True
    )
    assert p.get("gr") == "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    assert p.get("x") == "[::1]"
    assert p.get("m") == "a&b+c$d/e"


@pytest.mark.parametrize(
    "text",
    [";a=", ";=b", "; lr", ";a b", ';a="x"', ";a=%zz", ";a=%4", ";a=b=c", ";a,b", ";a;;b", ";a?b"],
)
def test_invalid_uri_params(text: str) -> None:
    with pytest.raises(SIPParseError):
        parse_uri_params(text)


def test_uri_params_cached_lists_are_equal_and_immutable() -> None:
    a = parse_uri_params(";transport=tcp;lr")
    b = parse_uri_params("sip:x@y;transport=tcp;lr", 7)
    assert a == b
    c = a.set("transport", "udp")
    assert a.get("transport") == "tcp"
    assert c.get("transport") == "udp"
    assert parse_uri_params(";transport=tcp;lr").get("transport") == "tcp"


# --- editing -----------------------------------------------------------------------------


def test_set_replaces_in_place_and_drops_duplicates() -> None:
    p = parse_params(";a=1;b=2;A=3;c")
    q = p.set("a", "9")
    assert str(q) == ";a=9;b=2;c"
    assert str(p) == ";a=1;b=2;A=3;c"  # unchanged


def test_set_appends_and_flags() -> None:
    p = parse_params(";a=1")
    assert str(p.set("rport", None)) == ";a=1;rport"
    assert str(p.set("a", None)) == ";a"


def test_set_quotes_when_needed() -> None:
    p = Params().set("x", 'he said "hi"').set("y", "tok").set("z", "")
    assert str(p) == r';x="he said \"hi\"";y=tok;z=""'
    assert parse_params(str(p)) == p
    assert parse_params(str(p)).get("x") == 'he said "hi"'


def test_set_rejects_bad_input() -> None:
    with pytest.raises(SIPUsageError):
        Params().set("bad name", "x")
    with pytest.raises(SIPUsageError):
        Params().set("x", "line\r\nbreak")
    with pytest.raises(SIPUsageError):
        Params(uri=True).set("bad=name", "x")
    with pytest.raises(SIPUsageError):
        Params(uri=True).set("x", "")


def test_uri_set_escapes() -> None:
    p = Params(uri=True).set("x", "a b;c")
    assert str(p) == ";x=a%20b%3Bc"
    assert parse_uri_params(str(p)) == p


def test_remove() -> None:
    p = parse_params(";a=1;B=2;b=3;c")
    assert str(p.remove("b")) == ";a=1;c"
    assert str(p.remove("zzz")) == str(p)


def test_of_and_equality_and_hash() -> None:
    p = Params.of(("tag", "x"), ("lr", None))
    assert str(p) == ";tag=x;lr"
    assert p == parse_params(";TAG=x;LR")
    assert hash(p) == hash(parse_params(";TAG=x;LR"))
    assert p != parse_params(";tag=y;lr")
    assert p != "x"


# --- helpers -----------------------------------------------------------------------------


def test_quote_unquote() -> None:
    assert quote_string('a"b\\c') == r'"a\"b\\c"'
    assert unquote_string(r'"a\"b\\c"') == 'a"b\\c'
    assert quote_string("bell\x07") == '"bell\\\x07"'
    assert is_token("INVITE") and not is_token("IN VITE") and not is_token("")


def test_unfold() -> None:
    assert unfold("a\r\n b") == "a b"
    assert unfold("a \r\n\t b") == "a b"
    assert unfold("a\n b") == "a b"
    with pytest.raises(SIPParseError):
        unfold("a\r\nb")
    with pytest.raises(SIPParseError):
        unfold("a\rb")


def test_split_quoted() -> None:
    assert split_quoted('"a,b" <sip:x@y>, <sip:z@w;p=1,2>, c', ",") == [
        '"a,b" <sip:x@y>',
        " <sip:z@w;p=1,2>",
        " c",
    ]
    assert split_quoted(r'"a\",b",c', ",") == [r'"a\",b"', "c"]
    assert split_quoted("a;b;c", ";") == ["a", "b", "c"]
    assert split_quoted('a ;; "x;;y";; b', ";;") == ["a ", ' "x;;y"', " b"]
    assert split_quoted("", ",") == [""]


def test_split_quoted_errors() -> None:
    with pytest.raises(SIPParseError, match="unterminated"):
        split_quoted('"abc, d', ",")
    with pytest.raises(SIPParseError, match="'<'"):
        split_quoted("<sip:a@b, c", ",")
    with pytest.raises(SIPUsageError):
        split_quoted("a", "")


def test_split_header_values() -> None:
    assert split_header_values(' <sip:a@b> ,\r\n "x, y" <sip:c@d>') == [
        "<sip:a@b>",
        '"x, y" <sip:c@d>',
    ]
    for bad in ["", "  ", "a,,b", "a,", ",a"]:
        with pytest.raises(SIPParseError):
            split_header_values(bad)


# --- properties --------------------------------------------------------------------------

_TOKEN = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=1, max_size=8)
_PARAM_LISTS = st.lists(st.tuples(_TOKEN, st.one_of(st.none(), _TOKEN)), max_size=6)


@given(_PARAM_LISTS)
def test_roundtrip_token_params(pairs: list[tuple[str, str | None]]) -> None:
    text = "".join(f";{n}" if v is None else f";{n}={v}" for n, v in pairs)
    p = parse_params(text)
    assert str(p) == text
    assert p.items() == pairs
    assert parse_params(str(p)) == p


@given(_TOKEN, st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20))
def test_roundtrip_any_value_via_set(name: str, value: str) -> None:
    p = Params().set(name, value)
    q = parse_params(str(p))
    assert q.get(name) == value
    assert q == p


_URI_CHUNK = st.text(alphabet="abcXYZ019-_.!~*'()[]/:&+$", min_size=1, max_size=8)


@given(st.lists(st.tuples(_URI_CHUNK, st.one_of(st.none(), _URI_CHUNK)), max_size=6))
def test_roundtrip_uri_params(pairs: list[tuple[str, str | None]]) -> None:
    text = "".join(f";{n}" if v is None else f";{n}={v}" for n, v in pairs)
    p = parse_uri_params(text)
    assert str(p) == text
    assert p.items() == pairs


_SIPISH = st.text(alphabet=list(";=\" \\\t\r\n,<>[]:%@abcAZ019-.!*_+`'~\x00\x7fé"), max_size=40)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), _SIPISH))
def test_params_never_raise_anything_else(text: str) -> None:
    for fn in (parse_params, parse_uri_params, split_header_values):
        try:
            fn(text)
        except SIPParseError as exc:
            assert exc.status == 400 and exc.reason
    try:
        split_quoted(text, ",")
    except SIPParseError:
        pass
