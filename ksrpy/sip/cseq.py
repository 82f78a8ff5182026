"""CSeq header values (RFC 3261 §20.16): ``1*DIGIT LWS Method``."""

from __future__ import annotations

import re

from .errors import SIPParseError
from .params import TOKEN_CHARS, show, unfold

__all__ = ["parse_cseq", "MAX_CSEQ"]

#: RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
MAX_CSEQ = 2**31 - 1

_CSEQ_RE = re.compile(rf"([0-9]+)[ \t]+([{TOKEN_CHARS}]+)")
_DIGITS_RE = re.compile(r"[0-9]+")
_TOKEN_RE = re.compile(f"[{TOKEN_CHARS}]+")


def parse_cseq(text: str) -> tuple[int, str]:
    """Parse ``"4711 INVITE"`` into ``(4711, "INVITE")``; the method keeps its case."""
    t = unfold(text).strip(" \t")
    m = _CSEQ_RE.fullmatch(t)
    if m is None:
        raise _diagnose(t)
    digits, method = m.groups()
    # Leading zeros are allowed by 1*DIGIT ("0009" in RFC 4475 §3.1.1.1); checking the length
    # first keeps int() away from huge digit strings.
    if len(digits.lstrip("0")) > 10 or int(digits) > MAX_CSEQ:
        raise SIPParseError(
            f"CSeq number {show(digits, 30)} is too large: it must be less than 2**31"
            " (RFC 3261 §8.1.1.5)",
            400,
        )
    return int(digits), method


def _diagnose(t: str) -> SIPParseError:
    """Explain why ``t`` is not a CSeq value."""
    if not t:
        return SIPParseError("empty CSeq header", 400)
    number, _, method = t.partition(" ")
    if "\t" in number:
        number, _, method = t.partition("\t")
    if _DIGITS_RE.fullmatch(number) is None:
        return SIPParseError(
            f"CSeq {show(t)} must start with a sequence number (digits only, RFC 3261 §20.16)",
            400,
        )
    method = method.strip(" \t")
    if not method:
        return SIPParseError(f"CSeq {show(t)} has no method after the number", 400)
    if _TOKEN_RE.fullmatch(method) is None:
        return SIPParseError(
            f"CSeq method {show(method)} is not a token (one word, RFC 3261 §25.1)", 400
        )
    return SIPParseError(f"malformed CSeq {show(t)}", 400)
