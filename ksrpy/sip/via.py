"""Via header values (RFC 3261 §20.42, §25.1 ``via-parm``; rport from RFC 3581)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SIPParseError
from .params import (
    EMPTY_PARAMS,
    TOKEN_CHARS,
    Params,
    parse_header_params,
    show,
    split_header_values,
)
from .uri import check_host, is_ip_address

__all__ = ["Via", "parse_via"]

# RFC 3261 §25.1: via-parm = sent-protocol LWS sent-by *( SEMI via-params );
# sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS;
# sent-by = host [ COLON port ]; COLON = SWS ":" SWS.
_VIA_RE = re.compile(
    rf"([{TOKEN_CHARS}]+)[ \t]*/[ \t]*([{TOKEN_CHARS}]+)[ \t]*/[ \t]*([{TOKEN_CHARS}]+)[ \t]+"
    r"(\[[^\]]*\]|[A-Za-z0-9.\-]+)(?:[ \t]*:[ \t]*([0-9]+))?[ \t]*"
)
_PROTOCOL_RE = re.compile(
    rf"[{TOKEN_CHARS}]+[ \t]*/[ \t]*[{TOKEN_CHARS}]+[ \t]*/[ \t]*[{TOKEN_CHARS}]+(?=[ \t])"
)
_DIGITS_RE = re.compile(r"[0-9]+")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;branch=...``."""

    protocol: str
    transport: str
    host: str
    port: int | None = None
    params: Params = EMPTY_PARAMS
    _raw: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        """The via-parm text: the original when parsed and unchanged, else re-serialised."""
        raw = self._raw
        if raw is not None:
            return raw
        return self.serialize()

    def serialize(self) -> str:
        """Build ``protocol/transport host[:port];params`` from the fields."""
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.transport} {self.host}{port}{self.params}"

    def replace(self, **changes: Any) -> Via:
        """Copy with fields changed; str() of the copy is re-serialised from the fields."""
        return dataclasses.replace(self, _raw=None, **changes)

    def with_param(self, name: str, value: str | None) -> Via:
        """Copy with parameter ``name`` set in place or appended (None: a flag)."""
        return self.replace(params=self.params.set(name, value))

    def with_params(self, **params: str | None) -> Via:
        """Copy with several parameters set, e.g. ``with_params(received=ip, rport="5060")``."""
        p = self.params
        for name, value in params.items():
            p = p.set(name, value)
        return self.replace(params=p)

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as sent."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def host_no_brackets(self) -> str:
        """Host without the brackets of an IPv6 reference."""
        host = self.host
        return host[1:-1] if host.startswith("[") else host

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (transaction id, RFC 3261 §8.1.1.7), or None."""
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1), or None."""
        return self.params.get("received")

    @property
    def rport(self) -> str | None:
        """RFC 3581 ``rport``: None when absent, "" when present without value, else the value."""
        params = self.params
        if "rport" not in params:
            return None
        value = params.get("rport")
        return "" if value is None else value

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, or None."""
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        """The ``ttl`` parameter as an int, or None."""
        value = self.params.get("ttl")
        return None if value is None else int(value)


def _check_params(params: Params, text: str) -> None:
    """Validate the values of the via-params RFC 3261 §25.1 and RFC 3581 §4 define."""
    for key, _name, value, _raw in params._entries:
        if key == "branch":
            # via-branch = "branch" EQUAL token
            if not value:
                raise SIPParseError(f"branch parameter without a value in Via {show(text)}", 400)
        elif key == "received":
            # via-received = "received" EQUAL (IPv4address / IPv6address); brackets are
            # tolerated (RFC 5118 §4.5).
            if value is None or not is_ip_address(value):
                raise SIPParseError(
                    f"received={show(str(value))} is not an IP address in Via {show(text)}"
                    " (RFC 3261 §18.2.1)",
                    400,
                )
        elif key == "rport":
            # response-port = "rport" [EQUAL 1*DIGIT] (RFC 3581 §4)
            if value is not None and (
                _DIGITS_RE.fullmatch(value) is None or len(value) > 5 or int(value) > 65535
            ):
                raise SIPParseError(
                    f"rport={show(value)} is not a port number 0-65535 in Via {show(text)}"
                    " (RFC 3581 §4)",
                    400,
                )
        elif key == "ttl":
            # via-ttl = "ttl" EQUAL ttl; ttl = 1*3DIGIT ; 0 to 255
            if (
                value is None
                or _DIGITS_RE.fullmatch(value) is None
                or len(value) > 3
                or int(value) > 255
            ):
                raise SIPParseError(
                    f"ttl={show(str(value))} is not a number 0-255 in Via {show(text)}", 400
                )
        elif key == "maddr":
            # via-maddr = "maddr" EQUAL host
            if value is None:
                raise SIPParseError(f"maddr parameter without a value in Via {show(text)}", 400)
            check_host(value, "the maddr parameter of Via", text)


def _diagnose(text: str) -> SIPParseError:
    """Explain why ``text`` is not a via-parm."""
    m = _PROTOCOL_RE.match(text)
    if m is None:
        return SIPParseError(
            f"malformed Via {show(text)}: expected 'SIP/2.0/<transport> <host>[:<port>]'"
            " (RFC 3261 §20.42)",
            400,
        )
    rest = text[m.end() :].lstrip(" \t")
    if not rest or rest[0] in ";:":
        return SIPParseError(f"missing sent-by host in Via {show(text)}", 400)
    if rest[0] == "[":
        return SIPParseError(f"IPv6 reference without a closing ']' in Via {show(text)}", 400)
    return SIPParseError(
        f"invalid character {rest[0]!r} where the sent-by host should start in Via {show(text)}",
        400,
    )


def _parse_one(text: str) -> Via:
    """Parse one via-parm (already unfolded and stripped)."""
    m = _VIA_RE.match(text)
    if m is None:
        raise _diagnose(text)
    name, version, transport, host, port_text = m.groups()
    pos = m.end()
    if pos < len(text) and text[pos] != ";":
        ch = text[pos]
        if ch == ":":
            after = text[pos + 1 :].lstrip(" \t")
            if _HEX_RE.fullmatch(host) and after[:1] not in ("", ";"):
                why = "IPv6 addresses must be enclosed in '[' and ']' (RFC 3261 §25.1)"
            else:
                why = "the port after ':' must be digits"
            raise SIPParseError(f"invalid sent-by in Via {show(text)}: {why}", 400)
        if port_text is not None and text[pos - 1] not in " \t":
            raise SIPParseError(
                f"invalid sent-by in Via {show(text)}: the port after ':' must be digits", 400
            )
        raise SIPParseError(f"invalid character {ch!r} after the sent-by in Via {show(text)}", 400)
    check_host(host, "Via", text)
    port = None
    if port_text is not None:
        if len(port_text) > 5 or int(port_text) > 65535:
            raise SIPParseError(f"Via port {port_text} out of range 0-65535 in {show(text)}", 400)
        port = int(port_text)
    if pos < len(text):
        params = parse_header_params(text, pos)
        _check_params(params, text)
    else:
        params = EMPTY_PARAMS
    return Via(f"{name}/{version}", transport.upper(), host, port, params, text)


def parse_via(text: str) -> list[Via]:
    """Parse a Via header value holding one or more comma-separated via-parms."""
    return [_parse_one(part) for part in split_header_values(text)]
