"""Offline edits of the data directory's tables: subscribers (``ksrpy user``) and trusted
addresses (``ksrpy address``), as kamctl does for Kamailio.

Subscribers are stored as kamctl stores them with ``calculate_ha1=0``: ``ha1`` =
MD5(user:domain:password) and ``ha1b`` = MD5(user@domain:domain:password), the
realm being the domain; the ``password`` column stays empty, so the file holds
no plain password. auth_db reads the table on every request, so a running
server sees a change at once. The address table is cached by the permissions
module: ``ksrpy rpc permissions.addressReload`` makes a running server see it.
"""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from pathlib import Path

from ..modules.auth.digest import calc_ha1

_USER = re.compile(r"[A-Za-z0-9_.!~*'()&=+$,;?/%-]+\Z")
_DOMAIN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)\Z")


class AccountError(ValueError):
    """A bad argument or a missing entry; the message says which."""


def split_aor(aor: str) -> tuple[str, str]:
    """``user@domain`` (``sip:`` allowed) -> (user, domain), checked for SIP-safe characters."""
    text = aor.strip()
    if text.lower().startswith("sip:"):
        text = text[4:]
    user, sep, domain = text.partition("@")
    if not sep or not user or not domain:
        raise AccountError(f"expected user@domain, got {aor!r}")
    if not _USER.match(user):
        raise AccountError(f"{user!r} is not a valid SIP user name")
    if not _DOMAIN.match(domain):
        raise AccountError(f"{domain!r} is not a valid domain or IP address")
    return user, domain


def _connect(db: Path) -> sqlite3.Connection:
    if not db.exists():
        raise AccountError(f"{db} does not exist (run ksrpy once, or give --data-dir)")
    return sqlite3.connect(db, timeout=5)


def add_user(db: Path, aor: str, password: str) -> tuple[str, bool]:
    """Add or replace a subscriber; returns (user@domain, True when it already existed)."""
    user, domain = split_aor(aor)
    if not password:
        raise AccountError("the password is empty")
    ha1 = calc_ha1("MD5", user, domain, password)
    ha1b = calc_ha1("MD5", f"{user}@{domain}", domain, password)
    conn = _connect(db)
    try:
        with conn:
            cur = conn.execute("DELETE FROM subscriber WHERE username = ? AND domain = ?",
                               (user, domain))
            conn.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) "
                         "VALUES (?, ?, '', ?, ?)", (user, domain, ha1, ha1b))
    finally:
        conn.close()
    return f"{user}@{domain}", cur.rowcount > 0


def remove_user(db: Path, aor: str) -> str:
    """Remove a subscriber; AccountError when there is none."""
    user, domain = split_aor(aor)
    conn = _connect(db)
    try:
        with conn:
            cur = conn.execute("DELETE FROM subscriber WHERE username = ? AND domain = ?",
                               (user, domain))
    finally:
        conn.close()
    if cur.rowcount == 0:
        raise AccountError(f"no subscriber {user}@{domain}")
    return f"{user}@{domain}"


def list_users(db: Path) -> list[str]:
    """Every subscriber as user@domain, sorted (no secrets)."""
    conn = _connect(db)
    try:
        rows = conn.execute("SELECT username, domain FROM subscriber ORDER BY domain, username")
        return [f"{u}@{d}" for u, d in rows]
    finally:
        conn.close()


def _network(text: str) -> tuple[str, int]:
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise AccountError(f"{text!r} is not an IP address or CIDR network") from None
    return str(net.network_address), net.prefixlen


def add_address(db: Path, network: str, group: int = 1, port: int = 0,
                tag: str | None = None) -> str:
    """Add a trusted source (IP or CIDR) to the address table; returns it as ip/len."""
    ip, mask = _network(network)
    if not 0 <= port <= 65535:
        raise AccountError(f"port {port} is not in 0..65535")
    if group < 0:
        raise AccountError(f"group {group} must not be negative")
    conn = _connect(db)
    try:
        with conn:
            exists = conn.execute("SELECT 1 FROM address WHERE grp = ? AND ip_addr = ? AND "
                                  "mask = ? AND port = ?", (group, ip, mask, port)).fetchone()
            if exists is None:
                conn.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) "
                             "VALUES (?, ?, ?, ?, ?)", (group, ip, mask, port, tag))
    finally:
        conn.close()
    return f"{ip}/{mask}"


def remove_address(db: Path, network: str, group: int = 1) -> str:
    """Remove an address table entry (every port); AccountError when there is none."""
    ip, mask = _network(network)
    conn = _connect(db)
    try:
        with conn:
            cur = conn.execute("DELETE FROM address WHERE grp = ? AND ip_addr = ? AND mask = ?",
                               (group, ip, mask))
    finally:
        conn.close()
    if cur.rowcount == 0:
        raise AccountError(f"no address {ip}/{mask} in group {group}")
    return f"{ip}/{mask}"


def list_addresses(db: Path) -> list[tuple[int, str, int, str]]:
    """Every address entry as (group, ip/len, port, tag)."""
    conn = _connect(db)
    try:
        rows = conn.execute("SELECT grp, ip_addr, mask, port, COALESCE(tag, '') FROM address "
                            "ORDER BY grp, ip_addr, mask, port")
        return [(int(g), f"{ip}/{m}", int(p), str(t)) for g, ip, m, p, t in rows]
    finally:
        conn.close()
