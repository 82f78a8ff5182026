"""The message scanner the rest of ksrpy uses: the C scanner when it is built, else its
pure-Python twin.

``scan(buf)`` returns the flat list of ints described in ``scan_py``'s docstring and
raises ``scan_py.ScanError`` on hard errors, whichever scanner runs. The native
one is used unless ``ksrpy.sip._native._scan`` cannot be imported or the
environment sets ``KSRPY_PURE=1``; ``NATIVE`` says which is in use and
``native_unavailable_reason`` why the pure one is.

``scan_pure`` and ``scan_native`` (``None`` when the extension cannot be imported)
are exported so tests can run both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from . import scan_py
from .scan_py import ScanError

__all__ = [
    "NATIVE",
    "ScanError",
    "native_unavailable_reason",
    "scan",
    "scan_native",
    "scan_pure",
]

scan_pure: Callable[[bytes], list[int]] = scan_py.scan


def _load_native() -> tuple[Callable[[bytes], list[int]] | None, str | None]:
    """Import the extension and build the fast wrapper; (None, reason) when impossible."""
    try:
        from ._native._scan import ffi, lib  # type: ignore[import-not-found]
    except ImportError as exc:
        return None, f"C scanner not importable: {exc}"

    out_max: int = lib.KSR_OUT_MAX
    ksr_scan = lib.ksr_scan
    from_buffer = ffi.from_buffer

    class _Buffers(threading.local):
        """One preallocated output array per thread (cffi releases the GIL during the call)."""

        def __init__(self) -> None:
            self.out: Any = ffi.new("int32_t[]", out_max)
            self.view = memoryview(ffi.buffer(self.out)).cast("i")

    buffers = _Buffers()
    if buffers.view.itemsize != ffi.sizeof("int32_t"):
        return None, "C int is not 32 bits on this platform"

    def scan_native(buf: bytes) -> list[int]:
        """Scan one SIP message with the C scanner (same contract as ``scan_py.scan``)."""
        b = buffers
        if type(buf) is not bytes:
            buf = from_buffer("unsigned char[]", buf)
        n = ksr_scan(buf, len(buf), b.out, out_max)
        if n < 0:
            raise ScanError(n)
        return b.view[:n].tolist()

    return scan_native, None


scan_native, native_unavailable_reason = _load_native()

if scan_native is not None and os.environ.get("KSRPY_PURE") == "1":
    native_unavailable_reason = "disabled by KSRPY_PURE=1"

NATIVE: bool = scan_native is not None and native_unavailable_reason is None

#: Scan one SIP message; see ``scan_py`` for the output format.
scan: Callable[[bytes], list[int]] = scan_native if NATIVE and scan_native else scan_pure
