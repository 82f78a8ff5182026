"""cffi (API mode) build script for the C scanner ``ksrpy.sip._native._scan``.

Used two ways:

* by setuptools through ``cffi_modules=["ksrpy/sip/_native/build.py:ffibuilder"]``;
* directly, ``python ksrpy/sip/_native/build.py``, which compiles the extension
  in place next to ``scan.c`` for development and tests.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
MODULE_NAME = "ksrpy.sip._native._scan"

CDEF = """
#define KSR_MAX_MESSAGE_SIZE ...
#define KSR_MAX_HEADERS ...
#define KSR_MAX_LINE_LENGTH ...
#define KSR_MAX_URI_LENGTH ...
#define KSR_MAX_CONTENT_LENGTH_DIGITS ...
#define KSR_HEADER_BASE ...
#define KSR_HEADER_FIELDS ...
#define KSR_OUT_MAX ...
#define KSR_KIND_REQUEST ...
#define KSR_KIND_REPLY ...
#define KSR_E_EMPTY ...
#define KSR_E_TOO_BIG ...
#define KSR_E_BAD_START_LINE ...
#define KSR_E_LINE_TOO_LONG ...
#define KSR_E_NUL ...
#define KSR_E_BAD_HEADER ...
#define KSR_E_TOO_MANY_HEADERS ...
#define KSR_S_VERSION ...
#define KSR_S_URI_TOO_LONG ...
#define KSR_S_BAD_CONTENT_LENGTH ...
#define KSR_S_BODY_TOO_SHORT ...

int ksr_scan(const unsigned char *buf, size_t len, int32_t *out, size_t out_cap);
int ksr_header_id(const unsigned char *name, size_t len);
"""

COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]


def _source_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (setuptools
    prefers relative sources), else absolute."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def make_ffibuilder(absolute: bool = False) -> FFI:
    """A configured FFI builder; ``absolute`` uses absolute source paths."""
    builder = FFI()
    builder.cdef(CDEF)
    scan_c = HERE / "scan.c"
    builder.set_source(
        MODULE_NAME,
        '#include "scan.h"',
        sources=[str(scan_c) if absolute else _source_path(scan_c)],
        include_dirs=[str(HERE) if absolute else _source_path(HERE)],
        depends=[_source_path(HERE / "scan.h")],
        extra_compile_args=COMPILE_ARGS,
    )
    return builder


ffibuilder = make_ffibuilder()


def build_inplace(verbose: bool = False) -> Path:
    """Compile the extension into this directory; return the path of the built module."""
    builder = make_ffibuilder(absolute=True)
    with tempfile.TemporaryDirectory(prefix="ksrpy-scan-") as tmp:
        built = Path(builder.compile(tmpdir=tmp, verbose=verbose))
        target = HERE / built.name
        # Write under a temporary name then rename, so a running import never sees half a file.
        staging = HERE / (built.name + ".tmp")
        shutil.copyfile(built, staging)
        os.replace(staging, target)
    return target


def _built_module() -> Path | None:
    """The in-place extension for this interpreter, if there is one."""
    import importlib.machinery

    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = HERE / ("_scan" + suffix)
        if candidate.exists():
            return candidate
    return None


def ensure_inplace() -> Path:
    """Build in place unless an extension newer than scan.c, scan.h and build.py is there.

    Tests call this before importing ``ksrpy.sip.scanner`` so a fresh clone (or an edited
    scan.c) is tested against a current build. Raises when the build fails.
    """
    built = _built_module()
    inputs = [HERE / "scan.c", HERE / "scan.h", Path(__file__).resolve()]
    if built is not None:
        newest_input = max(p.stat().st_mtime for p in inputs)
        if built.stat().st_mtime >= newest_input:
            return built
    return build_inplace()


if __name__ == "__main__":
    print(build_inplace(verbose="-v" in sys.argv[1:]))
