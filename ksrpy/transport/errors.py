"""Exceptions of the transport layer."""

from __future__ import annotations


class TransportError(Exception):
    """A transport could not be set up (e.g. a listen address is in use)."""
