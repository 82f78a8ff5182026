"""event_route[usrloc:contact-expired] (or the event_callback KEMI function)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.events import run_event

if TYPE_CHECKING:
    from ...core.engine import Engine

EVENT = "usrloc:contact-expired"


def run_expired_event(engine: Engine, callback: str = "") -> bool:
    """Run the expiry event on a faked message; True when a route ran."""
    return run_event(engine, EVENT)
