"""The cfg compiler: statements, operators, typing rules, PVs in strings, load-time errors.

Scripts are compiled into an in-memory engine whose transport records what is
sent; each test checks the replies a request gets.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ksrpy.core.config import CoreConfig
from ksrpy.core.engine import Engine
from ksrpy.script.errors import ScriptLoadError
from ksrpy.script.loader import check_script, load_script
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec, ReceiveInfo
from tests.unit.test_kemi_pv import CaptureTransport

HEADER = """\
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "textops.so"
"""
RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)


def _engine(tmp_path: Path, body: str, *, defines: dict[str, str] | None = None,
            header: str = HEADER) -> Engine:
    path = tmp_path / "test.cfg"
    path.write_text(header + textwrap.dedent(body))
    engine = Engine(CoreConfig(defines=defines or {}))
    transport = CaptureTransport()
    transport.bound = [ListenSpec("udp", "127.0.0.1", 5070)]
    engine.set_routes(load_script(str(path), engine))
    engine.attach_transport(transport)  # type: ignore[arg-type]
    return engine


def _request(engine: Engine, ruri: str = "sip:u@127.0.0.1:5070", method: str = "OPTIONS",
             extra: str = "") -> list[SIPMessage]:
    transport = engine.transport
    assert transport is not None
    before = len(transport.sent)  # type: ignore[attr-defined]
    raw = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK1\r\n"
           f"From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
           f"Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}"
           "Content-Length: 0\r\n\r\n")
    engine.handle(raw.encode(), RCV)
    return [SIPMessage.parse(s[3]) for s in transport.sent[before:]]  # type: ignore[attr-defined]


def _reason(engine: Engine, **kw: str) -> str:
    replies = _request(engine, **kw)
    assert len(replies) == 1, f"expected one reply, got {len(replies)}"
    return f"{replies[0].status} {replies[0].reason}"


def _eval(tmp_path: Path, expr: str, *, cond: bool = False) -> str:
    """The value of ``expr`` (or T/F for a condition) as the reply reason."""
    if cond:
        body = f'request_route {{ if ({expr}) {{ $var(r) = "T"; }} else {{ $var(r) = "F"; }}\n'
    else:
        body = f"request_route {{ $var(r) = {expr};\n"
    body += '  sl_send_reply("200", "[$var(r)]"); }\n'
    return _reason(_engine(tmp_path, body)).removeprefix("200 ")


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ('"x" + 5', "[x5]"),          # + takes the type of the left operand
        ('"7" + 5', "[75]"),
        ("5 + 7", "[12]"),
        ("10 - 3 * 2", "[4]"),
        ("(10 - 3) * 2", "[14]"),
        ("7 / 2", "[3]"),
        ("-7 / 2", "[-3]"),           # C truncation
        ("7 mod 3", "[1]"),
        ("6 | 1", "[7]"),
        ("6 & 3", "[2]"),
        ("6 ^ 3", "[5]"),
        ("1 << 4", "[16]"),
        ("~0", "[-1]"),
        ("-(3)", "[-3]"),
        ("$rU", "[u]"),
        ('"sip:" + $rU + "@" + $fd', "[sip:u@example.com]"),
        ("$var(unset)", "[0]"),       # an unset $var reads as 0
        ("(int)\"42\"", "[42]"),
        ("(str)42 + 1", "[421]"),
    ],
)
def test_arithmetic_and_concatenation(tmp_path: Path, expr: str, value: str) -> None:
    assert _eval(tmp_path, expr) == value


@pytest.mark.parametrize(
    ("cond", "truth"),
    [
        ('"10" == 10', "T"),          # numeric when one side is an int
        ('"abc" == "abc"', "T"),
        ('"abc" == "ABC"', "F"),
        ('"abc" != "abd"', "T"),
        ("$var(unset) == 0", "T"),
        ('$var(unset) == ""', "F"),
        ("$du == $null", "T"),
        ("$rU != $null", "T"),
        ("3 < 10", "T"),
        ('$rU < 10', "T"),            # relational operators compare integers ("u" is 0)
        ("10 >= 10", "T"),
        ('$ua =~ "friendly-SCANNER"', "T"),  # =~ is case-insensitive
        ('!($ua =~ "sipvicious")', "T"),
        ('method == "options"', "T"),  # method comparison ignores case
        ('$du =~ "."', "F"),          # $null never matches
        ('method == "OPTIONS"', "T"),
        ("src_ip == 10.9.9.9", "T"),
        ("src_ip == 10.0.0.0/8", "T"),
        ("src_ip != 192.168.0.0/16", "T"),
        ("src_port == 40000", "T"),
        ("dst_port == 5070", "T"),
        ("proto == UDP", "T"),
        ("af == INET", "T"),
        ("uri == myself", "T"),
        ("src_ip == myself", "F"),
        ("from_uri =~ \"alice@\"", "T"),
        ("!(1 == 1)", "F"),
        ("1 == 1 && 2 == 3", "F"),
        ("1 == 2 || 2 == 2", "T"),
        ("defined $rU", "T"),
        ("defined $du", "F"),
        ("strlen($rU) == 1", "T"),
        ("strempty($du)", "T"),
        ("$var(unset)", "F"),
        ('"x"', "F"),                 # a string in a condition is read as a number
        ('"5"', "T"),
        ('""', "F"),
        ("-1", "F"),
        ("is_method(\"OPTIONS\")", "T"),
        ("!is_method(\"INVITE\")", "T"),
        ("has_totag()", "F"),
    ],
)
def test_conditions(tmp_path: Path, cond: str, truth: str) -> None:
    extra = "User-Agent: Friendly-Scanner 1.0\r\n"
    body = (f'request_route {{ if ({cond}) {{ $var(r) = "T"; }} else {{ $var(r) = "F"; }}\n'
            '  sl_send_reply("200", "[$var(r)]"); }\n')
    engine = _engine(tmp_path, body)
    assert _reason(engine, extra=extra) == f"200 [{truth}]"


def test_switch_with_fall_through_break_and_default(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            $var(out) = "";
            switch ($rU) {
                case "a":
                    $var(out) = $var(out) + "a";
                case "b":
                    $var(out) = $var(out) + "b";
                    break;
                case "c":
                    $var(out) = $var(out) + "c";
                default:
                    $var(out) = $var(out) + "d";
            }
            switch ($var(n)) {
                case 0:
                    $var(out) = $var(out) + "0";
                    break;
                case 1:
                    $var(out) = $var(out) + "1";
            }
            sl_send_reply("200", "[$var(out)]");
        }
    """)
    assert _reason(engine, ruri="sip:a@h") == "200 [ab0]"
    assert _reason(engine, ruri="sip:b@h") == "200 [b0]"
    assert _reason(engine, ruri="sip:c@h") == "200 [cd0]"
    assert _reason(engine, ruri="sip:z@h") == "200 [d0]"


