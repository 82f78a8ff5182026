"""Core functions: methods, flags, myself checks, logging and send flags (KSR.* itself)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..sip.errors import SIPError
from ..sip.uri import SipURI, parse_uri
from .exports import ANY_ROUTE, FAILURE_ROUTE, REQUEST_ROUTE, Module, Returns, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context

script_log = logging.getLogger("ksrpy.script")
log = logging.getLogger("ksrpy.core")
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: is_method_in() letters, as Kamailio's core KEMI.
METHOD_LETTERS: dict[str, str] = {
    "I": "INVITE", "A": "ACK", "B": "BYE", "C": "CANCEL", "M": "MESSAGE",
    "R": "REGISTER", "E": "PRACK", "P": "PUBLISH", "S": "SUBSCRIBE", "N": "NOTIFY",
    "O": "OPTIONS", "F": "REFER", "G": "GET", "U": "UPDATE", "K": "KDMQ",
    "D": "DELETE", "T": "POST", "V": "PUT",
}

#: Kamailio log levels (L_ALERT -5 ... L_DBG 3) -> Python logging levels.
KAMAILIO_LEVELS: dict[int, int] = {
    -5: logging.CRITICAL, -4: logging.CRITICAL, -3: logging.CRITICAL, -2: logging.CRITICAL,
    -1: logging.ERROR, 0: logging.WARNING, 1: NOTICE, 2: logging.INFO, 3: logging.DEBUG,
}

B = Returns.BOOL


def _method_is(ctx: Context, name: str) -> bool:
    return ctx.msg.method == name


class CoreModule(Module):
    """Kamailio core KEMI exports: available as ``KSR.<function>``."""

    name = "core"
    kemi_namespace = ""

    # ------------------------------------------------------------- methods
    @export("is_method", ("method", K.STR), returns=B, cfg=False)
    def is_method(self, ctx: Context, method: str) -> int:
        """True when the request method (CSeq method for replies) equals ``method``."""
        return 1 if ctx.msg.method.upper() == method.upper() else -1

    @export("is_method_in", ("letters", K.STR), returns=B)
    def is_method_in(self, ctx: Context, letters: str) -> int:
        """True when the method is one of the letters (I INVITE, A ACK, B BYE, C CANCEL ...)."""
        method = ctx.msg.method
        for letter in letters.upper():
            if METHOD_LETTERS.get(letter) == method:
                return 1
        return -1

    def _is(method: str):  # type: ignore[no-untyped-def]  # noqa: N805 - class-body helper
        def check(self: CoreModule, ctx: Context) -> int:
            return 1 if ctx.msg.method == method else -1

        check.__doc__ = f"True for a {method} request (or reply to one)."
        check.__name__ = f"is_{method}"
        return export(f"is_{method}", returns=B, cfg=False)(check)

    is_INVITE = _is("INVITE")
    is_ACK = _is("ACK")
    is_BYE = _is("BYE")
    is_CANCEL = _is("CANCEL")
    is_REGISTER = _is("REGISTER")
    is_OPTIONS = _is("OPTIONS")
    is_SUBSCRIBE = _is("SUBSCRIBE")
    is_PUBLISH = _is("PUBLISH")
    is_NOTIFY = _is("NOTIFY")
    is_REFER = _is("REFER")
    is_INFO = _is("INFO")
    is_UPDATE = _is("UPDATE")
    is_PRACK = _is("PRACK")
    is_MESSAGE = _is("MESSAGE")
    is_KDMQ = _is("KDMQ")
    is_GET = _is("GET")
    is_POST = _is("POST")
    is_PUT = _is("PUT")
    is_DELETE = _is("DELETE")
    del _is

    # ------------------------------------------------------------ transport
    @export("is_UDP", returns=B, cfg=False)
    def is_udp(self, ctx: Context) -> int:
        """True when the message came over UDP."""
        return 1 if ctx.rcv.proto == "udp" else -1

    @export("is_TCP", returns=B, cfg=False)
    def is_tcp(self, ctx: Context) -> int:
        """True when the message came over TCP."""
        return 1 if ctx.rcv.proto == "tcp" else -1

    @export("is_IPv4", returns=B, cfg=False)
    def is_ipv4(self, ctx: Context) -> int:
        """True when the message came over IPv4."""
        return 1 if ctx.rcv.af == 4 else -1

    @export("is_IPv6", returns=B, cfg=False)
    def is_ipv6(self, ctx: Context) -> int:
        """True when the message came over IPv6."""
        return 1 if ctx.rcv.af == 6 else -1

    @export("is_src_port", ("port", K.INT), returns=B, cfg=False)
    def is_src_port(self, ctx: Context, port: int) -> int:
        """True when the source port equals ``port``."""
        return 1 if ctx.rcv.src_port == int(port) else -1

    @export("is_dst_port", ("port", K.INT), returns=B, cfg=False)
    def is_dst_port(self, ctx: Context, port: int) -> int:
        """True when the local port the message arrived on equals ``port``."""
        return 1 if ctx.rcv.dst_port == int(port) else -1

    # --------------------------------------------------------------- myself
    def _uri_is_myself(self, uri: str | SipURI | None) -> int:
        if not uri:
            return -1
        if isinstance(uri, str):
            try:
                parsed = parse_uri(uri)
            except SIPError:
                return -1
        else:
            parsed = uri
        if not parsed.host:
            return -1
        proto = "tls" if parsed.scheme == "sips" else parsed.transport
        return 1 if self.engine.myself.is_myself(parsed.host, parsed.port, proto) else -1

    @export("is_myself", ("uri", K.STR), returns=B, cfg=False)
    def is_myself(self, ctx: Context, uri: str) -> int:
        """True when the URI's host and port are this server's."""
        return self._uri_is_myself(uri)

    @export("is_myself_ruri", returns=B, cfg=False)
    def is_myself_ruri(self, ctx: Context) -> int:
        """True when the current Request-URI points at this server."""
        return self._uri_is_myself(ctx.ruri_uri())

    @export("is_myself_duri", returns=B, cfg=False)
    def is_myself_duri(self, ctx: Context) -> int:
        """True when the destination URI points at this server."""
        return self._uri_is_myself(ctx.dst_uri)

    @export("is_myself_furi", returns=B, cfg=False)
    def is_myself_furi(self, ctx: Context) -> int:
        """True when the From URI points at this server."""
        try:
            return self._uri_is_myself(str(ctx.msg.from_.uri))
        except SIPError:
            return -1

    @export("is_myself_turi", returns=B, cfg=False)
    def is_myself_turi(self, ctx: Context) -> int:
        """True when the To URI points at this server."""
        try:
            return self._uri_is_myself(str(ctx.msg.to.uri))
        except SIPError:
            return -1

    @export("is_myself_srcip", returns=B, cfg=False)
    def is_myself_srcip(self, ctx: Context) -> int:
        """True when the source IP is an address of this server."""
        return 1 if self.engine.myself.is_local_address(ctx.rcv.src_ip) else -1

    # ---------------------------------------------------------------- flags
    @export("setflag", ("flag", K.INT), returns=B)
    def setflag(self, ctx: Context, flag: int) -> int:
        """Set message flag ``flag`` (0-63)."""
        ctx.set_flag(_flag(flag))
        return 1

    @export("resetflag", ("flag", K.INT), returns=B)
    def resetflag(self, ctx: Context, flag: int) -> int:
        """Reset message flag ``flag``."""
        ctx.reset_flag(_flag(flag))
        return 1

    @export("isflagset", ("flag", K.INT), returns=B)
    def isflagset(self, ctx: Context, flag: int) -> int:
        """True when message flag ``flag`` is set."""
        return 1 if ctx.is_flag_set(_flag(flag)) else -1

    @export("setbflag", ("flag", K.INT), returns=B)
    def setbflag(self, ctx: Context, flag: int) -> int:
        """Set branch flag ``flag`` of the main branch ($bf)."""
        ctx.extra["bflags"] = int(ctx.extra.get("bflags", 0)) | (1 << _flag(flag))
        return 1

    @export("resetbflag", ("flag", K.INT), returns=B)
    def resetbflag(self, ctx: Context, flag: int) -> int:
        """Reset branch flag ``flag`` of the main branch."""
        ctx.extra["bflags"] = int(ctx.extra.get("bflags", 0)) & ~(1 << _flag(flag))
        return 1

    @export("isbflagset", ("flag", K.INT), returns=B)
    def isbflagset(self, ctx: Context, flag: int) -> int:
        """True when branch flag ``flag`` of the main branch is set."""
        return 1 if int(ctx.extra.get("bflags", 0)) >> _flag(flag) & 1 else -1

    @export("set_drop", returns=B, cfg=False)
    def set_drop(self, ctx: Context) -> int:
        """Mark the message to be dropped when the route ends (does not stop the route)."""
        ctx.drop = True
        return 1

    # ----------------------------------------------------------- send flags
    @export("set_reply_no_connect", returns=B, routes=ANY_ROUTE)
    def set_reply_no_connect(self, ctx: Context) -> int:
        """Do not open a new TCP connection to send a reply (reuse only)."""
        ctx.reply_no_connect = True
        return 1

    @export("set_forward_no_connect", returns=B, routes=ANY_ROUTE)
    def set_forward_no_connect(self, ctx: Context) -> int:
        """Do not open a new TCP connection to forward this request (reuse only)."""
        ctx.forward_no_connect = True
        return 1

    @export("set_reply_close", returns=B)
    def set_reply_close(self, ctx: Context) -> int:
        """Close the TCP connection after sending the reply."""
        ctx.reply_close = True
        return 1

    @export("set_forward_close", returns=B)
    def set_forward_close(self, ctx: Context) -> int:
        """Close the TCP connection after forwarding."""
        ctx.forward_close = True
        return 1

    @export("force_rport", returns=B, routes=REQUEST_ROUTE)
    def force_rport(self, ctx: Context) -> int:
        """Reply to the source port as if the request carried ``rport`` (RFC 3581)."""
        ctx.extra["force_rport"] = True
        return 1

    @export("set_advertised_address", ("address", K.SPVE), returns=B)
    def set_advertised_address(self, ctx: Context, address: str) -> int:
        """Advertise ``address`` in our Via and Record-Route of this message only."""
        host = str(address).strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or any(c in host for c in " ;,<>\"[]"):
            log.error("set_advertised_address: invalid address %r", address)
            return -1
        _, port = ctx.extra.get("advertised") or (None, None)
        ctx.extra["advertised"] = (host, port)
        return 1

    @export("set_advertised_port", ("port", K.SPVE), returns=B)
    def set_advertised_port(self, ctx: Context, port: str) -> int:
        """Advertise ``port`` in our Via and Record-Route of this message only."""
        text = str(port).strip()
        if not text.isdigit() or not 0 < int(text) < 65536:
            log.error("set_advertised_port: invalid port %r", port)
            return -1
        host, _ = ctx.extra.get("advertised") or (None, None)
        ctx.extra["advertised"] = (host, int(text))
        return 1

    # ------------------------------------------------------------- R-URI/dst
    @export("seturi", ("uri", K.SPVE), returns=B)
    def seturi(self, ctx: Context, uri: str) -> int:
        """Replace the Request-URI."""
        parse_uri(uri)
        ctx.new_ruri = uri
        return 1

    @export("setdsturi", ("uri", K.SPVE), returns=B)
    def setdsturi(self, ctx: Context, uri: str) -> int:
        """Set the destination URI (next hop) without touching the Request-URI."""
        parse_uri(uri)
        ctx.dst_uri = uri
        return 1

    @export("resetdsturi", returns=B)
    def resetdsturi(self, ctx: Context) -> int:
        """Forget the destination URI."""
        ctx.dst_uri = None
        return 1

    @export("isdsturiset", returns=B)
    def isdsturiset(self, ctx: Context) -> int:
        """True when a destination URI is set."""
        return 1 if ctx.dst_uri else -1

    # ------------------------------------------------------------ forwarding
    @export("forward", ("uri", K.SPVE, True), kemi=None, routes=REQUEST_ROUTE | FAILURE_ROUTE)
    def forward(self, ctx: Context, uri: str | None = None) -> int:
        """Forward statelessly to ``uri``, else the destination URI, else the R-URI."""
        return 1 if self.engine.forward_request(ctx, uri or None) else -1

    @export("forward", kemi="forward", cfg=False, returns=Returns.INT)
    def forward_kemi(self, ctx: Context) -> int:
        """Forward statelessly to the destination URI or the R-URI."""
        return 1 if self.engine.forward_request(ctx) else -1

    @export("forward_uri", ("uri", K.STR), cfg=False, returns=Returns.INT)
    def forward_uri(self, ctx: Context, uri: str) -> int:
        """Forward statelessly to ``uri``."""
        return 1 if self.engine.forward_request(ctx, uri) else -1

    # -------------------------------------------------------------- logging
    def _log(self, level: int, text: str) -> None:
        script_log.log(level, "%s", text.rstrip("\n"))

    @export("dbg", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def dbg(self, ctx: Context, text: str) -> int:
        """Log at debug level."""
        self._log(logging.DEBUG, text)
        return 1

    @export("info", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def info(self, ctx: Context, text: str) -> int:
        """Log at info level."""
        self._log(logging.INFO, text)
        return 1

    @export("notice", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def notice(self, ctx: Context, text: str) -> int:
        """Log at notice level."""
        self._log(NOTICE, text)
        return 1

    @export("warn", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def warn(self, ctx: Context, text: str) -> int:
        """Log at warning level."""
        self._log(logging.WARNING, text)
        return 1

    @export("err", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def err(self, ctx: Context, text: str) -> int:
        """Log at error level."""
        self._log(logging.ERROR, text)
        return 1

    @export("crit", ("text", K.STR), returns=Returns.NONE, cfg=False)
    def crit(self, ctx: Context, text: str) -> int:
        """Log at critical level."""
        self._log(logging.CRITICAL, text)
        return 1

    @export("log", ("level", K.STR), ("text", K.STR), returns=Returns.NONE, cfg=False)
    def log(self, ctx: Context, level: str, text: str) -> int:
        """Log at a named level: dbg, info, notice, warn, err, crit."""
        levels = {"dbg": logging.DEBUG, "info": logging.INFO, "notice": NOTICE,
                  "warn": logging.WARNING, "err": logging.ERROR, "crit": logging.CRITICAL}
        self._log(levels.get(str(level).lower(), logging.INFO), text)
        return 1

    @export("get_debug", returns=Returns.INT, cfg=False)
    def get_debug(self, ctx: Context) -> int:
        """The configured debug level."""
        return self.engine.config.debug


def _flag(flag: int | str) -> int:
    value = int(flag)
    if not 0 <= value <= 63:
        raise ValueError(f"flag {value} is outside 0-63")
    return value
