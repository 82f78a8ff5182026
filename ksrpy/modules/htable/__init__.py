"""htable: Kamailio's shared hash tables ($sht(table=>key) ...), see module.py."""

from __future__ import annotations

from .module import HtableModule
from .pv import register as _register_pvs

_register_pvs()

__all__ = ["HtableModule"]
