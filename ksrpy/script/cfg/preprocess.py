"""The kamailio.cfg preprocessor: directives, includes, define and subst expansion, comments.

It reproduces what Kamailio 5.6's config lexer (cfg.lex, ppcfg.c) does before its
parser sees a token, and writes the result as plain text for the grammar:

* one output line per physical input line; an included file's lines follow the line
  of its ``include_file``; ``line_map[i]`` gives the (file, line) of output line i;
* comments (``#``, ``//``, nestable ``/* */``) become spaces, so columns do not move;
* directives, their continuation lines and lines skipped by ``#!ifdef`` become empty
  lines (code before a mid-line directive stays);
* a defined identifier outside strings, comments, pseudo-variables and event_route
  names is replaced by its value, rescanned like Kamailio rescans it (the value may hold
  other defines, strings, even a ``#`` comment that hides the rest of the line);
* ``#!subst`` rules rewrite string literals and pseudo-variable names; a rewritten
  string is written back double-quoted with ``\\\\``, ``\\"``, ``\\n``, ``\\r`` escaped;
* only lines with a define expansion or a rewritten string/PV change columns: for them
  ``col_maps`` (and ``locate``) give the source column of every output character.

Behaviour taken from ``kamailio -c`` / ``--cfg-print`` runs is noted where it is not obvious.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ScriptIssue

MAX_INCLUDE_DEPTH = 10
"""Kamailio's MAX_INCLUDE_DEPTH: ten nested include levels below the main file."""

KAMAILIO_VERSION = (5, 6, 3)
"""The Kamailio release whose cfg dialect ksrpy follows."""

CORE_DEFINES: dict[str, str] = {
    "KAMAILIO_" + "_".join(map(str, KAMAILIO_VERSION[:n])): "" for n in (1, 2, 3)
}
"""Defines Kamailio's core sets before ``-A`` ones (pp_define_core); KAMAILIO is not one."""

_EAT = " \t\r\b"  # Kamailio's EAT_ABLE
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALNUM = re.compile(r"[A-Za-z0-9_]+")
_WORD = re.compile(r"(#!|!!)([A-Za-z_]+)")
_NON_BLANK = re.compile(r"[^ \t\r\b]")
_EVENT_ROUTE_NAME = re.compile(r"[ \t]*\[[^\]]*\]")
_SELECT = re.compile(r"@[A-Za-z0-9_.]*")
_SKIP_COND = re.compile(r"(#!|!!)(?:(ifn?def)[ \t\r\b]+|(else|endif)[ \t\r\b]*$)")
_LEAD_COND = re.compile(r"[ \t\r\b]*(#!|!!)(ifdef|ifndef|else|endif)(?![A-Za-z0-9_])")
_COMPAT_MARK = re.compile(r"(?:#|//)!(KAMAILIO|OPENSER|SER|MAXCOMPAT|ALL)[ \t\r\b]*$")
_POSIX_CLASS = re.compile(r"\[:(alpha|digit|alnum|upper|lower|space|blank|punct|xdigit|cntrl"
                          r"|print|graph):\]")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f",
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e",
}

_DEFINE_KINDS = {"define": "define", "def": "define", "trydefine": "trydef", "trydef": "trydef",
                 "redefine": "redefine", "redef": "redefine"}
_COND_WORDS = frozenset({"ifdef", "ifndef", "else", "endif"})
_SUBST_WORDS = frozenset({"subst", "substdef", "substdefs"})
_ENV_WORDS = {"defenv": (False, False), "defenvs": (True, False),
              "trydefenv": (False, True), "trydefenvs": (True, True)}  # (quoted, try)
_INCLUDE_WORDS = {"include_file": False, "import_file": True}  # value: a missing file is fine
_DIRECTIVES = (frozenset(_DEFINE_KINDS) | _COND_WORDS | _SUBST_WORDS | frozenset(_ENV_WORDS)
               | frozenset(_INCLUDE_WORDS))
_NOT_IN_5_6 = frozenset({"undef", "ifexp", "defexp", "defexps"})
_COMPAT_MODES = {"KAMAILIO": "kamailio", "OPENSER": "kamailio", "SER": "ser",
                 "MAXCOMPAT": "max", "ALL": "max"}
_DQ_ESCAPES = {"n": "\n", "r": "\r", "a": "\a", "t": "\t", '"': '"', "\\": "\\"}

_CODE, _BLOCK, _DQ, _SQ = "code", "block", "dq", "sq"


@dataclass
class Preprocessed:
    """The preprocessor's output: text for the grammar plus the map back to the user's files."""

    text: str
    line_map: list[tuple[str, int]]
    files: list[str]
    defines: dict[str, str]
    issues: list[ScriptIssue]
    col_maps: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Output line (0-based) -> 1-based source column of each character, only for the
    lines whose columns moved (define expansion, rewritten string or PV)."""
    sources: dict[str, list[str]] = field(default_factory=dict, repr=False)
    """The lines of every file read (and of the text given to preprocess_text)."""

    def locate(self, line: int, col: int) -> tuple[str, int, int]:
        """Source (file, line, col) of a 1-based output position, for error messages."""
        if not 0 < line <= len(self.line_map):
            return (self.files[0] if self.files else "<cfg>", line, col)
        path, src_line = self.line_map[line - 1]
        cols = self.col_maps.get(line - 1)
        if not cols:
            return path, src_line, col
        if 0 < col <= len(cols):
            return path, src_line, cols[col - 1]
        return path, src_line, max(cols[-1] + col - len(cols), 1)

    def issue_at(self, line: int, col: int, message: str) -> ScriptIssue:
        """A ScriptIssue for a 1-based output position, pointing into the user's file."""
        path, src_line, src_col = self.locate(line, col)
        lines = self.sources.get(path, [])
        text = lines[src_line - 1] if 0 < src_line <= len(lines) else ""
        return ScriptIssue(path, src_line, src_col, message, text)


