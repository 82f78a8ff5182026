"""htable's event routes: event_route[htable:mod-init] and [htable:expired:<table>]."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.events import has_event
from ...core.events import run_event as _run_event
from ...modules.exports import RouteType
from .pv import EXPIRED_RECORD

if TYPE_CHECKING:
    from ...core.engine import Engine

__all__ = ["has_event", "run_event"]


def run_event(engine: Engine, name: str, *, record: tuple[str, Any] | None = None,
              route_type: RouteType = RouteType.EVENT) -> bool:
    """Run ``event_route[name]`` with ``$shtrecord`` set to ``record``; True when it ran."""
    extra = {EXPIRED_RECORD: record} if record is not None else None
    return _run_event(engine, name, extra=extra, route_type=route_type)
