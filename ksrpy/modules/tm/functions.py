"""tm's script functions (cfg and KSR.tm.*), with Kamailio 5.6's names, arguments and return codes.

A mixin of TmModule: the proxy core (relay, reply, routes, timers) is in
module.py; these functions read and arm its state. Return codes follow
Kamailio: 1 true, -1 false, 0 stops the script (t_relay_cancel).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING, Any

from ...sip.errors import SIPError
from ...util.posixre import compile_ere
from ..exports import (
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Returns,
    RouteType,
    export,
)
from ..exports import ArgKind as K

if TYPE_CHECKING:
    from ...core.context import Context
    from .proxy import Branch, ProxyTransaction

log = logging.getLogger("ksrpy.tm")

BRANCH_FAILURE_ROUTE = RouteType.BRANCH_FAILURE
RELAY_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_FAILURE_ROUTE
ARM_ROUTES = RELAY_ROUTES | BRANCH_ROUTE | ONREPLY_ROUTE
FAILURES = FAILURE_ROUTE | BRANCH_FAILURE_ROUTE
REPLY_TYPES = RouteType.ONREPLY | RouteType.CORE_REPLY
#: t_is_set targets.
IS_SET_TARGETS = ("failure_route", "onreply_route", "branch_route")


@functools.lru_cache(maxsize=256)
def _status_regex(pattern: str) -> re.Pattern[str]:
    """t_check_status: POSIX ERE, case-insensitive, unanchored (Kamailio's regexec)."""
    return compile_ere(pattern, icase=True, newline=False)


class TmFunctions:
    """The exported tm functions; ``self`` is the TmModule."""

    # Provided by TmModule (module.py).
    engine: Any
    settings: dict[str, Any]
    transactions: Any
    by_server: dict[Any, ProxyTransaction]
    _missing_routes: set[tuple[str, str]]

    if TYPE_CHECKING:
        def _proxy(self, ctx: Context, create: bool = True) -> ProxyTransaction | None: ...
        def relay(self, ctx: Context, target: str | None = None) -> int: ...
        def reply(self, ctx: Context, code: int, reason: str) -> int: ...
        def replicate(self, ctx: Context, target: str | None) -> int: ...
        def set_fr(self, proxy: ProxyTransaction, fr_inv: float | None,
                   fr: float | None) -> None: ...
        def fr_timer(self, proxy: ProxyTransaction) -> float: ...
        def fr_inv_timer(self, proxy: ProxyTransaction) -> float: ...
        def clock(self) -> float: ...
        def _save(self, proxy: ProxyTransaction) -> None: ...
        def _cancel_target(self, ctx: Context) -> ProxyTransaction | None: ...
        def _e2e_cancel(self, ctx: Context, proxy: ProxyTransaction) -> int: ...
        def _missing(self, kind: str, name: str) -> None: ...

    # ------------------------------------------------------------------ relay

    @export("t_relay", ("host", K.SPVE, True), ("port", K.IGP, True), routes=RELAY_ROUTES)
    def t_relay(self, ctx: Context, host: str | None = None, port: int | None = None) -> int:
        """Relay statefully to $du/R-URI (or host:port) and every appended branch."""
        return self.relay(ctx, f"sip:{_host(host)}:{int(port or 5060)}" if host else None)

    @export("t_relay_to_udp", ("host", K.SPVE, True), ("port", K.IGP, True),
            routes=RELAY_ROUTES)
    def t_relay_to_udp(self, ctx: Context, host: str | None = None,
                       port: int | None = None) -> int:
        """t_relay over UDP."""
        return self.relay(ctx, _forced(ctx, "udp", host, port))

    @export("t_relay_to_tcp", ("host", K.SPVE, True), ("port", K.IGP, True),
            routes=RELAY_ROUTES)
    def t_relay_to_tcp(self, ctx: Context, host: str | None = None,
                       port: int | None = None) -> int:
        """t_relay over TCP."""
        return self.relay(ctx, _forced(ctx, "tcp", host, port))

    @export("t_replicate", ("uri", K.SPVE, True), ("port", K.IGP, True), routes=RELAY_ROUTES)
    def t_replicate(self, ctx: Context, uri: str | None = None, port: int | None = None) -> int:
        """Send a copy statefully to ``uri`` (or host, port; else $du/R-URI); replies absorbed."""
        if port:
            return self.replicate(ctx, f"sip:{_host(uri or '')}:{int(port)}")
        return self.replicate(ctx, uri or None)

    @export("t_replicate_udp", ("host", K.SPVE), ("port", K.IGP), routes=RELAY_ROUTES)
    def t_replicate_udp(self, ctx: Context, host: str, port: int) -> int:
        """t_replicate over UDP to host:port."""
        return self.replicate(ctx, f"sip:{_host(host)}:{int(port)};transport=udp")

    @export("t_replicate_tcp", ("host", K.SPVE), ("port", K.IGP), routes=RELAY_ROUTES)
    def t_replicate_tcp(self, ctx: Context, host: str, port: int) -> int:
        """t_replicate over TCP to host:port."""
        return self.replicate(ctx, f"sip:{_host(host)}:{int(port)};transport=tcp")

    @export("t_newtran", routes=REQUEST_ROUTE)
    def t_newtran(self, ctx: Context) -> int:
        """Create the transaction for this request now (later replies are stateful)."""
        if ctx.msg.method == "ACK":
            log.warning("t_newtran: no transaction for an ACK")
            return -1
        return 1 if self._proxy(ctx) is not None else -1

    @export("t_reply", ("code", K.IGP), ("reason", K.SPVE), routes=RELAY_ROUTES)
    def t_reply(self, ctx: Context, code: int, reason: str) -> int:
        """Reply statefully (append_to_reply headers, set_reply_body body)."""
        if ctx.extra.get("tm") is None and ctx.route_type & REQUEST_ROUTE:
            log.error("t_reply: no transaction (call t_newtran first, or use t_send_reply)")
            return -1
        return self.reply(ctx, int(code), str(reason))

    @export("t_send_reply", ("code", K.IGP), ("reason", K.SPVE), routes=RELAY_ROUTES)
    def t_send_reply(self, ctx: Context, code: int, reason: str) -> int:
        """Reply statefully, creating the transaction if needed."""
        return self.reply(ctx, int(code), str(reason))

    # ----------------------------------------------------------------- lookups

    @export("t_check_trans", routes=REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE)
    def t_check_trans(self, ctx: Context) -> int:
        """Does the message belong to a transaction? CANCEL: its INVITE; ACK: a 2xx'd INVITE."""
        msg = ctx.msg
        if not msg.is_request:
            try:
                found = self.transactions.match_response(msg)
            except SIPError:
                return -1
            return 1 if found is not None else -1
        if msg.method == "CANCEL":
            return 1 if self._cancel_target(ctx) is not None else -1
        if msg.method == "ACK":
            return 1 if ctx.extra.get("tm_invite") is not None else -1
        return self.t_lookup_request(ctx)

    @export("t_lookup_request", routes=REQUEST_ROUTE)
    def t_lookup_request(self, ctx: Context) -> int:
        """1 when the request has a transaction (retransmissions never reach the script)."""
        if ctx.extra.get("tm") is not None:
            return 1
        try:
            found = self.transactions.match_request(ctx.msg)
        except SIPError:
            return -1
        return 1 if found is not None else -1

    @export("t_lookup_cancel", ("flags", K.IGP, True), routes=REQUEST_ROUTE)
    def t_lookup_cancel(self, ctx: Context, flags: int = 0) -> int:
        """CANCEL: 1 when its INVITE transaction exists (flags=1: take the INVITE's flags)."""
        if ctx.msg.method != "CANCEL":
            return -1
        proxy = self._cancel_target(ctx)
        if proxy is None:
            return -1
        if int(flags or 0) == 1:
            ctx.flags = proxy.ctx.flags
        return 1

    @export("t_relay_cancel", routes=REQUEST_ROUTE)
    def t_relay_cancel(self, ctx: Context) -> int:
        """CANCEL its INVITE's branches and stop the script (0); 1 when no INVITE matched."""
        if ctx.msg.method != "CANCEL":
            return 1
        proxy = self._cancel_target(ctx)
        if proxy is None:
            return 1
        return 0 if self._e2e_cancel(ctx, proxy) > 0 else -1

    # ------------------------------------------------------------ route arming

    def _arm(self, ctx: Context, attr: str, name: str) -> int:
        """Arm t_on_*(name); a name with no route in the script is an error (logged once)."""
        from .module import find_route

        name = str(name or "")
        routes = self.engine.routes
        if name and routes is not None and find_route(routes, attr, name) is None:
            self._missing(attr, name)
            return -1
        proxy = ctx.extra.get("tm")
        if proxy is not None:
            setattr(proxy, attr, name or None)
        else:
            ctx.extra[f"tm_{attr}"] = name or None
        return 1

    @export("t_on_failure", ("route", K.SPVE), routes=ARM_ROUTES)
    def t_on_failure(self, ctx: Context, route: str) -> int:
        """Run failure_route[route] when every branch failed."""
        return self._arm(ctx, "failure_route", route)

    @export("t_on_reply", ("route", K.SPVE), routes=ARM_ROUTES)
    def t_on_reply(self, ctx: Context, route: str) -> int:
        """Run onreply_route[route] for every reply of this transaction."""
        return self._arm(ctx, "onreply_route", route)

    @export("t_on_branch", ("route", K.SPVE), routes=ARM_ROUTES)
    def t_on_branch(self, ctx: Context, route: str) -> int:
        """Run branch_route[route] on each new branch right before it is sent."""
        return self._arm(ctx, "branch_route", route)

    @export("t_on_branch_failure", ("route", K.SPVE), routes=ARM_ROUTES)
    def t_on_branch_failure(self, ctx: Context, route: str) -> int:
        """Run event_route[tm:branch-failure:route] for each branch that fails or times out."""
        return self._arm(ctx, "branch_failure_route", route)

    @export("t_is_set", ("target", K.STR), returns=Returns.INT)
    def t_is_set(self, ctx: Context, target: str) -> int:
        """1 when failure_route / onreply_route / branch_route is armed for the transaction."""
        attr = str(target)
        if attr not in IS_SET_TARGETS:
            log.error("t_is_set: unknown target %r (%s)", attr, ", ".join(IS_SET_TARGETS))
            return -1
        proxy = ctx.extra.get("tm")
        value = getattr(proxy, attr) if proxy is not None else ctx.extra.get(f"tm_{attr}")
        return 1 if value else -1

    # ------------------------------------------------------------------ states

    def _current(self, ctx: Context) -> ProxyTransaction | None:
        proxy: ProxyTransaction | None = ctx.extra.get("tm")
        return proxy

    @export("t_is_canceled")
    def t_is_canceled(self, ctx: Context) -> int:
        """1 when the transaction was canceled."""
        proxy = self._current(ctx)
        return 1 if proxy is not None and proxy.canceled else -1

    @export("t_is_expired")
    def t_is_expired(self, ctx: Context) -> int:
        """1 when max_inv_lifetime / max_noninv_lifetime has elapsed for the transaction."""
        proxy = self._current(ctx)
        if proxy is None:
            return -1
        expired = proxy.expired or self.clock() >= proxy.created + proxy.lifetime
        return 1 if expired else -1

    def _status(self, ctx: Context) -> int:
        """The status t_check_status looks at for this route type (0: none)."""
        if ctx.route_type & REPLY_TYPES and not ctx.msg.is_request:
            return ctx.msg.status
        if ctx.route_type & FAILURES:
            return int(ctx.extra.get("t_reply_code") or 0)
        proxy = self._current(ctx)
        return proxy.last_status if proxy is not None else 0

    @export("t_check_status", ("regexp", K.SPVE))
    def t_check_status(self, ctx: Context, regexp: str) -> int:
        """1 when the POSIX regex matches (anywhere, as regexec) the status for this route type.

        request_route: the last reply sent; onreply_route: the reply;
        failure_route: the selected negative reply; branch-failure: the branch's.
        """
        status = self._status(ctx)
        if not status:
            return -1
        try:
            regex = _status_regex(str(regexp))
        except (re.error, ValueError) as exc:
            log.error("t_check_status: bad regular expression %r: %s", regexp, exc)
            return -1
        return 1 if regex.search(str(status)) else -1

    @export("t_grep_status", ("code", K.IGP))
    def t_grep_status(self, ctx: Context, code: int) -> int:
        """1 when a branch's final reply (received or local) had this code."""
        proxy = self._current(ctx)
        if proxy is None:
            return -1
        return 1 if any(b.final_status == int(code) for b in proxy.branches) else -1

    @export("t_get_status_code", returns=Returns.INT)
    def t_get_status_code(self, ctx: Context) -> int:
        """The status of the last reply sent for the transaction, -1 when none."""
        proxy = self._current(ctx)
        return proxy.last_status if proxy is not None and proxy.last_status else -1

    def _failing(self, ctx: Context) -> Branch | None:
        best: Branch | None = ctx.extra.get("tm_best")
        return best

    @export("t_branch_timeout", routes=FAILURES)
    def t_branch_timeout(self, ctx: Context) -> int:
        """1 when the failing branch timed out (failure_route, branch-failure route)."""
        best = self._failing(ctx)
        return 1 if best is not None and best.timed_out else -1

    @export("t_branch_replied", routes=FAILURES)
    def t_branch_replied(self, ctx: Context) -> int:
        """1 when the failing branch had a reply before its final one (or its timeout)."""
        best = self._failing(ctx)
        return 1 if best is not None and best.replied_before_final else -1

    @export("t_any_timeout")
    def t_any_timeout(self, ctx: Context) -> int:
        """1 when any branch of the transaction timed out."""
        proxy = self._current(ctx)
        return 1 if proxy is not None and any(b.timed_out for b in proxy.branches) else -1

    @export("t_any_replied")
    def t_any_replied(self, ctx: Context) -> int:
        """1 when any branch received a reply, not counting the one being processed now."""
        proxy = self._current(ctx)
        if proxy is None:
            return -1
        total = sum(b.replies for b in proxy.branches)
        if ctx.route_type & RouteType.ONREPLY:
            total -= 1
        elif ctx.route_type & FAILURES:
            best = self._failing(ctx)
            if best is not None and best.final is not None:
                total -= 1
        return 1 if total > 0 else -1

    # ------------------------------------------------------------------ timers

    @export("t_set_fr", ("fr_inv", K.IGP), ("fr", K.IGP, True))
    def t_set_fr(self, ctx: Context, fr_inv: int, fr: int = 0) -> int:
        """Per transaction fr_inv_timer / fr_timer in ms (0: unchanged); live branches follow."""
        fr_inv, fr = int(fr_inv or 0), int(fr or 0)
        if fr_inv < 0 or fr < 0:
            log.error("t_set_fr: negative timeout (%d, %d)", fr_inv, fr)
            return -1
        proxy = self._current(ctx)
        if proxy is None:
            old_inv, old_fr = ctx.extra.get("tm_fr") or (None, None)
            ctx.extra["tm_fr"] = (fr_inv / 1000 if fr_inv else old_inv,
                                  fr / 1000 if fr else old_fr)
            return 1
        self.set_fr(proxy, fr_inv / 1000 if fr_inv else proxy.fr_inv_timer,
                    fr / 1000 if fr else proxy.fr_timer)
        return 1

    @export("t_reset_fr")
    def t_reset_fr(self, ctx: Context) -> int:
        """Back to the fr_timer / fr_inv_timer module parameters for this transaction."""
        proxy = self._current(ctx)
        if proxy is None:
            ctx.extra.pop("tm_fr", None)
            return 1
        self.set_fr(proxy, None, None)
        return 1

    @export("t_set_auto_inv_100", ("state", K.IGP), routes=REQUEST_ROUTE)
    def t_set_auto_inv_100(self, ctx: Context, state: int) -> int:
        """auto_inv_100 for the transaction this request will create."""
        ctx.extra["tm_auto_inv_100"] = bool(int(state))
        return 1

    # ---------------------------------------------------------------- failures

    @export("t_drop_replies", ("mode", K.SPVE, True), routes=FAILURE_ROUTE)
    def t_drop_replies(self, ctx: Context, mode: str | None = None) -> int:
        """Drop earlier replies when a new leg starts: 'a' (all, default), 'l' (last leg), 'n'."""
        proxy = self._current(ctx)
        if proxy is None:
            return -1
        value = (mode or "a")[:1].lower()
        if value not in ("a", "l", "n"):
            log.error("t_drop_replies: unknown mode %r (a, l, n)", mode)
            return -1
        proxy.drop_mode = value
        return 1

    @export("t_drop_replies_all", cfg=False, routes=FAILURE_ROUTE)
    def t_drop_replies_all(self, ctx: Context) -> int:
        """t_drop_replies("a") (KEMI form)."""
        return self.t_drop_replies(ctx, "a")

    @export("t_save_lumps", routes=REQUEST_ROUTE)
    def t_save_lumps(self, ctx: Context) -> int:
        """Save the message edits now: failure_route branches start from them."""
        proxy = self._current(ctx)
        if proxy is None:
            log.error("t_save_lumps: no transaction (call t_newtran first)")
            return -1
        self._save(proxy)
        return 1


def _host(host: str) -> str:
    """A host for a URI (IPv6 in brackets)."""
    host = str(host).strip()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _forced(ctx: Context, proto: str, host: str | None, port: int | None) -> str:
    """The t_relay_to_<proto> target: host:port, else $du / R-URI with that transport."""
    if host:
        return f"sip:{_host(host)}:{int(port or 5060)};transport={proto}"
    base = ctx.dst_uri or ctx.ruri
    base = re.sub(r";transport=[^;>]*", "", base, flags=re.IGNORECASE)
    return f"{base};transport={proto}"
