"""htable: definitions, every PV and function with Kamailio 5.6.3's results, expiry with a
fake clock, events, the memory bound, persistence, RPC answers, cfg and KEMI use.

Expected values marked [5.6.3] were read from a Kamailio 5.6.3 running the
same statements (event_route[htable:mod-init] with xlog, app_python3, kamcmd).
"""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from ksrpy.core.config import CoreConfig
from ksrpy.core.context import Context
from ksrpy.core.engine import Engine
from ksrpy.core.rpc import InvalidParams, RpcError
from ksrpy.modules.htable import HtableModule
from ksrpy.modules.htable.match import core_hash
from ksrpy.modules.htable.spec import TableSpec, max_items_for, parse_definition
from ksrpy.modules.htable.table import Table
from ksrpy.script.loader import load_script
from ksrpy.script.pv import PVError, resolve
from ksrpy.sip.message import SIPMessage
from ksrpy.transport.address import ListenSpec
from tests.unit.test_cfg_compile import HEADER, RCV, _engine, _request
from tests.unit.test_kemi_pv import CaptureTransport

HT_HEADER = HEADER + 'loadmodule "htable.so"\n'
T0 = 1_700_000_000


class Clock:
    """A settable epoch clock."""

    def __init__(self, now: float = T0) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now


def _module(*definitions: str, clock: Clock | None = None, **params: object) -> HtableModule:
    engine = Engine()
    module = engine.load_module("htable", {k: v for k, v in params.items()})
    for text in definitions:
        module.set_param("htable", text)
    module.set_clock(clock or Clock())
    return module  # type: ignore[return-value]


def _ctx(engine: Engine) -> Context:
    raw = (b"OPTIONS sip:u@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK1\r\n"
           b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
           b"Content-Length: 0\r\n\r\n")
    return Context(engine, SIPMessage.parse(raw), RCV)


def _pv(module: HtableModule, name: str, value: object = ...) -> object:
    """Read (or assign) a PV in a message context of ``module``'s engine."""
    ctx = _ctx(module.engine)
    pv = resolve(name)
    if value is ...:
        return pv.get(ctx)
    assert pv.set is not None
    pv.set(ctx, value)
    return None


def _reasons(engine: Engine, **kw: str) -> list[str]:
    return [f"{r.status} {r.reason}" for r in _request(engine, **kw)]


# --------------------------------------------------------------- definitions


def test_definition_defaults_and_attributes() -> None:
    spec = parse_definition("ipban=>size=8;autoexpire=300;")
    assert spec == TableSpec(name="ipban", text="ipban=>size=8;autoexpire=300;", size=8,
                             autoexpire=300)
    assert spec.slots == 256 and spec.updateexpire == 1 and spec.initval is None
    full = parse_definition(' c => size=4 ; autoexpire=7200; initval=-3;updateexpire=0;'
                            'dbtable="htable_c";dbmode=1;dmqreplicate=0;max_items=10 ')
    assert (full.name, full.size, full.autoexpire, full.initval, full.updateexpire,
            full.dbtable, full.dbmode, full.max_items) == ("c", 4, 7200, -3, 0, "htable_c", 1,
                                                           10)
    assert parse_definition("a=>").size == 4  # Kamailio 5.6.3 accepts an empty list


@pytest.mark.parametrize(("size", "slots"), [(0, 8), (1, 8), (2, 4), (8, 256), (20, 1 << 20),
                                             (40, 16384)])
def test_size_gives_kamailio_slots(size: int, slots: int) -> None:
    # [5.6.3] htable.listTables "size" for these definitions
    assert parse_definition(f"a=>size={size};").slots == slots


@pytest.mark.parametrize(("text", "message"), [
    ("ipban", r"missing the name or '=>'"),
    ("=>size=4", r"missing the name"),
    ("a=>size=abc;", r"size='abc' is not an unsigned integer"),
    ("a=>size=4;autoexpire=-1", r"autoexpire='-1' is not an unsigned integer"),
    ("a=>initval=abc", r"initval='abc' is not an integer"),
    ("a=>bogus=1;", r"unknown attribute 'bogus'"),
    ("a=>reloadat=10;", r"unknown attribute 'reloadat'"),
    ("a=>size;", r"'size' needs a value"),
    ("a=>cols='k,v';", r"cols= .* is not supported"),
    ("a=>size=99999999999", r"too large"),
])
def test_definition_errors_name_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_definition(text)


def test_max_items_bound() -> None:
    assert max_items_for(parse_definition("a=>size=4")) == 65_536
    assert max_items_for(parse_definition("a=>size=10")) == 262_144
    assert max_items_for(parse_definition("a=>size=20")) == 4_194_304
    assert max_items_for(parse_definition("a=>size=4;max_items=9")) == 9
    assert max_items_for(parse_definition("a=>size=4"), 500) == 500


