"""Pseudo-variables (``$si``, ``$ru``, ``$var(x)``, ``$hdr(Name)`` ...) resolved to getters/setters.

``resolve("$rU")`` returns a ``PV`` whose ``get(ctx)`` and ``set(ctx, value)``
do the work per message; the name is parsed once (at script load in cfg, on
first use and then cached for ``KSR.pv.get``). A getter returns ``None`` for
a null value (``$null``), an ``int`` for numeric PVs, else a ``str``.

Both Kamailio spellings are understood:

* the short form ``$name`` / ``$name(inner)``: the name is letters, digits,
  ``_``, ``.`` and ``?`` (Kamailio's ``is_pv_valid_char``, so ``$fd.`` is the
  unknown PV ``fd.``), the inner name is everything up to the balancing ``)``;
* the long form ``$( name [ (inner) ] [ [index] ] {tr}... )``: an index
  (``[2]``, ``[-1]``, ``[*]``, ``[$var(i)]``) for the classes that take one
  (``hdr``, ``avp``) and transformations (``{uri.user}{s.len}``). A PV with
  transformations is read-only; its failures read as ``None`` and print as
  ``""`` (``PV.null_text``), as Kamailio's xlog prints nothing for them.

``$$`` is the ``$`` character (``resolve("$$")`` gives a PV whose value is ``"$"``).

Per-message state used here: ``ctx.vars`` ($var), ``ctx.avps`` and
``ctx.xavps`` (created on first write), ``ctx.extra`` keys ``"snd"`` (where the
message is sent, filled by the engine for onsend-like routes: a mapping with
``ip``, ``port``, ``af``, ``proto`` (``"udp"``...), ``buf`` for the destination
and ``src_ip``, ``src_port``, ``src_af`` for the local socket; unset means null),
``"bflags"`` ($bf), ``"t_branch_idx"``, ``"t_reply_code"`` (tm state, 0 until tm
fills them, as Kamailio gives 0 outside a transaction), ``"force_socket"`` ($fs).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..sip.errors import SIPError
from ..sip.nameaddr import parse_name_addr
from ..sip.uri import SipURI, parse_uri

if TYPE_CHECKING:
    from ..core.context import Context
    from ..sip.digest import DigestCredentials

Getter = Callable[["Context"], Any]
Setter = Callable[["Context", Any], None]


class PVError(ValueError):
    """An unknown or malformed pseudo-variable name, or a write to a read-only one."""


@dataclass(frozen=True, slots=True)
class PV:
    """A resolved pseudo-variable; ``null_text`` is how a null value prints in a string."""

    name: str
    get: Getter
    set: Setter | None = None
    null_text: str = "<null>"

    @property
    def writable(self) -> bool:
        """True when the script may assign to it."""
        return self.set is not None


# ------------------------------------------------------------------ helpers


def _ruri(ctx: Context) -> SipURI | None:
    """The current R-URI parsed (cached on the context)."""
    return ctx.ruri_uri()


def _default_port(uri: SipURI) -> int:
    return 5061 if uri.scheme == "sips" else 5060


def _na_uri(attr: str) -> Callable[[Context], SipURI | None]:
    def get(ctx: Context) -> SipURI | None:
        try:
            return getattr(ctx.msg, attr).uri
        except SIPError:
            return None

    return get


_from_uri = _na_uri("from_")
_to_uri = _na_uri("to")


def _na_attr(attr: str, field: str) -> Getter:
    def get(ctx: Context) -> Any:
        try:
            return getattr(getattr(ctx.msg, attr), field)
        except SIPError:
            return None

    return get


def _or_none(fn: Callable[[Context], Any]) -> Getter:
    def get(ctx: Context) -> Any:
        try:
            return fn(ctx)
        except SIPError:
            return None

    return get


def _set_ruri_part(part: str) -> Setter:
    def set_(ctx: Context, value: Any) -> None:
        uri = _ruri(ctx)
        if uri is None:
            raise PVError("no Request-URI to change")
        if part == "port":
            new = uri.replace(port=None if value in (None, "", 0) else int(value))
        else:
            new = uri.replace(**{part: None if value is None else str(value)})
        ctx.new_ruri = str(new)

    return set_


def _set_ruri(ctx: Context, value: Any) -> None:
    if value is None:
        raise PVError("$ru cannot be set to $null")
    text = str(value)
    parse_uri(text)
    ctx.new_ruri = text


def _set_duri(ctx: Context, value: Any) -> None:
    if value is None or value == "":
        ctx.dst_uri = None
        return
    text = str(value)
    parse_uri(text)
    ctx.dst_uri = text


def _uri_str(getter: Callable[[Context], SipURI | None]) -> Getter:
    def get(ctx: Context) -> str | None:
        uri = getter(ctx)
        return None if uri is None else str(uri)

    return get


def _uri_field(getter: Callable[[Context], SipURI | None], field: str) -> Getter:
    def get(ctx: Context) -> Any:
        uri = getter(ctx)
        return None if uri is None else getattr(uri, field)

    return get


def _ruri_port(ctx: Context) -> int | None:
    uri = _ruri(ctx)
    if uri is None:
        return None
    return uri.port if uri.port is not None else _default_port(uri)


def _cseq_num(ctx: Context) -> str:
    # A string, as in Kamailio ($cs + $cs concatenates); comparisons with ints still work.
    return str(ctx.msg.cseq[0])


def _status(ctx: Context) -> int | None:
    return None if ctx.msg.is_request else ctx.msg.status


def _reason(ctx: Context) -> str | None:
    return None if ctx.msg.is_request else ctx.msg.reason


def _from_tag(ctx: Context) -> str | None:
    return ctx.msg.from_.tag


def _to_tag(ctx: Context) -> str | None:
    return ctx.msg.to.tag


def _text(value: Any) -> str:
    """A value as text (ints as decimal)."""
    return value if isinstance(value, str) else str(value)


def _refer_to(ctx: Context) -> str | None:
    """The URI of the Refer-To header ($rt)."""
    value = ctx.msg.get_header("Refer-To")
    if value is None:
        return None
    try:
        return str(parse_name_addr(value).uri)
    except SIPError:
        return None


_NO_AUTH = object()


def _credentials(ctx: Context) -> DigestCredentials | None:
    """Digest credentials of Proxy-Authorization, else Authorization (cached per message)."""
    cached = ctx.extra.get("_auth", _NO_AUTH)
    if cached is not _NO_AUTH:
        return cached  # type: ignore[return-value]
    found = None
    msg = ctx.msg
    if msg.is_request and msg.method not in ("ACK", "CANCEL"):
        try:
            creds = msg.credentials(proxy=True) or msg.credentials()
        except SIPError:
            creds = []
        if creds and creds[0].is_digest:
            found = creds[0]
    ctx.extra["_auth"] = found
    return found


def _auth_attr(pick: Callable[[DigestCredentials], str | None]) -> Getter:
    def get(ctx: Context) -> str | None:
        creds = _credentials(ctx)
        # Kamailio gives "" (not null) for a field the credentials lack.
        return None if creds is None else pick(creds) or ""

    return get


def _auth_user(creds: DigestCredentials) -> str | None:
    name = creds.username
    return None if name is None else name.partition("@")[0]


def _auth_domain(creds: DigestCredentials) -> str | None:
    name = creds.username
    return None if name is None else name.partition("@")[2]


def _msg_time(ctx: Context) -> tuple[int, int]:
    """Seconds and microseconds of the message time, taken once per message."""
    tval = ctx.extra.get("_tval")
    if tval is None:
        sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
        tval = ctx.extra["_tval"] = (sec, usec)
    return tval


def _set_bflags(ctx: Context, value: Any) -> None:
    ctx.extra["bflags"] = 0 if value is None else int(value)


def _marker(ctx: Context) -> str:
    return "$"


# ------------------------------------------------------------- the catalogue

#: Simple PVs: name -> (getter, setter or None).
SIMPLE: dict[str, tuple[Getter, Setter | None]] = {
    "si": (lambda c: c.rcv.src_ip, None),
    "sp": (lambda c: c.rcv.src_port, None),
    "Ri": (lambda c: c.rcv.dst_ip, None),
    "Rp": (lambda c: c.rcv.dst_port, None),
    "proto": (lambda c: c.rcv.proto, None),
    "pr": (lambda c: c.rcv.proto, None),
    "af": (lambda c: "ipv6" if c.rcv.af == 6 else "ipv4", None),
    "rm": (_or_none(lambda c: c.msg.method), None),
    "ru": (lambda c: c.ruri if c.msg.is_request else None, _set_ruri),
    "ou": (lambda c: c.msg.ruri if c.msg.is_request else None, None),
    "rU": (_uri_field(_ruri, "user"), _set_ruri_part("user")),
    "rd": (_uri_field(_ruri, "host"), _set_ruri_part("host")),
    "rp": (_ruri_port, _set_ruri_part("port")),
    "rz": (_uri_field(_ruri, "scheme"), None),
    "du": (lambda c: c.dst_uri, _set_duri),
    "fu": (_uri_str(_from_uri), None),
    "fU": (_uri_field(_from_uri, "user"), None),
    "fd": (_uri_field(_from_uri, "host"), None),
    "fn": (_na_attr("from_", "display"), None),
    "ft": (_or_none(_from_tag), None),
    "tu": (_uri_str(_to_uri), None),
    "tU": (_uri_field(_to_uri, "user"), None),
    "td": (_uri_field(_to_uri, "host"), None),
    "tn": (_na_attr("to", "display"), None),
    "tt": (_or_none(_to_tag), None),
    "ci": (lambda c: c.msg.call_id or None, None),
    "cs": (_or_none(_cseq_num), None),
    "ct": (lambda c: c.msg.get_header("Contact"), None),
    "ua": (lambda c: c.msg.user_agent, None),
    "rs": (_status, None),
    "rr": (_reason, None),
    "rt": (_refer_to, None),
    "rv": (lambda c: "SIP/2.0", None),
    "mt": (lambda c: 1 if c.msg.is_request else 2, None),
    "ml": (lambda c: len(c.msg.raw), None),
    "mb": (lambda c: c.msg.raw.decode("utf-8", "replace"), None),
    "rb": (lambda c: c.msg.body.decode("utf-8", "replace"), None),
    "cl": (lambda c: max(c.msg.content_length, 0), None),
    "cT": (lambda c: c.msg.get_header("Content-Type"), None),
    "au": (_auth_attr(_auth_user), None),
    "ad": (_auth_attr(_auth_domain), None),
    "aU": (_auth_attr(lambda a: a.username), None),
    "ar": (_auth_attr(lambda a: a.realm), None),
    "adu": (_auth_attr(lambda a: a.uri), None),
    "aa": (_auth_attr(lambda a: a.algorithm), None),
    "rc": (lambda c: c.rc, None),
    "retcode": (lambda c: c.rc, None),
    "?": (lambda c: c.rc, None),
    "mf": (lambda c: c.flags, None),
    "bf": (lambda c: c.extra.get("bflags", 0), _set_bflags),
    "fs": (lambda c: c.extra.get("force_socket"), None),
    "T_branch_idx": (lambda c: c.extra.get("t_branch_idx", 0), None),
    "T_reply_code": (lambda c: c.extra.get("t_reply_code", 0), None),
    "Ts": (lambda c: _msg_time(c)[0], None),
    "TS": (lambda c: int(time.time()), None),
    "Tf": (lambda c: time.ctime(_msg_time(c)[0]), None),
    "TF": (lambda c: time.ctime(), None),
    "pp": (lambda c: os.getpid(), None),
    "hostname": (lambda c: socket.gethostname(), None),
    "null": (lambda c: None, None),
}


def _var_pv(name: str) -> PV:
    def get(ctx: Context) -> Any:
        # An unset $var reads as int 0, as in Kamailio.
        return ctx.vars.get(name, 0)

    def set_(ctx: Context, value: Any) -> None:
        if value is None:
            ctx.vars.pop(name, None)
        else:
            ctx.vars[name] = value

    return PV(f"$var({name})", get, set_)


# ------------------------------------------------------------------- indexes

#: An index: None (absent), an int, "*" (all) or a PV read at run time.
Index = Any

_NO_INDEX = object()


def _parse_index(text: str) -> Index:
    """Parse what is inside ``[...]``: ``2``, ``-1``, ``*`` or a pseudo-variable."""
    t = text.strip()
    if t == "*":
        return "*"
    if t.startswith("$"):
        return resolve(t)
    if re.fullmatch(r"-?[0-9]+", t) is None:
        raise PVError(f"invalid index [{text}]")
    return int(t)


def _index_value(ctx: Context, index: Index) -> Any:
    """The index for this message: an int, "*", or _NO_INDEX when a PV index is not an int."""
    if isinstance(index, PV):
        value = index.get(ctx)
        if not isinstance(value, int) or isinstance(value, bool):
            return _NO_INDEX
        return value
    return index


def _nth(values: list[Any], i: int) -> Any:
    """Item ``i`` of a list kept oldest-first, counted newest-first (0 newest, -1 oldest)."""
    j = len(values) - 1 - i if i >= 0 else -i - 1
    return values[j] if 0 <= j < len(values) else None


# ------------------------------------------------------------------- headers

_HDR_INDEX = re.compile(r"^(?P<name>[^\[\]]+?)\s*(?:\[(?P<idx>-?\d+|\*)\])?$")


def _hdr_pv(inner: str, index: Index = None) -> PV:
    m = _HDR_INDEX.match(inner.strip())
    if not m:
        raise PVError(f"malformed header name in $hdr({inner})")
    name = m.group("name").strip()
    if index is None and m.group("idx") is not None:
        index = _parse_index(m.group("idx"))

    def get(ctx: Context) -> Any:
        values = ctx.msg.get_headers(name)
        if not values:
            return None
        idx = _index_value(ctx, index)
        if idx is None:
            return values[0]
        if idx == "*":
            return ",".join(values)
        if idx is _NO_INDEX:
            return None
        try:
            return values[idx]
        except IndexError:
            return None

    return PV(f"$hdr({inner})", get)


def _hdrc_pv(inner: str) -> PV:
    name = inner.strip()
    return PV(f"$hdrc({inner})", lambda ctx: len(ctx.msg.get_headers(name)))


def _def_pv(inner: str) -> PV:
    name = inner.strip()

    def get(ctx: Context) -> Any:
        value = ctx.engine.config.defines.get(name)
        return value if value is not None else None

    return PV(f"$def({inner})", get)


def _env_pv(inner: str) -> PV:
    name = inner.strip()
    return PV(f"$env({inner})", lambda ctx: os.environ.get(name))


# ---------------------------------------------------------------------- avps


def _norm_value(value: Any) -> Any:
    """A value as stored in an AVP/XAVP: int or str."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def _avp_key(inner: str) -> Callable[[Context], str | int | None]:
    """How to get the AVP name: ``name``, ``s:name``, ``i:707`` or a PV."""
    t = inner.strip()
    if t.startswith("$"):
        pv = resolve(t)

        def dynamic(ctx: Context) -> str | int | None:
            value = pv.get(ctx)
            return None if value in (None, "") else value

        return dynamic
    if t[:2] in ("i:", "I:"):
        if re.fullmatch(r"-?[0-9]+", t[2:]) is None:
            raise PVError(f"invalid integer AVP name in $avp({inner})")
        key: str | int = int(t[2:])
    else:
        key = t[2:] if t[:2] in ("s:", "S:") else t
    if key == "":
        raise PVError(f"empty AVP name in $avp({inner})")
    return lambda ctx: key


