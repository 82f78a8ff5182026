"""sanity and maxfwd in Kamailio 5.6 and in ksrpy: same cfg, same requests, same answers.

Two server pairs run identical cfg text (only the ports differ), each route on
its own listen port (dispatched on ``$Rp``):

* pair "default" (default modparams): ``sanity_check("65535", "7")`` (a mask
  Kamailio 5.6 refuses: -1, the script goes on), ``sanity_check("32767",
  "15")`` (every check, every URI), ``sanity_check("17895", "7")`` (the
  shipped kamailio.cfg), then Max-Forwards processing and ``is_maxfwd_lt``;
* pair "params": ``autodrop=0``, ``noreply=1``, ``proxy_require="a, foo"``,
  maxfwd ``max_limit=20``; ``sanity_check()`` with the default checks and
  ``sanity_reply()``.

Every malformed request goes to both; the answers (status lines, or for a
relayed request its R-URI user and Max-Forwards value) must be equal, except
the cases in ``DIFFERENCES``, which state both sides. Each of those is a row
of docs/differences.md: ksrpy's engine answers some parse errors Kamailio's
core drops, Kamailio's core drops requests ksrpy hands to the script, and the
URI grammars differ in a few places.
"""

from __future__ import annotations

import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import free_port
from tests.unit.test_sanity import (
    CSEQ,
    DIGEST_NO_USER,
    DIGEST_OK,
    FROM,
    TO,
    _raw,
)

pytestmark = pytest.mark.kamailio

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

HEADER = """\
#!KAMAILIO
debug=0
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
mpath="{mpath}"
{listen}
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "sanity.so"
{modparams}
"""

RELAY = '$rU = "rc" + $var(rc); $du = "sip:" + $si + ":" + $sp; forward(); exit;'
ROUTES: dict[str, dict[str, str]] = {
    "default": {
        "mask65535": 'sanity_check("65535", "7"); sl_send_reply("200", "passed"); exit;',
        "all": 'sanity_check("32767", "15"); sl_send_reply("200", "passed"); exit;',
        "shipped": 'sanity_check("17895", "7"); sl_send_reply("200", "passed"); exit;',
        "mf10": '$var(rc) = mf_process_maxfwd_header("10");'
                f' if ($var(rc) > 0) {{ {RELAY} }} sl_send_reply("299", "rc=$var(rc)"); exit;',
        "mf256": '$var(rc) = mf_process_maxfwd_header("256"); sl_send_reply("299", "rc=$var(rc)");'
                 " exit;",
        "lt5": '$var(rc) = is_maxfwd_lt("5"); sl_send_reply("299", "rc=$var(rc)"); exit;',
        "lt256": '$var(rc) = is_maxfwd_lt("256"); sl_send_reply("299", "rc=$var(rc)"); exit;',
    },
    "params": {
        "defaults": '$var(rc) = sanity_check(); if ($var(rc) > 0) { sl_send_reply("200", "passed");'
                    ' exit; } sanity_reply(); sl_send_reply("299", "rc=$var(rc)"); exit;',
        "mf10": '$var(rc) = mf_process_maxfwd_header("10");'
                f' if ($var(rc) > 0) {{ {RELAY} }} sl_send_reply("299", "rc=$var(rc)"); exit;',
    },
}
MODPARAMS = {
    "default": "",
    "params": '\n'.join([
        'modparam("sanity", "autodrop", 0)', 'modparam("sanity", "noreply", 1)',
        'modparam("sanity", "proxy_require", "a, foo")', 'modparam("maxfwd", "max_limit", 20)',
    ]),
}


def _req(**change: Any) -> bytes:
    return _raw(ruri=change.pop("ruri", "sip:u@127.0.0.1"), **change)


def _sub(old: str, new: str) -> bytes:
    return _req(sub=((old, new),))


def _hdr(*lines: str) -> bytes:
    return _req(extra=lines)