def test_modparams() -> None:
    module = _module("a=>size=4;", "b=>autoexpire=60;")
    assert list(module.tables) == ["a", "b"]
    assert module.settings["htable"] == ("a=>size=4;", "b=>autoexpire=60;")
    module.set_param("htable", "a=>size=4;")  # the same line again (a reload): no change
    assert module.settings["htable"] == ("a=>size=4;", "b=>autoexpire=60;")
    with pytest.raises(ValueError, match="'a' is defined twice"):
        module.set_param("htable", "a=>size=5;")
    module.set_param("max_items", "7")
    assert module.tables["a"].max_items == 7
    with pytest.raises(ValueError, match="not in Kamailio's mysql database"):
        module.set_param("db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")
    with pytest.raises(ValueError, match="DMQ replication is not available"):
        module.set_param("enable_dmq", 1)
    module.set_param("enable_dmq", 0)
    module.set_param("key_name_column", "kname")  # accepted for compatibility
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        module.set_param("nope", 1)


# --------------------------------------------------------------------- $sht


def test_sht_read_write_delete_and_initval() -> None:
    m = _module("a=>size=4;", "b=>size=4;autoexpire=60;initval=5")
    assert _pv(m, "$sht(a=>x)") is None  # [5.6.3] <null>
    assert _pv(m, "$sht(b=>x)") == 5  # [5.6.3] initval
    _pv(m, "$sht(a=>x)", 1)
    _pv(m, "$sht(a=>s)", "str")
    assert (_pv(m, "$sht(a=>x)"), _pv(m, "$sht(a=>s)")) == (1, "str")
    _pv(m, "$sht(a=>x)", None)
    assert _pv(m, "$sht(a=>x)") is None and "x" not in m.tables["a"].items
    _pv(m, "$sht(a=>$si)", "banned")  # the key holds a PV
    assert m.tables["a"].items["10.9.9.9"] == "banned"
    _pv(m, "$sht(a=>$si::$ci)", 3)
    assert m.tables["a"].items["10.9.9.9::x"] == 3
    with pytest.raises(PVError, match="malformed htable name"):
        resolve("$sht(nokey)")
    with pytest.raises(PVError, match="empty key"):
        resolve("$sht(a=>)")


def test_shtex_reads_and_sets_expiry() -> None:
    clock = Clock()
    m = _module("a=>size=4;", "c=>size=4;autoexpire=60;", clock=clock)
    assert _pv(m, "$shtex(a=>x)") == 0 and _pv(m, "$shtex(c=>x)") == 0  # [5.6.3]
    _pv(m, "$sht(c=>k)", 3)
    assert _pv(m, "$shtex(c=>k)") == 60  # [5.6.3]
    _pv(m, "$shtex(c=>k)", 10)
    assert _pv(m, "$shtex(c=>k)") == 10  # [5.6.3]
    _pv(m, "$sht(a=>x)", 1)
    _pv(m, "$shtex(a=>x)", 10)
    assert _pv(m, "$shtex(a=>x)") == 0  # [5.6.3] no autoexpire: ignored
    _pv(m, "$shtex(c=>k)", 0)  # never expires (Kamailio reads back garbage; ksrpy 0)
    clock.now += 10_000
    assert _pv(m, "$sht(c=>k)") == 3 and _pv(m, "$shtex(c=>k)") == 0
    _pv(m, "$shtex(c=>k)", "20")  # not an int: 0, as Kamailio
    assert m.tables["c"].expires_at("k") is None


def test_shtinc_shtdec() -> None:
    m = _module("a=>size=4;", "b=>size=4;autoexpire=60;initval=5")
    _pv(m, "$sht(a=>x)", 1)
    _pv(m, "$sht(a=>s)", "str")
    # [5.6.3] inc.a.x=[2] inc.a.s=[<null>] inc.a.miss=[<null>] inc.b.miss=[6] b.miss=[6]
    assert _pv(m, "$shtinc(a=>x)") == 2
    assert _pv(m, "$shtinc(a=>s)") is None
    assert _pv(m, "$shtinc(a=>miss)") is None and "miss" not in m.tables["a"].items
    assert _pv(m, "$shtinc(b=>miss)") == 6 and _pv(m, "$sht(b=>miss)") == 6
    _pv(m, "$sht(a=>neg)", -5)
    assert _pv(m, "$shtdec(a=>neg)") == -6  # [5.6.3]
    _pv(m, "$sht(a=>big)", 2**63 - 1)
    assert _pv(m, "$shtinc(a=>big)") == -(2**63)  # 64-bit wrap


