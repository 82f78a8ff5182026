"""secfilter: lists, each check's return codes, SQLi, countries, atomic reloads, RPCs, cfg use."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.core.rpc import RpcError
from ksrpy.modules.secfilter import SecfilterModule
from ksrpy.modules.secfilter.lists import EntryList, Lists
from ksrpy.modules.secfilter.sources import parse_line
from ksrpy.modules.secfilter.sqli import has_sqli
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo
from tests.unit.test_cfg_compile import _engine, _reason, _request
from tests.unit.test_kemi_pv import CaptureTransport

#: (action, type, data): Kamailio's README example plus entries for every check.
ROWS: list[tuple[int, int, str]] = [
    (0, 0, "friendly-scanner"), (0, 0, "sipcli"), (1, 0, "asterisk pbx"),
    (0, 1, "ps"), (1, 1, "es"),
    (0, 2, "evil.example"), (1, 2, "sip.mydomain.com"),
    (0, 3, "10.66."), (1, 3, "10.66.1.1"),
    (0, 4, "sipvicious"), (1, 4, "alice"),
    (2, 0, "555123123"), (2, 0, "900"),
]


def make_db(path: Path, rows: list[tuple[int, int, str]] = ROWS, version: int = 1) -> Path:
    """An SQLite file with Kamailio's secfilter table (and its version row)."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE version (table_name VARCHAR(32) NOT NULL,
                              table_version INTEGER DEFAULT 0 NOT NULL);
        CREATE TABLE secfilter (id INTEGER PRIMARY KEY NOT NULL,
                                action SMALLINT DEFAULT 0 NOT NULL,
                                type SMALLINT DEFAULT 0 NOT NULL,
                                data VARCHAR(64) DEFAULT '' NOT NULL);
    """)
    conn.execute("INSERT INTO version VALUES ('secfilter', ?)", (version,))
    conn.executemany("INSERT INTO secfilter (action, type, data) VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


def module_in(folder: Path, **params: Any) -> tuple[Engine, SecfilterModule]:
    """An engine whose script lives in ``folder`` and an initialised secfilter module."""
    script = folder / "none.cfg"
    script.write_text('loadmodule "secfilter.so"\nrequest_route { exit; }\n')
    engine = Engine()
    from ksrpy.script.loader import load_script

    engine.set_routes(load_script(str(script), engine))
    module = engine.modules["secfilter"]
    assert isinstance(module, SecfilterModule)
    for key, value in params.items():
        module.set_param(key, value)
    module.init()
    return engine, module


def request(engine: Engine, *, frm: str = "<sip:carol@example.com>",
            to: str = "<sip:dave@example.com>", contact: str | None = None,
            ua: str | None = None, src: str = "127.0.0.1", extra: str = "") -> Context:
    """A Context for one INVITE, installed as the engine's current message."""
    lines = ["INVITE sip:555123123@example.com SIP/2.0",
             "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1", f"From: {frm};tag=f1", f"To: {to}",
             "Call-ID: c1", "CSeq: 1 INVITE", "Max-Forwards: 70"]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if ua is not None:
        lines.append(f"User-Agent: {ua}")
    raw = "\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n"
    af = 6 if ":" in src else 4
    ctx = Context(engine, SIPMessage.parse(raw.encode()),
                  ReceiveInfo("udp", src, 5060, "127.0.0.1", 5060, None, af))
    engine.current = ctx
    return ctx


@pytest.fixture
def sec(tmp_path: Path) -> tuple[Engine, SecfilterModule]:
    make_db(tmp_path / "sec.db")
    return module_in(tmp_path, db_url="sqlite://sec.db")


# ------------------------------------------------------------------- lists


def test_entries_are_case_insensitive_prefixes() -> None:
    entries = EntryList.of(["SipCli", "10.0.0."])
    assert entries.prefix_of("sipcli/1.8") and entries.prefix_of("10.0.0.7")
    assert not entries.prefix_of("sipcl") and not entries.prefix_of("110.0.0.7")
    assert entries.equal_to("SIPCLI") and not entries.equal_to("sipcli/1.8")
    lists = Lists.build([(0, 4, "bob"), (1, 4, "bobby")])
    assert lists.lookup("user", "bobby2") == 2 and lists.lookup("user", "bob") == -2
    assert lists.lookup("user", "carl") == 1


