"""ban: IP bans with reasons, exemptions, RPCs, fail2ban-ready log lines, auth-failure counting.

Bans live in an htable table (``ipban`` by default), so ``$sht(ipban=>$si)``
keeps working in scripts, bans expire with the table's ``autoexpire`` and
survive restarts when the table has a ``dbtable``. The value stored is the
ban's reason. Beyond Kamailio: exempt sources are never banned, every ban and
unban is one log line in a stable format (docs/hardening.md), ``ban.list`` /
``ban.add`` / ``ban.remove`` manage them, and ``kernel=1`` mirrors bans into a
kernel ipset so the kernel can drop the packets before ksrpy sees them.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

from .exports import ArgKind as K
from .exports import Module, ParamExport, Returns, export, rpc

if TYPE_CHECKING:
    from ..core.context import Context
    from .htable.table import Table

#: The log lines fail2ban matches (docs/fail2ban): one per ban and per unban.
ban_log = logging.getLogger("ksrpy.ban")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> str | None:
    """The canonical form of an IP address, None when ``text`` is not one."""
    try:
        return str(ipaddress.ip_address(str(text).strip().strip("[]")))
    except ValueError:
        return None


def _quote(reason: str) -> str:
    return '"' + reason.replace("\\", "\\\\").replace('"', "'").replace("\n", " ") + '"'


class BanModule(Module):
    """Bans with reasons and exemptions on top of an htable table."""

    name = "ban"
    kemi_namespace = "ban"
    params = (
        ParamExport("table", str, "ipban", "htable table holding the bans (created if missing)."),
        ParamExport("default_seconds", int, 300, "Ban length when none is given."),
        ParamExport("exempt", str, "", "IPs/CIDRs never banned (comma list, repeatable)."),
        ParamExport("auth_fail_max", int, 5, "Failed authentications that trigger a ban."),
        ParamExport("auth_fail_window", int, 60, "Seconds over which failures are counted."),
        ParamExport("auth_fail_seconds", int, 600, "Ban length after repeated auth failures."),
        ParamExport("kernel", int, 0, "1: mirror bans into a kernel ipset (needs "
                                      "CAP_NET_ADMIN)."),
        ParamExport("ipset", str, "ksrpy-ban", "Name of the kernel ipset (v4; '-v6' for IPv6)."),
    )

    def __init__(self, engine: Any, settings: dict[str, Any] | None = None) -> None:
        self.exempt: list[Network] = []
        self.failures: dict[str, list[float]] = {}
        self.clock = time.time
        self.kernel: Any = None
        super().__init__(engine, settings)

    def set_param(self, key: str, value: Any) -> None:
        """``exempt`` accumulates (repeatable, comma lists); others as declared."""
        if key == "exempt":
            for item in str(value).split(","):
                item = item.strip()
                if not item:
                    continue
                try:
                    self.exempt.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"modparam ban.exempt: {item!r} is not an IP address "
                                     "or network") from None
            return
        super().set_param(key, value)

    # ------------------------------------------------------------------ setup

    def init(self) -> None:
        """Find (or define) the bans table in htable; open the kernel ipset if asked."""
        htable = self.engine.modules.get("htable")
        if htable is None:
            htable = self.engine.load_module("htable")
        name = self.settings["table"]
        htable.ensure_table(f"{name}=>size=8;autoexpire={self.settings['default_seconds']};")
        htable.expiry_listeners.setdefault(name, []).append(self._expired)
        if self.settings["kernel"]:
            from .ban_kernel import KernelBans

            self.kernel = KernelBans(self.settings["ipset"])

    @property
    def bans(self) -> Table:
        """The htable table holding the bans."""
        return self.engine.modules["htable"].tables[self.settings["table"]]

    def is_exempt(self, ip: str) -> bool:
        """True when ``ip`` is inside an exempt network."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.exempt if net.version == addr.version)

    # ------------------------------------------------------------ operations

    def add(self, ip: str, seconds: int | None = None, reason: str = "manual",
            source: str = "script") -> int:
        """Ban ``ip``: 1 banned, -1 not an address, -2 exempt."""
        addr = _address(ip)
        if addr is None:
            return -1
        if self.is_exempt(addr):
            ban_log.info("BAN-EXEMPT ip=%s reason=%s by=%s", addr, _quote(reason), source)
            return -2
        length = int(seconds) if seconds else self.settings["default_seconds"]
        self.bans.set(addr, reason or "banned", length)
        ban_log.warning("BAN ip=%s seconds=%d reason=%s by=%s", addr, length, _quote(reason),
                        source)
        if self.kernel is not None:
            self.kernel.add(addr, length)
        return 1

    def remove(self, ip: str, reason: str = "removed") -> int:
        """Lift a ban: 1 removed, -1 there was none."""
        addr = _address(ip)
        if addr is None or not self.bans.delete(addr):
            return -1
        self._unbanned(addr, reason)
        return 1

    def _expired(self, key: str, value: Any) -> None:
        self._unbanned(key, "expired")

    def _unbanned(self, addr: str, reason: str) -> None:
        ban_log.warning("UNBAN ip=%s reason=%s", addr, _quote(reason))
        if self.kernel is not None:
            self.kernel.remove(addr)

    def banned(self, ip: str) -> bool:
        """True when ``ip`` has a live ban."""
        addr = _address(ip)
        return addr is not None and self.bans.lookup(addr) is not None

    def auth_failure(self, ip: str) -> int:
        """Count a failed authentication; 1 when this one triggered a ban, else -1."""
        addr = _address(ip)
        if addr is None or self.is_exempt(addr):
            return -1
        now = self.clock()
        window = self.settings["auth_fail_window"]
        recent = [t for t in self.failures.get(addr, ()) if now - t < window]
        recent.append(now)
        if len(self.failures) > 100_000 and addr not in self.failures:
            self.failures.clear()  # bounded: a spoofing flood cannot grow this without limit
        if len(recent) >= self.settings["auth_fail_max"]:
            self.failures.pop(addr, None)
            self.add(addr, self.settings["auth_fail_seconds"],
                     f"{len(recent)} failed authentications in {window}s", "auth")
            return 1
        self.failures[addr] = recent
        return -1

    # ---------------------------------------------------------- script calls

    @export("ban_add", ("ip", K.SPVE), ("seconds", K.IGP), ("reason", K.SPVE))
    def ban_add(self, ctx: Context, ip: str, seconds: int, reason: str) -> int:
        """Ban ``ip`` for ``seconds`` (0: the default) with a reason; -2 when exempt."""
        return self.add(ip, int(seconds), reason)

    @export("ban_remove", ("ip", K.SPVE))
    def ban_remove(self, ctx: Context, ip: str) -> int:
        """Lift the ban on ``ip``; -1 when there was none."""
        return self.remove(ip)

    @export("ban_check", ("ip", K.SPVE))
    def ban_check(self, ctx: Context, ip: str) -> int:
        """1 when ``ip`` is banned, else -1."""
        return 1 if self.banned(ip) else -1

    @export("ban_is_exempt", ("ip", K.SPVE))
    def ban_is_exempt(self, ctx: Context, ip: str) -> int:
        """1 when ``ip`` can never be banned, else -1."""
        return 1 if self.is_exempt(str(ip).strip("[]")) else -1

    @export("ban_auth_failure", ("ip", K.SPVE, True), returns=Returns.INT)
    def ban_auth_failure(self, ctx: Context, ip: str | None = None) -> int:
        """Count a failed authentication from ``ip`` (default $si); 1 when it led to a ban."""
        return self.auth_failure(ip or ctx.rcv.src_ip)

    # ----------------------------------------------------------------- RPCs

    @rpc("ban.list")
    def rpc_list(self) -> list[dict[str, Any]]:
        """Every live ban: ip, reason, seconds left."""
        table = self.bans
        out = []
        for key in list(table.items):
            value = table.lookup(key)
            if value is not None:
                out.append({"ip": key, "reason": str(value), "expires": table.expire_in(key)})
        return sorted(out, key=lambda row: row["ip"])

    @rpc("ban.add")
    def rpc_add(self, ip: str, seconds: int = 0, reason: str = "manual") -> str:
        """Ban an address: ban.add IP [seconds] [reason]."""
        code = self.add(str(ip), int(seconds), str(reason), "rpc")
        if code == -1:
            raise ValueError(f"{ip!r} is not an IP address")
        if code == -2:
            raise ValueError(f"{ip} is exempt from bans")
        return "Ok. Banned."

    @rpc("ban.sync")
    def rpc_sync(self) -> str:
        """Wait until queued kernel ipset updates are applied (no-op without kernel=1)."""
        if self.kernel is not None:
            self.kernel.sync()
        return "Ok."

    @rpc("ban.remove")
    def rpc_remove(self, ip: str) -> str:
        """Lift a ban: ban.remove IP."""
        if self.remove(str(ip), "rpc") < 0:
            raise ValueError(f"{ip} is not banned")
        return "Ok. Ban removed."

    def destroy(self) -> None:
        """Close the kernel ipset handle."""
        if self.kernel is not None:
            self.kernel.close()
