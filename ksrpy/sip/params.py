"""Parameter lists (``;name=value;flag``) and quote-aware splitting, shared by the header parsers.

Two grammars share one ``Params`` type:

* header parameters (RFC 3261 §25.1 ``generic-param``): ``token [EQUAL gen-value]``
  with ``gen-value = token / host / quoted-string`` and optional whitespace around
  ``;`` and ``=`` (``SEMI``/``EQUAL`` are ``SWS x SWS``);
* URI parameters (RFC 3261 §19.1.1, ``uri-parameter``; RFC 3966 §3 ``par``):
  ``pname ["=" pvalue]`` made of ``paramchar`` (no whitespace, no quoting,
  ``%HH`` escapes).

Values are stored as written (``raw``) so ``str(params)`` gives them back; ``get``
returns quoted strings unquoted and unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote as _pct_quote
from urllib.parse import unquote as _pct_unquote

from .errors import SIPParseError, SIPUsageError

__all__ = [
    "Params",
    "EMPTY_PARAMS",
    "EMPTY_URI_PARAMS",
    "parse_params",
    "parse_header_params",
    "parse_uri_params",
    "split_quoted",
    "split_header_values",
    "unfold",
    "quote_string",
    "unquote_string",
    "is_token",
    "show",
]

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
# gen-value = token / host / quoted-string: host adds ":" "[" "]" (IPv6, RFC 5118 §4.5
# shows received=[2001:db8::9:255]).
_GENVALUE_CHARS = TOKEN_CHARS + r"\[\]:"
# RFC 3261 §25.1: paramchar = param-unreserved / unreserved / escaped;
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"; unreserved = alphanum / mark;
# mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")". RFC 3966 §3 pvalue is the same set.
PARAMCHARS = r"A-Za-z0-9\-_.!~*'()\[\]/:&+$"
_PARAMCHAR_SAFE = "-_.!~*'()[]/:&+$"
_ESC = r"%[0-9A-Fa-f]{2}"

# RFC 3261 §25.1: quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE;
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII (controls other than HT excluded);
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F). Non-ASCII after "\" is tolerated.
QUOTED_RE = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\r\n])*"'

_TOKEN_RE = re.compile(f"[{TOKEN_CHARS}]+")
_GENVALUE_RE = re.compile(f"[{_GENVALUE_CHARS}]+")
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_NEEDS_ESCAPE_RE = re.compile(r'[\\"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
# The rest of a quoted string after its opening quote, for splitting (content not validated).
_QUOTED_TAIL_RE = re.compile(r'(?:[^"\\]|\\.)*"', re.S)

# One header parameter: SEMI pname [EQUAL (gen-value / quoted-string)].
_HPARAM_RE = re.compile(
    rf"[ \t]*;[ \t]*([{TOKEN_CHARS}]+)"
    rf"(?:[ \t]*=[ \t]*(?:([{_GENVALUE_CHARS}]+)|({QUOTED_RE})))?[ \t]*"
)
# A header parameter list without blanks or quoted strings (parse_header_params' fast path).
_SIMPLE_HPARAMS_RE = re.compile(rf"(?:;[{TOKEN_CHARS}]+(?:=[{_GENVALUE_CHARS}]+)?)+")
# A whole URI parameter list (names/values may be empty here; emptiness is checked after
# splitting so the pattern stays free of nested quantifiers that could backtrack).
_PCHARS_ESC = f"[{PARAMCHARS}]*(?:{_ESC}[{PARAMCHARS}]*)*"
_URI_PARAMS_RE = re.compile(f"(?:;{_PCHARS_ESC}(?:={_PCHARS_ESC})?)*")
_URI_PCHARS_RE = re.compile(_PCHARS_ESC)

# RFC 3261 §7.3.1: a folded line (CRLF followed by SP/HTAB) is LWS, which a recipient may
# replace with a single SP before interpreting the value.
_FOLD_RE = re.compile(r"[ \t]*\r?\n[ \t]+")

_SPLIT_SPECIALS: dict[str, re.Pattern[str]] = {}
_URI_PARAMS_CACHE: dict[str, Params] = {}
_URI_PARAMS_CACHE_SIZE = 512


def show(text: str, limit: int = 60) -> str:
    """Return ``text`` shortened and repr()-quoted for an error message."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def unfold(text: str) -> str:
    """Replace folded line breaks with one space; reject any other CR or LF."""
    if "\n" not in text and "\r" not in text:
        return text
    text = _FOLD_RE.sub(" ", text)
    if "\n" in text or "\r" in text:
        raise SIPParseError(
            f"line break that is not a header fold (CRLF + SP/HTAB) in {show(text)}"
            " (RFC 3261 §7.3.1)",
            400,
        )
    return text


