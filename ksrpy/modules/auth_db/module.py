"""The auth_db module: www/proxy authentication and auth_check against subscribers."""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from ...core.ratelog import RateLimitedLog
from ...sip.uri import parse_uri
from ..auth import codes
from ..auth.digest import Checked, calc_ha1
from ..exports import ANY_ROUTE, REQUEST_ROUTE, Module, ParamExport, export, rpc
from ..exports import ArgKind as K
from .backends import Backend, FileBackend, SqliteBackend, identifier

if TYPE_CHECKING:
    from ...core.context import Context
    from ..auth import AuthModule

log = logging.getLogger("ksrpy.auth_db")
_dblog = RateLimitedLog(log, interval=10.0)

#: Methods auth_check flags 2 exempts from the identity check (anonymous callers).
SKIP_ID_METHODS = ("INVITE", "BYE", "PRACK", "UPDATE", "MESSAGE")


class AuthDbModule(Module):
    """Credentials from a Kamailio-schema subscriber table (SQLite) or a credentials file."""

    name = "auth_db"
    kemi_namespace = "auth_db"
    params = (
        ParamExport("db_url", str, "", "sqlite:///path/to/db (Kamailio's subscriber schema)."),
        ParamExport("credentials_file", str, "", "ksrpy: 'user@domain password' or "
                                                 "'user@domain:ha1' lines instead of a db."),
        ParamExport("user_column", str, "username", "Column of user names."),
        ParamExport("domain_column", str, "domain", "Column of domains."),
        ParamExport("password_column", str, "ha1", "HA1 column, or plain passwords when "
                                                   "calculate_ha1=1."),
        ParamExport("password_column_2", str, "ha1b", "HA1 of user@domain, for usernames with "
                                                      "a domain."),
        ParamExport("calculate_ha1", int, 0, "1: password_column holds plain passwords."),
        ParamExport("use_domain", int, 0, "1: match the domain column too."),
        ParamExport("load_credentials", str, "", "Accepted; columns are not loaded into AVPs."),
        ParamExport("version_table", int, 1, "Accepted for compatibility (not checked)."),
        ParamExport("force_generate_avps", int, 0, "Accepted for compatibility."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.backend: Backend | None = None
        super().__init__(engine, settings)

    def init(self) -> None:
        """Open the backend: credentials_file wins over db_url."""
        s = self.settings
        for key in ("user_column", "domain_column", "password_column", "password_column_2"):
            identifier(s[key])
        if s["credentials_file"]:
            self.backend = FileBackend(s["credentials_file"])
        elif s["db_url"].startswith("sqlite://"):
            path = s["db_url"].removeprefix("sqlite://")
            self.backend = SqliteBackend(path, (s["user_column"], s["domain_column"]))
        elif s["db_url"]:
            raise ValueError("db_url must be sqlite:///path (or set credentials_file), "
                             f"not {s['db_url']!r}")

    @property
    def auth(self) -> AuthModule:
        """The auth module this one builds on (loaded on demand)."""
        module = self.engine.modules.get("auth") or self.engine.load_module("auth")
        return module  # type: ignore[return-value]

    def store(self) -> Backend:
        """The open backend."""
        if self.backend is None:
            self.init()
        if self.backend is None:
            raise RuntimeError("auth_db has no store: set db_url or credentials_file")
        return self.backend

    # --------------------------------------------------------------- lookups

    def get_ha1(self, checked: Checked, table: str) -> str | None:
        """Kamailio's get_ha1: the stored or computed HA1, None for an unknown user."""
        s = self.settings
        c = checked.creds
        whole = c.username or ""
        user, _, udomain = whole.partition("@")
        domain = (udomain or c.realm or "") if s["use_domain"] else None
        row = self.store().lookup(table, user, domain)
        if row is None:
            return None
        if isinstance(self.backend, FileBackend):
            if "password" in row:
                return calc_ha1(checked.base, whole, c.realm or "", row["password"])
            return row.get("ha1") or None
        if s["calculate_ha1"]:
            return calc_ha1(checked.base, whole, c.realm or "", row.get(s["password_column"], ""))
        return row.get(s["password_column_2"] if udomain else s["password_column"]) or None

    def _authenticate(self, ctx: Context, realm: str, table: str, proxy: bool,
                      method: str | None = None) -> int:
        """A store failure is Kamailio's generic error (-1), never an unknown user or a ban."""
        try:
            return self.auth.authenticate(ctx, realm, lambda ch: self.get_ha1(ch, str(table)),
                                          proxy, method)
        except (sqlite3.Error, OSError) as exc:
            _store_error(table, exc)
            return codes.AUTH_ERROR

    @export("www_authenticate", ("realm", K.SPVE), ("table", K.SPVE), ("method", K.SPVE, True),
            routes=REQUEST_ROUTE, aliases=("www_authorize",))
    def www_authenticate(self, ctx: Context, realm: str, table: str,
                         method: str | None = None) -> int:
        """Check Authorization against the table (-2 wrong password, -3 unknown user ...)."""
        return self._authenticate(ctx, realm, table, False, method or None)

    @export("www_authenticate_method", ("realm", K.SPVE), ("table", K.SPVE),
            ("method", K.SPVE), cfg=False)
    def www_authenticate_method(self, ctx: Context, realm: str, table: str, method: str) -> int:
        """www_authenticate with the method given (KEMI form)."""
        return self._authenticate(ctx, realm, table, False, method or None)

    @export("proxy_authenticate", ("realm", K.SPVE), ("table", K.SPVE), routes=REQUEST_ROUTE,
            aliases=("proxy_authorize",))
    def proxy_authenticate(self, ctx: Context, realm: str, table: str) -> int:
        """Check Proxy-Authorization against the table."""
        return self._authenticate(ctx, realm, table, True)

    @export("auth_check", ("realm", K.SPVE), ("table", K.SPVE), ("flags", K.IGP),
            routes=REQUEST_ROUTE)
    def auth_check(self, ctx: Context, realm: str, table: str, flags: int) -> int:
        """www for REGISTER, proxy otherwise; flags 1: identity checks (-8), 2: skip for calls."""
        msg = ctx.msg
        if msg.is_request and msg.method in ("ACK", "CANCEL"):
            return codes.AUTH_OK
        register = msg.method == "REGISTER"
        code = self._authenticate(ctx, realm, table, not register)
        if code != codes.AUTH_OK or not int(flags) & 1:
            return code
        if not self._identity_ok(ctx, str(realm), int(flags)):
            ctx.extra.pop("auth_authorized", None)
            return codes.AUTH_USER_MISMATCH
        return code

    def _identity_ok(self, ctx: Context, realm: str, flags: int) -> bool:
        method = ctx.msg.method
        if method in ("REGISTER", "PUBLISH"):
            wanted = ["to", "from"] + (["ruri"] if method == "PUBLISH" else [])
        elif flags & 2 and method in SKIP_ID_METHODS:
            return True
        else:
            wanted = ["from"]
        auth = self.auth
        return all(auth.identity_matches(ctx, which, realm) for which in wanted)

    @export("is_subscriber", ("uri", K.SPVE), ("table", K.SPVE), ("flags", K.IGP),
            routes=ANY_ROUTE)
    def is_subscriber(self, ctx: Context, uri: str, table: str, flags: int) -> int:
        """1 when the URI's user (and domain with flags 1) is in the table, else -1."""
        try:
            parsed = parse_uri(str(uri))
        except ValueError:
            return -1
        domain = parsed.host if int(flags) & 1 else None
        try:
            return 1 if self.store().lookup(str(table), parsed.user or "", domain) else -1
        except (sqlite3.Error, OSError) as exc:
            _store_error(table, exc)
            return -1

    # ------------------------------------------------------------------ RPCs

    @rpc("auth_db.subscriber_add")
    def rpc_subscriber_add(self, aor: str, password: str, table: str = "subscriber") -> str:
        """Add or replace a subscriber: user@domain password [table] (HA1 stored, as kamctl)."""
        user, domain = _split_aor(aor)
        alg = self.auth.algorithm
        row = {"ha1": calc_ha1(alg, user, domain, password),
               "ha1b": calc_ha1(alg, f"{user}@{domain}", domain, password)}
        if self.settings["calculate_ha1"]:
            row = {"password": password}
            if not isinstance(self.store(), FileBackend):
                row[self.settings["password_column"]] = password
        elif not isinstance(self.store(), FileBackend):
            row = {self.settings["password_column"]: row["ha1"],
                   self.settings["password_column_2"]: row["ha1b"]}
        self.store().add(table, user, domain, row)
        return f"Ok. {user}@{domain} added."

    @rpc("auth_db.subscriber_rm")
    def rpc_subscriber_rm(self, aor: str, table: str = "subscriber") -> str:
        """Remove a subscriber: user@domain [table]."""
        user, domain = _split_aor(aor)
        if not self.store().remove(table, user, domain):
            raise ValueError(f"no subscriber {user}@{domain}")
        return f"Ok. {user}@{domain} removed."

    @rpc("auth_db.subscriber_list")
    def rpc_subscriber_list(self, table: str = "subscriber") -> list[str]:
        """Every subscriber as user@domain (no secrets)."""
        return [f"{u}@{d}" for u, d in self.store().list(table)]


def _store_error(table: str, exc: BaseException) -> None:
    """Log a failing subscriber store (missing table, locked or unreadable file), rate-limited."""
    _dblog.error(str(table), "auth_db: cannot read table %s: %s", table, exc)


def _split_aor(aor: str) -> tuple[str, str]:
    user, sep, domain = str(aor).removeprefix("sip:").partition("@")
    if not user or not sep or not domain:
        raise ValueError(f"expected user@domain, got {aor!r}")
    return user, domain
