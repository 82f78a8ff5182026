"""Parse Lua 5.1-5.4 source into a small AST (dataclasses with 1-based line/col)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = Path(__file__).with_name("lua.lark")


class LuaSyntaxError(Exception):
    """The Lua source does not parse; ``line``/``col`` point at the problem."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(f"{line}:{col}: {message}")
        self.line = line
        self.col = col
        self.message = message


@dataclass(eq=False)
class Node:
    """Base of every AST node: where it starts in the Lua file."""

    line: int
    col: int


# --- expressions -------------------------------------------------------------------------


@dataclass(eq=False)
class Nil(Node):
    """``nil``."""


@dataclass(eq=False)
class Bool(Node):
    """``true`` / ``false``."""

    value: bool


@dataclass(eq=False)
class Number(Node):
    """A numeric literal (int or float as Lua 5.4 reads it) and its text."""

    value: int | float
    text: str = ""


@dataclass(eq=False)
class String(Node):
    """A string literal; ``value`` holds the bytes decoded with surrogateescape."""

    value: str


@dataclass(eq=False)
class Vararg(Node):
    """``...``."""


@dataclass(eq=False)
class Function(Node):
    """``function (params) body end``."""

    params: list[Name]
    is_vararg: bool
    body: Block
    name: str = ""
    is_method: bool = False


@dataclass(eq=False)
class TableField(Node):
    """One constructor item: positional (key None), ``name = v`` or ``[k] = v``."""

    key: Expr | None
    value: Expr


@dataclass(eq=False)
class Table(Node):
    """``{ ... }``."""

    fields: list[TableField]


@dataclass(eq=False)
class BinOp(Node):
    """``left op right`` (op as written: ``..``, ``~=``, ``and`` ...)."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class UnOp(Node):
    """``op operand`` with op one of ``not # - ~``."""

    op: str
    operand: Expr


@dataclass(eq=False)
class Name(Node):
    """A variable reference."""

    name: str


@dataclass(eq=False)
class Index(Node):
    """``obj[key]`` or ``obj.name`` (then ``dotted`` is True)."""

    obj: Expr
    key: Expr
    dotted: bool = False


@dataclass(eq=False)
class Call(Node):
    """``func(args)``."""

    func: Expr
    args: list[Expr]


@dataclass(eq=False)
class Method(Node):
    """``obj:name(args)``."""

    obj: Expr
    name: str
    args: list[Expr]


@dataclass(eq=False)
class Paren(Node):
    """``(expr)``: truncates multiple results to one."""

    expr: Expr


Expr = (Nil | Bool | Number | String | Vararg | Function | Table | BinOp | UnOp | Name | Index
        | Call | Method | Paren)


# --- statements --------------------------------------------------------------------------


@dataclass(eq=False)
class Block(Node):
    """A statement list; ``end_line`` is where its closing keyword stands."""

    body: list[Stmt]
    end_line: int = 0


@dataclass(eq=False)
class Local(Node):
    """``local a, b <attrib> = exprs``."""

    names: list[Name]
    attribs: list[str]
    exprs: list[Expr]


@dataclass(eq=False)
class Assign(Node):
    """``targets = exprs``."""

    targets: list[Expr]
    exprs: list[Expr]


@dataclass(eq=False)
class CallStat(Node):
    """A call used as a statement."""

    call: Call | Method


@dataclass(eq=False)
class Do(Node):
    """``do ... end``."""

    body: Block


@dataclass(eq=False)
class While(Node):
    """``while cond do ... end``."""

    cond: Expr
    body: Block


@dataclass(eq=False)
class Repeat(Node):
    """``repeat ... until cond``."""

    body: Block
    cond: Expr


@dataclass(eq=False)
class If(Node):
    """``if c then ... elseif c then ... else ... end``."""

    tests: list[tuple[Expr, Block]]
    orelse: Block | None


@dataclass(eq=False)
class NumFor(Node):
    """``for v = start, stop[, step] do ... end``."""

    var: Name
    start: Expr
    stop: Expr
    step: Expr | None
    body: Block


@dataclass(eq=False)
class GenFor(Node):
    """``for names in exprs do ... end``."""

    names: list[Name]
    exprs: list[Expr]
    body: Block