def is_token(text: str) -> bool:
    """True when ``text`` is an RFC 3261 token."""
    return _TOKEN_RE.fullmatch(text) is not None


def unquote_string(quoted: str) -> str:
    """Strip the quotes of a quoted-string and undo its backslash escapes (quoted-pair)."""
    inner = quoted[1:-1]
    if "\\" in inner:
        inner = _UNESCAPE_RE.sub(r"\1", inner)
    return inner


def quote_string(value: str) -> str:
    """Return ``value`` as an RFC 3261 quoted-string; CR and LF cannot be represented."""
    if "\r" in value or "\n" in value:
        raise SIPUsageError(f"CR/LF cannot appear in a quoted string: {show(value)}")
    if _NEEDS_ESCAPE_RE.search(value):
        value = _NEEDS_ESCAPE_RE.sub(lambda m: "\\" + m.group(0), value)
    return f'"{value}"'


def _lower_name(name: str) -> str:
    """Lower-case key of a parameter name (``%HH`` escapes decoded, RFC 3261 §19.1.4)."""
    if "%" in name:
        name = _pct_unquote(name, errors="replace")
    return name.lower()


# An entry: (lower-cased name, name as written, value, raw value as written or None).
_Entry = tuple[str, str, "str | None", "str | None"]


class Params:
    """Immutable ordered list of parameters with case-insensitive lookup by name."""

    __slots__ = ("_entries", "_uri")

    def __init__(self, entries: tuple[_Entry, ...] = (), *, uri: bool = False) -> None:
        """Build from parsed entries; use ``parse_params`` or ``Params.of`` instead."""
        self._entries = entries
        self._uri = uri

    @classmethod
    def of(cls, *pairs: tuple[str, str | None], uri: bool = False) -> Params:
        """Build a list from ``(name, value)`` pairs (value None for a flag)."""
        result = cls(uri=uri)
        for name, value in pairs:
            result = result._append(name, value)
        return result

    @property
    def is_uri(self) -> bool:
        """True for URI parameters (``%``-escaping), False for header parameters (quoting)."""
        return self._uri

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of the first ``name`` (unquoted); None for a flag; ``default`` if absent."""
        key = name.lower()
        for entry in self._entries:
            if entry[0] == key:
                return entry[2]
        return default

    def get_raw(self, name: str) -> str | None:
        """Value of the first ``name`` exactly as written (quotes kept); None if absent/flag."""
        key = name.lower()
        for entry in self._entries:
            if entry[0] == key:
                return entry[3]
        return None

    def __getitem__(self, name: str) -> str | None:
        """Value of ``name``; KeyError when absent."""
        key = name.lower()
        for entry in self._entries:
            if entry[0] == key:
                return entry[2]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        """True when a parameter of that name (any case) is present."""
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(entry[0] == key for entry in self._entries)

    def __iter__(self) -> Iterator[str]:
        """Iterate over the names as written."""
        return (entry[1] for entry in self._entries)

    def __len__(self) -> int:
        """Number of parameters."""
        return len(self._entries)

    def __bool__(self) -> bool:
        """True when not empty."""
        return bool(self._entries)

    def items(self) -> list[tuple[str, str | None]]:
        """``(name as written, value)`` pairs in order."""
        return [(entry[1], entry[2]) for entry in self._entries]

    def keys(self) -> list[str]:
        """Names as written, in order."""
        return [entry[1] for entry in self._entries]

    def set(self, name: str, value: str | None) -> Params:
        """Return a copy with ``name`` set (in place of the first one, duplicates dropped)."""
        entry = self._make_entry(name, value)
        key = entry[0]
        out: list[_Entry] = []
        done = False
        for old in self._entries:
            if old[0] == key:
                if not done:
                    out.append(entry)
                    done = True
            else:
                out.append(old)
        if not done:
            out.append(entry)
        return Params(tuple(out), uri=self._uri)

    def remove(self, name: str) -> Params:
        """Return a copy without any parameter called ``name``."""
        key = name.lower()
        return Params(tuple(e for e in self._entries if e[0] != key), uri=self._uri)

    def _append(self, name: str, value: str | None) -> Params:
        """Return a copy with ``name`` appended (even if already present)."""
        return Params((*self._entries, self._make_entry(name, value)), uri=self._uri)

    def _make_entry(self, name: str, value: str | None) -> _Entry:
        """Validate ``name`` and encode ``value`` for this kind of list."""
        if self._uri:
            if not name or _URI_PCHARS_RE.fullmatch(name) is None:
                raise SIPUsageError(f"invalid URI parameter name {show(name)}")
            if value is None:
                return (_lower_name(name), name, None, None)
            if value == "":
                raise SIPUsageError(f"URI parameter {name!r} needs a non-empty value")
            raw = value
            if _URI_PCHARS_RE.fullmatch(value) is None:
                raw = _pct_quote(value, safe=_PARAMCHAR_SAFE)
            return (_lower_name(name), name, raw, raw)
        if _TOKEN_RE.fullmatch(name) is None:
            raise SIPUsageError(f"invalid header parameter name {show(name)} (must be a token)")
        if value is None:
            return (name.lower(), name, None, None)
        raw = value if _GENVALUE_RE.fullmatch(value) else quote_string(value)
        return (name.lower(), name, value, raw)

    def __str__(self) -> str:
        """Serialise as ``;name=value;flag`` (empty string when empty)."""
        return "".join(
            f";{entry[1]}" if entry[3] is None else f";{entry[1]}={entry[3]}"
            for entry in self._entries
        )

    def __repr__(self) -> str:
        """Debug form."""
        return f"Params({str(self)!r})"

    def _key(self) -> tuple[tuple[str, str | None], ...]:
        """Comparison key: lower-cased names and raw values."""
        return tuple((entry[0], entry[3]) for entry in self._entries)

    def __eq__(self, other: object) -> bool:
        """Same names (any case) with the same values, in the same order."""
        if not isinstance(other, Params):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        """Hash consistent with ``__eq__``."""
        return hash(self._key())


EMPTY_PARAMS = Params()
EMPTY_URI_PARAMS = Params(uri=True)


def _diagnose_header_params(text: str, pos: int) -> SIPParseError:
    """Explain why the header parameter list ``text`` fails to parse at ``pos``."""
    rest = text[pos:].lstrip(" \t")
    if not rest.startswith(";"):
        if pos > 0 and len(rest) == len(text) - pos and text[pos - 1] not in " \t":
            return SIPParseError(
                f"invalid character {rest[0]!r} in parameters {show(text)} (names and values"
                " are tokens; quote other values, RFC 3261 §25.1)",
                400,
            )
        return SIPParseError(f"expected ';' before {show(rest)} in parameters {show(text)}", 400)
    rest = rest[1:].lstrip(" \t")
    m = _TOKEN_RE.match(rest)
    if m is None:
        if rest == "" or rest[0] in ";,":
            return SIPParseError(f"empty parameter name in {show(text)}", 400)
        return SIPParseError(
            f"invalid character {rest[0]!r} in parameter name in {show(text)}"
            " (names are tokens, RFC 3261 §25.1)",
            400,
        )
    name = m.group(0)
    after = rest[m.end() :].lstrip(" \t")
    if after.startswith("="):
        value = after[1:].lstrip(" \t")
        if value == "" or value[0] in ";,":
            return SIPParseError(
                f"parameter {name!r} has '=' but no value in {show(text)} (RFC 3261 §25.1)", 400
            )
        if value[0] == '"':
            return SIPParseError(
                f"unterminated quoted string or control character in the value of parameter"
                f" {name!r} in {show(text)}",
                400,
            )
        bad = re.search(f"[^{_GENVALUE_CHARS}]", value)
        ch = value[bad.start()] if bad else value[0]
        return SIPParseError(
            f"invalid character {ch!r} in the value of parameter {name!r} in {show(text)}"
            " (use a token or a quoted string, RFC 3261 §25.1)",
            400,
        )
    ch = after[0] if after else "?"
    return SIPParseError(f"invalid character {ch!r} after parameter {name!r} in {show(text)}", 400)


def parse_header_params(text: str, pos: int = 0) -> Params:
    """Parse header parameters (``generic-param`` list) from ``text[pos:]``; folds already gone."""
    end = len(text)
    while end > pos and text[end - 1] in " \t":
        end -= 1
    if _SIMPLE_HPARAMS_RE.fullmatch(text, pos, end) is not None:
        # Fast path (most Via/To/From/Contact params): no blanks, no quotes, so ';' and '='
        # split exactly (neither is a token or gen-value character).
        simple: list[_Entry] = []
        for item in text[pos + 1 : end].split(";"):
            name, eq, value = item.partition("=")
            got = value if eq else None
            simple.append((name.lower(), name, got, got))
        return Params(tuple(simple))
    entries: list[_Entry] = []
    match = _HPARAM_RE.match
    prev = pos
    while pos < end:
        m = match(text, pos, end)
        if m is None:
            if text[pos:end].lstrip(" \t").startswith("="):
                pos = prev  # the previous name matched as a flag; its value is the problem
            raise _diagnose_header_params(text[:end], pos)
        prev = pos
        name, token_value, quoted = m.groups()
        if quoted is not None:
            entries.append((name.lower(), name, unquote_string(quoted), quoted))
        else:
            entries.append((name.lower(), name, token_value, token_value))
        pos = m.end()
    return Params(tuple(entries))


def parse_uri_params(text: str, start: int = 0, end: int | None = None) -> Params:
    """Parse URI parameters ``;pname[=pvalue]...`` from ``text[start:end]`` (RFC 3261 §19.1.1)."""
    if end is None:
        end = len(text)
    if start >= end:
        return EMPTY_URI_PARAMS
    # The same few lists (";lr", ";transport=tcp") recur in every message; Params is
    # immutable, so parsed lists are shared through a small bounded cache.
    key = text[start:end]
    cached = _URI_PARAMS_CACHE.get(key)
    if cached is not None:
        return cached
    if _URI_PARAMS_RE.fullmatch(text, start, end) is None:
        part = text[start:end]
        if not part.startswith(";"):
            raise SIPParseError(f"expected ';' before URI parameters {show(part)}", 400)
        bad = re.search(f"[^{PARAMCHARS}=;%]|%(?![0-9A-Fa-f]{{2}})|=[^;]*=", part)
        if bad is not None and bad.group(0) == "%":
            why = "'%' must start a %HH escape"
        elif bad is not None and bad.group(0)[0] == "=":
            why = "a second '=' in one parameter"
        else:
            why = f"invalid character {part[bad.start()] if bad else part!r}"
        raise SIPParseError(
            f"{why} in URI parameters {show(part)}"
            " (allowed: unreserved, []/:&+$ and %HH escapes, RFC 3261 §19.1.1)",
            400,
        )
    entries: list[_Entry] = []
    for item in text[start + 1 : end].split(";"):
        name, eq, value = item.partition("=")
        if not name:
            raise SIPParseError(f"empty URI parameter name in {show(text[start:end])}", 400)
        if eq:
            if not value:
                raise SIPParseError(
                    f"URI parameter {name!r} has '=' but no value (RFC 3261 §19.1.1)", 400
                )
            entries.append((_lower_name(name), name, value, value))
        else:
            entries.append((_lower_name(name), name, None, None))
    result = Params(tuple(entries), uri=True)
    if len(_URI_PARAMS_CACHE) >= _URI_PARAMS_CACHE_SIZE:
        _URI_PARAMS_CACHE.clear()
    _URI_PARAMS_CACHE[key] = result
    return result


def parse_params(text: str, *, uri: bool = False) -> Params:
    """Parse a ``;name=value;flag`` list (leading ';' optional); ``uri=True`` for URI params."""
    if uri:
        if text and text[0] != ";":
            text = ";" + text
        return parse_uri_params(text)
    text = unfold(text)
    stripped = text.lstrip(" \t")
    if stripped and stripped[0] != ";":
        text = ";" + stripped
    return parse_header_params(text)


def split_quoted(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep`` outside quoted strings and ``<...>``; pieces are not stripped."""
    if not sep or sep in '"<>':
        raise SIPUsageError(f"cannot split on {sep!r}")
    if '"' not in text and "<" not in text:
        return text.split(sep)
    special = _SPLIT_SPECIALS.get(sep)
    if special is None:
        special = re.compile('"|<|' + re.escape(sep))
        _SPLIT_SPECIALS[sep] = special
    parts: list[str] = []
    start = pos = 0
    search = special.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        i = m.start()
        ch = text[i]
        if ch == '"':
            q = _QUOTED_TAIL_RE.match(text, i + 1)
            if q is None:
                raise SIPParseError(f"unterminated quoted string in {show(text)}", 400)
            pos = q.end()
        elif ch == "<":
            j = text.find(">", i + 1)
            if j < 0:
                raise SIPParseError(f"'<' without a matching '>' in {show(text)}", 400)
            pos = j + 1
        else:
            parts.append(text[start:i])
            start = pos = i + len(sep)
    parts.append(text[start:])
    return parts


def split_header_values(text: str) -> list[str]:
    """Split a header value on commas outside quotes and <>; each piece stripped, none empty."""
    text = unfold(text)
    if "," not in text:
        one = text.strip(" \t")
        if not one:
            raise SIPParseError("empty header value", 400)
        return [one]
    parts = [p.strip(" \t") for p in split_quoted(text, ",")]
    for p in parts:
        if not p:
            # RFC 3261 §7.3.1 header lists are 1*(value) separated by COMMA; no empty items.
            raise SIPParseError(f"empty element in comma-separated list {show(text)}", 400)
    return parts