def _avp_get(ctx: Context, key: str | int | None, index: Index) -> Any:
    """Value of AVP ``key`` (newest first, as Kamailio)."""
    avps = ctx.avps
    values = avps.get(key) if avps and key is not None else None
    if not values:
        return None
    if index is None:
        return values[-1]
    idx = _index_value(ctx, index)
    if idx == "*":
        return ", ".join(_text(v) for v in reversed(values))
    if idx is _NO_INDEX:
        return None
    return _nth(values, idx)


def _avp_set(ctx: Context, key: str | int | None, index: Index, value: Any) -> None:
    """Kamailio 5.6: ``$null`` deletes the newest value (all with ``[*]``); a value is
    added on top (``[*]`` replaces all; another index is ignored)."""
    if key is None:
        return
    avps = ctx.avps
    if avps is None:
        if value is None:
            return
        avps = ctx.avps = {}
    values = avps.get(key)
    star = index is not None and _index_value(ctx, index) == "*"
    if value is None:
        if values and not star:
            values.pop()
        if star or not values:
            avps.pop(key, None)
        return
    if values is None or star:
        values = avps[key] = []
    values.append(_norm_value(value))


def _avp_pv(inner: str, index: Index = None) -> PV:
    key_of = _avp_key(inner)
    def get(ctx: Context) -> Any:
        return _avp_get(ctx, key_of(ctx), index)

    def set_(ctx: Context, value: Any) -> None:
        _avp_set(ctx, key_of(ctx), index, value)

    return PV(f"$avp({inner})", get, set_)


