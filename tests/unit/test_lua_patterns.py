"""ksrpy.luart's string library against real Lua 5.4 (lupa): patterns, format, conversions."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa  # the Lua oracle (pip install ".[test]")
import pytest

from ksrpy import luart

_LUA = lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True)
_CALL = _LUA.eval("""function(name, ...)
  local f = _G
  for part in name:gmatch('[^.]+') do f = f[part] end
  return table.pack(pcall(f, ...))
end""")


def _to_lua(v: Any) -> Any:
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v


def _from_lua(v: Any) -> Any:
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v


def lua(name: str, *args: Any) -> tuple[Any, ...]:
    """Results of the Lua library function, or ('error',)."""
    packed = _CALL(name.encode(), *[_to_lua(a) for a in args])
    values = [_from_lua(packed[i]) for i in range(1, packed[b"n"] + 1)]
    return tuple(values[1:]) if values[0] else ("error",)


def python(name: str, *args: Any) -> tuple[Any, ...]:
    """Results of the luart function, or ('error',)."""
    fn: Any = luart
    for part in name.split("."):
        fn = getattr(fn, part)
    try:
        result = fn(*args)
    except luart.LuaError:
        return ("error",)
    return result if isinstance(result, tuple) else (result,)


def same(name: str, *args: Any) -> None:
    """Equal values of equal Lua types (1 and 1.0 differ)."""
    want, got = lua(name, *args), python(name, *args)
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]


FIND = [
    ("hello world", "o w"), ("hello world", "(o)(r)"), ("hello", "l+"), ("a.b", ".", 1, True),
    ("abc", "b", -1), ("abc", "", 10), ("abc", "", 4), ("abc", "b", -10), ("x^y", "^", 1, True),
    ("a+b", "+", 1, True), ("", ""), ("aaa", "a-", 2), ("hello", "l", 0), ("abc", "[a"),
    ("abc", "%"), ("a\0b", "%z"), ("a\0b", "\0"), ("banana", "ana", 3), ("x", "x", 1, False),
]

MATCH = [
    ("key=val", "(%w+)=(%w+)"), ("  trim  ", "^%s*(.-)%s*$"), ("f(a(b)c)d", "%b()"),
    ("THE (quick) fox", "%f[%a]%a+"), ("hello", "()ll()"), ("abcabc", "(abc)%1"),
    ("[x]", "[%[]"), ("a-b", "[a%-]+"), ("2024-01-02", "(%d+)-(%d+)-(%d+)"), ("x]y", "[]]"),
    ("abc", "[^%a]"), ("hello", ".-l"), ("hello", ".*l"), ("aaa", "a?a?a?a"),
    ("abc", "("), ("abc", "%"), ("abc", "(()"), ("abc", "%1"), ("hello", "(h)(e)(l)(l)(o)"),
    ("key = value", "^(%w+)%s*=%s*(%w+)$"), ("sip:alice@example.com;tag=1", "^sip:([^@]+)@([^;]+)"),
    ("\x01\x7f", "%c+"), ("Hello, World!", "%p+"), ("abc DEF", "%u+"), ("x1y2", "%D+"),
    ("ff0x", "%x+"), ("a\tb", "%S+%s%S"), ("a b", "%g+"), ("AbC", "%l"), ("a1_", "%W"),
    ("THE END", "%f[%w]%w+$"), ("hello", "h?ello"), ("x = 10", "=%s*(%d+)"), ("abc", "b", -1),
    ("abc", "^b"), ("abc", "c$"), ("a$c", "$c"), ("ab", "a$b"), ("(a)", "%((%a)%)"),
    ("[[x]]", "%[(%b[])%]"), ("é ü", "[\x80-\xff]+"), ("a.b.c", "^(.-)%.(.*)$"),
    ("aaa", "(a*(.)%w(%s*))"), ("one;two;;four", "([^;]*);"), ("x", "[%a-z]"), ("-", "[a-]"),
    ("abc", "[b-]"), ("f", "[%w_]"), ("", "^$"), ("abc", "a()"), ("hello world", "%f[%S].-%f[%s]"),
]

GSUB = [
    ("hello world", "o", "0"), ("hello world", "(%w+)", "<%1>"), ("abc", "", "-"),
    ("hello world", "%w+", "%0 %0", 1), ("abc", "^a", "x"), ("abc", "%w", "%2"),
    ("abc", "(b)", "%%%1%%"), ("a b c", " ", "", 1),
    ("hello world from lua", "(%w+) (%w+)", "%2 %1"),
    ("%d", "%%", "%%%%"), ("abc", "b", "%"), ("abc", ".", 1.5), ("abc", ".", 7),
    ("abc", "b*", "-"), ("x y", "%s*", "_"), ("hello", "l", "L", 0), ("hello", "l", "L", -1),
    ("aaa", "a", "b", 2.0), ("hello", "()", "%1"),
]

FORMAT = [
    ("%5.2f|%d|%s|%q|%x|%X|%o|%e|%g|%c|%-5s|%5s|%%", 3.14159, 42, "hi", 'a"b\n\\\r\x001', 255,
     255, 8, 12345.678, 0.0001, 65, "ab", "cd"),
    ("%q|%q|%q|%a|%#x|%#o|%+.3e|%10.3g", 1.5, 7, 2**53, 0.5, 255, 8, 1234.5, 1e-10),
    ("%d", 3.5), ("%5.1s|", "abc"), ("%x", -1), ("%s %s", None, True), ("%d", "10"),
    ("%5d|%-5d|%05d|%+d|% d", 3, 3, 3, 3, 3), ("%.3d", 3), ("%123d", 3), ("%q", "x\0y"),
    ("%q", 1 / 3), ("%q", float("inf")), ("%q", -(2**63)), ("%s", 1e100), ("%s", -0.0),
    ("%i", 42), ("%g", 100000000000000), ("%.14g", 0.1), ("%.20f", 0.1), ("%5%",),
    ("%d",), ("%y", 1), ("%10.4q", "x"), ("%s", "\xe9"), ("%5.2s|", "\xe9\xe9"),
    ("%u", 5), ("%.0f", 0.5), ("%.0f", 1.5), ("%e", 0.0), ("%G", 1e-20), ("%#.3g", 1.0),
    ("%.3f", float("nan")), ("%5.1f", float("-inf")), ("%-8.3f|", 2.0), ("%c", 256),
]

CONVERSIONS = [
    ("tostring", 1.5), ("tostring", 10 / 2), ("tostring", 1e100), ("tostring", -0.0),
    ("tostring", 123456789012345678), ("tostring", 2**53 * 1.0), ("tostring", 1e15),
    ("tostring", 0.1), ("tostring", -1e-7), ("tostring", 3.0e-310),
    ("tonumber", "0x1F"), ("tonumber", " 10 "), ("tonumber", "1e2"), ("tonumber", "abc"),
    ("tonumber", "7", 8), ("tonumber", "1_0"), ("tonumber", "inf"), ("tonumber", "nan"),
    ("tonumber", ".5"), ("tonumber", "5."), ("tonumber", "0x.8"), ("tonumber", "0x1p-2"),
    ("tonumber", "9223372036854775808"), ("tonumber", "-9223372036854775808"),
    ("tonumber", "0xffffffffffffffffff"), ("tonumber", "1e"), ("tonumber", "- 1"),
    ("tonumber", "+1"), ("tonumber", "zz", 36), ("tonumber", "8", 8), ("tonumber", ""),
    ("tonumber", " "), ("tonumber", "1 2"), ("tonumber", "\t0x10\n"), ("tonumber", 5),
    ("tonumber", "ff", 16), ("tonumber", "-ff", 16), ("tonumber", "1", 37), ("tonumber", None),
    ("math.floor", 3.7), ("math.floor", -3.5), ("math.ceil", 3.2), ("math.floor", 1e300),
    ("math.max", 1, 2.5, 2), ("math.min", 3, 1, 2), ("math.fmod", -7, 3), ("math.fmod", 7.5, -2),
    ("math.modf", 3.7), ("math.modf", -3.7), ("math.modf", 5), ("math.tointeger", 3.0),
    ("math.tointeger", 3.5), ("math.abs", -3), ("math.abs", -(2**63)), ("math.fmod", 1, 0),
    ("math.ult", 1, -1), ("math.type", "1"),
]

STRINGS = [
    ("string.rep", "ab", 3, ","), ("string.rep", "x", 0), ("string.rep", "x", -1),
    ("string.sub", "hello", 2, -2), ("string.sub", "hello", -3), ("string.sub", "hello", 0),
    ("string.sub", "hello", 10), ("string.sub", "hello", 2, 1), ("string.sub", "hello", -100, 2),
    ("string.sub", "héllo", 2, 3), ("string.byte", "ABC", 1, -1), ("string.byte", ""),
    ("string.byte", "A", 10), ("string.char", 72, 105), ("string.char", 256),
    ("string.char",), ("string.reverse", "abc"), ("string.upper", "aBcé"),
    ("string.lower", "ÀBC"), ("string.len", "é"), ("string.len", 123), ("string.sub", 12345, 2, 3),
    ("string.upper", None), ("string.rep", "ab", 2.0), ("string.rep", "ab", 2.5),
]


@pytest.mark.parametrize("args", FIND, ids=[repr(a) for a in FIND])
def test_find(args: tuple[Any, ...]) -> None:
    same("string.find", *args)


@pytest.mark.parametrize("args", MATCH, ids=[repr(a) for a in MATCH])
def test_match(args: tuple[Any, ...]) -> None:
    same("string.match", *args)


@pytest.mark.parametrize("args", GSUB, ids=[repr(a) for a in GSUB])
def test_gsub(args: tuple[Any, ...]) -> None:
    same("string.gsub", *args)


@pytest.mark.parametrize("args", FORMAT, ids=[repr(a) for a in FORMAT])
def test_format(args: tuple[Any, ...]) -> None:
    same("string.format", *args)


@pytest.mark.parametrize("case", CONVERSIONS, ids=[repr(c) for c in CONVERSIONS])
def test_conversions_and_math(case: tuple[Any, ...]) -> None:
    same(*case)


@pytest.mark.parametrize("case", STRINGS, ids=[repr(c) for c in STRINGS])
def test_string_functions(case: tuple[Any, ...]) -> None:
    same(*case)


GMATCH = [("hello world from lua", "%a+"), ("a=1, b=2", "(%w+)=(%w+)"), ("abc", ""),
          ("a,b,,c", "([^,]*)"), ("abc", "()"), ("one two", "%a+", 4), ("x", "^x"),
          ("aaa", "a*"), ("12 ab 3", "%d+")]


@pytest.mark.parametrize("args", GMATCH, ids=[repr(a) for a in GMATCH])
def test_gmatch(args: tuple[Any, ...]) -> None:
    collect = _LUA.eval("""function(...)
      local out = {}
      for a, b in string.gmatch(...) do out[#out + 1] = tostring(a) .. '|' .. tostring(b) end
      return table.concat(out, ';')
    end""")
    want = _from_lua(collect(*[_to_lua(a) for a in args]))
    got = []
    for item in luart.string.gmatch(*args):
        a, b = luart.adjust(item, 2)
        got.append(f"{luart.tostring(a)}|{luart.tostring(b)}")
    assert ";".join(got) == want


def test_gsub_with_function_and_table() -> None:
    upper = _LUA.eval("function(s) return (s:gsub('%w', function(c) return c:upper() .. '.' end)) "
                      "end")
    assert luart.string.gsub("ab1", "%w", lambda c: luart.string.upper(c) + ".")[0] == \
        _from_lua(upper(b"ab1"))
    assert luart.string.gsub("$a $b $c", "%$(%w+)", luart.Table({"a": "A", "b": False})) == \
        ("A $b $c", 3)
    assert luart.string.gsub("abc", "%w", lambda c: None) == ("abc", 3)
    with pytest.raises(luart.LuaError, match="invalid replacement value"):
        luart.string.gsub("abc", "%w", lambda c: luart.Table())
    with pytest.raises(luart.LuaError):
        luart.string.gsub("abc", "%w", True)


def test_pattern_too_complex_is_an_error_not_a_crash() -> None:
    with pytest.raises(luart.LuaError):
        luart.string.match("a" * 300, "(" * 33 + "a")
    assert luart.string.find("x" * 500, ".-y") == (None,)


def test_operators_against_lua() -> None:
    cases = {
        "add": [("10", 1), (1, 2.5), (2**62, 2**62), ("0x10", "1")],
        "idiv": [(7, 2), (-7, 2), (7.5, 2), (1, 0.0), (-1, 0.0), (0, 0.0), (1, 0)],
        "mod": [(-7, 3), (7, -3), (-4.0, 2.0), (5, float("inf")), (-5, float("inf")),
                (5.0, 0), (1, 0)],
        "div": [(1, 0), (-1, 0), (0, 0), (7, 2)],
        "pow": [(2, 10), (-8, 1 / 3), (2, 10000), (0, -1)],
        "shl": [(1, 64), (1, 63), (-1, -1), (3, -1)],
        "concat": [(1, ""), (1.5, "x"), ("a", 2.0), (None, "x")],
    }
    ops = {"add": "+", "idiv": "//", "mod": "%", "div": "/", "pow": "^", "shl": "<<",
           "concat": ".."}
    for name, pairs in cases.items():
        fn = _LUA.eval(f"function(a, b) return table.pack(pcall(function() return a {ops[name]} b "
                       "end)) end")
        for a, b in pairs:
            packed = fn(_to_lua(a), _to_lua(b))
            want = luart.tostring(_from_lua(packed[2])) if packed[1] else "error"
            try:
                got = luart.tostring(getattr(luart, name)(a, b))
            except luart.LuaError:
                got = "error"
            assert got == want, (name, a, b)
