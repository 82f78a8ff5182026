"""The pure logic of the stateful benchmark: sipp stat parsing, ramp planning, pass/fail."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402
import stateful_bench as sb  # noqa: E402

HEADER = ("StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;"
          "CallRate(P);CallRate(C);IncomingCall(P);IncomingCall(C);OutgoingCall(P);"
          "OutgoingCall(C);TotalCallCreated;CurrentCall;SuccessfulCall(P);SuccessfulCall(C);"
          "FailedCall(P);FailedCall(C);Retransmissions(P);Retransmissions(C);"
          "ResponseTime1(P);ResponseTime1(C)")


def _row(ok: int, failed: int, rate: str, rtt: str = "00:00:00:002000") -> str:
    return (f"a;b;c;00:00:01;00:00:05;300;300;{rate};0;0;300;1500;1500;0;300;{ok};0;{failed};"
            f"0;0;{rtt};{rtt}")


def test_last_row_of_the_stat_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "uac.csv"
    path.write_text("\n".join([HEADER, _row(10, 0, "100.0"), _row(1490, 10, "299.5"), ""]))
    row = _common.sipp_stat_row(path)
    run = sb.CallRun(proxy="x", target_rate=300, calls=1500)
    sb.apply_uac_row(run, row)
    assert (run.successful, run.failed, run.achieved_rate) == (1490, 10, 299.5)
    assert run.invite_to_200_ms == 2.0


def test_missing_or_empty_stat_file_gives_no_counts(tmp_path: Path) -> None:
    assert _common.sipp_stat_row(tmp_path / "none.csv") == {}
    (tmp_path / "head.csv").write_text(HEADER + "\n")
    assert _common.sipp_stat_row(tmp_path / "head.csv") == {}
    run = sb.CallRun(proxy="x", target_rate=300, calls=10)
    sb.apply_uac_row(run, {})
    assert run.successful == 0 and run.achieved_rate == 0.0 and math.isnan(run.invite_to_200_ms)
    assert run.failed_fraction == 1.0 and not run.passed


@pytest.mark.parametrize(("text", "ms"), [
    ("00:00:00:002000", 2.0), ("01:02:03:000500", 3723000.5),
    ("", math.nan), ("1:2:3", math.nan), ("a:b:c:d", math.nan)])
def test_sipp_durations(text: str, ms: float) -> None:
    got = _common.sipp_duration_ms(text)
    assert (math.isnan(got) and math.isnan(ms)) or got == ms


def test_a_step_passes_below_the_failure_bound_at_the_target_rate() -> None:
    ok = sb.CallRun(proxy="x", target_rate=1000, calls=4000, successful=3997, achieved_rate=990)
    assert ok.passed  # 0.075 % failed, 99 % of the rate
    lossy = sb.CallRun(proxy="x", target_rate=1000, calls=4000, successful=3996, achieved_rate=990)
    assert not lossy.passed  # 0.1 % failed
    slow = sb.CallRun(proxy="x", target_rate=1000, calls=4000, successful=4000, achieved_rate=940)
    assert not slow.passed  # the UAC fell behind the target rate


def test_cpu_per_call_with_and_without_the_tail() -> None:
    run = sb.CallRun(proxy="x", target_rate=300, calls=1000, successful=1000, server_cpu_s=0.5)
    assert run.cpu_us_per_call == 500.0
    assert math.isnan(run.total_cpu_us_per_call)  # the tail was not read
    run.tail_cpu_s = 1.5
    assert run.total_cpu_us_per_call == 2000.0


def _step(rate: int, passed: bool) -> sb.CallRun:
    return sb.CallRun(proxy="x", target_rate=rate, calls=rate, successful=rate if passed else 0,
                      achieved_rate=rate)


def test_max_rate_is_the_highest_pass_below_the_lowest_failure() -> None:
    runs = [_step(500, True), _step(1000, True), _step(2000, False), _step(1500, False),
            _step(1250, True)]
    best, failing = sb.max_rate(runs)
    assert best == 1250 and failing is not None and failing.target_rate == 1500
    # A pass above a failure is noise: it does not count.
    best, _ = sb.max_rate([_step(500, True), _step(1000, False), _step(2000, True)])
    assert best == 500
    best, failing = sb.max_rate([_step(500, False)])
    assert best == 0 and failing is not None and failing.target_rate == 500
    assert sb.max_rate([]) == (0, None)


def test_bisection_rounds_to_a_grain_and_stops_when_close() -> None:
    assert sb.bisect_rate(1000, 2000) == 1500
    mid = sb.bisect_rate(4000, 5000)
    assert mid is not None and 4000 < mid < 5000 and mid % 200 == 0  # grain 200 at 4000/s
    assert sb.bisect_rate(500, 550) is None  # nothing between on a 50/s grain
    mid = sb.bisect_rate(250, 500)
    assert mid is not None and 250 < mid < 500


def test_ramp_skips_steps_far_below_the_prediction() -> None:
    steps = [250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000]
    assert sb.ramp_steps(steps, 5000.0) == [1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000]
    assert sb.ramp_steps(steps, 300.0) == steps  # nothing below 90/s to skip
    assert sb.ramp_steps(steps, math.nan) == steps
    assert sb.ramp_steps(steps, 1e9) == [8000]  # always at least the last step


def test_predicted_rate_prefers_the_cost_with_the_tail() -> None:
    run = sb.CallRun(proxy="p", target_rate=300, calls=100, successful=100, server_cpu_s=0.05,
                     tail_cpu_s=0.05)
    assert sb.predicted_rate({300: {"p": [run]}}, "p") == pytest.approx(1000.0)
    run.tail_cpu_s = float("nan")
    assert sb.predicted_rate({300: {"p": [run]}}, "p") == pytest.approx(2000.0)


def test_peak_usage_ignores_exited_processes_and_short_intervals() -> None:
    samples = [(0.0, {"a": 1.0, "b": 0.0}), (0.5, {"a": 1.25, "b": 0.1}),
               (1.0, {"a": 1.75, "b": 0.0}), (1.1, {"a": 1.85, "b": 0.0})]
    peaks = _common.peak_usage(samples, 0.5)
    assert peaks["a"] == pytest.approx(100.0)  # 0.5 s of CPU over 0.5 s; the 0.1 s gap skipped
    assert peaks["b"] == 0.0  # started at zero, then gone


def test_pyspy_tables_count_own_and_inclusive_samples() -> None:
    raw = "\n".join([
        "<module> (ksrpy/__main__.py:1);handle (ksrpy/core/engine.py:10);"
        "send (ksrpy/transport/udp.py:5) 3",
        "<module> (ksrpy/__main__.py:1);handle (ksrpy/core/engine.py:12) 1",
        "Thread._bootstrap (threading.py:1);wait (threading.py:2) 50",
        "garbage",
    ])
    total, own, inclusive = _common.pyspy_tables(raw)
    assert total == 4
    assert own == {"send (ksrpy/transport/udp.py)": 3, "handle (ksrpy/core/engine.py)": 1}
    assert inclusive == {"handle (ksrpy/core/engine.py)": 4, "send (ksrpy/transport/udp.py)": 3}
    assert _common.top_lines(own, total, 1) == [" 75.0%  send (ksrpy/transport/udp.py)"]
