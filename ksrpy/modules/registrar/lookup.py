"""lookup(), lookup_to_dset(), lookup_branches(), registered(): reading location tables.

The R-URI becomes the highest-q contact; its ``received`` becomes $du, its
path a Route header at the top of the request (and $du its first URI). The
other contacts go to ``ctx.extra["branches"]`` (see docs/registrar.md) when
append_branches is 1. Return codes: 1 found, -1 none, -2 found but none
accepts the method (method_filtering), -3 internal error (bad URI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...sip.errors import SIPError
from ...sip.nameaddr import parse_name_addr
from ...sip.params import split_header_values
from ..usrloc.records import Contact
from .save import method_bit

if TYPE_CHECKING:
    from ...core.context import Context
    from ..usrloc.module import UsrlocModule


def branch_of(c: Contact) -> dict[str, Any]:
    """A contact as a ctx.extra["branches"] entry."""
    return {"uri": c.uri, "dst_uri": c.received, "path": c.path, "q": c.q,
            "flags": c.cflags, "socket": c.socket}


def first_path_uri(path: str) -> str | None:
    """The URI of the first Path entry."""
    try:
        return str(parse_name_addr(split_header_values(path)[0]).uri)
    except (SIPError, IndexError):
        return None


class LookupMixin:
    """Lookup functions; mixed into RegistrarModule."""

    settings: dict[str, Any]

    @property
    def usrloc(self) -> UsrlocModule:  # pragma: no cover - see RegistrarModule
        """The usrloc module."""
        raise NotImplementedError

    def aor_from_uri(self, uri: str) -> str:  # pragma: no cover - see RegistrarModule
        """The AoR key of a URI."""
        raise NotImplementedError

    def find_contacts(self, ctx: Context, table: str, uri: str) -> tuple[int, list[Contact]]:
        """(1, usable contacts) or (-1|-2|-3, [])."""
        try:
            aor = self.aor_from_uri(uri)
        except (SIPError, ValueError):
            return -3, []
        domain = self.usrloc.domain(table)
        rec = domain.get(aor) if domain is not None else None
        if rec is None:
            return -1, []
        now = self.usrloc.clock()
        contacts = list(rec.contacts) if self.settings["use_expired_contacts"] else rec.valid(now)
        if not contacts:
            return -1, []
        if self.settings["method_filtering"] and ctx.msg.is_request and not _has_to_tag(ctx):
            bit = method_bit(ctx.msg.method)
            contacts = [c for c in contacts if c.methods & bit]
            if not contacts:
                return -2, []
        return 1, contacts

    def do_lookup(self, ctx: Context, table: str, uri: str | None, to_dset: bool = False
                  ) -> int:
        """lookup() / lookup_to_dset()."""
        rc, contacts = self.find_contacts(ctx, table, uri or ctx.ruri)
        if rc < 0:
            return rc
        branches = ctx.extra.setdefault("branches", [])
        if to_dset:
            branches.extend(branch_of(c) for c in contacts)
            return 1
        first, rest = contacts[0], contacts[1:]
        ctx.new_ruri = first.uri
        ctx.dst_uri = None
        if first.path:
            hop = first_path_uri(first.path)
            if hop is None:
                return -3
            ctx.msg.add_header("Route", first.path, top=True)
            ctx.dst_uri = hop
        elif first.received:
            ctx.dst_uri = first.received
        ctx.extra["bflags"] = int(ctx.extra.get("bflags", 0)) | first.cflags
        if first.socket:
            ctx.extra["lookup_socket"] = first.socket
        if self.settings["append_branches"]:
            branches.extend(branch_of(c) for c in rest)
        return 1

    def do_lookup_branches(self, ctx: Context, table: str) -> int:
        """lookup() on the R-URI and on every branch that has only a URI."""
        old = ctx.extra.get("branches", [])
        ctx.extra["branches"] = []
        rc = self.do_lookup(ctx, table, None)
        kept: list[dict[str, Any]] = []
        for br in old:
            if br.get("dst_uri") or br.get("path") or br.get("socket"):
                kept.append(br)
                continue
            brc, contacts = self.find_contacts(ctx, table, br["uri"])
            if brc > 0:
                kept.extend(branch_of(c) for c in contacts)
                rc = 1 if rc < 0 else rc
            else:
                kept.append(br)
        ctx.extra["branches"] = [*ctx.extra["branches"], *kept]
        return rc

    def do_registered(self, ctx: Context, table: str, uri: str | None, match: int,
                      xavp: dict[str, Any]) -> int:
        """registered(): 1 when the AoR has a valid contact matching ``match``, else -1."""
        if not uri:
            try:
                uri = ctx.ruri if ctx.msg.is_request else str(ctx.msg.to.uri)
            except SIPError:
                return -1
        try:
            aor = self.aor_from_uri(uri)
        except (SIPError, ValueError):
            return -1
        domain = self.usrloc.domain(table)
        rec = domain.get(aor) if domain is not None else None
        if rec is None:
            return -1
        for c in rec.valid(self.usrloc.clock()):
            if match & 1 and c.callid != xavp.get("match_callid"):
                continue
            if match & 2 and c.received != xavp.get("match_received"):
                continue
            if match & 4 and c.uri != xavp.get("match_contact"):
                continue
            return 1
        return -1


def _has_to_tag(ctx: Context) -> bool:
    try:
        return bool(ctx.msg.to.tag)
    except SIPError:
        return False
