"""Exceptions of the SIP layer: who is at fault and what a server should answer."""

from __future__ import annotations

from typing import Any


class SIPError(Exception):
    """Base class of every error raised by ksrpy.sip."""


class SIPParseError(SIPError):
    """The peer sent something that is not a valid SIP message.

    ``status`` is the SIP status a server should answer with (400, 414, 505,
    ...) or 0 when no reply is possible (the message is not identifiable as a
    request, or its headers could not be read). ``scan`` carries the header
    index when the headers were readable, so a reply can still be built.
    """

    def __init__(self, reason: str, status: int = 0, scan: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.scan = scan

    @property
    def can_reply(self) -> bool:
        """True when the headers were read and a reply with ``status`` can be built."""
        return self.status != 0 and self.scan is not None


class SIPUsageError(SIPError):
    """ksrpy code misused the SIP API (a local bug, not the peer's fault)."""