# --------------------------------------------------------------------- xavps


class XavpRecord(dict):  # type: ignore[type-arg]
    """An XAVP whose value is a list of named fields: field -> values, oldest first."""

    __slots__ = ()


_XAVP_PART = re.compile(r"\s*(?P<name>[^=\s\[]+)\s*(?:\[(?P<idx>[^\]]*)\])?\s*")


def _parse_xavp_name(inner: str) -> tuple[str, Index, str | None, Index]:
    """``root[idx]=>field[idx]`` split into its four parts (indexes may be None)."""
    root_text, arrow, field_text = inner.partition("=>")
    m = _XAVP_PART.fullmatch(root_text)
    if m is None:
        raise PVError(f"malformed XAVP name in $xavp({inner})")
    root = m.group("name")
    ridx = None if m.group("idx") is None else _parse_index(m.group("idx"))
    if not arrow:
        return root, ridx, None, None
    f = _XAVP_PART.fullmatch(field_text)
    if f is None:
        raise PVError(f"malformed XAVP field name in $xavp({inner})")
    fidx = None if f.group("idx") is None else _parse_index(f.group("idx"))
    return root, ridx, f.group("name"), fidx


def _xavp_show(item: Any) -> Any:
    """How a root XAVP prints: its value, or ``<<xavp:0x...>>`` for a record."""
    return f"<<xavp:{id(item):#x}>>" if isinstance(item, XavpRecord) else item


