"""permissions' cfg functions and KSR.permissions exports, with Kamailio 5.6's return codes.

Kamailio 5.6's KEMI has allow_source_address, allow_address,
allow_source_address_group, allow_address_group and allow_trusted (no
arguments there). ksrpy adds, under the cfg names: allow_routing,
allow_register, allow_uri (its second argument is a PV name such as "$rt",
or the URI itself), and the optional arguments of allow_trusted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...core.ratelog import RateLimitedLog
from ...script.pv import PVError, resolve
from ..exports import ANY_ROUTE, FAILURE_ROUTE, REQUEST_ROUTE, export
from ..exports import ArgKind as K
from .address import AddressEntry, parse_ip
from .checks import check_register, check_routing, check_uri, from_uri
from .db import DBError
from .trusted import PROTOS, match_rules

if TYPE_CHECKING:
    from ...core.context import Context
    from .backends import Backends
    from .rules import RulePair

log = logging.getLogger("ksrpy.permissions")
#: Script and data mistakes repeat per message: log each kind at most every 10 s.
badlog = RateLimitedLog(log, interval=10.0)
REQ_FAIL = REQUEST_ROUTE | FAILURE_ROUTE


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PermissionsFunctions:
    """The exported functions; mixed into PermissionsModule."""

    backends: Backends
    settings: dict[str, Any]

    def rule_pair(self, first: str | None, second: str | None) -> RulePair | None:
        """The allow/deny files of a call (None when one does not parse)."""
        raise NotImplementedError  # pragma: no cover - see PermissionsModule

    def set_tag(self, ctx: Context, tag: str | None) -> None:
        """Add ``tag`` to the peer_tag_avp AVP (when both are set)."""
        raise NotImplementedError  # pragma: no cover - see PermissionsModule

    # ------------------------------------------------------------ rule files

    @export("allow_routing", ("allow_file", K.STR, True), ("deny_file", K.STR, True),
            routes=ANY_ROUTE)
    def allow_routing(self, ctx: Context, allow_file: str | None = None,
                      deny_file: str | None = None) -> int:
        """1: every (From, R-URI/branch) pair is allowed by the files; -1: denied.

        No argument: default_allow_file/default_deny_file; one: a basename
        (+allow_suffix/deny_suffix); two: the allow and the deny file.
        """
        pair = self.rule_pair(allow_file, deny_file)
        if pair is None:
            return -1
        return check_routing(ctx, pair, bool(self.settings["check_all_branches"]))

    @export("allow_register", ("basename", K.STR), ("deny_file", K.STR, True), routes=REQ_FAIL)
    def allow_register(self, ctx: Context, basename: str, deny_file: str | None = None) -> int:
        """1: every (To, Contact) pair is allowed (no Contact or ``*``: 1); -1: denied."""
        pair = self.rule_pair(basename, deny_file)
        if pair is None:
            return -1
        return check_register(ctx, pair, bool(self.settings["check_all_branches"]))

    @export("allow_uri", ("basename", K.STR), ("pvar", K.STR), routes=REQ_FAIL)
    def allow_uri(self, ctx: Context, basename: str, pvar: str) -> int:
        """1: the pair (From URI, value of ``pvar``) is allowed; -1: denied or null value."""
        pair = self.rule_pair(basename, None)
        if pair is None:
            return -1
        value: Any = pvar
        if isinstance(pvar, str) and pvar.startswith("$"):
            try:
                value = resolve(pvar).get(ctx)
            except PVError as exc:
                badlog.error(("pv", pvar), "allow_uri: %s", exc)
                return -1
        return check_uri(ctx, pair, value)

    # ------------------------------------------------------------- addresses

    def _found(self, ctx: Context, entry: AddressEntry | None, result: int = 1) -> int:
        if entry is None:
            return -1
        self.set_tag(ctx, entry.tag)
        return result

    @export("allow_address", ("group", K.IGP), ("ip", K.SPVE), ("port", K.IGP))
    def allow_address(self, ctx: Context, group: Any, ip: Any, port: Any) -> int:
        """1: ``ip``/``port`` is in address group ``group`` (IP, subnet or domain name); -1: not."""
        grp, prt = _int(group), _int(port)
        if grp is None or prt is None or ip is None:
            return -1
        return self._found(ctx, self.backends.address_tables().match(grp, str(ip), prt))

    @export("allow_source_address", ("group", K.IGP, True))
    def allow_source_address(self, ctx: Context, group: Any = 1) -> int:
        """allow_address(group, $si, $sp) (group 1 when not given)."""
        grp, ip = _int(group), parse_ip(ctx.rcv.src_ip)
        if grp is None or ip is None:
            return -1
        entry = self.backends.address_tables().match_ip(grp, ip, ctx.rcv.src_port)
        return self._found(ctx, entry)

    @export("allow_source_address_group")
    def allow_source_address_group(self, ctx: Context) -> int:
        """The group of the source address/port (exact entries first, then subnets), or -1."""
        ip = parse_ip(ctx.rcv.src_ip)
        if ip is None:
            return -1
        entry = self.backends.address_tables().find_ip(ip, ctx.rcv.src_port)
        return self._found(ctx, entry, entry.group if entry else -1)

    @export("allow_address_group", ("addr", K.SPVE), ("port", K.IGP))
    def allow_address_group(self, ctx: Context, addr: Any, port: Any) -> int:
        """The group of ``addr``/``port`` (IP, subnet or domain name), or -1."""
        prt = _int(port)
        if prt is None or addr is None:
            return -1
        entry = self.backends.address_tables().find(str(addr), prt)
        if entry is not None and entry.network is None:
            return entry.group  # a domain name match sets no tag (Kamailio 5.6)
        return self._found(ctx, entry, entry.group if entry else -1)

    # --------------------------------------------------------------- trusted

    @export("allow_trusted", ("src_ip", K.SPVE, True), ("proto", K.SPVE, True),
            ("uri", K.SPVE, True))
    def allow_trusted(self, ctx: Context, src_ip: Any = None, proto: Any = None,
                      uri: Any = None) -> int:
        """1 (or the match count with peer_tag_mode 1): a trusted rule matches; -1: none.

        Without arguments the source IP and transport of the request; the URI
        matched by from_pattern is the From URI unless ``uri`` is given.
        """
        if src_ip is None:
            ip, wanted = ctx.rcv.src_ip, ctx.rcv.proto.lower()
        elif proto is None:
            raise ValueError("allow_trusted() takes 0, 2 or 3 arguments")
        else:
            ip, wanted = str(src_ip), str(proto).lower()
            if wanted not in PROTOS:
                badlog.error(("proto", wanted), "allow_trusted: unknown protocol %r", proto)
                return -1
        furi = from_uri(ctx) if uri is None else str(uri)
        if furi is None:
            return -1
        try:
            rules = self.backends.trusted_rules(ip)
        except DBError as exc:
            badlog.error("trusted-db", "allow_trusted: %s", exc)
            return -1
        ruri = ctx.msg.ruri if ctx.msg.is_request else ""
        found = match_rules(rules, wanted, furi, ruri, bool(self.settings["peer_tag_mode"]))
        for rule in found:
            self.set_tag(ctx, rule.tag)
        return len(found) if found else -1
