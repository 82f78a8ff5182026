"""Parse preprocessed kamailio.cfg text into the syntax tree (lark, LALR, contextual lexer)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast

GRAMMAR = Path(__file__).with_name("grammar.lark")

#: Readable names for terminals in "expected ..." messages.
TERMINAL_NAMES = {
    "SEMICOLON": "';'", "RBRACE": "'}'", "LBRACE": "'{'", "LPAR": "'('", "RPAR": "')'",
    "COMMA": "','", "STRING": "a string", "NUMBER": "a number", "PV": "a pseudo-variable",
    "NAME": "a name", "GNAME": "a parameter name", "ROUTE_NAME": "a route name",
    "EQUAL": "'='", "COLON": "':'", "RSQB": "']'", "LSQB": "'['",
}

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}

#: Most syntax errors reported for one file before giving up.
MAX_SYNTAX_ERRORS = 20
#: Bare words Kamailio's lexer turns into 1 and 0 (``modparam("auth_db", "calculate_ha1", yes)``).
_BARE_TRUE = frozenset({"yes", "true", "on", "enable"})
_BARE_FALSE = frozenset({"no", "false", "off", "disable"})


class CfgSyntaxError(Exception):
    """Syntax errors of one text: each is (line, column, message) in the preprocessed text."""

    def __init__(self, errors: list[tuple[int, int, str]]) -> None:
        super().__init__("; ".join(f"{line}:{col}: {msg}" for line, col, msg in errors))
        self.errors = errors


def decode_string(token: str) -> str:
    """The value of a quoted literal: Kamailio's escapes decoded, other backslashes kept."""
    body = token[1:-1]
    if token.startswith("'") or "\\" not in body:
        return body  # single-quoted strings have no escapes in Kamailio
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                out.append("\\" + nxt)  # e.g. regex escapes "\+" stay as written
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _pos(meta_or_token: Any) -> ast.Pos:
    if isinstance(meta_or_token, Token):
        return (meta_or_token.line or 1, meta_or_token.column or 1)
    return (getattr(meta_or_token, "line", 1), getattr(meta_or_token, "column", 1))


def _int(text: str) -> int:
    return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)


