"""textopsx: header-value edits, keep_hf, remove_body, iterators, fnmatch, msg_apply_changes.

tests/data/textopsx_kamailio_5.6.3.json holds what Kamailio 5.6.3 forwarded
(``forward()`` to a capture socket on loopback) for the request built by
``_request`` after each cfg line; ksrpy must forward the same headers and body.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.engine import Engine
from ksrpy.modules.textopsx import fnmatch_regex
from ksrpy.modules.textopsx_hfvalue import parse_spec
from ksrpy.script.loader import load_script
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec, ReceiveInfo
from tests.unit.tmkit import Capture, answer, bench, invite

DATA = Path(__file__).resolve().parents[1] / "data" / "textopsx_kamailio_5.6.3.json"
CASES: list[dict[str, Any]] = json.loads(DATA.read_text())["cases"]
RCV = ReceiveInfo("udp", "127.0.0.1", 9, "127.0.0.1", 5070, None, 4)
CAPTURE = 5099
BODY = "v=0\r\nm=audio 1 RTP/AVP 0\r\na=x1\r\na=y\r\n"
LEFT_OUT = ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "X-Case")


def _request(case: int | str) -> bytes:
    return (f"OPTIONS sip:123@127.0.0.1:5070 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-{case}\r\n"
            "From: <sip:a@x>;tag=f1\r\nTo: <sip:b@y>\r\n"
            f"Call-ID: c{case}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Case: {case}\r\n"
            "Foo: a, b\r\nFoo: c\r\nBar: \"Nm\" <sip:x@y;lr>;p=1 ;q=2\r\n"
            "Baz: v1;p=1, v2;p=2\r\nBaz: v3\r\n"
            "Authorization: Digest username=\"u\", realm=\"r\", nonce=\"n1\", uri=\"sip:y\"\r\n"
            "Supported: 100rel, path\r\nX-Keep: 1\r\nX-Other: 2\r\n"
            "Content-Type: application/sdp\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n{BODY}").encode()


def _engine(tmp_path: Path, cases: list[str], extra_modules: str = "") -> Engine:
    body = "".join(f'  if ($var(c) == "{n}") {{ {code} }}\n' for n, code in enumerate(cases))
    path = tmp_path / "tx.cfg"
    path.write_text('loadmodule "textops.so"\nloadmodule "textopsx.so"\nloadmodule "sl.so"\n'
                    + extra_modules + "request_route {\n  $var(c) = $hdr(X-Case);\n" + body
                    + f'  $du = "sip:127.0.0.1:{CAPTURE}";\n  forward();\n  exit;\n}}\n')
    engine = Engine()
    engine.set_routes(load_script(str(path), engine))
    engine.attach_transport(Capture([ListenSpec.parse("udp:127.0.0.1:5070")]))  # type: ignore[arg-type]
    engine.init_modules()
    return engine


def _forwarded(engine: Engine, case: int, raw: bytes | None = None) -> SIPMessage | None:
    sent = engine.transport.sent  # type: ignore[union-attr]
    before = len(sent)
    engine.handle(raw or _request(case), RCV)
    out = [s for s in sent[before:] if s[2] == CAPTURE]
    return SIPMessage.parse(out[0][3]) if out else None


def _view(msg: SIPMessage) -> tuple[list[str], str]:
    data = msg.to_bytes().decode()
    head, _, body = data.partition("\r\n\r\n")
    lines = [ln for ln in head.split("\r\n")[1:] if ln.split(":")[0] not in LEFT_OUT]
    return lines, body


@pytest.fixture(scope="module")
def kamailio_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tmp_path_factory.mktemp("tx"), [c["cfg"] for c in CASES])


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c["cfg"][:40] for c in CASES])
def test_same_message_as_kamailio(kamailio_engine: Engine, n: int) -> None:
    msg = _forwarded(kamailio_engine, n)
    assert msg is not None
    headers, body = _view(msg)
    assert (headers, body) == (CASES[n]["headers"], CASES[n]["body"])


# ------------------------------------------------------------------- one-offs


def _run(tmp_path: Path, code: str, raw: bytes | None = None,
         extra_modules: str = "") -> tuple[list[str], str]:
    engine = _engine(tmp_path, [code], extra_modules)
    msg = _forwarded(engine, 0, raw)
    assert msg is not None
    return _view(msg)


def test_keep_hf_without_regex_keeps_the_core_headers(tmp_path: Path) -> None:
    headers, _ = _run(tmp_path, "keep_hf();")
    assert headers == ["Content-Type: application/sdp", "Content-Length: 37"]


def test_remove_body_sets_content_length_zero(tmp_path: Path) -> None:
    headers, body = _run(tmp_path, "remove_body();")
    assert body == "" and "Content-Length: 0" in headers


def test_msg_apply_changes_applies_a_new_request_uri(tmp_path: Path) -> None:
    code = ('$ru = "sip:new@127.0.0.1"; remove_hf("X-Other"); msg_apply_changes(); '
            'if ($ou == "sip:new@127.0.0.1" && !is_present_hf("X-Other")) '
            '{ append_hf("X-R: ok\\r\\n"); }')
    engine = _engine(tmp_path, [code])
    msg = _forwarded(engine, 0)
    assert msg is not None and msg.ruri == "sip:new@127.0.0.1"
    assert msg.get_header("X-R") == "ok" and not msg.has_header("X-Other")


def test_msg_apply_changes_refused_after_record_route(tmp_path: Path, caplog: Any) -> None:
    code = 'record_route(); if (msg_apply_changes() < 0) { append_hf("X-R: refused\\r\\n"); }'
    engine = _engine(tmp_path, [code], 'loadmodule "rr.so"\n')
    msg = _forwarded(engine, 0)
    assert msg is not None and msg.get_header("X-R") == "refused"
    assert "after adding record-route" in caplog.text


def test_msg_apply_changes_refused_once_the_transaction_exists(tmp_path: Path) -> None:
    b = bench(tmp_path, """
        request_route {
            t_newtran();
            if (msg_apply_changes() < 0) { t_reply("500", "refused"); exit; }
            t_reply("200", "applied");
        }
        """, tm_params='loadmodule "textopsx.so"\n')
    out = b.request(invite(method="OPTIONS"))
    assert [(s.msg.status, s.msg.reason) for s in out] == [(500, "refused")]


def test_msg_set_buffer_replaces_the_request(tmp_path: Path) -> None:
    new = _request(7).decode().replace("OPTIONS sip:123@", "OPTIONS sip:999@")
    new = new.replace("\r\n", "\\r\\n").replace('"', '\\"')
    engine = _engine(tmp_path, [f'msg_set_buffer("{new}"); '
                                'if ($rU == "999" && $hdr(X-Case) == "7") '
                                '{ append_hf("X-R: ok\\r\\n"); }'])
    msg = _forwarded(engine, 0)
    assert msg is not None and msg.ruri.startswith("sip:999@") and msg.get_header("X-R") == "ok"


def test_msg_set_buffer_refuses_a_reply_for_a_request(tmp_path: Path) -> None:
    code = ('if (msg_set_buffer("SIP/2.0 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n") < 0) '
            '{ append_hf("X-R: refused\\r\\n"); }')
    headers, _ = _run(tmp_path, code)
    assert "X-R: refused" in headers


def test_iterators_read_headers_and_body_lines(tmp_path: Path) -> None:
    code = ('$var(n) = ""; hf_iterator_start("h"); hf_iterator_next("h"); hf_iterator_next("h"); '
            'hf_iterator_prev("h"); $var(n) = $hfitname(h) + "=" + $hfitbody(h); '
            'hf_iterator_end("h"); bl_iterator_start("b"); bl_iterator_next("b"); '
            'bl_iterator_next("b"); $var(l) = $(blitval(b){s.trim}); bl_iterator_end("b"); '
            'append_hf("X-R: $var(n) $var(l)\\r\\n");')
    headers, _ = _run(tmp_path, code)
    assert "X-R: Via=SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-0 m=audio 1 RTP/AVP 0" in headers


def test_iterator_limits_and_unknown_names(tmp_path: Path, caplog: Any) -> None:
    code = ('hf_iterator_start("a"); hf_iterator_start("b"); hf_iterator_start("c"); '
            'hf_iterator_start("d"); if (hf_iterator_start("e") < 0) '
            '{ append_hf("X-A: full\\r\\n"); } if (hf_iterator_next("zz") < 0) '
            '{ append_hf("X-B: unknown\\r\\n"); } hf_iterator_start("a");')
    headers, _ = _run(tmp_path, code)
    assert "X-A: full" in headers and "X-B: unknown" in headers
    assert "max number is 4" in caplog.text and "iterator not available [zz]" in caplog.text


@pytest.mark.parametrize(("value", "pattern", "flags", "matched"), [
    ("123", "12*", "", True),
    ("ABC", "a?c", "i", True),
    ("ABC", "a?c", "", False),
    ("a*c", "a\\*c", "", True),
    ("abc", "a\\*c", "", False),
    ("b", "[!a]", "", True),
    ("a", "[!a]", "", False),
    ("x7", "x[[:digit:]]", "", True),
    ("a/b", "a*b", "", True),
    ("[", "[", "", True),
    ("a-z", "a[-]z", "", True),
])
def test_fnmatch_patterns(value: str, pattern: str, flags: str, matched: bool) -> None:
    icase = bool(flags) and flags[0] in "iI"
    assert bool(fnmatch_regex(pattern, icase).fullmatch(value)) is matched


@pytest.mark.parametrize(("spec", "op", "words"), [
    ("foo[*]", "append", "asterisk not supported"),
    ("foo.bar", "insert", "param not supported"),
    ("foo[*]", "assign", "asterisk not supported without param"),
    ("foo[1]", "include", "neither index nor param"),
    ("foo[-11]", "remove", "cannot be lower than -10"),
    ("foo bar", "remove", "cannot parse header spec"),
])
def test_bad_header_specs_are_refused(spec: str, op: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[")):
        parse_spec(spec, op)


# ------------------------------------------------------------------ replies


REPLY_SCRIPT = """
request_route {
    t_on_reply("R");
    t_relay();
}
onreply_route[R] {
    if ($rs == 603) { change_reply_status(404, "Not Found"); }
    if ($rs == 180) { if (change_reply_status(200, "OK") < 0) { append_hf("X-R: kept\\r\\n"); } }
    if ($rs == 486) { change_reply_status_code("480"); }
}
"""


def test_change_reply_status_in_onreply_route(tmp_path: Path) -> None:
    b = bench(tmp_path, REPLY_SCRIPT, tm_params='loadmodule "textopsx.so"\n')
    finals: list[int] = []
    b.tm.add_final_callback(lambda ctx, st, rs, rp: finals.append(st))
    uas = ("127.0.0.1", 5080)
    fwd = [s for s in b.request(invite()) if s.dest == uas][0].msg
    ring = [s.msg for s in b.reply(answer(fwd, 180, "Ringing"), src=uas)]
    assert [(m.status, m.reason, m.get_header("X-R")) for m in ring] == [(180, "Ringing", "kept")]
    out = [s.msg for s in b.reply(answer(fwd, 603, "Decline"), src=uas) if not s.msg.is_request]
    assert [(m.status, m.reason) for m in out] == [(404, "Not Found")]
    assert finals == [404]
    fwd2 = [s for s in b.request(invite(call_id="c2", branch="z9hG4bKx2"))
            if s.dest == uas][0].msg
    out = [s.msg for s in b.reply(answer(fwd2, 486, "Busy Here"), src=uas)
           if not s.msg.is_request]
    assert [(m.status, m.reason) for m in out] == [(480, "Busy Here")]


def test_kemi_exports_match_kamailio_names() -> None:
    from ksrpy.modules.textopsx import TextopsxModule

    names = set(TextopsxModule.export_table().kemi)
    assert len(names) == 34
    assert {"msg_apply_changes", "msg_set_buffer", "change_reply_status",
            "change_reply_status_code", "remove_body", "keep_hf", "keep_hf_re", "fnmatch",
            "fnmatch_ex", "hf_iterator_hname", "hf_iterator_hbody", "bl_iterator_value",
            "append_hf_value", "hf_value_exists"} <= names


def test_kemi_script_uses_textopsx(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import KSR

        def mod_init():
            return kamailio()

        class kamailio:
            def ksr_request_route(self, msg):
                if KSR.textopsx.fnmatch_ex("ABC", "a*", "i") > 0:
                    KSR.textopsx.include_hf_value("Supported", "timer")
                KSR.textopsx.keep_hf_re("^(X-K|Supported)")
                KSR.textopsx.hf_iterator_start("i")
                KSR.textopsx.hf_iterator_next("i")
                KSR.hdr.append("X-First: " + KSR.textopsx.hf_iterator_hname("i") + "\\r\\n")
                KSR.forward_uri("sip:127.0.0.1:{CAPTURE}")
                return 1
        """)
    path = tmp_path / "tx.py"
    path.write_text(script)
    engine = Engine()
    engine.set_routes(load_script(str(path), engine))
    engine.attach_transport(Capture([ListenSpec.parse("udp:127.0.0.1:5070")]))  # type: ignore[arg-type]
    engine.init_modules()
    msg = _forwarded(engine, 1)
    assert msg is not None
    headers, _ = _view(msg)
    assert headers == ["Supported: 100rel, path,timer", "X-Keep: 1",
                       "Content-Type: application/sdp", "Content-Length: 37", "X-First: Via"]
