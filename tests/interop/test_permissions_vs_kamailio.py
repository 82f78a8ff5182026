"""permissions in Kamailio 5.6 and in ksrpy: the same requests get the same decisions.

Both servers run one cfg on loopback with the same rule files, address file
and SQLite database (Kamailio through db_sqlite). The header X-Case picks the
function; the reply reason carries the return code, the newest peer tag and
all of them. Requests come from several 127.0.0.x addresses, over UDP, TCP
and IPv6. A second part changes the database, reloads both servers over RPC
(Kamailio's jsonrpcs datagram socket, ksrpy's control socket) and compares
the new decisions, the reload answers and the dumps.

Needs kamailio, its permissions module and db_sqlite
(``apt-get install kamailio kamailio-sqlite-modules``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.rpc import RpcCallError, call
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import free_port, free_port_everywhere
from tests.unit.test_permissions import TRUSTED_ROWS, make_db, write_files

pytestmark = pytest.mark.kamailio

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
#: A source port that an address entry names (picked once, free on loopback).
SPORT = free_port()

CFG = """\
#!KAMAILIO
debug=0
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=udp:[::1]:{port}
mpath="{mpath}"
loadmodule "jsonrpcs.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "db_sqlite.so"
loadmodule "permissions.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{folder}/kamailio-rpc.sock")
modparam("permissions", "db_url", "sqlite://{folder}/perm.db")
modparam("permissions", "peer_tag_avp", "$avp(ptag)")
modparam("permissions", "reload_delta", 0)
{params}
request_route {{
    $var(c) = $hdr(X-Case);
    $var(rc) = 0;
    if ($var(c) == "routing") {{ allow_routing("rules.allow", "rules.deny"); $var(rc) = $rc; }}
    else if ($var(c) == "routing1") {{ allow_routing("rules"); $var(rc) = $rc; }}
    else if ($var(c) == "routing0") {{ allow_routing(); $var(rc) = $rc; }}
    else if ($var(c) == "register") {{ allow_register("register"); $var(rc) = $rc; }}
    else if ($var(c) == "register2") {{
        allow_register("register.allow", "register.deny"); $var(rc) = $rc;
    }}
    else if ($var(c) == "uri") {{ allow_uri("basename", "$hdr(X-Uri)"); $var(rc) = $rc; }}
    else if ($var(c) == "urirt") {{ allow_uri("basename", "$rt"); $var(rc) = $rc; }}
    else if ($var(c) == "addr") {{
        allow_address("$(hdr(X-Grp){{s.int}})", "$hdr(X-Ip)", "$(hdr(X-Port){{s.int}})");
        $var(rc) = $rc;
    }}
    else if ($var(c) == "si") {{ allow_address("1", "$si", "$sp"); $var(rc) = $rc; }}
    else if ($var(c) == "src") {{ allow_source_address("$(hdr(X-Grp){{s.int}})"); $var(rc) = $rc; }}
    else if ($var(c) == "src0") {{ allow_source_address(); $var(rc) = $rc; }}
    else if ($var(c) == "srcgrp") {{ $var(rc) = allow_source_address_group(); }}
    else if ($var(c) == "addrgrp") {{
        $var(rc) = allow_address_group("$hdr(X-Ip)", "$(hdr(X-Port){{s.int}})");
    }}
    else if ($var(c) == "trusted0") {{ allow_trusted(); $var(rc) = $rc; }}
    else if ($var(c) == "trusted2") {{
        allow_trusted("$hdr(X-Ip)", "$hdr(X-Proto)"); $var(rc) = $rc;
    }}
    else if ($var(c) == "trusted3") {{
        allow_trusted("$hdr(X-Ip)", "$hdr(X-Proto)", "$hdr(X-Uri)"); $var(rc) = $rc;
    }}
    sl_send_reply("200", "rc=$var(rc) tag=$avp(ptag) all=$(avp(ptag)[*])");
    exit;
}}
"""

#: The configurations both servers run: extra modparams.
SETUPS = {
    "db1": 'modparam("permissions", "db_mode", 1)',
    "db0": 'modparam("permissions", "db_mode", 0)\nmodparam("permissions", "peer_tag_mode", 1)',
    "file": 'modparam("permissions", "db_mode", 1)\nmodparam("permissions", "peer_tag_mode", 1)\n'
            'modparam("permissions", "address_file", "address.list")',
}

ADDRESS_ROWS = [
    (1, "127.0.0.2", 32, 0, "gw1"), (1, "10.0.0.10", 32, 0, None),
    (2, "127.0.0.0", 8, SPORT, "net127"), (2, "192.168.1.0", 24, 0, "tag2"),
    (3, "::1", 128, 0, "v6"), (3, "example.com", 0, 5060, "dom"),
    (4, "127.0.0.3", 32, 0, "g4"), (5, "127.0.0.3", 32, 0, "g5"),
    (6, "127.0.0.0", 16, 0, "n16"), (7, "127.0.0.0", 24, 0, "n24"),
    (8, "192.168.7.5", 0, 0, "host0"),
]
TRUSTED_EXTRA = [
    ("127.0.0.8", "any", None, None, "d1", 0), ("127.0.0.8", "any", None, None, "d2", 3),
    ("127.0.0.8", "udp", None, None, "d3", 3), ("127.0.0.8", "udp", None, None, "d4", 0),
    ("::1", "udp", None, None, "v6peer", 0),
]


@dataclass(frozen=True)
class Ask:
    """One request: the case, SIP fields, and where it is sent from."""

    case: str
    frm: str = "sip:alice@example.com"
    ruri: str = "sip:bob@example.com"
    to: str | None = None
    contacts: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    src: str = "127.0.0.1"
    sport: int = 0
    proto: str = "udp"


def _h(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple((k.replace("_", "-"), v) for k, v in kw.items())


RULE_CASES = [
    Ask("routing", "sip:alice@a.com", "sip:123@b.com"),
    Ask("routing", "sip:ALICE@a.com", "sip:123@b.com"),
    Ask("routing", "sip:alice@a.com", "sip:abc@b.com"),
    Ask("routing", "sip:zed@a.com", "sip:echo@good.example"),
    Ask("routing", "sip:zed@a.com", "sip:echo@evil.example"),
    Ask("routing", "sip:zed@a.com", "sip:ECHO@Evil.Example"),
    Ask("routing", "sip:carol@a.com", "sip:anything@x"),
    Ask("routing", "sip:dave@a.com", "sip:anything@x"),
    Ask("routing", "sip:alice@a.com;transport=tcp", "sip:123@b.com:5070;user=phone"),
    Ask("routing", "sip:zed@a.com", "sip:b.com"),
    Ask("routing1", "sip:zed@a.com", "sip:line@x"),
    Ask("routing1", "sip:alice@a.com", "sip:42@x"),
    Ask("routing0", "sip:zed@a.com", "sip:line@x"),
    Ask("routing0", "sip:nobody@a.com", "sip:x@y"),
    Ask("register", to="sip:al@x", contacts=("sip:al@10.0.0.5:5060;transport=udp",)),
    Ask("register", to="sip:bob@x", contacts=("sip:bob@10.0.0.5",)),
    Ask("register", to="sip:al@x", contacts=("sip:al@192.168.1.5",)),
    Ask("register", to="sip:al@x", contacts=("sip:al@10.0.0.5", "sip:al@192.168.1.5")),
    Ask("register", to="sip:al@x"),
    Ask("register", to="sip:al@x", contacts=("sip:AL@10.0.0.5",)),
    Ask("register", to="sip:bob@x", contacts=("*",)),
    Ask("register", to="sip:bob@x", contacts=("sip:172.16.0.1",)),
    Ask("register2", to="sip:bob@x", contacts=("sip:bob@172.16.0.1",)),
    Ask("uri", "sip:alice@a", headers=_h(X_Uri="sip:bob@x")),
    Ask("uri", "sip:zed@a", headers=_h(X_Uri="sip:bob@x")),
    Ask("uri", "sip:zed@a", headers=_h(X_Uri="sip:carl@x")),
    Ask("urirt", "sip:zed@a"),
    Ask("urirt", "sip:zed@a", headers=_h(Refer_To="<sip:bob@x>")),
    Ask("urirt", "sip:alice@a", headers=_h(Refer_To="<sip:bob@x>")),
]

ADDRESS_CASES = [
    Ask("src0", src="127.0.0.2"), Ask("src0", src="127.0.0.3"), Ask("src0", src="127.0.0.1"),
    Ask("src", headers=_h(X_Grp="2"), src="127.0.0.9", sport=SPORT),
    Ask("src", headers=_h(X_Grp="2"), src="127.0.0.9"),
    Ask("src", headers=_h(X_Grp="4"), src="127.0.0.3"),
    Ask("si", src="127.0.0.2"), Ask("si", src="127.0.0.9", proto="tcp"),
    Ask("srcgrp", src="127.0.0.2"), Ask("srcgrp", src="127.0.0.9", sport=SPORT),
    Ask("srcgrp", src="127.0.0.9"), Ask("srcgrp", src="127.0.1.9"),
    Ask("srcgrp", src="127.1.0.9"), Ask("srcgrp", src="127.0.0.3"),
    Ask("srcgrp", src="127.0.0.3", proto="tcp"),
    Ask("src0", src="::1"), Ask("srcgrp", src="::1"),
    *[Ask("addrgrp", headers=_h(X_Ip=ip, X_Port=port)) for ip, port in [
        ("127.0.0.2", "1"), ("example.com", "5060"), ("EXAMPLE.com", "5060"),
        ("example.com", "5061"), ("[::1]", "5"), ("::1", "5"), ("192.168.1.200", "9"),
        ("192.168.7.5", "1"), ("10.0.0.10", "0"), ("not an ip", "0")]],
    *[Ask("addr", headers=_h(X_Grp=g, X_Ip=ip, X_Port=port)) for g, ip, port in [
        ("3", "example.com", "5060"), ("3", "::1", "5060"), ("1", "::ffff:127.0.0.2", "5060"),
        ("1", "127.0.0.2", ""), ("2", "192.168.1.9", "7"),
        ("2", "192.168.2.9", "7"), ("8", "192.168.7.5", "1"), ("1", "10.0.0.10", "5"),
        ("2", "127.0.0.5", str(SPORT)), ("7", "127.0.0.200", "1")]],
]

TRUSTED_CASES = [
    Ask("trusted0", "sip:alice@x", src="127.0.0.2"),
    Ask("trusted0", "sip:ALICE@x", src="127.0.0.2"),
    Ask("trusted0", "sip:bob@x", src="127.0.0.2"),
    Ask("trusted0", "sip:alice@x", src="127.0.0.2", proto="tcp"),
    Ask("trusted0", "sip:bob@x", src="127.0.0.4", proto="tcp"),
    Ask("trusted0", "sip:bob@x", src="127.0.0.4"),
    Ask("trusted0", "sip:bob@x", "sip:911@x", src="127.0.0.5"),
    Ask("trusted0", "sip:bob@x", "sip:811@x", src="127.0.0.5"),
    Ask("trusted0", "sip:BOB@x", "sip:911@x", src="127.0.0.5"),
    Ask("trusted0", "sip:bob@x", src="127.0.0.6"),
    Ask("trusted0", "sip:ab@x", src="127.0.0.7"),
    Ask("trusted0", "sip:a+b@x", src="127.0.0.7"),
    Ask("trusted0", "sip:aab@x", src="127.0.0.7"),
    Ask("trusted0", "sip:x@x", src="127.0.0.8"),
    Ask("trusted0", "sip:x@x", src="127.0.0.8", proto="tcp"),
    Ask("trusted0", "sip:x@x", src="::1"),
    *[Ask("trusted2", "sip:bob@x", headers=_h(X_Ip=ip, X_Proto=p)) for ip, p in [
        ("127.0.0.6", "any"), ("127.0.0.4", "TCP"), ("127.0.0.4", "udp"),
        ("127.0.0.4", "bogus"), ("127.0.0.8", "any"), ("127.0.0.8", "tcp")]],
    Ask("trusted3", "sip:bob@x", headers=_h(X_Ip="127.0.0.2", X_Proto="udp",
                                           X_Uri="sip:alice@y")),
]

CASES = RULE_CASES + ADDRESS_CASES + TRUSTED_CASES


def _message(ask: Ask, local: tuple[str, int]) -> bytes:
    host = f"[{local[0]}]" if ":" in local[0] else local[0]
    lines = [f"OPTIONS {ask.ruri} SIP/2.0",
             f"Via: SIP/2.0/{ask.proto.upper()} {host}:{local[1]};"
             f"branch=z9hG4bK{uuid.uuid4().hex[:10]}",
             f"From: <{ask.frm}>;tag=a1", f"To: <{ask.to or ask.ruri}>",
             f"Call-ID: {uuid.uuid4().hex}", "CSeq: 1 OPTIONS", "Max-Forwards: 70",
             f"X-Case: {ask.case}"]
    lines += [f"Contact: {c}" if c == "*" else f"Contact: <{c}>" for c in ask.contacts]
    lines += [f"{k}: {v}" for k, v in ask.headers]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def ask_server(port: int, ask: Ask) -> str | None:
    """The reply reason (None on timeout)."""
    family = socket.AF_INET6 if ":" in ask.src else socket.AF_INET
    kind = socket.SOCK_STREAM if ask.proto == "tcp" else socket.SOCK_DGRAM
    target = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ask.src, ask.sport))
        sock.settimeout(3.0)
        sock.connect((target, port))
        sock.sendall(_message(ask, sock.getsockname()[:2]))
        try:
            reply = sock.recv(65536)
        except TimeoutError:
            return None
    return reply.split(b"\r\n", 1)[0].decode().split(" ", 2)[-1]


def kamailio_rpc(folder: Path, method: str, *params: Any) -> Any:
    """One JSON-RPC call to Kamailio's jsonrpcs datagram socket: result or error object."""
    client = folder / f"client-{uuid.uuid4().hex[:8]}.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(client))
        sock.settimeout(5.0)
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        sock.sendto(json.dumps(request).encode(), str(folder / "kamailio-rpc.sock"))
        data = sock.recv(1 << 20)
    os.unlink(client)
    answer = json.loads(data, object_pairs_hook=list)
    fields = dict(answer)
    return fields.get("result", fields.get("error"))


