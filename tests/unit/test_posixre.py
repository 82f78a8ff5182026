"""The POSIX regex translator (ksrpy.util.posixre): ERE and BRE as Kamailio's regcomp reads them."""

from __future__ import annotations

import pytest

from ksrpy.util.posixre import PosixRegexError, compile_bre, compile_ere


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("^sip:[0-9]+@", "sip:123@x", True), ("^sip:[0-9]+@", "sip:abc@x", False),
    ("^SIP:ALICE@", "sip:alice@x", True),             # case-insensitive
    ("a|b", "xbx", True), ("[[:digit:]]{3}", "ab123", True), ("[[:digit:]]{3}", "ab12", False),
    ("x$", "abx", True), ("x$", "ax\n", False), ("[a\\]", "\\", True), ("*x", "a*x", True),
])
def test_ere(pattern: str, text: str, hit: bool) -> None:
    assert bool(compile_ere(pattern).search(text)) is hit


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("^sip:a+b@", "sip:a+b@x", True), ("^sip:a+b@", "sip:aab@x", False),   # + is literal
    ("^sip:a\\+b@", "sip:aab@x", True), ("^sip:ALICE@", "sip:alice@x", False),
    ("\\(ab\\)*c\\{2\\}", "ababcc", True), ("a|b", "a|b", True), ("a|b", "a", False),
    ("a\\|b", "b", True), ("*x", "*x", True), ("a{2}", "a{2}", True), ("a$b", "a$b", True),
])
def test_bre(pattern: str, text: str, hit: bool) -> None:
    assert bool(compile_bre(pattern).search(text)) is hit


@pytest.mark.parametrize("pattern", ["[abc", "[[:nope:]]", "(a", "a\\"])
def test_bad_ere(pattern: str) -> None:
    with pytest.raises(PosixRegexError):
        compile_ere(pattern)


def test_ere_flags_case_and_newline() -> None:
    assert compile_ere("^ALICE", icase=False).search("alice") is None
    assert compile_ere("^ALICE").search("alice") is not None
    assert compile_ere("^b", newline=True).search("a\nb") is not None   # REG_NEWLINE
    assert compile_ere("^b").search("a\nb") is None
    assert isinstance(PosixRegexError("x"), ValueError)