def _counted(m: HtableModule) -> None:
    for key, value in (("x", 1), ("s", "str"), ("abc", "hello"), ("abd", "help"), ("xbc", 7)):
        _pv(m, f"$sht(a=>{key})", value)


@pytest.mark.parametrize(("pv", "count"), [
    # [5.6.3] T7: cn.re=[2] cn.plain=[2] cn.sw=[2] cn.ew=[2] cn.eq=[1] cn.all=[5] cn.eqi=[0]
    ("$shtcn(a=>~~^ab)", 2), ("$shtcn(a=>^AB)", 2), ("$shtcn(a=>%~ab)", 2),
    ("$shtcn(a=>~%bc)", 2), ("$shtcn(a=>==abc)", 1), ("$shtcn(a=>**)", 5),
    ("$shtcn(a=>eq7)", 0),
    # [5.6.3] T8: cv.re=[2] cv.eq=[1] cv.eqi=[1] cv.eqi1=[0] cv.sw=[2] cv.all=[5]
    ("$shtcv(a=>~~^hel)", 2), ("$shtcv(a=>==help)", 1), ("$shtcv(a=>eq7)", 1),
    ("$shtcv(a=>eq1)", 1), ("$shtcv(a=>%~he)", 2), ("$shtcv(a=>**)", 5),
    ("$shtcn(a=>~~)", 0), ("$shtcn(a=>~~[)", 0),
])
def test_shtcn_shtcv_forms(pv: str, count: int) -> None:
    m = _module("a=>size=4;")
    _counted(m)
    if pv == "$shtcv(a=>eq1)":
        count = 1  # x=1 is an int item; Kamailio's T8 ran after x was incremented to 2
    assert _pv(m, pv) == count


def test_counts_skip_expired_items_but_all_counts_them() -> None:
    clock = Clock()
    m = _module("c=>autoexpire=10;", clock=clock)
    _pv(m, "$sht(c=>old)", "v")
    clock.now += 5
    _pv(m, "$sht(c=>new)", "v")
    clock.now += 6  # old is expired, not swept yet
    assert _pv(m, "$shtcn(c=>~~.)") == 1 and _pv(m, "$shtcv(c=>==v)") == 1
    assert _pv(m, "$shtcn(c=>**)") == 2  # as Kamailio: every item in the slots
    assert _pv(m, "$sht(c=>old)") is None


def test_shtrecord_and_iterator_pvs_outside_their_context() -> None:
    m = _module("a=>size=4;")
    assert _pv(m, "$shtrecord(key)") is None
    assert resolve("$shtrecord(key)").null_text == ""  # [5.6.3] prints nothing
    with pytest.raises(PVError, match="key or value"):
        resolve("$shtrecord(name)")
    assert _pv(m, "$shtitkey(i1)") is None and _pv(m, "$shtitval(i1)") is None


def test_pv_on_undefined_table() -> None:
    m = _module("a=>size=4;")
    assert _pv(m, "$sht(zz=>x)") is None  # [5.6.3] <null>
    with pytest.raises(PVError, match="'zz' is not defined"):
        _pv(m, "$sht(zz=>x)", 1)  # [5.6.3] "setting pvar failed"


# ------------------------------------------------------------------- expiry


def test_autoexpire_updateexpire_and_sweep() -> None:
    clock = Clock()
    m = _module("u=>autoexpire=10;", "k=>autoexpire=10;updateexpire=0;", clock=clock)
    for t in ("u", "k"):
        _pv(m, f"$sht({t}=>x)", 1)
    clock.now += 8
    for t in ("u", "k"):
        _pv(m, f"$sht({t}=>x)", 2)  # an update: resets the expiry only when updateexpire=1
    clock.now += 3
    assert _pv(m, "$sht(u=>x)") == 2 and _pv(m, "$shtex(u=>x)") == 7
    assert _pv(m, "$sht(k=>x)") is None, "expired: reads as absent before the sweep"
    assert m.sweep() == 1 and "x" not in m.tables["k"].items and "x" in m.tables["u"].items
    clock.now += 8
    assert m.sweep() == 1 and not m.tables["u"].items
    assert m.sweep(now=clock.now + 10**6) == 0


def test_expiry_is_strictly_after_the_deadline() -> None:
    clock = Clock()
    m = _module("c=>autoexpire=10;", clock=clock)
    _pv(m, "$sht(c=>k)", 1)
    clock.now += 10
    assert _pv(m, "$sht(c=>k)") == 1 and m.sweep() == 0  # expire == now: still there
    clock.now += 1
    assert _pv(m, "$sht(c=>k)") is None and m.sweep() == 1