@pytest.mark.parametrize(("line", "row"), [
    ("bl ua friendly-scanner", (0, 0, "friendly-scanner")),
    ("wl ua asterisk pbx", (1, 0, "asterisk pbx")),
    ("WL Country es", (1, 1, "es")),
    ("blacklist ip 10.0.", (0, 3, "10.0.")),
    ("dst 555123123", (2, 0, "555123123")),
    ("0 4 sipvicious", (0, 4, "sipvicious")),
    ("2 0 555", (2, 0, "555")),
    ("  # a comment", None), ("", None),
])
def test_list_file_lines(line: str, row: tuple[int, int, str] | None) -> None:
    assert parse_line(line, "f:1") == row


@pytest.mark.parametrize(("line", "message"), [
    ("bl nosuch x", "unknown"), ("xx ua x", "unknown action"), ("bl ua", "expected"),
    ("dst", "empty"), ("3 0 x", "unknown action"), ("0 7 x", "unknown type"),
])
def test_list_file_errors(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line, "f:1")


# --------------------------------------------------------------- functions


def test_check_ua(sec: tuple[Engine, SecfilterModule]) -> None:
    engine, mod = sec
    assert mod.secf_check_ua(request(engine, ua="Linphone/5.0")) == 1
    assert mod.secf_check_ua(request(engine, ua="sipcli/1.8")) == -2
    assert mod.secf_check_ua(request(engine, ua="FRIENDLY-SCANNER")) == -2
    assert mod.secf_check_ua(request(engine, ua="Asterisk PBX 18")) == 2
    assert mod.secf_check_ua(request(engine)) == 1  # no User-Agent: not found (5.6.3)