def ksrpy_rpc(ctl: Path, method: str, *params: Any) -> Any:
    """The same call to ksrpy's control socket (the error as Kamailio's code/message pairs)."""
    try:
        return call(str(ctl), method, list(params) or None)
    except RpcCallError as exc:
        return [("code", exc.code), ("message", exc.message)]


@dataclass
class Pair:
    """Kamailio and ksrpy running the same setup."""

    folder: Path
    kport: int
    sport: int
    ctl: Path


def _start(folder: Path, params: str) -> tuple[subprocess.Popen[bytes], KsrpyProcess, Pair]:
    kport = free_port_everywhere()
    sport = free_port_everywhere(exclude=(kport,))
    text = {p: CFG.format(port=p, mpath=MPATH, folder=folder, params=params)
            for p in (kport, sport)}
    (folder / "kamailio.cfg").write_text(text[kport])
    (folder / "ksrpy.cfg").write_text(text[sport])
    with open(folder / "kamailio.log", "wb") as log:
        kam = subprocess.Popen([KAMAILIO, "-f", str(folder / "kamailio.cfg"), "-DD", "-E"],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    ctl = folder / "ksrpy.ctl"
    ours = KsrpyProcess(script=str(folder / "ksrpy.cfg"), ctl=str(ctl),
                        listen=(f"udp:127.0.0.1:{sport}", f"tcp:127.0.0.1:{sport}",
                                f"udp:[::1]:{sport}")).start()
    deadline = time.monotonic() + 15
    while ask_server(kport, Ask("none")) is None:
        if kam.poll() is not None or time.monotonic() > deadline:
            ours.stop()
            kam.kill()
            pytest.fail("kamailio did not start:\n" + (folder / "kamailio.log").read_text())
    return kam, ours, Pair(folder, kport, sport, ctl)


@pytest.fixture(scope="module")
def kamailio_available() -> None:
    for path, package in ((KAMAILIO, "kamailio"), (MPATH + "permissions.so", "kamailio"),
                          (MPATH + "db_sqlite.so", "kamailio-sqlite-modules")):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: apt-get install {package}")


@pytest.fixture(scope="module", params=sorted(SETUPS))
def servers(request: pytest.FixtureRequest, kamailio_available: None,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Pair]]:
    folder = tmp_path_factory.mktemp(f"perm-{request.param}")
    write_files(folder)
    (folder / "address.list").write_text("".join(
        f"{g} {ip if ':' not in ip else f'[{ip}]'} {m} {p}{f' {t}' if t else ''}\n"
        for g, ip, m, p, t in ADDRESS_ROWS))
    make_db(folder / "perm.db", address=ADDRESS_ROWS, trusted=TRUSTED_ROWS + TRUSTED_EXTRA)
    kam, ours, pair = _start(folder, SETUPS[request.param])
    try:
        yield request.param, pair
    finally:
        kam.terminate()
        kam.wait(10)
        ours.stop()