def test_setting_an_expired_item_starts_afresh() -> None:
    clock = Clock()
    m = _module("k=>autoexpire=10;updateexpire=0;", clock=clock)
    _pv(m, "$sht(k=>x)", 1)
    clock.now += 11
    _pv(m, "$sht(k=>x)", 2)
    assert _pv(m, "$sht(k=>x)") == 2 and _pv(m, "$shtex(k=>x)") == 10


def test_expired_event_route_with_shtrecord(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
        modparam("htable", "htable", "seen=>size=8;")
        modparam("htable", "htable", "keep=>size=8;autoexpire=10;")
        event_route[htable:expired:ipban] {
            $sht(seen=>$shtrecord(key)) = $shtrecord(value);
        }
        event_route[htable:expired:keep] {
            $shtex(keep=>$shtrecord(key)) = 100;
        }
        request_route {
            $sht(ipban=>$si) = "banned";
            $sht(keep=>$si) = 1;
            sl_send_reply("200", "rc [$shtrecord(key)]");
        }
    """, header=HT_HEADER)
    module: HtableModule = engine.modules["htable"]  # type: ignore[assignment]
    clock = Clock()
    module.set_clock(clock)
    engine.init_modules()
    assert _reasons(engine) == ["200 rc []"]
    clock.now += 301
    assert module.sweep() == 2
    assert module.tables["seen"].items == {"10.9.9.9": "banned"}
    assert not module.tables["ipban"].items
    assert module.tables["keep"].items == {"10.9.9.9": 1}, "the event route extended it"
    assert module.tables["keep"].expire_in("10.9.9.9") == 100
    assert engine.current is None


def test_mod_init_event_route(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "a=>size=4;")
        event_route[htable:mod-init] {
            $sht(a=>x) = 1;
            sht_setxs("a", "y", "v", "10");
        }
        request_route { sl_send_reply("200", "x=$sht(a=>x) y=$sht(a=>y)"); }
    """, header=HT_HEADER)
    assert _reasons(engine) == ["200 x=<null> y=<null>"]
    engine.init_modules()
    assert _reasons(engine) == ["200 x=1 y=v"]


def test_timer_task_sweeps_on_the_event_loop() -> None:
    clock = Clock()
    m = _module("c=>autoexpire=5;", clock=clock, timer_interval=1)

    async def run() -> None:
        _pv(m, "$sht(c=>k)", 1)  # first use on a running loop starts the timer
        assert m._timer is not None
        clock.now += 6
        deadline = time.monotonic() + 5
        while m.tables["c"].items and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        m.destroy()

    asyncio.run(run())
    assert not m.tables["c"].items and m._timer is None


# ------------------------------------------------------------ memory bound


def test_a_million_distinct_keys_stay_bounded() -> None:
    table = Table(parse_definition("flood=>size=8;autoexpire=300;max_items=5000;"),
                  clock=lambda: T0)
    start = time.monotonic()
    for i in range(1_000_000):
        table.set(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1)
    elapsed = time.monotonic() - start
    assert len(table) == 5000 and len(table.expires) == 5000
    assert len(table._heap) <= 2 * 5000 + 1024
    assert table.evicted == 1_000_000 - 5000
    assert elapsed < 60, f"{elapsed:.1f}s"
    assert "10.15.66.63" in table.items  # the last key written is kept


def test_eviction_picks_closest_to_expiry_then_least_recently_written() -> None:
    clock = Clock()
    table = Table(parse_definition("t=>autoexpire=100;max_items=3;"), clock=clock)
    for key in ("a", "b", "c"):
        table.set(key, 1)
        clock.now += 1
    table.set_expire("b", 1000)
    table.set("a", 2)  # refreshed: now c is closest to expiry
    table.set("d", 1)
    assert sorted(table.items) == ["a", "b", "d"]
    plain = Table(parse_definition("p=>max_items=2;"), clock=clock)
    plain.set("a", 1)
    plain.set("b", 1)
    plain.set("a", 2)  # rewritten: b is now the least recently written
    plain.set("c", 1)
    assert sorted(plain.items) == ["a", "c"] and plain.evicted == 1


def test_eviction_is_logged_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    table = Table(parse_definition("t=>max_items=1;"))
    for i in range(100):
        table.set(str(i), i)
    assert caplog.text.count("htable t is full") == 1


# ----------------------------------------------------- functions (cfg forms)


