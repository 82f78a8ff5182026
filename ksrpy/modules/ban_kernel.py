"""Mirror bans into kernel ipsets (pyroute2), so a firewall rule can drop banned sources.

ksrpy keeps two sets, ``<name>`` (IPv4) and ``<name>-v6`` (IPv6), of type
hash:ip with per-entry timeouts. The drop rule is the administrator's, e.g.
``iptables -I INPUT -m set --match-set ksrpy-ban src -j DROP`` (docs/hardening.md).
"""

from __future__ import annotations

import logging
import socket

log = logging.getLogger("ksrpy.ban")


class KernelBanError(RuntimeError):
    """The kernel ipset cannot be used (no CAP_NET_ADMIN, no ipset support)."""


class KernelBans:
    """Add and remove banned addresses in kernel ipsets."""

    def __init__(self, name: str) -> None:
        try:
            from pyroute2.ipset import IPSet

            self.ipset = IPSet()
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot use ipsets"
            raise KernelBanError(f"kernel bans need ipset support and CAP_NET_ADMIN: {exc}"
                                 ) from None
        self.names = {4: name, 6: f"{name}-v6"}
        for family, set_name in self.names.items():
            self._ensure(set_name, socket.AF_INET if family == 4 else socket.AF_INET6)

    def _ensure(self, set_name: str, family: int) -> None:
        try:
            self.ipset.create(set_name, stype="hash:ip", family=family, timeout=0,
                              exclusive=False)
        except Exception as exc:  # noqa: BLE001
            raise KernelBanError(f"cannot create ipset {set_name}: {exc} (kernel bans need "
                                 "CAP_NET_ADMIN)") from None

    def add(self, ip: str, seconds: int) -> None:
        """Add ``ip`` for ``seconds``; errors are logged, never raised into a route."""
        family = 6 if ":" in ip else 4
        try:
            self.ipset.add(self.names[family], ip, timeout=max(int(seconds), 1),
                           exclusive=False)
        except Exception as exc:  # noqa: BLE001
            log.error("kernel ban of %s failed: %s", ip, exc)

    def remove(self, ip: str) -> None:
        """Remove ``ip`` (absent is fine)."""
        family = 6 if ":" in ip else 4
        try:
            self.ipset.delete(self.names[family], ip, exclusive=False)
        except Exception:  # noqa: BLE001,S110 - already gone (timed out) is the normal case
            pass

    def members(self, family: int = 4) -> set[str]:
        """The addresses currently in the set (for tests and RPC)."""
        out = set()
        for msg in self.ipset.list(self.names[family]):
            adt = msg.get_attr("IPSET_ATTR_ADT")
            if adt is None:
                continue
            for entry in adt.get_attrs("IPSET_ATTR_DATA"):
                ip_attr = entry.get_attr("IPSET_ATTR_IP_FROM")
                if ip_attr is not None:
                    value = ip_attr.get_attr("IPSET_ATTR_IPADDR_IPV4") or ip_attr.get_attr(
                        "IPSET_ATTR_IPADDR_IPV6")
                    if value:
                        out.add(str(value))
        return out

    def close(self) -> None:
        """Release the netlink socket."""
        self.ipset.close()
