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
    """Route functions of one loaded script; the engine swaps the whole object on reload.

    cfg scripts fill the per-kind tables (``failure`` for failure_route[X] ...);
    Python scripts resolve every armed name through ``lookup`` (a function of
    the script), as Kamailio's KEMI does.
    """

    kind: str
    files: list[str]
    request: RouteFn | None = None
    reply: RouteFn | None = None
    onsend: RouteFn | None = None
    named: dict[str, RouteFn] = field(default_factory=dict)
    failure: dict[str, RouteFn] = field(default_factory=dict)
    onreply: dict[str, RouteFn] = field(default_factory=dict)
    branch: dict[str, RouteFn] = field(default_factory=dict)
    branch_failure: dict[str, RouteFn] = field(default_factory=dict)
    events: dict[str, RouteFn] = field(default_factory=dict)
    lookup: Callable[[str], RouteFn | None] | None = None
    source: str = ""
    settings: Any = None

    def route(self, name: str, kind: str = "route") -> RouteFn | None:
        """A route by kind and name: route[X], failure_route[X] ... or a KEMI function."""
        table = {
            "route": self.named, "failure": self.failure, "onreply": self.onreply,
            "branch": self.branch, "branch_failure": self.branch_failure, "event": self.events,
        }.get(kind, self.named)
        found = table.get(name)
        if found is None and self.lookup is not None:
            found = self.lookup(name)
        return found

    def info(self) -> dict[str, Any]:
        """A summary for the routes.info RPC."""
        return {
            "kind": self.kind,
            "files": list(self.files),
            "request_route": self.request is not None,
            "reply_route": self.reply is not None,
            "route": sorted(self.named),
            "failure_route": sorted(self.failure),
            "onreply_route": sorted(self.onreply),
            "branch_route": sorted(self.branch),
            "event_route": sorted(self.events),
        }