def _xavp_item(ctx: Context, root: str, ridx: Index) -> Any:
    """The root item at ``ridx`` (0 when absent or ``*``), None when missing."""
    items = ctx.xavps.get(root) if ctx.xavps else None
    if not items:
        return None
    idx = _index_value(ctx, ridx)
    if idx is _NO_INDEX:
        return None
    return _nth(items, 0 if idx is None or idx == "*" else idx)


def _xavp_get(ctx: Context, parts: tuple[str, Index, str | None, Index]) -> Any:
    root, ridx, field, fidx = parts
    item = _xavp_item(ctx, root, ridx)
    if field is None or item is None:
        return None if item is None else _xavp_show(item)
    if not isinstance(item, XavpRecord):
        return None
    values = item.get(field)
    if not values:
        return None
    idx = _index_value(ctx, fidx)
    if idx == "*":
        return ", ".join(_text(_xavp_show(v)) for v in reversed(values))
    if idx is _NO_INDEX:
        return None
    return _nth(values, 0 if idx is None else idx)


def _remove_nth(values: list[Any], i: int) -> None:
    """Remove item ``i`` (counted newest-first) when it exists."""
    j = len(values) - 1 - i if i >= 0 else -i - 1
    if 0 <= j < len(values):
        del values[j]


def _replace_nth(values: list[Any], i: int, value: Any) -> None:
    """Replace item ``i`` (counted newest-first) when it exists."""
    j = len(values) - 1 - i if i >= 0 else -i - 1
    if 0 <= j < len(values):
        values[j] = value


