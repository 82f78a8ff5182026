"""pike: the address tree row by row on a fake clock, trusted sources, the node bound, cfg and KSR.

Hit counts until a block follow Kamailio 5.6 (verified on loopback, see the
inventory §1.7 and tests/interop/test_pike_vs_kamailio.py): on a cold IPv4
branch with x = reqs_density_per_unit the first block comes at hit
max(2, x/4) + 2 + x (22 for x = 16); once the /24 exists, at hit 1 + x.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksrpy.core.engine import Engine
from ksrpy.core.reload import Reloader
from ksrpy.core.rpc import InvalidParams
from ksrpy.modules import AVAILABLE
from ksrpy.modules.pike import PikeModule, PikeTree
from ksrpy.modules.pike import module as pike_module
from ksrpy.modules.pike.trusted import TrustedSet, pack, parse_entries
from ksrpy.script.errors import ScriptLoadError
from ksrpy.script.kemi import build_ksr
from ksrpy.sip.message import SIPMessage
from tests.unit.test_cfg_compile import HEADER, RCV, _engine, _request
from tests.unit.test_kemi_pv import CaptureTransport, _ctx


class Clock:
    """A settable clock for the tree."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def tree(x: int = 16, unit: float = 2, latency: float = 120, max_nodes: int = 100_000,
         clock: Clock | None = None) -> tuple[PikeTree, Clock]:
    clk = clock or Clock()
    return PikeTree(x, unit, latency, max_nodes, clk), clk


def hits_until_block(t: PikeTree, addr: bytes, limit: int = 10_000) -> int:
    for n in range(1, limit + 1):
        code = t.hit(addr)
        if code < 0:
            assert code == -2, "the first failing hit must be the new-block code"
            return n
    raise AssertionError("never blocked")


# ------------------------------------------------------------------ thresholds


@pytest.mark.parametrize("x", [1, 2, 4, 7, 16, 30, 100, 1000])
def test_cold_ipv4_branch_blocks_at_max2_q_plus_2_plus_x(x: int) -> None:
    t, _ = tree(x)
    assert hits_until_block(t, ip("127.0.0.2")) == max(2, x >> 2) + 2 + x
    assert 1 < max(2, x >> 2) + 2 + x <= 3 * x + 2  # README: between x and 3x


@pytest.mark.parametrize("x", [4, 16, 30])
def test_built_prefix_blocks_a_neighbour_at_1_plus_x(x: int) -> None:
    t, _ = tree(x)
    hits_until_block(t, ip("127.0.0.2"))
    assert hits_until_block(t, ip("127.0.0.3")) == 1 + x
    assert t.nodes == 5


def test_kamailio_verified_numbers_x16() -> None:
    """Kamailio 5.6.3, x=16: 127.0.0.2 got 21 answers, then 127.0.0.3 exactly 16."""
    t, _ = tree(16)
    codes = [t.hit(ip("127.0.0.2")) for _ in range(25)]
    assert codes == [1] * 21 + [-2] + [-1] * 3
    codes = [t.hit(ip("127.0.0.3")) for _ in range(18)]
    assert codes == [1] * 16 + [-2, -1]


def test_minus_two_once_then_minus_one_while_red() -> None:
    t, _ = tree(4)
    codes = [t.hit(ip("10.0.0.1")) for _ in range(20)]
    assert codes.count(-2) == 1 and codes[codes.index(-2) + 1:] == [-1] * (19 - codes.index(-2))
    assert t.blocked_total == 1 and len(t.reds) == 1


def test_below_threshold_never_blocks() -> None:
    t, clk = tree(16, unit=2)
    addr = ip("10.0.0.1")
    hits_until_block(t, ip("10.0.0.9"))  # build the /24 so only leaf hits count
    t.hit(addr)  # split the leaf off
    for _window in range(20):
        assert all(t.hit(addr) == 1 for _ in range(15))  # x - 1 per window
        clk.now += 2
    assert not t.find(addr).red  # type: ignore[union-attr]


