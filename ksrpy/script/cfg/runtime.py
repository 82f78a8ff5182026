"""Helpers the compiled cfg routes call: Kamailio's value typing, comparisons and flow.

Values are ``int``, ``str`` or ``None`` ($null). The rules follow Kamailio's
rvalue engine as verified against 5.6: ``+`` takes the type of its left
operand; a comparison is numeric when either side is an int; ``=~`` is a
case-insensitive POSIX-style regex; a function returning 0 stops the script.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ...core.context import ScriptExit

if TYPE_CHECKING:
    from ...core.context import Context


class CfgRuntimeError(Exception):
    """An operation a script asked for cannot be done on these values."""


def ret(ctx: Context, value: Any) -> int:
    """Record a function's return code in $rc; 0 stops the script (Kamailio's rule)."""
    if value is True:
        value = 1
    elif value is False or value is None:
        value = -1
    code = int(value)
    ctx.rc = code
    if code == 0:
        raise ScriptExit()
    return code


def route_ret(ctx: Context, value: Any) -> int:
    """Record a sub-route's return code; ``return 0`` in a sub-route stops the script."""
    code = 1 if value is None else int(value)
    ctx.rc = code
    if code == 0:
        raise ScriptExit()
    return code


def truth(value: Any) -> bool:
    """Condition value: true when its integer value is positive (a string is read as a
    number, so "x" is false and "5" true, as in Kamailio); null is false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value > 0
    return to_int(value) > 0


def to_int(value: Any) -> int:
    """A value as an int: strings must be plain decimal digits with an optional sign
    (no blanks, as Kamailio's str2sint); anything else, and null, is 0."""
    if isinstance(value, int):
        return int(value)
    if value is None:
        return 0
    text = str(value)
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        return 0
    return int(text)


def to_str(value: Any) -> str:
    """A value as a string (null is the empty string)."""
    if value is None:
        return ""
    return str(value)


def add(left: Any, right: Any) -> Any:
    """``+``: integer addition when the left operand is an int, else concatenation."""
    if isinstance(left, int):
        return left + to_int(right)
    if left is None and isinstance(right, int):
        return right
    return to_str(left) + to_str(right)


def arith(op: str, left: Any, right: Any) -> int:
    """Integer operators ``- * / % | & ^ << >>`` (division by zero is a runtime error)."""
    a, b = to_int(left), to_int(right)
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%", "mod"):
        if b == 0:
            raise CfgRuntimeError("division by zero")
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # C truncation
        return q if op == "/" else a - q * b
    if op == "|":
        return a | b
    if op == "&":
        return a & b
    if op == "^":
        return a ^ b
    if op == "<<":
        return a << b
    if op == ">>":
        return a >> b
    raise CfgRuntimeError(f"unknown operator {op}")


def _numeric(left: Any, right: Any) -> tuple[int, int] | None:
    if isinstance(left, int) or isinstance(right, int):
        a = left if isinstance(left, int) else _strict_int(left)
        b = right if isinstance(right, int) else _strict_int(right)
        if a is None or b is None:
            return None
        return int(a), int(b)
    return None


def _strict_int(value: Any) -> int | None:
    text = str(value)
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(text)


def eq(left: Any, right: Any) -> bool:
    """``==``: null equals only null; numeric when one side is an int; else string equality."""
    if left is None or right is None:
        return left is right
    nums = _numeric(left, right)
    if nums is not None:
        return nums[0] == nums[1]
    if isinstance(left, int) or isinstance(right, int):
        return False
    return str(left) == str(right)


def eq_nocase(left: Any, right: Any) -> bool:
    """``method == "x"``: case-insensitive string equality."""
    if left is None or right is None:
        return left is right
    return str(left).lower() == str(right).lower()


def ne(left: Any, right: Any) -> bool:
    """``!=``."""
    return not eq(left, right)


def order(op: str, left: Any, right: Any) -> bool:
    """``< > <= >=``: integer comparisons (strings are read as numbers, as Kamailio does)."""
    a, b = to_int(left), to_int(right)
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """A cfg regex: POSIX extended, matched case-insensitively as Kamailio does."""
    return re.compile(pattern, re.IGNORECASE)


def match(value: Any, regex: re.Pattern[str]) -> bool:
    """``=~`` with a regex compiled at load time; null never matches."""
    if value is None:
        return False
    return regex.search(str(value)) is not None


def match_dynamic(value: Any, pattern: Any) -> bool:
    """``=~`` with a regex known only at run time."""
    if value is None or pattern is None:
        return False
    try:
        return compile_regex(str(pattern)).search(str(value)) is not None
    except re.error as exc:
        raise CfgRuntimeError(f"invalid regular expression {pattern!r}: {exc}") from None


@lru_cache(maxsize=256)
def ip_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or network literal."""
    return ipaddress.ip_network(text, strict=False)


def ip_in(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """True when ``value`` is an address inside ``network``."""
    if value is None:
        return False
    try:
        return ipaddress.ip_address(str(value).strip("[]")) in network
    except ValueError:
        return False


def uri_is_myself(ctx: Context, uri: Any) -> bool:
    """``uri == myself``: host and port are one of this server's sockets or aliases."""
    if not uri:
        return False
    core = ctx.engine.modules["core"]
    return core._uri_is_myself(str(uri)) > 0  # noqa: SLF001 - one shared implementation


def ip_is_myself(ctx: Context, ip: Any) -> bool:
    """``src_ip == myself``: the address is one of this server's."""
    if ip is None:
        return False
    return bool(ctx.engine.myself.is_local_address(str(ip)))


def neg(value: Any) -> int:
    """Unary minus."""
    return -to_int(value)


def bitnot(value: Any) -> int:
    """Unary ``~``."""
    return ~to_int(value)


def switch_match(subject: Any, value: int | str) -> bool:
    """Whether a ``case`` label matches the switch subject."""
    return eq(subject, value)
