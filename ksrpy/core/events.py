"""Run a script's event_route[...] on a faked message, as Kamailio's faked_msg does.

Modules raise events outside any received message (an htable item expired, a
registration expired, module start); the route still needs a message to read,
so it gets a fixed local OPTIONS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..modules.exports import RouteType
from ..sip.message import SIPMessage
from ..transport.address import ReceiveInfo
from .context import Context

if TYPE_CHECKING:
    from .engine import Engine

FAKED_MESSAGE = (
    b"OPTIONS sip:you@kamailio.org SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfaked\r\n"
    b"From: <sip:you@kamailio.org>;tag=123\r\n"
    b"To: <sip:you@kamailio.org>\r\n"
    b"Call-ID: 123\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)
FAKED_RCV = ReceiveInfo("udp", "127.0.0.1", 5060, "127.0.0.1", 5060, None, 4)


def has_event(engine: Engine, name: str) -> bool:
    """Whether the loaded script has ``event_route[name]``."""
    routes = engine.routes
    return routes is not None and routes.route(name, "event") is not None


def run_event(engine: Engine, name: str, *, extra: dict[str, Any] | None = None,
              route_type: RouteType = RouteType.EVENT) -> bool:
    """Run ``event_route[name]`` when the script has one; True when it ran.

    ``extra`` is copied into the faked message's context (e.g. the expired record).
    """
    routes = engine.routes
    if routes is None:
        return False
    route = routes.route(name, "event")
    if route is None:
        return False
    ctx = Context(engine, SIPMessage.parse(FAKED_MESSAGE), FAKED_RCV)
    ctx.route_type = route_type
    if extra:
        ctx.extra.update(extra)
    previous = engine.current
    try:
        engine.run_route(route, ctx, routes)
    finally:
        engine.current = previous
    return True