def _compare(pair: Pair, cases: list[Ask], seen: set[str] | None = None) -> list[str]:
    out = []
    for ask in cases:
        theirs, ours = ask_server(pair.kport, ask), ask_server(pair.sport, ask)
        if theirs != ours or theirs is None:
            out.append(f"{ask}: kamailio {theirs!r} ksrpy {ours!r}")
        if seen is not None and theirs is not None:
            seen.add(theirs)
    return out


def test_decisions_match_kamailio(servers: tuple[str, Pair]) -> None:
    _, pair = servers
    seen: set[str] = set()
    mismatches = _compare(pair, CASES, seen)
    assert not mismatches, "\n".join(mismatches)
    codes = {s.split()[0] for s in seen}
    assert {"rc=1", "rc=-1", "rc=2", "rc=3"} <= codes and len(seen) > 15  # not vacuous


def _trusted_items(answer: Any) -> list[Any]:
    """trustedDump items: Kamailio answers one struct with repeated keys, ksrpy a list."""
    if isinstance(answer, list) and answer and isinstance(answer[0], tuple):
        return sorted(json.dumps(_plain(v)) for k, v in answer if k == "item")
    return sorted(json.dumps(e["item"]) for e in answer)


def _plain(value: Any) -> Any:
    """Kamailio's answers decoded with object_pairs_hook=list, as plain dicts."""
    if isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return {k: _plain(v) for k, v in value} if value else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _same(ours: Any, theirs: Any) -> bool:
    """Equal answers; for errors the same code and a message that starts like Kamailio's."""
    ours, theirs = _plain(ours), _plain(theirs)
    if isinstance(theirs, dict) and set(theirs) == {"code", "message"}:
        return (isinstance(ours, dict) and ours.get("code") == theirs["code"]
                and str(ours.get("message")).startswith(theirs["message"].rstrip(".")))
    return bool(ours == theirs)