def test_rows_block_persists_while_traffic_continues_then_unblocks() -> None:
    """Row by row: (time, hits in that window, codes expected)."""
    t, clk = tree(8, unit=2)
    addr = ip("192.0.2.1")
    hits_until_block(t, ip("192.0.2.200"))  # warm /24
    assert t.hit(addr) == 1  # leaf split off
    rows = [
        (0.5, 7, [1] * 7),                 # 7 < x
        (0.9, 2, [-2, -1]),                # 8th hit in the window: blocked, then -1
        (2.1, 8, [-1] * 8),                # next window: prev >= x keeps it red
        (4.0, 8, [-1] * 8),                # still flooding: still red, no new -2
        (6.0, 0, []),                      # quiet window: prev = 8 still hot after the swap
        (8.0, 1, [1]),                     # two swaps later prev = 0: unblocked
        (8.5, 7, [1] * 6 + [-2]),          # a new flood is a new first detection
    ]
    for when, count, expected in rows:
        clk.now = when
        assert [t.hit(addr) for _ in range(count)] == expected, f"row at t={when}"
        if when == 6.0:
            t.refresh()
            assert t.find(addr).red  # type: ignore[union-attr]
    assert t.blocked_total == 3  # 192.0.2.200, then 192.0.2.1 twice
    assert t.unblocked == [ip("192.0.2.200"), addr]


def test_unblocked_at_second_swap_without_traffic() -> None:
    t, clk = tree(4, unit=1)
    hits_until_block(t, ip("10.1.1.1"))
    clk.now = 1.5
    t.refresh()
    assert len(t.reds) == 1  # prev >= x
    clk.now = 2.0
    t.refresh()
    assert not t.reds and t.unblocked == [ip("10.1.1.1")]


# --------------------------------------------------------------------- expiry


def test_leaf_expires_after_remove_latency_then_the_prefixes_one_by_one() -> None:
    t, clk = tree(4, unit=1, latency=10)
    addr = ip("10.2.3.4")
    hits_until_block(t, addr)
    assert t.nodes == 4
    clk.now = 9.9
    assert t.expire() == 0 and t.nodes == 4
    clk.now = 10.0
    assert t.expire() == 1 and t.nodes == 3 and not t.reds  # the leaf
    for left in (2, 1, 0):  # each parent became a leaf at the previous step, with a new timeout
        clk.now += 10
        assert t.expire() == 1 and t.nodes == left
    assert not t.timer and t.roots[10] is None


def test_refreshed_leaf_survives_and_a_block_restarts_after_expiry() -> None:
    t, clk = tree(4, unit=1, latency=10)
    addr = ip("10.2.3.4")
    hits_until_block(t, addr)
    clk.now = 8
    assert t.hit(addr) == 1  # two swaps later: unblocked; the hit refreshes the leaf
    clk.now = 17
    assert t.expire() == 0 and t.find(addr) is not None
    clk.now = 18
    t.expire()
    assert t.find(addr) is None
    # The /24 is still there (it expires later): the address blocks at 1 + x again.
    assert hits_until_block(t, addr) == 1 + 4


def test_prefix_leaf_not_refreshed_by_hits_that_do_not_split_it() -> None:
    t, clk = tree(16, latency=10)  # x/4 = 4
    t.hit(ip("10.0.0.1"))
    clk.now = 9
    t.hit(ip("10.0.0.1"))  # hits 2 < 4: no split, no refresh (Kamailio's NO_UPDATE)
    clk.now = 10
    assert t.expire() == 1 and t.nodes == 0


def test_hits_sweep_a_few_expired_nodes() -> None:
    t, clk = tree(16, latency=5)
    for n in range(20):
        t.hit(bytes([n, 1, 2, 3]))
    assert t.nodes == 20
    clk.now = 6
    t.hit(ip("200.0.0.1"))
    assert t.nodes == 20 - 4 + 1  # SWEEP_PER_HIT nodes went, one came


# ----------------------------------------------------------------------- IPv6


def test_ipv6_cold_branch_and_shared_prefix() -> None:
    t, _ = tree(16)
    assert hits_until_block(t, ip("2001:db8::1")) == max(2, 16 >> 2) + 14 + 16
    assert hits_until_block(t, ip("2001:db8::2")) == 1 + 16
    assert t.nodes == 17


