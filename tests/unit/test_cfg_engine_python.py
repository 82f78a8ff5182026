"""cfgengine "python": a cfg sets modules and parameters, a Python KSR script routes."""

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

RCV = ReceiveInfo("udp", "10.9.9.9", 40000, "127.0.0.1", 5070, None, 4)

SCRIPT = """\
import KSR

def mod_init():
    return Handler()

class Handler:
    def ksr_request_route(self, msg):
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return 1
        KSR.sl.sl_send_reply(200, "From Python " + KSR.pv.get("$rm"))
        return 1
"""

CFG = """\
debug=2
log_prefix="PY3 {$rm}: "
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "app_python3.so"
modparam("maxfwd", "max_limit", 20)
modparam("app_python3", "load", "LOAD")
cfgengine "python"
"""


def _write(tmp_path: Path, cfg: str = CFG, load: str = "routes/script.py",
           script: str = SCRIPT) -> Path:
    (tmp_path / "routes").mkdir(exist_ok=True)
    (tmp_path / "routes" / "script.py").write_text(script)
    path = tmp_path / "kamailio.cfg"
    path.write_text(textwrap.dedent(cfg).replace("LOAD", load))
    return path


def _issues(path: Path, defines: dict[str, str] | None = None) -> list[str]:
    return [i.message for i in check_script(str(path), Engine(CoreConfig(defines=defines or {})))]


def _reply(engine: Engine, max_forwards: int = 70) -> SIPMessage:
    transport = engine.transport
    before = len(transport.sent)  # type: ignore[union-attr]
    raw = ("OPTIONS sip:u@127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.9.9.9:40000;branch=z9hG4bK1\r\n"
           "From: <sip:a@example.com>;tag=f1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n"
           f"CSeq: 1 OPTIONS\r\nMax-Forwards: {max_forwards}\r\nContent-Length: 0\r\n\r\n")
    engine.handle(raw.encode(), RCV)
    sent = transport.sent[before:]  # type: ignore[union-attr]
    assert len(sent) == 1
    return SIPMessage.parse(sent[0][3])


def test_cfg_parameters_apply_and_the_python_script_routes(tmp_path: Path) -> None:
    path = _write(tmp_path)
    engine = Engine(CoreConfig())
    routes = load_script(str(path), engine)
    assert routes.kind == "python"
    assert routes.files == [str(path), str(tmp_path / "routes" / "script.py")]
    assert engine.config.log_prefix == "PY3 {$rm}: "
    assert engine.modules["maxfwd"].settings["max_limit"] == 20
    assert "registrar" not in engine.modules  # only what the cfg loads, as in Kamailio
    transport = CaptureTransport()
    transport.bound = [ListenSpec("udp", "127.0.0.1", 5070)]
    engine.set_routes(routes)
    engine.attach_transport(transport)  # type: ignore[arg-type]
    ok = _reply(engine)
    assert (ok.status, ok.reason) == (200, "From Python OPTIONS")
    # max_limit 20 from the cfg lowers Max-Forwards; 0 is refused by the script.
    assert _reply(engine, max_forwards=0).status == 483


def test_absolute_load_path_and_script_name_alias(tmp_path: Path) -> None:
    path = _write(tmp_path, CFG.replace('"load"', '"script_name"'),
                  load=str(tmp_path / "routes" / "script.py"))
    assert _issues(path) == []


def test_python_script_calling_a_module_the_cfg_does_not_load(tmp_path: Path) -> None:
    script = SCRIPT.replace("KSR.maxfwd.process_maxfwd(10)", "KSR.registrar.lookup('location')")
    messages = _issues(_write(tmp_path, script=script))
    assert messages == ["KSR.registrar.lookup: module 'registrar' is not available in ksrpy"]


