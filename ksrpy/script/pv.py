"""Pseudo-variables (``$si``, ``$ru``, ``$var(x)``, ``$hdr(Name)`` ...) resolved to getters/setters.

``resolve("$rU")`` returns a ``PV`` whose ``get(ctx)`` and ``set(ctx, value)``
do the work per message; the name is parsed once (at script load in cfg, on
first use and then cached for ``KSR.pv.get``). A getter returns ``None`` for
a null value (``$null``), an ``int`` for numeric PVs, else a ``str``.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..sip.errors import SIPError
from ..sip.uri import SipURI, parse_uri

if TYPE_CHECKING:
    from ..core.context import Context

Getter = Callable[["Context"], Any]
Setter = Callable[["Context", Any], None]


class PVError(ValueError):
    """An unknown or malformed pseudo-variable name, or a write to a read-only one."""


@dataclass(frozen=True, slots=True)
class PV:
    """A resolved pseudo-variable."""

    name: str
    get: Getter
    set: Setter | None = None

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


def _cseq_num(ctx: Context) -> int:
    return ctx.msg.cseq[0]


def _status(ctx: Context) -> int | None:
    return None if ctx.msg.is_request else ctx.msg.status


def _reason(ctx: Context) -> str | None:
    return None if ctx.msg.is_request else ctx.msg.reason


def _from_tag(ctx: Context) -> str | None:
    return ctx.msg.from_.tag


def _to_tag(ctx: Context) -> str | None:
    return ctx.msg.to.tag


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
    "ua": (lambda c: c.msg.user_agent, None),
    "rs": (_status, None),
    "rr": (_reason, None),
    "rv": (lambda c: "SIP/2.0", None),
    "mt": (lambda c: 1 if c.msg.is_request else 2, None),
    "ml": (lambda c: len(c.msg.raw), None),
    "mb": (lambda c: c.msg.raw.decode("utf-8", "replace"), None),
    "rb": (lambda c: c.msg.body.decode("utf-8", "replace"), None),
    "cl": (lambda c: max(c.msg.content_length, 0), None),
    "cT": (lambda c: c.msg.get_header("Content-Type"), None),
    "rc": (lambda c: c.rc, None),
    "retcode": (lambda c: c.rc, None),
    "?": (lambda c: c.rc, None),
    "mf": (lambda c: c.flags, None),
    "Ts": (lambda c: int(time.time()), None),
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


_HDR_INDEX = re.compile(r"^(?P<name>[^\[\]]+?)\s*(?:\[(?P<idx>-?\d+|\*)\])?$")


def _hdr_pv(inner: str) -> PV:
    m = _HDR_INDEX.match(inner.strip())
    if not m:
        raise PVError(f"malformed header name in $hdr({inner})")
    name, idx = m.group("name").strip(), m.group("idx")

    def get(ctx: Context) -> Any:
        values = ctx.msg.get_headers(name)
        if not values:
            return None
        if idx is None:
            return values[0]
        if idx == "*":
            return ",".join(values)
        i = int(idx)
        try:
            return values[i]
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


#: Class PVs with an inner name: "$var(x)" -> factory("x").
CLASSES: dict[str, Callable[[str], PV]] = {
    "var": _var_pv,
    "hdr": _hdr_pv,
    "hdrc": _hdrc_pv,
    "def": _def_pv,
    "env": _env_pv,
}

#: Extra PV classes registered by modules (e.g. htable's $sht) at import time.
EXTRA_CLASSES: dict[str, Callable[[str], PV]] = {}

_NAME = re.compile(
    r"^\$(?:(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\((?P<inner>.*)\)|(?P<simple>[A-Za-z_?][A-Za-z0-9_]*))$"
)


def register_class(name: str, factory: Callable[[str], PV]) -> None:
    """Let a module add a PV class such as ``$sht(table=>key)``."""
    EXTRA_CLASSES[name] = factory
    resolve.cache_clear()


@lru_cache(maxsize=4096)
def resolve(name: str) -> PV:
    """Resolve a PV name (with its ``$``) to a getter/setter; PVError when unknown."""
    text = name.strip()
    if text.startswith("$(") and text.endswith(")"):
        text = "$" + text[2:-1]
    m = _NAME.match(text)
    if not m:
        raise PVError(f"malformed pseudo-variable {name!r}")
    simple = m.group("simple")
    if simple is not None:
        entry = SIMPLE.get(simple)
        if entry is None:
            raise PVError(f"unknown pseudo-variable ${simple}")
        return PV(f"${simple}", entry[0], entry[1])
    cls, inner = m.group("cls"), m.group("inner")
    factory = CLASSES.get(cls) or EXTRA_CLASSES.get(cls)
    if factory is None:
        raise PVError(f"unknown pseudo-variable class ${cls}(...)")
    return factory(inner)


def to_text(value: Any) -> str:
    """How a PV value prints inside a string: ``<null>`` for null, as Kamailio."""
    if value is None:
        return "<null>"
    return str(value)
