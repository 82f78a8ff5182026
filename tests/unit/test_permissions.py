"""permissions: rule files, address groups and subnets, trusted peers, SQLite, RPCs, cfg and KSR.

Expected codes and subjects were checked against Kamailio 5.6.3 (see
tests/interop/test_permissions_vs_kamailio.py for the loopback comparison).
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.core.rpc import RpcError
from ksrpy.modules.permissions import PermissionsModule
from ksrpy.modules.permissions.address import AddressTables, parse_address_file
from ksrpy.modules.permissions.rules import RuleFileError, load_rule_file, parse_line
from ksrpy.script.errors import ScriptLoadError
from ksrpy.script.kemi import build_ksr
from ksrpy.script.pv import resolve
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ReceiveInfo
from tests.unit.test_cfg_compile import HEADER, _engine, _reason
from tests.unit.test_kemi_pv import CaptureTransport

RULES_ALLOW = """\
# allow rules
"^sip:alice@" : "^sip:[0-9]+@"
ALL : "^sip:echo@" EXCEPT "^sip:echo@evil\\.example"   # echo service
"^sip:CAROL@", "^sip:dave@" : ALL
"^sip:x#y@" : "^sip:hash@"
"""
RULES_DENY = "ALL : ALL\n"
REGISTER_ALLOW = 'ALL : "^sip:[a-z]+@10\\.0\\.0\\."\n'
REGISTER_DENY = '"^sip:bob@" : ALL\nALL : "^sip:.*@192\\.168\\."\n'
URI_ALLOW = '"^sip:alice@" : "^sip:bob@"\n'
URI_DENY = 'ALL : "^sip:bob@"\n'
ADDRESS_LIST = """\
# group address [mask [port [tag]]]
1 127.0.0.2 32 0 gw1
1 10.0.0.10
2 127.0.0.0 8 5099 net127   # only from port 5099
2 192.168.1.0/24 0 tag2
3 [::1] 128 0 v6
3 example.com 0 5060 dom
4 127.0.0.3 0 0 g4
5 127.0.0.3 0 0 g5
6 127.0.0.0/16 0 n16
7 127.0.0.0/24 0 n24
"""
TRUSTED_ROWS = [
    ("127.0.0.2", "udp", "^sip:alice@", None, "alice-lo", 5),
    ("127.0.0.2", "any", None, None, "any-lo", 1),
    ("127.0.0.4", "tcp", None, None, "tcp-only", 0),
    ("127.0.0.5", "any", "^sip:[a-z]*@", "^sip:9", None, 0),
    ("127.0.0.6", "none", None, None, "never", 0),
    ("127.0.0.7", "udp", "^sip:a+b@", None, "bre", 0),
]


def make_db(path: Path, address: list[tuple[Any, ...]] | None = None,
            trusted: list[tuple[Any, ...]] | None = None, version: int = 6) -> Path:
    """An SQLite file with Kamailio's version, address and trusted tables."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE version (id INTEGER PRIMARY KEY, table_name VARCHAR(32) NOT NULL UNIQUE,
                              table_version INTEGER DEFAULT 0 NOT NULL);
        CREATE TABLE address (id INTEGER PRIMARY KEY, grp INTEGER DEFAULT 1 NOT NULL,
                              ip_addr VARCHAR(50) NOT NULL, mask INTEGER DEFAULT 32 NOT NULL,
                              port SMALLINT DEFAULT 0 NOT NULL, tag VARCHAR(64));
        CREATE TABLE trusted (id INTEGER PRIMARY KEY, src_ip VARCHAR(50) NOT NULL,
                              proto VARCHAR(4) NOT NULL, from_pattern VARCHAR(64) DEFAULT NULL,
                              ruri_pattern VARCHAR(64) DEFAULT NULL, tag VARCHAR(64),
                              priority INTEGER DEFAULT 0 NOT NULL);
    """)
    conn.executemany("INSERT INTO version (table_name, table_version) VALUES (?, ?)",
                     [("address", version), ("trusted", version)])
    conn.executemany("INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (?,?,?,?,?)",
                     address or [])
    conn.executemany("INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, "
                     "priority) VALUES (?,?,?,?,?,?)", trusted or [])
    conn.commit()
    conn.close()
    return path


def write_files(folder: Path) -> None:
    """The rule and address files of these tests, next to the script."""
    for name, text in {"rules.allow": RULES_ALLOW, "rules.deny": RULES_DENY,
                       "register.allow": REGISTER_ALLOW, "register.deny": REGISTER_DENY,
                       "basename.allow": URI_ALLOW, "basename.deny": URI_DENY,
                       "address.list": ADDRESS_LIST}.items():
        (folder / name).write_text(text)


def module_in(folder: Path, **params: Any) -> tuple[Engine, PermissionsModule]:
    """An engine whose script lives in ``folder`` and a permissions module with ``params``."""
    script = folder / "none.cfg"
    script.write_text('loadmodule "permissions.so"\nrequest_route { exit; }\n')
    engine = Engine()
    from ksrpy.script.loader import load_script

    engine.set_routes(load_script(str(script), engine))
    module = engine.modules["permissions"]
    assert isinstance(module, PermissionsModule)
    module.set_param("peer_tag_avp", "$avp(ptag)")
    module.set_param("reload_delta", 0)
    for key, value in params.items():
        module.set_param(key, value)
    return engine, module


def request(engine: Engine, *, ruri: str = "sip:bob@example.com",
            frm: str = "sip:alice@example.com", to: str | None = None,
            contacts: tuple[str, ...] = (), extra: str = "", src: str = "127.0.0.1",
            port: int = 40000, proto: str = "udp", method: str = "OPTIONS") -> Context:
    """A Context for one request, installed as the engine's current message."""
    lines = [f"{method} {ruri} SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1",
             f"From: <{frm}>;tag=f1", f"To: <{to or ruri}>", "Call-ID: c1",
             f"CSeq: 1 {method}", "Max-Forwards: 70"]
    lines += [f"Contact: {c}" if c == "*" else f"Contact: <{c}>" for c in contacts]
    raw = "\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n"
    af = 6 if ":" in src else 4
    ctx = Context(engine, SIPMessage.parse(raw.encode()),
                  ReceiveInfo(proto, src, port, "127.0.0.1", 5060, None, af))
    engine.current = ctx
    return ctx


