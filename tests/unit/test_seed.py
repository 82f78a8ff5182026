"""The blog post's cfg snippets load verbatim (with the loadmodule/modparam lines they need)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_cfg_compile import _engine, _request

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"

MODULES = """\
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "pike.so"
loadmodule "htable.so"
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 20)
modparam("pike", "remove_latency", 4)
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
"""


def test_blog_reqinit_block_runs_verbatim(tmp_path: Path) -> None:
    block = (SEED / "blog_reqinit.cfg").read_text()
    engine = _engine(tmp_path, 'request_route {\n    route(REQINIT);\n'
                     '    sl_send_reply("404", "Not here");\n}\n' + block, header=MODULES)
    keepalive = _request(engine, ruri="sip:127.0.0.1:5070")
    assert [f"{r.status} {r.reason}" for r in keepalive] == ["200 Keepalive"]
    assert [r.status for r in _request(engine, ruri="sip:bob@127.0.0.1:5070")] == [404]
    assert _request(engine, extra="User-Agent: friendly-scanner\r\n") == []
    # sanity_check("17895", "7") answers a malformed Expires (check 256) itself.
    bad = _request(engine, ruri="sip:b@h", extra="Expires: soon\r\n")
    assert [r.status for r in bad] == [400]


def test_blog_pike_snippet_bans_into_ipban(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        route {
          if (!pike_check_req()) {
            xlog("L_ALERT","ALERT: pike block $rm from $fu (IP:$si:$sp)\\n");
            $sht(ipban=>$si) = 1;
            exit;
          }
          sl_send_reply("200", "ok");
        }
    """, header=MODULES)
    answered = 0
    for _ in range(100):
        if not _request(engine):
            break
        answered += 1
    assert 20 <= answered < 60
    assert engine.modules["htable"].tables["ipban"].get("10.9.9.9") == 1


def test_blog_scanner_and_maxfwd_snippets(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route {
            if($ua =~ "friendly-scanner|sipcli|sipvicious|VaxSIPUserAgent") {
                exit;
            }
            mf_process_maxfwd_header(10);
            sl_send_reply("200", "ok");
        }
    """, header=MODULES)
    assert _request(engine, extra="User-Agent: SIPVicious 0.3\r\n") == []
    assert [r.status for r in _request(engine)] == [200]
