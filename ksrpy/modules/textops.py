"""textops: tests and edits on the message text (Kamailio's textops).

Regular expressions are POSIX extended, as Kamailio's regcomp sees them:
``search``/``replace``/``remove_hf_re`` ... compile with REG_ICASE|REG_NEWLINE
(case-insensitive; ``.`` and ``[^...]`` never match a newline; ``^``/``$`` match
at line boundaries), ``subst`` with REG_NEWLINE unless the ``s`` flag is given
and REG_ICASE only with ``i``. Matching runs on the message as received; edits
are spliced in when the message is sent, as Kamailio's lumps are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..script.pvformat import Format, compile_format
from ..sip.errors import SIPError
from ..sip.message import SIPMessage, decode, encode
from ..util.posixre import compile_ere
from .exports import ArgKind as K
from .exports import Module, Returns, export

if TYPE_CHECKING:
    from ..core.context import Context

@functools.lru_cache(maxsize=512)
def posix_regex(pattern: str, icase: bool = True, newline: bool = True) -> re.Pattern[str]:
    """Compile a POSIX ERE (PosixRegexError when regcomp would refuse it), cached."""
    return compile_ere(pattern, icase=icase, newline=newline)


# ------------------------------------------------------------------ subst expressions

_Part = tuple[str, object]  # ("lit", Format) | ("grp", int) | ("uri", None)


@dataclass(frozen=True)
class SubstExpr:
    """A parsed sed-like ``/re/repl/flags`` expression (Kamailio's subst_parser)."""

    regex: re.Pattern[str]
    parts: tuple[_Part, ...]
    global_: bool

    def expand(self, m: re.Match[str], ctx: Context) -> str:
        """The replacement text for one match."""
        out: list[str] = []
        for kind, value in self.parts:
            if kind == "lit":
                assert isinstance(value, Format)
                out.append(value.render(ctx))
            elif kind == "grp":
                assert isinstance(value, int)
                out.append(m.group(value) or "")
            else:
                out.append(ctx.ruri)
        return "".join(out)

    def run(self, text: str, ctx: Context) -> list[tuple[int, int, str]]:
        """(start, end, replacement) of each match to replace (first only without ``g``)."""
        found = []
        for m in self.regex.finditer(text):
            found.append((m.start(), m.end(), self.expand(m, ctx)))
            if not self.global_:
                break
        return found

    def sub(self, text: str, ctx: Context) -> str | None:
        """``text`` with the substitution applied; None when nothing matched."""
        found = self.run(text, ctx)
        if not found:
            return None
        out, pos = [], 0
        for start, end, repl in found:
            out.append(text[pos:start])
            out.append(repl)
            pos = end
        out.append(text[pos:])
        return "".join(out)


def _split_subst(expr: str) -> list[str]:
    """The three fields of ``/re/repl/flags`` (any delimiter, ``\\<delim>`` escaped)."""
    if len(expr) < 4:
        raise ValueError(f"subst expression {expr!r} is too short")
    sep = expr[0]
    fields: list[str] = []
    cur: list[str] = []
    i = 1
    while i < len(expr):
        ch = expr[i]
        if ch == "\\" and i + 1 < len(expr):
            if expr[i + 1] == sep and len(fields) < 2:
                cur.append(sep if fields else "\\" + sep)
            else:
                cur.append(expr[i : i + 2])
            i += 2
            continue
        if ch == sep and len(fields) < 2:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if len(fields) != 2:
        raise ValueError(f"subst expression {expr!r}: expected {sep}re{sep}repl{sep}flags")
    fields.append("".join(cur))
    return fields


def _repl_parts(repl: str) -> tuple[_Part, ...]:
    """Split a replacement into literal (with PVs), ``\\N`` group and ``\\u`` URI parts."""
    parts: list[_Part] = []
    lit: list[str] = []

    def flush() -> None:
        if lit:
            parts.append(("lit", compile_format("".join(lit))))
            lit.clear()

    i = 0
    escapes = {"n": "\n", "r": "\r", "t": "\t"}
    while i < len(repl):
        ch = repl[i]
        if ch == "\\" and i + 1 < len(repl):
            nxt = repl[i + 1]
            if nxt.isdigit():
                flush()
                parts.append(("grp", int(nxt)))
            elif nxt == "u":
                flush()
                parts.append(("uri", None))
            elif nxt == "$":
                lit.append("$$")
            else:
                lit.append(escapes.get(nxt, nxt))
            i += 2
            continue
        lit.append(ch)
        i += 1
    flush()
    return tuple(parts)


@functools.lru_cache(maxsize=256)
def parse_subst(expr: str) -> SubstExpr:
    """Parse ``/re/repl/flags`` (ValueError/PosixRegexError when malformed)."""
    pattern, repl, flags = _split_subst(expr)
    bad = set(flags) - set("igs")
    if bad:
        raise ValueError(f"subst expression {expr!r}: unknown flags {''.join(sorted(bad))!r}")
    regex = posix_regex(pattern, "i" in flags, "s" not in flags)
    parts = _repl_parts(repl)
    for kind, value in parts:
        if kind == "grp" and isinstance(value, int) and value > regex.groups:
            raise ValueError(f"subst expression {expr!r}: no group \\{value}")
    return SubstExpr(regex, parts, "g" in flags)


# --------------------------------------------------------------- message text helpers


def _header_line(txt: str) -> bytes:
    """A script's header text as CRLF-terminated lines (a missing final CRLF is added)."""
    if not txt:
        return b""
    data = encode(txt)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _offsets(text: str, raw: bytes) -> Callable[[int], int]:
    """Map a str index of decode(raw) back to a byte offset."""
    if len(text) == len(raw):
        return lambda i: i
    return lambda i: len(encode(text[:i]))


def _header_index(msg: SIPMessage, name: str) -> int | None:
    """Index of the first header named ``name`` (full or compact form), None when absent."""
    found = msg.header_indices(name)
    return found[0] if found else None


class TextopsModule(Module):
    """Tests and edits on the method, headers and body of the message."""

    name = "textops"
    kemi_namespace = "textops"

    # ------------------------------------------------------------------ tests

    @export("is_method", ("methods", K.STR), returns=Returns.INT)
    def is_method(self, ctx: Context, methods: str) -> int:
        """1 when the method (CSeq method for replies) is one of ``methods`` ('A|B')."""
        method = ctx.msg.method.upper()
        wanted = {m.strip().upper() for m in str(methods).split("|")}
        return 1 if method in wanted else -1

    @export("is_present_hf", ("name", K.SPVE), returns=Returns.INT)
    def is_present_hf(self, ctx: Context, name: str) -> int:
        """1 when a header with this name is present."""
        return 1 if ctx.msg.has_header(name) else -1

    @export("is_present_hf_re", ("regex", K.STR))
    def is_present_hf_re(self, ctx: Context, regex: str) -> int:
        """1 when a header name matches the regular expression, else -1."""
        rx = posix_regex(regex)
        return 1 if any(rx.search(h.name) for h in ctx.msg.headers()) else -1

    @export("search", ("regex", K.STR))
    def search(self, ctx: Context, regex: str) -> int:
        """1 when the regular expression matches somewhere in the message, else -1."""
        return 1 if posix_regex(regex).search(decode(ctx.msg.raw)) else -1

    @export("search_body", ("regex", K.STR))
    def search_body(self, ctx: Context, regex: str) -> int:
        """1 when the regular expression matches in the body, else -1 (also without body)."""
        body = ctx.msg.body
        if not body:
            return -1
        return 1 if posix_regex(regex).search(decode(body)) else -1

    @export("has_body", ("mime", K.STR, True))
    def has_body(self, ctx: Context, mime: str = "") -> int:
        """1 when the message has a body (and, with ``mime``, of that Content-Type)."""
        msg = ctx.msg
        if msg.content_length == 0 or not msg.body:
            return -1
        if not mime or mime == "0":
            return 1
        ctype = (msg.get_header("Content-Type") or "").split(";")[0].strip().lower()
        wanted = mime.strip().lower()
        if ctype == wanted:
            return 1
        if ctype == "multipart/mixed" and wanted != ctype:
            # Kamailio looks for a body part of the wanted type in a multipart body.
            part_rx = re.compile(r"^content-type:\s*" + re.escape(wanted) + r"\s*(;|$)",
                                 re.IGNORECASE | re.MULTILINE)
            return 1 if part_rx.search(decode(msg.body)) else -1
        return -1

    @export("has_body_type", ("mime", K.STR), cfg=False)
    def has_body_type(self, ctx: Context, mime: str) -> int:
        """has_body with a Content-Type to check (KEMI form)."""
        return self.has_body(ctx, mime)

    @export("is_privacy", ("ptype", K.STR))
    def is_privacy(self, ctx: Context, ptype: str) -> int:
        """1 when a Privacy header lists this privacy value (id, user, header, ...)."""
        wanted = ptype.strip().lower()
        for value in ctx.msg.get_headers("Privacy"):
            for item in re.split(r"[;,]", value):
                if item.strip().lower() == wanted:
                    return 1
        return -1

    @export("cmp_str", ("s1", K.SPVE), ("s2", K.SPVE))
    def cmp_str(self, ctx: Context, s1: str, s2: str) -> int:
        """1 when equal (case-sensitive); -1 when s1 sorts after s2, -2 before."""
        if s1 == s2:
            return 1
        return -1 if s1 > s2 else -2

    @export("cmp_istr", ("s1", K.SPVE), ("s2", K.SPVE))
    def cmp_istr(self, ctx: Context, s1: str, s2: str) -> int:
        """1 when equal ignoring case; -1 when s1 sorts after s2, -2 before."""
        return self.cmp_str(ctx, s1.lower(), s2.lower())

    @export("starts_with", ("s1", K.SPVE), ("s2", K.SPVE))
    def starts_with(self, ctx: Context, s1: str, s2: str) -> int:
        """1 when s1 starts with s2, else -1."""
        return 1 if str(s1).startswith(str(s2)) else -1

    @export("ends_with", ("s1", K.SPVE), ("s2", K.SPVE))
    def ends_with(self, ctx: Context, s1: str, s2: str) -> int:
        """1 when s1 ends with s2, else -1."""
        return 1 if str(s1).endswith(str(s2)) else -1

    # ------------------------------------------------------------ header edits

    @export("append_hf", ("txt", K.SPVE), ("hdr", K.STR, True))
    def append_hf(self, ctx: Context, txt: str, hdr: str = "") -> int:
        """Add header text after the last header, or after the first ``hdr`` header."""
        msg, data = ctx.msg, _header_line(txt)
        if not data:
            return -1
        if not hdr:
            msg.add_raw_header_lines(data)
            return 1
        index = _header_index(msg, hdr)
        if index is None:
            return -1
        line_end = msg.header_span(index).line_end
        msg.splice(line_end, line_end, data)
        return 1

    @export("append_hf_hdr", ("txt", K.STR), ("hdr", K.STR), cfg=False)
    def append_hf_hdr(self, ctx: Context, txt: str, hdr: str) -> int:
        """append_hf after the first header named ``hdr`` (KEMI form)."""
        return self.append_hf(ctx, txt, hdr)

    @export("insert_hf", ("txt", K.SPVE), ("hdr", K.STR, True))
    def insert_hf(self, ctx: Context, txt: str, hdr: str = "") -> int:
        """Add header text before the first header, or before the first ``hdr`` header."""
        msg, data = ctx.msg, _header_line(txt)
        if not data:
            return -1
        if not hdr:
            msg.add_raw_header_lines(data, top=True)
            return 1
        index = _header_index(msg, hdr)
        if index is None:
            return -1
        name_start = msg.header_span(index).name_start
        msg.splice(name_start, name_start, data)
        return 1

    @export("insert_hf_hdr", ("txt", K.STR), ("hdr", K.STR), cfg=False)
    def insert_hf_hdr(self, ctx: Context, txt: str, hdr: str) -> int:
        """insert_hf before the first header named ``hdr`` (KEMI form)."""
        return self.insert_hf(ctx, txt, hdr)

    @export("remove_hf", ("name", K.SPVE))
    def remove_hf(self, ctx: Context, name: str) -> int:
        """Remove every header with this name: how many were removed, -1 when none."""
        return ctx.msg.remove_header(name) or -1

    @export("remove_hf_re", ("regex", K.STR))
    def remove_hf_re(self, ctx: Context, regex: str) -> int:
        """Remove every header whose name matches: how many were removed, -1 when none."""
        rx = posix_regex(regex)
        msg = ctx.msg
        count = 0
        for header in msg.headers():
            if rx.search(header.name):
                msg.remove_header_at(header.index)
                count += 1
        return count or -1

    @export("append_to_reply", ("txt", K.SPVE))
    def append_to_reply(self, ctx: Context, txt: str) -> int:
        """Add header text to the replies ksrpy generates for this request (sl, auth ...)."""
        lines = [line for line in txt.replace("\r\n", "\n").split("\n") if line.strip()]
        if not lines:
            return -1
        ctx.reply_lumps.extend(lines)
        return 1

    # ------------------------------------------------------------- text edits

    @export("search_append", ("regex", K.STR), ("txt", K.SPVE))
    def search_append(self, ctx: Context, regex: str, txt: str) -> int:
        """Insert ``txt`` after the first match in the message; -1 when nothing matches."""
        msg = ctx.msg
        text = decode(msg.raw)
        m = posix_regex(regex).search(text)
        if m is None:
            return -1
        pos = _offsets(text, msg.raw)(m.end())
        msg.splice(pos, pos, encode(txt))
        return 1

    def _replace_in_message(self, ctx: Context, found: list[tuple[int, int, str]],
                            text: str, base: int) -> int:
        msg = ctx.msg
        to_byte = _offsets(text, msg.raw[base:])
        for start, end, repl in found:
            msg.splice(base + to_byte(start), base + to_byte(end), encode(repl))
        return 1 if found else -1

    def _after_first_line(self, ctx: Context) -> tuple[str, int]:
        base = ctx.msg.headers_start  # just after the start line (Kamailio's get_header())
        return decode(ctx.msg.raw[base:]), base

    @export("replace", ("regex", K.STR), ("txt", K.SPVE))
    def replace(self, ctx: Context, regex: str, txt: str) -> int:
        """Replace the first match after the start line with ``txt``; -1 when none."""
        text, base = self._after_first_line(ctx)
        m = posix_regex(regex).search(text)
        found = [(m.start(), m.end(), txt)] if m else []
        return self._replace_in_message(ctx, found, text, base)

    @export("replace_all", ("regex", K.STR), ("txt", K.SPVE))
    def replace_all(self, ctx: Context, regex: str, txt: str) -> int:
        """Replace every match after the start line with ``txt``; -1 when none."""
        text, base = self._after_first_line(ctx)
        found = [(m.start(), m.end(), txt) for m in posix_regex(regex).finditer(text)
                 if m.end() > m.start()]
        return self._replace_in_message(ctx, found, text, base)

    @export("subst", ("subst", K.STR))
    def subst(self, ctx: Context, subst: str) -> int:
        """sed-like ``/re/repl/flags`` on the headers and body; 1 when replaced, else -1."""
        expr = parse_subst(subst)
        text, base = self._after_first_line(ctx)
        return self._replace_in_message(ctx, expr.run(text, ctx), text, base)

    @export("subst_uri", ("subst", K.STR))
    def subst_uri(self, ctx: Context, subst: str) -> int:
        """sed-like substitution on the Request-URI; 1 when it changed, else -1."""
        if not ctx.msg.is_request:
            return -1
        result = parse_subst(subst).sub(ctx.ruri, ctx)
        if result is None:
            return -1
        ctx.new_ruri = result
        return 1

    @export("subst_user", ("subst", K.STR))
    def subst_user(self, ctx: Context, subst: str) -> int:
        """sed-like substitution on the Request-URI user (empty when none); 1 when changed."""
        uri = ctx.ruri_uri()
        if uri is None or not uri.is_sip:
            return -1
        result = parse_subst(subst).sub(uri.user or "", ctx)
        if result is None:
            return -1
        user = result or None
        try:
            ctx.new_ruri = str(uri.replace(user=user, password=uri.password if user else None))
        except SIPError:
            return -1
        return 1

    @export("subst_body", ("subst", K.STR))
    def subst_body(self, ctx: Context, subst: str) -> int:
        """sed-like substitution on the body (Content-Length follows); 1 when replaced."""
        msg = ctx.msg
        if not msg.body:
            return -1
        result = parse_subst(subst).sub(decode(msg.body), ctx)
        if result is None:
            return -1
        msg.set_body(encode(result))
        return 1

    @export("set_body", ("txt", K.SPVE), ("ctype", K.SPVE))
    def set_body(self, ctx: Context, txt: str, ctype: str) -> int:
        """Replace the body, Content-Type and Content-Length of the message."""
        if not ctype:
            return -1
        ctx.msg.set_body(encode(txt), ctype)
        return 1

    @export("set_reply_body", ("txt", K.SPVE), ("ctype", K.SPVE))
    def set_reply_body(self, ctx: Context, txt: str, ctype: str) -> int:
        """Set the body of the reply ksrpy will generate (kept in ctx.extra['reply_body'])."""
        if not ctype or not ctx.msg.is_request:
            return -1
        ctx.extra["reply_body"] = (encode(txt), ctype)
        return 1
