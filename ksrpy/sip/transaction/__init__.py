"""RFC 3261 §17 transactions, sans-IO: no sockets, no asyncio, no clock.

Every input carries ``now`` (float seconds); every call returns events —
``Send`` (bytes for the transport), ``PassUp`` (a message for the TU),
``Timeout``, ``TransportError``, ``Terminated`` — and ``next_deadline()`` says
when to call ``on_timer(now)`` again. State machines are transition tables
keyed by (state, input) (client.py, server.py); INVITE transactions follow
RFC 6026 (Accepted state, timers L and M) unless ``rfc6026=False``.

Typical engine use (one table per worker; ``now`` from the loop's clock)::

    table = TransactionTable()
    m = table.receive_request(msg, now)      # a retransmission or ACK it absorbed?
    if m is None:                            # new request (or stray ACK): the script runs
        made = table.add_server(msg, now, reply_to, reliable=False,
                                auto_100=True, source=(ip, port))   # or Refused -> 503
        branch = table.add_client(forwarded_bytes, now, next_hop, reliable=False)
    m = table.receive_response(reply, now)   # None: a stray response
    ...                                      # Send -> transport, PassUp -> TU
    for event in table.on_timer(now): ...   # when table.next_deadline() is reached
"""

from .client import (
    ClientTransaction,
    InviteClientTransaction,
    NonInviteClientTransaction,
    build_ack,
    build_cancel,
    new_client_transaction,
)
from .events import (
    Action,
    Backoff,
    Event,
    Input,
    Observer,
    PassUp,
    Rearm,
    Row,
    Send,
    Start,
    State,
    Terminated,
    Timeout,
    Transaction,
    TransactionUsageError,
    TransportError,
)
from .keys import (
    BRANCH_COOKIE,
    ClientKey,
    LegacyKey,
    ServerKey,
    TransactionKey,
    cancel_target_key,
    client_key,
    has_magic_cookie,
    response_key,
    server_key,
)
from .server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTransaction,
    new_server_transaction,
)
from .table import DEFAULT_MAX_TRANSACTIONS, Created, Matched, Refused, TransactionTable
from .timers import DEFAULT_TIMERS, TimerConfig

__all__ = [
    "Action", "BRANCH_COOKIE", "Backoff", "ClientKey", "ClientTransaction", "Created",
    "DEFAULT_MAX_TRANSACTIONS", "DEFAULT_TIMERS", "Event", "Input", "InviteClientTransaction",
    "InviteServerTransaction", "LegacyKey", "Matched", "NonInviteClientTransaction",
    "NonInviteServerTransaction", "Observer", "PassUp", "Rearm", "Refused", "Row", "Send",
    "ServerKey", "ServerTransaction", "Start", "State", "Terminated", "Timeout", "TimerConfig",
    "Transaction", "TransactionKey", "TransactionTable", "TransactionUsageError", "TransportError",
    "build_ack", "build_cancel", "cancel_target_key", "client_key", "has_magic_cookie",
    "new_client_transaction", "new_server_transaction", "response_key", "server_key",
]
