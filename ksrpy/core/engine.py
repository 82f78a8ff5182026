"""The engine: bytes in -> Context -> route script -> replies and forwards out.

The engine owns the loaded modules, the current ``Routes`` (swapped whole on
reload) and the transport. ``handle`` is the transport's synchronous handler:
it must never raise, whatever a peer sends or a script does.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..modules import load_module_class
from ..modules.exports import Module
from ..script.kemi import CURRENT
from ..sip.errors import SIPError, SIPParseError
from ..sip.message import SIPMessage
from ..sip.reply import SL_TAG_PREFIX, build_reply, stateless_to_tag
from ..transport.address import ListenSpec, ReceiveInfo
from .config import CoreConfig
from .context import Context, ScriptExit
from .forward import ForwardError, NextHop, next_hop, outgoing_request, stateless_branch
from .myself import Myself
from .ratelog import RateLimitedLog
from .scripterror import describe_script_error

if TYPE_CHECKING:
    from ..script.routes import Routes
    from ..transport.manager import TransportManager

log = logging.getLogger("ksrpy")

_CLASS_COUNTERS = {n: f"{n}xx_replies" for n in range(1, 7)}

class ModuleInitError(ValueError):
    """A module's init hook failed (bad parameters, missing resources)."""


#: Modules every engine has, whatever the script loads (Kamailio's core KEMI,
#: the pv getters and KSR.x flow control).
CORE_MODULES = ("core", "pv", "x", "hdr")