def tags(ctx: Context) -> list[Any]:
    """Values of $avp(ptag), oldest first."""
    return list((ctx.avps or {}).get("ptag", []))


# -------------------------------------------------------------------- rule files


def test_rule_line_forms() -> None:
    rule = parse_line('ALL : "^sip:echo@" EXCEPT "^sip:echo@evil\\.example"  # c')
    assert rule is not None and rule.left is None
    assert rule.matches("sip:anyone@x", "sip:echo@good.example")
    assert not rule.matches("sip:anyone@x", "sip:ECHO@EVIL.example")
    rule = parse_line('"^sip:CAROL@", "^sip:dave@" : ALL')
    assert rule is not None and rule.matches("sip:carol@a", "sip:x@y")
    assert rule.matches("sip:Dave@a", "sip:x@y") and not rule.matches("sip:eve@a", "x")
    rule = parse_line('"^sip:x#y@" : "^sip:hash@"')                     # '#' inside quotes
    assert rule is not None and rule.matches("sip:x#y@a", "sip:hash@b")
    rule = parse_line("u[0-9]@ : ALL EXCEPT 911@")                     # quotes are optional
    assert rule is not None and rule.matches("sip:u1@a", "sip:1@b")
    assert not rule.matches("sip:u1@a", "sip:911@b")
    rule = parse_line("u[0-9]@ : sip:911@")          # unquoted: the last ':' splits (Kamailio)
    assert rule is not None and rule.matches("u1@ : sip", "911@b")
    assert not rule.matches("sip:u1@a", "sip:911@b")
    assert parse_line("   # only a comment") is None and parse_line("") is None


