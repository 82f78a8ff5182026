"""Bounded-time fuzzing of the C scanner.

1. ``test_libfuzzer_asan``: scan.c built with clang ``-fsanitize=fuzzer,address,undefined``
   into a standalone libFuzzer target that checks the output's invariants (every span
   inside the buffer, nothing written past ``out_cap``); any out-of-bounds access is
   an ASan report and a failure. Needs Debian ``clang`` and ``libclang-rt-14-dev``
   (or the matching ``libclang-rt-<N>-dev`` of the installed clang); without them it
   falls back, with a warning naming those packages, to the atheris harness (no ASan).
2. ``test_atheris_differential``: the atheris harness ``fuzz_scanner.py`` (C scanner vs
   pure-Python twin) for a bounded number of runs. Needs the ``atheris`` pip package
   (``pip install .[fuzz]``); without it the test fails saying so.

``KSRPY_FUZZ_SECONDS`` overrides the libFuzzer time budget (default 20 s).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NATIVE_DIR = ROOT / "ksrpy" / "sip" / "_native"
HARNESS = Path(__file__).resolve().parent / "fuzz_scanner.py"
FUZZ_SECONDS = int(os.environ.get("KSRPY_FUZZ_SECONDS", "20"))
ATHERIS_RUNS = int(os.environ.get("KSRPY_FUZZ_RUNS", "100000"))

SEEDS: list[bytes] = [
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\n"
    b"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@10.0.0.1>\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n",
    b"SIP/2.0 180 Ringing\nv: SIP/2.0/UDP h\nf: <sip:a@b>;tag=1\nt: <sip:c@d>\ni: x\nl: 0\n\n",
    b"\r\n\r\nREGISTER sip:reg SIP/2.0\r\nSubject: folded\r\n  value\r\n\tmore\r\n"
    b"Route: <sip:r1>\r\nl: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"OPTIONS sip:x SIP/3.0\r\nX-Unknown :  v  \r\nContent-Length: x\r\n\r\n",
    b"MESSAGE sip:" + b"u" * 1030 + b" SIP/2.0\r\nl: 99\r\n\r\nshort",
    b"SIP/2.0 200 OK\r\nX: " + b"a" * 8189 + b"\r\n\r\n",
    b"OPTIONS sip:x SIP/2.0\r\n" + b"v: a\r\n" * 256 + b"\r\n",
]

DICTIONARY: list[bytes] = [
    b"SIP/2.0", b"sip/2.0", b"SIP/", b"\r\n", b"\r\n\r\n", b"\r\n ", b"\n\t", b": ", b"\x00",
    b"INVITE ", b" sip:", b"Content-Length:", b"l: ", b"Via:", b"v:", b"CONTENT-LENGTH",
    b"999999999", b"0000000000", b"200 OK", b"SIP/2.0 ",
]  # fmt: skip


def _dict_entry(word: bytes) -> str:
    """One libFuzzer dictionary line (only \\xNN escapes for non-printables)."""
    body = "".join(chr(c) if 0x20 <= c < 0x7F and c not in b'"\\' else f"\\x{c:02X}" for c in word)
    return f'"{body}"\n'


# The libFuzzer target: ASan catches any access outside the input (libFuzzer hands it an
# exactly-sized heap copy) or outside the output arrays (exactly-sized mallocs too).
TARGET_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scan.h"

#define CHECK(c) \
    do { if (!(c)) { fprintf(stderr, "invariant failed: %s\n", #c); abort(); } } while (0)

static void check_output(size_t size, const int32_t *out, int n)
{
    int32_t s = (int32_t)size, i, count;
    if (n < 0) {
        CHECK(n >= KSR_E_TOO_MANY_HEADERS);
        return;
    }
    CHECK(n >= KSR_HEADER_BASE && (n - KSR_HEADER_BASE) % KSR_HEADER_FIELDS == 0);
    count = (n - KSR_HEADER_BASE) / KSR_HEADER_FIELDS;
    CHECK(out[10] == count && count <= KSR_MAX_HEADERS);
    CHECK(out[0] >= 0 && out[0] <= KSR_S_BODY_TOO_SHORT);
    CHECK(out[1] == KSR_KIND_REQUEST || out[1] == KSR_KIND_REPLY);
    CHECK(0 <= out[2] && out[2] <= out[3] && out[3] <= out[4] && out[4] <= out[5]);
    CHECK(out[5] <= out[7] && out[7] <= s && out[8] <= s);
    CHECK(out[1] == KSR_KIND_REQUEST ? out[6] == 0 : (out[6] >= 100 && out[6] <= 699));
    CHECK(out[9] >= -1 && out[9] <= 999999999);
    for (i = 0; i < count; i++) {
        const int32_t *h = out + KSR_HEADER_BASE + KSR_HEADER_FIELDS * i;
        CHECK(h[0] >= 0 && h[0] <= 47);
        CHECK(out[7] < h[1] && h[1] < h[2] && h[2] < h[3] + 1 && h[3] <= h[4]);
        CHECK(h[4] <= h[5] && h[5] <= s && h[5] <= out[8]);
        if (i > 0)
            CHECK(h[1] == h[-1]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t small_cap = KSR_HEADER_BASE + KSR_HEADER_FIELDS * 2;
    int32_t *out = malloc(KSR_OUT_MAX * sizeof *out);
    int32_t *small = malloc(small_cap * sizeof *small);
    int n, m;

    n = ksr_scan(data, size, out, KSR_OUT_MAX);
    check_output(size, out, n);

    m = ksr_scan(data, size, small, small_cap);
    if (m >= 0)
        CHECK(m == n && memcmp(small, out, (size_t)m * sizeof *out) == 0);
    if (n >= 0 && (size_t)n <= small_cap)
        CHECK(m == n);
    if (m < 0 && m != n)
        CHECK(m == KSR_E_TOO_MANY_HEADERS);

    CHECK(ksr_scan(data, size, NULL, 0) == KSR_E_TOO_MANY_HEADERS);
    free(small);
    free(out);
    return 0;
}
"""