@dataclass(eq=False)
class FunctionStat(Node):
    """``function a.b.c:m() ... end`` (path ``[a, b, c]``, method ``m`` or None)."""

    path: list[Name]
    method: str | None
    func: Function


@dataclass(eq=False)
class LocalFunction(Node):
    """``local function f() ... end``."""

    name: Name
    func: Function


@dataclass(eq=False)
class Return(Node):
    """``return exprs``."""

    exprs: list[Expr]


@dataclass(eq=False)
class Break(Node):
    """``break``."""


@dataclass(eq=False)
class Goto(Node):
    """``goto label``."""

    label: str


@dataclass(eq=False)
class Label(Node):
    """``::label::``."""

    name: str


Stmt = (Local | Assign | CallStat | Do | While | Repeat | If | NumFor | GenFor | FunctionStat
        | LocalFunction | Return | Break | Goto | Label)


@dataclass(eq=False)
class Comment:
    """A comment: its text lines (without ``--``), where it starts and ends."""

    lines: list[str]
    line: int
    col: int
    end_line: int


@dataclass(eq=False)
class Chunk:
    """A parsed file: the main block, its comments, and the source lines."""

    body: Block
    comments: list[Comment] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


# --- literals ----------------------------------------------------------------------------

_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34,
            "'": 39, "\n": 10}


def parse_number(text: str) -> int | float:
    """A Lua numeral's value: integers wrap (hex) or turn float (decimal) as in Lua 5.4."""
    low = text.lower()
    if low.startswith("0x"):
        if "." not in low and "p" not in low:
            value = int(low[2:], 16) & 0xFFFFFFFFFFFFFFFF
            return value - (1 << 64) if value >= 1 << 63 else value
        mantissa, _, exp = low[2:].partition("p")
        whole, _, frac = mantissa.partition(".")
        digits = int((whole + frac) or "0", 16)
        return float(digits) * 2.0 ** (int(exp or "0") - 4 * len(frac))
    if "." in low or "e" in low or "n" in low:
        return float(low)
    value = int(low)
    return value if value < 1 << 63 else float(low)


def unescape(body: str, line: int, col: int) -> str:
    """The value of a quoted string's body (escapes resolved), bytes as surrogateescape."""
    out = bytearray()
    raw = body.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        i += 1
        e = chr(raw[i])
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 1
        elif e == "\r":
            out.append(10)
            i += 2 if raw[i + 1:i + 2] == b"\n" else 1
        elif e == "x":
            hexd = raw[i + 1:i + 3].decode("latin-1")
            if len(hexd) != 2 or any(h not in "0123456789abcdefABCDEF" for h in hexd):
                raise LuaSyntaxError(line, col, "hexadecimal digit expected in '\\x' escape")
            out.append(int(hexd, 16))
            i += 3
        elif e == "z":
            i += 1
            while i < len(raw) and chr(raw[i]) in " \t\r\n\v\f":
                i += 1
        elif e.isdigit():
            j = i
            while j < len(raw) and j < i + 3 and chr(raw[j]).isdigit():
                j += 1
            value = int(raw[i:j])
            if value > 255:
                raise LuaSyntaxError(line, col, "decimal escape too large")
            out.append(value)
            i = j
        elif e == "u" and raw[i + 1:i + 2] == b"{":
            end = raw.find(b"}", i)
            if end < 0:
                raise LuaSyntaxError(line, col, "missing '}' in '\\u{xxxx}'")
            point = int(raw[i + 2:end], 16)
            out += _utf8(point)
            i = end + 1
        else:
            raise LuaSyntaxError(line, col, f"invalid escape sequence '\\{e}'")
    return out.decode("utf-8", "surrogateescape")


def _utf8(point: int) -> bytes:
    """Lua's extended UTF-8 encoding of a code point (up to 2^31)."""
    if point < 0x80:
        return bytes([point])
    limits = [(0x800, 2), (0x10000, 3), (0x200000, 4), (0x4000000, 5), (0x80000000, 6)]
    size = next(n for top, n in limits if point < top)
    tail = []
    for _ in range(size - 1):
        tail.append(0x80 | (point & 0x3F))
        point >>= 6
    first = (0xFF << (8 - size)) & 0xFF | point
    return bytes([first, *reversed(tail)])


