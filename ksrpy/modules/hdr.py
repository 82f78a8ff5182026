"""KSR.hdr: add, remove and test headers from Python scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exports import ArgKind as K
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context


def _lines(text: str) -> bytes:
    """A header text as given by a script ('Name: value' with or without CRLF)."""
    text = text.rstrip("\r\n")
    if ":" not in text:
        raise ValueError(f"header {text!r} has no ':'")
    if "\n" in text.replace("\r\n", "\n").rstrip("\n"):
        # Several lines given at once: keep them, normalised to CRLF.
        text = "\r\n".join(line.rstrip("\r") for line in text.split("\n"))
    return (text + "\r\n").encode("utf-8", "surrogateescape")


class HdrModule(Module):
    """Header edits, applied when the message is sent."""

    name = "hdr"
    kemi_namespace = "hdr"

    @export("append", ("text", K.SPVE), returns=Returns.INT, cfg=False)
    def append(self, ctx: Context, text: str) -> int:
        """Add a header line at the end of the header block."""
        ctx.msg.add_raw_header_lines(_lines(text))
        return 1

    @export("insert", ("text", K.SPVE), returns=Returns.INT, cfg=False)
    def insert(self, ctx: Context, text: str) -> int:
        """Add a header line at the top of the header block."""
        ctx.msg.add_raw_header_lines(_lines(text), top=True)
        return 1

    @export("remove", ("name", K.STR), returns=Returns.INT, cfg=False)
    def remove(self, ctx: Context, name: str) -> int:
        """Remove every header with this name; -1 when there was none."""
        return 1 if ctx.msg.remove_header(name) else -1

    @export("is_present", ("name", K.STR), returns=Returns.INT, cfg=False)
    def is_present(self, ctx: Context, name: str) -> int:
        """1 when a header with this name is present, else -1."""
        return 1 if ctx.msg.has_header(name) else -1
