"""Strings with pseudo-variables: parsing as Kamailio's pv_parse_format, rendering as xlog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.script import pv as pvmod
from ksrpy.script.pv import PV, PVError, register_class, resolve
from ksrpy.script.pvformat import Format, compile_format
from ksrpy.script.transformations import TransformError
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo

REQ = (
    "INVITE sip:bob@127.0.0.1:5070;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bK-1;rport\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=ft1\r\n'
    "To: <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: cid-42\r\n"
    "CSeq: 17 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)
RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)

#: A fake htable for $sht(table=>key): the key part may hold pseudo-variables.
TABLES: dict[str, dict[str, Any]] = {"t": {"10.9.9.9": "banned", "k": 7}}


def _sht(inner: str) -> PV:
    table, _arrow, key = inner.partition("=>")
    key_format = compile_format(key)

    def get(ctx: Context) -> Any:
        return TABLES.get(table, {}).get(key_format.render(ctx))

    def set_(ctx: Context, value: Any) -> None:
        TABLES.setdefault(table, {})[key_format.render(ctx)] = value

    return PV(f"$sht({inner})", get, set_)


@pytest.fixture(autouse=True)
def sht() -> Iterator[None]:
    previous = pvmod.EXTRA_CLASSES.get("sht")
    register_class("sht", _sht)
    yield
    if previous is None:
        pvmod.EXTRA_CLASSES.pop("sht", None)
    else:
        pvmod.EXTRA_CLASSES["sht"] = previous  # htable's real class, when it was imported
    resolve.cache_clear()


@pytest.fixture
def ctx() -> Context:
    return Context(Engine(), SIPMessage.parse(REQ.encode()), RCV)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$fU@$fd", "alice@atlanta.example.com"),
        ("$si:$sp", "10.9.9.9:40000"),
        ("$rU-$rd", "bob-127.0.0.1"),
        ("$fU$fd", "aliceatlanta.example.com"),
        ("[$(ru{uri.user})]", "[bob]"),
        ("[$(ru{uri.user}{s.toupper})]", "[BOB]"),
        ("from $(fu{uri.host}{s.len}) chars", "from 19 chars"),
        ("$sht(t=>$si)", "banned"),
        ("$(sht(t=>$si){s.toupper})", "BANNED"),
        ("$sht(t=>k)+1", "7+1"),
        ("cost 5$$", "cost 5$"),
        ("$$fU", "$fU"),
        ("$($)", "$"),
        ("[$du]", "[<null>]"),
        ("[$var(n)]", "[0]"),
        ("[$(du{s.len})]", "[]"),  # a failed transformation prints nothing, as xlog
        ("$hdr(Call-ID)/$cs", "cid-42/17"),
        ("", ""),
    ],
)
def test_render(ctx: Context, text: str, expected: str) -> None:
    assert compile_format(text).render(ctx) == expected


def test_values_change_per_message(ctx: Context) -> None:
    fmt = compile_format("n=$var(n) $avp(x)")
    assert fmt.render(ctx) == "n=0 <null>"
    resolve("$var(n)").set(ctx, 5)  # type: ignore[misc]
    resolve("$avp(x)").set(ctx, "v")  # type: ignore[misc]
    assert fmt.render(ctx) == "n=5 v"
    other = Context(Engine(), SIPMessage.parse(REQ.encode()), RCV)
    assert fmt.render(other) == "n=0 <null>"


def test_constant_formats() -> None:
    fmt = compile_format("no variables here")
    assert isinstance(fmt, Format)
    assert fmt.is_constant and fmt.constant == "no variables here" and fmt.pvs == ()
    dollar = compile_format("price: 5$$")
    assert dollar.is_constant and dollar.constant == "price: 5$"
    assert compile_format("").is_constant and compile_format("").constant == ""
    varying = compile_format("x $si")
    assert not varying.is_constant and varying.constant is None


def test_pvs_lists_the_resolved_pvs() -> None:
    fmt = compile_format("$fU@$fd $(ru{uri.user}) $sht(t=>$si)")
    assert [p.name for p in fmt.pvs] == ["$fU", "$fd", "$(ru{uri.user})", "$sht(t=>$si)"]
    assert fmt.pvs[0] is resolve("$fU")
    assert fmt.parts[1] == "@"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello $nosuch", "unknown pseudo-variable \\$nosuch"),
        ("from $fd.", "unknown pseudo-variable \\$fd."),  # '.' is a name character
        ("$nosuch(x)", "class"),
        ("x $", "without a pseudo-variable name"),
        ("x $ y", "malformed"),
        ("$hdr(X-Two", "unbalanced"),
        ("$(ru{s.len}", "unbalanced"),
        ("$sht(t=>$si", "unbalanced"),
        ("$(ru {s.len})", "malformed"),
        ("$(ru{s.len} )", "malformed"),
        ("$time(y)", "time"),
        ("$(ru[1])", "does not take an index"),
    ],
)
def test_errors_at_compile_time(text: str, message: str) -> None:
    with pytest.raises(PVError, match=message):
        compile_format(text)


def test_transformation_errors_at_compile_time() -> None:
    with pytest.raises(TransformError, match="uri.nosuch"):
        compile_format("user $(ru{uri.nosuch})")
