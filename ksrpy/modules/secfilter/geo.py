"""Country codes of IP addresses from a MaxMind DB file (GeoIP2/GeoLite2 Country or City)."""

from __future__ import annotations

from typing import Any


class GeoError(ValueError):
    """The database cannot be opened (missing file, not a MaxMind DB, reader not installed)."""


class CountryDB:
    """An open MaxMind DB answering ISO country codes."""

    def __init__(self, path: str) -> None:
        try:
            import maxminddb
        except ImportError:  # pragma: no cover - depends on the installation
            raise GeoError("geoip_db needs the 'maxminddb' package (pip install maxminddb)") \
                from None
        try:
            self._reader: Any = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoError(f"geoip_db {path}: {exc}") from None
        self.path = path

    def country(self, ip: str) -> str | None:
        """The ISO code of ``ip`` (country, else registered country), None when unknown."""
        try:
            record = self._reader.get(ip.strip("[]"))
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        for key in ("country", "registered_country"):
            code = (record.get(key) or {}).get("iso_code")
            if isinstance(code, str) and code:
                return code
        return None

    def close(self) -> None:
        """Close the file."""
        self._reader.close()