def long_bracket_body(text: str) -> str:
    """The contents of ``[==[ ... ]==]`` (a first newline is skipped, as Lua does)."""
    level = text.index("[", 1) + 1
    body = text[level:-level]
    if body.startswith("\r\n") or body.startswith("\n\r"):
        return body[2:]
    if body[:1] in ("\n", "\r"):
        return body[1:]
    return body


# --- tree building -----------------------------------------------------------------------


def _pos(meta: Any) -> tuple[int, int]:
    return (getattr(meta, "line", 1), getattr(meta, "column", 1))


def _tok(tok: Token) -> tuple[int, int]:
    return (tok.line or 1, tok.column or 1)


def _block_end(tok: Token) -> int:
    return tok.line or 0


class _Build(Transformer):  # type: ignore[type-arg]
    """lark tree -> AST nodes."""

    # blocks and statements

    def start(self, c: list[Any]) -> Block:
        return c[0]

    @v_args(meta=True)
    def block(self, meta: Any, c: list[Any]) -> Block:
        body = [s for s in c if s is not None]
        line, col = _pos(meta) if body else (0, 0)
        return Block(line, col, body)

    def empty(self, c: list[Any]) -> None:
        return None

    @v_args(meta=True)
    def assign(self, meta: Any, c: list[Any]) -> Assign:
        targets, exprs = c
        for t in targets:
            if not isinstance(t, Name | Index):
                raise LuaSyntaxError(t.line, t.col,
                                     "syntax error: cannot assign to this expression")
        return Assign(*_pos(meta), targets, exprs)

    @v_args(meta=True)
    def exprstat(self, meta: Any, c: list[Any]) -> CallStat:
        expr = c[0]
        if not isinstance(expr, Call | Method):
            raise LuaSyntaxError(expr.line, expr.col, "syntax error: a statement must be a call "
                                 "or an assignment")
        return CallStat(*_pos(meta), expr)

    @v_args(meta=True)
    def label(self, meta: Any, c: list[Any]) -> Label:
        return Label(*_tok(c[0]), str(c[0]))

    def break_(self, c: list[Any]) -> Break:
        return Break(*_tok(c[0]))

    def goto(self, c: list[Any]) -> Goto:
        return Goto(*_tok(c[0]), str(c[1]))

    def do(self, c: list[Any]) -> Do:
        c[1].end_line = _block_end(c[2])
        return Do(*_tok(c[0]), c[1])

    def while_(self, c: list[Any]) -> While:
        c[3].end_line = _block_end(c[4])
        return While(*_tok(c[0]), c[1], c[3])

    def repeat(self, c: list[Any]) -> Repeat:
        c[1].end_line = _block_end(c[2])
        return Repeat(*_tok(c[0]), c[1], c[3])

    def if_(self, c: list[Any]) -> If:
        tests: list[tuple[Expr, Block]] = [(c[1], c[2])]
        orelse: Block | None = None
        last = c[2]
        for item in c[3:]:
            if isinstance(item, Token):
                last.end_line = _block_end(item)
            elif item[0] == "elseif":
                last.end_line = item[1]
                tests.append((item[2], item[3]))
                last = item[3]
            else:
                last.end_line = item[1]
                orelse = item[2]
                last = orelse
        return If(*_tok(c[0]), tests, orelse)

    def elseif(self, c: list[Any]) -> tuple[str, int, Expr, Block]:
        return ("elseif", _block_end(c[0]), c[1], c[2])

    def else_(self, c: list[Any]) -> tuple[str, int, Block]:
        return ("else", _block_end(c[0]), c[1])

    def numfor(self, c: list[Any]) -> NumFor:
        name = Name(*_tok(c[1]), str(c[1]))
        exprs = [x for x in c[2:] if not isinstance(x, Token) and not isinstance(x, Block)]
        body = next(x for x in c if isinstance(x, Block))
        body.end_line = _block_end(c[-1])
        step = exprs[2] if len(exprs) > 2 else None
        return NumFor(*_tok(c[0]), name, exprs[0], exprs[1], step, body)

    def genfor(self, c: list[Any]) -> GenFor:
        c[4].end_line = _block_end(c[5])
        return GenFor(*_tok(c[0]), c[1], c[2], c[4])

    def funcstat(self, c: list[Any]) -> FunctionStat:
        path, method = c[1]
        func: Function = c[2]
        func.line, func.col = _tok(c[0])
        func.name = ".".join(n.name for n in path) + (f":{method}" if method else "")
        if method:
            func.is_method = True
        return FunctionStat(*_tok(c[0]), path, method, func)

    def localfunc(self, c: list[Any]) -> LocalFunction:
        func: Function = c[3]
        func.line, func.col = _tok(c[0])
        func.name = str(c[2])
        return LocalFunction(*_tok(c[0]), Name(*_tok(c[2]), str(c[2])), func)

    def local(self, c: list[Any]) -> Local:
        pairs = c[1]
        exprs = c[2] if len(c) > 2 else []
        return Local(*_tok(c[0]), [p[0] for p in pairs], [p[1] for p in pairs], exprs)

    def attnamelist(self, c: list[Any]) -> list[tuple[Name, str]]:
        return c

    def attname(self, c: list[Any]) -> tuple[Name, str]:
        name = Name(*_tok(c[0]), str(c[0]))
        attrib = str(c[1]) if len(c) > 1 else ""
        if attrib and attrib not in ("const", "close"):
            raise LuaSyntaxError(c[1].line, c[1].column, f"unknown attribute '{attrib}'")
        return (name, attrib)

    def retstat(self, c: list[Any]) -> Return:
        exprs = c[1] if len(c) > 1 else []
        return Return(*_tok(c[0]), exprs)

    def funcname(self, c: list[Any]) -> tuple[list[Name], str | None]:
        method = None
        if c and c[-1].type == "METHOD":
            method = str(c[-1])
            c = c[:-1]
        return ([Name(*_tok(t), str(t)) for t in c], method)

    @v_args(meta=True)
    def funcbody(self, meta: Any, c: list[Any]) -> Function:
        params: list[Name] = []
        vararg = False
        if len(c) == 3:
            params, vararg = c[0]
        body: Block = c[-2]
        body.end_line = _block_end(c[-1])
        return Function(*_pos(meta), params, vararg, body)

    def params(self, c: list[Any]) -> tuple[list[Name], bool]:
        names = [Name(*_tok(t), str(t)) for t in c if t.type == "NAME"]
        return (names, any(t.type == "VARARG" for t in c))

    def varlist(self, c: list[Any]) -> list[Expr]:
        return c

    def namelist(self, c: list[Any]) -> list[Name]:
        return [Name(*_tok(t), str(t)) for t in c]

    def explist(self, c: list[Any]) -> list[Expr]:
        return c

    # expressions

    def binop(self, c: list[Any]) -> BinOp:
        return BinOp(c[0].line, c[0].col, str(c[1]), c[0], c[2])

    def unop(self, c: list[Any]) -> Expr:
        op = str(c[0])
        operand = c[1]
        if op == "-" and isinstance(operand, Number):
            text = operand.text and "-" + operand.text
            return Number(*_tok(c[0]), -operand.value, text)
        return UnOp(*_tok(c[0]), op, operand)

    def nil(self, c: list[Any]) -> Nil:
        return Nil(*_tok(c[0]))

    def true(self, c: list[Any]) -> Bool:
        return Bool(*_tok(c[0]), True)

    def false(self, c: list[Any]) -> Bool:
        return Bool(*_tok(c[0]), False)

    def number(self, c: list[Any]) -> Number:
        return Number(*_tok(c[0]), parse_number(str(c[0])), str(c[0]))

    def string(self, c: list[Any]) -> String:
        tok: Token = c[0]
        text = str(tok)
        if tok.type == "LONGSTRING":
            value = long_bracket_body(text)
        else:
            value = unescape(text[1:-1], *_tok(tok))
        return String(*_tok(tok), value)

    def vararg(self, c: list[Any]) -> Vararg:
        return Vararg(*_tok(c[0]))

    def function(self, c: list[Any]) -> Function:
        func: Function = c[1]
        func.line, func.col = _tok(c[0])
        return func

    @v_args(meta=True)
    def table(self, meta: Any, c: list[Any]) -> Table:
        return Table(*_pos(meta), c)

    def keyfield(self, c: list[Any]) -> TableField:
        return TableField(c[0].line, c[0].col, c[0], c[1])

    def namefield(self, c: list[Any]) -> TableField:
        key = String(*_tok(c[0]), str(c[0]))
        return TableField(key.line, key.col, key, c[1])

    def posfield(self, c: list[Any]) -> TableField:
        return TableField(c[0].line, c[0].col, None, c[0])

    def name(self, c: list[Any]) -> Name:
        return Name(*_tok(c[0]), str(c[0]))

    @v_args(meta=True)
    def paren(self, meta: Any, c: list[Any]) -> Expr:
        inner = c[0]
        if isinstance(inner, Call | Method | Vararg):
            return Paren(*_pos(meta), inner)  # keeps only the first of several results
        return inner

    def field(self, c: list[Any]) -> Index:
        key = String(*_tok(c[1]), str(c[1]))
        return Index(c[0].line, c[0].col, c[0], key, dotted=True)

    def index(self, c: list[Any]) -> Index:
        return Index(c[0].line, c[0].col, c[0], c[1])

    def method(self, c: list[Any]) -> Method:
        return Method(c[0].line, c[0].col, c[0], str(c[1]), c[2])

    def call(self, c: list[Any]) -> Call:
        return Call(c[0].line, c[0].col, c[0], c[1])

    def args(self, c: list[Any]) -> list[Expr]:
        if not c:
            return []
        if isinstance(c[0], list):
            return c[0]
        return [c[0]]


