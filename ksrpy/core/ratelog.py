"""Log at most once per key per interval, so a flood from one peer cannot flood the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import Any


class RateLimitedLog:
    """Wrap a logger; each key (e.g. a source IP) logs at most once per ``interval`` seconds.

    The key table is bounded by ``max_keys`` (oldest entry evicted), so keys
    chosen by an attacker cannot grow memory. A message logged after a quiet
    period says how many similar ones were suppressed meanwhile.
    """

    __slots__ = ("logger", "interval", "max_keys", "_clock", "_seen")

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        max_keys: int = 10000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.logger = logger
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        # key -> [last time logged, suppressed count]; dict order = least recently logged first
        self._seen: dict[Hashable, list[float]] = {}

    def allow(self, key: Hashable) -> int | None:
        """Return the suppressed count if ``key`` may log now (and record it), else None."""
        now = self._clock()
        seen = self._seen
        entry = seen.get(key)
        if entry is not None:
            if now - entry[0] < self.interval:
                entry[1] += 1
                return None
            del seen[key]  # re-insert at the end: most recently logged
            suppressed = int(entry[1])
        else:
            suppressed = 0
            if len(seen) >= self.max_keys:
                del seen[next(iter(seen))]
        seen[key] = [now, 0]
        return suppressed

    def log(self, level: int, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Log ``msg % args`` at ``level`` unless ``key`` logged recently; True if logged."""
        suppressed = self.allow(key)
        if suppressed is None:
            return False
        if suppressed:
            msg = f"{msg} ({suppressed} similar suppressed)"
        kwargs.setdefault("stacklevel", 3)
        self.logger.log(level, msg, *args, **kwargs)
        return True

    def debug(self, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Rate-limited ``logger.debug``."""
        return self.log(logging.DEBUG, key, msg, *args, **kwargs)

    def info(self, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Rate-limited ``logger.info``."""
        return self.log(logging.INFO, key, msg, *args, **kwargs)

    def warning(self, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Rate-limited ``logger.warning``."""
        return self.log(logging.WARNING, key, msg, *args, **kwargs)

    def error(self, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Rate-limited ``logger.error`` (pass ``exc_info=True`` for a traceback)."""
        return self.log(logging.ERROR, key, msg, *args, **kwargs)