@pytest.mark.parametrize(("line", "message"), [
    ("this line is malformed", "no ':'"),
    ('"^sip:a@" :', "empty"),
    (': "x"', "empty"),
    ('"^sip:(a@" : ALL', "bad regular expression"),
    ('"^sip:a@ : ALL', "unbalanced"),
    ('"a", , "b" : ALL', "empty expression"),
])
def test_rule_line_errors(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_rule_file_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.allow"
    path.write_text('# fine\n"^sip:a@" : ALL\nnot a rule\n')
    with pytest.raises(RuleFileError) as err:
        load_rule_file(str(path))
    assert str(err.value).startswith(f"{path}:3: ") and err.value.line == 3


def test_missing_rule_file_is_empty(tmp_path: Path) -> None:
    rules = load_rule_file(str(tmp_path / "nope.allow"))
    assert rules.rules == () and not rules.exists


# ------------------------------------------------------- allow_routing / register / uri


@pytest.fixture
def files(tmp_path: Path) -> tuple[Engine, PermissionsModule]:
    write_files(tmp_path)
    return module_in(tmp_path)


@pytest.mark.parametrize(("frm", "ruri", "code"), [
    ("sip:alice@a.com", "sip:123@b.com", 1),
    ("sip:ALICE@a.com", "sip:123@b.com", 1),                      # case-insensitive
    ("sip:alice@a.com", "sip:abc@b.com", -1),                     # deny file: ALL : ALL
    ("sip:zed@a.com", "sip:echo@good.example", 1),
    ("sip:zed@a.com", "sip:echo@evil.example", -1),               # EXCEPT
    ("sip:carol@a.com", "sip:anything@x", 1),
    ("sip:alice@a.com;transport=tcp", "sip:123@b.com:5070;user=phone", 1),  # R-URI reduced
    ("sip:zed@a.com", "sip:b.com", -1),                           # R-URI "sip:@b.com"
])
def test_allow_routing(files: tuple[Engine, PermissionsModule], frm: str, ruri: str,
                       code: int) -> None:
    engine, module = files
    ctx = request(engine, frm=frm, ruri=ruri)
    assert module.allow_routing(ctx, "rules.allow", "rules.deny") == code
    assert module.allow_routing(ctx, "rules") == code              # basename form


def test_allow_routing_defaults_and_no_rules(files: tuple[Engine, PermissionsModule],
                                             tmp_path: Path) -> None:
    engine, module = files
    ctx = request(engine, frm="sip:zed@a", ruri="sip:abc@b")
    assert module.allow_routing(ctx) == 1                          # no permissions.allow/deny
    assert module.allow_routing(ctx, "missing") == 1               # missing files = empty
    (tmp_path / "permissions.deny").write_text("ALL : ALL\n")
    _, fresh = module_in(tmp_path)
    assert fresh.allow_routing(ctx) == -1
    fresh.set_param("load_backends", 1 | 2 | 4)                    # default deny file not used
    fresh.rules.files.clear()
    assert fresh.allow_routing(ctx) == 1


def test_allow_routing_checks_branches(files: tuple[Engine, PermissionsModule]) -> None:
    engine, module = files
    ctx = request(engine, frm="sip:alice@a", ruri="sip:123@b")
    ctx.extra["branches"] = ["sip:456@c", "sip:nope@c;transport=tcp"]
    assert module.allow_routing(ctx, "rules") == -1                # second branch is denied
    module.set_param("check_all_branches", 0)
    assert module.allow_routing(ctx, "rules") == 1


@pytest.mark.parametrize(("to", "contacts", "code"), [
    ("sip:al@x", ("sip:al@10.0.0.5:5060;transport=udp",), 1),
    ("sip:bob@x", ("sip:bob@10.0.0.5",), 1),          # allow match skips the deny file
    ("sip:al@x", ("sip:al@192.168.1.5",), -1),
    ("sip:al@x", ("sip:al@10.0.0.5", "sip:al@192.168.1.5"), -1),
    ("sip:al@x", (), 1),                              # no Contact
    ("sip:bob@x", ("*",), 1),                         # star Contact
    ("sip:bob@x", ("sip:bob@172.16.0.1",), -1),
])
def test_allow_register(files: tuple[Engine, PermissionsModule], to: str,
                        contacts: tuple[str, ...], code: int) -> None:
    engine, module = files
    ctx = request(engine, to=to, contacts=contacts, method="REGISTER")
    assert module.allow_register(ctx, "register") == code
    assert module.allow_register(ctx, "register.allow", "register.deny") == code


def test_allow_register_without_all_branches_reads_deny(
        files: tuple[Engine, PermissionsModule]) -> None:
    engine, module = files
    module.set_param("check_all_branches", 0)       # Kamailio then still checks the deny file
    ctx = request(engine, to="sip:bob@x", contacts=("sip:bob@10.0.0.5",), method="REGISTER")
    assert module.allow_register(ctx, "register") == -1


@pytest.mark.parametrize(("frm", "refer_to", "code"), [
    ("sip:alice@a", "<sip:bob@x>", 1), ("sip:zed@a", "<sip:bob@x>", -1),
    ("sip:zed@a", "<sip:carl@x>", 1), ("sip:zed@a", None, -1),       # null $rt
])
def test_allow_uri(files: tuple[Engine, PermissionsModule], frm: str, refer_to: str | None,
                   code: int) -> None:
    engine, module = files
    extra = f"Refer-To: {refer_to}\r\n" if refer_to else ""
    ctx = request(engine, frm=frm, extra=extra)
    assert module.allow_uri(ctx, "basename", "$rt") == code
    resolve("$avp(i:705)").set(ctx, "sip:bob@elsewhere")
    assert module.allow_uri(ctx, "basename", "$avp(i:705)") == (1 if frm == "sip:alice@a"
                                                                  else -1)


def test_broken_rule_file_at_runtime_denies(tmp_path: Path) -> None:
    (tmp_path / "bad.allow").write_text("no colon here\n")
    engine, module = module_in(tmp_path)
    assert module.allow_routing(request(engine), "bad") == -1


# --------------------------------------------------------------------- addresses


def test_address_file_parsing(tmp_path: Path) -> None:
    path = tmp_path / "a.list"
    path.write_text(ADDRESS_LIST)
    entries = parse_address_file(str(path))
    assert [(e.group, e.address, e.mask, e.port, e.tag) for e in entries[:4]] == [
        (1, "127.0.0.2", 32, 0, "gw1"), (1, "10.0.0.10", 32, 0, None),
        (2, "127.0.0.0", 8, 5099, "net127"), (2, "192.168.1.0", 24, 0, "tag2")]
    assert entries[4].network is not None and entries[4].mask == 128
    assert entries[5].network is None and entries[5].address == "example.com"


@pytest.mark.parametrize(("line", "message"), [
    ("x 1.2.3.4", "group must be a number"), ("0 1.2.3.4", "positive"),
    ("1 1.2.3.4 33", "mask 33"), ("1 1.2.3.4 24 70000", "port 70000"),
    ("1 1.2.3.4 24 0 tag extra", "field"), ("1 10.0.0.0/8 0 tag extra", "field"),
    ("1", "field"), ("1 10.0.0.0/x", "prefix"), ("1 ::1 129", "mask 129"),
])
def test_address_file_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "a.list"
    path.write_text(f"# header\n\n{line}\n")
    with pytest.raises(ValueError, match=message) as err:
        parse_address_file(str(path))
    assert str(err.value).startswith(f"{path}:3: ")


@pytest.fixture
def addr(tmp_path: Path) -> tuple[Engine, PermissionsModule]:
    write_files(tmp_path)
    engine, module = module_in(tmp_path, address_file="address.list")
    module.init()
    return engine, module


@pytest.mark.parametrize(("group", "ip", "port", "code", "tag"), [
    (1, "127.0.0.2", 5060, 1, "gw1"), (1, "127.0.0.3", 5060, -1, None),
    (1, "10.0.0.10", 1, 1, None),
    (2, "127.0.0.9", 5099, 1, "net127"), (2, "127.0.0.9", 5098, -1, None),   # subnet port
    (2, "192.168.1.77", 1, 1, "tag2"), (2, "192.168.2.1", 1, -1, None),
    (3, "::1", 7, 1, "v6"), (3, "[::1]", 7, 1, "v6"),
    (3, "example.com", 5060, 1, "dom"), (3, "EXAMPLE.com", 5060, -1, None),  # exact names
    (3, "example.com", 5061, -1, None),
    (1, "::ffff:127.0.0.2", 5060, -1, None),                                 # no v4/v6 mix
])
def test_allow_address(addr: tuple[Engine, PermissionsModule], group: int, ip: str, port: int,
                       code: int, tag: str | None) -> None:
    engine, module = addr
    ctx = request(engine)
    assert module.allow_address(ctx, group, ip, port) == code
    assert tags(ctx) == ([tag] if tag else [])


@pytest.mark.parametrize(("src", "port", "group", "code", "tag"), [
    ("127.0.0.2", 40000, None, 1, "gw1"), ("127.0.0.3", 40000, None, -1, None),
    ("127.0.0.9", 5099, 2, 1, "net127"), ("::1", 40000, 3, 1, "v6"), ("::1", 40000, 1, -1, None),
])
def test_allow_source_address(addr: tuple[Engine, PermissionsModule], src: str, port: int,
                              group: int | None, code: int, tag: str | None) -> None:
    engine, module = addr
    ctx = request(engine, src=src, port=port)
    args = () if group is None else (group,)
    assert module.allow_source_address(ctx, *args) == code
    assert tags(ctx) == ([tag] if tag else [])


@pytest.mark.parametrize(("src", "port", "group", "tag"), [
    ("127.0.0.2", 1, 1, "gw1"),         # exact entries before subnets
    ("127.0.0.9", 5099, 2, "net127"),   # subnets in increasing group order, first match
    ("127.0.0.9", 1, 6, "n16"),         # /16 of group 6 before the /24 of group 7
    ("127.0.0.3", 1, 5, "g5"),          # an address in two groups: the last loaded
    ("127.1.0.1", 1, -1, None), ("::1", 1, 3, "v6"),
])
def test_allow_source_address_group(addr: tuple[Engine, PermissionsModule], src: str,
                                    port: int, group: int, tag: str | None) -> None:
    engine, module = addr
    ctx = request(engine, src=src, port=port)
    assert module.allow_source_address_group(ctx) == group
    assert tags(ctx) == ([tag] if tag else [])


def test_allow_address_group(addr: tuple[Engine, PermissionsModule]) -> None:
    engine, module = addr
    ctx = request(engine)
    assert module.allow_address_group(ctx, "192.168.1.5", 9) == 2
    assert module.allow_address_group(ctx, "example.com", 5060) == 3
    assert tags(ctx) == ["tag2"]                         # a domain match sets no tag
    assert module.allow_address_group(ctx, "example.org", 5060) == -1
    assert module.allow_address_group(ctx, "10.0.0.10", "x") == -1


def test_address_tables_limits() -> None:
    from ksrpy.modules.permissions.address import make_entry

    nets = [make_entry(1, f"10.{i}.0.0", 16, 0, None) for i in range(3)]
    with pytest.raises(ValueError, match="max_subnets=2"):
        AddressTables.build(nets, max_subnets=2)
    assert len(AddressTables.build(nets, max_subnets=3).subnets) == 3
    host = make_entry(1, "10.0.0.1", 0, 0, None)             # mask 0 = one host
    assert host.mask == 32 and make_entry(1, "::2", 0, 0, None).mask == 128


def test_no_address_source(tmp_path: Path) -> None:
    engine, module = module_in(tmp_path)
    module.init()
    assert module.allow_source_address(request(engine, src="127.0.0.2")) == -1


# ----------------------------------------------------------------------- SQLite


@pytest.fixture
def dbfile(tmp_path: Path) -> Path:
    return make_db(tmp_path / "perm.db",
                   address=[(1, "127.0.0.2", 32, 0, "gw1"), (2, "127.0.0.0", 8, 5099, "net127"),
                            (6, "127.0.0.0", 16, 0, "n16"), (3, "example.com", 0, 5060, None),
                            (9, "10.1.0.0/16", 0, 0, "cidr")],
                   trusted=TRUSTED_ROWS)


def test_address_table_from_sqlite(tmp_path: Path, dbfile: Path) -> None:
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}")
    module.init()
    ctx = request(engine, src="127.0.0.2")
    assert module.allow_source_address(ctx) == 1 and tags(ctx) == ["gw1"]
    assert module.allow_source_address_group(request(engine, src="127.0.0.9", port=1)) == 6
    assert module.allow_address(request(engine), 3, "example.com", 5060) == 1
    assert module.allow_address(request(engine), 9, "10.1.2.3", 1) == 1


