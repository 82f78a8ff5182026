"""event_route[usrloc:contact-expired] (or the event_callback KEMI function)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.context import Context
from ...modules.exports import RouteType
from ...sip.message import SIPMessage
from ..htable.events import FAKED_MESSAGE, FAKED_RCV

if TYPE_CHECKING:
    from ...core.engine import Engine

EVENT = "usrloc:contact-expired"


def run_expired_event(engine: Engine, callback: str = "") -> bool:
    """Run the expiry event on a faked message; True when a route ran."""
    routes = engine.routes
    if routes is None:
        return False
    route = routes.route(EVENT, "event")
    if route is None:
        return False
    ctx = Context(engine, SIPMessage.parse(FAKED_MESSAGE), FAKED_RCV)
    ctx.route_type = RouteType.EVENT
    previous = engine.current
    try:
        engine.run_route(route, ctx, routes)
    finally:
        engine.current = previous
    return True
