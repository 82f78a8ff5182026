"""Authorization / Proxy-Authorization credentials (RFC 3261 §20.7, §25.1; RFC 2617 §3.2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SIPParseError
from .params import QUOTED_RE, TOKEN_CHARS, show, unfold, unquote_string

__all__ = ["DigestCredentials", "parse_credentials"]

# credentials = ("Digest" LWS digest-response) / other-response (RFC 3261 §25.1)
_SCHEME_RE = re.compile(rf"([{TOKEN_CHARS}]+)(?:[ \t]+|$)")
# auth-param = auth-param-name EQUAL ( token / quoted-string ), EQUAL = SWS "=" SWS.
# Unquoted values are accepted up to ',' or whitespace (RFC 3261 wants a token, but several
# user agents send e.g. uri=sip:host unquoted).
_PARAM_RE = re.compile(
    rf"([{TOKEN_CHARS}]+)[ \t]*=[ \t]*(?:({QUOTED_RE})|([^\x00-\x20\x7f\",]+))[ \t]*"
)
_NAME_RE = re.compile(f"[{TOKEN_CHARS}]+")


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """Credentials: the scheme as written, Digest params (lower-case keys) and the raw rest."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    rest: str = ""

    @property
    def is_digest(self) -> bool:
        """True for the Digest scheme (compared case-insensitively)."""
        return self.scheme.lower() == "digest"

    @property
    def username(self) -> str | None:
        """The ``username`` parameter."""
        return self.params.get("username")

    @property
    def realm(self) -> str | None:
        """The ``realm`` parameter."""
        return self.params.get("realm")

    @property
    def nonce(self) -> str | None:
        """The ``nonce`` parameter."""
        return self.params.get("nonce")

    @property
    def uri(self) -> str | None:
        """The ``uri`` parameter (digest-uri, not parsed)."""
        return self.params.get("uri")

    @property
    def response(self) -> str | None:
        """The ``response`` parameter (request-digest)."""
        return self.params.get("response")

    @property
    def algorithm(self) -> str | None:
        """The ``algorithm`` parameter (MD5 when absent, RFC 2617 §3.2.1)."""
        return self.params.get("algorithm")

    @property
    def cnonce(self) -> str | None:
        """The ``cnonce`` parameter."""
        return self.params.get("cnonce")

    @property
    def opaque(self) -> str | None:
        """The ``opaque`` parameter."""
        return self.params.get("opaque")

    @property
    def qop(self) -> str | None:
        """The ``qop`` parameter (quoted or not, RFC 3261 §25.1 message-qop)."""
        return self.params.get("qop")

    @property
    def nc(self) -> str | None:
        """The ``nc`` parameter (nonce-count, 8 hex digits)."""
        return self.params.get("nc")


def _param_error(t: str, pos: int) -> SIPParseError:
    """Explain why the auth-param at ``t[pos:]`` does not parse."""
    rest = t[pos:]
    m = _NAME_RE.match(rest)
    if m is None:
        return SIPParseError(
            f"expected a parameter name at {show(rest)} in credentials {show(t)}", 400
        )
    after = rest[m.end() :].lstrip(" \t")
    if not after.startswith("="):
        return SIPParseError(
            f"parameter {m.group(0)!r} needs '=value' in credentials {show(t)} (RFC 3261 §25.1)",
            400,
        )
    value = after[1:].lstrip(" \t")
    if value.startswith('"'):
        return SIPParseError(
            f"unterminated quoted string or control character in parameter {m.group(0)!r}"
            f" of credentials {show(t)}",
            400,
        )
    return SIPParseError(f"parameter {m.group(0)!r} has no value in credentials {show(t)}", 400)


def parse_credentials(text: str) -> DigestCredentials:
    """Parse ``Digest username="a", realm="b", ...``; other schemes keep only ``rest``."""
    t = unfold(text).strip(" \t")
    m = _SCHEME_RE.match(t)
    if m is None:
        word = _NAME_RE.match(t)
        if word is not None:
            raise SIPParseError(
                f"auth scheme {word.group(0)!r} must be followed by a space and its"
                f" parameters in {show(t)} (RFC 3261 §25.1)",
                400,
            )
        raise SIPParseError(
            f"credentials {show(t)} must start with an auth scheme such as 'Digest'", 400
        )
    scheme = m.group(1)
    pos = m.end()
    rest = t[pos:]
    if scheme.lower() != "digest":
        return DigestCredentials(scheme, {}, rest)
    n = len(t)
    params: dict[str, str] = {}
    match = _PARAM_RE.match
    while pos < n:
        if t[pos] == ",":
            # Empty list elements are tolerated as in HTTP lists (RFC 7230 §7).
            pos += 1
            while pos < n and t[pos] in " \t":
                pos += 1
            continue
        pm = match(t, pos)
        if pm is None:
            raise _param_error(t, pos)
        name, quoted, token = pm.groups()
        key = name.lower()
        if key in params:
            # RFC 7235 §2.1: each parameter name MUST only occur once; two usernames or
            # responses could be read differently by two servers.
            raise SIPParseError(f"parameter {name!r} appears twice in credentials {show(t)}", 400)
        params[key] = unquote_string(quoted) if quoted is not None else token
        pos = pm.end()
        if pos < n and t[pos] != ",":
            raise SIPParseError(
                f"expected ',' before {show(t[pos:])} in credentials {show(t)}", 400
            )
    if not params:
        raise SIPParseError("Digest credentials without parameters (RFC 3261 §22.4)", 400)
    return DigestCredentials(scheme, params, rest)
