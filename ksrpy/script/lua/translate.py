"""Translate a parsed Lua chunk (app_lua KSR script) into readable Python.

Three passes over the AST of :mod:`.parser`:

1. scoping: every name is bound to a :class:`Var` (Lua locals are block
   scoped, Python's function scoped: clashing names get a numeric suffix);
2. inference: a flow-insensitive union of the Lua types each variable,
   parameter and function result can hold; it decides where plain Python
   has Lua's meaning (``x + 1`` on numbers, ``if ok:`` on booleans) and where
   :mod:`ksrpy.luart` is needed (``luart.truthy(x)``, ``luart.concat(...)``);
3. emission, with Lua's comments kept where they stand and lines wrapped at
   100 columns.

Whatever cannot be translated faithfully becomes a :class:`Issue`.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import parser as A

# --- Python expressions and their layout -------------------------------------------------

WIDTH = 100
ALIGN_LIMIT = 56
P_LAMBDA, P_IFEXP, P_OR, P_AND, P_NOT, P_CMP = 0, 1, 2, 3, 4, 5
P_BOR, P_BXOR, P_BAND, P_SHIFT, P_ADD, P_MUL = 6, 7, 8, 9, 10, 11
P_UNARY, P_POW, P_ATOM = 12, 13, 15


class Py:
    """A Python expression that knows its precedence, flat text and wrapped layout."""

    prec = P_ATOM

    def flat(self) -> str:
        """The expression on one line."""
        raise NotImplementedError

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        """Lines: the first placed at ``col``, the others complete (with their indentation)."""
        return [self.flat()]


def lay(p: Py, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
    """``p`` on one line when it fits, else wrapped."""
    text = p.flat()
    if col + len(text) + tail <= WIDTH:
        return [text]
    return p.broken(col, indent, tail, bracketed)


def _paren_lines(p: Py, col: int, tail: int) -> list[str]:
    lines = lay(p, col + 1, col + 1, tail + 1, True)
    return ["(" + lines[0], *lines[1:-1], lines[-1] + ")"] if len(lines) > 1 else \
        ["(" + lines[0] + ")"]


class Atom(Py):
    """Names, numbers, constants."""

    def __init__(self, text: str, prec: int = P_ATOM) -> None:
        self.text = text
        self.prec = prec

    def flat(self) -> str:
        return self.text


def py_string(value: str) -> str:
    """A Python literal for a Lua string (double quotes unless it holds them)."""
    quote = "'" if '"' in value and "'" not in value else '"'
    out = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\udc{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


class Str(Py):
    """A string literal, split into adjacent literals when too long."""

    def __init__(self, value: str) -> None:
        self.value = value

    def flat(self) -> str:
        return py_string(self.value)

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        if not bracketed:
            return _paren_lines(self, col, tail)
        room = max(WIDTH - col - 2, 20)
        chunks: list[str] = []
        cur = ""
        for ch in self.value:
            if len(py_string(cur + ch)) > room and cur:
                cut = cur.rfind(" ")
                if cut > len(cur) // 2:
                    chunks.append(cur[:cut + 1])
                    cur = cur[cut + 1:]
                else:
                    chunks.append(cur)
                    cur = ""
            cur += ch
        chunks.append(cur)
        lines = [py_string(chunks[0])]
        lines += [" " * col + py_string(c) for c in chunks[1:]]
        return lines


def _seq(head: str, items: list[Py], close: str, col: int, indent: int, tail: int) -> list[str]:
    """``head item, item close``: aligned after ``head`` when there is room, else hanging."""
    if not items:
        return [head + close]
    item_col = col + len(head)
    if item_col > ALIGN_LIMIT:
        inner = indent + 4
        lines = [head]
        for item in items:
            sub = lay(item, inner, inner, 1, True)
            lines.append(" " * inner + sub[0])
            lines.extend(sub[1:])
            lines[-1] += ","
        lines.append(" " * indent + close)
        return lines
    lines: list[str] = []
    cur, cur_col, fresh = head, col, True
    for i, item in enumerate(items):
        last = i == len(items) - 1
        end = close if last else ","
        room = len(end) + (tail if last else 0)
        text = item.flat()
        sep = "" if fresh else " "
        if cur_col + len(cur) + len(sep) + len(text) + room <= WIDTH:
            cur += sep + text + end
            fresh = False
            continue
        if not fresh:
            lines.append(cur)
            cur, cur_col = " " * item_col, 0
        sub = lay(item, item_col, item_col, room, True)
        cur += sub[0]
        if len(sub) > 1:
            lines.append(cur)
            lines.extend(sub[1:-1])
            cur, cur_col = sub[-1], 0
        cur += end
        fresh = False
    lines.append(cur)
    return lines


class Call(Py):
    """``func(args)``."""

    def __init__(self, func: Py | str, args: list[Py]) -> None:
        self.func = Atom(func) if isinstance(func, str) else func
        self.args = args

    def head(self) -> str:
        return wrap(self.func, P_ATOM).flat() + "("

    def flat(self) -> str:
        return self.head() + ", ".join(a.flat() for a in self.args) + ")"

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        return _seq(self.head(), self.args, ")", col, indent, tail)


class Seq(Py):
    """A list, tuple or dict display."""

    def __init__(self, open_: str, items: list[Py], close: str) -> None:
        self.open, self.items, self.close = open_, items, close

    def flat(self) -> str:
        if self.open == "(" and len(self.items) == 1:
            return "(" + self.items[0].flat() + ",)"
        return self.open + ", ".join(i.flat() for i in self.items) + self.close

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        return _seq(self.open, self.items, self.close, col, indent, tail)


class KeyValue(Py):
    """``key: value`` inside a dict display."""

    def __init__(self, key: Py, value: Py) -> None:
        self.key, self.value = key, value

    def flat(self) -> str:
        return self.key.flat() + ": " + self.value.flat()

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        head = self.key.flat() + ": "
        sub = lay(self.value, col + len(head), indent, tail, True)
        return [head + sub[0], *sub[1:]]


class Subscript(Py):
    """``obj[key]``."""

    def __init__(self, obj: Py, key: Py) -> None:
        self.obj, self.key = obj, key

    def flat(self) -> str:
        return wrap(self.obj, P_ATOM).flat() + "[" + self.key.flat() + "]"

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        suffix = "[" + self.key.flat() + "]"
        obj = wrap(self.obj, P_ATOM)
        if col + len(obj.flat()) + len(suffix) + tail > WIDTH and isinstance(obj, Call | Subscript):
            sub = lay(obj, col, indent, tail + len(suffix), bracketed)
            return [*sub[:-1], sub[-1] + suffix]
        return _seq(obj.flat() + "[", [self.key], "]", col, indent, tail)


class Attr(Py):
    """``obj.name``."""

    def __init__(self, obj: Py, name: str) -> None:
        self.obj, self.name = obj, name

    def flat(self) -> str:
        return wrap(self.obj, P_ATOM).flat() + "." + self.name


class Star(Py):
    """``*values`` in a call or display."""

    prec = P_UNARY

    def __init__(self, inner: Py) -> None:
        self.inner = inner

    def flat(self) -> str:
        return "*" + wrap(self.inner, P_UNARY + 1).flat()

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        sub = lay(wrap(self.inner, P_UNARY + 1), col + 1, indent, tail, bracketed)
        return ["*" + sub[0], *sub[1:]]


class Paren(Py):
    """``(expr)``."""

    def __init__(self, inner: Py) -> None:
        self.inner = inner

    def flat(self) -> str:
        return "(" + self.inner.flat() + ")"

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        return _paren_lines(self.inner, col, tail)


def wrap(p: Py, min_prec: int) -> Py:
    """``p`` in parentheses when it binds looser than ``min_prec``."""
    return p if p.prec >= min_prec else Paren(p)


class Chain(Py):
    """``a op b op c``: arithmetic, ``and``/``or`` chains and (never chained) comparisons."""

    def __init__(self, prec: int, first: Py, rest: list[tuple[str, Py]]) -> None:
        self.prec = prec
        self.first = first
        self.rest = rest

    def parts(self) -> list[tuple[str, Py]]:
        strict = self.prec == P_CMP
        out = [("", wrap(self.first, self.prec + 1 if strict else self.prec))]
        out += [(op, wrap(p, self.prec + 1)) for op, p in self.rest]
        return out

    def flat(self) -> str:
        parts = self.parts()
        return " ".join([parts[0][1].flat()] + [f"{op} {p.flat()}" for op, p in parts[1:]])

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        parts = self.parts()
        if not bracketed:
            inner = indent + 4
            lines = ["("]
            for i, (op, p) in enumerate(parts):
                head = f"{op} " if op else ""
                sub = lay(p, inner + len(head), inner, 0, True)
                lines.append(" " * inner + head + sub[0])
                lines.extend(sub[1:])
                del i
            lines.append(" " * indent + ")")
            return lines
        if self.prec in (P_OR, P_AND, P_CMP):
            lines = []
            for i, (op, p) in enumerate(parts):
                head = f"{op} " if op else ""
                last = i == len(parts) - 1
                sub = lay(p, col + len(head), col + len(head), tail if last else 0, True)
                lines.append((" " * col if i else "") + head + sub[0])
                lines.extend(sub[1:])
            return lines
        lines, cur, cur_col = [], "", col
        for i, (op, p) in enumerate(parts):
            last = i == len(parts) - 1
            room = tail if last else 0
            piece = (f"{op} " if op else "") + p.flat()
            sep = " " if cur else ""
            if cur_col + len(cur) + len(sep) + len(piece) + room <= WIDTH:
                cur += sep + piece
                continue
            if cur:
                lines.append(cur)
                cur, cur_col = " " * col, 0
            head = f"{op} " if op else ""
            sub = lay(p, col + len(head), col + len(head), room, True)
            cur += head + sub[0]
            if len(sub) > 1:
                lines.append(cur)
                lines.extend(sub[1:-1])
                cur = sub[-1]
        lines.append(cur)
        return lines


def chain(op: str, prec: int, left: Py, right: Py) -> Chain:
    """``left op right``, extending a same-operator chain on the left."""
    if isinstance(left, Chain) and left.prec == prec and prec != P_CMP:
        return Chain(prec, left.first, [*left.rest, (op, right)])
    return Chain(prec, left, [(op, right)])


class Unary(Py):
    """``-x``, ``~x``, ``not x``."""

    def __init__(self, op: str, operand: Py) -> None:
        self.op = op
        self.operand = operand
        self.prec = P_NOT if op == "not " else P_UNARY

    def flat(self) -> str:
        inner = wrap(self.operand, self.prec)
        text = inner.flat()
        if self.op in "-~" and text.startswith(("-", "~")):
            text = "(" + text + ")"
        return self.op + text

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        sub = lay(wrap(self.operand, self.prec), col + len(self.op), indent, tail, bracketed)
        return [self.op + sub[0], *sub[1:]]


class IfExp(Py):
    """``body if test else orelse``."""

    prec = P_IFEXP

    def __init__(self, body: Py, test: Py, orelse: Py) -> None:
        self.body, self.test, self.orelse = body, test, orelse

    def flat(self) -> str:
        return (f"{wrap(self.body, P_OR).flat()} if {wrap(self.test, P_OR).flat()} "
                f"else {wrap(self.orelse, P_IFEXP).flat()}")

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        if not bracketed:
            return _paren_lines(self, col, tail)
        lines = lay(wrap(self.body, P_OR), col, col, 0, True)
        sub = lay(wrap(self.test, P_OR), col + 3, col + 3, 0, True)
        lines += [" " * col + "if " + sub[0], *sub[1:]]
        sub = lay(wrap(self.orelse, P_IFEXP), col + 5, col + 5, tail, True)
        lines += [" " * col + "else " + sub[0], *sub[1:]]
        return lines


class Walrus(Py):
    """``name := value`` (parenthesized wherever Python needs it)."""

    prec = P_LAMBDA

    def __init__(self, name: str, value: Py) -> None:
        self.name, self.value = name, value

    def flat(self) -> str:
        return f"{self.name} := {wrap(self.value, P_IFEXP).flat()}"

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        head = f"{self.name} := "
        sub = lay(wrap(self.value, P_IFEXP), col + len(head), indent, tail, bracketed)
        return [head + sub[0], *sub[1:]]


class Lambda(Py):
    """``lambda params: body``."""

    prec = P_LAMBDA

    def __init__(self, params: str, body: Py) -> None:
        self.params, self.body = params, body

    def flat(self) -> str:
        head = f"lambda {self.params}: " if self.params else "lambda: "
        return head + wrap(self.body, P_IFEXP).flat()

    def broken(self, col: int, indent: int, tail: int, bracketed: bool) -> list[str]:
        head = f"lambda {self.params}: " if self.params else "lambda: "
        sub = lay(wrap(self.body, P_IFEXP), col + len(head), indent, tail, True)
        return [head + sub[0], *sub[1:]]


# --- Lua types for inference -------------------------------------------------------------

NIL, BOOL, INT, FLOAT, STR, TABLE, FUNC, USER = (
    "nil", "boolean", "int", "float", "string", "table", "function", "userdata")
T = frozenset
ANY = T({NIL, BOOL, INT, FLOAT, STR, TABLE, FUNC, USER})
NUM = T({INT, FLOAT})
NONE_T: frozenset[str] = T()
KEMI_UNKNOWN = T({NIL, BOOL, INT, STR})
_RETURNS = {"int": T({INT}), "bool": T({BOOL}), "str": T({STR, NIL}), "xval": T({INT, STR, NIL}),
            "none": T({NIL}), "estr": T({STR})}

# Return types of Kamailio KEMI functions that the shipped examples use and ksrpy may
# not have (ksrpy's own export tables are read first).
KEMI_RETURNS: dict[tuple[str, str], str] = {
    **{("auth", f): "int" for f in ("auth_challenge", "consume_credentials", "www_challenge",
                                    "proxy_challenge", "has_credentials")},
    ("auth_db", "auth_check"): "int",
    **{("corex", f): "int" for f in ("has_ruri_user", "has_user_agent", "send_data")},
    **{("kx", f): "str" for f in ("get_furi", "get_method", "get_ruri", "get_srcip", "get_turi",
                                  "get_ua", "get_fhost", "get_callid", "get_duri")},
    **{("kx", f): "estr" for f in ("gete_ua", "gete_fhost", "gete_fuser", "gete_tuser",
                                   "gete_rhost", "gete_ruser")},
    **{("kx", f): "int" for f in ("get_srcport", "get_status", "get_rcvport", "get_msglen")},
    **{("nathelper", f): "int" for f in ("nat_uac_test", "fix_nated_register",
                                         "set_contact_alias", "handle_ruri_alias",
                                         "fix_nated_contact")},
    ("permissions", "allow_source_address"): "int",
    ("registrar", "lookup"): "int", ("registrar", "save"): "int",
    **{("rr", f): "int" for f in ("record_route", "loose_route", "check_route_param",
                                  "add_rr_param", "record_route_params")},
    ("rtpproxy", "rtpproxy_manage"): "int", ("rtpengine", "rtpengine_manage"): "int",
    ("sanity", "sanity_check"): "int",
    **{("tm", f): "int" for f in ("t_check_trans", "t_is_set", "t_on_branch", "t_on_failure",
                                  "t_on_reply", "t_relay", "t_newtran", "t_is_canceled",
                                  "t_check_status", "t_release", "t_reply")},
    ("tmx", "t_precheck_trans"): "int", ("tmx", "t_is_branch_route"): "int",
    ("dispatcher", "ds_select_dst"): "int", ("dispatcher", "ds_next_dst"): "int",
    ("textopsx", "msg_apply_changes"): "int",
    ("", "isbflagset"): "bool", ("", "setbflag"): "int", ("", "resetbflag"): "int",
    ("", "issflagset"): "bool", ("", "setsflag"): "int", ("", "resetsflag"): "int",
}


# Pseudo-variables whose value is always a string / an integer (when not null).
PV_STR = {"si", "Ri", "proto", "pr", "af", "rm", "ru", "ou", "rU", "rd", "rz", "du", "fu", "fU",
          "fd", "fn", "ft", "tu", "tU", "td", "tn", "tt", "ci", "ct", "ua", "rr", "rt", "rv", "mb",
          "rb", "cT", "au", "ad", "aU", "ar", "adu", "aa"}
PV_INT = {"sp", "Rp", "mt", "ml", "cl", "rc", "retcode", "?", "mf", "bf", "T_branch_idx"}


def pv_types(fn: str, name: str) -> frozenset[str] | None:
    """What KSR.pv.get/gete return for a literal pseudo-variable name, when known."""
    if not name.startswith("$") or fn not in ("get", "gete"):
        return None
    pv = name[1:]
    if pv in PV_STR or pv.startswith("hdr("):
        kind = STR
    elif pv in PV_INT or pv.startswith("hdrc("):
        kind = INT
    else:
        return None
    if fn == "get":
        return T({kind, NIL})
    return T({kind, STR})


@lru_cache(maxsize=1)
def ksrpy_kemi_returns() -> dict[tuple[str, str], str]:
    """(namespace, function) -> return kind, from ksrpy's own module export tables."""
    out: dict[tuple[str, str], str] = {}
    try:
        from ...core.config import CoreConfig
        from ...core.engine import Engine
        from ...modules import default_modules

        engine = Engine(CoreConfig())
        names = default_modules()
    except Exception:  # noqa: BLE001 - without ksrpy's tables the fallback list is used
        return out
    for name in names:
        try:
            engine.load_module(name)
        except Exception:  # noqa: BLE001, S112 - one broken module must not hide the others
            continue
    for module in list(engine.modules.values()):
        try:
            namespace = module.kemi_namespace
            if namespace is None:
                continue
            for kemi_name, fexp in module.export_table().kemi.items():
                out[(namespace, kemi_name)] = fexp.returns.value
        except Exception:  # noqa: BLE001, S112
            continue
    return out


