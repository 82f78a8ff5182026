"""Lua semantics for Python scripts ported from Lua by ``ksrpy port lua``.

The generated code uses plain Python where Python behaves as Lua does and
calls into this module where it does not:

* values: nil is ``None``, booleans ``bool``, integers ``int``, floats
  ``float``, strings ``str`` (Lua's bytes, decoded as UTF-8 with
  ``surrogateescape`` so that any byte string round-trips), tables
  :class:`Table`, functions Python callables;
* truthiness (:func:`truthy`: only nil and false are false), Lua's ``..``
  (:func:`concat`), ``#`` (:func:`length`), arithmetic and comparison helpers
  used when operand types are not known statically;
* several results are a Python ``tuple``; :func:`first` and :func:`adjust`
  cut them down as Lua does;
* the libraries, named as in Lua: ``luart.string.find``, ``luart.table.insert``,
  ``luart.math.floor``, ``luart.os.date`` and the base functions ``tostring``,
  ``tonumber``, ``type``, ``pcall``, ``error``, ``print``, ``select``,
  ``ipairs``, ``pairs``...

String functions work on bytes (``#"é"`` is 2) and implement Lua 5.4's
pattern language (lstrlib.c), not Python regular expressions.
"""

from __future__ import annotations

import builtins
import functools
import math as _math
import os as _os
import random as _random
import sys
import time as _time
import types as _types
from collections.abc import Callable, Iterator
from typing import Any

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1
_MASK = (1 << 64) - 1
_SPACE = b" \t\n\v\f\r"
_builtin_len = builtins.len
_builtin_type = builtins.type


