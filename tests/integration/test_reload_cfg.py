"""Hot reload of a cfg script and the files it includes, over a real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.proc import KsrpyProcess
from tests.integration.test_reload import ask, ksrpy_rpc, wait_for_reason

MAIN = """\
loadmodule "sl.so"
loadmodule "textops.so"
request_route {
    route(ANSWER);
}
include_file "answer.cfg"
"""

ANSWER = """\
route[ANSWER] {{
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "{reason}");
        exit;
    }}
    sl_send_reply("404", "Not here");
}}
"""


def test_included_file_change_reloads_and_broken_include_is_refused(tmp_path: Path) -> None:
    main, answer, ctl = tmp_path / "main.cfg", tmp_path / "answer.cfg", str(tmp_path / "ctl")
    main.write_text(MAIN)
    answer.write_text(ANSWER.format(reason="C1"))
    with KsrpyProcess(script=str(main), listen=("udp:127.0.0.1:0",), ctl=ctl,
                      extra_args=("--watch",)) as server:
        assert ask(server.udp) == "C1"
        # --watch notices a change in an included file.
        answer.write_text(ANSWER.format(reason="C2-longer"))
        assert wait_for_reason(server.udp, "C2-longer", within=6) is not None
        # A broken include: the RPC reports file:line, the running script is kept.
        answer.write_text("route[ANSWER] {\n    sl_send_reply(\"200\";\n}\n")
        result = ksrpy_rpc(ctl, "routes.reload")
        assert result.returncode == 1
        assert f"{answer}:2:" in result.stderr
        assert ask(server.udp) == "C2-longer"
        info = json.loads(ksrpy_rpc(ctl, "routes.info").stdout)
        assert str(answer) in json.dumps(info)