def kemi_types(ns: str, fn: str) -> frozenset[str]:
    """What KSR.ns.fn() returns, as Lua types."""
    kind = ksrpy_kemi_returns().get((ns, fn)) or KEMI_RETURNS.get((ns, fn))
    return _RETURNS.get(kind, KEMI_UNKNOWN) if kind else KEMI_UNKNOWN


@dataclass(frozen=True)
class LibFn:
    """A Lua library function: its Python spelling, result types, several results or not."""

    py: str
    types: frozenset[str]
    multi: bool = False
    nonempty: bool = True


def _lib() -> dict[str, LibFn]:
    s, n = T({STR}), T({NIL})
    out = {
        "print": LibFn("luart.print", n), "tostring": LibFn("luart.tostring", s),
        "tonumber": LibFn("luart.tonumber", T({INT, FLOAT, NIL})),
        "type": LibFn("luart.type", s), "pcall": LibFn("luart.pcall", T({BOOL}), True),
        "error": LibFn("luart.error", n), "assert": LibFn("luart.assert_", ANY - n, True),
        "select": LibFn("luart.select", ANY, True, False),
        "next": LibFn("luart.next", ANY, True), "unpack": LibFn("luart.unpack", ANY, True, False),
        "rawget": LibFn("luart.rawget", ANY), "rawset": LibFn("luart.rawset", T({TABLE})),
        "rawequal": LibFn("luart.rawequal", T({BOOL})), "rawlen": LibFn("luart.rawlen", T({INT})),
        "table.insert": LibFn("luart.table.insert", n),
        "table.remove": LibFn("luart.table.remove", ANY),
        "table.concat": LibFn("luart.table.concat", s),
        "table.unpack": LibFn("luart.table.unpack", ANY, True, False),
        "table.sort": LibFn("luart.table.sort", n),
        "table.pack": LibFn("luart.table.pack", T({TABLE})),
        "string.byte": LibFn("luart.string.byte", T({INT, NIL}), True, False),
        "string.find": LibFn("luart.string.find", T({INT, NIL}), True),
        "string.match": LibFn("luart.string.match", T({STR, INT, NIL}), True),
        "string.gsub": LibFn("luart.string.gsub", s, True),
        "string.len": LibFn("luart.string.len", T({INT})),
        "math.abs": LibFn("luart.math.abs", NUM), "math.max": LibFn("luart.math.max", NUM),
        "math.min": LibFn("luart.math.min", NUM), "math.fmod": LibFn("luart.math.fmod", NUM),
        "math.floor": LibFn("luart.math.floor", NUM), "math.ceil": LibFn("luart.math.ceil", NUM),
        "math.modf": LibFn("luart.math.modf", NUM, True),
        "math.tointeger": LibFn("luart.math.tointeger", T({INT, NIL})),
        "math.type": LibFn("luart.math.type", T({STR, NIL})),
        "math.ult": LibFn("luart.math.ult", T({BOOL})),
        "math.random": LibFn("luart.math.random", NUM),
        "math.randomseed": LibFn("luart.math.randomseed", n),
        "os.time": LibFn("luart.os.time", T({INT})),
        "os.date": LibFn("luart.os.date", T({STR, TABLE})),
        "os.clock": LibFn("luart.os.clock", T({FLOAT})),
        "os.getenv": LibFn("luart.os.getenv", T({STR, NIL})),
        "os.difftime": LibFn("luart.os.difftime", T({FLOAT})),
    }
    for name in ("sub", "upper", "lower", "rep", "reverse", "char", "format"):
        out[f"string.{name}"] = LibFn(f"luart.string.{name}", s)
    for name in ("sqrt", "exp", "log", "sin", "cos", "tan"):
        out[f"math.{name}"] = LibFn(f"luart.math.{name}", T({FLOAT}))
    return out


LIB = _lib()
LIB_CONSTANTS = {"math.huge": ("luart.math.huge", T({FLOAT})),
                 "math.pi": ("luart.math.pi", T({FLOAT})),
                 "math.maxinteger": ("luart.math.maxinteger", T({INT})),
                 "math.mininteger": ("luart.math.mininteger", T({INT}))}
LIB_TABLES = {"string", "table", "math", "os"}
ITERATORS = {"pairs", "ipairs", "string.gmatch"}
UNSUPPORTED_GLOBALS = {
    "io", "debug", "coroutine", "utf8", "package", "require", "dofile", "load", "loadstring",
    "loadfile", "collectgarbage", "setmetatable", "getmetatable", "xpcall", "module", "_G",
    "_ENV", "getfenv", "setfenv", "newproxy", "gcinfo",
}
STRING_METHODS = {"len", "sub", "upper", "lower", "rep", "reverse", "byte", "format", "find",
                  "match", "gmatch", "gsub"}
_SPECIALS = set("^$*+?.([%-")

# Python names the generated code relies on, and names ruff rejects (E741).
RESERVED = set(keyword.kwlist) | {"luart", "hasattr", "getattr", "len", "str", "range", "l",
                                  "O", "I", "print", "True", "False", "None", "__name__",
                                  "__file__", "__doc__"}


# --- scoping -----------------------------------------------------------------------------


@dataclass(eq=False)
class Var:
    """One Lua variable (a local declaration, a parameter or a global)."""

    lua: str
    kind: str  # local | param | global | vararg | loop | hoisted
    owner: FuncInfo
    line: int = 0
    col: int = 0
    pyname: str = ""
    sources: list[Any] = field(default_factory=list)
    reads: int = 0
    writes: int = 0
    in_loop: bool = False
    func_info: FuncInfo | None = None
    called_only: bool = True
    types: frozenset[str] = NONE_T
    top_assigned: bool = False
    early: bool = False
    overlaps: bool = False
    captured: bool = False


@dataclass(eq=False)
class FuncInfo:
    """A Lua function (or the main chunk, ``node`` None) and what the passes learn of it."""

    node: A.Function | None
    parent: FuncInfo | None
    vars: list[Var] = field(default_factory=list)
    params: list[Var] = field(default_factory=list)
    vararg: Var | None = None
    returns: list[A.Return] = field(default_factory=list)
    free: set[Var] = field(default_factory=set)
    globals_: set[Var] = field(default_factory=set)
    nonlocals: set[Var] = field(default_factory=set)
    calls: list[A.Call | A.Method] = field(default_factory=list)
    var: Var | None = None
    escapes: bool = False
    arity: int | None = None
    multi: bool = False
    force_multi: bool = False
    fixed: int | None = None
    void_paths: bool = False
    ret_types: frozenset[str] = NONE_T
    value_types: frozenset[str] = NONE_T
    defaults_from: int | None = None
    extra_args: bool = False

    def chain_to(self, owner: FuncInfo) -> list[FuncInfo]:
        """This function and its parents below ``owner``."""
        out, f = [], self
        while f is not None and f is not owner:
            out.append(f)
            f = f.parent
        return out


@dataclass
class Issue:
    """Something that cannot be translated faithfully, at line:col."""

    line: int
    col: int
    message: str


