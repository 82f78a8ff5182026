"""tm: the stateful proxy on top of the sans-IO transaction layer (ksrpy/sip/transaction).

The engine gives tm every request first (``absorb``: retransmissions and
ACKs of negative replies end here) and every reply (``on_reply``). The
script creates transactions with t_relay/t_newtran; branches are client
transactions; one asyncio timer drives retransmissions, fr_timer,
fr_inv_timer and the transaction lifetimes. The script functions are in
functions.py; this file is the proxy core (branches, replies, routes).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import heapq
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.context import Context, ScriptExit
from ...core.forward import BRANCH_COOKIE, ForwardError, outgoing_request
from ...sip.errors import SIPError
from ...sip.reply import build_reply, stateless_to_tag
from ...sip.transaction import (
    PassUp,
    Send,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionTable,
    TransactionUsageError,
    TransportError,
    build_cancel,
)
from ...sip.transaction.table import Created
from ..exports import Module, ParamExport, RouteType
from .functions import TmFunctions
from .proxy import Branch, ProxyTransaction

if TYPE_CHECKING:
    from ...core.engine import Engine
    from ...sip.message import SIPMessage

log = logging.getLogger("ksrpy.tm")

#: How often branch timers (fr_timer, fr_inv_timer) are checked at most.
TICK = 0.1

FinalCallback = Callable[[Context, int, str, "SIPMessage | None"], None]
RequestCallback = Callable[[Context, str], None]

#: failure_reply_mode -> which earlier replies a new serial-forking leg drops.
_DROP_BY_MODE = {0: "n", 1: "a", 2: "l", 3: "a"}
#: t_on_* route kind -> Routes table kind.
ROUTE_KINDS = {"failure_route": "failure", "onreply_route": "onreply",
               "branch_route": "branch", "branch_failure_route": "branch_failure"}


class TmModule(TmFunctions, Module):
    """Stateful forwarding: transactions, branches, failure/onreply/branch routes, CANCEL, timers.

    Callbacks for other modules (acc, dialog-like accounting):

    ``add_final_callback(cb)``: ``cb(ctx, status, reason, reply)`` runs once per
    transaction when its final reply (>= 200) goes upstream, relayed or locally
    generated (t_reply, 408 on fr_timer, 503 when no branch could be sent,
    487 ...). ``ctx`` is the request's context (flags as the script left them,
    failure_route included); ``reply`` is the relayed SIPMessage, None for a
    locally generated reply.

    ``add_request_callback(cb)``: ``cb(ctx, kind)`` with kind ``"ack"`` when the
    script relays an ACK (stateless: the ACK of a 2xx, those of negative replies
    are absorbed by tm and never reach the script; ``ctx.extra["tm_invite"]``
    is the INVITE's ProxyTransaction when it is still known) and ``"cancel"``
    when a CANCEL matched a transaction (``ctx`` is the CANCEL's,
    ``ctx.extra["tm_invite"]`` the canceled ProxyTransaction).

    An exception in a callback is logged and never propagates.
    """

    name = "tm"
    kemi_namespace = "tm"
    params = (
        ParamExport("fr_timer", int, 30000, "ms to wait for a final reply (or a first "
                                            "provisional one for INVITE) from a branch.",
                    runtime=True),
        ParamExport("fr_inv_timer", int, 120000, "ms to wait for a final INVITE reply after "
                                                 "a provisional one.", runtime=True),
        ParamExport("max_inv_lifetime", int, 180000, "ms an INVITE transaction may stay active."),
        ParamExport("max_noninv_lifetime", int, 32000, "ms a non-INVITE transaction may stay "
                                                       "active."),
        ParamExport("wt_timer", int, 5000, "ms a completed transaction absorbs late messages: "
                                           "T4 (timers I, K) and the cap of D, J, L, M."),
        ParamExport("rfc_wait_timers", int, 0, "ksrpy: 1 keeps completed transactions the "
                                               "RFC's 64*T1 (timers D, J, L, M) instead of "
                                               "wt_timer."),
        ParamExport("auto_inv_100", int, 1, "Send 100 Trying for INVITE at once."),
        ParamExport("auto_inv_100_reason", str, "trying -- your call is important to us",
                    "Reason phrase of the automatic 100."),
        ParamExport("retr_timer1", int, 500, "T1 in ms (RFC 3261 retransmissions)."),
        ParamExport("retr_timer2", int, 4000, "T2 in ms."),
        ParamExport("max_transactions", int, 20000, "Live transactions at most (then 503)."),
        ParamExport("restart_fr_on_each_reply", int, 1, "Every provisional reply restarts "
                                                        "fr_inv_timer (0: only the first and "
                                                        "increasing ones >= 180).",
                    runtime=True),
        ParamExport("failure_reply_mode", int, 3, "Replies of earlier serial-forking legs "
                                                  "kept (0), dropped (1, 3) or only the last "
                                                  "leg's dropped (2).", runtime=True),
        ParamExport("aggregate_challenges", int, 1, "Merge the challenges of every 401/407 "
                                                    "branch into the final reply.",
                    runtime=True),
        ParamExport("unix_tx_timeout", int, 500, "Accepted; no effect (no UNIX sockets)."),
        ParamExport("contacts_avp", str, "", "Accepted for compatibility."),
        ParamExport("contact_flows_avp", str, "", "Accepted for compatibility."),
    )

    #: t_on_* functions whose constant argument must name an existing block (cfg compiler).
    route_name_args = {
        "t_on_failure": ("failure_route",),
        "t_on_reply": ("onreply_route",),
        "t_on_branch": ("branch_route",),
        "t_on_branch_failure": ("event_route:tm:branch-failure:", "branch_failure_route"),
    }

    def __init__(self, engine: Engine, settings: dict[str, Any] | None = None) -> None:
        self.transactions: TransactionTable | None = None
        self.by_server: dict[Any, ProxyTransaction] = {}
        self.by_client: dict[Any, tuple[ProxyTransaction, Branch]] = {}
        #: t_replicate copies: client transaction -> its target (replies are absorbed).
        self.replicas: dict[Any, str] = {}
        #: INVITEs answered 2xx by (Call-ID, CSeq number, From tag): end-to-end ACK matching.
        self.by_dialog: dict[tuple[str, int, str], ProxyTransaction] = {}
        self._timer: asyncio.Task[None] | None = None
        #: fr_timer/fr_inv_timer and lifetime alarms: (when, seq, alarm), canceled lazily.
        self._alarms: list[tuple[float, int, _Alarm]] = []
        self._alarm_seq = itertools.count()
        self._reply_ctx: Context | None = None
        #: The clock every deadline is computed from (tests inject their own).
        self.clock: Callable[[], float] = time.monotonic
        self._final_callbacks: list[FinalCallback] = []
        self._request_callbacks: list[RequestCallback] = []
        self._missing_routes: set[tuple[str, str]] = set()
        super().__init__(engine, settings)

    # --------------------------------------------------------------- callbacks

    def add_final_callback(self, cb: FinalCallback) -> None:
        """Call ``cb(ctx, status, reason, reply)`` once per transaction at its final reply."""
        self._final_callbacks.append(cb)

    def add_request_callback(self, cb: RequestCallback) -> None:
        """Call ``cb(ctx, kind)`` for a relayed ACK ("ack") and a matched CANCEL ("cancel")."""
        self._request_callbacks.append(cb)

    def _final_out(self, proxy: ProxyTransaction, status: int, reason: str,
                   reply: SIPMessage | None) -> None:
        """The final reply went upstream: run the final callbacks once."""
        if proxy.final_notified:
            return
        proxy.final_notified = True
        for cb in list(self._final_callbacks):
            try:
                cb(proxy.ctx, status, reason, reply)
            except Exception:  # noqa: BLE001 - a callback must not break the proxy
                log.exception("tm final-reply callback %r failed", cb)

    def notify_request(self, ctx: Context, kind: str) -> None:
        """Run the request callbacks (``kind``: "ack" or "cancel")."""
        for cb in list(self._request_callbacks):
            try:
                cb(ctx, kind)
            except Exception:  # noqa: BLE001 - a callback must not break the proxy
                log.exception("tm request callback %r failed", cb)

    # ------------------------------------------------------------------ set-up

    def init(self) -> None:
        """Create the transaction table and hook into the engine."""
        s = self.settings
        for name in ("fr_timer", "fr_inv_timer", "max_inv_lifetime", "max_noninv_lifetime",
                     "wt_timer", "retr_timer1", "retr_timer2", "max_transactions"):
            if s[name] <= 0:
                raise ValueError(f"modparam tm.{name} must be > 0, got {s[name]}")
        fr = s["fr_timer"] / 1000
        # The transaction layer's own lifetimes outlive tm's (which answer 408 first):
        # Kamailio keeps a transaction at most max_*_lifetime + fr_timer + wt_timer.
        timers = TimerConfig(t1=s["retr_timer1"] / 1000, t2=s["retr_timer2"] / 1000,
                             t4=s["wt_timer"] / 1000,
                             invite_lifetime=s["max_inv_lifetime"] / 1000 + fr,
                             non_invite_lifetime=s["max_noninv_lifetime"] / 1000 + fr,
                             client_timeout=max(64 * s["retr_timer1"] / 1000, fr + 1),
                             completed_wait=None if s["rfc_wait_timers"] else
                             s["wt_timer"] / 1000)
        self.transactions = TransactionTable(max_transactions=s["max_transactions"],
                                             timers=timers)
        self.engine.tm = self

    def destroy(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()

    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._timer = loop.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            deadlines = [d for d in (self.transactions.next_deadline() if self.transactions
                                     else None, self.next_alarm()) if d is not None]
            wait = TICK if not deadlines else max(0.0, min(TICK, min(deadlines) - self.clock()))
            await asyncio.sleep(wait)
            try:
                self.on_timer(self.clock())
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("tm timer")

    def on_timer(self, now: float) -> None:
        """Fire transaction timers, then the due fr_timer/fr_inv_timer and lifetime alarms.

        Alarms sit in one heap, so a wake-up costs what is due, not a walk over
        every live transaction.
        """
        assert self.transactions is not None
        self._emit(self.transactions.on_timer(now), now)
        heap = self._alarms
        while heap and heap[0][0] <= now:
            alarm = heapq.heappop(heap)[2]
            proxy, branch = alarm.proxy, alarm.branch
            if proxy is None:
                continue  # canceled: re-armed, answered, or the transaction ended
            alarm.proxy = None
            if branch is None:
                if not proxy.expired and self.by_server.get(proxy.server) is proxy:
                    proxy.expired = True
                    for pending in proxy.pending():
                        self._set_alarm(proxy, pending, now)
            elif not branch.done and branch.deadline and now >= branch.deadline:
                self._branch_timeout(proxy, branch, now)

    def next_alarm(self) -> float | None:
        """The earliest live fr/lifetime alarm (canceled ones are dropped on the way)."""
        heap = self._alarms
        while heap and heap[0][2].proxy is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _set_alarm(self, proxy: ProxyTransaction, branch: Branch | None, when: float) -> None:
        """Set a branch's fr deadline (or, with no branch, the proxy's lifetime) to ``when``."""
        holder: Any = branch if branch is not None else proxy
        old = holder.alarm
        if old is not None:
            old.proxy = None
        alarm = _Alarm(proxy, branch)
        holder.alarm = alarm
        if branch is not None:
            branch.deadline = when
        heapq.heappush(self._alarms, (when, next(self._alarm_seq), alarm))
        if len(self._alarms) > 2 * (len(self.by_server) + len(self.by_client)) + 256:
            self._alarms = [e for e in self._alarms if e[2].proxy is not None]
            heapq.heapify(self._alarms)

    @staticmethod
    def _disarm(holder: Any) -> None:
        """Cancel a branch's or a proxy's pending alarm (it keeps nothing alive afterwards)."""
        alarm = holder.alarm
        if alarm is not None:
            alarm.proxy = alarm.branch = None
            holder.alarm = None

    def live(self) -> int:
        """Live transactions (server and client) in the table."""
        return len(self.transactions) if self.transactions is not None else 0

    # ------------------------------------------------------------- engine hooks

    def absorb(self, ctx: Context) -> bool:
        """True when a request belonged to a transaction (retransmission, ACK of a 3xx-6xx)."""
        if self.transactions is None:
            return False
        now = self.clock()
        try:
            matched = self.transactions.receive_request(ctx.msg, now)
        except (SIPError, TransactionUsageError):
            return False
        if matched is None:
            if ctx.msg.method == "ACK":
                self._match_e2e_ack(ctx)
            return False
        events = matched.events
        if ctx.msg.method == "ACK" and any(isinstance(e, PassUp) for e in events):
            # The ACK of a 2xx is end to end: the script routes it on (RFC 3261 §16.11).
            proxy = self.by_server.get(matched.transaction)
            if proxy is not None:
                ctx.extra["tm_invite"] = proxy
            self._emit([e for e in events if not isinstance(e, PassUp)], now)
            return False
        self._emit(events, now)
        return True

    def _match_e2e_ack(self, ctx: Context) -> None:
        """An ACK with a new branch (the ACK of a 2xx): find its INVITE by dialog."""
        try:
            key = _dialog_key(ctx.msg)
        except SIPError:
            return
        proxy = self.by_dialog.get(key)
        if proxy is not None:
            ctx.extra["tm_invite"] = proxy

    def on_reply(self, ctx: Context) -> bool:
        """True when a reply matched one of our branches (it is handled here)."""
        if self.transactions is None:
            return False
        now = self.clock()
        try:
            matched = self.transactions.receive_response(ctx.msg, now)
        except (SIPError, TransactionUsageError):
            return False
        if matched is None:
            return False
        self._reply_ctx = ctx
        try:
            self._emit(matched.events, now)
        finally:
            self._reply_ctx = None
        return True

    # ------------------------------------------------------------------ events

    def _emit(self, events: Any, now: float) -> None:
        for event in events:
            if isinstance(event, Send):
                proto, ip, port, conn_id, no_connect, local = event.destination
                if not self.engine.send(proto, ip, port, event.data, conn_id=conn_id,
                                        no_connect=no_connect, local=local):
                    self._emit(event.transaction.transport_error(now), now)
            elif isinstance(event, PassUp):
                found = self.by_client.get(event.transaction)
                if found is not None:
                    self._branch_reply(found[0], found[1], event.message, now)
            elif isinstance(event, Timeout):
                found = self.by_client.get(event.transaction)
                if found is not None and not found[1].done:
                    self._branch_timeout(found[0], found[1], now)
            elif isinstance(event, TransportError):
                found = self.by_client.get(event.transaction)
                if found is not None and not found[1].done:
                    self._branch_final(found[0], found[1], 503, None, now)
            elif isinstance(event, Terminated):
                self._forget(event.transaction)

    def _forget(self, tx: Any) -> None:
        """A transaction ended: drop tm's references to it (and its alarms)."""
        found = self.by_client.pop(tx, None)
        if found is not None:
            self._disarm(found[1])
        self.replicas.pop(tx, None)
        proxy = self.by_server.pop(tx, None)
        if proxy is not None:
            self._disarm(proxy)
            # The request's context and its proxy point at each other: break the cycle
            # so the call's objects go when their last user does (reference counting),
            # not in a multi-second full garbage collection under load.
            if proxy.ctx.extra.get("tm") is proxy:
                del proxy.ctx.extra["tm"]
        if proxy is not None and proxy.dialog_key is not None:
            if self.by_dialog.get(proxy.dialog_key) is proxy:
                del self.by_dialog[proxy.dialog_key]

    # ------------------------------------------------------------ transactions

    def _proxy(self, ctx: Context, create: bool = True,
               room: int = 1) -> ProxyTransaction | None:
        """The request's transaction, created when needed with ``room`` free table slots.

        t_relay asks for two (the server and its first branch): a server that could
        not get a branch would hold a slot for nothing until its timers end.
        """
        proxy: ProxyTransaction | None = ctx.extra.get("tm")
        if proxy is not None or not create:
            return proxy
        assert self.transactions is not None
        if ctx.msg.method == "ACK":
            return None
        table = self.transactions
        if len(table) + room > table.max_transactions:
            return self._refuse(ctx, f"transaction table full ({table.max_transactions} "
                                     "transactions)", 503)
        self._ensure_timer()
        msg, rcv = ctx.msg, ctx.rcv
        from ...core.engine import reply_destination

        ip, port = reply_destination(ctx, bool(ctx.extra.get("force_rport")))
        destination = (rcv.proto, ip, port, rcv.conn_id, ctx.reply_no_connect,
                       self.engine.local_spec(rcv))
        now = self.clock()
        auto_100 = ctx.extra.pop("tm_auto_inv_100", None)
        if auto_100 is None:
            auto_100 = bool(self.settings["auto_inv_100"])
        try:
            made = self.transactions.add_server(
                msg, now, destination, reliable=rcv.proto != "udp",
                auto_100=bool(auto_100) and msg.method == "INVITE",
                source=(rcv.src_ip, rcv.src_port),
                trying_reason=self.settings["auto_inv_100_reason"] or None)
        except (SIPError, TransactionUsageError) as exc:
            log.warning("cannot create a transaction for %s from %s:%d: %s", msg.method,
                        rcv.src_ip, rcv.src_port, exc)
            return None
        if not isinstance(made, Created):
            return self._refuse(ctx, made.reason, made.status)
        lifetime = self.settings["max_inv_lifetime" if msg.method == "INVITE"
                                 else "max_noninv_lifetime"] / 1000
        proxy = ProxyTransaction(made.transaction, ctx, created=now,  # type: ignore[arg-type]
                                 lifetime=lifetime)
        ctx.extra["tm"] = proxy
        for attr in ("failure_route", "onreply_route", "branch_route", "branch_failure_route"):
            armed = ctx.extra.pop(f"tm_{attr}", None)
            if armed:
                setattr(proxy, attr, armed)
        fr = ctx.extra.pop("tm_fr", None)
        if fr is not None:
            proxy.fr_inv_timer, proxy.fr_timer = fr
        self.by_server[made.transaction] = proxy
        self._set_alarm(proxy, None, now + lifetime)
        self._emit(made.events, now)
        return proxy

    def _refuse(self, ctx: Context, reason: str, status: int) -> None:
        """No room for a transaction: log (rate-limited) and make sure a 503 goes back."""
        rcv = ctx.rcv
        self.engine.stats["tm_refused"] += 1
        self.engine.badlog.warning(
            "tm-full", "cannot create a transaction for %s from %s:%d: %s; answering %d",
            ctx.msg.method, rcv.src_ip, rcv.src_port, reason, status)
        # sl_reply_error() sends it; else the engine does when the script ends unanswered.
        ctx.extra["last_error"] = (status, "Service Unavailable")
        ctx.extra["tm_refused"] = status

    def fr_timer(self, proxy: ProxyTransaction) -> float:
        """This transaction's fr_timer in seconds."""
        if proxy.fr_timer is not None:
            return proxy.fr_timer
        return float(self.settings["fr_timer"]) / 1000

    def fr_inv_timer(self, proxy: ProxyTransaction) -> float:
        """This transaction's fr_inv_timer in seconds."""
        if proxy.fr_inv_timer is not None:
            return proxy.fr_inv_timer
        return float(self.settings["fr_inv_timer"]) / 1000

    def set_fr(self, proxy: ProxyTransaction, fr_inv: float | None, fr: float | None) -> None:
        """t_set_fr / t_reset_fr on a live transaction: pending branches restart with the new value.

        As Kamailio's change_fr: a branch that had a provisional reply of an
        INVITE takes fr_inv, the others fr; the new deadline counts from now.
        """
        proxy.fr_inv_timer, proxy.fr_timer = fr_inv, fr
        now = self.clock()
        for branch in proxy.pending():
            if branch.timed_out:
                continue
            if proxy.method == "INVITE" and branch.status >= 100:
                self._set_alarm(proxy, branch, now + self.fr_inv_timer(proxy))
            else:
                self._set_alarm(proxy, branch, now + self.fr_timer(proxy))

    def _save(self, proxy: ProxyTransaction) -> None:
        """Save message edits, R-URI and $du: failure_route starts from them (t_save_lumps)."""
        ctx = proxy.ctx
        proxy.saved = (ctx.msg.edit_snapshot(), ctx.new_ruri, ctx.dst_uri)

    def _restore(self, proxy: ProxyTransaction) -> None:
        """Back to what was saved at relay time (failure_route, branch-failure route)."""
        if proxy.saved is None:
            return
        ctx = proxy.ctx
        edits, ctx.new_ruri, ctx.dst_uri = proxy.saved
        ctx.msg.restore_edits(edits)  # later edits are lost, as t_save_lumps
        ctx.extra.pop("branches", None)

    def relay(self, ctx: Context, target: str | None = None) -> int:
        """Create the transaction (once) and one branch per destination; 1 when any left."""
        method = ctx.msg.method
        if method == "ACK":
            # No transaction for an ACK: the ACK of a 2xx is relayed statelessly (RFC 3261 §16.11).
            return 1 if self.engine.forward_request(ctx, target) else -1
        if method == "CANCEL" and ctx.extra.get("tm") is None:
            found = self._cancel_target(ctx)
            if found is not None:
                return self._e2e_cancel(ctx, found)
        proxy = self._proxy(ctx, room=2)
        if proxy is None:
            return -1
        if proxy.final_sent:
            log.warning("t_relay: transaction already answered")
            return -1
        if proxy.canceled:
            log.info("t_relay: transaction canceled, no new branch")
            return -1
        if proxy.saved is None:
            self._save(proxy)
        targets = [(ctx.ruri, target or ctx.dst_uri or ctx.ruri, int(ctx.extra.get("bflags", 0)))]
        for extra in ctx.extra.pop("branches", None) or ():
            targets.append((extra.get("uri") or ctx.ruri,
                            extra.get("dst_uri") or extra.get("uri") or ctx.ruri,
                            int(extra.get("flags") or 0)))
        created = 0
        ctx.extra.pop("tm_branch_error", None)
        for ruri, dst, bflags in targets:
            created += self._add_branch(proxy, ruri, dst, bflags)
        if not created:
            code, reason = ctx.extra.pop("tm_branch_error", None) or (500, "Unable to forward")
            ctx.extra["last_error"] = (code, reason)
            if not proxy.branches and not proxy.in_failure:
                # Kamailio's kill_transaction: the transaction answers the error itself
                # (else retransmissions would only ever see the 100 Trying).
                self._reply(proxy, code, reason, self.clock())
            return -1
        ctx.forwarded = True
        return 1

    def _add_branch(self, proxy: ProxyTransaction, ruri: str, dst: str, bflags: int = 0) -> bool:
        """Run branch_route on this branch's copy, then send it in a client transaction.

        ``bflags`` are the branch's flags ($bf): branch_route sees and may change them,
        and the branch keeps them for its onreply_route and failure_route.
        """
        assert self.transactions is not None
        ctx = proxy.ctx
        msg, rcv, now = ctx.msg, ctx.rcv, self.clock()
        index = len(proxy.branches)
        saved = (ctx.new_ruri, ctx.dst_uri, ctx.route_type, ctx.drop)
        # A branch_route may change anything in ctx.extra (a costly copy, so only then);
        # without one only $bf changes here.
        extra_before = _snapshot_extra(ctx) if proxy.branch_route else None
        bflags_before = ctx.extra.get("bflags")
        try:
            with msg.temporary_edits():
                ctx.new_ruri = ruri if ruri != msg.ruri else None
                ctx.dst_uri = dst if dst != ruri else None
                ctx.extra["bflags"] = bflags
                if proxy.branch_route:
                    ctx.extra["t_branch_idx"] = index
                    self._run(proxy.branch_route, "branch_route", ctx, RouteType.BRANCH)
                    if ctx.drop:
                        log.debug("branch %d to %s dropped in branch_route", index, ruri)
                        return False
                ruri, target = ctx.ruri, ctx.dst_uri or ctx.ruri
                bflags = int(ctx.extra.get("bflags", 0))
                try:
                    hop, local = self.engine.outbound(target, rcv)
                except ForwardError as exc:
                    log.warning("cannot relay to %s: %s", target, exc)
                    return False
                data = outgoing_request(ctx, local, ruri, BRANCH_COOKIE + os.urandom(8).hex())
        finally:
            ctx.new_ruri, ctx.dst_uri, ctx.route_type, ctx.drop = saved
            if extra_before is not None:
                _restore_extra(ctx, extra_before)  # t_branch_idx and $bf included
            elif bflags_before is None:
                ctx.extra.pop("bflags", None)
            else:
                ctx.extra["bflags"] = bflags_before
        destination = (hop.proto, hop.ip, hop.port, None, ctx.forward_no_connect, local)
        try:
            made = self.transactions.add_client(data, now, destination,
                                                reliable=hop.proto != "udp")
        except (SIPError, TransactionUsageError) as exc:
            log.warning("cannot create a branch to %s: %s", target, exc)
            return False
        if not isinstance(made, Created):
            self.engine.badlog.warning("tm-full", "cannot create a branch to %s: %s",
                                       target, made.reason)
            ctx.extra["tm_branch_error"] = (made.status, "Service Unavailable")
            return False
        branch = Branch(index, ruri, target, made.transaction,  # type: ignore[arg-type]
                        leg=proxy.leg, started=now,
                        bflags=bflags)
        proxy.branches.append(branch)
        self.by_client[made.transaction] = (proxy, branch)
        self._set_alarm(proxy, branch, now + self.fr_timer(proxy))
        self._emit(made.events, now)
        return True

    def replicate(self, ctx: Context, target: str | None) -> int:
        """t_replicate: a copy of the request in its own client transaction; replies absorbed."""
        assert self.transactions is not None
        if ctx.msg.method in ("ACK", "CANCEL"):
            log.warning("t_replicate: a %s cannot be replicated statefully", ctx.msg.method)
            return -1
        self._ensure_timer()
        rcv, now = ctx.rcv, self.clock()
        target = target or ctx.dst_uri or ctx.ruri
        try:
            hop, local = self.engine.outbound(target, rcv)
        except ForwardError as exc:
            log.warning("t_replicate: cannot send to %s: %s", target, exc)
            return -1
        data = outgoing_request(ctx, local, ctx.ruri, BRANCH_COOKIE + os.urandom(8).hex())
        destination = (hop.proto, hop.ip, hop.port, None, ctx.forward_no_connect, local)
        try:
            made = self.transactions.add_client(data, now, destination,
                                                reliable=hop.proto != "udp")
        except (SIPError, TransactionUsageError) as exc:
            log.warning("t_replicate to %s: %s", target, exc)
            return -1
        if not isinstance(made, Created):
            self.engine.badlog.warning("tm-full", "t_replicate to %s: %s", target, made.reason)
            return -1
        self.replicas[made.transaction] = target
        self._emit(made.events, now)
        return 1

    # ----------------------------------------------------------------- replies

    def reply(self, ctx: Context, code: int, reason: str,
              headers: tuple[str, ...] | list[str] = ()) -> int:
        """Send a reply through the request's transaction (created if needed).

        ``headers`` are added to this reply only (an auth challenge), after the
        append_to_reply ones.
        """
        proxy = self._proxy(ctx)
        if proxy is None:
            return -1
        return self._reply(proxy, code, reason, self.clock(), headers)

    def _reply(self, proxy: ProxyTransaction, code: int, reason: str, now: float,
               extra: tuple[str, ...] | list[str] = ()) -> int:
        """A locally generated reply: append_to_reply headers, ``extra``, set_reply_body body."""
        ctx = proxy.ctx
        if not 100 <= code <= 699:
            log.warning("t_reply: code %d is outside 100-699", code)
            return -1
        if not proxy.server.can_send(code):
            return -1
        headers = [*ctx.reply_lumps, *extra]
        if 300 <= code < 400:
            headers += _redirect_contacts(ctx)
        body, ctype = ctx.extra.get("reply_body") or (b"", None)
        data = build_reply(ctx.msg, code, reason, src_ip=ctx.rcv.src_ip,
                           src_port=ctx.rcv.src_port, to_tag=stateless_to_tag(ctx.msg),
                           force_rport=bool(ctx.extra.get("force_rport")),
                           headers=headers, body=body, content_type=ctype,
                           server_header=self.engine.config.server_header_line)
        self._emit(proxy.server.send_response(data, now), now)
        proxy.last_status = code
        self.engine.stats["tm_local_replies"] += 1
        if code >= 200:
            proxy.final_sent = True
            self._final_out(proxy, code, reason, None)
        ctx.replied = True
        return 1

    def _relay_reply(self, proxy: ProxyTransaction, msg: SIPMessage, now: float) -> None:
        if not proxy.server.can_send(msg.status):
            return
        msg.remove_top_via()
        if 200 <= msg.status < 300 and proxy.method == "INVITE" and proxy.dialog_key is None:
            try:
                proxy.dialog_key = _dialog_key(proxy.ctx.msg)
                self.by_dialog[proxy.dialog_key] = proxy
            except SIPError:
                pass
        self._emit(proxy.server.send_response(msg.to_bytes(), now), now)
        proxy.last_status = msg.status
        if msg.status >= 200:
            proxy.final_sent = True
            self._final_out(proxy, msg.status, msg.reason, msg)

    def _branch_reply(self, proxy: ProxyTransaction, branch: Branch, msg: SIPMessage,
                      now: float) -> None:
        status = msg.status
        if branch.done:
            # A late reply (the branch timed out or was answered for): 2xx still go up.
            if 200 <= status < 300 and proxy.method == "INVITE":
                self._relay_reply(proxy, msg, now)
            return
        replied_before = branch.replies > 0
        branch.replies += 1
        if status < 200 and proxy.method == "INVITE":
            # fr_inv_timer: restarted by every provisional reply, or only by the first one and
            # by increasing ones >= 180 when restart_fr_on_each_reply is 0.
            if (self.settings["restart_fr_on_each_reply"] or branch.status < 100
                    or (status >= 180 and status > branch.status)):
                self._set_alarm(proxy, branch, now + self.fr_inv_timer(proxy))
        branch.status = max(branch.status, status)
        if proxy.onreply_route and not self._run_onreply(proxy, msg, branch):
            return
        if status < 200:
            if branch.canceled:
                self._send_cancel(branch, now)
            if status > 100 and not proxy.final_sent:
                self._relay_reply(proxy, msg, now)
            return
        if status < 300:
            branch.final, branch.final_status = msg, status
            branch.replied_before_final = replied_before
            self._relay_reply(proxy, msg, now)
            if proxy.method == "INVITE":
                for other in proxy.pending():
                    self._cancel_branch(other, now)
            return
        branch.replied_before_final = replied_before
        self._branch_failed(proxy, branch, status, msg, now)

    def _run_onreply(self, proxy: ProxyTransaction, msg: SIPMessage, branch: Branch) -> bool:
        """onreply_route[X]; False when it dropped the reply."""
        rctx = self._reply_ctx or Context(self.engine, msg, proxy.ctx.rcv)
        rctx.extra["t_branch_idx"] = branch.index
        rctx.extra["t_reply_code"] = msg.status
        rctx.extra["tm"] = proxy
        rctx.extra["tm_current"] = branch
        # As Kamailio: the transaction's flags and the branch's flags are in hand, and
        # what the route sets is kept for later routes of this transaction.
        rctx.flags = proxy.ctx.flags
        rctx.extra["bflags"] = branch.bflags
        self._run(str(proxy.onreply_route), "onreply_route", rctx, RouteType.ONREPLY)
        proxy.ctx.flags = rctx.flags
        branch.bflags = int(rctx.extra.get("bflags", 0))
        return not rctx.drop

    def _branch_failed(self, proxy: ProxyTransaction, branch: Branch, status: int,
                       msg: SIPMessage | None, now: float) -> None:
        """A negative final (or a timeout): branch-failure route, then maybe complete."""
        branch.final, branch.final_status = msg, status
        if proxy.branch_failure_route and not proxy.final_sent:
            ctx = proxy.ctx
            saved = (ctx.extra.get("t_reply_code"), ctx.extra.get("tm_best"))
            ctx.extra["t_reply_code"], ctx.extra["tm_best"] = status, branch
            ctx.extra["tm_reply"] = msg
            ctx.extra["t_branch_idx"] = branch.index
            self._restore(proxy)
            ctx.extra["bflags"] = branch.bflags
            proxy.in_failure = True
            proxy.leg += 1
            try:
                self._run(proxy.branch_failure_route, "branch_failure_route", ctx,
                          RouteType.BRANCH_FAILURE)
            finally:
                proxy.in_failure = False
                ctx.extra["t_reply_code"], ctx.extra["tm_best"] = saved
                ctx.extra.pop("tm_reply", None)
        self._maybe_complete(proxy, now)

    def _branch_final(self, proxy: ProxyTransaction, branch: Branch, status: int,
                      msg: SIPMessage | None, now: float) -> None:
        branch.replied_before_final = branch.replies > 0
        self._branch_failed(proxy, branch, status, msg, now)

    def _branch_timeout(self, proxy: ProxyTransaction, branch: Branch, now: float) -> None:
        if branch.done:
            return
        branch.timed_out = True
        branch.deadline = 0.0
        self._disarm(branch)
        if proxy.method == "INVITE" and branch.status >= 100:
            self._cancel_branch(branch, now)
        # A canceled INVITE whose branch never answered ends with 487, as Kamailio does.
        status = 487 if proxy.canceled and proxy.method == "INVITE" else 408
        self._branch_final(proxy, branch, status, None, now)

    def _maybe_complete(self, proxy: ProxyTransaction, now: float) -> None:
        if proxy.final_sent or proxy.pending():
            return
        best = proxy.best()
        if best is None:
            return
        if proxy.failure_route:
            name, proxy.failure_route = proxy.failure_route, None
            before = len(proxy.branches)
            self._run_failure(proxy, name, best)
            if len(proxy.branches) > before:
                self._drop_replies(proxy, before)
            if proxy.final_sent or proxy.pending():
                return
            best = proxy.best() or best
        if best.final is not None:
            final = best.final
            if self.settings["aggregate_challenges"]:
                final = proxy.merged_challenge(best) or final
            self._relay_reply(proxy, final, now)
        else:
            self._reply(proxy, best.final_status, _LOCAL_REASONS.get(best.final_status,
                                                                      "Server Error"), now)

    def _drop_replies(self, proxy: ProxyTransaction, first_new: int) -> None:
        """A failure_route added a leg: drop older replies (t_drop_replies, failure_reply_mode)."""
        mode = proxy.drop_mode
        if mode is None:
            mode = _DROP_BY_MODE.get(int(self.settings["failure_reply_mode"]), "a")
        proxy.drop_mode = None
        old = proxy.branches[:first_new]
        if mode == "a":
            for branch in old:
                branch.dropped = True
        elif mode == "l" and old:
            last = max(b.leg for b in old)
            for branch in old:
                if branch.leg == last:
                    branch.dropped = True

    def _run_failure(self, proxy: ProxyTransaction, name: str, best: Branch) -> None:
        ctx = proxy.ctx
        self._restore(proxy)
        ctx.extra["t_reply_code"] = best.final_status
        ctx.extra["tm_best"] = best
        ctx.extra["tm_reply"] = best.final
        ctx.extra["t_branch_idx"] = best.index
        ctx.extra["bflags"] = best.bflags  # as Kamailio: the picked branch's flags
        proxy.in_failure = True
        proxy.leg += 1
        proxy.drop_mode = None
        try:
            self._run(name, "failure_route", ctx, RouteType.FAILURE)
        finally:
            proxy.in_failure = False
            ctx.extra.pop("tm_reply", None)

    def _run(self, name: str, kind: str, ctx: Context, route_type: RouteType) -> bool:
        """Run a tm route (failure, onreply, branch, branch-failure) on ``ctx``; False if missing.

        The context's route type and the engine's current message are restored
        after it, so a nested run (branch_route inside t_relay) leaves the caller
        as it was; ``drop`` stays visible in ``ctx.drop``.
        """
        routes = self.engine.routes
        route = find_route(routes, kind, name) if routes is not None else None
        if route is None or routes is None:
            self._missing(kind, name)
            return False
        engine = self.engine
        previous, routing, rtype = engine.current, engine.routing, ctx.route_type
        ctx.route_type = route_type
        ctx.drop = False
        try:
            engine.run_route(route, ctx, routes)
        except ScriptExit:
            pass
        finally:
            ctx.route_type = rtype
            engine.current, engine.routing = previous, routing
        return True

    def _missing(self, kind: str, name: str) -> None:
        """Log a missing route once per (kind, name)."""
        if (kind, name) in self._missing_routes:
            return
        self._missing_routes.add((kind, name))
        log.error("tm: %s %r does not exist in the script", kind, name)

    # ------------------------------------------------------------------ cancel

    def _cancel_branch(self, branch: Branch, now: float) -> None:
        if branch.canceled or branch.done:
            return
        branch.canceled = True
        if branch.status >= 100:
            self._send_cancel(branch, now)
        # Without a provisional reply yet, RFC 3261 §9.1 waits for one (_branch_reply).

    def cancel_branches(self, proxy: ProxyTransaction, which: str = "all",
                        current: Branch | None = None) -> None:
        """tmx t_cancel_branches: all, others (but ``current``) or this (``current``)."""
        now = self.clock()
        for branch in proxy.pending():
            if which == "all" or (which == "others" and branch is not current) or (
                    which == "this" and branch is current):
                self._cancel_branch(branch, now)

    def _send_cancel(self, branch: Branch, now: float) -> None:
        assert self.transactions is not None
        if branch.cancel_sent:
            return
        branch.cancel_sent = True
        client = branch.client
        try:
            made = self.transactions.add_client(build_cancel(client.request), now,
                                                client.destination,
                                                reliable=client.destination[0] != "udp")
        except (SIPError, TransactionUsageError) as exc:
            log.warning("cannot send CANCEL for branch %d: %s", branch.index, exc)
            return
        if isinstance(made, Created):
            self._emit(made.events, now)

    def _cancel_target(self, ctx: Context) -> ProxyTransaction | None:
        """The INVITE transaction a CANCEL cancels (None when unknown)."""
        assert self.transactions is not None
        try:
            inv = self.transactions.match_cancel(ctx.msg)
        except (SIPError, TransactionUsageError):
            return None
        return self.by_server.get(inv) if inv is not None else None

    def _e2e_cancel(self, ctx: Context, proxy: ProxyTransaction) -> int:
        """A CANCEL for a known INVITE: 200 to it, CANCEL every pending branch (§16.10)."""
        ctx.extra["tm_invite"] = proxy
        self.notify_request(ctx, "cancel")
        now = self.clock()
        cancel_proxy = self._proxy(ctx)  # the CANCEL's own transaction, for its 200
        if cancel_proxy is not None:
            self._reply(cancel_proxy, 200, "canceling", now)
        proxy.canceled = True
        for branch in proxy.pending():
            self._cancel_branch(branch, now)
        return 1

    def is_stateful(self, ctx: Context) -> bool:
        """Whether the request has a transaction (send_reply then replies statefully)."""
        return ctx.extra.get("tm") is not None