def test_rpc_answers_and_reloads_match(servers: tuple[str, Pair]) -> None:
    setup, pair = servers
    kam = lambda m, *p: kamailio_rpc(pair.folder, m, *p)  # noqa: E731
    ours = lambda m, *p: ksrpy_rpc(pair.ctl, m, *p)  # noqa: E731
    for method, params in [("permissions.testUri", ("basename", "sip:alice@x", "sip:bob@y")),
                           ("permissions.testUri", ("basename", "sip:zed@x", "sip:bob@y")),
                           ("permissions.allowUri", ("basename", "sip:zed@x", "sip:carl@y")),
                           ("permissions.subnetDump", ()), ("permissions.trustedReload", ())]:
        assert _same(ours(method, *params), kam(method, *params)), method
    assert sorted(json.dumps(_plain(e)["item"]) for e in ours("permissions.addressDump")) == \
        sorted(json.dumps(_plain(e)["item"]) for e in kam("permissions.addressDump"))
    if setup != "db0":
        assert _trusted_items(ours("permissions.trustedDump")) == \
            _trusted_items(kam("permissions.trustedDump"))
    conn = sqlite3.connect(pair.folder / "perm.db")
    conn.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) "
                 "VALUES (1, '127.0.0.11', 32, 0, 'new')")
    conn.execute("INSERT INTO trusted (src_ip, proto, tag) VALUES ('127.0.0.11', 'any', 'tnew')")
    conn.commit()
    conn.close()
    after = [Ask("src0", src="127.0.0.11"), Ask("trusted0", src="127.0.0.11")]
    before = _compare(pair, after)
    assert not before, "\n".join(before)
    for method in ("permissions.addressReload", "permissions.trustedReload"):
        assert _same(ours(method), kam(method)), method
    changed = _compare(pair, after + TRUSTED_CASES[:4])
    assert not changed, "\n".join(changed)
