"""secfilter's cfg functions and KSR.secfilter exports, with Kamailio 5.6's return codes.

Kamailio 5.6.3 exports these to cfg only; later versions add KEMI exports
under the same names, except ``secf_sqli_hdr`` for ``secf_check_sqli_hdr``:
ksrpy has both names. One difference on purpose (Kamailio bug #4700): the
From/To user is matched before, and separately from, the display name, so a
display name that is whitelisted (or blacklisted) cannot hide what the
lists say about the user; the name decides only when the user is in no list.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..exports import ANY_ROUTE, export
from ..exports import ArgKind as K
from .headers import Party, contact_party, from_party, to_party, user_agent
from .sqli import has_sqli

if TYPE_CHECKING:
    from ...core.context import Context
    from .geo import CountryDB
    from .lists import Lists
    from .stats import Stats

log = logging.getLogger("ksrpy.secfilter")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class SecfilterFunctions:
    """The exported functions; mixed into SecfilterModule."""

    lists: Lists
    stats: Stats
    settings: dict[str, Any]

    def country_db(self) -> CountryDB | None:
        """The geoip_db reader (None when not configured)."""
        raise NotImplementedError  # pragma: no cover - see SecfilterModule

    def _lookup(self, kind: str, value: str, counter: str) -> int:
        code = self.lists.lookup(kind, value)
        if code != 1:
            self.stats.hit(f"{'wl' if code > 0 else 'bl'}_{counter}")
        return code

    @export("secf_check_ip", routes=ANY_ROUTE)
    def secf_check_ip(self, ctx: Context) -> int:
        """2: the source IP is whitelisted, -2: blacklisted, 1: neither (entries are prefixes)."""
        return self._lookup("ip", ctx.rcv.src_ip, "ip")

    @export("secf_check_ua", routes=ANY_ROUTE)
    def secf_check_ua(self, ctx: Context) -> int:
        """2: the User-Agent is whitelisted, -2: blacklisted, 1: neither or no User-Agent."""
        ua = user_agent(ctx.msg)
        return 1 if ua is None else self._lookup("ua", ua, "ua")

    @export("secf_check_country", ("country", K.SPVE, True), routes=ANY_ROUTE)
    def secf_check_country(self, ctx: Context, country: Any = None) -> int:
        """2: the country code is whitelisted, -2: blacklisted, 1: neither.

        Without an argument (ksrpy) the country of the source IP comes from
        ``geoip_db``: 1 when the address is not in it, -1 when no database is set.
        """
        if country is None:
            db = self.country_db()
            if db is None:
                log.error("secf_check_country() without argument needs modparam geoip_db")
                return -1
            code = db.country(ctx.rcv.src_ip)
            if code is None:
                return 1
            country = code
        return self._lookup("country", _text(country), "country")

    def _check_party(self, party: Party | None, where: str) -> int:
        if party is None or party.user is None or party.domain is None:
            return 1
        lists = self.lists
        for white, code in ((True, 2), (False, -2)):
            if lists.listed(white, "user").prefix_of(party.user):
                self.stats.hit(f"{'wl' if white else 'bl'}_{where}_user")
                return code
        if party.name is not None:
            for white, code in ((True, 4), (False, -4)):
                if lists.listed(white, "user").prefix_of(party.name):
                    self.stats.hit(f"{'wl' if white else 'bl'}_{where}_name")
                    return code
        for white, code in ((True, 3), (False, -3)):
            if lists.listed(white, "domain").prefix_of(party.domain):
                self.stats.hit(f"{'wl' if white else 'bl'}_{where}_domain")
                return code
        return 1

    @export("secf_check_from_hdr", routes=ANY_ROUTE)
    def secf_check_from_hdr(self, ctx: Context) -> int:
        """From: 2/-2 user white/blacklisted, 4/-4 display name, 3/-3 domain, 1 none or no user."""
        return self._check_party(from_party(ctx.msg), "from")

    @export("secf_check_to_hdr", routes=ANY_ROUTE)
    def secf_check_to_hdr(self, ctx: Context) -> int:
        """To: 2/-2 user white/blacklisted, 4/-4 display name, 3/-3 domain, 1 none or no user."""
        return self._check_party(to_party(ctx.msg), "to")

    @export("secf_check_contact_hdr", routes=ANY_ROUTE)
    def secf_check_contact_hdr(self, ctx: Context) -> int:
        """First Contact: 2/-2 user white/blacklisted, 3/-3 domain, 1 none, '*' or no user."""
        return self._check_party(contact_party(ctx.msg), "contact")

    @export("secf_check_dst", ("number", K.SPVE), routes=ANY_ROUTE)
    def secf_check_dst(self, ctx: Context, number: Any) -> int:
        """-2: the number is on the destination blacklist (exact, or prefix), 1: it is not."""
        if self.lists.dst_blocked(_text(number), bool(self.settings["dst_exact_match"])):
            self.stats.hit("dst")
            return -2
        return 1

    def _sqli(self, value: str) -> bool:
        if has_sqli(value):
            self.stats.hit("sql")
            return True
        return False

    @export("secf_check_sqli_hdr", ("value", K.SPVE), routes=ANY_ROUTE)
    @export("secf_check_sqli_hdr", ("value", K.SPVE), cfg=False, kemi="secf_sqli_hdr")
    def secf_check_sqli_hdr(self, ctx: Context, value: Any) -> int:
        """-1: the value holds ' " -- %27 %24 or %60 (possible SQL injection), 1: clean."""
        return -1 if self._sqli(_text(value)) else 1

    @export("secf_check_sqli_all", routes=ANY_ROUTE)
    def secf_check_sqli_all(self, ctx: Context) -> int:
        """0 (stops the script): SQLi markers in User-Agent, From, To or Contact; 1: clean."""
        msg = ctx.msg
        ua = user_agent(msg)
        checks: list[tuple[str, str | None]] = [("User-agent", ua)]
        for label, party in (("From", from_party(msg)), ("To", to_party(msg)),
                             ("Contact", contact_party(msg))):
            if party is not None:
                checks += [(f"{label} name", party.name), (f"{label} user", party.user),
                           (f"{label} domain", party.domain)]
        for label, value in checks:
            if value and self._sqli(value):
                log.info("Possible SQL injection found in %s (%s)", label, value)
                return 0
        return 1
