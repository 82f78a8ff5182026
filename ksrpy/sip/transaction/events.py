"""Transaction events in and out, and the machine that turns one into the other.

Inputs (``Input``) key the transition tables together with the ``State``;
each table ``Row`` names the next state and the ``Action``/``Start``/``Rearm``
steps to run. Outputs are frozen dataclasses, as h11's events: ``Send`` bytes
to the transport, ``PassUp`` a message to the TU, report a ``Timeout`` or a
``TransportError``, and ``Terminated`` once a transaction is over. Don't
subclass these.

``Transaction`` runs a table: an input looks up the row for (state, input),
the state becomes ``row.next``, timers the new state does not use are
cancelled, and the row's steps run in order. After every input the timers
already due fire too, so a zero timer (D, K, I, J on a reliable transport)
ends the transaction within the call that armed it. client.py and server.py
give the tables and the role-specific sends.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from ..errors import SIPUsageError
from .timers import TimerConfig, Timers

if TYPE_CHECKING:
    from ..message import SIPMessage
    from .keys import TransactionKey

__all__ = [
    "Action", "Backoff", "Event", "Input", "Observer", "PassUp", "Rearm", "Row", "Send", "Start",
    "State", "Table", "Terminated", "Timeout", "Transaction", "TransactionUsageError",
    "TransportError", "timer_input",
]


class State(enum.Enum):
    """Transaction states (RFC 3261 §17.1-§17.2; ACCEPTED from RFC 6026 §7)."""

    INIT = "Init"  # created, start() not called yet
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What drives a transaction: the second half of a transition-table key."""

    START = "start"
    REQUEST = "request retransmission"
    ACK = "ACK"
    RESPONSE_1XX = "1xx"
    RESPONSE_2XX = "2xx"
    RESPONSE_3XX_6XX = "3xx-6xx"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_K = "timer K"
    TIMER_L = "timer L"
    TIMER_M = "timer M"
    TIMER_LIFETIME = "timer lifetime"

    @property
    def timer(self) -> str | None:
        """The timer name ("A" ... "M", "lifetime") of a timer input, else None."""
        return self.value[6:] if self.value.startswith("timer ") else None

    @classmethod
    def for_status(cls, status: int) -> Input:
        """The response input for a status code (SIPUsageError outside 100-699)."""
        if 100 <= status <= 199:
            return cls.RESPONSE_1XX
        if 200 <= status <= 299:
            return cls.RESPONSE_2XX
        if 300 <= status <= 699:
            return cls.RESPONSE_3XX_6XX
        raise TransactionUsageError(f"status {status} is not a SIP response code (100-699)")


def timer_input(name: str) -> Input:
    """The Input for timer ``name``."""
    return Input(f"timer {name}")


class Action(enum.Enum):
    """A step of a transition-table row that is not about timers."""

    SEND = "send"  # client: the request; server: the response the TU passed in
    RESEND = "resend"  # client: the request again; server: the last response again
    SEND_TRYING = "send 100 Trying"  # INVITE server with auto_100 (§17.2.1)
    SEND_ACK = "send ACK"  # INVITE client, 3xx-6xx received (§17.1.1.3)
    PASS_UP = "pass up"  # deliver the input message to the TU
    REPORT_TIMEOUT = "report timeout"  # Timeout event for the TU
    REPORT_ERROR = "report transport error"  # TransportError event for the TU


class Backoff(enum.Enum):
    """How a retransmission timer is re-armed after it fires."""

    DOUBLE = "double"  # timer A: 2x each time, no cap (§17.1.1.2)
    DOUBLE_TO_T2 = "double, capped at T2"  # timer E in Trying (§17.1.2.2), G (§17.2.1)
    T2 = "T2"  # timer E in Proceeding (§17.1.2.2)


@dataclass(frozen=True, slots=True)
class Start:
    """Row step: arm a timer with its configured duration (skipped when not used)."""

    timer: str


@dataclass(frozen=True, slots=True)
class Rearm:
    """Row step: re-arm a retransmission timer that just fired."""

    timer: str
    backoff: Backoff


Step = Action | Start | Rearm


