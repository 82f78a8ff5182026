"""Signed nonces: creation time, lifetime, an id for replay tracking, HMAC-SHA256 tags.

Binary layout, base64 (standard alphabet, as Kamailio) in the challenge::

    expire u32 | since u32 | nid u32 | flags u8 | tag1 (17 bytes)  [| tag2 (15 bytes)]

``tag1`` is HMAC-SHA256(secret1, first 13 bytes) truncated; it makes the
timestamps and the id unforgeable. ``tag2`` is present when auth_checks bits
are set (``flags`` low nibble): HMAC-SHA256(secret2, first 13 bytes + the
bound message parts: R-URI, Call-ID, From tag, source IP). ``flags`` bit 4 /
bit 5 say the nonce is tracked for nonce_count / one_time_nonce.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import struct
import time
from collections.abc import Callable, Sequence

CHECK_URI, CHECK_CALLID, CHECK_FROMTAG, CHECK_SRCIP = 1, 2, 4, 8
FLAG_NC, FLAG_OTN = 16, 32
_HEAD = struct.Struct(">IIIB")
_TAG1, _TAG2 = 17, 15
MAX_NC = 255


class NonceStatus(enum.IntEnum):
    """Outcome of checking a nonce (Kamailio's check_nonce results, mapped to auth codes)."""

    OK = 0
    INVALID = 1  # malformed or forged: -1
    STALE = 3  # expired, from the future, bound parts changed, nc too old/too big: -4
    REUSED = 6  # one-time nonce used again: -6


class ReplayTable:
    """Bounded replay state: one byte (last nc) and one bit (used once) per nonce id slot."""

    def __init__(self, nc_order: int, otn_order: int) -> None:
        self.nc_size = 1 << nc_order
        self.otn_size = 1 << otn_order
        self._nc: bytearray | None = None
        self._otn: bytearray | None = None
        self.next_id = 0

    def new_id(self, nc: bool, otn: bool) -> int:
        """Allocate the next id and reset its slots (overwriting the oldest nonce's state)."""
        nid = self.next_id
        self.next_id = (nid + 1) & 0xFFFFFFFF
        if nc:
            if self._nc is None:
                self._nc = bytearray(self.nc_size)
            self._nc[nid & (self.nc_size - 1)] = 0
        if otn:
            if self._otn is None:
                self._otn = bytearray(self.otn_size // 8 or 1)
            slot = nid & (self.otn_size - 1)
            self._otn[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF
        return nid

    def _in_window(self, nid: int, size: int) -> bool:
        age = (self.next_id - 1 - nid) & 0xFFFFFFFF
        return age < size

    def check_nc(self, nid: int, nc: int) -> NonceStatus:
        """nc must grow for each use of a nonce; state lost or nc > 255 means stale."""
        if self._nc is None or not self._in_window(nid, self.nc_size) or nc > MAX_NC or nc < 1:
            return NonceStatus.STALE
        slot = nid & (self.nc_size - 1)
        if self._nc[slot] >= nc:
            return NonceStatus.STALE
        self._nc[slot] = nc
        return NonceStatus.OK

    def check_otn(self, nid: int) -> NonceStatus:
        """A one-time nonce is accepted once; state lost means stale."""
        if self._otn is None or not self._in_window(nid, self.otn_size):
            return NonceStatus.STALE
        slot = nid & (self.otn_size - 1)
        byte, bit = slot >> 3, 1 << (slot & 7)
        if self._otn[byte] & bit:
            return NonceStatus.REUSED
        self._otn[byte] |= bit
        return NonceStatus.OK


class NonceFactory:
    """Makes and checks nonces for one secret; ``clock`` is injectable for tests."""

    def __init__(self, secret: bytes, expire: int = 300, max_drift: int = 3,
                 replay: ReplayTable | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.secret1 = hashlib.sha256(b"ksrpy-nonce-1\0" + secret).digest()
        self.secret2 = hashlib.sha256(b"ksrpy-nonce-2\0" + secret).digest()
        self.expire = expire
        self.max_drift = max_drift
        self.replay = replay or ReplayTable(20, 20)
        self.clock = clock
        self.started = int(clock())

    def _tag2(self, head: bytes, bound: Sequence[str]) -> bytes:
        material = head + b"\0".join(p.encode("utf-8", "surrogateescape") for p in bound)
        return hmac.new(self.secret2, material, hashlib.sha256).digest()[:_TAG2]

    def make(self, checks: int = 0, bound: Sequence[str] = (), nc: bool = False,
             otn: bool = False) -> str:
        """A fresh nonce; ``bound`` are the message parts selected by ``checks``."""
        now = int(self.clock())
        flags = (checks & 0x0F) | (FLAG_NC if nc else 0) | (FLAG_OTN if otn else 0)
        nid = self.replay.new_id(nc, otn) if (nc or otn) else 0
        head = _HEAD.pack((now + self.expire) & 0xFFFFFFFF, now & 0xFFFFFFFF, nid, flags)
        raw = head + hmac.new(self.secret1, head, hashlib.sha256).digest()[:_TAG1]
        if checks & 0x0F:
            raw += self._tag2(head, bound)
        return base64.b64encode(raw).decode()

    def decode(self, nonce: str) -> tuple[int, int, int, int, bytes] | None:
        """(expire, since, nid, flags, head) when the nonce is ours and untampered."""
        if len(nonce) not in (40, 60):
            return None
        try:
            raw = base64.b64decode(nonce, validate=True)
        except (binascii.Error, ValueError):
            return None
        head = raw[: _HEAD.size]
        tag1 = raw[_HEAD.size : _HEAD.size + _TAG1]
        want = hmac.new(self.secret1, head, hashlib.sha256).digest()[:_TAG1]
        if not hmac.compare_digest(tag1, want):
            return None
        expire, since, nid, flags = _HEAD.unpack(head)
        if bool(flags & 0x0F) != (len(raw) == _HEAD.size + _TAG1 + _TAG2):
            return None
        return expire, since, nid, flags, raw

    def check(self, nonce: str, bound_for: Callable[[int], Sequence[str]],
              nc: str | None = None) -> NonceStatus:
        """Validate a nonce from credentials; ``bound_for(checks)`` gives the parts to compare.

        Order: signature (INVALID), lifetime and drift (STALE), bound parts
        (STALE), then nonce_count when the client sent nc, else one-time use.
        """
        decoded = self.decode(nonce)
        if decoded is None:
            return NonceStatus.INVALID
        expire, since, nid, flags, raw = decoded
        now = int(self.clock())
        if expire < now:
            return NonceStatus.STALE
        if since > now + self.max_drift:
            return NonceStatus.STALE
        checks = flags & 0x0F
        if checks:
            head = raw[: _HEAD.size]
            tag2 = raw[_HEAD.size + _TAG1 :]
            if not hmac.compare_digest(tag2, self._tag2(head, bound_for(checks))):
                return NonceStatus.STALE
        if flags & (FLAG_NC | FLAG_OTN) and since < self.started:
            # Made by an earlier process with the same secret: its replay state is gone.
            return NonceStatus.STALE
        if flags & FLAG_NC and nc is not None:
            return self.replay.check_nc(nid, int(nc, 16))
        if flags & FLAG_OTN:
            return self.replay.check_otn(nid)
        return NonceStatus.OK

    def expires_at(self, nonce: str) -> int | None:
        """The expiry time written in a valid nonce."""
        decoded = self.decode(nonce)
        return None if decoded is None else decoded[0]