def _xavp_delete(ctx: Context, parts: tuple[str, Index, str | None, Index]) -> None:
    """Assigning $null: remove the root item, or a field value, as Kamailio's pv_set_xavp."""
    root, ridx, field, fidx = parts
    items = ctx.xavps.get(root) if ctx.xavps else None
    if not items:
        return
    ri = _index_value(ctx, ridx)
    if ri is _NO_INDEX:
        return
    if field is None:
        if ri == "*":
            del ctx.xavps[root]  # type: ignore[index]
        else:
            _remove_nth(items, 0 if ri is None else ri)
        return
    records = list(items) if ri == "*" else [_nth(items, 0 if ri is None else ri)]
    fi = _index_value(ctx, fidx)
    for rec in records:
        if isinstance(rec, XavpRecord) and field in rec and fi is not _NO_INDEX:
            if fi == "*":
                del rec[field]
            else:
                _remove_nth(rec[field], 0 if fi is None else fi)


def _xavp_assign(ctx: Context, parts: tuple[str, Index, str | None, Index], value: Any) -> None:
    """Assigning a value: a new root item on top unless an index names an existing one."""
    root, ridx, field, fidx = parts
    xavps = ctx.xavps
    if xavps is None:
        xavps = ctx.xavps = {}
    items = xavps.setdefault(root, [])
    value = _norm_value(value)
    if ridx is None:
        items.append(value if field is None else XavpRecord({field: [value]}))
        return
    ri = _index_value(ctx, ridx)
    if ri == "*" or ri is _NO_INDEX:
        return
    if field is None:
        _replace_nth(items, ri, value)
        return
    rec = _nth(items, ri)
    if not isinstance(rec, XavpRecord):
        return
    if fidx is None:
        rec.setdefault(field, []).append(value)
        return
    fi = _index_value(ctx, fidx)
    if fi != "*" and fi is not _NO_INDEX and field in rec:
        _replace_nth(rec[field], fi, value)


