"""Syntax tree of a kamailio.cfg script: top-level items, route blocks, statements, expressions.

Every node carries ``pos`` = (line, column) in the preprocessed text; the
compiler maps it back to the user's file and line through the preprocessor's
line map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pos = tuple[int, int]


@dataclass
class Node:
    """Base of every node: where it starts."""

    pos: Pos


# ------------------------------------------------------------------ top level


@dataclass
class GlobalParam(Node):
    """``name = value`` at top level (value kept raw; settings.py interprets it)."""

    name: str
    value: str


@dataclass
class LoadModule(Node):
    """``loadmodule "name.so"``."""

    name: str


@dataclass
class ModParam(Node):
    """``modparam("module", "param", value)``."""

    module: str
    param: str
    value: str | int


@dataclass
class CfgEngine(Node):
    """``cfgengine "native"``."""

    name: str


@dataclass
class RouteBlock(Node):
    """``route[NAME] { ... }`` and its siblings; ``name`` None for unnamed blocks."""

    kind: str
    name: str | None
    body: list[Stmt]


@dataclass
class Script(Node):
    """The whole file."""

    items: list[Node] = field(default_factory=list)


# ----------------------------------------------------------------- statements


@dataclass
class Stmt(Node):
    """Base of statements."""


@dataclass
class If(Stmt):
    """``if (cond) then else``."""

    cond: Expr
    then: list[Stmt]
    orelse: list[Stmt] | None


@dataclass
class While(Stmt):
    """``while (cond) body``."""

    cond: Expr
    body: list[Stmt]


@dataclass
class Case(Node):
    """One ``case value:`` (value None for ``default:``) and its statements."""

    value: int | str | None
    body: list[Stmt]


@dataclass
class Switch(Stmt):
    """``switch (expr) { case ...: ... }`` with C fall-through."""

    subject: Expr
    cases: list[Case]


@dataclass
class Return(Stmt):
    """``return [expr]``."""

    value: Expr | None


@dataclass
class Exit(Stmt):
    """``exit``."""


@dataclass
class Drop(Stmt):
    """``drop``."""


@dataclass
class Break(Stmt):
    """``break``."""


@dataclass
class Assign(Stmt):
    """``$pv = expr``."""

    target: str
    op: str
    value: Expr


@dataclass
class ExprStmt(Stmt):
    """A function or route call used as a statement."""

    expr: Expr


@dataclass
class Block(Stmt):
    """``{ ... }`` nested in a route."""

    body: list[Stmt]


# ---------------------------------------------------------------- expressions


@dataclass
class Expr(Node):
    """Base of expressions."""


@dataclass
class Num(Expr):
    """An integer literal."""

    value: int


@dataclass
class Str(Expr):
    """A string literal (escapes already decoded; adjacent literals joined)."""

    value: str


@dataclass
class PVRef(Expr):
    """A pseudo-variable such as ``$rU`` or ``$(ru{uri.user})``."""

    name: str


@dataclass
class IPNet(Expr):
    """An IPv4 address or network literal (``10.0.0.0/8``)."""

    text: str


@dataclass
class Call(Expr):
    """A module or core function call."""

    name: str
    args: list[Expr]


@dataclass
class RouteCall(Expr):
    """``route(NAME)``; ``target`` is the name, or a PVRef for a dynamic name."""

    target: str | PVRef


@dataclass
class Keyword(Expr):
    """A core operand: ``method``, ``uri``, ``src_ip``, ``status`` ..."""

    name: str


@dataclass
class Myself(Expr):
    """The ``myself`` operand."""


@dataclass
class Null(Expr):
    """``$null`` / ``NULL``."""


@dataclass
class Name(Expr):
    """A bare identifier (``UDP``, ``INET``, or an undefined #!define)."""

    name: str


@dataclass
class BinOp(Expr):
    """Arithmetic or bitwise operation."""

    op: str
    left: Expr
    right: Expr


@dataclass
class Compare(Expr):
    """``==`` ``!=`` ``=~`` ``!~`` ``<`` ``>`` ``<=`` ``>=``."""

    op: str
    left: Expr
    right: Expr


@dataclass
class Logical(Expr):
    """``&&`` / ``||`` over two or more operands (short-circuit)."""

    op: str
    items: list[Expr]


@dataclass
class Unary(Expr):
    """``!``, ``-``, ``~``, ``defined``, ``(int)``, ``(str)``."""

    op: str
    operand: Expr