class Row(NamedTuple):
    """One transition: the next state and the steps to run, in order."""

    next: State
    steps: tuple[Step, ...] = ()


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class Send:
    """Hand ``data`` to the transport for ``destination`` (opaque, given at creation).

    On a send failure report it with ``transaction.transport_error(now)``.
    """

    data: bytes
    destination: Any
    transaction: Transaction
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class PassUp:
    """Deliver ``message`` to the TU: a response (client) or an ACK in Accepted (server)."""

    message: SIPMessage
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timeout the TU must know about: "B"/"F" (no final response), "H" (no ACK), "lifetime"."""

    transaction: Transaction
    timer: str


@dataclass(frozen=True, slots=True)
class TransportError:
    """The transport failed to send for this transaction (§17.1.4, §17.2.4)."""

    transaction: Transaction


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction reached Terminated; it emits nothing more and leaves its table."""

    transaction: Transaction


Event = Send | PassUp | Timeout | TransportError | Terminated


class TransactionUsageError(SIPUsageError):
    """The TU or engine misused a transaction (a local bug, not the peer's fault).

    Raised for: a response the transaction cannot send in its state (e.g. a
    second final response), an input before ``start()``, a request or response
    that cannot belong to the transaction, a duplicate transaction key, an ACK
    offered as a new transaction.
    """


# --------------------------------------------------------------------- machine

Table = Mapping[tuple[State, Input], Row]
#: Called after every row with (state before, input, state after); for logs, stats and tests.
Observer = Callable[["Transaction", State, Input, State], None]


class Turn:
    """What one row's steps work on (internal to the transaction classes)."""

    __slots__ = ("input", "now", "message", "data", "out")

    def __init__(self, input: Input, now: float, message: SIPMessage | None, data: bytes | None,
                 out: list[Event]) -> None:
        self.input, self.now, self.message, self.data, self.out = input, now, message, data, out