class Engine:
    """Runs route scripts on received messages and sends what they decide."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.modules: dict[str, Module] = {}
        self.routes: Routes | None = None
        self.transport: TransportManager | None = None
        self.myself = Myself([])
        self.stats: Counter[str] = Counter()
        self.started = time.time()
        self.badlog = RateLimitedLog(log, interval=10.0)
        self._local_specs: dict[tuple[str, str, int], ListenSpec] = {}
        #: True while this engine runs a route (reloads wait for the gap between messages).
        self.routing = False
        #: The tm module once loaded: it sees requests (retransmissions) and replies first.
        self.tm: Any = None
        for name in CORE_MODULES:
            self.load_module(name)

    @property
    def current(self) -> Context | None:
        """The message being routed now (what KSR functions act on)."""
        return CURRENT.ctx

    @current.setter
    def current(self, ctx: Context | None) -> None:
        CURRENT.ctx = ctx

    # ----------------------------------------------------------------- modules

    def load_module(self, name: str, settings: dict[str, Any] | None = None) -> Module:
        """Instantiate module ``name`` (once); KeyError names a module ksrpy lacks."""
        if name in self.modules:
            module = self.modules[name]
            for key, value in (settings or {}).items():
                module.set_param(key, value)
            return module
        cls = load_module_class(name)
        module = cls(self, settings)
        self.modules[name] = module
        return module

    def init_modules(self) -> None:
        """Call every module's init hook once the script and parameters are known.

        A failure names the module (ModuleInitError), so ``ksrpy run`` can say what
        went wrong instead of printing a traceback.
        """
        for name, module in list(self.modules.items()):
            try:
                module.init()
            except Exception as exc:  # noqa: BLE001 - reported with the module's name
                raise ModuleInitError(f"module {name!r} cannot start: {exc}") from exc

    def set_routes(self, routes: Routes) -> None:
        """Install a compiled script; takes effect from the next message."""
        self.routes = routes

    def attach_transport(self, transport: TransportManager) -> None:
        """Use ``transport`` for sending; learn local sockets for ``myself``."""
        self.transport = transport
        aliases = [_split_alias(a) for a in self.config.alias]
        self.myself = Myself(list(transport.bound), aliases)

    # --------------------------------------------------------------- receiving

    def handle(self, data: bytes, rcv: ReceiveInfo) -> None:
        """Process one received message (the transport handler). Never raises."""
        self.stats["rcv_messages"] += 1
        try:
            msg = SIPMessage.parse(data)
        except SIPParseError as exc:
            self._on_parse_error(exc, rcv)
            return
        ctx = Context(self, msg, rcv)
        try:
            if msg.is_request:
                self._on_request(ctx)
            else:
                self._on_reply(ctx)
        except Exception as exc:  # noqa: BLE001 - the server must go on
            self.stats["errors"] += 1
            self.badlog.warning(
                rcv.src_ip, "error processing message from %s:%d: %s", rcv.src_ip,
                rcv.src_port, exc,
            )
        finally:
            self.current = None
            self.routing = False

    def _on_parse_error(self, exc: SIPParseError, rcv: ReceiveInfo) -> None:
        self.stats["bad_messages"] += 1
        if exc.can_reply:
            ctx = Context(self, exc.scan, rcv)
            try:
                if ctx.msg.method != "ACK":
                    self.send_reply(ctx, exc.status, exc.reason)
                    return
            except SIPError:
                pass
        self.badlog.warning(
            rcv.src_ip, "dropped unparsable message from %s:%d (%s): %s",
            rcv.src_ip, rcv.src_port, rcv.proto, exc.reason,
        )

    def _on_request(self, ctx: Context) -> None:
        msg = ctx.msg
        # tm first: the ACK of a stateful local reply (its To tag looks like sl's) must
        # reach its transaction, or the reply is retransmitted until timer H.
        if self.tm is not None and self.tm.absorb(ctx):
            return
        if msg.method == "ACK" and self._is_sl_ack(msg):
            # The ACK of a stateless negative reply ends here (Kamailio sl "filtered ACK").
            self.stats["sl_filtered_acks"] += 1
            return
        routes = self.routes
        if routes is None or routes.request is None:
            return
        self.run_route(routes.request, ctx, routes)
        refused = ctx.extra.get("tm_refused")
        if refused and not ctx.replied and msg.method != "ACK":
            # tm had no room for the transaction and the script did not answer: 503.
            self.send_reply(ctx, refused, "Service Unavailable")

    def _on_reply(self, ctx: Context) -> None:
        routes = self.routes
        if routes is not None and routes.reply is not None:
            self.run_route(routes.reply, ctx, routes)
            if ctx.drop:
                return
        if self.tm is not None and self.tm.on_reply(ctx):
            return
        self.forward_reply(ctx)

    def _is_sl_ack(self, msg: SIPMessage) -> bool:
        try:
            tag = msg.to.tag
        except SIPError:
            return False
        return bool(tag) and tag.startswith(SL_TAG_PREFIX)

    def run_route(self, route: Callable[[Context], Any], ctx: Context, routes: Routes) -> None:
        """Run one route function; exit/drop stop it, an error is logged and drops."""
        self.current = ctx
        self.routing = True
        try:
            route(ctx)
        except ScriptExit:
            pass
        except SystemExit:
            # sys.exit() inside a Python route is an exit, not the end of the server.
            pass
        except Exception as exc:  # noqa: BLE001 - a broken route must not stop the server
            ctx.drop = True
            self.stats["script_errors"] += 1
            where = describe_script_error(exc, routes.files)
            self.badlog.warning(
                where, "route error at %s: %s: %s (message from %s:%d dropped)",
                where, type(exc).__name__, exc, ctx.rcv.src_ip, ctx.rcv.src_port,
            )

    # ----------------------------------------------------------------- sending

    def send(
        self,
        proto: str,
        ip: str,
        port: int,
        data: bytes,
        *,
        conn_id: int | None = None,
        no_connect: bool = False,
        local: ListenSpec | None = None,
    ) -> bool:
        """Hand bytes to the transport; False when they cannot be sent."""
        if self.transport is None:
            return False
        return self.transport.send(
            proto, ip, port, data, conn_id=conn_id, no_connect=no_connect, local=local
        )

    def send_reply(
        self,
        ctx: Context,
        code: int,
        reason: str | None = None,
        headers: list[str] | tuple[str, ...] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> bool:
        """Send a stateless reply to the request in ``ctx`` (RFC 3261 §18.2.2)."""
        msg, rcv = ctx.msg, ctx.rcv
        force_rport = bool(ctx.extra.get("force_rport"))
        data = build_reply(
            msg,
            code,
            reason,
            src_ip=rcv.src_ip,
            src_port=rcv.src_port,
            to_tag=stateless_to_tag(msg),
            force_rport=force_rport,
            headers=[*ctx.reply_lumps, *headers, *self._warning(ctx)],
            server_header=self.config.server_header_line,
            body=body,
            content_type=content_type,
        )
        ip, port = reply_destination(ctx, force_rport)
        sent = self.send(
            rcv.proto,
            ip,
            port,
            data,
            conn_id=rcv.conn_id,
            no_connect=ctx.reply_no_connect,
            local=self.local_spec(rcv),
        )
        ctx.replied = True
        stats = self.stats
        stats["sent_replies"] += 1
        stats[_CLASS_COUNTERS[code // 100]] += 1
        return sent

    def _warning(self, ctx: Context) -> list[str]:
        """Kamailio's sip_warning debug header (off by default: it leaks internals)."""
        if not self.config.sip_warning:
            return []
        rcv = ctx.rcv
        vias = len(ctx.msg.get_header_values("Via"))
        return [f'Warning: 392 {rcv.dst_ip}:{rcv.dst_port} "Noisy feedback tells: '
                f"pid={os.getpid()} req_src_ip={rcv.src_ip} req_src_port={rcv.src_port} "
                f'in_uri={ctx.msg.ruri} out_uri={ctx.ruri} via_cnt=={vias}"']

    def local_spec(self, rcv: ReceiveInfo) -> ListenSpec:
        """The local socket a message arrived on, as a ListenSpec (cached: it validates)."""
        key = (rcv.proto, rcv.dst_ip, rcv.dst_port)
        spec = self._local_specs.get(key)
        if spec is None:
            if len(self._local_specs) > 1024:
                self._local_specs.clear()
            spec = self._local_specs[key] = ListenSpec(*key)
        return spec

    def local_socket(self, proto: str, af: int, prefer: ListenSpec | None = None) -> ListenSpec:
        """The listen socket to send from: ``prefer`` when it fits, else the first match."""
        bound = self.transport.bound if self.transport is not None else []
        matches = [s for s in bound if s.proto == proto and s.af == af]
        if not matches:
            raise ForwardError(f"no {proto} socket for IPv{af} to send from")
        if prefer is not None:
            for spec in matches:
                if spec.host == prefer.host and spec.port == prefer.port:
                    return spec
        return matches[0]

    def outbound(self, target: str, rcv: ReceiveInfo) -> tuple[NextHop, ListenSpec]:
        """Where a request for ``target`` goes and the socket it leaves from (ForwardError).

        The socket is the one the request came in on when it fits the next hop's
        transport and address family, else the first that does.
        """
        hop = next_hop(target)
        return hop, self.local_socket(hop.proto, 6 if ":" in hop.ip else 4, self.local_spec(rcv))

    def forward_request(self, ctx: Context, uri: str | None = None) -> bool:
        """Forward the request statelessly to ``uri``, else $du, else the R-URI."""
        target = uri or ctx.dst_uri or ctx.ruri
        rcv = ctx.rcv
        try:
            hop, local = self.outbound(target, rcv)
        except ForwardError as exc:
            ctx.extra["last_error"] = (500, "Unable to forward")
            self.badlog.warning(target, "cannot forward to %s: %s", target, exc)
            return False
        msg = ctx.msg
        # RFC 3261 §18.2.1 / RFC 3581: the next hop sees where the request came from.
        data = outgoing_request(ctx, local, ctx.new_ruri, stateless_branch(ctx))
        sent = self.send(hop.proto, hop.ip, hop.port, data, no_connect=ctx.forward_no_connect,
                         local=local)
        if sent:
            ctx.forwarded = True
            self.stats["fwd_requests"] += 1
            if msg.method == "ACK" and self.tm is not None:
                self.tm.notify_request(ctx, "ack")
        else:
            ctx.extra["last_error"] = (477, "Unfortunately error on sending to next hop occurred")
            self.stats["fwd_failed"] += 1
        return sent

    def forward_reply(self, ctx: Context) -> bool:
        """Relay a reply statelessly to the next Via, when the top Via is ours."""
        msg = ctx.msg
        vias = msg.vias
        if len(vias) < 2:
            return False
        top = vias[0]
        if not self.myself.is_myself(top.host, top.port, top.transport.lower()):
            self.badlog.warning(
                ctx.rcv.src_ip, "reply from %s:%d with a top Via not ours dropped",
                ctx.rcv.src_ip, ctx.rcv.src_port,
            )
            return False
        msg.remove_top_via()
        nxt = vias[1]
        ip = nxt.received or nxt.host.strip("[]")
        port = int(nxt.rport) if nxt.rport else (nxt.port or 5060)
        return self.send(nxt.transport.lower(), ip, port, msg.to_bytes(),
                         no_connect=ctx.forward_no_connect)


def reply_destination(ctx: Context, force_rport: bool = False) -> tuple[str, int]:
    """Where a reply goes: the source IP, and the source port when rport asks for it.

    Over TCP the transport prefers the connection the request came on; this
    address is used only when that connection is gone (RFC 3261 §18.2.2).
    """
    rcv = ctx.rcv
    try:
        via = ctx.msg.via1
    except SIPError:
        return rcv.src_ip, rcv.src_port
    if force_rport or via.rport is not None:
        return rcv.src_ip, rcv.src_port
    return rcv.src_ip, via.port or (5061 if via.transport == "TLS" else 5060)


def _split_alias(text: str) -> tuple[str, int | None]:
    """'host[:port]' (IPv6 in brackets) -> (host, port or None)."""
    text = text.strip()
    if ":" in text.split("]")[-1]:
        host, _, port = text.rpartition(":")
        return host.strip("[]"), int(port)
    return text.strip("[]"), None