def test_cfg_functions_and_return_codes(tmp_path: Path) -> None:
    # [5.6.3] T9..T24 of the differential run
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "a=>size=4;")
        modparam("htable", "htable", "c=>size=4;autoexpire=60;")
        request_route {
            $sht(a=>abc) = "hello"; $sht(a=>abd) = "help"; $sht(a=>xbc) = 7;
            $sht(a=>x) = 1; $sht(a=>s) = "str"; $var(r) = "";
            sht_rm_name("a", "sw", "ab");  $var(r) = $var(r) + "sw" + $rc + "/" + $shtcn(a=>**);
            sht_rm_name("a", "re", "^xb"); $var(r) = $var(r) + " re" + $rc + "/" + $shtcn(a=>**);
            sht_rm_name("a", "xx", "^xb"); $var(r) = $var(r) + " xx" + $rc;
            sht_match_name("a", "eq", "zz"); $var(r) = $var(r) + " m" + $rc;
            sht_has_name("a", "eq", "x"); $var(r) = $var(r) + " h" + $rc;
            sht_match_str_value("a", "eq", "1"); $var(r) = $var(r) + " v" + $rc;
            sht_has_str_value("a", "re", "^ST"); $var(r) = $var(r) + " V" + $rc;
            sht_rm("a", "s"); $var(r) = $var(r) + " rm" + $rc;
            sht_rm("a", "s"); $var(r) = $var(r) + " rm" + $rc;
            sht_rm("zz", "s"); $var(r) = $var(r) + " rmz" + $rc;
            sht_setxs("c", "q", "v", "100");
            $var(r) = $var(r) + " xs" + $rc + "/" + $shtex(c=>q) + "/" + $sht(c=>q);
            sht_setxi("c", "i", "12", "$var(n)");
            $var(r) = $var(r) + " xi" + $rc + "/" + $sht(c=>i);
            sht_lock("a=>x"); $var(r) = $var(r) + " l" + $rc;
            sht_unlock("a=>x"); $var(r) = $var(r) + " u" + $rc;
            sht_reset("a"); $var(r) = $var(r) + " reset" + $rc + "/" + $shtcn(a=>**);
            sht_print();
            sl_send_reply("200", "$var(r)");
        }
    """, header=HT_HEADER)
    assert _reasons(engine) == [
        "200 sw1/3 re1/2 xx-1 m-1 h1 v-1 V1 rm1 rm1 rmz-1 xs1/100/v xi1/12 l1 u1 reset1/0"]


def test_cfg_regex_removal_and_lock_on_missing_table(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "a=>size=4;")
        request_route {
            $sht(a=>alpha) = "one"; $sht(a=>beta) = "two"; $sht(a=>gamma) = 3;
            sht_rm_value_re("a=>^T");
            $var(r) = "" + $rc + "/" + $shtcn(a=>**);
            sht_rm_name_re("a=>$rU");
            $var(r) = $var(r) + " " + $rc + "/" + $shtcn(a=>**);
            sht_rm_name_re("zz=>.*");
            $var(r) = $var(r) + " " + $rc;
            sht_lock("zz=>k");
            $var(r) = $var(r) + " " + $rc;
            sl_send_reply("200", "$var(r)");
        }
    """, header=HT_HEADER)
    assert _reasons(engine, ruri="sip:ALPH@127.0.0.1:5070") == ["200 1/2 1/1 1 -11"]
    assert list(engine.modules["htable"].tables["a"].items) == ["gamma"]  # type: ignore


