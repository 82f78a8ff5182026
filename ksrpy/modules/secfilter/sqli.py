"""The SQL-injection heuristic of Kamailio 5.6's secfilter: a few forbidden substrings."""

from __future__ import annotations

#: What Kamailio 5.6.3 looks for (checked in its binary): quotes, comment, escaped ' $ `.
SQLI_MARKERS = ("'", '"', "--", "%27", "%24", "%60")


def has_sqli(value: str) -> bool:
    """True when ``value`` holds one of the markers (case matters, as Kamailio's strstr)."""
    return any(marker in value for marker in SQLI_MARKERS)
