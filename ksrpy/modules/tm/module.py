"""tm: the stateful proxy on top of the sans-IO transaction layer (ksrpy/sip/transaction).

The engine gives tm every request first (``absorb``: retransmissions and
ACKs of negative replies end here) and every reply (``on_reply``). The
script creates transactions with t_relay/t_newtran; branches are client
transactions; one asyncio timer drives retransmissions, fr_timer and
fr_inv_timer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...core.context import Context
from ...core.forward import BRANCH_COOKIE, ForwardError, next_hop, via_for
from ...sip.errors import SIPError
from ...sip.reply import build_reply, reply_via, stateless_to_tag
from ...sip.transaction import (
    PassUp,
    Send,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionTable,
    TransportError,
    build_cancel,
)
from ...sip.transaction.table import Created
from ..exports import FAILURE_ROUTE, REQUEST_ROUTE, Module, ParamExport, Returns, RouteType, export
from ..exports import ArgKind as K
from .proxy import Branch, ProxyTransaction

if TYPE_CHECKING:
    from ...core.engine import Engine
    from ...sip.message import SIPMessage

log = logging.getLogger("ksrpy.tm")

RELAY_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE
#: How often branch timers (fr_timer, fr_inv_timer) are checked at most.
TICK = 0.1


FinalCallback = Callable[[Context, int, str, "SIPMessage | None"], None]
RequestCallback = Callable[[Context, str], None]


class TmModule(Module):
    """Stateful forwarding: transactions, branches, failure/onreply routes, CANCEL, timers.

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
        ParamExport("fr_timer", int, 30000, "ms to wait for a final reply from a branch."),
        ParamExport("fr_inv_timer", int, 120000, "ms to wait for a final INVITE reply after "
                                                 "a provisional one.", runtime=True),
        ParamExport("auto_inv_100", int, 1, "Send 100 Trying for INVITE at once."),
        ParamExport("retr_timer1", int, 500, "T1 in ms (RFC 3261 retransmissions)."),
        ParamExport("retr_timer2", int, 4000, "T2 in ms."),
        ParamExport("max_transactions", int, 20000, "Live transactions at most (then 503)."),
        ParamExport("restart_fr_on_each_reply", int, 1, "A provisional reply restarts "
                                                        "fr_inv_timer."),
        ParamExport("failure_reply_mode", int, 3, "Accepted for compatibility."),
        ParamExport("unix_tx_timeout", int, 500, "Accepted for compatibility."),
        ParamExport("contacts_avp", str, "", "Accepted for compatibility."),
        ParamExport("contact_flows_avp", str, "", "Accepted for compatibility."),
    )

    def __init__(self, engine: Engine, settings: dict[str, Any] | None = None) -> None:
        self.transactions: TransactionTable | None = None
        self.by_server: dict[Any, ProxyTransaction] = {}
        self.by_client: dict[Any, tuple[ProxyTransaction, Branch]] = {}
        #: INVITEs answered 2xx by (Call-ID, CSeq number, From tag): end-to-end ACK matching.
        self.by_dialog: dict[tuple[str, int, str], ProxyTransaction] = {}
        self._timer: asyncio.Task[None] | None = None
        self._reply_ctx: Context | None = None
        #: The clock every deadline is computed from (tests inject their own).
        self.clock: Callable[[], float] = time.monotonic
        self._final_callbacks: list[FinalCallback] = []
        self._request_callbacks: list[RequestCallback] = []
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
        timers = TimerConfig(t1=self.settings["retr_timer1"] / 1000,
                             t2=self.settings["retr_timer2"] / 1000)
        self.transactions = TransactionTable(max_transactions=self.settings["max_transactions"],
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
            deadline = self.transactions.next_deadline() if self.transactions else None
            wait = TICK if deadline is None else max(0.0, min(TICK, deadline - self.clock()))
            await asyncio.sleep(wait)
            try:
                self.on_timer(self.clock())
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("tm timer")

    def on_timer(self, now: float) -> None:
        """Fire transaction timers, then fr_timer/fr_inv_timer of the branches."""
        assert self.transactions is not None
        self._emit(self.transactions.on_timer(now), now)
        for proxy in list(self.by_server.values()):
            for branch in proxy.pending():
                if branch.deadline and now >= branch.deadline:
                    self._branch_timeout(proxy, branch, now)

    # ------------------------------------------------------------- engine hooks

    def absorb(self, ctx: Context) -> bool:
        """True when a request belonged to a transaction (retransmission, ACK of a 3xx-6xx)."""
        if self.transactions is None:
            return False
        now = self.clock()
        try:
            matched = self.transactions.receive_request(ctx.msg, now)
        except SIPError:
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
        except SIPError:
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
                    self._branch_final(found[0], found[1], 408, None, now)
            elif isinstance(event, TransportError):
                found = self.by_client.get(event.transaction)
                if found is not None and not found[1].done:
                    self._branch_final(found[0], found[1], 503, None, now)
            elif isinstance(event, Terminated):
                self.by_client.pop(event.transaction, None)
                proxy = self.by_server.pop(event.transaction, None)
                if proxy is not None and proxy.dialog_key is not None:
                    if self.by_dialog.get(proxy.dialog_key) is proxy:
                        del self.by_dialog[proxy.dialog_key]

    # ------------------------------------------------------------ transactions

    def _proxy(self, ctx: Context, create: bool = True) -> ProxyTransaction | None:
        proxy = ctx.extra.get("tm")
        if proxy is not None or not create:
            return proxy
        assert self.transactions is not None
        self._ensure_timer()
        msg, rcv = ctx.msg, ctx.rcv
        from ...core.engine import reply_destination

        ip, port = reply_destination(ctx, bool(ctx.extra.get("force_rport")))
        destination = (rcv.proto, ip, port, rcv.conn_id, ctx.reply_no_connect,
                       self.engine.local_spec(rcv))
        now = self.clock()
        made = self.transactions.add_server(
            msg, now, destination, reliable=rcv.proto != "udp",
            auto_100=bool(self.settings["auto_inv_100"]) and msg.method == "INVITE",
            source=(rcv.src_ip, rcv.src_port))
        if not isinstance(made, Created):
            log.warning("cannot create a transaction: %s", made.reason)
            self.engine.send_reply(ctx, made.status, "Service Unavailable")
            return None
        proxy = ProxyTransaction(made.transaction, ctx)  # type: ignore[arg-type]
        ctx.extra["tm"] = proxy
        for attr in ("failure_route", "onreply_route", "branch_route"):
            armed = ctx.extra.pop(f"tm_{attr}", None)
            if armed:
                setattr(proxy, attr, armed)
        self.by_server[made.transaction] = proxy
        self._emit(made.events, now)
        return proxy

    def _add_branch(self, proxy: ProxyTransaction, ruri: str, target: str) -> bool:
        assert self.transactions is not None
        ctx = proxy.ctx
        try:
            hop = next_hop(target)
            local = self.engine.local_socket(hop.proto, 6 if ":" in hop.ip else 4,
                                             self.engine.local_spec(ctx.rcv))
        except ForwardError as exc:
            log.warning("cannot relay to %s: %s", target, exc)
            return False
        msg, rcv, now = ctx.msg, ctx.rcv, self.clock()
        with msg.temporary_edits():
            marked = reply_via(msg.via1, rcv.src_ip, rcv.src_port,
                               bool(ctx.extra.get("force_rport")))
            if marked is not None:
                msg.set_top_via(marked)
            if ruri != msg.ruri:
                msg.set_ruri(ruri)
            msg.push_via(via_for(local, BRANCH_COOKIE + os.urandom(8).hex()))
            data = msg.to_bytes()
        destination = (hop.proto, hop.ip, hop.port, None, ctx.forward_no_connect, local)
        made = self.transactions.add_client(data, now, destination, reliable=hop.proto != "udp")
        if not isinstance(made, Created):
            log.warning("cannot create a branch: %s", made.reason)
            return False
        branch = Branch(len(proxy.branches), ruri, made.transaction,  # type: ignore[arg-type]
                        deadline=now + self.settings["fr_timer"] / 1000)
        proxy.branches.append(branch)
        self.by_client[made.transaction] = (proxy, branch)
        self._emit(made.events, now)
        return True

    def relay(self, ctx: Context, target: str | None = None) -> int:
        """Create the transaction (once) and one branch per destination; 1 when any left."""
        if ctx.msg.method == "ACK":
            # No transaction for an ACK: the ACK of a 2xx is relayed statelessly (RFC 3261 §16.11).
            return 1 if self.engine.forward_request(ctx, target) else -1
        proxy = self._proxy(ctx)
        if proxy is None:
            return -1
        targets = [(ctx.ruri, target or ctx.dst_uri or ctx.ruri)]
        for extra in ctx.extra.pop("branches", None) or ():
            targets.append((extra.get("uri") or ctx.ruri,
                            extra.get("dst_uri") or extra.get("uri") or ctx.ruri))
        created = sum(1 for ruri, dst in targets if self._add_branch(proxy, ruri, dst))
        if not created:
            ctx.extra["last_error"] = (500, "Unable to forward")
            return -1
        ctx.forwarded = True
        return 1

    def reply(self, ctx: Context, code: int, reason: str) -> int:
        """Send a reply through the request's transaction (created if needed)."""
        proxy = self._proxy(ctx)
        if proxy is None:
            return -1
        return self._reply(proxy, code, reason, self.clock())

    def _reply(self, proxy: ProxyTransaction, code: int, reason: str, now: float) -> int:
        ctx = proxy.ctx
        if not proxy.server.can_send(code):
            return -1
        data = build_reply(ctx.msg, code, reason, src_ip=ctx.rcv.src_ip,
                           src_port=ctx.rcv.src_port, to_tag=stateless_to_tag(ctx.msg),
                           force_rport=bool(ctx.extra.get("force_rport")),
                           headers=list(ctx.reply_lumps),
                           server_header=self.engine.config.server_header_line)
        self._emit(proxy.server.send_response(data, now), now)
        if code >= 200:
            proxy.final_sent = True
            self._final_out(proxy, code, reason, None)
        ctx.replied = True
        return 1

    # ----------------------------------------------------------------- replies

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
        if msg.status >= 200:
            proxy.final_sent = True
            self._final_out(proxy, msg.status, msg.reason, msg)

    def _branch_reply(self, proxy: ProxyTransaction, branch: Branch, msg: SIPMessage,
                      now: float) -> None:
        status = msg.status
        branch.status = max(branch.status, status)
        if proxy.onreply_route and not self._run_onreply(proxy, msg, branch):
            return
        if status < 200:
            if proxy.method == "INVITE":
                branch.deadline = now + self.settings["fr_inv_timer"] / 1000
            if branch.canceled:
                self._send_cancel(branch, now)
            if status > 100 and not proxy.final_sent:
                self._relay_reply(proxy, msg, now)
            return
        if status < 300:
            branch.final, branch.final_status = msg, status
            self._relay_reply(proxy, msg, now)
            if proxy.method == "INVITE":
                for other in proxy.pending():
                    self._cancel_branch(other, now)
            return
        self._branch_final(proxy, branch, status, msg, now)

    def _run_onreply(self, proxy: ProxyTransaction, msg: SIPMessage, branch: Branch) -> bool:
        """onreply_route[X]; False when it dropped the reply."""
        routes = self.engine.routes
        route = routes.route(str(proxy.onreply_route), "onreply") if routes else None
        if route is None or routes is None:
            return True
        rctx = self._reply_ctx or Context(self.engine, msg, proxy.ctx.rcv)
        rctx.route_type = RouteType.ONREPLY
        rctx.extra["t_branch_idx"] = branch.index
        previous = self.engine.current
        try:
            self.engine.run_route(route, rctx, routes)
        finally:
            self.engine.current = previous
        return not rctx.drop

    def _branch_final(self, proxy: ProxyTransaction, branch: Branch, status: int,
                      msg: SIPMessage | None, now: float) -> None:
        branch.final, branch.final_status = msg, status
        self._maybe_complete(proxy, now)

    def _branch_timeout(self, proxy: ProxyTransaction, branch: Branch, now: float) -> None:
        branch.timed_out = True
        if proxy.method == "INVITE" and branch.status >= 100:
            self._cancel_branch(branch, now)
        self._branch_final(proxy, branch, 408, None, now)

    def _maybe_complete(self, proxy: ProxyTransaction, now: float) -> None:
        if proxy.final_sent or proxy.pending():
            return
        best = proxy.best()
        if best is None:
            return
        if proxy.failure_route and not proxy.canceled:
            name, proxy.failure_route = proxy.failure_route, None
            self._run_failure(proxy, name, best)
            if proxy.final_sent or proxy.pending():
                return
            best = proxy.best() or best
        if best.final is not None:
            self._relay_reply(proxy, best.final, now)
        else:
            reason = "Request Timeout" if best.final_status == 408 else "Service Unavailable"
            self._reply(proxy, best.final_status, reason, now)

    def _run_failure(self, proxy: ProxyTransaction, name: str, best: Branch) -> None:
        routes = self.engine.routes
        route = routes.route(name, "failure") if routes else None
        if route is None or routes is None:
            log.warning("failure_route %s does not exist", name)
            return
        ctx = proxy.ctx
        ctx.route_type = RouteType.FAILURE
        ctx.extra["t_reply_code"] = best.final_status
        ctx.extra["tm_best"] = best
        ctx.drop = False
        previous = self.engine.current
        try:
            self.engine.run_route(route, ctx, routes)
        finally:
            self.engine.current = previous

    # ------------------------------------------------------------------ cancel

    def _cancel_branch(self, branch: Branch, now: float) -> None:
        if branch.canceled or branch.done:
            return
        branch.canceled = True
        if branch.status >= 100:
            self._send_cancel(branch, now)
        # Without a provisional reply yet, RFC 3261 §9.1 waits for one (_branch_reply).

    def _send_cancel(self, branch: Branch, now: float) -> None:
        assert self.transactions is not None
        if branch.cancel_sent:
            return
        branch.cancel_sent = True
        client = branch.client
        made = self.transactions.add_client(build_cancel(client.request), now, client.destination,
                                     reliable=client.destination[0] != "udp")
        if isinstance(made, Created):
            self._emit(made.events, now)

    def cancel(self, ctx: Context) -> int:
        """t_check_trans() for CANCEL: 200 to the CANCEL, cancel every branch; 0 (stop)."""
        assert self.transactions is not None
        inv = self.transactions.match_cancel(ctx.msg)
        proxy = self.by_server.get(inv) if inv is not None else None
        if proxy is None:
            return -1
        ctx.extra["tm_invite"] = proxy
        self.notify_request(ctx, "cancel")
        now = self.clock()
        cancel_proxy = self._proxy(ctx)  # the CANCEL's own transaction, for its 200
        if cancel_proxy is not None:
            self._reply(cancel_proxy, 200, "canceling", now)
        proxy.canceled = True
        for branch in proxy.pending():
            self._cancel_branch(branch, now)
        return 0

    # --------------------------------------------------------------- functions

    @export("t_relay", ("host", K.SPVE, True), ("port", K.IGP, True), routes=RELAY_ROUTES)
    def t_relay(self, ctx: Context, host: str | None = None, port: int | None = None) -> int:
        """Relay statefully to $du/R-URI (or host:port) and every appended branch."""
        return self.relay(ctx, f"sip:{host}:{int(port or 5060)}" if host else None)

    @export("t_relay_to_udp", ("host", K.SPVE, True), ("port", K.IGP, True),
            routes=RELAY_ROUTES)
    def t_relay_to_udp(self, ctx: Context, host: str | None = None,
                       port: int | None = None) -> int:
        """t_relay over UDP."""
        target = f"sip:{host}:{int(port or 5060)};transport=udp" if host else None
        return self.relay(ctx, target)

    @export("t_relay_to_tcp", ("host", K.SPVE, True), ("port", K.IGP, True),
            routes=RELAY_ROUTES)
    def t_relay_to_tcp(self, ctx: Context, host: str | None = None,
                       port: int | None = None) -> int:
        """t_relay over TCP."""
        target = f"sip:{host}:{int(port or 5060)};transport=tcp" if host else None
        return self.relay(ctx, target)

    @export("t_newtran", routes=REQUEST_ROUTE)
    def t_newtran(self, ctx: Context) -> int:
        """Create the transaction for this request now (later replies are stateful)."""
        return 1 if self._proxy(ctx) is not None else -1

    @export("t_reply", ("code", K.IGP), ("reason", K.SPVE), routes=RELAY_ROUTES)
    def t_reply(self, ctx: Context, code: int, reason: str) -> int:
        """Reply statefully."""
        return self.reply(ctx, int(code), str(reason))

    @export("t_send_reply", ("code", K.IGP), ("reason", K.SPVE), routes=RELAY_ROUTES)
    def t_send_reply(self, ctx: Context, code: int, reason: str) -> int:
        """Reply statefully (creating the transaction if needed)."""
        return self.reply(ctx, int(code), str(reason))

    @export("t_check_trans", routes=REQUEST_ROUTE | FAILURE_ROUTE)
    def t_check_trans(self, ctx: Context) -> int:
        """CANCEL: relay it to the INVITE's branches and stop (0); else -1 (no transaction)."""
        if ctx.msg.method == "CANCEL":
            return self.cancel(ctx)
        return 1 if ctx.extra.get("tm") is not None else -1

    def _arm(self, ctx: Context, attr: str, name: str) -> int:
        proxy = ctx.extra.get("tm")
        if proxy is not None:
            setattr(proxy, attr, name or None)
        else:
            ctx.extra[f"tm_{attr}"] = name or None
        return 1

    @export("t_on_failure", ("route", K.SPVE), routes=RELAY_ROUTES)
    def t_on_failure(self, ctx: Context, route: str) -> int:
        """Run failure_route[route] when every branch failed."""
        return self._arm(ctx, "failure_route", route)

    @export("t_on_reply", ("route", K.SPVE), routes=RELAY_ROUTES)
    def t_on_reply(self, ctx: Context, route: str) -> int:
        """Run onreply_route[route] for every reply of this transaction."""
        return self._arm(ctx, "onreply_route", route)

    @export("t_on_branch", ("route", K.SPVE), routes=RELAY_ROUTES)
    def t_on_branch(self, ctx: Context, route: str) -> int:
        """Arm branch_route[route] (recorded; branch routes run in a later version)."""
        return self._arm(ctx, "branch_route", route)

    @export("t_is_set", ("target", K.STR), returns=Returns.INT)
    def t_is_set(self, ctx: Context, target: str) -> int:
        """1 when failure_route / onreply_route / branch_route is armed."""
        attr = {"failure_route": "failure_route", "onreply_route": "onreply_route",
                "branch_route": "branch_route"}.get(str(target))
        if attr is None:
            return -1
        proxy = ctx.extra.get("tm")
        value = getattr(proxy, attr) if proxy is not None else ctx.extra.get(f"tm_{attr}")
        return 1 if value else -1

    @export("t_is_canceled", routes=FAILURE_ROUTE | REQUEST_ROUTE)
    def t_is_canceled(self, ctx: Context) -> int:
        """1 when the transaction was canceled."""
        proxy = ctx.extra.get("tm")
        return 1 if proxy is not None and proxy.canceled else -1

    @export("t_check_status", ("regexp", K.SPVE))
    def t_check_status(self, ctx: Context, regexp: str) -> int:
        """1 when the reply status (or the failure's best status) matches ``regexp``."""
        import re

        status = ctx.msg.status or ctx.extra.get("t_reply_code")
        return 1 if status and re.search(str(regexp), str(status)) else -1

    @export("t_branch_timeout", routes=FAILURE_ROUTE)
    def t_branch_timeout(self, ctx: Context) -> int:
        """1 when the failing branch timed out."""
        best = ctx.extra.get("tm_best")
        return 1 if best is not None and best.timed_out else -1

    @export("t_any_timeout", routes=FAILURE_ROUTE)
    def t_any_timeout(self, ctx: Context) -> int:
        """1 when any branch timed out."""
        proxy = ctx.extra.get("tm")
        return 1 if proxy is not None and any(b.timed_out for b in proxy.branches) else -1

    @export("t_set_fr", ("fr_inv", K.IGP), ("fr", K.IGP, True))
    def t_set_fr(self, ctx: Context, fr_inv: int, fr: int = 0) -> int:
        """Accepted: per-transaction timers come with the next version (global ones apply)."""
        return 1

    def is_stateful(self, ctx: Context) -> bool:
        """Whether the request has a transaction (send_reply then replies statefully)."""
        return ctx.extra.get("tm") is not None


def _dialog_key(msg: SIPMessage) -> tuple[str, int, str]:
    """(Call-ID, CSeq number, From tag): what an INVITE and the ACK of its 2xx share."""
    return (msg.call_id, msg.cseq[0], msg.from_.tag or "")
