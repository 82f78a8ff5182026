"""``ksrpy port lua``: every construct, run in real Lua (lupa) and as the translated Python.

Each snippet runs twice: in Lua 5.4 (the oracle, through lupa) and as the Python that
``port_lua_source`` produces; what they print (and whether they fail) must be the same.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa  # the Lua oracle (pip install ".[test]")
import pytest

from ksrpy import luart
from ksrpy.core.context import ScriptExit
from ksrpy.script.lua import port_lua_source

REPO = Path(__file__).resolve().parents[2]

# What print() collects in Lua (same format as Lua's own print).
_PRELUDE = r"""
local out = {}
_OUT = out
print = function(...)
  local n = select('#', ...)
  local t = {}
  for i = 1, n do t[i] = tostring((select(i, ...))) end
  out[#out + 1] = table.concat(t, "\t")
end
"""

# A stand-in KSR for both languages: each function prints its name and arguments.
FAKE_KSR: dict[str, Any] = {
    "sl.sl_send_reply": 1, "sl.send_reply": 1, "pv.get": "alice", "pv.gete": "",
    "is_INVITE": False, "is_OPTIONS": True, "is_myself_ruri": True, "maxfwd.process_maxfwd": 1,
    "hdr.append": 1, "dbg": None, "info": None, "setflag": 1, "isflagset": True,
    "siputils.has_totag": -1, "tm.t_relay": 1,
}


def _lua_ksr() -> str:
    lines = ["KSR = {x = {}}", "KSR.x.exit = function() print('exit') error('~~ksr~exit~~', 0) end",
             "KSR.x.drop = function() print('drop') error('~~ksr~exit~~', 0) end"]
    for name, ret in FAKE_KSR.items():
        ns, _, fn = name.rpartition(".")
        if ns:
            lines.append(f"KSR.{ns} = KSR.{ns} or {{}}")
        target = f"KSR.{ns}.{fn}" if ns else f"KSR.{fn}"
        value = {None: "nil", True: "true", False: "false"}.get(ret, None) if not isinstance(
            ret, int | str) or isinstance(ret, bool) else (repr(ret) if isinstance(ret, int)
                                                           else f'"{ret}"')
        lines.append(f"{target} = function(...) print('{target}', ...) return {value} end")
    return "\n".join(lines)


def _py_ksr() -> types.ModuleType:
    ksr = types.ModuleType("KSR")

    def exit_() -> None:
        luart.print("exit")
        raise ScriptExit()

    def drop() -> None:
        luart.print("drop")
        raise ScriptExit()

    ksr.x = types.SimpleNamespace(exit=exit_, drop=drop)  # type: ignore[attr-defined]
    for name, ret in FAKE_KSR.items():
        ns, _, fn = name.rpartition(".")
        target = f"KSR.{ns}.{fn}" if ns else f"KSR.{fn}"

        def call(*args: Any, _t: str = target, _r: Any = ret) -> Any:
            luart.print(_t, *args)
            return _r

        holder: Any = ksr
        if ns:
            holder = getattr(ksr, ns, None) or types.SimpleNamespace()
            setattr(ksr, ns, holder)
        setattr(holder, fn, call)
    return ksr


def lua_run(src: str, call: str | None = None) -> list[str]:
    """What the Lua chunk prints (and 'error' when it fails) in real Lua 5.4."""
    lua = lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True)
    lua.execute(_PRELUDE)
    lua.execute(_lua_ksr())
    runner = lua.eval("""function(src, call)
      local f, e = load(src, "=chunk")
      if not f then return false, e end
      local ok, err = pcall(f)
      if ok and call then ok, err = pcall(_G[call]) end
      if not ok and err == "~~ksr~exit~~" then ok = true end
      return ok, err
    end""")
    ok, _ = runner(src.encode(), call.encode() if call else None)
    out = lua.globals()._OUT
    lines = [out[i].decode("utf-8", "surrogateescape") for i in range(1, len(out) + 1)]
    text = "\n".join(lines)
    return (text.split("\n") if lines else []) + ([] if ok else ["error"])


def translate(src: str) -> str:
    """The Python translation; the test fails if anything is reported."""
    result = port_lua_source(src, "snippet.lua")
    assert not result.issues, "\n".join(str(i) for i in result.issues)
    return result.source


def py_run(src: str, call: str | None = None) -> list[str]:
    """What the translated Python prints (and 'error' when it fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)  # e.g. `1 is True`: a translation bug
        code = compile(translate(src), "snippet.py", "exec")
    buf = io.StringIO()
    failed = False
    saved = sys.modules.get("KSR")
    sys.modules["KSR"] = _py_ksr()
    try:
        with contextlib.redirect_stdout(buf):
            namespace: dict[str, Any] = {"__name__": "snippet"}
            try:
                exec(code, namespace)  # noqa: S102 - running the translation is the test
                if call:
                    namespace[call]()
            except ScriptExit:
                pass
            except Exception:  # noqa: BLE001 - Lua errors and Python errors alike
                failed = True
    finally:
        if saved is not None:
            sys.modules["KSR"] = saved
        else:
            sys.modules.pop("KSR", None)
    text = buf.getvalue()
    lines = text[:-1].split("\n") if text else []
    return lines + (["error"] if failed else [])


def assert_same(src: str, call: str | None = None) -> None:
    """Lua and the translation print the same lines."""
    assert py_run(src, call) == lua_run(src, call)


# --- every construct, compared with Lua ---------------------------------------------------

CONSTRUCTS: dict[str, str] = {
    "global and local functions": """
        function double(x) return x * 2 end
        local function triple(x) return x * 3 end
        print(double(4), triple(4))""",
    "local variables and block scope": """
        local x = 5
        do local x = 6 print(x) end
        print(x)
        for i = 1, 2 do local x = i * 10 print(x) end
        print(x)""",
    "redeclared local": "local x = 1 local x = x + 1 print(x)",
    "multiple assignment and swap": "local a, b, c = 1, 2 a, b = b, a print(a, b, c)",
    "multiple assignment evaluates first": "local t = {1, 2} local i = 1 i, t[1] = 2, 'x' "
                                           "print(i, t[1], t[2])",
    "multiple returns": """
        local function f() return 1, 2, 3 end
        local a, b = f()
        print(a, b)
        print(f())
        print((f()))
        print(f(), 'last')
        local t = {f(), f()}
        print(#t)""",
    "multiple returns with pcall": """
        local ok, v = pcall(function() return 42 end)
        print(ok, v)
        print(pcall(function() return 1, 2 end))
        print(select('#', pcall(error)))""",
    "varargs": """
        local function f(...)
          local a, b = ...
          return select('#', ...), a, b, ...
        end
        print(f(1, nil, 3))
        print(f())
        local function g(...) return {...} end
        print(#g(1, 2, 3))""",
    "if elseif else": """
        local function c(n)
          if n < 0 then return 'neg' elseif n == 0 then return 'zero' else return 'pos' end
        end
        print(c(-1), c(0), c(1))""",
    "while and break": "local i = 0 while true do i = i + 1 if i >= 4 then break end end print(i)",
    "numeric for": """
        for i = 1, 3 do print(i) end
        for i = 10, 1, -4 do print(i) end
        for i = 1, 2, 0.5 do print(i) end
        for i = 3, 1 do print('never') end
        local n = 2
        for i = n, n + 1 do print(i) end""",
    "generic for pairs and ipairs": """
        local t = {'a', 'b', 'c', x = 1}
        for i, v in ipairs(t) do print(i, v) end
        local keys = {}
        for k in pairs(t) do keys[#keys + 1] = tostring(k) end
        table.sort(keys)
        print(table.concat(keys, ','))
        for k, v in next, {5} do print(k, v) end""",
    "generic for over a closure": """
        local function range(n)
          local i = 0
          return function() i = i + 1 if i <= n then return i end end
        end
        for v in range(3) do print(v) end""",
    "repeat until sees body locals": "local i = 0 repeat local j = i i = i + 1 until j >= 2 "
                                     "print(i)",
    "goto continue": """
        for i = 1, 4 do
          if i % 2 == 0 then goto continue end
          print(i)
          ::continue::
        end""",
    "return in nested functions": """
        local function outer()
          local function inner(x) if x then return 'yes' end end
          return inner(true), inner(false)
        end
        print(outer())""",
    "tables as arrays (1-based)": """
        local t = {10, 20, 30}
        print(t[1], t[3], t[0], t[4], #t)
        t[#t + 1] = 40
        print(#t, t[4])
        table.insert(t, 1, 5)
        print(table.concat(t, ' '), table.remove(t), table.remove(t, 1), #t)""",
    "tables as records": """
        local r = {name = 'alice', ['two words'] = 2, [3] = 'three'}
        r.age = 30
        print(r.name, r['two words'], r[3], r.age, r.missing)
        r.name = nil
        print(r.name)""",
    "table keys 1 and 1.0 and true": "local t = {} t[1.0] = 'a' t[true] = 'b' print(t[1], t[true])",
    "concatenation and number formatting": """
        print(1 .. '', 1.5 .. '', 10 / 2 .. '', -0.0 .. '', 1e15 .. '', 2^53 .. '')
        local n = 7
        print('n=' .. n .. ';' .. n / 2)""",
    "length operator": "print(#'hello', #'', #{1, 2, 3}, #{})",
    "not equal": "print(1 ~= 2, 'a' ~= 'a', nil ~= false)",
    "truthiness of 0 and empty string": """
        if 0 then print('0 is true') end
        if '' then print('empty is true') end
        local z = 0
        if z then print('z is true') end
        if not nil then print('nil is false') end
        if false then print('no') else print('false is false') end""",
    "and/or keep Lua values": """
        local function pick(c, a, b) return c and a or b end
        print(pick(true, 0, 1), pick(false, 0, 1), pick(nil, 'x', 'y'), pick(0, '', 'z'))
        local v = nil
        print(v or 'default', false or nil, 0 and 'y', nil and 1, '' or 'never')
        local function f() return 0 end
        print(f() or 9, f() and 8)""",
    "and/or with side effects evaluated once": """
        local n = 0
        local function bump() n = n + 1 return n end
        local a = bump() or bump()
        local b = bump() and bump()
        print(a, b, n)
        local function none() n = n + 1 end
        print(none() or none() or bump() or 'z', n)
        print(bump() and none() and bump(), n)""",
    "integer and float division": """
        print(7 / 2, 7 // 2, -7 // 2, 7 // -2, 7.5 // 2, 7 % 3, -7 % 3, 7 % -3, -7.5 % 2)
        print(1 // 0.0, -1 // 0.0, 6 / 3, 2^10, 10 // 3.0)
        local zero = 0
        print((pcall(function() return 1 // zero end)))""",
    "arithmetic on numeric strings": "local a = '10' print(a + 5, a * 2, '3' .. 4, -a)",
    "bitwise operators": "print(3 & 5, 3 | 5, 3 ~ 5, ~0, 1 << 4, 256 >> 4, -1 >> 60)",
    "comparison": "print(1 == 1.0, '1' == 1, 1 < 2, 'a' < 'b', 'B' < 'a', 2 <= 2.0)",
    "comparison errors": "print((pcall(function() return 1 < 'x' end)))",
    "string escapes": r"""print("tab\tq\"\65\x41\u{48}\z
                             end", 'it\'s', "a\\b", '\0\1\255' == "\x00\x01\xff")""",
    "long strings": """
        local s = [[
line1
line2]]
        print(s, #s)
        print([==[a]]b]==])""",
    "comments everywhere": """
        -- leading comment
        local x = 1 -- trailing comment
        --[[ long
             comment ]]
        print(x) --[==[ inline long ]==]""",
    "string functions": """
        local s = 'Hello World'
        print(s:sub(1, 5), s:upper(), s:lower(), s:len(), s:rep(2, '|'), s:reverse())
        print(string.byte('A'), string.char(72, 105), s:byte(1, 3))
        print(s:find('World'), s:find('o', 6), s:find('l+'), s:find('.', 1, true))
        print(s:match('(%a+) (%a+)'), string.match('2024-01-02', '(%d+)-(%d+)'))
        print(s:gsub('o', '0'), s:gsub('(%w+)', '<%1>', 1))""",
    "gsub with table and function": """
        print(('$a $b'):gsub('%$(%w+)', {a = 'A'}))
        print(('abc'):gsub('%w', function(c) return c:upper() .. '.' end))""",
    "gmatch": """
        for w in ('one two  three'):gmatch('%a+') do print(w) end
        for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do print(k, v) end""",
    "string.format": """
        print(string.format('%5.2f|%d|%s|%q|%x|%X|%5s|%-5s|%%', 3.14159, 42, 'hi', 'a\\nb',
                            255, 255, 'ab', 'cd'))
        print(('%d items'):format(3), string.format('%s %s', nil, true))""",
    "tostring tonumber type": """
        print(tostring(nil), tostring(true), tostring(12), tostring(1.5))
        print(tonumber('0x10'), tonumber(' 12 '), tonumber('1e2'), tonumber('z', 36),
              tonumber('abc'), tonumber('10', 2))
        print(type(print), type({}), type('x'), type(2), type(nil), type(true))""",
    "pcall and error": """
        local ok, err = pcall(function() error({code = 42}) end)
        print(ok, type(err), err.code)
        print(pcall(error, 'plain', 0))
        local ok2 = pcall(function() local t = nil return t.x end)
        print(ok2)""",
    "error statement": "local function f() error('bad', 0) end print(pcall(f))",
    "os.time and os.date": """
        print(os.time() > 1000000000, os.date('!%Y-%m-%d %H:%M:%S', 86400))
        print(os.time({year = 2020, month = 1, day = 1, hour = 0}) ==
              os.time({year = 2020, month = 1, day = 1, hour = 0}))
        local d = os.date('!*t', 0)
        print(d.year, d.month, d.day, d.wday, d.yday)""",
    "math": """
        print(math.floor(3.7), math.ceil(3.2), math.max(1, 5, 3), math.min(2.5, 1),
              math.abs(-3), math.huge, -math.huge, math.type(1), math.type(1.0),
              math.fmod(-7, 3))""",
    "closures and upvalues": """
        local function counter()
          local n = 0
          return function() n = n + 1 return n end
        end
        local c = counter()
        c() c()
        print(c())""",
    "globals assigned in functions": """
        function init() total = 10 end
        function add(n) total = total + n end
        init() add(5)
        print(total, undefined_one)""",
    "methods with colon syntax": """
        local Account = {balance = 0}
        function Account:deposit(v) self.balance = self.balance + v return self end
        Account:deposit(10):deposit(5)
        print(Account.balance)""",
    "module tables with dotted functions": """
        local M = {util = {}}
        function M.util.twice(s) return s .. s end
        print(M.util.twice('ab'))""",
    "select": "print(select(2, 'a', 'b', 'c'), select(-1, 'a', 'b'), select('#', 1, nil))",
    "unpack": "print(table.unpack({1, 2, 3})) print(table.unpack({1, 2, 3}, 2))",
    "python keyword names": """
        local class, def, len, str, None = 1, 2, 3, 4, 5
        local function pass(is) return is end
        print(class + def + len + str + None, pass(6))""",
    "numeric literals": "print(0x10, 0xff, 1e2, .5, 3., 0x1p4, 9007199254740993, 010)",
    "integer float distinction": "print(1, 1.0, 3 // 1, 3.0 // 1, 2^2, 10 / 5, math.floor(2.5))",
    "nil versus no value": """
        local function opt(x) if x then return x end end
        print(opt(1), opt(nil))
        print(opt(nil))
        local function nothing() end
        print(nothing())
        print(#{nothing()})""",
    "function called where it is defined": """
        local a, b = (function() return 1, 2 end)()
        print(a, b, (function(x) return x * 2 end)(21))""",
    "forward declared local function": """
        local f
        local function g() return f() end
        f = function() return 'late' end
        print(g())""",
    "closures in loops called at once": """
        local data = {3, 1, 2}
        for i = 1, 2 do
          table.sort(data, function(a, b) if i == 1 then return a < b end return a > b end)
          print(table.concat(data, ','))
        end
        for _, w in ipairs({'ab', 'cd'}) do
          print((w:gsub('%w', function(c) return c .. w end)))
        end""",
    "constants compared with nil and booleans": """
        print(1 == true, true == true, nil == nil, 'x' ~= nil, false == nil, 0 ~= false)
        print(-1 == nil, (2 + 3) == true, 'a' .. 'b' ~= nil, #'abc' == false, (1 < 2) == true)""",
    "closures sharing an outer variable": """
        local fs, last = {}, 0
        for i = 1, 3 do
          last = i
          fs[i] = function() return last end
        end
        print(fs[1](), fs[3]())""",
}


@pytest.mark.parametrize("src", CONSTRUCTS.values(), ids=CONSTRUCTS.keys())
def test_construct_matches_lua(src: str) -> None:
    assert_same(src)


KSR_SCRIPT = """
-- per request initial checks
function ksr_route_reqinit()
    if KSR.maxfwd.process_maxfwd(10) < 0 then
        KSR.sl.sl_send_reply(483, "Too Many Hops")
        KSR.x.exit()
    end
    if KSR.is_OPTIONS() and KSR.is_myself_ruri() then
        KSR.sl.sl_send_reply(200, "Keepalive")
        KSR.x.exit()
    end
end

function ksr_request_route()
    if KSR.auth then
        print("never: no auth module")
    end
    if not KSR.permissions and KSR.sl then print("sl loaded, permissions not") end
    local user = KSR.pv.get("$rU") or "none"
    KSR.dbg("user " .. user .. " " .. 42 .. "\\n")
    if KSR.isflagset(1) then KSR.setflag(2) end
    if KSR.siputils.has_totag() then print("ints are always true in Lua") end
    ksr_route_reqinit()
    print("not reached")
end
"""


def test_ksr_script_matches_lua() -> None:
    assert_same(KSR_SCRIPT, call="ksr_request_route")


def test_ksr_drop_stops_the_script() -> None:
    assert_same("function ksr_request_route() KSR.x.drop() print('after') end",
                call="ksr_request_route")


def test_ksr_exit_inside_pcall_still_ends_the_route() -> None:
    src = "function ksr_request_route() pcall(KSR.x.exit) print('after') end"
    # Lua's pcall would catch the exit error; ksrpy keeps its meaning: the route ends.
    assert py_run(src, call="ksr_request_route") == ["exit"]


# --- readable output ----------------------------------------------------------------------


def test_ksr_calls_keep_their_names() -> None:
    py = translate('KSR.sl.sl_send_reply(403, "Forbidden")\nKSR.x.exit()\n')
    assert py == 'import KSR\n\nKSR.sl.sl_send_reply(403, "Forbidden")\nKSR.x.exit()\n'


def test_module_presence_is_hasattr() -> None:
    py = translate("if KSR.auth then KSR.auth.consume_credentials() end\n"
                   "if not KSR.nathelper then return_value = 1 end\n"
                   "local m = KSR.auth\n")
    assert 'if hasattr(KSR, "auth"):\n    KSR.auth.consume_credentials()' in py
    assert 'if not hasattr(KSR, "nathelper"):' in py
    assert 'm = getattr(KSR, "auth", None)' in py


def test_plain_code_needs_no_runtime_import() -> None:
    py = translate("local x = 1\nif x > 0 then x = x + 1 end\n")
    assert "luart" not in py
    assert py == "x = 1\nif x > 0:\n    x = x + 1\n"


def test_comments_stay_where_they_stand() -> None:
    py = translate("-- header\n\n-- about f\nfunction f()\n  -- inside\n  local a = 1 -- why\n"
                   "  return a\nend\n")
    assert py == ("# header\n\n\n# about f\ndef f():\n    # inside\n    a = 1  # why\n"
                  "    return a\n")


def test_truthiness_translation_is_readable() -> None:
    py = translate("local v = tonumber(s)\nif v then print(v) end\n"
                   "if KSR.is_INVITE() then print(1) end\n")
    assert "if v is not None:" in py
    assert "if KSR.is_INVITE():" in py


def test_plain_find_in_condition_is_in() -> None:
    py = translate('local ua = KSR.kx.gete_ua()\nif string.find(ua, "scanner") then '
                   'KSR.x.exit() end\n')
    assert 'if "scanner" in ua:' in py


def test_names_clashing_with_python_are_renamed_consistently() -> None:
    py = translate("local class = 1\nlocal function len(l) return l end\nprint(len(class))\n")
    assert "class_ = 1" in py and "def len_(l_):" in py and "luart.print(len_(class_))" in py


def test_long_lines_are_wrapped() -> None:
    src = "KSR.info('" + "x" * 60 + "' .. KSR.pv.gete('$ru') .. '" + "y" * 60 + "')\n"
    py = translate(src)
    assert max(len(line) for line in py.splitlines()) <= 100


# --- what cannot be translated ------------------------------------------------------------

UNSUPPORTED = [
    ("goto done\n::done::\n", 1, 1, "goto done is not supported"),
    ("while true do\n  goto out\nend\n::out::\n", 2, 3, "goto out is not supported"),
    ("repeat\n  goto c\n  ::c::\nuntil true\n", 2, 3, "goto c is not supported"),
    ('sr.sl.send_reply(200, "ok")\n', 1, 1, "app_lua_sr API (sr.*) is not supported"),
    ("local f <close> = nil\n", 1, 7, "local <close> variables are not supported"),
    ("return 1\n", 1, 1, "return at the top level"),
    ("print(...)\n", 1, 7, "'...' of the main chunk"),
    ("local t = setmetatable({}, {})\n", 1, 11, "'setmetatable' is not supported"),
    ("local f = io.open('x')\n", 1, 11, "'io' is not supported"),
    ("require('foo')\n", 1, 1, "'require' is not supported"),
    ("local function two() return 1, 2 end\nlocal f = two\n", 2, 11,
     "returns several values and is used as a value"),
    ("local find = string.find\n", 1, 14, "'string.find' returns several values"),
    ("local p = pairs\n", 1, 11, "can only be called here"),
    ("local fs = {}\nfor i = 1, 3 do\n  fs[i] = function() return i end\nend\n", 3, 29,
     "captures 'i'"),
    ("local t, i = {}, 1\ni, t[i] = 2, 3\n", 2, 4, "targets depend on the values"),
    ("string.trim = function(s) return s end\n", 1, 1, "changing Lua's standard library"),
    ("local x = = 1\n", 1, 11, "syntax error"),
]


@pytest.mark.parametrize(("src", "line", "col", "message"), UNSUPPORTED,
                         ids=[u[3] for u in UNSUPPORTED])
def test_unsupported_constructs_are_reported(src: str, line: int, col: int, message: str) -> None:
    result = port_lua_source(src, "bad.lua")
    assert result.issues, result.source
    found = [(i.line, i.col, i.message) for i in result.issues]
    assert any(message in m and (ln, c) == (line, col) for ln, c, m in found), found
    assert str(result.issues[0]).startswith(f"bad.lua:{result.issues[0].line}:")


def test_all_unsupported_places_are_listed_at_once() -> None:
    result = port_lua_source("goto a\nsr.x()\nlocal f <close> = 1\n", "bad.lua")
    assert [i.line for i in result.issues] == [1, 2, 3]


# --- output quality: ruff and ksrpy ---------------------------------------------------------


def test_translations_pass_ruff(tmp_path: Path) -> None:
    for i, src in enumerate([*CONSTRUCTS.values(), KSR_SCRIPT]):
        (tmp_path / f"snippet_{i}.py").write_text(translate(src))
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(REPO / "pyproject.toml"), str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_translated_ksr_script_loads_in_ksrpy(tmp_path: Path) -> None:
    from ksrpy.core.config import CoreConfig
    from ksrpy.core.engine import Engine
    from ksrpy.script.loader import check_script

    script = tmp_path / "route.py"
    script.write_text(translate(KSR_SCRIPT.replace("KSR.siputils.has_totag()",
                                                   "KSR.siputils.has_totag() > 0")))
    assert check_script(str(script), Engine(CoreConfig())) == []


# --- the command --------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ksrpy", "port", "lua", *args], cwd=REPO,
                          capture_output=True, text=True)


def test_cli_writes_output(tmp_path: Path) -> None:
    src = tmp_path / "in.lua"
    src.write_text("function ksr_request_route()\n  KSR.sl.sl_send_reply(200, 'OK')\nend\n")
    out = tmp_path / "out.py"
    proc = _cli(str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("import KSR\n")
    proc = _cli(str(src))
    assert proc.stdout == out.read_text()


def test_cli_check_lists_problems_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "bad.lua"
    src.write_text("goto x\nsr.sl.send_reply(200, 'ok')\n")
    out = tmp_path / "out.py"
    proc = _cli(str(src), "--check")
    assert proc.returncode == 1
    assert f"{src}:1:1: goto x is not supported" in proc.stderr
    assert f"{src}:2:1: the old app_lua_sr API" in proc.stderr
    proc = _cli(str(src), "-o", str(out))
    assert proc.returncode == 1 and not out.exists()
    good = tmp_path / "good.lua"
    good.write_text("local x = 1\n")
    proc = _cli(str(good), "--check")
    assert proc.returncode == 0 and "ok" in proc.stdout