def _xavp_pv(inner: str) -> PV:
    parts = _parse_xavp_name(inner)

    def get(ctx: Context) -> Any:
        return _xavp_get(ctx, parts)

    def set_(ctx: Context, value: Any) -> None:
        if value is None:
            _xavp_delete(ctx, parts)
        else:
            _xavp_assign(ctx, parts, value)

    return PV(f"$xavp({inner})", get, set_)


# ---------------------------------------------------------------------- time


def _tv_now(ctx: Context) -> int:
    sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
    ctx.extra["_tv_un"] = usec
    return sec


def _tv_now_text(ctx: Context) -> str:
    sec, usec = divmod(time.time_ns() // 1000, 1_000_000)
    return f"{sec}.{usec:06d}"


_TV: dict[str, Getter] = {
    "s": lambda c: _msg_time(c)[0],
    "u": lambda c: _msg_time(c)[1],
    "sn": _tv_now,
    "un": lambda c: c.extra.get("_tv_un", 0),
    "Sn": _tv_now_text,
}


def _tv_pv(inner: str) -> PV:
    getter = _TV.get(inner.strip())
    if getter is None:
        raise PVError(f"unknown $TV({inner}) (s, u, sn, un or Sn)")
    return PV(f"$TV({inner})", getter)


_TIME_FIELDS: dict[str, Callable[[time.struct_time], int]] = {
    "sec": lambda t: t.tm_sec,
    "min": lambda t: t.tm_min,
    "hour": lambda t: t.tm_hour,
    "mday": lambda t: t.tm_mday,
    "mon": lambda t: t.tm_mon,
    "year": lambda t: t.tm_year,
    "wday": lambda t: (t.tm_wday + 1) % 7 + 1,  # 1 = Sunday, as Kamailio
    "yday": lambda t: t.tm_yday,
    "isdst": lambda t: t.tm_isdst,
}


def _time_class(utc: bool) -> Callable[[str], PV]:
    convert = time.gmtime if utc else time.localtime
    cls = "utime" if utc else "time"

    def factory(inner: str) -> PV:
        pick = _TIME_FIELDS.get(inner.strip())
        if pick is None:
            raise PVError(f"unknown ${cls}({inner}) (sec, min, hour, mday, mon, year, wday, "
                          "yday or isdst)")
        return PV(f"${cls}({inner})", lambda ctx: pick(convert(_msg_time(ctx)[0])))

    return factory


def _timef_class(utc: bool) -> Callable[[str], PV]:
    convert = time.gmtime if utc else time.localtime
    cls = "utimef" if utc else "timef"

    def factory(inner: str) -> PV:
        fmt = inner

        def get(ctx: Context) -> str | None:
            return time.strftime(fmt, convert(_msg_time(ctx)[0])) or None

        return PV(f"${cls}({inner})", get)

    return factory


# ---------------------------------------------------------------- send data

_PROTO_IDS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}
_SND_KEYS = ("ip", "af", "port", "proto", "sproto", "buf", "len")