def test_relative_sqlite_url_and_columns(tmp_path: Path) -> None:
    make_db(tmp_path / "rel.db", address=[(4, "127.0.0.5", 32, 0, None)])
    conn = sqlite3.connect(tmp_path / "rel.db")
    conn.execute("ALTER TABLE address RENAME COLUMN grp TO group_id")
    conn.commit()
    conn.close()
    engine, module = module_in(tmp_path, db_url="sqlite://rel.db", grp_col="group_id")
    module.init()
    assert module.allow_source_address(request(engine, src="127.0.0.5"), 4) == 1


@pytest.mark.parametrize(("params", "message"), [
    ({"db_url": "mysql://u:p@h/db"}, "SQLite only"),
    ({"db_mode": 2}, "0 or 1"),
    ({"peer_tag_avp": "$var(x)"}, "AVP"),
    ({"address_table": "addr; drop"}, "identifier"),
    ({"load_backends": 0}, "positive"),
])
def test_bad_params(tmp_path: Path, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        module_in(tmp_path, **params)


@pytest.mark.parametrize(("setup", "message"), [
    ("missing", "does not exist"), ("version", "version 5"), ("badrow", "row 1: mask"),
    ("notable", "no such table"),
])
def test_init_refuses_bad_database(tmp_path: Path, setup: str, message: str) -> None:
    path = tmp_path / "perm.db"
    if setup == "version":
        make_db(path, version=5)
    elif setup == "badrow":
        make_db(path, address=[(1, "10.0.0.1", 40, 0, None)])
    elif setup == "notable":
        sqlite3.connect(path).close()
    _, module = module_in(tmp_path, db_url=f"sqlite://{path}")
    with pytest.raises(ValueError, match=message):
        module.init()


def test_address_file_wins_and_needs_load_backends(tmp_path: Path, dbfile: Path) -> None:
    write_files(tmp_path)
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", address_file="address.list")
    module.init()
    assert module.allow_source_address(request(engine, src="10.0.0.10")) == 1  # file only
    module.set_param("load_backends", 2)
    with pytest.raises(ValueError, match="load_backends"):
        module.init()


# ---------------------------------------------------------------------- trusted


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize(("src", "proto", "frm", "ruri", "code"), [
    ("127.0.0.2", "udp", "sip:alice@x", "sip:bob@x", 1),
    ("127.0.0.2", "udp", "sip:bob@x", "sip:bob@x", 1),
    ("127.0.0.4", "tcp", "sip:bob@x", "sip:bob@x", 1),
    ("127.0.0.4", "udp", "sip:bob@x", "sip:bob@x", -1),               # proto
    ("127.0.0.5", "udp", "sip:bob@x", "sip:911@x", 1),                # both patterns
    ("127.0.0.5", "udp", "sip:bob@x", "sip:811@x", -1),               # R-URI pattern
    ("127.0.0.5", "udp", "sip:BOB@x", "sip:911@x", -1),               # case-sensitive
    ("127.0.0.6", "udp", "sip:bob@x", "sip:bob@x", -1),               # proto none
    ("127.0.0.7", "udp", "sip:a+b@x", "sip:bob@x", 1),                # BRE: + is literal
    ("127.0.0.7", "udp", "sip:aab@x", "sip:bob@x", -1),
    ("127.0.0.8", "udp", "sip:bob@x", "sip:bob@x", -1),               # unknown source
])
def test_allow_trusted(tmp_path: Path, dbfile: Path, mode: int, src: str, proto: str,
                       frm: str, ruri: str, code: int) -> None:
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=mode)
    module.init()
    assert module.allow_trusted(request(engine, src=src, proto=proto, frm=frm, ruri=ruri)) == code