REQUESTS: dict[str, bytes] = {
    "valid": _req(),
    "version-lowercase": _req(version="sip/2.0"),
    "version-2.00": _req(version="SIP/2.00"),
    "version-2.0x": _req(version="SIP/2.0x"),
    "version-2.1": _req(version="SIP/2.1"),
    "ruri-http": _req(ruri="http://example.com/"),
    "ruri-tels": _req(ruri="tels:+123"),
    "ruri-tel": _req(ruri="tel:+123"),
    "ruri-urn": _req(ruri="urn:service:sos"),
    "ruri-port": _req(ruri="sip:u@h:99999"),
    "ruri-underscore": _req(ruri="sip:u@h_x"),
    "ruri-empty-label": _req(ruri="sip:u@h..com"),
    "no-call-id": _req(drop=("Call-ID",)),
    "no-from": _req(drop=("From",)),
    "no-to": _req(drop=("To",)),
    "no-cseq": _req(drop=("CSeq",)),
    "no-via": _req(drop=("Via",)),
    "dup-call-id": _hdr("Call-ID: x2"),
    "dup-from": _hdr("From: <sip:x@y>;tag=2"),
    "via-3.0": _sub("SIP/2.0/UDP", "SIP/3.0/UDP"),
    "via-foo": _sub("SIP/2.0/UDP", "SIP/2.0/FOO"),
    "cseq-invite": _sub(CSEQ, "CSeq: 1 INVITE"),
    "cseq-lowercase": _sub(CSEQ, "CSeq: 1 options"),
    "cseq-no-method": _sub(CSEQ, "CSeq: 1"),
    "cseq-abc": _sub(CSEQ, "CSeq: abc OPTIONS"),
    "cseq-4294967296": _sub(CSEQ, "CSeq: 4294967296 OPTIONS"),
    "cseq-4294967297": _sub(CSEQ, "CSeq: 4294967297 OPTIONS"),
    "cseq-minus": _sub(CSEQ, "CSeq: -1 OPTIONS"),
    "cl-longer-body": _req(body="abc", cl=0),
    "cl-shorter-body": _req(body="abc", cl=5),
    "cl-not-a-number": _req(cl="x"),
    "expires-abc": _hdr("Expires: abc"),
    "expires-empty": _hdr("Expires: "),
    "expires-10x": _hdr("Expires: 10x"),
    "expires-10-x": _hdr("Expires: 10 x"),
    "proxy-require-foo": _hdr("Proxy-Require: foo"),
    "proxy-require-a-b": _hdr("Proxy-Require: a, b"),
    "proxy-require-two": _hdr("Proxy-Require: a", "Proxy-Require: b"),
    "proxy-require-empty": _hdr("Proxy-Require: "),
    "from-garbage": _sub(FROM, "From: garbage"),
    "from-scheme": _sub(FROM, "From: <foo:bar>;tag=1"),
    "from-unclosed": _sub(FROM, "From: <sip:a@h;tag=1"),
    "from-underscore": _sub(FROM, "From: <sip:a@h_x>;tag=1"),
    "from-two-tags": _sub(";tag=f1", ";tag=f1;tag=f2"),
    "to-garbage": _sub(TO, "To: garbage"),
    "to-unclosed": _sub(TO, "To: <sip:a@h;tag=1"),
    "to-two-tags": _sub(TO, "To: <sip:b@h>;tag=a;tag=b"),
    "contact-bad-uri": _hdr("Contact: <sip:u@h:99999>"),
    "contact-garbage": _hdr("Contact: <<<"),
    "contact-star": _hdr("Contact: *"),
    "auth-basic": _hdr("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
    "auth-ok": _hdr(f"Authorization: {DIGEST_OK}"),
    "auth-empty-user": _hdr(f"Authorization: {DIGEST_NO_USER}"),
    "auth-no-nonce": _hdr('Authorization: Digest username="a", realm="r", uri="u", response="x"'),
    "auth-garbage": _hdr("Authorization: Digest x"),
    "auth-digest-only": _hdr("Authorization: Digest"),
    "proxy-auth-empty-user": _hdr(f"Proxy-Authorization: {DIGEST_NO_USER}"),
    "ack-cseq-mismatch": _req(method="ACK", sub=(("CSeq: 1 ACK", "CSeq: 1 INVITE"),)),
    "ack-proxy-require": _req(method="ACK", extra=("Proxy-Require: foo",)),
}

MF_VALUES = [None, "0", "1", "5", "10", "20", "21", "22", "69", "70", "71", "72", "100", "255",
             "256", "999", "1000", "0070", "65535", "65536", "99999", "100000", "abc", "", "-1",
             "+5", "5 x", "5x"]


def _mf_request(value: str | None) -> bytes:
    if value is None:
        return _req(drop=("Max-Forwards",))
    return _req(sub=(("Max-Forwards: 70", f"Max-Forwards: {value}"),))


MF_REQUESTS = {f"mf={v!r}": _mf_request(v) for v in MF_VALUES}
MF_REQUESTS["mf=two-headers"] = _hdr("Max-Forwards: 3")
SANITY_ROUTES = {"mask65535", "all", "shipped", "defaults"}

Answers = tuple[str, ...]
#: (pair, route, request) -> (what Kamailio 5.6.3 answers, what ksrpy answers). Each one
#: is a deliberate difference with a row in docs/differences.md; all else must be equal.
DIFFERENCES: dict[tuple[str, str, str], tuple[Answers, Answers]] = {}


def _differ(routes: str, request: str, kamailio: Answers, ksrpy: Answers) -> None:
    for key in routes.split():
        pair, route = key.split("/")
        DIFFERENCES[(pair, route, request)] = (kamailio, ksrpy)


PASSED = ("200 passed",)
R_URI_505 = ("505 Version Not Supported (R-URI)",)
OUR_505 = ("505 Version Not Supported",)
OUR_SHORT = ("400 Message Body Shorter Than Content-Length",)
THEIR_SHORT = ("400 Content-Length mis-match",)
FAILED = ("299 rc=-1",)  # the "params" route's own reply after a failed check

# 1. ksrpy's engine answers these parse errors before any route runs. Kamailio's core
# drops SIP/2.1 and a Content-Length that is not a number, routes SIP/2.00 and SIP/2.0x
# like SIP/2.0 (only sanity's bit 1 refuses them), and lets sanity judge a short body.
for _routes in ("default/mask65535", "default/all default/shipped", "params/defaults"):
    _differ(_routes, "version-2.1", (), OUR_505)
    _differ(_routes, "cl-not-a-number", (), ("400 Bad Content-Length",))
_differ("default/mask65535", "version-2.00", PASSED, OUR_505)
_differ("default/mask65535", "version-2.0x", PASSED, ())
_differ("default/mask65535", "cl-shorter-body", PASSED, OUR_SHORT)
_differ("default/all default/shipped", "version-2.00", R_URI_505, OUR_505)
_differ("default/all default/shipped", "version-2.0x", R_URI_505, ())
_differ("default/all default/shipped", "cl-shorter-body", THEIR_SHORT, OUR_SHORT)
_differ("params/defaults", "version-2.00", (*R_URI_505, *FAILED), OUR_505)
_differ("params/defaults", "version-2.0x", (*R_URI_505, *FAILED), ())
_differ("params/defaults", "cl-shorter-body", (*THEIR_SHORT, *FAILED), OUR_SHORT)

# 2. Kamailio's core drops these before routing: From, To, Call-ID, CSeq or Via missing,
# a second From/To/Call-ID/CSeq, a Via it cannot parse, a CSeq without a method, a To
# that does not parse. ksrpy routes them; with every check (routes "all", "shipped")
# sanity fails them without a reply, as Kamailio's sanity does, so the answers agree.
CORE_DROPS = ["no-call-id", "no-from", "no-to", "no-cseq", "no-via", "dup-call-id", "dup-from",
              "via-3.0", "cseq-no-method", "to-unclosed"]
for _name in CORE_DROPS:
    _differ("default/mask65535", _name, (), PASSED)  # mask refused: -1, the script goes on
# default_checks (3047) has no Via (16384) or URI (1024) check; missing headers and an
# unparsable CSeq are marked no-reply (sanity_reply() stays silent); repeated headers
# are not, so sanity_reply() finds no stored reply and sends 500.
for _name in ["no-call-id", "no-from", "no-to", "no-cseq", "no-via", "cseq-no-method"]:
    _differ("params/defaults", _name, (), FAILED)
for _name in ["dup-call-id", "dup-from"]:
    _differ("params/defaults", _name, (), ("500 Server Sanity Failure", *FAILED))
for _name in ["via-3.0", "to-unclosed"]:
    _differ("params/defaults", _name, (), PASSED)

# 3. URI grammar: ksrpy accepts '_' in host names and refuses an empty label ("h..com").
_differ("default/all default/shipped", "ruri-underscore", ("400 Bad Request URI",), PASSED)
_differ("params/defaults", "ruri-underscore", ("400 Bad Request URI", *FAILED), PASSED)
_differ("default/all default/shipped", "ruri-empty-label", PASSED, ("400 Bad Request URI",))
_differ("params/defaults", "ruri-empty-label", PASSED, ("400 Bad Request URI", *FAILED))
_differ("default/all default/shipped", "from-underscore", ("400 Invalid From Header",), PASSED)

# 4. Max-Forwards: Kamailio reads the number into an unsigned short (65536 wraps to 0:
# "too many hops") and an empty value as 0; ksrpy reads 65536 as a large number (lowered
# to max_limit) and an empty value as unparsable. A second Max-Forwards header makes every
# reply Kamailio builds fail ("duplicate Max-Forwards header field"): it answers nothing.
_differ("default/mf10", "mf='65536'", ("299 rc=-1",), ("fwd rc1 mf=70",))
_differ("params/mf10", "mf='65536'", ("299 rc=-1",), ("fwd rc1 mf=20",))
_differ("default/lt5", "mf='65536'", ("299 rc=1",), ("299 rc=-1",))
_differ("default/mf10 params/mf10", "mf=''", ("299 rc=-1",), ("299 rc=-2",))
_differ("default/lt5", "mf=''", ("299 rc=1",), ("299 rc=-3",))
_differ("default/mf256", "mf=two-headers", (), ("299 rc=-1",))
_differ("default/lt5 default/lt256", "mf=two-headers", (), ("299 rc=-1",))


def test_every_difference_names_a_known_route_and_request() -> None:
    for pair, route, request in DIFFERENCES:
        assert route in ROUTES[pair]
        assert request in REQUESTS or request in MF_REQUESTS


@pytest.fixture(scope="module")
def kamailio_available() -> None:
    if not Path(KAMAILIO).exists():
        pytest.fail("kamailio is not installed: apt-get install kamailio")


def _cfg(pair: str, ports: dict[str, int]) -> str:
    listen = "\n".join(f"listen=udp:127.0.0.1:{p}" for p in ports.values())
    lines = [HEADER.format(mpath=MPATH, listen=listen, modparams=MODPARAMS[pair]),
             "request_route {"]
    for route, body in ROUTES[pair].items():
        lines.append(f" if ($Rp == {ports[route]}) {{ {body} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _probe(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        sock.sendto(_req(), ("127.0.0.1", port))
        try:
            sock.recvfrom(65536)
        except TimeoutError:
            return False
    return True


@pytest.fixture(scope="module")
def servers(kamailio_available: None, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, tuple[dict[str, int], dict[str, int]]]]:
    """pair -> (Kamailio route ports, ksrpy route ports), all four servers running."""
    folder = tmp_path_factory.mktemp("sanity")
    procs: list[subprocess.Popen[bytes]] = []
    ours: list[KsrpyProcess] = []
    out = {}
    try:
        for pair, routes in ROUTES.items():
            kports = {r: free_port() for r in routes}
            sports = {r: free_port() for r in routes}
            kcfg, scfg = folder / f"kamailio-{pair}.cfg", folder / f"ksrpy-{pair}.cfg"
            kcfg.write_text(_cfg(pair, kports))
            scfg.write_text(_cfg(pair, sports))
            procs.append(subprocess.Popen(
                [KAMAILIO, "-f", str(kcfg), "-DD", "-E"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL))
            ours.append(KsrpyProcess(script=str(scfg), listen=tuple(
                f"udp:127.0.0.1:{p}" for p in sports.values())).start())
            first = next(iter(routes))
            deadline = time.monotonic() + 10
            while not _probe(kports[first]):
                assert time.monotonic() < deadline, "kamailio did not start"
                assert procs[-1].poll() is None, "kamailio exited"
            out[pair] = (kports, sports)
        yield out
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        for server in ours:
            server.stop()


def _answer(data: bytes) -> str:
    """A reply as 'code reason [|Unsupported: x]'; a relayed request as 'fwd <user> mf=<n>'."""
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    first = head[0].split(" ", 2)
    fields = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), value.strip())
    if first[0].upper().startswith("SIP/"):
        out = " ".join(first[1:])
        if "unsupported" in fields:
            out += f" |Unsupported: {fields['unsupported']}"
        return out
    user = first[1].split(":", 1)[1].split("@", 1)[0]
    # Kamailio rewrites the number in place, padded with spaces; compare the number.
    return f"fwd {user} mf={int(fields['max-forwards'])}"


