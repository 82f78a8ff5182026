"""Property: small generated Lua expressions give the same results in Lua and translated.

Expressions mix arithmetic (with // and % on negative numbers), comparisons, and/or/not
over nil/false/0/"", concatenation of numbers and strings, and string functions with
patterns drawn from a safe subset of Lua's pattern language. Some atoms go through a
local function ``id`` so that the translator cannot know their types and must use the
ksrpy.luart helpers. Lua 5.4 (lupa) is the oracle; an error must be an error in both.
"""

from __future__ import annotations

import warnings
from typing import Any

import lupa.lua54 as lupa  # the Lua oracle (pip install ".[test]")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksrpy import luart
from ksrpy.script.lua import port_lua_source

_LUA = lupa.LuaRuntime(encoding=None)
_SHOW = """
local function show(...)
  local r = table.pack(pcall(...))
  if not r[1] then return "error" end
  local out = {}
  for i = 2, r.n do
    local v = r[i]
    out[#out + 1] = (math.type(v) or type(v)) .. ":" .. tostring(v)
  end
  return table.concat(out, " ")
end
return show
"""
_SHOW_FN = _LUA.execute(_SHOW)

INTS = st.integers(-12, 12).map(lambda n: f"({n})" if n < 0 else str(n))
FLOATS = st.sampled_from(["0.5", "1.5", "2.0", "1e3", "(-2.5)", "0.1", "3.0", "(-0.0)"])
STRINGS = st.sampled_from(['""', '"a"', '"10"', '"3.5"', '"ab c"', '"0x10"', '" 7 "', '"-4"',
                           '"B"', '"1e1"'])
CONSTANTS = st.sampled_from(["nil", "true", "false"])
ATOMS = st.one_of(INTS, FLOATS, STRINGS, CONSTANTS)
LEAVES = st.one_of(ATOMS, ATOMS.map(lambda a: f"id({a})"))

SUBJECTS = st.text(alphabet="ab1 x(-)._", max_size=8).map(lambda s: f'"{s}"')
_ITEMS = st.one_of(st.sampled_from(list("ab1 x.")),
                   st.sampled_from(["%a", "%d", "%s", "%w", "%l", "%u", "%x", "%p", "%A", "%D",
                                    "%S", "%W", "%(", "%."]),
                   st.sampled_from(["[ab]", "[^a]", "[a-c]", "[%d_]", "[^%s]", "[%a%-]"]))
_PIECES = st.tuples(_ITEMS, st.sampled_from(["", "", "*", "+", "-", "?"])).map("".join)
_UNITS = st.one_of(_PIECES, st.sampled_from(["%b()", "%f[%w]", "()"]),
                   st.lists(_PIECES, min_size=1, max_size=2).map(lambda p: "(" + "".join(p) + ")"))


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """A Lua pattern literal: units, maybe anchored, maybe with a back-reference."""
    units = draw(st.lists(_UNITS, min_size=1, max_size=3))
    body = "".join(units)
    if draw(st.booleans()) and any(u.startswith("(") and u != "()" for u in units):
        body += "%1"
    if draw(st.booleans()):
        body = "^" + body
    if draw(st.booleans()):
        body += "$"
    return f'"{body}"'


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from(["+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">",
                           ">=", "and", "or"])
    return st.one_of(
        st.tuples(children, ops, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"(-{c})"),
        children.map(lambda c: f"#{c}"),
        children.map(lambda c: f"tostring({c})"),
        children.map(lambda c: f"tonumber({c})"),
        children.map(lambda c: f"string.upper({c})"),
        st.tuples(children, INTS, INTS).map(lambda t: f"string.sub({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(children, st.integers(0, 3)).map(lambda t: f"string.rep({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(["%d", "%s", "%5.2f", "%x", "%q"]), children).map(
            lambda t: f'string.format("{t[0]}", {t[1]})'),
        st.tuples(SUBJECTS, patterns()).map(lambda t: f"string.find({t[0]}, {t[1]})"),
        st.tuples(SUBJECTS, patterns()).map(lambda t: f"string.match({t[0]}, {t[1]})"),
        st.tuples(SUBJECTS, patterns(), st.sampled_from(['"<%0>"', '"%1"', '"-"', '""'])).map(
            lambda t: f"string.gsub({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(SUBJECTS, patterns()).map(lambda t: f"({t[0]}):match({t[1]})"),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=6)


def _py_show(fn: Any) -> str:
    try:
        result = fn()
    except Exception:  # noqa: BLE001 - any failure stands for a Lua error
        return "error"
    values = result if isinstance(result, tuple) else (result,)
    return " ".join(f"{luart.math.type(v) or luart.type(v)}:{luart.tostring(v)}" for v in values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_expression_matches_lua(expr: str) -> None:
    src = f"local function id(x) return x end\nfunction f()\n  return {expr}\nend\n"
    result = port_lua_source(src, "expr.lua")
    assert not result.issues, [str(i) for i in result.issues]
    namespace: dict[str, Any] = {"__name__": "expr"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)  # e.g. `1 is True`: a translation bug
        code = compile(result.source, "expr.py", "exec")
    exec(code, namespace)  # noqa: S102
    got = _py_show(namespace["f"])
    _LUA.execute(src)
    want = _SHOW_FN(_LUA.globals().f).decode("utf-8", "surrogateescape")
    assert got == want, result.source
