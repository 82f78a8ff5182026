"""One stateful proxy transaction (Kamailio's tm "cell"): the server side and its branches.

RFC 3261 §16.7: provisional replies (but 100) and every 2xx are relayed at
once; a 2xx to an INVITE cancels the other branches; 3xx-6xx finals wait
until every branch has answered, then failure_route may add branches, else
the best reply goes upstream (6xx first, then the lowest class, 401/407
merged as the RFC asks is left for later: the first one is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.context import Context
    from ...sip.message import SIPMessage
    from ...sip.transaction import ClientTransaction, ServerTransaction


@dataclass
class Branch:
    """One forwarded copy of the request."""

    index: int
    uri: str
    client: ClientTransaction
    status: int = 0  # highest status seen (0: nothing yet)
    final: SIPMessage | None = None
    final_status: int = 0
    deadline: float = 0.0  # fr_timer / fr_inv_timer
    canceled: bool = False
    cancel_sent: bool = False
    timed_out: bool = False

    @property
    def done(self) -> bool:
        """True once the branch has a final answer (real, synthesized or timed out)."""
        return self.final_status >= 200


@dataclass
class ProxyTransaction:
    """The server transaction, the request's context, the branches and the armed routes."""

    server: ServerTransaction
    ctx: Context
    branches: list[Branch] = field(default_factory=list)
    failure_route: str | None = None
    onreply_route: str | None = None
    branch_route: str | None = None
    final_sent: bool = False
    final_notified: bool = False
    dialog_key: tuple[str, int, str] | None = None
    canceled: bool = False
    in_failure: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The request's method."""
        return self.ctx.msg.method

    def pending(self) -> list[Branch]:
        """Branches still waiting for a final answer."""
        return [b for b in self.branches if not b.done]

    def best(self) -> Branch | None:
        """RFC 3261 §16.7 step 6: a 6xx first, else the lowest class; 503 counts as 500."""
        finals = [b for b in self.branches if b.done]
        if not finals:
            return None
        six = [b for b in finals if 600 <= b.final_status < 700]
        if six:
            return six[0]

        def rank(b: Branch) -> tuple[int, int]:
            status = 500 if b.final_status == 503 else b.final_status
            return (status // 100, status)

        return min(finals, key=rank)
