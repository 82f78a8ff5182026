"""The same cfg expressions in Kamailio 5.6 and in ksrpy: same load verdict, same values.

Each expression is first checked alone with ``kamailio -c`` and ``ksrpy check``:
both must accept it or both reject it (Kamailio rejects constant type errors
at load time). The accepted ones are then evaluated by both servers on
loopback, and the reply reasons (which carry the values) must be equal.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksrpy.core.engine import Engine
from ksrpy.script.loader import check_script
from tests.helpers.proc import KsrpyProcess
from tests.helpers.sipp import free_port

pytestmark = pytest.mark.kamailio

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

VALUES = [
    '"x" + 5', '"7" + 5', "5 + 7", '5 + "7"', "10 - 3 * 2", "(10 - 3) * 2", "7 / 2",
    "-7 / 2", "7 % 3", "7 mod 3", '"8" - 1', '$rU - 1', "$var(unset) - 1", "6 | 1", "6 & 3",
    "1 << 4", "$rU", '"sip:" + $rU + "@" + $fd', "$var(unset)", '$rU + 1', '$si + ":"',
    "(int)\"42\"", '"a" + $du', "$null", "$rd", "$fU", "$tU", "$cs", "$rm", "$cs + $cs",
]

CONDITIONS = [
    '"10" == 10', '"abc" == "abc"', '"abc" == "ABC"', '"abc" != "abd"', "$var(unset) == 0",
    '$var(unset) == ""', "$du == $null", "$rU != $null", "3 < 10", '"3" < "10"', "$rU < 10",
    "$cs < 2", '$ci > "a"', "10 >= 10", '$ua =~ "friendly-SCANNER"', '$ua !~ "sipvicious"',
    '!($ua =~ "sipvicious")', '$du =~ "."', 'method == "OPTIONS"', 'method == "options"',
    'method != "options"', '"options" == method', 'method =~ "^opt"', '$rm == "options"',
    "src_port == $sp", "proto == UDP", "af == INET", "!(1 == 1)", "1 == 1 && 2 == 3",
    "1 == 2 || 2 == 2", "$var(unset)", '"x"', '""', '"1"', '"5x"', '"0"', '" 2"', "-1", "1",
    "0", "$cs", "$fU", "$sp", 'is_method("OPTIONS")', '!is_method("INVITE")', "has_totag()",
    '$rU == "e0"', "$cs == 1", '$cs == "1"', '$rU =~ "^E"', "$sp > 1024", "$du", "$rU",
    'uri =~ "^sip:"',
]

HEADER = """\
#!KAMAILIO
debug=0
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
"""


def _value_body(expr: str) -> str:
    return f'$var(r) = {expr};\n sl_send_reply("200", "[$var(r)]");\n exit;\n'


def _cond_body(expr: str) -> str:
    return (f'if ({expr}) {{ $var(r) = "T"; }} else {{ $var(r) = "F"; }}\n'
            ' sl_send_reply("200", "[$var(r)]");\n exit;\n')


def _single(body: str, port: int = 5060) -> str:
    return HEADER.format(port=port, mpath=MPATH) + "request_route {\n " + body + "}\n"


def _kamailio_accepts(path: Path) -> bool:
    result = subprocess.run([KAMAILIO, "-c", "-f", str(path)], capture_output=True, text=True,
                            timeout=30)
    return result.returncode == 0


def _ksrpy_accepts(path: Path) -> bool:
    return not check_script(str(path), Engine())


@pytest.fixture(scope="module")
def kamailio_available() -> None:
    if not Path(KAMAILIO).exists():
        pytest.fail("kamailio is not installed: apt-get install kamailio")


CASES = [("value", e) for e in VALUES] + [("cond", c) for c in CONDITIONS]


@pytest.fixture(scope="module")
def verdicts(kamailio_available: None, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(kind, expr) -> (kamailio accepts, ksrpy accepts)."""
    folder = tmp_path_factory.mktemp("verdicts")
    out = {}
    for n, (kind, expr) in enumerate(CASES):
        body = _value_body(expr) if kind == "value" else _cond_body(expr)
        path = folder / f"case{n}.cfg"
        path.write_text(_single(body))
        out[(kind, expr)] = (_kamailio_accepts(path), _ksrpy_accepts(path))
    return out


def test_load_time_verdicts_agree(verdicts: dict[tuple[str, str], tuple[bool, bool]]) -> None:
    disagree = {case: v for case, v in verdicts.items() if v[0] != v[1]}
    assert not disagree, "kamailio accepts / ksrpy accepts differ: " + repr(disagree)
    assert sum(1 for k, _ in verdicts.values() if not k) >= 1  # the type-error case exists


def _combined(cases: list[tuple[str, str]], port: int) -> str:
    lines = [HEADER.format(port=port, mpath=MPATH), "request_route {", " switch ($rU) {"]
    for n, (kind, expr) in enumerate(cases):
        body = _value_body(expr) if kind == "value" else _cond_body(expr)
        lines.append(f'  case "e{n}":')
        lines.append(textwrap.indent(body, "   "))
    lines += [" }", ' sl_send_reply("404", "no case");', "}"]
    return "\n".join(lines) + "\n"


def _ask(port: int, user: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        local = sock.getsockname()[1]
        data = (f"OPTIONS sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{uuid.uuid4().hex[:10]}\r\n"
                f"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.org>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "User-Agent: Friendly-Scanner 1.0\r\nContent-Length: 0\r\n\r\n")
        sock.sendto(data.encode(), ("127.0.0.1", port))
        try:
            reply = sock.recvfrom(65536)[0]
        except TimeoutError:
            return None
    return reply.split(b"\r\n", 1)[0].decode()


@pytest.fixture(scope="module")
def both_servers(verdicts: dict[tuple[str, str], tuple[bool, bool]],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list, int, int]]:
    accepted = [case for case, (k, s) in verdicts.items() if k and s]
    folder = tmp_path_factory.mktemp("combined")
    kport, sport = free_port(), free_port()
    kcfg, scfg = folder / "kamailio.cfg", folder / "ksrpy.cfg"
    kcfg.write_text(_combined(accepted, kport))
    scfg.write_text(_combined(accepted, sport))
    kam = subprocess.Popen([KAMAILIO, "-f", str(kcfg), "-DD", "-E"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ours = KsrpyProcess(script=str(scfg), listen=(f"udp:127.0.0.1:{sport}",)).start()
    try:
        deadline = time.monotonic() + 10
        while _ask(kport, "nobody") is None:
            assert time.monotonic() < deadline, "kamailio did not start"
            assert kam.poll() is None, "kamailio exited"
        yield accepted, kport, sport
    finally:
        kam.terminate()
        kam.wait(10)
        ours.stop()


def test_values_and_conditions_match_kamailio(both_servers: tuple[list, int, int]) -> None:
    accepted, kport, sport = both_servers
    assert len(accepted) > 40
    mismatches = []
    for n, case in enumerate(accepted):
        theirs, ours = _ask(kport, f"e{n}"), _ask(sport, f"e{n}")
        if theirs != ours:
            mismatches.append((case, theirs, ours))
    assert not mismatches, "\n".join(f"{c}: kamailio {k!r} ksrpy {o!r}" for c, k, o in mismatches)