def _write_inputs(tmp: Path) -> tuple[Path, Path]:
    """Seed corpus (a fresh, writable copy) and dictionary file."""
    corpus = tmp / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed{i}").write_bytes(seed)
    dict_file = tmp / "sip.dict"
    dict_file.write_text("".join(_dict_entry(word) for word in DICTIONARY))
    return corpus, dict_file


def _clang_with_libfuzzer(tmp: Path) -> tuple[str | None, str]:
    """(clang path, "") when clang can link a libFuzzer+ASan target, else (None, why)."""
    clang = shutil.which("clang")
    if clang is None:
        return None, "clang not found"
    probe = tmp / "probe.c"
    probe.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                     " { (void)d; (void)n; return 0; }\n")  # fmt: skip
    res = subprocess.run(
        [clang, "-fsanitize=fuzzer,address,undefined", str(probe), "-o", str(tmp / "probe")],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        return None, f"clang cannot link -fsanitize=fuzzer,address: {res.stderr.strip()[-400:]}"
    return clang, ""


def _stat(output: str, name: str) -> int:
    match = re.search(rf"stat::{name}:\s+(\d+)", output)
    return int(match.group(1)) if match else -1


def _run_atheris(tmp_path: Path, runs: int, seconds: int) -> int:
    """Run the differential atheris harness; return the number of executions."""
    if importlib.util.find_spec("atheris") is None:
        pytest.fail("the 'atheris' pip package is needed: pip install atheris (or .[fuzz])")
    tmp_path.mkdir(parents=True, exist_ok=True)
    corpus, dict_file = _write_inputs(tmp_path)
    res = subprocess.run(
        [
            sys.executable, str(HARNESS), f"-runs={runs}", f"-max_total_time={seconds}",
            "-max_len=12000", f"-dict={dict_file}", "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/", str(corpus),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=seconds + 90,
    )  # fmt: skip
    tail = (res.stdout + res.stderr)[-6000:]
    assert res.returncode == 0, f"atheris found a problem (exit {res.returncode}):\n{tail}"
    execs = _stat(res.stderr, "number_of_executed_units")
    assert execs > 1000, tail
    return execs


def test_libfuzzer_asan(tmp_path: Path) -> None:
    """scan.c under ASan/UBSan libFuzzer; falls back to the atheris harness without clang."""
    clang, why = _clang_with_libfuzzer(tmp_path)
    if clang is None:
        warnings.warn(
            f"{why}: fuzzing with the atheris harness instead, WITHOUT AddressSanitizer. "
            "Install the Debian packages 'clang' and 'libclang-rt-14-dev' "
            "(apt-get install clang libclang-rt-14-dev) for the ASan/UBSan libFuzzer run.",
            stacklevel=1,
        )
        execs = _run_atheris(tmp_path / "fallback", ATHERIS_RUNS * 2, FUZZ_SECONDS)
        print(f"atheris fallback (no ASan): {execs} executions")
        return
    src = tmp_path / "target.c"
    src.write_text(TARGET_C)
    exe = tmp_path / "fuzz_scan"
    build = subprocess.run(
        [
            clang, "-g", "-O1", "-fno-omit-frame-pointer",
            "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
            "-Wall", "-Wextra", "-Werror",
            f"-I{NATIVE_DIR}", str(NATIVE_DIR / "scan.c"), str(src), "-o", str(exe),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    corpus, dict_file = _write_inputs(tmp_path)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS":
           "print_stacktrace=1:halt_on_error=1"}  # fmt: skip
    res = subprocess.run(
        [
            str(exe), f"-max_total_time={FUZZ_SECONDS}", "-max_len=12000", "-timeout=10",
            "-rss_limit_mb=2048", f"-dict={dict_file}", "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/", str(corpus),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=FUZZ_SECONDS + 60,
    )  # fmt: skip
    tail = res.stderr[-6000:]
    assert res.returncode == 0, f"libFuzzer found a problem (exit {res.returncode}):\n{tail}"
    execs = _stat(res.stderr, "number_of_executed_units")
    print(f"libFuzzer+ASan: {execs} executions in {FUZZ_SECONDS}s")
    assert execs > 1000, tail


def test_atheris_differential(tmp_path: Path) -> None:
    """C scanner vs pure-Python twin under coverage-guided fuzzing, bounded runs and time."""
    execs = _run_atheris(tmp_path, ATHERIS_RUNS, 10)
    print(f"atheris differential: {execs} executions")
