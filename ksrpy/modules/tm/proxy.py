"""One stateful proxy transaction (Kamailio's tm "cell"): the server side and its branches.

RFC 3261 §16.7: provisional replies (but 100) and every 2xx are relayed at
once; a 2xx to an INVITE cancels the other branches; 3xx-6xx finals wait
until every branch has answered, then failure_route may add branches, else
the best reply goes upstream (step 6: a 6xx first, else the lowest class,
503 counted as 500). Step 7: when the best is a 401/407 and several branches
were challenged, every WWW-Authenticate / Proxy-Authenticate is collected
into it (``merged_challenge``).

Serial forking: each failure_route run starts a new *leg*; branches added
there belong to it. Replies of earlier legs may be *dropped* (t_drop_replies,
failure_reply_mode) so that they no longer compete for the best reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...sip.message import SIPMessage

if TYPE_CHECKING:
    from ...core.context import Context
    from ...sip.transaction import ClientTransaction, ServerTransaction

#: The headers RFC 3261 §16.7 step 7 collects from every challenge.
CHALLENGE_HEADERS = ("WWW-Authenticate", "Proxy-Authenticate")


@dataclass(eq=False)
class Branch:
    """One forwarded copy of the request."""

    index: int
    uri: str  # the branch's Request-URI
    dst: str  # where it was sent ($du, else the R-URI)
    client: ClientTransaction
    leg: int = 0  # serial forking step: 0 from request_route, n from the n-th failure_route
    started: float = 0.0
    status: int = 0  # highest status seen (0: nothing yet)
    replies: int = 0  # replies received (retransmissions absorbed below are not counted)
    replied_before_final: bool = False  # a reply came before the final one (t_branch_replied)
    final: SIPMessage | None = None
    final_status: int = 0
    deadline: float = 0.0  # fr_timer / fr_inv_timer
    canceled: bool = False
    cancel_sent: bool = False
    timed_out: bool = False
    dropped: bool = False  # its reply no longer competes (t_drop_replies, failure_reply_mode)
    bflags: int = 0  # branch flags ($bf), visible in branch, onreply and failure routes
    alarm: Any = field(default=None, repr=False)  # tm's armed fr alarm (module._Alarm)

    @property
    def done(self) -> bool:
        """True once the branch has a final answer (real, synthesized or timed out)."""
        return self.final_status >= 200


@dataclass(eq=False)
class ProxyTransaction:
    """The server transaction, the request's context, the branches and the armed routes."""

    server: ServerTransaction
    ctx: Context
    created: float = 0.0
    branches: list[Branch] = field(default_factory=list)
    failure_route: str | None = None
    onreply_route: str | None = None
    branch_route: str | None = None
    branch_failure_route: str | None = None
    final_sent: bool = False
    final_notified: bool = False
    last_status: int = 0  # the last reply sent upstream (t_check_status in request_route)
    canceled: bool = False
    expired: bool = False
    in_failure: bool = False
    leg: int = 0
    drop_mode: str | None = None  # t_drop_replies() in the running failure_route
    fr_timer: float | None = None  # per transaction (t_set_fr), seconds; None: module default
    fr_inv_timer: float | None = None
    lifetime: float = 180.0  # max_inv_lifetime / max_noninv_lifetime, seconds
    dialog_key: tuple[str, int, str] | None = None
    #: What t_relay (or t_save_lumps) saved: message edits, R-URI and $du for failure_route.
    saved: tuple[Any, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    alarm: Any = field(default=None, repr=False)  # tm's armed lifetime alarm (module._Alarm)

    @property
    def method(self) -> str:
        """The request's method."""
        return self.ctx.msg.method

    def pending(self) -> list[Branch]:
        """Branches still waiting for a final answer."""
        return [b for b in self.branches if not b.done]

    def best(self) -> Branch | None:
        """RFC 3261 §16.7 step 6 among replies not dropped (all of them when every one was)."""
        finals = [b for b in self.branches if b.done]
        kept = [b for b in finals if not b.dropped]
        return _best(kept or finals)

    def merged_challenge(self, best: Branch) -> SIPMessage | None:
        """RFC 3261 §16.7 step 7: the best 401/407 with every branch's challenge headers.

        None when the best reply is no challenge, or only one branch was challenged
        (its reply goes up as it is, as Kamailio's aggregate_challenges does).
        """
        if best.final is None or best.final_status not in (401, 407):
            return None
        others = [b for b in self.branches
                  if b is not best and b.done and not b.dropped and b.final is not None
                  and b.final_status in (401, 407)]
        if not others:
            return None
        merged = SIPMessage.parse(best.final.to_bytes())
        for other in others:
            assert other.final is not None
            for name in CHALLENGE_HEADERS:
                for value in other.final.get_headers(name):
                    merged.add_header(name, value)
        return merged


def _best(finals: list[Branch]) -> Branch | None:
    """A 6xx first, else the lowest class (503 counts as 500), earliest branch on ties."""
    if not finals:
        return None
    six = [b for b in finals if 600 <= b.final_status < 700]
    if six:
        return six[0]

    def rank(b: Branch) -> tuple[int, int]:
        status = 500 if b.final_status == 503 else b.final_status
        return (status // 100, status)

    return min(finals, key=rank)