_LOCAL_REASONS = {408: "Request Timeout", 487: "Request Terminated", 503: "Service Unavailable"}


def find_route(routes: Any, kind: str, name: str) -> Any:
    """The route function a t_on_* name arms (None when the script has none)."""
    if kind == "branch_failure_route":
        found = routes.route(f"tm:branch-failure:{name}", "event")
        if found is not None and routes.kind == "cfg":
            return found
        return routes.route(name, "branch_failure")
    return routes.route(name, ROUTE_KINDS.get(kind, kind))


def _dialog_key(msg: SIPMessage) -> tuple[str, int, str]:
    """(Call-ID, CSeq number, From tag): what an INVITE and the ACK of its 2xx share."""
    return (msg.call_id, msg.cseq[0], msg.from_.tag or "")


def _redirect_contacts(ctx: Context) -> list[str]:
    """t_reply 3xx: the destination set as Contact headers (a changed R-URI, then branches)."""
    uris = [ctx.ruri] if ctx.new_ruri is not None and ctx.new_ruri != ctx.msg.ruri else []
    for extra in ctx.extra.get("branches") or ():
        if extra.get("uri"):
            uris.append(str(extra["uri"]))
    return [f"Contact: <{uri}>" for uri in uris]


class _Alarm:
    """One armed fr/lifetime timer; ``proxy`` None means canceled (the heap drops it)."""

    __slots__ = ("proxy", "branch")

    def __init__(self, proxy: ProxyTransaction | None, branch: Branch | None) -> None:
        self.proxy = proxy
        self.branch = branch


def _snapshot_extra(ctx: Context) -> dict[str, Any]:
    """A copy of ctx.extra deep enough that a branch_route's changes can be undone."""
    out: dict[str, Any] = {}
    for key, value in ctx.extra.items():
        if isinstance(value, list | dict | set):
            out[key] = copy.copy(value)
        elif (dataclasses.is_dataclass(value) and not isinstance(value, type)
              and all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))):
            out[key] = copy.deepcopy(value)  # module state such as rr's: plain values only
        else:
            out[key] = value
    return out


def _plain(value: Any, depth: int = 0) -> bool:
    """True for str/int/float/bool/None and small containers of them (cheap to deep-copy)."""
    if value is None or isinstance(value, str | int | float | bool | bytes):
        return True
    if depth < 3 and isinstance(value, list | tuple | set | frozenset):
        return all(_plain(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _restore_extra(ctx: Context, saved: dict[str, Any]) -> None:
    ctx.extra.clear()
    ctx.extra.update(saved)