def test_while_and_max_while_loops(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        max_while_loops=50
        request_route {
            $var(i) = 0;
            while ($var(i) < 1000) { $var(i) = $var(i) + 1; }
            $var(j) = 0;
            while ($var(j) < 5) { $var(j) = $var(j) + 1; if ($var(j) == 3) { break; } }
            sl_send_reply("200", "[$var(i) $var(j)]");
        }
    """)
    assert _reason(engine) == "200 [50 3]"


def test_route_return_values_and_rc(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            if (route(NEG)) { $var(a) = "t"; } else { $var(a) = "f"; }
            $var(rc1) = $rc;
            route(NOVALUE);
            $var(rc2) = $retcode;
            route("POS");
            $var(rc3) = $?;
            sl_send_reply("200", "[$var(a) $var(rc1) $var(rc2) $var(rc3)]");
        }
        route[NEG] { return -2; }
        route[NOVALUE] { return; }
        route["POS"] { return 5; }
    """)
    assert _reason(engine) == "200 [f -2 1 5]"


def test_return_zero_from_subroute_stops_the_script(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            route(STOP);
            sl_send_reply("500", "not reached");
        }
        route[STOP] { sl_send_reply("200", "stopped"); return 0; }
    """)
    assert _reason(engine) == "200 stopped"


def test_exit_and_drop(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            if ($rU == "e") { exit; }
            if ($rU == "d") { drop; }
            sl_send_reply("200", "went on");
        }
    """)
    assert _request(engine, ruri="sip:e@h") == []
    assert _request(engine, ruri="sip:d@h") == []
    assert _reason(engine, ruri="sip:x@h") == "200 went on"


def test_pvs_in_string_arguments_and_assignment_targets(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            $ru = "sip:carol@example.net";
            $du = "sip:10.0.0.1:5080";
            $var(x) = $rU + "/" + $du;
            $du = $null;
            sl_send_reply("200", "$var(x) $rd $fU@$fd $si:$sp null=$du");
        }
    """)
    assert _reason(engine) == ("200 carol/sip:10.0.0.1:5080 example.net alice@example.com "
                               "10.9.9.9:40000 null=<null>")


def test_maxfwd_and_sl_from_cfg(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        #!define MAXHOPS 10
        request_route {
            if (!mf_process_maxfwd_header(MAXHOPS)) {
                sl_send_reply("483", "Too Many Hops");
                exit;
            }
            sl_send_reply("200", "OK");
        }
    """)
    assert _reason(engine) == "200 OK"


