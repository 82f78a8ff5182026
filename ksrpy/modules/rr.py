"""rr: Record-Route insertion and Route processing (Kamailio's rr, RFC 3261 §16.4, §16.6, §16.12).

What is written follows Kamailio 5.6.3 on the wire (checked against a running
rr.so): ``Record-Route: <sip:IP[:PORT][;transport=tcp][;r2=on];lr;ftag=TAG
[params][add_rr_param params]>`` above the other headers (and above the Via the
forwarder pushes), the port left out when it is 5060, two headers (outbound
first) when the request leaves through another socket than it came in on.
Return codes are those of Kamailio's loose.c / rr_mod.c.

Double record-routing needs the socket the request leaves from, which is only
known when it is sent. ``record_route`` guesses it from the current target
($du, else the R-URI) with ``Engine.local_socket`` and writes the headers at
once, and it also appends a hook to ``ctx.extra["on_send"]``: a list of
callables ``hook(ctx, local: ListenSpec) -> list[str]``. The senders (tm's
branches and the stateless ``forward``) call every hook right before
serialising, inside ``msg.temporary_edits()`` (``core.forward.run_send_hooks``),
and add the returned header lines at the top, so the headers fit the socket
really used even when $du or the R-URI changes after record_route(); the rr
hook rewrites its own Record-Route edit and returns no lines.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.forward import ForwardError
from ..sip.errors import SIPError
from ..sip.headers import HeaderId
from ..sip.nameaddr import parse_name_addr, split_header_values
from ..sip.uri import SipURI, parse_uri
from .exports import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    REQUEST_ROUTE,
    Module,
    ParamExport,
    export,
)
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context
    from ..sip.message import SIPMessage
    from ..transport.address import ListenSpec

log = logging.getLogger("ksrpy.rr")

#: Kamailio's return codes (loose.h).
RR_DRIVEN = 1
RR_NOT_DRIVEN = -1
RR_ERROR = -1
RR_PRELOADED = -3
#: Kamailio's E_CFG: is_direction with a bad direction or append_fromtag off.
E_CFG = -6

_RR_ROUTES = REQUEST_ROUTE | BRANCH_ROUTE | FAILURE_ROUTE
_SIP_PORT = 5060
_STATE = "rr"
_ON_SEND = "on_send"


@dataclass
class _RRState:
    """What rr knows about one message: its Record-Route edit and the routed Route params."""

    added: bool = False
    kind: str = ""  # "auto" (record_route), "adv" (advertised address), "preset"
    params: str = ""  # record_route([params]) argument
    data: tuple[str, ...] = ()  # preset strings / advertised address
    rr_params: list[str] = field(default_factory=list)  # add_rr_param, in call order
    seq: int | None = None  # the message edit holding our Record-Route lines
    hooked: bool = False
    routed_params: str | None = None  # ";lr;ftag=..." of our Route (after loose_route)
    route_addr: bool = False  # next hop taken from a Route header


def _state(ctx: Context) -> _RRState:
    state = ctx.extra.get(_STATE)
    if state is None:
        state = ctx.extra[_STATE] = _RRState()
    return state


# ------------------------------------------------------------- message edits
# rr keeps the edit id of its Record-Route insert so that add_rr_param,
# remove_record_route and the send hook can rewrite exactly that edit
# (SIPMessage.rewrite_edit).


def _insert_top(msg: SIPMessage, data: bytes) -> int:
    """Insert header lines at the top of the header block; return the edit's id."""
    msg.add_raw_header_lines(data, top=True)
    return msg.last_edit_id


# ------------------------------------------------------------------- helpers