@pytest.mark.parametrize(("mode", "first"), [(1, "alice-lo"), (0, "any-lo")])
def test_trusted_priority_order(tmp_path: Path, dbfile: Path, mode: int, first: str) -> None:
    """db_mode 1 tries the highest priority first; Kamailio's db_mode 0 query sorts ascending."""
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=mode)
    ctx = request(engine, src="127.0.0.2", frm="sip:alice@x")
    assert module.allow_trusted(ctx) == 1 and tags(ctx) == [first]
    module.set_param("peer_tag_mode", 1)
    ctx = request(engine, src="127.0.0.2", frm="sip:alice@x")
    assert module.allow_trusted(ctx) == 2
    assert tags(ctx)[0] == first and len(tags(ctx)) == 2


@pytest.mark.parametrize("mode", [0, 1])
def test_allow_trusted_arguments(tmp_path: Path, dbfile: Path, mode: int) -> None:
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=mode)
    ctx = request(engine, src="10.0.0.1", frm="sip:bob@x")
    assert module.allow_trusted(ctx, "127.0.0.4", "TCP") == 1 and tags(ctx) == ["tcp-only"]
    assert module.allow_trusted(ctx, "127.0.0.4", "udp") == -1
    assert module.allow_trusted(ctx, "127.0.0.4", "bogus") == -1
    assert module.allow_trusted(ctx, "127.0.0.2", "udp", "sip:alice@y") == 1
    assert tags(ctx)[-1] == ("alice-lo" if mode == 1 else "any-lo")
    # the asked proto "any" matches every row; db_mode 0 then even rows with proto none
    assert module.allow_trusted(ctx, "127.0.0.6", "any") == (1 if mode == 0 else -1)
    with pytest.raises(ValueError, match="0, 2 or 3"):
        module.allow_trusted(ctx, "127.0.0.4")


