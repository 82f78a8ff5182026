"""siputils: message tests the routing logic needs (has_totag, is_request, URI tests)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..sip.errors import SIPError
from ..sip.uri import SipURI, parse_uri
from .exports import REQUEST_ROUTE, Module, ParamExport, Returns, export
from .exports import ArgKind as K

if TYPE_CHECKING:
    from ..core.context import Context

_E164 = re.compile(r"\+[0-9]{2,15}")
_NUMERIC = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9]+")
#: URI parameters that must match when present in either URI (RFC 3261 §19.1.4).
_MUST_MATCH = ("user", "ttl", "method", "maddr", "transport")


def _parse(uri: str) -> SipURI | None:
    try:
        return parse_uri(uri.strip())
    except SIPError:
        return None


def uri_equal(a: SipURI, b: SipURI) -> bool:
    """RFC 3261 §19.1.4 comparison of two parsed URIs."""
    if a.scheme.lower() != b.scheme.lower():
        return False
    if not a.is_sip:
        return str(a).lower() == str(b).lower()
    if (a.user, a.password) != (b.user, b.password):
        return False
    if a.host.lower() != b.host.lower() or a.port != b.port:
        return False
    pa = {k.lower(): (v or "").lower() for k, v in a.params.items()}
    pb = {k.lower(): (v or "").lower() for k, v in b.params.items()}
    for name in _MUST_MATCH:
        if pa.get(name) != pb.get(name):
            return False
    if any(pa[k] != pb[k] for k in pa.keys() & pb.keys()):
        return False
    return (a.headers or "") == (b.headers or "")


def aor_equal(a: SipURI, b: SipURI) -> bool:
    """Kamailio's cmp_aor: user (exact), host (any case) and port (5060 when absent)."""
    if not a.is_sip or not b.is_sip:
        return a.user == b.user and a.host.lower() == b.host.lower()
    return (a.user == b.user and a.host.lower() == b.host.lower()
            and (a.port or 5060) == (b.port or 5060))


