"""Point a runtime error at the user's script line, not at ksrpy's internals."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable


def describe_script_error(exc: BaseException, script_files: Iterable[str]) -> str:
    """``file:line`` of the innermost traceback frame that lies in the script.

    Compiled cfg routes map generated lines back to cfg lines through
    ``__ksrpy_lines__`` in their globals; Python scripts are reported as they are.
    """
    wanted = {os.path.realpath(f) for f in script_files}
    where = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        mapping = frame.f_globals.get("__ksrpy_lines__")
        if mapping is not None:
            src = mapping.get(lineno)
            if src is not None:
                where = f"{src[0]}:{src[1]}"
                continue
        if os.path.realpath(filename) in wanted:
            where = f"{filename}:{lineno}"
    return where or "<script>"