@pytest.mark.parametrize(("src", "code"), [
    ("127.0.0.1", 1), ("10.66.7.7", -2), ("10.66.1.1", 2), ("10.66.1.10", 2), ("::1", 1),
])
def test_check_ip(sec: tuple[Engine, SecfilterModule], src: str, code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_ip(request(engine, src=src)) == code


@pytest.mark.parametrize(("cc", "code"), [("de", 1), ("PS", -2), ("es", 2), ("", 1)])
def test_check_country_argument(sec: tuple[Engine, SecfilterModule], cc: str, code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_country(request(engine), cc) == code


@pytest.mark.parametrize(("frm", "code"), [
    ("<sip:carol@example.com>", 1),
    ("<sip:sipvicious99@example.com>", -2),
    ("<sip:alice@example.com>", 2),
    ("<sip:carol@evil.example>", -3),
    ("<sip:carol@SIP.mydomain.com>", 3),
    ('"SIPVicious scan" <sip:carol@example.com>', -4),
    ('"Alice Smith" <sip:carol@evil.example>', 4),
    ("<sip:example.com>", 1),  # no user: not found, domain unchecked (5.6.3)
    ("<tel:+123>", 1),
])
def test_check_from_hdr(sec: tuple[Engine, SecfilterModule], frm: str, code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_from_hdr(request(engine, frm=frm)) == code


@pytest.mark.parametrize(("frm", "code"), [
    ('"alice" <sip:sipvicious@example.com>', -2),  # Kamailio #4700: 4 (the name shadows)
    ('"sipvicious" <sip:alice@example.com>', 2),   # Kamailio: 2 (whitelist searched first)
    ('"alice" <sip:alice@example.com>', 2),        # Kamailio: 4 (name before user)
])
def test_user_decides_before_display_name(sec: tuple[Engine, SecfilterModule], frm: str,
                                          code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_from_hdr(request(engine, frm=frm)) == code
    assert mod.secf_check_to_hdr(request(engine, to=frm)) == code


@pytest.mark.parametrize(("to", "code"), [
    ("<sip:dave@example.com>", 1), ("<sip:sipvicious@example.com>", -2),
    ("<sip:alice@example.com>", 2), ("<sip:dave@evil.example>", -3),
    ('"sipvicious" <sip:dave@example.com>', -4), ("Alice <sip:dave@example.com>", 4),
])
def test_check_to_hdr(sec: tuple[Engine, SecfilterModule], to: str, code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_to_hdr(request(engine, to=to)) == code


@pytest.mark.parametrize(("contact", "code"), [
    (None, 1), ("*", 1), ("<sip:dave@10.0.0.1:5060>", 1),
    ("<sip:sipvicious@10.0.0.1>", -2), ("<sip:alice@10.0.0.1>", 2),
    ("<sip:dave@evil.example.net>", -3), ("<sip:dave@sip.mydomain.com>", 3),
    ('"sipvicious" <sip:dave@10.0.0.1>', 1),  # Contact names are not checked
    ("<sip:10.0.0.1>", 1),
    ("<sip:dave@10.0.0.1>, <sip:sipvicious@10.0.0.1>", 1),  # only the first contact
])
def test_check_contact_hdr(sec: tuple[Engine, SecfilterModule], contact: str | None,
                           code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_contact_hdr(request(engine, contact=contact)) == code


@pytest.mark.parametrize(("exact", "number", "code"), [
    (1, "555123123", -2), (1, "5551231234", 1), (1, "555", 1), (1, "900", -2),
    (0, "5551231234", -2), (0, "9001", -2), (0, "90", 1), (0, "123", 1),
])
def test_check_dst(tmp_path: Path, exact: int, number: str, code: int) -> None:
    make_db(tmp_path / "sec.db")
    engine, mod = module_in(tmp_path, db_url="sqlite://sec.db", dst_exact_match=exact)
    assert mod.secf_check_dst(request(engine), number) == code


@pytest.mark.parametrize(("value", "found"), [
    ("Linphone/5.0", False), ("x' OR 1=1", True), ('a"b', True), ("1; --", True),
    ("a%27b", True), ("%24x", True), ("%60", True), ("a-b", False), ("%2527", False),
    ("a%22b", False),  # 5.6.3 does not look for %22 (later versions do)
])
def test_sqli_markers(value: str, found: bool) -> None:
    assert has_sqli(value) is found


def test_check_sqli_hdr(sec: tuple[Engine, SecfilterModule]) -> None:
    engine, mod = sec
    ctx = request(engine)
    assert mod.secf_check_sqli_hdr(ctx, "Linphone") == 1
    assert mod.secf_check_sqli_hdr(ctx, "x' or '1'='1") == -1
    assert mod.stats.counts["sql"] == 1


@pytest.mark.parametrize(("kw", "code"), [
    ({}, 1),
    ({"ua": "sqlmap'--"}, 0),
    ({"frm": '"O\'Brien" <sip:ob@example.com>'}, 0),
    ({"frm": "<sip:a%27b@example.com>"}, 0),
    ({"to": "<sip:dave--@example.com>"}, 0),
    ({"contact": "<sip:x%60@10.0.0.1>"}, 0),
    ({"frm": "\"O'Brien\" <sip:example.com>"}, 0),  # no user: the name is still read
    ({"extra": "Subject: ' or 1=1 --\r\n"}, 1),  # other headers are not checked
])
def test_check_sqli_all(sec: tuple[Engine, SecfilterModule], kw: dict[str, str],
                        code: int) -> None:
    engine, mod = sec
    assert mod.secf_check_sqli_all(request(engine, **kw)) == code


# --------------------------------------------------------------- countries


def build_mmdb(path: Path) -> Path:
    """A small MaxMind DB: 127.0.0.0/24 ES, 127.0.1.0/24 and ::1 RU, 127.0.2.0/24 without."""
    import maxminddb  # noqa: F401 - the reader the module uses (pip install ".[test]")
    import mmdb_writer
    import netaddr
    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True,
                                    database_type="GeoIP2-Country")
    writer.insert_network(netaddr.IPSet(["127.0.0.0/24"]), {"country": {"iso_code": "ES"}})
    writer.insert_network(netaddr.IPSet(["127.0.1.0/24", "::1/128"]),
                          {"country": {"iso_code": "RU"}})
    writer.insert_network(netaddr.IPSet(["127.0.2.0/24"]),
                          {"registered_country": {"iso_code": "PS"}})
    writer.to_db_file(str(path))
    return path


@pytest.mark.parametrize(("src", "code"), [
    ("127.0.0.9", 2), ("127.0.1.9", 1), ("::1", 1), ("127.0.2.1", -2), ("192.0.2.1", 1),
])
def test_country_from_geoip_db(tmp_path: Path, src: str, code: int) -> None:
    build_mmdb(tmp_path / "geo.mmdb")
    make_db(tmp_path / "sec.db")
    engine, mod = module_in(tmp_path, db_url="sqlite://sec.db", geoip_db="geo.mmdb")
    assert mod.secf_check_country(request(engine, src=src)) == code
    assert mod.secf_check_country(request(engine, src=src), "ps") == -2  # argument wins


def test_country_without_db_or_argument_is_an_error(sec: tuple[Engine, SecfilterModule]) -> None:
    engine, mod = sec
    assert mod.secf_check_country(request(engine)) == -1


def test_bad_geoip_db_fails_init(tmp_path: Path) -> None:
    pytest.importorskip("maxminddb")
    (tmp_path / "geo.mmdb").write_bytes(b"not a maxmind db")
    with pytest.raises(ValueError, match="geoip_db"):
        module_in(tmp_path, geoip_db="geo.mmdb")


# ------------------------------------------------------ loading and reload


def test_list_file_and_db_are_merged(tmp_path: Path) -> None:
    make_db(tmp_path / "sec.db", [(0, 0, "sipcli")])
    (tmp_path / "lists.txt").write_text("# extra\nbl ua pplsip\ndst 112\n")
    engine, mod = module_in(tmp_path, db_url="sqlite://sec.db", list_file="lists.txt")
    assert mod.lists.listed(False, "ua").entries == ("sipcli", "pplsip")
    assert mod.secf_check_dst(request(engine), "112") == -2


@pytest.mark.parametrize(("setup", "message"), [
    ("missing", "does not exist"), ("version", "version 2"), ("column", "no such column"),
    ("row", "unknown action 5"), ("file", "lists.txt:2"),
])
def test_init_refuses_bad_sources(tmp_path: Path, setup: str, message: str) -> None:
    params: dict[str, Any] = {"db_url": "sqlite://sec.db"}
    if setup == "version":
        make_db(tmp_path / "sec.db", version=2)
    elif setup == "column":
        make_db(tmp_path / "sec.db")
        params["data_col"] = "value"
    elif setup == "row":
        make_db(tmp_path / "sec.db", [(5, 0, "x")])
    elif setup == "file":
        params = {"list_file": "lists.txt"}
        (tmp_path / "lists.txt").write_text("bl ua ok\nbl ua\n")
    with pytest.raises(ValueError, match=message):
        module_in(tmp_path, **params)


@pytest.mark.parametrize(("key", "value"), [
    ("db_url", "mysql://u:p@localhost/kamailio"), ("table_name", "sec;drop"),
    ("data_col", "a b"), ("nosuch", "1"),
])
def test_bad_params(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ValueError):
        module_in(tmp_path, **{key: value})


def test_reload_replaces_every_list_at_once(sec: tuple[Engine, SecfilterModule],
                                           tmp_path: Path) -> None:
    engine, mod = sec
    assert mod.rpc_add_dst("777") == "Values (777) inserted into blacklist destinations"
    assert mod.secf_check_dst(request(engine), "777") == -2
    conn = sqlite3.connect(tmp_path / "sec.db")
    conn.execute("DELETE FROM secfilter")
    conn.executemany("INSERT INTO secfilter (action, type, data) VALUES (?, ?, ?)",
                     [(0, 0, "newbad"), (2, 0, "888")])
    conn.commit()
    conn.close()
    assert mod.rpc_reload() == "Data reloaded"
    ctx = request(engine, ua="sipcli/1.0")
    assert mod.secf_check_ua(ctx) == 1 and mod.secf_check_ua(request(engine, ua="newbad")) == -2
    # the destination list is reloaded too (Kamailio 5.6 keeps its old one, #3694)
    assert mod.secf_check_dst(ctx, "555123123") == 1 and mod.secf_check_dst(ctx, "777") == 1
    assert mod.secf_check_dst(ctx, "888") == -2


@pytest.mark.parametrize("damage", ["drop_table", "bad_row", "remove_file"])
def test_failed_reload_keeps_the_old_lists(sec: tuple[Engine, SecfilterModule], tmp_path: Path,
                                           damage: str) -> None:
    engine, mod = sec
    before = mod.lists
    path = tmp_path / "sec.db"
    if damage == "remove_file":
        path.unlink()
    else:
        conn = sqlite3.connect(path)
        conn.execute("DROP TABLE secfilter" if damage == "drop_table"
                     else "INSERT INTO secfilter (action, type, data) VALUES (0, 9, 'x')")
        conn.commit()
        conn.close()
    with pytest.raises(RpcError) as err:
        mod.rpc_reload()
    assert err.value.code == 500 and "Error loading data from database" in str(err.value)
    assert mod.lists is before
    assert mod.secf_check_ua(request(engine, ua="sipcli")) == -2
    assert mod.secf_check_dst(request(engine), "555123123") == -2


def test_checks_in_flight_keep_their_lists(sec: tuple[Engine, SecfilterModule]) -> None:
    """Additions build a new list set: one already read is never changed."""
    _, mod = sec
    old = mod.lists
    mod.rpc_add_bl("ua", "newbad")
    assert old.lookup("ua", "newbad") == 1 and mod.lists.lookup("ua", "newbad") == -2


# -------------------------------------------------------------------- RPCs


def test_rpc_print(sec: tuple[Engine, SecfilterModule]) -> None:
    _, mod = sec
    assert mod.rpc_print("ua") == [
        "", "User-agent", "==========", "[+] Blacklisted", "    -----------",
        "    0001 -> friendly-scanner", "    0002 -> sipcli", "",
        "[+] Whitelisted", "    -----------", "    0001 -> asterisk pbx", ""]
    assert mod.rpc_print("dst") == [
        "", "Destinations", "============", "[+] Blacklisted", "    -----------",
        "    0001 -> 555123123", "    0002 -> 900", ""]
    everything = mod.rpc_print()
    for title in ("User-agent", "Country", "Domain", "IP Address", "User", "Destinations"):
        assert title in everything
    with pytest.raises(RpcError):
        mod.rpc_print("nosuch")


def test_rpc_add_and_answers(sec: tuple[Engine, SecfilterModule]) -> None:
    engine, mod = sec
    assert mod.rpc_add_bl("ua", "evil") == "Values (ua, evil) inserted into blacklist"
    assert mod.rpc_add_wl("user", "trusted_user") == \
        "Values (user, trusted_user) inserted into whitelist"
    assert mod.rpc_add_dst(555000) == "Values (555000) inserted into blacklist destinations"
    assert mod.secf_check_ua(request(engine, ua="evil/2")) == -2
    assert mod.secf_check_from_hdr(request(engine, frm="<sip:trusted_user@x.y>")) == 2
    assert mod.secf_check_dst(request(engine), "555000") == -2
    assert mod.rpc_print("user")[-2] == "    0002 -> trusted_user"
    for call, message in [(lambda: mod.rpc_add_bl("zz", "x"), "Error inserting"),
                          (lambda: mod.rpc_add_wl("zz", "x"), "Error insert values"),
                          (lambda: mod.rpc_add_bl("ua"), "Usage: secfilter.add_bl"),
                          (lambda: mod.rpc_add_wl(), "Usage: secfilter.add_wl"),
                          (lambda: mod.rpc_add_dst(), "Usage: secfilter.add_dst")]:
        with pytest.raises(RpcError, match=message):
            call()


def test_rpc_stats(sec: tuple[Engine, SecfilterModule]) -> None:
    engine, mod = sec
    mod.secf_check_ua(request(engine, ua="sipcli"))
    mod.secf_check_ip(request(engine, src="10.66.1.1"))
    mod.secf_check_from_hdr(request(engine, frm='"sipvicious" <sip:x@y>'))
    mod.secf_check_to_hdr(request(engine, to="<sip:x@evil.example>"))
    mod.secf_check_dst(request(engine), "900")
    mod.secf_check_sqli_all(request(engine, ua="'"))
    lines = mod.rpc_stats()
    assert lines[:4] == ["", "Blocked messages (blacklist)", "============================",
                         "[+] By user-agent    : 1"]
    assert "[+] By to domain     : 1" in lines and "[+] By from name     : 1" in lines
    allowed = lines[lines.index("Allowed messages (whitelist)"):]
    assert "[+] By IP address    : 1" in allowed
    assert lines[-4:] == ["======================", "[+] Destinations   : 1",
                          "[+] SQL injection  : 1", ""]
    assert mod.rpc_stats_reset() == "The statistics has been reset"
    assert "[+] By user-agent    : 0" in mod.rpc_stats()
    assert len(lines) == 36


# --------------------------------------------------------------- scripts


CFG_HEADER = """\
loadmodule "sl.so"
loadmodule "secfilter.so"
modparam("secfilter", "list_file", "lists.txt")
modparam("secfilter", "dst_exact_match", 0)
"""


def test_cfg_usage(tmp_path: Path) -> None:
    (tmp_path / "lists.txt").write_text("bl ua sipcli\nbl user sipvicious\nwl ip 10.9.9.9\n"
                                        "dst 900\n")
    engine = _engine(tmp_path, """
        request_route {
            secf_check_sqli_all();
            secf_check_ua();
            if ($? == -2) { sl_send_reply("403", "ua"); exit; }
            secf_check_from_hdr();
            switch ($?) {
                case -2: sl_send_reply("403", "from user $fU"); exit;
            };
            secf_check_dst($rU);
            if ($rc == -2) { sl_send_reply("403", "dst $rU"); exit; }
            secf_check_sqli_hdr("$hdr(X-Q)");
            if ($rc == -1) { sl_send_reply("403", "sqli"); exit; }
            secf_check_ip();
            sl_send_reply("200", "ip $rc");
        }
    """, header=CFG_HEADER)
    engine.init_modules()
    assert _reason(engine) == "200 ip 2"
    assert _reason(engine, extra="User-Agent: sipcli/1.2\r\n") == "403 ua"
    assert _reason(engine, ruri="sip:9001@127.0.0.1") == "403 dst 9001"
    assert _reason(engine, extra="X-Q: a'b\r\n") == "403 sqli"
    assert _request(engine, extra="User-Agent: x'--\r\n") == []  # 0 stops the script


def test_python_script(tmp_path: Path) -> None:
    """KSR.secfilter with the names of later Kamailio versions (secf_sqli_hdr included)."""
    make_db(tmp_path / "sec.db")
    script = tmp_path / "edge.py"
    script.write_text(textwrap.dedent("""\
        import KSR

        def ksr_request_route():
            if KSR.secfilter.secf_check_ua() == -2:
                KSR.sl.sl_send_reply(403, "ua")
                return
            codes = (KSR.secfilter.secf_check_from_hdr(), KSR.secfilter.secf_check_ip(),
                     KSR.secfilter.secf_check_dst(KSR.pv.get("$rU")),
                     KSR.secfilter.secf_sqli_hdr(KSR.pv.get("$fn") or ""),
                     KSR.secfilter.secf_check_sqli_hdr("ok"),
                     KSR.secfilter.secf_check_country("ES"))
            KSR.sl.sl_send_reply(200, " ".join(str(c) for c in codes))
    """))
    engine = Engine()
    transport = CaptureTransport()
    engine.attach_transport(transport)  # type: ignore[arg-type]
    from ksrpy.script.loader import load_script

    engine.set_routes(load_script(str(script), engine))
    engine.modules["secfilter"].set_param("db_url", "sqlite://sec.db")
    engine.init_modules()

    def reason(ruri: str, frm: str, ua: str = "x") -> str:
        before = len(transport.sent)
        raw = (f"OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.66.1.1;branch=z9hG4bK1\r\n"
               f"From: {frm};tag=1\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nUser-Agent: {ua}\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        engine.handle(raw.encode(), ReceiveInfo("udp", "10.66.1.1", 5060, "127.0.0.1", 5060,
                                                None, 4))
        reply = SIPMessage.parse(transport.sent[before][3])
        return f"{reply.status} {reply.reason}"

    assert reason("sip:900@x", "<sip:alice@a>") == "200 2 2 -2 1 1 2"
    assert reason("sip:901@x", "\"x'y\" <sip:sipvicious@a>") == "200 -2 2 1 -1 1 2"
    assert reason("sip:901@x", "<sip:a@a>", ua="sipcli") == "403 ua"