def _exchange(targets: list[tuple[Any, int, bytes]], quiet: float = 0.5,
              limit: float = 8.0) -> dict[Any, tuple[str, ...]]:
    """Send each request from its own socket; collect answers until ``quiet`` s of silence."""
    selector = selectors.DefaultSelector()
    socks = []
    answers: dict[Any, list[str]] = {key: [] for key, _, _ in targets}
    try:
        for key, port, data in targets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            socks.append(sock)
            selector.register(sock, selectors.EVENT_READ, key)
            sock.sendto(data, ("127.0.0.1", port))
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last < quiet:
            for event, _ in selector.select(timeout=0.05):
                data = event.fileobj.recv(65536)  # type: ignore[union-attr]
                answers[event.data].append(_answer(data))
                last = time.monotonic()
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    return {key: tuple(v) for key, v in answers.items()}


def _compare(servers: dict[str, tuple[dict[str, int], dict[str, int]]], pair: str,
             routes: list[str], requests: dict[str, bytes]
             ) -> tuple[list[str], dict[tuple[str, str, str], tuple[Any, Any]]]:
    kports, sports = servers[pair]
    results: dict[tuple[str, str, str], tuple[Any, Any]] = {}
    for route in routes:
        targets = []
        for name, data in requests.items():
            targets.append((("k", name), kports[route], data))
            targets.append((("s", name), sports[route], data))
        got = _exchange(targets)
        for name in requests:
            results[(pair, route, name)] = (got[("k", name)], got[("s", name)])
    problems = []
    for key, (theirs, ours) in results.items():
        expected = DIFFERENCES.get(key)
        if expected is None:
            if theirs != ours:
                problems.append(f"{key}: kamailio {theirs} ksrpy {ours}")
        elif (theirs, ours) != expected:
            problems.append(f"{key}: expected kamailio {expected[0]} ksrpy {expected[1]},"
                            f" got kamailio {theirs} ksrpy {ours}")
    return problems, results


def test_sanity_answers_match_kamailio(servers: Any) -> None:
    problems: list[str] = []
    for pair, routes in ROUTES.items():
        names = [r for r in routes if r in SANITY_ROUTES]
        found, _ = _compare(servers, pair, names, REQUESTS)
        problems += found
    assert not problems, "\n".join(problems)


def test_maxfwd_matches_kamailio(servers: Any) -> None:
    problems: list[str] = []
    for pair, routes in ROUTES.items():
        names = [r for r in routes if r not in SANITY_ROUTES]
        found, _ = _compare(servers, pair, names, MF_REQUESTS)
        problems += found
    assert not problems, "\n".join(problems)
