"""More pseudo-variables: $avp, $xavp, auth, time, send data, long-form names.

The $avp/$xavp sequences below were run through kamailio 5.6.3 (xlog) and give
the same values there.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.script.pv import PVError, resolve
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo

REQ = (
    "INVITE sip:bob@127.0.0.1:5070;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bK-1;rport\r\n"
    "Via: SIP/2.0/TCP 10.1.2.4:5060;branch=z9hG4bK-0\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=ft1\r\n'
    "To: <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: cid-42\r\n"
    "CSeq: 17 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1:5062>;expires=60\r\n"
    'Refer-To: "X" <sip:carol@example.org;method=INVITE>\r\n'
    "{auth}"
    "X-Two: a\r\nX-Two: b\r\n"
    "Content-Length: 0\r\n\r\n"
)
AUTH = (
    'Authorization: Digest username="alice@example.com", realm="atlanta.example.com",'
    ' nonce="abc", uri="sip:bob@127.0.0.1", response="0123"\r\n'
)
RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)


def _ctx(auth: str = AUTH, method: str = "INVITE") -> Context:
    raw = REQ.format(auth=auth).replace("INVITE", method)
    return Context(Engine(), SIPMessage.parse(raw.encode()), RCV)


@pytest.fixture
def ctx() -> Context:
    return _ctx()


def get(ctx: Context, name: str) -> Any:
    return resolve(name).get(ctx)


def put(ctx: Context, name: str, value: Any) -> None:
    pv = resolve(name)
    assert pv.set is not None, name
    pv.set(ctx, value)


# ---------------------------------------------------------------------- avps


def test_avp_stack_newest_first(ctx: Context) -> None:
    assert ctx.avps is None  # nothing allocated until a write
    assert get(ctx, "$avp(a)") is None
    for value in (1, "two", 3):
        put(ctx, "$avp(a)", value)
    assert get(ctx, "$avp(a)") == 3
    assert get(ctx, "$(avp(a)[0])") == 3
    assert get(ctx, "$(avp(a)[1])") == "two"
    assert get(ctx, "$(avp(a)[2])") == 1
    assert get(ctx, "$(avp(a)[3])") is None
    assert get(ctx, "$(avp(a)[-1])") == 1  # counted from the oldest
    assert get(ctx, "$(avp(a)[*])") == "3, two, 1"
    assert get(ctx, "$avp(s:a)") == 3


def test_avp_null_and_star_assignments(ctx: Context) -> None:
    for value in (1, "two", 3):
        put(ctx, "$avp(a)", value)
    put(ctx, "$avp(a)", None)  # deletes the newest value only (Kamailio 5.6)
    assert get(ctx, "$(avp(a)[*])") == "two, 1"
    put(ctx, "$(avp(a)[*])", "only")  # replaces them all
    assert get(ctx, "$(avp(a)[*])") == "only"
    put(ctx, "$(avp(a)[1])", "idx1")  # another index still adds on top
    assert get(ctx, "$(avp(a)[*])") == "idx1, only"
    put(ctx, "$(avp(a)[*])", None)  # deletes them all
    assert get(ctx, "$avp(a)") is None and get(ctx, "$(avp(a)[*])") is None


def test_avp_names(ctx: Context) -> None:
    put(ctx, "$avp(i:707)", 5)
    put(ctx, "$avp(i:707)", "x")
    assert get(ctx, "$avp(i:707)") == "x"
    assert get(ctx, "$(avp(i:707)[*])") == "x, 5"
    assert get(ctx, "$avp(707)") is None  # a string name, not the integer one
    put(ctx, "$var(name)", "dyn")
    put(ctx, "$avp($var(name))", "d")
    assert get(ctx, "$avp(dyn)") == "d"
    put(ctx, "$var(i)", 0)
    assert get(ctx, "$(avp(dyn)[$var(i)])") == "d"
    put(ctx, "$var(i)", "0")
    assert get(ctx, "$(avp(dyn)[$var(i)])") is None  # a string index is not an index
    with pytest.raises(PVError):
        resolve("$avp(i:x)")


# --------------------------------------------------------------------- xavps


def test_xavp_records(ctx: Context) -> None:
    put(ctx, "$xavp(p=>ln)", "Smith")
    put(ctx, "$xavp(p=>ln)", "Doe")  # a new record on top
    put(ctx, "$xavp(p[0]=>fn)", "John")  # a field added to the newest record
    put(ctx, "$xavp(p[1]=>fn)", "Alice")
    assert get(ctx, "$xavp(p=>ln)") == "Doe"
    assert get(ctx, "$xavp(p[0]=>ln)") == "Doe"
    assert get(ctx, "$xavp(p[1]=>ln)") == "Smith"
    assert get(ctx, "$xavp(p[0]=>fn)") == "John"
    assert get(ctx, "$xavp(p[1]=>fn)") == "Alice"
    assert get(ctx, "$xavp(p[2]=>fn)") is None
    assert get(ctx, "$xavp(p[0]=>zz)") is None
    assert get(ctx, "$xavp(p[-1]=>ln)") == "Smith"
    assert re.fullmatch(r"<<xavp:0x[0-9a-f]+>>", get(ctx, "$xavp(p)"))


def test_xavp_field_lists(ctx: Context) -> None:
    put(ctx, "$xavp(p=>fn)", "John")
    put(ctx, "$xavp(p[0]=>fn)", "Johnny")
    assert get(ctx, "$xavp(p[0]=>fn)") == "Johnny"
    assert get(ctx, "$xavp(p[0]=>fn[1])") == "John"
    assert get(ctx, "$xavp(p[0]=>fn[*])") == "Johnny, John"
    assert get(ctx, "$(xavp(p[0]=>fn[*]))") == "Johnny, John"
    put(ctx, "$xavp(p[0]=>fn[1])", "Jo")  # an index replaces that value
    assert get(ctx, "$xavp(p[0]=>fn[*])") == "Johnny, Jo"
    put(ctx, "$xavp(p[0]=>fn)", None)  # deletes the newest field value
    assert get(ctx, "$xavp(p[0]=>fn[*])") == "Jo"


def test_xavp_single_values_and_deletes(ctx: Context) -> None:
    put(ctx, "$xavp(s)", "single")
    put(ctx, "$xavp(s)", 2)
    assert (get(ctx, "$xavp(s)"), get(ctx, "$xavp(s[1])"), get(ctx, "$xavp(s[*])")) == (
        2, "single", 2)
    put(ctx, "$xavp(s[1])", "repl")
    assert get(ctx, "$xavp(s[1])") == "repl"
    put(ctx, "$xavp(s)", None)  # deletes the newest
    assert (get(ctx, "$xavp(s)"), get(ctx, "$xavp(s[1])")) == ("repl", None)
    put(ctx, "$xavp(p[5]=>fn)", "x")  # no such record: nothing happens
    put(ctx, "$xavp(q[0]=>f)", "new")
    assert get(ctx, "$xavp(p[5]=>fn)") is None and get(ctx, "$xavp(q=>f)") is None
    put(ctx, "$xavp(r=>ln)", "a")
    put(ctx, "$xavp(r=>ln)", "b")
    put(ctx, "$xavp(r[1]=>fn)", "c")
    put(ctx, "$xavp(r[*]=>ln)", None)  # the field in every record
    assert (get(ctx, "$xavp(r[0]=>ln)"), get(ctx, "$xavp(r[1]=>fn)")) == (None, "c")
    put(ctx, "$xavp(r[*])", None)  # every record
    assert get(ctx, "$xavp(r=>fn)") is None


# ------------------------------------------------------------- auth and more


def test_auth_attributes(ctx: Context) -> None:
    assert get(ctx, "$au") == "alice"
    assert get(ctx, "$ad") == "example.com"
    assert get(ctx, "$aU") == "alice@example.com"
    assert get(ctx, "$ar") == "atlanta.example.com"
    assert get(ctx, "$adu") == "sip:bob@127.0.0.1"
    assert get(ctx, "$aa") == ""  # a missing field is "" as in Kamailio


def test_auth_prefers_proxy_authorization() -> None:
    proxy = AUTH.replace("Authorization", "Proxy-Authorization").replace("alice@", "bob@")
    ctx = _ctx(auth=AUTH + proxy)
    assert get(ctx, "$aU") == "bob@example.com"


@pytest.mark.parametrize("auth", ["", "Authorization: Basic Zm9vOmJhcg==\r\n"])
def test_auth_absent(auth: str) -> None:
    ctx = _ctx(auth=auth)
    assert get(ctx, "$au") is None and get(ctx, "$ar") is None


def test_auth_ignored_for_ack() -> None:
    assert get(_ctx(method="ACK"), "$au") is None


def test_refer_to_contact_and_headers(ctx: Context) -> None:
    assert get(ctx, "$rt") == "sip:carol@example.org;method=INVITE"
    assert get(ctx, "$ct") == "<sip:alice@10.0.0.1:5062>;expires=60"
    assert get(ctx, "$(hdr(Via)[1])") == "SIP/2.0/TCP 10.1.2.4:5060;branch=z9hG4bK-0"
    assert get(ctx, "$(hdr(Via)[-1])") == get(ctx, "$(hdr(Via)[1])")
    assert get(ctx, "$(hdr(Via)[2])") is None
    assert get(ctx, "$(hdr(X-Two)[*])") == "a,b"
    assert get(ctx, "$(hdr(X-Two)[*]{s.len})") == 3
    no_refer = Context(Engine(), SIPMessage.parse(REQ.format(auth="").replace(
        'Refer-To: "X" <sip:carol@example.org;method=INVITE>\r\n', "").encode()), RCV)
    assert get(no_refer, "$rt") is None


def test_state_pvs_defaults(ctx: Context) -> None:
    assert get(ctx, "$T_branch_idx") == 0
    assert get(ctx, "$T_reply_code") == 0  # as Kamailio outside a transaction
    assert get(ctx, "$bf") == 0
    put(ctx, "$bf", 6)
    assert get(ctx, "$bf") == 6
    assert get(ctx, "$fs") is None
    assert get(ctx, "$pr") == "udp"
    assert isinstance(get(ctx, "$hostname"), str)


def test_send_data(ctx: Context) -> None:
    for name in ("$snd(ip)", "$sndto(ip)", "$sndto(port)", "$snd(proto)", "$sndfrom(af)"):
        assert get(ctx, name) is None  # nothing is being sent
    ctx.extra["snd"] = {
        "ip": "192.0.2.9", "port": 5080, "af": 2, "proto": "tcp", "buf": b"OPTIONS x",
        "src_ip": "127.0.0.1", "src_port": 5070, "src_af": 2,
    }
    assert get(ctx, "$sndto(ip)") == "192.0.2.9"
    assert get(ctx, "$sndto(port)") == 5080
    assert get(ctx, "$sndto(proto)") == 2
    assert get(ctx, "$sndto(sproto)") == "tcp"
    assert get(ctx, "$sndto(len)") == 9
    assert get(ctx, "$sndto(buf)") == "OPTIONS x"
    assert get(ctx, "$snd(ip)") == "127.0.0.1"
    assert get(ctx, "$sndfrom(port)") == 5070
    assert get(ctx, "$snd(af)") == 2
    with pytest.raises(PVError):
        resolve("$snd(nope)")


# ---------------------------------------------------------------------- time


def test_time_values(ctx: Context) -> None:
    before = int(time.time())
    ts = get(ctx, "$Ts")
    assert before <= ts <= int(time.time())
    assert get(ctx, "$TV(s)") == ts  # the message time, taken once
    usec = get(ctx, "$TV(u)")
    assert isinstance(usec, int) and 0 <= usec < 1_000_000
    assert get(ctx, "$TV(u)") == usec
    assert abs(get(ctx, "$TV(sn)") - ts) <= 1
    assert 0 <= get(ctx, "$TV(un)") < 1_000_000
    assert re.fullmatch(r"\d+\.\d{6}", get(ctx, "$TV(Sn)"))
    assert abs(get(ctx, "$TS") - ts) <= 1
    assert get(ctx, "$Tf") == time.ctime(ts)


def test_broken_down_time(ctx: Context) -> None:
    ts = get(ctx, "$Ts")
    local = time.localtime(ts)
    assert get(ctx, "$time(year)") == local.tm_year
    assert get(ctx, "$time(mon)") == local.tm_mon
    assert get(ctx, "$time(mday)") == local.tm_mday
    assert get(ctx, "$time(hour)") == local.tm_hour
    assert get(ctx, "$time(min)") == local.tm_min
    assert get(ctx, "$time(sec)") == local.tm_sec
    assert get(ctx, "$time(yday)") == local.tm_yday
    assert get(ctx, "$utime(hour)") == time.gmtime(ts).tm_hour
    wday = get(ctx, "$time(wday)")  # 1 = Sunday ... 7 = Saturday
    assert wday == int(time.strftime("%w", local)) + 1
    assert get(ctx, "$timef(%Y)") == str(local.tm_year)
    for bad in ("$time(y)", "$time(h)", "$TV(x)"):
        with pytest.raises(PVError):
            resolve(bad)


# ---------------------------------------------------------------- long form


def test_long_form_read_only_with_transformations(ctx: Context) -> None:
    pv = resolve("$(var(x){s.len})")
    assert pv.set is None and pv.null_text == ""
    put(ctx, "$var(x)", "abc")
    assert pv.get(ctx) == 3
    assert resolve("$(var(x))").set is not None
    assert resolve("$(avp(x)[*])").set is not None
    assert get(ctx, "$(ru{uri.user})") == "bob"
    assert get(ctx, "$$") == "$"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("$nosuch", "unknown pseudo-variable \\$nosuch"),
        ("$(nosuch)", "unknown pseudo-variable \\$nosuch"),
        ("$(nosuch(x))", "class"),
        ("$(ru[1])", "does not take an index"),
        ("$(var(x)[1])", "does not take an index"),
        ("$avp", "needs an inner name"),
        ("$avp()", "needs a name"),
        ("$(avp(x)[z])", "invalid index"),
        ("$(avp(x)", "unbalanced"),
        ("$(avp(x)]", "unbalanced"),
        ("$sndto(x)", "sndto"),
    ],
)
def test_unsupported_names(name: str, message: str) -> None:
    with pytest.raises(PVError, match=message):
        resolve(name)
