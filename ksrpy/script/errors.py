"""Load-time errors of routing scripts, each pointing at file:line:col with the source line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScriptIssue:
    """One problem found in a script."""

    file: str
    line: int
    col: int
    message: str
    source: str = ""

    def __str__(self) -> str:
        head = f"{self.file}:{self.line}:{self.col}: {self.message}"
        if not self.source:
            return head
        caret = " " * max(self.col - 1, 0) + "^"
        return f"{head}\n    {self.source.rstrip()}\n    {caret}"


class ScriptLoadError(Exception):
    """A script could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ScriptIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def source_line(path: str, line: int) -> str:
    """Line ``line`` (1-based) of file ``path``, '' when unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, 1):
                if n == line:
                    return text
    except OSError:
        pass
    return ""