def test_trusted_without_db(tmp_path: Path) -> None:
    engine, module = module_in(tmp_path)
    assert module.allow_trusted(request(engine, src="127.0.0.2")) == -1


def test_db_mode_0_reads_each_time_1_until_reload(tmp_path: Path, dbfile: Path) -> None:
    engines = {m: module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=m) for m in (0, 1)}
    for _, module in engines.values():
        module.init()
    conn = sqlite3.connect(dbfile)
    conn.execute("INSERT INTO trusted (src_ip, proto, tag) VALUES ('127.0.0.9', 'any', 'new')")
    conn.commit()
    conn.close()
    results = {m: mod.allow_trusted(request(eng, src="127.0.0.9")) for m, (eng, mod)
               in engines.items()}
    assert results == {0: 1, 1: -1}
    engine, module = engines[1]
    assert module.rpc_trusted_reload() == "Reload OK"
    assert module.allow_trusted(request(engine, src="127.0.0.9")) == 1


# ---------------------------------------------------------------------- RPCs


def test_address_reload_is_atomic(tmp_path: Path) -> None:
    write_files(tmp_path)
    engine, module = module_in(tmp_path, address_file="address.list")
    module.init()
    (tmp_path / "address.list").write_text("1 127.0.0.2\n1 127.0.0.99 99\n")
    with pytest.raises(RpcError, match=r"Reload failed: .*address.list:2: mask 99") as err:
        module.rpc_address_reload()
    assert err.value.code == 500
    assert module.allow_source_address(request(engine, src="10.0.0.10")) == 1   # old list
    (tmp_path / "address.list").write_text("1 127.0.0.99\n")
    assert module.rpc_address_reload() == "Reload OK"
    assert module.allow_source_address(request(engine, src="10.0.0.10")) == -1
    assert module.allow_source_address(request(engine, src="127.0.0.99")) == 1
    (tmp_path / "address.list").unlink()
    with pytest.raises(RpcError, match="cannot read address file"):
        module.rpc_address_reload()
    assert module.allow_source_address(request(engine, src="127.0.0.99")) == 1


def test_trusted_reload_is_atomic(tmp_path: Path, dbfile: Path) -> None:
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=1)
    module.init()
    conn = sqlite3.connect(dbfile)
    conn.execute("INSERT INTO trusted (src_ip, proto) VALUES ('127.0.0.9', 'carrier-pigeon')")
    conn.commit()
    with pytest.raises(RpcError, match="row 7: unknown protocol"):
        module.rpc_trusted_reload()
    assert module.allow_trusted(request(engine, src="127.0.0.4", proto="tcp")) == 1
    conn.execute("DROP TABLE trusted")
    conn.commit()
    conn.close()
    with pytest.raises(RpcError, match="no such table"):
        module.rpc_trusted_reload()
    assert module.allow_trusted(request(engine, src="127.0.0.4", proto="tcp")) == 1


def test_reload_delta(tmp_path: Path, dbfile: Path) -> None:
    _, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=1, reload_delta=5)
    now = [100.0]
    module.clock = lambda: now[0]
    assert module.rpc_address_reload() == "Reload OK"
    with pytest.raises(RpcError, match="ongoing reload"):
        module.rpc_address_reload()
    assert module.rpc_trusted_reload() == "Reload OK"        # each table has its own delay
    now[0] += 5
    assert module.rpc_address_reload() == "Reload OK"


def test_reload_errors_without_source(tmp_path: Path) -> None:
    _, module = module_in(tmp_path)
    with pytest.raises(RpcError, match="neither address_file nor db_url"):
        module.rpc_address_reload()
    with pytest.raises(RpcError, match="not cached"):
        module.rpc_trusted_reload()
    with pytest.raises(RpcError, match="No trusted table"):
        module.rpc_trusted_dump()


def test_dumps(tmp_path: Path, dbfile: Path) -> None:
    _, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=1)
    module.init()
    assert module.rpc_address_dump() == [
        {"table": 0, "group": 1, "item": {"ip": "127.0.0.2", "port": 0, "tag": "gw1"}}]
    assert module.rpc_subnet_dump()[0] == {
        "id": 0, "group": 2, "item": {"ip": "127.0.0.0", "mask": 8, "port": 5099,
                                      "tag": "net127"}}
    assert [s["group"] for s in module.rpc_subnet_dump()] == [2, 6, 9]
    assert module.rpc_domain_dump() == [
        {"table": 0, "group": 3, "item": {"domain_name": "example.com", "port": 5060,
                                          "tag": "NULL"}}]
    dump = module.rpc_trusted_dump()
    assert dump[0] == {"table": 0, "item": {"ip": "127.0.0.2", "proto": 1,
                                            "pattern": "^sip:alice@", "ruri_pattern": "NULL",
                                            "tag": "alice-lo", "priority": 5}}
    assert len(dump) == 5                                     # the proto "none" row is not kept


