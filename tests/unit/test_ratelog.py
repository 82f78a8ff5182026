"""RateLimitedLog: once per key per interval, bounded key table."""

from __future__ import annotations

import logging

import pytest

from ksrpy.core.ratelog import RateLimitedLog


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_once_per_key_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """Repeats within the interval are suppressed and counted in the next message."""
    clock = Clock()
    rlog = RateLimitedLog(logging.getLogger("t.ratelog"), interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="t.ratelog"):
        assert rlog.warning("1.2.3.4", "bad from %s", "1.2.3.4")
        assert not rlog.warning("1.2.3.4", "bad from %s", "1.2.3.4")
        assert not rlog.warning("1.2.3.4", "bad from %s", "1.2.3.4")
        assert rlog.warning("5.6.7.8", "bad from %s", "5.6.7.8")
        clock.now += 10.0
        assert rlog.warning("1.2.3.4", "bad from %s", "1.2.3.4")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "bad from 1.2.3.4",
        "bad from 5.6.7.8",
        "bad from 1.2.3.4 (2 similar suppressed)",
    ]


def test_key_table_is_bounded() -> None:
    """The oldest key is evicted when the table is full."""
    rlog = RateLimitedLog(logging.getLogger("t.ratelog"), max_keys=3, clock=Clock())
    for key in range(10):
        rlog.allow(key)
    assert len(rlog._seen) == 3
    assert rlog.allow(0) == 0  # evicted, so it may log again
    assert rlog.allow(9) is None


def test_levels_and_exc_info(caplog: pytest.LogCaptureFixture) -> None:
    """error() passes exc_info through; the record points at the caller."""
    rlog = RateLimitedLog(logging.getLogger("t.ratelog"))
    with caplog.at_level(logging.DEBUG, logger="t.ratelog"):
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            rlog.error("k", "failed: %s", exc, exc_info=exc)
        rlog.info("i", "info")
        rlog.debug("d", "debug")
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.INFO, logging.DEBUG]
    assert caplog.records[0].exc_info is not None
    assert caplog.records[0].filename == "test_ratelog.py"
