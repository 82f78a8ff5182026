"""Counters of blocked and allowed messages, printed as Kamailio's ``secfilter.stats``."""

from __future__ import annotations

#: (counter suffix, label) in Kamailio's print order; each exists as bl_* and wl_*.
ROWS = (("ua", "user-agent    "), ("country", "country       "),
        ("from_domain", "from domain   "), ("to_domain", "to domain     "),
        ("contact_domain", "contact domain"), ("ip", "IP address    "),
        ("from_name", "from name     "), ("to_name", "to name       "),
        ("contact_name", "contact name  "), ("from_user", "from user     "),
        ("to_user", "to user       "), ("contact_user", "contact user  "))
OTHER = (("dst", "Destinations   "), ("sql", "SQL injection  "))


class Stats:
    """The counters; ``hit("bl_ua")`` counts one message."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """Set every counter to 0."""
        names = [f"{p}_{k}" for p in ("bl", "wl") for k, _ in ROWS] + [k for k, _ in OTHER]
        self.counts = dict.fromkeys(names, 0)

    def hit(self, name: str) -> None:
        """Count one message under ``name``."""
        self.counts[name] = self.counts.get(name, 0) + 1

    def lines(self) -> list[str]:
        """The report, line by line, as Kamailio's RPC prints it."""
        out = ["", "Blocked messages (blacklist)", "=" * 28]
        out += [f"[+] By {label}: {self.counts[f'bl_{k}']}" for k, label in ROWS]
        out += ["", "Allowed messages (whitelist)", "=" * 28]
        out += [f"[+] By {label}: {self.counts[f'wl_{k}']}" for k, label in ROWS]
        out += ["", "Other blocked messages", "=" * 22]
        out += [f"[+] {label}: {self.counts[k]}" for k, label in OTHER]
        return out + [""]