def test_test_uri(files: tuple[Engine, PermissionsModule]) -> None:
    engine, module = files
    with pytest.raises(RpcError, match="has not been loaded"):
        module.rpc_test_uri("basename", "sip:alice@x", "sip:bob@y")
    module.allow_uri(request(engine), "basename", "$rt")
    assert module.rpc_test_uri("basename", "sip:alice@x", "sip:bob@y") == "Allowed"
    assert module.rpc_allow_uri("basename", "sip:zed@x", "sip:bob@y") == "Denied"
    assert module.rpc_test_uri("basename", "sip:zed@x", "sip:carl@y") == "Allowed"


# ------------------------------------------------------------------ cfg scripts

CFG_HEADER = HEADER + 'loadmodule "permissions.so"\n'


def _cfg(tmp_path: Path, body: str, params: str = "") -> Engine:
    write_files(tmp_path)
    header = CFG_HEADER + 'modparam("permissions", "address_file", "address.list")\n' + params
    engine = _engine(tmp_path, body, header=header)
    engine.init_modules()
    return engine


def test_cfg_seed_snippets(tmp_path: Path) -> None:
    """The seed's snippets, verbatim where ksrpy has their other modules (t_relay: a reply)."""
    engine = _cfg(tmp_path, """\
        request_route {
            if ($rU == "src") {
                if((!is_method("REGISTER")) && allow_source_address()) {
                    sl_send_reply("200", "trusted source");
                    return;
                }
                sl_send_reply("403", "untrusted source");
                exit;
            }
            if ($rU == "addr") {
                if (!allow_address("1", "$si", "$sp")) {
                    sl_send_reply("403", "Forbidden");
                };
                exit;
            }
            if (allow_routing("rules.allow", "rules.deny")) {
                sl_send_reply("200", "routing allowed");
                exit;
            };
            sl_send_reply("403", "routing denied");
        }
    """)
    assert _reason(engine, ruri="sip:src@127.0.0.1") == "403 untrusted source"   # 10.9.9.9
    assert _reason(engine, ruri="sip:addr@127.0.0.1") == "403 Forbidden"
    assert _reason(engine, ruri="sip:123@127.0.0.1") == "200 routing allowed"   # from alice
    assert _reason(engine, ruri="sip:abc@127.0.0.1") == "403 routing denied"


def test_cfg_source_address_allowed(tmp_path: Path) -> None:
    (tmp_path / "extra.list").write_text("1 10.9.9.9 32 40000 edge\n")
    engine = _cfg(tmp_path, """\
        request_route {
            if((!is_method("REGISTER")) && allow_source_address()) {
                sl_send_reply("200", "trusted $avp(ptag)");
                return;
            }
            sl_send_reply("403", "untrusted");
        }
    """, 'modparam("permissions", "address_file", "extra.list")\n'
         'modparam("permissions", "peer_tag_avp", "$avp(ptag)")\n')
    assert _reason(engine) == "200 trusted edge"
    assert _reason(engine, method="REGISTER") == "403 untrusted"


def test_cfg_register_uri_trusted_and_groups(tmp_path: Path) -> None:
    db = make_db(tmp_path / "perm.db", trusted=[("10.9.9.9", "udp", None, None, "t1", 0)])
    engine = _cfg(tmp_path, """\
        request_route {
            if (method=="REGISTER") {
                if (allow_register("register")) {
                    sl_send_reply("200", "registered");
                    exit;
                } else {
                    sl_send_reply("403", "Forbidden");
                };
                exit;
            }
            if ($rU == "refer") {
                if (allow_uri("basename", "$rt")) {  // Check Refer-To URI
                    sl_send_reply("200", "refer ok");
                    exit;
                };
                sl_send_reply("403", "refer denied");
                exit;
            }
            if ($rU == "grp") {
                $var(group) = allow_address_group("192.168.1.4", "5060");
                sl_send_reply("200", "group $var(group)");
                exit;
            }
            if (allow_trusted("$si", "$proto")) {
                sl_send_reply("200", "trusted $avp(ptag)");
                exit;
            };
            sl_send_reply("403", "not trusted");
        }
    """, f'modparam("permissions", "db_url", "sqlite://{db}")\n'
         'modparam("permissions", "db_mode", 1)\n'
         'modparam("permissions", "peer_tag_avp", "$avp(ptag)")\n')
    assert _reason(engine, method="REGISTER",
                   extra="Contact: <sip:bob@10.0.0.7>\r\n") == "200 registered"
    assert _reason(engine, method="REGISTER",
                   extra="Contact: <sip:bob@192.168.0.7>\r\n") == "403 Forbidden"
    assert _reason(engine, ruri="sip:refer@127.0.0.1",
                   extra="Refer-To: <sip:bob@x>\r\n") == "200 refer ok"   # From is alice
    assert _reason(engine, ruri="sip:grp@127.0.0.1") == "200 group 2"
    assert _reason(engine) == "200 trusted t1"