def test_cfg_iterator_loop(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "h1=>size=4;")
        request_route {
            $sht(h1=>a) = 1; $sht(h1=>b) = "two"; $sht(h1=>c) = 3;
            $var(out) = "";
            sht_iterator_start("i1", "h1");
            while (sht_iterator_next("i1")) {
                $var(out) = $var(out) + $shtitkey(i1) + "=" + $shtitval(i1) + ";";
                if ($shtitkey(i1) == "b") { sht_iterator_sets("i1", "TWO"); }
                if ($shtitkey(i1) == "c") { sht_iterator_seti("i1", "30"); }
            }
            $var(out) = $var(out) + " end=" + $rc + " key=" + $shtitkey(i1);
            sht_iterator_end("i1");
            $var(out) = $var(out) + " " + $rc + " b=" + $sht(h1=>b) + " c=" + $sht(h1=>c);
            sht_iterator_start("i2", "h1");
            sht_iterator_next("i2");
            sht_iterator_rm("i2");
            $var(out) = $var(out) + " rm=" + $rc + "/" + $shtitkey(i2);
            sht_iterator_next("i2");
            sht_iterator_rm("i2");
            $var(out) = $var(out) + " rm=" + $rc;
            sht_iterator_end("i2");
            sht_iterator_end("i2");
            $var(out) = $var(out) + " " + $rc;
            sl_send_reply("200", "$var(out)");
        }
    """, header=HT_HEADER)
    assert _reasons(engine) == [
        "200 a=1;b=two;c=3; end=-1 key= 1 b=TWO c=30 rm=1/b rm=-2 -1"]


def test_at_most_four_iterators() -> None:
    m = _module("h=>size=4;")
    ctx = _ctx(m.engine)
    assert [m.sht_iterator_start(ctx, f"i{n}", "h") for n in range(5)] == [1, 1, 1, 1, -1]
    assert m.sht_iterator_start(ctx, "i0", "h") == 1  # restarting an existing one is fine
    assert m.sht_iterator_start(ctx, "i0", "nope") == -1
    assert m.sht_iterator_end(ctx, "i4") == -1
    assert m.sht_iterator_end(ctx, "i3") == 1
    assert m.sht_iterator_start(ctx, "x" * 32, "h") == -1  # names under 32 characters


# -------------------------------------------------------------- cfg checks


def test_blog_snippet_bans_the_source(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
        request_route {
            if ($sht(ipban=>$si) != $null) {
                exit;
            }
            if ($rU == "attack") {
                $sht(ipban=>$si) = 1;
                sl_send_reply("403", "Banned");
                exit;
            }
            sl_send_reply("200", "OK");
        }
    """, header=HT_HEADER)
    engine.init_modules()
    assert _reasons(engine) == ["200 OK"]
    assert _reasons(engine, ruri="sip:attack@127.0.0.1:5070") == ["403 Banned"]
    assert _reasons(engine) == [], "banned: the script exits without a reply"
    module: HtableModule = engine.modules["htable"]  # type: ignore[assignment]
    assert module.rpc_get("ipban", "10.9.9.9")["item"]["value"] == 1