def preprocess(path: str, defines: dict[str, str] | None = None, *,
               environ: Mapping[str, str] | None = None) -> Preprocessed:
    """Preprocess the cfg file ``path``; ``defines`` are Kamailio's ``-A NAME=VALUE`` ones."""
    pp = _Preprocessor(defines, environ)
    pp.files.append(path)
    try:
        text = _read(path)
    except OSError as exc:
        pp.issue(path, 1, 1, f"cannot read config file: {exc.strerror or exc}", "")
        return pp.result()
    pp.run_main(path, text)
    return pp.result()


def preprocess_text(text: str, path: str = "<string>", defines: dict[str, str] | None = None,
                    *, environ: Mapping[str, str] | None = None) -> Preprocessed:
    """Preprocess cfg ``text`` as if read from ``path`` (includes resolve next to it)."""
    pp = _Preprocessor(defines, environ)
    pp.run_main(path, _normalize(text))
    return pp.result()


def _read(path: str) -> str:
    """A cfg file's text: UTF-8 (BOM dropped, bad bytes replaced), CRLF turned into LF."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return _normalize(fh.read())


def _normalize(text: str) -> str:
    """CRLF -> LF (a lone CR stays: Kamailio treats it as blank space)."""
    return text.replace("\r\n", "\n")


def _split_lines(text: str) -> list[str]:
    """Physical lines split on LF only (str.splitlines would also split on \\f, \\x1c...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _skip_eat(s: str, pos: int) -> int:
    """Position of the first non EAT_ABLE character at or after ``pos``."""
    while pos < len(s) and s[pos] in _EAT:
        pos += 1
    return pos


def _is_blank(s: str) -> bool:
    """True when ``s`` holds only EAT_ABLE characters."""
    return _NON_BLANK.search(s) is None


# --------------------------------------------------------------------------- strings


def _scan_quoted(s: str, pos: int) -> int:
    """End (after the closing quote) of the string literal at ``pos``, -1 if unterminated."""
    quote = s[pos]
    i = pos + 1
    while i < len(s):
        if s[i] == "\\" and quote == '"':
            i += 2
            continue
        if s[i] == quote:
            return i + 1
        i += 1
    return -1


def decode_string(raw: str, quote: str = '"') -> str:
    """Value of a string literal body as Kamailio's lexer builds it ('...' has no escapes)."""
    if quote == "'":
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != "\\" or i + 1 >= len(raw):
            out.append(c)
            i += 1
            continue
        i = _decode_escape(raw, i, out)
    return "".join(out)


def _decode_escape(raw: str, i: int, out: list[str]) -> int:
    """Decode the backslash escape at ``raw[i]`` into ``out``; returns the next index."""
    nxt = raw[i + 1]
    if nxt in _DQ_ESCAPES:
        out.append(_DQ_ESCAPES[nxt])
        return i + 2
    if nxt == "\n":
        return i + 2
    hexa = re.match(r"x([0-9a-fA-F]{1,2})", raw[i + 1:])
    if hexa:
        out.append(chr(int(hexa.group(1), 16)))
        return i + 1 + len(hexa.group(0))
    octal = re.match(r"[0-7]{2,3}", raw[i + 1:])
    if octal:
        out.append(chr(int(octal.group(0), 8) & 0xFF))
        return i + 1 + len(octal.group(0))
    out.append("\\")
    return i + 1


def encode_string(value: str) -> str:
    """A double-quoted literal that decodes back to ``value`` and fits on one line."""
    body = (value.replace("\\", "\\\\").replace('"', '\\"')
            .replace("\n", "\\n").replace("\r", "\\r"))
    return f'"{body}"'


# --------------------------------------------------------------------------- subst


@dataclass(frozen=True)
class SubstRule:
    """One compiled ``#!subst`` expression (Kamailio re.c: /regex/replacement/flags)."""

    source: str
    pattern: re.Pattern[str]
    pieces: tuple[str | int, ...]  # literal text or a group number
    replace_all: bool

    def apply(self, text: str) -> str | None:
        """The rewritten text, or None when nothing matched (or a match was empty)."""
        matches = list(self.pattern.finditer(text)) if self.replace_all else []
        if not self.replace_all:
            first = self.pattern.search(text)
            matches = [first] if first else []
        if not matches or any(m.end() == m.start() for m in matches):
            return None  # Kamailio refuses empty matches ("invalid regexp?") and keeps the text
        out: list[str] = []
        last = 0
        for m in matches:
            out.append(text[last:m.start()])
            out.append(self._expand(m))
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def _expand(self, m: re.Match[str]) -> str:
        """The replacement for one match (an absent group gives '')."""
        parts: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, int):
                parts.append((m.group(piece) or "") if piece <= self.pattern.groups else "")
            else:
                parts.append(piece)
        return "".join(parts)