_COMMENTS: list[list[Token]] = []


def _collect_comment(tok: Token) -> Token:
    if _COMMENTS:
        _COMMENTS[-1].append(tok)
    return tok


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(GRAMMAR.read_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False, lexer_callbacks={"COMMENT": _collect_comment})


def _comment(tok: Token) -> Comment:
    text = str(tok)[2:]
    if text.startswith("[") and "[" in text[1:]:
        level = text.find("[", 1)
        if level >= 1 and set(text[1:level]) <= {"="} and text.endswith("]" + text[1:level] + "]"):
            lines = long_bracket_body(text).split("\n")
            return Comment(lines, tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1)
    return Comment([text], tok.line or 1, tok.column or 1, tok.line or 1)


def _describe(exc: UnexpectedInput) -> LuaSyntaxError:
    line, col = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return LuaSyntaxError(line, col, "syntax error: unexpected end of file")
        return LuaSyntaxError(tok.line or line, tok.column or col,
                              f"syntax error near {str(tok)[:30]!r}")
    if isinstance(exc, UnexpectedCharacters):
        return LuaSyntaxError(line, col, f"syntax error: unexpected character {exc.char!r}")
    if isinstance(exc, UnexpectedEOF):
        return LuaSyntaxError(line, col, "syntax error: unexpected end of file")
    return LuaSyntaxError(line, col, str(exc).split("\n")[0])


