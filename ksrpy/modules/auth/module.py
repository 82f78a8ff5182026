"""The auth module: challenges, nonce checks and the verification API auth_db builds on."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...script.pv import resolve
from ..exports import ANY_ROUTE, REQUEST_ROUTE, Module, ParamExport, export
from ..exports import ArgKind as K
from . import codes
from .digest import Checked, calc_ha1, check_shape, rspauth, verify
from .nonce import NonceFactory, NonceStatus, ReplayTable
from .request import (
    CredentialsError,
    Found,
    bound_parts,
    checks_for,
    default_realm,
    find_credentials,
    uri_user_host,
)

if TYPE_CHECKING:
    from ...core.context import Context

log = logging.getLogger("ksrpy.auth")

#: Looks up the HA1 for checked credentials: the HA1, or None for an unknown user.
Ha1Lookup = Callable[[Checked], "str | None"]

_NONCE_STATUS = {
    NonceStatus.INVALID: codes.AUTH_ERROR,
    NonceStatus.STALE: codes.AUTH_STALE_NONCE,
    NonceStatus.REUSED: codes.AUTH_NONCE_REUSED,
}


def _order(size: int, order: int) -> int:
    """log2 of a size given directly (rounded down), else the order."""
    return max(size.bit_length() - 1, 3) if size > 0 else order


class AuthModule(Module):
    """Digest authentication core: challenges (401/407), signed nonces, replay checks."""

    name = "auth"
    kemi_namespace = "auth"
    params = (
        ParamExport("secret", str, "", "Nonce signing secret; empty: random per process "
                                       "(set the same value on every node of a cluster)."),
        ParamExport("nonce_expire", int, 300, "Nonce lifetime in seconds."),
        ParamExport("nonce_auth_max_drift", int, 3, "Seconds a nonce may come from the future."),
        ParamExport("qop", str, "", "qop offered when the challenge flags ask for none."),
        ParamExport("nonce_count", int, 0, "1: track nc per nonce (replays are stale)."),
        ParamExport("one_time_nonce", int, 0, "1: a nonce is accepted once (reuse: -6)."),
        ParamExport("nid_pool_no", int, 1, "Accepted for compatibility (one pool)."),
        ParamExport("nc_array_size", int, 0, "nc slots (2^k); 0: 2^nc_array_order."),
        ParamExport("nc_array_order", int, 20, "log2 of the nc slots (1 byte each)."),
        ParamExport("otn_in_flight_no", int, 0, "One-time nonce slots (2^k); 0: from order."),
        ParamExport("otn_in_flight_order", int, 20, "log2 of the one-time nonce slots (1 bit)."),
        ParamExport("auth_checks_register", int, 0, "Bind REGISTER nonces: 1 URI, 2 Call-ID, "
                                                    "4 From tag, 8 source IP."),
        ParamExport("auth_checks_no_dlg", int, 0, "Same bits for requests without To tag."),
        ParamExport("auth_checks_in_dlg", int, 0, "Same bits for in-dialog requests."),
        ParamExport("force_stateless_reply", int, 0, "1: challenges are stateless even when "
                                                       "a transaction exists."),
        ParamExport("realm_prefix", str, "", "Prefix stripped from realms (e.g. 'sip.')."),
        ParamExport("use_domain", int, 0, "pv_auth_check also compares URI domains."),
        ParamExport("algorithm", str, "", "MD5 (empty) or SHA-256 (RFC 8760)."),
        ParamExport("add_authinfo_hdr", int, 0, "Authentication-Info on replies after success."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.nonces: NonceFactory | None = None
        super().__init__(engine, settings)

    def init(self) -> None:
        """Check the algorithm and build the nonce factory (random secret when unset)."""
        if self.algorithm not in ("MD5", "SHA-256"):
            raise ValueError(f"modparam auth.algorithm must be MD5 or SHA-256, "
                             f"not {self.settings['algorithm']!r}")
        secret = self.settings["secret"].encode() or os.urandom(32)
        s = self.settings
        replay = ReplayTable(_order(s["nc_array_size"], s["nc_array_order"]),
                             _order(s["otn_in_flight_no"], s["otn_in_flight_order"]))
        self.nonces = NonceFactory(secret, s["nonce_expire"], s["nonce_auth_max_drift"], replay)

    @property
    def algorithm(self) -> str:
        """The digest algorithm in use: "MD5" or "SHA-256"."""
        return self.settings["algorithm"].strip().upper() or "MD5"

    def factory(self) -> NonceFactory:
        """The nonce factory (init on first use when run without init, e.g. in tests)."""
        if self.nonces is None:
            self.init()
        assert self.nonces is not None
        return self.nonces

    def strip_realm(self, realm: str) -> str:
        """Remove realm_prefix from a realm."""
        prefix = self.settings["realm_prefix"]
        if prefix and realm.startswith(prefix):
            return realm[len(prefix):]
        return realm

    def ha1(self, username: str, realm: str, password: str) -> str:
        """HA1 of a plain password with the configured algorithm."""
        return calc_ha1(self.algorithm, username, realm, password)

    # ----------------------------------------------------------- challenges

    def new_nonce(self, ctx: Context) -> str:
        """A nonce for this request, bound as auth_checks_* says."""
        s = self.settings
        checks = checks_for(ctx, s["auth_checks_register"], s["auth_checks_no_dlg"],
                            s["auth_checks_in_dlg"])
        return self.factory().make(checks, bound_parts(ctx, checks), bool(s["nonce_count"]),
                                   bool(s["one_time_nonce"]))

    def challenge_value(self, ctx: Context, realm: str, flags: int) -> str:
        """``Digest realm="..", nonce=".."[, qop=".."][, stale=true][, algorithm=..]``."""
        if flags & 2:
            qop = "auth-int"
        elif flags & 1:
            qop = "auth"
        else:
            qop = self.settings["qop"].strip()
        realm = realm.replace("\\", "\\\\").replace('"', '\\"')
        value = f'Digest realm="{realm}", nonce="{self.new_nonce(ctx)}"'
        if qop:
            value += f', qop="{qop}"'
        if flags & 16 or ctx.extra.get("auth_stale"):
            value += ", stale=true"
        if self.settings["algorithm"].strip():
            value += f", algorithm={self.algorithm}"
        return value

    def _challenge(self, ctx: Context, realm: str, flags: int, proxy: bool) -> int:
        msg = ctx.msg
        if not msg.is_request:
            return -1
        if msg.method in ("ACK", "CANCEL"):
            return 1
        flags = int(flags)
        realm = self.strip_realm(str(realm) if realm else default_realm(ctx))
        if not realm:
            log.error("auth: no realm to challenge with")
            if not flags & 4:
                self.engine.send_reply(ctx, 500, "Internal Server Error")
            return -1
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        line = f"{name}: {self.challenge_value(ctx, realm, flags)}"
        code, reason = (407, "Proxy Authentication Required") if proxy else (401, "Unauthorized")
        return self._send_challenge(ctx, code, reason, line)

    def _send_challenge(self, ctx: Context, code: int, reason: str, line: str) -> int:
        """Through the transaction when there is one (unless force_stateless_reply), as Kamailio."""
        tm = self.engine.tm
        if tm is not None and not self.settings["force_stateless_reply"] and tm.is_stateful(ctx):
            return 1 if tm.reply(ctx, code, reason, [line]) > 0 else -1
        return 1 if self.engine.send_reply(ctx, code, reason, headers=[line]) else -1

    @export("www_challenge", ("realm", K.SPVE), ("flags", K.IGP), routes=REQUEST_ROUTE)
    def www_challenge(self, ctx: Context, realm: str, flags: int) -> int:
        """Reply 401 with a WWW-Authenticate challenge (flags: 1 qop=auth, 2 auth-int, 16 stale)."""
        return self._challenge(ctx, realm, flags, False)

    @export("proxy_challenge", ("realm", K.SPVE), ("flags", K.IGP), routes=REQUEST_ROUTE)
    def proxy_challenge(self, ctx: Context, realm: str, flags: int) -> int:
        """Reply 407 with a Proxy-Authenticate challenge (flags as www_challenge)."""
        return self._challenge(ctx, realm, flags, True)

    @export("auth_challenge", ("realm", K.SPVE), ("flags", K.IGP), routes=REQUEST_ROUTE)
    def auth_challenge(self, ctx: Context, realm: str, flags: int) -> int:
        """www_challenge for REGISTER, proxy_challenge for other requests."""
        return self._challenge(ctx, realm, flags, ctx.msg.method != "REGISTER")

    @export("auth_get_www_authenticate", ("realm", K.SPVE), ("flags", K.IGP),
            ("pvdest", K.PVNAME), routes=ANY_ROUTE)
    def auth_get_www_authenticate(self, ctx: Context, realm: str, flags: int, pvdest: str) -> int:
        """Store a WWW-Authenticate header line (with CRLF) in ``pvdest``."""
        realm = self.strip_realm(str(realm) if realm else default_realm(ctx))
        if not realm:
            return -1
        pv = resolve(pvdest)
        if pv.set is None:
            return -1
        pv.set(ctx, f"WWW-Authenticate: {self.challenge_value(ctx, realm, int(flags))}\r\n")
        return 1

    # ---------------------------------------------------------- verification

    def pre_auth(self, ctx: Context, realm: str, proxy: bool) -> tuple[int, Checked | None]:
        """Find and pre-check credentials: 0 to go on with the returned ones, else a code."""
        realm = self.strip_realm(str(realm) if realm else default_realm(ctx))
        try:
            found = find_credentials(ctx, realm, proxy)
        except CredentialsError as exc:
            log.info("auth: bad credentials from %s: %s", ctx.rcv.src_ip, exc)
            return codes.AUTH_ERROR, None
        if found is None:
            return codes.AUTH_NO_CREDENTIALS, None
        checked = check_shape(found.creds, self.algorithm)
        if checked is None:
            return codes.AUTH_ERROR, None
        status = self.factory().check(found.creds.nonce or "",
                                      lambda checks: bound_parts(ctx, checks),
                                      found.creds.nc if found.creds.qop else None)
        if status is not NonceStatus.OK:
            if status in (NonceStatus.STALE, NonceStatus.REUSED):
                ctx.extra["auth_stale"] = True
            return _NONCE_STATUS[status], checked
        ctx.extra["auth_found"] = found
        return 0, checked

    def authenticate(self, ctx: Context, realm: str, lookup: Ha1Lookup, proxy: bool,
                     method: str | None = None) -> int:
        """The whole check: credentials, nonce, user (lookup), response; feeds ban on failure."""
        msg = ctx.msg
        if not msg.is_request:
            return codes.AUTH_ERROR
        if msg.method in ("ACK", "CANCEL"):
            return codes.AUTH_OK
        code, checked = self.pre_auth(ctx, realm, proxy)
        if code == 0 and checked is not None:
            ha1 = lookup(checked)
            if ha1 is None:
                code = codes.AUTH_USER_UNKNOWN
            elif not verify(checked, ha1, method or msg.method, msg.body):
                code = codes.AUTH_INVALID_PASSWORD
            else:
                code = self.post_auth(ctx, checked, ha1)
        if code in codes.FAILURES:
            self.report_failure(ctx, code)
        return code

    def post_auth(self, ctx: Context, checked: Checked, ha1: str) -> int:
        """Mark the credentials authorized; add Authentication-Info when configured."""
        found: Found = ctx.extra["auth_found"]
        ctx.extra["auth_authorized"] = (found.hid, found.index)
        if self.settings["add_authinfo_hdr"]:
            ctx.reply_lumps.append(self._authinfo(ctx, checked, ha1))
        return codes.AUTH_OK

    def _authinfo(self, ctx: Context, checked: Checked, ha1: str) -> str:
        c = checked.creds
        nextnonce = self.new_nonce(ctx) if self.settings["one_time_nonce"] else c.nonce
        line = f'Authentication-Info: nextnonce="{nextnonce}"'
        if c.qop:
            line += (f', qop={c.qop}, rspauth="{rspauth(checked, ha1, ctx.msg.body)}"'
                     f', cnonce="{c.cnonce}", nc={c.nc}')
        return line

    def report_failure(self, ctx: Context, code: int) -> None:
        """Count a wrong password / unknown user against the source (ban module, if loaded)."""
        ban = self.engine.modules.get("ban")
        if ban is not None:
            ban.auth_failure(ctx.rcv.src_ip)

    def _pv_auth(self, ctx: Context, realm: str, passwd: str, flags: int, proxy: bool,
                 method: str | None = None) -> int:
        flags = int(flags)

        def lookup(checked: Checked) -> str:
            if flags & 1:
                return str(passwd)
            c = checked.creds
            return calc_ha1(checked.base, c.username or "", c.realm or "", str(passwd))

        code = self.authenticate(ctx, realm, lookup, proxy, method)
        if code < 0 and flags & (2 | 4 | 8 | 16):
            self._store_challenge(ctx, realm, flags, proxy)
        return code

    def _store_challenge(self, ctx: Context, realm: str, flags: int, proxy: bool) -> None:
        """pv_*_authenticate flags 2/4/8(/16): the challenge header in $avp(digest_challenge)."""
        cflags = (1 if flags & 4 else 0) | (2 if flags & 8 else 0) | (flags & 16)
        realm = self.strip_realm(str(realm) if realm else default_realm(ctx))
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        value = f"{name}: {self.challenge_value(ctx, realm, cflags)}\r\n"
        setter = resolve("$avp(digest_challenge)").set
        if setter is not None:
            setter(ctx, value)

    @export("pv_www_authenticate", ("realm", K.SPVE), ("passwd", K.SPVE), ("flags", K.IGP),
            ("method", K.SPVE, True), routes=REQUEST_ROUTE)
    def pv_www_authenticate(self, ctx: Context, realm: str, passwd: str, flags: int,
                            method: str | None = None) -> int:
        """Check Authorization against ``passwd`` (flags 1: it is the HA1)."""
        return self._pv_auth(ctx, realm, passwd, flags, False, method or None)

    @export("pv_www_authenticate_method", ("realm", K.SPVE), ("passwd", K.SPVE),
            ("flags", K.IGP), ("method", K.SPVE), cfg=False)
    def pv_www_authenticate_method(self, ctx: Context, realm: str, passwd: str, flags: int,
                                   method: str) -> int:
        """pv_www_authenticate with the method given (KEMI form)."""
        return self._pv_auth(ctx, realm, passwd, flags, False, method or None)

    @export("pv_proxy_authenticate", ("realm", K.SPVE), ("passwd", K.SPVE), ("flags", K.IGP),
            routes=REQUEST_ROUTE)
    def pv_proxy_authenticate(self, ctx: Context, realm: str, passwd: str, flags: int) -> int:
        """Check Proxy-Authorization against ``passwd`` (flags 1: it is the HA1)."""
        return self._pv_auth(ctx, realm, passwd, flags, True)

    @export("pv_auth_check", ("realm", K.SPVE), ("passwd", K.SPVE), ("flags", K.IGP),
            ("checks", K.IGP), routes=REQUEST_ROUTE)
    def pv_auth_check(self, ctx: Context, realm: str, passwd: str, flags: int,
                      checks: int) -> int:
        """www for REGISTER, proxy otherwise; checks 1: auth user = To (REGISTER) / From user."""
        if ctx.msg.is_request and ctx.msg.method in ("ACK", "CANCEL"):
            return codes.AUTH_OK
        register = ctx.msg.method == "REGISTER"
        code = self._pv_auth(ctx, realm, passwd, flags, not register)
        if code == codes.AUTH_OK and int(checks) & 1:
            which = "to" if register else "from"
            domain = realm if self.settings["use_domain"] else None
            if not self.identity_matches(ctx, which, domain):
                ctx.extra.pop("auth_authorized", None)
                return codes.AUTH_USER_MISMATCH
        return code

    def identity_matches(self, ctx: Context, which: str, domain: str | None) -> bool:
        """The authorized username equals the user of From/To/R-URI (and host = domain)."""
        found: Found | None = ctx.extra.get("auth_found")
        target = uri_user_host(ctx, which)
        if found is None or target is None:
            return False
        user = (found.creds.username or "").partition("@")[0]
        if target[0] != user:
            return False
        return domain is None or target[1].lower() == self.strip_realm(str(domain)).lower()

    # ------------------------------------------------------------------ misc

    @export("has_credentials", ("realm", K.SPVE), routes=REQUEST_ROUTE)
    def has_credentials(self, ctx: Context, realm: str) -> int:
        """1 when an Authorization or Proxy-Authorization header has this realm."""
        realm = self.strip_realm(str(realm))
        for proxy in (False, True):
            try:
                if find_credentials(ctx, realm, proxy) is not None:
                    return 1
            except CredentialsError:
                continue
        return -1

    @export("consume_credentials", routes=REQUEST_ROUTE)
    def consume_credentials(self, ctx: Context) -> int:
        """Remove the credentials header that was authorized (before relaying)."""
        msg = ctx.msg
        if msg.is_request and msg.method in ("ACK", "CANCEL"):
            return 1
        where = ctx.extra.get("auth_authorized")
        if where is None:
            return -1
        msg.remove_header_at(where[1])
        ctx.extra.pop("_auth", None)
        return 1

    @export("auth_algorithm", ("algorithm", K.SPVE), routes=ANY_ROUTE)
    def auth_algorithm(self, ctx: Context, algorithm: str) -> int:
        """Switch the digest algorithm at runtime: "MD5" or "SHA-256"."""
        value = str(algorithm).strip().upper()
        if value not in ("MD5", "SHA-256"):
            return -1
        self.settings["algorithm"] = value
        return 1