def test_global_parameters_take_effect(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        server_header="Server: Edge"
        listen=udp:127.0.0.1:5099
        alias=sip.example.com:5099
        children=8
        request_route { sl_send_reply("200", "OK"); }
    """)
    assert engine.config.server_header == "Server: Edge"
    assert engine.config.listen == ["udp:127.0.0.1:5099"]
    assert engine.config.alias == ["sip.example.com:5099"]
    assert _request(engine)[0].get_header("Server") == "Edge"


@pytest.mark.parametrize(("word", "value"), [("yes", 1), ("on", 1), ("enable", 1), ("TRUE", 1),
                                           ("no", 0), ("off", 0), ("disable", 0)])
def test_bare_yes_no_in_modparam_are_numbers(tmp_path: Path, word: str, value: int) -> None:
    engine = _engine(tmp_path, f"""
        loadmodule "auth.so"
        loadmodule "auth_db.so"
        modparam("auth_db", "calculate_ha1", {word})
        request_route {{ sl_send_reply("200", "OK"); }}
    """)
    assert engine.modules["auth_db"].settings["calculate_ha1"] == value


def _errors(tmp_path: Path, body: str, header: str = HEADER) -> list[str]:
    path = tmp_path / "bad.cfg"
    path.write_text(header + textwrap.dedent(body))
    with pytest.raises(ScriptLoadError) as info:
        load_script(str(path), Engine())
    return [str(i) for i in info.value.issues]


def test_every_error_reported_with_location_and_caret(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        request_route {
            no_such_function();
            sl_send_reply("200");
            route(MISSING);
            $si = "1.2.3.4";
            $nosuch = 1;
            mf_process_maxfwd_header("ten");
            if ($ua =~ "(") { exit; }
        }
    """)
    path = tmp_path / "bad.cfg"
    text = "\n".join(errors)
    assert f"{path}:7:5: unknown function no_such_function()" in text
    assert f"{path}:8:5: sl_send_reply() takes 2 argument(s), 1 given" in text
    assert f"{path}:9:5: route(MISSING): no route[MISSING] block" in text
    assert f"{path}:10:5: $si cannot be assigned" in text
    assert "unknown pseudo-variable $nosuch" in text
    assert (f"{path}:12:30: argument 1 (limit) of mf_process_maxfwd_header() "
            "must be an integer") in text
    assert "invalid regular expression '('" in text
    assert len(errors) == 7
    assert "        no_such_function();\n        ^" in errors[0].split("\n", 1)[1]


def test_syntax_errors_are_all_reported(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        request_route {
            if ($x == ) { exit; }
            sl_send_reply("200", "ok")
        }
        route[X] { exit }
    """)
    path = tmp_path / "bad.cfg"
    assert any(e.startswith(f"{path}:7:") and "syntax error" in e for e in errors)
    assert len(errors) >= 2


def test_module_errors(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        loadmodule "dialog.so"
        loadmodule "dialog.so"
        modparam("maxfwd", "max_limt", 10)
        modparam("maxfwd", "max_limit", "abc")
        modparam("rr", "enable_full_lr", 1)
        request_route { dlg_manage(); }
    """)
    text = "\n".join(errors)
    assert text.count("module 'dialog' is not available in ksrpy") == 1
    assert "no parameter 'max_limt'" in text
    assert "expects an integer" in text
    assert "modparam for module 'rr', which is not loaded" in text
    # dlg_manage() is not reported: its module is missing, that error says it all.
    assert "dlg_manage" not in text


def test_constant_type_errors_are_load_errors(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        request_route {
            $var(a) = 5 + "7";
            $var(b) = 5 - "x";
            if ("3" < "10") { exit; }
            if ("options" == method) { exit; }
        }
    """)
    text = "\n".join(errors)
    assert "type mismatch: string added to an integer" in text
    assert "type mismatch: string operand of '-'" in text
    assert "type mismatch: string operand of '<'" in text
    assert "'method' must be on the left side of '=='" in text


def test_function_not_allowed_in_route_type(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        request_route { exit; }
        onreply_route[R] { sl_send_reply("200", "no"); }
    """)
    assert any("sl_send_reply() cannot be used in onreply_route[R]" in e for e in errors)


def test_unknown_global_and_duplicate_route(tmp_path: Path) -> None:
    errors = _errors(tmp_path, """\
        frobnicate=1
        request_route { exit; }
        route[A] { exit; }
        route[A] { exit; }
    """)
    assert any("unknown global parameter 'frobnicate'" in e for e in errors)
    assert any("route[A] is defined twice" in e for e in errors)


def test_runtime_error_names_the_cfg_line(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                          ) -> None:
    engine = _engine(tmp_path, """
        request_route {
            $var(zero) = 0;
            $var(x) = 10 / $var(zero);
            sl_send_reply("200", "not reached");
        }
    """)
    assert _request(engine) == []
    path = tmp_path / "test.cfg"
    assert f"{path}:9" in caplog.text and "division by zero" in caplog.text


def test_check_syntax_only_skips_module_lookups(tmp_path: Path) -> None:
    path = tmp_path / "lint.cfg"
    path.write_text('loadmodule "dialog.so"\nrequest_route { dlg_manage(); }\n')
    assert check_script(str(path), Engine(), syntax_only=True) == []
    assert check_script(str(path), Engine())
