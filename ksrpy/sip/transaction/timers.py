"""Transaction timers: RFC 3261 §17 Table 4 (A-K), RFC 6026 §8.10 (L, M) and a lifetime guard.

``TimerConfig`` derives every timer from T1, T2 and T4; ``Timers`` is the set
of timers one transaction has armed (name -> deadline), read by the state
machine and by the table's timer queue. Nothing here reads a clock: every
deadline is ``now + duration`` with ``now`` passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["TIMER_NAMES", "TimerConfig", "Timers", "DEFAULT_TIMERS"]

#: Every timer a transaction can arm, in the order ties are broken: when two timers
#: fall due at the same instant the timeouts (B, F, H, lifetime) run first, so a
#: transaction that gives up does not send one more useless retransmission.
TIMER_NAMES: tuple[str, ...] = ("B", "F", "H", "lifetime", "D", "K", "I", "J", "L", "M",
                                "A", "E", "G")
_TIE_ORDER = {name: n for n, name in enumerate(TIMER_NAMES)}


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1/T2/T4 and the timers derived from them (seconds; RFC 3261 §17 Table 4).

    ``d`` is Timer D for unreliable transports ("at least 32 s", §17.1.1.2).
    The lifetimes are not RFC timers: they bound the states RFC 3261 leaves to
    the TU (an INVITE client in Proceeding waits for timer C, a server waits
    for the TU's final response) so that a stuck TU cannot leak transactions.
    The defaults are Kamailio tm's ``max_inv_lifetime`` (180 s) and
    ``max_noninv_lifetime`` (32 s).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0
    invite_lifetime: float = 180.0
    non_invite_lifetime: float = 32.0
    #: Timers B and F when set (default 64*T1): a TU that runs its own final-response
    #: timer (Kamailio's fr_timer) may give its client transactions longer.
    client_timeout: float | None = None
    #: When set, caps the waits of completed transactions for late messages (timers D,
    #: J, L and M, 32 s by the RFCs), as Kamailio's wt_timer does: a proxy then holds an
    #: answered call's transactions seconds instead of half a minute. Late 2xx
    #: retransmissions still reach the caller (a proxy relays unmatched 2xx by Via).
    completed_wait: float | None = None

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4", "d", "invite_lifetime", "non_invite_lifetime"):
            if not getattr(self, name) > 0:
                raise ValueError(f"timer {name} must be > 0, got {getattr(self, name)!r}")
        if self.client_timeout is not None and not self.client_timeout > 0:
            raise ValueError(f"client_timeout must be > 0, got {self.client_timeout!r}")
        if self.completed_wait is not None and not self.completed_wait > 0:
            raise ValueError(f"completed_wait must be > 0, got {self.completed_wait!r}")
        if self.t2 < self.t1:
            raise ValueError(f"T2 ({self.t2}) must not be smaller than T1 ({self.t1})")

    @property
    def timeout(self) -> float:
        """64*T1: timers B, F, H, J (unreliable), L and M (§17 Table 4, RFC 6026 §8.10)."""
        return 64 * self.t1

    def duration(self, name: str, *, reliable: bool, invite: bool = True) -> float | None:
        """Initial duration of timer ``name``; None when it is not used on this transport.

        Reliable transports need no retransmissions (A, E, G are not set) and no
        wait for retransmitted messages (D, I, J, K are zero), §17.1.1.2-§17.2.2.
        """
        if name in ("A", "E", "G"):  # §17.1.1.2, §17.1.2.2, §17.2.1: T1, unreliable only
            return None if reliable else self.t1
        if name in ("B", "F"):
            return self.timeout if self.client_timeout is None else self.client_timeout
        if name == "H":
            return self.timeout
        if name in ("L", "M"):  # RFC 6026 §8.7, §8.4: 64*T1
            return self._wait(self.timeout)
        if name == "D":  # §17.1.1.2: > 32 s for unreliable, zero for reliable
            return 0.0 if reliable else self._wait(self.d)
        if name in ("I", "K"):  # §17.2.1, §17.1.2.2: T4 for unreliable, zero for reliable
            return 0.0 if reliable else self.t4
        if name == "J":  # §17.2.2: 64*T1 for unreliable, zero for reliable
            return 0.0 if reliable else self._wait(self.timeout)
        if name == "lifetime":
            return self.invite_lifetime if invite else self.non_invite_lifetime
        raise KeyError(f"unknown transaction timer {name!r}")

    def _wait(self, rfc_value: float) -> float:
        """A completed-state wait: the RFC's value, capped by ``completed_wait`` when set."""
        return rfc_value if self.completed_wait is None else min(rfc_value, self.completed_wait)


DEFAULT_TIMERS = TimerConfig()


class Timers:
    """The timers one transaction has armed: name -> (deadline, interval)."""

    __slots__ = ("_armed", "_intervals")

    def __init__(self) -> None:
        self._armed: dict[str, float] = {}
        self._intervals: dict[str, float] = {}

    def start(self, name: str, now: float, interval: float) -> None:
        """Arm (or re-arm) ``name`` to fire ``interval`` seconds after ``now``."""
        self._armed[name] = now + interval
        self._intervals[name] = interval

    def interval(self, name: str) -> float:
        """The interval ``name`` was last armed with (for doubling retransmission timers)."""
        return self._intervals[name]

    def keep_only(self, names: frozenset[str]) -> None:
        """Cancel every armed timer not in ``names`` (a state change stops its timers)."""
        for name in [n for n in self._armed if n not in names]:
            del self._armed[name]

    def clear(self) -> None:
        """Cancel every timer."""
        self._armed.clear()

    def next_deadline(self) -> float | None:
        """The earliest deadline, None when nothing is armed."""
        return min(self._armed.values()) if self._armed else None

    def pop_due(self, now: float) -> str | None:
        """Remove and return the earliest timer due at ``now`` (ties: TIMER_NAMES order)."""
        best: tuple[float, int] | None = None
        chosen = None
        for name, deadline in self._armed.items():
            if deadline <= now:
                key = (deadline, _TIE_ORDER[name])
                if best is None or key < best:
                    best, chosen = key, name
        if chosen is not None:
            del self._armed[chosen]
        return chosen

    def as_mapping(self) -> Mapping[str, float]:
        """A copy of name -> deadline."""
        return dict(self._armed)
