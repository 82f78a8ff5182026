"""pike: per-source-IP flood detection, as Kamailio's pike module.

``tree`` holds the algorithm (clock-injected, no I/O), ``trusted`` the
exemption list, ``module`` the script functions, parameters and RPCs.
"""

from .module import PikeModule
from .tree import PikeTree

__all__ = ["PikeModule", "PikeTree"]
