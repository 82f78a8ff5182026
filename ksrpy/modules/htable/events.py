"""Running htable's event routes on a faked message, as Kamailio's faked_msg does."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...core.context import Context
from ...modules.exports import RouteType
from ...sip.message import SIPMessage
from ...transport.address import ReceiveInfo
from .pv import EXPIRED_RECORD

if TYPE_CHECKING:
    from ...core.engine import Engine

log = logging.getLogger("ksrpy.htable")

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


def run_event(engine: Engine, name: str, *, record: tuple[str, Any] | None = None,
              route_type: RouteType = RouteType.EVENT) -> bool:
    """Run ``event_route[name]`` when the script has one; True when it ran."""
    routes = engine.routes
    if routes is None:
        return False
    route = routes.route(name, "event")
    if route is None:
        return False
    ctx = Context(engine, SIPMessage.parse(FAKED_MESSAGE), FAKED_RCV)
    ctx.route_type = route_type
    if record is not None:
        ctx.extra[EXPIRED_RECORD] = record
    previous = engine.current
    try:
        engine.run_route(route, ctx, routes)
    finally:
        engine.current = previous
    return True


def has_event(engine: Engine, name: str) -> bool:
    """Whether the loaded script has ``event_route[name]``."""
    routes = engine.routes
    return routes is not None and routes.route(name, "event") is not None
