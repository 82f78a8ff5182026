"""Sans-IO framing of SIP over a byte stream: split at end of head plus Content-Length.

Knows only what framing needs (RFC 3261 §18.3): a message is a head ending in
an empty line followed by Content-Length bytes of body. CRLFs between messages
are skipped; a double CRLF there is an RFC 5626 §3.5.1 keepalive ping that the
caller answers with one CRLF (see ``take_pongs``).
"""

from __future__ import annotations

import re

# A header line named Content-Length or its compact form "l"; value up to end of line.
_CL_RE = re.compile(rb"\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_FOLD_RE = re.compile(rb"\r?\n[ \t]+")
_MAX_CL_DIGITS = 9


class FramingError(ValueError):
    """The stream cannot be framed (bad Content-Length, oversize); the connection must close."""


def content_length(head: bytes) -> int:
    """Return the Content-Length declared in a message head; 0 if absent; FramingError if bad.

    Duplicate headers must agree: disagreeing lengths would let two parsers
    split the stream differently.
    """
    if b"\n " in head or b"\n\t" in head:
        head = _FOLD_RE.sub(b" ", head)
    value: int | None = None
    for match in _CL_RE.finditer(head):
        raw = match.group(1).strip(b" \t")
        if not raw.isdigit() or len(raw) > _MAX_CL_DIGITS:
            shown = raw[:20].decode("latin-1")
            raise FramingError(f"malformed Content-Length {shown!r}")
        n = int(raw)
        if value is not None and n != value:
            raise FramingError(f"conflicting Content-Length values {value} and {n}")
        value = n
    return 0 if value is None else value


class StreamFramer:
    """Feed stream bytes in, get complete SIP messages out; no I/O, no clocks.

    ``partial`` says whether a message has started but not finished (the
    caller times that out); ``take_pongs`` returns how many keepalive pongs
    are owed. After a ``FramingError`` the framer must not be fed again.
    """

    __slots__ = ("max_message_size", "_buf", "_scan", "_need", "_pongs", "_failed")

    def __init__(self, max_message_size: int = 65535) -> None:
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._scan = 0  # offset where the search for end of head resumes
        self._need = -1  # total size of the current message once its head is known
        self._pongs = 0
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    @property
    def partial(self) -> bool:
        """True if part of a message (not just inter-message CRLFs) is buffered."""
        buf = self._buf
        return bool(buf) and bool(buf.strip(b"\r\n"))

    @property
    def pong_needed(self) -> bool:
        """True if keepalive pings were seen and their pongs not yet taken."""
        return self._pongs > 0

    def take_pongs(self) -> int:
        """Return and reset the number of CRLF pongs owed for keepalive pings."""
        n, self._pongs = self._pongs, 0
        return n

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every message it completes, in order."""
        if self._failed:
            raise FramingError("framer already failed")
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        try:
            while True:
                end = self._next(buf, pos, out)
                if end == pos:
                    break
                pos = end
        except FramingError:
            self._failed = True
            buf.clear()
            raise
        if pos:
            del buf[:pos]  # compact once per feed, not once per message
        return out

    def _next(self, buf: bytearray, pos: int, out: list[bytes]) -> int:
        """Consume CRLFs or one complete message at ``pos``; return the new position."""
        if self._need < 0:
            n = len(buf)
            if pos < n and buf[pos] in (13, 10):
                return self._skip_crlf(buf, pos, n)
            if pos >= n:
                return pos
            end = self._head_end(buf, pos)
            if end < 0:
                if n - pos > self.max_message_size:
                    raise FramingError(f"no end of headers within {self.max_message_size} bytes")
                return pos
            need = end - pos + content_length(bytes(buf[pos:end]))
            if need > self.max_message_size:
                raise FramingError(f"message of {need} bytes exceeds {self.max_message_size}")
            self._need = need
        end = pos + self._need
        if len(buf) < end:
            return pos
        out.append(bytes(buf[pos:end]))
        self._need = -1
        self._scan = 0
        return end

    def _skip_crlf(self, buf: bytearray, pos: int, n: int) -> int:
        """Skip CR/LF before a message, counting CRLFCRLF pings; return the new position."""
        i = pos
        while i < n and buf[i] in (13, 10):
            if buf.startswith(b"\r\n\r\n", i):
                self._pongs += 1
                i += 4
            elif buf[i] == 13 and b"\r\n\r\n".startswith(buf[i:n]):
                break  # possibly a ping split across reads: wait for the rest
            else:
                i += 1
        return i

    def _head_end(self, buf: bytearray, pos: int) -> int:
        """Return the offset just past the blank line ending the head at ``pos``, or -1."""
        start = pos + self._scan
        crlf = buf.find(b"\r\n\r\n", start)
        lf = buf.find(b"\n\n", start, crlf + 2 if crlf >= 0 else len(buf))
        if lf >= 0:
            return lf + 2
        if crlf >= 0:
            return crlf + 4
        self._scan = max(0, len(buf) - pos - 3)
        return -1
