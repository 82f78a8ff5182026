"""Counters of the transport layer, for monitoring and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class TransportStats:
    """Plain integer counters; incremented in place by the transports."""

    udp_rx: int = 0
    udp_tx: int = 0
    udp_dropped_rx: int = 0  # probes/keepalives shorter than a SIP message, or oversize
    udp_dropped_tx: int = 0  # kernel send buffer full
    udp_send_errors: int = 0
    tcp_accepted: int = 0
    tcp_refused: int = 0  # over tcp_max_connections
    tcp_connected: int = 0  # outgoing connections established
    tcp_connect_failed: int = 0
    tcp_closed: int = 0
    tcp_rx_messages: int = 0
    tcp_tx: int = 0
    tcp_framing_errors: int = 0
    tcp_timeouts: int = 0  # idle or stalled-message timeouts
    tcp_overflows: int = 0  # write buffer over the cap
    pings: int = 0  # RFC 5626 CRLFCRLF keepalives answered
    handler_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a dict."""
        return asdict(self)