class Transaction:
    """The state machine shared by every transaction kind (the subclasses give the tables)."""

    #: The transition tables: (with RFC 6026, plain RFC 3261).
    TABLES: ClassVar[tuple[Table, Table]]
    #: The timers each state may keep armed; entering a state cancels the others.
    TIMERS: ClassVar[Mapping[State, frozenset[str]]]
    #: Inputs from the network or the transport: every live state has a row for each.
    NETWORK_INPUTS: ClassVar[frozenset[Input]]
    #: Inputs from the TU: a missing row is a TransactionUsageError.
    TU_INPUTS: ClassVar[frozenset[Input]] = frozenset()
    INVITE: ClassVar[bool]

    __slots__ = ("request", "key", "destination", "reliable", "config", "rfc6026", "table",
                 "state", "observer", "_timers", "_watcher")

    def __init__(self, request: SIPMessage, key: TransactionKey, destination: Any, *,
                 reliable: bool, timers: TimerConfig, rfc6026: bool,
                 observer: Observer | None) -> None:
        self.request = request
        self.key = key
        self.destination = destination
        self.reliable = reliable
        self.config = timers
        self.rfc6026 = rfc6026
        self.table = self.TABLES[0] if rfc6026 else self.TABLES[1]
        self.state = State.INIT
        self.observer = observer
        self._timers = Timers()
        self._watcher: Callable[[Transaction], None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key} {self.state.value}>"

    # ------------------------------------------------------------------ public API

    @property
    def method(self) -> str:
        """The method of the request that created the transaction."""
        return self.request.method

    @property
    def terminated(self) -> bool:
        """True once the transaction reached Terminated (it emits nothing more)."""
        return self.state is State.TERMINATED

    @property
    def armed(self) -> Mapping[str, float]:
        """Armed timers, name -> deadline."""
        return self._timers.as_mapping()

    def next_deadline(self) -> float | None:
        """When ``on_timer`` must next be called; None when no timer is armed."""
        return self._timers.next_deadline()

    def start(self, now: float) -> list[Event]:
        """Run the creation row (client: send the request; INVITE server: the 100 Trying)."""
        if self.state is not State.INIT:
            raise TransactionUsageError(f"{self!r} was already started")
        return self._feed(Input.START, now)

    def on_timer(self, now: float) -> list[Event]:
        """Fire every timer due at ``now``, earliest first."""
        out: list[Event] = []
        self._fire_due(now, out)
        self._notify()
        return out

    def transport_error(self, now: float) -> list[Event]:
        """The transport could not send for this transaction (§17.1.4, §17.2.4, RFC 6026 §8.8)."""
        return self._feed(Input.TRANSPORT_ERROR, now)

    # --------------------------------------------------------------------- machine

    def _feed(self, input: Input, now: float, message: SIPMessage | None = None,
              data: bytes | None = None) -> list[Event]:
        out: list[Event] = []
        if self.state is State.TERMINATED:
            return out
        if self.state is State.INIT and input is not Input.START:
            raise TransactionUsageError(f"{self!r}: call start() before feeding {input.value}")
        self._apply(input, now, message, data, out)
        self._fire_due(now, out)
        self._notify()
        return out

    def _apply(self, input: Input, now: float, message: SIPMessage | None, data: bytes | None,
               out: list[Event]) -> None:
        before = self.state
        row = self.table.get((before, input))
        if row is None:
            return  # only reachable for a timer cancelled by the state change (never armed)
        self.state = row.next
        self._timers.keep_only(self.TIMERS.get(row.next, frozenset()))
        turn = Turn(input, now, message, data, out)
        for step in row.steps:
            self._step(step, turn)
        if row.next is State.TERMINATED:
            self._timers.clear()
            out.append(Terminated(self))
        if self.observer is not None:
            self.observer(self, before, input, row.next)

    def _fire_due(self, now: float, out: list[Event]) -> None:
        while self.state is not State.TERMINATED:
            name = self._timers.pop_due(now)
            if name is None:
                return
            self._apply(timer_input(name), now, None, None, out)

    def _notify(self) -> None:
        if self._watcher is not None:
            self._watcher(self)

    def _step(self, step: Step, turn: Turn) -> None:
        if isinstance(step, Start):
            duration = self.config.duration(step.timer, reliable=self.reliable,
                                            invite=self.INVITE)
            if duration is not None:
                self._timers.start(step.timer, turn.now, duration)
        elif isinstance(step, Rearm):
            self._rearm(step, turn.now)
        elif step is Action.SEND:
            self._send(turn)
        elif step is Action.RESEND:
            self._resend(turn)
        elif step is Action.SEND_ACK:
            self._send_ack(turn)
        elif step is Action.SEND_TRYING:
            self._send_trying(turn)
        elif step is Action.PASS_UP:
            assert turn.message is not None
            turn.out.append(PassUp(turn.message, self))
        elif step is Action.REPORT_TIMEOUT:
            turn.out.append(Timeout(self, turn.input.timer or turn.input.value))
        elif step is Action.REPORT_ERROR:
            turn.out.append(TransportError(self))

    def _rearm(self, step: Rearm, now: float) -> None:
        """Re-arm a retransmission timer (§17.1.1.2 A, §17.1.2.2 E, §17.2.1 G)."""
        t2 = self.config.t2
        previous = self._timers.interval(step.timer)
        if step.backoff is Backoff.DOUBLE:
            interval = 2 * previous
        elif step.backoff is Backoff.DOUBLE_TO_T2:
            interval = min(2 * previous, t2)
        else:
            interval = t2
        self._timers.start(step.timer, now, interval)

    def _send(self, turn: Turn) -> None:
        raise NotImplementedError

    def _resend(self, turn: Turn) -> None:
        raise NotImplementedError

    def _send_ack(self, turn: Turn) -> None:
        raise NotImplementedError

    def _send_trying(self, turn: Turn) -> None:
        raise NotImplementedError


def frozen_table(rows: dict[tuple[State, Input], Row]) -> Table:
    """A read-only transition table."""
    return MappingProxyType(rows)


def table_variant(table: Table, *, drop: State | None = None, **overrides: Row) -> Table:
    """``table`` without the rows of state ``drop``, rows replaced by 'STATE__INPUT'=Row."""
    rows = {k: v for k, v in table.items() if k[0] is not drop}
    for name, row in overrides.items():
        st, inp = name.split("__")
        rows[(State[st], Input[inp])] = row
    return frozen_table(rows)