def parse_subst(expr: str) -> tuple[SubstRule | None, str, str, str]:
    """Parse /regex/repl/flags: (rule or None, error, regex text, raw replacement text)."""
    if len(expr) < 3:
        return None, "expression is too short", "", ""
    sep = expr[0]
    if sep == "\\":
        return None, "the separator cannot be a backslash", "", ""
    re_end = _find_separator(expr, 1, sep)
    if re_end < 0:
        return None, f"no separator {sep!r} after the regular expression", "", ""
    regex = expr[1:re_end]
    pieces, repl_end, error = _parse_replacement(expr, re_end + 1, sep)
    if error:
        return None, error, regex, ""
    repl = expr[re_end + 1:repl_end]
    flags, replace_all, error = _parse_flags(expr[repl_end + 1:])
    if error:
        return None, error, regex, repl
    try:
        pattern = re.compile(_posix_to_python(regex), flags)
    except re.error as exc:
        return None, f"bad regular expression {regex!r}: {exc}", regex, repl
    return SubstRule(expr, pattern, tuple(pieces), replace_all), "", regex, repl


def _find_separator(expr: str, pos: int, sep: str) -> int:
    """Index of the next separator not preceded by a backslash, -1 if none (as re.c)."""
    for i in range(pos, len(expr)):
        if expr[i] == sep and expr[i - 1] != "\\":
            return i
    return -1


