"""The registrar module: save(), lookup() and friends over usrloc's location tables.

See docs/registrar.md for the functions, parameters, the ``ctx.extra["branches"]``
contract and the differences from Kamailio 5.6.
"""

from __future__ import annotations

import logging
from typing import Any

from ...core.context import Context
from ...script.pv import PVError, resolve
from ...sip.errors import SIPError
from ...sip.uri import parse_uri
from ..exports import (
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    ArgKind,
    Module,
    ParamExport,
    RouteType,
    export,
)
from ..usrloc.module import UsrlocModule
from ..usrloc.records import Contact
from .events import run_expired_event
from .lookup import LookupMixin
from .pv import Profile
from .reply import PreparedReply
from .save import SAVE_NOREPLY, SAVE_PREPARE, SaveMixin

log = logging.getLogger("ksrpy.registrar")

K = ArgKind
_NOOP = "Accepted for compatibility; no effect in ksrpy."
_ONLY0 = "Only 0 (the feature is not available in ksrpy)."
SAVE_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE
LOOKUP_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE
#: Parameters that must stay 0 in ksrpy.
ONLY_ZERO = ("gruu_enabled", "outbound_mode", "regid_mode", "flow_timer",
             "lookup_filter_mode", "path_check_local")


class RegistrarModule(SaveMixin, LookupMixin, Module):
    """REGISTER processing (save) and location lookups, as Kamailio's registrar."""

    name = "registrar"
    kemi_namespace = "registrar"
    params = (
        ParamExport("default_expires", int, 3600, "Expiry when the REGISTER gives none."),
        ParamExport("default_expires_range", int, 0, "Randomise default_expires down by up "
                    "to this percentage."),
        ParamExport("expires_range", int, 0, "Randomise requested expiries down by up to this "
                    "percentage."),
        ParamExport("min_expires", int, 60, "Lowest expiry (0: no check)."),
        ParamExport("min_expires_mode", int, 0, "0 raise to min_expires; 1 reply 423 with "
                    "Min-Expires."),
        ParamExport("max_expires", int, 0, "Highest expiry (0: no bound)."),
        ParamExport("default_q", int, -1, "q (x1000) of contacts without q; -1 unspecified "
                    "(Kamailio 5.6's effective default)."),
        ParamExport("realm_prefix", str, "", "Prefix stripped from the domain of AoRs."),
        ParamExport("append_branches", int, 1, "1: lookup() adds the other contacts as "
                    "branches."),
        ParamExport("case_sensitive", int, 0, "1: AoRs are case sensitive."),
        ParamExport("received_avp", str, "", "PV holding the received URI to store (e.g. "
                    "$avp(RECEIVED) set by nathelper's fix_nated_register)."),
        ParamExport("received_param", str, "received", "Contact parameter showing the "
                    "received URI in 200 OK ('' for none)."),
        ParamExport("max_contacts", int, 0, "Contacts per AoR (0: no bound); more: 503."),
        ParamExport("retry_after", int, 0, "Retry-After seconds in 5xx replies (0: none)."),
        ParamExport("method_filtering", int, 0, "1: lookup() keeps contacts whose Allow has "
                    "the method."),
        ParamExport("use_path", int, 0, "1: store Path headers with contacts."),
        ParamExport("path_mode", int, 2, "0 path not in reply; 1 in reply when Supported: "
                    "path; 2 as 1 but 420 without it."),
        ParamExport("path_use_received", int, 0, "1: the received= of the first Path URI is "
                    "the contact's received."),
        ParamExport("contact_max_size", int, 512, "Longest contact URI (longer: 400)."),
        ParamExport("xavp_cfg", str, "", "XAVP with per-request settings (expires, q, "
                    "max_contacts, match_callid, match_received, match_contact)."),
        ParamExport("use_expired_contacts", int, 0, "1: lookup() also uses expired contacts."),
        ParamExport("gruu_enabled", int, 0, _ONLY0 + " Kamailio's default is 1."),
        ParamExport("outbound_mode", int, 0, _ONLY0),
        ParamExport("regid_mode", int, 0, _ONLY0),
        ParamExport("flow_timer", int, 0, _ONLY0),
        ParamExport("lookup_filter_mode", int, 0, _ONLY0),
        ParamExport("path_check_local", int, 0, _ONLY0),
        ParamExport("sock_flag", int, -1, _NOOP),
        ParamExport("sock_hdr_name", str, "", _NOOP),
        ParamExport("sock_mode", int, 0, _NOOP),
        ParamExport("reg_callid_avp", str, "", "Obsolete in Kamailio; " + _NOOP),
        ParamExport("xavp_rcd", str, "", _NOOP),
        ParamExport("xavp_rcd_mask", int, 0, _NOOP),
        ParamExport("event_callback", str, "", "Not supported yet (logged at start); "
                    "use event_route[usrloc:contact-expired]."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        #: $ulc profiles: name -> fetched contacts.
        self.profiles: dict[str, Profile] = {}
        self._listening = False
        super().__init__(engine, settings)

    def set_param(self, key: str, value: Any) -> None:
        """modparam; the features ksrpy lacks accept only 0."""
        if key in ONLY_ZERO and str(value).strip() not in ("0", ""):
            raise ValueError(f"modparam registrar.{key}={value}: not supported in ksrpy "
                             "(only 0)")
        super().set_param(key, value)

    @property
    def usrloc(self) -> UsrlocModule:
        """The usrloc module (loaded on demand, as Kamailio requires it)."""
        module = self.engine.modules.get("usrloc")
        if module is None:
            module = self.engine.load_module("usrloc")
        self._listen(module)
        return module  # type: ignore[no-any-return]

    def _listen(self, module: UsrlocModule) -> None:
        if not self._listening:
            module.expiry_listeners.append(self._on_expired)
            self._listening = True

    def init(self) -> None:
        """Hook the expiry event to usrloc."""
        self._listen(self.usrloc)
        if self.settings["event_callback"]:
            log.warning("registrar: event_callback is not supported yet; "
                        "event_route[usrloc:contact-expired] is used instead")

    def _on_expired(self, table: str, contact: Contact) -> None:
        self.profiles["exp"] = Profile(contact.aor, table, [contact])
        run_expired_event(self.engine, self.settings["event_callback"])

    # ---------------------------------------------------------------- helpers

    def aor_from_uri(self, uri: str) -> str:
        """The AoR key of a URI: user (unescaped), @domain with use_domain; lower case."""
        parsed = parse_uri(uri.strip())
        user = parsed.user or ""
        if "%" in user:
            from urllib.parse import unquote

            user = unquote(user)
        host = (parsed.host or "").strip("[]")
        prefix = self.settings["realm_prefix"]
        if prefix and host.startswith(prefix) and len(host) > len(prefix):
            host = host[len(prefix):]
        aor = self.usrloc.aor_of(user, host)
        return aor if self.settings["case_sensitive"] else aor.lower()

    def _xavp_cfg(self, ctx: Context, name: str) -> Any:
        root = self.settings["xavp_cfg"]
        if not root:
            return None
        try:
            return resolve(f"$xavp({root}=>{name})").get(ctx)
        except PVError:
            return None

    def _send(self, ctx: Context, reply: PreparedReply) -> None:
        self.engine.send_reply(ctx, reply.code, reply.reason, headers=reply.headers)

    # -------------------------------------------------------------- functions

    @export("save", ("table", K.STR), ("flags", K.IGP, True), ("uri", K.SPVE, True),
            routes=SAVE_ROUTES)
    def save(self, ctx: Context, table: str, flags: int = 0, uri: str = "") -> int:
        """Store the REGISTER's contacts and reply 200 with all bindings (flags 0x01 memory
        only, 0x02 no reply, 0x04 one contact per AoR, 0x08 no expires range, 0x10 prepare
        the reply); 1 added, 2 updated, 3 deleted, 4 listed, -1 error, -2 too many."""
        rc, reply = self.do_save(ctx, table, int(flags or 0), uri or None)
        ctx.extra.pop("reg_reply", None)
        if reply is None:
            return rc
        request_like = ctx.route_type & (RouteType.REQUEST | RouteType.FAILURE)
        if flags & SAVE_NOREPLY:
            ctx.extra["reg_reply"] = reply
        elif request_like and (rc > 0 or ctx.route_type & RouteType.REQUEST):
            self._send(ctx, reply)
        _ = SAVE_PREPARE
        return rc

    @export("save_uri", ("table", K.STR), ("flags", K.IGP), ("uri", K.SPVE), cfg=False)
    def save_uri(self, ctx: Context, table: str, flags: int, uri: str) -> int:
        """save() with an AoR URI instead of the To URI (KEMI form)."""
        return self.save(ctx, table, flags, uri)

    @export("reg_send_reply", routes=LOOKUP_ROUTES)
    def reg_send_reply(self, ctx: Context) -> int:
        """Send the reply save() prepared with flag 0x02."""
        reply = ctx.extra.pop("reg_reply", None)
        if reply is None:
            return -1
        self._send(ctx, reply)
        return 1

    @export("lookup", ("table", K.STR), ("uri", K.SPVE, True), routes=LOOKUP_ROUTES)
    def lookup(self, ctx: Context, table: str, uri: str = "") -> int:
        """Set the R-URI to the best contact of the AoR (others as branches); 1 found,
        -1 none, -2 method not accepted, -3 error."""
        return self.do_lookup(ctx, table, uri or None)

    @export("lookup_uri", ("table", K.STR), ("uri", K.SPVE), cfg=False)
    def lookup_uri(self, ctx: Context, table: str, uri: str) -> int:
        """lookup() for another URI (KEMI form)."""
        return self.do_lookup(ctx, table, uri or None)

    @export("lookup_to_dset", ("table", K.STR), ("uri", K.SPVE, True), routes=LOOKUP_ROUTES)
    def lookup_to_dset(self, ctx: Context, table: str, uri: str = "") -> int:
        """As lookup() but every contact becomes a branch; the R-URI is not changed."""
        return self.do_lookup(ctx, table, uri or None, to_dset=True)

    @export("lookup_branches", ("table", K.STR), routes=LOOKUP_ROUTES)
    def lookup_branches(self, ctx: Context, table: str) -> int:
        """lookup() on the R-URI and on every branch that has only a URI."""
        return self.do_lookup_branches(ctx, table)

    @export("registered", ("table", K.STR), ("uri", K.SPVE, True),
            ("match_option", K.IGP, True), ("match_action", K.IGP, True))
    def registered(self, ctx: Context, table: str, uri: str = "", match_option: int = 0,
                   match_action: int = 0) -> int:
        """1 when the AoR (R-URI, To in replies, or uri) has a valid contact, else -1."""
        xavp = {n: self._xavp_cfg(ctx, n)
                for n in ("match_callid", "match_received", "match_contact")}
        return self.do_registered(ctx, table, uri or None, int(match_option or 0), xavp)

    @export("registered_uri", ("table", K.STR), ("uri", K.SPVE), cfg=False)
    def registered_uri(self, ctx: Context, table: str, uri: str) -> int:
        """registered() for a URI (KEMI form)."""
        return self.registered(ctx, table, uri)

    @export("registered_flags", ("table", K.STR), ("uri", K.SPVE), ("match_option", K.INT),
            cfg=False)
    def registered_flags(self, ctx: Context, table: str, uri: str, match_option: int) -> int:
        """registered() with match flags (KEMI form)."""
        return self.registered(ctx, table, uri, match_option)

    @export("registered_action", ("table", K.STR), ("uri", K.SPVE), ("match_option", K.INT),
            ("match_action", K.INT), cfg=False)
    def registered_action(self, ctx: Context, table: str, uri: str, match_option: int,
                          match_action: int) -> int:
        """registered() with match flags and actions (KEMI form)."""
        return self.registered(ctx, table, uri, match_option, match_action)

    @export("unregister", ("table", K.STR), ("uri", K.SPVE), ("ruid", K.SPVE, True))
    def unregister(self, ctx: Context, table: str, uri: str, ruid: str = "") -> int:
        """Remove all contacts of the AoR, or the one with ``ruid``; 1 done, -1 bad URI,
        -3 ruid not found."""
        ul = self.usrloc
        domain = ul.domain(table)
        assert domain is not None
        if not ruid:
            try:
                aor = self.aor_from_uri(uri or str(ctx.msg.to.uri))
            except (SIPError, ValueError):
                return -1
            ul.delete_record(domain, aor)
            return 1
        if uri:
            try:
                recs = [domain.get(self.aor_from_uri(uri))]
            except (SIPError, ValueError):
                return -1
        else:
            recs = list(domain.records.values())
        for rec in recs:
            found = rec.by_ruid(ruid) if rec is not None else None
            if found is not None:
                ul.delete(domain, found)
                return 1
        return -3

    @export("unregister_ruid", ("table", K.STR), ("uri", K.SPVE), ("ruid", K.SPVE), cfg=False)
    def unregister_ruid(self, ctx: Context, table: str, uri: str, ruid: str) -> int:
        """unregister() of one contact (KEMI form)."""
        return self.unregister(ctx, table, uri, ruid)

    @export("reg_fetch_contacts", ("table", K.STR), ("uri", K.SPVE), ("profile", K.STR),
            routes=LOOKUP_ROUTES)
    def reg_fetch_contacts(self, ctx: Context, table: str, uri: str, profile: str) -> int:
        """Copy the AoR's contacts into $ulc(profile=>...); 1 found, -1 none."""
        self.profiles.pop(profile, None)
        try:
            aor = self.aor_from_uri(uri)
        except (SIPError, ValueError):
            return -1
        domain = self.usrloc.domain(table)
        rec = domain.get(aor) if domain is not None else None
        contacts = rec.valid(self.usrloc.clock()) if rec is not None else []
        if not contacts:
            return -1
        self.profiles[profile] = Profile(aor, table, list(contacts))
        return 1

    @export("reg_free_contacts", ("profile", K.STR), routes=LOOKUP_ROUTES)
    def reg_free_contacts(self, ctx: Context, profile: str) -> int:
        """Forget $ulc(profile=>...)."""
        self.profiles.pop(profile, None)
        return 1

    @export("set_q_override", ("q", K.SPVE))
    def set_q_override(self, ctx: Context, q: str) -> int:
        """Use this q (0..1000, or 0.0..1.0) for the contacts save() stores next."""
        try:
            value = float(q)
        except ValueError:
            return -1
        qi = int(round(value * 1000)) if "." in q else int(value)
        if not 0 <= qi <= 1000:
            return -1
        ctx.extra["reg_q_override"] = qi
        return 1

    @export("add_sock_hdr", ("hdr_name", K.SPVE), routes=REQUEST_ROUTE)
    def add_sock_hdr(self, ctx: Context, hdr_name: str) -> int:
        """Add a header ``hdr_name: proto:ip:port`` naming the receiving socket."""
        ctx.msg.add_header(hdr_name, self._socket(ctx))
        return 1