def test_cfg_issues_and_script_issues_are_reported_together(tmp_path: Path) -> None:
    cfg = CFG.replace('loadmodule "sl.so"', 'loadmodule "sl.so"\nloadmodule "nosuch.so"')
    script = SCRIPT.replace("sl_send_reply(483", "sl_send_reply(483, 1")
    messages = _issues(_write(tmp_path, cfg, script=script))
    assert any("'nosuch' is not available" in m for m in messages)
    assert any("sl_send_reply() takes 2 argument(s), 3 given" in m for m in messages)


def test_missing_script_file_is_a_load_error(tmp_path: Path) -> None:
    path = _write(tmp_path, load="nowhere.py")
    with pytest.raises(ScriptLoadError, match="cannot read script"):
        load_script(str(path), Engine(CoreConfig()))


def test_python_engine_without_app_python3(tmp_path: Path) -> None:
    cfg = CFG.replace('loadmodule "app_python3.so"\n', "").replace(
        'modparam("app_python3", "load", "LOAD")\n', "")
    messages = _issues(_write(tmp_path, cfg))
    assert len(messages) == 1 and 'needs loadmodule "app_python3.so"' in messages[0]


def test_route_blocks_are_refused_with_the_python_engine(tmp_path: Path) -> None:
    cfg = CFG + 'request_route {\n  sl_send_reply("200", "native");\n}\n'
    messages = _issues(_write(tmp_path, cfg))
    assert len(messages) == 1
    assert 'request_route is not run with cfgengine "python"' in messages[0]


def test_unsupported_init_hook_names(tmp_path: Path) -> None:
    cfg = CFG + 'modparam("app_python3", "mod_init_function", "my_init")\n'
    messages = _issues(_write(tmp_path, cfg))
    assert len(messages) == 1 and "mod_init_function='my_init' is not supported" in messages[0]
    cfg = CFG + 'modparam("app_python3", "mod_init_function", "mod_init")\n'
    assert _issues(_write(tmp_path, cfg)) == []


def test_app_python3_with_the_native_engine(tmp_path: Path) -> None:
    cfg = CFG.replace('cfgengine "python"', 'request_route {\n  exit;\n}')
    messages = _issues(_write(tmp_path, cfg))
    assert len(messages) == 1
    assert "'app_python3' is supported only as the routing engine" in messages[0]


@pytest.mark.parametrize(("engine", "hint"), [("lua", "ksrpy port lua"), ("jsdt", "jsdt")])
def test_other_engines_are_load_errors(tmp_path: Path, engine: str, hint: str) -> None:
    cfg = (f'loadmodule "sl.so"\nloadmodule "app_{engine}.so"\n'
           f'modparam("app_{engine}", "load", "x.{engine}")\ncfgengine "{engine}"\n')
    messages = _issues(_write(tmp_path, cfg))
    assert len(messages) == 1
    assert f'cfgengine "{engine}" is not supported' in messages[0] and hint in messages[0]
    syntax = check_script(str(tmp_path / "kamailio.cfg"), Engine(), syntax_only=True)
    assert [i.message for i in syntax] == messages


def test_check_reads_the_script_without_running_it(tmp_path: Path) -> None:
    """ksrpy check: the script is read statically (as for a .py); running it happens at load."""
    marker = tmp_path / "ran"
    body = f"    open({str(marker)!r}, 'w').close()\n    raise RuntimeError('boom')"
    script = SCRIPT.replace("    return Handler()", body)
    path = _write(tmp_path, script=script)
    assert _issues(path) == []
    assert not marker.exists()
    with pytest.raises(ScriptLoadError, match="mod_init\\(\\) failed: RuntimeError: boom"):
        load_script(str(path), Engine(CoreConfig()))
    assert marker.exists()
    missing = _write(tmp_path, load="nowhere.py")
    assert [m.startswith("cannot read script") for m in _issues(missing)] == [True]


def test_show_python_says_there_is_nothing_to_show(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _write(tmp_path)
    done = subprocess.run([sys.executable, "-m", "ksrpy", "check", "--show-python", "-f",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "no generated Python to show" in done.stderr