@pytest.mark.parametrize(("body", "message"), [
    ('allow_routing("bad.allow", "rules.deny");', r"test.cfg:\d+: allow_routing\(\): .*"
                                                   r"bad.allow:2: .*no ':'"),
    ('allow_register("bad");', r"test.cfg:\d+: allow_register\(\): .*bad.allow:2"),
    ('allow_uri("basename", "$nosuchpv");', r"test.cfg:\d+: allow_uri\(\)"),
    ('allow_trusted("$si");', r"test.cfg:\d+: allow_trusted\(\) takes 0, 2 or 3"),
])
def test_cfg_load_time_errors(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "bad.allow").write_text('"^sip:a@" : ALL\nmalformed line\n')
    write_files(tmp_path)
    engine = _engine(tmp_path, f"request_route {{\n    {body}\n}}\n", header=CFG_HEADER)
    with pytest.raises((ValueError, RuntimeError), match=message):
        engine.init_modules()


def test_cfg_argument_count_and_route_checks(tmp_path: Path) -> None:
    with pytest.raises(ScriptLoadError, match="takes 2 argument"):
        _engine(tmp_path, 'request_route { allow_uri("basename"); }\n', header=CFG_HEADER)
    with pytest.raises(ScriptLoadError, match="cannot be used in onreply_route"):
        _engine(tmp_path, textwrap.dedent("""\
            request_route { exit; }
            onreply_route[r] { allow_register("register"); }
        """), header=CFG_HEADER)


# ------------------------------------------------------------------------- KSR


def test_kemi(tmp_path: Path, dbfile: Path) -> None:
    write_files(tmp_path)
    engine, module = module_in(tmp_path, db_url=f"sqlite://{dbfile}", db_mode=1)
    module.init()
    engine.attach_transport(CaptureTransport())  # type: ignore[arg-type]
    ksr: Any = build_ksr(engine)
    perm = ksr.permissions
    request(engine, src="127.0.0.2", frm="sip:alice@x", ruri="sip:123@y",
            extra="Refer-To: <sip:bob@x>\r\n")
    assert perm.allow_source_address(1) == 1 and perm.allow_source_address() == 1
    assert perm.allow_address(2, "127.0.0.5", 5099) == 1
    assert perm.allow_address(2, "127.0.0.5", 5098) == -1
    assert perm.allow_source_address_group() == 1
    assert perm.allow_address_group("127.0.3.4", 1) == 6
    assert perm.allow_trusted() == 1
    assert perm.allow_trusted("127.0.0.4", "tcp") == 1                     # ksrpy extension
    assert perm.allow_routing("rules.allow", "rules.deny") == 1            # ksrpy extension
    assert perm.allow_routing("rules") == 1 and perm.allow_routing() == 1
    assert perm.allow_uri("basename", "$rt") == 1
    assert perm.allow_uri("basename", "sip:carl@x") == 1                   # a URI value
    request(engine, src="127.0.0.3", frm="sip:zed@x", ruri="sip:abc@y", method="REGISTER",
            contacts=("sip:al@192.168.1.5",))
    assert perm.allow_source_address() == -1 and perm.allow_trusted() == -1
    assert perm.allow_routing("rules") == -1 and perm.allow_register("register") == -1
    assert perm.allow_uri("basename", "sip:bob@x") == -1
    assert set(module.export_table().kemi) >= {"allow_source_address", "allow_address",
                                        "allow_source_address_group", "allow_address_group",
                                        "allow_trusted"}


def test_python_script(tmp_path: Path) -> None:
    """A Python KSR script: rule files are found next to it, every function answers."""
    write_files(tmp_path)
    script = tmp_path / "edge.py"
    script.write_text(textwrap.dedent("""\
        import KSR

        def ksr_request_route():
            if KSR.permissions.allow_routing("rules") < 0:
                KSR.sl.sl_send_reply(403, "routing denied")
                return
            KSR.sl.sl_send_reply(200, "src group %d" % KSR.permissions.allow_source_address_group())
    """))
    engine = Engine()
    transport = CaptureTransport()
    engine.attach_transport(transport)  # type: ignore[arg-type]
    from ksrpy.script.loader import load_script

    engine.set_routes(load_script(str(script), engine))
    module = engine.modules["permissions"]
    module.set_param("address_file", "address.list")
    engine.init_modules()

    def reason(ruri: str, src: str) -> str:
        before = len(transport.sent)
        raw = (f"OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bK1\r\n"
               "From: <sip:alice@a>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: c\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        engine.handle(raw.encode(), ReceiveInfo("udp", src, 5060, "127.0.0.1", 5060, None, 4))
        reply = SIPMessage.parse(transport.sent[before][3])
        return f"{reply.status} {reply.reason}"

    assert reason("sip:123@x", "127.0.0.2") == "200 src group 1"
    assert reason("sip:abc@x", "127.0.0.2") == "403 routing denied"


def test_db_mode_0_start_checks_the_trusted_table(tmp_path: Path) -> None:
    path = make_db(tmp_path / "perm.db")
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE trusted RENAME COLUMN from_pattern TO pattern")
    conn.commit()
    conn.close()
    _, module = module_in(tmp_path, db_url=f"sqlite://{path}", db_mode=0)
    with pytest.raises(ValueError, match="from_pattern"):
        module.init()
    module.set_param("from_col", "pattern")
    module.init()


def test_bad_param_keeps_the_old_value(tmp_path: Path) -> None:
    _, module = module_in(tmp_path, db_mode=1)
    with pytest.raises(ValueError):
        module.set_param("db_mode", 7)
    assert module.settings["db_mode"] == 1