def _snd_value(snd: Any, key: str, local: bool) -> Any:
    """One attribute of ``ctx.extra["snd"]`` (see the module docstring)."""
    if key in ("ip", "port", "af"):
        return snd.get(f"src_{key}" if local else key)
    proto = snd.get("proto")
    if key == "proto":
        return _PROTO_IDS.get(proto, proto) if isinstance(proto, str) else proto
    if key == "sproto":
        return None if proto is None else str(proto)
    buf = snd.get("buf")
    if buf is None:
        return None
    if key == "len":
        return len(buf)
    return buf.decode("utf-8", "surrogateescape") if isinstance(buf, bytes) else buf


def _snd_class(cls: str, local: bool) -> Callable[[str], PV]:
    def factory(inner: str) -> PV:
        key = inner.strip()
        if key not in _SND_KEYS:
            raise PVError(f"unknown ${cls}({inner}) ({', '.join(_SND_KEYS)})")

        def get(ctx: Context) -> Any:
            snd = ctx.extra.get("snd")
            return None if not snd else _snd_value(snd, key, local)

        return PV(f"${cls}({inner})", get)

    return factory


#: Class PVs with an inner name: "$var(x)" -> factory("x").
CLASSES: dict[str, Callable[[str], PV]] = {
    "var": _var_pv,
    "hdr": _hdr_pv,
    "hdrc": _hdrc_pv,
    "def": _def_pv,
    "env": _env_pv,
    "avp": _avp_pv,
    "xavp": _xavp_pv,
    "TV": _tv_pv,
    "time": _time_class(False),
    "utime": _time_class(True),
    "timef": _timef_class(False),
    "utimef": _timef_class(True),
    "snd": _snd_class("snd", True),
    "sndfrom": _snd_class("sndfrom", True),
    "sndto": _snd_class("sndto", False),
}

#: Classes that take an index in the long form ``$(hdr(Via)[1])``: factory(inner, index).
INDEXED: dict[str, Callable[[str, Index], PV]] = {
    "hdr": _hdr_pv,
    "avp": _avp_pv,
}

#: Extra PV classes registered by modules (e.g. htable's $sht) at import time.
EXTRA_CLASSES: dict[str, Callable[[str], PV]] = {}


def register_class(name: str, factory: Callable[[str], PV]) -> None:
    """Let a module add a PV class such as ``$sht(table=>key)``."""
    EXTRA_CLASSES[name] = factory
    resolve.cache_clear()


# ------------------------------------------------------------------ parsing

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.?")


def _close(text: str, pos: int, open_: str, close: str) -> int:
    """Index of the ``close`` balancing the ``open_`` at ``text[pos]``; PVError when none."""
    depth = 0
    for i in range(pos, len(text)):
        c = text[i]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
    raise PVError(f"unbalanced {open_!r} at offset {pos} in {text!r}")


def locate_pv(text: str, pos: int) -> int:
    """End (exclusive) of the pseudo-variable starting with the ``$`` at ``text[pos]``.

    As Kamailio's pv_locate_name: ``$$``; ``$(...)`` up to the balancing ``)``;
    ``$name`` up to the first character that is not a name character, with an
    inner ``(...)`` when one follows. PVError for unbalanced parentheses.
    """
    n = len(text)
    if pos + 1 >= n:
        raise PVError(f"'$' without a pseudo-variable name at the end of {text!r}")
    nxt = text[pos + 1]
    if nxt == "$":
        return pos + 2
    if nxt == "(":
        return _close(text, pos + 1, "(", ")") + 1
    i = pos + 1
    while i < n and text[i] in _NAME_CHARS:
        i += 1
    if i < n and text[i] == "(":
        return _close(text, i, "(", ")") + 1
    return i


