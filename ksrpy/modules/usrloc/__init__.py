"""usrloc: Kamailio's location tables (AoR -> contacts), see module.py."""

from __future__ import annotations

from .module import UsrlocModule

__all__ = ["UsrlocModule"]