def _mark_methods(text: str, tree: Any) -> None:
    """Fill FunctionStat.method: a ``:`` before the last name of a funcname."""
    for node in tree.iter_subtrees():
        if node.data != "funcstat":
            continue
        fname = node.children[1]
        names = fname.children
        if len(names) < 2:
            continue
        last, prev = names[-1], names[-2]
        between = text[prev.end_pos:last.start_pos]
        if ":" in between:
            fname.children = [*names[:-1], Token("METHOD", str(last), start_pos=last.start_pos,
                                                 line=last.line, column=last.column)]


def parse(text: str) -> Chunk:
    """Parse a Lua chunk; LuaSyntaxError on the first syntax error."""
    if text.startswith("#"):
        text = "--" + text  # Lua skips a first line starting with '#' (#!/usr/bin/lua)
    comments: list[Token] = []
    _COMMENTS.append(comments)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _describe(exc) from None
    finally:
        _COMMENTS.pop()
    _mark_methods(text, tree)
    builder = _Build()
    try:
        body = builder.transform(tree)
    except Exception as exc:  # lark wraps errors raised in callbacks
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, LuaSyntaxError):
            raise inner from None
        raise
    body.end_line = text.count("\n") + 2
    return Chunk(body, [_comment(t) for t in comments], text.splitlines())