class SiputilsModule(Module):
    """SIP helper tests (Kamailio's siputils)."""

    name = "siputils"
    kemi_namespace = "siputils"
    params = (
        ParamExport("options_accept", str, "*/*", "Accept value for options_reply."),
        ParamExport("options_accept_encoding", str, "", "Accept-Encoding for options_reply."),
        ParamExport("options_accept_language", str, "en", "Accept-Language for options_reply."),
        ParamExport("options_support", str, "", "Supported value for options_reply."),
    )

    @export("has_totag")
    def has_totag(self, ctx: Context) -> int:
        """1 when the To header has a tag (an in-dialog request), else -1."""
        try:
            return 1 if ctx.msg.to.tag else -1
        except SIPError:
            return -1

    @export("is_request")
    def is_request(self, ctx: Context) -> int:
        """1 for a request, -1 for a reply."""
        return 1 if ctx.msg.is_request else -1

    @export("is_reply")
    def is_reply(self, ctx: Context) -> int:
        """1 for a reply, -1 for a request."""
        return -1 if ctx.msg.is_request else 1

    @export("is_first_hop", ("mode", K.INT, True))
    def is_first_hop(self, ctx: Context, mode: int = 0) -> int:
        """1 when the message comes from the first hop: one Via in a request, two in a reply."""
        try:
            count = len(ctx.msg.vias)
        except SIPError:
            return -1
        expected = 1 if ctx.msg.is_request else 2
        return 1 if count == expected else -1

    @export("is_first_hop_mode", ("mode", K.INT), cfg=False)
    def is_first_hop_mode(self, ctx: Context, mode: int) -> int:
        """is_first_hop with a mode argument (KEMI form)."""
        return self.is_first_hop(ctx, mode)

    @export("options_reply", routes=REQUEST_ROUTE)
    def options_reply(self, ctx: Context) -> int:
        """Answer an OPTIONS for this server with 200 and Accept*/Supported headers."""
        msg = ctx.msg
        if not msg.is_request or msg.method != "OPTIONS":
            return -1
        headers = [f"Accept: {self.settings['options_accept']}"]
        if self.settings["options_accept_encoding"]:
            headers.append(f"Accept-Encoding: {self.settings['options_accept_encoding']}")
        if self.settings["options_accept_language"]:
            headers.append(f"Accept-Language: {self.settings['options_accept_language']}")
        if self.settings["options_support"]:
            headers.append(f"Supported: {self.settings['options_support']}")
        return 1 if self.engine.send_reply(ctx, 200, "OK", headers) else -1

    # ------------------------------------------------------------- R-URI tests

    @export("is_user", ("user", K.STR))
    def is_user(self, ctx: Context, user: str) -> int:
        """1 when the credentials (Proxy-Authorization, else Authorization) are for ``user``."""
        try:
            creds = ctx.msg.credentials(proxy=True) or ctx.msg.credentials()
        except SIPError:
            return -1
        return 1 if any(c.username == user for c in creds) else -1

    @export("uri_param", ("param", K.STR), ("value", K.STR, True))
    def uri_param(self, ctx: Context, param: str, value: str | None = None) -> int:
        """1 when the R-URI has parameter ``param`` (with ``value`` when given), else -1."""
        uri = ctx.ruri_uri()
        if uri is None or param not in uri.params:
            return -1
        if value is None:
            return 1
        return 1 if uri.params.get(param) == value else -1

    @export("uri_param_value", ("param", K.STR), ("value", K.STR), cfg=False)
    def uri_param_value(self, ctx: Context, param: str, value: str) -> int:
        """uri_param with a value to compare (KEMI form)."""
        return self.uri_param(ctx, param, value)

    @export("uri_param_any", ("param", K.STR))
    def uri_param_any(self, ctx: Context, param: str) -> int:
        """1 when the R-URI has parameter ``param`` with any value, else -1."""
        return self.uri_param(ctx, param)

    @export("add_uri_param", ("param", K.STR), routes=REQUEST_ROUTE)
    def add_uri_param(self, ctx: Context, param: str) -> int:
        """Append ``;param`` to the R-URI (before any ?headers); -1 on error."""
        uri = ctx.ruri_uri()
        if uri is None or not param or any(c in param for c in " \r\n;?"):
            return -1
        text = ctx.ruri
        head, sep, tail = text.partition("?")
        candidate = f"{head};{param}{sep}{tail}"
        if _parse(candidate) is None:
            return -1
        ctx.new_ruri = candidate
        return 1

    @export("is_uri_host_local")
    def is_uri_host_local(self, ctx: Context) -> int:
        """1 when the R-URI host is this proxy (listen addresses and aliases), else -1."""
        uri = ctx.ruri_uri()
        if uri is None or not uri.is_sip:
            return -1
        host = uri.host_no_brackets
        return 1 if self.engine.myself.is_myself(host, uri.port, uri.transport) else -1

    @export("is_e164", ("value", K.SPVE))
    def is_e164(self, ctx: Context, value: str) -> int:
        """1 when the value is an E.164 number ('+' and 2..15 digits), else -1."""
        return 1 if _E164.fullmatch(str(value)) else -1

    @export("is_uri_user_e164", ("uri", K.SPVE))
    def is_uri_user_e164(self, ctx: Context, uri: str) -> int:
        """1 when the user part of the URI is an E.164 number, else -1."""
        parsed = _parse(str(uri))
        return 1 if parsed is not None and _E164.fullmatch(parsed.user or "") else -1

    @export("is_uri", ("value", K.SPVE))
    def is_uri(self, ctx: Context, value: str) -> int:
        """1 when the value parses as a URI (sip, sips, tel ...), else -1."""
        return 1 if value and _parse(str(value)) is not None else -1

    @export("is_numeric", ("value", K.SPVE))
    def is_numeric(self, ctx: Context, value: str) -> int:
        """1 when the value is only digits, else -1."""
        return 1 if _NUMERIC.fullmatch(str(value)) else -1

    @export("is_alphanum", ("value", K.SPVE))
    def is_alphanum(self, ctx: Context, value: str) -> int:
        """1 when the value is only ASCII letters and digits, else -1."""
        return 1 if _ALNUM.fullmatch(str(value)) else -1

    @export("cmp_uri", ("uri1", K.SPVE), ("uri2", K.SPVE), returns=Returns.INT)
    def cmp_uri(self, ctx: Context, uri1: str, uri2: str) -> int:
        """1 when the URIs are equal by RFC 3261 rules, -1 when not, -2 when one is invalid."""
        a, b = _parse(str(uri1)), _parse(str(uri2))
        if a is None or b is None:
            return -2
        return 1 if uri_equal(a, b) else -1

    @export("cmp_aor", ("uri1", K.SPVE), ("uri2", K.SPVE), returns=Returns.INT)
    def cmp_aor(self, ctx: Context, uri1: str, uri2: str) -> int:
        """1 when the URIs name the same AoR (user, host, port), -1 when not, -2 invalid."""
        a, b = _parse(str(uri1)), _parse(str(uri2))
        if a is None or b is None:
            return -2
        return 1 if aor_equal(a, b) else -1