def _class_pv(cls: str, inner: str, index: Index) -> PV:
    """A class PV such as ``$avp(x)``, with an optional index."""
    if index is not None:
        indexed = INDEXED.get(cls)
        if indexed is None:
            if cls in CLASSES or cls in EXTRA_CLASSES:
                raise PVError(f"${cls}(...) does not take an index")
            raise PVError(f"unknown pseudo-variable class ${cls}(...)")
        return indexed(inner, index)
    factory = CLASSES.get(cls) or EXTRA_CLASSES.get(cls)
    if factory is None:
        raise PVError(f"unknown pseudo-variable class ${cls}(...)")
    if inner.strip() == "":
        raise PVError(f"${cls}() needs a name inside the parentheses")
    return factory(inner)


def _simple_pv(name: str, index: Index) -> PV:
    """A PV without an inner name."""
    entry = SIMPLE.get(name)
    if entry is None:
        if name in CLASSES or name in EXTRA_CLASSES:
            raise PVError(f"${name} needs an inner name: ${name}(...)")
        raise PVError(f"unknown pseudo-variable ${name}")
    if index is not None:
        raise PVError(f"${name} does not take an index")
    return PV(f"${name}", entry[0], entry[1])


def _with_transforms(base: PV, transforms: list[Any], name: str) -> PV:
    """A read-only PV applying ``transforms`` to ``base``; failures print as ''."""
    from .transformations import apply_all

    get0 = base.get
    if len(transforms) == 1:
        only = transforms[0]

        def get(ctx: Context) -> Any:
            return only.apply(ctx, get0(ctx))

    else:
        chain = tuple(transforms)

        def get(ctx: Context) -> Any:
            return apply_all(ctx, get0(ctx), chain)

    return PV(name, get, None, "")


def _parse_long(text: str) -> PV:
    """``$( name [ (inner) ] [ [index] ] {tr}... )``."""
    from .transformations import parse_transformations

    n = len(text)
    if text == "$($)":
        return PV("$$", _marker)
    p = 2
    while p < n and text[p] in _NAME_CHARS:
        p += 1
    name = text[2:p]
    if not name:
        raise PVError(f"malformed pseudo-variable {text!r}")
    inner = index = None
    if p < n and text[p] == "(":
        q = _close(text, p, "(", ")")
        inner, p = text[p + 1 : q], q + 1
    if p < n and text[p] == "[":
        q = _close(text, p, "[", "]")
        index, p = _parse_index(text[p + 1 : q]), q + 1
    transforms: list[Any] = []
    if p < n and text[p] == "{":
        transforms, p = parse_transformations(text, p)
    if p != n - 1 or text[p] != ")":
        raise PVError(f"malformed pseudo-variable {text!r} at {text[p:p + 10]!r}")
    base = _simple_pv(name, index) if inner is None else _class_pv(name, inner, index)
    if transforms:
        return _with_transforms(base, transforms, text)
    return replace(base, name=text) if index is not None else base


def _parse_short(text: str) -> PV:
    """``$name`` or ``$name(inner)``."""
    if text == "$$":
        return PV("$$", _marker)
    p = 1
    while p < len(text) and text[p] in _NAME_CHARS:
        p += 1
    name = text[1:p]
    if not name:
        raise PVError(f"malformed pseudo-variable {text!r}")
    if p == len(text):
        return _simple_pv(name, None)
    if text[p] != "(" or _close(text, p, "(", ")") != len(text) - 1:
        raise PVError(f"malformed pseudo-variable {text!r}")
    return _class_pv(name, text[p + 1 : -1], None)


@lru_cache(maxsize=4096)
def resolve(name: str) -> PV:
    """Resolve a PV name (with its ``$``) to a getter/setter; PVError when unknown.

    TransformError (a ValueError) for an unknown or malformed transformation.
    """
    text = name.strip()
    if not text.startswith("$") or len(text) < 2:
        raise PVError(f"malformed pseudo-variable {name!r}")
    if text.startswith("$("):
        if _close(text, 1, "(", ")") != len(text) - 1:
            raise PVError(f"malformed pseudo-variable {name!r}")
        return _parse_long(text)
    return _parse_short(text)


def to_text(value: Any) -> str:
    """How a PV value prints inside a string: ``<null>`` for null, as Kamailio."""
    if value is None:
        return "<null>"
    return str(value)