def test_ipv4_leaf_inside_an_ipv6_path() -> None:
    """One tree for both families: 1.2.3.4 is also the prefix of 102:304::/32."""
    t, clk = tree(4, unit=1, latency=10)
    v4, v6 = ip("1.2.3.4"), ip("102:304::9")
    hits_until_block(t, v4)
    assert hits_until_block(t, v6) == 1 + 11 + 4  # split under the v4 leaf, 11 more bytes
    clk.now = 5
    t.hit(v6)  # keeps the v6 leaf fresh
    clk.now = 10
    t.expire()
    node = t.find(v4)
    assert node is not None and not node.ipleaf and node.kids  # only stopped being a leaf


def test_ipv4_hit_on_an_inner_node_of_an_ipv6_path() -> None:
    """Kamailio 5.6.3 aborts on this (assertion in pike_check_ipaddr); here it is a leaf hit."""
    t, clk = tree(4, unit=1, latency=10)
    hits_until_block(t, ip("::1"))
    inner = t.find(ip("0.0.0.0"))
    assert inner is not None and inner.kids and inner not in t.timer
    assert [t.hit(ip("0.0.0.0")) for _ in range(5)] == [1, 1, 1, -2, -1]
    assert inner in t.timer and inner.ipleaf
    clk.now = 5
    t.hit(ip("::1"))  # keeps the IPv6 leaf
    clk.now = 10
    t.expire()
    assert not inner.ipleaf and inner.kids and t.nodes == 16  # stays as a prefix of ::1
    for _ in range(17):  # then the leaf, and each parent in its turn
        clk.now += 10
        t.expire()
    assert t.nodes == 0 and not t.timer


# -------------------------------------------------------------- the node bound


def test_node_bound_evicts_least_recently_hit_leaves() -> None:
    t, _ = tree(16, max_nodes=64)
    keep = ip("198.51.100.7")
    hits_until_block(t, keep)
    rnd = random.Random(5)
    t.hit(ip("203.0.113.5"))
    early = t.roots[203]
    for n in range(20_000):
        t.hit(rnd.getrandbits(32).to_bytes(4, "big"))
        assert t.nodes <= 64
        if n % 10 == 0:
            assert t.hit(keep) == -1
    assert t.evicted > 10_000
    assert t.find(keep) is not None and t.find(keep).red  # type: ignore[union-attr]
    assert early is not None and t.roots[203] is not early  # evicted long ago


def test_million_spoofed_sources_stay_bounded_and_a_flooder_is_still_blocked() -> None:
    clk = Clock()
    max_nodes = 100_000
    t = PikeTree(30, 2, 120, max_nodes, clk)
    rnd = random.Random(1)
    flooder = ip("203.0.113.66")
    first_block = None
    flooder_hits = 0
    peak = 0
    hit = t.hit
    started = time.perf_counter()
    for n in range(1_000_000):
        clk.now = n * 1e-6  # one second: all in one sampling window
        if n % 100 == 0:
            flooder_hits += 1
            code = hit(flooder)
            if first_block is None and code < 0:
                first_block = flooder_hits
            elif first_block is not None:
                assert code == -1
        else:
            hit(rnd.getrandbits(32).to_bytes(4, "big"))
        if t.nodes > peak:
            peak = t.nodes
    elapsed = time.perf_counter() - started
    assert peak <= max_nodes and t.nodes <= max_nodes
    assert len(t.timer) <= t.nodes
    assert first_block is not None and first_block <= 3 * 30
    assert t.evicted > 800_000
    assert elapsed < 10, f"1M hits took {elapsed:.1f}s"


# ------------------------------------------------- lazy swap vs Kamailio's eager