def _hostport(host: str, port: int | None) -> str:
    """``host[:port]`` as Kamailio writes it in a Record-Route (no port when 5060)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is None or port == _SIP_PORT:
        return host
    return f"{host}:{port}"


def _maddr_uri(uri: SipURI) -> str:
    """The URI to route to: ``sip:<maddr>[:port]`` when it has a maddr parameter."""
    maddr = uri.params.get("maddr") if uri.is_sip else None
    if not maddr:
        return str(uri)
    return f"sip:{maddr}:{uri.port}" if uri.port is not None else f"sip:{maddr}"


def _uri_params_text(uri: SipURI) -> str:
    """The URI parameters as written, with the leading ';' ('' when none)."""
    return str(uri.params)


class RrModule(Module):
    """Record-Route and loose/strict Route processing (Kamailio's rr)."""

    name = "rr"
    kemi_namespace = "rr"
    params = (
        ParamExport("enable_full_lr", int, 0, "Write ';lr=on' instead of ';lr'."),
        ParamExport("append_fromtag", int, 1,
                    "Add ';ftag=<From tag>' to Record-Route (needed by is_direction)."),
        ParamExport("enable_double_rr", int, 1,
                    "Two Record-Route headers when the request changes socket (2: always two,"
                    " each with an explicit transport)."),
        ParamExport("add_username", int, 0, "Put the R-URI user into the Record-Route URI."),
        ParamExport("enable_socket_mismatch_warning", int, 1,
                    "Accepted for compatibility (ksrpy does not force send sockets)."),
        ParamExport("custom_user_avp", str, "",
                    "An $avp(name) whose value is the Record-Route user (with add_username)."),
        ParamExport("force_send_socket", int, 0,
                    "Accepted for compatibility; no effect (no forced send sockets yet)."),
        ParamExport("ignore_sips", int, 0,
                    "Always build sip: Record-Routes, even for sips: R-URIs."),
        ParamExport("sockname_mode", int, 0,
                    "Accepted for compatibility; no effect (no socket names yet)."),
        ParamExport("ignore_user", str, "",
                    "A Route/R-URI user meaning 'not this proxy' (ENABLE_USER_CHECK)."),
    )

    # ----------------------------------------------------------- is it us?

    def _is_myself(self, uri: SipURI) -> bool:
        """Kamailio's rr is_myself: host and port (default 5060) are ours, not a GRUU."""
        if not uri.is_sip or not uri.host:
            return False
        if not self.engine.myself.is_myself(uri.host, uri.port or _SIP_PORT):
            return False
        ignore = self.settings["ignore_user"]
        if ignore and uri.user == ignore:
            return False
        return "gr" not in uri.params

    # ------------------------------------------------------- record-routing

    def _in_spec(self, ctx: Context) -> ListenSpec:
        """The listen socket the request came in on (with its advertised address)."""
        rcv = ctx.rcv
        bound = self.engine.transport.bound if self.engine.transport is not None else []
        for spec in bound:
            if spec.proto == rcv.proto and spec.port == rcv.dst_port and (
                spec.host == rcv.dst_ip or spec.is_any
            ):
                return spec
        return self.engine.local_spec(rcv)

    def _guess_out(self, ctx: Context) -> ListenSpec | None:
        """The socket the request will leave from, judged from $du or the R-URI now."""
        try:
            return self.engine.outbound(ctx.dst_uri or ctx.ruri, ctx.rcv)[1]
        except (ForwardError, SIPError):
            return None

    def _address(self, ctx: Context, spec: ListenSpec) -> tuple[str, int | None]:
        """Host and port a socket is known by (advertised, else its address)."""
        if spec.advertise is not None:
            host, port = spec.advertise
            return host, port or spec.port
        if spec.is_any:
            rcv = ctx.rcv
            same_af = (":" in rcv.dst_ip) == (spec.af == 6)
            return (rcv.dst_ip if same_af else spec.host), spec.port
        return spec.host, spec.port

    def _user(self, ctx: Context) -> str:
        """The Record-Route user part with add_username (custom AVP, R-URI, new R-URI)."""
        if not self.settings["add_username"]:
            return ""
        avp = self.settings["custom_user_avp"]
        match = re.fullmatch(r"\$avp\((?:s:)?([^)]+)\)", avp.strip()) if avp else None
        if match and ctx.avps:
            values = ctx.avps.get(match.group(1))
            if values and isinstance(values[0], str) and values[0]:
                return values[0]
        for text in (ctx.msg.ruri, ctx.ruri):
            try:
                user = parse_uri(text).user
            except SIPError:
                continue
            if user:
                return user
        return ""

    def _ftag(self, ctx: Context) -> str:
        if not self.settings["append_fromtag"]:
            return ""
        return ctx.msg.from_.tag or ""

    def _prefix(self, ctx: Context) -> str:
        sips = False
        if not self.settings["ignore_sips"]:
            uri = ctx.ruri_uri()
            sips = uri is not None and uri.scheme == "sips"
        user = self._user(ctx)
        return ("<sips:" if sips else "<sip:") + (f"{user}@" if user else "")

    def _lr(self) -> str:
        return ";lr=on" if self.settings["enable_full_lr"] else ";lr"

    def _render(self, ctx: Context, state: _RRState, out: ListenSpec | None) -> bytes:
        """The Record-Route line(s) for the current state, sending through ``out``."""
        tag = self._ftag(ctx)
        ftag = f";ftag={tag}" if tag else ""
        prefix = self._prefix(ctx)
        extra = "".join(state.rr_params)
        if state.kind == "preset":
            lines = [f"Record-Route: {prefix}{d}{ftag}{self._lr()}>" for d in state.data]
            return "".join(f"{line}\r\n" for line in lines).encode()
        in_spec = self._in_spec(ctx)
        double_mode = self.settings["enable_double_rr"]
        if state.kind == "adv":
            address = state.data[0]
            diff_proto = out is not None and out.proto != in_spec.proto
            r2 = ";r2=on" if double_mode and out is not None and self._diff_realms(
                ctx, in_spec, out) else ""
            specs = [out, in_spec] if double_mode and diff_proto and out is not None else [in_spec]
            lines = []
            for spec in specs:
                transport = f";transport={spec.proto}" if diff_proto and spec else ""
                lines.append(f"Record-Route: {prefix}{address}{transport}{r2}{ftag}{self._lr()}"
                             f"{extra}>")
            return "".join(f"{line}\r\n" for line in lines).encode()
        always = double_mode == 2
        double = always or (
            double_mode and out is not None and self._diff_realms(ctx, in_spec, out)
        )
        specs = [out, in_spec] if double and out is not None else [in_spec]
        lines = []
        for spec in specs:
            host, port = self._address(ctx, spec)
            transport = f";transport={spec.proto}" if spec.proto != "udp" or always else ""
            r2 = ";r2=on" if double else ""
            lines.append(f"Record-Route: {prefix}{_hostport(host, port)}{transport}{r2}"
                         f"{self._lr()}{ftag}{state.params}{extra}>")
        return "".join(f"{line}\r\n" for line in lines).encode()

    def _diff_realms(self, ctx: Context, a: ListenSpec, b: ListenSpec) -> bool:
        """True when two sockets differ in protocol, address or port (Kamailio's realms)."""
        return a.proto != b.proto or self._address(ctx, a) != self._address(ctx, b)

    def _write(self, ctx: Context, state: _RRState) -> None:
        """Insert (or rewrite) our Record-Route edit and register the send hook once."""
        data = self._render(ctx, state, self._guess_out(ctx))
        if state.seq is None or not ctx.msg.rewrite_edit(state.seq, data):
            state.seq = _insert_top(ctx.msg, data)
        if not state.hooked and state.kind != "preset":
            state.hooked = True
            ctx.extra.setdefault(_ON_SEND, []).append(self._on_send)

    def _on_send(self, ctx: Context, local: ListenSpec) -> list[str]:
        """Send hook: fit the Record-Route to the socket really used; adds no lines."""
        state = ctx.extra.get(_STATE)
        if state is not None and state.added and state.seq is not None:
            ctx.msg.rewrite_edit(state.seq, self._render(ctx, state, local))
        return []

    def _record(self, ctx: Context, kind: str, params: str = "",
                data: tuple[str, ...] = ()) -> int:
        state = _state(ctx)
        if state.added:
            log.error("rr: double attempt to record-route")
            return -1
        try:
            self._ftag(ctx)
        except SIPError:
            return -1
        state.kind, state.params, state.data = kind, params, data
        state.added = ctx.route_type != BRANCH_ROUTE or kind == "preset"
        self._write(ctx, state)
        return 1

    @export("record_route", ("params", K.SPVE, True), routes=_RR_ROUTES)
    def record_route(self, ctx: Context, params: str | None = None) -> int:
        """Add our Record-Route (params appended to its URI); 1, or -1 when already added."""
        return self._record(ctx, "auto", params or "")

    @export("record_route_params", ("params", K.SPVE), cfg=False, routes=_RR_ROUTES)
    def record_route_params(self, ctx: Context, params: str) -> int:
        """record_route with URI parameters (KEMI form)."""
        return self._record(ctx, "auto", params or "")

    @export("record_route_preset", ("address", K.SPVE), ("address2", K.SPVE, True),
            routes=_RR_ROUTES)
    def record_route_preset(self, ctx: Context, address: str, address2: str | None = None
                            ) -> int:
        """Record-Route with the given address(es) ('host:port;params', no scheme); 1 / -1."""
        if address2 and not self.settings["enable_double_rr"]:
            log.error("rr: record_route_preset with two addresses needs enable_double_rr")
            return -1
        data = (address, address2) if address2 else (address,)
        return self._record(ctx, "preset", "", data)

    @export("record_route_preset_one", ("address", K.SPVE), cfg=False, routes=_RR_ROUTES)
    def record_route_preset_one(self, ctx: Context, address: str) -> int:
        """record_route_preset with one address (KEMI form)."""
        return self.record_route_preset(ctx, address)

    @export("record_route_advertised_address", ("address", K.SPVE), routes=_RR_ROUTES)
    def record_route_advertised_address(self, ctx: Context, address: str) -> int:
        """Record-Route with this address instead of the socket's; 1 / -1."""
        return self._record(ctx, "adv", "", (address,))

    @export("add_rr_param", ("param", K.SPVE), routes=_RR_ROUTES)
    def add_rr_param(self, ctx: Context, param: str) -> int:
        """Append ';name=value' to our Record-Route URI (before or after record_route); 1."""
        state = _state(ctx)
        state.rr_params.append(param)
        if state.seq is not None and state.kind != "preset":
            self._write(ctx, state)
        return 1

    @export("remove_record_route", routes=REQUEST_ROUTE | FAILURE_ROUTE)
    def remove_record_route(self, ctx: Context) -> int:
        """Take back the Record-Route header(s) added to this request; 1."""
        state = ctx.extra.get(_STATE)
        if state is not None and state.seq is not None:
            ctx.msg.rewrite_edit(state.seq, b"")
            state.seq = None
            state.kind = ""
        return 1

    # -------------------------------------------------------- route processing

    def _routes(self, msg: SIPMessage) -> list[tuple[int, str]] | None:
        """Every Route entry as (header line index, text); None when there is none."""
        values = msg.get_headers("Route")
        if not values:
            return None
        return [(i, e) for i, v in enumerate(values) for e in split_header_values(v)]

    def _delete_routes(self, msg: SIPMessage, entries: list[tuple[int, str]],
                       drop: set[int]) -> None:
        """Remove Route entries by flat index, rewriting or removing their header lines."""
        spans = msg.spans_of(HeaderId.ROUTE)
        for line in sorted({entries[n][0] for n in drop}):
            keep = [e for n, (i, e) in enumerate(entries) if i == line and n not in drop]
            ns, _ne, vs, ve, le = spans[line]
            if keep:
                msg.splice(vs, ve, ", ".join(keep).encode())
            else:
                msg.splice(ns, le, b"")

    def _loose_route(self, ctx: Context, mode: int) -> int:
        """Kamailio's loose_route_mode: RFC 3261 §16.4 Route processing."""
        msg = ctx.msg
        if not msg.is_request:
            return -1
        entries = self._routes(msg)
        if entries is None:
            return RR_NOT_DRIVEN
        try:
            uris = [parse_name_addr(e).uri for _i, e in entries]
            to_tag = msg.to.tag
        except SIPError as exc:
            log.warning("rr: cannot parse Route/To: %s", exc)
            return RR_ERROR
        ruri = ctx.ruri_uri()
        if ruri is None:
            return RR_ERROR
        state = _state(ctx)
        state.routed_params = None
        state.route_addr = False
        if not to_tag:
            return self._after_loose(ctx, state, entries, uris, preloaded=True)
        if mode == 0 and self._is_myself(ruri):
            return self._after_strict(ctx, state, entries, uris, ruri)
        return self._after_loose(ctx, state, entries, uris, preloaded=False)

    def _after_loose(self, ctx: Context, state: _RRState, entries: list[tuple[int, str]],
                     uris: list[SipURI], *, preloaded: bool) -> int:
        """The previous hop was a loose router: drop our Route(s), route to the next one."""
        msg = ctx.msg
        drop: set[int] = set()
        status = RR_DRIVEN
        first = uris[0]
        nxt = 0
        if self._is_myself(first):
            state.routed_params = _uri_params_text(first)
            drop.add(0)
            nxt = 1
            if nxt < len(uris) and self.settings["enable_double_rr"] and "r2" in first.params:
                drop.add(1)
                nxt = 2
            if nxt >= len(uris):
                self._delete_routes(msg, entries, drop)
                return RR_PRELOADED if preloaded else RR_DRIVEN
            state.route_addr = True
        target = uris[nxt]
        if "lr" not in target.params:
            # RFC 3261 §16.6 step 6: the next hop is a strict router.
            msg.add_header("Route", f"<{msg.ruri}>")
            ctx.new_ruri = _maddr_uri(target)
            drop.add(nxt)
        else:
            ctx.dst_uri = _maddr_uri(target)
        self._delete_routes(msg, entries, drop)
        return status

    def _after_strict(self, ctx: Context, state: _RRState, entries: list[tuple[int, str]],
                      uris: list[SipURI], ruri: SipURI) -> int:
        """The previous hop was a strict router (our address is the R-URI), §16.4."""
        msg = ctx.msg
        drop: set[int] = set()
        nxt = 0
        first = uris[0]
        if self.settings["enable_double_rr"] and "r2" in first.params and self._is_myself(first):
            drop.add(0)
            nxt = 1
            if nxt >= len(uris):
                self._delete_routes(msg, entries, drop)
                return RR_NOT_DRIVEN
        state.routed_params = _uri_params_text(ruri)
        target = uris[nxt]
        if "lr" not in target.params:
            ctx.new_ruri = _maddr_uri(target)
            drop.add(nxt)
        else:
            ctx.dst_uri = _maddr_uri(target)
            last = len(uris) - 1
            ctx.new_ruri = _maddr_uri(uris[last])
            drop.add(last)
        self._delete_routes(msg, entries, drop)
        return RR_DRIVEN

    @export("loose_route", routes=REQUEST_ROUTE)
    def loose_route(self, ctx: Context) -> int:
        """Route by the Route set: 1 routed; -1 no Route/error; -3 preloaded Route was only us."""
        return self._loose_route(ctx, 0)

    @export("loose_route_preloaded", routes=REQUEST_ROUTE)
    def loose_route_preloaded(self, ctx: Context) -> int:
        """loose_route, true (1) only when it returns -3 (a preloaded Route naming only us)."""
        return 1 if self._loose_route(ctx, 0) == RR_PRELOADED else -1

    @export("loose_route_mode", ("mode", K.IGP), routes=REQUEST_ROUTE)
    def loose_route_mode(self, ctx: Context, mode: int | str) -> int:
        """loose_route; mode 1 skips the strict-router test (R-URI is us)."""
        return self._loose_route(ctx, int(mode))

    # ------------------------------------------------------- routed parameters

    def _routed_params(self, ctx: Context) -> str | None:
        """The parameters of our Route (from loose_route, else the top Route if ours)."""
        state = ctx.extra.get(_STATE)
        if state is not None and state.routed_params is not None:
            return state.routed_params
        if not ctx.msg.is_request:
            return None
        values = ctx.msg.get_header_values("Route")
        if not values:
            return None
        try:
            uri = parse_name_addr(values[0]).uri
        except SIPError:
            return None
        return _uri_params_text(uri) if self._is_myself(uri) else None

    @export("check_route_param", ("regexp", K.STR), routes=REQUEST_ROUTE)
    def check_route_param(self, ctx: Context, regexp: str) -> int:
        """1 when our Route's URI params (';lr;ftag=...') match the regexp (any case), else -1."""
        params = self._routed_params(ctx)
        if not params:
            return -1
        try:
            found = re.search(regexp, params, re.IGNORECASE)
        except re.error as exc:
            log.error("rr: bad regular expression %r: %s", regexp, exc)
            return -1
        return 1 if found else -1

    @export("is_direction", ("direction", K.STR), routes=REQUEST_ROUTE)
    def is_direction(self, ctx: Context, direction: str) -> int:
        """1 when the request flows 'downstream' (caller to callee) or 'upstream' as asked."""
        if not self.settings["append_fromtag"]:
            log.error("rr: is_direction needs modparam append_fromtag enabled")
            return E_CFG
        wanted = direction.lower()
        if wanted not in ("downstream", "upstream"):
            log.error("rr: unknown direction %r - use 'downstream' or 'upstream'", direction)
            return E_CFG
        return 1 if self._direction(ctx) == wanted else -1

    def _direction(self, ctx: Context) -> str:
        """'upstream' when the From tag is not our Route's ftag, else 'downstream'."""
        params = self._routed_params(ctx)
        if not params:
            return "downstream"
        ftag = None
        for part in params.split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() == "ftag":
                ftag = value.strip().strip('"')
                break
        if not ftag:
            return "downstream"
        try:
            tag = ctx.msg.from_.tag
        except SIPError:
            return "downstream"
        if not tag:
            return "downstream"
        return "downstream" if tag == ftag else "upstream"

    @export("rr_next_hop_route", kemi="next_hop_route", routes=ANY_ROUTE)
    def rr_next_hop_route(self, ctx: Context) -> int:
        """1 when loose_route took the next hop from a Route header, else -1."""
        state = ctx.extra.get(_STATE)
        return 1 if state is not None and state.route_addr else -1
