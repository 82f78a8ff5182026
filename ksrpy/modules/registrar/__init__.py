"""registrar: Kamailio's save()/lookup() over usrloc, see module.py."""

from __future__ import annotations

from .module import RegistrarModule
from .pv import register as _register_pvs

_register_pvs()

__all__ = ["RegistrarModule"]
