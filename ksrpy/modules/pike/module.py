"""pike's script functions, parameters, RPC commands and expiry timer."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.ratelog import RateLimitedLog
from ...core.rpc import InvalidParams
from ..exports import ONREPLY_ROUTE, REQUEST_ROUTE, Module, ParamExport, export, rpc
from ..exports import ArgKind as K
from ..xlog import NUMERIC
from .tree import NEW_BLOCK, OK, PikeTree, format_address
from .trusted import TrustedSet, merge, pack, parse_entries

if TYPE_CHECKING:
    from ...core.context import Context

log = logging.getLogger("ksrpy.pike")
#: Unparsable pike_check_ip() arguments: one line per 10 s, with the count suppressed meanwhile.
badlog = RateLimitedLog(log, interval=10.0, max_keys=1)

ROUTES = REQUEST_ROUTE | ONREPLY_ROUTE
#: Kamailio's clean timer runs every second.
CLEAN_INTERVAL = 1.0
#: Expired nodes removed per step of the timer before it yields to the event loop.
SWEEP_CHUNK = 2000
#: modparam -> (lowest, highest) accepted value.
LIMITS = {"sampling_time_unit": (1, 86400), "reqs_density_per_unit": (1, 0xFFFF),
          "remove_latency": (1, 86400 * 7), "max_nodes": (64, 100_000_000),
          "pike_log_level": (min(NUMERIC), max(NUMERIC))}
MODES = ("HOT", "WARM", "ALL")


class PikeModule(Module):
    """Per-source-IP flood detection (Kamailio's pike), plus trusted sources and a node bound."""

    name = "pike"
    kemi_namespace = "pike"
    params = (
        ParamExport("sampling_time_unit", int, 2,
                    "Seconds per sampling window; counters move to the previous slot each unit."),
        ParamExport("reqs_density_per_unit", int, 30,
                    "x: hits per window that block an address (x to ~3x on a cold IPv4 branch)."),
        ParamExport("remove_latency", int, 120,
                    "Seconds an address is kept after its last request (not the ban length)."),
        ParamExport("pike_log_level", int, 0,
                    "Kamailio log level of the BLOCKing/UNBLOCKing lines (0 = L_WARN).",
                    runtime=True),
        ParamExport("trusted", str, (),
                    "ksrpy: IPs/CIDRs never counted (repeatable, comma list; IPv4 and IPv6).",
                    runtime=True),
        ParamExport("max_nodes", int, 100_000,
                    "ksrpy: tree size bound; when full the least recently hit leaf is evicted."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.clock: Callable[[], float] = time.monotonic
        self._tree: PikeTree | None = None
        self._trusted = TrustedSet(())
        self._task: asyncio.Task[None] | None = None
        self.trusted_hits = 0
        super().__init__(engine, settings)

    # --------------------------------------------------------------- parameters

    def set_param(self, key: str, value: Any) -> None:
        """As Module.set_param; ``trusted`` accumulates (a list or tuple replaces it)."""
        if key == "trusted":
            if isinstance(value, list | tuple):
                entries = merge((), [e for item in value for e in parse_entries(str(item))])
            else:
                entries = merge(self.settings.get("trusted", ()), parse_entries(str(value)))
            self.settings["trusted"] = entries
            return
        super().set_param(key, value)
        low, high = LIMITS[key]
        if not low <= self.settings[key] <= high:
            raise ValueError(f"modparam pike.{key} must be between {low} and {high}, "
                             f"got {self.settings[key]}")

    @property
    def tree(self) -> PikeTree:
        """The address tree, created on first use with the current parameters."""
        if self._tree is None:
            s = self.settings
            self._tree = PikeTree(s["reqs_density_per_unit"], s["sampling_time_unit"],
                                  s["remove_latency"], s["max_nodes"], self.clock)
        return self._tree

    def destroy(self) -> None:
        """Stop the expiry timer."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # ---------------------------------------------------------------- functions

    @export("pike_check_req", routes=ROUTES)
    def pike_check_req(self, ctx: Context) -> int:
        """Count the source IP: 1 ok (or trusted, or error), -2 flood detected now, -1 blocked."""
        rcv = ctx.rcv
        addr = pack(rcv.src_ip, rcv.af)
        if addr is None:
            return OK
        return self._check(addr)

    @export("pike_check_ip", ("ip", K.SPVE), routes=ROUTES)
    def pike_check_ip(self, ctx: Context, ip: str) -> int:
        """As pike_check_req() for ``ip`` (IPv4 or IPv6); -1 when it is not an IP address."""
        addr = pack(str(ip))
        if addr is None:
            badlog.error("parse", "pike_check_ip: failed to parse ip address: %r", ip)
            return -1
        return self._check(addr)

    @export("pike_is_trusted", ("ip", K.SPVE))
    def pike_is_trusted(self, ctx: Context, ip: str) -> int:
        """ksrpy: 1 when ``ip`` is in modparam trusted; -1 when not; -2 when not an IP address."""
        addr = pack(str(ip))
        if addr is None:
            return -2
        return 1 if self._trusted_set().contains(addr) else -1

    def _trusted_set(self) -> TrustedSet:
        """The matcher for settings["trusted"] (rebuilt when a reload or restore replaced it)."""
        entries = self.settings["trusted"]
        if self._trusted.entries is not entries:
            self._trusted = TrustedSet(entries)
        return self._trusted

    def _check(self, addr: bytes) -> int:
        trusted = self._trusted_set()
        if trusted and trusted.contains(addr):
            self.trusted_hits += 1
            return OK
        tree = self.tree
        task = self._task
        if task is None or task.done():
            self._start_timer()
        code = tree.hit(addr)
        if code == NEW_BLOCK:
            self._log("PIKE - BLOCKing ip %s", format_address(addr))
            stats = getattr(self.engine, "stats", None)
            if stats is not None:
                stats["pike:blocked_ips"] += 1
        if tree.unblocked:
            self._log_unblocked(tree)
        return code

    def _log(self, fmt: str, *args: Any) -> None:
        log.log(NUMERIC.get(self.settings["pike_log_level"], logging.WARNING), fmt, *args)

    def _log_unblocked(self, tree: PikeTree) -> None:
        for addr in tree.unblocked:
            self._log("PIKE - UNBLOCKing ip %s", format_address(addr))
        tree.unblocked.clear()

    # -------------------------------------------------------------------- timer

    def _start_timer(self) -> None:
        """Start the periodic clean/unblock task when an event loop runs (else: sweep on hits)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._timer(), name="pike-timer")

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(CLEAN_INTERVAL)
            try:
                while self.tick() >= SWEEP_CHUNK:
                    await asyncio.sleep(0)
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("pike timer failed")

    def tick(self) -> int:
        """One clean-timer run: bring red nodes up to date (logging unblocks), expire a chunk."""
        tree = self.tree
        tree.refresh()
        if tree.unblocked:
            self._log_unblocked(tree)
        return tree.expire(SWEEP_CHUNK)

    # ---------------------------------------------------------------------- RPC

    @rpc("pike.top")
    def rpc_top(self, mode: str = "HOT") -> dict[str, Any]:
        """Addresses in the tree: [HOT|WARM|ALL] (default HOT), most hits first."""
        wanted = str(mode).upper()
        if wanted not in MODES:
            raise InvalidParams("Bad argument. Select: ALL, HOT or WARM", {"mode": mode})
        tree = self.tree
        now = tree.clock()
        rows = []
        for node in tree.leaves():
            status = tree.status(node)
            if wanted == "HOT" and status != "HOT" or wanted == "WARM" and not status:
                continue
            rows.append((node.leaf_prev + node.leaf_curr, node.hits_prev + node.hits_curr, {
                "ip_addr": format_address(node.address()),
                "leaf_hits_prev": node.leaf_prev, "leaf_hits_curr": node.leaf_curr,
                "expires": max(0, math.ceil(node.expires - now)),
                "status": status, "blocked": node.red}))
        if tree.unblocked:
            self._log_unblocked(tree)
        rows.sort(key=lambda r: (-r[0], -r[1], r[2]["ip_addr"]))
        return {"max_hits": tree.max_hits, "list": [r[2] for r in rows],
                "number_of_rows": len(rows)}

    @rpc("pike.list")
    def rpc_list(self, mode: str = "HOT") -> dict[str, Any]:
        """Alias of pike.top."""
        return self.rpc_top(mode)

    @rpc("pike.stats")
    def rpc_stats(self) -> dict[str, Any]:
        """Tree size and bound, addresses blocked now and in total, expiries, evictions."""
        tree = self.tree
        tree.refresh()
        if tree.unblocked:
            self._log_unblocked(tree)
        return {"nodes": tree.nodes, "max_nodes": tree.max_nodes, "blocked": len(tree.reds),
                "blocked_total": tree.blocked_total, "expired": tree.expired,
                "evicted": tree.evicted, "trusted": list(self.settings["trusted"]),
                "trusted_hits": self.trusted_hits}

    @rpc("pike.unblock")
    def rpc_unblock(self, ip: str) -> dict[str, Any]:
        """ksrpy: clear the leaf hits and the block of one address."""
        addr = pack(str(ip))
        if addr is None:
            raise InvalidParams(f"{ip!r} is not an IP address", {"ip": ip})
        was = self.tree.unblock(addr)
        if was:
            self._log("PIKE - UNBLOCKing ip %s (pike.unblock)", format_address(addr))
        return {"ip_addr": format_address(addr), "was_blocked": was}