def test_undefined_table_is_a_start_up_error(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        modparam("htable", "htable", "a=>size=4;")
        request_route {
            $sht(ipban=>$si) = 1;
            xlog("L_INFO", "count $(shtcn(other=>**){s.len})\\n");
        }
    """, header=HT_HEADER)
    with pytest.raises(ValueError, match=r"ipban, other .*ipban=>size=8.*defined: a"):
        engine.init_modules()


def test_htable_pvs_need_the_module(tmp_path: Path) -> None:
    engine = _engine(tmp_path, """
        request_route { $var(x) = $sht(a=>x); sl_send_reply("200", "ok"); }
    """)
    assert _reasons(engine) == [], "runtime error: the message is dropped"
    assert engine.stats["script_errors"] == 1


# --------------------------------------------------------------------- KEMI

KEMI_SCRIPT = '''
import KSR


def ksr_request_route():
    h = KSR.htable
    out = [
        h.sht_get("a", "x"), h.sht_gete("a", "x"), h.sht_getw("a", "x"), h.sht_get("b", "x"),
        h.sht_get("zz", "x"), h.sht_sets("a", "s", "v"), h.sht_seti("a", "i", 7),
        h.sht_sets("zz", "s", "v"), h.sht_get("a", "i"), h.sht_is_null("a", "x"),
        h.sht_is_null("a", "i"), h.sht_is_null("zz", "i"), h.sht_inc("a", "i"),
        h.sht_inc("a", "s"), h.sht_inc("a", "m"), h.sht_inc("zz", "m"), h.sht_inc("b", "m"),
        h.sht_dec("a", "i"), h.sht_setex("b", "nothere", 10), h.sht_setex("zz", "n", 10),
        h.sht_setxs("b", "q", "v", 10), h.sht_rm("a", "s"), h.sht_rm("a", "s"),
        h.sht_rm("zz", "s"), h.sht_match_name("a", "eq", "i"),
        h.sht_match_name("a", "eq", "q"), h.sht_match_name("a", "xx", "i"),
        h.sht_rm_name_re("a", "^zz"), h.sht_rm_name_re("zz", "^zz"),
        h.sht_rm_name("a", "sw", "zz"), h.sht_rm_name("a", "xx", "zz"), h.sht_lock("a", "k"),
        h.sht_unlock("a", "k"), h.sht_lock("zz", "k"), h.sht_iterator_start("i1", "a"),
        h.sht_iterator_next("i1"), h.sht_iterator_next("i1"), h.sht_iterator_end("i1"),
        h.sht_iterator_start("i2", "zz"), h.sht_iterator_end("nope"), h.sht_reset("a"),
        h.sht_reset("zz"),
    ]
    extra = [h.sht_has_name("b", "re", "^Q"), h.sht_has_str_value("b", "eq", "v"),
             h.sht_rm_value_re("b", "^v"), h.sht_get("b", "q")]
    KSR.sl.sl_send_reply(200, repr(out) + " " + repr(extra))
'''

# [5.6.3] app_python3 results of the same calls, in order
KEMI_EXPECTED = [
    None, "", "<null>", 5, None, 1, 1, -1, 7, 1, -1, 2, 8, -255, -255, -255, 6, 7, 1, -1, 1, 1,
    1, -1, 1, -1, -1, 1, 1, 1, -1, 1, 1, -1, 1, 1, -1, 1, -1, -1, 0, -1,
]


def test_kemi_functions_match_kamailio(tmp_path: Path) -> None:
    script = tmp_path / "kemi.py"
    script.write_text(KEMI_SCRIPT)
    engine = Engine(CoreConfig())
    engine.load_module("htable", {"htable": "a=>size=4;"})
    engine.modules["htable"].set_param("htable", "b=>size=4;autoexpire=60;initval=5")
    transport = CaptureTransport()
    transport.bound = [ListenSpec("udp", "127.0.0.1", 5070)]
    engine.set_routes(load_script(str(script), engine))
    engine.attach_transport(transport)  # type: ignore[arg-type]
    engine.init_modules()
    (reply,) = _request(engine)
    out, extra = reply.reason.split("] [")
    assert eval(out + "]") == KEMI_EXPECTED  # noqa: S307 - our own repr
    assert eval("[" + extra) == [1, 1, 1, 5]  # noqa: S307 - removed, initval again


# ---------------------------------------------------------------------- RPC


def test_rpc_answers_have_kamailio_shapes() -> None:
    m = _module("a=>size=4;", "b=>size=3;autoexpire=60;initval=5;dbtable=xx;dbmode=1")
    m.rpc_seti("a", "x", 1)
    m.rpc_sets("a", "s", "str")
    assert m.rpc_sets("b", "k", "v") == "Ok. Key set to new value."
    # [5.6.3] jsonrpcs htable.dump a
    assert m.rpc_dump("a") == [
        {"entry": 7, "size": 1, "slot": [{"name": "x", "value": 1, "type": "int"}]},
        {"entry": 13, "size": 1, "slot": [{"name": "s", "value": "str", "type": "str"}]}]
    assert m.rpc_dump("b") == [
        {"entry": 6, "size": 1, "slot": [{"name": "k", "value": "v", "type": "str"}]}]
    assert m.rpc_get("a", "x") == {"item": {"name": "x", "value": 1, "flags": 0,
                                            "expire": "NEVER"}}
    item = m.rpc_get("b", "k")["item"]
    assert item["flags"] == 2 and item["expire"] == time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(T0 + 60))
    assert [t["name"] for t in m.rpc_list_tables()] == ["b", "a"]
    assert m.rpc_list_tables()[0] == {"name": "b", "dbtable": "xx", "dbmode": 1, "expire": 60,
                                      "updateexpire": 1, "size": 8, "dmqreplicate": 0}
    stats = m.rpc_stats()
    assert stats[1] == {"name": "a", "slots": 16, "all": 2, "min": 0, "max": 1,
                        "max_items": 65536, "evicted": 0}
    assert m.rpc_setex("b", "k", 30) == "Ok" and m.tables["b"].expire_in("k") == 30
    assert m.rpc_setxi("b", "n", 4, 10) == "Ok. Key set to new value."
    assert m.rpc_setxs("b", "m", 4, 10) == "Ok. Key set to new value."
    assert m.tables["b"].items["m"] == "4"
    assert m.rpc_delete("a", "x") == "Ok. Key deleted."
    with pytest.raises(RpcError) as err:
        m.rpc_delete("a", "x")
    assert (err.value.code, err.value.message) == (404, "Key not found in htable.")
    with pytest.raises(RpcError, match="Key name doesn't exist in htable."):
        m.rpc_get("a", "x")
    with pytest.raises(RpcError, match="No such htable"):
        m.rpc_dump("zz")
    with pytest.raises(InvalidParams, match="integer"):
        m.rpc_seti("a", "x", "ten")
    assert m.rpc_flush("a") == "Ok. Htable flushed." and not m.tables["a"].items
    with pytest.raises(RpcError, match="No htable db_url"):
        m.rpc_reload("b")


def test_rpc_registered_on_the_control_socket() -> None:
    from ksrpy.core.rpc import RpcRegistry

    m = _module("a=>size=4;")
    registry = RpcRegistry()
    registry.add_module_rpcs({"htable": m})
    answer = asyncio.run(registry.dispatch({"jsonrpc": "2.0", "id": 1, "method": "htable.sets",
                                            "params": ["a", 10, "x"]}))
    assert answer == {"jsonrpc": "2.0", "result": "Ok. Key set to new value.", "id": 1}
    assert m.tables["a"].items == {"10": "x"}
    answer = asyncio.run(registry.dispatch({"jsonrpc": "2.0", "id": 2, "method": "htable.get",
                                            "params": ["a", "nope"]}))
    assert answer is not None and answer["error"]["code"] == 500


def test_core_hash_matches_kamailio_slots() -> None:
    # [5.6.3] htable.dump entries in a 16-slot table
    slots = {"10.0.0.1": 15, "192.168.100.200": 5, "abcdefgh": 12, "héllo": 14, "::1": 1,
             "2001:db8::ff": 9, "x": 7, "s": 13}
    assert {k: core_hash(k) & 15 for k in slots} == slots


# -------------------------------------------------------------- persistence


def _persisted(url: str, *defs: str, clock: Clock | None = None) -> HtableModule:
    m = _module(*defs, clock=clock, db_url=url)
    m.init()
    return m


def test_sqlite_persistence_with_dbmode(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/ht.db"
    defs = ("ipban=>size=8;autoexpire=300;dbtable=ipban;dbmode=1;",
            "conf=>size=4;dbtable=conf;dbmode=0;", "mem=>size=4;")
    clock = Clock()
    first = _persisted(url, *defs, clock=clock)
    _pv(first, "$sht(ipban=>10.0.0.1)", 1)
    _pv(first, "$sht(ipban=>10.0.0.2)", "x")
    _pv(first, "$sht(ipban=>gone)", 1)
    _pv(first, "$sht(ipban=>gone)", None)
    _pv(first, "$sht(conf=>k)", "not written: dbmode=0")
    _pv(first, "$sht(mem=>k)", 1)
    first.destroy()
    clock.now += 100
    second = _persisted(url, *defs, clock=clock)
    assert second.tables["ipban"].items == {"10.0.0.1": 1, "10.0.0.2": "x"}
    assert second.tables["ipban"].expire_in("10.0.0.1") == 200, "the expiry is kept"
    assert not second.tables["conf"].items and not second.tables["mem"].items
    second.destroy()
    clock.now += 250  # past the expiry: dropped at load and deleted from the store
    third = _persisted(url, *defs, clock=clock)
    assert not third.tables["ipban"].items
    third.destroy()
    with sqlite3.connect(tmp_path / "ht.db") as db:
        assert db.execute("SELECT count(*) FROM ksrpy_kv").fetchone()[0] == 0


def test_rpc_reload_and_store(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/ht.db"
    m = _persisted(url, "conf=>size=4;dbtable=conf;dbmode=0;")
    m.tables["conf"].set("a", 1)
    assert m.rpc_store("conf") == "Ok. Htable stored."
    m.tables["conf"].set("b", 2)  # dbmode=0: not written
    assert m.rpc_reload("conf") == "Ok. Htable reloaded."
    assert m.tables["conf"].items == {"a": 1}
    m.destroy()
    with pytest.raises(RpcError, match="has no dbtable"):
        _persisted(url, "x=>size=4;").rpc_reload("x")


def test_bad_store_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no directory"):
        _persisted(f"sqlite://{tmp_path}/missing/ht.db", "t=>dbtable=t;")


def test_dbtable_without_db_url_warns(caplog: pytest.LogCaptureFixture) -> None:
    m = _persisted("", "t=>dbtable=t;dbmode=1;")
    assert "db_url is not set" in caplog.text and m.store is None


def test_reload_keeps_tables_and_their_items(tmp_path: Path) -> None:
    from ksrpy.core.reload import Reloader

    cfg = tmp_path / "r.cfg"
    body = textwrap.dedent("""
        modparam("htable", "htable", "a=>size=4;")
        request_route { $sht(a=>n) = $sht(a=>n) + 1; sl_send_reply("200", "v$sht(a=>n)"); }
    """)
    cfg.write_text(HT_HEADER + body)
    engine = Engine(CoreConfig())
    transport = CaptureTransport()
    transport.bound = [ListenSpec("udp", "127.0.0.1", 5070)]
    engine.set_routes(load_script(str(cfg), engine))
    engine.attach_transport(transport)  # type: ignore[arg-type]
    engine.init_modules()
    assert _reasons(engine) == ["200 v1"]
    cfg.write_text(HT_HEADER + body.replace('"v', '"w'))
    assert Reloader(engine, str(cfg)).reload().ok
    assert _reasons(engine) == ["200 w2"], "the table and its items survive a reload"
    cfg.write_text(HT_HEADER + body.replace("size=4", "size=5"))
    result = Reloader(engine, str(cfg)).reload()
    assert not result.ok and "needs a restart" in result.errors[0]