class EagerPike:
    """Kamailio's mark_node and swap_routine written plainly: a global swap each window."""

    def __init__(self, x: int) -> None:
        self.x, self.q = x, x >> 2
        self.roots: dict[int, dict] = {}

    def _hot(self, n: dict) -> bool:
        p, c = n["l"]
        return p >= self.x or c >= self.x or (p + c) >> 1 >= self.x

    def swap(self) -> None:
        stack = list(self.roots.values())
        while stack:
            n = stack.pop()
            n["h"] = [n["h"][1], 0]
            n["l"] = [n["l"][1], 0]
            if n["red"] and not self._hot(n):
                n["red"] = False
            stack.extend(n["kids"].values())

    def hit(self, addr: bytes) -> int:
        kids, node, pos = self.roots, None, 0
        while pos < len(addr) and addr[pos] in kids:
            node = kids[addr[pos]]
            kids, pos = node["kids"], pos + 1
        if node is None:
            self.roots[addr[0]] = {"kids": {}, "h": [0, 1], "l": [0, 0], "red": False}
            return 1
        if pos == len(addr):
            node["l"][1] += 1
            if node["red"]:
                return -1
            if self._hot(node):
                node["red"] = True
                return -2
            return 1
        node["h"][1] += 1
        p, c = node["h"]
        if p >= self.q or c >= self.q or (p + c) >> 1 >= self.q:
            lp, lc = node["l"]  # an IPv4 leaf inside an IPv6 path passes leaf_prev - 1 on
            inherit = lp - 1 if lc >= 1 and lp >= 1 else 0
            node["kids"][addr[pos]] = {"kids": {}, "h": [0, c - 1], "l": [inherit, 0],
                                       "red": False}
        return 1

    def reds(self, prefix: bytes = b"", nodes: dict | None = None) -> set[bytes]:
        out: set[bytes] = set()
        for byte, n in (self.roots if nodes is None else nodes).items():
            if n["red"]:
                out.add(prefix + bytes([byte]))
            out |= self.reds(prefix + bytes([byte]), n["kids"])
        return out


POOL = [ip(a) for a in ("10.0.0.1", "10.0.0.2", "10.0.1.1", "10.9.0.1", "11.0.0.1",
                        "2001:db8::1", "2001:db8::2", "2001:db8:1::1", "a00:1::1")]


@settings(max_examples=200, deadline=None)
@given(x=st.integers(1, 12),
       steps=st.lists(st.one_of(st.tuples(st.just("hit"), st.integers(0, len(POOL) - 1),
                                          st.integers(1, 20)),
                                st.tuples(st.just("wait"), st.integers(1, 3), st.just(0))),
                      max_size=40))
def test_lazy_swap_matches_kamailios_global_swap(x: int, steps: list) -> None:
    t, clk = tree(x, unit=1, latency=10**9)
    ref = EagerPike(x)
    for kind, a, b in steps:
        if kind == "wait":
            for _ in range(a):
                clk.now += 1
                ref.swap()
            continue
        for _ in range(b):
            assert t.hit(POOL[a]) == ref.hit(POOL[a])
    t.refresh()
    assert {n.address() for n in t.reds} == ref.reds()


# ------------------------------------------------------------------ trusted


def test_trusted_parsing_and_lookup() -> None:
    entries = parse_entries("10.0.0.0/8, 192.0.2.7 ; 2001:db8::/32 [2001:db8:ffff::1]")
    assert entries == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "2001:db8:ffff::1/128")
    trusted = TrustedSet(entries)
    assert trusted.contains(ip("10.200.1.1")) and trusted.contains(ip("192.0.2.7"))
    assert not trusted.contains(ip("192.0.2.8")) and not trusted.contains(ip("11.0.0.1"))
    assert trusted.contains(ip("2001:db8:1::5")) and not trusted.contains(ip("2001:db9::1"))
    assert trusted.contains(ip("::ffff:10.1.1.1"))  # IPv4-mapped counts as IPv4
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address or CIDR"):
        parse_entries("10.0.0.300")
    assert pack("[2001:db8::1]") == ip("2001:db8::1") and pack("fe80::1%eth0") == ip("fe80::1")
    assert pack("example.com") is None and pack("1.2.3") is None


