"""Atheris harness: the C scanner and its pure-Python twin must agree on every input.

Run it directly with libFuzzer flags, e.g.::

    python tests/fuzz/fuzz_scanner.py -max_total_time=60 corpus_dir

Coverage comes from the instrumented pure-Python scanner (the two mirror each other
branch for branch); a disagreement raises AssertionError, which atheris reports as a
crash and saves as a reproducer.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402

from ksrpy.sip._native.build import ensure_inplace  # noqa: E402

ensure_inplace()

with atheris.instrument_imports():
    from ksrpy.sip import scan_py

from ksrpy.sip import scanner  # noqa: E402

if scanner.scan_native is None:
    raise SystemExit(f"native scanner unavailable: {scanner.native_unavailable_reason}")
scan_native = scanner.scan_native


def outcome(scan: object, data: bytes) -> list[int] | int:
    """The scan result or the hard error code."""
    try:
        return scan(data)  # type: ignore[operator]
    except scan_py.ScanError as exc:
        return exc.code


def test_one_input(data: bytes) -> None:
    """One fuzz input: both scanners give the same list or the same error code."""
    pure = outcome(scan_py.scan, data)
    native = outcome(scan_native, data)
    if pure != native:
        raise AssertionError(f"scanners disagree on {data!r}: pure={pure} native={native}")


def main() -> None:
    """Run atheris with the command line's libFuzzer flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
