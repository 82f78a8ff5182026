"""corex: core extensions the example scripts use (R-URI user test, User-Agent test, branches)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sip.errors import SIPError
from ..sip.uri import parse_uri
from .exports import ArgKind as K
from .exports import Module, ParamExport, export

if TYPE_CHECKING:
    from ..core.context import Context

#: Kamailio's q for "not given" (as usrloc's Q_UNSPECIFIED).
Q_UNSPECIFIED = -1


def parse_q(text: str) -> int:
    """A q value ('0.5', '1') as Kamailio's integer q (0..1000); ValueError when invalid."""
    text = text.strip()
    if not text:
        return Q_UNSPECIFIED
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(f"q value {text!r} out of range 0..1")
    return round(value * 1000)


class CorexModule(Module):
    """Core extensions: has_ruri_user, has_user_agent, append_branch, is_faked_msg."""

    name = "corex"
    kemi_namespace = "corex"
    params = (
        ParamExport("alias_subdomains", str, "", "Accepted; use the core alias instead."),
        ParamExport("dns_cache", str, "", "Accepted, ignored (no DNS cache in ksrpy)."),
        ParamExport("nio_intercept", int, 0, "Accepted, ignored (no network I/O hooks)."),
        ParamExport("nio_min_msg_len", int, 0, "Accepted, ignored."),
        ParamExport("nio_msg_avp", str, "", "Accepted, ignored."),
        ParamExport("evcb_reply_out", str, "", "Accepted, ignored."),
    )

    @export("has_ruri_user", cfg=False)
    def has_ruri_user(self, ctx: Context) -> int:
        """1 when the Request-URI has a user part, else -1 (KEMI only, as in Kamailio)."""
        uri = ctx.ruri_uri()
        return 1 if uri is not None and uri.user else -1

    @export("has_user_agent", cfg=False)
    def has_user_agent(self, ctx: Context) -> int:
        """1 when the message has a non-empty User-Agent header, else -1 (KEMI only)."""
        return 1 if ctx.msg.user_agent else -1

    @export("is_faked_msg")
    def is_faked_msg(self, ctx: Context) -> int:
        """1 for a faked message (ksrpy makes none: always -1)."""
        return 1 if ctx.extra.get("faked") else -1

    @export("append_branch", ("uri", K.SPVE, True), ("q", K.SPVE, True))
    def append_branch(self, ctx: Context, uri: str = "", q: str = "") -> int:
        """Add a branch (the R-URI and $du when no URI is given) to ctx.extra['branches']."""
        if not ctx.msg.is_request:
            return -1
        try:
            qval = parse_q(q) if q else ctx.extra.get("ruri_q", Q_UNSPECIFIED)
        except ValueError:
            return -1
        branch: dict[str, Any]
        if uri:
            try:
                parse_uri(uri)
            except SIPError:
                return -1
            branch = {"uri": uri, "dst_uri": None, "path": None, "q": qval, "flags": 0,
                      "socket": None}
        else:
            branch = {"uri": ctx.ruri, "dst_uri": ctx.dst_uri,
                      "path": ctx.extra.get("path_vector"), "q": qval,
                      "flags": int(ctx.extra.get("bflags", 0)),
                      "socket": ctx.extra.get("force_socket")}
        ctx.extra.setdefault("branches", []).append(branch)
        return 1

    @export("append_branch_uri", ("uri", K.STR), cfg=False)
    def append_branch_uri(self, ctx: Context, uri: str) -> int:
        """append_branch with a URI (KEMI form)."""
        return self.append_branch(ctx, uri)

    @export("append_branch_uri_q", ("uri", K.STR), ("q", K.STR), cfg=False)
    def append_branch_uri_q(self, ctx: Context, uri: str, q: str) -> int:
        """append_branch with a URI and a q value (KEMI form)."""
        return self.append_branch(ctx, uri, q)