def test_trusted_modparam_accumulates_and_a_list_replaces() -> None:
    mod = PikeModule(None)
    mod.set_param("trusted", "10.0.0.0/8")
    mod.set_param("trusted", "192.0.2.7, 10.0.0.0/8")
    assert mod.settings["trusted"] == ("10.0.0.0/8", "192.0.2.7/32")
    mod.set_param("trusted", ["2001:db8::/32"])
    assert mod.settings["trusted"] == ("2001:db8::/32",)
    assert mod.pike_is_trusted(None, "10.1.1.1") == -1  # type: ignore[arg-type]
    mod.settings = {**mod.settings, "trusted": ("10.0.0.0/8",)}  # as a failed reload restores
    assert mod.pike_is_trusted(None, "10.1.1.1") == 1  # type: ignore[arg-type]


def test_trusted_sources_are_never_counted() -> None:
    mod = PikeModule(None, {"trusted": "10.0.0.0/8,2001:db8::/32", "reqs_density_per_unit": 2})
    mod.clock = Clock()
    assert all(mod.pike_check_ip(None, "10.1.2.3") == 1 for _ in range(1000))  # type: ignore[arg-type]
    assert all(mod.pike_check_ip(None, "2001:db8::5") == 1 for _ in range(1000))  # type: ignore[arg-type]
    assert mod.tree.nodes == 0 and mod.trusted_hits == 2000
    codes = [mod.pike_check_ip(None, "11.1.2.3") for _ in range(10)]  # type: ignore[arg-type]
    assert -2 in codes
    assert mod.pike_is_trusted(None, "10.9.9.9") == 1  # type: ignore[arg-type]
    assert mod.pike_is_trusted(None, "11.9.9.9") == -1  # type: ignore[arg-type]
    assert mod.pike_is_trusted(None, "nope") == -2  # type: ignore[arg-type]