class Scopes:
    """Pass 1: bind names to variables, collect functions, calls and captures."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        self.main = FuncInfo(None, None)
        self.funcs: list[FuncInfo] = [self.main]
        self.globals: dict[str, Var] = {}
        self.ref: dict[int, Var] = {}
        self.finfo: dict[int, FuncInfo] = {}
        self.stack: list[tuple[FuncInfo, dict[str, Var]]] = []
        self.loops: dict[FuncInfo, int] = {self.main: 0}
        self.captures: list[tuple[Var, FuncInfo, A.Name]] = []
        self.toplevel = True
        self.safe_funcs: set[int] = set()

    # helpers

    def func(self) -> FuncInfo:
        return self.stack[-1][0]

    def declare(self, name: A.Name, kind: str, source: Any = None) -> Var:
        f = self.func()
        var = Var(name.name, kind, f, name.line, name.col, in_loop=self.loops[f] > 0)
        # a same-named local of this function in an enclosing block comes back into view
        # when this one's block ends: the two need different Python names
        var.overlaps = any(owner is f and name.name in scope
                           for owner, scope in self.stack[:-1])
        if source is not None:
            var.sources.append(source)
        f.vars.append(var)
        self.stack[-1][1][name.name] = var
        self.ref[id(name)] = var
        return var

    def lookup(self, name: A.Name) -> Var:
        for _f, scope in reversed(self.stack):
            var = scope.get(name.name)
            if var is not None:
                break
        else:
            var = self.globals.get(name.name)
            if var is None:
                var = Var(name.name, "global", self.main, name.line, name.col)
                self.globals[name.name] = var
        self.ref[id(name)] = var
        here = self.func()
        if var.owner is not here:
            var.captured = True
            for f in here.chain_to(var.owner):
                f.free.add(var)
            if var.in_loop:
                self.captures.append((var, here, name))
        return var

    def read(self, name: A.Name) -> Var:
        var = self.lookup(name)
        var.reads += 1
        if var.kind == "global" and self.func() is self.main and not var.top_assigned:
            var.early = True
        return var

    def write(self, name: A.Name, source: Any) -> Var:
        var = self.lookup(name)
        var.writes += 1
        var.sources.append(source)
        here = self.func()
        if var.owner is not here:
            (here.globals_ if var.owner is self.main else here.nonlocals).add(var)
        if here is self.main and self.toplevel:
            var.top_assigned = True
        return var

    def push(self, f: FuncInfo | None = None) -> None:
        self.stack.append((f or self.func(), {}))

    def pop(self) -> None:
        self.stack.pop()

    # statements

    def run(self, chunk: A.Chunk) -> None:
        self.stack.append((self.main, {}))
        self.block(chunk.body)
        for var, here, name in self.captures:
            unsafe = [f for f in here.chain_to(var.owner) if id(f.node) not in self.safe_funcs]
            if unsafe:
                self.issues.append(Issue(name.line, name.col, (
                    f"function defined in a loop captures '{var.lua}', a local of the loop body "
                    "(Lua gives each iteration its own; Python closures would share it)")))

    def block(self, block: A.Block, scoped: bool = True) -> None:
        if scoped:
            self.push()
        for stmt in block.body:
            self.stmt(stmt)
        if scoped:
            self.pop()

    def loop_block(self, block: A.Block, before: Any = None, after: Any = None) -> None:
        f = self.func()
        self.loops[f] += 1
        saved, self.toplevel = self.toplevel, False
        self.push()
        if before:
            before()
        for stmt in block.body:
            self.stmt(stmt)
        if after:
            after()
        self.pop()
        self.toplevel = saved
        self.loops[f] -= 1

    def stmt(self, s: A.Stmt) -> None:
        kind = type(s).__name__
        getattr(self, "s_" + kind)(s)

    def s_Local(self, s: A.Local) -> None:
        for e in s.exprs:
            self.expr(e)
        for i, name in enumerate(s.names):
            if i < len(s.exprs) - 1 or (i == len(s.exprs) - 1 and i == len(s.names) - 1):
                source: Any = ("expr", s.exprs[i])
            elif s.exprs and i >= len(s.exprs) - 1:
                source = ("nth", s.exprs[-1], i - len(s.exprs) + 1)
            else:
                source = T({NIL})
            var = self.declare(name, "local", source)
            if len(s.names) == 1 and len(s.exprs) == 1 and isinstance(s.exprs[0], A.Function):
                self.bind_function(var, s.exprs[0])

    def bind_function(self, var: Var, fn: A.Function) -> None:
        info = self.finfo.get(id(fn))
        if info is not None:
            info.var = var
            var.func_info = info

    def s_Assign(self, s: A.Assign) -> None:
        for e in s.exprs:
            self.expr(e)
        for i, target in enumerate(s.targets):
            if isinstance(target, A.Name):
                if i < len(s.exprs):
                    source: Any = ("expr", s.exprs[i]) if (
                        i < len(s.exprs) - 1 or i == len(s.targets) - 1) else ("nth", s.exprs[i], 0)
                elif s.exprs:
                    source = ("nth", s.exprs[-1], i - len(s.exprs) + 1)
                else:
                    source = T({NIL})
                var = self.write(target, source)
                if len(s.targets) == 1 and isinstance(s.exprs[0], A.Function):
                    self.bind_function(var, s.exprs[0])
            else:
                self.expr(target)

    def s_CallStat(self, s: A.CallStat) -> None:
        self.expr(s.call)

    def s_Do(self, s: A.Do) -> None:
        self.block(s.body)

    def s_While(self, s: A.While) -> None:
        self.expr(s.cond)
        self.loop_block(s.body)

    def s_Repeat(self, s: A.Repeat) -> None:
        # the condition sees the body's locals
        self.loop_block(s.body, after=lambda: self.expr(s.cond))

    def s_If(self, s: A.If) -> None:
        saved, self.toplevel = self.toplevel, False
        for test, body in s.tests:
            self.expr(test)
            self.block(body)
        if s.orelse is not None:
            self.block(s.orelse)
        self.toplevel = saved

    def s_NumFor(self, s: A.NumFor) -> None:
        for e in (s.start, s.stop, s.step):
            if e is not None:
                self.expr(e)
        self.loop_block(s.body, before=lambda: self.declare(s.var, "loop", ("numfor", s)))

    def s_GenFor(self, s: A.GenFor) -> None:
        for e in s.exprs:
            self.expr(e)

        def declare() -> None:
            for i, name in enumerate(s.names):
                self.declare(name, "loop", ("genfor", s, i))

        self.loop_block(s.body, before=declare)

    def s_FunctionStat(self, s: A.FunctionStat) -> None:
        self.function(s.func, method=s.method is not None)
        if len(s.path) == 1 and s.method is None:
            var = self.write(s.path[0], ("expr", s.func))
            self.bind_function(var, s.func)
        else:
            self.read(s.path[0])
            self.finfo[id(s.func)].escapes = True

    def s_LocalFunction(self, s: A.LocalFunction) -> None:
        var = self.declare(s.name, "local", ("expr", s.func))
        self.function(s.func)
        self.bind_function(var, s.func)

    def s_Return(self, s: A.Return) -> None:
        for e in s.exprs:
            self.expr(e)
        self.func().returns.append(s)

    def s_Break(self, s: A.Break) -> None:
        pass

    def s_Goto(self, s: A.Goto) -> None:
        pass

    def s_Label(self, s: A.Label) -> None:
        pass

    # expressions

    def function(self, fn: A.Function, method: bool = False) -> FuncInfo:
        info = FuncInfo(fn, self.func())
        self.funcs.append(info)
        self.finfo[id(fn)] = info
        self.loops[info] = 0
        saved, self.toplevel = self.toplevel, False
        self.stack.append((info, {}))
        if method:
            info.params.append(self.declare(A.Name(fn.line, fn.col, "self"), "param"))
        for p in fn.params:
            info.params.append(self.declare(p, "param"))
        if fn.is_vararg:
            info.vararg = self.declare(A.Name(fn.line, fn.col, "args"), "vararg", ANY)
        for stmt in fn.body.body:
            self.stmt(stmt)
        self.stack.pop()
        self.toplevel = saved
        return info

    def expr(self, e: A.Expr | None, callee: bool = False) -> None:
        if e is None:
            return
        if isinstance(e, A.Name):
            var = self.read(e)
            if not callee:
                var.called_only = False
        elif isinstance(e, A.Function):
            info = self.function(e)
            info.escapes = True
        elif isinstance(e, A.BinOp):
            self.expr(e.left)
            self.expr(e.right)
        elif isinstance(e, A.UnOp):
            self.expr(e.operand)
        elif isinstance(e, A.Index):
            self.expr(e.obj)
            self.expr(e.key)
        elif isinstance(e, A.Call):
            if isinstance(e.func, A.Function):
                self.function(e.func)  # called on the spot: does not escape
            else:
                self.expr(e.func, callee=True)
            safe = _safe_callee(e.func)
            for arg in e.args:
                self.expr(arg)
                if safe and isinstance(arg, A.Function):
                    self.safe_funcs.add(id(arg))
            self.func().calls.append(e)
        elif isinstance(e, A.Method):
            self.expr(e.obj)
            for arg in e.args:
                self.expr(arg)
                if e.name == "gsub" and isinstance(arg, A.Function):
                    self.safe_funcs.add(id(arg))
            self.func().calls.append(e)  # type: ignore[arg-type]
        elif isinstance(e, A.Paren):
            self.expr(e.expr)
        elif isinstance(e, A.Table):
            for f in e.fields:
                self.expr(f.key)
                self.expr(f.value)
        elif isinstance(e, A.Vararg):
            f = self.func()
            if f.vararg is not None:
                f.vararg.reads += 1


def _safe_callee(func: A.Expr) -> bool:
    """Library functions that call a function argument at once and keep no reference."""
    if isinstance(func, A.Name):
        return func.name == "pcall"
    if isinstance(func, A.Index) and isinstance(func.obj, A.Name) and isinstance(func.key,
                                                                                 A.String):
        return (func.obj.name, func.key.value) in {("table", "sort"), ("string", "gsub")}
    return False


# --- inference ---------------------------------------------------------------------------


def _falsy(t: frozenset[str]) -> frozenset[str]:
    return t & {NIL, BOOL}


def _arith_types(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    na = (a & NUM) | (NUM if STR in a else NONE_T)
    nb = (b & NUM) | (NUM if STR in b else NONE_T)
    if not na or not nb:
        return NUM
    out = set()
    if INT in na and INT in nb:
        out.add(INT)
    if FLOAT in na | nb:
        out.add(FLOAT)
    return T(out)


def pattern_captures(pattern: str) -> int:
    """How many captures a literal Lua pattern has."""
    n, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            if pattern[j:j + 1] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "%" else 1
            i = j + 1
            continue
        if c == "(":
            n += 1
        i += 1
    return n


def has_specials(pattern: str) -> bool:
    """Whether a find() pattern is more than a plain substring."""
    return any(c in _SPECIALS for c in pattern)


class Infer:
    """Pass 2: roles of globals, function shapes (several results?), types to a fixpoint."""

    def __init__(self, sc: Scopes, issues: list[Issue]) -> None:
        self.sc = sc
        self.issues = issues
        self.role: dict[Var, str] = {}
        self.calls_of: dict[FuncInfo, list[A.Call]] = {}

    def run(self) -> None:
        sc = self.sc
        for name, var in sc.globals.items():
            if var.writes:
                self.role[var] = "user"
            elif name == "KSR":
                self.role[var] = "ksr"
            elif name == "sr":
                self.role[var] = "sr"
            elif name in LIB or name in LIB_TABLES or name in ITERATORS:
                self.role[var] = "lib"
            elif name in UNSUPPORTED_GLOBALS:
                self.role[var] = "unsupported"
            elif name == "_VERSION":
                self.role[var] = "version"
            else:
                self.role[var] = "user"
        for f in sc.funcs:
            var = f.var
            if var is not None:
                f.escapes = not (self.known(var) and var.called_only)
        for f in sc.funcs:
            for call in f.calls:
                callee = self.callee(call)
                if callee is not None:
                    self.calls_of.setdefault(callee, []).append(call)
                self.note_arity(call)
        for f in sc.funcs[1:]:
            body = f.node.body.body
            f.void_paths = not body or not isinstance(body[-1], A.Return) or any(
                not r.exprs for r in f.returns)
        for _ in range(40):
            changed = False
            self.force_counted()
            for f in sc.funcs[1:]:
                multi = f.force_multi or f.multi or any(
                    len(r.exprs) > 1 or (r.exprs and self.is_multi(r.exprs[-1]))
                    for r in f.returns)
                types = self.return_types(f)
                if multi != f.multi or types != f.ret_types:
                    f.multi, f.ret_types, changed = multi, types, True
            for var in self.all_vars():
                types = self.var_types(var)
                if types != var.types:
                    var.types, changed = types, True
            if not changed:
                break
        for f in sc.funcs[1:]:
            self.shape(f)

    def all_vars(self) -> list[Var]:
        out = [v for f in self.sc.funcs for v in f.vars]
        return out + [v for v in self.sc.globals.values() if self.role.get(v) == "user"]

    def known(self, var: Var) -> bool:
        """``var`` holds one function for good (bound once, never reassigned)."""
        if var.kind == "param" or var.func_info is None:
            return False
        real = [s for s in var.sources if not (isinstance(s, frozenset) and s == {NIL})]
        return len(real) == 1 and real[0] == ("expr", var.func_info.node)

    def callee(self, call: A.Call | A.Method) -> FuncInfo | None:
        """The translated function a call certainly reaches, if any."""
        if isinstance(call, A.Call) and isinstance(call.func, A.Name):
            var = self.sc.ref.get(id(call.func))
            if var is not None and self.known(var):
                return var.func_info
        if isinstance(call, A.Call) and isinstance(call.func, A.Function):
            return self.sc.finfo.get(id(call.func))
        return None

    def shape(self, f: FuncInfo) -> None:
        falls = not f.node.body.body or not isinstance(f.node.body.body[-1], A.Return)
        f.void_paths = falls or any(not r.exprs for r in f.returns)
        values: set[str] = set()
        for r in f.returns:
            if r.exprs:
                values |= self.types(r.exprs[0])
        f.value_types = T(values)
        if f.multi:
            counts = {len(r.exprs) if not (r.exprs and self.is_multi(r.exprs[-1])) else None
                      for r in f.returns}
            f.fixed = counts.pop() if len(counts) == 1 and not falls else None
        calls = self.calls_of.get(f, [])
        is_global = f.var is not None and f.var.kind == "global"
        if f.escapes and f.arity is not None:
            if f.arity < len(f.params):
                f.defaults_from = f.arity
            f.extra_args = f.arity > len(f.params) and f.vararg is None
        elif f.escapes:
            f.defaults_from, f.extra_args = 0, f.vararg is None
        else:
            counts = [len(c.args) for c in calls if not (c.args and self.is_multi(c.args[-1]))]
            starred = any(c.args and self.is_multi(c.args[-1]) for c in calls)
            lowest = min(counts, default=len(f.params))
            if is_global:
                lowest = 0
            if starred:
                lowest = 0
                f.extra_args = f.vararg is None
            if lowest < len(f.params):
                f.defaults_from = lowest
            if any(n > len(f.params) for n in counts) and f.vararg is None:
                f.extra_args = f.extra_args or False

    def force_counted(self) -> None:
        """Functions that return nil or nothing, where the count of values shows, return
        tuples (print(f()) prints "" when f returns nothing, "nil" when it returns nil)."""
        for f in self.sc.funcs:
            for call in f.calls:
                if not call.args:
                    continue
                callee = self.callee(call) if isinstance(call, A.Call) else None
                if callee is None or callee.vararg is not None:
                    self.force(call.args[-1])
            if f.multi:
                for r in f.returns:
                    if r.exprs:
                        self.force(r.exprs[-1])

    def force(self, e: A.Expr) -> None:
        g = self.callee(e) if isinstance(e, A.Call) else None
        if g is not None and not g.multi and g.void_paths:
            values: set[str] = set()
            for r in g.returns:
                if r.exprs:
                    values |= self.types(r.exprs[0])
            if NIL in values:
                g.force_multi = True

    def note_arity(self, call: A.Call | A.Method) -> None:
        """How many arguments pcall/table.sort/string.gsub pass to a function argument."""
        if isinstance(call, A.Method):
            name, args = ("string.gsub" if call.name == "gsub" else ""), [call.obj, *call.args]
        else:
            name, args = self.lib_name(call.func) or "", call.args
        slot, arity = -1, None
        if name == "pcall" and args:
            slot = 0
            if not self.is_multi(args[-1]) or len(args) == 1:
                arity = len(args) - 1
        elif name == "table.sort" and len(args) > 1:
            slot, arity = 1, 2
        elif name == "string.gsub" and len(args) > 2:
            slot = 2
            if isinstance(args[1], A.String):
                arity = max(1, pattern_captures(args[1].value))
        if slot >= 0 and isinstance(args[slot], A.Function):
            info = self.sc.finfo.get(id(args[slot]))
            if info is not None:
                info.arity = arity

    def return_types(self, f: FuncInfo) -> frozenset[str]:
        out: set[str] = set()
        for r in f.returns:
            out |= self.types(r.exprs[0]) if r.exprs else {NIL}
        body = f.node.body.body
        if not body or not isinstance(body[-1], A.Return):
            out.add(NIL)
        return T(out)

    def var_types(self, var: Var) -> frozenset[str]:
        out: set[str] = set()
        if var.kind == "param":
            return self.param_types(var)
        if var.kind == "global" and (not var.top_assigned or var.early):
            out.add(NIL)
        for src in var.sources:
            out |= self.source_types(src)
        return T(out) if out else T({NIL})

    def param_types(self, var: Var) -> frozenset[str]:
        f = var.owner
        if f.escapes or f.var is None:
            return ANY
        index = f.params.index(var)
        out: set[str] = set()
        if f.var.kind == "global":
            out.add(NIL)
        for call in self.calls_of.get(f, []):
            args = call.args
            if index < len(args) - 1 or (index == len(args) - 1
                                         and not self.is_multi(args[-1])):
                out |= self.types(args[index])
            elif args and self.is_multi(args[-1]):
                out |= ANY
            else:
                out.add(NIL)
        return T(out) if out else T({NIL})

    def source_types(self, src: Any) -> frozenset[str]:
        if isinstance(src, frozenset):
            return src
        kind = src[0]
        if kind == "expr":
            return self.types(src[1])
        if kind == "nth":
            e, k = src[1], src[2]
            if k == 0:
                return self.types(e)
            return ANY if self.is_multi(e) else T({NIL})
        if kind == "numfor":
            s: A.NumFor = src[1]
            start = self.types(s.start)
            step = self.types(s.step) if s.step is not None else T({INT})
            if start <= {INT} and step <= {INT}:
                return T({INT})
            return T({FLOAT}) if (start | step) <= NUM else NUM
        if kind == "genfor":
            s2: A.GenFor = src[1]
            i = src[2]
            it = self.iterator_kind(s2)
            if it in ("pairs", "next"):
                return ANY - {NIL} if i < 2 else T({NIL})
            if it == "ipairs":
                return (T({INT}) if i == 0 else ANY - {NIL}) if i < 2 else T({NIL})
            if it == "gmatch":
                pat = self.gmatch_pattern(s2)
                caps = T({STR}) if pat is not None and "()" not in pat else T({STR, INT})
                n = max(1, pattern_captures(pat)) if pat is not None else None
                return caps if n is None or i < n else T({NIL})
            return ANY
        return ANY

    # classification helpers

    def lib_name(self, e: A.Expr) -> str | None:
        """'print', 'string.find' ... when ``e`` names a Lua library member."""
        if isinstance(e, A.Name):
            var = self.sc.ref.get(id(e))
            if var is not None and self.role.get(var) == "lib":
                return e.name
            return None
        if isinstance(e, A.Index) and isinstance(e.obj, A.Name) and isinstance(e.key, A.String):
            var = self.sc.ref.get(id(e.obj))
            if var is not None and self.role.get(var) == "lib" and e.obj.name in LIB_TABLES:
                return f"{e.obj.name}.{e.key.value}"
        return None

    def ksr_path(self, e: A.Expr) -> list[str] | None:
        """['pv', 'get'] for KSR.pv.get, [] for KSR itself, None otherwise."""
        names: list[str] = []
        while isinstance(e, A.Index):
            if not isinstance(e.key, A.String) or not e.key.value.isidentifier() or \
                    keyword.iskeyword(e.key.value):
                return None
            names.append(e.key.value)
            e = e.obj
        if isinstance(e, A.Name):
            var = self.sc.ref.get(id(e))
            if var is not None and self.role.get(var) == "ksr":
                return names[::-1]
        return None

    def iterator_kind(self, s: A.GenFor) -> str:
        exprs = s.exprs
        if len(exprs) == 1 and isinstance(exprs[0], A.Call):
            name = self.lib_name(exprs[0].func)
            if name in ("pairs", "ipairs"):
                return name
            if name == "string.gmatch":
                return "gmatch"
        if len(exprs) == 1 and isinstance(exprs[0], A.Method) and exprs[0].name == "gmatch" \
                and self.types(exprs[0].obj) <= {STR, NIL}:
            return "gmatch"
        if 2 <= len(exprs) <= 3 and self.lib_name(exprs[0]) == "next" and (
                len(exprs) == 2 or isinstance(exprs[2], A.Nil)):
            return "next"
        return "generic"

    def gmatch_pattern(self, s: A.GenFor) -> str | None:
        e = s.exprs[0]
        pat = e.args[0] if isinstance(e, A.Method) and e.args else (
            e.args[1] if isinstance(e, A.Call) and len(e.args) > 1 else None)
        return pat.value if isinstance(pat, A.String) else None

    def fixed_count(self, e: A.Expr) -> int | None:
        """How many results a call certainly gives, if it is always the same."""
        if isinstance(e, A.Call):
            f = self.callee(e)
            if f is not None:
                return f.fixed if f.multi else 1
            name = self.lib_name(e.func)
            if name in ("string.gsub", "math.modf"):
                return 2
            if name == "pcall" and e.args:
                fn = e.args[0]
                info = self.sc.finfo.get(id(fn)) if isinstance(fn, A.Function) else None
                if info is None and isinstance(fn, A.Name):
                    var = self.sc.ref.get(id(fn))
                    info = var.func_info if var is not None and self.known(var) else None
                if info is not None and not info.multi:
                    return 2
        return None

    def string_method(self, e: A.Method) -> bool:
        """``s:name()`` certainly calls the string library."""
        t = self.types(e.obj)
        return e.name in STRING_METHODS and STR in t and t <= {STR, NIL}

    def is_multi(self, e: A.Expr) -> bool:
        """Whether ``e`` may produce other than exactly one value (a Python tuple)."""
        if isinstance(e, A.Vararg):
            return True
        if isinstance(e, A.Call):
            name = self.lib_name(e.func)
            if name is not None:
                if name == "select" and e.args and isinstance(e.args[0], A.String) \
                        and e.args[0].value == "#":
                    return False
                lib = LIB.get(name)
                return bool(lib and lib.multi)
            f = self.callee(e)
            return bool(f and f.multi)
        if isinstance(e, A.Method):
            if e.name in ("find", "match", "gsub", "byte"):
                return STR in self.types(e.obj)
            return False
        return False

    def types(self, e: A.Expr | None) -> frozenset[str]:
        """The Lua types ``e`` may have (its first value)."""
        if e is None:
            return T({NIL})
        if isinstance(e, A.Nil):
            return T({NIL})
        if isinstance(e, A.Bool):
            return T({BOOL})
        if isinstance(e, A.Number):
            return T({INT}) if isinstance(e.value, int) else T({FLOAT})
        if isinstance(e, A.String):
            return T({STR})
        if isinstance(e, A.Function):
            return T({FUNC})
        if isinstance(e, A.Table):
            return T({TABLE})
        if isinstance(e, A.Paren):
            return self.types(e.expr)
        if isinstance(e, A.Vararg):
            return ANY
        if isinstance(e, A.Name):
            var = self.sc.ref.get(id(e))
            role = self.role.get(var) if var is not None else None
            if role == "ksr":
                return T({USER})
            if role == "lib":
                return T({TABLE}) if e.name in LIB_TABLES else T({FUNC})
            if role == "version":
                return T({STR})
            return var.types if var is not None and var.types else ANY
        if isinstance(e, A.Index):
            path = self.ksr_path(e)
            if path is not None:
                return T({USER, NIL}) if len(path) == 1 else T({USER, FUNC, NIL})
            name = self.lib_name(e)
            if name in LIB_CONSTANTS:
                return LIB_CONSTANTS[name][1]
            if name is not None:
                return T({FUNC})
            return ANY
        if isinstance(e, A.Call):
            path = self.ksr_path(e.func)
            if path is not None and len(path) == 2 and path[0] == "pv" and e.args and \
                    isinstance(e.args[0], A.String):
                known = pv_types(path[1], e.args[0].value)
                if known is not None:
                    return known
            if path is not None and len(path) in (1, 2):
                return kemi_types(*(["", *path] if len(path) == 1 else path))
            name = self.lib_name(e.func)
            if name is not None:
                if name == "select" and e.args and isinstance(e.args[0], A.String) \
                        and e.args[0].value == "#":
                    return T({INT})
                if name == "tostring":
                    return T({STR})
                return LIB[name].types if name in LIB else ANY
            f = self.callee(e)
            if f is not None:
                return f.ret_types
            return ANY
        if isinstance(e, A.Method):
            if self.string_method(e):
                lib = LIB.get("string." + e.name)
                return lib.types if lib else ANY
            return ANY
        if isinstance(e, A.UnOp):
            t = self.types(e.operand)
            if e.op == "not":
                return T({BOOL})
            if e.op == "#" or e.op == "~":
                return T({INT})
            return (t & NUM) | (NUM if STR in t else NONE_T) or NUM
        if isinstance(e, A.BinOp):
            op = e.op
            left = self.types(e.left)
            if op == "and":
                right = self.types(e.right) if left - {NIL} else NONE_T
                return _falsy(left) | right
            if op == "or":
                return (left - {NIL}) | (self.types(e.right) if _falsy(left) else NONE_T)
            if op in ("==", "~=", "<", "<=", ">", ">="):
                return T({BOOL})
            if op == "..":
                return T({STR})
            if op in ("/", "^"):
                return T({FLOAT})
            if op in ("&", "|", "~", "<<", ">>"):
                return T({INT})
            return _arith_types(self.types(e.left), self.types(e.right))
        return ANY


# --- names -------------------------------------------------------------------------------


def _unique(base: str, used: set[str]) -> str:
    name, n = base, 2
    while name in used:
        name = f"{base}_{n}"
        n += 1
    used.add(name)
    return name


def allocate_names(sc: Scopes, inf: Infer) -> dict[FuncInfo, set[str]]:
    """Python names for every variable: Lua's, unless they clash in one Python scope."""
    used_by: dict[FuncInfo, set[str]] = {}
    for f in sc.funcs:
        used = set(RESERVED)
        used.update(v.pyname for v in f.free if v.pyname)
        if f is sc.main:
            for var in sc.globals.values():
                role = inf.role.get(var)
                if role == "ksr":
                    var.pyname = "KSR"
                elif role == "user":
                    base = var.lua + "_" if var.lua in RESERVED else var.lua
                    var.pyname = _unique(base, used)
            used.add("KSR")
        reusable: dict[str, str] = {}
        for var in f.vars:
            base = var.lua + "_" if var.lua in RESERVED else var.lua
            unused = var.reads == 0 and (var.kind == "loop" or (
                f is not sc.main and var.kind in ("local", "hoisted")))
            if unused and not base.startswith("_"):
                base = "_" + base
            again = reusable.get(base)
            if again is not None and not var.overlaps and not var.captured:
                var.pyname = again  # an earlier local of that name whose block has ended
            else:
                var.pyname = _unique(base, used)
            if var.kind in ("local", "loop", "param") and not var.captured:
                reusable[base] = var.pyname
            else:
                reusable.pop(base, None)
        used_by[f] = used
    return used_by


