"""The transaction table: a bounded set of transactions, their matching keys and one timer queue.

The table owns no clock and no socket. The engine feeds it what arrives
(``receive_request``, ``receive_response``), creates transactions when the TU
decides to (``add_server``, ``add_client``), and keeps one loop timer armed at
``next_deadline()``, calling ``on_timer(now)`` when it fires. Transactions
tell the table when their deadline changes or when they terminate, so a
terminated transaction leaves the table at once (no sweep, no leak) and the
engine may also call a transaction's own methods directly.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..message import SIPMessage
from .client import ClientTransaction, new_client_transaction
from .events import Event, Observer, Transaction, TransactionUsageError
from .keys import (
    ClientKey,
    LegacyKey,
    ServerKey,
    cancel_target_key,
    response_key,
    server_key,
)
from .server import InviteServerTransaction, ServerTransaction, new_server_transaction
from .timers import DEFAULT_TIMERS, TimerConfig

__all__ = ["Created", "DEFAULT_MAX_TRANSACTIONS", "Matched", "Refused", "TransactionTable"]

#: Default bound on live transactions (server + client). Measured: ~6.5 KiB each for an
#: 865-byte INVITE (raw bytes, scanner index, parsed Via/From/To, the 100 Trying), so
#: 20 000 cost ~130 MB. An answered call holds its two INVITE transactions ~32 s
#: (timers L and M), so this carries ~300 new calls per second; raise it for more.
DEFAULT_MAX_TRANSACTIONS = 20_000


@dataclass(frozen=True, slots=True)
class Created:
    """A new transaction, started, and the events its start produced (send them)."""

    transaction: Transaction
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """No transaction was created; answer ``status`` statelessly (503: the table is full)."""

    reason: str
    status: int = 503


@dataclass(frozen=True, slots=True)
class Matched:
    """A message matched ``transaction``; ``events`` are what it did with it."""

    transaction: Transaction
    events: tuple[Event, ...]


class TransactionTable:
    """Server and client transactions by key, bounded, with a shared timer queue."""

    def __init__(self, *, max_transactions: int = DEFAULT_MAX_TRANSACTIONS,
                 timers: TimerConfig = DEFAULT_TIMERS, rfc6026: bool = True,
                 observer: Observer | None = None) -> None:
        if max_transactions < 1:
            raise ValueError("max_transactions must be at least 1")
        self.max_transactions = max_transactions
        self.timers = timers
        self.rfc6026 = rfc6026
        self.observer = observer
        self._servers: dict[ServerKey | LegacyKey, ServerTransaction] = {}
        self._clients: dict[ClientKey, ClientTransaction] = {}
        # Lazy-deletion heap: an entry is live while _scheduled[tx] equals its deadline.
        self._heap: list[tuple[float, int, Transaction]] = []
        self._scheduled: dict[Transaction, float] = {}
        self._seq = itertools.count()

    # ------------------------------------------------------------------ contents

    def __len__(self) -> int:
        return len(self._servers) + len(self._clients)

    def __iter__(self) -> Iterator[Transaction]:
        yield from list(self._servers.values())
        yield from list(self._clients.values())

    @property
    def full(self) -> bool:
        """True when no transaction can be added."""
        return len(self) >= self.max_transactions

    def server(self, key: ServerKey | LegacyKey) -> ServerTransaction | None:
        """The server transaction with this key."""
        return self._servers.get(key)

    def client(self, key: ClientKey) -> ClientTransaction | None:
        """The client transaction with this key."""
        return self._clients.get(key)

    # ------------------------------------------------------------------ creation

    def add_server(self, request: SIPMessage, now: float, destination: Any, *, reliable: bool,
                   auto_100: bool = False, source: tuple[str, int] | None = None,
                   trying_reason: str | None = None) -> Created | Refused:
        """Create and start the server transaction for a new request (not an ACK).

        ``destination`` is where responses go (RFC 3261 §18.2.2, the engine's
        choice); ``source`` is the request's (ip, port), needed by ``auto_100``.
        """
        if self.full:
            return Refused(f"transaction table full ({self.max_transactions} transactions)")
        tx = new_server_transaction(
            request, destination, reliable=reliable, timers=self.timers, rfc6026=self.rfc6026,
            observer=self.observer, auto_100=auto_100, source=source,
            trying_reason=trying_reason)
        if tx.key in self._servers:
            raise TransactionUsageError(
                f"{self._servers[tx.key]!r} already exists: call receive_request() first")
        self._servers[tx.key] = tx
        return Created(tx, self._start(tx, now))

    def add_client(self, request: SIPMessage | bytes, now: float, destination: Any, *,
                   reliable: bool) -> Created | Refused:
        """Create and start a client transaction: its first event sends ``request``."""
        if self.full:
            return Refused(f"transaction table full ({self.max_transactions} transactions)")
        tx = new_client_transaction(request, destination, reliable=reliable, timers=self.timers,
                                    rfc6026=self.rfc6026, observer=self.observer)
        if tx.key in self._clients:
            raise TransactionUsageError(f"{self._clients[tx.key]!r} already exists (branch reused)")
        self._clients[tx.key] = tx
        return Created(tx, self._start(tx, now))

    def _start(self, tx: Transaction, now: float) -> tuple[Event, ...]:
        tx._watcher = self._changed
        return tuple(tx.start(now))

    # ------------------------------------------------------------------ matching

    def match_request(self, request: SIPMessage) -> ServerTransaction | None:
        """The server transaction ``request`` belongs to (§17.2.3), ACK included."""
        key = server_key(request)
        tx = self._servers.get(key)
        if tx is None or (isinstance(key, LegacyKey) and not tx.legacy_match(request)):
            return None
        return tx

    def match_cancel(self, cancel: SIPMessage) -> InviteServerTransaction | None:
        """The INVITE server transaction a CANCEL cancels (§9.2), None when unknown.

        Match the CANCEL against its own transaction first (``receive_request``:
        a retransmitted CANCEL); a new CANCEL gets its own non-INVITE server
        transaction, and the TU answers 481 when this returns None.
        """
        if cancel.method != "CANCEL":
            raise TransactionUsageError(f"match_cancel() needs a CANCEL, not {cancel.method}")
        key = cancel_target_key(cancel)
        tx = self._servers.get(key)
        if not isinstance(tx, InviteServerTransaction):
            return None
        if isinstance(key, LegacyKey) and not tx.legacy_match(cancel):
            return None
        return tx

    def match_response(self, response: SIPMessage) -> ClientTransaction | None:
        """The client transaction a response belongs to (§17.1.3)."""
        key = response_key(response)
        return None if key is None else self._clients.get(key)

    def receive_request(self, request: SIPMessage, now: float) -> Matched | None:
        """Feed a request to its server transaction; None: new request or stray ACK (to the TU)."""
        tx = self.match_request(request)
        if tx is None:
            return None
        return Matched(tx, tuple(tx.receive_request(request, now)))

    def receive_response(self, response: SIPMessage, now: float) -> Matched | None:
        """Feed a response to its client transaction; None: a stray response (§18.1.2)."""
        tx = self.match_response(response)
        if tx is None:
            return None
        return Matched(tx, tuple(tx.receive_response(response, now)))

    # -------------------------------------------------------------------- timers

    def next_deadline(self) -> float | None:
        """When ``on_timer`` must next be called; None when no timer is armed."""
        heap, scheduled = self._heap, self._scheduled
        while heap:
            deadline, _seq, tx = heap[0]
            if scheduled.get(tx) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def on_timer(self, now: float) -> list[Event]:
        """Fire every timer due at ``now`` across all transactions, earliest first."""
        out: list[Event] = []
        heap, scheduled = self._heap, self._scheduled
        while heap and heap[0][0] <= now:
            deadline, _seq, tx = heapq.heappop(heap)
            if scheduled.get(tx) != deadline:
                continue  # superseded by a newer deadline or the transaction ended
            del scheduled[tx]
            out.extend(tx.on_timer(now))
        return out

    def _changed(self, tx: Transaction) -> None:
        """A transaction's watcher: re-queue its deadline, or drop it once terminated."""
        if tx.terminated:
            self._remove(tx)
            return
        deadline = tx.next_deadline()
        if deadline is None:
            self._scheduled.pop(tx, None)
        elif self._scheduled.get(tx) != deadline:
            self._scheduled[tx] = deadline
            heapq.heappush(self._heap, (deadline, next(self._seq), tx))
            if len(self._heap) > 2 * len(self._scheduled) + 64:
                self._compact()

    def _remove(self, tx: Transaction) -> None:
        tx._watcher = None
        self._scheduled.pop(tx, None)
        if isinstance(tx, ServerTransaction):
            if self._servers.get(tx.key) is tx:
                del self._servers[tx.key]
        elif self._clients.get(tx.key) is tx:
            del self._clients[tx.key]

    def _compact(self) -> None:
        """Drop superseded heap entries (they pile up while retransmission timers re-arm)."""
        self._heap[:] = [(d, next(self._seq), tx) for tx, d in self._scheduled.items()]
        heapq.heapify(self._heap)  # in place: on_timer() may be iterating this list