@pytest.mark.parametrize(("param", "value", "message"), [
    ("reqs_density_per_unit", 0, "between 1 and 65535"),
    ("sampling_time_unit", -1, "between 1 and"),
    ("max_nodes", 10, "between 64 and"),
    ("pike_log_level", 9, "between -5 and 3"),
    ("trusted", "10.0.0.0/33", "not an IP address or CIDR"),
])
def test_bad_modparams(param: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PikeModule(None, {param: value})


# ---------------------------------------------------------------- module / RPC


def test_invalid_ip_codes_and_fail_open() -> None:
    mod = PikeModule(None)
    assert mod.pike_check_ip(None, "not-an-ip") == -1  # type: ignore[arg-type]  # as Kamailio
    assert mod.pike_check_ip(None, "") == -1  # type: ignore[arg-type]


def test_rpc_top_stats_and_unblock() -> None:
    clk = Clock()
    mod = PikeModule(None, {"reqs_density_per_unit": 4, "remove_latency": 30})
    mod.clock = clk
    for _ in range(12):
        mod.pike_check_ip(None, "192.0.2.1")  # type: ignore[arg-type]
    mod.pike_check_ip(None, "192.0.2.2")  # type: ignore[arg-type]
    mod.pike_check_ip(None, "192.0.2.2")  # type: ignore[arg-type]
    top = mod.rpc_top()
    assert top["max_hits"] == 4 and top["number_of_rows"] == 1
    assert top["list"][0] == {"ip_addr": "192.0.2.1", "leaf_hits_prev": 0, "leaf_hits_curr": 8,
                              "expires": 30, "status": "HOT", "blocked": True}
    every = mod.rpc_list("all")
    assert [r["ip_addr"] for r in every["list"]] == ["192.0.2.1", "192.0.2.2"]
    # WARM: prefix hits >= x/4 (the leaf inherited them when it was split off).
    assert every["list"][1]["status"] == "WARM"
    assert mod.rpc_top("WARM")["number_of_rows"] == 2  # WARM lists warm and hot addresses
    with pytest.raises(InvalidParams, match="Select: ALL, HOT or WARM"):
        mod.rpc_top("COLD")
    stats = mod.rpc_stats()
    assert stats["blocked"] == 1 and stats["blocked_total"] == 1 and stats["nodes"] == 5
    assert mod.rpc_unblock("192.0.2.1") == {"ip_addr": "192.0.2.1", "was_blocked": True}
    assert mod.pike_check_ip(None, "192.0.2.1") == 1  # type: ignore[arg-type]
    assert mod.rpc_stats()["blocked"] == 0
    with pytest.raises(InvalidParams):
        mod.rpc_unblock("x")


def test_block_and_unblock_are_logged_at_pike_log_level(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    clk = Clock()
    mod = PikeModule(None, {"reqs_density_per_unit": 2, "pike_log_level": -1,
                            "sampling_time_unit": 1})
    mod.clock = clk
    with caplog.at_level(logging.DEBUG, logger="ksrpy.pike"):
        for _ in range(8):
            mod.pike_check_ip(None, "198.51.100.9")  # type: ignore[arg-type]
        clk.now = 2.5
        mod.tick()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [(logging.ERROR, "PIKE - BLOCKing ip 198.51.100.9"),
                     (logging.ERROR, "PIKE - UNBLOCKing ip 198.51.100.9")]


def test_timer_task_expires_nodes_without_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pike_module, "CLEAN_INTERVAL", 0.01)
    clk = Clock()
    mod = PikeModule(None, {"remove_latency": 5})
    mod.clock = clk

    async def scenario() -> int:
        mod.pike_check_ip(None, "192.0.2.1")  # type: ignore[arg-type]
        assert mod._task is not None
        clk.now = 6
        for _ in range(100):
            await asyncio.sleep(0.01)
            if mod.tree.nodes == 0:
                break
        mod.destroy()
        return mod.tree.nodes

    assert asyncio.run(scenario()) == 0
    assert mod._task is None


def test_registered_and_documented() -> None:
    assert AVAILABLE["pike"] == "ksrpy.modules.pike:PikeModule"
    table = PikeModule.export_table()
    assert set(table.functions) == {"pike_check_req", "pike_check_ip", "pike_is_trusted"}
    assert set(table.kemi) == set(table.functions)
    assert set(table.rpcs) == {"pike.top", "pike.list", "pike.stats", "pike.unblock"}


# ------------------------------------------------------------------ cfg / KSR

PIKE_HEADER = HEADER + 'loadmodule "pike.so"\n'


def _pike_engine(tmp_path: Path, body: str, params: str = "") -> tuple[Engine, Clock]:
    engine = _engine(tmp_path, params + body, header=PIKE_HEADER)
    clk = Clock()
    engine.modules["pike"].clock = clk  # type: ignore[attr-defined]
    return engine, clk


def _from(engine: Engine, src: str, extra: str = "") -> str:
    transport = engine.transport
    before = len(transport.sent)  # type: ignore[union-attr]
    raw = ("OPTIONS sip:u@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK1\r\n"
           "From: <sip:a@example.com>;tag=f1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n"
           f"CSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n")
    af = 6 if ":" in src else 4
    engine.handle(raw.encode(), replace(RCV, src_ip=src, af=af))
    sent = transport.sent[before:]  # type: ignore[union-attr]
    assert len(sent) == 1
    reply = SIPMessage.parse(sent[0][3])
    return f"{reply.status} {reply.reason}"


CFG_FLOOD = """\
request_route {
    if (!pike_check_req()) {
        sl_send_reply("503", "flood");
        exit;
    }
    sl_send_reply("200", "OK");
}
"""


def test_cfg_pike_check_req(tmp_path: Path) -> None:
    params = textwrap.dedent("""\
        modparam("pike", "reqs_density_per_unit", 8)
        modparam("pike", "sampling_time_unit", 1)
        modparam("pike", "trusted", "192.0.2.0/24")
        modparam("pike", "trusted", "2001:db8::1")
        """)
    engine, clk = _pike_engine(tmp_path, CFG_FLOOD, params)
    answers = [_from(engine, "10.9.9.9") for _ in range(14)]
    assert answers == ["200 OK"] * 11 + ["503 flood"] * 3  # blocked at max(2, 8/4) + 2 + 8
    assert _request(engine)[0].status == 503  # the helper's source, 10.9.9.9
    assert all(_from(engine, "192.0.2.55") == "200 OK" for _ in range(50))
    assert all(_from(engine, "2001:db8::1") == "200 OK" for _ in range(50))
    assert _from(engine, "2001:db8::2") == "200 OK"
    clk.now = 2.0
    assert _from(engine, "10.9.9.9") == "200 OK"  # two windows later
    assert engine.stats["pike:blocked_ips"] == 1


def test_cfg_pike_check_ip_codes_and_is_trusted(tmp_path: Path) -> None:
    body = """\
    request_route {
        pike_check_ip("$hdr(X-IP)");
        $var(rc) = $rc;
        pike_is_trusted("$hdr(X-IP)");
        sl_send_reply("200", "rc=$var(rc) trusted=$rc");
    }
    """
    params = 'modparam("pike", "reqs_density_per_unit", 2)\nmodparam("pike", "trusted", "::1")\n'
    engine, _ = _pike_engine(tmp_path, body, params)
    answers = [_from(engine, "10.9.9.9", "X-IP: 198.51.100.1\r\n") for _ in range(7)]
    assert answers == ["200 rc=1 trusted=-1"] * 5 + ["200 rc=-2 trusted=-1",
                                                     "200 rc=-1 trusted=-1"]
    assert _from(engine, "10.9.9.9", "X-IP: ::1\r\n") == "200 rc=1 trusted=1"
    assert _from(engine, "10.9.9.9", "X-IP: bogus\r\n") == "200 rc=-1 trusted=-2"


def test_cfg_bad_modparam_points_at_the_line(tmp_path: Path) -> None:
    body = 'modparam("pike", "reqs_density_per_unit", 0)\nrequest_route { exit; }\n'
    with pytest.raises(ScriptLoadError, match=r"test.cfg:7.*between 1 and 65535"):
        _engine(tmp_path, body, header=PIKE_HEADER)


def test_kemi_form() -> None:
    engine = Engine()
    mod = engine.load_module("pike", {"reqs_density_per_unit": 4, "trusted": "10.0.0.0/8"})
    mod.clock = Clock()  # type: ignore[attr-defined]
    engine.attach_transport(CaptureTransport())  # type: ignore[arg-type]
    ksr = build_ksr(engine)
    _ctx(engine)  # from 10.9.9.9: trusted
    assert [ksr.pike.pike_check_req() for _ in range(20)] == [1] * 20
    assert ksr.pike.pike_is_trusted("10.9.9.9") == 1
    codes = [ksr.pike.pike_check_ip("203.0.113.1") for _ in range(9)]
    assert codes == [1] * 7 + [-2, -1]  # blocked at hit max(2, 4/4) + 2 + 4 = 8
    assert ksr.pike.pike_is_trusted("203.0.113.1") == -1


def test_reload_changes_trusted_but_not_the_tree_parameters(tmp_path: Path) -> None:
    path = tmp_path / "pike.cfg"
    base = 'loadmodule "sl.so"\nloadmodule "pike.so"\n'

    def write(params: str) -> None:
        path.write_text(base + params + CFG_FLOOD)

    write('modparam("pike", "trusted", "192.0.2.1")\n')
    engine = Engine()
    engine.attach_transport(CaptureTransport())  # type: ignore[arg-type]
    from ksrpy.script.loader import load_script

    engine.set_routes(load_script(str(path), engine))
    reloader = Reloader(engine, str(path))
    write('modparam("pike", "trusted", "192.0.2.1")\nmodparam("pike", "trusted", "::1")\n')
    result = reloader.reload()
    assert result.ok, result.errors
    assert engine.modules["pike"].settings["trusted"] == ("192.0.2.1/32", "::1/128")
    write('modparam("pike", "trusted", "::1")\n')
    assert reloader.reload().ok
    assert engine.modules["pike"].settings["trusted"] == ("::1/128",)
    assert reloader.reload().ok  # the same file again: nothing accumulates
    assert engine.modules["pike"].settings["trusted"] == ("::1/128",)
    write('modparam("pike", "max_nodes", 5000)\n')
    result = reloader.reload()
    assert not result.ok and "needs a restart" in result.errors[0]
