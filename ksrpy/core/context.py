"""One message's processing state: the message, where it came from, and what the script decided."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..modules.exports import RouteType
from ..sip.errors import SIPError
from ..sip.uri import SipURI, parse_uri

if TYPE_CHECKING:
    from ..sip.message import SIPMessage
    from ..transport.address import ReceiveInfo
    from .engine import Engine


class ScriptExit(BaseException):  # noqa: N818 - named after the script statement
    """Raised by ``exit``/``drop`` (and KSR.x.exit()) to stop the whole script.

    A BaseException so that a script's own ``except Exception`` cannot swallow it.
    """


class Context:
    """Everything the routing script reads and changes for one message."""

    __slots__ = (
        "msg",
        "rcv",
        "engine",
        "route_type",
        "flags",
        "vars",
        "avps",
        "xavps",
        "dst_uri",
        "new_ruri",
        "drop",
        "replied",
        "forwarded",
        "reply_no_connect",
        "forward_no_connect",
        "reply_close",
        "forward_close",
        "rc",
        "reply_lumps",
        "extra",
    )

    def __init__(self, engine: Engine, msg: SIPMessage, rcv: ReceiveInfo) -> None:
        self.engine = engine
        self.msg = msg
        self.rcv = rcv
        self.route_type = RouteType.REQUEST if msg.is_request else RouteType.CORE_REPLY
        self.flags = 0
        self.vars: dict[str, Any] = {}
        # $avp / $xavp storage, created on first write (most messages never use them).
        self.avps: dict[str | int, list[Any]] | None = None
        self.xavps: dict[str, list[Any]] | None = None
        self.dst_uri: str | None = None
        self.new_ruri: str | None = None
        self.drop = False
        self.replied = False
        self.forwarded = False
        self.reply_no_connect = False
        self.forward_no_connect = False
        self.reply_close = False
        self.forward_close = False
        self.rc = 1
        self.reply_lumps: list[str] = []
        self.extra: dict[str, Any] = {}

    @property
    def ruri(self) -> str:
        """The current Request-URI: the new one when the script changed it."""
        return self.new_ruri if self.new_ruri is not None else self.msg.ruri

    def ruri_uri(self) -> SipURI | None:
        """The current R-URI parsed (None for replies or an unparsable URI), cached per value."""
        if not self.msg.is_request:
            return None
        text = self.ruri
        cached = self.extra.get("_ruri")
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            parsed: SipURI | None = parse_uri(text)
        except SIPError:
            parsed = None
        self.extra["_ruri"] = (text, parsed)
        return parsed

    def set_flag(self, flag: int) -> None:
        """Set message flag ``flag`` (0..63)."""
        self.flags |= 1 << flag

    def reset_flag(self, flag: int) -> None:
        """Clear message flag ``flag``."""
        self.flags &= ~(1 << flag)

    def is_flag_set(self, flag: int) -> bool:
        """True when message flag ``flag`` is set."""
        return bool(self.flags >> flag & 1)