# --- emission ----------------------------------------------------------------------------


def _last_line(node: Any) -> int:
    """The last source line a statement or expression reaches."""
    best = getattr(node, "line", 0)
    if isinstance(node, A.Block):
        best = max(best, node.end_line)
    for value in vars(node).values() if hasattr(node, "__dict__") else ():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, tuple):
                for sub in item:
                    if isinstance(sub, A.Node):
                        best = max(best, _last_line(sub))
            elif isinstance(item, A.Node):
                best = max(best, _last_line(item))
    return best


def _comment_lines(c: A.Comment, indent: int) -> list[str]:
    room = max(WIDTH - indent - 2, 30)
    out = []
    raws = list(c.lines)
    while len(raws) > 1 and not raws[-1].strip():
        raws.pop()
    while len(raws) > 1 and not raws[0].strip():
        raws.pop(0)
    for raw in raws:
        text = raw.expandtabs(4).rstrip()
        if text.startswith(" "):
            text = text[1:]
        while len(text) > room:
            cut = text.rfind(" ", 0, room)
            if cut <= 0:
                cut = room
            out.append(text[:cut].rstrip())
            text = text[cut:].lstrip()
        out.append(text)
    return [" " * indent + ("# " + t if t else "#") for t in out]


class Emitter:
    """Pass 3: Python source text."""

    def __init__(self, chunk: A.Chunk, sc: Scopes, inf: Infer, issues: list[Issue]) -> None:
        self.chunk = chunk
        self.sc = sc
        self.inf = inf
        self.issues = issues
        self.used = allocate_names(sc, inf)
        self.out: list[str] = []
        self.comments = sorted(chunk.comments, key=lambda c: (c.line, c.col))
        self.ci = 0
        self.last_line = 0
        self.blank_wanted = 0
        self.at_block_start = True
        self.uses_luart = False
        self.uses_ksr = False
        self.fn = sc.main
        self.hoisted: list[tuple[FuncInfo, str]] = []
        # enclosing loops of the current function: kind, body, where the loop starts in out
        self.loops: list[tuple[str, A.Block, int, int]] = []
        self.temps: dict[int, str] = {}
        self.bound: dict[int, list[str]] = {}

    # output helpers

    def issue(self, node: Any, message: str) -> None:
        self.issues.append(Issue(getattr(node, "line", 1), getattr(node, "col", 1), message))

    def emit(self, indent: int, text: str) -> None:
        if self.blank_wanted and not self.at_block_start and self.out:
            self.out.extend([""] * self.blank_wanted)
        self.blank_wanted = 0
        self.at_block_start = False
        self.out.append((" " * indent + text).rstrip())

    def want_blank(self, n: int) -> None:
        self.blank_wanted = max(self.blank_wanted, n)

    def luart(self, name: str) -> Atom:
        self.uses_luart = True
        return Atom("luart." + name)

    def temp(self, base: str) -> str:
        return _unique(base, self.used[self.fn])

    # comments

    def flush_comments(self, before: int, indent: int, blank_for_attached: int = 0) -> None:
        pending = []
        while self.ci < len(self.comments) and self.comments[self.ci].line < before:
            pending.append(self.comments[self.ci])
            self.ci += 1
        attached_from = len(pending)
        if blank_for_attached:
            nxt = before
            for i in range(len(pending) - 1, -1, -1):
                if pending[i].end_line + 1 != nxt:
                    break
                attached_from, nxt = i, pending[i].line
        for i, c in enumerate(pending):
            if i == attached_from and blank_for_attached:
                self.want_blank(blank_for_attached)
            elif c.line > self.last_line + 1 and self.last_line:
                self.want_blank(1)
            for line in _comment_lines(c, indent):
                self.emit(0, line)
            self.last_line = c.end_line
        if blank_for_attached and attached_from == len(pending):
            self.want_blank(blank_for_attached)

    def take_comments_until(self, line: int) -> list[A.Comment]:
        taken = []
        while self.ci < len(self.comments) and self.comments[self.ci].line <= line:
            taken.append(self.comments[self.ci])
            self.ci += 1
        return taken

    def emit_lines(self, indent: int, lines: list[str], first: int, last: int) -> None:
        """Statement lines (first line relative to ``indent``), with the comments they span."""
        inner = self.take_comments_until(last)
        inline = None
        if inner and inner[-1].line == last and inner[-1].line == inner[-1].end_line and \
                inner[-1].line >= first:
            text = "  # " + inner[-1].lines[0].strip()
            if len(" " * indent + lines[-1] if len(lines) == 1 else lines[-1]) + len(text) <= WIDTH:
                inline = text
                inner = inner[:-1]
        for c in inner:
            for line in _comment_lines(c, indent):
                self.emit(0, line)
        for i, line in enumerate(lines):
            text = line + (inline if inline and i == len(lines) - 1 else "")
            self.emit(indent if i == 0 else 0, text)
        self.last_line = max(self.last_line, last)

    def header_comment(self, line: int, body: A.Block) -> str:
        if self.ci < len(self.comments):
            c = self.comments[self.ci]
            first_inner = body.body[0].line if body.body else body.end_line + 1
            if c.line == line and c.line == c.end_line and first_inner > line:
                self.ci += 1
                return "  # " + c.lines[0].strip()
        return ""

    def stmt_lines(self, indent: int, prefix: str, expr: Py | None, suffix: str = "") -> list[str]:
        if expr is None:
            return [prefix + suffix]
        lines = lay(expr, indent + len(prefix), indent, len(suffix), False)
        lines[0] = prefix + lines[0]
        lines[-1] += suffix
        return lines

    # module

    def module(self) -> str:
        body = self.chunk.body
        first = body.body[0].line if body.body else body.end_line
        header_end = self.ci
        while header_end < len(self.comments) and self.comments[header_end].line < first:
            header_end += 1
        # comments directly above the first statement stay with it
        nxt = first
        split = header_end
        for i in range(header_end - 1, -1, -1):
            if self.comments[i].end_line + 1 != nxt:
                break
            split, nxt = i, self.comments[i].line
        self.flush_comments(self.comments[split].line if split < len(self.comments) else 0, 0)
        header = self.out
        self.out = []
        self.last_line = 0
        self.at_block_start = True
        self.block(body, 0)
        code = self.out
        lines = list(header)
        imports = []
        if self.uses_ksr:
            imports.append(["import KSR"])
        if self.uses_luart:
            imports.append(["from ksrpy import luart"])
        for group in imports:
            if lines:
                lines.append("")
            lines.extend(group)
        pre = self.predeclared()
        if pre:
            if lines:
                lines.append("")
            lines.extend(pre)
        if lines and code:
            lines.append("")
            first_code = next((c for c in code if not c.startswith("#")), "")
            if first_code.startswith("def "):
                lines.append("")
        lines.extend(code)
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines) + "\n"

    def predeclared(self) -> list[str]:
        out = []
        for var in self.sc.globals.values():
            if self.inf.role.get(var) == "user" and var.reads and (
                    not var.top_assigned or var.early):
                out.append(f"{var.pyname} = None")
        return out

    # blocks

    def block(self, block: A.Block, indent: int) -> None:
        self.at_block_start = True
        emitted = len(self.out)
        for stmt in block.body:
            self.stmt(stmt, indent)
        self.flush_comments(block.end_line, indent)
        if len(self.out) == emitted or all(not line.strip() or line.lstrip().startswith("#")
                                           for line in self.out[emitted:]):
            self.emit(indent, "pass")

    def stmt(self, s: A.Stmt, indent: int) -> None:
        is_def = isinstance(s, A.FunctionStat | A.LocalFunction) or (
            isinstance(s, A.Local) and len(s.exprs) == 1 and isinstance(s.exprs[0], A.Function)
        ) or (isinstance(s, A.Assign) and len(s.exprs) == 1 and len(s.targets) == 1
              and isinstance(s.exprs[0], A.Function) and isinstance(s.targets[0], A.Name))
        top = indent == 0 and self.fn is self.sc.main
        blanks = (2 if top else 1) if is_def else 0
        self.flush_comments(s.line, indent, blanks)
        if s.line > self.last_line + 1 and self.last_line:
            self.want_blank(1)
        getattr(self, "s_" + type(s).__name__)(s, indent)
        if is_def:
            self.want_blank(blanks)

    def emit_hoisted(self, indent: int) -> None:
        items, self.hoisted = self.hoisted, []
        blanks = 2 if indent == 0 else 1
        for info, name in items:
            self.want_blank(blanks)
            self.emit_def(info, name, indent)
            self.want_blank(blanks)

    def simple(self, s: A.Stmt, indent: int, prefix: str, expr: Py | None,
               suffix: str = "") -> None:
        self.emit_hoisted(indent)
        lines = self.stmt_lines(indent, prefix, expr, suffix)
        self.emit_lines(indent, lines, s.line, _last_line(s))

    # function definitions

    def params(self, info: FuncInfo) -> list[str]:
        """Parameters: Lua's, defaults where calls pass fewer, values bound in loops."""
        params = []
        for i, var in enumerate(info.params):
            default = info.defaults_from is not None and i >= info.defaults_from
            params.append(var.pyname + ("=None" if default else ""))
        if info.vararg is not None:
            params.append("*" + info.vararg.pyname)
        elif info.extra_args:
            params.append("*_extra")
        params += [f"{name}={name}" for name in self.bound.get(id(info), [])]
        return params

    def emit_def(self, info: FuncInfo, name: str, indent: int, header_line: int = 0) -> None:
        node = info.node
        assert node is not None
        params = self.params(info)
        head = f"def {name}({', '.join(params)}):"
        if len(" " * indent + head) > WIDTH:
            head = f"def {name}(\n" + ",\n".join(" " * (indent + 8) + p for p in params) + \
                   f",\n{' ' * indent}):"
        comment = self.header_comment(node.line, node.body)
        for i, line in enumerate(head.split("\n")):
            self.emit(indent if i == 0 else 0, line + (comment if i == 0 else ""))
        self.last_line = max(self.last_line, node.line)
        saved_fn, saved_loops = self.fn, self.loops
        self.fn, self.loops = info, []
        decls = []
        if info.globals_:
            decls.append("global " + ", ".join(sorted(v.pyname for v in info.globals_)))
        if info.nonlocals:
            decls.append("nonlocal " + ", ".join(sorted(v.pyname for v in info.nonlocals)))
        for d in decls:
            self.emit(indent + 4, d)
        self.at_block_start = not decls
        body = node.body
        emitted = len(self.out)
        for stmt in body.body:
            self.stmt(stmt, indent + 4)
        if info.multi and (not body.body or not isinstance(body.body[-1], A.Return)):
            self.flush_comments(body.end_line, indent + 4)
            self.emit(indent + 4, "return ()")
        self.flush_comments(body.end_line, indent + 4)
        if len(self.out) == emitted or all(not line.strip() or line.lstrip().startswith("#")
                                           for line in self.out[emitted:]):
            self.emit(indent + 4, "pass")
        self.last_line = max(self.last_line, body.end_line)
        self.fn, self.loops = saved_fn, saved_loops

    def function_value(self, fn: A.Function, hint: str = "fn") -> Py:
        """An anonymous function: a lambda when it is one expression, else a hoisted def."""
        info = self.sc.finfo[id(fn)]
        if info.multi and info.escapes and info.arity is None and not self.allow_multi:
            self.issue(fn, "a function returning several values is used as a value "
                           "(only direct calls, pcall and iterators can take several results)")
        body = fn.body.body
        # in a loop, a closure over this function's variables goes before the loop (ruff's
        # B023; Python closures see the variables, not their values, either way)
        here = sorted({v.pyname for v in info.free if v.owner is self.fn})
        before_loop = False
        if self.loops and here:
            if id(fn) in self.sc.safe_funcs:
                # called at once (pcall, table.sort, gsub): the values it sees now are bound
                if info.nonlocals or info.globals_:
                    self.issue(fn, "a function given to pcall/sort/gsub inside a loop that "
                                   "assigns outer variables is not supported")
                self.bound[id(info)] = here
            else:
                before_loop = True
        simple = (len(body) == 1 and isinstance(body[0], A.Return) and len(body[0].exprs) <= 1
                  and not info.globals_ and not info.nonlocals and not info.multi
                  and not any(isinstance(n, A.Function) for n in _walk(body[0]))
                  and not self.comments_within(fn) and not before_loop)
        if simple:
            params = self.params(info)
            saved = self.fn
            self.fn = info
            value = self.ex(body[0].exprs[0]) if body[0].exprs else Atom("None")
            self.fn = saved
            return Lambda(", ".join(params), value)
        name = self.temp(hint)
        if before_loop:
            self.splice_before_loop(info, name)
        else:
            self.hoisted.append((info, name))
        return Atom(name)

    def splice_before_loop(self, info: FuncInfo, name: str) -> None:
        """Define a function met inside a loop just before the outermost loop."""
        _, _, mark, indent = self.loops[0]
        saved = (self.out, self.blank_wanted, self.at_block_start, self.last_line)
        self.out, self.blank_wanted, self.at_block_start = [], 0, True
        self.emit_def(info, name, indent)
        lines = self.out
        self.out, self.blank_wanted, self.at_block_start, self.last_line = saved
        blanks = [""] * (2 if indent == 0 else 1)
        insert = lines + blanks
        before = self.out[mark - 1].rstrip() if mark > 0 else ""
        if before and not before.endswith(":"):
            insert = blanks + insert
        self.out[mark:mark] = insert
        self.loops = [(k, b, m + len(insert) if m >= mark and i else m, ind)
                      for i, (k, b, m, ind) in enumerate(self.loops)]

    def comments_within(self, fn: A.Function) -> bool:
        end = fn.body.end_line
        return any(fn.line <= c.line <= end for c in self.comments[self.ci:])

    allow_multi = False

    # statements

    def target(self, t: A.Expr) -> Py:
        if isinstance(t, A.Name):
            var = self.sc.ref[id(t)]
            role = self.inf.role.get(var)
            if role not in (None, "user"):
                self.issue(t, f"assigning to Lua's '{t.name}' is not supported")
            return Atom(var.pyname)
        assert isinstance(t, A.Index)
        if self.inf.ksr_path(t.obj) is not None:
            self.issue(t, "assigning into KSR is not supported")
        if self.inf.lib_name(t.obj) is not None or (
                isinstance(t.obj, A.Name) and self.inf.lib_name(t.obj) in LIB_TABLES):
            self.issue(t, "changing Lua's standard library is not supported")
        return Subscript(self.ex(t.obj), self.key(t.key))

    def key(self, k: A.Expr) -> Py:
        return Str(k.value) if isinstance(k, A.String) else self.ex(k)

    def rhs(self, exprs: list[A.Expr], n: int, node: Any) -> tuple[Py | None, int]:
        """The right side for ``n`` targets, and how many throwaway targets it needs."""
        if not exprs:
            return (Atom("None") if n == 1 else Seq("", [Atom("None")] * n, "")), 0
        if len(exprs) > n:
            extra = exprs[n:]
            if all(_pure(e) for e in extra):
                exprs = exprs[:n]
            else:
                values = [self.ex(e) for e in exprs[:-1]] + [self.ex(exprs[-1])]
                return Seq("", values, ""), len(exprs) - n
        last = exprs[-1]
        if len(exprs) < n and self.inf.is_multi(last):
            need = n - len(exprs) + 1
            head = [self.ex(e) for e in exprs[:-1]]
            raw = self.call_raw(last) if not isinstance(last, A.Vararg) else self.vararg_tuple(last)
            if not head and self.inf.fixed_count(last) == need:
                return raw, 0
            adjusted = Call(self.luart("adjust"), [raw, Atom(str(need))])
            if not head:
                return adjusted, 0
            return Seq("", [*head, Star(adjusted)], ""), 0
        values = [self.ex(e) for e in exprs]
        values += [Atom("None")] * (n - len(values))
        return (values[0] if n == 1 else Seq("", values, "")), 0

    def s_Local(self, s: A.Local, indent: int) -> None:
        for name, attrib in zip(s.names, s.attribs, strict=True):
            if attrib == "close":
                self.issue(name, "local <close> variables are not supported")
        if len(s.names) == 1 and len(s.exprs) == 1 and isinstance(s.exprs[0], A.Function):
            var = self.sc.ref[id(s.names[0])]
            self.def_stmt(s, self.sc.finfo[id(s.exprs[0])], var.pyname, indent)
            return
        variables = [self.sc.ref[id(n)] for n in s.names]
        if not s.exprs and len(variables) == 1 and self.inf.known(variables[0]) and \
                variables[0].called_only:
            # a forward declaration of a function defined below: Python needs none
            self.last_line = max(self.last_line, s.line)
            return
        self.assign(s, [Atom(v.pyname) for v in variables], s.exprs, indent)

    def assign(self, s: A.Stmt, targets: list[Py], exprs: list[A.Expr], indent: int) -> None:
        value, throwaway = self.rhs(exprs, len(targets), s)
        targets = targets + [Atom(self.temp("_")) for _ in range(throwaway)]
        prefix = ", ".join(t.flat() for t in targets) + " = "
        self.simple(s, indent, prefix, value)

    def def_stmt(self, s: A.Stmt, info: FuncInfo, name: str, indent: int) -> None:
        self.emit_hoisted(indent)
        inner = self.take_comments_until(s.line - 1)
        for c in inner:
            for line in _comment_lines(c, indent):
                self.emit(0, line)
        shared = sum(v.pyname == name for v in self.fn.vars) > 1
        if self.loops and not shared and any(v.owner is self.fn for v in info.free):
            # a closure over variables the loop assigns: defined before the loop (ruff's
            # B023), which Python closures make equivalent
            self.splice_before_loop(info, name)
            return
        self.emit_def(info, name, indent)

    def s_Assign(self, s: A.Assign, indent: int) -> None:
        if len(s.targets) == 1 and len(s.exprs) == 1 and isinstance(s.exprs[0], A.Function):
            t = s.targets[0]
            info = self.sc.finfo[id(s.exprs[0])]
            if isinstance(t, A.Name):
                self.target(t)
                self.def_stmt(s, info, self.sc.ref[id(t)].pyname, indent)
                return
            hint = t.key.value if isinstance(t.key, A.String) and t.key.value.isidentifier() \
                else "fn"
            value = self.function_value(s.exprs[0], hint if hint not in RESERVED else hint + "_")
            self.simple(s, indent, self.target(t).flat() + " = ", value)
            return
        if len(s.targets) > 1:
            assigned = {id(self.sc.ref[id(t)]) for t in s.targets if isinstance(t, A.Name)}
            for t in s.targets:
                if isinstance(t, A.Index) and any(
                        isinstance(n, A.Call | A.Method) or (
                            isinstance(n, A.Name) and id(self.sc.ref.get(id(n))) in assigned)
                        for n in _walk(t)):
                    self.issue(t, "a multiple assignment whose targets depend on the values "
                                  "assigned is not supported (Lua evaluates every target first)")
        self.assign(s, [self.target(t) for t in s.targets], s.exprs, indent)

    def s_CallStat(self, s: A.CallStat, indent: int) -> None:
        call = s.call
        if isinstance(call, A.Call) and self.inf.lib_name(call.func) == "error":
            value = self.ex(call.args[0]) if call.args else Atom("None")
            self.simple(s, indent, "raise ", Call(self.luart("LuaError"), [value]))
            return
        self.simple(s, indent, "", self.call_raw(call))

    def s_Do(self, s: A.Do, indent: int) -> None:
        for stmt in s.body.body:
            self.stmt(stmt, indent)
        self.flush_comments(s.body.end_line, indent)

    def compound(self, s: A.Stmt, indent: int, header: str, cond: Py | None, body: A.Block,
                 suffix: str = ":") -> None:
        self.emit_hoisted(indent)
        lines = self.stmt_lines(indent, header, cond, suffix)
        comment = self.header_comment(s.line, body)
        for i, line in enumerate(lines):
            self.emit(indent if i == 0 else 0, line + (comment if i == len(lines) - 1 else ""))
        self.last_line = max(self.last_line, s.line)
        self.block(body, indent + 4)

    def s_While(self, s: A.While, indent: int) -> None:
        self.loops.append(("while", s.body, len(self.out), indent))
        cond = self.cond(s.cond)
        self.compound(s, indent, "while ", cond, s.body)
        self.loops.pop()
        self.last_line = max(self.last_line, s.body.end_line)

    def s_Repeat(self, s: A.Repeat, indent: int) -> None:
        self.loops.append(("repeat", s.body, len(self.out), indent))
        self.emit_hoisted(indent)
        self.emit(indent, "while True:")
        self.last_line = max(self.last_line, s.line)
        self.at_block_start = True
        for stmt in s.body.body:
            self.stmt(stmt, indent + 4)
        self.flush_comments(s.body.end_line, indent + 4)
        cond = self.cond(s.cond)
        self.emit_hoisted(indent + 4)
        lines = self.stmt_lines(indent + 4, "if ", cond, ":")
        self.emit_lines(indent + 4, lines, s.body.end_line, _last_line(s.cond))
        self.emit(indent + 8, "break")
        self.loops.pop()

    def s_If(self, s: A.If, indent: int) -> None:
        # every condition first: functions they define go before the whole if
        conds = [self.cond(test) for test, _ in s.tests]
        for i, ((_, body), cond) in enumerate(zip(s.tests, conds, strict=True)):
            if i == 0:
                self.compound(s, indent, "if ", cond, body)
            else:
                lines = self.stmt_lines(indent, "elif ", cond, ":")
                for j, line in enumerate(lines):
                    self.emit(indent if j == 0 else 0, line)
                self.block(body, indent + 4)
            self.last_line = max(self.last_line, body.end_line)
        if s.orelse is not None:
            self.emit(indent, "else:")
            self.block(s.orelse, indent + 4)
            self.last_line = max(self.last_line, s.orelse.end_line)

    def s_NumFor(self, s: A.NumFor, indent: int) -> None:
        var = self.sc.ref[id(s.var)]
        ints = self.inf.types(s.start) <= {INT} and self.inf.types(s.stop) <= {INT}
        step = s.step
        literal_step = step is None or (isinstance(step, A.Number) and isinstance(step.value, int)
                                        and step.value != 0)
        start, stop = self.ex(s.start), self.ex(s.stop)
        if ints and literal_step:
            k = 1 if step is None else step.value  # type: ignore[union-attr]
            bound = _plus(stop, s.stop, 1 if k > 0 else -1)
            args = [start, bound] if k == 1 else [start, bound, Atom(str(k))]
            if k == 1 and isinstance(s.start, A.Number) and s.start.value == 0:
                args = [bound]
            it: Py = Call("range", args)
        else:
            args = [start, stop] + ([self.ex(step)] if step is not None else [])
            it = Call(self.luart("for_range"), args)
        self.loops.append(("for", s.body, len(self.out), indent))
        self.compound(s, indent, f"for {var.pyname} in ", it, s.body)
        self.loops.pop()
        self.last_line = max(self.last_line, s.body.end_line)

    def s_GenFor(self, s: A.GenFor, indent: int) -> None:
        names = [self.sc.ref[id(n)].pyname for n in s.names]
        kind = self.inf.iterator_kind(s)
        arity: int | None
        if kind in ("pairs", "ipairs"):
            call = s.exprs[0]
            assert isinstance(call, A.Call)
            it: Py = Call(self.luart(kind), [self.ex(a) for a in call.args[:1]])
            arity = 2
        elif kind == "next":
            it, arity = Call(self.luart("pairs"), [self.ex(s.exprs[1])]), 2
        elif kind == "gmatch":
            e = s.exprs[0]
            if isinstance(e, A.Method):
                args = [self.ex(e.obj), *[self.ex(a) for a in e.args]]
                pat = e.args[0] if e.args else None
            else:
                assert isinstance(e, A.Call)
                args = [self.ex(a) for a in e.args]
                pat = e.args[1] if len(e.args) > 1 else None
            it = Call(self.luart("string.gmatch"), args)
            arity = max(1, pattern_captures(pat.value)) if isinstance(pat, A.String) else None
        else:
            exprs = s.exprs
            if len(exprs) == 1 and self.inf.is_multi(exprs[0]):
                parts: list[Py] = [Star(Call(self.luart("adjust"),
                                             [self.call_raw(exprs[0]), Atom("3")]))]
            else:
                parts = [self.ex(e) for e in exprs[:3]]
            if len(names) > 1:
                parts.append(Atom(f"n={len(names)}"))
            it, arity = Call(self.luart("iterate"), parts), len(names)
        if arity is None or len(names) > arity:
            it = Call(self.luart("each"), [it, Atom(str(len(names)))])
        elif len(names) < arity:
            names += [self.temp("_") for _ in range(arity - len(names))]
        self.loops.append(("for", s.body, len(self.out), indent))
        self.compound(s, indent, f"for {', '.join(names)} in ", it, s.body)
        self.loops.pop()
        self.last_line = max(self.last_line, s.body.end_line)

    def s_FunctionStat(self, s: A.FunctionStat, indent: int) -> None:
        info = self.sc.finfo[id(s.func)]
        if len(s.path) == 1 and s.method is None:
            var = self.sc.ref[id(s.path[0])]
            if self.inf.role.get(var) not in (None, "user"):
                self.issue(s.path[0], f"redefining Lua's '{var.lua}' is not supported")
            self.def_stmt(s, info, var.pyname, indent)
            return
        parts = [n.name for n in s.path] + ([s.method] if s.method else [])
        name = self.temp("_".join(parts))
        if self.inf.role.get(self.sc.ref[id(s.path[0])]) in ("lib", "ksr"):
            self.issue(s, "adding functions to Lua's libraries or to KSR is not supported")
        self.def_stmt(s, info, name, indent)
        self.want_blank(2 if indent == 0 and self.fn is self.sc.main else 1)
        obj: Py = self.ex(s.path[0])
        for n in (s.path[1:] if s.method else s.path[1:-1]):
            obj = Subscript(obj, Str(n.name))
        key = s.method or s.path[-1].name
        self.emit(indent, f"{Subscript(obj, Str(key)).flat()} = {name}")

    def s_LocalFunction(self, s: A.LocalFunction, indent: int) -> None:
        var = self.sc.ref[id(s.name)]
        self.def_stmt(s, self.sc.finfo[id(s.func)], var.pyname, indent)

    def s_Return(self, s: A.Return, indent: int) -> None:
        if self.fn is self.sc.main:
            self.issue(s, "return at the top level of the script is not supported")
            return
        if not self.fn.multi:
            value = self.ex(s.exprs[0]) if s.exprs else None
            self.simple(s, indent, "return " if value is not None else "return", value)
            return
        exprs = s.exprs
        if len(exprs) == 1 and self.inf.is_multi(exprs[0]):
            e = exprs[0]
            raw = self.vararg_tuple(e) if isinstance(e, A.Vararg) else self.results(e)
            self.simple(s, indent, "return ", raw)
            return
        items = [self.ex(e) for e in exprs[:-1]]
        if exprs:
            items.append(self.multi_value(exprs[-1]))
        if not items:
            self.simple(s, indent, "return ()", None)
        elif len(items) == 1:
            self.simple(s, indent, "return ", Seq("(", items, ")"))
        else:
            self.simple(s, indent, "return ", Seq("", items, ""))

    def s_Break(self, s: A.Break, indent: int) -> None:
        self.simple(s, indent, "break", None)

    def s_Goto(self, s: A.Goto, indent: int) -> None:
        if self.loops:
            kind, body = self.loops[-1][:2]
            if kind != "repeat" and s.label in _trailing_labels(body):
                self.simple(s, indent, "continue", None)
                return
        self.issue(s, f"goto {s.label} is not supported (only a 'continue' jump to a label at "
                      "the end of the enclosing while/for body translates)")

    def s_Label(self, s: A.Label, indent: int) -> None:
        self.last_line = max(self.last_line, s.line)

    # expressions

    def ex(self, e: A.Expr) -> Py:
        """``e`` as one value."""
        if isinstance(e, A.Nil):
            return Atom("None")
        if isinstance(e, A.Bool):
            return Atom("True" if e.value else "False")
        if isinstance(e, A.Number):
            return _number(e, self)
        if isinstance(e, A.String):
            return Str(e.value)
        if isinstance(e, A.Vararg):
            return Call(self.luart("first"), [self.vararg_tuple(e)])
        if isinstance(e, A.Function):
            return self.function_value(e)
        if isinstance(e, A.Table):
            return self.table(e)
        if isinstance(e, A.Paren):
            return self.ex(e.expr)
        if isinstance(e, A.Name):
            return self.name_ref(e)
        if isinstance(e, A.Index):
            return self.index(e)
        if isinstance(e, A.Call | A.Method):
            return self.first_value(e, self.call_raw(e))
        if isinstance(e, A.BinOp):
            return self.binop(e)
        if isinstance(e, A.UnOp):
            return self.unop(e)
        raise AssertionError(e)

    def vararg_tuple(self, e: A.Expr) -> Py:
        if self.fn.vararg is None:
            self.issue(e, "'...' of the main chunk (script arguments) is not supported")
            return Atom("()")
        return Atom(self.fn.vararg.pyname)

    def multi_value(self, e: A.Expr, counted: bool = True) -> Py:
        """``e`` in a position that takes all its results (last argument, last item).

        ``counted``: whether the number of values matters there (print(f()) prints an
        empty line when f returns nothing, "nil" when it returns nil).
        """
        if isinstance(e, A.Vararg):
            return Star(self.vararg_tuple(e))
        if self.inf.is_multi(e):
            return Star(self.results(e))
        f = self.inf.callee(e) if isinstance(e, A.Call) else None
        if counted and f is not None and f.void_paths:
            if NIL in f.value_types:
                self.issue(e, f"'{e.func.name}' returns nil on some paths and nothing on "  # type: ignore[union-attr]
                              "others, which Python cannot tell apart here")
            else:
                return Star(Call(self.luart("some"), [self.call_raw(e)]))
        return self.ex(e)

    def results(self, e: A.Expr) -> Py:
        raw = self.call_raw(e)  # type: ignore[arg-type]
        if isinstance(e, A.Method) and not self.inf.string_method(e):
            return Call(self.luart("adjust"), [raw, Atom("1")]) if False else \
                Call(self.luart("results"), [raw])
        return raw

    def first_value(self, e: A.Call | A.Method, raw: Py) -> Py:
        if not self.inf.is_multi(e):
            return raw
        if isinstance(e, A.Method) and not self.inf.string_method(e):
            return Call(self.luart("first"), [raw])
        name = self.inf.lib_name(e.func) if isinstance(e, A.Call) else "string." + e.name
        lib = LIB.get(name or "")
        f = self.inf.callee(e) if isinstance(e, A.Call) else None
        if (lib is not None and lib.nonempty) or (f is not None and f.fixed):
            return Subscript(raw, Atom("0"))
        return Call(self.luart("first"), [raw])

    def args(self, args: list[A.Expr], counted: bool = True) -> list[Py]:
        if not args:
            return []
        return [self.ex(a) for a in args[:-1]] + [self.multi_value(args[-1], counted)]

    def name_ref(self, e: A.Name) -> Py:
        var = self.sc.ref[id(e)]
        role = self.inf.role.get(var)
        if role == "ksr":
            self.uses_ksr = True
            return Atom("KSR")
        if role == "sr":
            self.issue(e, "the old app_lua_sr API (sr.*) is not supported: use the KSR "
                          "functions instead")
            return Atom("None")
        if role == "unsupported":
            self.issue(e, f"Lua's '{e.name}' is not supported")
            return Atom("None")
        if role == "version":
            return Str("Lua 5.4")
        if role == "lib":
            return self.lib_value(e, e.name)
        f = var.func_info
        if f is not None and f.multi and self.inf.known(var) and not self.allow_multi:
            self.issue(e, f"function '{var.lua}' returns several values and is used as a value "
                          "(only direct calls, pcall and for-in iterators can take several "
                          "results)")
        return Atom(var.pyname)

    def lib_value(self, e: A.Expr, name: str) -> Py:
        if name in LIB_CONSTANTS:
            self.uses_luart = True
            return Atom(LIB_CONSTANTS[name][0])
        if name in LIB_TABLES or name in ITERATORS:
            self.issue(e, f"Lua's '{name}' can only be called here, not used as a value")
            return Atom("None")
        lib = LIB.get(name)
        if lib is None:
            self.issue(e, f"Lua's '{name}' is not supported")
            return Atom("None")
        if lib.multi and not self.allow_multi:
            self.issue(e, f"Lua's '{name}' returns several values and is used as a value")
        self.uses_luart = True
        return Atom(lib.py)

    def index(self, e: A.Index) -> Py:
        path = self.inf.ksr_path(e)
        if path is not None:
            self.uses_ksr = True
            if len(path) == 1:
                return Call("getattr", [Atom("KSR"), Str(path[0]), Atom("None")])
            return Atom("KSR." + ".".join(path))
        name = self.inf.lib_name(e)
        if name is not None:
            return self.lib_value(e, name)
        if isinstance(e.obj, A.Name) and self.inf.role.get(self.sc.ref[id(e.obj)]) == "lib":
            self.issue(e, f"Lua's '{e.obj.name}' library has no supported member here")
            return Atom("None")
        t = self.inf.types(e.obj)
        obj = self.ex(e.obj)
        if not t & {STR, USER}:
            return Subscript(obj, self.key(e.key))
        if t <= {USER, NIL} and isinstance(e.key, A.String) and e.key.value.isidentifier():
            return Attr(obj, e.key.value)
        return Call(self.luart("index"), [obj, self.key(e.key)])

    def call_raw(self, e: A.Call | A.Method) -> Py:
        """The call as Python (a tuple when the function gives several results)."""
        if isinstance(e, A.Method):
            return self.method(e)
        path = self.inf.ksr_path(e.func)
        if path is not None and path:
            self.uses_ksr = True
            return Call("KSR." + ".".join(path), self.args(e.args))
        name = self.inf.lib_name(e.func)
        if name is not None:
            return self.lib_call(e, name, e.args)
        f = self.inf.callee(e)
        if f is not None:
            func = self.function_value(e.func) if isinstance(e.func, A.Function) else \
                Atom(self.sc.ref[id(e.func)].pyname)
            return Call(func, self.known_args(e, f))
        return Call(self.ex(e.func), self.args(e.args))

    def known_args(self, e: A.Call, f: FuncInfo) -> list[Py]:
        args = e.args
        n = len(f.params)
        if len(args) > n and f.vararg is None and not f.extra_args:
            extra = args[n:]
            if all(_pure(a) for a in extra):
                args = args[:n]
            else:
                self.issue(e, "extra arguments with side effects to a function that takes "
                              f"{n} are not supported")
        return self.args(args, counted=f.vararg is not None)

    def lib_call(self, e: A.Call, name: str, args: list[A.Expr]) -> Py:
        lib = LIB.get(name)
        if name in ("pairs", "ipairs", "string.gmatch"):
            self.issue(e, f"{name}() outside a for-in loop is not supported")
            return Atom("None")
        if name == "select" and args and isinstance(args[0], A.String) and args[0].value == "#":
            if len(args) == 2 and isinstance(args[1], A.Vararg):
                return Call("len", [self.vararg_tuple(args[1])])
            return Subscript(Call(self.luart("select"), self.args(args)), Atom("0"))
        if name == "tostring" and len(args) == 1 and self.inf.types(args[0]) <= {INT}:
            return Call("str", [self.ex(args[0])])
        if lib is None:
            self.issue(e, f"Lua's '{name}' is not supported")
            return Atom("None")
        self.uses_luart = True
        saved = self.allow_multi
        self.allow_multi = name in ("pcall", "table.sort", "string.gsub")
        hint = {"pcall": "body", "table.sort": "compare", "string.gsub": "replace"}.get(name, "fn")
        values = []
        for i, a in enumerate(args):
            last = i == len(args) - 1
            if isinstance(a, A.Function):
                values.append(self.function_value(a, hint))
            elif last:
                values.append(self.multi_value(a))
            else:
                values.append(self.ex(a))
        self.allow_multi = saved
        return Call(lib.py, values)

    def method(self, e: A.Method) -> Py:
        if self.inf.string_method(e):
            if e.name == "gmatch":
                self.issue(e, "gmatch() outside a for-in loop is not supported")
            return self.lib_call(A.Call(e.line, e.col, A.Name(e.line, e.col, "string"), []),
                                 "string." + e.name, [e.obj, *e.args])
        t = self.inf.types(e.obj)
        obj = self.ex(e.obj)
        args = self.args(e.args)
        if not t & {STR, USER} and _pure(e.obj):
            return Call(Subscript(obj, Str(e.name)), [obj, *args])
        return Call(self.luart("invoke"), [obj, Str(e.name), *args])

    def table(self, e: A.Table) -> Py:
        fields = e.fields
        positional = [f for f in fields if f.key is None]
        keyed = [f for f in fields if f.key is not None]
        if positional and keyed:
            order = [f for f in fields if not _pure(f.value) or (f.key and not _pure(f.key))]
            python_order = [f for f in positional + keyed if f in order]
            if order != python_order:
                self.issue(e, "a table constructor mixing positional and keyed items with "
                              "calls is not supported (Python would evaluate them in another "
                              "order)")
        if len(keyed) > 1 and any(BOOL in self.inf.types(f.key) for f in keyed):
            self.issue(e, "a table constructor with boolean keys is not supported")
        args: list[Py] = []
        if positional:
            items = [self.ex(f.value) for f in positional[:-1]]
            items.append(self.multi_value(positional[-1].value, counted=False))
            args.append(Seq("[", items, "]"))
        if keyed:
            pairs: list[Py] = []
            for f in keyed:
                value = self.function_value(f.value, f.key.value) if (
                    isinstance(f.value, A.Function) and isinstance(f.key, A.String)
                    and f.key.value.isidentifier() and f.key.value not in RESERVED
                ) else self.ex(f.value)
                pairs.append(KeyValue(self.key(f.key), value))  # type: ignore[arg-type]
            args.append(Seq("{", pairs, "}"))
        return Call(self.luart("Table"), args)

    def binop(self, e: A.BinOp) -> Py:
        op = e.op
        if op in ("and", "or"):
            return self.andor(e)
        if op in ("==", "~=", "<", "<=", ">", ">="):
            return self.compare(e)
        if op == "..":
            return self.concat(e)
        tl, tr = self.inf.types(e.left) - _ERRS, self.inf.types(e.right) - _ERRS
        nums = bool(tl) and bool(tr) and tl <= NUM and tr <= NUM
        ints = bool(tl) and bool(tr) and tl <= {INT} and tr <= {INT}
        right_const = isinstance(e.right, A.Number) and e.right.value != 0
        helper = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "idiv", "%": "mod",
                  "^": "pow", "&": "band", "|": "bor", "~": "bxor", "<<": "shl", ">>": "shr"}[op]
        native = (
            (op in "+-*" and nums)
            or (op == "/" and nums and right_const)
            or (op in ("//", "%") and ints and right_const and isinstance(e.right.value, int))
            or (op in "&|~" and ints)
        )
        if native:
            prec = {"+": P_ADD, "-": P_ADD, "*": P_MUL, "/": P_MUL, "//": P_MUL, "%": P_MUL,
                    "&": P_BAND, "|": P_BOR, "~": P_BXOR}[op]
            pyop = "^" if op == "~" else op
            return chain(pyop, prec, self.ex(e.left), self.ex(e.right))
        return Call(self.luart(helper), [self.ex(e.left), self.ex(e.right)])

    def concat(self, e: A.BinOp) -> Py:
        parts: list[A.Expr] = []

        def collect(x: A.Expr) -> None:
            if isinstance(x, A.BinOp) and x.op == "..":
                collect(x.left)
                collect(x.right)
            else:
                parts.append(x)

        collect(e)
        types = [self.inf.types(p) for p in parts]
        if all(not t & NUM or t <= NUM for t in types):
            out: Py | None = None
            for p, t in zip(parts, types, strict=True):
                if t <= {INT}:
                    item: Py = Call("str", [self.ex(p)])
                elif t <= NUM:
                    item = Call(self.luart("tostring"), [self.ex(p)])
                else:
                    item = self.ex(p)
                out = item if out is None else chain("+", P_ADD, out, item)
            if len(parts) == 2 and not (types[0] <= {STR} or types[1] <= {STR}) and not (
                    types[0] <= NUM or types[1] <= NUM):
                pass
            elif out is not None and any(t <= {STR} or t <= NUM for t in types):
                return out
        return Call(self.luart("concat"), [self.ex(p) for p in parts])

    def compare(self, e: A.BinOp) -> Py:
        op = e.op
        left, right = e.left, e.right
        if op in ("==", "~="):
            for a, b in ((left, right), (right, left)):
                if isinstance(b, A.Nil) or isinstance(b, A.Bool):
                    if isinstance(a, A.Nil | A.Bool | A.Number | A.String):
                        # Two constants: Lua's answer is known now (and Python warns
                        # about `is` with a literal).
                        same = type(a) is type(b) and getattr(a, "value", None) == getattr(
                            b, "value", None)
                        return Atom(str(same == (op == "==")))
                    const = "None" if isinstance(b, A.Nil) else str(b.value)
                    if all(isinstance(n, _CONSTANT_NODES) for n in _walk(a)):
                        # A constant expression may fold to a Python literal: `is` would warn.
                        return Call(self.luart("eq" if op == "==" else "ne"),
                                    [self.ex(a), Atom(const)])
                    return Chain(P_CMP, self.ex(a), [("is" if op == "==" else "is not",
                                                      Atom(const))])
            tl, tr = self.inf.types(left), self.inf.types(right)
            if (BOOL in tl and tr & NUM) or (BOOL in tr and tl & NUM):
                return Call(self.luart("eq" if op == "==" else "ne"),
                            [self.ex(left), self.ex(right)])
            return Chain(P_CMP, self.ex(left), [("==" if op == "==" else "!=", self.ex(right))])
        tl, tr = self.inf.types(left), self.inf.types(right)
        if BOOL in tl | tr:
            helper = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
            return Call(self.luart(helper), [self.ex(left), self.ex(right)])
        return Chain(P_CMP, self.ex(left), [(op, self.ex(right))])

    def unop(self, e: A.UnOp) -> Py:
        t = self.inf.types(e.operand)
        if e.op == "not":
            return Unary("not ", self.cond(e.operand))
        if e.op == "#":
            if t <= {TABLE}:
                return Call("len", [self.ex(e.operand)])
            return Call(self.luart("length"), [self.ex(e.operand)])
        if e.op == "-":
            if t - _ERRS and t - _ERRS <= NUM:
                return Unary("-", self.ex(e.operand))
            return Call(self.luart("unm"), [self.ex(e.operand)])
        if t <= {INT}:
            return Unary("~", self.ex(e.operand))
        return Call(self.luart("bnot"), [self.ex(e.operand)])

    def andor(self, e: A.BinOp) -> Py:
        """``a and b`` / ``a or b`` with Lua's values (only nil and false are false)."""
        operands: list[A.Expr] = []

        def collect(x: A.Expr) -> None:
            if isinstance(x, A.BinOp) and x.op == e.op:
                collect(x.left)
                collect(x.right)
            else:
                operands.append(x)

        collect(e)  # both are associative, in value and in evaluation order
        lua_truth = [bool(self.inf.types(o) & {INT, FLOAT, STR}) for o in operands[:-1]]
        prec = P_OR if e.op == "or" else P_AND
        if not any(lua_truth):
            out = self.ex(operands[0])
            for o in operands[1:]:
                out = chain(e.op, prec, out, self.ex(o))
            return out
        temps: dict[int, str] = {}
        for i, o in enumerate(operands[:-1]):  # temporaries named in source order
            if lua_truth[i] and not _pure(o) and not (
                    i == len(operands) - 2 and _pure(operands[-1])) and not (
                    e.op == "or" and isinstance(o, A.BinOp) and o.op == "and"
                    and not self.inf.types(o.right) & {NIL, BOOL}):
                temps[i] = self.temp("value")
        result = self.ex(operands[-1])
        for i in range(len(operands) - 2, -1, -1):
            o = operands[i]
            last = i == len(operands) - 2
            if not lua_truth[i]:
                result = chain(e.op, prec, self.ex(o), result)
            elif e.op == "or" and isinstance(o, A.BinOp) and o.op == "and" and \
                    not self.inf.types(o.right) & {NIL, BOOL}:
                result = IfExp(self.ex(o.right), self.cond(o.left), result)  # c and x or y
            elif _pure(o):
                value = self.ex(o)
                result = IfExp(value, self.cond(o), result) if e.op == "or" else \
                    IfExp(result, self.cond(o), value)
            elif last and _pure(operands[-1]):
                result = Call(self.luart("or_" if e.op == "or" else "and_"), [self.ex(o), result])
            else:
                name = temps[i]
                test = self.truth(Walrus(name, self.ex(o)), self.inf.types(o))
                result = IfExp(Atom(name), test, result) if e.op == "or" else \
                    IfExp(result, test, Atom(name))
        return result

    def truth(self, value: Py, t: frozenset[str]) -> Py:
        """Lua's truth test of an already translated value of types ``t``."""
        if t <= {NIL, BOOL}:
            return wrap(value, P_OR)
        if BOOL not in t:
            return Chain(P_CMP, value, [("is not", Atom("None"))])
        return Call(self.luart("truthy"), [value])

    def cond(self, e: A.Expr) -> Py:
        """``e`` as a condition (Lua truthiness)."""
        if isinstance(e, A.Paren):
            return self.cond(e.expr)
        if isinstance(e, A.BinOp) and e.op in ("and", "or"):
            prec = P_AND if e.op == "and" else P_OR
            return chain(e.op, prec, self.cond(e.left), self.cond(e.right))
        if isinstance(e, A.UnOp) and e.op == "not":
            return Unary("not ", self.cond(e.operand))
        if isinstance(e, A.Index):
            path = self.inf.ksr_path(e)
            if path:
                self.uses_ksr = True
                obj = "KSR." + ".".join(path[:-1]) if len(path) > 1 else "KSR"
                return Call("hasattr", [Atom(obj), Str(path[-1])])
        if isinstance(e, A.Number | A.String | A.Nil | A.Bool):
            return Atom("False" if isinstance(e, A.Nil) or (
                isinstance(e, A.Bool) and not e.value) else "True")
        plain = self.plain_find(e)
        if plain is not None:
            return plain
        if all(isinstance(n, _CONSTANT_NODES) for n in _walk(e)):
            # May fold to a Python literal, where `is not None` would warn.
            return Call(self.luart("truthy"), [self.ex(e)])
        return self.truth(self.ex(e), self.inf.types(e))

    def plain_find(self, e: A.Expr) -> Py | None:
        """``string.find(s, "literal")`` as a condition is ``"literal" in s``."""
        if isinstance(e, A.Call) and self.inf.lib_name(e.func) == "string.find":
            args = e.args
        elif isinstance(e, A.Method) and e.name == "find" and self.inf.string_method(e):
            args = [e.obj, *e.args]
        else:
            return None
        if len(args) < 2:
            return None
        init_ok = len(args) < 3 or (isinstance(args[2], A.Number) and args[2].value == 1)
        plain = len(args) >= 4 and isinstance(args[3], A.Bool) and args[3].value
        literal = isinstance(args[1], A.String)
        if len(args) > 4 or not init_ok:
            return None
        if literal and has_specials(args[1].value) and not plain:  # type: ignore[union-attr]
            return None
        if not literal and not (plain and self.inf.types(args[1]) <= {STR, NIL}):
            return None
        if not self.inf.types(args[0]) <= {STR, NIL}:
            return None
        return Chain(P_CMP, self.ex(args[1]), [("in", self.ex(args[0]))])


