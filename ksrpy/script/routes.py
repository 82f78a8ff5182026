"""The compiled script as the engine sees it: route functions by kind and name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.context import Context

RouteFn = Callable[["Context"], Any]


@dataclass
class Routes:
    """Route functions of one loaded script; the engine swaps the whole object on reload."""

    kind: str
    files: list[str]
    request: RouteFn | None = None
    reply: RouteFn | None = None
    onsend: RouteFn | None = None
    named: dict[str, RouteFn] = field(default_factory=dict)
    events: dict[str, RouteFn] = field(default_factory=dict)
    lookup: Callable[[str], RouteFn | None] | None = None

    def route(self, name: str) -> RouteFn | None:
        """A named route (route[X], failure_route[X] ... or a KEMI function name)."""
        found = self.named.get(name)
        if found is None and self.lookup is not None:
            found = self.lookup(name)
        return found