def _parse_replacement(expr: str, pos: int, sep: str) -> tuple[list[str | int], int, str]:
    """Replacement pieces up to the separator: (pieces, end index, error)."""
    pieces: list[str | int] = []
    literal: list[str] = []
    i = pos
    while i < len(expr):
        c = expr[i]
        if c == sep:
            break
        if c == "$":
            return [], i, "pseudo-variables in a #!subst replacement are not supported (use \\$)"
        if c == "\\" and i + 1 < len(expr):
            nxt = expr[i + 1]
            if nxt.isdigit():
                pieces.extend(["".join(literal), int(nxt)])
                literal = []
            elif nxt == "u":
                return [], i, "\\u (the request URI) has no meaning in a preprocessor #!subst"
            else:
                literal.append({"n": "\n", "r": "\r", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        literal.append(c)
        i += 1
    else:
        return [], i, f"no separator {sep!r} after the replacement"
    pieces.append("".join(literal))
    return [p for p in pieces if p != ""], i, ""


def _parse_flags(flags: str) -> tuple[int, bool, str]:
    """Flags i (ignore case), g (all matches), s (dot matches newline)."""
    re_flags = re.MULTILINE
    replace_all = False
    for c in flags:
        if c == "i":
            re_flags |= re.IGNORECASE
        elif c == "g":
            replace_all = True
        elif c == "s":
            re_flags = (re_flags & ~re.MULTILINE) | re.DOTALL
        else:
            return 0, False, f"unknown flag {c!r}"
    return re_flags, replace_all, ""


def _posix_to_python(regex: str) -> str:
    """POSIX extended regex -> Python: bracket classes like [:digit:], GNU \\< \\>."""
    regex = _POSIX_CLASS.sub(lambda m: _POSIX_CLASSES[m.group(1)], regex)
    return regex.replace("\\<", r"\b").replace("\\>", r"\b")


# --------------------------------------------------------------------------- state


@dataclass
class _Source:
    """One file being read: its lines and its lexical state between lines."""

    path: str
    lines: list[str]
    mode: str = _CODE
    block_depth: int = 0
    open_at: tuple[int, int] = (0, 0)  # source line/col (1-based) of the open comment/string
    str_start: tuple[int, int] = (0, 0)  # output line index / char index of the opening quote
    str_quote: str = ""
    str_raw: list[str] = field(default_factory=list)
    await_module: bool = False  # a loadmodule keyword waits for its string


@dataclass
class _Out:
    """One output line under construction: characters and their 0-based source columns."""

    chars: list[str] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)

    def put(self, text: str, col: int, verbatim: bool) -> None:
        """Append ``text`` taken from source column ``col`` (each char its own if verbatim)."""
        self.chars.extend(text)
        if verbatim:
            self.cols.extend(range(col, col + len(text)))
        else:
            self.cols.extend([col] * len(text))


@dataclass
class _Buf:
    """The rest of the current line, including expanded define values still to be scanned."""

    s: str
    cols: list[int]
    chains: list[tuple[str, ...]]  # the defines each character was expanded from

    @classmethod
    def of(cls, line: str) -> _Buf:
        """A buffer over a physical line."""
        return cls(line, list(range(len(line))), [()] * len(line))

    def splice(self, start: int, end: int, value: str, chain: tuple[str, ...]) -> None:
        """Replace s[start:end] by ``value``, mapped to the column of s[start]."""
        col = self.cols[start]
        self.s = self.s[:start] + value + self.s[end:]
        self.cols[start:end] = [col] * len(value)
        self.chains[start:end] = [chain] * len(value)

    def verbatim(self, start: int, end: int) -> bool:
        """True when s[start:end] comes straight from the source line."""
        return all(not c for c in self.chains[start:end]) and (
            end - start < 2 or self.cols[end - 1] - self.cols[start] == end - start - 1)


@dataclass
class _Line:
    """Context for scanning one active line."""

    src: _Source
    index: int  # 0-based line index in src.lines
    buf: _Buf
    out: _Out
    out_index: int
    next_index: int
    directive: bool = False  # a directive or include was on this line
    includes: list[tuple[str, bool, int]] = field(default_factory=list)  # name, optional, col
    include_end: int = -1  # output length right after the last include_file

    @property
    def lineno(self) -> int:
        """1-based line number."""
        return self.index + 1


@dataclass
class _Cond:
    """An open #!ifdef / #!ifndef."""

    active: bool
    path: str
    line: int
    col: int
    text: str


class _Preprocessor:
    """Holds the define table, subst rules, #!ifdef stack and output across all files."""

    def __init__(self, defines: dict[str, str] | None,
                 environ: Mapping[str, str] | None) -> None:
        """Start with the core defines, then the command-line ones."""
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.defines: dict[str, str] = dict(CORE_DEFINES)
        self.module_defines: set[str] = set()
        self.substs: list[SubstRule] = []
        self.conds: list[_Cond] = []
        self.compat = "max"
        self.out: list[_Out] = []
        self.line_map: list[tuple[str, int]] = []
        self.files: list[str] = []
        self.sources: dict[str, list[str]] = {}
        self.issues: list[ScriptIssue] = []
        self.stack: list[str] = []  # real paths of the files being read, main first
        for name, value in (defines or {}).items():
            if name in self.defines:
                self.issue("<command line>", 1, 1, f"-A {name}: already defined", "")
            else:
                self.defines[name] = value

    # ------------------------------------------------------------------ driver

    def issue(self, path: str, line: int, col: int, message: str, source: str | None = None
              ) -> None:
        """Record an error at a 1-based source position."""
        if source is None:
            lines = self.sources.get(path, [])
            source = lines[line - 1] if 0 < line <= len(lines) else ""
        self.issues.append(ScriptIssue(path, line, col, message, source))

    def run_main(self, path: str, text: str) -> None:
        """Preprocess the main file's text, then report #!ifdefs left open."""
        self.run_file(path, text)
        for cond in self.conds:
            self.issue(cond.path, cond.line, cond.col,
                       f"missing #!endif for '{cond.text}' opened here")
        self.conds.clear()

    def run_file(self, path: str, text: str) -> None:
        """Preprocess one file's text (recursing into its includes)."""
        src = _Source(path, _split_lines(text))
        self.sources.setdefault(path, src.lines)
        self.stack.append(os.path.realpath(path))
        index = 0
        while index < len(src.lines):
            index = self.line(src, index)
        self.stack.pop()
        self.end_of_file(src)

    def end_of_file(self, src: _Source) -> None:
        """Report a block comment or string left open at the end of a file."""
        if src.mode == _BLOCK:
            self.issue(src.path, *src.open_at, "unterminated /* comment (missing */)")
        elif src.mode in (_DQ, _SQ):
            self.issue(src.path, *src.open_at, f"unterminated string (missing {src.str_quote})")
        src.mode = _CODE

    def result(self) -> Preprocessed:
        """Assemble the Preprocessed value."""
        lines: list[str] = []
        col_maps: dict[int, tuple[int, ...]] = {}
        for i, out in enumerate(self.out):
            lines.append("".join(out.chars))
            if out.cols != list(range(len(out.cols))):
                col_maps[i] = tuple(c + 1 for c in out.cols)
        text = "".join(line + "\n" for line in lines)
        return Preprocessed(text, list(self.line_map), self.files, dict(self.defines),
                            list(self.issues), col_maps, dict(self.sources))

    def new_out(self, src: _Source, index: int) -> int:
        """Start the output line for source line ``index``; returns its output index."""
        self.out.append(_Out())
        self.line_map.append((src.path, index + 1))
        return len(self.out) - 1

    @property
    def active(self) -> bool:
        """False inside a #!ifdef branch that is not taken."""
        return all(c.active for c in self.conds)

    # ------------------------------------------------------------------ lines

    def line(self, src: _Source, index: int) -> int:
        """Process source line ``index``; returns the index of the next line to process."""
        out_index = self.new_out(src, index)
        if not self.active:
            self.skipped_line(src, index)
            return index + 1
        ln = _Line(src, index, _Buf.of(src.lines[index]), self.out[out_index], out_index,
                   index + 1)
        pos = 0
        while pos < len(ln.buf.s):
            pos = self.step(ln, pos)
        self.end_of_line(ln)
        for name, optional, col in ln.includes:
            self.include(src, index + 1, col, name, optional)
        return ln.next_index

    def end_of_line(self, ln: _Line) -> None:
        """Close the line: strings go on, a blank directive line becomes empty."""
        src = ln.src
        if src.mode in (_DQ, _SQ):
            src.str_raw.append("\n")
        if ln.includes and ln.include_end >= 0 and not _is_blank(
                "".join(ln.out.chars[ln.include_end:])):
            self.issue(src.path, ln.lineno, ln.includes[-1][2],
                       "code after include_file/import_file on the same line is not supported")
            ln.includes.clear()
        if ln.directive and _is_blank("".join(ln.out.chars)):
            ln.out.chars.clear()
            ln.out.cols.clear()

    def skipped_line(self, src: _Source, index: int) -> None:
        """A line in a branch not taken: only #!ifdef/#!ifndef/#!else/#!endif count."""
        # Kamailio's skip state reads char by char, so they count anywhere on the line,
        # even after a '#'; a line starting with a malformed one is an error here (Kamailio
        # would silently skip it).
        text = src.lines[index]
        m = _SKIP_COND.search(text)
        if m:
            word = m.group(2) or m.group(3)
            self.conditional(src, index + 1, text, m.start(), m.start() + 2 + len(word), word)
        elif _LEAD_COND.match(text):
            lead = _LEAD_COND.match(text)
            assert lead is not None
            word = lead.group(2)
            start = lead.start(1)
            self.conditional(src, index + 1, text, start, start + 2 + len(word), word)

    # ------------------------------------------------------------------ scanning

    def step(self, ln: _Line, pos: int) -> int:
        """Scan from ``pos`` in the current lexical mode; returns the next position."""
        mode = ln.src.mode
        if mode == _BLOCK:
            return self.block_comment(ln, pos)
        if mode in (_DQ, _SQ):
            return self.string_body(ln, pos)
        return self.code(ln, pos)

    def code(self, ln: _Line, pos: int) -> int:
        """One token of code."""
        s = ln.buf.s
        c = s[pos]
        if c in _EAT:
            return self.emit(ln, pos, pos + 1)
        if c != '"' and c != "'":
            ln.src.await_module = False
        handler = self._CODE_HANDLERS.get(c)
        if handler is not None:
            return handler(self, ln, pos)
        if c.isalpha() or c == "_":
            return self.identifier(ln, pos)
        if c.isdigit():
            m = _ALNUM.match(s, pos)
            assert m is not None
            return self.emit(ln, pos, m.end())
        return self.emit(ln, pos, pos + 1)

    def emit(self, ln: _Line, start: int, end: int) -> int:
        """Copy buf[start:end] to the output; returns ``end``."""
        self.put(ln, start, end, ln.buf.s[start:end])
        return end

    def put(self, ln: _Line, start: int, end: int, text: str) -> None:
        """Write ``text`` standing for buf[start:end] (mapped to its source columns)."""
        buf = ln.buf
        if not text:
            return
        if buf.verbatim(start, end) and len(text) == end - start:
            ln.out.put(text, buf.cols[start], True)
        else:
            ln.out.put(text, buf.cols[start] if start < len(buf.cols) else 0, False)

    def blank(self, ln: _Line, start: int, end: int) -> int:
        """Write spaces for buf[start:end] (comments); returns ``end``."""
        self.put(ln, start, end, " " * (end - start))
        return end

    def hash_sign(self, ln: _Line, pos: int) -> int:
        """'#': a directive after '#!', otherwise a comment to the end of the line."""
        s = ln.buf.s
        if s.startswith("#!", pos):
            m = _WORD.match(s, pos)
            if m and m.group(2) in _DIRECTIVES:
                return self.directive(ln, pos, m.end(), m.group(2))
            if _COMPAT_MARK.match(s, pos):
                return self.compat_mark(ln, pos)
            if m:
                word = m.group(2)
                what = f"unknown preprocessor directive '#!{word}'"
                if word in _COMPAT_MODES:
                    what = f"unexpected text after '#!{word}'"
                elif word in _NOT_IN_5_6:
                    what = (f"'#!{word}' is not a Kamailio 5.6 directive "
                            "(Kamailio 5.6 reads the line as a comment)")
                self.issue(ln.src.path, ln.lineno, ln.buf.cols[pos] + 1, what)
                ln.directive = True
                return len(s)
        return self.blank(ln, pos, len(s))

    def bang(self, ln: _Line, pos: int) -> int:
        """'!!' followed by a directive name is a directive; any other '!' is code."""
        m = _WORD.match(ln.buf.s, pos)
        if m and m.group(1) == "!!" and m.group(2) in _DIRECTIVES:
            return self.directive(ln, pos, m.end(), m.group(2))
        return self.emit(ln, pos, pos + 1)

    def slash(self, ln: _Line, pos: int) -> int:
        """'//' comment, '/*' comment, or a plain '/'."""
        s = ln.buf.s
        if s.startswith("//", pos):
            if _COMPAT_MARK.match(s, pos):
                return self.compat_mark(ln, pos)
            return self.blank(ln, pos, len(s))
        if s.startswith("/*", pos):
            ln.src.mode = _BLOCK
            ln.src.block_depth = 1
            ln.src.open_at = (ln.lineno, ln.buf.cols[pos] + 1)
            return self.blank(ln, pos, pos + 2)
        return self.emit(ln, pos, pos + 1)

    def block_comment(self, ln: _Line, pos: int) -> int:
        """Inside /* */ (Kamailio nests them): blank up to the matching */ or the line end."""
        s = ln.buf.s
        src = ln.src
        i = pos
        while i < len(s):
            if s.startswith("/*", i):
                src.block_depth += 1
                i += 2
            elif s.startswith("*/", i):
                src.block_depth -= 1
                i += 2
                if src.block_depth == 0:
                    src.mode = _CODE
                    break
            else:
                i += 1
        return self.blank(ln, pos, i)

    def backslash(self, ln: _Line, pos: int) -> int:
        """A backslash ending a code line joins the next line (Kamailio eats it): a space."""
        if pos == len(ln.buf.s) - 1:
            return self.blank(ln, pos, pos + 1)
        return self.emit(ln, pos, pos + 1)

    def quote(self, ln: _Line, pos: int) -> int:
        """Open a string literal."""
        src = ln.src
        src.mode = _DQ if ln.buf.s[pos] == '"' else _SQ
        src.str_quote = ln.buf.s[pos]
        src.str_raw = []
        src.open_at = (ln.lineno, ln.buf.cols[pos] + 1)
        src.str_start = (ln.out_index, len(ln.out.chars))
        return self.emit(ln, pos, pos + 1)

    def string_body(self, ln: _Line, pos: int) -> int:
        """Copy string text up to the closing quote (or the line end)."""
        s = ln.buf.s
        src = ln.src
        i = pos
        while i < len(s):
            if s[i] == "\\" and src.mode == _DQ:
                i += 2
                continue
            if s[i] == src.str_quote:
                break
            i += 1
        i = min(i, len(s))
        src.str_raw.append(s[pos:i])
        self.emit(ln, pos, i)
        if i < len(s):
            self.emit(ln, i, i + 1)
            self.close_string(ln, pos, i)
            return i + 1
        return i

    def close_string(self, ln: _Line, body_start: int, quote_pos: int) -> None:
        """A string ended: apply #!subst rules, then feed a pending loadmodule."""
        src = ln.src
        src.mode = _CODE
        value = decode_string("".join(src.str_raw), src.str_quote)
        new = self.run_substs(value)
        if new is not None:
            end = (ln.out_index, len(ln.out.chars))
            self.replace_output(src.str_start, end, encode_string(new), ln.buf.cols[quote_pos])
            value = new
        if src.await_module:
            src.await_module = False
            self.module_loaded(ln, value, body_start)

    def replace_output(self, start: tuple[int, int], end: tuple[int, int], text: str,
                       col: int) -> None:
        """Put ``text`` where output[start:end] was; a multi-line span leaves its lines blank."""
        (l0, c0), (l1, c1) = start, end
        first = self.out[l0]
        first_col = first.cols[c0] if c0 < len(first.cols) else col
        if l0 == l1:
            first.chars[c0:c1] = list(text)
            first.cols[c0:c1] = [first_col] * len(text)
            return
        first.chars[c0:] = list(text)
        first.cols[c0:] = [first_col] * len(text)
        for k in range(l0 + 1, l1):
            self.out[k].chars.clear()
            self.out[k].cols.clear()
        self.out[l1].chars[:c1] = [" "] * c1

    def run_substs(self, text: str) -> str | None:
        """Apply every #!subst rule in order; None when none changed the text."""
        changed = False
        for rule in self.substs:
            new = rule.apply(text)
            if new is not None:
                text = new
                changed = True
        return text if changed else None

    def dollar(self, ln: _Line, pos: int) -> int:
        """A pseudo-variable: no define expansion inside; #!subst rules apply to its name."""
        s = ln.buf.s
        end = pos + 1
        parens = False
        if end < len(s) and s[end] == "(":
            end, parens = _balanced(s, end), True
        else:
            m = _ID.match(s, end)
            if m:
                end = m.end()
                if end < len(s) and s[end] == "(":
                    end, parens = _balanced(s, end), True
            elif end < len(s) and s[end] == "?":
                end += 1
        text = s[pos:end]
        if parens or self.compat == "kamailio":  # bare $name: only Kamailio's PVARID state
            new = self.run_substs(text)
            if new is not None:
                self.put(ln, pos, end, new)
                return end
        return self.emit(ln, pos, end)

    def at_sign(self, ln: _Line, pos: int) -> int:
        """A select (@via[1].host): copied as is, like Kamailio's SELECT state."""
        m = _SELECT.match(ln.buf.s, pos)
        assert m is not None
        return self.emit(ln, pos, m.end())

    def percent(self, ln: _Line, pos: int) -> int:
        """'%name' is an AVP in Kamailio (ATTR state): the name is not a define."""
        m = _ID.match(ln.buf.s, pos + 1)
        return self.emit(ln, pos, m.end() if m else pos + 1)

    _CODE_HANDLERS: dict[str, Callable[[_Preprocessor, _Line, int], int]] = {
        "#": hash_sign, "!": bang, "/": slash, "\\": backslash, '"': quote, "'": quote,
        "$": dollar, "@": at_sign, "%": percent,
    }

    def identifier(self, ln: _Line, pos: int) -> int:
        """An identifier: keyword with special lexing, a define to expand, or plain."""
        buf = ln.buf
        m = _ID.match(buf.s, pos)
        assert m is not None
        name = m.group()
        if name in _INCLUDE_WORDS:
            return self.include_keyword(ln, pos, m.end(), name)
        if name == "event_route":
            self.emit(ln, pos, m.end())
            rest = _EVENT_ROUTE_NAME.match(buf.s, m.end())
            return self.emit(ln, m.end(), rest.end()) if rest else m.end()
        if name == "loadmodule":
            ln.src.await_module = True
            return self.emit(ln, pos, m.end())
        if name in self.defines:
            return self.expand(ln, pos, m.end(), name)
        return self.emit(ln, pos, m.end())

    def expand(self, ln: _Line, start: int, end: int, name: str) -> int:
        """Replace a define by its value and rescan from the same position."""
        chain = ln.buf.chains[start]
        if name in chain:
            loop = " -> ".join((*chain[chain.index(name):], name))
            self.issue(ln.src.path, ln.lineno, ln.buf.cols[start] + 1,
                       f"define expansion loop: {loop}")
            return self.emit(ln, start, end)
        ln.buf.splice(start, end, self.defines[name], (*chain, name))
        return start

    def module_loaded(self, ln: _Line, value: str, body_start: int) -> None:
        """loadmodule "x.so" defines MOD_x, as Kamailio 5.6 does when it registers x."""
        name = value.rsplit("/", 1)[-1]
        if name.endswith(".so"):
            name = name[:-3]
        if not name:
            return
        define = f"MOD_{name}"
        if define in self.module_defines:
            return
        if define in self.defines:
            self.issue(ln.src.path, ln.lineno, ln.buf.cols[body_start] + 1,
                       f"loadmodule cannot define {define}: already defined")
            return
        self.module_defines.add(define)
        self.defines[define] = ""

    def compat_mark(self, ln: _Line, pos: int) -> int:
        """#!KAMAILIO / #!OPENSER / #!SER / #!MAXCOMPAT / #!ALL: pick the compat mode."""
        m = _COMPAT_MARK.match(ln.buf.s, pos)
        assert m is not None
        self.compat = _COMPAT_MODES[m.group(1)]
        ln.directive = True
        return self.blank(ln, pos, len(ln.buf.s))

    # ------------------------------------------------------------------ directives

    def directive(self, ln: _Line, pos: int, word_end: int, word: str) -> int:
        """Dispatch a #! / !! directive starting at ``pos``; returns where scanning resumes."""
        ln.directive = True
        if word in _DEFINE_KINDS:
            return self.define_directive(ln, pos, word_end, word)
        if word in _COND_WORDS:
            self.conditional(ln.src, ln.lineno, ln.buf.s, pos, word_end, word, ln.buf.cols)
            return len(ln.buf.s)
        if word in _SUBST_WORDS:
            return self.subst_directive(ln, pos, word_end, word)
        if word in _ENV_WORDS:
            return self.env_directive(ln, pos, word_end, word)
        return self.include_keyword(ln, pos, word_end, word)

    def col(self, ln: _Line, pos: int) -> int:
        """1-based source column of buffer position ``pos``."""
        return _source_col(ln.buf.cols, pos)

    def define_directive(self, ln: _Line, pos: int, word_end: int, word: str) -> int:
        """#!define / #!trydef / #!redefine NAME [value, '\\' at the end continues it]."""
        s = ln.buf.s
        name_at = _skip_eat(s, word_end)
        m = _ID.match(s, name_at)
        if name_at == word_end or not m:
            self.issue(ln.src.path, ln.lineno, self.col(ln, name_at),
                       f"'#!{word}' needs a name")
            return len(s)
        if s.startswith("-", m.end()):
            self.issue(ln.src.path, ln.lineno, self.col(ln, m.end()),
                       "'-' is not allowed in a define name")
            return len(s)
        value = self.define_value(ln, s[m.end():])
        self.set_define(ln, _DEFINE_KINDS[word], m.group(), value, self.col(ln, name_at))
        return len(s)

    def define_value(self, ln: _Line, rest: str) -> str:
        """The value after the name, joining continuation lines (their output stays empty)."""
        value = rest.lstrip(_EAT)
        while value.endswith("\\"):
            value = value[:-1]
            if ln.next_index >= len(ln.src.lines):
                break
            value += ln.src.lines[ln.next_index]
            self.new_out(ln.src, ln.next_index)
            ln.next_index += 1
        return value.rstrip(_EAT)

    def set_define(self, ln: _Line, kind: str, name: str, value: str, col: int) -> None:
        """Apply Kamailio's rules: define fails if defined, trydef keeps, redefine replaces."""
        if name in self.defines:
            if kind == "trydef":
                return
            if kind == "define":
                self.issue(ln.src.path, ln.lineno, col, f"'{name}' is already defined "
                           "(#!redefine replaces a define, #!trydef keeps the first one)")
                return
        self.defines[name] = value

    def conditional(self, src: _Source, lineno: int, text: str, pos: int, word_end: int,
                    word: str, cols: list[int] | None = None) -> None:
        """#!ifdef NAME / #!ifndef NAME / #!else / #!endif (in taken or skipped branches)."""
        def col_of(i: int) -> int:
            """1-based column of text[i]."""
            return i + 1 if cols is None else _source_col(cols, i)

        rest_at = _skip_eat(text, word_end)
        if word in ("else", "endif"):
            if rest_at < len(text):  # reported, then taken as meant to avoid a cascade
                self.issue(src.path, lineno, col_of(rest_at),
                           f"unexpected text after '#!{word}' (Kamailio 5.6 would take the "
                           "whole line for a comment)")
            self.else_endif(src, lineno, col_of(pos), word)
            return
        name = self.cond_name(src, lineno, text, word_end, rest_at, word, col_of)
        taken = name is not None and (name in self.defines) == (word == "ifdef")
        self.conds.append(_Cond(taken, src.path, lineno, col_of(pos), f"#!{word} {name or ''}"))

    def cond_name(self, src: _Source, lineno: int, text: str, word_end: int, name_at: int,
                  word: str, col_of: Callable[[int], int]) -> str | None:
        """The NAME of #!ifdef/#!ifndef, or None after reporting what is wrong."""
        m = _ID.match(text, name_at)
        if name_at == word_end or not m:
            self.issue(src.path, lineno, col_of(name_at), f"'#!{word}' needs a name")
            return None
        if text.startswith("-", m.end()):
            self.issue(src.path, lineno, col_of(m.end()), "'-' is not allowed in a define name")
            return None
        tail = _skip_eat(text, m.end())
        if tail < len(text):  # reported; the name still decides the branch
            self.issue(src.path, lineno, col_of(tail),
                       f"unexpected text after '#!{word} {m.group()}'")
        return m.group()

    def else_endif(self, src: _Source, lineno: int, col: int, word: str) -> None:
        """#!else flips the innermost branch (twice flips back, as Kamailio); #!endif pops it."""
        if not self.conds:
            self.issue(src.path, lineno, col, f"'#!{word}' without a matching #!ifdef/#!ifndef")
        elif word == "else":
            self.conds[-1].active = not self.conds[-1].active
        else:
            self.conds.pop()

    def subst_directive(self, ln: _Line, pos: int, word_end: int, word: str) -> int:
        """#!subst / #!substdef / #!substdefs "/regex/replacement/flags"."""
        s = ln.buf.s
        at = _skip_eat(s, word_end)
        end = _scan_quoted(s, at) if at < len(s) and s[at] in "\"'" else -1
        if end < 0:
            self.issue(ln.src.path, ln.lineno, self.col(ln, at),
                       f"'#!{word}' needs a quoted expression like \"/regex/replacement/\"")
            return len(s)
        expr = decode_string(s[at + 1:end - 1], s[at])
        expr = self.run_substs(expr) or expr  # the argument is a string token like any other
        rule, error, name, repl = parse_subst(expr)
        if rule is None:
            self.issue(ln.src.path, ln.lineno, self.col(ln, at),
                       f"bad #!{word} expression {expr!r}: {error}")
            return self.blank(ln, pos, end)
        self.substs.append(rule)
        if word != "subst":
            value = f'"{repl}"' if word == "substdefs" else repl
            self.set_define(ln, "define", name, value, self.col(ln, at))
        return self.blank(ln, pos, end)

    def env_directive(self, ln: _Line, pos: int, word_end: int, word: str) -> int:
        """#!defenv [NAME=]ENVVAR and its s (quoted) and try (missing is fine) variants."""
        s = ln.buf.s
        at = word_end
        while at < len(s) and s[at] in " \t":
            at += 1
        end = at
        while end < len(s) and s[end] not in " \t\r\n":
            end += 1
        token = s[at:end]
        quoted, optional = _ENV_WORDS[word]
        name, _, var = token.partition("=")
        if not token or ("=" in token and not var) or not name:
            self.issue(ln.src.path, ln.lineno, self.col(ln, at),
                       f"'#!{word}' needs NAME=ENVVAR or ENVVAR")
            return self.blank(ln, pos, end)
        var = var or name
        value = self.environ.get(var)
        if value is None:
            if not optional:
                self.issue(ln.src.path, ln.lineno, self.col(ln, at),
                           f"environment variable {var!r} is not set")
            return self.blank(ln, pos, end)
        self.set_define(ln, "define", name, f'"{value}"' if quoted else value, self.col(ln, at))
        return self.blank(ln, pos, end)

    # ------------------------------------------------------------------ includes

    def include_keyword(self, ln: _Line, pos: int, word_end: int, word: str) -> int:
        """include_file / import_file "path": read after this line, inlined after it."""
        ln.directive = True
        s = ln.buf.s
        at = word_end
        while at < len(s) and s[at] in " \t":
            at += 1
        end = at
        while end < len(s) and s[end] not in " \t\r\n":
            end += 1
        token = s[at:end]
        token = self.run_substs(token) or token
        name = _include_name(token)
        self.blank(ln, pos, end)
        if name is None:
            self.issue(ln.src.path, ln.lineno, self.col(ln, at),
                       f"{word} needs a file name between double quotes")
            return end
        ln.includes.append((name, _INCLUDE_WORDS[word], self.col(ln, pos)))
        ln.include_end = len(ln.out.chars)
        return end

    def include(self, src: _Source, lineno: int, col: int, name: str, optional: bool) -> None:
        """Read an included file and preprocess it in place."""
        path, tried = _resolve_include(src.path, name)
        word = "import_file" if optional else "include_file"
        if path is None:
            if not optional:
                self.issue(src.path, lineno, col, f"cannot open included file {name!r} "
                           f"(tried {', '.join(tried)})")
            return
        real = os.path.realpath(path)
        if real in self.stack:
            cycle = [os.path.basename(p) for p in self.stack[self.stack.index(real):]]
            self.issue(src.path, lineno, col,
                       f"include cycle: {' -> '.join((*cycle, os.path.basename(real)))}")
            return
        if len(self.stack) > MAX_INCLUDE_DEPTH:
            self.issue(src.path, lineno, col,
                       f"too many nested includes (Kamailio allows {MAX_INCLUDE_DEPTH} levels)")
            return
        try:
            text = _read(path)
        except OSError as exc:
            if not optional:
                self.issue(src.path, lineno, col,
                           f"cannot read {word} {path!r}: {exc.strerror or exc}")
            return
        if path not in self.files:
            self.files.append(path)
        self.run_file(path, text)


def _source_col(cols: list[int], pos: int) -> int:
    """1-based source column of buffer position ``pos`` (just past the end when beyond)."""
    if pos < len(cols):
        return cols[pos] + 1
    return cols[-1] + 2 if cols else 1


def _balanced(s: str, pos: int) -> int:
    """End of the parenthesised group at ``pos`` (no quote awareness, as Kamailio's PVAR_P)."""
    depth = 0
    for i in range(pos, len(s)):
        if s[i] == "(":
            depth += 1
        elif s[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(s)


def _include_name(token: str) -> str | None:
    """The file name of an include token: "..." with \\t \\n \\r escapes (sr_push_yy_state)."""
    if len(token) < 3 or token[0] != '"' or token[-1] != '"':
        return None
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            if i + 1 >= len(body):
                return None
            out.append({"t": "\t", "n": "\n", "r": "\r"}.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out) or None


def _resolve_include(including: str, name: str) -> tuple[str | None, list[str]]:
    """Find an included file next to the including file, else from the cwd: (path, tried)."""
    # Kamailio tries the cwd first and the including file's folder second; ksrpy prefers
    # the folder so that a config does not change meaning with the directory it runs from.
    if os.path.isabs(name):
        candidates = [name]
    else:
        folder = os.path.dirname(including)
        candidates = [os.path.normpath(os.path.join(folder, name)) if folder else name]
        if candidates[0] != name:
            candidates.append(name)
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate, candidates
    return None, candidates