# Operand types for which Python raises an error where Lua does (so they need no helper).
_ERRS = T({NIL, TABLE, FUNC, USER})


def _walk(node: Any) -> list[Any]:
    """Every AST node under ``node`` (itself included)."""
    out = [node]
    if isinstance(node, A.Node):
        for value in vars(node).values():
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if isinstance(item, tuple):
                    for sub in item:
                        if isinstance(sub, A.Node):
                            out.extend(_walk(sub))
                elif isinstance(item, A.Node):
                    out.extend(_walk(item))
    return out


#: Nodes of an expression made of literals and operators only (no names, calls, tables).
_CONSTANT_NODES = (A.Number, A.String, A.Nil, A.Bool, A.BinOp, A.UnOp, A.Paren)


def _pure(e: A.Expr | None) -> bool:
    """No side effects and cheap to evaluate twice: names and literals."""
    return isinstance(e, A.Name | A.Nil | A.Bool | A.Number | A.String)


def _number(e: A.Number, em: Emitter) -> Py:
    v = e.value
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        em.uses_luart = True
        return Atom("luart.math.huge") if v > 0 else Unary("-", Atom("luart.math.huge"))
    text = e.text
    if isinstance(v, int):
        low = text.lower().lstrip("-")
        if low.startswith("0x") and "." not in low and "p" not in low and int(low, 16) == abs(v):
            out = text
        else:
            out = str(v)
    else:
        out = repr(v)
    return Atom(out, P_UNARY if out.startswith("-") else P_ATOM)


def _plus(p: Py, e: A.Expr, k: int) -> Py:
    if isinstance(e, A.Number) and isinstance(e.value, int):
        v = e.value + k
        return Atom(str(v), P_UNARY if v < 0 else P_ATOM)
    return chain("+" if k > 0 else "-", P_ADD, p, Atom("1"))


def _trailing_labels(body: A.Block) -> set[str]:
    out = set()
    for stmt in reversed(body.body):
        if not isinstance(stmt, A.Label):
            break
        out.add(stmt.name)
    return out


def translate(chunk: A.Chunk) -> tuple[str, list[Issue]]:
    """Python source for a parsed Lua chunk, and every place that could not be translated."""
    issues: list[Issue] = []
    sc = Scopes(issues)
    sc.run(chunk)
    inf = Infer(sc, issues)
    inf.run()
    source = Emitter(chunk, sc, inf, issues).module()
    issues.sort(key=lambda i: (i.line, i.col))
    unique: list[Issue] = []
    for item in issues:
        if not unique or (item.line, item.col, item.message) != (
                unique[-1].line, unique[-1].col, unique[-1].message):
            unique.append(item)
    return source, unique