@v_args(meta=True)
class _Builder(Transformer):
    """lark tree -> ast nodes."""

    # ---------------------------------------------------------------- top level
    def start(self, meta: Any, items: list[Any]) -> ast.Script:
        return ast.Script((1, 1), [i for i in items if isinstance(i, ast.Node)])

    def loadmodule(self, meta: Any, c: list[Any]) -> ast.LoadModule:
        return ast.LoadModule(_pos(meta), c[0].value)

    def cfgengine(self, meta: Any, c: list[Any]) -> ast.CfgEngine:
        return ast.CfgEngine(_pos(meta), c[0].value)

    def modparam(self, meta: Any, c: list[Any]) -> ast.ModParam:
        return ast.ModParam(_pos(meta), c[0].value, c[1].value, c[2])

    def mvalue(self, meta: Any, c: list[Any]) -> str | int:
        item = c[0]
        if isinstance(item, ast.Str):
            return item.value
        if item.type in ("NUMBER", "SIGNED_NUMBER"):
            return _int(str(item))
        # Kamailio's lexer reads these bare words as the numbers 1 and 0.
        word = str(item).lower()
        if word in _BARE_TRUE:
            return 1
        if word in _BARE_FALSE:
            return 0
        return str(item)

    def global_param(self, meta: Any, c: list[Any]) -> ast.GlobalParam:
        return ast.GlobalParam(_pos(c[0]), str(c[0]), str(c[1]).strip())

    def route_name(self, meta: Any, c: list[Any]) -> str:
        item = c[0]
        return item.value if isinstance(item, ast.Str) else str(item)

    def route_block(self, meta: Any, c: list[Any]) -> ast.RouteBlock:
        kind = str(c[0])
        name = None
        body = c[1:]
        if body and isinstance(body[0], str):
            name, body = body[0], body[1:]
        return ast.RouteBlock(_pos(c[0]), kind, name, [s for s in body if isinstance(s, ast.Stmt)])

    # --------------------------------------------------------------- statements
    def block(self, meta: Any, c: list[Any]) -> ast.Block:
        return ast.Block(_pos(meta), [s for s in c if isinstance(s, ast.Stmt)])

    def if_stmt(self, meta: Any, c: list[Any]) -> ast.If:
        stmts = [s for s in c[1:] if isinstance(s, ast.Stmt)]
        then = stmts[0] if stmts else None
        orelse = stmts[1] if len(stmts) > 1 else None
        return ast.If(_pos(meta), c[0], _body(then), None if orelse is None else _body(orelse))

    def while_stmt(self, meta: Any, c: list[Any]) -> ast.While:
        stmts = [s for s in c[1:] if isinstance(s, ast.Stmt)]
        return ast.While(_pos(meta), c[0], _body(stmts[0] if stmts else None))

    def switch_stmt(self, meta: Any, c: list[Any]) -> ast.Switch:
        return ast.Switch(_pos(meta), c[0], [x for x in c[1:] if isinstance(x, ast.Case)])

    def case_clause(self, meta: Any, c: list[Any]) -> ast.Case:
        return ast.Case(_pos(meta), c[0], [s for s in c[1:] if isinstance(s, ast.Stmt)])

    def default_clause(self, meta: Any, c: list[Any]) -> ast.Case:
        return ast.Case(_pos(meta), None, [s for s in c if isinstance(s, ast.Stmt)])

    def case_value(self, meta: Any, c: list[Any]) -> int | str:
        item = c[0]
        if isinstance(item, ast.Str):
            return item.value
        return _int(str(item))

    def return_stmt(self, meta: Any, c: list[Any]) -> ast.Return:
        return ast.Return(_pos(meta), c[0] if c else None)

    def exit_stmt(self, meta: Any, c: list[Any]) -> ast.Exit:
        return ast.Exit(_pos(meta))

    def drop_stmt(self, meta: Any, c: list[Any]) -> ast.Drop:
        return ast.Drop(_pos(meta))

    def break_stmt(self, meta: Any, c: list[Any]) -> ast.Break:
        return ast.Break(_pos(meta))

    def assign(self, meta: Any, c: list[Any]) -> ast.Assign:
        return ast.Assign(_pos(c[0]), str(c[0]), str(c[1]), c[2])

    def expr_stmt(self, meta: Any, c: list[Any]) -> ast.ExprStmt:
        return ast.ExprStmt(c[0].pos, c[0])

    # -------------------------------------------------------------- expressions
    def call(self, meta: Any, c: list[Any]) -> ast.Call:
        args = [a for a in c[1:] if a is not None]
        return ast.Call(_pos(c[0]), str(c[0]), args)

    def route_call(self, meta: Any, c: list[Any]) -> ast.RouteCall:
        item = c[0]
        if isinstance(item, ast.Str):
            return ast.RouteCall(_pos(meta), item.value)
        if isinstance(item, Token) and item.type == "PV":
            return ast.RouteCall(_pos(meta), ast.PVRef(_pos(item), str(item)))
        return ast.RouteCall(_pos(meta), str(item))

    def string(self, meta: Any, c: list[Token]) -> ast.Str:
        return ast.Str(_pos(c[0]), "".join(decode_string(str(t)) for t in c))

    def number(self, meta: Any, c: list[Token]) -> ast.Num:
        return ast.Num(_pos(c[0]), _int(str(c[0])))

    def pv(self, meta: Any, c: list[Token]) -> ast.Expr:
        text = str(c[0])
        if text == "$null":
            return ast.Null(_pos(c[0]))
        return ast.PVRef(_pos(c[0]), text)

    def ipnet(self, meta: Any, c: list[Token]) -> ast.IPNet:
        return ast.IPNet(_pos(c[0]), str(c[0]))

    def keyword(self, meta: Any, c: list[Token]) -> ast.Keyword:
        return ast.Keyword(_pos(c[0]), str(c[0]))

    def myself(self, meta: Any, c: list[Token]) -> ast.Myself:
        return ast.Myself(_pos(c[0]))

    def null(self, meta: Any, c: list[Token]) -> ast.Null:
        return ast.Null(_pos(c[0]))

    def name(self, meta: Any, c: list[Token]) -> ast.Name:
        return ast.Name(_pos(c[0]), str(c[0]))

    def or_expr(self, meta: Any, c: list[Any]) -> ast.Logical:
        return ast.Logical(_pos(meta), "||", [x for x in c if isinstance(x, ast.Expr)])

    def and_expr(self, meta: Any, c: list[Any]) -> ast.Logical:
        return ast.Logical(_pos(meta), "&&", [x for x in c if isinstance(x, ast.Expr)])

    def _binary_chain(self, meta: Any, c: list[Any], op: str | None) -> ast.Expr:
        expr = c[0]
        i = 1
        while i < len(c):
            if op is None:
                expr = ast.BinOp(_pos(meta), str(c[i]), expr, c[i + 1])
                i += 2
            else:
                expr = ast.BinOp(_pos(meta), op, expr, c[i])
                i += 1
        return expr

    def arith(self, meta: Any, c: list[Any]) -> ast.Expr:
        return self._binary_chain(meta, c, None)

    def bitor(self, meta: Any, c: list[Any]) -> ast.Expr:
        return self._binary_chain(meta, c, "|")

    def bitand(self, meta: Any, c: list[Any]) -> ast.Expr:
        return self._binary_chain(meta, c, "&")

    def bitxor(self, meta: Any, c: list[Any]) -> ast.Expr:
        return self._binary_chain(meta, c, "^")

    def compare(self, meta: Any, c: list[Any]) -> ast.Expr:
        if len(c) == 1:
            return c[0]
        return ast.Compare(_pos(meta), str(c[1]), c[0], c[2])

    def not_expr(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(_pos(meta), "!", c[-1])

    def neg(self, meta: Any, c: list[Any]) -> ast.Expr:
        if isinstance(c[0], ast.Num):
            return ast.Num(_pos(meta), -c[0].value)
        return ast.Unary(_pos(meta), "-", c[0])

    def bitnot(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(_pos(meta), "~", c[0])

    def defined(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(_pos(meta), "defined", c[0])

    def cast(self, meta: Any, c: list[Any]) -> ast.Unary:
        return ast.Unary(_pos(meta), f"({c[0]})", c[1])


def _body(stmt: ast.Stmt | None) -> list[ast.Stmt]:
    if stmt is None:
        return []
    if isinstance(stmt, ast.Block):
        return stmt.body
    return [stmt]


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _expected(exc: UnexpectedInput) -> str:
    names = sorted({TERMINAL_NAMES.get(t, t.lower()) for t in getattr(exc, "expected", ())
                    if not t.startswith("__")})
    if not names:
        return ""
    if len(names) > 6:
        names = names[:6] + ["..."]
    return "; expected " + ", ".join(names)


def _describe(exc: UnexpectedInput) -> tuple[int, int, str]:
    line, col = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return (line, col, "unexpected end of file (missing '}'?)")
        return (tok.line or line, tok.column or col,
                f"syntax error at {str(tok)[:40]!r}{_expected(exc)}")
    if isinstance(exc, UnexpectedCharacters):
        return (line, col, f"unexpected character {exc.char!r}{_expected(exc)}")
    if isinstance(exc, UnexpectedEOF):
        return (line, col, "unexpected end of file (missing '}'?)")
    return (line, col, str(exc).split("\n")[0])


def parse(text: str) -> ast.Script:
    """Parse preprocessed text; CfgSyntaxError lists every syntax error found."""
    errors: list[tuple[int, int, str]] = []
    seen_lines: set[int] = set()

    def on_error(exc: UnexpectedInput) -> bool:
        line, col, msg = _describe(exc)
        if line not in seen_lines:
            seen_lines.add(line)
            errors.append((line, col, msg))
        if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
            return False
        return len(errors) < MAX_SYNTAX_ERRORS

    try:
        tree = _lark().parse(text, on_error=on_error)
    except UnexpectedInput as exc:
        line, col, msg = _describe(exc)
        if line not in seen_lines:
            errors.append((line, col, msg))
        raise CfgSyntaxError(errors) from None
    if errors:
        raise CfgSyntaxError(errors)
    return _Builder().transform(tree)