class LuaError(Exception):
    """A Lua error; ``value`` is what ``error()`` was given (any Lua value)."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return tostring(self.value) if not isinstance(self.value, str) else self.value


def _wrap(n: int) -> int:
    """An integer wrapped to Lua's 64-bit two's complement range."""
    if _INT_MIN <= n <= _INT_MAX:
        return n
    n &= _MASK
    return n - (1 << 64) if n > _INT_MAX else n


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# --- tables ------------------------------------------------------------------------------


class _BoolKey:
    """Keys true/false kept apart from 1/0 (Python's True == 1)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


_TRUE_KEY = _BoolKey(True)
_FALSE_KEY = _BoolKey(False)


def _key(k: Any) -> Any:
    if k is True:
        return _TRUE_KEY
    if k is False:
        return _FALSE_KEY
    if isinstance(k, float) and k.is_integer() and _INT_MIN <= k <= _INT_MAX:
        return int(k)
    return k


def _unkey(k: Any) -> Any:
    return k.value if isinstance(k, _BoolKey) else k


class Table:
    """A Lua table: any non-nil key, nil values absent, 1-based array part by convention."""

    __slots__ = ("_d", "_border")

    def __init__(self, items: list[Any] | tuple[Any, ...] | dict[Any, Any] | None = None,
                 fields: dict[Any, Any] | None = None) -> None:
        self._d: dict[Any, Any] = {}
        self._border = 0
        if isinstance(items, dict):
            items, fields = None, items
        for k, v in (fields or {}).items():
            self[k] = v
        for i, v in enumerate(items or (), 1):
            self[i] = v

    def __getitem__(self, k: Any) -> Any:
        return self._d.get(_key(k))

    def __setitem__(self, k: Any, v: Any) -> None:
        if k is None:
            raise LuaError("index is nil")
        if isinstance(k, float) and k != k:
            raise LuaError("index is NaN")
        k = _key(k)
        d = self._d
        if v is None:
            d.pop(k, None)
            if _builtin_type(k) is int and 0 < k <= self._border:
                self._border = k - 1
            return
        d[k] = v
        if _builtin_type(k) is int and k == self._border + 1:
            n = k
            while (n + 1) in d:
                n += 1
            self._border = n

    def __len__(self) -> int:
        return self._border

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a Lua table is iterated with luart.pairs() or luart.ipairs()")

    def __contains__(self, k: Any) -> bool:
        return _key(k) in self._d

    def __repr__(self) -> str:
        return f"table: 0x{id(self):014x}"

    def keys(self) -> list[Any]:
        """Keys in traversal order: 1..#t, then the others as inserted."""
        n = self._border
        rest = [_unkey(k) for k in self._d if not (_builtin_type(k) is int and 0 < k <= n)]
        return [*builtins.range(1, n + 1), *rest]


def truthy(v: Any) -> bool:
    """Lua truthiness: only nil and false are false."""
    return v is not None and v is not False


def first(v: Any) -> Any:
    """The first of several results (nil when there are none)."""
    if isinstance(v, tuple):
        return v[0] if v else None
    return v


def some(v: Any) -> tuple[Any, ...]:
    """The results of a function that returns one non-nil value or nothing (None)."""
    return () if v is None else (v,)


def results(v: Any) -> tuple[Any, ...]:
    """Results as a tuple (one value becomes a 1-tuple)."""
    return v if isinstance(v, tuple) else (v,)


def adjust(v: Any, n: int) -> tuple[Any, ...]:
    """Results cut or padded with nil to exactly ``n`` values."""
    values = v if isinstance(v, tuple) else (v,)
    if _builtin_len(values) >= n:
        return values[:n]
    return values + (None,) * (n - _builtin_len(values))


# --- conversions -------------------------------------------------------------------------


def _fmt_float(x: float) -> str:
    if x != x:
        return "-nan" if _math.copysign(1.0, x) < 0 else "nan"
    if x in (_math.inf, -_math.inf):
        return "inf" if x > 0 else "-inf"
    text = format(x, ".14g")
    if all(c in "-0123456789" for c in text):
        text += ".0"
    return text


def tostring(v: Any, *_: Any) -> str:
    """Lua's tostring(): 1 -> "1", 1.5 -> "1.5", 5.0 -> "5.0", nil -> "nil"."""
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _fmt_float(v)
    if isinstance(v, Table):
        return repr(v)
    if isinstance(v, _types.ModuleType | _types.SimpleNamespace):
        return f"table: 0x{id(v):014x}"
    if callable(v):
        return f"function: 0x{id(v):014x}"
    return f"userdata: 0x{id(v):014x}"


def _str2int(s: bytes) -> int | None:
    i, n = 0, _builtin_len(s)
    while i < n and s[i] in _SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    value, empty = 0, True
    if s[i:i + 2] in (b"0x", b"0X"):
        i += 2
        while i < n and chr(s[i]) in "0123456789abcdefABCDEF":
            value = (value * 16 + int(chr(s[i]), 16)) & _MASK
            empty = False
            i += 1
    else:
        while i < n and 48 <= s[i] <= 57:
            value = value * 10 + s[i] - 48
            empty = False
            i += 1
        if value > _INT_MAX + (1 if neg else 0):
            return None
    while i < n and s[i] in _SPACE:
        i += 1
    if empty or i != n:
        return None
    return _wrap(-value if neg else value)


def _str2float(s: bytes) -> float | None:
    text = s.strip(_SPACE)
    low = text.lower()
    if b"n" in low or not text:
        return None
    body = low[1:] if low[:1] in (b"+", b"-") else low
    sign = -1.0 if low[:1] == b"-" else 1.0
    if body.startswith(b"0x"):
        mant, _, exp = body[2:].partition(b"p")
        whole, dot, frac = mant.partition(b".")
        digits = whole + frac
        hexd = b"0123456789abcdef"
        if not digits or any(c not in hexd for c in digits):
            return None
        if exp and not exp.lstrip(b"+-").isdigit():
            return None
        value = float(int(digits, 16)) * 2.0 ** (int(exp or b"0") - 4 * _builtin_len(frac))
        return sign * value
    ok = body and all(c in b"0123456789.e+-" for c in body) and b"_" not in body
    if not ok:
        return None
    try:
        return float(text.decode("ascii"))
    except ValueError:
        return None


def _str2number(s: str) -> int | float | None:
    raw = _b(s)
    if b"\0" in raw:
        return None
    value = _str2int(raw)
    return value if value is not None else _str2float(raw)


def tonumber(v: Any, base: int | None = None, *_: Any) -> int | float | None:
    """Lua's tonumber(): numeric strings (hex, exponents, spaces) and bases 2..36."""
    if base is None:
        if isinstance(v, bool):
            return None
        if isinstance(v, int | float):
            return v
        if isinstance(v, str):
            return _str2number(v)
        return None
    base = _int_arg(base, 2, "tonumber")
    if not isinstance(v, str):
        raise LuaError(f"bad argument #1 to 'tonumber' (string expected, got {type(v)})")
    if not 2 <= base <= 36:
        raise LuaError("bad argument #2 to 'tonumber' (base out of range)")
    raw = _b(v).strip(_SPACE)
    neg = raw[:1] == b"-"
    if raw[:1] in (b"-", b"+"):
        raw = raw[1:]
    if not raw or not raw.isalnum():
        return None
    value = 0
    for c in raw.lower():
        digit = c - 48 if 48 <= c <= 57 else c - 87
        if digit >= base:
            return None
        value = (value * base + digit) & _MASK
    return _wrap(-value if neg else value)


def type(v: Any, *_: Any) -> str:  # noqa: A001 - Lua's name
    """Lua's type(): "nil", "boolean", "number", "string", "table", "function"."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Table | _types.ModuleType | _types.SimpleNamespace):
        return "table"
    if callable(v):
        return "function"
    return "userdata"


def _tonum(v: Any, what: str = "perform arithmetic on") -> int | float:
    if isinstance(v, bool) or v is None:
        raise LuaError(f"attempt to {what} a {type(v)} value")
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        n = _str2number(v)
        if n is not None:
            return n
    raise LuaError(f"attempt to {what} a {type(v)} value")


def _toint(v: Any) -> int:
    n = _tonum(v, "perform bitwise operation on")
    if isinstance(n, float):
        if not n.is_integer() or not _INT_MIN <= n <= _INT_MAX:
            raise LuaError("number has no integer representation")
        return int(n)
    return n


def _int_arg(v: Any, pos: int, fname: str) -> int:
    if isinstance(v, bool) or v is None or not isinstance(v, int | float | str):
        raise LuaError(f"bad argument #{pos} to '{fname}' (number expected, got {type(v)})")
    n = _str2number(v) if isinstance(v, str) else v
    if n is None:
        raise LuaError(f"bad argument #{pos} to '{fname}' (number expected, got string)")
    if isinstance(n, float):
        if not n.is_integer() or not _INT_MIN <= n <= _INT_MAX:
            raise LuaError(f"bad argument #{pos} to '{fname}' "
                           "(number has no integer representation)")
        return int(n)
    return n


def _num_arg(v: Any, pos: int, fname: str) -> int | float:
    if isinstance(v, bool) or v is None or not isinstance(v, int | float | str):
        raise LuaError(f"bad argument #{pos} to '{fname}' (number expected, got {type(v)})")
    n = _str2number(v) if isinstance(v, str) else v
    if n is None:
        raise LuaError(f"bad argument #{pos} to '{fname}' (number expected, got string)")
    return n


def _str_arg(v: Any, pos: int, fname: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return tostring(v)
    raise LuaError(f"bad argument #{pos} to '{fname}' (string expected, got {type(v)})")


# --- operators ---------------------------------------------------------------------------


def concat(*parts: Any) -> str:
    """Lua's ``a .. b .. c``: strings and numbers (formatted as Lua does), else an error."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, int | float) and not isinstance(p, bool):
            out.append(tostring(p))
        else:
            raise LuaError(f"attempt to concatenate a {type(p)} value")
    return "".join(out)


def length(v: Any) -> int:
    """Lua's ``#``: bytes of a string, a border of a table."""
    if isinstance(v, str):
        return _builtin_len(v) if v.isascii() else _builtin_len(_b(v))
    if isinstance(v, Table):
        return _builtin_len(v)
    raise LuaError(f"attempt to get length of a {type(v)} value")


def _arith(a: Any, b: Any) -> tuple[int | float, int | float]:
    return _tonum(a), _tonum(b)


def add(a: Any, b: Any) -> int | float:
    """``a + b`` with Lua's string coercion and integer wrap-around."""
    x, y = _arith(a, b)
    return _wrap(x + y) if isinstance(x, int) and isinstance(y, int) else float(x) + float(y)


def sub(a: Any, b: Any) -> int | float:
    """``a - b``."""
    x, y = _arith(a, b)
    return _wrap(x - y) if isinstance(x, int) and isinstance(y, int) else float(x) - float(y)


def mul(a: Any, b: Any) -> int | float:
    """``a * b``."""
    x, y = _arith(a, b)
    return _wrap(x * y) if isinstance(x, int) and isinstance(y, int) else float(x) * float(y)


def _fdiv(x: float, y: float) -> float:
    if y == 0.0:
        if x == 0.0 or x != x:
            return -_math.nan
        return _math.copysign(_math.inf, x) * _math.copysign(1.0, y)
    return x / y


def div(a: Any, b: Any) -> float:
    """``a / b``: always a float; x/0 is inf or nan as in C."""
    x, y = _arith(a, b)
    return _fdiv(float(x), float(y))


def _floor_float(q: float) -> float:
    if q != q or q in (_math.inf, -_math.inf) or q == 0.0:
        return q
    return float(_math.floor(q))


def idiv(a: Any, b: Any) -> int | float:
    """``a // b``: floor division; integers stay integers (error on // 0)."""
    x, y = _arith(a, b)
    if isinstance(x, int) and isinstance(y, int):
        if y == 0:
            raise LuaError("attempt to perform 'n//0'")
        return _wrap(x // y)
    return _floor_float(_fdiv(float(x), float(y)))


def mod(a: Any, b: Any) -> int | float:
    """``a % b`` with the sign of the divisor (error on integer % 0)."""
    x, y = _arith(a, b)
    if isinstance(x, int) and isinstance(y, int):
        if y == 0:
            raise LuaError("attempt to perform 'n%%0'")
        return x % y
    fx, fy = float(x), float(y)
    if fy == 0.0 or fx != fx or fy != fy or fx in (_math.inf, -_math.inf):
        return -_math.nan if fy == 0.0 or fx in (_math.inf, -_math.inf) else _math.nan
    if fy in (_math.inf, -_math.inf):
        m = fx
    else:
        m = _math.fmod(fx, fy)
    if (fy < 0) if m > 0 else (m < 0 and fy != m):
        m += fy
    return m


def pow(a: Any, b: Any) -> float:  # noqa: A001 - Lua's operator
    """``a ^ b``: always a float (inf on overflow, nan on a domain error)."""
    x, y = _arith(a, b)
    fx, fy = float(x), float(y)
    try:
        return _math.pow(fx, fy)
    except OverflowError:
        neg = fx < 0 and fy.is_integer() and int(fy) % 2 == 1
        return -_math.inf if neg else _math.inf
    except ValueError:
        if fx == 0.0:
            return _math.inf
        return -_math.nan


def unm(a: Any) -> int | float:
    """Unary minus."""
    x = _tonum(a)
    return _wrap(-x) if isinstance(x, int) else -x


def band(a: Any, b: Any) -> int:
    """``a & b``."""
    return _wrap(_toint(a) & _toint(b))


def bor(a: Any, b: Any) -> int:
    """``a | b``."""
    return _wrap(_toint(a) | _toint(b))


def bxor(a: Any, b: Any) -> int:
    """``a ~ b``."""
    return _wrap(_toint(a) ^ _toint(b))


def bnot(a: Any) -> int:
    """``~a``."""
    return _wrap(~_toint(a))


def shl(a: Any, n: Any) -> int:
    """``a << n`` (logical, 64 bits; negative n shifts right)."""
    x, k = _toint(a) & _MASK, _toint(n)
    if k <= -64 or k >= 64:
        return 0
    return _wrap((x << k) & _MASK if k >= 0 else x >> -k)


def shr(a: Any, n: Any) -> int:
    """``a >> n`` (logical, 64 bits)."""
    return shl(a, -_toint(n))


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def eq(a: Any, b: Any) -> bool:
    """Lua's ``==``: true is not 1, tables by identity."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is b


def ne(a: Any, b: Any) -> bool:
    """Lua's ``~=``."""
    return not eq(a, b)


def _cmp_error(a: Any, b: Any) -> LuaError:
    ta, tb = type(a), type(b)
    if ta == tb:
        return LuaError(f"attempt to compare two {ta} values")
    return LuaError(f"attempt to compare {ta} with {tb}")


def lt(a: Any, b: Any) -> bool:
    """Lua's ``<``: numbers with numbers, strings with strings (bytewise), else an error."""
    if _is_num(a) and _is_num(b):
        return a < b
    if isinstance(a, str) and isinstance(b, str):
        return a < b if a.isascii() and b.isascii() else _b(a) < _b(b)
    raise _cmp_error(a, b)


def le(a: Any, b: Any) -> bool:
    """Lua's ``<=``."""
    if _is_num(a) and _is_num(b):
        return a <= b
    if isinstance(a, str) and isinstance(b, str):
        return a <= b if a.isascii() and b.isascii() else _b(a) <= _b(b)
    raise _cmp_error(a, b)


def gt(a: Any, b: Any) -> bool:
    """Lua's ``>`` (operands evaluated in source order)."""
    return lt(b, a)


def ge(a: Any, b: Any) -> bool:
    """Lua's ``>=``."""
    return le(b, a)


def or_(a: Any, b: Any) -> Any:
    """Lua's ``a or b`` for an already evaluated, side-effect free ``b``."""
    return a if a is not None and a is not False else b


def and_(a: Any, b: Any) -> Any:
    """Lua's ``a and b`` for an already evaluated, side-effect free ``b``."""
    return b if a is not None and a is not False else a


def or_else(a: Any, b: Callable[[], Any]) -> Any:
    """Lua's ``a or b``; ``b`` is called only when ``a`` is nil or false."""
    return a if a is not None and a is not False else b()


def and_then(a: Any, b: Callable[[], Any]) -> Any:
    """Lua's ``a and b``; ``b`` is called only when ``a`` is neither nil nor false."""
    return b() if a is not None and a is not False else a


def invoke(obj: Any, name: str, *args: Any) -> Any:
    """``obj:name(args)``: string methods for strings, else ``obj[name](obj, args)``."""
    if isinstance(obj, str):
        return getattr(string, name)(obj, *args)
    if isinstance(obj, Table):
        fn = obj[name]
        if fn is None:
            raise LuaError(f"attempt to call a nil value (method '{name}')")
        return fn(obj, *args)
    raise LuaError(f"attempt to index a {type(obj)} value")


def index(obj: Any, key: Any) -> Any:
    """``obj[key]`` for a value that may be a string (string library) or a table."""
    if isinstance(obj, Table):
        return obj[key]
    if isinstance(obj, str):
        return getattr(string, key, None) if isinstance(key, str) else None
    if isinstance(obj, _types.ModuleType | _types.SimpleNamespace):
        return getattr(obj, key, None) if isinstance(key, str) else None
    raise LuaError(f"attempt to index a {type(obj)} value")


# --- loops -------------------------------------------------------------------------------


def for_range(start: Any, stop: Any, step: Any = 1) -> Iterator[int | float]:
    """Values of Lua's numeric ``for v = start, stop, step`` (inclusive, integer or float)."""
    a = _tonum(start, "use 'for' initial value as")
    b = _tonum(stop, "use 'for' limit as")
    s = _tonum(step, "use 'for' step as")
    if s == 0:
        raise LuaError("'for' step is zero")
    if isinstance(a, int) and isinstance(s, int):
        if isinstance(b, float):
            if b != b:
                return
            b = _math.floor(b) if s > 0 else _math.ceil(b)
        yield from builtins.range(a, b + 1 if s > 0 else b - 1, s)
        return
    x, fb, fs = float(a), float(b), float(s)
    while (x <= fb) if fs > 0 else (x >= fb):
        yield x
        x += fs


def ipairs(t: Any) -> Iterator[tuple[int, Any]]:
    """``ipairs(t)``: (1, t[1]), (2, t[2]) ... up to the first nil."""
    i = 1
    while True:
        v = t[i] if isinstance(t, Table) else index(t, i)
        if v is None:
            return
        yield i, v
        i += 1


def pairs(t: Any) -> Iterator[tuple[Any, Any]]:
    """``pairs(t)``: every (key, value); fields set to nil meanwhile are skipped."""
    if not isinstance(t, Table):
        raise LuaError(f"bad argument #1 to 'for iterator' (table expected, got {type(t)})")
    for k in t.keys():
        v = t[k]
        if v is not None:
            yield k, v


def next(t: Table, k: Any = None, *_: Any) -> tuple[Any, ...]:  # noqa: A001 - Lua's name
    """``next(t, k)``: the key after ``k`` and its value, or nil."""
    keys = [key for key in t.keys() if t[key] is not None]
    if k is None:
        return (keys[0], t[keys[0]]) if keys else (None,)
    try:
        i = keys.index(k)
    except ValueError:
        raise LuaError("invalid key to 'next'") from None
    if i + 1 < _builtin_len(keys):
        key = keys[i + 1]
        return (key, t[key])
    return (None,)


def iterate(f: Callable[..., Any], s: Any = None, ctl: Any = None, *,
            n: int = 1) -> Iterator[Any]:
    """A generic ``for`` over an iterator function: one value, or ``n``-tuples."""
    while True:
        values = adjust(f(s, ctl), n)
        if values[0] is None:
            return
        ctl = values[0]
        yield values[0] if n == 1 else values


def each(items: Any, n: int) -> Iterator[Any]:
    """Items of an iterator cut or padded to ``n`` values (one value when n is 1)."""
    for item in items:
        values = adjust(item, n)
        yield values[0] if n == 1 else values


# --- base library ------------------------------------------------------------------------


def _flow_exception(exc: BaseException) -> bool:
    return not isinstance(exc, Exception)


def pcall(f: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """``pcall(f, ...)``: (true, results...) or (false, error value).

    ``KSR.x.exit()``/``KSR.x.drop()`` are not errors here: they still end the route.
    """
    try:
        result = f(*args)
    except LuaError as exc:
        return (False, exc.value)
    except RecursionError:
        return (False, "stack overflow")
    except Exception as exc:  # noqa: BLE001 - Lua's pcall catches any error
        return (False, _error_message(exc))
    if isinstance(result, tuple):
        return (True, *result)
    return (True, result)


def _error_message(exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "attempt to perform 'n//0'"
    if isinstance(exc, TypeError | AttributeError):
        return f"attempt to perform an invalid operation ({exc})"
    return str(exc)


def error(value: Any = None, level: int = 1, *_: Any) -> None:
    """``error(value)``: raise a Lua error carrying ``value``."""
    raise LuaError(value)


def assert_(v: Any = None, *rest: Any) -> tuple[Any, ...]:
    """``assert(v, message, ...)``: its arguments, or an error when ``v`` is nil/false."""
    if v is None or v is False:
        raise LuaError(rest[0] if rest else "assertion failed!")
    return (v, *rest)


def select(n: Any, *args: Any) -> tuple[Any, ...]:
    """``select(n, ...)``: the arguments from ``n`` on; ``select('#', ...)``: their count."""
    if n == "#":
        return (_builtin_len(args),)
    i = _int_arg(n, 1, "select")
    if i < 0:
        i += _builtin_len(args)
        if i < 0:
            raise LuaError("bad argument #1 to 'select' (index out of range)")
        return args[i:]
    if i == 0:
        raise LuaError("bad argument #1 to 'select' (index out of range)")
    return args[i - 1:]


def print(*values: Any) -> None:  # noqa: A001 - Lua's name
    """Lua's print(): tostring() of each value, tab separated, one line on stdout."""
    line = "\t".join(tostring(v) for v in values) + "\n"
    out = sys.stdout
    try:
        out.write(line)
    except UnicodeEncodeError:
        buffer = getattr(out, "buffer", None)
        if buffer is None:
            raise
        out.flush()
        buffer.write(_b(line))


def rawget(t: Table, k: Any, *_: Any) -> Any:
    """``rawget(t, k)`` (tables have no metatables here)."""
    return t[k]


def rawset(t: Table, k: Any, v: Any, *_: Any) -> Table:
    """``rawset(t, k, v)``."""
    t[k] = v
    return t


def rawequal(a: Any, b: Any, *_: Any) -> bool:
    """``rawequal(a, b)``."""
    return eq(a, b)


def rawlen(v: Any, *_: Any) -> int:
    """``rawlen(v)``."""
    return length(v)


def unpack(t: Table, i: Any = 1, j: Any = None, *_: Any) -> tuple[Any, ...]:
    """``table.unpack(t, i, j)``: t[i], ..., t[j]."""
    start = _int_arg(i, 2, "unpack")
    stop = _builtin_len(t) if j is None else _int_arg(j, 3, "unpack")
    return tuple(t[k] for k in builtins.range(start, stop + 1))



# --- Lua patterns (a port of lstrlib.c's matcher, on bytes) ------------------------------

_ESC = 0x25  # '%'
_SPECIALS = b"^$*+?.([%-"
_MAXCAPTURES = 32
_CAP_UNFINISHED = -1
_CAP_POSITION = -2
_MAXCCALLS = 200
_PUNCT = frozenset(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _class_test(c: int, cl: int) -> bool:
    lower = cl | 0x20 if 65 <= cl <= 90 else cl
    if lower == 0x61:  # a
        res = 65 <= c <= 90 or 97 <= c <= 122
    elif lower == 0x63:  # c
        res = c < 32 or c == 127
    elif lower == 0x64:  # d
        res = 48 <= c <= 57
    elif lower == 0x67:  # g
        res = 33 <= c <= 126
    elif lower == 0x6C:  # l
        res = 97 <= c <= 122
    elif lower == 0x70:  # p
        res = c in _PUNCT
    elif lower == 0x73:  # s
        res = c in _SPACE
    elif lower == 0x75:  # u
        res = 65 <= c <= 90
    elif lower == 0x77:  # w
        res = 65 <= c <= 90 or 97 <= c <= 122 or 48 <= c <= 57
    elif lower == 0x78:  # x
        res = 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102
    elif lower == 0x7A:  # z (deprecated: the NUL byte)
        res = c == 0
    else:
        return cl == c
    return not res if 65 <= cl <= 90 else res


class _Match:
    """State of one match attempt (lstrlib's MatchState)."""

    __slots__ = ("src", "pat", "level", "capture", "depth")

    def __init__(self, src: bytes, pat: bytes) -> None:
        self.src = src
        self.pat = pat
        self.level = 0
        self.capture: list[list[int]] = []
        self.depth = _MAXCCALLS

    def reset(self) -> None:
        self.level = 0
        self.capture = []
        self.depth = _MAXCCALLS

    def pchar(self, p: int) -> int:
        return self.pat[p] if p < _builtin_len(self.pat) else 0

    def class_end(self, p: int) -> int:
        pat, plen = self.pat, _builtin_len(self.pat)
        c = pat[p]
        p += 1
        if c == _ESC:
            if p >= plen:
                raise LuaError("malformed pattern (ends with '%')")
            return p + 1
        if c == 0x5B:  # '['
            if self.pchar(p) == 0x5E:
                p += 1
            while True:
                if p >= plen:
                    raise LuaError("malformed pattern (missing ']')")
                c = pat[p]
                p += 1
                if c == _ESC and p < plen:
                    p += 1
                if self.pchar(p) == 0x5D:
                    break
            return p + 1
        return p

    def bracket(self, c: int, p: int, ec: int) -> bool:
        pat = self.pat
        sig = True
        if pat[p + 1] == 0x5E:
            sig = False
            p += 1
        p += 1
        while p < ec:
            if pat[p] == _ESC:
                p += 1
                if _class_test(c, pat[p]):
                    return sig
            elif self.pchar(p + 1) == 0x2D and p + 2 < ec:
                if pat[p] <= c <= pat[p + 2]:
                    return sig
                p += 2
            elif pat[p] == c:
                return sig
            p += 1
        return not sig

    def single(self, s: int, p: int, ep: int) -> bool:
        if s >= _builtin_len(self.src):
            return False
        c = self.src[s]
        pc = self.pat[p]
        if pc == 0x2E:  # '.'
            return True
        if pc == _ESC:
            return _class_test(c, self.pat[p + 1])
        if pc == 0x5B:
            return self.bracket(c, p, ep - 1)
        return pc == c

    def match(self, s: int | None, p: int) -> int | None:
        self.depth -= 1
        if self.depth == 0:
            raise LuaError("pattern too complex")
        try:
            return self._match(s, p)
        finally:
            self.depth += 1

    def _match(self, s: int | None, p: int) -> int | None:
        pat, plen = self.pat, _builtin_len(self.pat)
        while s is not None and p != plen:
            pc = pat[p]
            if pc == 0x28:  # '('
                if self.pchar(p + 1) == 0x29:
                    return self.start_capture(s, p + 2, _CAP_POSITION)
                return self.start_capture(s, p + 1, _CAP_UNFINISHED)
            if pc == 0x29:  # ')'
                return self.end_capture(s, p + 1)
            if pc == 0x24 and p + 1 == plen:  # '$' at the end
                return s if s == _builtin_len(self.src) else None
            if pc == _ESC:
                nxt = self.pchar(p + 1)
                if nxt == 0x62:  # %b
                    s = self.balance(s, p + 2)
                    p += 4
                    continue
                if nxt == 0x66:  # %f
                    p += 2
                    if self.pchar(p) != 0x5B:
                        raise LuaError("missing '[' after '%f' in pattern")
                    ep = self.class_end(p)
                    prev = self.src[s - 1] if s > 0 else 0
                    cur = self.src[s] if s < _builtin_len(self.src) else 0
                    if not self.bracket(prev, p, ep - 1) and self.bracket(cur, p, ep - 1):
                        p = ep
                        continue
                    return None
                if 48 <= nxt <= 57:  # back-reference %0-%9
                    s = self.match_capture(s, nxt)
                    p += 2
                    continue
            ep = self.class_end(p)
            epc = self.pchar(ep)
            if not self.single(s, p, ep):
                if epc in (0x2A, 0x3F, 0x2D):  # * ? - accept empty
                    p = ep + 1
                    continue
                return None
            if epc == 0x3F:  # '?'
                res = self.match(s + 1, ep + 1)
                if res is not None:
                    return res
                p = ep + 1
                continue
            if epc == 0x2B:  # '+'
                return self.max_expand(s + 1, p, ep)
            if epc == 0x2A:  # '*'
                return self.max_expand(s, p, ep)
            if epc == 0x2D:  # '-'
                return self.min_expand(s, p, ep)
            s += 1
            p = ep
        return s

    def balance(self, s: int, p: int) -> int | None:
        if p + 1 >= _builtin_len(self.pat):
            raise LuaError("malformed pattern (missing arguments to '%b')")
        src = self.src
        if s >= _builtin_len(src) or src[s] != self.pat[p]:
            return None
        b, e = self.pat[p], self.pat[p + 1]
        cont = 1
        s += 1
        while s < _builtin_len(src):
            c = src[s]
            if c == e:
                cont -= 1
                if cont == 0:
                    return s + 1
            elif c == b:
                cont += 1
            s += 1
        return None

    def max_expand(self, s: int, p: int, ep: int) -> int | None:
        i = 0
        while self.single(s + i, p, ep):
            i += 1
        while i >= 0:
            res = self.match(s + i, ep + 1)
            if res is not None:
                return res
            i -= 1
        return None

    def min_expand(self, s: int, p: int, ep: int) -> int | None:
        while True:
            res = self.match(s, ep + 1)
            if res is not None:
                return res
            if self.single(s, p, ep):
                s += 1
            else:
                return None

    def start_capture(self, s: int, p: int, what: int) -> int | None:
        if self.level >= _MAXCAPTURES:
            raise LuaError("too many captures")
        del self.capture[self.level:]
        self.capture.append([s, what])
        self.level += 1
        res = self.match(s, p)
        if res is None:
            self.level -= 1
        return res

    def end_capture(self, s: int, p: int) -> int | None:
        lvl = self.level - 1
        while lvl >= 0 and self.capture[lvl][1] != _CAP_UNFINISHED:
            lvl -= 1
        if lvl < 0:
            raise LuaError("invalid pattern capture")
        self.capture[lvl][1] = s - self.capture[lvl][0]
        res = self.match(s, p)
        if res is None:
            self.capture[lvl][1] = _CAP_UNFINISHED
        return res

    def match_capture(self, s: int, digit: int) -> int | None:
        lvl = digit - 0x31
        if lvl < 0 or lvl >= self.level or self.capture[lvl][1] == _CAP_UNFINISHED:
            raise LuaError(f"invalid capture index %{lvl + 1}")
        start, size = self.capture[lvl]
        if size < 0:
            return None
        if self.src[s:s + size] == self.src[start:start + size] and \
                s + size <= _builtin_len(self.src):
            return s + size
        return None

    def get_capture(self, i: int, s: int, e: int) -> Any:
        if i >= self.level:
            if i != 0:
                raise LuaError(f"invalid capture index %{i + 1}")
            return _s(self.src[s:e])
        start, size = self.capture[i]
        if size == _CAP_UNFINISHED:
            raise LuaError("unfinished capture")
        if size == _CAP_POSITION:
            return start + 1
        return _s(self.src[start:start + size])

    def captures(self, s: int | None, e: int, whole: bool) -> tuple[Any, ...]:
        n = 1 if self.level == 0 and whole else self.level
        return tuple(self.get_capture(i, s or 0, e) for i in builtins.range(n))


def _posrelat(pos: int, size: int) -> int:
    if pos > 0:
        return pos
    if pos == 0:
        return 1
    if pos < -size:
        return 1
    return size + pos + 1


def _find_aux(s: Any, pattern: Any, init: Any, plain: Any, find: bool) -> tuple[Any, ...]:
    fname = "find" if find else "match"
    src = _b(_str_arg(s, 1, fname))
    pat = _b(_str_arg(pattern, 2, fname))
    start = _posrelat(_int_arg(init, 3, fname), _builtin_len(src)) - 1
    if start > _builtin_len(src):
        return (None,)
    if find and (truthy(plain) or not any(c in _SPECIALS for c in pat)):
        at = src.find(pat, start)
        if at >= 0:
            return (at + 1, at + _builtin_len(pat))
        return (None,)
    anchor = pat[:1] == b"^"
    if anchor:
        pat = pat[1:]
    ms = _Match(src, pat)
    s1 = start
    while True:
        ms.reset()
        res = ms.match(s1, 0)
        if res is not None:
            if find:
                return (s1 + 1, res, *ms.captures(None, 0, False))
            return ms.captures(s1, res, True)
        s1 += 1
        if anchor or s1 > _builtin_len(src):
            return (None,)


def _gmatch(s: Any, pattern: Any, init: Any = 1) -> Iterator[Any]:
    src = _b(_str_arg(s, 1, "gmatch"))
    pat = _b(_str_arg(pattern, 2, "gmatch"))
    pos = _posrelat(_int_arg(init, 3, "gmatch"), _builtin_len(src)) - 1
    if pos > _builtin_len(src):
        return
    ms = _Match(src, pat)
    last = -1
    while pos <= _builtin_len(src):
        ms.reset()
        e = ms.match(pos, 0)
        if e is not None and e != last:
            caps = ms.captures(pos, e, True)
            pos = last = e
            yield caps[0] if _builtin_len(caps) == 1 else caps
        else:
            pos += 1


def _add_s(ms: _Match, out: bytearray, s: int, e: int, repl: bytes) -> None:
    i, n = 0, _builtin_len(repl)
    while i < n:
        c = repl[i]
        i += 1
        if c != _ESC:
            out.append(c)
            continue
        d = repl[i] if i < n else 0
        i += 1
        if d == _ESC:
            out.append(d)
        elif d == 0x30:
            out += ms.src[s:e]
        elif 48 <= d <= 57:
            cap = ms.get_capture(d - 0x31, s, e)
            out += _b(tostring(cap))
        else:
            raise LuaError("invalid use of '%' in replacement string")


def _gsub(s: Any, pattern: Any, repl: Any, n: Any = None) -> tuple[str, int]:
    text = _str_arg(s, 1, "gsub")
    src = _b(text)
    pat = _b(_str_arg(pattern, 2, "gsub"))
    if isinstance(repl, bool) or not isinstance(repl, str | int | float | Table) \
            and not callable(repl):
        raise LuaError("bad argument #3 to 'gsub' (string/function/table expected, "
                       f"got {type(repl)})")
    max_n = _builtin_len(src) + 1 if n is None else _int_arg(n, 4, "gsub")
    anchor = pat[:1] == b"^"
    if anchor:
        pat = pat[1:]
    ms = _Match(src, pat)
    out = bytearray()
    pos, last, count, changed = 0, -1, 0, False
    rbytes = _b(tostring(repl)) if isinstance(repl, str | int | float) else b""
    while count < max_n:
        ms.reset()
        e = ms.match(pos, 0)
        if e is not None and e != last:
            count += 1
            if isinstance(repl, str | int | float):
                _add_s(ms, out, pos, e, rbytes)
                changed = True
            else:
                if isinstance(repl, Table):
                    value = repl[ms.get_capture(0, pos, e)]
                else:
                    value = first(repl(*ms.captures(pos, e, True)))
                if value is None or value is False:
                    out += src[pos:e]
                elif isinstance(value, str) or _is_num(value):
                    out += _b(tostring(value))
                    changed = True
                else:
                    raise LuaError(f"invalid replacement value (a {type(value)})")
            pos = last = e
        elif pos < _builtin_len(src):
            out.append(src[pos])
            pos += 1
        else:
            break
        if anchor:
            break
    if not changed:
        return (text, count)
    out += src[pos:]
    return (_s(bytes(out)), count)


# --- string.format -----------------------------------------------------------------------


def _hexfloat(x: float, upper: bool) -> str:
    if x != x:
        text = "-nan" if _math.copysign(1.0, x) < 0 else "nan"
    elif x in (_math.inf, -_math.inf):
        text = "inf" if x > 0 else "-inf"
    else:
        text = x.hex()
        mant, _, exp = text.partition("p")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        text = f"{mant}p{exp}"
    return text.upper() if upper else text


def _quoted(s: str) -> bytes:
    raw = _b(s)
    out = bytearray(b'"')
    for i, c in enumerate(raw):
        if c in b'"\\\n':
            out += b"\\" + bytes([c])
        elif c < 32 or c == 127:
            nxt = raw[i + 1] if i + 1 < _builtin_len(raw) else 0
            out += (b"\\%03d" if 48 <= nxt <= 57 else b"\\%d") % c
        else:
            out.append(c)
    out += b'"'
    return bytes(out)


def _format_q(v: Any) -> bytes:
    if isinstance(v, str):
        return _quoted(v)
    if isinstance(v, bool) or v is None:
        return _b(tostring(v))
    if isinstance(v, int):
        return b"0x8000000000000000" if v == _INT_MIN else b"%d" % v
    if isinstance(v, float):
        if v == _math.inf:
            return b"1e9999"
        if v == -_math.inf:
            return b"-1e9999"
        if v != v:
            return b"(0/0)"
        if v.is_integer() and _INT_MIN <= v <= _INT_MAX:
            return _hexfloat(v, False).encode()
        return _hexfloat(v, False).encode()
    raise LuaError("bad argument to 'format' (value has no literal form)")


def _spec_ok(spec: str, flags: str, precision: bool) -> bool:
    i = 0
    while i < _builtin_len(spec) and spec[i] in flags:
        i += 1
    digits = 0
    while i < _builtin_len(spec) and spec[i].isdigit():
        i += 1
        digits += 1
    if digits > 2:
        return False
    if i < _builtin_len(spec) and spec[i] == ".":
        if not precision:
            return False
        i += 1
        digits = 0
        while i < _builtin_len(spec) and spec[i].isdigit():
            i += 1
            digits += 1
        if digits > 2:
            return False
    return i == _builtin_len(spec)


def _format_nan_inf(spec: str, conv: str, x: float) -> bytes:
    text = "nan" if x != x else "inf"
    neg = _math.copysign(1.0, x) < 0
    if conv.isupper():
        text = text.upper()
    sign = "-" if neg else ("+" if "+" in spec else (" " if " " in spec else ""))
    width_spec = "".join(ch for ch in spec.split(".")[0] if ch not in "+ #0")
    return (("%" + width_spec + "s") % (sign + text)).encode()


def _format_one(conv: str, spec: str, arg: Any, pos: int) -> bytes:
    if conv == "c":
        if not _spec_ok(spec, "-", False):
            raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")
        return (b"%" + spec.encode() + b"c") % (_int_arg(arg, pos, "format") & 0xFF)
    if conv in "diuoxX":
        flags = {"d": "-+0 ", "i": "-+0 ", "u": "-0"}.get(conv, "-#0")
        n = _int_arg(arg, pos, "format")
        if not _spec_ok(spec, flags, True):
            raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")
        if conv in "oxXu" and n < 0:
            n &= _MASK
        if conv == "o" and "#" in spec:
            body = (("%" + spec.replace("#", "") + "o") % n)
            digits = body.strip()
            if not digits.lstrip("-").startswith("0"):
                return (("%" + spec.replace("#", "") + "s") % ("0" + digits)).encode()
            return body.encode()
        return (("%" + spec + ("d" if conv in "iu" else conv)) % n).encode()
    if conv in "aA":
        x = float(_num_arg(arg, pos, "format"))
        if not _spec_ok(spec, "-+ #0", True) or "." in spec:
            raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")
        text = _hexfloat(x, conv == "A")
        if x == x and "+" in spec and not text.startswith("-"):
            text = "+" + text
        return (("%" + spec.replace("+", "").replace("#", "").replace("0", "") + "s")
                % text).encode()
    if conv in "fFeEgG":
        x = float(_num_arg(arg, pos, "format"))
        if not _spec_ok(spec, "-+ #0", True):
            raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")
        if x != x or x in (_math.inf, -_math.inf):
            return _format_nan_inf(spec, conv, x)
        return (("%" + spec + conv) % x).encode()
    if conv == "q":
        if spec:
            raise LuaError("specifier '%q' cannot have modifiers")
        return _format_q(arg)
    if conv == "s":
        text = _b(tostring(arg))
        if not spec:
            return text
        if not _spec_ok(spec, "-", True):
            raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")
        if b"\0" in text:
            raise LuaError(f"bad argument #{pos} to 'format' (string contains zeros)")
        return (b"%" + spec.encode() + b"s") % text
    raise LuaError(f"invalid conversion '%{spec}{conv}' to 'format'")


def _format(fmt: Any, *args: Any) -> str:
    raw = _b(_str_arg(fmt, 1, "format"))
    out = bytearray()
    i, argn, n = 0, 0, _builtin_len(raw)
    while i < n:
        c = raw[i]
        i += 1
        if c != _ESC:
            out.append(c)
            continue
        if i < n and raw[i] == _ESC:
            out.append(_ESC)
            i += 1
            continue
        j = i
        while j < n and chr(raw[j]) in "-+ #0123456789.":
            j += 1
        if j >= n:
            raise LuaError(f"invalid conversion '%{_s(raw[i:j])}' to 'format'")
        spec, conv = raw[i:j].decode("latin-1"), chr(raw[j])
        i = j + 1
        if argn >= _builtin_len(args):
            raise LuaError(f"bad argument #{argn + 2} to 'format' (no value)")
        out += _format_one(conv, spec, args[argn], argn + 2)
        argn += 1
    return _s(bytes(out))


# --- the string library ------------------------------------------------------------------


def _sub(s: Any, i: Any = 1, j: Any = -1) -> str:
    raw = _b(_str_arg(s, 1, "sub"))
    size = _builtin_len(raw)
    start = _posrelat(_int_arg(i, 2, "sub"), size)
    end = _int_arg(j, 3, "sub")
    if end > size:
        end = size
    elif end < 0:
        end = 0 if end < -size else size + end + 1
    if start > end:
        return ""
    return _s(raw[start - 1:end])


def _rep(s: Any, n: Any, sep: Any = "") -> str:
    text = _str_arg(s, 1, "rep")
    count = _int_arg(n, 2, "rep")
    if count <= 0:
        return ""
    return _str_arg(sep, 3, "rep").join([text] * count)


def _byte(s: Any, i: Any = 1, j: Any = None) -> tuple[int, ...]:
    raw = _b(_str_arg(s, 1, "byte"))
    size = _builtin_len(raw)
    start = _posrelat(_int_arg(i, 2, "byte"), size)
    end = start if j is None else _int_arg(j, 3, "byte")
    if end > size:
        end = size
    elif end < 0:
        end = 0 if end < -size else size + end + 1
    if start > end:
        return ()
    return tuple(raw[start - 1:end])


def _char(*codes: Any) -> str:
    out = bytearray()
    for pos, code in enumerate(codes, 1):
        value = _int_arg(code, pos, "char")
        if not 0 <= value <= 255:
            raise LuaError(f"bad argument #{pos} to 'char' (value out of range)")
        out.append(value)
    return _s(bytes(out))


class string:  # noqa: N801 - Lua's library name
    """Lua's string library (byte strings, Lua patterns)."""

    @staticmethod
    def len(s: Any, *_: Any) -> int:  # noqa: A003
        """``string.len(s)``: the length in bytes."""
        return length(_str_arg(s, 1, "len"))

    @staticmethod
    def sub(s: Any, i: Any = 1, j: Any = -1, *_: Any) -> str:
        """``string.sub(s, i, j)``: bytes i..j (1-based, negative from the end)."""
        return _sub(s, i, j)

    @staticmethod
    def upper(s: Any, *_: Any) -> str:
        """``string.upper(s)`` (ASCII letters only, as in the C locale)."""
        return _s(_b(_str_arg(s, 1, "upper")).upper())

    @staticmethod
    def lower(s: Any, *_: Any) -> str:
        """``string.lower(s)`` (ASCII letters only)."""
        return _s(_b(_str_arg(s, 1, "lower")).lower())

    @staticmethod
    def rep(s: Any, n: Any, sep: Any = "", *_: Any) -> str:
        """``string.rep(s, n, sep)``."""
        return _rep(s, n, sep)

    @staticmethod
    def reverse(s: Any, *_: Any) -> str:
        """``string.reverse(s)`` (bytewise)."""
        return _s(_b(_str_arg(s, 1, "reverse"))[::-1])

    @staticmethod
    def byte(s: Any, i: Any = 1, j: Any = None, *_: Any) -> tuple[int, ...]:
        """``string.byte(s, i, j)``: the byte values (several results)."""
        return _byte(s, i, j)

    @staticmethod
    def char(*codes: Any) -> str:
        """``string.char(...)``."""
        return _char(*codes)

    @staticmethod
    def format(fmt: Any, *args: Any) -> str:  # noqa: A003
        """``string.format(fmt, ...)`` with Lua's conversions (%d %s %q %x %f %g %a %c)."""
        return _format(fmt, *args)

    @staticmethod
    def find(s: Any, pattern: Any, init: Any = 1, plain: Any = None, *_: Any) -> tuple[Any, ...]:
        """``string.find``: (start, end, captures...) or (nil,)."""
        return _find_aux(s, pattern, init, plain, True)

    @staticmethod
    def match(s: Any, pattern: Any, init: Any = 1, *_: Any) -> tuple[Any, ...]:
        """``string.match``: the captures (or the whole match), or (nil,)."""
        return _find_aux(s, pattern, init, None, False)

    @staticmethod
    def gmatch(s: Any, pattern: Any, init: Any = 1, *_: Any) -> Iterator[Any]:
        """``string.gmatch``: each match's capture (a tuple when there are several)."""
        return _gmatch(s, pattern, init)

    @staticmethod
    def gsub(s: Any, pattern: Any, repl: Any, n: Any = None, *_: Any) -> tuple[str, int]:
        """``string.gsub``: (new string, number of substitutions)."""
        return _gsub(s, pattern, repl, n)


# --- the table library -------------------------------------------------------------------


def _check_table(t: Any, pos: int, fname: str) -> Table:
    if not isinstance(t, Table):
        raise LuaError(f"bad argument #{pos} to '{fname}' (table expected, got {type(t)})")
    return t


def _insert(t: Any, *args: Any) -> None:
    tab = _check_table(t, 1, "insert")
    n = _builtin_len(tab)
    if _builtin_len(args) == 1:
        tab[n + 1] = args[0]
        return
    if _builtin_len(args) != 2:
        raise LuaError("wrong number of arguments to 'insert'")
    pos = _int_arg(args[0], 2, "insert")
    if not 1 <= pos <= n + 1:
        raise LuaError("bad argument #2 to 'insert' (position out of bounds)")
    for i in builtins.range(n, pos - 1, -1):
        tab[i + 1] = tab[i]
    tab[pos] = args[1]


def _remove(t: Any, pos: Any = None) -> Any:
    tab = _check_table(t, 1, "remove")
    size = _builtin_len(tab)
    p = size if pos is None else _int_arg(pos, 2, "remove")
    if pos is not None and p != size and not 1 <= p <= size + 1:
        raise LuaError("bad argument #2 to 'remove' (position out of bounds)")
    value = tab[p]
    while p < size:
        tab[p] = tab[p + 1]
        p += 1
    if p >= 1 or pos is not None:
        tab[p] = None
    return value


def _tconcat(t: Any, sep: Any = "", i: Any = 1, j: Any = None) -> str:
    tab = _check_table(t, 1, "concat")
    separator = _str_arg(sep, 2, "concat")
    start = _int_arg(i, 3, "concat")
    stop = _builtin_len(tab) if j is None else _int_arg(j, 4, "concat")
    parts = []
    for k in builtins.range(start, stop + 1):
        v = tab[k]
        if not isinstance(v, str) and not _is_num(v):
            raise LuaError(f"invalid value (at index {k}) in table for 'concat'")
        parts.append(tostring(v))
    return separator.join(parts)


def _sort(t: Any, comp: Any = None) -> None:
    tab = _check_table(t, 1, "sort")
    n = _builtin_len(tab)
    values = [tab[i] for i in builtins.range(1, n + 1)]
    if comp is None:
        def before(a: Any, b: Any) -> bool:
            return lt(a, b)
    else:
        def before(a: Any, b: Any) -> bool:
            return truthy(first(comp(a, b)))

    def cmp(a: Any, b: Any) -> int:
        return -1 if before(a, b) else (1 if before(b, a) else 0)

    values.sort(key=functools.cmp_to_key(cmp))
    for i, v in enumerate(values, 1):
        tab[i] = v


class table:  # noqa: N801 - Lua's library name
    """Lua's table library."""

    @staticmethod
    def insert(t: Any, *args: Any) -> None:
        """``table.insert(t, v)`` / ``table.insert(t, pos, v)``."""
        _insert(t, *args)

    @staticmethod
    def remove(t: Any, pos: Any = None, *_: Any) -> Any:
        """``table.remove(t, pos)``: the removed value."""
        return _remove(t, pos)

    @staticmethod
    def concat(t: Any, sep: Any = "", i: Any = 1, j: Any = None, *_: Any) -> str:
        """``table.concat(t, sep, i, j)``."""
        return _tconcat(t, sep, i, j)

    @staticmethod
    def unpack(t: Any, i: Any = 1, j: Any = None, *_: Any) -> tuple[Any, ...]:
        """``table.unpack(t, i, j)`` (several results)."""
        return unpack(_check_table(t, 1, "unpack"), i, j)

    @staticmethod
    def sort(t: Any, comp: Any = None, *_: Any) -> None:
        """``table.sort(t, comp)``."""
        _sort(t, comp)

    @staticmethod
    def pack(*values: Any) -> Table:
        """``table.pack(...)``: {...} with the count in field n."""
        result = Table(list(values))
        result["n"] = _builtin_len(values)
        return result


# --- the math library --------------------------------------------------------------------


def _floor_ceil(x: Any, fname: str, up: bool) -> int | float:
    n = _num_arg(x, 1, fname)
    if isinstance(n, int):
        return n
    f = _math.ceil(n) if up and _math.isfinite(n) else (
        _math.floor(n) if _math.isfinite(n) else None)
    if f is None or not _INT_MIN <= f <= _INT_MAX:
        return float(f) if f is not None else n
    return f


def _minmax(fname: str, values: tuple[Any, ...], pick_max: bool) -> int | float:
    if not values:
        raise LuaError(f"bad argument #1 to '{fname}' (number expected, got no value)")
    best = _num_arg(values[0], 1, fname)
    for pos, v in enumerate(values[1:], 2):
        n = _num_arg(v, pos, fname)
        if (best < n) if pick_max else (n < best):
            best = n
    return best


class math:  # noqa: N801 - Lua's library name
    """Lua's math library."""

    huge = _math.inf
    pi = _math.pi
    maxinteger = _INT_MAX
    mininteger = _INT_MIN

    @staticmethod
    def floor(x: Any, *_: Any) -> int | float:
        """``math.floor(x)``: an integer when it fits."""
        return _floor_ceil(x, "floor", False)

    @staticmethod
    def ceil(x: Any, *_: Any) -> int | float:
        """``math.ceil(x)``."""
        return _floor_ceil(x, "ceil", True)

    @staticmethod
    def abs(x: Any, *_: Any) -> int | float:  # noqa: A003
        """``math.abs(x)``."""
        n = _num_arg(x, 1, "abs")
        return _wrap(-n) if isinstance(n, int) and n < 0 else builtins.abs(n)

    @staticmethod
    def max(*values: Any) -> int | float:  # noqa: A003
        """``math.max(...)``."""
        return _minmax("max", values, True)

    @staticmethod
    def min(*values: Any) -> int | float:  # noqa: A003
        """``math.min(...)``."""
        return _minmax("min", values, False)

    @staticmethod
    def sqrt(x: Any, *_: Any) -> float:
        """``math.sqrt(x)``."""
        n = float(_num_arg(x, 1, "sqrt"))
        return _math.sqrt(n) if n >= 0 else -_math.nan

    @staticmethod
    def exp(x: Any, *_: Any) -> float:
        """``math.exp(x)``."""
        try:
            return _math.exp(float(_num_arg(x, 1, "exp")))
        except OverflowError:
            return _math.inf

    @staticmethod
    def log(x: Any, base: Any = None, *_: Any) -> float:
        """``math.log(x, base)``."""
        n = float(_num_arg(x, 1, "log"))
        if n <= 0:
            return -_math.inf if n == 0 else -_math.nan
        if base is None:
            return _math.log(n)
        b = float(_num_arg(base, 2, "log"))
        return _math.log2(n) if b == 2.0 else (_math.log10(n) if b == 10.0
                                               else _math.log(n) / _math.log(b))

    @staticmethod
    def sin(x: Any, *_: Any) -> float:
        """``math.sin(x)``."""
        return _math.sin(float(_num_arg(x, 1, "sin")))

    @staticmethod
    def cos(x: Any, *_: Any) -> float:
        """``math.cos(x)``."""
        return _math.cos(float(_num_arg(x, 1, "cos")))

    @staticmethod
    def tan(x: Any, *_: Any) -> float:
        """``math.tan(x)``."""
        return _math.tan(float(_num_arg(x, 1, "tan")))

    @staticmethod
    def fmod(a: Any, b: Any, *_: Any) -> int | float:
        """``math.fmod(a, b)``: remainder truncated toward zero."""
        x, y = _num_arg(a, 1, "fmod"), _num_arg(b, 2, "fmod")
        if isinstance(x, int) and isinstance(y, int):
            if y == 0:
                raise LuaError("bad argument #2 to 'fmod' (zero)")
            r = builtins.abs(x) % builtins.abs(y)
            return -r if x < 0 else r
        fx, fy = float(x), float(y)
        if fy == 0.0 or not _math.isfinite(fx):
            return -_math.nan
        return _math.fmod(fx, fy)

    @staticmethod
    def modf(x: Any, *_: Any) -> tuple[int | float, float]:
        """``math.modf(x)``: integral and fractional parts."""
        n = _num_arg(x, 1, "modf")
        if isinstance(n, int):
            return (n, 0.0)
        if not _math.isfinite(n):
            return (n, 0.0 if n == n else n)
        ip = _math.floor(n) if n >= 0 else _math.ceil(n)
        whole: int | float = ip if _INT_MIN <= ip <= _INT_MAX else float(ip)
        return (whole, 0.0 if n == ip else n - ip)

    @staticmethod
    def tointeger(x: Any, *_: Any) -> int | None:
        """``math.tointeger(x)``: the integer with the same value, or nil."""
        if isinstance(x, str):
            n = _str2number(x)
            x = n if n is not None else None
        if isinstance(x, bool) or x is None:
            return None
        if isinstance(x, int):
            return x
        if isinstance(x, float) and x.is_integer() and _INT_MIN <= x <= _INT_MAX:
            return int(x)
        return None

    @staticmethod
    def type(x: Any, *_: Any) -> str | None:  # noqa: A003
        """``math.type(x)``: "integer", "float" or nil."""
        if isinstance(x, bool) or not isinstance(x, int | float):
            return None
        return "integer" if isinstance(x, int) else "float"

    @staticmethod
    def ult(a: Any, b: Any, *_: Any) -> bool:
        """``math.ult(a, b)``: unsigned comparison."""
        return (_int_arg(a, 1, "ult") & _MASK) < (_int_arg(b, 2, "ult") & _MASK)

    @staticmethod
    def random(m: Any = None, n: Any = None, *_: Any) -> int | float:
        """``math.random()``, ``math.random(m)``, ``math.random(m, n)``."""
        if m is None:
            return _random.random()
        low, high = (1, _int_arg(m, 1, "random")) if n is None else (
            _int_arg(m, 1, "random"), _int_arg(n, 2, "random"))
        if low > high:
            raise LuaError("bad argument to 'random' (interval is empty)")
        return _random.randint(low, high)

    @staticmethod
    def randomseed(x: Any = None, *_: Any) -> None:
        """``math.randomseed(x)``."""
        _random.seed(x)


# --- the os library ----------------------------------------------------------------------


def _date_field(t: Table, key: str, default: int | None) -> int:
    v = t[key]
    if v is None:
        if default is None:
            raise LuaError(f"field '{key}' missing in date table")
        return default
    return _int_arg(v, 1, "time")


class os:  # noqa: N801 - Lua's library name
    """Lua's os library (time, date, clock, getenv, difftime)."""

    @staticmethod
    def time(t: Any = None, *_: Any) -> int:
        """``os.time()``: seconds since the epoch; ``os.time{year=...}``: local time."""
        if t is None:
            return int(_time.time())
        tab = _check_table(t, 1, "time")
        fields = (_date_field(tab, "year", None), _date_field(tab, "month", None),
                  _date_field(tab, "day", None), _date_field(tab, "hour", 12),
                  _date_field(tab, "min", 0), _date_field(tab, "sec", 0), 0, 0,
                  -1 if tab["isdst"] is None else int(truthy(tab["isdst"])))
        return int(_time.mktime(fields))

    @staticmethod
    def date(fmt: Any = "%c", t: Any = None, *_: Any) -> Any:
        """``os.date(fmt, t)``: strftime text, or a table for "*t" ("!" for UTC)."""
        text = _str_arg(fmt, 1, "date")
        when = _time.time() if t is None else _int_arg(t, 2, "date")
        utc = text.startswith("!")
        if utc:
            text = text[1:]
        tm = _time.gmtime(when) if utc else _time.localtime(when)
        if text.startswith("*t"):
            return Table({"year": tm.tm_year, "month": tm.tm_mon, "day": tm.tm_mday,
                          "hour": tm.tm_hour, "min": tm.tm_min, "sec": tm.tm_sec,
                          "wday": (tm.tm_wday + 1) % 7 + 1, "yday": tm.tm_yday,
                          "isdst": bool(tm.tm_isdst > 0)})
        return _time.strftime(text, tm)

    @staticmethod
    def clock(*_: Any) -> float:
        """``os.clock()``: processor time in seconds."""
        return _time.process_time()

    @staticmethod
    def getenv(name: Any, *_: Any) -> str | None:
        """``os.getenv(name)``."""
        return _os.environ.get(_str_arg(name, 1, "getenv"))

    @staticmethod
    def difftime(t2: Any, t1: Any = 0, *_: Any) -> float:
        """``os.difftime(t2, t1)``."""
        return float(_num_arg(t2, 1, "difftime")) - float(_num_arg(t1, 2, "difftime"))
