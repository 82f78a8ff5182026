"""Kamailio transformations applied to a pseudo-variable value: ``$(ru{uri.user}{s.len})``.

``parse_transformations(text, pos)`` parses the consecutive ``{class.name,args}``
groups starting at ``pos`` once (script load); ``apply_all(ctx, value, transforms)``
runs them per message. Arguments are literals or pseudo-variables resolved once
at parse time (``{s.substr,0,$var(n)}``) and read at apply time.

Semantics follow Kamailio 5.6 (pv module, ``pv_trans.c``), checked against
kamailio 5.6.3 with ``xlog``:

* a null input makes every transformation fail, ``s.len`` included;
* a failing transformation (null input, ``s.int`` of ``"12abc"``, ``s.substr``
  out of range, an invalid URI for ``uri.*``, an empty value for ``uri.*``,
  ``param.*``, ``nameaddr.*``, ``tobody.*``, a PV argument of the wrong type)
  gives ``None``; Kamailio's xlog prints nothing for it (not ``<null>``) and an
  assignment from it resets the target as ``$null`` does;
* integer inputs are used as their decimal text by the string transformations;
* results are ``int`` for ``s.len``, ``s.int``, ``param.count``, ``nameaddr.len``,
  ``s.count`` and ``uri.port`` (when the URI has a port; ``""`` when it has none).

Strings are handled as Python text (characters), so ``s.len`` of non-ASCII text
counts characters where Kamailio counts bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from ..sip.errors import SIPError
from ..sip.message import decode, encode
from ..sip.nameaddr import NameAddr, parse_name_addr
from ..sip.uri import SipURI, parse_uri
from .pv import PV, PVError, locate_pv, resolve

if TYPE_CHECKING:
    from ..core.context import Context

__all__ = ["TransformError", "Transform", "parse_transformations", "apply_all", "CLASSES"]


class TransformError(ValueError):
    """An unknown transformation or malformed arguments (a script load-time error)."""


class _Fail(Exception):  # noqa: N818 - internal signal, never escapes apply()
    """A transformation failed at run time (Kamailio's -1): the result is null."""


Arg = Any  # a literal (int or str) or a resolved PV
Impl = Callable[["Context", Any, tuple[Arg, ...]], Any]


@dataclass(frozen=True)
class Transform:
    """One parsed transformation: ``name`` such as ``"s.substr"`` and its ``args``."""

    name: str
    args: tuple[Arg, ...]
    fn: Impl = field(compare=False, repr=False)

    def apply(self, ctx: Context, value: Any) -> Any:
        """The transformed value; None for a null input or a failure, as Kamailio."""
        if value is None:
            return None
        try:
            return self.fn(ctx, value, self.args)
        except _Fail:
            return None


def apply_all(ctx: Context, value: Any, transforms: Sequence[Transform]) -> Any:
    """Apply the transformations in order; None as soon as one fails."""
    for t in transforms:
        if value is None:
            return None
        value = t.apply(ctx, value)
    return value


# ---------------------------------------------------------------- argument access


def _text(value: Any) -> str:
    """A value as text (ints as decimal)."""
    return value if isinstance(value, str) else str(value)


def _int_arg(ctx: Context, arg: Arg) -> int:
    """A numeric argument: a literal or a PV holding an integer."""
    if isinstance(arg, PV):
        value = arg.get(ctx)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Fail
        return value
    return arg


def _str_arg(ctx: Context, arg: Arg) -> str:
    """A string argument: a literal or a PV with a non-empty value."""
    if isinstance(arg, PV):
        value = arg.get(ctx)
        if value is None or value == "":
            raise _Fail
        return _text(value)
    return arg


# ------------------------------------------------------------------ string class

_WS = " \t\r\n"
_INT_RE = re.compile(r"[+-]?[0-9]*")


def _s_len(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    return len(_text(v))


def _s_int(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    if isinstance(v, int):
        return v
    if not v or _INT_RE.fullmatch(v) is None:
        raise _Fail
    return 0 if v in ("+", "-") else int(v)


def _ascii_map(lower: bool) -> Impl:
    table = str.maketrans(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if lower else "abcdefghijklmnopqrstuvwxyz",
        "abcdefghijklmnopqrstuvwxyz" if lower else "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    )

    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        return _text(v).translate(table)

    return fn


def _s_substr(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    s = _text(v)
    off, length = _int_arg(ctx, a[0]), _int_arg(ctx, a[1])
    if length < 0:
        raise _Fail
    n = len(s)
    if off >= 0:
        if off >= n:
            raise _Fail
        return s[off:] if length == 0 or off + length >= n else s[off : off + length]
    back = -off
    if back > n:
        raise _Fail
    start = n - back
    return s[start:] if length == 0 or back < length else s[start : start + length]


def _s_select(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    s, idx, sep = _text(v), _int_arg(ctx, a[0]), a[1]
    parts = s.split(sep)
    if idx < 0:
        idx += len(parts)
    return parts[idx] if 0 <= idx < len(parts) else ""


def _s_strip(tail: bool) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s, n = _text(v), _int_arg(ctx, a[0])
        if n <= 0:
            return s
        if n >= len(s):
            return ""
        return s[:-n] if tail else s[n:]

    return fn


def _hash(algo: str) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        return hashlib.new(algo, encode(_text(v))).hexdigest()

    return fn


def _b64_encode(url: bool, trim: bool) -> Impl:
    encoder = base64.urlsafe_b64encode if url else base64.b64encode

    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        out = encoder(encode(_text(v))).decode("ascii")
        return out.rstrip("=") if trim else out

    return fn


def _b64_decode(url: bool, pad: bool) -> Impl:
    decoder = base64.urlsafe_b64decode if url else base64.b64decode

    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s = _text(v)
        if pad and len(s) % 4:
            s += "=" * (4 - len(s) % 4)
        try:
            raw = decoder(s.encode("ascii", "replace"))
        except (binascii.Error, ValueError):
            raise _Fail from None
        if not raw and s:
            raise _Fail
        return decode(raw)

    return fn


def _s_encode_hexa(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return encode(_text(v)).hex()


def _s_decode_hexa(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    s = _text(v)
    try:
        return decode(bytes.fromhex(s[: len(s) - len(s) % 2]))
    except ValueError:
        raise _Fail from None


def _trim(how: str) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s = _text(v)
        if how == "l":
            return s.lstrip(_WS)
        if how == "r":
            return s.rstrip(_WS)
        return s.strip(_WS)

    return fn


def _s_replace(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    match, repl = _str_arg(ctx, a[0]), _str_arg(ctx, a[1])
    s = _text(v)
    return s.replace(match, repl) if match else s


def _s_rm(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    match = _str_arg(ctx, a[0])
    if not isinstance(a[0], PV) and "\\" in match:
        match = _unescape_rm(match)
    s = _text(v)
    return s.replace(match, "") if match else s


def _unescape_rm(text: str) -> str:
    """Backslash escapes of a literal ``s.rm`` argument (\\n \\r \\t \\\\)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), text)


def _s_ftime(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    stamp = v if isinstance(v, int) else _s_int(ctx, v, a)
    return time.strftime(_str_arg(ctx, a[0]), time.localtime(stamp))


def _s_numeric(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    if not isinstance(v, str):
        raise _Fail
    return "".join(c for c in v if "0" <= c <= "9")


def _s_rmws(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return "".join(c for c in _text(v) if c not in _WS)


def _s_unquote(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    s = _text(v)
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


_BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _s_unbracket(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    s = _text(v)
    if len(s) >= 2 and _BRACKETS.get(s[0]) == s[-1]:
        return s[1:-1]
    return s


def _char_arg(ctx: Context, arg: Arg) -> str:
    """The first character of a string argument."""
    text = _str_arg(ctx, arg)
    if not text:
        raise _Fail
    return text[0]


def _s_count(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    return _text(v).count(_char_arg(ctx, a[0]))


def _s_before(reverse: bool) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s, c = _text(v), _char_arg(ctx, a[0])
        i = s.rfind(c) if reverse else s.find(c)
        return s if i < 0 else s[:i]

    return fn


def _s_after(reverse: bool) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s, c = _text(v), _char_arg(ctx, a[0])
        i = s.rfind(c) if reverse else s.find(c)
        return "" if i < 0 else s[i + 1 :]

    return fn


def _s_prefixes(quoted: bool) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        s = _text(v)
        limit = len(s)
        if a:
            n = _int_arg(ctx, a[0])
            if 0 < n < limit:
                limit = n
        fmt = "'{}'" if quoted else "{}"
        return ",".join(fmt.format(s[:i]) for i in range(1, limit + 1))

    return fn


_ESCAPE_COMMON = {"'": "\\'", '"': '\\"', "\\": "\\\\", "\0": "\\0"}


def _s_escape_common(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return "".join(_ESCAPE_COMMON.get(c, c) for c in _text(v))


def _s_unescape_common(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return re.sub(r"\\(.)", lambda m: "\0" if m[1] == "0" else m[1], _text(v))


def _s_urlencode(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return quote(_text(v), safe="-_.~")


def _s_urldecode(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return unquote(_text(v).replace("+", " "), errors="surrogateescape")


# --------------------------------------------------------------------- uri class


@lru_cache(maxsize=256)
def _parse_uri_cached(text: str) -> SipURI | None:
    """Parse a URI for the uri.* class (None when invalid); a trailing ';' is tolerated."""
    if len(text) > 4 and text.endswith(";"):
        text = text[:-1]
    try:
        return parse_uri(text)
    except SIPError:
        return None


def _uri(v: Any) -> SipURI:
    """The value parsed as a URI; a failure for an empty value or an invalid URI."""
    if not isinstance(v, str) or not v:
        raise _Fail
    uri = _parse_uri_cached(v)
    if uri is None:
        raise _Fail
    return uri


def _uri_params_text(uri: SipURI) -> str:
    """URI parameters without the leading ';' ('' for tel and other schemes, as Kamailio)."""
    return str(uri.params)[1:] if uri.is_sip else ""


def _uri_param_value(uri: SipURI, name: str) -> str:
    """A sip/sips URI parameter's value ('' for a flag or when absent)."""
    if not uri.is_sip:
        return ""
    return uri.params.get(name) or ""


def _uri_user(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _uri(v).user or ""


def _uri_host(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _uri(v).host


def _uri_passwd(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _uri(v).password or ""


def _uri_port(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int | str:
    port = _uri(v).port
    return "" if port is None else port


def _uri_params(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _uri_params_text(_uri(v))


def _uri_param(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    uri = _uri(v)
    if not _uri_params_text(uri):
        return ""
    return _uri_param_value(uri, _str_arg(ctx, a[0]))


def _uri_named_param(name: str) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        return _uri_param_value(_uri(v), name)

    return fn


def _uri_headers(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _uri(v).headers or ""


def _uri_scheme(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    _uri(v)
    return v.partition(":")[0]


def _uri_rmparam(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    uri = _uri(v)
    name = _str_arg(ctx, a[0])
    if not uri.is_sip or name not in uri.params:
        return v
    return str(uri.replace(params=uri.params.remove(name)))


def _uri_tosocket(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    uri = _uri(v)
    proto = (_uri_param_value(uri, "transport") or ("tls" if uri.scheme == "sips" else "udp"))
    return f"{proto.lower()}:{uri.host}:{uri.port or 5060}"


def _uri_compose(with_user: bool, with_port: bool) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        uri = _uri(v)
        out = [v.partition(":")[0], ":"]
        if with_user and uri.user:
            out += [uri.user, "@"]
        out.append(uri.host)
        if with_port:
            if uri.port is not None:
                out.append(f":{uri.port}")
            transport = _uri_param_value(uri, "transport")
            if transport:
                out.append(f";transport={transport}")
        return "".join(out)

    return fn


# ------------------------------------------------------------------- param class


def _split_params(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    out: list[str] = []
    start = 0
    quoted = False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == sep and not quoted:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


@lru_cache(maxsize=256)
def _param_list(text: str, sep: str) -> tuple[tuple[str, str], ...]:
    """``name=value`` pairs of a parameter list (values unquoted, '' for flags)."""
    if len(text) > 1 and text.endswith(sep):
        text = text[:-1]
    pairs = []
    for item in _split_params(text, sep):
        name, _eq, value = item.partition("=")
        value = value.strip(_WS)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs.append((name.strip(_WS), value))
    return tuple(pairs)


def _params_of(v: Any, sep: str) -> tuple[tuple[str, str], ...]:
    """The parameter list of a non-empty string value."""
    if not isinstance(v, str) or not v:
        raise _Fail
    return _param_list(v, sep)


def _sep(ctx: Context, a: tuple[Arg, ...], i: int) -> str:
    """The separator argument at ``a[i]`` (';' when absent)."""
    return _char_arg(ctx, a[i]) if len(a) > i else ";"


def _pl_value(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    pairs = _params_of(v, _sep(ctx, a, 1))
    name = _str_arg(ctx, a[0]).lower()
    return next((value for n, value in pairs if n.lower() == name), "")


def _pl_in(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    pairs = _params_of(v, _sep(ctx, a, 1))
    name = _str_arg(ctx, a[0]).lower()
    return 1 if any(n.lower() == name for n, _value in pairs) else 0


def _pl_at(part: int) -> Impl:
    def fn(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
        pairs = _params_of(v, _sep(ctx, a, 1))
        idx = _int_arg(ctx, a[0])
        if idx < 0:
            idx += len(pairs)
        return pairs[idx][part] if 0 <= idx < len(pairs) else ""

    return fn


def _pl_count(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    return len(_params_of(v, _sep(ctx, a, 0)))


# ---------------------------------------------------------- nameaddr and tobody


def _find_unquoted(text: str, char: str) -> int:
    """Index of the first ``char`` outside double quotes, -1 when none."""
    quoted = False
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return i
    return -1


def _nameaddr(v: Any) -> tuple[str, str, int]:
    """(name as written before '<', URI, length up to '>') of a name-addr value."""
    if not isinstance(v, str) or not v:
        raise _Fail
    lt = _find_unquoted(v, "<")
    if lt < 0:
        return "", v, len(v)
    gt = v.find(">", lt + 1)
    if gt < 0:
        raise _Fail
    return v[:lt], v[lt + 1 : gt], gt + 1


def _na_uri(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _nameaddr(v)[1]


def _na_name(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _nameaddr(v)[0]


def _na_len(ctx: Context, v: Any, a: tuple[Arg, ...]) -> int:
    return _nameaddr(v)[2]


@lru_cache(maxsize=256)
def _parse_tobody(text: str) -> NameAddr | None:
    """A To/From-like value parsed (None when invalid)."""
    try:
        return parse_name_addr(text)
    except SIPError:
        return None


def _tobody(v: Any) -> NameAddr:
    if not isinstance(v, str) or not v:
        raise _Fail
    na = _parse_tobody(v)
    if na is None:
        raise _Fail
    return na


def _tb_uri(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return str(_tobody(v).uri)


def _tb_user(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _tobody(v).uri.user or ""


def _tb_host(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _tobody(v).uri.host


def _tb_tag(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return _tobody(v).tag or ""


def _tb_display(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    _tobody(v)
    lt = _find_unquoted(v, "<")
    return v[:lt].strip(_WS) if lt >= 0 else ""


def _tb_params(ctx: Context, v: Any, a: tuple[Arg, ...]) -> str:
    return str(_tobody(v).params)[1:]


# ------------------------------------------------------------------ the catalogue


@dataclass(frozen=True)
class _Spec:
    """How to parse and run one transformation: argument kinds and the implementation."""

    fn: Impl
    kinds: str = ""  # one char per argument: n number, s string, m string (may be ','),
    # c select separator, p one-char separator; upper case = optional


def _spec(fn: Impl, kinds: str = "") -> _Spec:
    return _Spec(fn, kinds)


#: Transformation classes: class -> name (lower case) -> spec.
CLASSES: dict[str, dict[str, _Spec]] = {
    "s": {
        "len": _spec(_s_len),
        "int": _spec(_s_int),
        "md5": _spec(_hash("md5")),
        "sha256": _spec(_hash("sha256")),
        "sha384": _spec(_hash("sha384")),
        "sha512": _spec(_hash("sha512")),
        "tolower": _spec(_ascii_map(True)),
        "toupper": _spec(_ascii_map(False)),
        "substr": _spec(_s_substr, "nn"),
        "select": _spec(_s_select, "nc"),
        "strip": _spec(_s_strip(False), "n"),
        "striptail": _spec(_s_strip(True), "n"),
        "encode.base64": _spec(_b64_encode(False, False)),
        "decode.base64": _spec(_b64_decode(False, False)),
        "encode.base64t": _spec(_b64_encode(False, True)),
        "decode.base64t": _spec(_b64_decode(False, True)),
        "encode.base64url": _spec(_b64_encode(True, False)),
        "decode.base64url": _spec(_b64_decode(True, False)),
        "encode.base64urlt": _spec(_b64_encode(True, True)),
        "decode.base64urlt": _spec(_b64_decode(True, True)),
        "encode.hexa": _spec(_s_encode_hexa),
        "decode.hexa": _spec(_s_decode_hexa),
        "escape.common": _spec(_s_escape_common),
        "unescape.common": _spec(_s_unescape_common),
        "urlencode.param": _spec(_s_urlencode),
        "urldecode.param": _spec(_s_urldecode),
        "trim": _spec(_trim("")),
        "rtrim": _spec(_trim("r")),
        "ltrim": _spec(_trim("l")),
        "replace": _spec(_s_replace, "ss"),
        "rm": _spec(_s_rm, "s"),
        "ftime": _spec(_s_ftime, "s"),
        "numeric": _spec(_s_numeric),
        "rmws": _spec(_s_rmws),
        "unquote": _spec(_s_unquote),
        "unbracket": _spec(_s_unbracket),
        "count": _spec(_s_count, "m"),
        "before": _spec(_s_before(False), "m"),
        "rbefore": _spec(_s_before(True), "m"),
        "after": _spec(_s_after(False), "m"),
        "rafter": _spec(_s_after(True), "m"),
        "prefixes": _spec(_s_prefixes(False), "N"),
        "prefixes.quoted": _spec(_s_prefixes(True), "N"),
    },
    "uri": {
        "user": _spec(_uri_user),
        "host": _spec(_uri_host),
        "domain": _spec(_uri_host),
        "passwd": _spec(_uri_passwd),
        "port": _spec(_uri_port),
        "params": _spec(_uri_params),
        "param": _spec(_uri_param, "s"),
        "rmparam": _spec(_uri_rmparam, "s"),
        "headers": _spec(_uri_headers),
        "transport": _spec(_uri_named_param("transport")),
        "ttl": _spec(_uri_named_param("ttl")),
        "uparam": _spec(_uri_named_param("user")),
        "maddr": _spec(_uri_named_param("maddr")),
        "method": _spec(_uri_named_param("method")),
        "lr": _spec(_uri_named_param("lr")),
        "r2": _spec(_uri_named_param("r2")),
        "scheme": _spec(_uri_scheme),
        "tosocket": _spec(_uri_tosocket),
        "duri": _spec(_uri_compose(False, True)),
        "saor": _spec(_uri_compose(True, False)),
        "suri": _spec(_uri_compose(True, True)),
    },
    "param": {
        "value": _spec(_pl_value, "sP"),
        "in": _spec(_pl_in, "sP"),
        "valueat": _spec(_pl_at(1), "nP"),
        "name": _spec(_pl_at(0), "nP"),
        "count": _spec(_pl_count, "M"),
    },
    "nameaddr": {
        "uri": _spec(_na_uri),
        "name": _spec(_na_name),
        "len": _spec(_na_len),
    },
    "tobody": {
        "uri": _spec(_tb_uri),
        "user": _spec(_tb_user),
        "host": _spec(_tb_host),
        "tag": _spec(_tb_tag),
        "display": _spec(_tb_display),
        "params": _spec(_tb_params),
    },
}


# ----------------------------------------------------------------------- parsing

_SKIP = " \t\n"
_SELECT_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SKIP:
        pos += 1
    return pos


class _Parser:
    """Parses one ``{class.name,args}`` group; ``pos`` is just after the '{'."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.start = pos - 1

    def fail(self, why: str) -> TransformError:
        """An error naming the transformation being parsed."""
        end = self.text.find("}", self.start)
        shown = self.text[self.start : end + 1 if end >= 0 else len(self.text)]
        return TransformError(f"{why} in transformation {shown!r}")

    def parse(self) -> Transform:
        """The transformation; ``self.pos`` ends just after its '}'."""
        text = self.text
        dot = text.find(".", self.pos)
        if dot <= self.pos or any(c in "},$" for c in text[self.pos : dot]):
            raise self.fail("missing transformation class (expected e.g. {s.len})")
        cls = text[self.pos : dot]
        table = CLASSES.get(cls)
        if table is None:
            raise self.fail(f"unknown transformation class {cls!r}")
        self.pos = dot + 1
        while self.pos < len(text) and text[self.pos] not in ",}":
            self.pos += 1
        if self.pos >= len(text):
            raise self.fail("unterminated transformation")
        name = text[dot + 1 : self.pos].strip(_WS).lower()
        spec = table.get(name)
        if spec is None:
            raise self.fail(f"unknown transformation '{cls}.{name}'")
        args = self.parse_args(spec.kinds)
        self.pos = _skip_ws(text, self.pos)
        if self.pos >= len(text) or text[self.pos] != "}":
            raise self.fail(f"bad arguments for '{cls}.{name}' (expected '}}')")
        self.pos += 1
        full = f"{cls}.{name}"
        _check(full, args, self)
        return Transform(full, args, spec.fn)

    def parse_args(self, kinds: str) -> tuple[Arg, ...]:
        """The arguments, one per kind character."""
        args: list[Arg] = []
        for kind in kinds:
            self.pos = _skip_ws(self.text, self.pos)
            at = self.text[self.pos : self.pos + 1]
            if at != ",":
                if kind.isupper():
                    break
                raise self.fail("missing argument")
            self.pos += 1
            args.append(self.parse_arg(kind.lower()))
        return tuple(args)

    def parse_arg(self, kind: str) -> Arg:
        """One argument of the given kind."""
        if kind == "c":
            return self.parse_select_sep()
        self.pos = _skip_ws(self.text, self.pos)
        if self.text.startswith("$", self.pos):
            return self.parse_pv()
        if kind == "n":
            return self.parse_number()
        value = self.parse_string(kind == "m")
        if kind == "p" and len(value) != 1:
            raise self.fail("the separator must be one character")
        return value

    def parse_pv(self) -> PV:
        """A pseudo-variable argument."""
        try:
            end = locate_pv(self.text, self.pos)
            pv = resolve(self.text[self.pos : end])
        except PVError as exc:
            raise self.fail(f"bad pseudo-variable argument: {exc}") from None
        self.pos = end
        return pv

    def parse_number(self) -> int:
        """A literal integer (sign, optional blanks, digits)."""
        text = self.text
        if self.pos >= len(text) or text[self.pos] not in "+-0123456789":
            raise self.fail("expected a number or a pseudo-variable")
        sign = -1 if text[self.pos] == "-" else 1
        if text[self.pos] in "+-":
            self.pos = _skip_ws(text, self.pos + 1)
        start = self.pos
        while self.pos < len(text) and text[self.pos].isdigit():
            self.pos += 1
        return sign * int(text[start : self.pos] or "0")

    def parse_string(self, comma_ok: bool) -> str:
        """A literal string up to ',', '}', TAB or LF (a ',' kept when ``comma_ok``)."""
        text = self.text
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in ",}\t\n":
            self.pos += 1
        if self.pos >= len(text):
            raise self.fail("unterminated argument")
        if comma_ok and text[self.pos] == ",":
            self.pos += 1
        return text[start : self.pos]

    def parse_select_sep(self) -> str:
        """The one-character separator of s.select (\\\\ \\n \\r \\t escapes)."""
        text = self.text
        if self.pos >= len(text) - 1:
            raise self.fail("missing separator")
        c = text[self.pos]
        self.pos += 1
        if c == "\\":
            esc = text[self.pos : self.pos + 1]
            if esc not in _SELECT_ESCAPES:
                raise self.fail(f"unexpected escape '\\{esc}'")
            self.pos += 1
            return _SELECT_ESCAPES[esc]
        return c


def _check(name: str, args: tuple[Arg, ...], parser: _Parser) -> None:
    """Load-time checks Kamailio makes on literal arguments."""
    if name == "s.substr" and isinstance(args[1], int) and args[1] < 0:
        raise parser.fail("negative length")
    if name == "param.count" and args and isinstance(args[0], str) and len(args[0]) != 1:
        raise parser.fail("the separator must be one character")


def parse_transformations(text: str, pos: int = 0) -> tuple[list[Transform], int]:
    """Parse the ``{..}`` groups starting at ``pos`` (blanks allowed between them).

    Returns the transformations and the position just after the last '}' (``pos``
    when there is none). TransformError for an unknown class or name, or bad
    arguments; the message quotes the offending transformation.
    """
    out: list[Transform] = []
    end = pos
    while True:
        p = _skip_ws(text, end) if out else end
        if p >= len(text) or text[p] != "{":
            return out, end
        parser = _Parser(text, p + 1)
        out.append(parser.parse())
        end = parser.pos
